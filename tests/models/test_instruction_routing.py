"""End to end through the runner and mteb: which texts reach the model with an instruction, and
which tasks get normalised vectors (the recipe, models/recipe.py)."""

import json

import numpy as np
import pytest

from bge_eval.config import RunConfig
from bge_eval.encoding.mteb_encoder import BgeEncoder
from bge_eval.models import EN_QUERY_INSTRUCTION, ZH_QUERY_INSTRUCTION
from bge_eval.run.runner import run
from tests.helpers import beir, write_jsonl


class Calls(list):
    def __init__(self):
        super().__init__()
        self.norms = {}

    def normalized(self, task):
        return all(abs(n - 1) < 1e-5 for n in self.norms[task])


@pytest.fixture
def recorded(monkeypatch):
    """(task, prompt role, text) for every text the model embeds; calls.normalized: task -> the
    L2 norms of the vectors it got."""
    calls = Calls()
    original_encode, original_embed = BgeEncoder.encode, BgeEncoder.embed
    current = {}

    def encode(self, inputs, *, task_metadata, hf_split, hf_subset, prompt_type=None, **kwargs):
        current["key"] = (task_metadata.name, getattr(prompt_type, "value", prompt_type))
        return original_encode(self, inputs, task_metadata=task_metadata, hf_split=hf_split,
                               hf_subset=hf_subset, prompt_type=prompt_type, **kwargs)

    def embed(self, texts, show_progress=False, normalize=None):
        calls.extend((*current["key"], text) for text in texts)
        vectors = original_embed(self, texts, show_progress, normalize)
        calls.norms.setdefault(current["key"][0], []).extend(np.linalg.norm(vectors, axis=1).tolist())
        return vectors

    monkeypatch.setattr(BgeEncoder, "encode", encode)
    monkeypatch.setattr(BgeEncoder, "embed", embed)
    return calls


@pytest.fixture
def data_dir(tmp_path):
    root = tmp_path / "data"
    for name, query, split in (("SciFact", "what is a cell", "test"), ("ArguAna", "an argument", "test"),
                               ("T2Retrieval", "什么是细胞", "dev")):
        beir(root / name, [{"_id": "d1", "title": "t", "text": "cells are units"},
                           {"_id": "d2", "title": "", "text": "rivers flow"}],
             [{"_id": "q1", "text": query}], [("q1", "d1", 1)], split=split)
    write_jsonl(root / "T2Reranking" / "dev.jsonl",
                [{"query": "细胞是什么", "positive": ["细胞是生命的单位"], "negative": ["河流"]}])
    for name, lang in (("STSBenchmark", "en"), ("STSB", "zh")):
        write_jsonl(root / name / "test.jsonl", [
            {"sentence1": f"{lang} one", "sentence2": f"{lang} two", "score": 1.0},
            {"sentence1": f"{lang} three", "sentence2": f"{lang} four", "score": 3.0},
        ])
    return root


def run_policy(tmp_path, tiny_bge, data_dir, model, tasks, policy, instruction=None):
    config = RunConfig(model=model, model_path=tiny_bge, tasks=tuple(tasks), data_dir=data_dir,
                       output=tmp_path / f"out-{policy}-{instruction}", device="cpu",
                       instruction_policy=policy, instruction=instruction)
    return run(config)


def with_instruction(calls, prefix):
    return {(task, role) for task, role, text in calls if text.startswith(prefix)}


def roles(calls):
    return {(task, role) for task, role, _ in calls}


def test_bge_policy_english(tmp_path, tiny_bge, data_dir, recorded):
    summary = run_policy(tmp_path, tiny_bge, data_dir, "BAAI/bge-small-en-v1.5",
                         ["SciFact", "ArguAna", "STSBenchmark"], "bge")
    assert with_instruction(recorded, EN_QUERY_INSTRUCTION) == {("SciFact", "query")}
    assert {("SciFact", "document"), ("ArguAna", "query"), ("STSBenchmark", None)} <= roles(recorded)
    manifest = json.loads((summary.results_dir / "bge_eval_manifest.json").read_text())
    assert manifest["instruction"] == {"policy": "bge", "instruction": EN_QUERY_INSTRUCTION, "custom": False,
                                       "notes": []}
    assert not any(recorded.normalized(t) for t in ("SciFact", "ArguAna", "STSBenchmark"))  # eval_MTEB.py's
    identity = manifest["tasks"]["SciFact"]["identity"]["settings"]
    assert (identity["instruction"], identity["normalize"]) == (EN_QUERY_INSTRUCTION, False)
    assert manifest["tasks"]["ArguAna"]["identity"]["settings"]["instruction"] is None


def test_bge_policy_chinese(tmp_path, tiny_bge, data_dir, recorded):
    run_policy(tmp_path, tiny_bge, data_dir, "BAAI/bge-small-zh-v1.5",
               ["T2Retrieval", "T2Reranking", "STSB"], "bge")
    assert with_instruction(recorded, ZH_QUERY_INSTRUCTION) == {("T2Retrieval", "query"), ("T2Reranking", "query")}
    queries = [text for task, role, text in recorded if role == "query"]
    assert sorted(queries) == sorted([ZH_QUERY_INSTRUCTION + "什么是细胞", ZH_QUERY_INSTRUCTION + "细胞是什么"])
    assert {("T2Retrieval", "document"), ("T2Reranking", "document"), ("STSB", None)} <= roles(recorded)
    assert all(recorded.normalized(t) for t in ("T2Retrieval", "T2Reranking", "STSB"))  # eval_C-MTEB.py's


def test_bge_policy_across_languages(tmp_path, tiny_bge, data_dir, recorded):
    """BGE's scripts give a model of the other language no instruction; normalisation follows the task."""
    run_policy(tmp_path, tiny_bge, data_dir, "BAAI/bge-small-en-v1.5", ["T2Retrieval", "STSB"], "bge")
    run_policy(tmp_path, tiny_bge, data_dir, "BAAI/bge-small-zh-v1.5", ["SciFact", "STSBenchmark"], "bge")
    assert recorded and not with_instruction(recorded, EN_QUERY_INSTRUCTION)
    assert not with_instruction(recorded, ZH_QUERY_INSTRUCTION)
    assert recorded.normalized("T2Retrieval") and recorded.normalized("STSB")
    assert not recorded.normalized("SciFact") and not recorded.normalized("STSBenchmark")


def test_none_policy(tmp_path, tiny_bge, data_dir, recorded):
    run_policy(tmp_path, tiny_bge, data_dir, "BAAI/bge-small-en-v1.5", ["SciFact"], "none")
    assert recorded and not with_instruction(recorded, EN_QUERY_INSTRUCTION)
    assert recorded.normalized("SciFact")  # the checkpoint's own normalisation (BGE's files normalise)


def test_mteb_policy_instructs_arguana(tmp_path, tiny_bge, data_dir, recorded):
    run_policy(tmp_path, tiny_bge, data_dir, "BAAI/bge-small-en-v1.5", ["ArguAna", "STSBenchmark"], "mteb")
    assert with_instruction(recorded, EN_QUERY_INSTRUCTION) == {("ArguAna", "query")}


def test_custom_instruction(tmp_path, tiny_bge, data_dir, recorded):
    run_policy(tmp_path, tiny_bge, data_dir, "BAAI/bge-small-en-v1.5", ["SciFact", "ArguAna"], "bge",
               instruction="Find: ")
    assert with_instruction(recorded, "Find: ") == {("SciFact", "query")}
    assert not with_instruction(recorded, EN_QUERY_INSTRUCTION)
