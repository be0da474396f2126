"""The paired test draws its resamples in chunks: the same numbers as one draw, bounded memory."""

import numpy as np
import pytest

from bge_eval.metrics import significance


def one_draw(baseline, new, resamples, seed=0):
    """The test's numbers drawn all at once (resamples x queries in memory), for comparison."""
    queries = sorted(set(baseline) & set(new))
    deltas = np.array([new[q] - baseline[q] for q in queries])
    rng = np.random.default_rng(seed)
    boot = deltas[rng.integers(0, len(deltas), size=(resamples, len(deltas)))].mean(axis=1)
    low, high = np.quantile(boot, [0.025, 0.975])
    permuted = np.abs((rng.choice(np.array([-1.0, 1.0]), size=(resamples, len(deltas))) * deltas).mean(axis=1))
    p = (np.count_nonzero(permuted >= abs(deltas.mean()) - 1e-12) + 1) / (resamples + 1)
    return low, high, p


def test_chunked_resamples_equal_one_draw(monkeypatch):
    rng = np.random.default_rng(3)
    baseline = {f"q{i}": float(v) for i, v in enumerate(rng.random(300))}
    new = {q: v + 0.02 * rng.standard_normal() + 0.005 for q, v in baseline.items()}
    monkeypatch.setattr(significance, "CHUNK_VALUES", 300 * 7)  # chunks of 7 resamples, the last one short
    chunked = significance.paired_test(baseline, new, resamples=1_000)
    low, high, p = one_draw(baseline, new, 1_000)
    assert (chunked.ci_low, chunked.ci_high, chunked.p_value) == (pytest.approx(low, abs=1e-15),
                                                                  pytest.approx(high, abs=1e-15), p)


def test_a_clear_improvement_is_significant_and_no_change_is_not():
    baseline = {f"q{i}": 0.5 for i in range(200)}
    better = significance.paired_test(baseline, {q: 0.6 for q in baseline}, resamples=2_000)
    assert better.p_value < 0.001 and better.ci_low == pytest.approx(0.1) and better.mean_delta == pytest.approx(0.1)
    alternating = {f"q{i}": 0.5 + (0.1 if i % 2 else -0.1) for i in range(200)}
    assert significance.paired_test(baseline, alternating, resamples=2_000).p_value > 0.5
