"""One task's evaluation: load its data, run mteb on it into staging, add the harness's
extras, free the data, commit the files. Used by the first stage and the second alike."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import _mteb
from .._util import env_flag, hub_reachable
from ..errors import DataError
from ..results.layout import ResultsLayout, commit_task, staged_predictions_dir
from ..tasks.local_data import attach_local_data
from ..tasks.selection import PlannedTask
from .extras import add_extras


@dataclass(frozen=True)
class TaskWork:
    """Where one task's time went (seconds) and what its model encoded.

    load_s: reading the data; encode_s: the model's own calls (None when the model does not
    say); score_s: the rest of mteb's evaluation (search, metrics, classifiers); write_s: the
    harness's extras and committing the files. texts: the encoder's counts (EncodeCounts)."""

    wall_s: float
    load_s: float
    encode_s: float | None
    score_s: float
    write_s: float
    texts: dict[str, int | float] | None = None
    shards: dict[str, Any] | None = None  # a task searched over corpus shards: how many, reused, hosts

    @classmethod
    def from_record(cls, record: dict[str, Any], wall_s: float) -> TaskWork:
        """The work a manifest record (TaskRecord as JSON) describes, over `wall_s` in all."""
        phases = record.get("phases") or {}
        return cls(wall_s, phases.get("load_s") or 0.0, phases.get("encode_s"), phases.get("score_s") or 0.0,
                   phases.get("write_s") or 0.0, record.get("texts"), record.get("shards"))

    def phases(self) -> dict[str, float | None]:
        return {"load_s": round(self.load_s, 3), "encode_s": None if self.encode_s is None else round(self.encode_s, 3),
                "score_s": round(self.score_s, 3), "write_s": round(self.write_s, 3)}


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
) -> TaskWork:
    """Evaluate one task with `model` (an mteb encoder or cross-encoder); where the time went.

    prepare: called with the loaded task before evaluation (the second stage sets each
    query's candidates from the first stage's rankings there)."""
    started = time.perf_counter()
    take_counts = getattr(model, "take_counts", None)
    if take_counts is not None:
        take_counts()  # counts start with this task
    load_task_data(planned, data_dir)
    try:
        if prepare is not None:
            prepare(planned.task)
        loaded = time.perf_counter()
        predictions = staged_predictions_dir(staging)
        _mteb.evaluate_into(model, planned.task, staging, predictions, dataloader_batch_size)
        evaluated = time.perf_counter()
        add_extras(planned.task, predictions, layout.staged(staging).result_file(planned.name))
        if not save_predictions:
            (predictions / _mteb.prediction_file_name(planned.task)).unlink(missing_ok=True)
    finally:
        _mteb.unload_task_data(planned.task)
    commit_task(staging, layout, planned.name)
    finished = time.perf_counter()
    counts = take_counts() if take_counts is not None else None
    encode_s = counts.seconds if counts is not None else None
    return TaskWork(wall_s=finished - started, load_s=loaded - started, encode_s=encode_s,
                    score_s=max(0.0, evaluated - loaded - (encode_s or 0.0)), write_s=finished - evaluated,
                    texts=counts.to_json() if counts is not None else None)


def load_task_data(planned: PlannedTask, data_dir: Path | None) -> None:
    if planned.data_source == "local":
        assert data_dir is not None  # a task is planned "local" only with a data folder
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
