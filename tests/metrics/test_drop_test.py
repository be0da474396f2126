"""The gate's one-sided test of a drop beyond the tolerance: exact where small, its bound agreeing
with its p-value in every case (degenerate ones included), its false-positive rate about alpha."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bge_eval.metrics.drop_test import drop_bootstrap, drop_test

ALPHA, TOL = 0.05, 0.005


def sides(deltas) -> tuple[dict[str, float], dict[str, float]]:
    base = {f"q{i}": 0.5 for i in range(len(deltas))}
    return base, {q: 0.5 + d for q, d in zip(base, deltas, strict=True)}


def test_every_delta_equal_is_decided_by_how_many_there_are():
    """Four equal drops: the smallest exact p is 1/16 > 0.05, so nothing is shown and the bound is
    open; five: 1/32, shown, and the bound is the drop itself."""
    four = drop_test(*sides([-0.1] * 4), tolerance=TOL, alpha=ALPHA)
    assert four.p_value == pytest.approx(1 / 16) and not four.significant and four.upper_bound == math.inf
    five = drop_test(*sides([-0.1] * 5), tolerance=TOL, alpha=ALPHA)
    assert five.p_value == pytest.approx(1 / 32) and five.significant and five.upper_bound == pytest.approx(-0.1)
    assert five.method.endswith("exact")


def test_no_change_is_never_a_drop():
    test = drop_test(*sides([0.0] * 40), tolerance=TOL, alpha=ALPHA)
    assert test.p_value == pytest.approx(1.0) and not test.significant and test.upper_bound >= -TOL


@pytest.mark.parametrize("n", [6, 12, 40, 300])
def test_the_bound_agrees_with_the_p_value(n):
    rng = np.random.default_rng(n)
    for trial in range(40):
        deltas = rng.normal(-0.02 * rng.random(), 0.03, size=n).round(3)  # rounded: ties, as real metrics have
        for tolerance in (0.0, 0.005, 0.02):
            test = drop_test(*sides(deltas.tolist()), tolerance=tolerance, alpha=ALPHA, resamples=2_000, seed=trial)
            assert test.significant == (test.upper_bound < -tolerance), (n, trial, tolerance, test)


def test_the_pair_bootstrap_bound_agrees_with_its_p_value():
    rng = np.random.default_rng(7)
    gold = rng.random(120)
    base = gold + rng.normal(0, 0.2, 120)
    for shift in (0.0, 0.3, 0.8):
        new = base + rng.normal(0, shift, 120)
        test = drop_bootstrap("cosine_spearman", base.tolist(), new.tolist(), gold.tolist(), tolerance=TOL,
                              alpha=ALPHA, resamples=500)
        assert test.significant == (test.upper_bound < -TOL) and test.unit == "pairs"


@pytest.mark.parametrize("n", [10, 60])
def test_the_false_positive_rate_at_the_tolerance_is_about_alpha(n):
    """Per-item changes symmetric about -tolerance (the null's edge): a drop is shown in about 5%
    of runs, not more (400 runs: 5% has a standard error of 1.1%)."""
    rng = np.random.default_rng(100 + n)
    shown = sum(drop_test(*sides((-TOL + rng.laplace(0, 0.05, size=n)).tolist()), tolerance=TOL, alpha=ALPHA,
                          resamples=1_000, seed=run).significant for run in range(400))
    assert shown / 400 <= ALPHA + 0.03
