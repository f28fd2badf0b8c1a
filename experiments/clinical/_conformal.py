"""Per-patient uncertainty: class-conditional conformal prediction sets (crepes).

A conformal predictor turns a model's probabilities into a *set* of classes that holds the true
class with probability at least ``1 - alpha``. It is class-conditional (Mondrian by class): the
guarantee holds within each class, so the rare class is not sacrificed to the common one. A set
with both classes says the model cannot tell at that error rate; an empty set says the patient
looks like neither class's calibration patients.

The nonconformity score is the hinge ``1 - p(class)``; the calibration scores are out-of-fold
predictions of the training patients (cross-conformal: each was scored by a model that had not
seen it). The p-values are crepes' non-smoothed ones (deterministic, no random tie-breaking),
so the coverage is at least ``1 - alpha`` and at most ``1 - alpha + 1 / (n_c + 1)`` for a class
with ``n_c`` calibration patients, when the patients are exchangeable.

References
----------
Vovk V., Gammerman A., Shafer G. "Algorithmic Learning in a Random World." Springer (2005).
Boström H. "crepes: a Python package for generating conformal regressors and predictive
systems." COPA 2022.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from .._base import InputError


def check_alpha(alpha):
    """``alpha`` as a float if it lies in (0, 1), else :class:`InputError`."""
    try:
        value = float(alpha)
    except (TypeError, ValueError):
        value = math.nan
    if not 0 < value < 1 or isinstance(alpha, bool):
        raise InputError(
            f"alpha (the error rate of the prediction sets) must be a number in (0, 1), such "
            f"as 0.1 for 90% coverage; got {alpha!r}."
        )
    return value


def _crepes():
    """crepes' ConformalClassifier; its import sets a process-wide warning filter, undone."""
    try:
        with warnings.catch_warnings():
            from crepes import ConformalClassifier
    except ImportError as exc:  # pragma: no cover - crepes is a core dependency
        raise ImportError("Conformal prediction needs crepes: pip install crepes") from exc
    return ConformalClassifier


def _hinge(proba, y=None):
    """Nonconformity ``1 - p``: of every class (n, K), or of the class ``y`` (n,)."""
    proba = np.asarray(proba, dtype=np.float64)
    if y is None:
        return 1.0 - proba
    return 1.0 - proba[np.arange(proba.shape[0]), np.asarray(y, dtype=int)]


class ClassConditionalConformal:
    """Class-conditional (Mondrian) conformal prediction sets from a model's probabilities.

    Fitted on calibration probabilities (out-of-fold predictions of the training patients) and
    their labels; :meth:`predict_set` then gives, for new probabilities, the classes whose
    conformal p-value is above ``alpha``. Built on crepes' ``ConformalClassifier`` with the
    class as the Mondrian category.

    Attributes
    ----------
    n_classes_ : int
    calibration_scores_ : ndarray of shape (n_calibration,)
        Hinge scores ``1 - p(true class)`` of the calibration patients.
    calibration_labels_ : ndarray of shape (n_calibration,)
        Their labels, encoded 0..K-1.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(size=400)
    >>> y = (rng.uniform(size=400) < p).astype(int)
    >>> cp = ClassConditionalConformal().fit(np.c_[1 - p, p], y)
    >>> cp.predict_set([[0.98, 0.02], [0.5, 0.5]], alpha=0.1).astype(int).tolist()
    [[1, 0], [1, 1]]
    """

    def fit(self, proba, y):
        """Store the calibration scores of ``proba`` (n, K) with labels ``y`` encoded 0..K-1."""
        proba = np.asarray(proba, dtype=np.float64)
        y = np.asarray(y).astype(int)
        if proba.ndim != 2 or proba.shape[0] != y.shape[0]:
            raise InputError(
                f"proba must be of shape (n_patients, n_classes) with one row per label; got "
                f"{proba.shape} for {y.shape[0]} labels."
            )
        return self._fit_scores(_hinge(proba, y), y, proba.shape[1])

    def _fit_scores(self, scores, y, n_classes):
        missing = sorted(set(range(n_classes)) - set(y.tolist()))
        if missing:
            raise InputError(f"Calibration patients lack class(es) {missing}.")
        self.n_classes_ = int(n_classes)
        self.calibration_scores_ = np.asarray(scores, dtype=np.float64)
        self.calibration_labels_ = y
        self._conformal = _crepes()().fit(self.calibration_scores_, bins=y)
        return self

    def p_values(self, proba):
        """Conformal p-value of every class for each patient, shape (n, K)."""
        scores = _hinge(proba)
        if scores.ndim != 2 or scores.shape[1] != self.n_classes_:
            raise InputError(
                f"proba must have {self.n_classes_} columns (one per class); got {scores.shape}."
            )
        n = scores.shape[0]
        columns = [
            self._conformal.predict_p(scores, np.full(n, c), smoothing=False)[:, c]
            for c in range(self.n_classes_)
        ]
        return np.column_stack(columns) if n else np.empty((0, self.n_classes_))

    def predict_set(self, proba, alpha=0.1):
        """Boolean matrix (n, K): class ``k`` is in patient ``i``'s set at error rate ``alpha``."""
        alpha = check_alpha(alpha)
        counts = np.bincount(self.calibration_labels_, minlength=self.n_classes_)
        if alpha < 1 / (counts.min() + 1):
            warnings.warn(
                f"alpha={alpha} is below 1/(n+1) for a class with n={counts.min()} calibration "
                "patients: every set holds that class.",
                stacklevel=2,
            )
        return self.p_values(proba) > alpha

    def to_dict(self):
        """JSON-safe state (scores and encoded labels of the calibration patients)."""
        return {
            "score": "hinge (1 - probability of the class)",
            "n_classes": int(self.n_classes_),
            "calibration_scores": self.calibration_scores_.tolist(),
            "calibration_labels": self.calibration_labels_.tolist(),
        }

    @classmethod
    def from_dict(cls, data):
        """The predictor of :meth:`to_dict`'s output."""
        labels = np.asarray(data["calibration_labels"], dtype=int)
        return cls()._fit_scores(data["calibration_scores"], labels, data["n_classes"])


def _fold_sets(proba, y, test, alpha):
    """Sets of the held-out ``test`` rows, calibrated on every other scored row."""
    calibrate = np.setdiff1d(np.flatnonzero(np.isfinite(proba).all(axis=1)), test)
    cp = ClassConditionalConformal().fit(proba[calibrate], y[calibrate])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"alpha=.* is below 1/\(n\+1\)")
        return cp.predict_set(proba[test], alpha)


def conformal_coverage(y_true, probas, splits, alpha=0.1):
    """Empirical coverage of cross-conformal sets on held-out folds.

    For each repeat and each held-out fold, the conformal predictor is calibrated on the
    out-of-fold predictions of that fold's training patients (the other folds), then the sets
    of the held-out patients are checked against their labels. This is what a model folder does
    for new patients (calibrated on its training patients' out-of-fold predictions).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Labels encoded 0..K-1.
    probas : list of ndarray of shape (n_samples, n_classes)
        Out-of-fold probabilities, one matrix per repeat.
    splits : list of list of (train, test)
        The folds of each repeat (``make_splits``), in the order of ``probas``.
    alpha : float, default=0.1
        Error rate: the nominal coverage is ``1 - alpha``.

    Returns
    -------
    dict
        Means over repeats: ``coverage``, ``coverage_<k>`` per class ``k``, ``set_size``,
        ``share_uncertain`` (sets of more than one class) and ``share_empty``; and ``alpha``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import StratifiedKFold
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(size=600)
    >>> y = (rng.uniform(size=600) < p).astype(int)
    >>> folds = list(StratifiedKFold(5).split(p[:, None], y))
    >>> res = conformal_coverage(y, [np.c_[1 - p, p]], [folds], alpha=0.1)
    >>> 0.88 <= res["coverage"] <= 0.94
    True
    """
    alpha = check_alpha(alpha)
    y = np.asarray(y_true).astype(int)
    rows = []
    for proba, folds in zip(probas, splits, strict=True):
        proba = np.asarray(proba, dtype=np.float64)
        sets = np.zeros(proba.shape, dtype=bool)
        for _, test in folds:
            sets[test] = _fold_sets(proba, y, test, alpha)
        covered = sets[np.arange(y.size), y]
        row = {"coverage": covered.mean()}
        for k in range(proba.shape[1]):  # NaN for a class absent from the labels
            row[f"coverage_{k}"] = covered[y == k].mean() if np.any(y == k) else np.nan
        size = sets.sum(axis=1)
        row.update(set_size=size.mean(), share_uncertain=(size > 1).mean())
        row["share_empty"] = (size == 0).mean()
        rows.append(row)
    out = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}  # NaN stays NaN
    return {"alpha": alpha, **out}
