"""Calibration: is a predicted 30% risk really 30%? Measured, and repaired inside the folds.

Measures (binary tasks), following Van Calster et al. (2019):

- **calibration slope**: ``b`` of the logistic recalibration ``logit P(y=1) = a + b logit(p)``;
  1 is ideal, below 1 the risks are too extreme (overfitting), above 1 too modest;
- **calibration intercept** (calibration-in-the-large): ``a`` with the slope fixed at 1
  (``logit(p)`` as an offset); 0 is ideal, below 0 the risks are too high on average;
- the **Brier score** and Murphy's decomposition ``reliability - resolution + uncertainty``
  over bins of predicted risk (exact when the risks take one value per bin);
- the **calibration curve**: observed share of events per decile of predicted risk, with a
  Wilson 95% interval (``scipy.stats.binomtest``).

Repair: :func:`recalibrated` wraps a pipeline in scikit-learn's ``CalibratedClassifierCV``.
By default (``ensemble=True``, scikit-learn's default) each of ``inner_splits`` copies of the
model is fitted on the other inner folds and its sigmoid or isotonic map on its own held-out
fold, and the probability is the mean of the copies' recalibrated probabilities; with
``ensemble=False`` one model is fitted on all the training patients and one map on their inner
out-of-fold scores. The ensemble is the default because a model that tunes itself on an internal
split (GraphBoostClassifier's ``boost_scale="auto"``) differs between the inner copies and the
full fit, so a map learned on the copies transfers poorly to the full model (Duke ``pcr``, 5 x 5
CV: calibration slope 0.60 with one map, 1.23 with the ensemble; ``tnbc``: 0.89 and 1.14).
Fitted inside each training fold, either never sees the test fold. :class:`Recalibration` is a
fitted map as JSON, for a model folder.

References
----------
Van Calster B., McLernon D.J., van Smeden M., Wynants L., Steyerberg E.W. "Calibration: the
Achilles heel of predictive analytics." BMC Medicine 17, 230 (2019).
Murphy A.H. "A new vector partition of the probability score." J. Appl. Meteorol. 12 (1973).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from .._base import InputError
from ._metrics import _bootstrap_indices

CALIBRATION_METHODS = ("isotonic", "sigmoid")
"""Recalibration maps of :func:`recalibrated` (scikit-learn's ``CalibratedClassifierCV``)."""

DEFAULT_INNER_SPLITS = 10
"""Inner folds of a recalibration: each member sees 90% of the training fold. Measured on Duke
(5 x 5, slope ``pcr`` / ``tnbc``): 10 folds 1.18 / 1.13, 5 folds 1.23 / 1.14, with AUROC and Brier
better on both tasks at 10 (docs/results.md, "Calibration, uncertainty and decisions")."""

# Risks of exactly 0 or 1 (a random forest's leaves) have no logit: clipped to [1e-6, 1 - 1e-6].
_EPS = 1e-6


def check_calibration_method(method):
    """The method if it is one of :data:`CALIBRATION_METHODS`, else :class:`InputError`."""
    if method not in CALIBRATION_METHODS:
        raise InputError(
            f"The calibration method must be one of {list(CALIBRATION_METHODS)}; got {method!r}."
        )
    return method


def check_inner_splits(value, name="inner_splits"):
    """``value`` if it is an integer >= 2 (folds of the inner scores), else :class:`InputError`."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 2:
        raise InputError(f"{name} must be an integer >= 2; got {value!r}.")
    return value


def recalibrated(pipe, method, *, inner_splits=DEFAULT_INNER_SPLITS, ensemble=True, random_state=0):
    """``pipe`` wrapped so that its probabilities are recalibrated inside its own fit.

    Parameters
    ----------
    pipe : sklearn estimator
        Unfitted classifier or Pipeline (cloned by ``CalibratedClassifierCV``).
    method : {"isotonic", "sigmoid"}
        The recalibration map.
    inner_splits : int, default=10
        Stratified inner folds (:data:`DEFAULT_INNER_SPLITS`).
    ensemble : bool, default=True
        ``True``: ``inner_splits`` (model, map) pairs, probabilities averaged;
        ``False``: one model on every patient and one map on the inner out-of-fold scores.
    random_state : int, default=0
        Seed of the inner folds.

    Returns
    -------
    sklearn.calibration.CalibratedClassifierCV
        After ``fit``, ``calibrated_classifiers_`` holds the fitted (model, map) pairs (see
        :func:`fitted_members`).

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> recalibrated(LogisticRegression(), "isotonic", inner_splits=3).method
    'isotonic'
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.model_selection import StratifiedKFold

    check_calibration_method(method)
    check_inner_splits(inner_splits)
    cv = StratifiedKFold(inner_splits, shuffle=True, random_state=random_state)
    return CalibratedClassifierCV(pipe, method=method, cv=cv, ensemble=bool(ensemble))


def fitted_members(calibrated):
    """The (fitted model, :class:`Recalibration`) pairs of a fitted binary
    ``CalibratedClassifierCV``, one per inner fold (one in all with ``ensemble=False``).

    Its ``predict_proba`` is the mean of ``map.predict_proba(model.decision_function(X))``.
    """
    return [
        (member.estimator, Recalibration.from_calibrator(calibrated.method, member.calibrators[0]))
        for member in calibrated.calibrated_classifiers_
    ]


@dataclass(frozen=True)
class Recalibration:
    """A fitted recalibration map of a binary model's decision function, as plain numbers.

    Attributes
    ----------
    method : {"isotonic", "sigmoid"}
    params : dict
        ``{"a": float, "b": float}`` (sigmoid: ``P = 1 / (1 + exp(a f + b))``) or
        ``{"x": list, "y": list}`` (isotonic: piecewise linear through these points, constant
        beyond them), ``f`` being the model's ``decision_function``.

    Examples
    --------
    >>> cal = Recalibration("sigmoid", {"a": -1.0, "b": 0.0})
    >>> cal.predict_proba([0.0, 2.0]).round(3)
    array([[0.5  , 0.5  ],
           [0.119, 0.881]])
    """

    method: str
    params: dict

    @classmethod
    def from_calibrator(cls, method, calibrator):
        """The map of one fitted scikit-learn calibrator (``_SigmoidCalibration`` or
        ``IsotonicRegression``) of a binary ``CalibratedClassifierCV``."""
        if method == "sigmoid":
            return cls("sigmoid", {"a": float(calibrator.a_), "b": float(calibrator.b_)})
        x, y = calibrator.X_thresholds_.tolist(), calibrator.y_thresholds_.tolist()
        return cls("isotonic", {"x": x, "y": y})

    def predict_proba(self, decision):
        """Recalibrated probabilities (n, 2) from the decision function (n,)."""
        f = np.asarray(decision, dtype=np.float64)
        if self.method == "sigmoid":
            p = expit(-(self.params["a"] * f + self.params["b"]))
        else:
            p = np.interp(f, self.params["x"], self.params["y"])
        return np.c_[1.0 - p, p]

    def to_dict(self):
        return {"method": self.method, "params": self.params}

    @classmethod
    def from_dict(cls, data):
        return cls(check_calibration_method(data["method"]), dict(data["params"]))


def _logit(p):
    return logit(np.clip(np.asarray(p, dtype=np.float64), _EPS, 1 - _EPS))


# Hand-written Newton steps, not statsmodels or LogisticRegression: the bootstrap refits the two
# recalibration models for every resample, repeat and method (tens of thousands of fits), and
# batched 2x2 Newton steps do them all at once. Tested against scikit-learn's unpenalized fit.
def _recalibration_fits(y, x, max_iter=100, tol=1e-10):
    """Intercept (slope fixed at 1) and slope of ``logit P(y=1) = a + b x``, row by row.

    ``y`` and ``x`` are of shape (n_fits, n); rows that do not converge (perfect separation)
    give NaN.
    """
    y = np.atleast_2d(np.asarray(y, dtype=np.float64))
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    a_fixed = np.zeros(x.shape[0])
    # start from the null model (IRLS's usual start): Newton from (0, 1) overshoots on very
    # overconfident risks
    a = logit(np.clip(y.mean(axis=1), _EPS, 1 - _EPS))
    b = np.zeros(x.shape[0])
    done_fixed = np.zeros(x.shape[0], dtype=bool)
    done, failed = done_fixed.copy(), done_fixed.copy()
    for _ in range(max_iter):
        mu = expit(a_fixed[:, None] + x)
        step = (y - mu).sum(axis=1) / np.maximum((mu * (1 - mu)).sum(axis=1), 1e-300)
        a_fixed = np.where(done_fixed, a_fixed, a_fixed + step)
        done_fixed = done_fixed | (np.abs(step) < tol)
        mu = expit(a[:, None] + b[:, None] * x)
        w, r = mu * (1 - mu), y - mu
        h_aa, h_ab, h_bb = w.sum(axis=1), (w * x).sum(axis=1), (w * x * x).sum(axis=1)
        g_a, g_b = r.sum(axis=1), (r * x).sum(axis=1)
        det = h_aa * h_bb - h_ab**2
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            da, db = (h_bb * g_a - h_ab * g_b) / det, (h_aa * g_b - h_ab * g_a) / det
        # perfect separation: the weights vanish, the Hessian degenerates, the steps explode
        failed = failed | ~np.isfinite(da) | ~np.isfinite(db) | (det <= 1e-12 * h_aa * h_bb)
        still = ~done & ~failed
        a, b = np.where(still, a + da, a), np.where(still, b + db, b)
        done = done | (still & (np.maximum(np.abs(da), np.abs(db)) < tol))
        if (done | failed).all() and done_fixed.all():
            break
    return np.where(done_fixed, a_fixed, np.nan), np.where(done & ~failed, b, np.nan)


def calibration_slope_intercept(y_true, proba):
    """Calibration slope and intercept (calibration-in-the-large) of binary risks.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Labels 0/1.
    proba : array-like of shape (n_samples,)
        Predicted risk of class 1 (clipped to [1e-6, 1 - 1e-6] before the logit).

    Returns
    -------
    slope : float
        ``b`` of ``logit P(y=1) = a + b logit(p)`` (ideal 1; NaN under perfect separation).
    intercept : float
        ``a`` of ``logit P(y=1) = a + logit(p)`` (ideal 0).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(0.05, 0.95, 20000)
    >>> y = (rng.uniform(size=p.size) < p).astype(int)
    >>> [round(v, 1) for v in calibration_slope_intercept(y, p)]
    [1.0, 0.0]
    """
    intercept, slope = _recalibration_fits(np.asarray(y_true), _logit(proba))
    return float(slope[0]), float(intercept[0])


def _risk_bins(p, n_bins):
    """Bin of each risk: ``n_bins`` quantile bins (fewer when risks are tied)."""
    edges = np.unique(np.quantile(p, np.linspace(0, 1, n_bins + 1)[1:-1]))
    return np.searchsorted(edges, p, side="right")


def brier_decomposition(y_true, proba, n_bins=10):
    """Brier score and Murphy's decomposition over deciles of predicted risk.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Labels 0/1.
    proba : array-like of shape (n_samples,)
        Predicted risk of class 1.
    n_bins : int, default=10
        Quantile bins of the risk.

    Returns
    -------
    dict
        ``brier``, ``reliability`` (lower is better: the squared gap between mean risk and
        observed share per bin), ``resolution`` (higher is better: how far the bins' observed
        shares spread from the overall share) and ``uncertainty`` (the prevalence's
        ``o (1 - o)``, fixed by the data). ``reliability - resolution + uncertainty`` equals
        the Brier score up to the spread of the risks within each bin.

    Examples
    --------
    >>> d = brier_decomposition([0, 0, 1, 1], [0.2, 0.2, 0.8, 0.8], n_bins=2)
    >>> round(d["brier"], 3), round(d["reliability"] - d["resolution"] + d["uncertainty"], 3)
    (0.04, 0.04)
    """
    y = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(proba, dtype=np.float64)
    bins = _risk_bins(p, n_bins)
    counts = np.bincount(bins)
    used = counts > 0
    mean_p = np.bincount(bins, weights=p)[used] / counts[used]
    observed = np.bincount(bins, weights=y)[used] / counts[used]
    base = y.mean()
    return {
        "brier": float(np.mean((p - y) ** 2)),
        "reliability": float(np.sum(counts[used] * (mean_p - observed) ** 2) / y.size),
        "resolution": float(np.sum(counts[used] * (observed - base) ** 2) / y.size),
        "uncertainty": float(base * (1 - base)),
    }


def calibration_curve_bands(y_true, proba, n_bins=10, confidence=0.95):
    """Observed share of events per quantile bin of risk, with Wilson intervals.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Labels 0/1.
    proba : array-like of shape (n_samples,)
        Predicted risk of class 1.
    n_bins : int, default=10
    confidence : float, default=0.95

    Returns
    -------
    pandas.DataFrame
        One row per bin: ``mean_predicted``, ``observed``, ``low``, ``high``, ``n``.

    Examples
    --------
    >>> curve = calibration_curve_bands([0, 0, 0, 1, 1, 1], [0.1, 0.2, 0.3, 0.7, 0.8, 0.9], 2)
    >>> curve[["mean_predicted", "observed", "n"]].round(2).to_numpy().tolist()
    [[0.2, 0.0, 3.0], [0.8, 1.0, 3.0]]
    """
    from scipy.stats import binomtest

    y = np.asarray(y_true).astype(int)
    p = np.asarray(proba, dtype=np.float64)
    bins = _risk_bins(p, n_bins)
    rows = []
    for b in np.unique(bins):
        yb, pb = y[bins == b], p[bins == b]
        ci = binomtest(int(yb.sum()), yb.size).proportion_ci(confidence, method="wilson")
        rows.append((pb.mean(), yb.mean(), ci.low, ci.high, yb.size))
    return pd.DataFrame(rows, columns=["mean_predicted", "observed", "low", "high", "n"])


CALIBRATION_COLUMNS = ("slope", "intercept", "reliability", "resolution", "uncertainty")
"""What :func:`calibration_summary` measures per method (slope and intercept with CIs)."""


def _nanmean(values, axis=None):
    """Mean of the finite values (NaN, without a warning, when there is none)."""
    values = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(values)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok, values, 0.0).sum(axis=axis) / ok.sum(axis=axis)


def _per_repeat(y, probas):
    """Slope, intercept and Brier decomposition of each repeat's pooled risks, averaged."""
    rows = []
    for p in probas:
        slope, intercept = calibration_slope_intercept(y, p)
        rows.append({"slope": slope, "intercept": intercept, **brier_decomposition(y, p)})
    return {k: float(_nanmean([r[k] for r in rows])) for k in rows[0]}


def calibration_summary(y_true, probas, n_bootstrap=1000, alpha=0.05, random_state=0):
    """Calibration of one method's out-of-fold risks, with bootstrap CIs for slope and intercept.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Labels 0/1.
    probas : list of ndarray of shape (n_samples, 2)
        One probability matrix per CV repeat (pooled out-of-fold predictions).
    n_bootstrap : int, default=1000
        Stratified resamples of the patients (the same as ``bootstrap_metrics`` draws with the
        same seed).
    alpha : float, default=0.05
        The intervals cover ``1 - alpha``.
    random_state : int, default=0

    Returns
    -------
    dict
        Means over repeats of ``slope``, ``intercept``, ``brier``, ``reliability``,
        ``resolution``, ``uncertainty``, and ``slope_low``, ``slope_high``,
        ``intercept_low``, ``intercept_high``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(0.05, 0.95, 400)
    >>> y = (rng.uniform(size=400) < p).astype(int)
    >>> s = calibration_summary(y, [np.c_[1 - p, p]], n_bootstrap=100)
    >>> bool(s["slope_low"] < 1 < s["slope_high"])
    True
    """
    y = np.asarray(y_true).astype(int)
    risks = [np.asarray(p, dtype=np.float64)[:, 1] for p in probas]
    out = _per_repeat(y, risks)
    rng = np.random.default_rng(random_state)
    idx = np.stack(list(_bootstrap_indices(y, n_bootstrap, rng)))
    fits = [_recalibration_fits(y[idx], _logit(p)[idx]) for p in risks]
    for k, name in enumerate(("intercept", "slope")):
        boot = _nanmean(np.stack([f[k] for f in fits]), axis=0) if n_bootstrap else []
        boot = np.asarray(boot)[np.isfinite(boot)]
        lo, hi = np.quantile(boot, [alpha / 2, 1 - alpha / 2]) if boot.size else (np.nan,) * 2
        out[f"{name}_low"], out[f"{name}_high"] = float(lo), float(hi)
    return out
