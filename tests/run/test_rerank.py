"""Cross-encoder plumbing: reranking tasks directly, retrieval in two stages. The reranker is a
small randomly initialised cross-encoder built here (no reranker weights exist offline), so
these tests check plumbing and invariants, not scores."""

import json

import pytest

from bge_eval.config import RunConfig
from bge_eval.encoding.cross_encoder import CrossEncoderReranker, FunctionReranker
from bge_eval.models import mteb_meta, resolve_model
from bge_eval.run.runner import run
from bge_eval.run.second_stage import run_reranker
from tests.helpers import MINILM, write_jsonl


def test_scores_follow_pair_order_and_batching(tiny_cross_encoder):
    resolved = resolve_model("someone/tiny-reranker", tiny_cross_encoder)
    pairs = [("q one", "a passage " * n) for n in range(1, 12)]
    one = CrossEncoderReranker(tiny_cross_encoder, mteb_meta(resolved), device="cpu", batch_size=1)
    many = CrossEncoderReranker(tiny_cross_encoder, mteb_meta(resolved), device="cpu", batch_size=4)
    assert one.compute_score(pairs) == pytest.approx(many.compute_score(pairs), abs=1e-5)


def test_two_stage_retrieval(scifact_subset, tiny_cross_encoder, tmp_path):
    config = RunConfig(model=MINILM, tasks=("SciFact",), data_dir=scifact_subset, output=tmp_path, device="cpu")
    first = run(config)
    summary = run_reranker(config, first, "someone/tiny-reranker", tiny_cross_encoder, top_k=5)
    (comparison,) = summary.comparisons
    assert set(comparison.first_stage) == set(comparison.second_stage) == {"ndcg_at_10", "map_at_100", "mrr_at_10"}
    assert summary.results_dir.is_relative_to(tmp_path / "rerank")

    first_ranked = json.loads((first.predictions_dir / "SciFact_predictions.json").read_text())["default"]["test"]
    (second_file,) = (tmp_path / "rerank").rglob("SciFact_predictions.json")
    second_ranked = json.loads(second_file.read_text())["default"]["test"]
    assert set(second_ranked) == set(first_ranked)
    for query, scores in second_ranked.items():
        first_order = sorted(first_ranked[query], key=first_ranked[query].get, reverse=True)
        second_order = sorted(scores, key=scores.get, reverse=True)
        assert set(second_order[:5]) == set(first_order[:5])  # the reranker reordered the first stage's top 5
        assert second_order[5:] == first_order[5:]  # and the first stage's own order follows below them
    first_scores = json.loads((first.results_dir / "SciFact.json").read_text())["scores"]["test"][0]
    second_scores = json.loads((summary.results_dir / "SciFact.json").read_text())["scores"]["test"][0]
    for depth in (5, 10, 20, 100, 1000):  # at or below k, the same documents: the same recall
        assert second_scores[f"recall_at_{depth}"] == pytest.approx(first_scores[f"recall_at_{depth}"], abs=1e-12)
    assert first_scores["recall_at_1000"] > first_scores["recall_at_5"]  # a depth beyond k that differs from k's

    # the second stage changed its own copy of the task: the first stage again, in this process,
    # searches the whole corpus and gives the first run's numbers
    again = run(RunConfig(**{**config.__dict__, "output": tmp_path / "again"}))
    again_scores = json.loads((again.results_dir / "SciFact.json").read_text())["scores"]["test"][0]
    assert {k: v for k, v in again_scores.items() if k.startswith(("ndcg", "map", "recall", "mrr"))} == {
        k: v for k, v in first_scores.items() if k.startswith(("ndcg", "map", "recall", "mrr"))}


def test_reranking_task_directly_with_a_compute_score_model(tmp_path):
    class WordOverlap:  # a FlagEmbedding-style scorer
        def compute_score(self, pairs):
            return [len(set(q.split()) & set(p.split())) for q, p in pairs]

    write_jsonl(tmp_path / "data" / "T2Reranking" / "dev.jsonl", [
        {"query": "cats sleep", "positive": ["cats sleep a lot"], "negative": ["dogs run", "birds sing"]},
        {"query": "dogs run fast", "positive": ["dogs run"], "negative": ["dogs run fast and far away", "x"]},
    ])
    config = RunConfig(model=MINILM, tasks=("T2Reranking",), data_dir=tmp_path / "data", output=tmp_path / "out",
                       device="cpu")
    first = run(config)
    meta = mteb_meta(resolve_model(MINILM))
    summary = run_reranker(config, first, MINILM, reranker=FunctionReranker(WordOverlap(), meta))
    scores = json.loads((summary.results_dir / "T2Reranking.json").read_text())["scores"]["dev"][0]
    # query 1: positive first (AP 1, RR 1); query 2: positive second (AP 1/2, RR 1/2)
    assert scores["cmteb_map"] == pytest.approx(0.75) and scores["cmteb_mrr_at_10"] == pytest.approx(0.75)
