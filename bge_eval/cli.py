"""Command line: `python -m bge_eval run|report|gate|tasks|validate ...`, a thin layer over the API (api.py)."""

from __future__ import annotations

import argparse
import atexit
import errno
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from ._util import atomic_write_text
from .cli_options import (
    add_data_dir,
    add_recipe_options,
    add_run_parser,
    byte_size,
    non_negative_float,
    probability,
    run_options,
    single,
)
from .config import DEMO_MODEL, GATE_ALPHA, GATE_TOLERANCE
from .errors import BgeEvalError, internal_error
from .tasks.types import GATE_METRICS

DESCRIPTION = """\
Evaluate BGE (and other sentence-embedding) models on MTEB / C-MTEB tasks with mteb 2.

  {prog} run                       # the bundled demo suite, offline, all-MiniLM-L6-v2
  {prog} run --tasks STSBenchmark SciFact --data-dir ../shared/data     # offline too
  {prog} run --model BAAI/bge-base-en-v1.5 --tasks SciFact --data-dir ../shared/data
                                   # BGE weights: from the hub, or --model-path DIR
  {prog} tasks --benchmark C-MTEB --data-dir ../shared/data
"""
REPORT_FOLDER = "report"  # `report`'s default output, inside the first results folder


def prog_name() -> str:
    """How the tool was called: the console script or the module."""
    return "bge-eval" if Path(sys.argv[0]).name == "bge-eval" else "python -m bge_eval"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog_name(), description=DESCRIPTION.format(prog=prog_name()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    add_run_parser(commands)

    report = commands.add_parser(
        "report", help="write leaderboard tables, published comparison and plots from saved results",
        description="Write DIR/index.html (self-contained) and DIR/README.md from saved results only "
        "(no model, no GPU). Several results folders are compared side by side.",
    )
    report.add_argument("results", nargs="+", type=Path, metavar="RESULTS_DIR",
                        help="--output folders of runs (or any folder holding their results)")
    report.add_argument("--output", type=Path, default=None, metavar="DIR",
                        help=f"where to write index.html and README.md (default: RESULTS_DIR/{REPORT_FOLDER}, "
                        "in the first results folder)")
    report.add_argument("--models", nargs="+", default=None, metavar="NAME", help="only these models")
    report.add_argument("--base", metavar="NAME", help="compare every other model with this one (a sweep's "
                        "base checkpoint): deltas per task with the gate's paired test, and a chart")
    report.add_argument("--baseline", nargs="+", type=Path, default=[], metavar="RESULTS_DIR",
                        help="more results folders to compare against (shown side by side)")

    gate = commands.add_parser(
        "gate", help="fail CI when retrieval scores regress against a baseline",
        description="Compare saved results with a baseline file. Exit 0: every gated task holds; "
        "1: a task regressed beyond its tolerance; 2: unusable input (missing results or metric, "
        "another model identity or dataset revision).",
    )
    gate.add_argument("--results", type=Path, required=True, metavar="DIR",
                      help="a run's --output folder (or any folder holding its results/)")
    gate.add_argument("--baseline", type=Path, required=True, metavar="FILE",
                      help="baseline JSON (per-query values in FILE's .per_query.json sidecar)")
    gate.add_argument("--metric", default=None,
                      help="gate only this metric (--write-baseline: each type's default, " + _gate_defaults() + ")")
    gate.add_argument("--max-drop", type=non_negative_float, default=None, metavar="X",
                      help=f"allowed drop, overriding the baseline's tolerances (--write-baseline: {GATE_TOLERANCE})")
    gate.add_argument("--tasks", nargs="+", default=None, metavar="T", help="gate only these tasks")
    gate.add_argument("--suite", type=Path, metavar="FILE", help="gate only this suite's tasks")
    gate.add_argument("--significance", type=probability, default=GATE_ALPHA, metavar="ALPHA",
                      help=f"level of the paired permutation test over queries (default {GATE_ALPHA})")
    gate.add_argument("--require-significance", action="store_true",
                      help="fail only on drops that are beyond tolerance AND significant")
    gate.add_argument("--revision", metavar="REV",
                      help="gate (or baseline) the model's results of this revision, where --results holds several")
    gate.add_argument("--junit", type=Path, metavar="FILE", help="write JUnit XML (one test case per task)")
    gate.add_argument("--summary", type=Path, metavar="FILE",
                      help="write a Markdown summary (for CI job summaries and PR comments)")
    gate.add_argument("--write-baseline", action="store_true",
                      help="create or update the baseline from --results instead of gating")

    tasks = commands.add_parser(
        "tasks", help="list tasks: type, languages, splits, metric, local data; with --model, the recipe on each",
        description="What a run would do on each task, before it runs. With --model (a BGE name needs no "
        "weights), each task's query instruction and normalisation under the recipe (docs/recipe.md).")
    tasks.add_argument("--model", default=None, metavar="NAME", help="show this model's recipe on each task")
    tasks.add_argument("--model-path", type=Path, metavar="DIR",
                       help="the checkpoint of a model that is not in the BGE table (its files say how it pools)")
    tasks.add_argument("--benchmark", default=None, metavar="NAME",
                       help='benchmark to list (default: the model\'s language\'s, "MTEB(eng, v1)" without a model; '
                       "also C-MTEB, demo, ...)")
    tasks.add_argument("--tasks", nargs="+", default=[], metavar="T", help="only these tasks")
    add_recipe_options(tasks)
    tasks.add_argument("--json", action="store_true", help="one JSON object per task and line instead of a table")
    add_data_dir(tasks)

    cache = commands.add_parser(
        "cache", help="the embedding cache: its size per model, and pruning",
        description="Without options: each model's part of the embedding cache (rows, shards, size, last use). "
        "With --older-than, --max-size, --model or --all: remove shards (least recently used first), "
        "then report again. Leftovers of killed runs and the earlier cache format always go when pruning.")
    cache.add_argument("--embedding-cache", type=Path, metavar="DIR", default=None,
                       help="the cache folder (default $BGE_EVAL_CACHE_DIR or ~/.cache/bge_eval/embeddings)")
    cache.add_argument("--older-than", type=non_negative_float, metavar="DAYS",
                       help="remove shards not used for this many days")
    cache.add_argument("--max-size", type=byte_size, metavar="SIZE",
                       help="remove the least recently used shards until the cache is this small (500M, 20G)")
    cache.add_argument("--model", metavar="NAME", help="remove every shard of this model (any revision, settings)")
    cache.add_argument("--all", action="store_true", help="remove the whole cache")

    validate = commands.add_parser(
        "validate", help="check a task card (or a suite file) and its data, and describe them",
        description="Read a task card (a folder with task.toml beside its data) or a suite file as a run would: "
        "every defect is a one-line error (exit 2); then counts per split, text lengths, repeated texts, labels.")
    validate.add_argument("path", type=Path, nargs="+", metavar="PATH", help="card folder(s) or suite file(s)")
    validate.add_argument("--model", metavar="NAME", help="also count tokens with this model's tokenizer")
    validate.add_argument("--model-path", type=Path, metavar="DIR", help="the model's local checkpoint")
    return parser


def _which_folder(filename: object, args: argparse.Namespace) -> str:
    """" (in the --output folder)" or " (in the embedding cache ...)" for a file a command was writing."""
    from .config import default_cache_dir

    path = Path(str(filename)).resolve()
    output = getattr(args, "output", None)
    cache = None if getattr(args, "no_embedding_cache", False) else (
        getattr(args, "embedding_cache", None) or default_cache_dir())
    for folder, name in ((output, "the --output folder"), (cache, "the embedding cache")):
        if folder is not None and Path(folder).resolve() in (path, *path.parents):
            return f" (in {name}, {folder})"
    return ""


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _quiet_libraries(getattr(args, "verbose", False))
    try:
        if args.command == "run":
            return _run(args, run_options(args, parser))
        if args.command == "gate":
            return _gate(args)
        if args.command == "report":
            return _report(list(args.results) + list(args.baseline),
                           args.output or args.results[0] / REPORT_FOLDER, args.models, args.base)
        if args.command == "validate":
            return _validate(args)
        if args.command == "cache":
            return _cache(args)
        return _tasks(args)
    except BgeEvalError as exc:
        print(f"bge_eval: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("bge_eval: interrupted; finished tasks are saved, rerun the same command to resume.",
              file=sys.stderr)
        return 130
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            return internal_error(exc)
        where = f" writing {exc.filename}{_which_folder(exc.filename, args)}" if exc.filename else ""
        print(f"bge_eval: error: no space left on the device{where}; free some space and rerun the same command "
              "(finished tasks are kept).", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, the traceback in a file
        return internal_error(exc)


def console_main() -> None:
    """`python -m bge_eval` and the `bge-eval` script: main(), then, once output is flushed and the
    exit handlers have run, an exit that skips the interpreter's teardown of torch and the other
    libraries (about a second of every run; docs/performance.md)."""
    signal.signal(signal.SIGINT, _interrupt)
    code = main()
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    if run_exit_handlers is None:  # not CPython: the ordinary exit
        raise SystemExit(code)
    logging.shutdown()
    run_exit_handlers()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`| head`): nothing more can be said there
            pass
    os._exit(code)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """Ctrl-C: KeyboardInterrupt, as Python's own handler raises it; but one that would land in a
    finalizer (`__del__`, whose exceptions Python prints and ignores, so the run went on) is sent
    again a moment later, to land elsewhere."""
    while frame is not None:
        if frame.f_code.co_name == "__del__":
            threading.Timer(0.05, os.kill, (os.getpid(), signum)).start()
            return
        frame = frame.f_back
    raise KeyboardInterrupt


def _run(args: argparse.Namespace, options: dict) -> int:
    from . import api
    from .report.console import format_comparison, format_failures, format_run_summary, next_steps
    from .tasks.cards import find_cards

    tasks = list(args.tasks) + [str(folder) for task_dir in args.task_dir for folder in find_cards(task_dir)]
    if args.models is not None or len(args.model) > 1 or args.ray is not None:
        return _sweep(args, tasks, options)
    summary = api.evaluate(single(args.model), tasks, benchmark=args.benchmark, **options)
    if any(o.status != "failed" for o in summary.outcomes):
        print(format_run_summary(summary, args.output))
    if summary.failures:
        print(format_failures(summary.failures, len(summary.outcomes)), file=sys.stderr)
        return summary.exit_code
    if args.reranker:
        reranked = api.rerank(summary, args.reranker, reranker_path=args.reranker_path, top_k=args.rerank_top_k,
                              **options)
        print(format_comparison(reranked))
    if args.report is not None:
        return _report([args.output], args.report, [summary.model])
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
    ray = None
    if args.ray is not None:
        from .run.ray_executor import RayOptions

        ray = RayOptions(args.ray or None, args.ray_gpus_per_task, args.ray_cpus_per_task, args.ray_retries,
                         args.corpus_shards)
    options = {k: v for k, v in options.items() if k not in ("model_path", "revision")}
    sweep = api.sweep(entries, tasks, benchmark=args.benchmark, ray=ray, **options)
    for summary in sweep.runs:
        print(format_run_summary(summary, args.output))
    print(format_sweep(sweep))
    print(next_steps(prog_name(), args.output, options))
    return sweep.exit_code


def _report(folders: list[Path], output: Path, models: list[str] | None, base: str | None = None) -> int:
    from . import api

    for folder in folders:
        if not Path(folder).is_dir():
            raise BgeEvalError(f"{folder}: not a folder of results.")
    api.build_report(*folders, output=output, models=models, base=base)
    print(f"report: {Path(output) / 'index.html'} and {Path(output) / 'README.md'}")
    return 0


def _gate_defaults() -> str:
    return "; ".join(f"{task_type} {' or '.join(metrics)}" for task_type, metrics in GATE_METRICS.items()) + \
        "; other types their main score"


def _gate(args: argparse.Namespace) -> int:
    from . import api
    from .gating import sidecar
    from .report.console import format_baseline_write

    if args.suite is not None:
        from .tasks.suites import read_suite, suite_task_names

        if args.tasks:
            raise BgeEvalError("gate: give --suite or --tasks, not both.")
        args.tasks = suite_task_names(read_suite(args.suite))
    for option, path in (("--summary", args.summary), ("--junit", args.junit)):
        if path is not None and (Path(path).is_dir() or not Path(path).parent.is_dir()):
            raise BgeEvalError(f"{option} {path}: {'a folder' if Path(path).is_dir() else 'its folder does not exist'}"
                               "; give a file path in an existing folder.")
    if args.write_baseline:
        written = api.write_baseline(args.baseline, args.results, tasks=args.tasks, metric=args.metric,
                                     tolerance=GATE_TOLERANCE if args.max_drop is None else args.max_drop,
                                     revision=args.revision)
        print(format_baseline_write(written))
        print(f"wrote {args.baseline} and {sidecar(args.baseline)}")
        return 0
    report = api.gate(args.results, args.baseline, tasks=args.tasks, metric=args.metric, max_drop=args.max_drop,
                      alpha=args.significance, require_significance=args.require_significance,
                      revision=args.revision)
    for verdict in report.verdicts:
        print(f"[{verdict.status}] {verdict.message}")
    if args.summary:
        atomic_write_text(args.summary, report.markdown())
    if args.junit:
        atomic_write_text(args.junit, report.junit())
    print({0: "gate: PASS", 1: "gate: FAIL (regression)", 2: "gate: UNUSABLE INPUT"}[report.exit_code])
    return report.exit_code


def _cache(args: argparse.Namespace) -> int:
    from .config import default_cache_dir
    from .encoding.cache_upkeep import cache_report, prune_cache
    from .encoding.embedding_cache import cache_folder
    from .report.console import format_cache_report

    folder = cache_folder(args.embedding_cache or default_cache_dir())
    freed = None
    try:
        if args.older_than is not None or args.max_size is not None or args.model or args.all:
            freed = prune_cache(folder, older_than_s=None if args.older_than is None else args.older_than * 86400,
                                max_bytes=args.max_size, model=args.model, everything=args.all)
        spaces = cache_report(folder)
    except OSError as exc:
        raise BgeEvalError(f"--embedding-cache {folder}: {exc.filename or folder}: {exc.strerror or exc}; the cache "
                           "needs a folder this user can read and write.") from exc
    print(format_cache_report(folder, spaces, freed))
    problems = [space.problem for space in spaces if space.problem]
    for problem in problems:
        print(f"bge_eval: error: {problem}; remove that folder (or prune with --all).", file=sys.stderr)
    return 2 if problems else 0


def _validate(args: argparse.Namespace) -> int:
    from .report.console import format_validation
    from .tasks.validate import validate_card, validate_suite

    tokenizer = None
    if args.model:
        from transformers import AutoTokenizer

        from .models import resolve_model

        tokenizer = AutoTokenizer.from_pretrained(str(resolve_model(args.model, args.model_path).checkpoint))
    for path in args.path:
        print(format_validation(validate_suite(path, tokenizer) if path.is_file() else validate_card(path, tokenizer)))
    return 0


def _tasks(args: argparse.Namespace) -> int:
    from . import api
    from .report.console import format_task_listing

    if args.instruction is not None and args.instruction_policy != "bge":
        raise BgeEvalError("--instruction needs --instruction-policy bge (it follows the bge recipe).")
    data_dir = Path(args.data_dir) if args.data_dir else None
    listing = api.describe_tasks(args.model, args.tasks, benchmark=args.benchmark, model_path=args.model_path,
                                 instruction_policy=args.instruction_policy, instruction=args.instruction,
                                 data_dir=data_dir)
    if args.json:
        for row in listing.rows:
            print(json.dumps(row.to_json(), ensure_ascii=False))
    else:
        recipe = f"{args.model}, policy {args.instruction_policy}" if args.model else None
        print(format_task_listing(listing.benchmark, listing.rows, data_dir, recipe))
    return 0


def _quiet_libraries(verbose: bool) -> None:
    # tokenisation stays multi-threaded (serial, it caps GPU encoding near 300k tokens/s); set
    # here, it also silences the tokenizers library's warning about the setting
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if not verbose:
        import warnings

        warnings.filterwarnings("ignore", message=".*superseded.*")
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        # The libraries' own bars (weight loading, dataset building); the run shows its own.
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
        if "transformers" in sys.modules:  # imported before: its bar setting was read then
            sys.modules["transformers"].utils.logging.disable_progress_bar()
        for name in ("mteb", "datasets", "transformers", "sentence_transformers"):
            logging.getLogger(name).setLevel(logging.ERROR)
    logging.getLogger("bge_eval").setLevel(logging.INFO)
