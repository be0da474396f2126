"""The report's figures as PNG bytes (similarity distributions; runs compared per task), drawn
on a standalone matplotlib Figure (no pyplot, so a notebook's or application's backend is left
as it was)."""

from __future__ import annotations

import io

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
