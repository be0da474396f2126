"""Saved mteb result files as tidy rows: one row per (model, revision, task, split, subset, metric)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .files import read_result_file, result_files


@dataclass(frozen=True)
class ResultRow:
    model: str
    revision: str
    task: str
    type: str | None  # mteb's task type, when the result file's folder says (the run manifest)
    split: str
    subset: str
    metric: str
    value: float


def tidy_rows(folders: Sequence[Path], models: Sequence[str] | None = None) -> list[ResultRow]:
    """Every numeric score of every result file under the folders (any depth)."""
    from .layout import ResultsLayout
    from .manifest import Manifest

    rows: list[ResultRow] = []
    for folder in folders:
        for path, meta in result_files(folder):
            if models and meta["name"] not in models:
                continue
            manifest = Manifest.read_or_warn(ResultsLayout.of_results_dir(path.parent).manifest_file)
            data = read_result_file(path)
            task = data.get("task_name", path.stem)
            record = manifest.tasks.get(task) if manifest else None
            for split, entries in data["scores"].items():
                for entry in entries:
                    subset = entry.get("hf_subset", "default")
                    for metric, value in entry.items():
                        if isinstance(value, (int, float)) and not isinstance(value, bool):
                            rows.append(ResultRow(meta["name"], str(meta.get("revision", "")), task,
                                                  record.type if record else None, split, subset, metric,
                                                  float(value)))
    return rows
