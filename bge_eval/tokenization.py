"""The tokenising stage: texts -> token ids -> planned, padded batches, chunk by chunk.

Token ids come from the tokenizer's Rust backend called directly (no offsets, no Python
wrapping per text) when it gives the tokenizer's own ids on probe texts; otherwise from the
tokenizer's own call.

On a GPU the model's thread launches hundreds of small kernels per batch and needs the GIL
for each one, while a tokenising thread in the same process holds the GIL through its Python
work (turning ids into lists and padded arrays) for up to the interpreter's switch interval
at a time; measured here, a Python-busy thread slowed a loop of small torch operations 850
times. So on a GPU the tokenising runs in a child process (TokenizerProcess), a few chunks
ahead of the model, and the parent only receives finished batches.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import queue
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from .batching import PaddedBatch, plan_padded, prefetch, worker_jobs
from .errors import BgeEvalError

logger = logging.getLogger(__name__)

CHUNK_TEXTS = 8_192  # texts tokenised, sorted and batched together
FIRST_CHUNK_TEXTS = 1_024  # chunks grow from this, so the device starts early
CHUNKS_AHEAD = 3  # chunks the tokenizer process may run ahead of the model
PROCESS_MIN_TEXTS = 2_048  # fewer texts are tokenised in this process
PROCESS_VARIABLE = "BGE_EVAL_TOKENIZER_PROCESS"  # 0: never a tokenizer process; 1: on CPU too
_POLL_S = 1.0

PROBE_TEXTS = (  # what a backend must tokenise exactly as the tokenizer's own call
    "", " ", "Hello, World!", "naïve café résumé ÀÉÎ", "北京是中国的首都。为这个句子生成表示以用于检索相关文章：",
    "emoji 🙂 and\ttabs\nnew lines", "[CLS] [SEP] [PAD] <s> </s> <pad> look special",
    "Represent this sentence for searching relevant passages: what is BGE?", "long " * 700,
)


@dataclass(frozen=True)
class BatchLimits:
    """How a chunk's token ids become padded batches (batching.plan_padded)."""

    max_rows: int
    token_budget: int | None
    pad_multiple: int
    pad_id: int


def chunk_bounds(total: int, first: int | None = None, largest: int | None = None) -> list[tuple[int, int]]:
    """(start, end) of consecutive chunks: sizes double from `first` up to `largest`."""
    size, largest = first or FIRST_CHUNK_TEXTS, largest or CHUNK_TEXTS
    size = min(size, largest)
    bounds, start = [], 0
    while start < total:
        bounds.append((start, min(total, start + size)))
        start += size
        size = min(2 * size, largest)
    return bounds


def plan_chunk(token_ids: Sequence[Sequence[int]], start: int, limits: BatchLimits) -> list[PaddedBatch]:
    """One chunk's token ids as padded batches whose rows count from `start`."""
    batches = plan_padded(token_ids, range(len(token_ids)), limits.max_rows, limits.token_budget,
                          limits.pad_multiple, limits.pad_id)
    return [PaddedBatch(b.rows + start, b.input_ids, b.lengths) for b in batches]


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

    backend_json: the verified Rust backend as JSON (what a TokenizerProcess loads), or None
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


def planned_chunks(texts: Sequence[str], token_ids: TokenIds, limits: BatchLimits) -> Iterator[list[PaddedBatch]]:
    """In this process: each chunk (chunk_bounds) tokenised and planned into padded batches."""
    for start, end in chunk_bounds(len(texts)):
        yield plan_chunk(token_ids(texts[start:end]), start, limits)


def _worker_main(tokenizer_json: str, max_length: int, truncation_side: str, limits: BatchLimits,
                 inbox: mp.Queue, outbox: mp.Queue) -> None:
    try:
        os.environ["TOKENIZERS_PARALLELISM"] = "true"
        # the Rust pool (sized when first used) leaves a core to this process's Python work
        # and one to the parent's model thread
        os.environ.setdefault("RAYON_NUM_THREADS", str(max(1, (os.cpu_count() or 2) - 2)))
        backend = _configured_backend(tokenizer_json, max_length, truncation_side)
        encode = getattr(backend, "encode_batch_fast", backend.encode_batch)
        outbox.put(("ready",))
        # the Rust work of the next chunk (the GIL released) overlaps this chunk's Python work
        for job_id, start, encodings in prefetch(_encoded_jobs(inbox, encode), depth=1):
            ids = [encoding.ids for encoding in encodings]
            outbox.put(("done", job_id, plan_chunk(ids, start, limits)))
    except BaseException:
        outbox.put(("error", traceback.format_exc(limit=6)))


def _encoded_jobs(inbox: mp.Queue, encode) -> Iterator[tuple[int, int, list]]:
    """(job id, first row, encodings) per job."""
    for job_id, start, texts in worker_jobs(inbox, _POLL_S):
        yield job_id, start, encode(texts)


class TokenizerProcess:
    """A child process that tokenises and plans chunks (planned_chunks' results, in order)
    up to CHUNKS_AHEAD chunks ahead of the consumer. Started on first use."""

    def __init__(self, token_ids: TokenIds, limits: BatchLimits) -> None:
        if token_ids.backend_json is None:
            raise ValueError("a TokenizerProcess needs a verified tokenizer backend")
        self._args = (token_ids.backend_json, token_ids.max_length, token_ids.truncation_side, limits)
        self._process: mp.Process | None = None
        self._next_job = 0

    def planned_chunks(self, texts: Sequence[str]) -> Iterator[list[PaddedBatch]]:
        bounds = chunk_bounds(len(texts))
        if bounds:
            self._start()
        first_job = self._next_job  # results of an abandoned earlier call carry older ids
        self._next_job += len(bounds)
        sent = 0
        for index in range(len(bounds)):
            while sent < len(bounds) and sent <= index + CHUNKS_AHEAD:
                start, end = bounds[sent]
                self._inbox.put((first_job + sent, start, list(texts[start:end])))
                sent += 1
            yield self._receive(first_job + index)

    def close(self) -> None:
        if self._process is None:
            return
        if self._process.is_alive():
            self._inbox.put(None)
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.terminate()
        self._process = None

    def _start(self) -> None:
        if self._process is not None:
            return
        context = mp.get_context("spawn")  # never fork a process that may hold CUDA
        self._inbox, self._outbox = context.Queue(), context.Queue()
        self._process = context.Process(target=_worker_main, name="bge_eval-tokenizer", daemon=True,
                                        args=(*self._args, self._inbox, self._outbox))
        self._process.start()
        self._receive(None)

    def _receive(self, job_id: int | None) -> list[PaddedBatch]:
        """The result of job_id (None: the ready message); older jobs' results are dropped."""
        while True:
            try:
                message = self._outbox.get(timeout=_POLL_S)
            except queue.Empty:
                if not self._process.is_alive():
                    code = self._process.exitcode
                    self.close()
                    raise BgeEvalError(f"the tokenizer process exited with code {code}; see its output above, "
                                       f"or set {PROCESS_VARIABLE}=0 to tokenise in the main process.") from None
                continue
            if message[0] == "error":
                self.close()
                raise BgeEvalError(f"the tokenizer process failed ({PROCESS_VARIABLE}=0 tokenises in the main "
                                   f"process):\n{message[1]}")
            if message[0] == "ready" and job_id is None:
                return []
            if message[0] == "done" and message[1] == job_id:
                return message[2]
