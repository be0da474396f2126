"""Task types as mteb names them, grouped by what the harness does with them."""

RANKING_TYPES = frozenset({"Retrieval", "Reranking"})  # ranked lists: per-query metrics, second stage
PAIR_TYPES = frozenset({"STS", "PairClassification"})  # scored pairs: similarity distributions
