"""The report's figures as PNG bytes (similarity distributions; runs compared per task), drawn
on a standalone matplotlib Figure (no pyplot, so a notebook's or application's backend is left
as it was)."""

from __future__ import annotations

import io

from ..metrics.distributions import Distribution


def histogram_png(dist: Distribution, title: str) -> bytes:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 3.4), dpi=100)
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
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def comparison_png(runs: list[str], tasks: list[str], scores: dict[tuple[str, str], float]) -> bytes:
    """Grouped bars: per task (in the table's order), each run's score on the 0-100 scale."""
    from matplotlib.figure import Figure

    width = min(14.0, max(6.4, 0.6 * len(tasks) * max(1, len(runs)) / 2 + 2))
    fig = Figure(figsize=(width, 3.8), dpi=100)
    ax = fig.subplots()
    bar = 0.8 / len(runs)
    for i, run in enumerate(runs):
        xs = [t + (i - (len(runs) - 1) / 2) * bar for t in range(len(tasks))]
        ax.bar(xs, [100 * scores.get((run, task), float("nan")) for task in tasks], width=bar, label=run)
    ax.set_xticks(range(len(tasks)), tasks, rotation=30 if len(tasks) > 4 else 0, ha="right" if len(tasks) > 4 else
                  "center", fontsize=8)
    ax.set_ylabel("score (0-100)")
    ax.set_title("Score per task and run", fontsize=10)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.3 if len(tasks) > 4 else -0.12),
              ncol=min(2, len(runs)), frameon=False)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def delta_png(runs: list[str], tasks: list[str], deltas: dict[tuple[str, str], float],
              significant: set[tuple[str, str]], base: str) -> bytes:
    """Grouped bars: each run's score minus the base's per task (0-100 scale); hatched bars are
    not significant by the paired test (or have none)."""
    from matplotlib.figure import Figure

    width = min(14.0, max(6.4, 0.6 * len(tasks) * max(1, len(runs)) / 2 + 2))
    fig = Figure(figsize=(width, 3.8), dpi=100)
    ax = fig.subplots()
    bar = 0.8 / max(1, len(runs))
    for i, run in enumerate(runs):
        for t, task in enumerate(tasks):
            if (run, task) not in deltas:
                continue
            x = t + (i - (len(runs) - 1) / 2) * bar
            ax.bar(x, 100 * deltas[(run, task)], width=bar, color=f"C{i}",
                   hatch="" if (run, task) in significant else "//", edgecolor="white",
                   label=run if t == min(tt for tt, tk in enumerate(tasks) if (run, tk) in deltas) else None)
    ax.axhline(0, color="#333333", linewidth=0.8)
    ax.set_xticks(range(len(tasks)), tasks, rotation=30 if len(tasks) > 4 else 0,
                  ha="right" if len(tasks) > 4 else "center", fontsize=8)
    ax.set_ylabel(f"delta vs {base} (points)", fontsize=8)
    ax.set_title("Each run against the base (hatched: not significant)", fontsize=10)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.3 if len(tasks) > 4 else -0.12),
              ncol=min(2, len(runs)), frameon=False)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()
