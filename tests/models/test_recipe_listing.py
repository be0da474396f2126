"""`tasks --model ... --json`: the recipe on every task of a benchmark, before anything runs,
from the model table alone (no weights)."""

import json

import pytest

from bge_eval.cli import main
from bge_eval.models import EN_QUERY_INSTRUCTION, ZH_QUERY_INSTRUCTION

ENGLISH_LIST = {"CQADupstackRetrieval", "Touche2020", "SciFact", "TRECCOVID", "NQ", "NFCorpus", "MSMARCO", "HotpotQA",
                "FiQA2018", "FEVER", "DBPedia", "ClimateFEVER", "SCIDOCS"}
CHINESE_LIST = {"T2Retrieval", "MMarcoRetrieval", "DuRetrieval", "CovidRetrieval", "CmedqaRetrieval", "EcomRetrieval",
                "MedicalRetrieval", "VideoRetrieval", "T2Reranking", "MMarcoReranking", "CMedQAv1-reranking",
                "CMedQAv2-reranking"}
FIELDS = {"task", "type", "languages", "instruction", "normalize", "metric", "splits", "local_data"}


def listing(capsys, *args):
    capsys.readouterr()
    assert main(["tasks", *args, "--json"]) == 0
    return {row["task"]: row for row in map(json.loads, capsys.readouterr().out.splitlines())}


def test_english_model_on_mteb_eng(capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the table alone: no weights, no hub
    rows = listing(capsys, "--model", "BAAI/bge-base-en-v1.5", "--benchmark", "MTEB(eng, v1)")
    assert len(rows) == 56 and all(set(row) == FIELDS for row in rows.values())
    assert {t for t, row in rows.items() if row["instruction"]} == ENGLISH_LIST
    assert {row["instruction"] for row in rows.values()} == {None, EN_QUERY_INSTRUCTION}
    assert all(row["normalize"] is False for row in rows.values())
    assert rows["MSMARCO"]["splits"] == ["dev"] and rows["SciFact"]["metric"] == "ndcg_at_10"
    assert all(row["local_data"] is False for row in rows.values())  # no --data-dir


def test_chinese_model_on_c_mteb(capsys, shared_data):
    rows = listing(capsys, "--model", "BAAI/bge-base-zh-v1.5", "--benchmark", "C-MTEB", "--data-dir", str(shared_data))
    assert len(rows) == 31
    assert {t for t, row in rows.items() if row["instruction"]} == CHINESE_LIST
    assert {row["instruction"] for row in rows.values()} == {None, ZH_QUERY_INSTRUCTION}
    assert all(row["normalize"] is True for row in rows.values())
    assert rows["Ocnli"]["metric"] == rows["Cmnli"]["metric"] == "cosine_ap"
    assert rows["T2Reranking"]["metric"] == "cmteb_map"
    assert rows["Ocnli"]["local_data"] is True and rows["T2Retrieval"]["local_data"] is False


@pytest.mark.parametrize("model,benchmark", [("BAAI/bge-base-en-v1.5", "C-MTEB"),
                                             ("BAAI/bge-small-zh-v1.5", "MTEB(eng, v1)")])
def test_across_languages_no_instruction(capsys, model, benchmark):
    rows = listing(capsys, "--model", model, "--benchmark", benchmark)
    assert not any(row["instruction"] for row in rows.values())
    assert {row["normalize"] for row in rows.values()} == {benchmark == "C-MTEB"}


def test_other_policies_and_a_custom_instruction(capsys):
    rows = listing(capsys, "--model", "BAAI/bge-base-en-v1.5", "--tasks", "SciFact", "ArguAna",
                   "Banking77Classification", "--instruction-policy", "none")
    assert not any(row["instruction"] for row in rows.values()) and all(row["normalize"] for row in rows.values())
    rows = listing(capsys, "--model", "BAAI/bge-base-en-v1.5", "--tasks", "SciFact", "ArguAna",
                   "--instruction-policy", "mteb")
    assert rows["ArguAna"]["instruction"] == EN_QUERY_INSTRUCTION  # mteb's prompts instruct every query
    rows = listing(capsys, "--model", "BAAI/bge-base-en-v1.5", "--tasks", "SciFact", "ArguAna", "--instruction", "Q: ")
    assert (rows["SciFact"]["instruction"], rows["ArguAna"]["instruction"]) == ("Q: ", None)


def test_a_table_without_json(capsys):
    assert main(["tasks", "--model", "BAAI/bge-small-zh-v1.5", "--tasks", "T2Retrieval", "STSB"]) == 0
    out = capsys.readouterr().out
    assert "recipe: BAAI/bge-small-zh-v1.5, policy bge" in out and "norm: vectors L2-normalised" in out
    assert "I1: query instruction '为这个句子生成表示以用于检索相关文章：'" in out
    t2 = next(line for line in out.splitlines() if line.startswith("T2Retrieval"))
    assert t2.split()[5:7] == ["I1", "yes"]


@pytest.mark.parametrize("benchmark,model", [("MTEB(eng, v1)", "BAAI/bge-base-en-v1.5"),
                                             ("C-MTEB", "BAAI/bge-base-zh-v1.5")])
def test_every_listing_fits_120_columns(capsys, shared_data, benchmark, model):
    for argv in (["tasks", "--benchmark", benchmark], ["tasks", "--benchmark", benchmark, "--model", model]):
        assert main([*argv, "--data-dir", str(shared_data)]) == 0
        table = capsys.readouterr().out.splitlines()
        assert len(table) > 30 and max(len(line) for line in table if "query instruction" not in line) <= 120


def test_the_languages_column_stays_narrow(capsys):
    assert main(["tasks", "--tasks", "MassiveIntentClassification"]) == 0
    out = capsys.readouterr().out
    assert " +" in out and max(len(line) for line in out.splitlines()) < 120
