"""The Ray executor: every (model, task) unit still to compute is one Ray task.

The driver plans each model as a local run does (sweep.run_sweep: identities, resume); a unit runs the
local runner on its one task in a private folder on the worker and sends the files back; the
driver checks that the worker's result identity equals its own, then commits them with the
same staging and atomic renames and records them in the manifest. No shared file system is
assumed for results; weights and data must be at the same paths on every node. A worker or
node lost mid-unit is retried by Ray (max_retries); a unit that still fails is reported and
the others finish; a killed driver's rerun submits only the units without a result.
With corpus_shards, a full-corpus retrieval task is instead several (model, task, shard) units
whose rankings the driver merges (shards.py)."""

from __future__ import annotations

import os
import socket
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from .._util import bar_interval
from ..config import RunConfig
from ..errors import BgeEvalError
from ..results.layout import (
    EXTRA_SUFFIXES,
    MANIFEST_NAME,
    MODEL_META_NAME,
    SETTINGS_NAME,
    ResultsLayout,
    commit_task,
    reset_staging,
    staged_predictions_dir,
)
from ..results.manifest import Manifest
from .executor import Execution, Unit, unit_failure
from .prepared import PreparedRun
from .task_eval import TaskWork

RAY_EXTRA = 'pip install "bge_eval[ray]"'
RAY_RETRIES = 2  # attempts after the first when a worker process or node is lost


@dataclass(frozen=True)
class RayOptions:
    address: str | None = None  # None: RAY_ADDRESS, else a local cluster started for this run
    gpus_per_task: float | None = None  # default 1 where the cluster has GPUs
    cpus_per_task: float | None = None  # default 1 on a cluster without GPUs
    retries: int = RAY_RETRIES
    corpus_shards: int = 1  # more: each full-corpus retrieval task as that many (model, task, shard) units


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise BgeEvalError(f"--ray needs Ray, which is not installed: {RAY_EXTRA}") from None
    return ray


REACH_TIMEOUT_S = 3.0  # Ray itself waits minutes for a head that is not there


def check_reachable(address: str, given: str) -> None:
    """A head's address answers on TCP before Ray is asked to join it ("auto" is Ray's own lookup)."""
    if address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise BgeEvalError(f"{given} {address}: expected HOST:PORT (or ray://HOST:PORT, or auto).")
    try:
        socket.create_connection((host, int(port)), timeout=REACH_TIMEOUT_S).close()
    except OSError as exc:
        raise BgeEvalError(f"{given} {address}: nothing answers there ({exc.strerror or exc}); start the head with "
                           f"`ray start --head --port {port}` on {host}, or give the address it printed.") from None


def _init_failure(exc: Exception, address: str | None, given: str) -> str:
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
    where = f"the cluster at {address} ({given})" if address else "a local Ray cluster"
    if type(exc).__name__ == "AuthenticationError":
        return (f"Ray: {where} refused this driver's authentication token ({first_line}); a token in "
                "RAY_AUTH_TOKEN or ~/.ray/auth_token left by another cluster is the usual cause: use this "
                "cluster's token or remove the stale one.")
    return f"Ray: could not join {where}: {type(exc).__name__}: {first_line}"


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
                       keep_results=False, progress=False, fail_fast=True)
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
    prepared.check_worker_identity(result.task, result.record.get("identity"), result.host)
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


class RayExecutor:
    """Units as Ray tasks (one GPU each where the cluster has GPUs), committed here as they finish.
    Entered: joins the cluster at options.address or $RAY_ADDRESS, else starts a local one."""

    def __init__(self, options: RayOptions | None = None) -> None:
        self.options = options or RayOptions()
        self.ray: Any = None
        self.resources: dict[str, float] = {}
        self._started_here = False

    def __enter__(self) -> RayExecutor:
        self.ray = import_ray()
        self._started_here = not self.ray.is_initialized()
        if self._started_here:
            address = self.options.address or os.environ.get("RAY_ADDRESS") or None
            given = "--ray" if self.options.address else "RAY_ADDRESS"
            if address:
                check_reachable(address, given)
            extra = {} if address else {"include_dashboard": False}
            try:
                self.ray.init(address=address, log_to_driver=False, configure_logging=False, **extra)
            except Exception as exc:  # noqa: BLE001 - Ray raises many kinds; one line for the user
                raise BgeEvalError(_init_failure(exc, address, given)) from exc
        self.resources = _unit_resources(self.ray, self.options)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._started_here:
            self.ray.shutdown()

    def configure(self, config: RunConfig) -> RunConfig:
        """Paths as every node sees them; the device (and so "auto" precision) as the units will run."""
        return replace(config, output=config.output.resolve(), device=config.device or (
            "cuda" if "num_gpus" in self.resources else "cpu"),
            data_dir=config.data_dir.resolve() if config.data_dir else None,
            model_path=config.model_path.resolve() if config.model_path else None,
            tasks=tuple(str(Path(t).resolve()) if Path(t).is_dir() else t for t in config.tasks))

    def execute(self, runs: Sequence[PreparedRun], units: Sequence[Unit], staging: Path, *,
                fail_fast: bool) -> Execution:
        from tqdm.auto import tqdm

        from .shards import ShardStore, search_shard, shard_count

        ray, execution = self.ray, Execution()
        bar = tqdm(total=len(units), desc="units", unit="unit", disable=not runs[0].config.progress,
                   mininterval=bar_interval(), dynamic_ncols=True)
        options = {"max_retries": self.options.retries, "retry_exceptions": False, **self.resources}
        remote, remote_shard = ray.remote(evaluate_unit).options(**options), ray.remote(search_shard).options(**options)
        pending: dict[Any, tuple[Unit, int | None]] = {}
        sharded: dict[tuple[int, str], _ShardedUnit] = {}
        for unit in units:
            prepared, entry, task = runs[unit.run], task_entry(unit.planned), unit.planned.name
            config = prepared.config
            shards = shard_count(unit.planned, config.data_dir, self.options.corpus_shards, config.corpus_chunk)
            if shards == 1:
                pending[remote.remote(config, entry, task)] = (unit, None)
                continue
            store = ShardStore(prepared.layout, task)
            kept = store.load(prepared.identities[task], shards)
            state = sharded[(unit.run, task)] = _ShardedUnit(store, kept, len(kept), shards)
            for missing in sorted(set(range(shards)) - set(state.done)):
                pending[remote_shard.remote(config, entry, task, missing, shards)] = (unit, missing)
        try:
            for (run, task), state in sharded.items():  # every shard kept from an earlier run
                if len(state.done) == state.shards:
                    unit = next(u for u in units if (u.run, u.planned.name) == (run, task))
                    self._settle(runs, unit, None, staging, execution, fail_fast, bar, state)
            while pending:
                bar.set_postfix_str(f"running/queued {len(pending)}, done {len(execution.committed)}, "
                                    f"failed {len(execution.failures)}", refresh=False)
                done, _ = ray.wait(list(pending), num_returns=1)
                unit, _ = pending.pop(done[0])
                self._settle(runs, unit, done[0], staging, execution, fail_fast, bar,
                             sharded.get((unit.run, unit.planned.name)))
        finally:
            for ref in pending:  # fail_fast or an interrupt: what was not collected is not left running
                ray.cancel(ref, force=True)
            bar.close()
        return execution

    def _settle(self, runs: Sequence[PreparedRun], unit: Unit, ref: Any, staging: Path, execution: Execution,
                fail_fast: bool, bar: Any, state: _ShardedUnit | None) -> None:
        """A finished Ray task (ref; None: nothing new) of a unit: a unit's files committed, or a shard
        kept and, with the unit's last shard, the task evaluated on the merged shards and committed."""
        from .shards import finish_sharded

        prepared, key = runs[unit.run], (unit.run, unit.planned.name)
        try:
            result = self.ray.get(ref) if ref is not None else None
            if state is None:
                assert result is not None  # a whole unit is settled only once its Ray task returned
                commit_unit(prepared, staging, result)
                execution.committed[key] = result.wall_s
            else:
                if result is not None:
                    prepared.check_worker_identity(result.task, result.identity, result.host)
                    state.store.save(result)
                    state.done[result.shard] = result
                if len(state.done) < state.shards or key in execution.failures:
                    return
                work = finish_sharded(prepared, unit.planned, state.done, state.reused, staging)
                prepared.record(unit.planned, work)
                state.store.drop()
                execution.committed[key] = work.wall_s
        except Exception as exc:  # noqa: BLE001 - a unit's failure is reported; the others finish
            if fail_fast:
                raise
            reset_staging(staging)
            if key in execution.failures:
                return
            execution.failures[key] = unit_failure(prepared, unit.planned.name, exc)
        bar.update(1)


@dataclass
class _ShardedUnit:
    """A sharded unit's finished shards, where they are kept, and how many came from an earlier run."""

    store: Any  # shards.ShardStore
    done: dict[int, Any]
    reused: int
    shards: int


def _unit_resources(ray: Any, options: RayOptions) -> dict[str, float]:
    """A GPU per unit where the cluster has GPUs (or --ray-gpus-per-task), CPUs otherwise."""
    has_gpus = ray.cluster_resources().get("GPU", 0) > 0
    if options.gpus_per_task is not None or has_gpus:
        return {"num_gpus": options.gpus_per_task if options.gpus_per_task is not None else 1.0}
    return {"num_cpus": options.cpus_per_task if options.cpus_per_task is not None else 1.0}

