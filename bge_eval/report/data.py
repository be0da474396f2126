"""Everything a report shows, computed from saved results only (no model, no data):
runs and their facts, leaderboards in the model card's two shapes, per-task tables with
published comparison, similarity distributions, and the instruction ablation.

The report module only renders a ReportData.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import DataError
from ..gating.baseline import gate_metric
from ..index.variants import revision_variant
from ..metrics.distributions import Distribution, distribution
from ..models.recipe import RECIPE_PRECISION
from ..models.resolve import is_local_revision
from ..results.files import read_model_meta, read_result_file, read_similarities
from ..results.layout import MANIFEST_NAME, MODEL_META_NAME, ResultsLayout
from ..results.manifest import Manifest, TaskRecord
from ..results.per_item import detectable_change, read_per_item
from ..results.published import has_published_scores, published_score
from ..tasks.demo import is_demo_task
from ..tasks.registry import (
    CHINESE_BENCHMARK,
    ENGLISH_BENCHMARK,
    benchmark_metric,
    benchmark_task_types,
    load_registry,
    task_type_of,
)
from ..tasks.types import task_kind
from .audit_section import AuditSection, audit_section, find_audit
from .index_section import VariantTask, index_section, is_variant
from .leaderboard import CMTEB_COLUMNS, MTEB_COLUMNS, Cell, delta, is_notable, leaderboard, suite_leaderboard
from .plots import comparison
from .sweep import SweepTable, sweep_table

BENCHMARKS = ((ENGLISH_BENCHMARK, "MTEB", MTEB_COLUMNS), (CHINESE_BENCHMARK, "C-MTEB", CMTEB_COLUMNS))


def _count(value: int | float | None) -> int | None:
    """A text count as recorded (JSON numbers), as an int."""
    return None if value is None else int(value)


@dataclass(frozen=True)
class TaskTime:
    """Where one task's last computation spent its time (seconds) and how many texts its model
    encoded; phases and counts are None for results written before they were recorded."""

    task: str
    wall_s: float
    load_s: float | None = None
    encode_s: float | None = None
    score_s: float | None = None
    write_s: float | None = None
    texts: int | None = None  # asked for
    encoded: int | None = None  # by the model (each distinct text once)
    cached: int | None = None  # served by the embedding cache

    @classmethod
    def of(cls, task: str, record: TaskRecord) -> TaskTime:
        phases, texts = record.phases or {}, record.texts or {}
        return cls(task, record.wall_s, phases.get("load_s"), phases.get("encode_s"), phases.get("score_s"),
                   phases.get("write_s"), *(_count(texts.get(key)) for key in ("texts", "encoded", "cached")))


@dataclass(frozen=True)
class Run:
    """One model identity's results folder."""

    label: str
    model: str
    revision: str
    results_dir: Path
    predictions_dir: Path
    policy: str | None
    instruction: str | None
    facts: dict  # versions, device, precision, harness revision
    time: list[TaskTime]  # per task, in the manifest's order
    splits: dict[str, list[str]]  # task -> the splits scored
    data: dict[str, str] = field(default_factory=dict)  # task -> its data's fingerprint (run.identity)
    types: dict[str, str] = field(default_factory=dict)  # task -> its type, as the run recorded it
    suites: dict[str, dict] = field(default_factory=dict)  # suite name -> averaging, task weights (manifest)


@dataclass(frozen=True)
class TaskRow:
    run: str
    task: str
    type: str
    split: str
    score: float  # the benchmark's main score (C-MTEB's MAP for reranking)
    metrics: dict[str, float]
    published: float | None
    delta: float | None
    notable: bool
    data: str | None = None  # the data's fingerprint, shortened ("files:1a2b3c4d5e6f", "hub:mteb/x@rev")
    demo: bool = False  # a task of the bundled demo suite: shown apart from real tasks
    detectable: float | None = None  # the smallest change of `detectable_metric` the gate's test finds (80% power)
    detectable_metric: str = ""


@dataclass(frozen=True)
class LeaderboardTable:
    title: str
    headers: list[str]  # with task counts, e.g. "Retrieval (15)"
    rows: list[tuple[int | None, str, Cell, list[Cell]]]  # rank (None: a published reference), label, average, cells
    note: str = ""  # how much of the benchmark ran, and which types are left out


@dataclass(frozen=True)
class Figure:
    run: str
    task: str
    split: str
    png_base64: str
    dist: Distribution


@dataclass(frozen=True)
class AblationRow:
    model: str
    task: str
    split: str
    with_instruction: float
    without: float
    delta: float


@dataclass
class ReportData:
    """task_rows and figures: real tasks, by task then run; demo_rows and demo_figures: the demo suite's."""

    runs: list[Run]
    leaderboards: list[LeaderboardTable]
    task_rows: list[TaskRow]
    figures: list[Figure]
    ablation: list[AblationRow]
    demo_rows: list[TaskRow] = field(default_factory=list)
    demo_figures: list[Figure] = field(default_factory=list)
    comparison_png: str | None = None  # with two or more runs: each run's score per task, as bars
    sweep: SweepTable | None = None  # with two or more runs: tasks x runs, best, deltas against a base
    index_variants: list[VariantTask] = field(default_factory=list)  # runs' index variants (index_section)
    audit: AuditSection | None = None  # the contamination audit beside the results (audit_section)
    generated: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))


# A published model's name on weights given by path: not the published weights, whose numbers sit beside it.
LOCAL_WEIGHTS_MARK = " (local weights)"


def find_runs(folders: list[Path], models: list[str] | None = None) -> list[Run]:
    runs = []
    for folder in folders:
        for meta_path in sorted(Path(folder).rglob(MODEL_META_NAME)):
            revision_dir = meta_path.parent
            meta = read_model_meta(meta_path)
            if models and meta["name"] not in models:
                continue
            layout = ResultsLayout.of_results_dir(revision_dir)
            manifest = Manifest.read_or_warn(layout.manifest_file)
            instruction = (manifest.instruction if manifest else None) or {}
            facts = {k: getattr(manifest, k, None) for k in ("versions", "device", "precision", "harness_git_revision")}
            weights = {(r.identity or {}).get("weights") for r in manifest.tasks.values()} if manifest else set()
            facts["weights"] = ", ".join(sorted(w[:12] for w in weights if w)) or None  # the model files' fingerprints
            precision = facts.get("precision")
            facts["precision_note"] = (f"not the recipe's {RECIPE_PRECISION}: scores may differ slightly from "
                                       "published ones" if precision and precision != RECIPE_PRECISION else None)
            facts["recipe_notes"] = list(instruction.get("notes") or [])
            variant = revision_variant(meta.get("revision", ""))
            runs.append(Run(
                label=meta["name"] + (f" [index {variant}]" if variant else LOCAL_WEIGHTS_MARK
                                      if is_local_revision(meta.get("revision"))
                                      and has_published_scores(meta["name"]) else ""),
                model=meta["name"], revision=meta.get("revision", ""),
                results_dir=revision_dir, predictions_dir=layout.predictions_dir,
                policy=instruction.get("policy"), instruction=instruction.get("instruction"), facts=facts,
                time=[TaskTime.of(t, record) for t, record in manifest.tasks.items()] if manifest else [],
                splits={t: record.splits for t, record in manifest.tasks.items()} if manifest else {},
                types={t: record.type for t, record in manifest.tasks.items()} if manifest else {},
                suites=dict(manifest.suites) if manifest else {},
                data={t: short_fingerprint(record.identity["data"]) for t, record in manifest.tasks.items()
                      if record.identity and record.identity.get("data")} if manifest else {},
            ))
    labels = [r.label for r in runs]
    return [_distinct_label(r, labels) for r in runs]


def _distinct_label(run: Run, labels: list[str]) -> Run:
    if labels.count(run.label) == 1:
        return run
    suffix = f"{run.policy or 'run'}, {ResultsLayout.of_results_dir(run.results_dir).output.name}"
    return Run(**{**run.__dict__, "label": f"{run.model} [{suffix}]"})


def task_rows(run: Run) -> list[TaskRow]:
    rows = []
    for path in sorted(run.results_dir.glob("*.json")):
        if path.name in (MODEL_META_NAME, MANIFEST_NAME):
            continue
        data = read_result_file(path)
        task = data["task_name"]
        splits = run.splits.get(task) or list(data["scores"])
        task_type = run.types.get(task) or task_type_of(task)  # a task card's type is the run's record
        for split in splits:
            entries = data["scores"].get(split, [])
            if not entries:
                continue
            kind = task_kind(task_type)
            metrics = {m: _mean(entries, m) for m in (kind.report_metrics if kind else ()) if m in entries[0]}
            metric = benchmark_metric(task, task_type, run.policy)
            metric = metric if metric in entries[0] else "main_score"
            score = _mean(entries, metric)
            published = published_score(run.model, task, split, metric)
            diff = delta(score, published)
            gated = gate_metric(task_type, entries[0])
            rows.append(TaskRow(run.label, task, task_type, split, score, metrics, published, diff,
                                is_notable(diff), run.data.get(task), is_demo_task(task),
                                _detectable(path, task, task_type, split, gated, entries), gated))
    return rows


def _detectable(path: Path, task: str, task_type: str, split: str, metric: str, entries: list[dict]) -> float | None:
    """From this run's per-item spread; None for a task of several subsets or without a per-item file."""
    value = entries[0].get(metric)
    if len(entries) != 1 or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    try:
        found, _ = read_per_item(path, task, task_type, split, metric, entries[0].get("hf_subset", "default"), value)
    except DataError:
        return None
    size = detectable_change(metric, found, None)[0] if found is not None else math.nan
    return size if math.isfinite(size) else None


def short_fingerprint(data: str) -> str:
    """A data fingerprint as a report shows it: a file digest's first 12 characters, a dataset revision whole."""
    kind, _, value = data.partition(":")
    return f"{kind}:{value[:12]}" if kind == "files" else data


def _mean(entries: list[dict], metric: str) -> float:
    values = [float(e[metric]) for e in entries if metric in e]
    return sum(values) / len(values)


def leaderboard_tables(runs: list[Run], rows: list[TaskRow]) -> list[LeaderboardTable]:
    """The benchmarks' tables: the runs ranked; each model's published numbers over the same tasks
    as a reference row (not ranked); types no run has a task of left out, and said so."""
    tables = []
    for name, title, columns in BENCHMARKS:
        types = benchmark_task_types()[name]
        scores = {r.label: {row.task: row.score for row in rows if row.run == r.label and row.task in types}
                  for r in runs}
        scores = {label: s for label, s in scores.items() if s}
        if not scores:
            continue
        references: dict[str, Any] = {}
        for run in runs:  # each model's published numbers, over the tasks its runs scored
            if run.label in scores:
                published = {t: v for t in scores[run.label] if (v := _published_main(run.model, t)) is not None}
                if published:
                    references.setdefault(f"{run.model} (published)", {}).update(published)
        ran = {t for s in scores.values() for t in s}
        shown = [c for c in columns if any(types.get(t) == c for t in ran)]
        left_out = [f"{c} ({sum(1 for t in types.values() if t == c)})" for c in columns if c not in shown]
        note = (f"{len(ran)} of the benchmark's {len(types)} tasks ran; the average is over those "
                "and marked (n/N)." if len(ran) < len(types) else "")
        if left_out:
            note += f" Types with no task run are left out: {', '.join(left_out)}."
        tables.append(LeaderboardTable(
            f"{title}: {name}", [f"{col} ({sum(1 for t in types.values() if t == col)})" for col in shown],
            _table_rows(leaderboard(scores, types, shown), shown)
            + _table_rows(leaderboard(references, types, shown), shown, ranked=False), note.strip(),
        ))
    return tables + suite_tables(runs, rows)


def _table_rows(board: list, columns: list[str], ranked: bool = True) -> list[tuple]:
    return [(row.rank if ranked else None, row.model, row.average, [row.columns[c] for c in columns])
            for row in board]


def suite_tables(runs: list[Run], rows: list[TaskRow]) -> list[LeaderboardTable]:
    """One table per suite the runs were made for (run --suite), over the suite's tasks."""
    suites: dict[str, dict] = {}
    for run in runs:
        for name, record in run.suites.items():
            suites.setdefault(name, record)
    tables = []
    for name, record in suites.items():
        weights = record["weights"]
        types = {row.task: row.type for row in rows if row.task in weights}
        columns = [c for c in dict.fromkeys(types.values())]
        scores = {r.label: {row.task: row.score for row in rows if row.run == r.label and row.task in weights}
                  for r in runs}
        scores = {label: s for label, s in scores.items() if s}
        board = suite_leaderboard(scores, types, columns, weights, record["average"])
        how = "weighted mean over tasks" if record["average"] == "tasks" else "mean of the type means"
        headers = [f"{col} ({sum(1 for t in types.values() if t == col)})" for col in columns]
        tables.append(LeaderboardTable(f"Suite: {name} ({len(weights)} tasks; average: {how})", headers,
                                       _table_rows(board, columns)))
    return tables


def _published_main(model: str, task: str) -> float | None:
    row = load_registry().get(task)
    split = row.split if row else ("dev" if task == "MSMARCO" else "test")
    return published_score(model, task, split, benchmark_metric(task, task_type_of(task)))


def figures(run: Run) -> list[Figure]:
    from .plots import histogram_png

    out = []
    for path in sorted(run.predictions_dir.glob("*_similarities.json")):
        task = path.name[: -len("_similarities.json")]
        for subset, splits in read_similarities(path).items():
            for split, entry in splits.items():
                dist = distribution(entry)
                if not dist.positive and not dist.negative:
                    continue
                title = f"{task} ({split}{'' if subset == 'default' else ', ' + subset}) - {run.label}"
                png = histogram_png(dist, title)
                out.append(Figure(run.label, task, split, base64.b64encode(png).decode("ascii"), dist))
    return out


def ablation(runs: list[Run], rows: list[TaskRow]) -> list[AblationRow]:
    """Same model with policy bge and policy none: per-task difference."""
    out = []
    by_label = {(row.run, row.task, row.split): row.score for row in rows}
    for with_run in (r for r in runs if r.policy == "bge"):
        for without_run in (r for r in runs if r.policy == "none" and r.model == with_run.model):
            for (label, task, split), score in by_label.items():
                other = by_label.get((without_run.label, task, split))
                if label == with_run.label and other is not None:
                    out.append(AblationRow(with_run.model, task, split, score, other, score - other))
    return out


def in_table_order(rows: list[TaskRow], runs: list[Run]) -> list[TaskRow]:
    """By task (as first seen), then split, then run: the runs of one task side by side."""
    first_seen = {row.task: i for i, row in reversed(list(enumerate(rows)))}
    position = {r.label: i for i, r in enumerate(runs)}
    return sorted(rows, key=lambda r: (first_seen[r.task], r.split, position[r.run]))


def figures_in_order(figs: list[Figure], rows: list[TaskRow], runs: list[Run]) -> list[Figure]:
    order = {(row.task, row.split, row.run): i for i, row in enumerate(rows)}
    position = {r.label: i for i, r in enumerate(runs)}
    return sorted((f for f in figs if (f.task, f.split, f.run) in order),
                  key=lambda f: (order[(f.task, f.split, f.run)], position[f.run]))


def build_report(folders: list[Path], models: list[str] | None = None, base: str | None = None,
                 selection: Any = None, audit: Path | None = None) -> ReportData:
    """base: a run's label or model name, that every other run is compared with (the sweep table);
    selection: a tasks.selection.TaskFilter (mteb's filters) choosing the tasks reported; audit: an
    audit.json (default: one in a results folder) whose clean items are scored."""
    from ..errors import DataError
    from .selection import selected_rows

    found = find_runs(folders, models)
    runs, variant_runs = [r for r in found if not is_variant(r)] or found, [r for r in found if is_variant(r)]
    if not runs:
        raise DataError(f"no results under {', '.join(map(str, folders))} (looked for */model_meta.json"
                        + (f" of {', '.join(models)}" if models else "") + ").")
    rows, notes = selected_rows([row for run in runs for row in task_rows(run)], runs, selection)
    if selection and not rows:
        raise DataError("report: no reported task matches the filters (--task-types, --languages, --categories, "
                        "--eval-splits)" + (f"; {'; '.join(notes)}" if notes else "") + ".")
    if selection:  # the run facts' time table too: the chosen tasks only
        chosen = {row.task for row in rows}
        runs = [Run(**{**run.__dict__, "time": [t for t in run.time if t.task in chosen]}) for run in runs]
    rows = in_table_order(rows, runs)
    real, demo = [r for r in rows if not r.demo], [r for r in rows if r.demo]
    figs = [figure for run in runs for figure in figures(run)]
    return ReportData(
        runs=runs, leaderboards=leaderboard_tables(runs, rows), task_rows=real,
        figures=figures_in_order(figs, real, runs), ablation=ablation(runs, rows), demo_rows=demo,
        demo_figures=figures_in_order(figs, demo, runs), comparison_png=comparison(runs, real or demo),
        sweep=sweep_table(runs, real or demo, base),
        index_variants=index_section(runs, variant_runs, rows + [r for run in variant_runs for r in task_rows(run)]),
        audit=audit_section(find_audit(folders, audit), runs, real or demo),
    )
