"""Row-wise pair metrics equal scipy's and scikit-learn's (ties included); the paired bootstrap
finds a real change and not a relabelled copy."""

import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import average_precision_score

from bge_eval.metrics.pairs import average_precision_rows, pair_metric, pearson_rows, spearman_rows
from bge_eval.metrics.significance import paired_bootstrap


def test_rows_equal_scipy_and_sklearn_with_ties():
    rng = np.random.default_rng(0)
    scores = np.round(rng.random((20, 50)), 1)  # one decimal: many ties
    gold = np.round(rng.random((20, 50)) * 5, 0)
    labels = rng.random((20, 50)) > 0.6
    spearman, pearson = spearman_rows(scores, gold), pearson_rows(scores, gold)
    ap = average_precision_rows(scores, labels)
    for row in range(20):
        assert spearman[row] == pytest.approx(spearmanr(scores[row], gold[row]).statistic, abs=1e-12)
        assert pearson[row] == pytest.approx(pearsonr(scores[row], gold[row]).statistic, abs=1e-12)
        assert ap[row] == pytest.approx(average_precision_score(labels[row], scores[row]), abs=1e-12)


def test_a_resample_with_repeated_pairs_matches_sklearn():
    scores, labels = np.array([0.9, 0.9, 0.5, 0.5, 0.1]), np.array([1, 0, 1, 1, 0])
    index = np.array([[0, 0, 1, 2, 2, 3, 4, 4]])
    assert average_precision_rows(scores[index], labels[index])[0] == pytest.approx(
        average_precision_score(labels[index][0], scores[index][0]), abs=1e-12)


def test_bootstrap_sees_a_real_drop_and_not_noise():
    rng = np.random.default_rng(1)
    gold = rng.random(400)
    good = (gold + 0.2 * rng.standard_normal(400)).tolist()
    worse = (gold + 0.6 * rng.standard_normal(400)).tolist()
    drop = paired_bootstrap("cosine_spearman", good, worse, gold.tolist(), resamples=1_000)
    assert drop.p_value < 0.01 and drop.ci_high < 0 and drop.unit == "pairs"
    assert drop.mean_delta == pytest.approx(pair_metric("cosine_spearman", worse, gold.tolist())
                                            - pair_metric("cosine_spearman", good, gold.tolist()))
    same = paired_bootstrap("cosine_spearman", good, [s * 2 + 1 for s in good], gold.tolist(), resamples=500)
    assert same.mean_delta == pytest.approx(0, abs=1e-12) and same.p_value > 0.5
    labels = (gold > 0.5).astype(float).tolist()
    ap_drop = paired_bootstrap("cosine_ap", good, worse, labels, resamples=500)
    assert ap_drop.p_value < 0.05 and ap_drop.ci_high < 0
