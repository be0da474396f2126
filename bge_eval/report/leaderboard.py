"""Pure functions from per-task scores to the model card's tables.

MTEB shape: Average, Retrieval, Clustering, Pair Classification, Reranking, STS,
Summarization, Classification. C-MTEB shape: Avg, Retrieval, STS, PairClassification,
Classification, Reranking, Clustering. Averages are plain means over tasks (the overall
average over all tasks, not over type means, as the leaderboards compute it). A cell
computed over only part of its tasks says so (n of expected), never passes as complete.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

MTEB_COLUMNS = ("Retrieval", "Clustering", "PairClassification", "Reranking", "STS", "Summarization",
                "Classification")
CMTEB_COLUMNS = ("Retrieval", "STS", "PairClassification", "Classification", "Reranking", "Clustering")


@dataclass(frozen=True)
class Cell:
    """A mean over the tasks that have scores, with how many the benchmark has."""

    mean: float | None
    n: int
    expected: int

    @property
    def partial(self) -> bool:
        return self.n < self.expected


def mean_cell(scores: Mapping[str, float], tasks: Sequence[str]) -> Cell:
    values = [scores[t] for t in tasks if t in scores]
    return Cell(sum(values) / len(values) if values else None, len(values), len(tasks))


def type_means(scores: Mapping[str, float], task_types: Mapping[str, str],
               columns: Sequence[str]) -> dict[str, Cell]:
    """Per task type: the mean over the benchmark's tasks of that type that have a score."""
    return {col: mean_cell(scores, [t for t, typ in task_types.items() if typ == col]) for col in columns}


def overall_average(scores: Mapping[str, float], task_types: Mapping[str, str]) -> Cell:
    return mean_cell(scores, list(task_types))


@dataclass(frozen=True)
class LeaderboardRow:
    model: str
    rank: int
    average: Cell
    columns: dict[str, Cell]


def leaderboard(model_scores: Mapping[str, Mapping[str, float]], task_types: Mapping[str, str],
                columns: Sequence[str]) -> list[LeaderboardRow]:
    """Models ranked by average: complete averages first, then by more tasks scored, then by mean."""
    rows = [(model, overall_average(scores, task_types), type_means(scores, task_types, columns))
            for model, scores in model_scores.items()]
    rows.sort(key=lambda r: (r[1].partial, -r[1].n, -(r[1].mean if r[1].mean is not None else -1.0), r[0]))
    return [LeaderboardRow(model, rank, avg, cols) for rank, (model, avg, cols) in enumerate(rows, start=1)]


def suite_leaderboard(model_scores: Mapping[str, Mapping[str, float]], task_types: Mapping[str, str],
                      columns: Sequence[str], weights: Mapping[str, float], average: str) -> list[LeaderboardRow]:
    """A suite's table: per-type means as for a benchmark; the average is the weighted mean over
    tasks (average "tasks") or the mean of the type means (average "types")."""
    rows = []
    for model, scores in model_scores.items():
        cols = type_means(scores, task_types, columns)
        scored = [t for t in weights if t in scores]
        if average == "types":
            means = [c.mean for c in cols.values() if c.mean is not None]
            mean = sum(means) / len(means) if means else None
        else:
            total = sum(weights[t] for t in scored)
            mean = sum(scores[t] * weights[t] for t in scored) / total if scored else None
        rows.append((model, Cell(mean, len(scored), len(weights)), cols))
    rows.sort(key=lambda r: (r[1].partial, -r[1].n, -(r[1].mean if r[1].mean is not None else -1.0), r[0]))
    return [LeaderboardRow(model, rank, avg, cols) for rank, (model, avg, cols) in enumerate(rows, start=1)]


def delta(ours: float | None, reference: float | None) -> float | None:
    if ours is None or reference is None:
        return None
    return ours - reference


def is_notable(difference: float | None, threshold: float = 0.005) -> bool:
    """A difference worth highlighting: more than half a point on the 0-100 scale."""
    return difference is not None and abs(difference) > threshold
