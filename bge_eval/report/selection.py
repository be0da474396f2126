"""A report over some of its tasks, chosen with mteb's filters (types, languages, categories,
splits) as a run chooses them: each reported task's mteb task object (mteb's registry, the demo
suite, or the task card the run read) goes through the same filtering (tasks/selection.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..results.layout import MANIFEST_NAME
from ..results.manifest import Manifest
from ..tasks.selection import TaskFilter, filtered, refuse_unknown_filters


def selected_rows(rows: list[Any], runs: list[Any], selection: TaskFilter) -> tuple[list[Any], list[str]]:
    """(the rows the filters keep, notes on tasks that could not be judged)."""
    if not selection:
        return rows, []
    refuse_unknown_filters(selection)
    objects, notes = {}, []
    for name in dict.fromkeys(row.task for row in rows):
        task = _task_object(name, runs)
        if task is None:
            notes.append(f"{name}: left out, its task metadata could not be found to filter it")
        else:
            objects[name] = task
    kept = {task.metadata.name for task in filtered(list(objects.values()), selection)}
    return [row for row in rows if row.task in kept
            and (not selection.eval_splits or row.split in selection.eval_splits)], notes


def _task_object(name: str, runs: list[Any]) -> Any | None:
    import mteb

    from ..tasks.cards import card_task, read_card
    from ..tasks.demo import demo_tasks, is_demo_task
    from ..tasks.names import is_card_path

    if is_demo_task(name):
        return next(task for task in demo_tasks() if task.metadata.name == name)
    for run in runs:  # a card: the folder its run named, if it is still there
        manifest = Manifest.read_or_warn(Path(run.results_dir) / MANIFEST_NAME)
        for entry in (manifest.config.get("tasks") or []) if manifest else []:
            if is_card_path(str(entry)) and Path(entry).is_dir() and read_card(Path(entry)).name == name:
                return card_task(Path(entry))
    try:
        return mteb.get_task(name)
    except Exception:  # noqa: BLE001 - mteb raises KeyError / ValueError variants for unknown names
        return None
