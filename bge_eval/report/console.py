"""Plain-text tables for the terminal: a run's scores and a task listing."""

from __future__ import annotations

from pathlib import Path

from ..results.published import published_score
from ..run.outcome import RunSummary
from ..run.second_stage import COMPARED, RerankSummary
from ..tasks.listing import TaskListing
from ..tasks.validate import CardReport


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=False)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths, strict=False))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)) for row in rows]
    return "\n".join(lines)


def format_run_summary(summary: RunSummary) -> str:
    rows = []
    for outcome in summary.outcomes:
        for split, score in outcome.main_scores.items():
            published = published_score(summary.model, outcome.name, split, outcome.metric)
            rows.append([
                outcome.name, outcome.type, split, outcome.metric_name or outcome.metric, f"{score:.5f}",
                "" if published is None else f"{published:.5f}",
                "" if published is None else f"{score - published:+.5f}",
                outcome.status, f"{outcome.wall_s:.1f}s",
            ])
    head = f"{summary.model} @ {summary.revision}\nresults: {summary.results_dir}\n"
    table = _table(["task", "type", "split", "metric", "score", "published", "delta", "status", "time"], rows)
    demo = any(o.name.startswith("BgeEvalDemo") for o in summary.outcomes)
    notes = []
    if demo:
        notes.append("(demo suite: a smoke test written by the bge_eval team, not a benchmark)")
    notes += [f"{o.name}: {o.note}" for o in summary.outcomes if o.note]
    if summary.skipped:
        notes.append(f"skipped (no local data): {', '.join(summary.skipped)}")
    return "\n".join([head + table, *notes])


def format_task_listing(benchmark: str | None, rows: list[TaskListing], data_dir: Path | None,
                        recipe: str | None = None) -> str:
    """The `tasks` table; recipe: "<model>, policy <p>" when a model was given."""
    def languages(row: TaskListing) -> str:  # Massive* tasks have 50: the first three and a count
        shown = ",".join(row.languages[:3])
        return shown + (f" +{len(row.languages) - 3}" if len(row.languages) > 3 else "")

    with_model = recipe is not None
    header = ["task", "type", "languages", "splits", "metric"]
    header += ["instruction", "normalize"] if with_model else []
    header += ["local data"]
    table_rows = []
    for row in rows:
        cells = [row.task, row.type, languages(row), ",".join(row.splits), row.metric]
        if with_model:
            instruction = row.instruction or "-"
            cells += [instruction if len(instruction) <= 24 else instruction[:23] + "…",
                      "yes" if row.normalize else "no"]
        cells.append(("yes" if row.local_data else "no") if data_dir else "-")
        table_rows.append(cells)
    title = f"{benchmark}: {len(rows)} tasks" if benchmark else f"{len(rows)} tasks"
    if data_dir:
        title += f" ({sum(1 for r in rows if r.local_data)} with local data in {data_dir})"
    if recipe:
        title += f"\nrecipe: {recipe}"
    return title + "\n" + _table(header, table_rows)


def format_comparison(summary: RerankSummary) -> str:
    """The second stage beside the first: each compared metric, first -> reranked."""
    lines = [f"reranker: {summary.reranker} (results: {summary.results_dir})",
             "task  split  " + "  ".join(f"{m}: first -> reranked" for m in COMPARED)]
    for c in summary.comparisons:
        cells = []
        for metric in COMPARED:
            before, after = c.first_stage.get(metric), c.second_stage.get(metric)
            cells.append(f"{'-' if before is None else f'{before:.5f}'} -> {'-' if after is None else f'{after:.5f}'}")
        lines.append(f"{c.task}  {c.split}  " + "  ".join(cells))
    return "\n".join(lines)


def format_validation(report: CardReport) -> str:
    """`validate`'s output: the card, then per split its counts, text lengths and labels."""
    card = report.card
    lines = [f"{report.folder}: {card.name} ({card.type}, {card.language}): valid",
             f"  splits: {', '.join(s.split for s in report.splits)}"]
    for split in report.splits:
        lines.append(f"  {split.split}: " + ", ".join(f"{n} {what}" for what, n in split.counts.items()))
        for text in split.texts:
            low, mid, high = text.chars
            tokens = f"; tokens {text.tokens[0]} / {text.tokens[1]:g} / {text.tokens[2]}" if text.tokens else ""
            lines.append(f"    {text.column}: {text.count} texts, chars min/median/max {low} / {mid:g} / {high}"
                         f"{tokens}; {text.repeated} repeated")
        lines += [f"    {what}: {value}" for what, value in split.labels.items()]
    return "\n".join(lines)
