"""Per-query ranking metrics, computed by pytrec_eval (trec_eval's definitions, as mteb itself
scores retrieval): nDCG@10 with linear gain, recall@10, MRR@10 and MAP over the whole ranking.
Used for the per-query files (the gate's paired test, compare).
"""

from __future__ import annotations

from collections.abc import Mapping

PER_QUERY_METRICS = ("ndcg_at_10", "recall_at_10", "mrr_at_10", "map")
_MEASURES = {"ndcg_cut_10": "ndcg_at_10", "recall_10": "recall_at_10", "map": "map"}


def ranking(scores: Mapping[str, float]) -> list[str]:
    """Document ids best first as trec_eval orders them: score descending, then id descending."""
    return [doc for doc, _ in sorted(scores.items(), key=lambda item: (item[1], item[0]), reverse=True)]


def relevant_ranks(scores: Mapping[str, float], judged: Mapping[str, int]) -> dict[str, int | None]:
    """Each relevant document's rank (1 = first, in ranking()'s order) among a query's saved
    ranking; None for one the ranking does not hold."""
    place = {doc: number for number, doc in enumerate(ranking(scores), start=1)}
    return {doc: place.get(doc) for doc, gain in sorted(judged.items()) if gain > 0}


def per_query_metrics(
    predictions: Mapping[str, Mapping[str, float]], qrels: Mapping[str, Mapping[str, int]]
) -> dict[str, dict[str, float]]:
    """{query: {metric: value}} for every judged query (a query the run did not rank scores 0)."""
    import pytrec_eval

    judged = {q: {d: int(g) for d, g in docs.items()} for q, docs in qrels.items()}
    run = {q: {d: float(s) for d, s in predictions[q].items()} for q in judged if predictions.get(q)}
    # MRR@10: trec_eval's recip_rank over each query's top 10 in trec_eval's own order
    top10 = {q: {d: run[q][d] for d in ranking(run[q])[:10]} for q in run}
    full = pytrec_eval.RelevanceEvaluator(judged, {"ndcg_cut.10", "recall.10", "map"}).evaluate(run)
    reciprocal = pytrec_eval.RelevanceEvaluator(judged, {"recip_rank"}).evaluate(top10)
    out = {}
    for query in judged:
        values = full.get(query, {})
        out[query] = {name: float(values.get(measure, 0.0)) for measure, name in _MEASURES.items()}
        out[query]["mrr_at_10"] = float(reciprocal.get(query, {}).get("recip_rank", 0.0))
        out[query] = {name: out[query][name] for name in PER_QUERY_METRICS}
    return out
