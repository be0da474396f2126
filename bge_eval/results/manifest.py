"""The run manifest beside the results (bge_eval_manifest.json): config, instruction policy,
versions, device, harness revision and wall time per task. One file per results folder,
carried over from run to run (earlier tasks' records are kept)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from .._util import atomic_write_json
from ..errors import DataError

log = logging.getLogger(__name__)

FORMAT = 1
_PACKAGES = ("bge_eval", "mteb", "torch", "transformers", "sentence-transformers", "datasets", "numpy")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class TaskRecord:
    """One task's last computation."""

    type: str
    splits: list[str]
    data_source: str  # "local", "hub", "demo", "card" (a task card) or "task" (an mteb task handed in)
    seed: int | None  # the task's own seed (mteb's, for its sampling)
    wall_s: float
    finished: str
    identity: dict[str, Any] | None = None  # what produced the result (identity.ResultIdentity)
    phases: dict[str, float | None] | None = None  # seconds in load / encode / score / write (TaskWork)
    texts: dict[str, int | float] | None = None  # texts asked for, distinct, cached, encoded (EncodeCounts)
    shards: dict[str, Any] | None = None  # corpus shards searched by workers (run/shards.py), if any

    @classmethod
    def computed(cls, planned: Any, work: Any, identity: Any) -> TaskRecord:
        """The record of a planned task (tasks.selection.PlannedTask) just computed, with where
        its time went (task_eval.TaskWork)."""
        return cls(type=planned.type, splits=list(planned.splits), data_source=planned.data_source,
                   seed=getattr(planned.task, "seed", None), wall_s=round(work.wall_s, 3), finished=now(),
                   identity=identity.to_json(), phases=work.phases(), texts=work.texts,
                   shards=getattr(work, "shards", None))


@dataclass
class Manifest:
    """Fields are written as JSON under the same names."""

    config: dict[str, Any]
    instruction: dict[str, Any] | None  # policy, instruction text, custom or not
    benchmark: str | None
    skipped_tasks: list[str]
    versions: dict[str, str | None]
    harness_git_revision: str | None
    model: dict[str, Any] | None = None  # name, source, checkpoint, spec
    device: dict[str, Any] | None = None
    compiled: bool | None = None
    packed: bool | None = None
    precision: str | None = None
    tasks: dict[str, TaskRecord] = field(default_factory=dict)
    fingerprints: dict[str, Any] = field(default_factory=dict)  # file records: "weights", "data" per task
    runs: list[dict[str, str | None]] = field(default_factory=list)  # started / finished per run
    suites: dict[str, Any] = field(default_factory=dict)  # suite name -> averaging and task weights

    def start_run(self, previous: Manifest | None) -> None:
        """Carry over the earlier runs and task records; open this run."""
        if previous is not None:
            if self.device is None:  # a run that builds no encoder (all cached) keeps what the last one ran on
                self.device, self.compiled = previous.device, previous.compiled
                self.packed, self.precision = previous.packed, previous.precision
            self.tasks = {**previous.tasks, **self.tasks}
            self.runs = [*previous.runs, *self.runs]
            self.fingerprints = {**previous.fingerprints, **self.fingerprints}
            self.suites = {**previous.suites, **self.suites}
        self.runs.append({"started": now(), "finished": None})

    def record_encoder(self, *, device: dict[str, Any], compiled: bool, packed: bool, precision: str) -> None:
        """What the encoder ran on (encoding.facts.EncoderFacts, as keywords)."""
        self.device, self.compiled, self.packed, self.precision = device, compiled, packed, precision

    def record_task(self, name: str, record: TaskRecord) -> None:
        self.tasks[name] = record

    def finish_run(self) -> None:
        self.runs[-1]["finished"] = now()

    def write(self, path: Path) -> None:
        atomic_write_json(path, {"bge_eval_manifest": FORMAT, **asdict(self)})

    @classmethod
    def read(cls, path: Path) -> Manifest | None:
        """The manifest at `path`; None when there is none; a DataError naming it when it is damaged
        (not JSON, or fields this release does not know)."""
        path = Path(path)
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("bge_eval_manifest", FORMAT) != FORMAT:
                raise TypeError(f"format {data.get('bge_eval_manifest')!r}, this release reads {FORMAT}")
            data.pop("bge_eval_manifest", None)
            data.pop("seed", None)  # written by earlier releases; each task's seed is in its record
            data["tasks"] = {name: TaskRecord(**record) for name, record in data.get("tasks", {}).items()}
            return cls(**data)
        except (OSError, json.JSONDecodeError, UnicodeDecodeError, TypeError, AttributeError, ValueError) as exc:
            raise DataError(f"{path}: not a readable run manifest ({str(exc).splitlines()[0][:200]}).") from exc

    @classmethod
    def read_or_warn(cls, path: Path) -> Manifest | None:
        """For readers (report, gate): a damaged manifest is warned about, left in place, and read as none."""
        try:
            return cls.read(path)
        except DataError as exc:
            log.warning("%s The facts it holds are left out; a run on this folder sets it aside.", exc)
            return None

    @classmethod
    def take_over(cls, path: Path) -> Manifest | None:
        """For a run about to write `path`: the earlier manifest, or None; a damaged one is moved
        aside (never overwritten) with a warning naming both files."""
        try:
            return cls.read(path)
        except DataError as exc:
            path = Path(path)
            aside = path.with_name(f"{path.stem}.damaged-{datetime.now(UTC):%Y%m%dT%H%M%S%f}{path.suffix}")
            os.replace(path, aside)
            log.warning("%s Moved aside to %s; its task records are lost, so this run recomputes the folder's "
                        "tasks.", exc, aside)
            return None


def package_versions() -> dict[str, str | None]:
    """The installed versions of the packages that compute a run's numbers (None: not installed)."""
    return dict(_installed_versions())


@cache
def _installed_versions() -> tuple[tuple[str, str | None], ...]:
    found: list[tuple[str, str | None]] = []
    for name in _PACKAGES:
        try:
            found.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            found.append((name, None))
    return tuple(found)


def harness_git_revision(root: Path | None = None) -> str | None:
    """The git commit of the bge_eval checkout the package runs from (with '+dirty' if modified);
    None for an installed package, even one installed inside some other git repository.
    root: the folder above the package (given by tests)."""
    root = Path(root).resolve() if root is not None else Path(__file__).resolve().parents[2]
    if 'name = "bge_eval"' not in _read(root / "pyproject.toml"):
        return None
    try:
        top = subprocess.run(["git", "-C", str(root), "rev-parse", "--show-toplevel"],
                             capture_output=True, text=True, timeout=5)
        if top.returncode != 0 or Path(top.stdout.strip()).resolve() != root:
            return None
        rev = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5)
        return rev.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "") if rev.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""
