"""Index variants of a run's retrieval tasks (index/): each variant's results go beside the run's as
another revision of the same model, `<revision>+index-<variant>` (mteb's layout, so report,
compare and the gate read them: `gate --revision REV+index-int8` gates the int8 index), with its
identity: the run's for the task plus the variant. Embeddings come from the embedding cache the
run filled (nothing is encoded again when the cache holds them). Beside each result,
`<Task>_index.json` holds the variant's size, build time, latency and its recall@10 against the
run's exact rankings."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._mteb import model_meta_for_results
from .._util import atomic_write_json, output_lock
from ..config import DEFAULT_DATALOADER_BATCH_SIZE, RunConfig
from ..errors import BgeEvalError
from ..index.search import IndexedSearch
from ..index.variants import IndexSpec, variant_revision
from ..results.files import load_json, read_result_file
from ..results.layout import ResultsLayout, remove_staging, staging_folder
from ..results.manifest import Manifest, TaskRecord, harness_git_revision, package_versions
from ..tasks.selection import plan_tasks
from .identity import ResultIdentity, code_versions, reuse_decision
from .outcome import RunSummary
from .task_eval import evaluate_task

log = logging.getLogger(__name__)

INDEXED_TYPES = ("Retrieval", "Reranking")
CANDIDATES_ONLY = ("not run: a reranking task scores each query's given candidates whole, so there is no "
                   "candidate cut to rescore and no search to approximate")


@dataclass(frozen=True)
class VariantResult:
    variant: str
    task: str
    results_dir: Path
    score: float | None  # the task's main score (nDCG@10 for retrieval, MAP for C-MTEB's reranking)
    figures: dict[str, float]
    computed: bool
    note: str | None = None  # why the task was not run through this variant


def run_index_variants(config: RunConfig, first: RunSummary, specs: list[IndexSpec], encoder: Any = None) -> list[
        VariantResult]:
    """Every full-corpus retrieval task of `first` searched through each variant (exact first)."""
    from ..encoding.mteb_encoder import BgeEncoder

    first_layout = ResultsLayout.of_results_dir(first.results_dir)
    first_manifest = Manifest.read(first_layout.manifest_file)
    names = tuple(o.entry for o in first.outcomes if o.type in INDEXED_TYPES and o.status != "failed")
    if not names or first_manifest is None:
        raise BgeEvalError("--index: the run has no retrieval or reranking task to put in an index.")
    plan = plan_tasks(names, config.benchmark, config.data_dir)
    encoder = encoder or BgeEncoder.from_config(config)
    out: list[VariantResult] = []
    for spec in specs:
        meta = model_meta_for_results(encoder.mteb_model_meta, revision=variant_revision(first.revision, spec),
                                      embed_dim=encoder.mteb_model_meta.embed_dim,
                                      max_tokens=encoder.mteb_model_meta.max_tokens)
        layout = ResultsLayout.for_model(config.output, meta)
        search = IndexedSearch(encoder, spec, meta, config.corpus_chunk)
        with output_lock(layout.output):
            layout.refuse_links()
            previous = Manifest.take_over(layout.manifest_file)
            manifest = Manifest(config={**config.to_json(), "index": spec.name}, instruction=first_manifest.instruction,
                                benchmark=plan.benchmark, skipped_tasks=[], versions=package_versions(),
                                harness_git_revision=harness_git_revision(),
                                model={**(first_manifest.model or {}), "first_stage": str(first.results_dir)})
            manifest.start_run(previous)
            staging = staging_folder(layout.output)
            try:
                for planned in plan.tasks:
                    if planned.type == "Reranking" and not spec.stored_form:
                        out.append(VariantResult(spec.name, planned.name, layout.results_dir, None, {}, False,
                                                 CANDIDATES_ONLY))
                        continue
                    out.append(_variant_task(config, planned, spec, search, layout, first_layout, first_manifest,
                                             manifest, staging))
            finally:
                remove_staging(staging)
                manifest.finish_run()
                if layout.results_dir.is_dir():
                    manifest.write(layout.manifest_file)
    return out


def variant_summaries(first: RunSummary, results: list[VariantResult]) -> list[RunSummary]:
    """Each variant other than exact (whose rankings are the run's) as a first stage of its own, its
    retrieval tasks only: what a second stage reranks."""
    out = []
    for results_dir in dict.fromkeys(r.results_dir for r in results if r.variant != "exact" and r.note is None):
        tasks = {r.task for r in results if r.results_dir == results_dir and r.note is None}
        layout = ResultsLayout.of_results_dir(results_dir)
        out.append(RunSummary(first.model, results_dir.name, results_dir, layout.predictions_dir,
                              [o for o in first.outcomes if o.name in tasks and o.type == "Retrieval"]))
    return out


def _variant_task(config: RunConfig, planned: Any, spec: IndexSpec, search: IndexedSearch, layout: ResultsLayout,
                  first_layout: ResultsLayout, first_manifest: Manifest, manifest: Manifest,
                  staging: Path) -> VariantResult:
    recorded_first = first_manifest.tasks[planned.name].identity or {}
    identity = ResultIdentity(recorded_first.get("weights"), recorded_first.get("data", ""),
                              {**(recorded_first.get("settings") or {}), "index": spec.name}, None, code_versions())
    recorded = manifest.tasks.get(planned.name)
    compute, note = reuse_decision(identity, recorded.identity if recorded else None, layout.result_file(planned.name),
                                   planned.splits, overwrite=config.overwrite, keep_results=config.keep_results)
    if note:
        log.warning("%s (index %s): the saved result is %s", planned.name, spec.name, note)
    figures_file = layout.predictions_dir / f"{planned.name}_index.json"
    if compute:
        work = evaluate_task(planned, search, layout, staging, data_dir=config.data_dir, save_predictions=True,
                             dataloader_batch_size=config.batch_size or DEFAULT_DATALOADER_BATCH_SIZE)
        found = _overlap_at_10(first_layout.predictions_file(planned.name), layout.predictions_file(planned.name))
        figures = {**search.figures, "recall_at_10_vs_exact": found}
        atomic_write_json(figures_file, {"variant": spec.name, **figures})
        manifest.record_task(planned.name, TaskRecord.computed(planned, work, identity))
        manifest.write(layout.manifest_file)
    figures = load_json(figures_file, "rerun with --overwrite") if figures_file.is_file() else {}
    scores = read_result_file(layout.result_file(planned.name))["scores"]
    score = scores.get(planned.splits[0], [{}])[0].get("main_score")
    return VariantResult(spec.name, planned.name, layout.results_dir, score,
                         {k: v for k, v in figures.items() if k != "variant"}, compute)


def _overlap_at_10(exact_file: Path, variant_file: Path) -> float:
    """The share of the exact rankings' top 10 the variant's top 10 holds, over every query and split."""
    from ..metrics.ranking import ranking

    exact, variant = (load_json(path, "rerun with --overwrite") for path in (exact_file, variant_file))
    shares = []
    for subset, splits in exact.items():
        if not isinstance(splits, dict) or subset == "mteb_model_meta":
            continue
        for split, queries in splits.items():
            for query, scores in queries.items():
                mine = variant.get(subset, {}).get(split, {}).get(query, {})
                top = ranking(scores)[:10]
                shares.append(len(set(top) & set(ranking(mine)[:10])) / max(1, len(top)))
    return sum(shares) / len(shares) if shares else float("nan")
