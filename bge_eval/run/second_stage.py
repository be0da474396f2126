"""Two-stage evaluation with a cross-encoder reranker.

Reranking tasks: the reranker scores each query's candidate list directly. Retrieval tasks:
the embedder's saved top-k (default 100) becomes each query's candidate list, the reranker
reorders it. Results go to OUTPUT/rerank/<embedder>/results/<reranker>/<revision>/ (mteb's
layout), and both stages' nDCG@10, MAP@100 and MRR@10 are put side by side.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import RunConfig
from ..errors import DataError
from ..models.resolve import mteb_meta, resolve_model
from ..results.files import has_splits, read_result_file
from ..tasks.selection import plan_tasks
from .layout import output_lock, results_location, staging_folder
from .runner import RunSummary, evaluate_task

COMPARED = ("ndcg_at_10", "map_at_100", "mrr_at_10")
RERANKABLE = frozenset({"Retrieval", "Reranking"})


@dataclass(frozen=True)
class StageComparison:
    task: str
    split: str
    first_stage: dict[str, float]  # the embedder's metrics (empty for reranking tasks)
    second_stage: dict[str, float]  # the reranker's metrics


@dataclass(frozen=True)
class RerankSummary:
    reranker: str
    results_dir: Path
    comparisons: list[StageComparison]


def run_reranker(config: RunConfig, first: RunSummary, reranker_name: str, reranker_path: Path | None = None,
                 top_k: int = 100, reranker: Any = None) -> RerankSummary:
    """Rerank the first stage's retrieval tasks and score the reranking tasks with `reranker_name`."""
    from ..encoding.cross_encoder import CrossEncoderReranker

    resolved = resolve_model(reranker_name, reranker_path)
    meta = mteb_meta(resolved)
    if reranker is None:
        reranker = CrossEncoderReranker(resolved.checkpoint, meta, device=config.device,
                                        precision=config.precision, batch_size=config.batch_size)
    root = Path(config.output) / "rerank" / first.results_dir.parent.name
    results_dir, predictions_dir = results_location(root, meta)
    names = tuple(o.name for o in first.outcomes if o.type in RERANKABLE)
    plan = plan_tasks(names, config.benchmark, config.data_dir) if names else None
    comparisons = []
    with output_lock(root):
        staging = staging_folder(root)
        try:
            for planned in plan.tasks if plan else []:
                first_predictions = first.predictions_dir / planned.task.prediction_file_name
                prepare = None
                if planned.type == "Retrieval":
                    if not first_predictions.is_file():
                        raise DataError(f"{first_predictions}: the first stage's rankings are missing; "
                                        "run the embedder without --no-predictions.")

                    def prepare(task, path=first_predictions):
                        task.convert_to_reranking(path, top_k=top_k)

                if config.overwrite or not has_splits(results_dir / f"{planned.name}.json", planned.splits):
                    evaluate_task(planned, reranker, config, staging, results_dir, predictions_dir, meta, prepare)
                comparisons += _compare(planned, first.results_dir, results_dir)
        finally:
            shutil.rmtree(staging.parent, ignore_errors=True)
    return RerankSummary(meta.name, results_dir, comparisons)


def _compare(planned: Any, first_dir: Path, second_dir: Path) -> list[StageComparison]:
    second = read_result_file(second_dir / f"{planned.name}.json")["scores"]
    first = read_result_file(first_dir / f"{planned.name}.json")["scores"] if planned.type == "Retrieval" else {}
    return [StageComparison(planned.name, split, _pick(first.get(split, [])), _pick(second.get(split, [])))
            for split in planned.splits]


def _pick(entries: list[dict]) -> dict[str, float]:
    return {m: entries[0][m] for m in COMPARED if entries and m in entries[0]}


def format_comparison(summary: RerankSummary) -> str:
    lines = [f"reranker: {summary.reranker} (results: {summary.results_dir})",
             "task  split  " + "  ".join(f"{m}: first -> reranked" for m in COMPARED)]
    for c in summary.comparisons:
        cells = []
        for metric in COMPARED:
            before = c.first_stage.get(metric)
            after = c.second_stage.get(metric)
            cells.append(f"{'-' if before is None else f'{before:.5f}'} -> {'-' if after is None else f'{after:.5f}'}")
        lines.append(f"{c.task}  {c.split}  " + "  ".join(cells))
    return "\n".join(lines)
