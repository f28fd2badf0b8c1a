"""The starting point of the boosted score: a regularized linear model, the class prior, or any
probabilistic classifier.

The boosted graph model is fitted separately and added to this score on the log-odds scale; on
Duke that sum was the only design at or above logistic regression on both tasks (see the design
notes in the README).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import has_fit_parameter

from ._validation import check_class_counts

#: Inverse regularization strengths searched by ``init="logistic"``.
LOGISTIC_CS = np.logspace(-4, 1, 11)
_EPS = 1e-12


def _center(log_proba):
    return log_proba - log_proba.mean(axis=1, keepdims=True)


class LinearInit:
    """Standardized L2 logistic regression, C chosen by inner 3-fold CV on log-loss.

    Predictions are computed from the stored arrays, so a saved and reloaded model scores
    exactly as the fitted one.
    """

    kind = "logistic"

    def fit(self, X, y_codes, n_classes, sample_weight, random_state, owner):
        check_class_counts(
            np.bincount(y_codes, minlength=n_classes),
            np.arange(n_classes),
            3,
            "the inner 3-fold cross-validation of init='logistic'",
            owner,
        )
        scaler = StandardScaler().fit(X, sample_weight=sample_weight)
        cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=random_state)
        model = LogisticRegressionCV(
            Cs=LOGISTIC_CS,
            cv=cv,
            scoring="neg_log_loss",
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
        return self

    def log_proba(self, X):
        z = ((X - self.mean_) / self.scale_) @ self.coef_.T + self.intercept_
        if self.n_classes_ == 2:
            z = np.hstack([np.zeros_like(z), z])
        return _center(z)

    def state(self):
        return {"kind": self.kind, "n_classes": self.n_classes_, "C": self.C_}, {
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
        for name in ("mean", "scale", "coef", "intercept"):
            setattr(self, name + "_", np.asarray(arrays[name], dtype=np.float64))
        self.estimator_ = None
        return self


class PriorInit:
    """The weighted class frequencies: the boosted graphs alone decide."""

    kind = "prior"

    def fit(self, X, y_codes, n_classes, sample_weight, random_state, owner):
        counts = np.bincount(y_codes, weights=sample_weight, minlength=n_classes)
        self.log_prior_ = _center(np.log(np.maximum(counts / counts.sum(), _EPS))[None, :])[0]
        self.estimator_ = None
        return self

    def log_proba(self, X):
        return np.tile(self.log_prior_, (X.shape[0], 1))

    def state(self):
        return {"kind": self.kind}, {"log_prior": self.log_prior_}

    @classmethod
    def from_state(cls, meta, arrays):
        self = cls()
        self.log_prior_ = np.asarray(arrays["log_prior"], dtype=np.float64)
        self.estimator_ = None
        return self


class EstimatorInit:
    """Any classifier with ``predict_proba``, cloned and fitted on the training patients."""

    kind = "estimator"

    def __init__(self, estimator):
        self.estimator = estimator

    def fit(self, X, y_codes, n_classes, sample_weight, random_state, owner):
        self.estimator_ = clone(self.estimator)
        if has_fit_parameter(self.estimator_, "sample_weight"):
            self.estimator_.fit(X, y_codes, sample_weight=sample_weight)
        else:
            self.estimator_.fit(X, y_codes)
        self.n_classes_ = n_classes
        return self

    def log_proba(self, X):
        proba = np.zeros((X.shape[0], self.n_classes_))
        proba[:, self.estimator_.classes_] = self.estimator_.predict_proba(X)
        return _center(np.log(np.maximum(proba, _EPS)))

    def state(self):
        raise ValueError(
            "Only models with init='logistic' or init=None can be saved in graphboost's safe "
            f"format; this one has init={self.estimator!r}, which would need pickle."
        )


def make_init(init):
    """The init model named by the ``init`` parameter."""
    if init is None:
        return PriorInit()
    if isinstance(init, str):
        return LinearInit()
    return EstimatorInit(init)


INIT_KINDS = {"logistic": LinearInit, "prior": PriorInit}
