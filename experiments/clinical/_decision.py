"""Decisions: net benefit against treating everyone or no one, and a threshold for a target.

Decision-curve analysis (Vickers & Elkin 2006) weighs a model's true positives against its
false positives at the exchange rate a clinician accepts: treating at a risk threshold ``pt``
means a false positive costs ``pt / (1 - pt)`` of a true positive. The net benefit of a rule is
``TP / n - FP / n * pt / (1 - pt)``; "treat all" is that rule with everyone positive, "treat
none" is 0. A model is useful at ``pt`` where its net benefit beats both.

:func:`choose_threshold` picks a cut-off on out-of-fold risks for a stated target: a sensitivity,
a specificity, or the best net benefit at a risk threshold.

References
----------
Vickers A.J., Elkin E.B. "Decision curve analysis: a novel method for evaluating prediction
models." Medical Decision Making 26(6), 565-574 (2006).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._base import InputError

THRESHOLD_TARGETS = ("net-benefit", "sensitivity", "specificity")
"""Targets of :func:`choose_threshold` (``TARGET:VALUE`` in ``graphboost fit``)."""

DEFAULT_THRESHOLDS = np.round(np.arange(0.01, 0.81, 0.01), 2)
"""Risk thresholds of a decision curve: 1% to 80%."""


def net_benefit(y_true, proba, thresholds):
    """Net benefit of treating patients whose risk is at least each threshold.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Labels 0/1.
    proba : array-like of shape (n_samples,)
        Predicted risk of class 1.
    thresholds : array-like of shape (n_thresholds,)
        Risk thresholds in (0, 1).

    Returns
    -------
    ndarray of shape (n_thresholds,)

    Examples
    --------
    >>> net_benefit([0, 0, 1, 1], [0.1, 0.6, 0.7, 0.9], [0.5]).round(3)
    array([0.25])
    """
    y = np.asarray(y_true).astype(bool)
    p = np.asarray(proba, dtype=np.float64)
    t = np.asarray(thresholds, dtype=np.float64)
    treated = p[None, :] >= t[:, None]
    tp = (treated & y).sum(axis=1) / y.size
    fp = (treated & ~y).sum(axis=1) / y.size
    return tp - fp * t / (1 - t)


def decision_curve(y_true, proba, thresholds=None):
    """Net benefit of the model, of treating all and of treating none over risk thresholds.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Labels 0/1.
    proba : array-like of shape (n_samples,)
        Predicted risk of class 1.
    thresholds : array-like, optional
        Default :data:`DEFAULT_THRESHOLDS` (1% to 80%).

    Returns
    -------
    pandas.DataFrame
        Columns ``threshold``, ``model``, ``treat_all``, ``treat_none``.

    Examples
    --------
    >>> curve = decision_curve([0, 0, 1, 1], [0.1, 0.6, 0.7, 0.9], [0.2, 0.5])
    >>> curve.round(3).to_numpy().tolist()
    [[0.2, 0.438, 0.375, 0.0], [0.5, 0.25, 0.0, 0.0]]
    """
    t = DEFAULT_THRESHOLDS if thresholds is None else np.asarray(thresholds, dtype=np.float64)
    y = np.asarray(y_true).astype(int)
    return pd.DataFrame(
        {
            "threshold": t,
            "model": net_benefit(y, proba, t),
            "treat_all": net_benefit(y, np.ones(y.size), t),
            "treat_none": np.zeros(t.size),
        }
    )


def mean_decision_curve(y_true, probas, thresholds=None):
    """The decision curve of each CV repeat's out-of-fold risks, averaged over the repeats.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Labels 0/1.
    probas : list of ndarray of shape (n_samples, 2), or one such array
        One probability matrix per repeat.
    thresholds : array-like, optional

    Returns
    -------
    pandas.DataFrame
        As :func:`decision_curve`.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.1, 0.9]])
    >>> mean_decision_curve([0, 0, 1, 1], [p, p], [0.5]).model.round(3).tolist()
    [0.25]
    """
    probas = [probas] if isinstance(probas, np.ndarray) else list(probas)
    curves = [decision_curve(y_true, np.asarray(p)[:, 1], thresholds) for p in probas]
    mean = curves[0].copy()
    mean["model"] = np.mean([c.model.to_numpy() for c in curves], axis=0)
    return mean


def useful_range(curve, column="model"):
    """The longest run of consecutive thresholds where ``column`` beats treat-all and treat-none.

    Parameters
    ----------
    curve : pandas.DataFrame
        From :func:`decision_curve` (thresholds in increasing order).
    column : str, default="model"

    Returns
    -------
    tuple of (float, float) or None
        The first and last threshold of the run (the first run among equally long ones), or
        None where the model never beats both. A noisy curve can beat both in several runs:
        ``beats_both(curve).mean()`` gives the share of all thresholds.

    Examples
    --------
    >>> useful_range(decision_curve([0, 0, 1, 1], [0.1, 0.6, 0.7, 0.9], [0.2, 0.5]))
    (0.2, 0.5)
    """
    better = beats_both(curve, column)
    best, start = None, None
    for i, ok in enumerate([*better, False]):
        if ok and start is None:
            start = i
        elif not ok and start is not None:
            if best is None or i - start > best[1] - best[0] + 1:
                best = (start, i - 1)
            start = None
    if best is None:
        return None
    t = curve.threshold.to_numpy()
    return float(t[best[0]]), float(t[best[1]])


def beats_both(curve, column="model"):
    """Boolean array: at each threshold, ``column`` beats treat-all and treat-none."""
    return ((curve[column] > curve.treat_all) & (curve[column] > curve.treat_none)).to_numpy()


def parse_threshold_target(text):
    """``"TARGET:VALUE"`` as ``(target, value)``, checked.

    Parameters
    ----------
    text : str
        ``sensitivity:0.9`` (the highest threshold keeping 90% sensitivity), ``specificity:0.8``
        (the lowest threshold keeping 80% specificity) or ``net-benefit:0.2`` (the threshold of
        the best net benefit when treating at a 20% risk).

    Returns
    -------
    target : str
        One of :data:`THRESHOLD_TARGETS`.
    value : float
        In (0, 1).

    Examples
    --------
    >>> parse_threshold_target("sensitivity:0.9")
    ('sensitivity', 0.9)
    """
    target, _, value = str(text).partition(":")
    expected = f"'TARGET:VALUE' with TARGET one of {list(THRESHOLD_TARGETS)} and VALUE in (0, 1)"
    if target.strip() not in THRESHOLD_TARGETS:
        raise InputError(f"The threshold target must be {expected}; got {text!r}.")
    try:
        number = float(value)
    except ValueError:
        number = np.nan
    if not 0 < number < 1:
        raise InputError(f"The threshold target must be {expected}; got {text!r}.")
    return target.strip(), number


def _operating_point(y, p, threshold, risk=None):
    """Sensitivity, specificity, PPV, NPV (and net benefit at ``risk``) of one threshold."""
    pred = p >= threshold
    tp, fp = np.sum(pred & y), np.sum(pred & ~y)
    fn, tn = np.sum(~pred & y), np.sum(~pred & ~y)
    out = {
        "threshold": float(threshold),
        "sensitivity": float(tp / max(tp + fn, 1)),
        "specificity": float(tn / max(tn + fp, 1)),
        "ppv": float(tp / (tp + fp)) if tp + fp else float("nan"),
        "npv": float(tn / (tn + fn)) if tn + fn else float("nan"),
        "share_positive": float(pred.mean()),
    }
    if risk is not None:
        out["net_benefit"] = float((tp - fp * risk / (1 - risk)) / y.size)
        out["net_benefit_treat_all"] = float((y.sum() - (~y).sum() * risk / (1 - risk)) / y.size)
    return out


def choose_threshold(y_true, proba, target, value):
    """The threshold on predicted risk that meets a target on (out-of-fold) predictions.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Labels 0/1.
    proba : array-like of shape (n_samples,)
        Predicted risk of class 1, best out-of-fold (never in-sample).
    target : {"sensitivity", "specificity", "net-benefit"}
        ``sensitivity``: the highest threshold whose sensitivity is at least ``value``;
        ``specificity``: the lowest threshold whose specificity is at least ``value``;
        ``net-benefit``: the threshold of the highest net benefit at the risk threshold
        ``value`` (for well-calibrated risks, close to ``value`` itself).
    value : float
        In (0, 1).

    Returns
    -------
    dict
        ``target``, ``value``, ``threshold`` and its operating point on these predictions:
        ``sensitivity``, ``specificity``, ``ppv``, ``npv``, ``share_positive`` (and
        ``net_benefit`` with ``net_benefit_treat_all`` for a net-benefit target).

    Examples
    --------
    >>> y = [0, 0, 0, 1, 0, 1, 1, 1]
    >>> p = [0.1, 0.2, 0.3, 0.35, 0.4, 0.6, 0.7, 0.8]
    >>> choose_threshold(y, p, "sensitivity", 0.75)["threshold"]
    0.6
    >>> choose_threshold(y, p, "specificity", 0.75)["threshold"]
    0.35
    """
    target, value = parse_threshold_target(f"{target}:{value}")
    y = np.asarray(y_true).astype(bool)
    p = np.asarray(proba, dtype=np.float64)
    if y.all() or not y.any():
        raise InputError("Choosing a threshold needs patients of both classes.")
    candidates = np.unique(p)
    if target == "sensitivity":
        sens = np.array([np.mean(p[y] >= t) for t in candidates])
        threshold = candidates[sens >= value].max()
    elif target == "specificity":
        spec = np.array([np.mean(p[~y] < t) for t in candidates])
        ok = spec >= value
        threshold = candidates[ok].min() if ok.any() else np.nextafter(candidates.max(), 2.0)
    else:
        tp = np.array([np.sum(y & (p >= t)) for t in candidates])
        fp = np.array([np.sum(~y & (p >= t)) for t in candidates])
        threshold = candidates[np.argmax(tp - fp * value / (1 - value))]
    risk = value if target == "net-benefit" else None
    return {"target": target, "value": value, **_operating_point(y, p, threshold, risk)}
