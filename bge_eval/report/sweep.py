"""A sweep's table (report over several models): tasks x models, the best model per task, and
with a base model each other model's delta against it, with the gate's paired test on the
gate's metric for the task type (per query, example, or a paired bootstrap over pairs)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from ..errors import BgeEvalError
from ..gating.baseline import gate_metric
from ..results.files import read_result_file
from ..results.per_item import paired_items, read_per_item

SWEEP_ALPHA = 0.05  # a delta whose paired test is below this is marked significant


@dataclass(frozen=True)
class SweepCell:
    score: float | None
    delta: float | None = None  # against the base's score
    p_value: float | None = None
    test: str = ""  # "sign-flip permutation over 300 queries (ndcg_at_10)", or why there is none


@dataclass(frozen=True)
class SweepTable:
    runs: list[str]
    tasks: list[tuple[str, str]]  # (task, split), in the report's order
    cells: dict[tuple[str, str, str], SweepCell]  # (run, task, split)
    best: dict[tuple[str, str], str]  # (task, split) -> the best run
    base: str | None = None
    chart_png: str | None = None  # with a base: each run's delta per task
    notes: list[str] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)  # run -> its comparison page with the base (relative)

    def cell(self, run: str, task: str, split: str) -> SweepCell:
        return self.cells.get((run, task, split), SweepCell(None))


def sweep_table(runs: list[Any], rows: list[Any], base: str | None) -> SweepTable | None:
    """runs: report.data.Run values; rows: their TaskRows (real tasks, in order). None for one run."""
    if len(runs) < 2 or not rows:
        return None
    labels = [r.label for r in runs]
    base_label = _base_label(runs, base) if base else None
    tasks = list(dict.fromkeys((row.task, row.split) for row in rows))
    cells: dict[tuple[str, str, str], SweepCell] = {}
    by_key = {(row.run, row.task, row.split): row for row in rows}
    for (task, split) in tasks:
        for label in labels:
            row = by_key.get((label, task, split))
            if row is None:
                continue
            cells[(label, task, split)] = SweepCell(row.score)
    best = {}
    for task, split in tasks:
        scored = [(cells[(label, task, split)].score, label) for label in labels if (label, task, split) in cells]
        best[(task, split)] = max(scored)[1]
    if base_label:
        run_of = {r.label: r for r in runs}
        for task, split in tasks:
            base_row = by_key.get((base_label, task, split))
            for label in labels:
                row = by_key.get((label, task, split))
                if label == base_label or row is None or base_row is None:
                    continue
                test, why, p = _test(run_of[base_label], run_of[label], row)
                cells[(label, task, split)] = SweepCell(row.score, row.score - base_row.score, p, test or why)
    chart = _delta_chart([lb for lb in labels if lb != base_label], tasks, cells, base_label) if base_label else None
    return SweepTable(labels, tasks, cells, best, base_label, chart)


def _base_label(runs: list[Any], base: str) -> str:
    matches = [r.label for r in runs if base == r.label] or [r.label for r in runs if base == r.model]
    if len(matches) != 1:
        known = ", ".join(r.label for r in runs)
        raise BgeEvalError(f"--base {base}: {'no run' if not matches else 'several runs'} of that name "
                           f"among {known}; give one run's label.")
    return matches[0]


def _test(base_run: Any, run: Any, row: Any) -> tuple[str, str, float | None]:
    """(how it was tested, why it was not, p) for one task of a run against the base."""
    sides = []
    metric = None
    for side in (base_run, run):
        path = side.results_dir / f"{row.task}.json"
        entries = read_result_file(path)["scores"].get(row.split, [])
        if not entries:
            return "", "no result for this split", None
        metric = metric or gate_metric(row.type, entries[0])
        value = entries[0].get(metric)
        if not isinstance(value, (int, float)):
            return "", f"no {metric} in the result", None
        found, why = read_per_item(path, row.task, row.type, row.split, metric, entries[0].get("hf_subset", "default"),
                                   float(value))
        if found is None:
            return "", why, None
        sides.append(found)
    test, why = paired_items(str(metric), sides[0], sides[1])
    if test is None:
        return "", why, None
    return f"{test.method} over {test.n_items} {test.unit} ({metric})", "", test.p_value


def _delta_chart(labels: list[str], tasks: list[tuple[str, str]], cells: dict, base: str) -> str:
    from .plots import delta_png

    deltas, significant, names = {}, set(), []
    for task, split in tasks:
        name = task if split == "test" else f"{task} ({split})"
        names.append(name)
        for label in labels:
            cell = cells.get((label, task, split))
            if cell is None or cell.delta is None:
                continue
            deltas[(label, name)] = cell.delta
            if cell.p_value is not None and cell.p_value < SWEEP_ALPHA:
                significant.add((label, name))
    return base64.b64encode(delta_png(labels, names, deltas, significant, base)).decode("ascii")
