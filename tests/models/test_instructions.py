from types import SimpleNamespace

import pytest

from bge_eval.models import BGE_MODELS, EN_QUERY_INSTRUCTION, ZH_QUERY_INSTRUCTION
from bge_eval.models.instructions import InstructionRouter

EN = BGE_MODELS["BAAI/bge-base-en-v1.5"]
ZH = BGE_MODELS["BAAI/bge-base-zh-v1.5"]


def task(name, task_type):
    return SimpleNamespace(name=name, type=task_type)


@pytest.mark.parametrize(
    "spec,name,task_type,role,expected",
    [
        (EN, "SciFact", "Retrieval", "query", EN_QUERY_INSTRUCTION),
        (EN, "SciFact", "Retrieval", "document", None),
        (EN, "ArguAna", "Retrieval", "query", None),
        (EN, "QuoraRetrieval", "Retrieval", "query", None),
        (EN, "SciDocsRR", "Reranking", "query", None),
        (EN, "STSBenchmark", "STS", None, None),
        (EN, "Banking77Classification", "Classification", None, None),
        (ZH, "T2Retrieval", "Retrieval", "query", ZH_QUERY_INSTRUCTION),
        (ZH, "T2Retrieval", "Retrieval", "document", None),
        (ZH, "T2Reranking", "Reranking", "query", ZH_QUERY_INSTRUCTION),
        (ZH, "T2Reranking", "Reranking", "document", None),
        (ZH, "STSB", "STS", None, None),
        (ZH, "Ocnli", "PairClassification", None, None),
    ],
)
def test_bge_policy(spec, name, task_type, role, expected):
    router = InstructionRouter("bge", spec)
    assert router.instruction_for(task(name, task_type), role) == expected


def test_none_policy_never_instructs():
    router = InstructionRouter("none", EN)
    assert router.instruction_for(task("SciFact", "Retrieval"), "query") is None


def test_custom_instruction_follows_bge_routing():
    router = InstructionRouter("bge", EN, custom="Query: ")
    assert router.instruction_for(task("SciFact", "Retrieval"), "query") == "Query: "
    assert router.instruction_for(task("ArguAna", "Retrieval"), "query") is None
    assert router.instruction_for(task("SciFact", "Retrieval"), "document") is None


def test_mteb_policy_uses_registry_prompts_everywhere_mteb_does():
    import mteb
    from mteb.types import PromptType

    prompts = mteb.get_model_meta("BAAI/bge-base-en-v1.5").loader_kwargs["model_prompts"]
    router = InstructionRouter("mteb", EN, mteb_prompts=prompts)
    arguana = mteb.get_task("ArguAna").metadata
    assert router.instruction_for(arguana, PromptType.query) == EN_QUERY_INSTRUCTION
    assert router.instruction_for(arguana, PromptType.document) is None
