"""Local data layouts and the errors a malformed file gives."""


import mteb
import pytest

from bge_eval.errors import DataError
from bge_eval.tasks.local_data import attach_local_data
from tests.helpers import beir, write_jsonl


def test_sts_from_shared_data(shared_data):
    task = mteb.get_task("STSBenchmark")
    attach_local_data(task, shared_data)
    data = task.dataset["default"]["test"]
    assert len(data) == 1379 and set(data.column_names) == {"sentence1", "sentence2", "score"}


def test_pair_classification_uses_the_tasks_column_names(shared_data):
    task = mteb.get_task("Ocnli")
    attach_local_data(task, shared_data)
    data = task.dataset["default"]["validation"]
    assert len(data) == 1847 and task.label_column_name in data.column_names


def test_classification_loads_train_split(shared_data):
    task = mteb.get_task("Banking77Classification")
    attach_local_data(task, shared_data)
    assert len(task.dataset["default"]["train"]) == 10003
    assert len(task.dataset["default"]["test"]) == 3080


def test_several_splits(shared_data):
    task = mteb.get_task("STSB")  # mteb evaluates validation and test
    attach_local_data(task, shared_data)
    assert {k: len(v) for k, v in task.dataset["default"].items()} == {"validation": 1458, "test": 1361}


def test_retrieval_keeps_the_split_judged_queries(tmp_path):
    beir(
        tmp_path / "SciFact",
        [{"_id": "d1", "title": "T", "text": "one"}, {"_id": "d2", "title": "", "text": "two"}],
        [{"_id": "q1", "text": "first"}, {"_id": "q2", "text": "judged in train only"}],
        [("q1", "d2", 1)],
    )
    (tmp_path / "SciFact" / "qrels" / "train.tsv").write_text("query-id\tcorpus-id\tscore\nq2\td1\t1\n")
    task = mteb.get_task("SciFact")
    attach_local_data(task, tmp_path)
    split = task.dataset["default"]["test"]
    assert split["queries"]["id"] == ["q1"]
    assert split["relevant_docs"] == {"q1": {"d2": 1}}
    assert split["corpus"]["title"] == ["T", ""]


def test_language_subsets(tmp_path):
    task = mteb.get_task("STS17", hf_subsets=["en-en", "es-es"])
    for subset in ("en-en", "es-es"):
        write_jsonl(tmp_path / "STS17" / subset / "test.jsonl",
                    [{"sentence1": f"{subset} a", "sentence2": "b", "score": 1.0}])
    attach_local_data(task, tmp_path)
    assert sorted(task.dataset) == ["en-en", "es-es"]


def test_reranking_lines_become_candidates(tmp_path):
    write_jsonl(tmp_path / "T2Reranking" / "dev.jsonl",
                [{"query": "q", "positive": ["p1"], "negative": ["n1", "n2"]}])
    task = mteb.get_task("T2Reranking")
    attach_local_data(task, tmp_path)
    split = task.dataset["default"]["dev"]
    assert split["top_ranked"] == {"q0": ["d0", "d1", "d2"]}
    assert split["relevant_docs"] == {"q0": {"d0": 1}}


def test_hub_mirror_layout_runs_the_tasks_transform(tmp_path):
    import pandas as pd

    folder = tmp_path / "Ocnli"
    (folder / "data").mkdir(parents=True)
    pd.DataFrame({"sent1": ["a", "b"], "sent2": ["c", "d"], "labels": [1, 0]}).to_parquet(
        folder / "data" / "validation.parquet"
    )
    (folder / "README.md").write_text(
        "---\nconfigs:\n- config_name: default\n  data_files:\n  - split: validation\n"
        "    path: data/validation.parquet\n---\n# mirror\n", encoding="utf-8"
    )
    task = mteb.get_task("Ocnli")
    attach_local_data(task, tmp_path)
    assert task.dataset["validation"]["sentence1"] == ["a", "b"]


def test_edited_file_is_read_again(tmp_path):
    path = tmp_path / "STSBenchmark" / "test.jsonl"
    write_jsonl(path, [{"sentence1": "a", "sentence2": "b", "score": 1.0}])
    task = mteb.get_task("STSBenchmark")
    attach_local_data(task, tmp_path)
    write_jsonl(path, [{"sentence1": "changed", "sentence2": "b", "score": 2.0}])
    task = mteb.get_task("STSBenchmark")
    attach_local_data(task, tmp_path)
    assert task.dataset["default"]["test"]["sentence1"] == ["changed"]


@pytest.mark.parametrize(
    "content,pattern",
    [
        (b'{"sentence1": "a", "sentence2": "b", "score": 1}\n{not json}\n', r"test.jsonl:2: invalid JSON"),
        (b'{"sentence1": "a", "score": 1}\n', r"test.jsonl:1: missing field\(s\) sentence2"),
        (b"", r"test.jsonl: the file has no rows"),
        (b'{"sentence1": "a", "sentence2": "\xff", "score": 1}\n', r"test.jsonl:1: bytes that are not UTF-8"),
        (b"[1, 2]\n", r"test.jsonl:1: expected a JSON object"),
    ],
)
def test_malformed_jsonl_names_file_and_line(tmp_path, content, pattern):
    path = tmp_path / "STSBenchmark" / "test.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    with pytest.raises(DataError, match=pattern):
        attach_local_data(mteb.get_task("STSBenchmark"), tmp_path)


def test_missing_split_file(tmp_path):
    (tmp_path / "STSBenchmark").mkdir()
    with pytest.raises(DataError, match=r"STSBenchmark/test.jsonl: file not found"):
        attach_local_data(mteb.get_task("STSBenchmark"), tmp_path)


@pytest.mark.parametrize(
    "qrels,pattern",
    [
        ([("q1", "nope", 1)], r"test.tsv:2: corpus-id 'nope' is not in corpus.jsonl"),
        ([("qx", "d1", 1)], r"test.tsv:2: query-id 'qx' is not in queries.jsonl"),
        ([("q1", "d1", "high")], r"test.tsv:2: score 'high' is not a number"),
    ],
)
def test_bad_qrels(tmp_path, qrels, pattern):
    beir(tmp_path / "SciFact", [{"_id": "d1", "text": "x"}], [{"_id": "q1", "text": "y"}], qrels)
    with pytest.raises(DataError, match=pattern):
        attach_local_data(mteb.get_task("SciFact"), tmp_path)


def test_query_without_judgements(tmp_path):
    beir(tmp_path / "SciFact", [{"_id": "d1", "text": "x"}],
         [{"_id": "q1", "text": "y"}, {"_id": "q2", "text": "z"}], [("q1", "d1", 1)])
    with pytest.raises(DataError, match=r"queries.jsonl:2: query 'q2' has no judgements"):
        attach_local_data(mteb.get_task("SciFact"), tmp_path)


@pytest.mark.parametrize(
    "task,split,row,pattern",
    [
        ("STSBenchmark", "test", {"sentence1": "a", "sentence2": "b", "score": 7}, r"score 7 is outside .*\[0, 5\]"),
        ("STSBenchmark", "test", {"sentence1": "a", "sentence2": "b", "score": "4"}, "score must be a number"),
        ("STSBenchmark", "test", {"sentence1": 3, "sentence2": "b", "score": 4}, "sentence1 must be a string"),
        ("Ocnli", "validation", {"sentence1": "a", "sentence2": "b", "label": 2}, "label must be 0 or 1"),
        ("Banking77Classification", "test", {"text": "a", "label": 0}, "needs at least two labels"),
        ("T2Reranking", "dev", {"query": "q", "positive": [], "negative": ["n"]}, "no positive candidates"),
        ("T2Reranking", "dev", {"query": "q", "positive": "p", "negative": ["n"]}, "must be lists"),
    ],
)
def test_wrong_types_and_ranges(tmp_path, task, split, row, pattern):
    write_jsonl(tmp_path / task / f"{split}.jsonl", [row])
    write_jsonl(tmp_path / task / "train.jsonl", [{"text": "a", "label": 0}, {"text": "b", "label": 1}])
    with pytest.raises(DataError, match=f"{task}/{split}.jsonl(:1)?: .*{pattern}"):
        attach_local_data(mteb.get_task(task), tmp_path)


def test_duplicate_ids(tmp_path):
    beir(tmp_path / "SciFact", [{"_id": "d1", "text": "x"}, {"_id": "d1", "text": "z"}],
         [{"_id": "q1", "text": "y"}], [("q1", "d1", 1)])
    with pytest.raises(DataError, match=r"corpus.jsonl:2: duplicate _id 'd1'"):
        attach_local_data(mteb.get_task("SciFact"), tmp_path)
