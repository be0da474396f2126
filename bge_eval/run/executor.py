"""One executor protocol for every way a run's work is done: (model, task) units in, committed
results and failures out. LocalExecutor runs them one after another in this process (a run, a
sweep); ray_executor.RayExecutor runs them as Ray tasks. The rules are the same everywhere: a
failing unit is reported with its one-line reason and the others finish; fail_fast stops at the
first failure and raises it (mteb's raise_error)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..config import DEFAULT_DATALOADER_BATCH_SIZE, RunConfig
from ..errors import BgeEvalError, is_disk_full, save_traceback
from ..results.layout import remove_staging, reset_staging, staging_folder
from ..tasks.selection import PlannedTask
from .outcome import RunSummary, TaskOutcome, UnitFailure
from .prepared import PreparedRun
from .progress import TaskProgress
from .task_eval import evaluate_task


@dataclass(frozen=True)
class Unit:
    """One task of one prepared run (runs[run]) still to compute."""

    run: int
    planned: PlannedTask


@dataclass
class Execution:
    """What an executor did with its units, keyed (run, task): seconds for a committed one, why for a failed one."""

    committed: dict[tuple[int, str], float] = field(default_factory=dict)
    failures: dict[tuple[int, str], UnitFailure] = field(default_factory=dict)


class Executor(Protocol):
    """Where units run. Entered around planning and execution (a cluster is started or joined there)."""

    def __enter__(self) -> Executor: ...

    def __exit__(self, *exc: object) -> None: ...

    def configure(self, config: RunConfig) -> RunConfig:
        """The config as the units will see it (Ray: absolute paths, the workers' device), before planning."""
        ...

    def execute(self, runs: Sequence[PreparedRun], units: Sequence[Unit], staging: Path, *,
                fail_fast: bool) -> Execution:
        """Compute the units, committing each result into its run as it finishes (under the caller's lock)."""
        ...


def unit_failure(prepared: PreparedRun, task: str, exc: BaseException) -> UnitFailure:
    """A unit's failure as one line; exit code 2 where its input was unusable (a BgeEvalError), else 1
    with the full traceback saved to a file the line names. A full disk is raised: it stops the run."""
    cause = getattr(exc, "cause", None) or exc  # Ray wraps a worker's exception; its cause is the worker's own
    if is_disk_full(cause):
        raise cause
    if isinstance(cause, BgeEvalError):
        return UnitFailure(str(prepared.target.meta.name), task, str(cause).strip().splitlines()[0][:400], 2)
    lines = [line for line in str(cause).strip().splitlines() if line.strip()]
    text = lines[-1][:300] if lines else ""
    return UnitFailure(str(prepared.target.meta.name), task,
                       f"{type(cause).__name__}: {text} (traceback in {save_traceback(exc)})", 1)


def execute_runs(runs: list[PreparedRun], executor: Executor, *, fail_fast: bool) -> tuple[list[RunSummary], int]:
    """Every run's units through `executor`, then each run closed with its outcomes in plan order
    (cached, computed or failed). Call under the output lock. Returns the summaries and the units computed."""
    units = [Unit(i, planned) for i, prepared in enumerate(runs) for planned in prepared.plan.tasks
             if planned.name in prepared.todo]
    execution = Execution()
    if units:
        staging = staging_folder(runs[0].config.output)
        try:
            execution = executor.execute(runs, units, staging, fail_fast=fail_fast)
        finally:
            remove_staging(staging)
    summaries = []
    for i, prepared in enumerate(runs):
        failed = {task: f for (run, task), f in execution.failures.items() if run == i}
        outcomes = []
        for planned in prepared.plan.tasks:
            if planned.name not in prepared.todo:
                outcomes.append(prepared.outcome(planned, "cached", 0.0))
            elif (i, planned.name) in execution.committed:
                outcomes.append(prepared.outcome(planned, "computed", execution.committed[(i, planned.name)]))
            else:
                failure = failed.get(planned.name)
                outcomes.append(TaskOutcome(planned.name, planned.type, "failed", 0.0, {},
                                            failure.error if failure else "not computed"))
        summaries.append(prepared.finish(outcomes, list(failed.values())))
    return summaries, len(execution.committed)


class LocalExecutor:
    """Units one after another in this process. Each model's encoder is built for its first unit
    and closed after its last; an encoder handed in serves every unit and is left open."""

    def __init__(self, encoder: Any = None) -> None:
        self.encoder = encoder

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def configure(self, config: RunConfig) -> RunConfig:
        return config

    def execute(self, runs: Sequence[PreparedRun], units: Sequence[Unit], staging: Path, *,
                fail_fast: bool) -> Execution:
        execution = Execution()
        progress = TaskProgress(len(units), runs[0].config.progress)
        try:
            for i, group in itertools.groupby(units, key=lambda unit: unit.run):
                self._run_group(runs[i], i, list(group), staging, fail_fast, execution, progress)
        finally:
            progress.close()
        return execution

    def _run_group(self, prepared: PreparedRun, i: int, units: list[Unit], staging: Path, fail_fast: bool,
                   execution: Execution, progress: TaskProgress) -> None:
        try:
            encoder, owned = self._encoder(prepared)
        except Exception as exc:  # noqa: BLE001 - the model's units fail with its reason; other models go on
            if fail_fast:
                raise
            for unit in units:
                execution.failures[(i, unit.planned.name)] = unit_failure(prepared, unit.planned.name, exc)
                progress.finish("failed")
            return
        config = prepared.config
        try:
            for unit in units:
                progress.start(unit.planned.name)
                try:
                    work = evaluate_task(unit.planned, encoder, prepared.layout, staging, data_dir=config.data_dir,
                                         save_predictions=config.save_predictions,
                                         dataloader_batch_size=config.batch_size or DEFAULT_DATALOADER_BATCH_SIZE)
                    prepared.record(unit.planned, work)
                except Exception as exc:  # noqa: BLE001 - a unit's failure is reported; the others finish
                    if fail_fast:
                        raise
                    execution.failures[(i, unit.planned.name)] = unit_failure(prepared, unit.planned.name, exc)
                    reset_staging(staging)  # nothing of the failed unit reaches the next one's commit
                    progress.finish("failed")
                    continue
                execution.committed[(i, unit.planned.name)] = work.wall_s
                progress.finish("computed")
        finally:
            if owned is not None:
                owned.close()

    def _encoder(self, prepared: PreparedRun) -> tuple[Any, Any]:
        """(the encoder for this run's units, the one to close after them or None)."""
        if self.encoder is not None:
            return self.encoder, None
        from ..encoding.mteb_encoder import BgeEncoder

        target = prepared.target
        encoder = BgeEncoder.from_config(prepared.config, target.resolved, recipe=target.recipe, meta=target.meta)
        prepared.manifest.record_encoder(**asdict(encoder.encoder_facts()))
        return encoder, encoder

