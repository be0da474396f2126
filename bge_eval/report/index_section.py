"""The report's index-variant section (docs/index-variants.md): per run and task, each variant's
score against its bytes per vector and its query latency, the Pareto frontier of each (no other
variant is at least as good and at least as small, or as fast), a Pareto chart, and the
recommended variant per budget in plain sentences. Read from saved results only."""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from typing import Any

from ..index.variants import run_revision
from ..results.files import load_json

LOSS_TOLERANCE = 0.01  # "within one point of exact": the loss a recommendation names


@dataclass(frozen=True)
class VariantPoint:
    variant: str
    score: float  # the task's main score through this index
    delta: float  # against exact
    bytes_per_vector: float
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    queries_per_s: float | None
    recall_at_10_vs_exact: float | None
    build_s: float | None
    frontier_bytes: bool = False  # on the quality-against-bytes frontier
    frontier_latency: bool = False  # on the quality-against-latency frontier


@dataclass(frozen=True)
class VariantTask:
    run: str  # the run's label (the model searched exactly)
    revision: str  # the run's revision
    task: str
    split: str
    points: list[VariantPoint]  # exact first, then by bytes per vector
    recommendations: list[str] = field(default_factory=list)
    chart_png: str | None = None


def is_variant(run: Any) -> bool:
    return run_revision(run.revision) is not None


def index_section(runs: list[Any], variant_runs: list[Any], rows: list[Any]) -> list[VariantTask]:
    """runs: the report's runs (exact search); variant_runs: their index variants' runs; rows: TaskRows
    of both (report.data.task_rows). One VariantTask per run, task and split with an exact variant."""
    from .plots import pareto_png

    by_run = {(row.run, row.task, row.split): row for row in rows}
    out = []
    for run in runs:
        mine = [v for v in variant_runs if v.model == run.model and run_revision(v.revision) == run.revision
                and v.results_dir.parent == run.results_dir.parent]
        for task, split in dict.fromkeys((row.task, row.split) for row in rows if row.run == run.label):
            found = [(_figures(v, task), by_run.get((v.label, task, split))) for v in mine]
            points = [_point(figures, row.score) for figures, row in found if figures and row is not None]
            exact = next((p for p in points if p.variant == "exact"), None)
            if exact is None or len(points) < 2:
                continue
            points = _with_frontiers([_against(p, exact.score) for p in points])
            points.sort(key=lambda p: (p.variant != "exact", p.bytes_per_vector, p.variant))
            png = pareto_png(points, f"{task} ({split}), {run.label}")
            out.append(VariantTask(run.label, run.revision, task, split, points, recommendations(points),
                                   base64.b64encode(png).decode("ascii")))
    return out


def _figures(run: Any, task: str) -> dict[str, Any] | None:
    """A variant run's <Task>_index.json (variant name and figures); None where the run has none."""
    path = run.predictions_dir / f"{task}_index.json"
    return load_json(path, "rerun with --index") if path.is_file() else None


def _point(figures: dict[str, Any], score: float) -> VariantPoint:
    def number(key: str) -> float | None:
        value = figures.get(key)
        return float(value) if isinstance(value, int | float) and math.isfinite(value) else None

    return VariantPoint(str(figures.get("variant")), score, 0.0, number("bytes_per_vector") or 0.0,
                        number("latency_p50_ms"), number("latency_p95_ms"), number("queries_per_s"),
                        number("recall_at_10_vs_exact"), number("build_s"))


def _against(point: VariantPoint, exact: float) -> VariantPoint:
    return VariantPoint(**{**point.__dict__, "delta": point.score - exact})


def _dominated(point: VariantPoint, others: list[VariantPoint], cost: str) -> bool:
    """Another variant at least as good and at least as cheap, better in one of the two."""
    mine = getattr(point, cost)
    if mine is None:
        return True
    for other in others:
        theirs = getattr(other, cost)
        if other is point or theirs is None:
            continue
        if other.score >= point.score and theirs <= mine and (other.score > point.score or theirs < mine):
            return True
    return False


def _with_frontiers(points: list[VariantPoint]) -> list[VariantPoint]:
    return [VariantPoint(**{**p.__dict__, "frontier_bytes": not _dominated(p, points, "bytes_per_vector"),
                            "frontier_latency": not _dominated(p, points, "latency_p50_ms")}) for p in points]


def recommendations(points: list[VariantPoint]) -> list[str]:
    """The best variant for each memory budget (the frontier's points, smallest first), and the
    smallest and the fastest variant within LOSS_TOLERANCE of exact."""
    exact = next(p for p in points if p.variant == "exact")
    lines = []
    for p in sorted((p for p in points if p.frontier_bytes), key=lambda p: p.bytes_per_vector):
        smaller = exact.bytes_per_vector / p.bytes_per_vector if p.bytes_per_vector else math.inf
        what = "exact search" if p is exact else f"{smaller:.1f}x smaller than exact"
        lines.append(f"Up to {p.bytes_per_vector:,.0f} bytes per vector ({what}): "
                     f"{p.variant}, {100 * p.score:.2f} ({100 * p.delta:+.2f} against exact).")
    close = [p for p in points if p.delta >= -LOSS_TOLERANCE]
    smallest = min(close, key=lambda p: (p.bytes_per_vector, -p.score))
    lines.append(f"Smallest within {100 * LOSS_TOLERANCE:.0f} point of exact: {smallest.variant} "
                 f"({smallest.bytes_per_vector:,.0f} bytes per vector, {100 * smallest.delta:+.2f}).")
    timed = [p for p in close if p.latency_p50_ms is not None]
    if timed:
        fastest = min(timed, key=lambda p: (p.latency_p50_ms, -p.score))
        lines.append(f"Fastest within {100 * LOSS_TOLERANCE:.0f} point of exact: {fastest.variant} "
                     f"(p50 {fastest.latency_p50_ms:.2f} ms per query, {100 * fastest.delta:+.2f}).")
    return lines
