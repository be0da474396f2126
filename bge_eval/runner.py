"""The runner: the only module that calls mteb.evaluate.

One task at a time: skip it when its result file already holds every scored split
(resume), otherwise load its data, evaluate, save predictions, free the data, and
record the wall time in the run manifest.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import RunConfig
from .errors import BgeEvalError
from .instructions import InstructionRouter
from .local_data import attach_local_data
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
from .models import ResolvedModel, mteb_meta, resolve_model
from .results import has_splits, read_result_file
from .tasks import PlannedTask, TaskPlan, plan_tasks

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


def results_location(output: Path, meta: Any) -> tuple[Path, Path]:
    """(results folder, predictions folder) for a model identity, in mteb's ResultCache layout."""
    model_dir = Path(meta.model_name_as_path()) / str(meta.revision)
    return Path(output) / "results" / model_dir, Path(output) / "predictions" / model_dir


def run(config: RunConfig, *, encoder: Any = None, resolved: ResolvedModel | None = None) -> RunSummary:
    """Evaluate `config.model` on the planned tasks; resumes from earlier runs.

    encoder: an already-built mteb encoder (tests pass recording encoders); it must carry
    `mteb_model_meta` and, for the manifest, may carry `router` and `device`.
    """
    import mteb

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
    todo = [t for t in plan.tasks if config.overwrite or not has_splits(results_dir / f"{t.name}.json", t.splits)]
    instruction = router.describe() if router else None
    manifest = _start_manifest(results_dir, config, instruction, resolved, plan)
    if encoder is None and todo:
        from .encoder import BgeEncoder

        encoder = BgeEncoder(resolved, router, meta, device=config.device,
                             precision=config.precision, batch_size=config.batch_size)
    if encoder is not None and hasattr(encoder, "device"):
        manifest["device"] = device_facts(encoder.device)
        manifest["precision"] = str(getattr(encoder, "dtype", "")).replace("torch.", "")

    cache = mteb.ResultCache(cache_path=config.output)
    outcomes = []
    for planned in plan.tasks:
        result_path = results_dir / f"{planned.name}.json"
        if planned not in todo:
            outcomes.append(_outcome(planned, "cached", 0.0, result_path))
            continue
        started = time.perf_counter()
        _load(planned, config)
        try:
            mteb.evaluate(
                encoder,
                [planned.task],
                cache=cache,
                overwrite_strategy="always" if config.overwrite else "only-missing",
                prediction_folder=predictions_dir if config.save_predictions else None,
                co2_tracker=False,
                encode_kwargs={"batch_size": config.batch_size},
                show_progress_bar=True,
            )
        finally:
            _unload(planned)
        wall = time.perf_counter() - started
        manifest["tasks"][planned.name] = {
            "type": planned.type,
            "splits": list(planned.splits),
            "data_source": planned.data_source,
            "wall_s": round(wall, 3),
            "finished": now(),
        }
        atomic_write_json(results_dir / MANIFEST_NAME, manifest)
        outcomes.append(_outcome(planned, "computed", wall, result_path))
    manifest["runs"][-1]["finished"] = now()
    atomic_write_json(results_dir / MANIFEST_NAME, manifest)
    return RunSummary(meta.name, str(meta.revision), results_dir, predictions_dir, outcomes, plan.skipped)


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


def _unload(planned: PlannedTask) -> None:
    planned.task.dataset = None
    planned.task.data_loaded = False


def _outcome(planned: PlannedTask, status: str, wall: float, result_path: Path) -> TaskOutcome:
    scores = read_result_file(result_path)["scores"]
    main = {}
    for split in planned.splits:
        values = [entry["main_score"] for entry in scores.get(split, [])]
        if values:
            main[split] = sum(values) / len(values)
    return TaskOutcome(planned.name, planned.type, status, round(wall, 3), main)
