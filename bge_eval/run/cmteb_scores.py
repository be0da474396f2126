"""C-MTEB's reranking metrics, next to mteb 2's.

C-MTEB (and mteb 1) scored a reranking task by MAP over each query's candidate list and by
MRR@10, skipping queries that have no positive or no negative candidate. mteb 2 scores the
same tasks through its retrieval evaluator (main score map_at_1000, every query counted).
We compute the C-MTEB numbers from the saved rankings and store them in the task's result
file as `cmteb_map`, `cmteb_mrr_at_10` and `cmteb_queries` (the number of queries scored).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..metrics.ranking import average_precision, mrr_at_k, ranking

CMTEB_METRICS = ("cmteb_map", "cmteb_mrr_at_10")


def cmteb_reranking_scores(
    predictions: Mapping[str, Mapping[str, float]],
    relevant: Mapping[str, Mapping[str, int]],
    candidates: Mapping[str, list[str]],
) -> dict[str, float]:
    """Mean AP and MRR@10 over queries with at least one positive and one negative candidate."""
    aps, mrrs = [], []
    for query, docs in candidates.items():
        positives = {d for d, gain in relevant.get(query, {}).items() if gain > 0}
        if not positives.intersection(docs) or not set(docs) - positives:
            continue
        ranked = ranking({d: predictions.get(query, {}).get(d, float("-inf")) for d in docs})
        gains = {d: 1 for d in positives}
        aps.append(average_precision(ranked, gains))
        mrrs.append(mrr_at_k(ranked, gains, 10))
    if not aps:
        return {"cmteb_map": 0.0, "cmteb_mrr_at_10": 0.0, "cmteb_queries": 0}
    return {"cmteb_map": sum(aps) / len(aps), "cmteb_mrr_at_10": sum(mrrs) / len(mrrs),
            "cmteb_queries": len(aps)}


def add_cmteb_scores(task: Any, predictions: dict, result_file: Path) -> bool:
    """Add the C-MTEB metrics to a reranking task's (staged) result file, per split and subset.

    predictions: mteb's saved rankings ({subset: {split: {query: {doc: score}}}}).
    """
    if task.metadata.type != "Reranking" or not result_file.is_file():
        return False
    result = json.loads(result_file.read_text(encoding="utf-8"))
    for split, entries in result["scores"].items():
        for entry in entries:
            subset = entry.get("hf_subset", "default")
            data = task.dataset[subset][split]
            if not data.get("top_ranked"):
                continue
            entry.update(cmteb_reranking_scores(predictions[subset][split], data["relevant_docs"],
                                                data["top_ranked"]))
    result_file.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return True
