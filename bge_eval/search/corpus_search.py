"""Full-corpus retrieval for mteb's runner (its SearchProtocol), with the top-k kept on the device.

Each corpus chunk is encoded (one embedding-cache entry per chunk: a killed run resumes where
it stopped), scored with the encoder's own similarity and merged into a running top-k on the
device, instead of mteb's per-chunk Python heaps; the texts are mteb's own ("title text"),
built from whole columns. Reranking tasks (candidates given) use mteb's own search.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from .._mteb import CandidateSearch, PromptType, TimingStack, create_dataloader
from ..config import DEFAULT_CORPUS_CHUNK_DOCS
from ..tasks.corpus_file import release_pages
from .dense import RunningTopK

# Queries scored against a chunk at once: bounds the score block (2,048 x 50,000 fp32: 410 MB, where
# MSMARCO's 6,980 queries at once took 1.4 GB); each query's top-k is its own, so results are unchanged.
QUERY_BLOCK_ROWS = 2048


class CorpusSearch:
    """mteb's SearchProtocol over an encoder (BgeEncoder, or anything with mteb's EncoderProtocol)."""

    def __init__(self, encoder: Any, corpus_chunk_docs: int = DEFAULT_CORPUS_CHUNK_DOCS) -> None:
        self.encoder = encoder
        self.corpus_chunk_docs = corpus_chunk_docs
        self.corpus: Any = None

    @property
    def mteb_model_meta(self) -> Any:
        return self.encoder.mteb_model_meta

    def index(self, corpus: Any, *, task_metadata: Any, hf_split: str, hf_subset: str, encode_kwargs: dict,
              num_proc: int | None = None, **kwargs: Any) -> None:
        """Keep the corpus; it is encoded chunk by chunk during search."""
        self.corpus = corpus

    def search(self, queries: Any, *, task_metadata: Any, hf_split: str, hf_subset: str, top_k: int,
               encode_kwargs: dict, top_ranked: Any = None, num_proc: int | None = None,
               timer: TimingStack | None = None, **kwargs: Any) -> dict[str, dict[str, float]]:
        """{query id: {document id: score}} for each query's top_k documents."""
        if self.corpus is None:
            raise ValueError("CorpusSearch.search: call index(corpus) first.")
        corpus, self.corpus = self.corpus, None  # released after this search, as mteb does
        if top_ranked is not None:
            return CandidateSearch(self.encoder).search(
                corpus, queries, task_metadata=task_metadata, hf_split=hf_split, hf_subset=hf_subset, top_k=top_k,
                encode_kwargs=encode_kwargs, top_ranked=top_ranked, num_proc=num_proc, timer=timer)
        timer = timer or TimingStack()
        where = {"task_metadata": task_metadata, "hf_split": hf_split, "hf_subset": hf_subset}
        index, scores = self.rank(queries, corpus, range(len(corpus)), top_k=top_k, where=where,
                                  encode_kwargs=encode_kwargs, num_proc=num_proc, timer=timer)
        return ranking_dict(queries["id"][:], corpus, index, scores)

    def rank(self, queries: Any, corpus: Any, rows: range, *, top_k: int, where: dict, encode_kwargs: dict,
             num_proc: int | None = None, timer: TimingStack | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Each query's top_k among corpus rows `rows` (encoded in chunks of corpus_chunk_docs from
        rows.start): (corpus row indices, fp32 scores), best first, ties by lower row."""
        timer = timer or TimingStack()
        split = {"split": where["hf_split"], "subset": where["hf_subset"]}
        with timer("Encoding queries", **split):
            query_vectors = self._encode(queries, PromptType.query, where, encode_kwargs, num_proc)
        blocks = [(first, min(first + QUERY_BLOCK_ROWS, len(queries))) for first in range(0, len(queries),
                                                                                     QUERY_BLOCK_ROWS)]
        bests = [RunningTopK(top_k) for _ in blocks]
        with timer("Searching corpus", **split):
            starts = range(rows.start, rows.stop, self.corpus_chunk_docs)
            for start in tqdm(starts, desc="Searching corpus chunks", disable=len(starts) < 2):
                chunk = corpus.select(range(start, min(start + self.corpus_chunk_docs, rows.stop)))
                doc_vectors = self._encode(chunk, PromptType.document, where, encode_kwargs, num_proc)
                for (first, stop), best in zip(blocks, bests, strict=True):
                    scores_block = self.encoder.similarity(query_vectors[first:stop], doc_vectors)
                    best.add(torch.as_tensor(scores_block), offset=start)
                del doc_vectors
                release_pages(corpus)  # the chunk's text, read, leaves the resident set (a mapped corpus)
        parts = [best.result(stop - first) for (first, stop), best in zip(blocks, bests, strict=True)]
        if not parts:
            return np.zeros((0, 0), dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
        return best_first(np.concatenate([part[0] for part in parts]), np.concatenate([part[1] for part in parts]))

    def _encode(self, dataset: Any, prompt_type: PromptType, where: dict, encode_kwargs: dict,
                num_proc: int | None) -> Any:
        """The dataset's texts embedded as mteb's SearchEncoderWrapper would: the same texts,
        handed over as one batch (the encoder batches them itself)."""
        texts = mteb_texts(dataset, where["task_metadata"], prompt_type)
        if texts is not None:
            batches: Any = [{"text": texts}]
        else:
            batches = create_dataloader(dataset, task_metadata=where["task_metadata"], prompt_type=prompt_type,
                                        num_proc=num_proc, **encode_kwargs)
        return self.encoder.encode(batches, prompt_type=prompt_type, **where, **encode_kwargs)


def best_first(index: np.ndarray, scores: np.ndarray, k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each row's (index, score) pairs by score, highest first, equal scores by lower index; the first k."""
    order = np.lexsort((index, -scores), axis=-1)[:, :k]
    return np.take_along_axis(index, order, axis=1), np.take_along_axis(scores, order, axis=1)


def ranking_dict(query_ids: list[str], corpus: Any, index: np.ndarray, scores: np.ndarray) -> dict[str, dict[str,
                                                                                                         float]]:
    """mteb's rankings, {query id: {document id: score}}, from rows of corpus row indices and scores;
    only the ids of ranked documents are read; a negative index (an approximate index's unfilled
    place) is no document."""
    ranked = np.unique(index[index >= 0]).tolist()
    doc_ids = dict(zip(ranked, corpus.select(ranked)["id"][:], strict=True))
    return {query_id: {doc_ids[doc]: score for doc, score in zip(index[row].tolist(), scores[row].tolist(),
                                                                 strict=True) if doc >= 0}
            for row, query_id in enumerate(query_ids)}


def shard_rows(docs: int, shard: int, shards: int, chunk_docs: int) -> range:
    """The corpus rows of shard `shard` (from 0) of `shards`: whole chunks of chunk_docs, as a
    one-process search cuts them, shared out in order (a shard may be empty when chunks are fewer)."""
    chunks = -(-docs // chunk_docs)
    first, stop = chunks * shard // shards, chunks * (shard + 1) // shards
    return range(min(first * chunk_docs, docs), min(stop * chunk_docs, docs))


def mteb_texts(dataset: Any, task_metadata: Any, prompt_type: PromptType) -> list[str] | None:
    """The "text" of every row as mteb's DataLoader gives it for a text-only retrieval input,
    built from whole columns; None for anything else (images, conversation queries)."""
    if task_metadata.get_modalities(prompt_type) != ["text"] or "text" not in dataset.column_names:
        return None
    texts = dataset["text"][:]  # a plain list (a Dataset column is slow to index one by one)
    if not all(isinstance(text, str) for text in texts):
        return None
    if prompt_type == PromptType.document:  # mteb: "title text" when there is a title, stripped
        if "title" not in dataset.column_names:
            return [text.strip() for text in texts]
        titles = dataset["title"][:]
        return [f"{title} {text}".strip() if title else text.strip() for title, text in zip(titles, texts, strict=True)]
    if "instruction" in dataset.column_names:  # mteb: the query, a space, its instruction
        instructions = dataset["instruction"][:]
        return [text if extra is None else f"{text} {extra}" for text, extra in zip(texts, instructions, strict=True)]
    return texts
