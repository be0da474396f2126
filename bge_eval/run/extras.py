"""What the harness adds to mteb's files after a task is evaluated, from mteb's saved
predictions and the task's loaded data (so reports and the gate never need either again):

- C-MTEB's reranking metrics in the result file (cmteb_map, cmteb_mrr_at_10, cmteb_queries);
- per-query metrics of ranking tasks (<Task>_per_query.json: {subset: {split: {query: {metric: value}}}}),
  with each relevant document's rank in the query's saved ranking (`relevant_ranks`, for compare);
- per-example accuracy of classification tasks (<Task>_per_example.json, the same shape: each
  test example's share of mteb's experiments that classified it right);
- similarity scores with their labels (<Task>_similarities.json): every pair's score and gold
  value for pair tasks; for ranking tasks the scores of the relevant documents retrieved and
  of the top-ranked non-relevant ones (at most TOP_NON_RELEVANT per query).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .. import _mteb
from .._util import atomic_write_json
from ..metrics.cmteb import cmteb_reranking_scores, listed_from_judgements
from ..metrics.ranking import per_query_metrics, ranking, relevant_ranks
from ..tasks.local_data import LISTED_CANDIDATES
from ..tasks.types import PAIR_TYPES, task_kind

TOP_NON_RELEVANT = 10


def add_extras(task: Any, predictions_dir: Path, result_file: Path) -> None:
    """All three, from the task's predictions file in predictions_dir (read once), beside it;
    nothing when mteb saved none. result_file: the task's (staged) result file."""
    name = task.metadata.name
    predictions_file = predictions_dir / _mteb.prediction_file_name(task)
    if not predictions_file.is_file():
        return
    predictions = json.loads(predictions_file.read_text(encoding="utf-8"))
    add_cmteb_scores(task, predictions, result_file)
    kind = task_kind(task.metadata.type)
    items = kind.items if kind else None
    if items == "queries":
        atomic_write_json(predictions_file.parent / f"{name}_per_query.json", per_query(task, predictions))
    if items == "examples":
        atomic_write_json(predictions_file.parent / f"{name}_per_example.json", per_example(task, predictions))
    if items in ("pairs", "queries"):
        atomic_write_json(predictions_file.parent / f"{name}_similarities.json", similarities(task, predictions))


def add_cmteb_scores(task: Any, predictions: dict, result_file: Path) -> None:
    """C-MTEB's metrics added to a reranking task's (staged) result file, per split and subset."""
    if task.metadata.type != "Reranking" or not result_file.is_file():
        return
    result = json.loads(result_file.read_text(encoding="utf-8"))
    for split, entries in result["scores"].items():
        for entry in entries:
            subset = entry.get("hf_subset", "default")
            data = task.dataset[subset][split]
            listed = data.get(LISTED_CANDIDATES)
            if listed is None and data.get("top_ranked"):
                listed = listed_from_judgements(data["relevant_docs"], data["top_ranked"])
            if listed:
                entry.update(cmteb_reranking_scores(predictions[subset][split], listed))
    atomic_write_json(result_file, result)


def per_query(task: Any, predictions: dict) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for subset, splits in task.dataset.items():
        for split, data in splits.items():
            if split in task.eval_splits and subset in predictions:
                ranked = predictions[subset].get(split, {})
                values: dict[str, dict[str, Any]] = dict(per_query_metrics(ranked, data["relevant_docs"]))
                for query, judged in data["relevant_docs"].items():  # where compare finds what moved
                    if query in values:
                        values[query]["relevant_ranks"] = relevant_ranks(ranked.get(query, {}), judged)
                out.setdefault(subset, {})[split] = values
    return out


def per_example(task: Any, predictions: dict) -> dict[str, dict[str, Any]]:
    """{subset: {split: {example index: {"accuracy": share of experiments right}}}}; the mean over
    examples is mteb's accuracy (the mean over experiments on the same test examples)."""
    out: dict[str, dict[str, Any]] = {}
    label = _mteb.classification_label_column(task)
    for subset, splits in _mteb.task_subsets(task).items():
        for split, data in splits.items():
            experiments = predictions.get(subset, {}).get(split)
            if split not in task.eval_splits or not experiments:
                continue
            gold = list(data[label])
            right = [sum(run[i] == gold[i] for run in experiments) / len(experiments) for i in range(len(gold))]
            out.setdefault(subset, {})[split] = {str(i): {"accuracy": value} for i, value in enumerate(right)}
    return out


def similarities(task: Any, predictions: dict) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for subset, splits in _mteb.task_subsets(task).items():
        for split, data in splits.items():
            if split not in task.eval_splits or split not in predictions.get(subset, {}):
                continue
            saved = predictions[subset][split]
            entry = _pairs(task, data, saved) if task.metadata.type in PAIR_TYPES else _ranking(
                saved, data["relevant_docs"])
            out.setdefault(subset, {})[split] = entry
    return out


def _pairs(task: Any, data: Any, saved: dict) -> dict[str, Any]:
    if len(data) == 1 and isinstance(data[0].get("sentence1"), list):  # mteb v1 single-row layout
        data = {key: value for key, value in data[0].items()}
    gold = [float(x) for x in data[_mteb.pair_label_column(task)]]
    scores = saved.get("cosine_scores") or next(iter(v for v in saved.values() if isinstance(v, list)))
    low, high = _mteb.score_range(task)
    return {"kind": "sts" if task.metadata.type == "STS" else "binary", "scores": [float(s) for s in scores],
            "gold": gold, "min_score": low, "max_score": high}


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
