"""Index variants built from one set of embeddings (index/variants.py), each searched for a top-k
under the order the harness's exact search uses (score descending, corpus row ascending): exact
and the numpy variants through search/dense.py's exact top-k; faiss's indexes in their own order.
Quantization with numpy (int8 ranges per dimension from the corpus, sign bits packed); approximate
search with faiss (`pip install "bge_eval[index]"`), no hand-written ANN."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import BgeEvalError
from ..search.dense import exact_topk, top_k_rows
from .variants import DEFAULT_EF_SEARCH, DEFAULT_NPROBE, IndexSpec

QUERY_BLOCK = 1_024  # queries scored at once by the numpy variants (fewer on large corpora)
BLOCK_SCORES = 32_000_000  # at most this many scores held at once (128 MB of fp32)
POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.int32)


@dataclass
class BuiltIndex:
    """A searchable variant: search(queries, k) -> (rows, scores), each (queries, k), best first."""

    spec: IndexSpec
    search: Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]
    bytes_per_vector: float
    size_bytes: int
    build_s: float


def unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def build(spec: IndexSpec, corpus: np.ndarray) -> BuiltIndex:
    """The variant over `corpus` (documents x dimensions, as the encoder gave them)."""
    started = time.perf_counter()
    builder = _FAISS.get(spec.kind) or _NUMPY[spec.kind]
    search, stored = builder(spec, np.asarray(corpus, dtype=np.float32))
    docs = max(1, len(corpus))
    return BuiltIndex(spec, search, stored / docs, stored, time.perf_counter() - started)


def _ranked(score: Callable[[np.ndarray], np.ndarray], docs: int) -> Callable[[np.ndarray, int],
                                                                              tuple[np.ndarray, np.ndarray]]:
    """A search from a scoring function (queries -> queries x documents scores), exact top-k in blocks."""
    step = max(1, min(QUERY_BLOCK, BLOCK_SCORES // max(1, docs)))

    def search(queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        rows, scores = [], []
        for start in range(0, len(queries), step):
            top_rows, top_scores = top_k_rows(score(queries[start:start + step]), k)
            rows.append(top_rows)
            scores.append(top_scores)
        return np.concatenate(rows), np.concatenate(scores)
    return search


def _exact(spec: IndexSpec, corpus: np.ndarray) -> tuple[Callable, int]:
    def search(queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return exact_topk(queries, corpus, k)
    return search, corpus.nbytes


def _stored(spec: IndexSpec, corpus: np.ndarray) -> tuple[Callable, int]:
    """fp16, int8 and dims: the documents in their stored form, scored exactly against the query's form."""
    query_form, document_form = vector_forms(spec)
    stored = document_form(corpus)
    size = {"fp16": corpus.size * 2, "int8": corpus.size + 2 * corpus.shape[1] * 4}.get(spec.kind, stored.nbytes)
    return _ranked(lambda q: query_form(q) @ stored.T, len(corpus)), size


def int8_codes(corpus: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(codes, low, step): each dimension's corpus range cut into 256 steps; value ~ low + (code + 128) * step."""
    vectors = unit(corpus)
    low, high = vectors.min(axis=0), vectors.max(axis=0)
    step = np.maximum(high - low, 1e-12) / 255.0
    codes = (np.rint((vectors - low) / step) - 128).clip(-128, 127).astype(np.int8)
    return codes, low, step


def int8_decoded(corpus: np.ndarray) -> np.ndarray:
    """The corpus as its int8 codes give it back (each code mapped to its step's value)."""
    codes, low, step = int8_codes(corpus)
    return (codes.astype(np.float32) + 128) * step + low


def _hamming_scores(bits: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Scores = minus the Hamming distance between the queries' sign bits and the documents', over
    64-bit words (numpy's bitwise_count) or bytes (a lookup table, numpy before 2.0)."""
    words = _as_words(bits)

    def score(queries: np.ndarray) -> np.ndarray:
        query_words = _as_words(np.packbits(queries > 0, axis=1))
        distance = np.zeros((len(queries), len(words)), dtype=np.int32)
        for word in range(words.shape[1]):
            differ = np.bitwise_xor(query_words[:, word, None], words[None, :, word])
            distance += np.bitwise_count(differ) if hasattr(np, "bitwise_count") else POPCOUNT[differ]
        return -distance.astype(np.float32)
    return score


def _as_words(bits: np.ndarray) -> np.ndarray:
    """Packed bits as 64-bit words (zero bytes appended to a whole word), or bytes where numpy has no
    bitwise_count."""
    if not hasattr(np, "bitwise_count"):
        return bits
    padded = np.zeros((len(bits), -(-bits.shape[1] // 8) * 8), dtype=np.uint8)
    padded[:, :bits.shape[1]] = bits
    return padded.view(np.uint64)


def _binary(spec: IndexSpec, corpus: np.ndarray) -> tuple[Callable, int]:
    bits = np.packbits(corpus > 0, axis=1)
    return _ranked(_hamming_scores(bits), len(corpus)), bits.nbytes


def _binary_rescore(spec: IndexSpec, corpus: np.ndarray) -> tuple[Callable, int]:
    bits = np.packbits(corpus > 0, axis=1)
    decoded = int8_decoded(corpus)
    candidates = _ranked(_hamming_scores(bits), len(corpus))
    rescore = spec.params["rescore"]

    def search(queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        rows, _ = candidates(queries, min(rescore, len(corpus)))
        exact = np.einsum("qd,qrd->qr", unit(queries), decoded[rows])
        order = np.lexsort((rows, -exact), axis=1)[:, :k]  # score descending, then corpus row ascending
        return np.take_along_axis(rows, order, 1), np.take_along_axis(exact, order, 1)
    return search, bits.nbytes + corpus.size  # the bits and the int8 codes


def vector_forms(spec: IndexSpec) -> tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]:
    """(query form, document form) whose dot product is the variant's score, for the variants that
    are a way of storing vectors (exact, fp16, int8, binary, dims); documents: the whole corpus at
    once (int8 takes its ranges from it). Binary: signs as +-1, whose dot product is the width minus
    twice the Hamming distance (the same order). Rescoring and approximate search are no such form."""
    if spec.kind in ("exact", "fp16", "int8"):
        def document_form(corpus: np.ndarray) -> np.ndarray:
            if spec.kind == "exact":
                return unit(corpus)
            if spec.kind == "fp16":
                return unit(corpus).astype(np.float16).astype(np.float32)
            return int8_decoded(corpus)
        return unit, document_form
    if spec.kind == "binary":
        def signs(vectors: np.ndarray) -> np.ndarray:
            return np.where(np.asarray(vectors) > 0, 1.0, -1.0).astype(np.float32)
        return signs, signs
    if spec.kind == "dims":
        width = spec.params["dims"]
        return (lambda q: unit(np.asarray(q)[:, :width])), (lambda d: unit(np.asarray(d)[:, :width]))
    raise BgeEvalError(f"--index {spec.name}: not a way of storing vectors (rescoring or approximate search).")


def _faiss() -> Any:
    try:
        import faiss
    except ImportError:
        raise BgeEvalError('approximate indexes need faiss: pip install "bge_eval[index]" (faiss-cpu).') from None
    return faiss


def _faiss_search(index: Any, *alive: Any) -> Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]:
    """alive: objects faiss holds raw pointers to (an IVF index's quantizer), kept with the search."""
    def search(queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        scores, rows = index.search(unit(queries), k)
        return rows.astype(np.int64), scores
    search.alive = alive  # type: ignore[attr-defined]
    return search


def _hnsw(spec: IndexSpec, corpus: np.ndarray) -> tuple[Callable, int]:
    faiss = _faiss()
    index = faiss.IndexHNSWFlat(corpus.shape[1], spec.params["m"], faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efSearch = spec.param("ef_search", DEFAULT_EF_SEARCH)
    index.add(unit(corpus))
    return _faiss_search(index), _faiss_size(index)


def _ivf(spec: IndexSpec, corpus: np.ndarray) -> tuple[Callable, int]:
    faiss = _faiss()
    vectors, width = unit(corpus), corpus.shape[1]
    quantizer = faiss.IndexFlatIP(width)
    if spec.kind == "ivf-pq":
        index = faiss.IndexIVFPQ(quantizer, width, spec.params["nlist"], spec.params["m"], 8,
                                 faiss.METRIC_INNER_PRODUCT)
    else:
        index = faiss.IndexIVFFlat(quantizer, width, spec.params["nlist"], faiss.METRIC_INNER_PRODUCT)
    index.train(vectors)
    index.add(vectors)
    index.nprobe = spec.param("nprobe", DEFAULT_NPROBE)
    return _faiss_search(index, quantizer), _faiss_size(index)


def _faiss_size(index: Any) -> int:
    return int(len(_faiss().serialize_index(index)))


_NUMPY = {"exact": _exact, "fp16": _stored, "int8": _stored, "binary": _binary, "binary-rescore": _binary_rescore,
          "dims": _stored}
_FAISS = {"hnsw": _hnsw, "ivf-flat": _ivf, "ivf-pq": _ivf}
