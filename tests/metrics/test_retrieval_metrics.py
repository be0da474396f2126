import math

import pytest

from bge_eval.metrics.ranking import per_query_metrics, ranking
from bge_eval.metrics.significance import paired_test
from tests.helpers import SHARED_DATA
from tests.metrics.trec_reference import average_precision, by_hand, mrr_at_k, ndcg_at_k, recall_at_k


def test_ranking_breaks_ties_by_id_descending():
    assert ranking({"a": 0.5, "b": 0.9, "c": 0.5}) == ["b", "c", "a"]


def test_metrics_by_hand():
    ranked = ["d3", "d1", "d4", "d2"]
    relevant = {"d1": 1, "d2": 1}
    # DCG = 1/log2(3) + 1/log2(5); IDCG = 1 + 1/log2(3)
    expected = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(ranked, relevant, 10) == pytest.approx(expected)
    assert ndcg_at_k(ranked, relevant, 2) == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    assert recall_at_k(ranked, relevant, 2) == 0.5
    assert mrr_at_k(ranked, relevant, 10) == 0.5
    assert mrr_at_k(ranked, relevant, 1) == 0.0
    assert average_precision(ranked, relevant) == pytest.approx((1 / 2 + 2 / 4) / 2)


def test_pytrec_eval_gives_the_hand_computed_values():
    predictions = {"q": {"d3": 0.9, "d1": 0.8, "d4": 0.7, "d2": 0.1}}
    out = per_query_metrics(predictions, {"q": {"d1": 1, "d2": 1}})["q"]
    assert out["ndcg_at_10"] == pytest.approx((1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3)))
    assert out["recall_at_10"] == 1.0 and out["mrr_at_10"] == 0.5
    assert out["map"] == pytest.approx((1 / 2 + 2 / 4) / 2)


def test_per_query_files_equal_the_trec_definitions_on_scifact(shared_data):
    """SciFact's real judgements and a word-overlap run over its whole corpus (many tied scores, so
    trec_eval's tie order matters): pytrec_eval's values equal the definitions written by hand."""
    import json

    folder = SHARED_DATA / "SciFact"
    corpus = [json.loads(line) for line in (folder / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    queries = [json.loads(line) for line in (folder / "queries.jsonl").read_text(encoding="utf-8").splitlines()]
    qrels: dict[str, dict[str, int]] = {}
    for line in (folder / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        query, doc, gain = line.split("\t")
        qrels.setdefault(query, {})[doc] = int(gain)
    words = {d["_id"]: set((d.get("title", "") + " " + d["text"]).lower().split()) for d in corpus}
    run = {}
    for q in queries:
        if q["_id"] in qrels:
            asked = set(q["text"].lower().split())
            scores = {doc: float(len(asked & text)) for doc, text in words.items()}
            run[q["_id"]] = dict(sorted(scores.items(), key=lambda item: -item[1])[:100])
    run.pop(next(iter(run)))  # a judged query the run does not rank scores 0
    mine, reference = per_query_metrics(run, qrels), by_hand(run, qrels)
    assert len(mine) == len(qrels) == 300
    for query in qrels:
        assert mine[query] == pytest.approx(reference[query], abs=1e-9), query


def test_graded_relevance_uses_linear_gain():
    assert ndcg_at_k(["a", "b"], {"a": 1, "b": 2}, 10) == pytest.approx(
        (1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3)))


def test_graded_relevance_in_pytrec_eval_is_linear_too():
    out = per_query_metrics({"q": {"a": 0.9, "b": 0.5}}, {"q": {"a": 1, "b": 2}})["q"]
    assert out["ndcg_at_10"] == pytest.approx((1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3)))


def test_unranked_query_scores_zero():
    out = per_query_metrics({}, {"q": {"d": 1}})
    assert out == {"q": {"ndcg_at_10": 0.0, "recall_at_10": 0.0, "mrr_at_10": 0.0, "map": 0.0}}


def test_significance_known_answers():
    base = {f"q{i}": 0.5 for i in range(5)}
    # five equal gains: the exact sign-flip p-value is 2/2^5 = 0.0625
    test = paired_test(base, {q: 0.6 for q in base}, resamples=20_000)
    assert test.p_value == pytest.approx(0.0625, abs=0.006)
    assert test.mean_delta == pytest.approx(0.1) and test.ci_low == pytest.approx(0.1)
    # gains and losses that cancel: no evidence at all
    mixed = {q: 0.5 + (0.1 if i % 2 else -0.1) for i, q in enumerate([f"q{i}" for i in range(40)])}
    test = paired_test({q: 0.5 for q in mixed}, mixed)
    assert test.mean_delta == pytest.approx(0.0) and test.p_value == 1.0
    assert test.ci_low < 0 < test.ci_high
    # a consistent drop on 50 queries is significant
    many = {f"q{i}": 0.5 for i in range(50)}
    assert paired_test(many, {q: 0.45 for q in many}).p_value < 0.001


def test_significance_is_seeded():
    base = {f"q{i}": i / 10 for i in range(10)}
    new = {f"q{i}": i / 10 + (0.05 if i % 3 else -0.02) for i in range(10)}
    assert paired_test(base, new) == paired_test(base, new)
