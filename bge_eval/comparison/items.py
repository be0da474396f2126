"""Per-item changes between two sides of one task split, from the files a run saved beside its
results (no model, no task data):

- queries (Retrieval, Reranking): the per-query metric on both sides, each relevant document's
  rank on both sides (`relevant_ranks` of the per-query file), both sides' top documents and
  scores (the predictions file); lost since the base: a relevant document in the base's top 10
  that left the top 10;
- pairs (STS, PairClassification): each side's similarity, its rank among the pairs and the gold
  rank; an item's value is its distance from the gold order (|rank - gold rank| / pairs, lower is
  better); lost since the base: a pair on the right side of the gold cut on the base and on the
  wrong side on the new model (the cut: the number of positive pairs, or of pairs above the
  gold median for STS);
- examples (Classification): each side's share of mteb's experiments that classified the example
  right; lost since the base: right in most of the base's experiments, in under half of the new's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import rankdata

from ..errors import DataError
from ..metrics.ranking import ranking
from ..results.files import load_json, read_similarities
from .sides import Side

TOP_SHOWN = 10  # rank a relevant document must keep; the top documents shown per side
UNCHANGED = 1e-9  # item changes this small count as unchanged (float noise)


@dataclass(frozen=True)
class ItemChange:
    """One item on both sides: its value (higher is better, except `lower_is_better` kinds, whose
    change is still oriented so that > 0 is an improvement), and what moved."""

    item: str
    base: float
    new: float
    change: float
    lost: bool = False
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        if self.change > UNCHANGED:
            return "improved"
        return "worse" if self.change < -UNCHANGED else "unchanged"

    def to_json(self) -> dict[str, Any]:
        return {"item": self.item, "base": self.base, "new": self.new, "change": self.change,
                "status": self.status, "lost": self.lost, **self.detail}


@dataclass(frozen=True)
class ItemSet:
    """The items both sides hold, what their value is, and what could not be shown (notes)."""

    unit: str
    value: str  # what each item's base / new value is
    changes: list[ItemChange]
    notes: list[str] = field(default_factory=list)


def query_changes(base: Side, new: Side, task: str, split: str, subset: str, metric: str) -> ItemSet:
    sides = [_per_query_entries(side, task, split, subset) for side in (base, new)]
    common = sorted(set(sides[0]) & set(sides[1]))
    notes = _only_on_one_side(sides[0], sides[1], "queries")
    tops = [_top_documents(side, task, split, subset, common, notes) for side in (base, new)]
    ranks_saved = all("relevant_ranks" in entries[q] for entries in sides for q in common)
    if common and not ranks_saved:
        notes.append("relevant documents' ranks are not in a per-query file (written by bge_eval before 0.3); "
                     "rerun the task with --overwrite to see what moved")
    changes = []
    for query in common:
        before, after = sides[0][query], sides[1][query]
        detail: dict[str, Any] = {"top": {"base": tops[0].get(query, []), "new": tops[1].get(query, [])}}
        lost = False
        if ranks_saved:
            ranks = {doc: [rank, after["relevant_ranks"].get(doc)] for doc, rank in before["relevant_ranks"].items()}
            detail["relevant"] = ranks
            detail["lost_documents"] = [doc for doc, (was, now) in ranks.items() if _in_top(was) and not _in_top(now)]
            lost = bool(detail["lost_documents"])
        value_before, value_after = float(before[metric]), float(after[metric])
        changes.append(ItemChange(query, value_before, value_after, value_after - value_before, lost, detail))
    return ItemSet("queries", metric, changes, notes)


def pair_changes(base: Side, new: Side, task: str, split: str, subset: str) -> ItemSet:
    entries = [_similarities(side, task, split, subset) for side in (base, new)]
    gold = np.asarray(entries[0]["gold"], dtype=np.float64)
    if entries[1]["gold"] != entries[0]["gold"]:
        raise DataError(f"{task} ({split}): the pairs' gold values differ between the two sides (not the same "
                        "pairs); compare results of the same task data.")
    n = gold.size
    binary = entries[0].get("kind") == "binary"
    gold_rank = rankdata(-gold)
    gold_high = gold > 0.5 if binary else gold_rank <= n / 2
    cut = int(gold_high.sum())
    placed = []
    for entry in entries:
        scores = np.asarray(entry["scores"], dtype=np.float64)
        rank = rankdata(-scores)
        placed.append((scores, rank, np.abs(rank - gold_rank) / max(n, 1), (rank <= cut) == gold_high))
    (s0, r0, d0, right0), (s1, r1, d1, right1) = placed
    changes = []
    for i in range(n):
        detail = {"similarity": [float(s0[i]), float(s1[i])], "rank": [float(r0[i]), float(r1[i])],
                  "gold": float(gold[i]), "gold_rank": float(gold_rank[i])}
        changes.append(ItemChange(str(i), float(d0[i]), float(d1[i]), float(d0[i] - d1[i]),
                                  bool(right0[i] and not right1[i]), detail))
    return ItemSet("pairs", "distance from the gold order (lower is better)", changes)


def example_changes(base: Side, new: Side, task: str, split: str, subset: str) -> ItemSet:
    sides = [_per_example_entries(side, task, split, subset) for side in (base, new)]
    common = sorted(set(sides[0]) & set(sides[1]), key=lambda key: (len(key), key))
    notes = _only_on_one_side(sides[0], sides[1], "examples")
    changes = []
    for example in common:
        before, after = float(sides[0][example]["accuracy"]), float(sides[1][example]["accuracy"])
        changes.append(ItemChange(example, before, after, after - before, before >= 0.5 > after))
    return ItemSet("examples", "share of experiments right", changes, notes)


def _in_top(rank: int | None) -> bool:
    return rank is not None and rank <= TOP_SHOWN


def _only_on_one_side(base: dict, new: dict, unit: str) -> list[str]:
    notes = []
    for where, mine, other in (("the base", base, new), ("the new model", new, base)):
        missing = len(set(mine) - set(other))
        if missing:
            notes.append(f"{missing} {unit} only in {where}'s files, left out")
    return notes


def _per_query_entries(side: Side, task: str, split: str, subset: str) -> dict[str, dict[str, Any]]:
    return _split_entry(side.layout.per_query_file(task), split, subset)


def _per_example_entries(side: Side, task: str, split: str, subset: str) -> dict[str, dict[str, Any]]:
    return _split_entry(side.layout.per_example_file(task), split, subset)


def _split_entry(path: Path, split: str, subset: str) -> dict[str, Any]:
    if not path.is_file():
        raise DataError(f"{path}: missing; rerun the task with --overwrite to write its per-item file.")
    entry = load_json(path, "rerun the task with --overwrite to write it again").get(subset, {})
    found = entry.get(split) if isinstance(entry, dict) else None
    if not isinstance(found, dict):
        raise DataError(f"{path}: nothing for split {split!r} ({subset}); rerun the task with --overwrite.")
    return found


def _similarities(side: Side, task: str, split: str, subset: str) -> dict[str, Any]:
    path = side.layout.similarities_file(task)
    entry = read_similarities(path).get(subset, {}).get(split)
    if not isinstance(entry, dict) or "scores" not in entry or "gold" not in entry:
        raise DataError(f"{path}: no pair scores for split {split!r} ({subset}); rerun the task with --overwrite.")
    return entry


def _top_documents(side: Side, task: str, split: str, subset: str, queries: list[str],
                   notes: list[str]) -> dict[str, list[list[Any]]]:
    """Each query's first TOP_SHOWN documents with their scores, from the side's predictions file."""
    path = side.layout.predictions_file(task)
    if not path.is_file():
        notes.append(f"no predictions file for {side.label} ({path}): top documents not shown")
        return {}
    try:
        ranked = json.loads(path.read_text(encoding="utf-8")).get(subset, {}).get(split, {})
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as exc:
        raise DataError(f"{path}: not a predictions file ({exc}); rerun the task with --overwrite.") from exc
    return {query: [[doc, float(ranked[query][doc])] for doc in ranking(ranked[query])[:TOP_SHOWN]]
            for query in queries if isinstance(ranked.get(query), dict)}
