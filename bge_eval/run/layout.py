"""Where results live, and how they get there safely.

mteb writes a task's files into a private staging folder; only when the task has finished
are they moved into place with atomic renames (predictions first, the result file last), so
a run killed at any moment leaves either a complete result file or none. A lock file stops
two runs from writing into the same output folder.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import BgeEvalError

LOCK_NAME = ".bge_eval.lock"
STAGING_NAME = ".staging"


def results_location(output: Path, meta: Any) -> tuple[Path, Path]:
    """(results folder, predictions folder) for a model identity, in mteb's ResultCache layout."""
    model_dir = Path(meta.model_name_as_path()) / str(meta.revision)
    return Path(output) / "results" / model_dir, Path(output) / "predictions" / model_dir


@contextmanager
def output_lock(output: Path) -> Iterator[None]:
    """Hold an exclusive lock on the output folder (released by the OS if the process dies)."""
    output.mkdir(parents=True, exist_ok=True)
    path = output / LOCK_NAME
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            raise BgeEvalError(
                f"{output}: another bge_eval run (pid {holder}) is writing to this folder; "
                "wait for it or use another --output."
            ) from exc
        raise
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def staging_folder(output: Path) -> Path:
    """A fresh private folder for this process (leftovers of killed runs are removed)."""
    root = Path(output) / STAGING_NAME
    if root.is_dir():
        shutil.rmtree(root, ignore_errors=True)  # we hold the lock: nobody else is using it
    folder = root / str(os.getpid())
    folder.mkdir(parents=True)
    return folder


def commit_task(staging: Path, model_dir: Path, results_dir: Path, predictions_dir: Path, task: str) -> None:
    """Move one finished task's files from staging into place, the result file last."""
    for name in (f"{task}_predictions.json", f"{task}_per_query.json", f"{task}_similarities.json"):
        staged = staging / "predictions" / name
        if staged.is_file():
            predictions_dir.mkdir(parents=True, exist_ok=True)
            os.replace(staged, predictions_dir / name)
    staged_results = staging / "results" / model_dir
    results_dir.mkdir(parents=True, exist_ok=True)
    meta = staged_results / "model_meta.json"
    if meta.is_file():
        os.replace(meta, results_dir / meta.name)
    settings = staged_results / "run_settings.jsonl"
    if settings.is_file():
        with (results_dir / settings.name).open("a", encoding="utf-8") as out:
            out.write(settings.read_text(encoding="utf-8"))
        settings.unlink()
    result = staged_results / f"{task}.json"
    if not result.is_file():
        raise BgeEvalError(f"mteb wrote no result file for {task} (looked for {result}).")
    os.replace(result, results_dir / result.name)
