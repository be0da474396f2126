"""The hermetic tier: the runner, mteb's scoring, the harness's extras, the report data and the
gate on tasks built here or shipped by mteb (its mock tasks), with an encoder whose vectors
are keyword counts, so every expected number is worked out by hand. Needs neither
../shared, model weights nor a browser (`pytest -m hermetic`)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from datasets import Dataset

import bge_eval
from bge_eval import _mteb

pytestmark = pytest.mark.hermetic

KEYWORDS = ("apple", "banana", "cherry", "date")
ROUNDING = 1e-5  # mteb rounds its scores to 5 decimals


class KeywordEncoder(_mteb.AbsEncoder):
    """One dimension per keyword, counting its occurrences as words (a tiny constant keeps a text
    with no keyword off the zero vector); cosine similarity."""

    keywords = KEYWORDS

    def __init__(self) -> None:
        self.mteb_model_meta = _mteb.model_meta_for_results(
            _mteb.ModelMeta.create_empty(overwrites={"name": "test/keyword-counts"}), revision="1",
            embed_dim=len(self.keywords), max_tokens=512)
        self.model_prompts = None
        self.seen: list[str] = []

    def encode(self, inputs, *, task_metadata, hf_split, hf_subset, prompt_type=None, **kwargs):
        texts = [text for batch in inputs for text in batch["text"]]
        self.seen += texts
        return np.array([[self.count(text, word) + 1e-9 for word in self.keywords] for text in texts],
                        dtype=np.float32)

    @staticmethod
    def count(text: str, word: str) -> int:
        return text.lower().split().count(word)


class LetterEncoder(KeywordEncoder):
    """Counts of a few letters: distinct vectors for any English sentences (mteb's mock tasks)."""

    keywords = ("a", "e", "i", "o", "s", "t")

    @staticmethod
    def count(text: str, letter: str) -> int:
        return text.lower().count(letter)


def metadata(name: str, task_type: str, main_score: str):
    return _mteb.TaskMetadata(
        name=name, description="bge_eval's hermetic test task", reference=None,
        dataset={"path": f"bge_eval/tests/{name}", "revision": "1"}, type=task_type, category="t2t",
        modalities=["text"], eval_splits=["test"], eval_langs=["eng-Latn"], main_score=main_score,
        date=("2026-12-01", "2026-12-01"), domains=["Written"], task_subtypes=[], license="mit",
        annotations_creators="expert-annotated", dialect=[], sample_creation="created", bibtex_citation="")


class FruitRetrieval(_mteb.AbsTaskRetrieval):
    """q1 "apple": d1 "apple" (cosine 1, relevant) ranks first. q2 "banana": d2 "banana"
    (cosine 1, not relevant) ranks above d3 "apple banana" (cosine 1/sqrt 2, relevant)."""

    metadata = metadata("HermeticFruitRetrieval", "Retrieval", "ndcg_at_10")

    def load_data(self, **kwargs) -> None:
        corpus = Dataset.from_dict({"id": ["d1", "d2", "d3", "d4"], "title": ["", "", "", ""],
                                    "text": ["apple", "banana", "apple banana", "cherry date"]})
        queries = Dataset.from_dict({"id": ["q1", "q2"], "text": ["apple", "banana"]})
        split = {"corpus": corpus, "queries": queries, "relevant_docs": {"q1": {"d1": 1}, "q2": {"d3": 1}},
                 "top_ranked": None}
        _mteb.set_task_data(self, {"default": {"test": split}})


NDCG_Q2 = 1 / math.log2(3)  # the relevant document at rank 2


@pytest.fixture(scope="module")
def fruit_run(tmp_path_factory):
    output = tmp_path_factory.mktemp("hermetic")
    encoder = KeywordEncoder()
    summary = bge_eval.evaluate(encoder, [FruitRetrieval()], output=output, embedding_cache=None)
    return encoder, summary, output


def test_retrieval_scores_are_the_hand_computed_ones(fruit_run):
    encoder, summary, _ = fruit_run
    assert summary.score("HermeticFruitRetrieval") == pytest.approx((1 + NDCG_Q2) / 2, abs=ROUNDING)
    scores = json.loads((summary.results_dir / "HermeticFruitRetrieval.json").read_text())["scores"]["test"][0]
    assert scores["mrr_at_10"] == pytest.approx((1 + 1 / 2) / 2, abs=ROUNDING)
    assert scores["recall_at_1"] == pytest.approx(0.5, abs=ROUNDING)
    assert sorted(set(encoder.seen)) == ["apple", "apple banana", "banana", "cherry date"]  # titles are empty


def test_per_query_and_similarity_files_hold_the_hand_computed_values(fruit_run):
    _, summary, _ = fruit_run
    per_query = json.loads((summary.predictions_dir / "HermeticFruitRetrieval_per_query.json").read_text())
    queries = per_query["default"]["test"]
    assert queries["q1"]["ndcg_at_10"] == pytest.approx(1.0) and queries["q2"]["ndcg_at_10"] == pytest.approx(NDCG_Q2)
    assert queries["q2"]["mrr_at_10"] == pytest.approx(0.5)
    similarities = json.loads((summary.predictions_dir / "HermeticFruitRetrieval_similarities.json").read_text())
    entry = similarities["default"]["test"]
    assert sorted(entry["relevant"]) == pytest.approx([1 / math.sqrt(2), 1.0], abs=1e-5)


def test_resume_serves_the_saved_result_without_encoding(fruit_run):
    _, first, output = fruit_run
    again = KeywordEncoder()
    second = bge_eval.evaluate(again, [FruitRetrieval()], output=output, embedding_cache=None)
    assert again.seen == [] and second.outcomes[0].status == "cached"
    assert second.score("HermeticFruitRetrieval") == first.score("HermeticFruitRetrieval")


def test_tidy_rows_and_gate_on_the_hand_computed_run(fruit_run, tmp_path):
    _, _, output = fruit_run
    frame = bge_eval.load_results(output)
    ndcg = frame[(frame.task == "HermeticFruitRetrieval") & (frame.metric == "ndcg_at_10")]
    assert len(ndcg) == 1 and ndcg.value.iloc[0] == pytest.approx((1 + NDCG_Q2) / 2, abs=ROUNDING)
    assert ndcg.type.iloc[0] == "Retrieval" and ndcg.model.iloc[0] == "test/keyword-counts"
    baseline = tmp_path / "baseline.json"
    bge_eval.write_baseline(baseline, output)
    assert bge_eval.gate(output, baseline).passed
    entries = json.loads(baseline.read_text())
    entries["entries"][0]["value"] = 0.9  # the run is now 0.0846 below this baseline
    baseline.write_text(json.dumps(entries))
    edited = bge_eval.gate(output, baseline)  # its per-item file no longer gives its value
    assert edited.exit_code == 2 and "(edited?)" in edited.verdicts[0].message
    baseline.with_suffix(".per_query.json").write_text("{}")  # a baseline of numbers alone
    report = bge_eval.gate(output, baseline)
    assert report.exit_code == 1 and report.verdicts[0].status == "regression"
    assert "REGRESSION" in report.markdown() and "<failure" in report.junit()


def test_mteb_mock_sts_and_pair_tasks_run_through_the_harness(tmp_path):
    """mteb's own mock tasks: the harness's run of them equals mteb.evaluate's, number for number."""
    import mteb
    from mteb.mocks.mock_tasks.pair_classification import MockPairClassificationTask
    from mteb.mocks.mock_tasks.sts import MockSTSTask

    ours = bge_eval.evaluate(LetterEncoder(), [MockSTSTask(), MockPairClassificationTask()], output=tmp_path / "ours",
                             embedding_cache=None)
    assert [o.status for o in ours.outcomes] == ["computed", "computed"]
    theirs = mteb.evaluate(LetterEncoder(), [MockSTSTask(), MockPairClassificationTask()],
                           cache=mteb.ResultCache(cache_path=tmp_path / "mteb"), co2_tracker=False,
                           show_progress_bar=False)
    for result in theirs.task_results:
        mine = json.loads((ours.results_dir / f"{result.task_name}.json").read_text())["scores"]["test"][0]
        expected = result.scores["test"][0]["main_score"]
        assert math.isfinite(expected) and mine["main_score"] == pytest.approx(expected, abs=1e-9)
    assert (ours.predictions_dir / "MockSTSTask_similarities.json").is_file()
