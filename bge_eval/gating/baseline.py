"""Baseline files of the regression gate: the gated numbers (a small, reviewable JSON) and
their per-item results in a sidecar beside it (FILE.per_query.json: per query, example or
pair), written from saved results. Every task type is gated (tasks.types.GATE_METRICS)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .._util import atomic_write_json
from ..errors import DataError
from ..results.files import load_json, read_result_file, result_files
from ..results.layout import MANIFEST_NAME
from ..results.manifest import Manifest
from ..results.per_item import read_per_item
from ..tasks.registry import task_type_of
from ..tasks.types import GATE_METRICS

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
    type: str | None = None  # the task's type (older baselines: looked up when gating)
    data: str | None = None  # the fingerprint of the task's data files (run manifest); None: not recorded


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
        for field in ("revision", "dataset_revision", "type", "data"):
            if getattr(entry, field) is not None and not isinstance(getattr(entry, field), str):
                raise DataError(f"--baseline {path}: entry {number}: {field} must be a string or null.")
    if not entries:
        raise DataError(f"--baseline {path}: no entries, so nothing would be gated; write it with --write-baseline.")
    first: dict[tuple, int] = {}
    for number, e in enumerate(entries, start=1):
        earlier = first.setdefault((e.model, e.revision, e.task, e.split, e.subset, e.metric), number)
        if earlier != number:
            raise DataError(f"--baseline {path}: entry {number} gates what entry {earlier} gates ({e.model} "
                            f"{e.task} {e.split} {e.metric}); keep one.")
    return entries


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def sidecar(path: Path) -> Path:
    """Per-item baseline results (per query, example or pair) live beside the baseline, keeping it
    small and reviewable."""
    return Path(path).with_suffix(".per_query.json")


@dataclass(frozen=True)
class LeftOut:
    """A task of the results that the baseline does not gate (or gates without a paired test), and why."""

    task: str
    reason: str


@dataclass(frozen=True)
class BaselineWrite:
    entries: list[BaselineEntry]  # written (created or replaced)
    left_out: list[LeftOut]  # tasks not gated
    untested: list[LeftOut]  # gated on the number alone: no usable per-item results


def gate_metric(task_type: str, score: dict) -> str:
    """The metric gated by default: the type's first one the result holds, else its main score."""
    return next((m for m in GATE_METRICS.get(task_type, ()) if m in score), "main_score")


def recorded_facts(result_file: Path, task: str) -> tuple[str, str | None]:
    """From the run manifest beside a result, read once: the task's type as the run recorded it (a
    card's too; else the type mteb gives its name) and its data fingerprint (None: not recorded)."""
    manifest = Manifest.read_or_warn(result_file.parent / MANIFEST_NAME)
    record = manifest.tasks.get(task) if manifest else None
    data = (record.identity or {}).get("data") if record else None
    return (record.type if record else task_type_of(task)), (data if isinstance(data, str) else None)


def write_baseline(path: Path, results: Path, tasks: list[str] | None, metric: str | None,
                   tolerance: float, split: str | None = None, revision: str | None = None) -> BaselineWrite:
    """Create or update baseline entries (and their per-item results) from saved results;
    metric None gates each task's type default (GATE_METRICS)."""
    new_entries: list[BaselineEntry] = []
    per_item: dict[str, Any] = {}
    left_out: list[LeftOut] = []
    untested: list[LeftOut] = []
    seen = set()
    chosen_files = [(f, m) for f, m in result_files(results) if revision is None or str(m.get("revision")) == revision]
    refuse_several(chosen_files, results)
    for result_file, meta in chosen_files:
        data = read_result_file(result_file)
        name = data["task_name"]
        seen.add(name)
        if tasks and name not in tasks:
            left_out.append(LeftOut(name, "not among the tasks asked for (--tasks / --suite)"))
            continue
        task_type, data_fingerprint = recorded_facts(result_file, name)
        before = len(new_entries)
        for split_name, scores in data["scores"].items():
            if split and split_name != split:
                continue
            for score in scores:
                chosen = metric or gate_metric(task_type, score)
                value = score.get(chosen)
                if not is_number(value) or not math.isfinite(value):
                    left_out.append(LeftOut(name, f"{split_name}: its result has no finite {chosen} "
                                            f"(a {task_type} task; pick another with --metric)"))
                    continue
                entry = BaselineEntry(
                    model=meta["name"], task=name, split=split_name, metric=chosen,
                    value=round(float(value), 6), tolerance=tolerance,
                    dataset_revision=data.get("dataset_revision"), revision=meta.get("revision"),
                    subset=score.get("hf_subset", "default"), type=task_type, data=data_fingerprint,
                )
                new_entries.append(entry)
                found, why = read_per_item(result_file, name, task_type, split_name, chosen, entry.subset,
                                           float(value))
                if found is None:
                    untested.append(LeftOut(name, why))
                else:
                    per_item[entry_key(entry)] = found.to_json()
        if len(new_entries) == before and split and not any(lo.task == name for lo in left_out):
            left_out.append(LeftOut(name, f"no split {split!r} in its result"))
    left_out += [LeftOut(t, f"no result for it under {results}") for t in tasks or () if t not in seen]
    if not new_entries:
        reasons = "; ".join(f"{lo.task}: {lo.reason}" for lo in left_out) or "no result files"
        raise DataError(f"--results {results}: nothing to baseline ({reasons}).")
    old = read_baseline(path) if Path(path).is_file() else []
    old_per_item = read_sidecar(path)
    replaced = {entry_key(e) for e in new_entries}
    entries = [e for e in old if entry_key(e) not in replaced] + new_entries
    atomic_write_json(Path(path), {"bge_eval_baseline": BASELINE_VERSION,
                                   "entries": [asdict(e) for e in entries]})
    kept = {k: v for k, v in old_per_item.items() if k not in replaced}
    atomic_write_json(sidecar(path), {**kept, **per_item})
    return BaselineWrite(new_entries, left_out, untested)


def refuse_several(files: list[tuple[Path, dict]], results: Path) -> None:
    """Two results of one model and task would make one baseline entry from whichever came first: refused."""
    folders: dict[tuple[str, str], list[str]] = {}
    for path, meta in files:
        folders.setdefault((meta["name"], path.stem), []).append(str(path.parent))
    for (model, task), where in folders.items():
        if len(where) > 1:
            raise DataError(f"--results {results}: {len(where)} results of {model} on {task} ({'; '.join(where)}); "
                            "pick one with --revision or a narrower --results.")


def entry_key(entry: BaselineEntry) -> str:
    return "|".join((entry.model, entry.task, entry.split, entry.subset, entry.metric))


def read_sidecar(path: Path) -> dict[str, Any]:
    file = sidecar(path)
    return load_json(file, "write the baseline again with --write-baseline") if file.is_file() else {}

