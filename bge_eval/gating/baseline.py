"""Baseline files of the regression gate: the gated numbers (a small, reviewable JSON) and
their per-query values in a sidecar beside it (FILE.per_query.json), written from saved results."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from .._util import atomic_write_json
from ..errors import DataError
from ..results.files import load_json, read_per_query, read_result_file, result_files
from ..run.layout import ResultsLayout

BASELINE_VERSION = 1


@dataclass(frozen=True)
class BaselineEntry:
    """One gated number: a model identity's metric on a task split."""

    model: str
    task: str
    split: str
    metric: str
    value: float
    tolerance: float
    dataset_revision: str | None
    revision: str | None = None
    subset: str = "default"


def read_baseline(path: Path) -> list[BaselineEntry]:
    """The baseline's entries; a value or tolerance that is not a finite number (tolerance >= 0)
    is unusable input, never a comparison that passes by default."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        entries = [BaselineEntry(**entry) for entry in data["entries"]]
    except FileNotFoundError as exc:
        raise DataError(f"--baseline {path}: file not found; create it with --write-baseline.") from exc
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise DataError(f"--baseline {path}: not a bge_eval baseline file ({exc}).") from exc
    for number, entry in enumerate(entries, start=1):
        for field, minimum in (("value", None), ("tolerance", 0.0)):
            value = getattr(entry, field)
            if not is_number(value) or not math.isfinite(value) or (minimum is not None and value < minimum):
                raise DataError(f"--baseline {path}: entry {number} ({entry.task}): {field} {value!r} is not a "
                                f"finite number{' >= 0' if minimum is not None else ''}; fix the file or write it "
                                "again with --write-baseline.")
        for field in ("model", "task", "split", "metric", "subset"):
            if not isinstance(getattr(entry, field), str):
                raise DataError(f"--baseline {path}: entry {number}: {field} must be a string.")
    return entries


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def sidecar(path: Path) -> Path:
    """Per-query baseline values live beside the baseline, keeping it small and reviewable."""
    return Path(path).with_suffix(".per_query.json")


def write_baseline(path: Path, results: Path, tasks: list[str] | None, metric: str,
                   tolerance: float, split: str | None = None) -> list[BaselineEntry]:
    """Create or update baseline entries (and their per-query values) from saved results."""
    new_entries, per_query = [], {}
    for result_file, meta in result_files(results):
        data = read_result_file(result_file)
        name = data["task_name"]
        if tasks and name not in tasks:
            continue
        for split_name, scores in data["scores"].items():
            if split and split_name != split:
                continue
            for score in scores:
                if metric not in score:
                    continue
                entry = BaselineEntry(
                    model=meta["name"], task=name, split=split_name, metric=metric,
                    value=round(float(score[metric]), 6), tolerance=tolerance,
                    dataset_revision=data.get("dataset_revision"), revision=meta.get("revision"),
                    subset=score.get("hf_subset", "default"),
                )
                new_entries.append(entry)
                values = read_per_query(per_query_file(result_file, name), split_name, metric, entry.subset)
                if values is not None:
                    per_query[entry_key(entry)] = values
    if not new_entries:
        raise DataError(f"--results {results}: no result with metric {metric!r}"
                        + (f" for tasks {', '.join(tasks)}" if tasks else "") + ".")
    old = read_baseline(path) if Path(path).is_file() else []
    old_per_query = read_sidecar(path)
    replaced = {entry_key(e) for e in new_entries}
    entries = [e for e in old if entry_key(e) not in replaced] + new_entries
    atomic_write_json(Path(path), {"bge_eval_baseline": BASELINE_VERSION,
                                   "entries": [asdict(e) for e in entries]})
    kept = {k: v for k, v in old_per_query.items() if k not in replaced}
    atomic_write_json(sidecar(path), {**kept, **per_query})
    return new_entries


def entry_key(entry: BaselineEntry) -> str:
    return "|".join((entry.model, entry.task, entry.split, entry.subset, entry.metric))


def read_sidecar(path: Path) -> dict[str, dict[str, float]]:
    file = sidecar(path)
    return load_json(file, "write the baseline again with --write-baseline") if file.is_file() else {}


def per_query_file(result_file: Path, task: str) -> Path:
    """The per-query file beside a result file's predictions."""
    return ResultsLayout.of_results_dir(result_file.parent).per_query_file(task)
