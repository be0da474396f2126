import shutil
from pathlib import Path

import pytest

from bge_eval.errors import ModelNotFoundError
from bge_eval.models import (
    BGE_MODELS,
    EN_QUERY_INSTRUCTION,
    ZH_QUERY_INSTRUCTION,
    mteb_meta,
    resolve_model,
)
from bge_eval.models.resolve import local_revision
from bge_eval.models.spec import spec_from_checkpoint


@pytest.mark.parametrize("size,dim", [("small", 384), ("base", 768), ("large", 1024)])
@pytest.mark.parametrize("suffix", ["-v1.5", ""])
def test_bge_table(size, dim, suffix):
    en = BGE_MODELS[f"BAAI/bge-{size}-en{suffix}"]
    zh = BGE_MODELS[f"BAAI/bge-{size}-zh{suffix}"]
    for spec in (en, zh):
        assert (spec.pooling, spec.normalize, spec.max_length, spec.embed_dim) == ("cls", True, 512, dim)
    assert (en.language, en.query_instruction) == ("en", EN_QUERY_INSTRUCTION)
    assert (zh.language, zh.query_instruction) == ("zh", ZH_QUERY_INSTRUCTION)


def test_instruction_texts_match_model_card():
    assert EN_QUERY_INSTRUCTION == "Represent this sentence for searching relevant passages: "
    assert ZH_QUERY_INSTRUCTION == "为这个句子生成表示以用于检索相关文章："


def test_unknown_model_reads_sentence_transformers_config(minilm_path):
    spec = spec_from_checkpoint("sentence-transformers/all-MiniLM-L6-v2", minilm_path)
    assert (spec.pooling, spec.normalize, spec.max_length, spec.embed_dim) == ("mean", True, 256, 384)
    assert spec.query_instruction is None


def test_plain_transformers_checkpoint_falls_back_to_mean_pooling(tiny_bge):
    spec = spec_from_checkpoint("someone/custom-bert", tiny_bge)
    assert (spec.pooling, spec.normalize, spec.embed_dim) == ("mean", False, 64)


def test_model_path_keeps_bge_identity(tiny_bge):
    resolved = resolve_model("BAAI/bge-base-en-v1.5", model_path=tiny_bge)
    assert resolved.spec is BGE_MODELS["BAAI/bge-base-en-v1.5"]
    meta = mteb_meta(resolved)
    assert meta.name == "BAAI/bge-base-en-v1.5"
    # weights by path are not the registry's revision (a5beb1e3...): a revision named by their files
    assert meta.revision == local_revision(tiny_bge) and meta.revision.startswith("local-")
    assert mteb_meta(resolve_model("BAAI/bge-base-en-v1.5", tiny_bge, revision="mine")).revision == "mine"


def test_weights_by_path_are_stored_by_their_content(tiny_bge, tmp_path):
    """The same files at another path share the revision; one changed byte does not."""
    copy = shutil.copytree(tiny_bge, tmp_path / "copy")
    assert local_revision(copy) == local_revision(tiny_bge)
    (copy / "config.json").write_text((copy / "config.json").read_text() + " ")
    assert local_revision(copy) != local_revision(tiny_bge)


def test_a_guessed_pooling_is_stated(tiny_bge, minilm_path, tmp_path, caplog):
    """A plain transformers checkpoint (no sentence-transformers Pooling module) gets mean pooling, said
    in the console and in the recipe's notes (shown in reports)."""
    from bge_eval.config import RunConfig
    from bge_eval.run.prepared import model_target

    plain = tiny_bge  # config, weights and tokenizer only
    assert not (plain / "modules.json").exists()
    target = model_target(RunConfig(model="someone/plain-bert", model_path=plain, tasks=("BgeEvalDemoSTS",),
                                    output=tmp_path / "out", device="cpu"))
    assert target.spec.pooling == "mean" and "mean pooling, guessed" in caplog.text
    assert any("mean pooling, guessed" in note for note in target.recipe.notes())
    assert resolve_model("someone/st-bert", minilm_path).spec.guessed is None  # its Pooling module says mean


def test_bundled_minilm_resolves_offline():
    resolved = resolve_model("sentence-transformers/all-MiniLM-L6-v2")
    assert resolved.source in {"bundled", "hf-cache"}
    assert mteb_meta(resolved).revision == "8b3219a92973c328a8e22fadcfa821b5dc75636a"


def test_missing_model_says_where_it_looked_without_hanging(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with pytest.raises(ModelNotFoundError) as err:
        resolve_model("BAAI/bge-large-zh-v1.5")
    message = str(err.value)
    assert "Hugging Face cache" in message and "--model-path" in message and "hub" in message


def test_bad_model_path_is_named(tmp_path: Path):
    with pytest.raises(ModelNotFoundError, match="--model-path .*no config.json"):
        resolve_model("BAAI/bge-base-en-v1.5", model_path=tmp_path)
