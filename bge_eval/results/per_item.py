"""Per-item results of a task, as the gate's paired tests use them: per-query values of ranking
tasks, per-example accuracy of classification, every pair's cosine score for STS and pair
classification. Each is checked against the result file's own number before it is used."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DataError
from ..metrics.detectable import detectable_mean_change, detectable_pair_change
from ..metrics.pairs import PAIR_METRICS, pair_metric
from ..metrics.significance import PairedTest, paired_bootstrap, paired_test
from ..tasks.types import EXAMPLE_TYPES, PAIR_TYPES, RANKING_TYPES, task_kind
from .files import read_per_query, read_similarities
from .layout import ResultsLayout

# A result's metric -> the per-query value whose mean it is (ranking tasks' lists are under 1,000 long).
PER_QUERY_NAMES = {"ndcg_at_10": "ndcg_at_10", "recall_at_10": "recall_at_10", "mrr_at_10": "mrr_at_10",
                   "map": "map", "map_at_1000": "map", "cmteb_map": "map", "cmteb_mrr_at_10": "mrr_at_10"}
AGREEMENT = 1e-4  # per-item values must reproduce the reported number this closely to be used
FROM_CHANGES = "the per-item changes"
FROM_ONE_RUN = "one run's per-item spread"


@dataclass(frozen=True)
class ItemValues:
    """A metric that is the mean of per-item values (queries, examples)."""

    values: dict[str, float]
    unit: str

    def to_json(self) -> dict[str, float]:
        return self.values


@dataclass(frozen=True)
class PairScores:
    """Every pair's cosine score and gold value, in the data's order."""

    scores: list[float]
    gold: list[float]
    unit: str = "pairs"

    def to_json(self) -> dict[str, Any]:
        return {"pairs": {"scores": self.scores, "gold": self.gold}}


PerItem = ItemValues | PairScores


def from_json(value: Any, unit: str = "queries") -> PerItem | None:
    """A sidecar's stored per-item results (None for anything else)."""
    if isinstance(value, dict) and isinstance(value.get("pairs"), dict):
        pairs = value["pairs"]
        return PairScores([float(s) for s in pairs["scores"]], [float(g) for g in pairs["gold"]])
    if isinstance(value, dict) and value and all(isinstance(v, (int, float)) for v in value.values()):
        return ItemValues({str(k): float(v) for k, v in value.items()}, unit)
    return None


def item_unit(task_type: str) -> str:
    kind = task_kind(task_type)
    return kind.items if kind is not None and kind.items else "queries"


def read_per_item(result_file: Path, task: str, task_type: str, split: str, metric: str,
                  subset: str, reported: float) -> tuple[PerItem | None, str]:
    """(per-item results, "") or (None, why there are none usable) for one result entry."""
    layout = ResultsLayout.of_results_dir(result_file.parent)
    found: ItemValues | PairScores | None
    if task_type in RANKING_TYPES:
        name = PER_QUERY_NAMES.get(metric)
        if name is None:
            return None, f"{metric} has no per-query values (saved: {', '.join(sorted(set(PER_QUERY_NAMES)))})"
        values = read_per_query(layout.per_query_file(task), split, name, subset)
        found = None if values is None else ItemValues(values, "queries")
    elif task_type in EXAMPLE_TYPES:
        if metric != "accuracy":
            return None, f"{metric} is not a mean over examples (accuracy is)"
        values = read_per_query(layout.per_example_file(task), split, "accuracy", subset)
        found = None if values is None else ItemValues(values, "examples")
    elif task_type in PAIR_TYPES:
        if metric not in PAIR_METRICS:
            return None, f"{metric} is not computed from cosine pair scores ({', '.join(PAIR_METRICS)} are)"
        entry = read_similarities(layout.similarities_file(task)).get(subset, {}).get(split)
        found = None if not entry else PairScores(entry["scores"], entry["gold"])
    else:
        return None, f"a {task_type} task's {metric} is not built from per-item results"
    if found is None:
        return None, "no per-item file was saved with this result (rerun the task with --overwrite)"
    where = layout.similarities_file(task) if isinstance(found, PairScores) else \
        layout.per_example_file(task) if task_type in EXAMPLE_TYPES else layout.per_query_file(task)
    refuse_non_finite(found, str(where), "rerun the task with --overwrite to write it again")
    problem = disagreement(found, metric, reported)
    return (None, f"the per-item results {problem}, the result file {reported:.5f}") if problem else (found, "")


def clean_items(found: PerItem, contaminated: frozenset[str]) -> PerItem:
    """The per-item results without the items an audit found in training (pairs by their number)."""
    if isinstance(found, ItemValues):
        return ItemValues({k: v for k, v in found.values.items() if k not in contaminated}, found.unit)
    keep = [i for i in range(len(found.scores)) if str(i) not in contaminated]
    return PairScores([found.scores[i] for i in keep], [found.gold[i] for i in keep], found.unit)


def refuse_non_finite(found: PerItem, where: str, fix: str) -> None:
    """A per-item file holding NaN or an infinity is damaged: a DataError naming it, never used."""
    values = found.values.values() if isinstance(found, ItemValues) else [*found.scores, *found.gold]
    bad = next((v for v in values if not math.isfinite(v)), None)
    if bad is not None:
        raise DataError(f"{where}: holds the non-finite value {bad} among its {found.unit}; {fix}.")


def disagreement(found: PerItem, metric: str, reported: float) -> str:
    """"" when the per-item results reproduce `reported` to AGREEMENT; otherwise what they give."""
    recomputed = recompute(found, metric)
    if abs(recomputed - reported) <= AGREEMENT:  # False for NaN on either side
        return ""
    return f"give {recomputed:.5f}"


def recompute(found: PerItem, metric: str) -> float:
    """The metric from per-item results: a mean, or the pair metric over every pair."""
    if isinstance(found, ItemValues):
        return sum(found.values.values()) / len(found.values) if found.values else float("nan")
    return pair_metric(metric, found.scores, found.gold)


def paired_items(metric: str, baseline: PerItem, new: PerItem) -> tuple[PairedTest | None, str]:
    """The two-sided paired test of two sides' per-item results of one metric (a sweep's against its base)."""
    if isinstance(baseline, ItemValues) and isinstance(new, ItemValues):
        if not set(baseline.values) & set(new.values):
            return None, f"no {new.unit} in common with the baseline"
        return paired_test(baseline.values, new.values, unit=new.unit), ""
    if isinstance(baseline, PairScores) and isinstance(new, PairScores):
        if baseline.gold != new.gold:
            return None, "the pairs' gold values differ from the baseline's (not the same pairs)"
        return paired_bootstrap(metric, baseline.scores, new.scores, new.gold), ""
    return None, "the baseline's per-item results are of another kind"


def detectable_change(metric: str, base: PerItem, new: PerItem | None) -> tuple[float, str]:
    """(the smallest change of `metric` the gate's test detects, what it rests on: FROM_CHANGES or
    FROM_ONE_RUN): the observed changes' spread; with no new side, or where the two sides agree on
    every item (no spread to go on), the base's own per-item spread (metrics/detectable.py);
    NaN where there is no spread at all."""
    new = base if new is None else new
    value = math.nan
    if isinstance(base, ItemValues) and isinstance(new, ItemValues):
        common = sorted(set(base.values) & set(new.values))
        value = detectable_mean_change([new.values[k] - base.values[k] for k in common])
        if value == 0:
            return _nonzero(detectable_mean_change([base.values[k] for k in common])), FROM_ONE_RUN
    if isinstance(base, PairScores) and isinstance(new, PairScores) and base.gold == new.gold:
        value = detectable_pair_change(metric, base.scores, new.scores, base.gold)
        if value == 0:
            return _nonzero(detectable_pair_change(metric, base.scores, None, base.gold)), FROM_ONE_RUN
    return value, FROM_CHANGES


def _nonzero(value: float) -> float:
    """No spread at all (every item scores the same on both sides): nothing to estimate from (NaN)."""
    return math.nan if value == 0 else value
