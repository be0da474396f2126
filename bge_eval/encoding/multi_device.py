"""Several devices on one machine: one worker process per device (on the shared worker pool),
each with its own ForwardEngine. Batches are planned once in the parent and each is encoded
whole by one worker, so every vector equals what one device of the same kind computes.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace

import numpy as np

from .._util import Serve, WorkerPool
from ..errors import BgeEvalError
from .batching import PaddedBatch
from .engine import ForwardSettings


def resolve_devices(devices: Sequence[str]) -> list[str]:
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


def _device_worker(settings: ForwardSettings, threads: int | None) -> tuple[tuple[int, bool, int], Serve]:
    """A device worker's setup (run on the worker pool): its engine, and how it serves batches."""
    import torch

    from .engine import ForwardEngine

    if threads:
        torch.set_num_threads(threads)
    engine = ForwardEngine(settings)

    def serve(jobs):
        for job_id, batches in jobs:
            rows, vectors = engine.encode(batches)
            yield job_id, (rows, vectors, engine.oom_retries)

    return (engine.hidden_size, engine.packs, engine.vocab_size), serve


class ShardedEngine:
    """ForwardEngine's streaming interface (encode_stream, close) over one worker process per device."""

    def __init__(self, settings: ForwardSettings, devices: list[str]) -> None:
        self.devices = devices
        self.settings = settings
        cpu_workers = sum(d == "cpu" for d in devices)
        threads = max(1, (os.cpu_count() or 1) // cpu_workers) if cpu_workers else None
        self._pool = WorkerPool(_device_worker, [(replace(settings, device=d), threads) for d in devices],
                                [f"encoder worker on {d}" for d in devices],
                                hint="run on one device (--device)")
        self.hidden_size = int(self._pool.facts[0][0])
        self.packs = all(facts[1] for facts in self._pool.facts)  # every worker runs packed tokens
        self.vocab_size = int(self._pool.facts[0][2])
        self._next_job = 0
        self._finished: dict[int, list] = {}
        self._retries = [0] * len(devices)

    @property
    def processes(self) -> list:
        """The worker processes, one per device."""
        return self._pool.processes

    @property
    def oom_retries(self) -> int:
        return sum(self._retries)

    def encode_stream(self, chunks: Iterable[list[PaddedBatch]]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Results chunk by chunk, collected once 2 x workers later chunks are with the workers."""
        in_flight: deque[tuple[int, int]] = deque()
        load = [0] * len(self.devices)
        for chunk in chunks:
            in_flight.append(self._submit(chunk, load))
            if len(in_flight) > 2 * len(self.devices):
                yield self._collect(in_flight.popleft())
        while in_flight:
            yield self._collect(in_flight.popleft())

    def close(self) -> None:
        self._pool.close()

    def _submit(self, batches: list[PaddedBatch], load: list[int]) -> tuple[int, int]:
        job_id, self._next_job = self._next_job, self._next_job + 1
        parts = 0
        for worker, share in enumerate(share_batches(batches, load)):
            if share:
                self._pool.send(worker, (job_id, worker), share)
                parts += 1
        self._finished[job_id] = []
        return job_id, parts

    def _collect(self, job: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        job_id, parts = job
        while len(self._finished[job_id]) < parts:
            (done_id, worker), (rows, vectors, retries) = self._pool.receive()
            self._finished[done_id].append((rows, vectors))
            self._retries[worker] = retries
        results = self._finished.pop(job_id)
        if not results:
            return np.zeros(0, dtype=np.int64), np.zeros((0, self.hidden_size), dtype=np.float32)
        return np.concatenate([r for r, _ in results]), np.concatenate([v for _, v in results])
