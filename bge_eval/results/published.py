"""Published scores (the MTEB leaderboard's numbers, shipped as reference/published_scores.csv).

Facts to compare against, read from the public results repository; values on a 0-1 scale.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources


@dataclass(frozen=True)
class PublishedScore:
    model: str
    task: str
    split: str
    metric: str
    value: float
    mteb_version: str
    source: str


@lru_cache(maxsize=1)
def published_scores() -> tuple[PublishedScore, ...]:
    text = resources.files("bge_eval.results").joinpath("reference/published_scores.csv").read_text(encoding="utf-8")
    return tuple(
        PublishedScore(
            row["model"], row["task"], row["split"], row["metric"], float(row["value"]),
            row["mteb_version"], row["source"],
        )
        for row in csv.DictReader(text.splitlines())
    )


def published_value(model: str, task: str, split: str, metric: str = "main_score") -> float | None:
    for score in published_scores():
        if (score.model, score.task, score.split, score.metric) == (model, task, split, metric):
            return score.value
    return None


def has_published_scores(model: str) -> bool:
    return any(score.model == model for score in published_scores())


# C-MTEB's reranking metrics as our result files name them -> as mteb 1 (the published files) did.
PUBLISHED_NAMES = {"cmteb_map": "map", "cmteb_mrr_at_10": "mrr_at_10"}


def published_score(model: str, task: str, split: str, metric: str) -> float | None:
    """The published value of the metric a task's benchmark reports (tasks.registry.benchmark_metric):
    the published main score for "main_score", else the published value of that metric."""
    return published_value(model, task, split, PUBLISHED_NAMES.get(metric, metric))
