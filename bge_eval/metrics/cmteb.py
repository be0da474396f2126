"""C-MTEB's reranking metrics (as C-MTEB and mteb 1 defined them) next to mteb 2's.

C-MTEB scored a reranking task by MAP over each query's candidate list and by MRR@10,
skipping queries that have no positive or no negative candidate; mteb 2 scores the same
tasks through its retrieval evaluator (main score map_at_1000, every query counted)."""

from __future__ import annotations

from collections.abc import Mapping

from .ranking import average_precision, mrr_at_k, ranking

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
