"""Rankings searched shard by shard, merged: each shard holds every query's top-k among its own
documents, so the corpus's top-k is the top-k of their union (exact; equal scores by lower corpus row)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import BgeEvalError
from .corpus_search import best_first, ranking_dict


@dataclass(frozen=True)
class ShardRanking:
    """One (subset, split) of a shard: the queries' ids, and per query its top-k (corpus row indices,
    fp32 scores) among the shard's rows, best first."""

    query_ids: list[str]
    index: np.ndarray
    scores: np.ndarray


def merge_rankings(parts: Sequence[ShardRanking], k: int) -> ShardRanking:
    """The top k over all parts (rankings of the same queries over disjoint rows)."""
    first = parts[0]
    if any(part.query_ids != first.query_ids for part in parts[1:]):
        raise BgeEvalError("the corpus shards ranked different queries; rerun the task (its shards are redone).")
    index = np.concatenate([part.index for part in parts], axis=1)
    scores = np.concatenate([part.scores for part in parts], axis=1)
    index, scores = best_first(index, scores, k)
    return ShardRanking(first.query_ids, index, scores)


class MergedSearch:
    """mteb's SearchProtocol over rankings already made (merged shards), keyed (subset, split): the
    driver evaluates a sharded task with it, encoding nothing."""

    def __init__(self, meta: Any, rankings: dict[tuple[str, str], ShardRanking]) -> None:
        self.mteb_model_meta = meta
        self.rankings = rankings
        self.corpus: Any = None

    def index(self, corpus: Any, **kwargs: Any) -> None:
        self.corpus = corpus

    def search(self, queries: Any, *, hf_split: str, hf_subset: str, top_k: int, top_ranked: Any = None,
               **kwargs: Any) -> dict[str, dict[str, float]]:
        ranking = self.rankings.get((hf_subset, hf_split))
        if top_ranked is not None or ranking is None:
            raise BgeEvalError(f"subset {hf_subset}, split {hf_split}: no merged ranking of the corpus shards "
                               "(only full-corpus retrieval is sharded).")
        if list(queries["id"][:]) != ranking.query_ids:
            raise BgeEvalError(f"subset {hf_subset}, split {hf_split}: the corpus shards ranked other queries than "
                               "the driver reads; give every node the same data at the same path.")
        corpus, self.corpus = self.corpus, None
        return ranking_dict(ranking.query_ids, corpus, ranking.index[:, :top_k], ranking.scores[:, :top_k])
