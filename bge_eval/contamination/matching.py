"""Every training text against every evaluated text: exact copies (equal after contamination.text's
normalisation) by a dictionary, near copies by MinHash LSH (datasketch) over their shingles, each
LSH candidate confirmed by the shingle sets' true Jaccard similarity (so the threshold is exact,
not the sketch's estimate). The evaluated texts are indexed; the training data streams past."""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import BgeEvalError
from .text import exact_key, jaccard, normalise, shingles
from .training import TrainingLine

DEFAULT_THRESHOLD = 0.6  # Jaccard of shingle sets at or above which two texts are near copies
NUM_PERM = 128
MIN_SHINGLES = 5  # shorter texts are matched exactly only (a few words say too little to call a copy)


@dataclass(frozen=True)
class Hit:
    """A training text found in the evaluated data: which evaluated text (its index), how, and where."""

    evaluated: int  # index into Matcher.texts
    kind: str  # "exact" or "near"
    similarity: float  # 1.0 for exact copies, else the shingles' Jaccard
    file: str
    line: int
    role: str  # the training text's role: query, pos, neg, text


def minhash_lsh() -> Any:
    try:
        import datasketch
    except ImportError:
        raise BgeEvalError('the audit needs datasketch: pip install "bge_eval[audit]".') from None
    return datasketch


class Matcher:
    def __init__(self, texts: list[str], threshold: float = DEFAULT_THRESHOLD) -> None:
        """texts: the evaluated texts (an index into them identifies each)."""
        datasketch = minhash_lsh()
        self._minhash = datasketch.MinHash
        # one set of permutations for every sketch (drawn once, not per text), shingles hashed by CRC-32
        template = datasketch.MinHash(num_perm=NUM_PERM, hashfunc=zlib.crc32)
        self._permutations, self._scheme = template.permutations, template.scheme
        self.threshold = threshold
        self.texts = texts
        self.exact: dict[str, list[int]] = {}
        self.shingles: dict[int, set[str]] = {}
        self.lsh = datasketch.MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
        for i, text in enumerate(texts):
            normalised = normalise(text)
            if not normalised:
                continue
            self.exact.setdefault(exact_key(normalised), []).append(i)
            units = shingles(normalised)
            if len(units) >= MIN_SHINGLES:
                self.shingles[i] = units
                self.lsh.insert(i, self._sketch(units), check_duplication=False)

    def _sketch(self, units: set[str]) -> Any:
        sketch = self._minhash(num_perm=NUM_PERM, hashfunc=zlib.crc32, permutations=self._permutations,
                               scheme=self._scheme)
        sketch.update_batch([unit.encode("utf-8") for unit in units])
        return sketch

    def match(self, line: TrainingLine) -> list[Hit]:
        hits = []
        for role, text in line.texts():
            normalised = normalise(text)
            if not normalised:
                continue
            exact = self.exact.get(exact_key(normalised), [])
            hits += [Hit(i, "exact", 1.0, line.file, line.line, role) for i in exact]
            units = shingles(normalised)
            if len(units) < MIN_SHINGLES or not self.shingles:
                continue
            for i in self.lsh.query(self._sketch(units)):
                if i in exact:
                    continue
                similarity = jaccard(units, self.shingles[i])
                if similarity >= self.threshold:
                    hits.append(Hit(i, "near", similarity, line.file, line.line, role))
        return hits

    def match_all(self, lines: Iterable[TrainingLine]) -> Iterable[tuple[TrainingLine, list[Hit]]]:
        for line in lines:
            yield line, self.match(line)
