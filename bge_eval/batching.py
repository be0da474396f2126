"""Batch planning: longest texts first, each batch sized by a token budget (padded tokens =
batch rows x longest row), capped at a row count. Pure functions, no torch."""

from __future__ import annotations

from collections.abc import Sequence


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
