"""The recipe, rule by rule (docs/recipe.md gives each rule's source in BGE's scripts)."""

from types import SimpleNamespace

import pytest

from bge_eval.models import BGE_MODELS, EN_QUERY_INSTRUCTION, ZH_QUERY_INSTRUCTION
from bge_eval.models.recipe import SMALL_ZH_NOTE, Recipe, TaskRecipe

EN = BGE_MODELS["BAAI/bge-base-en-v1.5"]
ZH = BGE_MODELS["BAAI/bge-base-zh-v1.5"]
CHINESE_TASKS = {"T2Retrieval", "T2Reranking", "STSB", "Ocnli", "CmedqaRetrieval", "CMedQAv1-reranking",
                 "TNews", "Cmnli"}


def task(name, task_type):
    return SimpleNamespace(name=name, type=task_type, languages=["cmn"] if name in CHINESE_TASKS else ["eng"])


@pytest.mark.parametrize(
    "spec,name,task_type,role,expected",
    [
        (EN, "SciFact", "Retrieval", "query", EN_QUERY_INSTRUCTION),
        (EN, "SciFact", "Retrieval", "document", None),
        (EN, "CQADupstackRetrieval", "Retrieval", "query", EN_QUERY_INSTRUCTION),
        (EN, "CQADupstackGamingRetrieval", "Retrieval", "query", EN_QUERY_INSTRUCTION),
        (EN, "ArguAna", "Retrieval", "query", None),
        (EN, "QuoraRetrieval", "Retrieval", "query", None),
        (EN, "NanoSciFactRetrieval", "Retrieval", "query", None),  # not on BGE's list
        (EN, "ArguAnaHardNegatives", "Retrieval", "query", None),
        (EN, "LegalBenchConsumerContractsQA", "Retrieval", "query", None),
        (EN, "SciDocsRR", "Reranking", "query", None),
        (EN, "STSBenchmark", "STS", None, None),
        (EN, "Banking77Classification", "Classification", None, None),
        (ZH, "T2Retrieval", "Retrieval", "query", ZH_QUERY_INSTRUCTION),
        (ZH, "T2Retrieval", "Retrieval", "document", None),
        (ZH, "T2Reranking", "Reranking", "query", ZH_QUERY_INSTRUCTION),
        (ZH, "T2Reranking", "Reranking", "document", None),
        (ZH, "CMedQAv1-reranking", "Reranking", "query", ZH_QUERY_INSTRUCTION),
        (ZH, "CmedqaRetrieval", "Retrieval", "query", ZH_QUERY_INSTRUCTION),
        (EN, "T2Retrieval", "Retrieval", "query", None),  # an English model on C-MTEB: none
        (ZH, "SciFact", "Retrieval", "query", None),  # a Chinese model on MTEB(eng): none
        (ZH, "STSB", "STS", None, None),
        (ZH, "Ocnli", "PairClassification", None, None),
    ],
)
def test_bge_policy(spec, name, task_type, role, expected):
    recipe = Recipe("bge", spec)
    assert recipe.instruction_for(task(name, task_type), role) == expected


@pytest.mark.parametrize("spec", [EN, ZH, BGE_MODELS["BAAI/bge-small-en"], BGE_MODELS["BAAI/bge-large-zh"]])
def test_bge_normalises_chinese_tasks_only(spec):
    """eval_MTEB.py: normalize_embeddings=False; eval_C-MTEB.py: FlagDRESModel's default True."""
    recipe = Recipe("bge", spec)
    assert recipe.for_task(task("Banking77Classification", "Classification")) == TaskRecipe(None, False)
    assert recipe.for_task(task("TNews", "Classification")) == TaskRecipe(None, True)


def test_other_models_and_policies_keep_the_checkpoints_normalisation():
    minilm = SimpleNamespace(**{**EN.__dict__, "name": "x/minilm", "family": "sentence-transformers",
                                "query_instruction": None, "normalize": True})
    for policy in ("bge", "none"):
        assert Recipe(policy, minilm).for_task(task("SciFact", "Retrieval")) == TaskRecipe(None, True)
    assert Recipe("none", EN).for_task(task("Banking77Classification", "Classification")).normalize is True


def test_small_zh_v15_gets_the_instruction_and_says_why():
    recipe = Recipe("bge", BGE_MODELS["BAAI/bge-small-zh-v1.5"])
    assert recipe.for_task(task("T2Retrieval", "Retrieval")).instruction == ZH_QUERY_INSTRUCTION
    assert recipe.describe()["notes"] == [SMALL_ZH_NOTE] and "v.15" in SMALL_ZH_NOTE
    assert Recipe("bge", ZH).describe()["notes"] == []


def test_none_policy_never_instructs():
    recipe = Recipe("none", EN)
    assert recipe.instruction_for(task("SciFact", "Retrieval"), "query") is None


def test_custom_instruction_follows_bge_routing():
    recipe = Recipe("bge", EN, custom="Query: ")
    assert recipe.instruction_for(task("SciFact", "Retrieval"), "query") == "Query: "
    assert recipe.instruction_for(task("ArguAna", "Retrieval"), "query") is None
    assert recipe.instruction_for(task("SciFact", "Retrieval"), "document") is None
    assert recipe.instruction_for(task("T2Retrieval", "Retrieval"), "query") == "Query: "  # asked for: given


def test_mteb_policy_uses_registry_prompts_everywhere_mteb_does():
    import mteb
    from mteb.types import PromptType

    prompts = mteb.get_model_meta("BAAI/bge-base-en-v1.5").loader_kwargs["model_prompts"]
    recipe = Recipe("mteb", EN, mteb_prompts=prompts)
    arguana = mteb.get_task("ArguAna").metadata
    assert recipe.instruction_for(arguana, PromptType.query) == EN_QUERY_INSTRUCTION
    assert recipe.instruction_for(arguana, PromptType.document) is None
