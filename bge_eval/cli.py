"""Command line: `python -m bge_eval run|tasks ...`. Parses options into a RunConfig."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from .config import DATA_DIR_ENV, INSTRUCTION_POLICIES, PRECISIONS, RunConfig
from .errors import BgeEvalError
from .models import DEFAULT_DEMO_MODEL

DESCRIPTION = """\
Evaluate BGE (and other sentence-embedding) models on MTEB / C-MTEB tasks with mteb 2.

  python -m bge_eval run                       # the bundled demo suite, offline, all-MiniLM-L6-v2
  python -m bge_eval run --model BAAI/bge-base-en-v1.5 --tasks SciFact --data-dir ../shared/data
  python -m bge_eval tasks --benchmark C-MTEB --data-dir ../shared/data
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bge_eval", description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run", help="evaluate a model and save results (resumes by default)",
        description="Evaluate a model on tasks or a benchmark. Results go to "
        "OUTPUT/results/<org__model>/<revision>/<Task>.json (mteb's ResultCache layout), "
        "predictions to OUTPUT/predictions/..., a run manifest beside the results.",
    )
    run.add_argument("--model", default=None, metavar="NAME",
                     help="model identity (hub name), e.g. BAAI/bge-base-en-v1.5; results are stored "
                     f"under it. Default: {DEFAULT_DEMO_MODEL} on the demo suite.")
    run.add_argument("--model-path", type=Path, metavar="DIR",
                     help="load this local checkpoint instead of the hub / HF cache; NAME stays its identity")
    run.add_argument("--revision", help="the identity's revision (default: HF cache snapshot, else mteb's registry)")
    run.add_argument("--tasks", nargs="+", default=[], metavar="T", help="task names (default: the benchmark's)")
    run.add_argument("--benchmark", metavar="NAME",
                     help='"MTEB(eng, v1)", "MTEB(cmn, v1)" (alias C-MTEB), any mteb benchmark, or "demo"; '
                     "default: the benchmark of the model's language (demo when --model is not given)")
    _add_data_dir(run)
    run.add_argument("--output", type=Path, default=Path("results"), metavar="DIR",
                     help="results folder (default: results/)")
    run.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    run.add_argument("--batch-size", type=_positive_int, default=32, metavar="N", help="texts per batch (default 32)")
    run.add_argument("--precision", choices=PRECISIONS, default="auto",
                     help="auto = fp16 on CUDA, fp32 on CPU")
    run.add_argument("--instruction-policy", choices=INSTRUCTION_POLICIES, default="bge",
                     help="bge: as BGE's evaluation (English: Retrieval queries except ArguAna/QuoraRetrieval; "
                     "Chinese: Retrieval and Reranking queries); mteb: mteb's registry prompts; none")
    run.add_argument("--instruction", metavar="TEXT",
                     help="a custom query instruction (replaces the model's; routed as the bge policy)")
    run.add_argument("--overwrite", action="store_true", help="recompute tasks that already have results")
    run.add_argument("--no-predictions", action="store_true", help="do not save per-query/per-pair predictions")
    run.add_argument("-v", "--verbose", action="store_true", help="log mteb's progress messages")

    tasks = commands.add_parser("tasks", help="list tasks with type, languages, splits and local data")
    tasks.add_argument("--benchmark", default="MTEB(eng, v1)", metavar="NAME",
                       help='benchmark to list (default "MTEB(eng, v1)"; also C-MTEB, demo, ...)')
    tasks.add_argument("--tasks", nargs="+", default=[], metavar="T", help="only these tasks")
    _add_data_dir(tasks)
    return parser


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, default=os.environ.get(DATA_DIR_ENV) or None, metavar="DIR",
                        help=f"local task data (layout of shared/data, or hub mirrors); env {DATA_DIR_ENV}")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def config_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> RunConfig:
    if args.instruction is not None and args.instruction_policy != "bge":
        parser.error("--instruction needs --instruction-policy bge (it follows the bge routing)")
    if args.data_dir is not None and not Path(args.data_dir).is_dir():
        parser.error(f"--data-dir {args.data_dir}: not a folder")
    if args.model_path is not None and args.model is None:
        parser.error("--model-path needs --model NAME (the identity results are stored under)")
    benchmark = args.benchmark
    if args.model is None and not args.tasks and benchmark is None:
        benchmark = "demo"
    return RunConfig(
        model=args.model or DEFAULT_DEMO_MODEL,
        model_path=args.model_path,
        revision=args.revision,
        tasks=tuple(args.tasks),
        benchmark=benchmark,
        data_dir=Path(args.data_dir) if args.data_dir else None,
        output=args.output,
        device=args.device,
        batch_size=args.batch_size,
        precision=args.precision,
        instruction_policy=args.instruction_policy,
        instruction=args.instruction,
        overwrite=args.overwrite,
        save_predictions=not args.no_predictions,
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _quiet_libraries(getattr(args, "verbose", False))
    try:
        if args.command == "run":
            return _run(config_from_args(args, parser))
        return _tasks(args)
    except BgeEvalError as exc:
        print(f"bge_eval: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("bge_eval: interrupted; finished tasks are saved, rerun the same command to resume.",
              file=sys.stderr)
        return 130


def _run(config: RunConfig) -> int:
    from .runner import run
    from .summary import format_run_summary

    summary = run(config)
    print(format_run_summary(summary))
    return 0


def _tasks(args: argparse.Namespace) -> int:
    from .summary import format_task_listing
    from .tasks import plan_tasks

    plan = plan_tasks(tuple(args.tasks), args.benchmark, None, "en")
    print(format_task_listing(plan, Path(args.data_dir) if args.data_dir else None))
    return 0


def _quiet_libraries(verbose: bool) -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not verbose:
        import warnings

        warnings.filterwarnings("ignore", message=".*superseded.*")
        warnings.filterwarnings("ignore", category=FutureWarning)
        for name in ("mteb", "datasets", "transformers", "sentence_transformers"):
            logging.getLogger(name).setLevel(logging.ERROR)
    logging.getLogger("bge_eval").setLevel(logging.INFO)
