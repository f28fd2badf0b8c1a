"""Survival metrics: discrimination, calibration and net benefit of a risk for a censored time.

``y`` follows scikit-survival: a structured array whose first field is the event indicator and
whose second field is the time (``sksurv.util.Surv.from_arrays(event, time)``). A risk is
higher for an earlier event. The metrics are scikit-survival's (Harrell's and Uno's C, the
cumulative/dynamic time-dependent AUC, the integrated Brier score) and Kaplan-Meier estimates
(calibration at a horizon, net benefit at a horizon); this module adds the checks, the
calibration slope, the bootstrap confidence intervals and the paired comparisons, as
:mod:`experiments.clinical._metrics` does for a binary outcome.

- **Calibration at a horizon** (Austin, Harrell and van Klaveren, Stat Med 2020; the STRATOS
  validation tutorial, McLernon et al., Ann Intern Med 2023): patients are grouped by predicted
  risk ``1 - S(h)``; each group's observed risk is one minus its Kaplan-Meier survival at ``h``.
  The **calibration slope** is the coefficient of ``log(-log S(h))`` in a Cox model fitted on
  the validation patients (1 is ideal, below 1 the risks are too extreme); **O/E** is the
  observed Kaplan-Meier risk at ``h`` over the mean predicted risk (1 is ideal).
- **Net benefit at a horizon** (Vickers et al., BMC Med Inform Decis Mak 2008): treating the
  patients whose predicted risk at ``h`` is at least ``pt``, with the true and false positives
  estimated by Kaplan-Meier among them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._base import InputError
from ._metrics import _bootstrap_indices

SURVIVAL_METRICS = ("harrell_c", "uno_c", "td_auc", "integrated_brier")
"""Metrics of :func:`survival_metrics`, in their table's column order."""


def check_survival_target(y, what="y"):
    """Event (bool) and time (float) arrays of a scikit-survival target, checked.

    Parameters
    ----------
    y : structured ndarray
        Two fields: the event indicator (bool or 0/1), then the time (finite, > 0).
    what : str
        Name of the target in the messages.

    Returns
    -------
    event : ndarray of bool
    time : ndarray of float

    Examples
    --------
    >>> from sksurv.util import Surv
    >>> event, time = check_survival_target(Surv.from_arrays([1, 0], [5.0, 2.0]))
    >>> event.tolist(), time.tolist()
    ([True, False], [5.0, 2.0])
    >>> check_survival_target(Surv.from_arrays([False, False], [5.0, 2.0]))
    Traceback (most recent call last):
    ...
    experiments._base.InputError: y has no event (2 patients, all censored): nothing to rank.
    """
    names = getattr(getattr(y, "dtype", None), "names", None)
    if names is None or len(names) != 2:
        raise InputError(
            f"{what} must be a structured array of two fields (event, time), as "
            f"sksurv.util.Surv.from_arrays makes; got {type(y).__name__}."
        )
    event = np.asarray(y[names[0]])
    time = np.asarray(y[names[1]], dtype=float)
    if event.dtype != bool:
        values = set(np.unique(event).tolist())
        if not values <= {0, 1}:
            raise InputError(
                f"The event field of {what} must be 0/1 or bool; got the values {sorted(values)}."
            )
        event = event.astype(bool)
    bad = ~np.isfinite(time) | (time <= 0)
    if bad.any():
        raise InputError(
            f"The times of {what} must be finite and > 0; {int(bad.sum())} of {time.size} are not."
        )
    if not event.any():
        raise InputError(
            f"{what} has no event ({time.size} patients, all censored): nothing to rank."
        )
    return event, time


def _surv(event, time):
    from sksurv.util import Surv

    return Surv.from_arrays(event, time)


def _risk(risk, n, what="risk"):
    risk = np.asarray(risk, dtype=float).ravel()
    if risk.size != n:
        raise InputError(f"{what} has {risk.size} values for {n} patients.")
    if not np.isfinite(risk).all():
        raise InputError(
            f"{what} has {int((~np.isfinite(risk)).sum())} values that are not finite."
        )
    return risk


def harrell_c(y, risk):
    """Harrell's concordance index of ``risk`` (higher = earlier event).

    Examples
    --------
    >>> from sksurv.util import Surv
    >>> y = Surv.from_arrays([1, 1, 0, 1], [1.0, 2.0, 3.0, 4.0])
    >>> harrell_c(y, [4, 3, 2, 1])
    1.0
    """
    from sksurv.metrics import concordance_index_censored

    event, time = check_survival_target(y)
    return float(concordance_index_censored(event, time, _risk(risk, time.size))[0])


def _horizons(time_train, time, horizons):
    """The horizons, checked inside the follow-up of both cohorts (scikit-survival's range)."""
    horizons = np.atleast_1d(np.asarray(horizons, dtype=float))
    high = min(time.max(), time_train.max())
    bad = (horizons < time.min()) | (horizons >= high)
    if bad.any():
        raise InputError(
            f"horizons {horizons[bad].tolist()} are outside the follow-up: each must be at least "
            f"the first time ({time.min():g}) and below the last ({high:g})."
        )
    return horizons


def uno_c(y_train, y, risk, tau=None):
    """Uno's IPCW concordance, truncated at ``tau`` (censoring weights from ``y_train``)."""
    from sksurv.metrics import concordance_index_ipcw

    check_survival_target(y_train, "y_train")
    _, time = check_survival_target(y)
    return float(concordance_index_ipcw(y_train, y, _risk(risk, time.size), tau=tau)[0])


def time_dependent_auc(y_train, y, risk, horizons):
    """Cumulative/dynamic AUC of ``risk`` at each horizon (Uno et al. 2007; scikit-survival).

    Returns
    -------
    ndarray of shape (n_horizons,)
    """
    from sksurv.metrics import cumulative_dynamic_auc

    _, time_train = check_survival_target(y_train, "y_train")
    _, time = check_survival_target(y)
    horizons = _horizons(time_train, time, horizons)
    return cumulative_dynamic_auc(y_train, y, _risk(risk, time.size), horizons)[0]


def integrated_brier(y_train, y, survival, times):
    """Integrated Brier score of survival probabilities ``survival[i, j] = S_i(times[j])``."""
    from sksurv.metrics import integrated_brier_score

    _, time_train = check_survival_target(y_train, "y_train")
    _, time = check_survival_target(y)
    times = _horizons(time_train, time, times)
    survival = np.asarray(survival, dtype=float)
    if survival.shape != (time.size, times.size):
        raise InputError(
            f"survival must have one row per patient and one column per time "
            f"({time.size} x {times.size}); got {survival.shape}."
        )
    return float(integrated_brier_score(y_train, y, survival, times))


def km_risk_at(event, time, horizon):
    """One minus the Kaplan-Meier survival at ``horizon`` (the observed risk by then).

    Examples
    --------
    >>> import numpy as np
    >>> round(km_risk_at(np.array([True, True, False, True]), np.array([1.0, 2, 3, 4]), 2.5), 3)
    0.5
    """
    from sksurv.nonparametric import kaplan_meier_estimator

    if event.size == 0:
        return float("nan")
    times, survival = kaplan_meier_estimator(event, time)
    before = times <= horizon
    return float(1.0 - survival[before][-1]) if before.any() else 0.0


def survival_calibration(y, survival_at_horizon, horizon, n_groups=5):
    """Observed (Kaplan-Meier) against predicted risk at ``horizon``, by predicted-risk group.

    Parameters
    ----------
    y : structured ndarray
        Validation patients' (event, time).
    survival_at_horizon : array-like of shape (n_samples,)
        Predicted ``S(horizon)`` of each patient.
    horizon : float
    n_groups : int, default=5
        Groups of equal size by predicted risk.

    Returns
    -------
    dict
        ``table`` (DataFrame: group, patients, predicted risk, observed risk), ``slope`` (the
        coefficient of ``log(-log S(h))`` in a Cox model on the validation patients, censored
        at the horizon), ``observed_expected`` (observed KM risk over mean predicted risk).
    """
    from sksurv.linear_model import CoxPHSurvivalAnalysis

    event, time = check_survival_target(y)
    s = _risk(survival_at_horizon, time.size, "survival_at_horizon")
    if ((s <= 0) | (s >= 1)).any():
        raise InputError("survival_at_horizon must lie strictly between 0 and 1.")
    predicted = 1.0 - s
    order = np.argsort(predicted, kind="stable")
    rows = []
    for k, ix in enumerate(np.array_split(order, n_groups)):
        rows.append(
            {
                "group": k + 1,
                "patients": ix.size,
                "predicted risk": float(predicted[ix].mean()),
                "observed risk": km_risk_at(event[ix], time[ix], horizon),
            }
        )
    ev_h = event & (time <= horizon)
    cox = CoxPHSurvivalAnalysis(alpha=1e-9).fit(
        np.log(-np.log(s))[:, None], _surv(ev_h, np.minimum(time, horizon))
    )
    return {
        "table": pd.DataFrame(rows),
        "slope": float(cox.coef_[0]),
        "observed_expected": km_risk_at(event, time, horizon) / float(predicted.mean()),
    }


def survival_net_benefit(y, risk_at_horizon, horizon, thresholds):
    """Net benefit at ``horizon`` of treating the patients whose predicted risk is >= ``pt``.

    Returns
    -------
    pandas.DataFrame
        One row per threshold: ``threshold``, ``model``, ``treat_all``, ``treat_none`` (0).
    """
    event, time = check_survival_target(y)
    risk = _risk(risk_at_horizon, time.size, "risk_at_horizon")
    thresholds = np.asarray(thresholds, dtype=float)
    if ((thresholds <= 0) | (thresholds >= 1)).any():
        raise InputError("thresholds must lie strictly between 0 and 1.")
    overall = km_risk_at(event, time, horizon)
    rows = []
    for pt in thresholds:
        odds = pt / (1 - pt)
        treated = risk >= pt
        share = treated.mean()
        observed = km_risk_at(event[treated], time[treated], horizon) if share else 0.0
        rows.append(
            {
                "threshold": float(pt),
                "model": float(observed * share - (1 - observed) * share * odds),
                "treat_all": float(overall - (1 - overall) * odds),
                "treat_none": 0.0,
            }
        )
    return pd.DataFrame(rows)


def _point(y_train, y, risk, survival, times, horizons):
    out = {"harrell_c": harrell_c(y, risk), "uno_c": uno_c(y_train, y, risk, tau=max(horizons))}
    out["td_auc"] = float(np.mean(time_dependent_auc(y_train, y, risk, horizons)))
    if survival is not None:
        out["integrated_brier"] = integrated_brier(y_train, y, survival, times)
    return out


def survival_metrics(
    y_train, y, risk, horizons, survival=None, times=None, n_bootstrap=200, alpha=0.05, seed=0
):
    """Point estimates and percentile bootstrap CIs of the survival metrics on ``y``.

    Parameters
    ----------
    y_train : structured ndarray
        Training patients' (event, time): the censoring weights of Uno's C, the AUC and Brier.
    y : structured ndarray
        Validation patients' (event, time).
    risk : array-like of shape (n_samples,)
    horizons : array-like of float
        Times of the time-dependent AUC (its mean is reported) and the truncation of Uno's C.
    survival, times : ndarray, optional
        ``survival[i, j] = S_i(times[j])`` for the integrated Brier score.
    n_bootstrap : int, default=200
        Resamples of the validation patients (stratified by event).
    alpha : float, default=0.05
    seed : int, default=0

    Returns
    -------
    pandas.DataFrame
        Index: the metrics; columns ``estimate``, ``low``, ``high``.
    """
    event, _ = check_survival_target(y)
    risk = np.asarray(risk, dtype=float)
    point = _point(y_train, y, risk, survival, times, horizons)
    draws = {name: [] for name in point}
    rng = np.random.RandomState(seed)
    for ix in _bootstrap_indices(event, n_bootstrap, rng):
        try:
            est = _point(
                y_train,
                y[ix],
                risk[ix],
                None if survival is None else survival[ix],
                times,
                horizons,
            )
        except (InputError, ValueError):  # a resample whose follow-up misses a horizon
            continue
        for name, value in est.items():
            draws[name].append(value)
    rows = {
        name: {
            "estimate": value,
            "low": float(np.quantile(draws[name], alpha / 2)) if draws[name] else np.nan,
            "high": float(np.quantile(draws[name], 1 - alpha / 2)) if draws[name] else np.nan,
        }
        for name, value in point.items()
    }
    return pd.DataFrame(rows).T[["estimate", "low", "high"]]


def paired_survival_bootstrap(y, risk_a, risk_b, n_bootstrap=1000, alpha=0.05, seed=0):
    """Difference of Harrell's C of two risks on the same patients, with a paired bootstrap CI.

    Returns
    -------
    dict
        ``difference`` (a minus b), ``low``, ``high``, ``p_better`` (share of resamples where
        a beats b).
    """
    event, time = check_survival_target(y)
    a, b = _risk(risk_a, time.size, "risk_a"), _risk(risk_b, time.size, "risk_b")
    diff = harrell_c(y, a) - harrell_c(y, b)
    rng = np.random.RandomState(seed)
    draws = np.array(
        [
            harrell_c(y[ix], a[ix]) - harrell_c(y[ix], b[ix])
            for ix in _bootstrap_indices(event, n_bootstrap, rng)
        ]
    )
    return {
        "difference": float(diff),
        "low": float(np.quantile(draws, alpha / 2)),
        "high": float(np.quantile(draws, 1 - alpha / 2)),
        "p_better": float((draws > 0).mean()),
    }
