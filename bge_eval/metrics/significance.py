"""Paired tests over queries (pure numpy, seeded): is a change in a per-query metric real?"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CHUNK_VALUES = 4_000_000  # resamples x queries drawn at a time (32 MB of int64): memory stays bounded


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
    """Compare per-query values on the queries both sides have.

    The resamples are drawn in chunks from one seeded stream (all bootstrap draws, then all
    sign flips), so the numbers equal one draw of everything at once, in bounded memory."""
    queries = sorted(set(baseline) & set(new))
    if not queries:
        raise ValueError("no query in common")
    deltas = np.array([new[q] - baseline[q] for q in queries], dtype=np.float64)
    rng = np.random.default_rng(seed)
    n = len(deltas)
    rows = max(1, CHUNK_VALUES // n)
    chunks = [min(rows, resamples - start) for start in range(0, resamples, rows)]
    boot = np.concatenate([deltas[rng.integers(0, n, size=(size, n))].mean(axis=1) for size in chunks])
    tail = (1 - confidence) / 2
    low, high = np.quantile(boot, [tail, 1 - tail])
    observed = abs(deltas.mean())
    signs = np.array([-1.0, 1.0])
    permuted = np.concatenate([np.abs((rng.choice(signs, size=(size, n)) * deltas).mean(axis=1)) for size in chunks])
    # +1 in numerator and denominator: the observed assignment is one of the permutations.
    p_value = (np.count_nonzero(permuted >= observed - 1e-12) + 1) / (resamples + 1)
    return PairedTest(n, float(deltas.mean()), float(low), float(high), float(p_value))
