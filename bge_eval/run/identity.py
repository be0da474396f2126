"""What produced a result, so a result is reused only when that is the same: the model's weights
(the checkpoint files loaded), the task's data (the local files read, or the hub dataset's
revision) and every setting that changes numbers. Files are fingerprinted by content; a file
whose size and modification time match the last record is not read again."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# A checkpoint's files that change its vectors: weights, configuration, tokenizer.
CHECKPOINT_SUFFIXES = (".safetensors", ".bin", ".pt", ".json", ".txt", ".model")

FileRecords = dict[str, list]  # relative path -> [size, mtime_ns, sha256]


@dataclass(frozen=True)
class ResultIdentity:
    """weights: the checkpoint's fingerprint (None: a model handed in, known by name and revision only).
    data: the data's fingerprint ("files:<digest>", "hub:<dataset revision>", "task:<path>@<revision>").
    settings: instruction policy and text, precision, pooling, normalisation, max length, splits, subsets."""

    weights: str | None
    data: str
    settings: dict[str, Any]

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
        old = recorded.get("settings") or {}
        changes += [f"{key} {old.get(key)!r} -> {value!r}" for key, value in self.settings.items()
                    if old.get(key) != value]
        return changes


def fingerprint_files(root: Path, files: list[Path], previous: FileRecords | None) -> tuple[str, FileRecords]:
    """(digest over every file's relative path and content hash, the records to keep). A file
    whose size and mtime equal its previous record keeps that record's hash without being read."""
    previous = previous or {}
    records: FileRecords = {}
    for path in sorted(files):
        relative = path.relative_to(root).as_posix()
        stat = path.stat()
        old = previous.get(relative)
        if old and old[0] == stat.st_size and old[1] == stat.st_mtime_ns:
            records[relative] = old
        else:
            records[relative] = [stat.st_size, stat.st_mtime_ns, _file_sha256(path)]
    digest = hashlib.sha256()
    for relative, (_, _, sha) in records.items():
        digest.update(f"{relative}\0{sha}\n".encode())
    return digest.hexdigest(), records


def checkpoint_files(checkpoint: Path) -> list[Path]:
    """The files of a checkpoint that change what it computes (README and the like left out)."""
    checkpoint = Path(checkpoint)
    files = [p for p in checkpoint.iterdir() if p.is_file() and p.suffix in CHECKPOINT_SUFFIXES]
    pooling = checkpoint / "1_Pooling" / "config.json"
    return files + ([pooling] if pooling.is_file() else [])


def data_files(folder: Path) -> list[Path]:
    """Every file under a task's data folder."""
    return [p for p in Path(folder).rglob("*") if p.is_file()]


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def data_fingerprint(planned: Any, data_dir: Path | None, previous: FileRecords | None) -> tuple[str, FileRecords]:
    """The fingerprint of what a planned task reads, and the file records behind it (empty for
    hub and handed-in tasks, known by their dataset revision)."""
    from ..tasks.local_data import task_folder

    if planned.data_source in ("local", "demo"):
        if planned.data_source == "local":
            folder = task_folder(data_dir, planned.name)
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
