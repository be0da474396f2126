"""Metrics of scored pairs, computed row-wise over many resamples at once (numpy): the numbers
mteb reports for STS (scipy's Spearman / Pearson of cosine against gold) and pair
classification (scikit-learn's average precision of cosine against binary labels)."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

# What each metric of a result file is, computed from the saved cosine scores and gold values.
PAIR_METRICS = ("cosine_spearman", "cosine_pearson", "cosine_ap")


def pearson_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson's r of each row of x with the same row of y (2-D arrays of equal shape)."""
    x = x - x.mean(axis=1, keepdims=True)
    y = y - y.mean(axis=1, keepdims=True)
    denominator = np.sqrt((x * x).sum(axis=1) * (y * y).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (x * y).sum(axis=1) / denominator


def spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's rho per row: Pearson's r of average ranks, as scipy.stats.spearmanr."""
    return pearson_rows(rankdata(x, axis=1), rankdata(y, axis=1))


def average_precision_rows(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Average precision per row, with ties in score counted as one threshold (as scikit-learn's
    average_precision_score); a row without positives is NaN."""
    order = np.argsort(-scores, axis=1, kind="stable")
    sorted_scores = np.take_along_axis(scores, order, axis=1)
    positive = np.take_along_axis(labels, order, axis=1).astype(np.float64)
    true_positives = np.cumsum(positive, axis=1)
    n = scores.shape[1]
    rank = np.arange(1, n + 1)
    # Each position takes the precision at the end of its group of tied scores.
    group_end = np.ones_like(sorted_scores, dtype=bool)
    group_end[:, :-1] = sorted_scores[:, 1:] != sorted_scores[:, :-1]
    end_index = np.where(group_end, np.arange(n), n)
    end_index = np.minimum.accumulate(end_index[:, ::-1], axis=1)[:, ::-1]
    precision_at_end = np.take_along_axis(true_positives, end_index, axis=1) / rank[end_index]
    with np.errstate(invalid="ignore", divide="ignore"):
        return (positive * precision_at_end).sum(axis=1) / positive.sum(axis=1)


def pair_metric_rows(metric: str, scores: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """One of PAIR_METRICS per row of (resamples x pairs) scores and gold values."""
    if metric == "cosine_spearman":
        return spearman_rows(scores, gold)
    if metric == "cosine_pearson":
        return pearson_rows(scores, gold)
    if metric == "cosine_ap":
        return average_precision_rows(scores, gold > 0.5)
    raise ValueError(f"{metric} is not computed from pair scores (one of {', '.join(PAIR_METRICS)})")


def pair_metric(metric: str, scores: list[float], gold: list[float]) -> float:
    """The metric over every pair once: the number the result file holds."""
    return float(pair_metric_rows(metric, np.asarray([scores], float), np.asarray([gold], float))[0])
