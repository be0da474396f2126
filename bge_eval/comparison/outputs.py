"""A comparison as people read it: a console summary, a Markdown file (per task: the numbers, the
detectable change, the largest movers and what was lost since the base), compare.json (every
item) and the viewer's page (viewer.py), written whole into --output."""

from __future__ import annotations

import math
from pathlib import Path

from .._util import atomic_write_json, atomic_write_text
from ..config import GATE_ALPHA
from .changes import Comparison, TaskComparison
from .items import ItemChange

LOST_SHOWN = 10  # lost items named per task in the console and Markdown


def detectable_sentence(t: TaskComparison) -> str:
    if math.isnan(t.detectable):
        why = t.no_test or "every item scores the same on both sides: no spread to estimate it from"
        return f"{t.name}: the smallest detectable change is unknown ({why})."
    items = t.test.n_items if t.test else len(t.items.changes)
    return (f"{t.name}: changes below {t.detectable:.4f} {t.metric} are not detectable with its {items} "
            f"{t.items.unit} (one-sided paired test at alpha {GATE_ALPHA}, 80% power; from {t.detectable_from}).")


def _p(t: TaskComparison) -> str:
    return "" if t.test is None else f"{t.test.p_value:.4f}"


def _lost_line(t: TaskComparison, change: ItemChange) -> str:
    if t.items.unit == "queries":
        ranks = change.detail["relevant"]
        moved = ", ".join(f"{doc} {_rank(ranks[doc][0])} -> {_rank(ranks[doc][1])}"
                          for doc in change.detail.get("lost_documents", []))
        return f"query {change.item}: {moved} ({t.items.value} {change.base:.3f} -> {change.new:.3f})"
    if t.items.unit == "pairs":
        similarity, rank = change.detail["similarity"], change.detail["rank"]
        return (f"pair {change.item} (gold {change.detail['gold']:g}, gold rank {change.detail['gold_rank']:g}): "
                f"similarity {similarity[0]:.3f} -> {similarity[1]:.3f}, rank {rank[0]:g} -> {rank[1]:g}")
    return f"example {change.item}: right in {change.base:.0%} -> {change.new:.0%} of the experiments"


def _rank(rank: int | None) -> str:
    return "beyond the saved ranking" if rank is None else f"#{rank}"


def format_comparison(comparison: Comparison) -> str:
    lines = [f"compare: base {comparison.base.label} ({comparison.base.results_dir})",
             f"         new  {comparison.new.label} ({comparison.new.results_dir})", ""]
    header = ("task", "metric", "base", "new", "delta", "p", "detectable", "improved/worse/same", "lost")
    rows = [header]
    for t in comparison.tasks:
        counts = t.counts()
        rows.append((t.name, t.metric, f"{t.base_score:.5f}", f"{t.new_score:.5f}", f"{t.delta:+.5f}", _p(t),
                     "" if math.isnan(t.detectable) else f"{t.detectable:.4f}",
                     f"{counts['improved']}/{counts['worse']}/{counts['unchanged']} {t.items.unit}",
                     str(len(t.lost()))))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.append("")
    for t in comparison.tasks:
        lines.append(detectable_sentence(t))
        if t.clean is not None:
            lines.append(f"  {clean_sentence(t)}")
        lost = t.lost()
        if lost:
            lines.append(f"  lost since the base ({len(lost)} {t.items.unit}):")
            lines += [f"    {_lost_line(t, change)}" for change in lost[:LOST_SHOWN]]
            if len(lost) > LOST_SHOWN:
                lines.append(f"    ... {len(lost) - LOST_SHOWN} more in compare.json")
        lines += [f"  note: {note}" for note in t.items.notes]
    lines += [f"not compared: {why}" for why in comparison.left_out]
    return "\n".join(lines)


def comparison_markdown(comparison: Comparison) -> str:
    lines = [f"# bge_eval compare: {comparison.base.label} -> {comparison.new.label}", "",
             f"Paired tests two-sided at alpha {GATE_ALPHA}; the detectable change is the smallest mean change the "
             "gate's one-sided paired test finds with 80% power.", "",
             "| task | metric | base | new | delta | p | detectable | improved | worse | unchanged | lost |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for t in comparison.tasks:
        counts = t.counts()
        lines.append(f"| {t.name} | {t.metric} | {t.base_score:.5f} | {t.new_score:.5f} | {t.delta:+.5f} | {_p(t)} | "
                     f"{'' if math.isnan(t.detectable) else f'{t.detectable:.4f}'} | {counts['improved']} | "
                     f"{counts['worse']} | {counts['unchanged']} | {len(t.lost())} |")
    for t in comparison.tasks:
        lines += ["", f"## {t.name}", "", detectable_sentence(t), "", f"Each item's value: {t.items.value}.", ""]
        if t.clean is not None:
            lines += [clean_sentence(t) + ".", ""]
        for status in ("worse", "improved"):
            movers = t.movers(status)
            if movers:
                named = ", ".join(f"{m.item} ({m.base:.3f} -> {m.new:.3f})" for m in movers)
                lines.append(f"Largest {status}: {named}")
                lines.append("")
        lost = t.lost()
        if lost:
            lines.append(f"Lost since the base ({len(lost)}):")
            lines += [f"- {_lost_line(t, change)}" for change in lost[:LOST_SHOWN]]
            lines.append("")
        lines += [f"- note: {note}" for note in t.items.notes]
    if comparison.left_out:
        lines += ["", "## Not compared", "", *[f"- {why}" for why in comparison.left_out]]
    return "\n".join(lines).rstrip() + "\n"


def write_comparison(comparison: Comparison, output: Path, page: str | None = None) -> list[Path]:
    """compare.json (every item), compare.md and the viewer's page (index.html) into `output` (created),
    each written whole."""
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    written = [output / "compare.json", output / "compare.md"]
    atomic_write_json(written[0], comparison.to_json())
    atomic_write_text(written[1], comparison_markdown(comparison))
    if page is not None:
        written.append(output / "index.html")
        atomic_write_text(written[2], page)
    return written


def clean_sentence(t: TaskComparison) -> str:
    """Both sides on the items the audit found clean (compare --audit)."""
    c = t.clean
    assert c is not None
    if math.isnan(c.base_score):
        return f"clean items: not scored: {c.no_test}"
    test = f"p={c.test.p_value:.3f}" if c.test is not None else f"no test: {c.no_test}"
    return (f"clean items (the audit left out {c.left_out} of {c.items + c.left_out} {t.items.unit}): "
            f"{c.base_score:.5f} -> {c.new_score:.5f} ({c.new_score - c.base_score:+.5f}, {test}); all items "
            f"{t.delta:+.5f}")
