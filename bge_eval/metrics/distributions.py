"""Pure statistics of similarity distributions: split into positive / negative groups,
percentiles, and the threshold that maximises F1 on the labelled pairs (the BGE FAQ's
advice: choose a threshold from the similarity distribution on your data)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

PERCENTILES = (5, 25, 50, 75, 95)


@dataclass(frozen=True)
class Threshold:
    threshold: float
    f1: float
    precision: float
    recall: float


@dataclass(frozen=True)
class Distribution:
    """Two groups of similarity scores and what separates them."""

    positive_label: str
    negative_label: str
    positive: list[float]
    negative: list[float]
    percentiles: dict[int, float]  # over all scores
    best: Threshold | None


def best_f1_threshold(scores: list[float], labels: list[int]) -> Threshold | None:
    """Predict positive when score >= threshold; the threshold (a score seen) with the best F1."""
    if not scores or not any(labels):
        return None
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    sorted_scores = np.asarray(scores, dtype=np.float64)[order]
    sorted_labels = np.asarray(labels, dtype=np.int64)[order]
    true_positives = np.cumsum(sorted_labels)
    predicted = np.arange(1, len(scores) + 1)
    # only cut between different scores (ties go together)
    last_of_tie = np.append(sorted_scores[1:] != sorted_scores[:-1], True)
    precision = true_positives / predicted
    recall = true_positives / sorted_labels.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    f1 = np.where(last_of_tie, f1, -1.0)
    best = int(np.argmax(f1))
    return Threshold(float(sorted_scores[best]), float(f1[best]), float(precision[best]), float(recall[best]))


def distribution(entry: dict[str, Any]) -> Distribution:
    """Groups from a saved similarities entry (see similarities.py)."""
    if entry["kind"] == "ranking":
        positive, negative = entry["relevant"], entry["top_non_relevant"]
        labels = ("relevant", "top-ranked non-relevant")
    elif entry["kind"] == "binary":
        positive = [s for s, g in zip(entry["scores"], entry["gold"], strict=False) if g >= 0.5]
        negative = [s for s, g in zip(entry["scores"], entry["gold"], strict=False) if g < 0.5]
        labels = ("positive pairs", "negative pairs")
    else:  # sts: the top and bottom quarters of the gold scores
        gold = np.asarray(entry["gold"], dtype=np.float64)
        high, low = np.quantile(gold, 0.75), np.quantile(gold, 0.25)
        positive = [s for s, g in zip(entry["scores"], gold, strict=False) if g >= high]
        negative = [s for s, g in zip(entry["scores"], gold, strict=False) if g <= low and g < high]
        labels = (f"high-score pairs (gold >= {high:g})", f"low-score pairs (gold <= {low:g})")
    every = positive + negative if entry["kind"] != "binary" else entry["scores"]
    percentiles = {p: float(np.percentile(every, p)) for p in PERCENTILES} if every else {}
    best = best_f1_threshold(positive + negative, [1] * len(positive) + [0] * len(negative))
    return Distribution(labels[0], labels[1], list(positive), list(negative), percentiles, best)
