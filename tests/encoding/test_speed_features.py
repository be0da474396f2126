"""Token-budget batching and out-of-memory back-off (simulated); the cache is in test_embedding_cache.py."""

import numpy as np
import pytest
import torch

from bge_eval.encoding.batching import plan_batches
from bge_eval.encoding.engine import ForwardEngine
from bge_eval.encoding.mteb_encoder import BgeEncoder
from bge_eval.models import mteb_meta, resolve_model
from bge_eval.models.recipe import Recipe

TEXTS = ["word " * (i % 37 + 1) + f"number {i}" for i in range(150)]  # all distinct


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
