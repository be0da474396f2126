"""The report's figures as PNG bytes (similarity distributions; runs compared per task), drawn
on a standalone matplotlib Figure (no pyplot, so a notebook's or application's backend is left
as it was)."""

from __future__ import annotations

import base64
import io
from typing import Any

from ..metrics.distributions import Distribution


def histogram_png(dist: Distribution, title: str) -> bytes:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.2, 3.4), dpi=100)
    ax = fig.subplots()
    every = dist.positive + dist.negative
    low, high = (min(every), max(every)) if every else (0.0, 1.0)
    bins = [low + (high - low) * i / 40 for i in range(41)] if high > low else 20
    ax.hist(dist.negative, bins=bins, alpha=0.6, color="#d95f02", label=f"{dist.negative_label} ({len(dist.negative)})")
    ax.hist(dist.positive, bins=bins, alpha=0.6, color="#1b9e77", label=f"{dist.positive_label} ({len(dist.positive)})")
    if dist.best is not None:
        ax.axvline(dist.best.threshold, color="#333333", linestyle="--", linewidth=1,
                   label=f"best-F1 threshold {dist.best.threshold:.3f}")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("cosine similarity")
    ax.set_ylabel("count")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)  # beside the bars, never on them
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def comparison(runs: list[Any], rows: list[Any]) -> str | None:
    """With two or more runs (report.data's): a bar chart of each run's score per task, base64 PNG."""
    if len(runs) < 2 or not rows:
        return None
    tasks = list(dict.fromkeys(f"{r.task}" + ("" if r.split == "test" else f" ({r.split})") for r in rows))
    scores = {(r.run, r.task + ("" if r.split == "test" else f" ({r.split})")): r.score for r in rows}
    return base64.b64encode(comparison_png([r.label for r in runs], tasks, scores)).decode("ascii")


def comparison_png(runs: list[str], tasks: list[str], scores: dict[tuple[str, str], float]) -> bytes:
    """Grouped bars: per task (in the table's order), each run's score on the 0-100 scale."""
    return _grouped_bars(runs, tasks, {key: 100 * v for key, v in scores.items()}, None,
                         "score (0-100)", "Score per task and run")


def delta_png(runs: list[str], tasks: list[str], deltas: dict[tuple[str, str], float],
              significant: set[tuple[str, str]], base: str) -> bytes:
    """Grouped bars: each run's score minus the base's per task (0-100 scale); hatched bars are
    not significant by the paired test (or have none)."""
    return _grouped_bars(runs, tasks, {key: 100 * v for key, v in deltas.items()}, significant,
                         f"delta vs {base} (points)", "Each run against the base (hatched: not significant)")


def _grouped_bars(runs: list[str], tasks: list[str], values: dict[tuple[str, str], float],
                  solid: set[tuple[str, str]] | None, ylabel: str, title: str) -> bytes:
    """One group of bars per task, one bar per run; with `solid`, bars not in it are hatched."""
    from matplotlib.figure import Figure

    width = min(14.0, max(6.4, 0.6 * len(tasks) * max(1, len(runs)) / 2 + 2))
    fig = Figure(figsize=(width, 3.8), dpi=100)
    ax = fig.subplots()
    bar = 0.8 / max(1, len(runs))
    for i, run in enumerate(runs):
        shown = [(t, task) for t, task in enumerate(tasks) if (run, task) in values]
        ax.bar([t + (i - (len(runs) - 1) / 2) * bar for t, _ in shown], [values[(run, task)] for _, task in shown],
               width=bar, color=f"C{i}", edgecolor="white", label=run,
               hatch=None if solid is None else ["" if (run, task) in solid else "//" for _, task in shown])
    if solid is not None:
        ax.axhline(0, color="#333333", linewidth=0.8)
    ax.set_xticks(range(len(tasks)), tasks, rotation=30 if len(tasks) > 4 else 0,
                  ha="right" if len(tasks) > 4 else "center", fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.3 if len(tasks) > 4 else -0.12),
              ncol=min(2, len(runs)), frameon=False)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def pareto_png(points: list[Any], title: str) -> bytes:
    """Two panels, score (0-100) against bytes per vector and against p50 latency (log scales);
    points: report.index_section.VariantPoint values. Frontier points are blue and joined by a step
    line, the others grey."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullFormatter

    fig = Figure(figsize=(10.4, 3.8), dpi=100)
    axes = fig.subplots(1, 2, sharey=True)
    panels = ((axes[0], "bytes_per_vector", "frontier_bytes", "bytes per vector"),
              (axes[1], "latency_p50_ms", "frontier_latency", "p50 latency per query (ms)"))
    for ax, cost, flag, label in panels:
        shown = [(p.variant, 100 * p.score, float(getattr(p, cost)), bool(getattr(p, flag))) for p in points
                 if (getattr(p, cost) or 0) > 0]
        if not shown:  # nothing timed (a reranking task scores candidate lists whole)
            ax.text(0.5, 0.5, f"no {label} measured", ha="center", va="center", fontsize=8, transform=ax.transAxes)
            ax.set_xticks([])
            continue
        front = sorted((p for p in shown if p[3]), key=lambda p: p[2])
        rest = [p for p in shown if not p[3]]
        ax.scatter([p[2] for p in rest], [p[1] for p in rest], color="#9a9a9a", zorder=2, label="dominated")
        ax.scatter([p[2] for p in front], [p[1] for p in front], color="#1f5fbf", zorder=3, label="Pareto frontier")
        ax.step([p[2] for p in front], [p[1] for p in front], where="post", color="#1f5fbf", linewidth=1)
        for name, score, x, _ in shown:
            ax.annotate(name, (x, score), textcoords="offset points", xytext=(4, 4), fontsize=7)
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # labelled decades only: minor labels collide
        ax.margins(x=0.15, y=0.12)
        ax.set_xlabel(label, fontsize=8)
        ax.grid(True, which="major", linewidth=0.3)
    axes[0].set_ylabel("score (0-100)", fontsize=8)
    axes[1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.suptitle(title, fontsize=10)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()
