"""The embedding cache's size report and pruning (`bge_eval cache`): per model identity and
settings, its shards, rows, bytes and last use; removal by age, by total size (least recently
used first), by model, or all of it."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._util import TEMP_SUFFIX
from .embedding_cache import FORMAT, SHARD_SUFFIX, SPACE_FILE, least_recently_used, read_header

STALE_TEMP_S = 3600  # a temporary file this old belongs to a writer that died


@dataclass(frozen=True)
class SpaceReport:
    """One model identity's part of the cache."""

    folder: Path
    identity: dict[str, Any]
    shards: int
    rows: int
    bytes: int
    last_used: float | None  # seconds since the epoch
    problem: str | None = None  # its space.json cannot be read: the file and why


def cache_report(cache: Path) -> list[SpaceReport]:
    """Every space of the cache folder, sorted by folder name."""
    out = []
    for folder in sorted((Path(cache) / f"v{FORMAT}").glob("*")):
        if not folder.is_dir():
            continue
        identity, problem = _identity(folder / SPACE_FILE)
        shards = rows = size = 0
        last = None
        for path in folder.glob(f"*{SHARD_SUFFIX}"):
            try:
                header, stat = read_header(path), path.stat()
            except (OSError, ValueError, KeyError):
                continue
            shards, rows, size = shards + 1, rows + header.rows, size + stat.st_size
            last = max(last or 0.0, stat.st_mtime)
        out.append(SpaceReport(folder, identity, shards, rows, size, last, problem))
    return out


def _identity(path: Path) -> tuple[dict[str, Any], str | None]:
    """A space's identity from its space.json, or ({}, the file and what is wrong with it)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}, f"{path}: missing"
    except (OSError, ValueError) as exc:
        return {}, f"{path}: unreadable ({exc})"
    identity = data.get("identity") if isinstance(data, dict) else None
    if not isinstance(identity, dict):
        return {}, f"{path}: not a cache space description (no identity object)"
    return identity, None


def prune_cache(cache: Path, *, older_than_s: float | None = None, max_bytes: int | None = None,
                model: str | None = None, everything: bool = False) -> tuple[int, int]:
    """Remove shards (least recently used first) and leftovers; (files removed, bytes freed).

    older_than_s: shards not used for this long; max_bytes: until the cache is this small;
    model: every space of this model name; everything: the whole cache. Temporary files of
    writers that died and entries of the earlier one-file-per-call format always go."""
    removed = freed = 0
    now = time.time()
    for path in _leftovers(Path(cache), now):
        freed += _size(path)
        _remove(path)
        removed += 1
    kept = []
    for space in cache_report(cache):
        whole = everything or (model is not None and space.identity.get("model") == model)
        for path in space.folder.glob(f"*{SHARD_SUFFIX}"):
            stat = path.stat()
            if whole or (older_than_s is not None and now - stat.st_mtime > older_than_s):
                freed += stat.st_size
                path.unlink(missing_ok=True)
                removed += 1
            else:
                kept.append((stat.st_mtime, stat.st_size, path))
    if max_bytes is not None:
        for _, size, path in least_recently_used(sorted(kept), max_bytes):
            path.unlink(missing_ok=True)
            freed, removed = freed + size, removed + 1
    for space in cache_report(cache):
        if space.shards == 0 and not list(space.folder.glob(f".*{TEMP_SUFFIX}")):
            shutil.rmtree(space.folder, ignore_errors=True)
    return removed, freed


def _leftovers(cache: Path, now: float) -> list[Path]:
    old_format = [p for p in cache.glob("??") if p.is_dir() and all(c in "0123456789abcdef" for c in p.name)]
    temps = [p for p in (cache / f"v{FORMAT}").glob(f"*/.*{TEMP_SUFFIX}") if now - _mtime(p) > STALE_TEMP_S]
    return old_format + temps


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
