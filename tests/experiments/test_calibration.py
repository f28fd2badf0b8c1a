import json

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize_scalar
from scipy.special import expit, logit
from sklearn.calibration import CalibratedClassifierCV, calibration_curve
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss
from sklearn.model_selection import StratifiedKFold

from experiments import InputError
from experiments.clinical._calibration import (
    Recalibration,
    _recalibration_fits,
    brier_decomposition,
    calibration_curve_bands,
    calibration_slope_intercept,
    calibration_summary,
    check_calibration_method,
    fitted_members,
    recalibrated,
)


def _risks(n, seed, distortion=1.0, shift=0.0):
    """True risks, labels drawn from them, and risks distorted on the logit scale."""
    rng = np.random.default_rng(seed)
    true = expit(rng.normal(-1.0, 1.2, n))
    y = (rng.uniform(size=n) < true).astype(int)
    return y, expit(distortion * logit(true) + shift)


def test_slope_matches_unpenalized_logistic_regression_and_intercept_the_offset_fit():
    y, p = _risks(600, 0, distortion=1.8, shift=0.3)
    slope, intercept = calibration_slope_intercept(y, p)
    x = logit(p)
    ref = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(x[:, None], y)
    assert slope == pytest.approx(ref.coef_[0, 0], rel=1e-6)

    def nll(a):
        q = expit(a + x)
        return -np.sum(y * np.log(q) + (1 - y) * np.log(1 - q))

    assert intercept == pytest.approx(minimize_scalar(nll).x, abs=1e-6)


@pytest.mark.parametrize(("distortion", "expected"), [(1.0, 1.0), (2.0, 0.5), (0.5, 2.0)])
def test_slope_reads_over_and_under_confidence(distortion, expected):
    y, p = _risks(40_000, 1, distortion=distortion)
    slope, intercept = calibration_slope_intercept(y, p)
    assert slope == pytest.approx(expected, rel=0.06)
    if distortion == 1.0:
        assert abs(intercept) < 0.03


def test_intercept_reads_risks_too_high_on_average():
    y, p = _risks(40_000, 2, shift=0.5)  # every risk inflated on the logit scale
    _, intercept = calibration_slope_intercept(y, p)
    assert intercept == pytest.approx(-0.5, abs=0.05)


def test_batched_fits_equal_one_by_one_and_separation_gives_nan():
    y, p = _risks(300, 3, distortion=1.3)
    rng = np.random.default_rng(0)
    idx = rng.integers(0, 300, size=(4, 300))
    a, b = _recalibration_fits(y[idx], logit(p)[idx])
    for k in range(4):
        slope, intercept = calibration_slope_intercept(y[idx[k]], p[idx[k]])
        assert (b[k], a[k]) == pytest.approx((slope, intercept), rel=1e-9)
    separated = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    slope, _ = calibration_slope_intercept([0, 0, 0, 1, 1, 1], separated)
    assert np.isnan(slope)


def test_brier_decomposition_is_exact_when_risks_take_one_value_per_bin():
    rng = np.random.default_rng(4)
    p = rng.choice([0.1, 0.3, 0.6, 0.9], size=500)
    y = (rng.uniform(size=500) < p).astype(int)
    d = brier_decomposition(y, p, n_bins=10)
    assert d["brier"] == pytest.approx(brier_score_loss(y, p))
    assert d["reliability"] - d["resolution"] + d["uncertainty"] == pytest.approx(d["brier"])
    assert d["uncertainty"] == pytest.approx(y.mean() * (1 - y.mean()))
    # continuous risks: the identity holds up to the within-bin spread
    y2, p2 = _risks(2000, 5, distortion=1.5)
    d2 = brier_decomposition(y2, p2)
    assert d2["reliability"] - d2["resolution"] + d2["uncertainty"] == pytest.approx(
        d2["brier"], abs=0.01
    )


def test_calibration_bands_match_sklearn_bins_and_hold_the_observed_share():
    y, p = _risks(1000, 6, distortion=1.4)
    curve = calibration_curve_bands(y, p, n_bins=10)
    observed, mean_pred = calibration_curve(y, p, n_bins=10, strategy="quantile")
    np.testing.assert_allclose(curve.observed, observed, atol=1e-12)
    np.testing.assert_allclose(curve.mean_predicted, mean_pred, atol=1e-12)
    assert (curve.low <= curve.observed).all() and (curve.observed <= curve.high).all()
    assert curve.n.sum() == 1000 and ((curve.high - curve.low) < 0.25).all()


def test_calibration_summary_ci_holds_the_estimate_and_one_for_calibrated_risks():
    y, p = _risks(800, 7)
    s = calibration_summary(y, [np.c_[1 - p, p]] * 2, n_bootstrap=200, random_state=0)
    assert s["slope_low"] <= s["slope"] <= s["slope_high"]
    assert s["intercept_low"] <= s["intercept"] <= s["intercept_high"]
    assert s["slope_low"] < 1 < s["slope_high"] and s["intercept_low"] < 0 < s["intercept_high"]
    y2, p2 = _risks(800, 7, distortion=2.5)
    s2 = calibration_summary(y2, [np.c_[1 - p2, p2]], n_bootstrap=200)
    assert s2["slope_high"] < 0.6  # overconfident risks: the CI excludes 1


def test_unknown_calibration_method_and_bad_inner_splits_are_named():
    with pytest.raises(InputError, match=r"calibration method must be one of .*got 'platt'"):
        check_calibration_method("platt")
    with pytest.raises(InputError, match=r"calibration method must be one of .*got 'platt'"):
        recalibrated(LogisticRegression(), "platt")
    with pytest.raises(InputError, match=r"inner_splits must be an integer >= 2; got 1"):
        recalibrated(LogisticRegression(), "sigmoid", inner_splits=1)
    with pytest.raises(InputError, match=r"calibration method must be one of"):
        Recalibration.from_dict({"method": "beta", "params": {}})


@pytest.mark.parametrize("method", ["sigmoid", "isotonic"])
@pytest.mark.parametrize("ensemble", [True, False])
def test_recalibration_as_numbers_predicts_what_sklearn_does(method, ensemble):
    rng = np.random.default_rng(8)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] + rng.normal(size=200) > 0.5).astype(int)
    cc = recalibrated(LogisticRegression(C=100.0), method, inner_splits=4, ensemble=ensemble)
    cc.fit(X, y)
    members = fitted_members(cc)
    assert cc.ensemble is ensemble and len(members) == (4 if ensemble else 1)
    X_new = rng.normal(size=(50, 3)) * 2
    mine = np.mean([cal.predict_proba(m.decision_function(X_new)) for m, cal in members], axis=0)
    np.testing.assert_allclose(mine, cc.predict_proba(X_new), atol=1e-12)
    model, cal = members[0]
    decision = model.decision_function(X_new)
    again = Recalibration.from_dict(json.loads(json.dumps(cal.to_dict())))
    np.testing.assert_array_equal(again.predict_proba(decision), cal.predict_proba(decision))


def test_recalibration_is_fitted_on_inner_out_of_fold_scores():
    """The map comes from inner folds: the same as CalibratedClassifierCV's own split."""
    rng = np.random.default_rng(9)
    X = rng.normal(size=(150, 2))
    y = (X[:, 0] + rng.normal(size=150) > 0).astype(int)
    mine = recalibrated(LogisticRegression(), "sigmoid", inner_splits=3, random_state=5).fit(X, y)
    cv = StratifiedKFold(3, shuffle=True, random_state=5)
    ref = CalibratedClassifierCV(LogisticRegression(), cv=cv).fit(X, y)
    np.testing.assert_allclose(mine.predict_proba(X), ref.predict_proba(X))
    assert isinstance(pd.DataFrame(mine.predict_proba(X)), pd.DataFrame)
