"""A comparison of two model identities' saved results, task split by task split: both scores, the
gate's paired test on the metric (two-sided, as the report's sweep section), the smallest change
the task can detect, and every item's change (comparison/items.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import GATE_ALPHA
from ..errors import BgeEvalError, DataError
from ..gating.baseline import gate_metric, is_number, recorded_facts
from ..metrics.significance import PairedTest
from ..results.files import read_result_file
from ..results.per_item import (
    FROM_CHANGES,
    PER_QUERY_NAMES,
    ItemValues,
    clean_items,
    detectable_change,
    paired_items,
    read_per_item,
    recompute,
)
from ..tasks.types import EXAMPLE_TYPES, PAIR_TYPES, RANKING_TYPES
from .items import ItemChange, ItemSet, example_changes, pair_changes, query_changes
from .sides import Side

MOVERS = 10  # the largest movers each way listed per task


@dataclass(frozen=True)
class CleanComparison:
    """Both sides on the items an audit found clean: scores, the paired test, how many were left out."""

    items: int
    left_out: int
    base_score: float
    new_score: float
    test: PairedTest | None
    no_test: str

    def to_json(self) -> dict[str, Any]:
        return {"items": self.items, "left_out": self.left_out, "base": self.base_score, "new": self.new_score,
                "delta": self.new_score - self.base_score,
                "p_value": None if self.test is None else self.test.p_value, "no_test": self.no_test}


@dataclass(frozen=True)
class TaskComparison:
    task: str
    type: str
    split: str
    subset: str
    metric: str
    base_score: float
    new_score: float
    items: ItemSet
    test: PairedTest | None
    no_test: str  # why there is no test ("" when there is one)
    detectable: float  # the smallest change of `metric` the gate's test finds (alpha, 80% power); NaN: unknown
    detectable_from: str = FROM_CHANGES
    clean: CleanComparison | None = None  # on the items an audit found clean (compare --audit)

    @property
    def delta(self) -> float:
        return self.new_score - self.base_score

    @property
    def name(self) -> str:
        parts = [self.split] + ([self.subset] if self.subset != "default" else [])
        return f"{self.task} ({', '.join(parts)})" if parts != ["test"] else self.task

    def counts(self) -> dict[str, int]:
        out = {"improved": 0, "worse": 0, "unchanged": 0}
        for change in self.items.changes:
            out[change.status] += 1
        return out

    def lost(self) -> list[ItemChange]:
        return [change for change in self.items.changes if change.lost]

    def movers(self, status: str, count: int = MOVERS) -> list[ItemChange]:
        moved = [c for c in self.items.changes if c.status == status]
        return sorted(moved, key=lambda c: (-abs(c.change), c.item))[:count]

    @property
    def significant(self) -> bool:
        return self.test is not None and self.test.p_value < GATE_ALPHA

    def to_json(self, with_items: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "task": self.task, "type": self.type, "split": self.split, "subset": self.subset, "metric": self.metric,
            "base": self.base_score, "new": self.new_score, "delta": self.delta, "unit": self.items.unit,
            "item_value": self.items.value, "counts": self.counts(), "lost": len(self.lost()),
            "test": None if self.test is None else {"method": self.test.method, "p_value": self.test.p_value,
                                                    "ci": [self.test.ci_low, self.test.ci_high],
                                                    "items": self.test.n_items},
            "no_test": self.no_test, "detectable_change": None if math.isnan(self.detectable) else self.detectable,
            "detectable_from": self.detectable_from,
            "notes": self.items.notes, "clean": None if self.clean is None else self.clean.to_json()}
        if with_items:
            out["items"] = [change.to_json() for change in self.items.changes]
        return out


@dataclass(frozen=True)
class Comparison:
    base: Side
    new: Side
    tasks: list[TaskComparison]
    left_out: list[str] = field(default_factory=list)  # tasks not compared, with why

    def to_json(self, with_items: bool = True) -> dict[str, Any]:
        return {"base": _side_json(self.base), "new": _side_json(self.new), "alpha": GATE_ALPHA,
                "tasks": [t.to_json(with_items) for t in self.tasks], "left_out": self.left_out}


def _side_json(side: Side) -> dict[str, str]:
    return {"model": side.model, "revision": side.revision, "results": str(side.results_dir)}


def compare_sides(base: Side, new: Side, tasks: list[str] | None = None, metric: str | None = None,
                  audit: Any = None) -> Comparison:
    """Every task both sides hold (or `tasks`), each split and subset both hold; audit (contamination.clean.Audit):
    its tasks also compared on the items it found clean."""
    held = [set(side.tasks()) for side in (base, new)]
    wanted = tasks or sorted(held[0] | held[1])
    compared, left_out = [], []
    for task in wanted:
        missing = [label for label, mine in (("the base", held[0]), ("the new model", held[1])) if task not in mine]
        if missing:
            left_out.append(f"{task}: no result of {' or '.join(missing)}")
            continue
        try:
            compared += compare_task(base, new, task, metric, audit)
        except DataError as exc:
            left_out.append(f"{task}: {exc}")
    if not compared:
        raise BgeEvalError("compare: nothing to compare (" + ("; ".join(left_out) or "no results") + ").")
    return Comparison(base, new, compared, left_out)


def compare_task(base: Side, new: Side, task: str, metric: str | None, audit: Any = None) -> list[TaskComparison]:
    files = [side.result_file(task) for side in (base, new)]
    results = [read_result_file(path) for path in files]
    (task_type, data_before), (_, data_after) = (recorded_facts(path, task) for path in files)
    if data_before and data_after and data_before != data_after:
        raise DataError("the task's data differ between the two sides (data fingerprints "
                        f"{data_before[:18]} and {data_after[:18]}): items are not comparable")
    revisions = [result.get("dataset_revision") for result in results]
    if all(revisions) and revisions[0] != revisions[1]:
        raise DataError(f"dataset revisions differ ({revisions[0]} and {revisions[1]})")
    out = []
    for split, scores in results[0]["scores"].items():
        after = {s.get("hf_subset", "default"): s for s in results[1]["scores"].get(split, [])}
        for score in scores:
            subset = score.get("hf_subset", "default")
            if subset in after:
                chosen = metric or gate_metric(task_type, score)
                audited = audit.task(task, subset, split) if audit is not None else None
                other = audited.other_data(data_before or data_after) if audited else ""
                out.append(_compare_split(base, new, task, task_type, split, subset, chosen, files,
                                          (score, after[subset]), audited.contaminated if audited else None, other))
    return out


def _compare_split(base: Side, new: Side, task: str, task_type: str, split: str, subset: str, metric: str,
                   files: list[Path], scores: tuple[dict, dict], contaminated: frozenset[str] | None = None,
                   other_data: str = "") -> TaskComparison:
    values = [score.get(metric) for score in scores]
    if not all(is_number(v) and math.isfinite(float(v or 0)) for v in values):
        raise DataError(f"{split}: no finite {metric} on both sides; pick another with --metric")
    before, after = float(values[0] or 0), float(values[1] or 0)
    if task_type in RANKING_TYPES:
        items = query_changes(base, new, task, split, subset, PER_QUERY_NAMES.get(metric, "ndcg_at_10"))
    elif task_type in PAIR_TYPES:
        items = pair_changes(base, new, task, split, subset)
    elif task_type in EXAMPLE_TYPES:
        items = example_changes(base, new, task, split, subset)
    else:
        raise DataError(f"a {task_type} task has no per-item files to compare (its scores are in the report)")
    (first, why_first), (second, why_second) = (read_per_item(path, task, task_type, split, metric, subset, value)
                                                for path, value in ((files[0], before), (files[1], after)))
    if first is None or second is None:
        test, no_test, detectable, basis = None, why_first or why_second, math.nan, FROM_CHANGES
    else:
        test, no_test = paired_items(metric, first, second)
        detectable, basis = detectable_change(metric, first, second)
    clean = None
    if contaminated is not None and other_data:
        clean = CleanComparison(0, 0, math.nan, math.nan, None, other_data)
    elif contaminated is not None and first is not None and second is not None:
        kept = [clean_items(side, contaminated) for side in (first, second)]
        clean_test, clean_no_test = paired_items(metric, kept[0], kept[1])
        count = len(kept[0].values) if isinstance(kept[0], ItemValues) else len(kept[0].scores)
        total = len(first.values) if isinstance(first, ItemValues) else len(first.scores)
        clean = CleanComparison(count, total - count, recompute(kept[0], metric), recompute(kept[1], metric),
                                clean_test, clean_no_test)
    return TaskComparison(task, task_type, split, subset, metric, before, after, items, test, no_test, detectable,
                          basis, clean)
