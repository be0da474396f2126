"""Sweeps: several models (checkpoints of a fine-tune, model sizes) on the same tasks, each into
its own folder under the same --output (OUTPUT/results/<org__model>/<revision>/); their (model,
task) units run through an executor: here one after another (executor.LocalExecutor) or on a
Ray cluster (ray_executor.RayExecutor), with the same planning, resume and failure rules."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .._util import output_lock, read_toml_as
from ..config import RunConfig
from ..errors import BgeEvalError, DataError
from .executor import Executor, LocalExecutor, execute_runs
from .outcome import RunSummary, UnitFailure, failures_exit_code
from .prepared import model_target, plan_run, prepare


@dataclass(frozen=True)
class ModelEntry:
    """One model of a sweep: its identity (name, revision) and where its weights are."""

    name: str
    path: Path | None = None
    revision: str | None = None

    @property
    def label(self) -> str:
        return self.name + (f"@{self.revision}" if self.revision else "")


@dataclass(frozen=True)
class SweepSummary:
    runs: list[RunSummary]
    failures: list[UnitFailure] = field(default_factory=list)
    units_submitted: int = 0  # (model, task) units computed in this sweep

    @property
    def exit_code(self) -> int:
        return failures_exit_code(self.failures)


class _ModelRow(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    path: str | None = None
    revision: str | None = None


class _ModelsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: list[_ModelRow] = Field(min_length=1)


def read_models_file(path: Path) -> list[ModelEntry]:
    """A --models file: [[model]] tables with name and optional path (relative to the file) and revision."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"--models {path}: file not found.")
    rows = read_toml_as(path, _ModelsFile, "docs/ray.md (the --models file)").model
    return checked_entries([ModelEntry(r.name, (path.parent / r.path) if r.path else None, r.revision)
                            for r in rows], f"--models {path}")


def entries_from_options(names: list[str], paths: list[Path], revisions: list[str]) -> list[ModelEntry]:
    """--model repeated, with --model-path / --revision given once per model (in the same order) or not at all."""
    for option, values in (("--model-path", paths), ("--revision", revisions)):
        if values and len(values) != len(names):
            raise BgeEvalError(f"{option}: give it once per --model ({len(names)}) or not at all "
                               f"(got {len(values)}); or list the models in a --models file.")
    return checked_entries([ModelEntry(name, paths[i] if paths else None, revisions[i] if revisions else None)
                            for i, name in enumerate(names)], "--model")


def checked_entries(entries: list[ModelEntry], where: str) -> list[ModelEntry]:
    """The same name, path and revision twice is a mistake; other collisions are found once the
    entries are resolved (refuse_shared_folders)."""
    seen = set()
    for entry in entries:
        key = (entry.name, str(Path(entry.path).resolve()) if entry.path else None, entry.revision)
        if key in seen:
            raise BgeEvalError(f"{where}: {entry.label} is listed twice; give each checkpoint its own path or "
                               "--revision (results are stored by name and revision).")
        seen.add(key)
    return entries


def model_config(base: RunConfig, entry: ModelEntry) -> RunConfig:
    return replace(base, model=entry.name, model_path=entry.path, revision=entry.revision)


def run_sweep(base: RunConfig, entries: list[ModelEntry], executor: Executor | None = None) -> SweepSummary:
    """Every model on the same tasks: planned here, their units computed by `executor` (default:
    one after another in this process), committed and recorded here as they finish."""
    executor = executor or LocalExecutor()
    with executor:
        configs = [executor.configure(model_config(base, entry)) for entry in entries]
        planned_runs = []
        for config in configs:
            target = model_target(config)
            planned_runs.append((config, target, *plan_run(config, target)))
        refuse_shared_folders(entries, [layout for *_, layout in planned_runs])
        with output_lock(configs[0].output):
            runs = [prepare(config, target, plan, layout) for config, target, plan, layout in planned_runs]
            summaries, computed = execute_runs(runs, executor, fail_fast=base.fail_fast)
    return SweepSummary(summaries, [f for summary in summaries for f in summary.failures], computed)


def refuse_shared_folders(entries: list[ModelEntry], layouts: list[Any]) -> None:
    """Entries that differ as written but resolve to one results folder (a revision left out and the
    registry's default given, say) would overwrite each other's results: refused before any work."""
    seen: dict[Path, ModelEntry] = {}
    for entry, layout in zip(entries, layouts, strict=True):
        first = seen.setdefault(layout.results_dir, entry)
        if first is not entry:
            raise BgeEvalError(f"{first.label} and {entry.label} resolve to the same results folder "
                               f"{layout.results_dir}; give each checkpoint its own --revision.")
