"""Paired tests (numpy, seeded): is a change in a metric real?

- paired_test: a metric that is a mean over items (queries, examples): bootstrap CI and a
  sign-flip permutation test on the per-item deltas;
- paired_bootstrap: a metric over all pairs at once (Spearman, AP): both models' scores
  resampled by the same pair indices, CI of the delta and a bootstrap test of "no change"."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .pairs import pair_metric, pair_metric_rows

CHUNK_VALUES = 4_000_000  # resamples x queries drawn at a time (32 MB of int64): memory stays bounded


@dataclass(frozen=True)
class PairedTest:
    n_items: int
    mean_delta: float
    ci_low: float  # bootstrap confidence interval on the delta
    ci_high: float
    p_value: float  # two-sided
    unit: str = "queries"  # what the items are: queries, examples, pairs
    method: str = "sign-flip permutation"


def paired_test(
    baseline: dict[str, float], new: dict[str, float], *, resamples: int = 10_000,
    confidence: float = 0.95, seed: int = 0, unit: str = "queries",
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
    return PairedTest(n, float(deltas.mean()), float(low), float(high), float(p_value), unit)


def paired_bootstrap(
    metric: str, baseline_scores: list[float], new_scores: list[float], gold: list[float], *,
    resamples: int = 2_000, confidence: float = 0.95, seed: int = 0,
) -> PairedTest:
    """Both sides' pair scores (the same pairs, in the same order, against the same gold)
    resampled together; the p-value is the share of centred bootstrap deltas at least as far
    from zero as the observed one (the null of no change)."""
    n, observed, boot = resampled_pair_changes(metric, baseline_scores, new_scores, gold, resamples, seed)
    tail = (1 - confidence) / 2
    low, high = np.quantile(boot, [tail, 1 - tail])
    p_value = (np.count_nonzero(np.abs(boot - observed) >= abs(observed) - 1e-12) + 1) / (boot.size + 1)
    return PairedTest(n, float(observed), float(low), float(high), float(p_value), "pairs", "paired bootstrap")


def resampled_pair_changes(metric: str, baseline_scores: list[float], new_scores: list[float], gold: list[float],
                           resamples: int, seed: int) -> tuple[int, float, np.ndarray]:
    """(pairs, observed change of `metric`, its change in each bootstrap resample): both sides resampled
    by the same pair indices, in chunks of bounded memory; resamples with no metric left out."""
    base, new, gold_values = (np.asarray(v, dtype=np.float64) for v in (baseline_scores, new_scores, gold))
    if not base.shape == new.shape == gold_values.shape or base.size == 0:
        raise ValueError("both sides need scores for the same pairs")
    n = base.size
    observed = pair_metric(metric, new.tolist(), gold) - pair_metric(metric, base.tolist(), gold)
    rng = np.random.default_rng(seed)
    rows = max(1, CHUNK_VALUES // n)
    deltas = []
    for start in range(0, resamples, rows):
        index = rng.integers(0, n, size=(min(rows, resamples - start), n))
        deltas.append(pair_metric_rows(metric, new[index], gold_values[index])
                      - pair_metric_rows(metric, base[index], gold_values[index]))
    boot = np.concatenate(deltas)
    return n, float(observed), boot[np.isfinite(boot)]  # a resample with one gold value (or no positive) has none
