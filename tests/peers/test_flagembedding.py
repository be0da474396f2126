"""The harness against BGE's own package, FlagEmbedding, as the oracle: on random checkpoints
with BGE's configuration (built here), the harness's query and passage vectors under the recipe
equal FlagModel's encode_queries / encode_corpus with the settings BGE's scripts used (English:
not normalised, the English instruction on SciFact's queries, none on ArguAna's; Chinese:
normalised, the Chinese instruction on T2Retrieval's queries), and the cross-encoder's scores
equal FlagReranker's. FlagEmbedding runs in its own environment (.venv-peers, built by
.ci/peers); without it these tests fail, saying how to build it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from bge_eval.models import EN_QUERY_INSTRUCTION, ZH_QUERY_INSTRUCTION
from tests.helpers import PEER_PYTHON, REPO

ORACLE = Path(__file__).with_name("flag_oracle.py")
ENGLISH_QUERIES = ["what is a cell", "How do rivers flow to the sea?", "x", "protein folding " * 300]
ENGLISH_PASSAGES = ["Cells are the units of life.", "Rivers flow downhill, pulled by gravity, into seas and oceans.",
                    "A short one.", "long passage words " * 400, "Mitochondria make energy"]
CHINESE_QUERIES = ["什么是细胞", "河流怎样流入大海", "蛋白质折叠" * 200]
CHINESE_PASSAGES = ["细胞是生命的基本单位。", "河流在重力作用下流入海洋。", "短", "长文本" * 300]


def peer(jobs: list[dict], tmp_path: Path) -> dict[str, np.ndarray]:
    """FlagEmbedding's arrays for each job, computed in the peer environment."""
    if not PEER_PYTHON.is_file():
        pytest.fail(f"the peer environment is missing ({PEER_PYTHON}); build it with `bash .ci/peers` "
                    "(or point BGE_EVAL_PEER_PYTHON at a Python with FlagEmbedding).")
    request, out = tmp_path / "request.json", tmp_path / "peer.npz"
    request.write_text(json.dumps({"jobs": jobs}, ensure_ascii=False), encoding="utf-8")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([str(PEER_PYTHON), str(ORACLE), str(request), str(out)], capture_output=True, text=True,
                          env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    with np.load(out) as arrays:
        return {name: arrays[name] for name in arrays.files}


def harness_vectors(model_name: str, checkpoint: Path, task_name: str, queries: list[str], passages: list[str]):
    """The harness's vectors for one task's queries and passages, through mteb's encode call."""
    import mteb

    from bge_eval._mteb import PromptType
    from bge_eval.encoding.mteb_encoder import BgeEncoder
    from bge_eval.models import mteb_meta, resolve_model
    from bge_eval.models.recipe import Recipe

    resolved = resolve_model(model_name, checkpoint)
    metadata = mteb.get_task(task_name).metadata
    with BgeEncoder(resolved, Recipe("bge", resolved.spec), mteb_meta(resolved), device="cpu", precision="fp32",
                    batch_size=3) as encoder:
        def encode(texts, role):
            return encoder.encode([{"text": texts}], task_metadata=metadata, hf_split="test", hf_subset="default",
                                  prompt_type=role)

        return encode(queries, PromptType.query), encode(passages, PromptType.document)


def chinese_checkpoint(folder: Path) -> Path:
    """A random BERT with bge-small-zh-v1.5's layout (CLS pooling, a Chinese character vocabulary)."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    characters = sorted({c for text in CHINESE_QUERIES + CHINESE_PASSAGES for c in text} - {" "})
    folder.mkdir(parents=True)
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *characters]) + "\n", encoding="utf-8")
    BertTokenizerFast(vocab_file=str(vocab), tokenize_chinese_chars=True).save_pretrained(folder)
    torch.manual_seed(7)
    BertModel(BertConfig(vocab_size=5 + len(characters), hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                         intermediate_size=128, max_position_embeddings=512)).eval().save_pretrained(folder)
    return folder


def test_english_vectors_equal_flagembeddings(tiny_bge, tmp_path):
    scifact = harness_vectors("BAAI/bge-small-en-v1.5", tiny_bge, "SciFact", ENGLISH_QUERIES, ENGLISH_PASSAGES)
    arguana = harness_vectors("BAAI/bge-small-en-v1.5", tiny_bge, "ArguAna", ENGLISH_QUERIES, ENGLISH_PASSAGES)
    common = {"kind": "embed", "checkpoint": str(tiny_bge), "normalize": False, "queries": ENGLISH_QUERIES,
              "passages": ENGLISH_PASSAGES}
    flag = peer([{**common, "name": "scifact", "instruction": EN_QUERY_INSTRUCTION},
                 {**common, "name": "arguana", "instruction": None}], tmp_path)
    for name, (queries, passages) in (("scifact", scifact), ("arguana", arguana)):
        np.testing.assert_allclose(queries, flag[f"{name}.queries"], atol=1e-5, rtol=0)
        np.testing.assert_allclose(passages, flag[f"{name}.passages"], atol=1e-5, rtol=0)
    assert not np.allclose(np.linalg.norm(scifact[1], axis=1), 1)  # eval_MTEB.py: not normalised
    assert not np.allclose(scifact[0], arguana[0], atol=1e-3)  # the instruction made a difference


def test_chinese_vectors_equal_flagembeddings(tmp_path):
    checkpoint = chinese_checkpoint(tmp_path / "bge-zh-random")
    queries, passages = harness_vectors("BAAI/bge-small-zh-v1.5", checkpoint, "T2Retrieval", CHINESE_QUERIES,
                                        CHINESE_PASSAGES)
    flag = peer([{"name": "t2", "kind": "embed", "checkpoint": str(checkpoint), "normalize": True,
                  "instruction": ZH_QUERY_INSTRUCTION, "queries": CHINESE_QUERIES, "passages": CHINESE_PASSAGES}],
                tmp_path)
    np.testing.assert_allclose(queries, flag["t2.queries"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(passages, flag["t2.passages"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(np.linalg.norm(passages, axis=1), 1, atol=1e-6)  # eval_C-MTEB.py: normalised


def test_reranker_scores_equal_flagrerankers(tmp_path, minilm_path):
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from bge_eval.encoding.cross_encoder import CrossEncoderReranker
    from bge_eval.models import mteb_meta, resolve_model

    folder = tmp_path / "reranker-random"
    torch.manual_seed(3)
    config = BertConfig(vocab_size=30522, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=128, num_labels=1)
    BertForSequenceClassification(config).eval().save_pretrained(folder)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(minilm_path / name, folder / name)
    pairs = [(q, p) for q in ENGLISH_QUERIES[:3] for p in ENGLISH_PASSAGES]
    reranker = CrossEncoderReranker(folder, mteb_meta(resolve_model("BAAI/bge-reranker-base", folder)), device="cpu",
                                    precision="fp32", batch_size=5)
    ours = np.asarray(reranker.compute_score(pairs), dtype=np.float64)
    flag = peer([{"name": "rerank", "kind": "rerank", "checkpoint": str(folder), "pairs": pairs}], tmp_path)
    np.testing.assert_allclose(ours, flag["rerank.scores"], atol=1e-5, rtol=0)
    assert np.ptp(ours) > 1e-3  # the scores differ between pairs: a comparison that can fail


def test_the_peer_environment_is_flagembedding_itself():
    """The oracle is the released package, not a re-statement of it."""
    done = subprocess.run([str(PEER_PYTHON), "-c", "import FlagEmbedding, importlib.metadata as m; "
                           "print(m.version('FlagEmbedding'), FlagEmbedding.__file__)"],
                          capture_output=True, text=True, timeout=300) if PEER_PYTHON.is_file() else None
    assert done is not None and done.returncode == 0, f"no peer environment at {PEER_PYTHON}: run `bash .ci/peers`"
    version, location = done.stdout.split()
    expected = next(line.split("==")[1] for line in (REPO / ".ci" / "peers-requirements.txt").read_text().splitlines()
                    if line.startswith("FlagEmbedding=="))
    assert version == expected and "site-packages" in location
