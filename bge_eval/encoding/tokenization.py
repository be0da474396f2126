"""The tokenising stage: texts -> token ids -> planned, padded batches, chunk by chunk.

Texts go longest first by UTF-8 bytes in chunks that start small and grow; a ChunkPlanner
sorts each chunk by tokens and keeps back the rows the next chunk may still match, so batches
carry about the padding of one sort over all texts. Token ids come from the tokenizer's Rust
backend called directly once it has given the tokenizer's own ids on probe texts. On a GPU
the tokenising runs in child processes (TokenizerProcesses), so no tokenising thread holds the
GIL the model's thread needs (docs/performance.md has the design and the measurements).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from .._util import Serve, WorkerPool
from ..errors import BgeEvalError
from .batching import PaddedBatch, plan_padded, prefetch
from .settings import PROCESS_VARIABLE, PipelineSettings

logger = logging.getLogger(__name__)

HOLD_PROBE_TEXTS = 32  # a chunk's shortest texts (by bytes): the next chunk's may be as long in tokens
HOLD_MAX_TEXTS = 2_048  # most rows kept back (texts whose bytes say little of their tokens)

PROBE_TEXTS = (  # what a backend must tokenise exactly as the tokenizer's own call
    "", " ", "Hello, World!", "naïve café résumé ÀÉÎ", "北京是中国的首都。为这个句子生成表示以用于检索相关文章：",
    "emoji 🙂 and\ttabs\nnew lines", "[CLS] [SEP] [PAD] <s> </s> <pad> look special",
    "Represent this sentence for searching relevant passages: what is BGE?", "long " * 700,
)


@dataclass(frozen=True)
class BatchLimits:
    """How a chunk's token ids become padded batches (batching.plan_padded).

    keep_back: whether the planner keeps rows back for the next chunk (less padding); False
    for an engine that computes no padding (packed tokens), so each chunk goes at once."""

    max_rows: int
    token_budget: int | None
    pad_multiple: int
    pad_id: int
    keep_back: bool = True


def chunk_bounds(total: int, first: int, largest: int, growth: float) -> list[tuple[int, int]]:
    """(start, end) of consecutive chunks: sizes grow by `growth` from `first` up to `largest`."""
    size = min(first, largest)
    bounds, start = [], 0
    while start < total:
        bounds.append((start, min(total, start + size)))
        start += size
        size = min(max(size + 1, int(size * growth)), largest)
    return bounds


def length_order(texts: Sequence[str]) -> np.ndarray:
    """Indices of texts, longest first by UTF-8 bytes (ties in the given order): a Chinese
    character is 3 bytes and about one token, an English token about 4 to 5 bytes."""
    lengths = np.fromiter((len(text.encode()) for text in texts), dtype=np.int64, count=len(texts))
    return np.argsort(-lengths, kind="stable")


class ChunkPlanner:
    """Padded batches from chunks of one call's texts, taken in length_order.

    Each chunk's token ids join the rows kept back from the chunk before and are planned
    longest first. Bytes only approximate tokens, so rows no longer than the longest of
    this chunk's HOLD_PROBE_TEXTS shortest texts (what the next chunk's texts may reach) are
    kept back, and so is the last, partly filled batch; the last chunk plans every row."""

    def __init__(self, limits: BatchLimits) -> None:
        self.limits = limits
        self._held_ids: list[Sequence[int]] = []
        self._held_rows = np.zeros(0, dtype=np.int64)

    def plan(self, rows: np.ndarray, token_ids: Sequence[Sequence[int]], last: bool) -> list[PaddedBatch]:
        """rows: where each text's embedding goes; token_ids: theirs, in length_order."""
        ids = [*self._held_ids, *token_ids]
        all_rows = np.concatenate([self._held_rows, np.asarray(rows, dtype=np.int64)])
        if last or not self.limits.keep_back:
            planned, kept = list(range(len(ids))), []
        else:
            reach = max(len(t) for t in token_ids[-HOLD_PROBE_TEXTS:])
            planned = [i for i, t in enumerate(ids) if len(t) > reach]
            kept = sorted((i for i, t in enumerate(ids) if len(t) <= reach), key=lambda i: -len(ids[i]))
            overflow = max(0, len(kept) - HOLD_MAX_TEXTS)  # the longest of them go now
            planned, kept = planned + kept[:overflow], kept[overflow:]
        limits = self.limits
        batches = plan_padded(ids, planned, limits.max_rows, limits.token_budget, limits.pad_multiple, limits.pad_id)
        if not last and self.limits.keep_back and batches:
            kept = [*batches.pop().rows.tolist(), *kept]
        self._held_ids = [ids[i] for i in kept]
        self._held_rows = all_rows[np.asarray(kept, dtype=np.int64)]
        return [PaddedBatch(all_rows[b.rows], b.input_ids, b.lengths) for b in batches]


def _configured_backend(tokenizer_json: str, max_length: int, truncation_side: str):
    from tokenizers import Tokenizer

    backend = Tokenizer.from_str(tokenizer_json)
    backend.no_padding()
    backend.enable_truncation(max_length, direction=truncation_side)
    return backend


def _backend_ids(backend, texts: Sequence[str]) -> list[list[int]]:
    encode = getattr(backend, "encode_batch_fast", backend.encode_batch)  # fast: no offsets
    return [encoding.ids for encoding in encode(list(texts))]


class TokenIds:
    """texts -> token ids with special tokens, truncated to max_length.

    backend_json: the verified Rust backend as JSON (what a tokenizer process loads), or None
    when the tokenizer's own call is used."""

    def __init__(self, tokenizer, max_length: int) -> None:
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.truncation_side = getattr(tokenizer, "truncation_side", "right")
        self.backend_json: str | None = None
        self._backend = None
        backend = getattr(tokenizer, "backend_tokenizer", None)
        if backend is None:
            return
        try:
            tokenizer_json = backend.to_str()
            candidate = _configured_backend(tokenizer_json, max_length, self.truncation_side)
            agrees = _backend_ids(candidate, PROBE_TEXTS) == self._own_call(PROBE_TEXTS)
            problem = "gives other ids than the tokenizer on probe texts"
        except Exception as exc:  # an unusual tokenizer: its own call is always right
            agrees, problem = False, f"failed ({type(exc).__name__}: {exc})"
        if agrees:
            self.backend_json, self._backend = tokenizer_json, candidate
        else:
            logger.warning("tokenizer backend %s; tokenising through the tokenizer's own call", problem)

    def __call__(self, texts: Sequence[str]) -> list[list[int]]:
        if self._backend is not None:
            return _backend_ids(self._backend, texts)
        return self._own_call(texts)

    def _own_call(self, texts: Sequence[str]) -> list[list[int]]:
        return self.tokenizer(list(texts), truncation=True, max_length=self.max_length, padding=False,
                              return_attention_mask=False, return_token_type_ids=False)["input_ids"]


@dataclass(frozen=True)
class ChunkJob:
    """One chunk of a call, for a tokenizer process (first, last: its first and last chunk of
    the call; a process's planner keeps rows back from one of its chunks to its next)."""

    job_id: int
    rows: np.ndarray
    texts: list[str]
    first: bool
    last: bool


def chunk_jobs(texts: Sequence[str], settings: PipelineSettings, first_job: int = 0,
               processes: int = 1) -> list[ChunkJob]:
    """A call's texts in length_order, cut at chunk_bounds; chunk k goes to process k % processes."""
    order = length_order(texts)
    bounds = chunk_bounds(len(texts), settings.first_chunk_texts, settings.chunk_texts, settings.chunk_growth)
    return [ChunkJob(first_job + k, order[start:end], [texts[i] for i in order[start:end]], k < processes,
                     k >= len(bounds) - processes) for k, (start, end) in enumerate(bounds)]


def planned_chunks(texts: Sequence[str], token_ids: TokenIds, limits: BatchLimits,
                   settings: PipelineSettings) -> Iterator[list[PaddedBatch]]:
    """In this process: the texts' padded batches, chunk by chunk (chunks that plan no batch
    are skipped)."""
    planner = ChunkPlanner(limits)
    for job in chunk_jobs(texts, settings):
        batches = planner.plan(job.rows, token_ids(job.texts), job.last)
        if batches:
            yield batches


def _tokenizer_worker(tokenizer_json: str, max_length: int, truncation_side: str, limits: BatchLimits,
                      threads: int) -> tuple[None, Serve]:
    """A tokenizer process's setup (run on the worker pool): its backend, and how it serves chunks."""
    os.environ["TOKENIZERS_PARALLELISM"] = "true"
    os.environ["RAYON_NUM_THREADS"] = str(threads)  # the Rust pool is sized when first used
    backend = _configured_backend(tokenizer_json, max_length, truncation_side)
    encode = getattr(backend, "encode_batch_fast", backend.encode_batch)

    def serve(jobs: Iterator[tuple[int, ChunkJob]]) -> Iterator[tuple[int, list[PaddedBatch]]]:
        planner = ChunkPlanner(limits)
        encoded = ((job, encode(job.texts)) for _, job in jobs)
        # the Rust work of the next chunk (the GIL released) overlaps this chunk's Python work
        for job, encodings in prefetch(encoded, depth=1):
            if job.first:  # each call plans afresh: rows kept back by an abandoned call are dropped
                planner = ChunkPlanner(limits)
            yield job.job_id, planner.plan(job.rows, [encoding.ids for encoding in encodings], job.last)

    return None, serve


class TokenizerProcesses:
    """Child processes that tokenise and plan chunks, taking turns (chunk k in process
    k % processes), up to settings.chunks_ahead chunks ahead of the consumer; their planned
    chunks come back in order. Started on first use.

    With one process the batches are planned_chunks' own; with several, each process's
    planner sees every n-th chunk, so batches differ (a little more padding, no effect on
    packed batches), never the rows or their token ids."""

    def __init__(self, token_ids: TokenIds, limits: BatchLimits, settings: PipelineSettings) -> None:
        if token_ids.backend_json is None:
            raise ValueError("a tokenizer process needs a verified tokenizer backend")
        self.settings = settings
        self.processes = settings.process_count()
        self.threads = settings.rust_threads(self.processes)  # each process's Rust threads
        self._args = (token_ids.backend_json, token_ids.max_length, token_ids.truncation_side, limits, self.threads)
        self._pool: WorkerPool | None = None
        self._next_job = 0

    def planned_chunks(self, texts: Sequence[str]) -> Iterator[list[PaddedBatch]]:
        # results of an abandoned earlier call carry older job ids, and are dropped
        first_job = self._next_job
        jobs = chunk_jobs(texts, self.settings, first_job, self.processes)
        self._next_job += len(jobs)
        if not jobs:
            return
        pool = self._start()
        finished: dict[int, list[PaddedBatch]] = {}
        sent = 0
        for index, job in enumerate(jobs):
            while sent < len(jobs) and sent <= index + self.settings.chunks_ahead:
                pool.send(sent % self.processes, jobs[sent].job_id, jobs[sent])
                sent += 1
            while job.job_id not in finished:
                try:
                    job_id, batches = pool.receive()
                except BgeEvalError:  # the pool has stopped its workers
                    self._pool = None
                    raise
                if job_id >= first_job:
                    finished[job_id] = batches
            batches = finished.pop(job.job_id)
            if batches:
                yield batches

    @property
    def worker_processes(self) -> list:
        """The running tokenizer processes (none before first use or after close)."""
        return self._pool.processes if self._pool is not None else []

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def _start(self) -> WorkerPool:
        if self._pool is None:
            self._pool = WorkerPool(
                _tokenizer_worker, [self._args] * self.processes,
                [f"tokenizer process {n}" for n in range(self.processes)],
                hint=f"set {PROCESS_VARIABLE}=0 to tokenise in the main process")
        return self._pool
