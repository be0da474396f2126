"""Reading saved files: mteb result files (validated, split checks, found in a folder) and the
harness's per-query and similarity files beside the predictions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import DataError
from .layout import MANIFEST_NAME, MODEL_META_NAME


def read_result_file(path: Path) -> dict[str, Any]:
    """A result JSON, checked for mteb's shape and then by mteb's own TaskResult model; a DataError
    names a corrupt file in one line."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(
            f"{path}: corrupt or truncated result file ({exc}); rerun with --overwrite to recompute it."
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("scores"), dict):
        raise DataError(f"{path}: not an mteb result file (no 'scores'); rerun with --overwrite.")
    for split, entries in data["scores"].items():
        if not isinstance(entries, list) or not all(
                isinstance(e, dict) and isinstance(e.get("main_score"), (int, float))
                and not isinstance(e.get("main_score"), bool) for e in entries):
            raise DataError(f"{path}: split {split!r} is not a list of scores with a numeric main_score; "
                            "rerun with --overwrite to recompute it.")
    from .._mteb import result_problem

    problem = result_problem(data)
    if problem is not None:
        raise DataError(f"{path}: not an mteb result file as mteb reads it ({problem}); rerun with --overwrite.")
    return data


def read_model_meta(path: Path) -> dict[str, Any]:
    """A results folder's model_meta.json (a JSON object with a name); a DataError names a bad one."""
    try:
        meta = json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not valid JSON ({exc}); rerun that model's tasks with --overwrite, or move "
                        "the folder out of the results.") from exc
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
        raise DataError(f"{path}: expected a JSON object with the model's name; rerun that model's tasks with "
                        "--overwrite, or move the folder out of the results.")
    return meta


def has_splits(path: Path, splits: tuple[str, ...] | list[str]) -> bool:
    """Whether a valid result file exists with scores for every split."""
    if not path.is_file():
        return False
    scores = read_result_file(path)["scores"]
    return all(split in scores and scores[split] for split in splits)


def result_files(folder: Path) -> list[tuple[Path, dict]]:
    """Every task result file under a folder (any depth), with its model_meta.json as a dict."""
    found = []
    for meta_path in sorted(Path(folder).rglob(MODEL_META_NAME)):
        meta = read_model_meta(meta_path)
        for path in sorted(meta_path.parent.glob("*.json")):
            if path.name not in (MODEL_META_NAME, MANIFEST_NAME):
                found.append((path, meta))
    return found


def read_per_query(path: Path, split: str, metric: str, subset: str = "default") -> dict[str, float] | None:
    """{query: value} of one metric from a <Task>_per_query.json; None when it has none."""
    if not path.is_file():
        return None
    data = load_json(path, "rerun the task with --overwrite to write it again")
    queries = data.get(subset, {}).get(split) if isinstance(data.get(subset), dict) else None
    if queries is None:
        return None
    return {query: values[metric] for query, values in queries.items() if metric in values}


def read_similarities(path: Path) -> dict[str, dict[str, Any]]:
    """A <Task>_similarities.json ({subset: {split: entry}}); empty when there is none."""
    return load_json(path, "rerun the task with --overwrite to write it again") if Path(path).is_file() else {}


def load_json(path: Path, fix: str) -> dict[str, Any]:
    """A JSON object from a file the harness wrote; a DataError naming it (and `fix`) otherwise."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not valid JSON ({exc}); {fix}.") from exc
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object; {fix}.")
    return data
