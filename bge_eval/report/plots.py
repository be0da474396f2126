"""Similarity-distribution figures as PNG bytes, drawn on a standalone matplotlib Figure
(no pyplot, so a notebook's or application's backend is left as it was)."""

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
