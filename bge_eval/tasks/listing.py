"""What a run would do on each planned task, before anything runs: the task's type, languages
and splits, the recipe's query instruction and normalisation for the model, the metric the
benchmark's table reports, and whether local data is there (`python -m bge_eval tasks`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .local_data import has_local_data
from .registry import benchmark_metric
from .selection import TaskPlan


@dataclass(frozen=True)
class TaskListing:
    task: str
    type: str
    languages: list[str]
    splits: list[str]
    instruction: str | None  # on the task's queries (None: none)
    normalize: bool | None  # None: no model given
    metric: str  # as the result file names it
    local_data: bool  # the task's folder is in --data-dir (false without one)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def task_listing(plan: TaskPlan, recipe: Any | None, data_dir: Path | None) -> list[TaskListing]:
    """One row per planned task; recipe: models.recipe.Recipe (None: no model given)."""
    rows = []
    for planned in plan.tasks:
        metadata = planned.task.metadata
        metric = benchmark_metric(planned.name, planned.type, recipe.policy if recipe is not None else "bge")
        task_recipe = recipe.for_task(metadata) if recipe is not None else None
        rows.append(TaskListing(
            task=planned.name, type=planned.type, languages=list(planned.languages), splits=list(planned.splits),
            instruction=task_recipe.instruction if task_recipe else None,
            normalize=task_recipe.normalize if task_recipe else None,
            metric=metadata.main_score if metric == "main_score" else metric,
            local_data=bool(data_dir) and has_local_data(data_dir, planned.name),
        ))
    return rows
