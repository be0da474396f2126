"""The encoding pipeline: padded batches, the background tokeniser, chunking, torch.compile."""

import threading
import time

import numpy as np
import pytest

from bge_eval.encoding.batching import pad_batch, plan_padded, prefetch, unpad
from bge_eval.encoding.settings import PipelineSettings
from bge_eval.encoding.text_embedder import TextEmbedder
from bge_eval.encoding.tokenization import chunk_bounds, chunk_jobs
from bge_eval.models import resolve_model

TEXTS = [("alpha beta " * (i % 29 + 1)).strip() + f" {i}" for i in range(300)]


def make(checkpoint, **kwargs):
    resolved = resolve_model("BAAI/bge-small-en-v1.5", model_path=checkpoint)
    return TextEmbedder(resolved.checkpoint, resolved.spec, device="cpu", **kwargs)


def test_pad_batch_by_hand():
    ids = [[5, 6, 7], [1], [2, 3]]
    batch = pad_batch(ids, [2, 0], multiple=4, pad_id=0)
    assert batch.rows.tolist() == [2, 0]
    assert batch.input_ids.tolist() == [[2, 3, 0, 0], [5, 6, 7, 0]]
    assert batch.lengths.tolist() == [2, 3] and batch.padded_tokens == 8
    assert unpad(batch) == [[2, 3], [5, 6, 7]]
    assert batch.fits(max_rows=2, token_budget=8) and not batch.fits(max_rows=1, token_budget=None)
    assert not batch.fits(max_rows=8, token_budget=7)


def test_plan_padded_covers_every_row_once_longest_first():
    ids = [[1] * n for n in (3, 9, 1, 7, 7, 2)]
    batches = plan_padded(ids, range(6), max_rows=2, token_budget=None, multiple=1, pad_id=0)
    assert [b.rows.tolist() for b in batches] == [[1, 3], [4, 0], [5, 2]]
    assert [b.input_ids.shape for b in batches] == [(2, 9), (2, 7), (2, 2)]


def test_prefetch_keeps_order_runs_ahead_and_raises_the_producers_error():
    produced = []

    def slow_items():
        for i in range(5):
            produced.append(i)
            yield i

    consumer = prefetch(slow_items(), depth=2)
    assert next(consumer) == 0
    deadline = time.monotonic() + 10
    while len(produced) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(produced) >= 3  # the producer ran ahead while the consumer was busy
    assert list(consumer) == [1, 2, 3, 4]

    def failing():
        yield 1
        raise ValueError("tokeniser broke")

    with pytest.raises(ValueError, match="tokeniser broke"):
        list(prefetch(failing()))


def test_prefetch_stops_its_thread_when_the_consumer_leaves():
    consumer = prefetch(iter(range(1000)), depth=1)
    assert next(consumer) == 0
    assert any(t.name == "bge_eval-prefetch" for t in threading.enumerate())
    consumer.close()
    assert not any(t.name == "bge_eval-prefetch" for t in threading.enumerate())


def test_chunk_bounds_grow_then_stay():
    # sizes 10, 12, 15, then 15 (growth 1.25, at least one more text each time)
    assert chunk_bounds(100, first=10, largest=15, growth=1.25) == [
        (0, 10), (10, 22), (22, 37), (37, 52), (52, 67), (67, 82), (82, 97), (97, 100)]
    assert chunk_bounds(6, first=1, largest=3, growth=1.25) == [(0, 1), (1, 3), (3, 6)]
    assert chunk_bounds(100, first=10, largest=37, growth=2) == [(0, 10), (10, 30), (30, 67), (67, 100)]
    assert chunk_bounds(5, first=10, largest=37, growth=1.25) == [(0, 5)]
    assert chunk_bounds(0, first=10, largest=37, growth=1.25) == []


def test_chunked_pipeline_equals_one_chunk(tiny_bge):
    one_chunk = PipelineSettings(first_chunk_texts=len(TEXTS), chunk_texts=len(TEXTS))
    assert len(chunk_jobs(TEXTS, one_chunk)) == 1
    whole = make(tiny_bge, batch_size=16, pipeline=one_chunk).embed(TEXTS)
    # 10, 12, 15, ... 37, 37 texts a chunk, tokenised in the background
    chunked_settings = PipelineSettings(first_chunk_texts=10, chunk_texts=37)
    assert len(chunk_jobs(TEXTS, chunked_settings)) > 5
    chunked = make(tiny_bge, batch_size=16, pipeline=chunked_settings).embed(TEXTS)
    np.testing.assert_allclose(chunked, whole, atol=1e-6)
    assert np.all(np.isfinite(chunked)) and np.allclose(np.linalg.norm(chunked, axis=1), 1, atol=1e-5)


def test_compiled_model_gives_the_same_embeddings(tiny_bge):
    eager = make(tiny_bge, batch_size=32).embed(TEXTS[:80])
    compiled_encoder = make(tiny_bge, batch_size=32, compile_model=True)
    assert type(compiled_encoder.engine.model).__name__ == "OptimizedModule"
    np.testing.assert_allclose(compiled_encoder.embed(TEXTS[:80]), eager, atol=1e-5)
