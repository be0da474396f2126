"""The parsers of the commands beside `run` (report, gate, tasks, cache, validate, compare); what
each does is in cli.py and the API."""

from __future__ import annotations

import argparse
from pathlib import Path

from .cli_options import (
    add_data_dir,
    add_recipe_options,
    add_task_filters,
    byte_size,
    fraction,
    non_negative_float,
    output_folder,
    positive_fraction,
    positive_int,
    probability,
)
from .config import GATE_ALPHA, GATE_TOLERANCE, VIEWER_ITEMS
from .tasks.types import GATE_METRICS

REPORT_FOLDER = "report"  # `report`'s default output, inside the first results folder


def add_other_parsers(commands: argparse._SubParsersAction) -> None:
    report = commands.add_parser(
        "report", help="write leaderboard tables, published comparison and plots from saved results",
        description="Write DIR/index.html (self-contained) and DIR/README.md from saved results only "
        "(no model, no GPU). Several results folders are compared side by side.",
    )
    report.add_argument("results", nargs="+", type=Path, metavar="RESULTS_DIR",
                        help="--output folders of runs (or any folder holding their results)")
    report.add_argument("--output", type=output_folder, default=None, metavar="DIR",
                        help=f"where to write index.html and README.md (default: RESULTS_DIR/{REPORT_FOLDER}, "
                        "in the first results folder)")
    report.add_argument("--models", nargs="+", default=None, metavar="NAME", help="only these models")
    report.add_argument("--base", metavar="NAME", help="compare every other model with this one (a sweep's "
                        "base checkpoint): deltas per task with the gate's paired test, and a chart")
    report.add_argument("--audit", type=Path, default=None, metavar="FILE",
                        help="an audit.json (python -m bge_eval audit): each task's score on the items it found "
                        "clean beside the full score (default: an audit.json in a RESULTS_DIR)")
    report.add_argument("--baseline", nargs="+", type=Path, default=[], metavar="RESULTS_DIR",
                        help="more results folders to compare against (shown side by side)")
    add_task_filters(report)

    gate = commands.add_parser(
        "gate", help="fail CI when a task's score regresses against a baseline (every task type is gated)",
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
    gate.add_argument("--audit", type=Path, metavar="FILE",
                      help="an audit.json: gate its tasks on the items it found clean, both sides (the baseline's "
                      "per-item sidecar is needed)")
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
    add_task_filters(tasks)
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
    add_compare_parser(commands)
    add_audit_parser(commands)


def add_audit_parser(commands: argparse._SubParsersAction) -> None:
    audit = commands.add_parser(
        "audit", help="is the score honest? evaluated texts searched in your training data",
        description="Every training text against every text the tasks evaluate: exact copies (after NFKC, case, "
        "punctuation and whitespace folding) and near copies (MinHash LSH over shingles, confirmed by their "
        "Jaccard similarity); per task the queries, relevant documents, pairs and examples seen in training and "
        "the worst case, a query with its relevant document as one (query, pos) line. Writes OUTPUT/audit.json; "
        "report, compare and gate then show the clean items' scores (docs/audit.md).")
    audit.add_argument("--train", type=Path, nargs="+", required=True, metavar="PATH",
                       help="training files: FlagEmbedding's fine-tuning JSON Lines (query, pos, neg), JSON Lines "
                       "with a text field, or plain text lines; .gz too")
    audit.add_argument("--tasks", nargs="+", default=[], metavar="T", help="task names or card folders")
    audit.add_argument("--benchmark", metavar="NAME", help="a benchmark's tasks (those with local data under "
                       "--data-dir)")
    audit.add_argument("--suite", type=Path, metavar="FILE", help="a suite file's tasks")
    audit.add_argument("--output", type=output_folder, default=Path("results"), metavar="DIR",
                       help="where audit.json goes (default: results, beside a run's results)")
    audit.add_argument("--threshold", type=positive_fraction, default=None, metavar="J",
                       help="Jaccard similarity of shingles at or above which texts are near copies (default 0.6)")
    audit.add_argument("--fail-above", type=fraction, default=None, metavar="SHARE",
                       help="exit 1 when a task's share of items seen in training is above SHARE (CI)")
    add_data_dir(audit)


def _gate_defaults() -> str:
    return "; ".join(f"{task_type} {' or '.join(metrics)}" for task_type, metrics in GATE_METRICS.items()) + \
        "; other types their main score"


def add_compare_parser(commands: argparse._SubParsersAction) -> None:
    compare = commands.add_parser(
        "compare", help="why a checkpoint changed: two results compared query by query, pair by pair",
        description="Compare two model identities' saved results item by item: per task, both scores, the "
        "paired test, the smallest change the task can detect, the items improved / worse / unchanged, the "
        "largest movers, and what was lost since the base (a relevant document that left the top 10, a pair "
        "that crossed the gold order's cut, an example no longer classified right). No model, no task data.")
    compare.add_argument("base", type=Path, metavar="BASE", help="the base's results folder (a run's --output)")
    compare.add_argument("new", type=Path, nargs="?", default=None, metavar="NEW",
                         help="the new model's results folder (default: BASE, with --base-model and --new-model)")
    compare.add_argument("--base-model", metavar="NAME[@REV]", help="the base model, where BASE holds several")
    compare.add_argument("--new-model", metavar="NAME[@REV]", help="the new model, where NEW holds several")
    compare.add_argument("--tasks", nargs="+", default=None, metavar="T", help="only these tasks")
    compare.add_argument("--metric", default=None,
                         help="compare this metric (default: the gate's for each type, " + _gate_defaults() + ")")
    compare.add_argument("--output", type=output_folder, default=None, metavar="DIR",
                         help="also write DIR/index.html (the viewer: items, filters, texts), DIR/compare.json "
                         "(every item) and DIR/compare.md")
    compare.add_argument("--audit", type=Path, default=None, metavar="FILE",
                         help="an audit.json: each audited task also compared on the items it found clean")
    compare.add_argument("--items", type=positive_int, default=VIEWER_ITEMS, metavar="N",
                         help=f"items per task on the viewer's page: the lost ones, then the most changed "
                         f"(default {VIEWER_ITEMS})")
    add_data_dir(compare)
