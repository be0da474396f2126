"""Two-stage evaluation with a cross-encoder reranker.

Reranking tasks: the reranker scores each query's candidate list directly. Retrieval tasks:
the embedder's saved top-k (default 100) becomes each query's candidate list, the reranker
reorders it, and the rest of the embedder's ranking follows in its own order (metrics deeper than
k are the first stage's below k, never computed on k documents alone). Results go to
OUTPUT/rerank/<embedder>/results/<reranker>/<revision>/ (mteb's layout), and both stages'
nDCG@10, MAP@100 and MRR@10 are put side by side. A saved
second-stage result is reused only when the reranker's weights, the data, the first stage's
rankings and the settings are those it was made from (its own manifest, as in the first stage).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._mteb import RerankedAboveFirstStage, convert_to_reranking
from .._util import output_lock
from ..config import DEFAULT_DATALOADER_BATCH_SIZE, RERANK_TOP_K, RunConfig
from ..errors import DataError
from ..fingerprints import fingerprint_files
from ..models import mteb_meta, resolve_model
from ..results.files import read_result_file
from ..results.layout import ResultsLayout, refuse_link_below, remove_staging, staging_folder
from ..results.manifest import Manifest, TaskRecord, harness_git_revision, package_versions
from ..tasks.selection import plan_tasks
from ..tasks.types import RANKING_TYPES
from .identity import reuse_decision, task_identity, weights_identity
from .outcome import RunSummary
from .task_eval import evaluate_task

log = logging.getLogger(__name__)

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
    handed_in = reranker is not None
    if reranker is None:
        from ..encoding.cross_encoder import CrossEncoderReranker

        reranker = CrossEncoderReranker(resolved.checkpoint, meta, device=config.device,
                                        precision=config.precision, batch_size=config.batch_size)
    first_layout = ResultsLayout.of_results_dir(first.results_dir)
    layout = first_layout.second_stage(meta)
    names = tuple(o.entry for o in first.outcomes if o.type in RANKING_TYPES)
    plan = plan_tasks(names, config.benchmark, config.data_dir) if names else None
    comparisons = []
    with output_lock(layout.output):
        for folder in (layout.results_dir, layout.predictions_dir):
            refuse_link_below(first_layout.output, folder)
        previous = Manifest.take_over(layout.manifest_file)
        manifest = Manifest(config={**config.to_json(), "reranker": reranker_name, "top_k": top_k},
                            instruction=None, benchmark=plan.benchmark if plan else None, skipped_tasks=[],
                            versions=package_versions(), harness_git_revision=harness_git_revision(),
                            model={"name": resolved.spec.name, "source": resolved.source,
                                   "checkpoint": str(resolved.checkpoint), "first_stage": str(first.results_dir)})
        manifest.start_run(previous)
        # a reranker handed in is known by its name only (its weights may not be the resolved checkpoint's)
        weights = None
        if not handed_in:
            weights = weights_identity(resolved.checkpoint, manifest.fingerprints)
        common = {"precision": str(getattr(reranker, "dtype", None)), "top_k": top_k}
        staging = staging_folder(layout.output)
        try:
            for planned in plan.tasks if plan else []:
                prepare, candidates, scorer = None, None, reranker
                if planned.type == "Retrieval":
                    rankings = first_layout.predictions_file(planned.name)
                    if not rankings.is_file():
                        raise DataError(f"{rankings}: the first stage's rankings are missing; "
                                        "run the embedder without --no-predictions.")
                    candidates, _ = fingerprint_files(rankings.parent, [rankings], None)

                    def prepare(task, path=rankings):
                        convert_to_reranking(task, path, top_k)

                    scorer = RerankedAboveFirstStage(reranker, rankings)

                identity = task_identity(planned, config.data_dir, manifest.fingerprints, weights, common,
                                         candidates)
                recorded = manifest.tasks.get(planned.name)
                compute, note = reuse_decision(identity, recorded.identity if recorded else None,
                                               layout.result_file(planned.name), planned.splits,
                                               overwrite=config.overwrite, keep_results=config.keep_results)
                if note:
                    log.warning("%s (second stage): the saved result is %s", planned.name, note)
                if compute:
                    work = evaluate_task(planned, scorer, layout, staging, data_dir=config.data_dir,
                                         save_predictions=config.save_predictions,
                                         dataloader_batch_size=config.batch_size or DEFAULT_DATALOADER_BATCH_SIZE,
                                         prepare=prepare)
                    manifest.record_task(planned.name, TaskRecord.computed(planned, work, identity))
                    manifest.write(layout.manifest_file)
                comparisons += _compare(planned, first_layout, layout)
        finally:
            remove_staging(staging)
        manifest.finish_run()
        if layout.results_dir.is_dir():
            manifest.write(layout.manifest_file)
    return RerankSummary(meta.name, layout.results_dir, comparisons)


def _compare(planned: Any, first: ResultsLayout, second: ResultsLayout) -> list[StageComparison]:
    second_scores = read_result_file(second.result_file(planned.name))["scores"]
    first_scores = read_result_file(first.result_file(planned.name))["scores"] if planned.type == "Retrieval" else {}
    return [StageComparison(planned.name, split, _pick(first_scores.get(split, [])),
                            _pick(second_scores.get(split, [])))
            for split in planned.splits]


def _pick(entries: list[dict]) -> dict[str, float]:
    return {m: entries[0][m] for m in COMPARED if entries and m in entries[0]}
