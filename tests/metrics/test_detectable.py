"""The smallest detectable change, checked by simulation: a change of exactly that size, planted in
per-item changes shaped like a real task's, is found by the gate's own one-sided test (tolerance 0)
about 80% of the time; a change of half that size far less often."""

from __future__ import annotations

import numpy as np
import pytest

from bge_eval.metrics.detectable import detectable_mean_change, detectable_pair_change, z_sum
from bge_eval.metrics.drop_test import drop_test

SIMULATIONS = 300


def found_share(noise: np.ndarray, shift: float, seed: int) -> float:
    """How often drop_test finds a drop when each simulated task's changes are `noise` resampled
    (centred) and moved down by `shift`."""
    rng = np.random.default_rng(seed)
    centred = noise - noise.mean()
    found = 0
    for _ in range(SIMULATIONS):
        changes = rng.choice(centred, size=centred.size) - shift
        test = drop_test({str(i): 0.0 for i in range(changes.size)},
                         {str(i): float(v) for i, v in enumerate(changes)}, tolerance=0.0, alpha=0.05,
                         resamples=1_000, seed=int(rng.integers(1 << 30)))
        found += test.significant
    return found / SIMULATIONS


def ndcg_like_changes(n: int, seed: int) -> np.ndarray:
    """Per-query nDCG@10 changes of two close checkpoints: most queries unchanged, the rest spread."""
    rng = np.random.default_rng(seed)
    moved = rng.random(n) < 0.4
    return np.where(moved, rng.normal(0, 0.25, n).clip(-1, 1), 0.0)


def test_a_change_of_the_detectable_size_is_found_about_80_percent_of_the_time():
    noise = ndcg_like_changes(300, seed=1)
    size = detectable_mean_change(noise - noise.mean())
    assert size == pytest.approx(z_sum() * noise.std(ddof=1) / np.sqrt(300))
    share = found_share(noise, size, seed=2)
    assert 0.72 <= share <= 0.88, share  # 300 simulations: 80% +- about 2.3 standard errors
    assert found_share(noise, size / 2, seed=3) < 0.5


def test_pair_metrics_use_the_bootstrap_spread_of_their_change():
    rng = np.random.default_rng(0)
    gold = rng.uniform(0, 5, 400)
    base = gold + rng.normal(0, 1.5, 400)
    new = base + rng.normal(0, 0.5, 400)
    paired = detectable_pair_change("cosine_spearman", base.tolist(), new.tolist(), gold.tolist())
    alone = detectable_pair_change("cosine_spearman", base.tolist(), None, gold.tolist())
    assert 0 < paired < alone < 0.2  # close sides vary together: their change spreads less than one side


def test_too_few_items_give_no_figure():
    assert np.isnan(detectable_mean_change([0.5]))
