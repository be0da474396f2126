"""The runner: the only module that calls mteb.evaluate.

One task at a time: skip it when its result file already holds every scored split
(resume), otherwise load its data, evaluate, save predictions, free the data, and
record the wall time in the run manifest.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import RunConfig
from ..errors import BgeEvalError, DataError
from ..models.instructions import InstructionRouter
from ..models.resolve import ResolvedModel, mteb_meta, resolve_model
from ..results.files import has_splits, read_result_file
from ..tasks.local_data import attach_local_data
from ..tasks.selection import PlannedTask, TaskPlan, benchmark_metric, plan_tasks
from .cmteb_scores import add_cmteb_scores
from .layout import commit_task, output_lock, results_location, staging_folder
from .manifest import (
    MANIFEST_NAME,
    atomic_write_json,
    device_facts,
    harness_git_revision,
    new_manifest,
    now,
    package_versions,
    read_manifest,
)
from .per_query import per_query_path, write_per_query
from .similarities import similarities_path, write_similarities

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TaskOutcome:
    """What happened to one task in a run."""

    name: str
    type: str
    status: str  # "computed" or "cached"
    wall_s: float
    main_scores: dict[str, float]  # split -> main score (mean over subsets)


@dataclass(frozen=True)
class RunSummary:
    model: str
    revision: str
    results_dir: Path
    predictions_dir: Path
    outcomes: list[TaskOutcome]
    skipped: list[str] = field(default_factory=list)


def run(config: RunConfig, *, encoder: Any = None, resolved: ResolvedModel | None = None) -> RunSummary:
    """Evaluate `config.model` on the planned tasks; resumes from earlier runs.

    encoder: an already-built mteb encoder (tests pass recording encoders); it must carry
    `mteb_model_meta` and, for the manifest, may carry `router` and `device`.
    """
    if config.devices:  # checked before anything is written
        from ..encoding.multi_device import resolve_devices

        resolve_devices(config.devices)
    if encoder is None:
        resolved = resolved or resolve_model(config.model, config.model_path, config.revision)
        meta = mteb_meta(resolved)
        language = resolved.spec.language
        router = make_router(config, resolved, meta)
    else:
        meta = encoder.mteb_model_meta
        language = getattr(getattr(encoder, "spec", None), "language", "en")
        router = getattr(encoder, "router", None)
    plan = plan_tasks(config.tasks, config.benchmark, config.data_dir, language)
    if plan.skipped:
        log.warning(
            "Skipped %d task(s) of %s with no local data in %s: %s",
            len(plan.skipped), plan.benchmark, config.data_dir, ", ".join(plan.skipped),
        )
    results_dir, predictions_dir = results_location(config.output, meta)
    with output_lock(Path(config.output)):
        todo = {t.name for t in plan.tasks
                if config.overwrite or not has_splits(results_dir / f"{t.name}.json", t.splits)}
        instruction = router.describe() if router else None
        manifest = _start_manifest(results_dir, config, instruction, resolved, plan)
        owned = None  # an encoder built here, closed here (it may hold worker processes)
        if encoder is None and todo:
            from ..encoding.embedding_cache import EmbeddingCache
            from ..encoding.mteb_encoder import BgeEncoder

            cache = EmbeddingCache(config.embedding_cache) if config.embedding_cache else None
            encoder = BgeEncoder(resolved, router, meta, device=config.device, devices=config.devices,
                                 precision=config.precision, batch_size=config.batch_size,
                                 token_budget=config.token_budget, compile_model=config.compile,
                                 packed=config.packed, cache=cache)
            owned = encoder
        if encoder is not None and hasattr(encoder, "device"):
            manifest["device"] = device_facts(encoder.device)
            if config.devices:
                manifest["device"]["encoding_devices"] = list(config.devices)
            manifest["compiled"] = config.compile
            manifest["packed"] = bool(getattr(getattr(encoder.embedder, "engine", None), "packs", False))
            manifest["precision"] = str(getattr(encoder, "dtype", "")).replace("torch.", "")
        staging = staging_folder(Path(config.output))
        try:
            outcomes = [
                _run_task(planned, planned.name in todo, config, encoder, staging, results_dir,
                          predictions_dir, meta, manifest)
                for planned in plan.tasks
            ]
        finally:
            shutil.rmtree(staging.parent, ignore_errors=True)  # we hold the lock: all of .staging is ours
            if owned is not None:
                owned.close()
        manifest["runs"][-1]["finished"] = now()
        atomic_write_json(results_dir / MANIFEST_NAME, manifest)
    return RunSummary(meta.name, str(meta.revision), results_dir, predictions_dir, outcomes, plan.skipped)


def _run_task(
    planned: PlannedTask,
    compute: bool,
    config: RunConfig,
    encoder: Any,
    staging: Path,
    results_dir: Path,
    predictions_dir: Path,
    meta: Any,
    manifest: dict[str, Any],
) -> TaskOutcome:
    """Evaluate one task (unless its results are complete) and record it in the manifest."""
    result_path = results_dir / f"{planned.name}.json"
    if not compute:
        return _outcome(planned, "cached", 0.0, result_path)
    wall = evaluate_task(planned, encoder, config, staging, results_dir, predictions_dir, meta)
    manifest["tasks"][planned.name] = {
        "type": planned.type,
        "splits": list(planned.splits),
        "data_source": planned.data_source,
        "seed": getattr(planned.task, "seed", None),
        "wall_s": round(wall, 3),
        "finished": now(),
    }
    atomic_write_json(results_dir / MANIFEST_NAME, manifest)
    return _outcome(planned, "computed", wall, result_path)


def evaluate_task(
    planned: PlannedTask,
    model: Any,
    config: RunConfig,
    staging: Path,
    results_dir: Path,
    predictions_dir: Path,
    meta: Any,
    prepare: Callable[[Any], None] | None = None,
) -> float:
    """Load the task's data, run mteb on it into staging, add our metrics, commit the files.

    prepare: called with the loaded task before evaluation (the reranking stage uses it to
    set each query's candidates from the first stage). Returns the wall time in seconds.
    """
    import mteb

    started = time.perf_counter()
    _load(planned, config)
    try:
        if prepare is not None:
            prepare(planned.task)
        mteb.evaluate(
            model,
            [planned.task],
            cache=mteb.ResultCache(cache_path=staging),
            overwrite_strategy="always",
            prediction_folder=staging / "predictions",  # needed for per-query and C-MTEB metrics
            co2_tracker=False,
            # sizes mteb's DataLoader only; the encoder's batches were set when it was built
            encode_kwargs={"batch_size": config.batch_size or 32},
            show_progress_bar=True,
        )
        staged = staging / "predictions"
        predictions_file = staged / planned.task.prediction_file_name
        model_dir = Path(meta.model_name_as_path()) / str(meta.revision)
        if predictions_file.is_file():  # read once, used by the three extras below
            predictions = json.loads(predictions_file.read_text(encoding="utf-8"))
            add_cmteb_scores(planned.task, predictions, staging / "results" / model_dir / f"{planned.name}.json")
            write_per_query(planned.task, predictions, per_query_path(staged, planned.name))
            write_similarities(planned.task, predictions, similarities_path(staged, planned.name))
        if not config.save_predictions:
            predictions_file.unlink(missing_ok=True)
    finally:
        _unload(planned)
    commit_task(staging, model_dir, results_dir, predictions_dir, planned.name)
    return time.perf_counter() - started


def make_router(config: RunConfig, resolved: ResolvedModel, meta: Any) -> InstructionRouter:
    prompts = (meta.loader_kwargs or {}).get("model_prompts") if config.instruction_policy == "mteb" else None
    return InstructionRouter(
        policy=config.instruction_policy, spec=resolved.spec, custom=config.instruction, mteb_prompts=prompts
    )


def _start_manifest(
    results_dir: Path,
    config: RunConfig,
    instruction: dict | None,
    resolved: ResolvedModel | None,
    plan: TaskPlan,
) -> dict[str, Any]:
    previous = read_manifest(results_dir)
    if previous and instruction and previous.get("instruction") not in (None, instruction):
        if not config.overwrite:
            raise BgeEvalError(
                f"{results_dir / MANIFEST_NAME}: these results were made with instruction "
                f"{previous['instruction']}, this run asks for {instruction}. Use another --output "
                "folder for this setting (or --overwrite to replace them)."
            )
    facts: dict[str, Any] = {
        "bge_eval_manifest": 1,
        "config": config.to_json(),
        "instruction": instruction,
        "benchmark": plan.benchmark,
        "skipped_tasks": plan.skipped,
        "versions": package_versions(),
        "harness_git_revision": harness_git_revision(),
        "seed": 42,
    }
    if resolved is not None:
        facts["model"] = {
            "name": resolved.spec.name,
            "source": resolved.source,
            "checkpoint": str(resolved.checkpoint),
            "spec": resolved.spec.__dict__,
        }
    return new_manifest(previous, facts)


def _load(planned: PlannedTask, config: RunConfig) -> None:
    if planned.data_source == "local":
        attach_local_data(planned.task, config.data_dir)
    elif planned.data_source == "demo":
        planned.task.load_data()
    else:
        _load_from_hub(planned)


def _load_from_hub(planned: PlannedTask) -> None:
    """mteb's own loading, failing fast with a sentence when the hub cannot be reached."""
    from ..models.resolve import _hub_reachable

    offline = os.environ.get("HF_DATASETS_OFFLINE", "").lower() in {"1", "true", "yes", "on"}
    hint = (f"pass --data-dir DIR with a local copy (the folder DIR/{planned.name}, see README "
            "'Local data')")
    if not offline and not _hub_reachable():
        raise DataError(f"Task {planned.name}: its data is on the Hugging Face hub, which is not "
                        f"reachable from here; {hint}, or set HF_DATASETS_OFFLINE=1 to use the datasets cache.")
    try:
        planned.task.load_data()
    except Exception as exc:  # noqa: BLE001 - datasets raises many kinds; one sentence for the user
        raise DataError(f"Task {planned.name}: loading its data from the hub / datasets cache failed "
                        f"({type(exc).__name__}: {str(exc)[:200]}); {hint}.") from exc


def _unload(planned: PlannedTask) -> None:
    planned.task.dataset = None
    planned.task.data_loaded = False


def _outcome(planned: PlannedTask, status: str, wall: float, result_path: Path) -> TaskOutcome:
    """The task's score per split, in the metric its benchmark publishes (see benchmark_metric)."""
    scores = read_result_file(result_path)["scores"]
    metric = benchmark_metric(planned.name, planned.type)
    main = {}
    for split in planned.splits:
        values = [entry.get(metric, entry["main_score"]) for entry in scores.get(split, [])]
        if values:
            main[split] = sum(values) / len(values)
    return TaskOutcome(planned.name, planned.type, status, round(wall, 3), main)
