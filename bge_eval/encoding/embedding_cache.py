"""On-disk cache of embeddings, so a corpus is never encoded twice: a re-run, an instruction
ablation (documents carry no instruction) or a reranker's first stage reuses the vectors.

The key covers everything that changes a vector: model name and revision, precision,
pooling, normalisation, max length, and the exact texts (instruction included).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .._util import atomic_write_bytes

MIN_TEXTS = 64  # smaller calls are cheaper to recompute than to store


def cache_key(identity: Sequence[str], texts: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for part in identity:
        digest.update(part.encode("utf-8") + b"\x00")
    digest.update(str(len(texts)).encode() + b"\x01")
    for text in texts:
        digest.update(hashlib.sha256(text.encode("utf-8")).digest())
    return digest.hexdigest()


class EmbeddingCache:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.hits = 0
        self.misses = 0

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.npy"

    def get(self, key: str) -> np.ndarray | None:
        path = self._path(key)
        if not path.is_file():
            self.misses += 1
            return None
        try:
            array = np.load(path)
        except (ValueError, OSError, EOFError):  # a damaged entry is recomputed
            self.misses += 1
            return None
        self.hits += 1
        return array

    def put(self, key: str, embeddings: np.ndarray) -> None:
        buffer = io.BytesIO()
        np.save(buffer, embeddings)
        atomic_write_bytes(self._path(key), buffer.getvalue())
