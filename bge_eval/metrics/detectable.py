"""The smallest change a task can detect: the mean change that the gate's one-sided paired test
(alpha, GATE_ALPHA by default) finds with the given power, by the normal approximation
(z_{1-alpha} + z_{power}) x the standard error of the change (docs/compare.md; checked by
simulation in tests/metrics/test_detectable.py).

- from two runs: the standard error of the observed per-item changes (queries, examples), or the
  bootstrap spread of the change of a metric over all pairs (Spearman, AP);
- from one run: the per-item spread stands in for the spread of the changes, which assumes a
  correlation of 0.5 between two checkpoints' per-item values (close checkpoints correlate more,
  so this overstates what the pair of them could detect)."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

from ..config import GATE_ALPHA
from .pairs import pair_metric_rows
from .significance import CHUNK_VALUES, resampled_pair_changes

POWER = 0.8
RESAMPLES = 2_000


def z_sum(alpha: float = GATE_ALPHA, power: float = POWER) -> float:
    normal = NormalDist()
    return normal.inv_cdf(1 - alpha) + normal.inv_cdf(power)


def detectable_mean_change(values: list[float] | np.ndarray, alpha: float = GATE_ALPHA,
                           power: float = POWER) -> float:
    """From per-item changes (or one run's per-item values): NaN with fewer than two items."""
    array = np.asarray(values, dtype=np.float64)
    if array.size < 2:
        return math.nan
    return z_sum(alpha, power) * float(array.std(ddof=1)) / math.sqrt(array.size)


def detectable_pair_change(metric: str, base_scores: list[float], new_scores: list[float] | None,
                           gold: list[float], alpha: float = GATE_ALPHA, power: float = POWER,
                           seed: int = 0) -> float:
    """A metric over all pairs: the bootstrap spread of its change (both sides resampled by the same
    pairs), or with new_scores None, of the one run's metric."""
    if new_scores is not None:
        _, _, changes = resampled_pair_changes(metric, base_scores, new_scores, gold, RESAMPLES, seed)
        spread = float(changes.std(ddof=1)) if changes.size > 1 else math.nan
    else:
        base, gold_values = np.asarray(base_scores, dtype=np.float64), np.asarray(gold, dtype=np.float64)
        rng, rows, parts = np.random.default_rng(seed), max(1, CHUNK_VALUES // max(1, base.size)), []
        for start in range(0, RESAMPLES, rows):
            index = rng.integers(0, base.size, size=(min(rows, RESAMPLES - start), base.size))
            parts.append(pair_metric_rows(metric, base[index], gold_values[index]))
        resampled = np.concatenate(parts)
        resampled = resampled[np.isfinite(resampled)]
        spread = float(resampled.std(ddof=1)) if resampled.size > 1 else math.nan
    return z_sum(alpha, power) * spread
