"""Scores without the contaminated items: an audit.json read back, and a task's metric recomputed
from its per-item results (results/per_item.py) over the items the audit found clean: the mean of
the clean queries' or examples' values, or the pair metric over the clean pairs. No re-encoding."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError
from ..results.per_item import ItemValues, PerItem, clean_items, recompute

AUDIT_FILE = "audit.json"
FORMAT = 1  # audit.json's layout version


@dataclass(frozen=True)
class AuditedTask:
    unit: str
    items: int
    contaminated: frozenset[str]
    counts: dict[str, int]
    data: str = ""  # the fingerprint of the data audited

    def other_data(self, recorded: str | None) -> str:
        """Why the audit's item ids cannot be used on a result made from `recorded` data ("" when they can)."""
        if self.data and recorded and recorded != self.data:
            return (f"the audit read other data than the result (data {self.data[:18]} audited, {recorded[:18]} "
                    "scored): audit again")
        return ""


@dataclass(frozen=True)
class Audit:
    """An audit.json: its tasks by (task, subset, split)."""

    path: Path
    threshold: float
    tasks: dict[tuple[str, str, str], AuditedTask]

    def task(self, task: str, subset: str, split: str) -> AuditedTask | None:
        return self.tasks.get((task, subset, split))


@dataclass(frozen=True)
class CleanScore:
    full: float
    clean: float  # NaN when no item is clean
    items: int
    excluded: int

    @property
    def difference(self) -> float:
        return self.clean - self.full


def read_audit(path: Path) -> Audit:
    """An audit.json (a folder: its audit.json); a DataError naming the file otherwise."""
    path = Path(path)
    path = path / AUDIT_FILE if path.is_dir() else path
    fix = "write it again with python -m bge_eval audit"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"--audit {path}: no such file; {fix}.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"--audit {path}: not readable JSON ({exc}); {fix}.") from None
    if not isinstance(data, dict) or data.get("bge_eval_audit") != FORMAT or not isinstance(data.get("tasks"), list):
        raise DataError(f"--audit {path}: not an audit file of this version; {fix}.")
    try:
        tasks = {(t["task"], t["subset"], t["split"]): AuditedTask(
            t["unit"], int(t["items"]), frozenset(map(str, t["contaminated"])), dict(t.get("counts") or {}),
            str(t.get("data") or "")) for t in data["tasks"]}
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"--audit {path}: a task entry lacks {exc}; {fix}.") from None
    return Audit(path, float(data.get("threshold", math.nan)), tasks)


def clean_score(found: PerItem, metric: str, contaminated: frozenset[str]) -> CleanScore:
    clean = clean_items(found, contaminated)
    total, kept = _count(found), _count(clean)
    value = recompute(clean, metric) if kept else math.nan
    return CleanScore(recompute(found, metric), value, total, total - kept)


def _count(found: PerItem) -> int:
    return len(found.values) if isinstance(found, ItemValues) else len(found.scores)
