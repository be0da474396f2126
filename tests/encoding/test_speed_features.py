"""Token-budget batching, out-of-memory back-off (simulated) and the embedding cache."""

import numpy as np
import pytest
import torch

from bge_eval.encoding.batching import plan_batches
from bge_eval.encoding.embedding_cache import EmbeddingCache
from bge_eval.encoding.engine import ForwardEngine
from bge_eval.encoding.mteb_encoder import BgeEncoder
from bge_eval.encoding.text_embedder import TextEmbedder
from bge_eval.models import mteb_meta, resolve_model
from bge_eval.models.recipe import Recipe

TEXTS = [("word " * (i % 37 + 1)).strip() for i in range(150)]


def make(tiny_bge, **kwargs):
    resolved = resolve_model("BAAI/bge-small-en-v1.5", model_path=tiny_bge)
    return BgeEncoder(resolved, Recipe("bge", resolved.spec), mteb_meta(resolved), device="cpu",
                      **kwargs)


def test_plan_batches_by_hand():
    lengths = [3, 10, 7, 2, 10, 5]
    assert plan_batches(lengths, max_rows=2) == [[1, 4], [2, 5], [0, 3]]
    # budget 20 padded tokens: [10, 10] = 20; then 7+5 -> 2 x 7 = 14, +3 -> 3 x 7 = 21 > 20
    assert plan_batches(lengths, max_rows=100, token_budget=20) == [[1, 4], [2, 5], [0, 3]]
    assert plan_batches(lengths, max_rows=100, token_budget=21) == [[1, 4], [2, 5, 0], [3]]
    # padded to multiples of 8: every row counts 8 or 16
    assert plan_batches(lengths, max_rows=100, token_budget=32, multiple=8) == [[1, 4], [2, 5, 0, 3]]
    # a row longer than the budget still gets a batch of its own
    assert plan_batches([50, 1], max_rows=8, token_budget=10) == [[0], [1]]


def test_every_index_once_and_budget_respected():
    lengths = [int(x) for x in np.random.default_rng(0).integers(1, 512, size=500)]
    batches = plan_batches(lengths, max_rows=64, token_budget=4096, multiple=8)
    assert sorted(i for b in batches for i in b) == list(range(500))
    for batch in batches:
        width = max(-(-lengths[i] // 8) * 8 for i in batch)
        assert len(batch) <= 64 and (len(batch) * width <= 4096 or len(batch) == 1)


def test_batch_limits_default_by_device():
    from bge_eval.encoding.text_embedder import batch_limits

    assert batch_limits(on_gpu=True, batch_size=None, token_budget=None) == (1024, 65_536)  # budget sizes batches
    assert batch_limits(on_gpu=True, batch_size=64, token_budget=8192) == (64, 8192)
    assert batch_limits(on_gpu=False, batch_size=None, token_budget=None) == (32, None)
    assert batch_limits(on_gpu=False, batch_size=5, token_budget=300) == (5, 300)


def test_mteb_dataloader_batch_size_does_not_override_the_encoder(tiny_bge, monkeypatch):
    from mteb.types import PromptType
    from torch.utils.data import DataLoader

    encoder = make(tiny_bge, batch_size=5)
    seen = []
    original = ForwardEngine._forward
    monkeypatch.setattr(ForwardEngine, "_forward",
                        lambda self, batch: seen.append(len(batch.rows)) or original(self, batch))
    loader = DataLoader([{"text": t} for t in TEXTS[:40]], batch_size=32,
                        collate_fn=lambda rows: {"text": [r["text"] for r in rows]})
    metadata = __import__("mteb").get_task("STSBenchmark").metadata
    encoder.encode(loader, task_metadata=metadata, hf_split="test", hf_subset="default",
                   prompt_type=PromptType.document, batch_size=32)
    assert sum(seen) == 40 and max(seen) == 5


def test_token_budget_does_not_change_embeddings(tiny_bge):
    reference = make(tiny_bge, batch_size=7).embed(TEXTS)
    budgeted = make(tiny_bge, batch_size=64, token_budget=128).embed(TEXTS)
    np.testing.assert_allclose(budgeted, reference, atol=1e-5)


def test_out_of_memory_back_off_loses_no_work(tiny_bge, monkeypatch):
    encoder = make(tiny_bge, batch_size=64)
    reference = encoder.embed(TEXTS)
    original = ForwardEngine._forward
    seen = []

    def fail_on_big_batches(self, batch):
        seen.append(len(batch.rows))
        if len(batch.rows) > 16:
            raise torch.OutOfMemoryError("simulated")
        return original(self, batch)

    monkeypatch.setattr(ForwardEngine, "_forward", fail_on_big_batches)
    out = encoder.embed(TEXTS)
    np.testing.assert_allclose(out, reference, atol=1e-5)
    assert encoder.embedder.oom_retries == 2  # 64 -> 32 -> 16 rows
    assert sum(n for n in seen if n <= 16) == len(TEXTS)  # every text encoded exactly once


def test_out_of_memory_on_a_single_text_is_a_clear_error(tiny_bge, monkeypatch):
    from bge_eval.errors import BgeEvalError

    def always_fail(self, batch):
        raise torch.OutOfMemoryError("simulated")

    encoder = make(tiny_bge, batch_size=8)
    monkeypatch.setattr(ForwardEngine, "_forward", always_fail)
    with pytest.raises(BgeEvalError, match="out of memory on cpu encoding a single text"):
        encoder.embed(TEXTS[:20])
    assert encoder.embedder.oom_retries == 3  # 8 -> 4 -> 2 -> 1 row, then the error


def test_cache_hits_and_misses(tiny_bge, tmp_path, monkeypatch):
    cache = EmbeddingCache(tmp_path / "cache")
    encoder = make(tiny_bge, cache=cache)
    first = encoder.embed(TEXTS)
    assert (cache.hits, cache.misses) == (0, 1)

    monkeypatch.setattr(TextEmbedder, "_embed", lambda *a, **k: pytest.fail("encoded again"))
    np.testing.assert_array_equal(encoder.embed(TEXTS), first)
    assert cache.hits == 1
    monkeypatch.undo()

    encoder.embed(["Represent this sentence for searching relevant passages: " + t for t in TEXTS])
    assert cache.misses == 2  # an instruction changes the texts: a miss
    encoder.embed(TEXTS[:10])  # small calls are not cached
    assert (cache.hits, cache.misses) == (1, 2)


@pytest.mark.parametrize("damage", ["other vectors", "truncated", "wrong shape", "not finite", "not a cache file"])
def test_a_damaged_cache_entry_is_discarded_and_re_encoded(tiny_bge, tmp_path, caplog, damage):
    """Never serve an unverified vector: a tampered, truncated, misshapen or non-finite entry is
    dropped with one warning and the texts are encoded again, giving the right vectors."""
    import hashlib
    import io
    import json
    import logging

    cache = EmbeddingCache(tmp_path / "cache")
    encoder = make(tiny_bge, cache=cache)
    right = encoder.embed(TEXTS)
    (entry,) = (tmp_path / "cache").rglob("*.vec")
    header, _, body = entry.read_bytes().partition(b"\n")

    def rewritten(array):  # a well-formed entry, checksum included, holding `array`
        buffer = io.BytesIO()
        np.save(buffer, array)
        fields = {**json.loads(header), "sha256": hashlib.sha256(buffer.getvalue()).hexdigest(),
                  "shape": list(array.shape)}
        return json.dumps(fields).encode() + b"\n" + buffer.getvalue()

    if damage == "other vectors":  # same shape, other content, the old checksum
        other = io.BytesIO()
        np.save(other, right[::-1].copy())
        entry.write_bytes(header + b"\n" + other.getvalue())
    elif damage == "truncated":
        entry.write_bytes(entry.read_bytes()[: len(header) + 40])
    elif damage == "wrong shape":
        entry.write_bytes(rewritten(right[:-1]))
    elif damage == "not finite":
        poisoned = right.copy()
        poisoned[3, 2] = np.nan
        entry.write_bytes(rewritten(poisoned))
    else:
        entry.write_bytes(b"\x00garbage")
    with caplog.at_level(logging.WARNING, logger="bge_eval.encoding.embedding_cache"):
        again = make(tiny_bge, cache=cache).embed(TEXTS)
    np.testing.assert_array_equal(again, right)
    assert cache.discarded == 1 and "re-encoding" in caplog.text
    assert make(tiny_bge, cache=cache).embed(TEXTS) is not None and cache.hits == 1  # written again, now served


def test_the_cache_key_follows_the_checkpoints_content(tiny_bge, tmp_path):
    """Other weights or another tokenizer under the same name miss; a touched file with the same
    bytes still hits (its vectors are the same), and is hashed once more only because it was touched."""
    import json
    import shutil

    from safetensors.torch import load_file, save_file

    copy = tmp_path / "ckpt"
    shutil.copytree(tiny_bge, copy)
    cache = EmbeddingCache(tmp_path / "cache")
    make(copy, cache=cache).embed(TEXTS)
    weights = next(copy.glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes())  # same bytes, new modification time
    make(copy, cache=cache).embed(TEXTS)
    assert (cache.hits, cache.misses) == (1, 1)
    tensors = load_file(weights)
    name = next(n for n in tensors if n.endswith("LayerNorm.weight"))
    tensors[name] = tensors[name] * 1.5
    save_file(tensors, weights, metadata={"format": "pt"})  # other weights, same name and size
    make(copy, cache=cache).embed(TEXTS)
    assert (cache.hits, cache.misses) == (1, 2)
    config = json.loads((copy / "tokenizer_config.json").read_text())
    (copy / "tokenizer_config.json").write_text(json.dumps({**config, "do_lower_case": False}))
    make(copy, cache=cache).embed(TEXTS)  # another tokenizer setting
    assert (cache.hits, cache.misses) == (1, 3)


def test_instruction_ablation_reuses_corpus_embeddings(scifact_subset, tiny_bge, tmp_path, monkeypatch):
    from bge_eval.config import RunConfig
    from bge_eval.run.runner import run

    encoded = []
    original = TextEmbedder._embed

    def recording(self, texts, *args):
        encoded.append(texts)
        return original(self, texts, *args)

    monkeypatch.setattr(TextEmbedder, "_embed", recording)
    for policy in ("bge", "none"):
        run(RunConfig(model="BAAI/bge-small-en-v1.5", model_path=tiny_bge, tasks=("SciFact",),
                      data_dir=scifact_subset, output=tmp_path / policy, device="cpu",
                      instruction_policy=policy, embedding_cache=tmp_path / "cache"))
    corpus_encodings = [texts for texts in encoded if len(texts) > 100]
    queries = [texts for texts in encoded if len(texts) == 60]
    assert len(corpus_encodings) == 1  # the second policy's corpus came from the cache
    assert len(queries) == 2 and queries[0][0].startswith("Represent this") and queries[1][0] != queries[0][0]


def test_one_cache_entry_serves_normalised_and_raw_vectors(tiny_bge, tmp_path):
    """Normalising comes after the cache (the recipe normalises Chinese tasks, not English ones)."""
    cache = EmbeddingCache(tmp_path / "cache")
    encoder = make(tiny_bge, cache=cache)
    raw = encoder.embed(TEXTS, normalize=False)
    unit = encoder.embed(TEXTS, normalize=True)
    assert (cache.hits, cache.misses) == (1, 1) and len(list((tmp_path / "cache").rglob("*.vec"))) == 1
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1)
    np.testing.assert_allclose(unit, raw / np.linalg.norm(raw, axis=1, keepdims=True), rtol=1e-6, atol=1e-7)
