"""The `run` command (one model, or a sweep on this machine or Ray) and what follows a finished run
(index variants, the reranker, a report); cli.py parses and dispatches."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .cli_options import single
from .config import DEMO_MODEL
from .errors import BgeEvalError

if TYPE_CHECKING:
    from .run.outcome import RunSummary


def prog_name() -> str:
    """How the tool was called: the console script or the module."""
    return "bge-eval" if Path(sys.argv[0]).name == "bge-eval" else "python -m bge_eval"


def early_checks(args: argparse.Namespace, tasks: list[str], options: dict) -> None:
    """What needs no model and no task data, before the heavy imports (mteb, torch: seconds): every
    option as RunConfig checks it, and the names the installed mteb knows (tasks/names.py)."""
    from .config import RunConfig
    from .tasks.names import refuse_unknown_names

    RunConfig(model=str(single(args.model) or DEMO_MODEL), tasks=tuple(tasks), benchmark=args.benchmark, **options)
    refuse_unknown_names(tasks, args.benchmark, list(args.task_types), list(args.categories))
    if args.languages:  # mteb's own check of the codes, before the model is looked for
        from .tasks.selection import refuse_unknown_languages

        refuse_unknown_languages(args.languages)
    if getattr(args, "index", None):
        from .index.variants import parse_index

        for variant in args.index:
            parse_index(variant)


def run_command(args: argparse.Namespace, options: dict) -> int:
    tasks = list(args.tasks) + [str(folder) for task_dir in args.task_dir for folder in cards_in(task_dir)]
    early_checks(args, tasks, options)
    from . import api
    from .report.console import format_failures, format_run_summary, next_steps

    if args.models is not None or len(args.model) > 1 or args.ray is not None:
        return _sweep(args, tasks, options)
    summary = api.evaluate(single(args.model), tasks, benchmark=args.benchmark, **options)
    if any(o.status != "failed" for o in summary.outcomes):
        print(format_run_summary(summary, args.output))
    if summary.failures:
        print(format_failures(summary.failures, len(summary.outcomes)), file=sys.stderr)
        return summary.exit_code
    _after_first_stage(args, summary, options)
    if args.report is not None:
        return write_report([args.output], args.report, [summary.model])
    print(next_steps(prog_name(), args.output, options))
    return 0


def _sweep(args: argparse.Namespace, tasks: list[str], options: dict) -> int:
    """Several models (or one, on Ray): each into its own folder under --output."""
    from . import api
    from .report.console import format_run_summary, format_sweep, next_steps
    from .run.sweep import entries_from_options, read_models_file

    if args.models is not None:
        entries = read_models_file(args.models)
    else:
        entries = entries_from_options(args.model or [DEMO_MODEL], args.model_path, args.revision)
    options = {k: v for k, v in options.items() if k not in ("model_path", "revision")}
    sweep = api.sweep(entries, tasks, benchmark=args.benchmark, ray=ray_options(args), **options)
    for summary in sweep.runs:
        print(format_run_summary(summary, args.output))
    print(format_sweep(sweep))
    for entry, summary in zip(entries, sweep.runs, strict=True):  # in this process, from the embedding cache
        if any(o.status != "failed" for o in summary.outcomes):
            _after_first_stage(args, summary, {**options, "model_path": entry.path, "revision": entry.revision})
    if args.report is not None:
        return write_report([args.output], args.report, [entry.name for entry in entries]) or sweep.exit_code
    print(next_steps(prog_name(), args.output, options))
    return sweep.exit_code


def _after_first_stage(args: argparse.Namespace, summary: RunSummary, options: dict) -> None:
    """What runs on a model's finished run: its index variants, then the reranker over its candidates
    and over each variant's."""
    from . import api
    from .report.console import format_comparison, format_index_variants

    variants = []
    if args.index:
        variants = api.index_variants(summary, args.index, **options)
        print(format_index_variants(variants))
    if args.reranker:
        reranked = api.rerank(summary, args.reranker, reranker_path=args.reranker_path, top_k=args.rerank_top_k,
                              **options)
        print(format_comparison(reranked))
        for second in api.rerank_variants(summary, variants, args.reranker, reranker_path=args.reranker_path,
                                          top_k=args.rerank_top_k, **options):
            print(format_comparison(second))


def ray_options(args: argparse.Namespace) -> object:
    if args.ray is None:
        return None
    from .run.ray_executor import RayOptions

    return RayOptions(args.ray or None, args.ray_gpus_per_task, args.ray_cpus_per_task, args.ray_retries,
                      args.corpus_shards)


def cards_in(task_dir: Path) -> list[Path]:
    from .tasks.cards import find_cards

    return find_cards(task_dir)


def write_report(folders: list[Path], output: Path, models: list[str] | None, base: str | None = None,
                 selection: dict | None = None, audit: Path | None = None) -> int:
    from . import api

    for folder in folders:
        if not Path(folder).is_dir():
            raise BgeEvalError(f"{folder}: not a folder of results.")
    api.build_report(*folders, output=output, models=models, base=base, audit=audit, **(selection or {}))
    print(f"report: {Path(output) / 'index.html'} and {Path(output) / 'README.md'}")
    return 0
