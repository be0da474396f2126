"""The `run` command's options and what they become: RunConfig's fields, a sweep's models,
the Ray executor's settings; and the argument types and option groups the commands share."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ._util import folder_problem
from .config import (
    DATA_DIR_ENV,
    DEFAULT_CACHE_MAX_BYTES,
    DEFAULT_CORPUS_CHUNK_DOCS,
    DEMO_MODEL,
    GATE_ALPHA,
    GATE_TOLERANCE,
    INSTRUCTION_POLICIES,
    PRECISIONS,
    RERANK_TOP_K,
    default_cache_dir,
)


def add_run_parser(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser(
        "run", help="evaluate a model and save results (resumes by default)",
        description="Evaluate a model on tasks or a benchmark. Results go to "
        "OUTPUT/results/<org__model>/<revision>/<Task>.json (mteb's ResultCache layout), "
        "predictions to OUTPUT/predictions/..., a run manifest beside the results.",
    )
    add_run_options(run)


def add_bisect_parser(commands: argparse._SubParsersAction) -> None:
    bisect = commands.add_parser(
        "bisect", help="find the first checkpoint of a fine-tune whose scores dropped",
        description="Checkpoints in training order (--models FILE, the sweep's format): the first and the last "
        "are evaluated, then the range is halved, naming the first checkpoint whose score on a task dropped "
        "beyond --max-drop with the gate's one-sided paired test significant against the first. Each "
        "evaluation is a run (results and embeddings reused, resumable, --ray works). Exit 0: no regression; "
        "1: the first regressed checkpoint is named; 2: unusable input. Writes OUTPUT/bisect.json.")
    add_run_options(bisect)
    bisect.add_argument("--max-drop", type=non_negative_float, default=GATE_TOLERANCE, metavar="X",
                        help=f"the drop a checkpoint may show against the first (default {GATE_TOLERANCE})")
    bisect.add_argument("--significance", type=probability, default=GATE_ALPHA, metavar="ALPHA",
                        help=f"level of the one-sided paired test (default {GATE_ALPHA})")


def add_run_options(run: argparse.ArgumentParser) -> None:
    run.add_argument("--model", action="append", default=[], metavar="NAME",
                     help="model identity (hub name), e.g. BAAI/bge-base-en-v1.5; results are stored "
                     f"under it; repeat it for a sweep. Default: {DEMO_MODEL} on the demo suite.")
    run.add_argument("--model-path", action="append", default=[], type=Path, metavar="DIR",
                     help="load this local checkpoint instead of the hub / HF cache; NAME stays its identity "
                     "(in a sweep: once per --model, in order)")
    run.add_argument("--revision", action="append", default=[],
                     help="the identity's revision (default: HF cache snapshot, else mteb's registry; "
                     "in a sweep: once per --model)")
    run.add_argument("--models", type=Path, metavar="FILE",
                     help="a sweep's models: a TOML file of [[model]] tables with name, path, revision (docs/ray.md)")
    run.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                     help="run each (model, task) unit as a Ray task on the cluster at ADDRESS (default "
                     "$RAY_ADDRESS, else a local cluster); needs " + 'pip install "bge_eval[ray]"')
    run.add_argument("--ray-gpus-per-task", type=non_negative_float, metavar="X",
                     help="GPUs each unit asks for (default 1 where the cluster has GPUs)")
    run.add_argument("--ray-cpus-per-task", type=non_negative_float, metavar="X",
                     help="CPUs each unit asks for on a cluster without GPUs (default 1)")
    run.add_argument("--ray-retries", type=non_negative_int, default=2, metavar="N",
                     help="retries of a unit whose worker process or node was lost (default 2)")
    run.add_argument("--corpus-shards", type=positive_int, default=1, metavar="N",
                     help="with --ray: split each full-corpus retrieval task's corpus into N shards, each "
                     "encoded and searched by its own Ray task, the top-k merged exactly (default 1)")
    run.add_argument("--tasks", nargs="+", default=[], metavar="T",
                     help="task names, or folders holding a task card (task.toml beside its data); "
                     "default: the benchmark's")
    run.add_argument("--task-dir", action="append", default=[], type=Path, metavar="DIR",
                     help="add every task card under DIR (repeatable)")
    run.add_argument("--suite", type=Path, metavar="FILE",
                     help="run a suite's tasks (a TOML file of registry names and card folders, tasks/*.suite.toml)")
    run.add_argument("--benchmark", metavar="NAME",
                     help='"MTEB(eng, v1)", "MTEB(cmn, v1)" (alias C-MTEB), any mteb benchmark, or "demo"; '
                     "default: the benchmark of the model's language (demo when --model is not given)")
    add_task_filters(run)
    add_data_dir(run)
    run.add_argument("--output", type=output_folder, default=Path("results"), metavar="DIR",
                     help="results folder (default: results/)")
    run.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    run.add_argument("--devices", nargs="+", default=[], metavar="D",
                     help="encode on several devices, one worker process each: cuda:0 cuda:1 ..., or all "
                     "(every visible GPU); results equal one device's")
    run.add_argument("--batch-size", type=int, metavar="N",
                     help="most texts per batch (default 32 on CPU; 1024 on CUDA, where --token-budget sizes batches)")
    run.add_argument("--precision", default="auto",
                     help=f"{', '.join(PRECISIONS)}; auto = fp16 on CUDA, fp32 on CPU")
    add_recipe_options(run)
    run.add_argument("--token-budget", type=int, metavar="N",
                     help="padded tokens per batch (default 65536 on CUDA; CPU batches by --batch-size)")
    run.add_argument("--corpus-chunk", type=positive_int, default=DEFAULT_CORPUS_CHUNK_DOCS, metavar="DOCS",
                     help="documents per chunk of a full-corpus search: one embedding-cache entry and one block "
                     f"of scores each; corpus shards are whole chunks (default {DEFAULT_CORPUS_CHUNK_DOCS})")
    run.add_argument("--compile", action="store_true",
                     help="torch.compile the model: a one-off compile (about a minute), then faster encoding")
    run.add_argument("--padded", action="store_true",
                     help="encode padded batches (default on CUDA: BERT-family models on packed tokens, "
                     "FlashAttention per text)")
    run.add_argument("--embedding-cache", type=Path, metavar="DIR", default=None,
                     help="folder of cached embeddings, shared by runs (default $BGE_EVAL_CACHE_DIR "
                     "or ~/.cache/bge_eval/embeddings)")
    run.add_argument("--embedding-cache-max", type=byte_size, default=DEFAULT_CACHE_MAX_BYTES, metavar="SIZE",
                     help="the cache's bound on disk, such as 500M or 50G; least recently used shards are removed "
                     "past it; 0: no cache (default 10G)")
    run.add_argument("--no-embedding-cache", action="store_true", help="encode everything afresh")
    run.add_argument("--overwrite", action="store_true", help="recompute tasks that already have results")
    run.add_argument("--keep-results", action="store_true",
                     help="refuse (exit 2) instead of recomputing a saved result made from other weights, data or "
                     "settings")
    run.add_argument("--no-predictions", action="store_true", help="do not save per-query/per-pair predictions")
    run.add_argument("--reranker", metavar="NAME",
                     help="a cross-encoder (bge-reranker-base/large, any CrossEncoder checkpoint): scores "
                     "reranking tasks, and reranks the embedder's top-k on retrieval tasks (second stage)")
    run.add_argument("--reranker-path", type=Path, metavar="DIR", help="local checkpoint of the reranker")
    run.add_argument("--rerank-top-k", type=positive_int, default=RERANK_TOP_K, metavar="K",
                     help=f"first-stage candidates per query for reranking (default {RERANK_TOP_K})")
    run.add_argument("--index", action="append", default=[], metavar="VARIANT",
                     help="also search each retrieval task through this index (repeatable): fp16, int8, binary, "
                     "binary-rescore:R, dims:D, hnsw:M[:EF], ivf-flat:NLIST[:NPROBE], ivf-pq:NLIST:M[:NPROBE]; "
                     "results as revision REV+index-VARIANT (docs/index-variants.md); with --reranker each "
                     "variant's candidates are reranked too")
    run.add_argument("--report", type=output_folder, metavar="DIR",
                     help="also write a report (index.html, README.md) of this run's results to DIR")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    run.add_argument("--fail-fast", action="store_true",
                     help="stop at the first task that fails (default: report it, finish the others, exit non-zero)")
    run.add_argument("-v", "--verbose", action="store_true",
                     help="log mteb's progress messages and show the libraries' own bars and warnings")


def add_task_filters(parser: argparse.ArgumentParser) -> None:
    """mteb's task filters, named as mteb's own command line names them."""
    group = parser.add_argument_group("task filters (as mteb's CLI and mteb.get_tasks; over --benchmark, or alone "
                                      "over mteb's registry)")
    group.add_argument("--task-types", nargs="+", default=[], metavar="TYPE",
                       help="Retrieval, STS, Classification, ... (not with --tasks)")
    group.add_argument("--languages", nargs="+", default=[], metavar="LANG",
                       help="ISO 639-3 codes (eng, cmn, ...); multilingual tasks keep those subsets")
    group.add_argument("--categories", nargs="+", default=[], metavar="CAT", help="mteb's: t2t (text to text), "
                       "t2c (text to category), ... (not with --tasks)")
    group.add_argument("--eval-splits", nargs="+", default=[], metavar="SPLIT",
                       help="evaluate only these splits (a task with none of them is left out)")


def filter_options(args: argparse.Namespace) -> dict:
    return dict(task_types=tuple(args.task_types), languages=tuple(args.languages),
                categories=tuple(args.categories), eval_splits=tuple(args.eval_splits))


def add_recipe_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--instruction-policy", default="bge",
                        help=f"{', '.join(INSTRUCTION_POLICIES)}. bge: BGE's own recipe (docs/recipe.md: the "
                        "instruction on BGE's task lists, English vectors unnormalised); mteb: mteb's registry "
                        "prompts; none")
    parser.add_argument("--instruction", metavar="TEXT",
                        help="a custom query instruction (replaces the model's on the tasks the bge recipe instructs)")


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, default=os.environ.get(DATA_DIR_ENV) or None, metavar="DIR",
                        help=f"local task data (layout of shared/data, or hub mirrors); env {DATA_DIR_ENV}")


def bounded(convert, minimum, description: str):
    """An argparse type: `convert(text)`, at least `minimum`."""

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {description}, got {text!r}") from None
        if value != value or value in (float("inf"), float("-inf")) or value < minimum:  # NaN, infinities
            raise argparse.ArgumentTypeError(f"expected {description}, got {value}")
        return value

    return parse


positive_int = bounded(int, 1, "a positive integer")
non_negative_float = bounded(float, 0.0, "a number >= 0")
non_negative_int = bounded(int, 0, "an integer >= 0")


_SIZE_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def byte_size(text: str) -> int:
    """A size such as 500M, 20G or 1.5T (powers of 1024), or plain bytes."""
    number, unit = text.strip().upper().removesuffix("B"), ""
    if number and number[-1] in _SIZE_UNITS:
        number, unit = number[:-1], number[-1]
    try:
        value = float(number)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a size such as 500M or 20G, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a size >= 0, got {text!r}")
    return int(value * _SIZE_UNITS[unit])


def output_folder(text: str) -> Path:
    """A folder to write into: refused at once when it, or a folder above it, is a file."""
    problem = folder_problem(Path(text))
    if problem is not None:
        raise argparse.ArgumentTypeError(f"{problem}; choose a folder you can write to")
    return Path(text)


def fraction(text: str) -> float:
    value = non_negative_float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a share between 0 and 1, got {value}")
    return value


def positive_fraction(text: str) -> float:
    value = fraction(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"expected a share above 0 and at most 1, got {value}")
    return value


def probability(text: str) -> float:
    value = non_negative_float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a level between 0 and 1, got {value}")
    return value


def single(values: list) -> object:
    """A once-per-model option's value for a run of one model (None when not given)."""
    return values[0] if len(values) == 1 else None


def run_options(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict:
    """`run`'s arguments as api.evaluate's keyword options (RunConfig's fields)."""
    if args.model_path and not args.model:
        parser.error("--model-path needs --model NAME (the identity results are stored under)")
    if args.models is not None and args.model:
        parser.error("--models lists the sweep's models: give it without --model")
    if args.ray is not None and args.reranker:
        parser.error("--reranker is not run on Ray yet: run the second stage without --ray")
    if args.corpus_shards > 1 and args.ray is None:
        parser.error("--corpus-shards splits a corpus over Ray workers: give it with --ray")
    if args.reranker_path is not None and args.reranker is None:
        parser.error("--reranker-path needs --reranker NAME")
    if args.suite is not None and (args.tasks or args.task_dir or args.benchmark or any(filter_options(args).values())):
        parser.error("--suite names its own tasks: give it without --tasks, --task-dir, --benchmark or task filters")
    return dict(
        model_path=single(args.model_path), revision=single(args.revision),
        data_dir=Path(args.data_dir) if args.data_dir else None,
        output=args.output, device=args.device, devices=tuple(args.devices), batch_size=args.batch_size,
        precision=args.precision, instruction_policy=args.instruction_policy, instruction=args.instruction,
        token_budget=args.token_budget, corpus_chunk=args.corpus_chunk, compile=args.compile, packed=not args.padded,
        embedding_cache=None if args.no_embedding_cache else (args.embedding_cache or default_cache_dir()),
        embedding_cache_max_bytes=args.embedding_cache_max,
        overwrite=args.overwrite, keep_results=args.keep_results, save_predictions=not args.no_predictions,
        suite=args.suite, progress=not args.no_progress, fail_fast=args.fail_fast, **filter_options(args),
    )


