"""mteb's SearchProtocol over an index variant: CorpusSearch's own texts and encoding (so the
embedding cache gives back the vectors the run made; nothing is encoded twice), the whole corpus
then put in the variant and searched by it. `exact` is CorpusSearch's search itself, bit for bit.
Reranking tasks (candidates given): mteb's own candidate search over the vectors in the variant's
stored form (fp16, int8, binary, dims); rescoring and approximate search have no candidate list to
work on and are not run there (run/index_stage.py says so)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._mteb import CandidateSearch, PromptType, TimingStack
from ..search.corpus_search import CorpusSearch
from ..tasks.corpus_file import release_pages
from .build import build, vector_forms
from .measure import speed_figures
from .variants import IndexSpec, check_against

NDCG_DEPTH = 10  # the top a variant must at least fill (nDCG@10)


class IndexedSearch(CorpusSearch):
    def __init__(self, encoder: Any, spec: IndexSpec, meta: Any, corpus_chunk_docs: int) -> None:
        super().__init__(encoder, corpus_chunk_docs)
        self.spec, self.meta = spec, meta
        self.figures: dict[str, float] = {}  # the last search's index figures (index/measure.py names)

    @property
    def mteb_model_meta(self) -> Any:
        return self.meta

    def take_counts(self) -> Any:
        """The encoder's counts of texts asked for, cached and encoded (task_eval records them)."""
        return self.encoder.take_counts()

    def search(self, queries: Any, *, task_metadata: Any, hf_split: str, hf_subset: str, top_k: int,
               encode_kwargs: dict, top_ranked: Any = None, num_proc: int | None = None,
               timer: TimingStack | None = None, **kwargs: Any) -> dict[str, dict[str, float]]:
        self.figures = {}
        if top_ranked is None or self.spec.kind == "exact":  # exact: the run's own candidate scoring too
            docs = len(self.corpus) if self.corpus is not None else 0
            found = super().search(queries, task_metadata=task_metadata, hf_split=hf_split, hf_subset=hf_subset,
                                   top_k=top_k, encode_kwargs=encode_kwargs, top_ranked=top_ranked,
                                   num_proc=num_proc, timer=timer, **kwargs)
            if top_ranked is not None:
                width = 4.0 * (self.encoder.mteb_model_meta.embed_dim or 0)
                self.figures = {"bytes_per_vector": width, "size_bytes": width * docs, "build_s": 0.0}
            return found
        corpus, self.corpus = self.corpus, None
        stored = StoredFormEncoder(self.encoder, self.spec)
        found = CandidateSearch(stored).search(
            corpus, queries, task_metadata=task_metadata, hf_split=hf_split, hf_subset=hf_subset, top_k=top_k,
            encode_kwargs=encode_kwargs, top_ranked=top_ranked, num_proc=num_proc, timer=timer)
        built = build(self.spec, stored.documents)
        # a candidate list is scored whole: size and build time, no search latency to time
        self.figures = {"bytes_per_vector": built.bytes_per_vector, "size_bytes": float(built.size_bytes),
                        "build_s": built.build_s}
        return found

    def rank(self, queries: Any, corpus: Any, rows: range, *, top_k: int, where: dict, encode_kwargs: dict,
             num_proc: int | None = None, timer: TimingStack | None = None) -> tuple[np.ndarray, np.ndarray]:
        if self.spec.kind == "exact":  # the run's own search, bit for bit; timed as a flat index below
            found = super().rank(queries, corpus, rows, top_k=top_k, where=where, encode_kwargs=encode_kwargs,
                                 num_proc=num_proc, timer=timer)
        query_vectors = np.asarray(self._encode(queries, PromptType.query, where, encode_kwargs, num_proc),
                                   dtype=np.float32)
        chunks = []
        for start in range(rows.start, rows.stop, self.corpus_chunk_docs):
            chunk = corpus.select(range(start, min(start + self.corpus_chunk_docs, rows.stop)))
            chunks.append(np.asarray(self._encode(chunk, PromptType.document, where, encode_kwargs, num_proc),
                                     dtype=np.float32))
            release_pages(corpus)
        docs = np.concatenate(chunks)
        check_against(self.spec, len(docs), docs.shape[1], NDCG_DEPTH)
        built = build(self.spec, docs)
        if self.spec.kind != "exact":
            found = built.search(query_vectors, min(top_k, len(docs)))
        self.figures = speed_figures(built, query_vectors)
        return found


class StoredFormEncoder:
    """The encoder's vectors in an index variant's stored form (index/build.vector_forms), scored by
    their dot product: what mteb's candidate search sees for a reranking task."""

    def __init__(self, encoder: Any, spec: IndexSpec) -> None:
        self.encoder = encoder
        self.query_form, self.document_form = vector_forms(spec)
        self.documents = np.zeros((0, 0), dtype=np.float32)  # the corpus as the encoder gave it (last call)

    @property
    def mteb_model_meta(self) -> Any:
        return self.encoder.mteb_model_meta

    def encode(self, inputs: Any, *, prompt_type: Any = None, **kwargs: Any) -> np.ndarray:
        vectors = np.asarray(self.encoder.encode(inputs, prompt_type=prompt_type, **kwargs), dtype=np.float32)
        if prompt_type == PromptType.document:
            self.documents = vectors
            return self.document_form(vectors)
        return self.query_form(vectors)

    def similarity(self, queries: Any, documents: Any) -> np.ndarray:
        return np.asarray(queries, dtype=np.float32) @ np.asarray(documents, dtype=np.float32).T

    def similarity_pairwise(self, left: Any, right: Any) -> np.ndarray:
        return np.sum(np.asarray(left, dtype=np.float32) * np.asarray(right, dtype=np.float32), axis=1)
