"""mteb's SearchProtocol over an index variant: CorpusSearch's own texts and encoding (so the
embedding cache gives back the vectors the run made; nothing is encoded twice), the whole corpus
then put in the variant and searched by it. `exact` is CorpusSearch's search itself, bit for bit."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._mteb import PromptType, TimingStack
from ..search.corpus_search import CorpusSearch
from ..tasks.corpus_file import release_pages
from .build import build
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
