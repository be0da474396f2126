"""Plain-text tables for the terminal: a run's scores and a task listing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from ..encoding.cache_upkeep import SpaceReport
from ..gating.baseline import BaselineWrite
from ..results.published import published_score
from ..run.bisect import BisectResult
from ..run.outcome import RunSummary, UnitFailure
from ..run.second_stage import COMPARED, RerankSummary
from ..run.sweep import SweepSummary
from ..tasks.demo import is_demo_task
from ..tasks.listing import TaskListing
from ..tasks.validate import CardReport, SuiteCheck


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=False)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths, strict=False)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)).rstrip() for row in rows]
    return "\n".join(lines)


def format_run_summary(summary: RunSummary, output: Path | None = None) -> str:
    """The run's table; output: the --output folder, named as the place to open."""
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
    where = f"results: {output}/  (this model's files: {pasteable(summary.results_dir)}/)" if output else \
        f"results: {pasteable(summary.results_dir)}"
    head = f"{summary.model} @ {summary.revision}\n{where}\n"
    table = _table(["task", "type", "split", "metric", "score", "published", "delta", "status", "time"], rows)
    demo = any(is_demo_task(o.name) for o in summary.outcomes)
    notes = []
    if demo:
        notes.append("(demo suite: a smoke test written by the bge_eval team, not a benchmark)")
    cached = [o.name for o in summary.outcomes if o.status == "cached"]
    if cached:
        notes.append(f"{len(cached)} of {len(summary.outcomes)} tasks already had results from the same weights, "
                     "data and settings (status cached): not recomputed; --overwrite recomputes them.")
    notes += [f"{o.name}: {o.note}" for o in summary.outcomes if o.note]
    if summary.skipped:
        notes.append(f"skipped (no local data): {', '.join(summary.skipped)}")
    return "\n".join([head + table, *notes])


def format_sweep(sweep: SweepSummary) -> str:
    """A sweep's last lines: how many units ran, and every unit that failed with its error."""
    lines = [f"sweep: {len(sweep.runs)} models, {sweep.units_submitted} (model, task) units computed, "
             f"{len(sweep.failures)} failed"]
    if sweep.failures:
        lines.append(format_failures(sweep.failures, sum(len(r.outcomes) for r in sweep.runs)))
    return "\n".join(lines)


def format_failures(failures: list[UnitFailure], total: int) -> str:
    """Each failed (model, task) with its one-line reason, and what to do next."""
    head = (f"{len(failures)} of {total} task(s) failed; the others finished and are kept. Fix the cause and rerun "
            "the same command (only the failed tasks are computed); --fail-fast stops at the first.")
    return "\n".join([head, *(f"bge_eval: error: {f.model} {f.task}: {f.error}" for f in failures)])


def pasteable(path: Path) -> str:
    """A path a user can paste where they ran the command: relative to the working folder when it is
    inside it, else absolute."""
    absolute = Path(path).absolute()
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:
        return str(absolute)


def next_steps(prog: str, output: Path, options: dict | None = None) -> str:
    """The run's last lines: what the embedding cache holds (options: the run's), then the commands
    that read what it wrote."""
    cache, bound = (options or {}).get("embedding_cache"), (options or {}).get("embedding_cache_max_bytes")
    held = f"{format_cache_use(cache, bound)}\n" if cache and bound else ""  # a bound of 0 is no cache (RunConfig)
    return (f"{held}next: {prog} report {output}    # tables and plots in {output}/report/\n"
            f"      {prog} gate --results {output} --baseline baseline.json --write-baseline    # a CI baseline")


def format_cache_use(folder: Path, bound: int) -> str:
    """The run's line on the embedding cache: what it holds against its bound."""
    from ..encoding.embedding_cache import shards_by_use

    held = sum(size for _, size, _ in shards_by_use(folder))
    return (f"embedding cache: {folder} holds {human_bytes(held)} of its {human_bytes(bound)} bound (least recently "
            "used shards go past it: --embedding-cache-max)")


def format_baseline_write(written: BaselineWrite) -> str:
    """What `gate --write-baseline` gated, how, and what it left out."""
    lines = [f"baseline: {e.model} {e.task} {e.split} {e.metric} = {e.value:.5f} (tolerance {e.tolerance})"
             for e in written.entries]
    lines += [f"  {left.task}: gated on its number alone, no paired test: {left.reason}" for left in written.untested]
    lines += [f"not gated: {left.task}: {left.reason}" for left in written.left_out]
    return "\n".join(lines)


def format_task_listing(benchmark: str | None, rows: list[TaskListing], data_dir: Path | None,
                        recipe: str | None = None) -> str:
    """The `tasks` table, within 120 columns; recipe: "<model>, policy <p>" when a model was given
    (each instruction is then a key into a legend under the table)."""
    def languages(row: TaskListing) -> str:  # Massive* tasks have 50: the first two and a count
        shown = ",".join(row.languages[:2])
        return shown + (f" +{len(row.languages) - 2}" if len(row.languages) > 2 else "")

    with_model = recipe is not None
    header = ["task", "type", "languages", "splits", "metric"]
    header += ["instr", "norm"] if with_model else []  # short headers: the table fits 120 columns
    header += ["local"]
    keys: dict[str, str] = {}
    table_rows = []
    for row in rows:
        cells = [row.task, row.type, languages(row), ",".join(row.splits), row.metric]
        if with_model:
            key = keys.setdefault(row.instruction, f"I{len(keys) + 1}") if row.instruction else "-"
            cells += [key, "yes" if row.normalize else "no"]
        cells.append(("yes" if row.local_data else "no") if data_dir else "-")
        table_rows.append(cells)
    title = f"{benchmark}: {len(rows)} tasks" if benchmark else f"{len(rows)} tasks"
    if data_dir:
        title += f" ({sum(1 for r in rows if r.local_data)} with local data in {data_dir})"
    if recipe:
        title += f"\nrecipe: {recipe}"
    legend = [f"{key}: query instruction {text!r}" for text, key in keys.items()]
    if with_model:
        legend.append("norm: vectors L2-normalised before scoring")
    return "\n".join([title, _table(header, table_rows), *legend])


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


def format_validation(report: CardReport | SuiteCheck) -> str:
    """`validate`'s output: the card, then per split its counts, text lengths and labels (a suite:
    its registry tasks, then each card)."""
    if isinstance(report, SuiteCheck):
        named = f": {', '.join(report.registry_tasks)}" if report.registry_tasks else ""
        head = (f"{report.file}: suite {report.name}: valid ({len(report.registry_tasks)} registry task(s){named}; "
                f"{len(report.cards)} card(s))")
        return "\n".join([head, *(format_validation(card) for card in report.cards)])
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


def human_bytes(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def format_cache_report(folder: Path, spaces: Sequence[SpaceReport], freed: tuple[int, int] | None = None) -> str:
    """The embedding cache per model and settings; freed: (files, bytes) a prune removed."""
    lines = [f"embedding cache: {folder}"]
    if freed is not None:
        lines.append(f"pruned: {freed[0]} file(s), {human_bytes(freed[1])} freed")
    if not spaces:
        return "\n".join([*lines, "(empty)"])
    rows = []
    for space in spaces:
        ident = space.identity
        used = datetime.fromtimestamp(space.last_used).strftime("%Y-%m-%d %H:%M") if space.last_used else ""
        rows.append([ident.get("model", "?"), ident.get("revision", "")[:12], ident.get("dtype", "").removeprefix(
            "torch."), f"{space.rows:,}", str(space.shards), human_bytes(space.bytes), used])
    total = sum(space.bytes for space in spaces)
    table = _table(["model", "revision", "precision", "texts", "shards", "size", "last used"], rows)
    return "\n".join([*lines, table, f"total: {human_bytes(total)} in {len(spaces)} model setting(s)"])


def format_bisect(result: BisectResult) -> str:
    """Each evaluation (why it was made, reused or computed, each task against the first), then the answer."""
    lines = [f"bisect: {len(result.checkpoints)} checkpoints in training order; one regressed when a task "
             f"dropped by more than {result.tolerance} against the first (one-sided paired test, alpha {result.alpha})"]
    for e in result.evaluations:
        state = "reference" if e.index == 0 else ("REGRESSED" if e.regressed else "holds")
        lines.append(f"  #{e.index} {e.label}: {state} ({'reused' if e.reused else 'computed'}; {e.why})")
        for d in e.drops:
            test = f"p={d.test.p_value:.4f}" if d.test is not None else f"no paired test: {d.note}"
            lines.append(f"      {d.task} ({d.split}) {d.metric} {d.reference:.5f} -> {d.value:.5f} "
                         f"({d.value - d.reference:+.5f}; {test}){'  regressed' if d.regressed else ''}")
    counted = f"{len(result.evaluations)} of {len(result.checkpoints)} checkpoints evaluated"
    if result.first_regressed is None:
        lines.append(f"no regression: the last checkpoint holds against the first ({counted}).")
    else:
        first, last = result.first_regressed, result.last_holding
        lines.append(f"first regressed checkpoint: #{first} {result.checkpoints[first]} (the last that holds: "
                     f"#{last} {result.checkpoints[last or 0]}); {counted}.")
    return "\n".join(lines)


def format_index_variants(results: list[Any]) -> str:
    """Each retrieval and reranking task through each index variant (run/index_stage.VariantResult):
    what it keeps and costs, or why it was not run."""
    rows, notes = [], []
    for r in results:
        f = r.figures
        if r.note:
            notes.append(f"{r.task}, {r.variant}: {r.note}.")
            continue
        rows.append([r.task, r.variant, "" if r.score is None else f"{r.score:.5f}",
                     f"{f.get('recall_at_10_vs_exact', float('nan')):.3f}", f"{f.get('bytes_per_vector', 0):.0f}",
                     f"{f['build_s']:.2f}" if "build_s" in f else "", f"{f['latency_p50_ms']:.2f}" if
                     "latency_p50_ms" in f else "", "computed" if r.computed else "cached"])
    return "\n".join(["index variants (results as REV+index-VARIANT beside the run's):", _table(
        ["task", "variant", "main score", "recall@10 vs exact", "bytes/vector", "build s", "p50 ms", "status"], rows),
        *notes])


def format_audit(result: Any, output: Path | None) -> str:
    """The audit per task (contamination.findings.AuditResult): items seen in training, what was seen, examples."""
    lines = [f"audit: {sum(t['lines'] for t in result.training):,} training lines ("
             + ", ".join(f"{t['file']}: {t['lines']:,}" for t in result.training)
             + f") against {len(result.tasks)} task split(s); near copies at Jaccard >= {result.threshold}"]
    for task in result.tasks:
        c = task.counts
        if task.unit == "queries":
            seen = (f"{c['queries_seen']} queries ({c['queries_seen_exact']} exact), {c['relevant_documents_seen']} of "
                    f"{c['relevant_documents']} relevant documents ({c['relevant_documents_seen_exact']} exact), "
                    f"{c['pairs_together']} (query, relevant document) pairs together as (query, pos)")
        else:
            seen = f"{c[task.unit + '_seen_exact']} exact copies"
        lines.append(f"  {task.key}: {len(task.contaminated)} of {task.items} {task.unit} seen in training "
                     f"({task.share:.2%}): {seen}")
        for example in task.examples[:3]:
            lines.append(f"      {example['finding']}: {example['item']} {example['kind']}"
                         f"{'' if example['kind'] == 'exact' else ' ' + format(example['similarity'], '.2f')}"
                         f" at {example['training']} ({example['training_role']}): {example['text'][:80]!r}")
    if output is not None:
        lines.append(f"written: {Path(output) / 'audit.json'}")
    return "\n".join(lines)
