"""Reading saved mteb result files: validation, split checks, and finding them in a folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import DataError


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
    for meta_path in sorted(Path(folder).rglob("model_meta.json")):
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        for path in sorted(meta_path.parent.glob("*.json")):
            if path.name != "model_meta.json" and not path.name.startswith("bge_eval_"):
                found.append((path, meta))
    return found
