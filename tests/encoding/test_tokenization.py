"""The tokenising stage: the Rust backend called directly gives the tokenizer's own ids, and
the tokenizer process gives what in-process tokenising gives."""

import logging
from dataclasses import replace

import numpy as np
import pytest
from transformers import AutoTokenizer

from bge_eval.encoding import tokenization
from bge_eval.encoding.batching import plan_padded
from bge_eval.encoding.settings import PipelineSettings
from bge_eval.encoding.text_embedder import TextEmbedder
from bge_eval.encoding.tokenization import (
    BatchLimits,
    ChunkPlanner,
    TokenIds,
    TokenizerProcesses,
    length_order,
    planned_chunks,
)
from bge_eval.errors import BgeEvalError
from bge_eval.models import resolve_model
from tests.helpers import assert_workers_exit_when_parent_killed

TEXTS = [f"{'Ünïcode café 北京 ' * (i % 5)}passage {i} " + "alpha beta gamma " * (i % 97) for i in range(400)]
LIMITS = BatchLimits(max_rows=16, token_budget=None, pad_multiple=1, pad_id=0)
SETTINGS = PipelineSettings()


def own_call(tokenizer, texts, max_length=512):
    return tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]


def make(checkpoint, **kwargs):
    resolved = resolve_model("BAAI/bge-small-en-v1.5", model_path=checkpoint)
    return TextEmbedder(resolved.checkpoint, resolved.spec, device="cpu", batch_size=16, **kwargs)


def as_rows(chunks):
    """{row: (token ids)} over all planned batches."""
    return {int(row): tuple(ids[:length]) for chunk in chunks for batch in chunk
            for row, ids, length in zip(batch.rows, batch.input_ids.tolist(), batch.lengths, strict=True)}


def test_backend_gives_the_tokenizers_own_ids(minilm_path):
    tokenizer = AutoTokenizer.from_pretrained(str(minilm_path))
    token_ids = TokenIds(tokenizer, 512)
    assert token_ids.backend_json is not None  # the direct path is in use
    texts = [*TEXTS, "word " * 1000, "", "[SEP] in the middle"]
    assert token_ids(texts) == own_call(tokenizer, texts)
    assert max(len(ids) for ids in token_ids(texts)) == 512
    assert TokenIds(tokenizer, 32)(texts) == own_call(tokenizer, texts, 32)


def test_backend_of_a_sentencepiece_style_tokenizer(tmp_path):
    """XLM-R's kind (bge-m3, the rerankers): a Unigram model with <s> ... </s>."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.Unigram())
    backend.normalizer = normalizers.NFKC()
    backend.pre_tokenizer = pre_tokenizers.Metaspace()
    special = ["<s>", "<pad>", "</s>", "<unk>"]
    backend.train_from_iterator(TEXTS, trainers.UnigramTrainer(vocab_size=200, special_tokens=special,
                                                                unk_token="<unk>"))
    ends = [(token, backend.token_to_id(token)) for token in ("<s>", "</s>")]
    backend.post_processor = processors.TemplateProcessing(single="<s> $A </s>", special_tokens=ends)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>", eos_token="</s>",
                                        pad_token="<pad>", unk_token="<unk>")
    token_ids = TokenIds(tokenizer, 64)
    assert token_ids.backend_json is not None
    assert token_ids(TEXTS) == own_call(tokenizer, TEXTS, 64)


def test_a_disagreeing_backend_leaves_the_tokenizers_own_call(minilm_path, monkeypatch, caplog):
    tokenizer = AutoTokenizer.from_pretrained(str(minilm_path))
    monkeypatch.setattr(tokenization, "_backend_ids", lambda backend, texts: [[0] for _ in texts])
    with caplog.at_level(logging.WARNING, logger="bge_eval.tokenization"):
        token_ids = TokenIds(tokenizer, 512)
    assert token_ids.backend_json is None
    assert "gives other ids than the tokenizer" in caplog.text
    assert token_ids(TEXTS[:50]) == own_call(tokenizer, TEXTS[:50])
    with pytest.raises(ValueError, match="verified tokenizer backend"):
        TokenizerProcesses(token_ids, LIMITS, PipelineSettings())


def test_process_plans_what_this_process_plans_and_drops_an_abandoned_calls_results(minilm_path):
    settings = PipelineSettings(first_chunk_texts=16, chunk_texts=64)  # 16, 20, 25, ... 64, 64: several chunks
    token_ids = TokenIds(AutoTokenizer.from_pretrained(str(minilm_path)), 512)
    expected = list(planned_chunks(TEXTS, token_ids, LIMITS, settings))
    worker = TokenizerProcesses(token_ids, LIMITS, settings)
    try:
        abandoned = worker.planned_chunks(TEXTS[::-1])
        next(abandoned)
        abandoned.close()  # its later chunks are still made, then dropped
        got = list(worker.planned_chunks(TEXTS))
        assert len(got) == len(expected) > 4
        assert as_rows(got) == as_rows(expected)
        assert [[b.rows.tolist() for b in chunk] for chunk in got] == [[b.rows.tolist() for b in chunk]
                                                                       for chunk in expected]
        assert list(worker.planned_chunks([])) == []
    finally:
        worker.close()
    assert worker.worker_processes == []


def test_two_processes_plan_every_row_once_with_its_ids(minilm_path):
    """Chunks alternate between the processes; each one's planner keeps rows back for its own
    next chunk and plans them all at its last, so no row is lost or repeated."""
    settings = PipelineSettings(first_chunk_texts=16, chunk_texts=64, chunks_ahead=2, tokenizer_processes=2)
    token_ids = TokenIds(AutoTokenizer.from_pretrained(str(minilm_path)), 512)
    expected = {row: tuple(ids) for row, ids in enumerate(token_ids(TEXTS))}
    workers = TokenizerProcesses(token_ids, LIMITS, settings)
    try:
        abandoned = workers.planned_chunks(TEXTS[::-1])
        next(abandoned)
        abandoned.close()
        for texts in (TEXTS, TEXTS[:40]):  # several chunks each; two: one per process
            got = list(workers.planned_chunks(texts))
            rows = [int(row) for chunk in got for batch in chunk for row in batch.rows]
            assert sorted(rows) == list(range(len(texts)))
            assert as_rows(got) == {row: expected[row] for row in range(len(texts))}
        assert len({process.pid for process in workers.worker_processes}) == 2
    finally:
        workers.close()
    assert workers.worker_processes == []


def test_process_and_thread_settings_are_read_and_checked():
    defaults = PipelineSettings.from_environment({})
    assert defaults.process_count(cpu_count=16) == 2
    assert defaults.rust_threads(1, cpu_count=16) == 14 and defaults.rust_threads(2, cpu_count=16) == 7
    assert defaults.process_count(cpu_count=4) == 1 and defaults.rust_threads(1, cpu_count=4) == 2
    # RAYON_NUM_THREADS=0 is Rust's own default: ours stands
    assert PipelineSettings.from_environment({"RAYON_NUM_THREADS": "0"}).rust_threads(1, cpu_count=4) == 2
    assert PipelineSettings.from_environment({"RAYON_NUM_THREADS": "3"}).rust_threads(1, cpu_count=4) == 3
    both = PipelineSettings.from_environment({"RAYON_NUM_THREADS": "3", "BGE_EVAL_TOKENIZER_THREADS": "5",
                                             "BGE_EVAL_TOKENIZER_PROCESSES": "3"})
    assert both.process_count(cpu_count=4) == 3 and both.rust_threads(3, cpu_count=4) == 5
    assert PipelineSettings.from_environment({"BGE_EVAL_TOKENIZER_PROCESS": "0"}).uses_processes(on_gpu=True) is False
    assert PipelineSettings.from_environment({"BGE_EVAL_TOKENIZER_PROCESS": "1"}).uses_processes(on_gpu=False) is True
    assert defaults.uses_processes(on_gpu=True) and not defaults.uses_processes(on_gpu=False)
    for bad in ("0", "two", "-1"):
        with pytest.raises(BgeEvalError, match="BGE_EVAL_TOKENIZER_PROCESSES=.*whole number"):
            PipelineSettings.from_environment({"BGE_EVAL_TOKENIZER_PROCESSES": bad})


def test_embeddings_through_the_tokenizer_process_equal_in_process(tiny_bge):
    settings = PipelineSettings(process_min_texts=100, first_chunk_texts=50)
    in_process = make(tiny_bge, pipeline=replace(settings, tokenizer_process=False))
    assert in_process.tokenizer_process is None and make(tiny_bge, pipeline=settings).tokenizer_process is None
    through_process = make(tiny_bge, pipeline=replace(settings, tokenizer_process=True))
    assert through_process.tokenizer_process.worker_processes == []  # started on first use only
    through_two = make(tiny_bge, pipeline=replace(settings, tokenizer_process=True, tokenizer_processes=2))
    try:
        expected = in_process.embed(TEXTS)
        np.testing.assert_array_equal(through_process.embed(TEXTS), expected)
        assert through_process.tokenizer_process.worker_processes[0].is_alive()  # used, and kept for the next call
        # two processes plan other batches (other padding): equal up to float rounding
        np.testing.assert_allclose(through_two.embed(TEXTS), expected, atol=1e-5)
        assert len(through_two.tokenizer_process.worker_processes) == 2
    finally:
        through_process.close()
        through_two.close()


def test_a_failing_tokenizer_process_is_a_clear_error(minilm_path):
    token_ids = TokenIds(AutoTokenizer.from_pretrained(str(minilm_path)), 512)
    token_ids.backend_json = "{not a tokenizer"
    worker = TokenizerProcesses(token_ids, LIMITS, PipelineSettings())
    with pytest.raises(BgeEvalError, match="tokenizer process 0 failed.*BGE_EVAL_TOKENIZER_PROCESS=0"):
        list(worker.planned_chunks(TEXTS))
    assert worker.worker_processes == []


def test_the_tokenizer_process_exits_when_the_run_is_killed(minilm_path, tmp_path):
    assert_workers_exit_when_parent_killed(tmp_path / "hold.py", (
        "import sys\n"
        "from transformers import AutoTokenizer\n"
        "from bge_eval.encoding.settings import PipelineSettings\n"
        "from bge_eval.encoding.tokenization import BatchLimits, TokenIds, TokenizerProcesses\n"
        "if __name__ == '__main__':\n"
        f"    token_ids = TokenIds(AutoTokenizer.from_pretrained({str(minilm_path)!r}), 512)\n"
        "    settings = PipelineSettings(tokenizer_processes=2)\n"
        "    worker = TokenizerProcesses(token_ids, BatchLimits(16, None, 1, 0), settings)\n"
        "    list(worker.planned_chunks(['some text'] * 10))\n"
        "    print(' '.join(str(process.pid) for process in worker.worker_processes), flush=True)\n"))


def padding(chunks):
    return sum(batch.padded_tokens - int(batch.lengths.sum()) for chunk in chunks for batch in chunk)


def test_chunks_pad_about_as_little_as_one_sort_over_all_texts(minilm_path, monkeypatch):
    """Bytes only approximate tokens (long words are several tokens, Chinese one per character)."""
    rng = np.random.default_rng(0)
    words = ["a", "an", "the", "extraordinarily", "internationalisation", "cat", "photosynthesis", "ok", "北京"]
    texts = [" ".join(rng.choice(words, size=int(rng.integers(1, 120)))) for _ in range(1500)]
    token_ids = TokenIds(AutoTokenizer.from_pretrained(str(minilm_path)), 512)
    ids = token_ids(texts)
    chunks = list(planned_chunks(texts, token_ids, LIMITS, SETTINGS))
    assert len(chunks) > 3
    assert sorted(as_rows(chunks).items()) == [(row, tuple(row_ids)) for row, row_ids in enumerate(ids)]
    one_sort = padding([plan_padded(ids, range(len(ids)), LIMITS.max_rows, None, 1, 0)])
    in_given_order = padding([plan_padded(ids, range(start, end), LIMITS.max_rows, None, 1, 0)
                              for start, end in tokenization.chunk_bounds(len(ids), 32, 512, 1.25)])
    assert padding(chunks) <= 1.05 * one_sort < in_given_order / 3
    monkeypatch.setattr(tokenization, "HOLD_MAX_TEXTS", 0)  # nothing kept back but partial batches
    assert padding(list(planned_chunks(texts, token_ids, LIMITS, SETTINGS))) > 1.2 * one_sort


def test_the_planner_keeps_back_what_the_next_chunk_may_match(monkeypatch):
    monkeypatch.setattr(tokenization, "HOLD_PROBE_TEXTS", 2)
    planner = ChunkPlanner(BatchLimits(max_rows=2, token_budget=None, pad_multiple=1, pad_id=0))
    lengths = [9, 8, 8, 7, 3, 5, 4]  # by bytes longest first; the 2 shortest reach 5 tokens
    first = planner.plan(np.arange(7) + 100, [[1] * n for n in lengths], last=False)
    # rows over 5 tokens are planned: (9, 8) goes; (8, 7), the last batch planned, waits with the rest
    assert [b.rows.tolist() for b in first] == [[100, 101]]
    second = planner.plan(np.array([200, 201]), [[2] * 6, [2] * 2], last=True)
    assert [b.lengths.tolist() for b in second] == [[8, 7], [6, 5], [4, 3], [2]]
    assert sorted(r for b in second for r in b.rows.tolist()) == [102, 103, 104, 105, 106, 200, 201]
    # for packed tokens (no padding computed) nothing is kept back: each chunk's rows go at once
    at_once = ChunkPlanner(BatchLimits(max_rows=2, token_budget=None, pad_multiple=1, pad_id=0, keep_back=False))
    first = at_once.plan(np.arange(7) + 100, [[1] * n for n in lengths], last=False)
    assert [b.lengths.tolist() for b in first] == [[9, 8], [8, 7], [5, 4], [3]]
    assert sorted(r for b in first for r in b.rows.tolist()) == list(range(100, 107))


def test_length_order_is_longest_first_and_stable():
    assert length_order(["bb", "a", "ccc", "dd", ""]).tolist() == [2, 0, 3, 1, 4]
    assert length_order([]).tolist() == []
    assert length_order(["abcd", "北京"]).tolist() == [1, 0]  # 6 bytes (two tokens) before 4 (one or two)
