"""What each variant costs and keeps, on one machine, single process: nDCG@10 and recall@100 of its
rankings (pytrec_eval, trec_eval's definitions as mteb's), bytes per vector and index size, build
time, query latency at batch 1 (p50, p95) and throughput at a batch of 1,024, and for every
variant its recall@10 against exact search (the share of exact search's top 10 it finds)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .build import BuiltIndex

LATENCY_QUERIES = 200  # queries timed one at a time
THROUGHPUT_BATCH = 1_024
TOP_K = 100


@dataclass(frozen=True)
class VariantFigures:
    variant: str
    ndcg_at_10: float
    recall_at_100: float
    recall_at_10_vs_exact: float
    bytes_per_vector: float
    size_bytes: int
    build_s: float
    latency_p50_ms: float
    latency_p95_ms: float
    queries_per_s: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def ranking_quality(rows: np.ndarray, scores: np.ndarray, query_ids: list[str], doc_ids: list[str],
                    qrels: dict[str, dict[str, int]]) -> tuple[float, float]:
    """(mean nDCG@10, mean recall@100) over the judged queries, by pytrec_eval."""
    import pytrec_eval

    run = {q: {doc_ids[r]: float(s) for r, s in zip(rows[i], scores[i], strict=True) if r >= 0}
           for i, q in enumerate(query_ids)}
    judged = {q: {d: int(g) for d, g in docs.items()} for q, docs in qrels.items() if q in run}
    found = pytrec_eval.RelevanceEvaluator(judged, {"ndcg_cut.10", "recall.100"}).evaluate(run)
    return (float(np.mean([found.get(q, {}).get("ndcg_cut_10", 0.0) for q in judged])),
            float(np.mean([found.get(q, {}).get("recall_100", 0.0) for q in judged])))


def overlap_at_10(rows: np.ndarray, exact_rows: np.ndarray) -> float:
    return float(np.mean([len(set(a[:10]) & set(b[:10])) / min(10, len(b)) for a, b in zip(rows, exact_rows,
                                                                                          strict=True)]))


def measure(built: BuiltIndex, queries: np.ndarray, query_ids: list[str], doc_ids: list[str],
            qrels: dict[str, dict[str, int]], exact_rows: np.ndarray | None) -> tuple[VariantFigures, np.ndarray]:
    """The variant's figures and its top-k rows (exact_rows None: it is the exact reference)."""
    rows, scores = built.search(queries, TOP_K)
    ndcg, recall = ranking_quality(rows, scores, query_ids, doc_ids, qrels)
    speed = speed_figures(built, queries)
    found = 1.0 if exact_rows is None else overlap_at_10(rows, exact_rows)
    figures = VariantFigures(built.spec.name, ndcg, recall, found, built.bytes_per_vector, built.size_bytes,
                             built.build_s, speed["latency_p50_ms"], speed["latency_p95_ms"], speed["queries_per_s"])
    return figures, rows


def speed_figures(built: BuiltIndex, queries: np.ndarray) -> dict[str, float]:
    """Size, build time, latency at batch 1 (p50, p95 over LATENCY_QUERIES) and queries/s at a batch of
    THROUGHPUT_BATCH, each search asking for the top 10."""
    timings = []
    for i in range(min(LATENCY_QUERIES, len(queries))):
        started = time.perf_counter()
        built.search(queries[i:i + 1], 10)
        timings.append((time.perf_counter() - started) * 1000)
    batch = queries[:THROUGHPUT_BATCH]
    started = time.perf_counter()
    built.search(batch, 10)
    return {"bytes_per_vector": built.bytes_per_vector, "size_bytes": float(built.size_bytes), "build_s": built.build_s,
            "latency_p50_ms": float(np.percentile(timings, 50)), "latency_p95_ms": float(np.percentile(timings, 95)),
            "queries_per_s": len(batch) / max(time.perf_counter() - started, 1e-9)}
