"""A sweep on a Ray cluster: every (model, task) unit still to compute is one Ray task.

The driver plans each model as a local run does (prepare: identities, resume); a unit runs the
local runner on its one task in a private folder on the worker and sends the files back; the
driver checks that the worker's result identity equals its own, then commits them with the
same staging and atomic renames and records them in the manifest. No shared file system is
assumed for results; weights and data must be at the same paths on every node. A worker or
node lost mid-unit is retried by Ray (max_retries); a unit that still fails is reported and
the others finish; a killed driver's rerun submits only the units without a result."""

from __future__ import annotations

import os
import socket
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from .._util import bar_interval, output_lock
from ..config import RunConfig
from ..errors import BgeEvalError
from ..results.layout import (
    EXTRA_SUFFIXES,
    MANIFEST_NAME,
    MODEL_META_NAME,
    SETTINGS_NAME,
    ResultsLayout,
    commit_task,
    remove_staging,
    staged_predictions_dir,
    staging_folder,
)
from ..results.manifest import Manifest
from .runner import PreparedRun, model_target, plan_run, prepare
from .sweep import ModelEntry, SweepSummary, UnitFailure, model_config
from .task_eval import TaskWork

RAY_EXTRA = 'pip install "bge_eval[ray]"'
RAY_RETRIES = 2  # attempts after the first when a worker process or node is lost


@dataclass(frozen=True)
class RayOptions:
    address: str | None = None  # None: RAY_ADDRESS, else a local cluster started for this run
    gpus_per_task: float | None = None  # default 1 where the cluster has GPUs
    cpus_per_task: float | None = None  # default 1 on a cluster without GPUs
    retries: int = RAY_RETRIES


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise BgeEvalError(f"--ray needs Ray, which is not installed: {RAY_EXTRA}") from None
    return ray


@dataclass(frozen=True)
class UnitResult:
    """What a unit sends back: its files (relative to results/ or predictions/), its manifest record."""

    task: str
    files: dict[str, bytes]
    record: dict[str, Any]
    encoder: dict[str, Any] | None
    host: str
    wall_s: float


def evaluate_unit(config: RunConfig, entry: str, task: str) -> UnitResult:
    """On a worker: the local runner on one task (a name or a card folder) in a private folder."""
    from .runner import run

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bge_eval-unit-") as folder:
        output = Path(folder)
        unit = replace(config, tasks=(entry,), benchmark=None, suite=None, output=output, overwrite=True,
                       keep_results=False, progress=False)
        summary = run(unit)
        layout = ResultsLayout.of_results_dir(summary.results_dir)
        files = {}
        for name in (f"{task}.json", MODEL_META_NAME, SETTINGS_NAME):
            path = layout.results_dir / name
            if path.is_file():
                files[f"results/{name}"] = path.read_bytes()
        for suffix in EXTRA_SUFFIXES:
            path = layout.predictions_dir / f"{task}{suffix}"
            if path.is_file():
                files[f"predictions/{path.name}"] = path.read_bytes()
        manifest = Manifest.read(layout.results_dir / MANIFEST_NAME)
        if manifest is None or task not in manifest.tasks:
            raise BgeEvalError(f"{task}: the unit's run wrote no manifest record.")
        encoder = {k: getattr(manifest, k) for k in ("device", "compiled", "packed", "precision")}
        return UnitResult(task, files, asdict(manifest.tasks[task]), encoder, socket.gethostname(),
                          time.perf_counter() - started)


def task_entry(planned: Any) -> str:
    """How a unit names its task: a card's folder, else the task's name."""
    card = getattr(planned.task, "card_folder", None)
    return str(card) if card is not None else planned.name


def commit_unit(prepared: PreparedRun, staging: Path, result: UnitResult) -> None:
    """Check the worker's identity against the driver's, then move the files into place."""
    mine = prepared.identities[result.task]
    changes = mine.changes_from(result.record.get("identity"))
    if changes:
        raise BgeEvalError(f"the worker on {result.host} evaluated other inputs than the driver planned "
                           f"({'; '.join(changes)}); give every node the same weights and data at the same paths.")
    results_dir = prepared.layout.staged(staging).results_dir
    for relative, content in result.files.items():
        kind, name = relative.split("/", 1)
        target = (results_dir if kind == "results" else staged_predictions_dir(staging)) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    commit_task(staging, prepared.layout, result.task)
    if result.encoder and result.encoder.get("device"):
        prepared.manifest.record_encoder(**result.encoder)
    planned = next(p for p in prepared.plan.tasks if p.name == result.task)
    prepared.record(planned, TaskWork.from_record(result.record, result.wall_s))


def run_on_ray(base: RunConfig, entries: list[ModelEntry], options: RayOptions) -> SweepSummary:
    """Every model x task unit still to compute, as Ray tasks; committed here as they finish."""
    ray = import_ray()
    started_here = not ray.is_initialized()
    if started_here:
        address = options.address or os.environ.get("RAY_ADDRESS") or None
        extra = {} if address else {"include_dashboard": False}
        ray.init(address=address, log_to_driver=False, configure_logging=False, **extra)
    try:
        resources = _unit_resources(ray, options)
        # Paths as every node sees them; the device (and so "auto" precision) as the units will run.
        base = replace(base, output=base.output.resolve(), device=base.device or (
            "cuda" if "num_gpus" in resources else "cpu"),
            data_dir=base.data_dir.resolve() if base.data_dir else None,
            tasks=tuple(str(Path(t).resolve()) if Path(t).is_dir() else t for t in base.tasks))
        configs = [model_config(base, replace(e, path=e.path.resolve() if e.path else None)) for e in entries]
        planned_runs = []
        for config in configs:
            target = model_target(config)
            planned_runs.append((config, target, *plan_run(config, target)))
        with output_lock(base.output):
            runs = [prepare(config, target, plan, layout) for config, target, plan, layout in planned_runs]
            units = [(i, planned) for i, prepared in enumerate(runs) for planned in prepared.plan.tasks
                     if planned.name in prepared.todo]
            committed: set[tuple[int, str]] = set()
            failures = _submit_and_commit(ray, runs, units, resources, options, committed) if units else []
            summaries = []
            for i, prepared in enumerate(runs):
                outcomes = []
                for planned in prepared.plan.tasks:
                    if planned.name not in prepared.todo:
                        outcomes.append(prepared.outcome(planned, "cached", 0.0))
                    elif (i, planned.name) in committed:
                        wall = prepared.manifest.tasks[planned.name].wall_s
                        outcomes.append(prepared.outcome(planned, "computed", wall))
                summaries.append(prepared.finish(outcomes))
    finally:
        if started_here:
            ray.shutdown()
    return SweepSummary(summaries, failures, len(units))


def _submit_and_commit(ray: Any, runs: list[PreparedRun], units: list[tuple[int, Any]], resources: dict[str, float],
                       options: RayOptions, committed: set[tuple[int, str]]) -> list[UnitFailure]:
    from tqdm.auto import tqdm

    failures: list[UnitFailure] = []
    staging = staging_folder(runs[0].config.output)
    bar = tqdm(total=len(units), desc="units", unit="unit", disable=not runs[0].config.progress,
               mininterval=bar_interval(), dynamic_ncols=True)
    try:
        remote = ray.remote(evaluate_unit).options(max_retries=options.retries, retry_exceptions=False, **resources)
        pending = {remote.remote(runs[i].config, task_entry(planned), planned.name): (i, planned)
                   for i, planned in units}
        while pending:
            bar.set_postfix_str(f"running/queued {len(pending)}, done {len(committed)}, failed {len(failures)}",
                                refresh=False)
            done, _ = ray.wait(list(pending), num_returns=1)
            i, planned = pending.pop(done[0])
            try:
                commit_unit(runs[i], staging, ray.get(done[0]))
                committed.add((i, planned.name))
            except Exception as exc:  # noqa: BLE001 - a unit's failure is reported; the others finish
                failures.append(UnitFailure(runs[i].target.meta.name, planned.name, _one_line(exc)))
            bar.set_postfix_str(f"running/queued {len(pending)}, done {len(committed)}, failed {len(failures)}",
                                refresh=False)
            bar.update(1)
    finally:
        bar.close()
        remove_staging(staging)
    return failures


def _unit_resources(ray: Any, options: RayOptions) -> dict[str, float]:
    """A GPU per unit where the cluster has GPUs (or --ray-gpus-per-task), CPUs otherwise."""
    has_gpus = ray.cluster_resources().get("GPU", 0) > 0
    if options.gpus_per_task is not None or has_gpus:
        return {"num_gpus": options.gpus_per_task if options.gpus_per_task is not None else 1.0}
    return {"num_cpus": options.cpus_per_task if options.cpus_per_task is not None else 1.0}


def _one_line(exc: BaseException) -> str:
    """A unit's error as one line: the worker's own exception where Ray wrapped it."""
    cause = getattr(exc, "cause", None) or exc
    text = str(cause).strip().splitlines()
    last = next((line for line in reversed(text) if line.strip()), type(cause).__name__)
    return f"{type(cause).__name__}: {last[:300]}"
