"""Batch planning and padding (longest texts first, each batch sized by a token budget and
capped at a row count), and a background iterator. No torch here: batches are plain numpy
values that also travel to worker processes."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

T = TypeVar("T")


def pad_to_multiple(length: int, multiple: int) -> int:
    return -(-length // multiple) * multiple if multiple > 1 else length


def plan_batches(
    lengths: Sequence[int], max_rows: int, token_budget: int | None = None, multiple: int = 1
) -> list[list[int]]:
    """Indices of `lengths` grouped into batches, longest first.

    A batch takes rows while rows <= max_rows and rows * padded_longest <= token_budget
    (a single over-long row still gets a batch of its own).
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    width = 0
    for index in order:
        row_width = pad_to_multiple(lengths[index], multiple)
        new_width = max(width, row_width)
        full = len(current) >= max_rows or (
            token_budget is not None and current and (len(current) + 1) * new_width > token_budget
        )
        if full:
            batches.append(current)
            current, new_width = [], row_width
        current.append(index)
        width = new_width
    if current:
        batches.append(current)
    return batches


@dataclass(frozen=True)
class PaddedBatch:
    """Token ids of some texts, right-padded to one width.

    rows: where each text's embedding goes in the caller's output (int64, B).
    input_ids: (B, W) int32; lengths: (B,) int32 real tokens per row."""

    rows: np.ndarray
    input_ids: np.ndarray
    lengths: np.ndarray

    @property
    def padded_tokens(self) -> int:
        return int(self.input_ids.size)

    def fits(self, max_rows: int, token_budget: int | None) -> bool:
        rows, width = self.input_ids.shape
        return rows == 1 or (rows <= max_rows and (token_budget is None or rows * width <= token_budget))


def pad_batch(
    token_ids: Sequence[Sequence[int]], rows: Sequence[int], multiple: int, pad_id: int
) -> PaddedBatch:
    """token_ids[i] for i in rows as one padded batch (rows keep their given order)."""
    lengths = np.fromiter((len(token_ids[i]) for i in rows), dtype=np.int32, count=len(rows))
    width = pad_to_multiple(int(lengths.max()), multiple)
    input_ids = np.full((len(rows), width), pad_id, dtype=np.int32)
    for row, index in enumerate(rows):
        input_ids[row, : lengths[row]] = token_ids[index]
    return PaddedBatch(np.asarray(rows, dtype=np.int64), input_ids, lengths)


def plan_padded(
    token_ids: Sequence[Sequence[int]], rows: Sequence[int], max_rows: int, token_budget: int | None,
    multiple: int, pad_id: int,
) -> list[PaddedBatch]:
    """The given rows of token_ids planned into batches (longest first) and padded."""
    plan = plan_batches([len(token_ids[i]) for i in rows], max_rows, token_budget, multiple)
    return [pad_batch(token_ids, [rows[i] for i in batch], multiple, pad_id) for batch in plan]


def unpad(batch: PaddedBatch) -> list[list[int]]:
    """The token ids of a padded batch, row by row (to re-plan it)."""
    return [batch.input_ids[row, :length].tolist() for row, length in enumerate(batch.lengths)]


_DONE = object()


def prefetch(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """Iterate `items` produced by a background thread, at most `depth` ahead of the consumer.
    An exception in the producer is raised in the consumer; leaving early stops the producer."""
    slots: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: object) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer(item):
                    return
            offer(_DONE)
        except BaseException as exc:  # handed to the consumer
            offer(exc)

    worker = threading.Thread(target=produce, name="bge_eval-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = slots.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)
