"""Paired tests over queries (pure numpy, seeded): is a change in a per-query metric real?"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PairedTest:
    n_queries: int
    mean_delta: float
    ci_low: float  # bootstrap confidence interval on the mean delta
    ci_high: float
    p_value: float  # two-sided paired permutation (sign-flip) test


def paired_test(
    baseline: dict[str, float], new: dict[str, float], *, resamples: int = 10_000,
    confidence: float = 0.95, seed: int = 0,
) -> PairedTest:
    """Compare per-query values on the queries both sides have."""
    queries = sorted(set(baseline) & set(new))
    if not queries:
        raise ValueError("no query in common")
    deltas = np.array([new[q] - baseline[q] for q in queries], dtype=np.float64)
    rng = np.random.default_rng(seed)
    n = len(deltas)
    boot = deltas[rng.integers(0, n, size=(resamples, n))].mean(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(boot, [tail, 1 - tail])
    observed = abs(deltas.mean())
    signs = rng.choice(np.array([-1.0, 1.0]), size=(resamples, n))
    permuted = np.abs((signs * deltas).mean(axis=1))
    # +1 in numerator and denominator: the observed assignment is one of the permutations.
    p_value = (np.count_nonzero(permuted >= observed - 1e-12) + 1) / (resamples + 1)
    return PairedTest(n, float(deltas.mean()), float(low), float(high), float(p_value))
