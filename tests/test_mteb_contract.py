"""The contract with mteb: every private or undocumented mteb name bge_eval/_mteb.py uses
exists in the installed mteb with the shape the adapter relies on. An mteb upgrade that
moves or changes one fails here, in one obvious place."""

import contextlib
import inspect

import mteb
import pytest

from bge_eval import _mteb


def parameters(function) -> set[str]:
    return set(inspect.signature(function).parameters)


def test_the_pinned_range_is_what_is_installed():
    from importlib import metadata

    from packaging.requirements import Requirement

    requirement = next(Requirement(r) for r in metadata.requires("bge_eval") if r.startswith("mteb"))
    assert requirement.specifier.contains(mteb.__version__), (mteb.__version__, str(requirement.specifier))


def test_model_names():
    empty = _mteb.ModelMeta.create_empty(overwrites={"name": "someone/model"})
    assert empty.revision == _mteb.NO_REVISION  # what a model without a revision carries
    assert {"revision", "embed_dim", "max_tokens", "similarity_fn_name", "loader_kwargs"} <= set(
        _mteb.ModelMeta.model_fields)
    assert _mteb.model_folder_names(empty.model_copy(update={"revision": "r1"})) == ("someone__model", "r1")
    assert _mteb.ScoringFunction.COSINE.value == "cosine"
    bge = _mteb.registry_model_meta("BAAI/bge-base-en-v1.5")
    assert _mteb.registry_revision(bge) and "query" in (_mteb.registry_prompts(bge) or {})
    assert _mteb.registry_model_meta("nobody/unknown-model").name == "nobody/unknown-model"


def test_encoder_and_search_names():
    assert {"model_prompts", "task_metadata", "prompt_type"} <= parameters(_mteb.get_prompt_name)
    assert callable(_mteb.AbsEncoder.similarity) and callable(_mteb.AbsEncoder.similarity_pairwise)
    assert {"dataset", "task_metadata", "prompt_type", "num_proc", "batch_size"} <= parameters(_mteb.create_dataloader)
    assert {_mteb.PromptType.query.value, _mteb.PromptType.document.value} == {"query", "document"}
    wrapper = _mteb.SearchEncoderWrapper
    assert {"corpus", "task_metadata", "hf_split", "hf_subset", "encode_kwargs", "num_proc"} <= parameters(
        wrapper.index)
    assert {"queries", "task_metadata", "hf_split", "hf_subset", "top_k", "encode_kwargs", "top_ranked",
            "num_proc"} <= parameters(wrapper.search)
    timer = _mteb.TimingStack()
    with timer("Encoding queries", split="test", subset="default"):
        pass


def test_evaluate_and_result_cache_arguments():
    assert {"cache", "overwrite_strategy", "prediction_folder", "co2_tracker", "encode_kwargs",
            "show_progress_bar"} <= parameters(mteb.evaluate)
    assert "cache_path" in parameters(mteb.ResultCache)


@pytest.mark.parametrize("name,columns", [
    ("STSBenchmark", {"sentence1": "sentence1", "sentence2": "sentence2"}),
    ("Ocnli", {"sentence1": "sentence1", "sentence2": "sentence2", "label": "labels"}),
    ("Banking77Classification", {"text": "text", "label": "label"}),
    ("SciFact", {}),
])
def test_task_attributes(name, columns):
    task = mteb.get_task(name)
    assert _mteb.column_names(task) == columns
    assert _mteb.prediction_file_name(task) == f"{name}_predictions.json"
    assert task.data_loaded is False and callable(task.unload_data) and callable(task.dataset_transform)
    assert "eval_splits" in parameters(task.filter_eval_splits)
    if task.metadata.type == "STS":
        assert _mteb.score_range(task) == (0, 5)
    if task.metadata.type == "Classification":
        assert _mteb.train_split(task) == "train"
    if task.metadata.type == "Retrieval":
        assert {"top_ranked_path", "top_k"} <= parameters(task.convert_to_reranking)


def test_task_data_set_and_unloaded_as_mteb_does():
    task = mteb.get_task("STSBenchmark")
    _mteb.set_task_data(task, {"default": {"test": []}})
    assert task.data_loaded and task.dataset == {"default": {"test": []}}
    _mteb.unload_task_data(task)
    assert not task.data_loaded and task.dataset is None
    _mteb.unload_task_data(task)  # unloading twice is harmless


def test_candidate_search_runs_on_this_mteb(tmp_path):
    """mteb's own reranking search (given candidates) through the adapter, on mteb's mock task."""
    import numpy as np
    from mteb.mocks.mock_tasks.retrieval import MockRetrievalTask

    class Letters:
        mteb_model_meta = _mteb.ModelMeta.create_empty(overwrites={"name": "test/letters"})

        def encode(self, inputs, **kwargs):
            texts = [text for batch in inputs for text in batch["text"]]
            return np.array([[text.count("a"), text.count("o"), 1.0] for text in texts], dtype=np.float32)

        def similarity(self, a, b):
            return _mteb.AbsEncoder.similarity(self, a, b)

    task = MockRetrievalTask()
    task.load_data()
    data = task.dataset["default"]["test"]
    scores = _mteb.CandidateSearch(Letters()).search(
        data["corpus"], data["queries"], task_metadata=task.metadata, hf_split="test", hf_subset="default",
        top_k=10, encode_kwargs={"batch_size": 8}, top_ranked=data["top_ranked"])
    assert set(scores) == {"q1", "q2"} and all(set(docs) == {"d1", "d2"} for docs in scores.values())


def test_eager_columns_are_the_same_values_and_scoped_to_the_task():
    """Inside the block the task's splits (and their selections) give each column as the list of its
    values, read once; any other dataset keeps datasets' own lazy columns; afterwards all is as before."""
    import datasets

    train = datasets.Dataset.from_dict({"label": [3, 1, 2, 1] * 5, "text": ["a", "bb"] * 10,
                                        "meta": [{"source": f"s{i}"} for i in range(20)]})
    other = datasets.Dataset.from_dict({"label": [0, 1]})

    class Task:
        metadata = type("Metadata", (), {"type": "Classification"})
        dataset = {"default": {"train": train, "test": train.select([4, 0])}}

    want = {name: list(train[name]) for name in ("label", "text", "meta")}
    with _mteb.eager_columns(Task):
        got = {name: train[name] for name in want}
        selected = train.select([7, 0, 3])
        assert got == want and all(type(v) is list for v in got.values())
        assert train["label"] is got["label"]  # read once
        assert selected["label"] == [1, 3, 1] and Task.dataset["default"]["test"]["label"] == [3, 3]
        assert train[0] == {"label": 3, "text": "a", "meta": {"source": "s0"}}
        assert type(other["label"]) is datasets.arrow_dataset.Column
    for split in (train, selected, Task.dataset["default"]["test"]):
        assert type(split) is datasets.Dataset and type(split["label"]) is datasets.arrow_dataset.Column
        assert not any(key.startswith("_bge_eval") for key in vars(split))


def test_classification_scores_are_mteb_s_own_with_eager_columns(shared_data, tmp_path, monkeypatch):
    """Banking77 cut to 12 of its labels (10 training texts each, every test text of them) scored by
    mteb with and without the one-read conversion: the same scores, every metric of every experiment."""
    import json

    from bge_eval.tasks.local_data import attach_local_data
    from tests.helpers import TrigramEncoder, write_jsonl

    source = shared_data / "Banking77Classification"
    train = [json.loads(line) for line in (source / "train.jsonl").read_text(encoding="utf-8").splitlines()]
    by_label: dict[int, list] = {}
    for row in train:
        by_label.setdefault(row["label"], []).append(row)
    folder = tmp_path / "data" / "Banking77Classification"
    write_jsonl(folder / "train.jsonl", [row for label in range(12) for row in by_label[label][:10]])
    test = [json.loads(line) for line in (source / "test.jsonl").read_text(encoding="utf-8").splitlines()]
    write_jsonl(folder / "test.jsonl", [row for row in test if row["label"] < 12])

    reads = []
    read = _mteb._EagerColumns._getitem
    monkeypatch.setattr(_mteb._EagerColumns, "_getitem", lambda self, key: reads.append(key) or read(self, key))
    results = []
    for eager in (False, True):
        task = mteb.get_task("Banking77Classification")
        attach_local_data(task, tmp_path / "data")
        with _mteb.eager_columns(task) if eager else contextlib.nullcontext():
            result = mteb.evaluate(TrigramEncoder(), [task], cache=None, co2_tracker=False, show_progress_bar=False)
        results.append(result.task_results[0].scores["test"][0])
    assert results[0] == results[1] and len(results[0]["scores_per_experiment"]) == 10
    assert "label" in reads  # mteb read the labels through the eager lists
