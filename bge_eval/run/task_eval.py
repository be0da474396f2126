"""One task's evaluation: load its data, run mteb on it into staging, add the harness's
extras, free the data, commit the files. Used by the first stage and the second alike."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import _mteb
from .._util import env_flag, hub_reachable
from ..errors import DataError
from ..tasks.local_data import attach_local_data
from ..tasks.selection import PlannedTask
from .extras import add_extras
from .layout import ResultsLayout, commit_task, staged_predictions_dir


def evaluate_task(
    planned: PlannedTask,
    model: Any,
    layout: ResultsLayout,
    staging: Path,
    *,
    data_dir: Path | None,
    save_predictions: bool,
    dataloader_batch_size: int,
    prepare: Callable[[Any], None] | None = None,
) -> float:
    """Evaluate one task with `model` (an mteb encoder or cross-encoder); the wall time in seconds.

    prepare: called with the loaded task before evaluation (the second stage sets each
    query's candidates from the first stage's rankings there)."""
    started = time.perf_counter()
    load_task_data(planned, data_dir)
    try:
        if prepare is not None:
            prepare(planned.task)
        predictions = staged_predictions_dir(staging)
        _mteb.evaluate_into(model, planned.task, staging, predictions, dataloader_batch_size)
        add_extras(planned.task, predictions, layout.staged(staging).result_file(planned.name))
        if not save_predictions:
            (predictions / _mteb.prediction_file_name(planned.task)).unlink(missing_ok=True)
    finally:
        _mteb.unload_task_data(planned.task)
    commit_task(staging, layout, planned.name)
    return time.perf_counter() - started


def load_task_data(planned: PlannedTask, data_dir: Path | None) -> None:
    if planned.data_source == "local":
        attach_local_data(planned.task, data_dir)
    elif planned.data_source in ("demo", "task", "card"):
        planned.task.load_data()
    else:
        _load_from_hub(planned)


def _load_from_hub(planned: PlannedTask) -> None:
    """mteb's own loading, failing fast with a sentence when the hub cannot be reached."""
    hint = f"pass --data-dir DIR with a local copy (the folder DIR/{planned.name}, see docs/data-formats.md)"
    if not env_flag("HF_DATASETS_OFFLINE") and not hub_reachable():
        raise DataError(f"Task {planned.name}: its data is on the Hugging Face hub, which is not "
                        f"reachable from here; {hint}, or set HF_DATASETS_OFFLINE=1 to use the datasets cache.")
    try:
        planned.task.load_data()
    except Exception as exc:  # noqa: BLE001 - datasets raises many kinds; one sentence for the user
        raise DataError(f"Task {planned.name}: loading its data from the hub / datasets cache failed "
                        f"({type(exc).__name__}: {str(exc)[:200]}); {hint}.") from exc
