"""Per-query metrics of retrieval and reranking tasks, saved beside the predictions
(`<Task>_per_query.json`: {subset: {split: {query_id: {metric: value}}}}), so the gate's
paired significance test and the reports never need the data or the model again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..metrics.ranking import per_query_metrics
from .manifest import atomic_write_json

RANKING_TYPES = frozenset({"Retrieval", "Reranking"})


def per_query_path(predictions_dir: Path, task: str) -> Path:
    return Path(predictions_dir) / f"{task}_per_query.json"


def write_per_query(task: Any, predictions: dict, out_file: Path) -> bool:
    """Compute per-query metrics from mteb's saved rankings and the task's judgements."""
    if task.metadata.type not in RANKING_TYPES:
        return False
    out: dict[str, dict[str, Any]] = {}
    for subset, splits in task.dataset.items():
        for split, data in splits.items():
            if split not in task.eval_splits or subset not in predictions:
                continue
            ranked = predictions[subset].get(split, {})
            out.setdefault(subset, {})[split] = per_query_metrics(ranked, data["relevant_docs"])
    atomic_write_json(out_file, out)
    return True


def read_per_query(path: Path, split: str, metric: str, subset: str = "default") -> dict[str, float] | None:
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    queries = data.get(subset, {}).get(split)
    if queries is None:
        return None
    return {query: values[metric] for query, values in queries.items() if metric in values}
