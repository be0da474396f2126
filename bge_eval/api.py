"""The public Python API (re-exported lazily by bge_eval/__init__.py); the CLI is a thin layer over it.
README.md shows it in use; every function takes RunConfig's fields as keyword options.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack

from .config import (
    DEMO_BENCHMARK,
    DEMO_MODEL,
    GATE_ALPHA,
    GATE_TOLERANCE,
    RERANK_TOP_K,
    InstructionPolicy,
    RunConfig,
    RunOptions,
)
from .errors import BgeEvalError

if TYPE_CHECKING:
    import pandas

    from .comparison import Comparison
    from .encoding.mteb_encoder import BgeEncoder
    from .gating import BaselineWrite, GateReport
    from .report.data import ReportData
    from .run.bisect import BisectResult
    from .run.outcome import RunSummary
    from .run.second_stage import RerankSummary
    from .run.sweep import SweepSummary

_CONFIG_FIELDS = {f.name for f in dataclasses.fields(RunConfig)} - {"model", "tasks", "benchmark"}


def make_config(model: str | None = None, tasks: Iterable[str] = (), benchmark: str | None = None,
                **options: Unpack[RunOptions]) -> RunConfig:
    """A RunConfig from keyword options (RunConfig's field names); no model, tasks or benchmark
    means the bundled demo suite with its default model."""
    unknown = sorted(set(options) - _CONFIG_FIELDS)
    if unknown:
        raise TypeError(f"unknown option(s) {', '.join(unknown)}; options are RunConfig's fields: "
                        f"{', '.join(sorted(_CONFIG_FIELDS))}")
    tasks = (tasks,) if isinstance(tasks, str) else tuple(tasks)
    if options.get("suite") is not None:
        from .tasks.suites import read_suite

        if tasks or benchmark:
            raise BgeEvalError("--suite names its own tasks: give it without --tasks or --benchmark.")
        tasks = tuple(read_suite(Path(str(options["suite"]))).entries)
    if model is None and not tasks and benchmark is None:
        benchmark = DEMO_BENCHMARK
    fields: dict[str, Any] = dict(options)  # RunConfig turns str paths into Path and sequences into tuples
    return RunConfig(model=model or DEMO_MODEL, tasks=tasks, benchmark=benchmark, **fields)


def evaluate(model: str | Any | None = None, tasks: Iterable[str | Any] = (), *, benchmark: str | None = None,
             **options: Unpack[RunOptions]) -> RunSummary:
    """Evaluate a model on tasks (or a benchmark) with the same runner as `python -m bge_eval run`.

    model: a model name (its identity in the results), or an already-built mteb model such as
        get_encoder's; None with no tasks or benchmark: the bundled demo suite.
    tasks: mteb task names, or mteb task objects (loaded by their own load_data); empty: the
        benchmark's tasks (default: the model language's benchmark).
    options: any RunConfig field (model_path, data_dir, output, device, precision, ...).
    Returns the RunSummary (per-task scores, status, wall time, folders); resumes like the CLI."""
    from .run.runner import run

    tasks = [tasks] if isinstance(tasks, str) else list(tasks)
    objects = [t for t in tasks if not isinstance(t, str)]
    if objects and len(objects) != len(tasks):
        raise TypeError("tasks: give task names or mteb task objects, not both")
    names = [t.metadata.name for t in objects] if objects else tasks
    given = objects or None
    if model is None or isinstance(model, str):
        return run(make_config(model, names, benchmark, **options), tasks=given)
    return run(make_config(model.mteb_model_meta.name, names, benchmark, **options), encoder=model, tasks=given)


def sweep(models: Sequence[Any], tasks: Iterable[str] = (), *, benchmark: str | None = None,
          ray: Any = None, **options: Unpack[RunOptions]) -> SweepSummary:
    """Several models on the same tasks, each into its own folder under `output`.

    models: names, or ModelEntry(name, path, revision) values (bge_eval.run.sweep).
    ray: None runs them one after another here; a RayOptions (bge_eval.run.ray_executor) runs
        every (model, task) unit as a Ray task on a cluster (RayOptions() connects to
        $RAY_ADDRESS, else starts a local one). options: as for evaluate."""
    from .run.executor import LocalExecutor
    from .run.sweep import ModelEntry, checked_entries, run_sweep

    entries = checked_entries([m if isinstance(m, ModelEntry) else ModelEntry(str(m)) for m in models], "models")
    base = make_config(entries[0].name, list(tasks), benchmark, **options)
    return run_sweep(base, entries, LocalExecutor() if ray is None else _ray_executor(ray))


def bisect(models: Sequence[Any], tasks: Iterable[str] = (), *, benchmark: str | None = None, ray: Any = None,
           tolerance: float = GATE_TOLERANCE, alpha: float = GATE_ALPHA, **options: Unpack[RunOptions]) -> BisectResult:
    """The first checkpoint (models in training order) whose score on a task dropped beyond `tolerance`
    with the gate's one-sided paired test significant at `alpha` against the first (run/bisect.py);
    also written to OUTPUT/bisect.json. ray and options: as for sweep."""
    from ._util import atomic_write_json
    from .run.bisect import bisect_checkpoints
    from .run.executor import LocalExecutor
    from .run.sweep import ModelEntry, checked_entries

    entries = checked_entries([m if isinstance(m, ModelEntry) else ModelEntry(str(m)) for m in models], "models")
    base = make_config(entries[0].name, list(tasks), benchmark, **options)
    result = bisect_checkpoints(base, entries, lambda: LocalExecutor() if ray is None else _ray_executor(ray),
                                tolerance, alpha)
    atomic_write_json(Path(base.output) / "bisect.json", result.to_json())
    return result


def _ray_executor(options: Any) -> Any:
    from .run.ray_executor import RayExecutor

    return RayExecutor(options)


def rerank(summary: RunSummary, reranker: str, *, reranker_path: str | Path | None = None,
           top_k: int = RERANK_TOP_K, **options: Unpack[RunOptions]) -> RerankSummary:
    """The second stage over a first stage's results: `reranker` (a cross-encoder) reranks
    the retrieval tasks' top_k and scores the reranking tasks. options: as for evaluate."""
    from .run.second_stage import run_reranker

    config = make_config(summary.model, [o.name for o in summary.outcomes], **options)
    return run_reranker(config, summary, reranker, Path(reranker_path) if reranker_path else None, top_k)


def index_variants(summary: RunSummary, variants: Sequence[str], *, encoder: Any = None,
                   **options: Unpack[RunOptions]) -> list[Any]:
    """The run's full-corpus retrieval tasks searched through index variants ("int8", "hnsw:32", ...;
    exact is always included), each saved as revision REV+index-VARIANT beside the run's results
    (run/index_stage.py). options: the run's (the embedding cache gives back its vectors)."""
    from .index.variants import parse_index
    from .run.index_stage import run_index_variants

    specs = list({spec.name: spec for spec in map(parse_index, ["exact", *variants])}.values())
    config = make_config(summary.model, [o.entry for o in summary.outcomes], **options)
    return run_index_variants(config, summary, specs, encoder)


def rerank_variants(summary: RunSummary, variants: Sequence[Any], reranker: str, *,
                    reranker_path: str | Path | None = None, top_k: int = RERANK_TOP_K,
                    **options: Unpack[RunOptions]) -> list[RerankSummary]:
    """The second stage over each index variant's candidates (index_variants' results; exact's are the
    run's own, reranked by `rerank`): results under OUTPUT/rerank/<org__model>+index-<variant>/."""
    from .run.index_stage import variant_summaries

    return [rerank(first, reranker, reranker_path=reranker_path, top_k=top_k, **options)
            for first in variant_summaries(summary, list(variants))]


def get_encoder(model: str, **options: Unpack[RunOptions]) -> BgeEncoder:
    """The harness's fast encoder for `model`, as an mteb model: usable with mteb.evaluate
    directly (with BGE's instruction routing) or with evaluate(encoder, ...).

    options: RunConfig's model and encoding fields (model_path, revision, device, devices,
    precision, batch_size, token_budget, instruction_policy, instruction, compile, packed,
    embedding_cache). Close it (or use it in a with block) to stop any worker processes."""
    from .encoding.mteb_encoder import BgeEncoder

    return BgeEncoder.from_config(make_config(model, **options))


@dataclasses.dataclass(frozen=True)
class TaskDescriptions:
    benchmark: str | None
    rows: list[Any]  # tasks.listing.TaskListing, one per task


def describe_tasks(model: str | None = None, tasks: Iterable[str] = (), *, benchmark: str | None = None,
                   model_path: str | Path | None = None, instruction_policy: InstructionPolicy = "bge",
                   instruction: str | None = None, data_dir: str | Path | None = None,
                   task_types: Sequence[str] = (), languages: Sequence[str] = (), categories: Sequence[str] = (),
                   eval_splits: Sequence[str] = ()) -> TaskDescriptions:
    """What a run would do on each task (type, splits, the benchmark's metric, local data) and,
    with a model, the recipe's query instruction and normalisation there. A BGE model needs only
    its name (the BGE table); another model, its checkpoint. task_types ... eval_splits: mteb's
    filters, as a run takes them."""
    from ._mteb import registry_model_meta
    from .models import BGE_MODELS, mteb_meta, resolve_model
    from .models.recipe import Recipe
    from .tasks.listing import task_listing
    from .tasks.selection import TaskFilter, plan_tasks

    recipe, language = None, "en"
    if model is not None:
        if model in BGE_MODELS and model_path is None:
            spec, meta = BGE_MODELS[model], registry_model_meta(model)
        else:
            resolved = resolve_model(model, Path(model_path) if model_path else None)
            spec, meta = resolved.spec, mteb_meta(resolved)
        config = make_config(model, instruction_policy=instruction_policy, instruction=instruction)
        recipe, language = Recipe.for_config(config, spec, meta), spec.language
    tasks = (tasks,) if isinstance(tasks, str) else tuple(tasks)
    selection = TaskFilter(tuple(task_types), tuple(languages), tuple(categories), tuple(eval_splits))
    plan = plan_tasks(tasks, benchmark, None, language, selection)
    folder = Path(data_dir) if data_dir else None
    return TaskDescriptions(plan.benchmark, task_listing(plan, recipe, folder))


def demo_tasks() -> list[Any]:
    """The bundled demo suite as mteb task objects (a smoke test written by the bge_eval team)."""
    from .tasks.demo import demo_tasks as tasks

    return tasks()


def load_results(*folders: str | Path, models: Sequence[str] | None = None,
                 as_frame: bool = True) -> pandas.DataFrame | list[Any]:
    """Every score under the results folders as tidy rows: model, revision, task, type, split,
    subset, metric, value (a pandas DataFrame, or a list of ResultRow with as_frame=False)."""
    from .results.tidy import ResultRow, tidy_rows

    paths = [Path(f) for f in folders or ("results",)]
    for path in paths:
        if not path.is_dir():
            raise BgeEvalError(f"{path}: no such folder; give a run's --output folder (or one holding results).")
    rows = tidy_rows(paths, models)
    if not as_frame:
        return rows
    import pandas as pd

    columns = [f.name for f in dataclasses.fields(ResultRow)]
    return pd.DataFrame([dataclasses.asdict(row) for row in rows], columns=columns)


def build_report(*folders: str | Path, output: str | Path | None = None,
                 models: Sequence[str] | None = None, base: str | None = None, task_types: Sequence[str] = (),
                 languages: Sequence[str] = (), categories: Sequence[str] = (),
                 eval_splits: Sequence[str] = (), audit: str | Path | None = None) -> ReportData:
    """What a report shows, from saved results only (no model, no data); with `output`, also
    written there as index.html (self-contained) and README.md. task_types ... eval_splits: mteb's
    filters choosing the tasks reported, as a run's; audit: an audit.json whose clean items are
    scored beside the full scores (default: an audit.json in a results folder)."""
    from .report.data import build_report as build
    from .report.render import render
    from .tasks.selection import TaskFilter

    selection = TaskFilter(tuple(task_types), tuple(languages), tuple(categories), tuple(eval_splits))
    data = build([Path(f) for f in folders or ("results",)], list(models) if models else None, base, selection,
                 Path(audit) if audit is not None else None)
    if output is not None:
        sweep = data.sweep
        if sweep is not None and sweep.base is not None:  # each run's comparison page with the base
            from .comparison import Side
            from .comparison.viewer import pair_pages

            sides = {run.label: Side(run.model, run.revision, run.results_dir) for run in data.runs}
            links, notes = pair_pages(sides[sweep.base], {k: v for k, v in sides.items() if k != sweep.base},
                                      Path(output))
            data.sweep = dataclasses.replace(sweep, links=links, notes=[*sweep.notes, *notes])
        render(data, Path(output))
    return data


def compare(base: str | Path, new: str | Path | None = None, *, base_model: str | None = None,
            new_model: str | None = None, tasks: Sequence[str] | None = None, metric: str | None = None,
            audit: str | Path | None = None) -> Comparison:
    """Two model identities' saved results compared item by item (bge_eval.comparison): `base` and `new`
    results folders (new None: both in `base`, told apart by base_model and new_model, NAME or NAME@REV);
    audit: an audit.json, whose tasks are also compared on the items it found clean."""
    from .comparison import compare_sides, pick_side
    from .contamination.clean import read_audit

    if new is None and (base_model is None or new_model is None):
        raise BgeEvalError("compare: with one results folder, name both models (--base-model and --new-model).")
    base_side = pick_side(Path(base), base_model, "--base-model")
    new_side = pick_side(Path(new if new is not None else base), new_model, "--new-model")
    if base_side.results_dir.resolve() == new_side.results_dir.resolve():
        raise BgeEvalError(f"compare: base and new are the same results ({base_side.results_dir}); name two models "
                           "or give two folders.")
    return compare_sides(base_side, new_side, list(tasks) if tasks else None, metric,
                         read_audit(Path(audit)) if audit is not None else None)


def gate(results: str | Path, baseline: str | Path, *, tasks: Sequence[str] | None = None,
         metric: str | None = None, max_drop: float | None = None, alpha: float = GATE_ALPHA,
         require_significance: bool = False, revision: str | None = None,
         audit: str | Path | None = None) -> GateReport:
    """The regression gate: saved results against a baseline file; .passed, .exit_code,
    .verdicts, .markdown(), .junit(). revision: gate the model's results of this revision (needed
    when the results hold several of the baseline's model); audit: an audit.json whose tasks are
    gated on the items it found clean."""
    from .contamination.clean import read_audit
    from .gating import GateReport, run_gate

    audited = read_audit(Path(audit)) if audit is not None else None
    return GateReport(run_gate(Path(results), Path(baseline), tasks=list(tasks) if tasks else None, metric=metric,
                               max_drop=max_drop, alpha=alpha, require_significance=require_significance,
                               revision=revision, audit=audited))


def write_baseline(baseline: str | Path, results: str | Path, *, tasks: Sequence[str] | None = None,
                   metric: str | None = None, tolerance: float = GATE_TOLERANCE,
                   revision: str | None = None) -> BaselineWrite:
    """Create or update a gate baseline (and its per-item sidecar) from saved results; metric None
    gates each task type's default (tasks.types.GATE_METRICS). .entries, .left_out, .untested."""
    from .gating import write_baseline as write

    return write(Path(baseline), Path(results), list(tasks) if tasks else None, metric, tolerance,
                 revision=revision)


def audit(train: str | Path | Sequence[str | Path], tasks: Iterable[str] = (), *, benchmark: str | None = None,
          suite: str | Path | None = None, data_dir: str | Path | None = None, threshold: float | None = None,
          output: str | Path | None = None) -> Any:
    """The contamination audit (docs/audit.md): every training file's texts against the texts the
    tasks evaluate (found as run finds them), exact and near copies per task; written to
    OUTPUT/audit.json when `output` is given. Returns a contamination.findings.AuditResult."""
    from ._util import folder_problem
    from .contamination.evaluated import task_items
    from .contamination.findings import audit as run_audit
    from .contamination.matching import DEFAULT_THRESHOLD, minhash_lsh
    from .contamination.training import check_training_file
    from .tasks.selection import plan_tasks

    minhash_lsh()  # datasketch present, before any data is read
    train = [train] if isinstance(train, (str, Path)) else list(train)
    names = tuple([tasks] if isinstance(tasks, str) else tasks)
    if suite is not None:
        from .tasks.suites import read_suite

        if names or benchmark:
            raise BgeEvalError("--suite names its own tasks: give it without --tasks or --benchmark.")
        names = tuple(read_suite(Path(suite)).entries)
    if not names and benchmark is None:
        raise BgeEvalError("audit: say which tasks to audit: --tasks, --benchmark or --suite.")
    for path in map(Path, train):
        check_training_file(path)
    if threshold is not None and not 0 < threshold <= 1:
        raise BgeEvalError(f"audit: threshold {threshold}: give a Jaccard similarity above 0 and at most 1.")
    if output is not None and (problem := folder_problem(Path(output))) is not None:
        raise BgeEvalError(f"--output {output}: {problem}; choose a folder you can write to.")
    data = Path(data_dir) if data_dir is not None else None
    plan = plan_tasks(names, benchmark, data)
    evaluated = [items for planned in plan.tasks for items in task_items(planned, data)]
    result = run_audit(evaluated, [Path(p) for p in train], DEFAULT_THRESHOLD if threshold is None else threshold)
    if output is not None:
        result.write(Path(output))
    return result
