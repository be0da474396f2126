"""Several devices on one machine: one worker process per device, each with its own
ForwardEngine, over shares of every call's batches.

The batches are planned once, in the parent, exactly as for one device, and each batch is
encoded whole by one worker, so every vector equals what one device of the same kind
computes. Work is shared by padded tokens (each batch to the worker given the fewest so far
in this call), and up to two chunks per worker are with the workers before the oldest is
collected: chunks are small (tokenization.py), and one chunk's few batches would leave the
other workers idle.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import traceback
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import replace

import numpy as np

from ..errors import BgeEvalError
from .batching import PaddedBatch, worker_jobs
from .engine import ForwardSettings

_POLL_S = 1.0


def resolve_devices(devices: tuple[str, ...] | list[str]) -> list[str]:
    """`all` is every visible CUDA device; anything else is taken as given (cpu, cuda:N)."""
    import torch

    if list(devices) == ["all"]:
        count = torch.cuda.device_count()
        if count == 0:
            raise BgeEvalError("--devices all: no CUDA device is visible here; name devices, e.g. --devices cpu cpu.")
        return [f"cuda:{i}" for i in range(count)]
    for device in devices:
        if device.startswith("cuda"):
            index = int(device.split(":")[1]) if ":" in device else 0
            if torch.cuda.device_count() == 0:
                raise BgeEvalError(f"--devices {device}: CUDA is not available here; use --device cpu.")
            if index >= torch.cuda.device_count():
                raise BgeEvalError(f"--devices {device}: only {torch.cuda.device_count()} CUDA device(s) are visible.")
        elif device != "cpu":
            raise BgeEvalError(f"--devices {device}: expected cpu, cuda or cuda:N (or all).")
    return list(devices)


def share_batches(batches: list[PaddedBatch], load: list[int]) -> list[list[PaddedBatch]]:
    """Each batch to the worker with the fewest padded tokens so far (largest batches first).
    load: padded tokens given to each worker so far; updated."""
    shares: list[list[PaddedBatch]] = [[] for _ in load]
    for batch in sorted(batches, key=lambda b: -b.padded_tokens):
        target = load.index(min(load))
        shares[target].append(batch)
        load[target] += batch.padded_tokens
    return shares


def _worker_main(index: int, settings: ForwardSettings, threads: int | None, inbox: mp.Queue,
                 outbox: mp.Queue) -> None:
    try:
        import torch

        from .engine import ForwardEngine

        if threads:
            torch.set_num_threads(threads)
        engine = ForwardEngine(settings)
        outbox.put(("ready", settings.device, engine.hidden_size, engine.packs))
        for job_id, batches in worker_jobs(inbox, _POLL_S):
            rows, vectors = engine.encode(batches)
            outbox.put(("done", job_id, (index, rows, vectors, engine.oom_retries)))
    except BaseException:
        outbox.put(("error", settings.device, traceback.format_exc(limit=6)))


class ShardedEngine:
    """ForwardEngine's streaming interface (encode_stream, close) over one worker process per device."""

    def __init__(self, settings: ForwardSettings, devices: list[str]) -> None:
        context = mp.get_context("spawn")  # CUDA cannot be forked
        self.devices = devices
        self.settings = settings
        self._outbox = context.Queue()
        self._inboxes = [context.Queue() for _ in devices]
        cpu_workers = sum(d == "cpu" for d in devices)
        threads = max(1, (os.cpu_count() or 1) // cpu_workers) if cpu_workers else None
        self._processes = [
            context.Process(target=_worker_main, name=f"bge_eval-{device}", daemon=True,
                            args=(index, replace(settings, device=device), threads, inbox, self._outbox))
            for index, (device, inbox) in enumerate(zip(devices, self._inboxes, strict=True))
        ]
        for process in self._processes:
            process.start()
        self._next_job = 0
        self._finished: dict[int, list] = {}
        self._retries = [0] * len(devices)
        ready = [self._receive("ready") for _ in devices]
        self.hidden_size = int(ready[0][2])
        self.packs = all(message[3] for message in ready)  # every worker runs packed tokens

    @property
    def oom_retries(self) -> int:
        return sum(self._retries)

    def encode_stream(self, chunks: Iterable[list[PaddedBatch]]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Results chunk by chunk, collected once 2 x workers later chunks are with the workers."""
        in_flight: deque[tuple[int, int]] = deque()
        load = [0] * len(self._inboxes)
        for chunk in chunks:
            in_flight.append(self._submit(chunk, load))
            if len(in_flight) > 2 * len(self._inboxes):
                yield self._collect(in_flight.popleft())
        while in_flight:
            yield self._collect(in_flight.popleft())

    def close(self) -> None:
        for inbox, process in zip(self._inboxes, self._processes, strict=True):
            if process.is_alive():
                inbox.put(None)
        for process in self._processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()

    def _submit(self, batches: list[PaddedBatch], load: list[int]) -> tuple[int, int]:
        job_id, self._next_job = self._next_job, self._next_job + 1
        parts = 0
        for inbox, share in zip(self._inboxes, share_batches(batches, load), strict=True):
            if share:
                inbox.put((job_id, share))
                parts += 1
        self._finished[job_id] = []
        return job_id, parts

    def _collect(self, job: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        job_id, parts = job
        while len(self._finished[job_id]) < parts:
            _, done_id, (worker, rows, vectors, retries) = self._receive("done")
            self._finished[done_id].append((rows, vectors))
            self._retries[worker] = retries
        results = self._finished.pop(job_id)
        if not results:
            return np.zeros(0, dtype=np.int64), np.zeros((0, self.hidden_size), dtype=np.float32)
        return np.concatenate([r for r, _ in results]), np.concatenate([v for _, v in results])

    def _receive(self, kind: str) -> tuple:
        while True:
            try:
                message = self._outbox.get(timeout=_POLL_S)
            except queue.Empty:
                dead = [p for p in self._processes if not p.is_alive()]
                if dead:
                    self.close()
                    raise BgeEvalError(
                        f"encoder worker {dead[0].name} exited with code {dead[0].exitcode}; "
                        "see its output above, or run on one device (--device).") from None
                continue
            if message[0] == "error":
                self.close()
                raise BgeEvalError(f"encoder worker on {message[1]} failed:\n{message[2]}")
            if message[0] == kind:
                return message
