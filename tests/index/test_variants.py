"""Index variants on clustered random embeddings (2,000 documents, 384 dimensions, 200 queries near
their documents): parsing and refusals, exact search as the harness's own, a faiss flat index
equal to it up to ties, each variant's bytes per vector, and the recall each keeps of exact
search's top 10 (quantized ones close to it, binary below, rescoring recovering it)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from bge_eval.errors import BgeEvalError, ConfigError
from bge_eval.index.build import build
from bge_eval.index.measure import measure, overlap_at_10
from bge_eval.index.variants import check_against, parse_index
from bge_eval.search.dense import exact_topk

DOCS, WIDTH = 2_000, 384


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(50, WIDTH))
    corpus = (centres[rng.integers(0, 50, DOCS)] + 0.8 * rng.normal(size=(DOCS, WIDTH))).astype(np.float32)
    targets = rng.integers(0, DOCS, 200)
    queries = (corpus[targets] + 0.6 * rng.normal(size=(200, WIDTH))).astype(np.float32)
    return corpus, queries, targets


@pytest.mark.parametrize("text, name", [
    ("exact", "exact"), ("int8", "int8"), ("binary-rescore:200", "binary-rescore:200"), ("dims:128", "dims:128"),
    ("hnsw:32", "hnsw:32"), ("hnsw:32:128", "hnsw:32:128"), ("ivf-pq:64:48:16", "ivf-pq:64:48:16"),
])
def test_variants_parse_and_name_themselves(text, name):
    assert parse_index(text).name == name


@pytest.mark.parametrize("text, message", [
    ("hnws:32", "unknown variant"), ("hnsw", "hnsw takes hnsw:M:[EF_SEARCH]"), ("dims:0", "dims must be a whole"),
    ("ivf-pq:64", "ivf-pq takes"), ("int8:4", "int8 takes"), ("dims:x", "whole number"),
])
def test_bad_variants_are_one_line(text, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_index(text)


@pytest.mark.parametrize("text, message", [
    ("dims:512", "the embeddings have 384 dimensions"), ("binary-rescore:5", "cannot fill a top 10"),
    ("ivf-flat:5000", "5000 lists for a corpus of 2000"), ("ivf-pq:64:50", "do not divide 384"),
])
def test_parameters_that_cannot_work_on_this_corpus_are_refused(text, message):
    with pytest.raises(ConfigError, match=message):
        check_against(parse_index(text), DOCS, WIDTH, 10)


def test_exact_is_the_harness_search_and_faiss_flat_equals_it_up_to_ties(data):
    import faiss

    corpus, queries, _ = data
    rows, scores = build(parse_index("exact"), corpus).search(queries, 10)
    expected_rows, expected_scores = exact_topk(queries, corpus, 10)
    assert np.array_equal(rows, expected_rows) and np.array_equal(scores, expected_scores)
    flat = faiss.IndexFlatIP(WIDTH)
    unit = corpus / np.linalg.norm(corpus, axis=1, keepdims=True)
    flat.add(unit)
    flat_scores, flat_rows = flat.search(queries / np.linalg.norm(queries, axis=1, keepdims=True), 10)
    assert np.allclose(flat_scores, scores, atol=1e-5)
    distinct = np.all(np.diff(scores, axis=1) < -1e-5, axis=1)  # rows without near ties
    assert distinct.mean() > 0.9 and np.array_equal(flat_rows[distinct], rows[distinct])


def test_each_variant_keeps_what_it_should_of_exact_search(data):
    corpus, queries, _ = data
    exact_rows, _ = build(parse_index("exact"), corpus).search(queries, 10)
    kept, sizes = {}, {}
    for text in ("fp16", "int8", "binary", "binary-rescore:100", "dims:192", "hnsw:16", "ivf-flat:32:32",
                 "ivf-pq:32:48:8"):
        built = build(parse_index(text), corpus)
        rows, scores = built.search(queries, 10)
        assert rows.shape == (200, 10) and np.all(np.diff(scores, axis=1) <= 1e-6)  # best first
        kept[text], sizes[text] = overlap_at_10(rows, exact_rows), built.bytes_per_vector
    assert kept["fp16"] > 0.99 and kept["int8"] > 0.9 and kept["ivf-flat:32:32"] > 0.99  # every list probed
    assert kept["binary"] < kept["binary-rescore:100"] and kept["binary-rescore:100"] > 0.9
    assert kept["hnsw:16"] > 0.9 and kept["dims:192"] > 0.5 and kept["ivf-pq:32:48:8"] > 0.3
    assert sizes["fp16"] == 2 * WIDTH and sizes["binary"] == WIDTH / 8 and sizes["dims:192"] == 4 * 192
    assert WIDTH <= sizes["int8"] < WIDTH + 2 and sizes["ivf-pq:32:48:8"] < sizes["int8"]


def test_measured_figures_come_from_the_rankings(data):
    corpus, queries, targets = data
    doc_ids = [f"d{i}" for i in range(DOCS)]
    query_ids = [f"q{i}" for i in range(len(queries))]
    qrels = {q: {doc_ids[t]: 1} for q, t in zip(query_ids, targets, strict=True)}
    exact, exact_rows = measure(build(parse_index("exact"), corpus), queries, query_ids, doc_ids, qrels, None)
    rank = [list(row).index(t) + 1 if t in row else None for row, t in zip(exact_rows, targets, strict=True)]
    expected_ndcg = np.mean([1 / np.log2(r + 1) if r is not None and r <= 10 else 0.0 for r in rank])
    assert exact.ndcg_at_10 == pytest.approx(expected_ndcg) and exact.recall_at_10_vs_exact == 1.0
    assert exact.recall_at_100 == pytest.approx(np.mean([r is not None for r in rank]))
    assert exact.bytes_per_vector == 4 * WIDTH and exact.latency_p50_ms > 0 and exact.queries_per_s > 0
    binary, _ = measure(build(parse_index("binary"), corpus), queries, query_ids, doc_ids, qrels, exact_rows)
    assert binary.recall_at_10_vs_exact < 1.0 and binary.size_bytes == DOCS * WIDTH // 8


def test_approximate_search_without_faiss_names_the_extra(data, monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)
    with pytest.raises(BgeEvalError, match=r'pip install "bge_eval\[index\]"'):
        build(parse_index("hnsw:16"), data[0])
