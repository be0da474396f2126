"""What produced a result, so a result is reused only when that is the same: the model's weights
(the checkpoint files loaded), the task's data (the local files read, or the hub dataset's
revision) and every setting that changes numbers. Files are fingerprinted by content
(fingerprints.py); a file whose size and modification time match the last record is not read again."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..fingerprints import FileRecords, checkpoint_files, data_files, fingerprint_files
from ..results.manifest import package_versions


@dataclass(frozen=True)
class ResultIdentity:
    """weights: the checkpoint's fingerprint (None: a model handed in, known by name and revision only).
    data: the data's fingerprint ("files:<digest>", "hub:<dataset revision>", "task:<path>@<revision>").
    settings: instruction policy and text, precision, pooling, normalisation, max length, splits, subsets."""

    weights: str | None
    data: str
    settings: dict[str, Any]
    candidates: str | None = None  # a second stage's: the fingerprint of the first stage's rankings
    code: dict[str, str | None] | None = None  # the versions of the code that computes the numbers (CODE_PACKAGES)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def changes_from(self, recorded: dict[str, Any] | None) -> list[str]:
        """What differs from a recorded identity, in words (empty: the same)."""
        if not recorded:
            return ["no record of what produced it"]
        changes = []
        if recorded.get("weights") != self.weights:
            changes.append("the model's weights changed")
        if recorded.get("data") != self.data:
            changes.append("the task's data changed")
        if recorded.get("candidates") != self.candidates:
            changes.append("the first stage's rankings changed")
        old = recorded.get("settings") or {}
        changes += [f"{key} {old.get(key)!r} -> {value!r}" for key, value in self.settings.items()
                    if old.get(key) != value]
        old_code = recorded.get("code") or {}
        changes += [f"{package} {old_code.get(package) or 'unrecorded'} -> {version}"
                    for package, version in (self.code or {}).items() if old_code.get(package) != version]
        return changes


def reuse_decision(identity: ResultIdentity, recorded: dict[str, Any] | None, result_file: Path,
                   splits: Any, *, overwrite: bool, keep_results: bool) -> tuple[bool, str | None]:
    """(compute the task?, why a saved result is replaced). A saved result is reused only when it
    holds every split and was made from the same identity; with keep_results a changed identity
    is refused instead of recomputed."""
    from ..errors import BgeEvalError
    from ..results.files import has_splits

    if overwrite or not has_splits(result_file, splits):
        return True, None
    changes = identity.changes_from(recorded)
    if not changes:
        return False, None
    if keep_results:
        raise BgeEvalError(f"{result_file}: this result was made from other inputs ({'; '.join(changes)}); "
                           "without --keep-results it is recomputed.")
    return True, f"recomputed: {'; '.join(changes)}"


def data_fingerprint(planned: Any, data_dir: Path | None, previous: FileRecords | None) -> tuple[str, FileRecords]:
    """The fingerprint of what a planned task reads, and the file records behind it (empty for
    hub and handed-in tasks, known by their dataset revision)."""
    from ..tasks.local_data import task_folder

    if planned.data_source in ("local", "demo", "card"):
        if planned.data_source == "local":
            assert data_dir is not None  # a task is planned "local" only with a data folder
            folder = task_folder(data_dir, planned.name)
        elif planned.data_source == "card":
            folder = planned.task.card_folder  # task.toml included: editing the card recomputes
        else:
            from ..tasks.demo import demo_data_dir

            folder = demo_data_dir() / planned.name
        digest, records = fingerprint_files(folder, data_files(folder), previous)
        return f"files:{digest}", records
    dataset = planned.task.metadata.dataset or {}
    prefix = "hub" if planned.data_source == "hub" else "task"
    return f"{prefix}:{dataset.get('path')}@{dataset.get('revision')}", {}


def task_settings(planned: Any, common: dict[str, Any]) -> dict[str, Any]:
    """The settings that change a task's numbers: the model's (common) and the task's splits and subsets."""
    subsets = getattr(planned.task, "hf_subsets", None)
    return {**common, "splits": list(planned.splits), "subsets": list(subsets) if subsets else ["default"]}


def weights_identity(checkpoint: Path, fingerprints: dict[str, Any]) -> str:
    """The fingerprint of a checkpoint's files; its file records are kept in `fingerprints` (the manifest's)."""
    digest, fingerprints["weights"] = fingerprint_files(checkpoint, checkpoint_files(checkpoint),
                                                        fingerprints.get("weights"))
    return digest


def task_identity(planned: Any, data_dir: Path | None, fingerprints: dict[str, Any], weights: str | None,
                  common: dict[str, Any], candidates: str | None = None) -> ResultIdentity:
    """A planned task's identity; its data's file records are kept in `fingerprints` (the manifest's)."""
    per_task = fingerprints.setdefault("data", {})
    data, per_task[planned.name] = data_fingerprint(planned, data_dir, per_task.get(planned.name))
    return ResultIdentity(weights, data, task_settings(planned, common), candidates, code_versions())


# The code that computes a number: mteb scores it, bge_eval encodes and adds to it. Another version
# of either recomputes a result (mteb 2.26.x patch releases changed scores; docs/data-formats.md).
CODE_PACKAGES = ("mteb", "bge_eval")


def code_versions() -> dict[str, str | None]:
    versions = package_versions()
    return {package: versions.get(package) for package in CODE_PACKAGES}
