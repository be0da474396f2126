"""Reading saved files: mteb result files (validated, split checks, found in a folder) and the
harness's per-query and similarity files beside the predictions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import DataError
from ..run.layout import MANIFEST_NAME, MODEL_META_NAME


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


def result_files(folder: Path) -> list[tuple[Path, dict]]:
    """Every task result file under a folder (any depth), with its model_meta.json as a dict."""
    found = []
    for meta_path in sorted(Path(folder).rglob(MODEL_META_NAME)):
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        for path in sorted(meta_path.parent.glob("*.json")):
            if path.name not in (MODEL_META_NAME, MANIFEST_NAME):
                found.append((path, meta))
    return found


def read_per_query(path: Path, split: str, metric: str, subset: str = "default") -> dict[str, float] | None:
    """{query: value} of one metric from a <Task>_per_query.json; None when it has none."""
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    queries = data.get(subset, {}).get(split)
    if queries is None:
        return None
    return {query: values[metric] for query, values in queries.items() if metric in values}


def read_similarities(path: Path) -> dict[str, dict[str, Any]]:
    """A <Task>_similarities.json ({subset: {split: entry}}); empty when there is none."""
    return json.loads(Path(path).read_text(encoding="utf-8")) if Path(path).is_file() else {}
