"""The one table of task kinds: for each task type (as mteb names it), how its local data is laid out
and loaded, what a task card of it builds, which metric the gate judges, which metrics the report
details, and what its per-item file holds. Adding a type starts here (docs/architecture.md)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TaskKind:
    """What the harness does with one task type.

    loader: the local data layout and its reader in tasks/local_data.py: "beir" (corpus.jsonl,
        queries.jsonl, qrels/<split>.tsv), "listed" (one query with its positive and negative
        passages a row), "jsonl" (one item a row, `fields`).
    fields: the fields a JSON Lines row must have ("jsonl" and "listed").
    card_class: the name in bge_eval._mteb of the mteb task class a task card of this type
        builds; None: no cards of this type.
    card_main_score: a card's main score when it names none.
    gate_metrics: the metric the gate judges, the first one a result holds (else the main score).
    report_metrics: the metrics the report's per-task detail shows.
    items: what the per-item file beside a result holds (run/extras.py, results/per_item.py):
        "queries" (ranked lists, per-query metrics), "pairs" (scored pairs, similarities),
        "examples" (per-example predictions), None (no per-item file).
    train_split: the task fits on a train split, which is loaded beside the evaluated ones.
    card_metrics: the metrics mteb writes for every task of this type, which a card may name as
        its main score (tests/tasks/test_cards.py checks each is in a real result)."""

    type: str
    loader: str
    fields: tuple[str, ...]
    card_class: str | None
    card_main_score: str | None
    gate_metrics: tuple[str, ...]
    report_metrics: tuple[str, ...]
    items: str | None
    train_split: bool = False
    card_metrics: tuple[str, ...] = ()


def _at(names: tuple[str, ...], depths: tuple[int, ...] = (1, 3, 5, 10, 20, 100, 1000)) -> tuple[str, ...]:
    return tuple(f"{name}_at_{k}" for name in names for k in depths)


_RANKING_METRICS = _at(("ndcg", "map", "mrr", "recall", "precision", "hit_rate"))
_STS_METRICS = tuple(f"{s}_{c}" for s in ("cosine", "manhattan", "euclidean") for c in ("pearson", "spearman")) + (
    "pearson", "spearman")
_PAIR_METRICS = tuple(f"{s}_{m}" for s in ("cosine", "dot", "euclidean", "manhattan", "max", "similarity")
                      for m in ("accuracy", "ap", "f1", "precision", "recall"))
_CLASSIFICATION_METRICS = ("accuracy", "f1", "f1_weighted", "precision", "precision_weighted", "recall",
                           "recall_weighted")  # ap and ap_weighted only with two labels


TASK_KINDS: dict[str, TaskKind] = {kind.type: kind for kind in (
    TaskKind("Retrieval", "beir", (), "AbsTaskRetrieval", "ndcg_at_10", ("ndcg_at_10",),
             ("ndcg_at_10", "map_at_10", "mrr_at_10", "recall_at_10"), "queries",
             card_metrics=_RANKING_METRICS),
    TaskKind("Reranking", "listed", ("query", "positive", "negative"), "AbsTaskRetrieval", "map_at_1000",
             ("cmteb_map", "map_at_1000"), ("cmteb_map", "cmteb_mrr_at_10", "map_at_1000"), "queries",
             card_metrics=("cmteb_map", "cmteb_mrr_at_10", *_RANKING_METRICS)),
    TaskKind("STS", "jsonl", ("sentence1", "sentence2", "score"), "AbsTaskSTS", "cosine_spearman",
             ("cosine_spearman",), ("cosine_spearman", "cosine_pearson"), "pairs", card_metrics=_STS_METRICS),
    TaskKind("PairClassification", "jsonl", ("sentence1", "sentence2", "label"), "AbsTaskPairClassification",
             "max_ap", ("cosine_ap",), ("max_ap", "max_accuracy", "max_f1"), "pairs", card_metrics=_PAIR_METRICS),
    TaskKind("Classification", "jsonl", ("text", "label"), "AbsTaskClassification", "accuracy", ("accuracy",),
             ("accuracy", "f1"), "examples", train_split=True, card_metrics=_CLASSIFICATION_METRICS),
    TaskKind("Clustering", "jsonl", ("sentences", "labels"), "AbsTaskClusteringLegacy", "v_measure",
             ("v_measure",), ("v_measure",), None, card_metrics=("v_measure",)),
    TaskKind("Summarization", "jsonl", ("text", "human_summaries", "machine_summaries", "relevance"), None, None,
             (), ("cosine_spearman",), None),
)}

RANKING_TYPES = frozenset(t for t, kind in TASK_KINDS.items() if kind.items == "queries")  # second stage too
PAIR_TYPES = frozenset(t for t, kind in TASK_KINDS.items() if kind.items == "pairs")  # similarity distributions
EXAMPLE_TYPES = frozenset(t for t, kind in TASK_KINDS.items() if kind.items == "examples")  # per-example accuracy
CARD_TYPES = tuple(t for t, kind in TASK_KINDS.items() if kind.card_class is not None)
GATE_METRICS: dict[str, tuple[str, ...]] = {t: kind.gate_metrics for t, kind in TASK_KINDS.items()
                                            if kind.gate_metrics}


def task_kind(task_type: str) -> TaskKind | None:
    """The kind of a type the harness knows; None for one it does not (mteb scores it; no extras)."""
    return TASK_KINDS.get(task_type)
