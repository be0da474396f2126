"""On-disk cache of embeddings, so a corpus is never encoded twice: a re-run, an instruction
ablation (documents carry no instruction) or a reranker's first stage reuses the vectors.

The key covers everything that changes a vector: model name and revision, the checkpoint's
content fingerprint (weights, configuration, tokenizer), precision, pooling, normalisation,
max length, and the exact texts (instruction included).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .._util import atomic_write_bytes
from ..errors import BgeEvalError
from ..fingerprints import checkpoint_fingerprint

logger = logging.getLogger(__name__)

MIN_TEXTS = 64  # smaller calls are cheaper to recompute than to store
FORMAT = 1
SUFFIX = ".vec"
CHECKPOINTS_NAME = "checkpoints.json"  # the file records behind each checkpoint's fingerprint


def cache_key(identity: Sequence[str], texts: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for part in identity:
        digest.update(part.encode("utf-8") + b"\x00")
    digest.update(str(len(texts)).encode() + b"\x01")
    for text in texts:
        digest.update(hashlib.sha256(text.encode("utf-8")).digest())
    return digest.hexdigest()


class EmbeddingCache:
    """Entries are <key>.vec files: a header line (format, SHA-256 of the array bytes, shape,
    dtype), then the array as .npy. A read is served only when the checksum, the shape the caller
    expects and the dtype match and every value is finite; anything else is discarded with one
    warning (the caller re-encodes and the entry is written again)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        blocked = next((p for p in (self.folder, *self.folder.parents) if p.exists() and not p.is_dir()), None)
        if blocked is not None:
            raise BgeEvalError(f"--embedding-cache {folder}: {blocked} is a file; name a folder (or pass "
                               "--no-embedding-cache).")
        self.hits = 0
        self.misses = 0
        self.discarded = 0

    def checkpoint_fingerprint(self, checkpoint: Path) -> str:
        """The checkpoint's content fingerprint (its files hashed once, then known by size and mtime)."""
        return checkpoint_fingerprint(checkpoint, self.folder / CHECKPOINTS_NAME)

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}{SUFFIX}"

    def get(self, key: str, shape: tuple[int, int] | None = None) -> np.ndarray | None:
        """The entry's array when it verifies (and has `shape`, when given); else None."""
        path = self._path(key)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            self.misses += 1
            return None
        except OSError as exc:
            return self._discard(path, f"unreadable ({exc.strerror})")
        header, _, body = data.partition(b"\n")
        try:
            fields = json.loads(header)
            if fields.get("format") != FORMAT:
                return self._discard(path, "written by another format")
            if hashlib.sha256(body).hexdigest() != fields.get("sha256"):
                return self._discard(path, "its checksum does not match its content")
            array = np.load(io.BytesIO(body), allow_pickle=False)
        except (ValueError, OSError, EOFError, AttributeError) as exc:
            return self._discard(path, f"damaged ({type(exc).__name__})")
        if array.dtype != np.float32 or list(array.shape) != fields.get("shape"):
            return self._discard(path, f"holds {array.dtype} {array.shape}, not what its header says")
        if shape is not None and tuple(array.shape) != tuple(shape):
            return self._discard(path, f"holds shape {array.shape}, this call needs {tuple(shape)}")
        if not np.isfinite(array).all():
            return self._discard(path, "holds values that are not finite")
        self.hits += 1
        return array

    def put(self, key: str, embeddings: np.ndarray) -> None:
        embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
        buffer = io.BytesIO()
        np.save(buffer, embeddings, allow_pickle=False)
        body = buffer.getvalue()
        header = {"format": FORMAT, "sha256": hashlib.sha256(body).hexdigest(), "shape": list(embeddings.shape),
                  "dtype": "float32"}
        atomic_write_bytes(self._path(key), json.dumps(header).encode() + b"\n" + body)

    def _discard(self, path: Path, why: str) -> None:
        logger.warning("embedding cache entry %s %s; re-encoding", path, why)
        self.discarded += 1
        self.misses += 1
        path.unlink(missing_ok=True)
        return None
