"""Similarity scores with their labels, saved at run time beside the predictions
(`<Task>_similarities.json`), so distribution plots never re-encode or re-read the data.

Pair tasks (STS, PairClassification): every pair's cosine similarity and gold label/score.
Ranking tasks (Retrieval, Reranking): the scores of each query's relevant documents that
were retrieved, and of its top-ranked non-relevant documents (at most 10 per query).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..metrics.ranking import ranking
from .manifest import atomic_write_json

PAIR_TYPES = frozenset({"STS", "PairClassification"})
RANKING_TYPES = frozenset({"Retrieval", "Reranking"})
TOP_NON_RELEVANT = 10


def similarities_path(predictions_dir: Path, task: str) -> Path:
    return Path(predictions_dir) / f"{task}_similarities.json"


def write_similarities(task: Any, predictions: dict, out_file: Path) -> bool:
    """predictions: mteb's saved predictions for the task, as loaded from its file."""
    kind = task.metadata.type
    if kind not in PAIR_TYPES | RANKING_TYPES:
        return False
    out: dict[str, dict[str, Any]] = {}
    for subset, splits in _subsets(task).items():
        for split, data in splits.items():
            if split not in task.eval_splits or split not in predictions.get(subset, {}):
                continue
            saved = predictions[subset][split]
            if kind in PAIR_TYPES:
                entry = _pairs(task, data, saved)
            else:
                entry = _ranking(saved, data["relevant_docs"])
            out.setdefault(subset, {})[split] = entry
    atomic_write_json(out_file, out)
    return True


def _subsets(task: Any) -> dict[str, Any]:
    data = task.dataset
    if "default" not in data and not task.metadata.is_multilingual:
        return {"default": data}
    return data


def _pairs(task: Any, data: Any, saved: dict) -> dict[str, Any]:
    if len(data) == 1 and isinstance(data[0].get("sentence1"), list):  # mteb v1 single-row layout
        data = {key: value for key, value in data[0].items()}
    label_column = "score" if task.metadata.type == "STS" else task.label_column_name
    gold = [float(x) for x in data[label_column]]
    scores = saved.get("cosine_scores") or next(iter(v for v in saved.values() if isinstance(v, list)))
    kind = "sts" if task.metadata.type == "STS" else "binary"
    extra = {"min_score": getattr(task, "min_score", None), "max_score": getattr(task, "max_score", None)}
    return {"kind": kind, "scores": [float(s) for s in scores], "gold": gold, **extra}


def _ranking(saved: dict, relevant_docs: dict) -> dict[str, Any]:
    relevant_scores, top_non_relevant = [], []
    for query, scores in saved.items():
        relevant = {d for d, gain in relevant_docs.get(query, {}).items() if gain > 0}
        taken = 0
        for doc in ranking(scores):
            if doc in relevant:
                relevant_scores.append(float(scores[doc]))
            elif taken < TOP_NON_RELEVANT:
                top_non_relevant.append(float(scores[doc]))
                taken += 1
    return {"kind": "ranking", "relevant": relevant_scores, "top_non_relevant": top_non_relevant}


def read_similarities(path: Path) -> dict[str, dict[str, Any]]:
    return json.loads(Path(path).read_text(encoding="utf-8")) if Path(path).is_file() else {}
