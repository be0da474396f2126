"""The regression gate's test: did the metric drop by more than the tolerance? One-sided, at a
stated alpha, with an upper confidence bound on the change that agrees with it: the drop is
significant exactly when the bound lies below minus the tolerance (docs/ci-gate.md).

- drop_test: a metric that is a mean over items (queries, examples). Sign-flip test of
  H0 "mean change >= -tolerance" on the per-item changes shifted by the tolerance: every sign
  assignment when 2^n is small (exact), else seeded random ones. The bound inverts the same test
  over the same assignments.
- drop_bootstrap: a metric over all pairs at once (Spearman, AP): both sides resampled by the
  same pair indices; p is the share of bootstrap changes at or above -tolerance, the bound their
  matching upper quantile.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np

from .significance import CHUNK_VALUES, resampled_pair_changes

EXACT_MAX_ITEMS = 16  # up to 2^16 = 65,536 sign assignments: every one is enumerated


@dataclass(frozen=True)
class DropTest:
    """n_items: items compared; mean_delta: the observed change (new - baseline);
    upper_bound: the (1 - alpha) upper confidence bound on the change (inf when the data cannot
    bound it); p_value: one-sided, of "dropped by no more than the tolerance"."""

    n_items: int
    mean_delta: float
    upper_bound: float
    p_value: float
    alpha: float
    tolerance: float
    unit: str = "queries"
    method: str = "one-sided sign-flip"

    @property
    def significant(self) -> bool:
        """The drop beyond the tolerance is shown at alpha (the same as upper_bound < -tolerance)."""
        return self.p_value <= self.alpha


def drop_test(baseline: dict[str, float], new: dict[str, float], *, tolerance: float, alpha: float,
              resamples: int = 10_000, seed: int = 0, unit: str = "queries") -> DropTest:
    """The per-item changes on the items both sides have, tested against a drop of `tolerance`."""
    items = sorted(set(baseline) & set(new))
    if not items:
        raise ValueError("no item in common")
    deltas = np.array([new[i] - baseline[i] for i in items], dtype=np.float64)
    n, observed = len(deltas), float(deltas.mean())
    exact = n <= EXACT_MAX_ITEMS
    # Each assignment's crossing point: it counts against "change >= c" for every c at or below it.
    crossings = np.concatenate(list(_crossings(deltas, observed, exact, resamples, seed)))
    total = crossings.size if exact else crossings.size + 1  # a random draw counts the observed assignment too
    extra = 0 if exact else 1
    p_value = (np.count_nonzero(crossings >= -tolerance - 1e-12) + extra) / total
    # The bound: the largest c still rejected is the (k+1)-th largest crossing, k = floor(alpha * total) - extra.
    k = math.floor(alpha * total + 1e-9) - extra
    ordered = np.sort(crossings)[::-1]
    upper = float(ordered[k]) if 0 <= k < ordered.size else math.inf
    return DropTest(n, observed, upper, float(p_value), alpha, tolerance, unit,
                    "one-sided sign-flip, exact" if exact else "one-sided sign-flip")


def _crossings(deltas: np.ndarray, observed: float, exact: bool, resamples: int, seed: int):
    """For each sign assignment s (rows), the c at which mean(s * (d - c)) <= mean(d - c) stops holding:
    (mean(d) - mean(s * d)) / (1 - mean(s)), +inf for the all-plus assignment (it always holds)."""
    n = deltas.size
    if exact:
        yield _crossing_rows(_every_sign_assignment(n), deltas, observed)
        return
    rng = np.random.default_rng(seed)
    rows = max(1, CHUNK_VALUES // n)
    for start in range(0, resamples, rows):
        signs = rng.choice(np.array([-1.0, 1.0]), size=(min(rows, resamples - start), n))
        yield _crossing_rows(signs, deltas, observed)


@cache
def _every_sign_assignment(n: int) -> np.ndarray:
    """The 2^n rows of +1 / -1 (row 0 all +1), built once per n."""
    bits = (np.arange(2**n)[:, None] >> np.arange(n)) & 1
    return (1 - 2 * bits).astype(np.float64)


def _crossing_rows(signs: np.ndarray, deltas: np.ndarray, observed: float) -> np.ndarray:
    flipped, share = (signs @ deltas) / deltas.size, signs.mean(axis=1)
    out = np.full(signs.shape[0], np.inf)
    moved = share < 1 - 1e-12
    out[moved] = (observed - flipped[moved]) / (1 - share[moved])
    return out


def drop_bootstrap(metric: str, baseline_scores: list[float], new_scores: list[float], gold: list[float], *,
                   tolerance: float, alpha: float, resamples: int = 2_000, seed: int = 0) -> DropTest:
    """Both sides' pair scores resampled by the same pair indices; the change of `metric` per resample."""
    n, observed, boot = resampled_pair_changes(metric, baseline_scores, new_scores, gold, resamples, seed)
    total = boot.size + 1
    p_value = (np.count_nonzero(boot >= -tolerance - 1e-12) + 1) / total
    k = math.floor(alpha * total + 1e-9) - 1
    ordered = np.sort(boot)[::-1]
    upper = float(ordered[k]) if 0 <= k < ordered.size else math.inf
    return DropTest(n, float(observed), upper, float(p_value), alpha, tolerance, "pairs", "one-sided paired bootstrap")
