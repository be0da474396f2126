"""Checkpoint bisect: checkpoints in training order (a sweep's --models file), the first and the last
evaluated together, then the range halved, to name the first checkpoint whose score dropped beyond
the tolerance with the gate's one-sided paired test significant against the first checkpoint.

Each evaluation is a sweep of one checkpoint (run_sweep), so results and cached embeddings are
reused exactly as a run reuses them, a killed bisect resumes from its finished evaluations, and
--ray runs it on a cluster. Halving assumes the scores drop once and stay down (docs/compare.md)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..config import RunConfig
from ..errors import BgeEvalError
from ..gating.baseline import gate_metric
from ..gating.verdicts import drop_items
from ..metrics.drop_test import DropTest
from ..results.files import read_result_file
from ..results.per_item import read_per_item
from .executor import Executor
from .outcome import RunSummary
from .sweep import ModelEntry, run_sweep


@dataclass(frozen=True)
class TaskDrop:
    """One task split's gated metric on a checkpoint against the first checkpoint."""

    task: str
    split: str
    metric: str
    reference: float
    value: float
    test: DropTest | None
    note: str = ""  # why there is no test

    @property
    def regressed(self) -> bool:
        return self.test is not None and self.value - self.reference < -self.test.tolerance and self.test.significant

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task, "split": self.split, "metric": self.metric, "first": self.reference,
                "value": self.value, "p_value": None if self.test is None else self.test.p_value,
                "regressed": self.regressed, "note": self.note}


@dataclass(frozen=True)
class Evaluation:
    index: int
    label: str
    why: str
    summary: RunSummary
    drops: list[TaskDrop] = field(default_factory=list)

    @property
    def regressed(self) -> bool:
        return any(drop.regressed for drop in self.drops)

    @property
    def reused(self) -> bool:
        """Every task's result was already saved (an earlier bisect, run or sweep made it)."""
        return all(outcome.status == "cached" for outcome in self.summary.outcomes)


@dataclass(frozen=True)
class BisectResult:
    checkpoints: list[str]
    evaluations: list[Evaluation]  # in the order they were made
    first_regressed: int | None  # None: the last checkpoint holds against the first
    last_holding: int | None
    tolerance: float
    alpha: float

    @property
    def exit_code(self) -> int:
        """0: no regression from the first to the last checkpoint; 1: one was found and named."""
        return 0 if self.first_regressed is None else 1

    def to_json(self) -> dict[str, Any]:
        return {"checkpoints": self.checkpoints, "tolerance": self.tolerance, "alpha": self.alpha,
                "first_regressed": self.first_regressed, "last_holding": self.last_holding,
                "evaluations": [{"index": e.index, "checkpoint": e.label, "why": e.why, "reused": e.reused,
                                 "regressed": e.regressed, "tasks": [d.to_json() for d in e.drops]}
                                for e in self.evaluations]}


def bisect_checkpoints(base: RunConfig, entries: list[ModelEntry], make_executor: Callable[[], Executor],
                       tolerance: float, alpha: float) -> BisectResult:
    if len(entries) < 2:
        raise BgeEvalError(f"bisect: {len(entries)} checkpoint given; list at least two in --models, in training "
                           "order.")
    done: dict[int, Evaluation] = {}
    order: list[Evaluation] = []

    def evaluate(indices: list[int], whys: list[str]) -> None:
        sweep = run_sweep(base, [entries[i] for i in indices], make_executor())
        if sweep.failures:
            failure = sweep.failures[0]
            error = BgeEvalError(f"bisect: {failure.model} {failure.task} failed: {failure.error}; fix it and rerun "
                                 "the same command (finished evaluations are kept).")
            error.exit_code = sweep.exit_code
            raise error
        for index, why, summary in zip(indices, whys, sweep.runs, strict=True):
            reference = summary if index == 0 else done[0].summary
            drops = [] if index == 0 else task_drops(reference, summary, tolerance, alpha)
            if drops and all(drop.test is None for drop in drops):
                raise BgeEvalError("bisect: no task has per-item results to test ("
                                   + "; ".join(f"{d.task}: {d.note}" for d in drops) + "); bisect needs tasks with "
                                   "per-query, per-pair or per-example results.")
            done[index] = Evaluation(index, entries[index].label, why, summary, drops)
            order.append(done[index])

    last = len(entries) - 1
    evaluate([0, last], ["the first checkpoint: every other is tested against it", "the last checkpoint"])
    if not done[last].regressed:
        return BisectResult([e.label for e in entries], order, None, None, tolerance, alpha)
    holds, regressed = 0, last
    while regressed - holds > 1:
        middle = (holds + regressed) // 2
        evaluate([middle], [f"halfway between #{holds} (holds) and #{regressed} (regressed)"])
        if done[middle].regressed:
            regressed = middle
        else:
            holds = middle
    return BisectResult([e.label for e in entries], order, regressed, holds, tolerance, alpha)


def task_drops(reference: RunSummary, candidate: RunSummary, tolerance: float, alpha: float) -> list[TaskDrop]:
    """Every task split of the first checkpoint, on the gate's metric, tested on the candidate."""
    drops = []
    for outcome in reference.outcomes:
        files = [summary.results_dir / f"{outcome.name}.json" for summary in (reference, candidate)]
        first, second = (read_result_file(path) for path in files)
        for split, scores in first["scores"].items():
            after = {s.get("hf_subset", "default"): s for s in second["scores"].get(split, [])}
            for score in scores:
                subset = score.get("hf_subset", "default")
                metric = gate_metric(outcome.type, score)
                values = (score.get(metric), after.get(subset, {}).get(metric))
                if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
                    raise BgeEvalError(f"bisect: {outcome.name} ({split}) has no finite {metric} on both "
                                       f"checkpoints ({files[0]}, {files[1]}).")
                before_value, after_value = float(values[0] or 0), float(values[1] or 0)
                sides = [read_per_item(path, outcome.name, outcome.type, split, metric, subset, value)
                         for path, value in zip(files, (before_value, after_value), strict=True)]
                test, note = None, sides[0][1] or sides[1][1]
                if sides[0][0] is not None and sides[1][0] is not None:
                    test, note = drop_items(metric, sides[0][0], sides[1][0], tolerance, alpha)
                drops.append(TaskDrop(outcome.name, split, metric, before_value, after_value, test, note))
    return drops
