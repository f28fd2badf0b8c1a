"""The starting point of the boosted score: a regularized linear model, the class prior, or any
probabilistic classifier.

The boosted graph model is fitted separately and added to this score on the log-odds scale; on
Duke that sum was the only design at or above logistic regression on both tasks (see the design
notes in docs/results.md).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from sklearn.base import clone
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import has_fit_parameter

from ._samme import weighted_log_loss
from ._validation import check_class_counts

#: Inverse regularization strengths searched by ``init="logistic"``.
LOGISTIC_CS = np.logspace(-4, 1, 11)
#: How ``init="logistic"`` scores each C in its inner CV (the ``init_scoring`` parameter).
INIT_SCORINGS = ("roc_auc", "neg_log_loss")
_EPS = 1e-12
_INNER_SPLITS = 3


def _center(log_proba):
    return log_proba - log_proba.mean(axis=1, keepdims=True)


class _ColumnSubset:
    """The columns of ``X`` an init model reads: all, or ``columns_`` (set by the estimator after
    ``fit`` on ``X[:, columns_]``, where ``block_guard=True`` dropped a block)."""

    columns_ = None

    def _columns(self, X):
        return X if self.columns_ is None else X[:, self.columns_]


class LinearInit(_ColumnSubset):
    """Standardized L2 logistic regression, C chosen by inner 3-fold CV.

    ``scoring`` is how each C is scored: ``"roc_auc"`` (one-vs-rest for more than two classes)
    or ``"neg_log_loss"``. AUROC ignores the scale of the scores, so with ``"roc_auc"`` the
    direction of the chosen model is then recalibrated on its out-of-fold scores by weighted
    log-loss: its coefficients at unit norm times one factor ``slope_``, and new intercepts
    (Platt scaling; temperature scaling with class offsets for more than two classes). The
    init score is then on a calibrated scale next to the boosted one, whatever C won. Log-loss
    picks a calibrated scale itself (``slope_`` is 1, the coefficients are the fitted ones).

    Predictions are computed from the stored arrays, so a saved and reloaded model scores
    exactly as the fitted one.
    """

    kind = "logistic"

    def __init__(self, scoring="roc_auc"):
        self.scoring = scoring

    def fit(self, X, y_codes, n_classes, sample_weight, random_state, owner):
        check_class_counts(
            np.bincount(y_codes, minlength=n_classes),
            np.arange(n_classes),
            _INNER_SPLITS,
            "the inner 3-fold cross-validation of init='logistic'",
            owner,
        )
        scaler = StandardScaler().fit(X, sample_weight=sample_weight)
        self._cv = StratifiedKFold(n_splits=_INNER_SPLITS, shuffle=True, random_state=random_state)
        scoring = self.scoring
        if scoring == "roc_auc" and n_classes > 2:
            scoring = "roc_auc_ovr"
        model = LogisticRegressionCV(
            Cs=LOGISTIC_CS,
            cv=self._cv,
            scoring=scoring,
            l1_ratios=(0.0,),
            use_legacy_attributes=False,
            max_iter=5000,
            tol=1e-4,
        )
        model.fit(scaler.transform(X), y_codes, sample_weight=sample_weight)
        self.estimator_ = model
        self.C_ = float(np.ravel(model.C_)[0])
        self.mean_ = scaler.mean_.astype(np.float64)
        self.scale_ = scaler.scale_.astype(np.float64)
        self.coef_ = model.coef_.astype(np.float64)
        self.intercept_ = model.intercept_.astype(np.float64)
        self.n_classes_ = n_classes
        self.slope_ = 1.0
        if self.scoring == "roc_auc":
            self._calibrate(X, y_codes, sample_weight)
        return self

    def _calibrate(self, X, y_codes, sample_weight):
        """Platt scaling of the chosen direction on its out-of-fold scores (slope, offsets).

        Under a strong penalty the coefficients grow with the number of patients, so each
        model's coefficients are taken at unit norm: the slope fitted on the inner folds'
        directions then applies to the direction of the model fitted on all patients.
        """
        linear = self._out_of_fold(X, y_codes, intercepts=False)
        self.slope_, offsets = _recalibrate(linear, y_codes, sample_weight)
        self.coef_ = self.slope_ * _unit(self.coef_)
        self.intercept_ = offsets[1:] - offsets[0] if self.n_classes_ == 2 else offsets

    def log_proba(self, X):
        Z = (self._columns(X) - self.mean_) / self.scale_
        return self._log_proba(Z, self.coef_, self.intercept_)

    def _log_proba(self, Z, coef, intercept):
        # A row-wise sum, not a BLAS product: its rounding would depend on the number of rows, and
        # a patient's score must not depend on the other rows passed with it (bit for bit).
        z = (Z[:, None, :] * coef[None, :, :]).sum(axis=-1) + intercept
        if self.n_classes_ == 2:
            z = np.hstack([np.zeros_like(z), z])
        return _center(z)

    def cross_val_log_proba(self, X, y_codes, sample_weight):
        """Out-of-fold scores of the training patients at the chosen C, no refit.

        Each patient is scored by the model of the inner fold that left it out, read from the
        coefficient paths of the cross-validation that chose C (recalibrated as the init).
        """
        X = self._columns(X)
        if self.scoring != "roc_auc":
            return self._out_of_fold(X, y_codes, intercepts=True)
        linear = self._out_of_fold(X, y_codes, intercepts=False)
        offsets = self.intercept_ if self.n_classes_ > 2 else np.r_[0.0, self.intercept_]
        return _center(self.slope_ * linear + offsets)

    def _out_of_fold(self, X, y_codes, intercepts):
        model = self.estimator_
        c = int(np.argmin(np.abs(np.asarray(model.Cs_) - self.C_)))
        Z = (X - self.mean_) / self.scale_
        out = np.empty((X.shape[0], self.n_classes_))
        for fold, (_, test) in enumerate(self._cv.split(Z, y_codes)):
            path = np.asarray(model.coefs_paths_)[fold, 0, c]  # (n_classes or 1, n_features + 1)
            if intercepts:
                out[test] = self._log_proba(Z[test], path[:, :-1], path[:, -1])
            else:
                out[test] = self._log_proba(Z[test], _unit(path[:, :-1]), 0.0)
        return out

    def state(self):
        meta = {"kind": self.kind, "n_classes": self.n_classes_, "C": self.C_}
        meta["slope"] = self.slope_
        return meta, {
            "mean": self.mean_,
            "scale": self.scale_,
            "coef": self.coef_,
            "intercept": self.intercept_,
        }

    @classmethod
    def from_state(cls, meta, arrays):
        self = cls()
        self.n_classes_ = meta["n_classes"]
        self.C_ = meta["C"]
        self.slope_ = float(meta.get("slope", 1.0))  # absent in older model folders
        for name in ("mean", "scale", "coef", "intercept"):
            setattr(self, name + "_", np.asarray(arrays[name], dtype=np.float64))
        self.estimator_ = None
        return self


def _unit(coef):
    """Coefficients scaled to unit norm (unchanged when all zero)."""
    norm = float(np.linalg.norm(coef))
    return coef / norm if norm > 0 else coef


def _recalibrate(linear, y_codes, sample_weight):
    """Slope ``t >= 0`` and class offsets ``b`` minimizing the weighted log-loss of
    ``softmax(t * linear + b)`` (Platt scaling; for more than two classes, temperature scaling
    with class offsets). A convex problem in ``K + 1`` numbers, solved by L-BFGS.

    ``linear`` holds each patient's class scores without the intercepts, shape (n, K).
    """
    n, n_classes = linear.shape
    onehot = np.zeros_like(linear)
    onehot[np.arange(n), y_codes] = 1.0
    w = sample_weight / sample_weight.sum()

    def loss_and_grad(params):
        loss, residual = weighted_log_loss(params[0] * linear + params[1:], onehot, w)
        return loss, np.concatenate([[np.sum(residual * linear)], residual.sum(axis=0)])

    spread = float(np.std(linear - linear.mean(axis=0)))
    start = np.concatenate([[1.0 / spread if spread > 0 else 1.0], np.zeros(n_classes)])
    bounds = [(0.0, None)] + [(None, None)] * n_classes
    found = minimize(loss_and_grad, start, jac=True, method="L-BFGS-B", bounds=bounds)
    return float(found.x[0]), found.x[1:] - found.x[1:].mean()


class PriorInit(_ColumnSubset):
    """The weighted class frequencies: the boosted graphs alone decide."""

    kind = "prior"

    def fit(self, X, y_codes, n_classes, sample_weight, random_state, owner):
        counts = np.bincount(y_codes, weights=sample_weight, minlength=n_classes)
        self.log_prior_ = _center(np.log(np.maximum(counts / counts.sum(), _EPS))[None, :])[0]
        self.estimator_ = None
        return self

    def log_proba(self, X):
        return np.tile(self.log_prior_, (X.shape[0], 1))

    def cross_val_log_proba(self, X, y_codes, sample_weight):
        """None: a constant score ranks nobody, so there is nothing to weigh the graphs against."""
        return None

    def state(self):
        return {"kind": self.kind}, {"log_prior": self.log_prior_}

    @classmethod
    def from_state(cls, meta, arrays):
        self = cls()
        self.log_prior_ = np.asarray(arrays["log_prior"], dtype=np.float64)
        self.estimator_ = None
        return self


class EstimatorInit(_ColumnSubset):
    """Any classifier with ``predict_proba``, cloned and fitted on the training patients."""

    kind = "estimator"

    def __init__(self, estimator):
        self.estimator = estimator

    def fit(self, X, y_codes, n_classes, sample_weight, random_state, owner):
        self.estimator_ = _fit_clone(self.estimator, X, y_codes, sample_weight)
        self.n_classes_ = n_classes
        self.random_state_ = random_state
        return self

    def log_proba(self, X):
        return self._log_proba(self.estimator_, self._columns(X))

    def _log_proba(self, estimator, X):
        proba = np.zeros((X.shape[0], self.n_classes_))
        proba[:, estimator.classes_] = estimator.predict_proba(X)
        return _center(np.log(np.maximum(proba, _EPS)))

    def cross_val_log_proba(self, X, y_codes, sample_weight):
        """Out-of-fold scores of the training patients: one clone fitted per inner fold (3)."""
        X = self._columns(X)
        if np.bincount(y_codes).min() < _INNER_SPLITS:
            return None  # too few patients of a class to cross-fit: keep the graphs' scale
        out = np.empty((X.shape[0], self.n_classes_))
        cv = StratifiedKFold(n_splits=_INNER_SPLITS, shuffle=True, random_state=self.random_state_)
        for train, test in cv.split(X, y_codes):
            fitted = _fit_clone(self.estimator, X[train], y_codes[train], sample_weight[train])
            out[test] = self._log_proba(fitted, X[test])
        return out

    def state(self):
        raise ValueError(
            "Only models with init='logistic' or init=None can be saved in graphboost's safe "
            f"format; this one has init={self.estimator!r}, which would need pickle."
        )


def _fit_clone(estimator, X, y_codes, sample_weight):
    fitted = clone(estimator)
    if has_fit_parameter(fitted, "sample_weight"):
        return fitted.fit(X, y_codes, sample_weight=sample_weight)
    return fitted.fit(X, y_codes)


def make_init(init, scoring="roc_auc"):
    """The init model named by the ``init`` parameter; ``scoring`` is ``init_scoring``."""
    if init is None:
        return PriorInit()
    if isinstance(init, str):
        return LinearInit(scoring)
    return EstimatorInit(init)


INIT_KINDS = {"logistic": LinearInit, "prior": PriorInit}
