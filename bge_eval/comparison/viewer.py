"""The comparison as one self-contained page (compare's index.html): per task, its items in a table
that sorts by any column and filters by change, by "lost since the base" and by text, and a detail
pane with the item's texts and both sides' top documents. No network, no external script or font.
A bounded number of items per task is inlined (the lost ones first, then the most changed); the
page states its own size."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .._util import atomic_write_text
from ..config import VIEWER_ITEMS
from ..errors import BgeEvalError
from .changes import Comparison, TaskComparison, compare_sides
from .items import ItemChange
from .outputs import detectable_sentence
from .sides import Side
from .texts import TaskTexts, task_texts

SIZE_MARK = "@@PAGE_SIZE@@"
NO_TEXTS = "the report's pages read no task data; `python -m bge_eval compare BASE NEW --output DIR` shows the texts"


def pair_pages(base: Side, others: dict[str, Side], output: Path) -> tuple[dict[str, str], list[str]]:
    """A report's comparison pages: each run against the base in OUTPUT/compare/<n>/index.html, ids
    only. (links by run label, relative to OUTPUT; notes for the runs with nothing to compare)"""
    links, notes = {}, []
    for number, (label, side) in enumerate(others.items(), start=1):
        try:
            comparison = compare_sides(base, side)
        except BgeEvalError as exc:
            notes.append(f"{label}: no comparison page ({exc})")
            continue
        relative = f"compare/{number:02d}/index.html"
        atomic_write_text(Path(output) / relative, viewer_html(comparison, with_texts=False))
        links[label] = relative
    return links, notes


def chosen_items(task: TaskComparison, limit: int) -> list[ItemChange]:
    """The lost items first, then the rest by how much they changed, at most `limit`."""
    ranked = sorted(task.items.changes, key=lambda c: (not c.lost, -abs(c.change), c.item))
    return ranked[:limit]


def _documents(items: list[ItemChange]) -> set[str]:
    wanted: set[str] = set()
    for change in items:
        wanted |= set(change.detail.get("relevant", {}))
        for side in ("base", "new"):
            wanted |= {doc for doc, _ in change.detail.get("top", {}).get(side, [])}
    return wanted


def task_view(comparison: Comparison, task: TaskComparison, limit: int, data_dir: Path | None,
              with_texts: bool = True) -> dict[str, Any]:
    items = chosen_items(task, limit)
    texts = task_texts(comparison.base, task.task, task.split, task.subset, {c.item for c in items},
                       _documents(items) if task.items.unit == "queries" else set(), data_dir) if with_texts \
        else TaskTexts(missing=NO_TEXTS)
    counts = task.counts()
    return {
        "name": task.name, "type": task.type, "metric": task.metric, "unit": task.items.unit,
        "value": task.items.value, "base": task.base_score, "new": task.new_score, "delta": task.delta,
        "p": None if task.test is None else task.test.p_value, "detectable": detectable_sentence(task),
        "counts": counts, "lost": len(task.lost()), "total": len(task.items.changes), "shown": len(items),
        "notes": task.items.notes, "texts": texts.source or f"ids only: {texts.missing}",
        "items": [change.to_json() for change in items],
        "queries": texts.queries, "documents": texts.documents, "pairs": texts.pairs, "examples": texts.examples,
    }


def viewer_html(comparison: Comparison, data_dir: Path | None = None, limit: int = VIEWER_ITEMS,
                with_texts: bool = True) -> str:
    """The page; with_texts False leaves the task data unread (ids only: the report's pages)."""
    from ..report.render import template_environment

    payload = {"base": comparison.base.label, "new": comparison.new.label,
               "tasks": [task_view(comparison, t, limit, data_dir, with_texts) for t in comparison.tasks],
               "left_out": comparison.left_out}
    data_json = json.dumps(payload, ensure_ascii=False, allow_nan=False).replace("</", "<\\/")
    html = template_environment().get_template("compare.html.j2").render(
        base=comparison.base, new=comparison.new, data_json=data_json, size_mark=SIZE_MARK, limit=limit)
    size = len(html.encode("utf-8"))
    return html.replace(SIZE_MARK, f"{size / 1e6:.2f} MB" if size >= 100_000 else f"{size / 1e3:.0f} KB")
