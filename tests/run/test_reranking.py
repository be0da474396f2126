"""C-MTEB's reranking metrics: by hand, and against mteb 2's on the same predictions."""

import json

import pytest

from bge_eval.config import RunConfig
from bge_eval.metrics.cmteb import cmteb_reranking_scores, listed_from_judgements
from bge_eval.metrics.ranking import ranking
from bge_eval.run.runner import run
from tests.helpers import write_jsonl
from tests.metrics.trec_reference import average_precision


def test_by_hand():
    predictions = {"q1": {"a": 0.9, "b": 0.8, "c": 0.7}, "q2": {"d": 0.1, "e": 0.9},
                   "q3": {"f": 0.5}, "q4": {"g": 0.4, "h": 0.3}}
    relevant = {"q1": {"b": 1, "c": 1}, "q2": {"d": 1}, "q3": {"f": 1}, "q4": {}}
    candidates = {"q1": ["a", "b", "c"], "q2": ["d", "e"], "q3": ["f"], "q4": ["g", "h"]}
    # q1: positives at ranks 2, 3 -> AP (1/2 + 2/3) / 2 = 7/12, RR 1/2
    # q2: positive at rank 2 -> AP 1/2, RR 1/2
    # q3 has no negative, q4 no positive: skipped
    scores = cmteb_reranking_scores(predictions, listed_from_judgements(relevant, candidates))
    assert scores["cmteb_queries"] == 2
    assert scores["cmteb_map"] == pytest.approx((7 / 12 + 1 / 2) / 2)
    assert scores["cmteb_mrr_at_10"] == pytest.approx(0.5)


def test_mrr_is_cut_at_10():
    docs = [f"d{i:02d}" for i in range(12)]
    predictions = {"q": {d: 1.0 - i / 100 for i, d in enumerate(docs)}}
    scores = cmteb_reranking_scores(predictions, listed_from_judgements({"q": {"d11": 1}}, {"q": docs}))
    assert scores["cmteb_mrr_at_10"] == 0.0 and scores["cmteb_map"] == pytest.approx(1 / 12)


def test_tied_scores_are_one_threshold_and_repeated_texts_count_twice():
    """sklearn's AP, as mteb 1 / C-MTEB: a negative tied with a positive shares its threshold
    (precision 1/2 there, whatever the order); a text listed as positive and as negative is two
    candidates with the same score."""
    from sklearn.metrics import average_precision_score

    predictions = {"q": {"p": 0.5, "n": 0.5, "m": 0.1}}
    # rank-based AP would give 1 with p first and 1/2 with n first; tie-aware: 1/2 either way
    for order in ([("p", 1), ("n", 0), ("m", 0)], [("n", 0), ("p", 1), ("m", 0)]):
        assert cmteb_reranking_scores(predictions, {"q": order})["cmteb_map"] == pytest.approx(0.5)
    repeated = [("p", 1), ("m", 1), ("p", 0), ("n", 0)]  # "p" listed as positive and as negative
    expected = average_precision_score([1, 1, 0, 0], [0.5, 0.1, 0.5, 0.5])
    assert cmteb_reranking_scores(predictions, {"q": repeated})["cmteb_map"] == pytest.approx(expected)
    assert expected == pytest.approx((1 / 3 + 2 / 4) / 2)  # by hand: thresholds 0.5 (1 of 3), 0.1 (2 of 4)


def test_both_metric_families_agree_with_their_definitions(tmp_path, tiny_bge):
    rows = [
        {"query": "细胞", "positive": ["细胞是单位", "细胞很小"], "negative": ["河流", "山", "云"]},
        {"query": "河流", "positive": ["河流很长"], "negative": ["细胞", "天空"]},
        {"query": "只有正例", "positive": ["正例"], "negative": []},
    ]
    write_jsonl(tmp_path / "data" / "T2Reranking" / "dev.jsonl", rows)
    summary = run(RunConfig(model="BAAI/bge-small-zh-v1.5", model_path=tiny_bge, tasks=("T2Reranking",),
                            data_dir=tmp_path / "data", output=tmp_path / "out", device="cpu"))
    scores = json.loads((summary.results_dir / "T2Reranking.json").read_text())["scores"]["dev"][0]
    predictions = json.loads((summary.predictions_dir / "T2Reranking_predictions.json").read_text())
    ranked = predictions["default"]["dev"]
    # candidate ids as the loader numbers them: texts in order of first appearance
    ids, positives = {}, {}
    for i, row in enumerate(rows):
        for text in row["positive"] + row["negative"]:
            ids.setdefault(text, f"d{len(ids)}")
        positives[f"q{i}"] = {ids[t]: 1 for t in row["positive"]}
    aps = {q: average_precision(ranking(ranked[q]), positives[q]) for q in positives}
    assert scores["map_at_1000"] == pytest.approx(sum(aps.values()) / 3, abs=1e-5)  # mteb 2: every query
    assert scores["cmteb_map"] == pytest.approx((aps["q0"] + aps["q1"]) / 2)  # C-MTEB: q2 skipped
    assert scores["cmteb_queries"] == 2


def test_a_text_listed_twice_is_scored_as_c_mteb_did(tmp_path, tiny_bge):
    """The local file's lists as written reach the C-MTEB metrics through mteb's evaluation."""
    from sklearn.metrics import average_precision_score

    rows = [{"query": "细胞", "positive": ["细胞是单位"], "negative": ["河流", "细胞是单位", "山"]},
            {"query": "河流", "positive": ["河流很长", "河流很长"], "negative": ["天空"]}]
    write_jsonl(tmp_path / "data" / "T2Reranking" / "dev.jsonl", rows)
    summary = run(RunConfig(model="BAAI/bge-small-zh-v1.5", model_path=tiny_bge, tasks=("T2Reranking",),
                            data_dir=tmp_path / "data", output=tmp_path / "out", device="cpu"))
    scores = json.loads((summary.results_dir / "T2Reranking.json").read_text())["scores"]["dev"][0]
    ranked = json.loads((summary.predictions_dir / "T2Reranking_predictions.json").read_text())["default"]["dev"]
    ids = {"细胞是单位": "d0", "河流": "d1", "山": "d2", "河流很长": "d3", "天空": "d4"}
    expected = []
    for query, row in zip(("q0", "q1"), rows, strict=True):
        texts = row["positive"] + row["negative"]
        labels = [1] * len(row["positive"]) + [0] * len(row["negative"])
        expected.append(average_precision_score(labels, [ranked[query][ids[t]] for t in texts]))
    assert scores["cmteb_map"] == pytest.approx(sum(expected) / 2, abs=1e-12)
    assert expected[0] < 1  # the repeated negative ties with the positive: C-MTEB's AP drops
