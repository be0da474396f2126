"""bge_eval's scores equal plain mteb.evaluate with mteb's own sentence-transformers wrapper,
on the same data: one STS task and one retrieval task (a SciFact subset, to stay fast on CPU)."""

import json

import mteb
import pytest

from bge_eval.config import RunConfig
from bge_eval.run.runner import run
from bge_eval.tasks.local_data import attach_local_data
from tests.helpers import MINILM


@pytest.mark.parametrize("task_name", ["STSBenchmark", "SciFact"])
def test_same_scores_as_plain_mteb(task_name, scifact_subset, minilm_path, tmp_path):
    parity_data = scifact_subset
    from mteb.models.sentence_transformer_wrapper import SentenceTransformerEncoderWrapper
    from sentence_transformers import SentenceTransformer

    ours = run(RunConfig(model=MINILM, tasks=(task_name,), data_dir=parity_data,
                         output=tmp_path / "ours", device="cpu"))
    ours_scores = json.loads((ours.results_dir / f"{task_name}.json").read_text())["scores"]["test"][0]

    task = mteb.get_task(task_name)
    attach_local_data(task, parity_data)
    wrapper = SentenceTransformerEncoderWrapper(SentenceTransformer(str(minilm_path), device="cpu"))
    plain = mteb.evaluate(wrapper, [task], cache=mteb.ResultCache(tmp_path / "plain"), co2_tracker=False)
    plain_scores = plain.task_results[0].scores["test"][0]

    compared = [m for m in ("main_score", "cosine_spearman", "ndcg_at_10", "map_at_10", "recall_at_100")
                if m in plain_scores]
    assert "main_score" in compared and len(compared) >= 2
    for metric in compared:
        assert abs(ours_scores[metric] - plain_scores[metric]) <= 1e-4, metric
