"""Content fingerprints of files: of a checkpoint (what the result identity and the embedding
cache key name a model's weights by) and of a task's data. A file whose size and modification
time equal its previous record keeps that record's hash without being read again."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ._util import atomic_write_json

# A checkpoint's files that change its vectors: weights, configuration, tokenizer.
CHECKPOINT_SUFFIXES = (".safetensors", ".bin", ".pt", ".json", ".txt", ".model")

FileRecords = dict[str, list]  # relative path -> [size, mtime_ns, sha256]


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


# This process's hashes by (path, size, mtime): the result identity and the embedding cache name
# the same checkpoint, and a cold run would otherwise read its weights twice.
_HASHED: dict[tuple[str, int, int], str] = {}


def _file_sha256(path: Path) -> str:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _HASHED:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _HASHED[key] = digest.hexdigest()
    return _HASHED[key]


def checkpoint_fingerprint(checkpoint: Path, memo_file: Path) -> str:
    """The content fingerprint of a checkpoint, its file records kept in `memo_file` (a JSON
    object keyed by the checkpoint's absolute path) so an unchanged checkpoint is not read again."""
    checkpoint = Path(checkpoint).resolve()
    try:
        memo = json.loads(Path(memo_file).read_text(encoding="utf-8"))
        memo = memo if isinstance(memo, dict) else {}
    except (OSError, ValueError):
        memo = {}  # none yet, or damaged: every file is hashed again
    previous = memo.get(str(checkpoint))
    digest, records = fingerprint_files(checkpoint, checkpoint_files(checkpoint),
                                        previous if isinstance(previous, dict) else None)
    if records != previous:
        memo[str(checkpoint)] = records
        atomic_write_json(memo_file, memo)
    return digest
