"""What a run returns: each task's outcome and where its files went (plain values, no mteb)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class TaskOutcome:
    """What happened to one task in a run."""

    name: str
    type: str
    status: str  # "computed", "cached" or "failed" (note: why)
    wall_s: float
    main_scores: dict[str, float]  # split -> the benchmark's main score (mean over subsets)
    note: str | None = None  # why an earlier result was replaced, when it was
    metric: str = "main_score"  # what main_scores hold: the benchmark's metric as the result file names it
    card: str | None = None  # the task card's folder, for a task of one's own data (tasks/cards.py)
    metric_name: str | None = None  # the metric's own name where `metric` is "main_score" (mteb's main score)

    @property
    def entry(self) -> str:
        """How --tasks names this task again: its card folder, else its name."""
        return self.card or self.name


@dataclass(frozen=True)
class UnitFailure:
    """A (model, task) unit that failed: its one-line reason and the exit code it asks for
    (2: its input was unusable, 1: anything else)."""

    model: str
    task: str
    error: str
    exit_code: int = 1


def failures_exit_code(failures: list[UnitFailure]) -> int:
    """0 with no failure; 2 when any failure was unusable input (the user must act), else 1."""
    return max((f.exit_code for f in failures), default=0)


@dataclass(frozen=True)
class RunSummary:
    """One model's run: its identity, its folders, and every task's outcome."""

    model: str
    revision: str
    results_dir: Path
    predictions_dir: Path
    outcomes: list[TaskOutcome]
    skipped: list[str] = field(default_factory=list)  # benchmark tasks with no local data
    failures: list[UnitFailure] = field(default_factory=list)  # tasks that failed (their outcome says "failed")

    @property
    def exit_code(self) -> int:
        return failures_exit_code(self.failures)

    def score(self, task: str, split: str | None = None) -> float | None:
        """A task's main score (its only split, or the one named); None when not run."""
        outcome = next((o for o in self.outcomes if o.name == task), None)
        if outcome is None or not outcome.main_scores:
            return None
        if split is None:
            split = next(iter(outcome.main_scores))
        return outcome.main_scores.get(split)
