"""Saved mteb result files -> tidy rows (one per model, revision, task, split, subset, metric)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import DataError


@dataclass(frozen=True)
class ScoreRow:
    """One number from a result file."""

    model: str
    revision: str
    task: str
    split: str
    subset: str
    metric: str
    value: float


def read_result_file(path: Path) -> dict[str, Any]:
    """A result JSON, checked for mteb's shape; a DataError names a corrupt file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(
            f"{path}: corrupt or truncated result file ({exc}); rerun with --overwrite to recompute it."
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("scores"), dict):
        raise DataError(f"{path}: not an mteb result file (no 'scores'); rerun with --overwrite.")
    return data


def has_splits(path: Path, splits: tuple[str, ...] | list[str]) -> bool:
    """Whether a valid result file exists with scores for every split."""
    if not path.is_file():
        return False
    scores = read_result_file(path)["scores"]
    return all(split in scores and scores[split] for split in splits)


def rows_from_result(data: dict[str, Any], model: str, revision: str) -> list[ScoreRow]:
    rows = []
    for split, entries in data["scores"].items():
        for entry in entries:
            subset = entry.get("hf_subset", "default")
            for metric, value in entry.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    rows.append(
                        ScoreRow(model, revision, data["task_name"], split, subset, metric, float(value))
                    )
    return rows


def load_rows(results_dir: Path) -> list[ScoreRow]:
    """All rows under a results folder (any depth; model and revision from model_meta.json)."""
    rows: list[ScoreRow] = []
    for meta_path in sorted(Path(results_dir).rglob("model_meta.json")):
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        for path in sorted(meta_path.parent.glob("*.json")):
            if path.name == "model_meta.json" or path.name.startswith("bge_eval_"):
                continue
            rows.extend(rows_from_result(read_result_file(path), meta["name"], meta["revision"]))
    return rows


def main_scores(rows: list[ScoreRow]) -> dict[tuple[str, str], float]:
    """(task, split) -> main score, averaged over subsets."""
    groups: dict[tuple[str, str], list[float]] = {}
    for row in rows:
        if row.metric == "main_score":
            groups.setdefault((row.task, row.split), []).append(row.value)
    return {key: sum(values) / len(values) for key, values in groups.items()}
