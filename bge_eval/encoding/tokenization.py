"""The tokenising stage: texts -> token ids -> planned, padded batches, chunk by chunk.

Texts are taken longest first by UTF-8 bytes (cheap, before tokenising; a closer guess of
tokens than characters across scripts), in chunks that start small (the device starts early)
and stay small (the tokenizer keeps ahead of the device), and a ChunkPlanner sorts each chunk
by tokens and keeps back the rows the next chunk may still match, so batches carry about the
padding of one sort over all the texts.

Token ids come from the tokenizer's Rust backend called directly (no offsets, no Python
wrapping per text) when it gives the tokenizer's own ids on probe texts; otherwise from the
tokenizer's own call.

On a GPU the model's thread launches hundreds of small kernels per batch and needs the GIL
for each one, while a tokenising thread in the same process holds the GIL through its Python
work (turning ids into lists and padded arrays) for up to the interpreter's switch interval
at a time; measured here, a Python-busy thread slowed a loop of small torch operations 850
times. So on a GPU the tokenising runs in child processes (TokenizerProcesses: two on 8
cores or more, taking turns by chunk; BGE_EVAL_TOKENIZER_PROCESSES sets how many), up to
CHUNKS_AHEAD chunks ahead of the model, and the parent only receives finished batches.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import queue
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import BgeEvalError
from .batching import PaddedBatch, plan_padded, prefetch, worker_jobs

logger = logging.getLogger(__name__)

CHUNK_TEXTS = 512  # texts tokenised and planned together
FIRST_CHUNK_TEXTS = 32  # chunks grow from this, so the device starts early
CHUNK_GROWTH = 1.25  # each chunk this much larger than the one before, up to CHUNK_TEXTS: while the
# device is fed from the first chunks alone, the tokenizer must make the next one in the time the
# device takes for this one
CHUNKS_AHEAD = 32  # chunks the tokenizer processes may run ahead of the model: a deep buffer,
# since the tokenizer and the device run at close rates and each is the slower on some chunks
HOLD_PROBE_TEXTS = 32  # a chunk's shortest texts (by bytes): the next chunk's may be as long in tokens
HOLD_MAX_TEXTS = 4 * CHUNK_TEXTS  # most rows kept back (texts whose bytes say little of their tokens)
PROCESS_MIN_TEXTS = 2_048  # fewer texts are tokenised in this process
PROCESS_VARIABLE = "BGE_EVAL_TOKENIZER_PROCESS"  # 0: never a tokenizer process; 1: on CPU too
PROCESSES_VARIABLE = "BGE_EVAL_TOKENIZER_PROCESSES"  # how many tokenizer processes (default: process_count)
THREADS_VARIABLE = "BGE_EVAL_TOKENIZER_THREADS"  # each one's Rust threads (default: rust_threads)
_POLL_S = 1.0

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


def chunk_bounds(total: int, first: int | None = None, largest: int | None = None,
                 growth: float | None = None) -> list[tuple[int, int]]:
    """(start, end) of consecutive chunks: sizes grow by `growth` (CHUNK_GROWTH) from `first`
    up to `largest`."""
    size, largest, growth = first or FIRST_CHUNK_TEXTS, largest or CHUNK_TEXTS, growth or CHUNK_GROWTH
    size = min(size, largest)
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


def chunk_jobs(texts: Sequence[str], first_job: int = 0, processes: int = 1) -> list[ChunkJob]:
    """A call's texts in length_order, cut at chunk_bounds; chunk k goes to process k % processes."""
    order = length_order(texts)
    bounds = chunk_bounds(len(texts))
    return [ChunkJob(first_job + k, order[start:end], [texts[i] for i in order[start:end]], k < processes,
                     k >= len(bounds) - processes) for k, (start, end) in enumerate(bounds)]


def planned_chunks(texts: Sequence[str], token_ids: TokenIds, limits: BatchLimits) -> Iterator[list[PaddedBatch]]:
    """In this process: the texts' padded batches, chunk by chunk (chunks that plan no batch
    are skipped)."""
    planner = ChunkPlanner(limits)
    for job in chunk_jobs(texts):
        batches = planner.plan(job.rows, token_ids(job.texts), job.last)
        if batches:
            yield batches


def _whole_number(variable: str, what: str) -> int | None:
    setting = os.environ.get(variable, "")
    if not setting:
        return None
    if not setting.isdigit() or int(setting) < 1:
        raise BgeEvalError(f"{variable}={setting!r}: give a whole number of {what}, 1 or more (or unset it).")
    return int(setting)


def process_count() -> int:
    """Tokenizer processes: BGE_EVAL_TOKENIZER_PROCESSES, else 2 on 8 cores or more (one
    process's Python work, serial beside its Rust threads, bounds it there), else 1."""
    return _whole_number(PROCESSES_VARIABLE, "processes") or (2 if (os.cpu_count() or 1) >= 8 else 1)


def rust_threads(processes: int) -> int:
    """Each tokenizer process's Rust threads: BGE_EVAL_TOKENIZER_THREADS (or RAYON_NUM_THREADS,
    where 0 means Rust's own default, so ours), else the cores but two (the parent's model
    thread, the processes' Python work) shared out."""
    rayon = os.environ.get("RAYON_NUM_THREADS", "")
    return (_whole_number(THREADS_VARIABLE, "threads")
            or (_whole_number("RAYON_NUM_THREADS", "threads") if rayon.strip("0") else None)
            or max(1, ((os.cpu_count() or 2) - 2) // processes))


def _worker_main(tokenizer_json: str, max_length: int, truncation_side: str, limits: BatchLimits, threads: int,
                 inbox: mp.Queue, outbox: mp.Queue) -> None:
    try:
        os.environ["TOKENIZERS_PARALLELISM"] = "true"
        os.environ["RAYON_NUM_THREADS"] = str(threads)  # the Rust pool is sized when first used
        backend = _configured_backend(tokenizer_json, max_length, truncation_side)
        encode = getattr(backend, "encode_batch_fast", backend.encode_batch)
        outbox.put(("ready",))
        # the Rust work of the next chunk (the GIL released) overlaps this chunk's Python work
        for job, encodings in prefetch(_encoded_jobs(inbox, encode), depth=1):
            if job.first:  # each call plans afresh: rows kept back by an abandoned call are dropped
                planner = ChunkPlanner(limits)
            ids = [encoding.ids for encoding in encodings]
            outbox.put(("done", job.job_id, planner.plan(job.rows, ids, job.last)))
    except BaseException:
        outbox.put(("error", traceback.format_exc(limit=6)))


def _encoded_jobs(inbox: mp.Queue, encode) -> Iterator[tuple[ChunkJob, list]]:
    """(job, its texts' encodings) per job."""
    for job in worker_jobs(inbox, _POLL_S):
        yield job, encode(job.texts)


@dataclass
class _Child:
    process: mp.Process
    inbox: mp.Queue
    outbox: mp.Queue


class TokenizerProcesses:
    """Child processes that tokenise and plan chunks, taking turns (chunk k in process
    k % processes), up to CHUNKS_AHEAD chunks ahead of the consumer; their planned chunks
    come back in order. Started on first use.

    With one process the batches are planned_chunks' own; with several, each process's
    planner sees every n-th chunk, so batches differ (a little more padding, no effect on
    packed batches), never the rows or their token ids."""

    def __init__(self, token_ids: TokenIds, limits: BatchLimits, processes: int | None = None) -> None:
        if token_ids.backend_json is None:
            raise ValueError("a tokenizer process needs a verified tokenizer backend")
        self.processes = processes or process_count()
        self.threads = rust_threads(self.processes)  # each process's Rust threads
        self._args = (token_ids.backend_json, token_ids.max_length, token_ids.truncation_side, limits, self.threads)
        self._children: list[_Child] = []
        self._next_job = 0

    def planned_chunks(self, texts: Sequence[str]) -> Iterator[list[PaddedBatch]]:
        # results of an abandoned earlier call carry older job ids
        jobs = chunk_jobs(texts, self._next_job, self.processes)
        if jobs:
            self._start()
        self._next_job += len(jobs)
        sent = 0
        for index, job in enumerate(jobs):
            while sent < len(jobs) and sent <= index + CHUNKS_AHEAD:
                self._children[sent % self.processes].inbox.put(jobs[sent])
                sent += 1
            batches = self._receive(self._children[index % self.processes], job.job_id)
            if batches:
                yield batches

    def close(self) -> None:
        for child in self._children:
            if child.process.is_alive():
                child.inbox.put(None)
        for child in self._children:
            child.process.join(timeout=10)
            if child.process.is_alive():
                child.process.terminate()
        self._children = []

    def _start(self) -> None:
        if self._children:
            return
        context = mp.get_context("spawn")  # never fork a process that may hold CUDA
        for number in range(self.processes):
            inbox, outbox = context.Queue(), context.Queue()
            process = context.Process(target=_worker_main, name=f"bge_eval-tokenizer-{number}", daemon=True,
                                      args=(*self._args, inbox, outbox))
            process.start()
            self._children.append(_Child(process, inbox, outbox))
        for child in self._children:
            self._receive(child, None)

    def _receive(self, child: _Child, job_id: int | None) -> list[PaddedBatch]:
        """The result of job_id (None: the ready message); older jobs' results are dropped."""
        while True:
            try:
                message = child.outbox.get(timeout=_POLL_S)
            except queue.Empty:
                if not child.process.is_alive():
                    code = child.process.exitcode
                    self.close()
                    raise BgeEvalError(f"a tokenizer process exited with code {code}; see its output above, "
                                       f"or set {PROCESS_VARIABLE}=0 to tokenise in the main process.") from None
                continue
            if message[0] == "error":
                self.close()
                raise BgeEvalError(f"a tokenizer process failed ({PROCESS_VARIABLE}=0 tokenises in the main "
                                   f"process):\n{message[1]}")
            if message[0] == "ready" and job_id is None:
                return []
            if message[0] == "done" and message[1] == job_id:
                return message[2]
