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
from .cli_options import add_bisect_parser, add_run_parser, filter_options, run_options
from .cli_parsers import REPORT_FOLDER, add_other_parsers
from .cli_run import cards_in, early_checks, prog_name, ray_options, run_command, write_report
from .config import GATE_TOLERANCE
from .errors import BgeEvalError, internal_error

DESCRIPTION = """\
Evaluate BGE (and other sentence-embedding) models on MTEB / C-MTEB tasks with mteb 2.

  {prog} run                       # the bundled demo suite, offline, all-MiniLM-L6-v2
  {prog} run --tasks STSBenchmark SciFact --data-dir ../shared/data     # offline too
  {prog} run --model BAAI/bge-base-en-v1.5 --tasks SciFact --data-dir ../shared/data
                                   # BGE weights: from the hub, or --model-path DIR
  {prog} tasks --benchmark C-MTEB --data-dir ../shared/data
"""


def versions() -> str:
    """bge_eval's and mteb's versions, from the installed packages' metadata (nothing imported)."""
    from importlib import metadata

    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "not installed"

    return f"bge_eval {version('bge_eval')} (mteb {version('mteb')})"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog_name(), description=DESCRIPTION.format(prog=prog_name()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=versions())
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    add_run_parser(commands)
    add_bisect_parser(commands)
    add_other_parsers(commands)
    return parser


RESUMING = ("run", "bisect")  # the commands whose finished work a rerun takes up again
PATH_ERRORS = (errno.EISDIR, errno.ENOTDIR, errno.EEXIST, errno.EACCES, errno.EPERM, errno.EROFS)


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
            return run_command(args, run_options(args, parser))
        if args.command == "gate":
            return _gate(args)
        if args.command == "report":
            return write_report(list(args.results) + list(args.baseline),
                                args.output or args.results[0] / REPORT_FOLDER, args.models, args.base,
                                filter_options(args), args.audit)
        if args.command == "validate":
            return _validate(args)
        if args.command == "cache":
            return _cache(args)
        if args.command == "compare":
            return _compare(args)
        if args.command == "bisect":
            return _bisect(args, run_options(args, parser), parser)
        if args.command == "audit":
            return _audit(args)
        return _tasks(args)
    except BgeEvalError as exc:
        print(f"bge_eval: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        kept = ("finished tasks are saved, rerun the same command to resume" if args.command in RESUMING
                else "no file was left half-written; rerun the same command")
        print(f"bge_eval: interrupted; {kept}.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader left (`| head`): nothing more can be said there
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        if exc.errno in PATH_ERRORS and exc.filename:  # a path the user named cannot be used as it is
            path = exc.filename2 or exc.filename
            print(f"bge_eval: error: {path}{_which_folder(path, args)}: {exc.strerror}; give a path that can be "
                  "read or written as the option needs it, and rerun.", file=sys.stderr)
            return 2
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
                      revision=args.revision, audit=args.audit)
    for verdict in report.verdicts:
        print(f"[{verdict.status}] {verdict.message}")
    if args.summary:
        atomic_write_text(args.summary, report.markdown())
    if args.junit:
        atomic_write_text(args.junit, report.junit())
    print({0: "gate: PASS", 1: "gate: FAIL (regression)", 2: "gate: UNUSABLE INPUT"}[report.exit_code])
    return report.exit_code


def _bisect(args: argparse.Namespace, options: dict, parser: argparse.ArgumentParser) -> int:
    if args.models is None or args.reranker or args.report:
        parser.error("bisect takes its checkpoints from --models FILE, in training order (no --model, --reranker "
                     "or --report)")
    tasks = list(args.tasks) + [str(folder) for task_dir in args.task_dir for folder in cards_in(task_dir)]
    early_checks(args, tasks, options)
    from . import api
    from .report.console import format_bisect
    from .run.sweep import read_models_file

    options = {k: v for k, v in options.items() if k not in ("model_path", "revision")}
    result = api.bisect(read_models_file(args.models), tasks, benchmark=args.benchmark, ray=ray_options(args),
                        tolerance=args.max_drop, alpha=args.significance, **options)
    print(format_bisect(result))
    return result.exit_code


def _audit(args: argparse.Namespace) -> int:
    from . import api
    from .report.console import format_audit

    result = api.audit(args.train, args.tasks, benchmark=args.benchmark, suite=args.suite, data_dir=args.data_dir,
                       threshold=args.threshold, output=args.output)
    print(format_audit(result, args.output))
    above = result.above(args.fail_above) if args.fail_above is not None else []
    if above:
        print(f"audit: above {args.fail_above:.2%} of items seen in training: "
              + ", ".join(f"{t.key} {t.share:.2%}" for t in above), file=sys.stderr)
        return 1
    return 0


def _compare(args: argparse.Namespace) -> int:
    from . import api
    from .comparison.outputs import format_comparison, write_comparison
    from .comparison.viewer import viewer_html

    comparison = api.compare(args.base, args.new, base_model=args.base_model, new_model=args.new_model,
                             tasks=args.tasks, metric=args.metric, audit=args.audit)
    print(format_comparison(comparison))
    if args.output is not None:
        page = viewer_html(comparison, args.data_dir, args.items)
        print("written: " + ", ".join(str(path) for path in write_comparison(comparison, args.output, page)))
    return 0


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
    from .tasks.names import refuse_unknown_names

    if args.instruction is not None and args.instruction_policy != "bge":
        raise BgeEvalError("--instruction needs --instruction-policy bge (it follows the bge recipe).")
    refuse_unknown_names(list(args.tasks), args.benchmark, list(args.task_types), list(args.categories))
    from . import api
    from .report.console import format_task_listing

    data_dir = Path(args.data_dir) if args.data_dir else None
    listing = api.describe_tasks(args.model, args.tasks, benchmark=args.benchmark, model_path=args.model_path,
                                 instruction_policy=args.instruction_policy, instruction=args.instruction,
                                 data_dir=data_dir, **filter_options(args))
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
