"""Two-stage evaluation with a cross-encoder reranker.

Reranking tasks: the reranker scores each query's candidate list directly. Retrieval tasks:
the embedder's saved top-k (default 100) becomes each query's candidate list, the reranker
reorders it. Results go to OUTPUT/rerank/<embedder>/results/<reranker>/<revision>/ (mteb's
layout), and both stages' nDCG@10, MAP@100 and MRR@10 are put side by side.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._mteb import convert_to_reranking
from .._util import output_lock
from ..config import DEFAULT_DATALOADER_BATCH_SIZE, RERANK_TOP_K, RunConfig
from ..errors import DataError
from ..models import mteb_meta, resolve_model
from ..results.files import has_splits, read_result_file
from ..tasks.selection import plan_tasks
from ..tasks.types import RANKING_TYPES
from .layout import ResultsLayout, remove_staging, staging_folder
from .outcome import RunSummary
from .task_eval import evaluate_task

COMPARED = ("ndcg_at_10", "map_at_100", "mrr_at_10")


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
                 top_k: int = RERANK_TOP_K, reranker: Any = None) -> RerankSummary:
    """Rerank the first stage's retrieval tasks and score the reranking tasks with `reranker_name`.

    reranker: an already-built mteb cross-encoder to use instead of loading reranker_name."""
    resolved = resolve_model(reranker_name, reranker_path)
    meta = mteb_meta(resolved)
    if reranker is None:
        from ..encoding.cross_encoder import CrossEncoderReranker

        reranker = CrossEncoderReranker(resolved.checkpoint, meta, device=config.device,
                                        precision=config.precision, batch_size=config.batch_size)
    first_layout = ResultsLayout.of_results_dir(first.results_dir)
    layout = first_layout.second_stage(meta)
    names = tuple(o.name for o in first.outcomes if o.type in RANKING_TYPES)
    plan = plan_tasks(names, config.benchmark, config.data_dir) if names else None
    comparisons = []
    with output_lock(layout.output):
        staging = staging_folder(layout.output)
        try:
            for planned in plan.tasks if plan else []:
                prepare = None
                if planned.type == "Retrieval":
                    rankings = first_layout.predictions_file(planned.name)
                    if not rankings.is_file():
                        raise DataError(f"{rankings}: the first stage's rankings are missing; "
                                        "run the embedder without --no-predictions.")

                    def prepare(task, path=rankings):
                        convert_to_reranking(task, path, top_k)

                if config.overwrite or not has_splits(layout.result_file(planned.name), planned.splits):
                    evaluate_task(planned, reranker, layout, staging, data_dir=config.data_dir,
                                  save_predictions=config.save_predictions,
                                  dataloader_batch_size=config.batch_size or DEFAULT_DATALOADER_BATCH_SIZE,
                                  prepare=prepare)
                comparisons += _compare(planned, first_layout, layout)
        finally:
            remove_staging(staging)
    return RerankSummary(meta.name, layout.results_dir, comparisons)


def _compare(planned: Any, first: ResultsLayout, second: ResultsLayout) -> list[StageComparison]:
    second_scores = read_result_file(second.result_file(planned.name))["scores"]
    first_scores = read_result_file(first.result_file(planned.name))["scores"] if planned.type == "Retrieval" else {}
    return [StageComparison(planned.name, split, _pick(first_scores.get(split, [])),
                            _pick(second_scores.get(split, [])))
            for split in planned.splits]


def _pick(entries: list[dict]) -> dict[str, float]:
    return {m: entries[0][m] for m in COMPARED if entries and m in entries[0]}
