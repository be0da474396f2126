"""On-disk cache of embeddings, one row per distinct text, so a text is encoded once: across
tasks, splits, the two sides of a pair task, an instruction ablation, a reranker's first stage and
later runs. One folder ("space") per model identity and settings holds immutable shards (a 4 KiB
header with checksums, 16-byte text keys, fp32 vectors), written whole or not at all, verified on
first use, kept within a bound (least recently used go first). docs/embedding-cache.md has the
layout, the safety rules and the measurements.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._util import atomic_write_bytes, atomic_write_json
from ..errors import BgeEvalError
from ..fingerprints import checkpoint_fingerprint

logger = logging.getLogger(__name__)

FORMAT = 2
MAGIC = b"BGE-EVAL-EMBEDDINGS\n"
HEADER_BYTES = 4096
KEY_BYTES = 16
SHARD_SUFFIX = ".shard"
SPACE_FILE = "space.json"
CHECKPOINTS_NAME = "checkpoints.json"  # the file records behind each checkpoint's fingerprint
MERGE_AFTER = 16  # shards looked up one by one before they are merged into one sorted index
EVICT_TO = 0.9  # past its bound, the cache is brought down to this share of it (not rescanned every shard)


def text_key(text: str) -> bytes:
    """The 16-byte digest a text is stored under (the instruction is part of the text)."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=KEY_BYTES).digest()


def space_id(identity: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class ShardHeader:
    rows: int
    width: int
    keys_sha256: str
    vectors_sha256: str
    space: str

    @property
    def vectors_offset(self) -> int:
        return HEADER_BYTES + _aligned(self.rows * KEY_BYTES)

    @property
    def file_size(self) -> int:
        return self.vectors_offset + self.rows * self.width * 4


def _aligned(size: int, to: int = 64) -> int:
    return (size + to - 1) // to * to


def read_header(path: Path) -> ShardHeader:
    """The shard's header; ValueError when the file is not a whole shard of this format."""
    with path.open("rb") as handle:
        head = handle.read(HEADER_BYTES)
    if not head.startswith(MAGIC) or len(head) < HEADER_BYTES:
        raise ValueError("not a shard of this format")
    fields = json.loads(head[len(MAGIC):].rstrip(b" \n\x00"))
    if fields.get("format") != FORMAT or fields.get("dtype") != "float32":
        raise ValueError("written by another format")
    header = ShardHeader(int(fields["rows"]), int(fields["width"]), fields["keys_sha256"],
                         fields["vectors_sha256"], fields["space"])
    if path.stat().st_size != header.file_size:
        raise ValueError(f"{path.stat().st_size} bytes, its header says {header.file_size}")
    return header


def write_shard(path: Path, space: str, keys: bytes, vectors: np.ndarray) -> ShardHeader:
    """Write a shard through a temporary file renamed into place (fsynced first)."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    rows, width = vectors.shape
    header = ShardHeader(rows, width, hashlib.sha256(keys).hexdigest(),
                         hashlib.sha256(vectors.data.cast("B")).hexdigest(), space)
    fields = {"format": FORMAT, "dtype": "float32", "rows": rows, "width": width, "space": space,
              "keys_sha256": header.keys_sha256, "vectors_sha256": header.vectors_sha256}
    head = MAGIC + json.dumps(fields).encode()
    atomic_write_bytes(path, [head + b" " * (HEADER_BYTES - len(head) - 1) + b"\n",
                              keys + b"\x00" * (header.vectors_offset - HEADER_BYTES - len(keys)),
                              vectors.data.cast("B")])
    return header


class Shard:
    """One shard file, memory-mapped; `verified` once its checksums were checked in this process."""

    def __init__(self, path: Path, header: ShardHeader, keys: np.ndarray, verified: bool = False) -> None:
        self.path, self.header, self.keys, self.verified = path, header, keys, verified
        self._vectors: np.ndarray | None = None

    @classmethod
    def open(cls, path: Path) -> Shard:
        header = read_header(path)
        keys = np.fromfile(path, dtype=f"S{KEY_BYTES}", count=header.rows, offset=HEADER_BYTES)
        return cls(path, header, keys)

    @property
    def vectors(self) -> np.ndarray:
        if self._vectors is None:
            if self.header.rows == 0:
                self._vectors = np.empty((0, self.header.width), dtype=np.float32)
            else:
                self._vectors = np.memmap(self.path, dtype=np.float32, mode="r", offset=self.header.vectors_offset,
                                          shape=(self.header.rows, self.header.width))
        return self._vectors

    def check(self) -> str | None:
        """Why the shard cannot be trusted, or None (its checksums match; then marked verified)."""
        if hashlib.sha256(self.keys.tobytes()).hexdigest() != self.header.keys_sha256:
            return "its keys do not match their checksum"
        if hashlib.sha256(np.ascontiguousarray(self.vectors).data.cast("B")).hexdigest() \
                != self.header.vectors_sha256:
            return "its vectors do not match their checksum"
        self.verified = True  # its last use is set by EmbeddingCache.used, as for every shard served
        return None


class _SortedKeys:
    """Keys of several shards, sorted, with each key's (shard number, row)."""

    def __init__(self, parts: Sequence[tuple[int, np.ndarray]]) -> None:
        keys = [keys for _, keys in parts]
        self.keys = np.concatenate(keys) if keys else np.empty(0, dtype=f"S{KEY_BYTES}")
        self.shard = np.concatenate([np.full(len(k), n, dtype=np.int32) for n, k in parts]) if parts \
            else np.empty(0, dtype=np.int32)
        self.row = np.concatenate([np.arange(len(k), dtype=np.int64) for _, k in parts]) if parts \
            else np.empty(0, dtype=np.int64)
        order = np.argsort(self.keys, kind="stable")
        self.keys, self.shard, self.row = self.keys[order], self.shard[order], self.row[order]

    def find(self, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(found mask over `wanted`, shard numbers and rows of the found ones)."""
        if len(self.keys) == 0:
            return np.zeros(len(wanted), dtype=bool), self.shard[:0], self.row[:0]
        at = np.minimum(np.searchsorted(self.keys, wanted), len(self.keys) - 1)
        found = self.keys[at] == wanted
        return found, self.shard[at[found]], self.row[at[found]]


class CacheSpace:
    """The vectors of one model identity and settings: lookup and add by text key."""

    def __init__(self, cache: EmbeddingCache, folder: Path, space: str, width: int) -> None:
        self.cache, self.folder, self.space, self.width = cache, folder, space, width
        self.shards: list[Shard | None] = []
        self.known: dict[str, int] = {}  # file name -> shard number
        self.merged = _SortedKeys([])
        self.recent: list[_SortedKeys] = []  # shards not yet in `merged`, each sorted alone

    def refresh(self) -> None:
        """Take in shards other processes (or earlier runs) wrote since the last look."""
        try:
            names = sorted(entry.name for entry in os.scandir(self.folder)
                           if entry.name.endswith(SHARD_SUFFIX) and not entry.name.startswith("."))
        except FileNotFoundError:
            return
        for name in names:
            if name in self.known:
                continue
            path = self.folder / name
            try:
                shard = Shard.open(path)
                if shard.header.width != self.width or shard.header.space != self.space:
                    raise ValueError(f"holds width {shard.header.width} of space {shard.header.space}, "
                                     f"this folder is {self.space} with width {self.width}")
            except FileNotFoundError:
                continue  # pruned meanwhile
            except (ValueError, KeyError, OSError) as exc:
                self.cache.discard(path, f"cannot be read ({exc})")
                self.known[name] = -1
                continue
            self._take(name, shard)

    def _take(self, name: str, shard: Shard) -> None:
        self.known[name] = len(self.shards)
        self.shards.append(shard)
        self.recent.append(_SortedKeys([(len(self.shards) - 1, shard.keys)]))
        if len(self.recent) > MERGE_AFTER:
            self._rebuild()

    def _rebuild(self) -> None:
        self.merged = _SortedKeys([(n, s.keys) for n, s in enumerate(self.shards) if s is not None])
        self.recent = []

    def lookup(self, keys: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
        """(indices into `keys` found in the cache, their vectors in that order); only rows of
        verified shards with finite values are served."""
        self.refresh()
        wanted = np.array(keys, dtype=f"S{KEY_BYTES}")
        while True:
            shard_of = np.full(len(wanted), -1, dtype=np.int64)
            row_of = np.zeros(len(wanted), dtype=np.int64)
            found, shards, rows = self.merged.find(wanted)
            shard_of[found], row_of[found] = shards, rows
            for index in self.recent:
                missing = np.flatnonzero(shard_of < 0)
                if not len(missing):
                    break
                hit, shards, rows = index.find(wanted[missing])
                shard_of[missing[hit]], row_of[missing[hit]] = shards, rows
            used = [int(n) for n in np.unique(shard_of[shard_of >= 0])]
            failed = [n for n in used if not self._trusted(n)]
            if not failed:
                break  # otherwise look again without the shards just discarded
        indices = np.flatnonzero(shard_of >= 0)
        vectors = np.empty((len(indices), self.width), dtype=np.float32)
        for number in used:
            self.cache.used(self.shards[number].path)  # type: ignore[union-attr]
            mine = shard_of[indices] == number
            vectors[mine] = self.shards[number].vectors[row_of[indices[mine]]]  # type: ignore[union-attr]
        finite = np.isfinite(vectors).all(axis=1)
        if not finite.all():  # the shard goes, and every row it served here is encoded again
            poisoned = np.unique(shard_of[indices[~finite]])
            for number in poisoned:
                self._drop(int(number), "holds values that are not finite")
            kept = ~np.isin(shard_of[indices], poisoned)
            indices, vectors = indices[kept], vectors[kept]
        self.cache.hits += len(indices)
        self.cache.misses += len(keys) - len(indices)
        return indices, vectors

    def _trusted(self, number: int) -> bool:
        shard = self.shards[number]
        assert shard is not None
        if shard.verified:
            return True
        try:
            why = shard.check()
        except (OSError, ValueError) as exc:
            why = f"cannot be read ({exc})"
        if why is None:
            return True
        self._drop(number, why)
        return False

    def _drop(self, number: int, why: str) -> None:
        shard = self.shards[number]
        if shard is None:
            return
        self.shards[number] = None
        self.cache.discard(shard.path, why)
        self._rebuild()

    def add(self, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        """Store new rows as one shard (nothing is written for none)."""
        if not len(keys):
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():x}-{os.getpid()}-{uuid.uuid4().hex[:8]}{SHARD_SUFFIX}"
        path = self.folder / name
        try:
            header = write_shard(path, self.space, b"".join(keys), vectors)
        except OSError as exc:  # a full disk costs speed, never the run
            logger.warning("embedding cache: could not write %s (%s); the run goes on without storing "
                           "these vectors", path, exc.strerror)
            return
        self._take(name, Shard(path, header, np.array(keys, dtype=f"S{KEY_BYTES}"), verified=True))
        self.cache.stored(header.file_size)


def shards_by_use(folder: Path) -> list[tuple[float, int, Path]]:
    """(last use, bytes, path) of every shard in the cache folder, least recently used first."""
    out = []
    for path in (Path(folder) / f"v{FORMAT}").glob(f"*/*{SHARD_SUFFIX}"):
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue  # removed meanwhile
        out.append((stat.st_mtime, stat.st_size, path))
    return sorted(out)


def least_recently_used(shards: list[tuple[float, int, Path]], target: int) -> list[tuple[float, int, Path]]:
    """The first of `shards` (least recently used first) to remove to bring their total to `target` bytes."""
    total, victims = sum(size for _, size, _ in shards), []
    for shard in shards:
        if total <= target:
            break
        victims.append(shard)
        total -= shard[1]
    return victims


def cache_folder(folder: Path) -> Path:
    """`folder` as the cache's folder; BgeEvalError when it or a folder above it is a file."""
    folder = Path(folder)
    blocked = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
    if blocked is not None:
        raise BgeEvalError(f"--embedding-cache {folder}: {blocked} is a file; name a folder.")
    return folder


def refuse_unwritable(folder: Path) -> None:
    """A BgeEvalError naming the cache folder when this user cannot create or write files in it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check-"):
            pass
    except OSError as exc:
        raise BgeEvalError(f"--embedding-cache {folder}: not writable ({exc.strerror or exc}); give a folder you "
                           "can write to, or --no-embedding-cache.") from exc


class EmbeddingCache:
    """The cache folder: one CacheSpace per model identity and settings. hits, misses and
    discarded count texts served, texts not found and shards removed."""

    def __init__(self, folder: Path, max_bytes: int | None = None) -> None:
        self.folder = cache_folder(folder)
        refuse_unwritable(self.folder)
        self.max_bytes = max_bytes  # None: no bound
        self.hits = 0
        self.misses = 0
        self.discarded = 0
        self.evicted = (0, 0)  # shards and bytes removed by the bound
        self._spaces: dict[str, CacheSpace] = {}
        self._total: int | None = None  # bytes of shards, counted on the first write
        self._touched: set[Path] = set()

    def used(self, path: Path) -> None:
        """A shard served rows: its mtime becomes its last use (once a run), the order eviction follows."""
        if path not in self._touched:
            self._touched.add(path)
            try:
                os.utime(path)
            except OSError:
                pass  # removed meanwhile, or a read-only cache: the order is then its write time

    def stored(self, size: int) -> None:
        """A shard of `size` bytes was written: past the bound, the least recently used shards go."""
        if self.max_bytes is None:
            return
        self._total = sum(size for _, size, _ in shards_by_use(self.folder)) if self._total is None \
            else self._total + size
        if self._total > self.max_bytes:
            self._evict(int(self.max_bytes * EVICT_TO))

    def _evict(self, target: int) -> None:
        shards = shards_by_use(self.folder)
        if not shards:  # another process emptied the cache meanwhile
            self._total = 0
            return
        victims = least_recently_used(shards[:-1], target - shards[-1][1])  # never the shard just written
        for _, _, path in victims:
            path.unlink(missing_ok=True)
            for space in self._spaces.values():  # a removed shard is no longer looked up
                number = space.known.get(path.name, -1) if path.parent == space.folder else -1
                if number >= 0 and space.shards[number] is not None:
                    space.shards[number] = None
                    space._rebuild()
        removed, freed = len(victims), sum(size for _, size, _ in victims)
        self._total = sum(size for _, size, _ in shards) - freed
        self.evicted = (self.evicted[0] + removed, self.evicted[1] + freed)
        logger.info("embedding cache past its bound (%.1f GiB): %d least recently used shard(s) removed, %.1f MiB",
                    self.max_bytes / 2**30 if self.max_bytes else 0, removed, freed / 2**20)

    def checkpoint_fingerprint(self, checkpoint: str | Path) -> str:
        """The checkpoint's content fingerprint (its files hashed once, then known by size and mtime)."""
        return checkpoint_fingerprint(Path(checkpoint), self.folder / CHECKPOINTS_NAME)

    def space(self, identity: dict[str, str], width: int) -> CacheSpace:
        """The space of this identity (written on first use with the identity, for the report)."""
        sid = space_id({**identity, "width": str(width)})
        if sid not in self._spaces:
            folder = self.folder / f"v{FORMAT}" / sid
            if not (folder / SPACE_FILE).is_file():
                try:
                    atomic_write_json(folder / SPACE_FILE, {"identity": identity, "width": width})
                except OSError as exc:
                    logger.warning("embedding cache: could not write %s (%s)", folder / SPACE_FILE, exc.strerror)
            self._spaces[sid] = CacheSpace(self, folder, sid, width)
        return self._spaces[sid]

    def discard(self, path: Path, why: str) -> None:
        logger.warning("embedding cache shard %s %s; removed, its texts are encoded again", path, why)
        self.discarded += 1
        path.unlink(missing_ok=True)
