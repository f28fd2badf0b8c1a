import numpy as np
import pytest
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    f1_score,
    matthews_corrcoef,
    roc_auc_score,
)

from experiments import bootstrap_metrics, compute_metrics, delong_test, paired_bootstrap


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_binary_metrics_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 80)
    p = np.round(np.clip(0.3 * y + rng.uniform(size=80) * 0.7, 0, 1), 2)  # ties included
    m = compute_metrics(y, np.c_[1 - p, p])
    assert m["auroc"] == pytest.approx(roc_auc_score(y, p))
    assert m["auprc"] == pytest.approx(average_precision_score(y, p))
    assert m["f1"] == pytest.approx(f1_score(y, p >= 0.5))
    assert m["mcc"] == pytest.approx(matthews_corrcoef(y, p >= 0.5))
    assert m["brier"] == pytest.approx(brier_score_loss(y, p))


def test_multiclass_metrics():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 20)
    proba = rng.dirichlet([1, 1, 1], size=60)
    proba[np.arange(60), y] += 1.0
    proba /= proba.sum(axis=1, keepdims=True)
    m = compute_metrics(y, proba)
    assert m["auroc"] == pytest.approx(roc_auc_score(y, proba, multi_class="ovr"))
    assert 0 < m["brier"] < 2


def test_bootstrap_ci_contains_estimate_and_narrows_with_n():
    rng = np.random.default_rng(0)

    def sample(n):
        y = np.repeat([0, 1], n // 2)
        p = np.clip(0.5 + 0.25 * (y - 0.5) + 0.25 * rng.normal(size=n), 0, 1)
        return y, [np.c_[1 - p, p]]

    y, pr = sample(60)
    est, lo, hi = bootstrap_metrics(y, pr, n_bootstrap=300)["auroc"]
    assert lo <= est <= hi
    y2, pr2 = sample(600)
    _, lo2, hi2 = bootstrap_metrics(y2, pr2, n_bootstrap=300)["auroc"]
    assert hi2 - lo2 < hi - lo


def test_paired_bootstrap_detects_a_real_difference_and_not_a_null_one():
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1], 100)
    good = np.clip(0.5 + 0.4 * (y - 0.5) + 0.2 * rng.normal(size=200), 0, 1)
    bad = rng.uniform(size=200)
    res = paired_bootstrap(y, [np.c_[1 - good, good]], [np.c_[1 - bad, bad]], n_bootstrap=300)
    assert res["delta"] > 0.2 and res["low"] > 0 and res["p_value"] < 0.01
    same = paired_bootstrap(y, [np.c_[1 - good, good]], [np.c_[1 - good, good]], n_bootstrap=50)
    assert same["delta"] == 0 and same["p_value"] == 1.0


def test_paired_bootstrap_rejects_unknown_metric():
    with pytest.raises(ValueError, match=r"metric must be one of .*'auroc'.*got 'acc'"):
        paired_bootstrap([0, 1], [np.eye(2)], [np.eye(2)], metric="acc")


def test_delong_matches_known_values():
    rng = np.random.default_rng(3)
    y = np.repeat([0, 1], 50)
    a = y + rng.normal(size=100)
    b = rng.normal(size=100)
    res = delong_test(y, a, b)
    assert res["auroc_a"] == pytest.approx(roc_auc_score(y, a))
    assert res["auroc_b"] == pytest.approx(roc_auc_score(y, b))
    assert res["p_value"] < 0.05
    assert delong_test(y, a, a)["p_value"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least 2 patients per class"):
        delong_test([0, 1, 1], [0.1, 0.2, 0.3], [0.3, 0.2, 0.1])
