"""Per-query ranking metrics as pure functions (trec_eval's definitions: linear gain,
ties in score broken by document id, descending, as pytrec_eval does).

Used for per-query results (the gate's paired significance test) and for C-MTEB's
reranking metrics (MAP over the candidate list, MRR@10).
"""

from __future__ import annotations

import math
from collections.abc import Mapping


def ranking(scores: Mapping[str, float]) -> list[str]:
    """Document ids best first (score descending, then id descending, as trec_eval)."""
    return [doc for doc, _ in sorted(scores.items(), key=lambda item: (item[1], item[0]), reverse=True)]


def ndcg_at_k(ranked: list[str], relevant: Mapping[str, int], k: int) -> float:
    gains = [relevant.get(doc, 0) for doc in ranked[:k]]
    dcg = sum(gain / math.log2(rank + 2) for rank, gain in enumerate(gains) if gain > 0)
    ideal = sorted((g for g in relevant.values() if g > 0), reverse=True)[:k]
    idcg = sum(gain / math.log2(rank + 2) for rank, gain in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranked: list[str], relevant: Mapping[str, int], k: int) -> float:
    positives = {doc for doc, gain in relevant.items() if gain > 0}
    if not positives:
        return 0.0
    return len(positives.intersection(ranked[:k])) / len(positives)


def mrr_at_k(ranked: list[str], relevant: Mapping[str, int], k: int) -> float:
    for rank, doc in enumerate(ranked[:k], start=1):
        if relevant.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0


def average_precision(ranked: list[str], relevant: Mapping[str, int]) -> float:
    """AP over the whole ranked list, divided by all positives (judged relevant)."""
    positives = {doc for doc, gain in relevant.items() if gain > 0}
    if not positives:
        return 0.0
    hits, total = 0, 0.0
    for rank, doc in enumerate(ranked, start=1):
        if doc in positives:
            hits += 1
            total += hits / rank
    return total / len(positives)


PER_QUERY_METRICS = ("ndcg_at_10", "recall_at_10", "mrr_at_10", "map")


def per_query_metrics(
    predictions: Mapping[str, Mapping[str, float]], qrels: Mapping[str, Mapping[str, int]]
) -> dict[str, dict[str, float]]:
    """{query: {metric: value}} for every judged query (an unranked query scores 0)."""
    out = {}
    for query, relevant in qrels.items():
        ranked = ranking(predictions.get(query, {}))
        out[query] = {
            "ndcg_at_10": ndcg_at_k(ranked, relevant, 10),
            "recall_at_10": recall_at_k(ranked, relevant, 10),
            "mrr_at_10": mrr_at_k(ranked, relevant, 10),
            "map": average_precision(ranked, relevant),
        }
    return out
