"""trec_eval's per-query definitions written out by hand: the independent reference the
pytrec_eval-backed per-query files are checked against (linear gain, trec_eval's tie order)."""

from __future__ import annotations

import math
from collections.abc import Mapping

from bge_eval.metrics.ranking import ranking


def ndcg_at_k(ranked: list[str], relevant: Mapping[str, int], k: int) -> float:
    gains = [relevant.get(doc, 0) for doc in ranked[:k]]
    dcg = sum(gain / math.log2(rank + 2) for rank, gain in enumerate(gains) if gain > 0)
    ideal = sorted((g for g in relevant.values() if g > 0), reverse=True)[:k]
    idcg = sum(gain / math.log2(rank + 2) for rank, gain in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranked: list[str], relevant: Mapping[str, int], k: int) -> float:
    positives = {doc for doc, gain in relevant.items() if gain > 0}
    return len(positives.intersection(ranked[:k])) / len(positives) if positives else 0.0


def mrr_at_k(ranked: list[str], relevant: Mapping[str, int], k: int) -> float:
    return next((1.0 / rank for rank, doc in enumerate(ranked[:k], start=1) if relevant.get(doc, 0) > 0), 0.0)


def average_precision(ranked: list[str], relevant: Mapping[str, int]) -> float:
    positives = {doc for doc, gain in relevant.items() if gain > 0}
    hits, total = 0, 0.0
    for rank, doc in enumerate(ranked, start=1):
        if doc in positives:
            hits += 1
            total += hits / rank
    return total / len(positives) if positives else 0.0


def by_hand(predictions: Mapping[str, Mapping[str, float]], qrels: Mapping[str, Mapping[str, int]]) -> dict:
    out = {}
    for query, relevant in qrels.items():
        ranked = ranking(predictions.get(query, {}))
        out[query] = {"ndcg_at_10": ndcg_at_k(ranked, relevant, 10), "recall_at_10": recall_at_k(ranked, relevant, 10),
                      "mrr_at_10": mrr_at_k(ranked, relevant, 10), "map": average_precision(ranked, relevant)}
    return out
