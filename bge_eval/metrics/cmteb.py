"""C-MTEB's reranking metrics (as C-MTEB and mteb 1 defined them) next to mteb 2's.

C-MTEB scored a reranking task per query over its candidate list as written (positives, then
negatives; a text listed twice is two candidates with one score): AP as sklearn's
average_precision_score (tied scores form one threshold) and MRR@10, skipping queries that have
no positive or no negative candidate; mteb 2 scores the same tasks through its retrieval
evaluator (main score map_at_1000, every query counted, each text once)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.metrics import average_precision_score

CMTEB_METRICS = ("cmteb_map", "cmteb_mrr_at_10")


def listed_from_judgements(relevant: Mapping[str, Mapping[str, int]],
                           candidates: Mapping[str, list[str]]) -> dict[str, list[tuple[str, int]]]:
    """Candidate lists with labels when only each text's judgement is known (hub data)."""
    return {query: [(doc, int(relevant.get(query, {}).get(doc, 0) > 0)) for doc in docs]
            for query, docs in candidates.items()}


def cmteb_reranking_scores(predictions: Mapping[str, Mapping[str, float]],
                           listed: Mapping[str, Sequence[tuple[str, int]]]) -> dict[str, float]:
    """Mean AP and MRR@10 over queries with at least one positive and one negative candidate.

    listed: per query, its candidates as (doc id, label 1/0), repeats kept."""
    aps, mrrs = [], []
    for query, pairs in listed.items():
        labels = np.array([label for _, label in pairs], dtype=np.int64)
        if not labels.any() or labels.all():
            continue
        scored = predictions.get(query, {})
        scores = np.array([scored.get(doc, np.nan) for doc, _ in pairs], dtype=np.float64)
        scores[np.isnan(scores)] = np.nanmin(scores) - 1 if not np.isnan(scores).all() else 0.0  # unscored: last
        aps.append(float(average_precision_score(labels, scores)))
        top = np.argsort(-scores, kind="stable")[:10]
        hit = next((rank for rank, i in enumerate(top, start=1) if labels[i]), None)
        mrrs.append(1.0 / hit if hit else 0.0)
    if not aps:
        return {"cmteb_map": 0.0, "cmteb_mrr_at_10": 0.0, "cmteb_queries": 0}
    return {"cmteb_map": sum(aps) / len(aps), "cmteb_mrr_at_10": sum(mrrs) / len(mrrs),
            "cmteb_queries": len(aps)}
