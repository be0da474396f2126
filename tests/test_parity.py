"""bge_eval's scores equal plain mteb.evaluate with mteb's own sentence-transformers wrapper,
on the same data: one STS task and one retrieval task (a SciFact subset, to stay fast on CPU)."""

import json

import mteb
import pytest

from bge_eval.config import RunConfig
from bge_eval.local_data import attach_local_data
from bge_eval.runner import run

from .conftest import MINILM


@pytest.fixture(scope="module")
def parity_data(shared_data, tmp_path_factory):
    """STSBenchmark as is; SciFact cut to 60 queries, their relevant documents and 240 others."""
    root = tmp_path_factory.mktemp("parity")
    (root / "STSBenchmark").symlink_to(shared_data / "STSBenchmark")
    source, target = shared_data / "SciFact", root / "SciFact"
    (target / "qrels").mkdir(parents=True)
    qrels = (source / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()
    header, rows = qrels[0], [line.split("\t") for line in qrels[1:] if line.strip()]
    queries = list(dict.fromkeys(r[0] for r in rows))[:60]
    kept_rows = [r for r in rows if r[0] in queries]
    corpus = [json.loads(line) for line in (source / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    relevant = {r[1] for r in kept_rows}
    others = [d for d in corpus if d["_id"] not in relevant][:240]
    docs = [d for d in corpus if d["_id"] in relevant] + others
    (target / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    all_queries = (source / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    (target / "queries.jsonl").write_text(
        "".join(line + "\n" for line in all_queries if json.loads(line)["_id"] in queries), encoding="utf-8"
    )
    (target / "qrels" / "test.tsv").write_text(
        "\n".join([header] + ["\t".join(r) for r in kept_rows]) + "\n", encoding="utf-8"
    )
    return root


@pytest.mark.parametrize("task_name", ["STSBenchmark", "SciFact"])
def test_same_scores_as_plain_mteb(task_name, parity_data, minilm_path, tmp_path):
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
