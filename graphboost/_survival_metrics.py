"""What a survival prediction is read with: step functions and Harrell's concordance index.

Written in NumPy so that ``graphboost`` needs no survival package; the conventions are
scikit-survival's (``sksurv.functions.StepFunction``,
``sksurv.metrics.concordance_index_censored``), against which the tests check them.
"""

from __future__ import annotations

import numpy as np


class StepFunction:
    """A right-continuous step function ``f(t) = a * y[i] + b`` for ``x[i] <= t < x[i + 1]``.

    Parameters
    ----------
    x : ndarray of shape (n_points,)
        Where the steps are, ascending.
    y : ndarray of shape (n_points,)
        The value from each step on.
    a : float, default=1.0
        Factor applied to ``y``.
    b : float, default=0.0
        Offset added to ``a * y``.
    left : float, default=None
        The value before the first step (``t < x[0]``): 1 for a survival function, 0 for a
        cumulative hazard. None takes ``a * y[0] + b``, as scikit-survival does.
    domain : tuple of (float, float or None), default=(0, None)
        Where the function may be evaluated; None for the upper end is ``x[-1]``.

    Examples
    --------
    >>> import numpy as np
    >>> from graphboost import StepFunction
    >>> f = StepFunction(np.array([1.0, 3.0]), np.array([0.9, 0.5]), left=1.0)
    >>> f([0.5, 1.0, 2.0, 3.0]).tolist()
    [1.0, 0.9, 0.9, 0.5]
    """

    def __init__(self, x, y, *, a=1.0, b=0.0, left=None, domain=(0, None)):
        self.x = np.asarray(x, dtype=np.float64)
        self.y = np.asarray(y, dtype=np.float64)
        if self.x.shape != self.y.shape or self.x.ndim != 1 or self.x.size == 0:
            raise ValueError(
                "x and y of a StepFunction must be non-empty 1-D arrays of the same length; got "
                f"shapes {self.x.shape} and {self.y.shape}."
            )
        self.a = a
        self.b = b
        self.left = left
        upper = self.x[-1] if domain[1] is None else domain[1]
        self.domain = (float(domain[0]), float(upper))

    def __call__(self, t):
        """The values at the times ``t`` (a float for a scalar ``t``).

        Raises
        ------
        ValueError
            When a time is not finite or lies outside ``domain``.
        """
        scalar = np.ndim(t) == 0
        t = np.atleast_1d(np.asarray(t, dtype=np.float64))
        if not np.isfinite(t).all():
            raise ValueError("The times at which a StepFunction is evaluated must be finite.")
        if t.min() < self.domain[0] or t.max() > self.domain[1]:
            raise ValueError(
                f"The times must lie within the domain [{self.domain[0]:g}, {self.domain[1]:g}] "
                f"of the StepFunction (the training follow-up); got [{t.min():g}, {t.max():g}]."
            )
        i = np.searchsorted(self.x, t, side="right") - 1
        value = self.a * self.y[np.maximum(i, 0)] + self.b
        if self.left is not None:
            value = np.where(i < 0, self.left, value)
        return float(value[0]) if scalar else value

    def __repr__(self):
        return f"StepFunction(x=<{self.x.shape[0]} times>, a={self.a!r}, b={self.b!r})"

    def __eq__(self, other):
        return (
            isinstance(other, StepFunction)
            and np.array_equal(self.x, other.x)
            and np.array_equal(self.y, other.y)
            and (self.a, self.b, self.left, self.domain)
            == (other.a, other.b, other.left, other.domain)
        )

    __hash__ = None


def concordance_index(event, time, risk):
    """Harrell's concordance index of the risk scores ``risk`` (higher = earlier event).

    A pair is comparable when the patient with the shorter time had the event (or both share
    the time, one with the event and one censored; the event counts as first). It is concordant
    when that patient has the higher risk; tied risks count one half. As
    ``sksurv.metrics.concordance_index_censored`` with exact ties (``tied_tol=0``). O(N log N).

    Parameters
    ----------
    event : ndarray of shape (n_samples,), dtype bool
    time : ndarray of shape (n_samples,)
    risk : ndarray of shape (n_samples,)

    Returns
    -------
    cindex : float
        NaN when no pair is comparable.
    """
    event = np.asarray(event, dtype=bool)
    time = np.asarray(time, dtype=np.float64)
    risk = np.asarray(risk, dtype=np.float64)
    # tau orders the pairs: j comes after the event i when tau_j > tau_i (an event at time t is
    # 2 * rank(t), a censoring at t is 2 * rank(t) + 1, so it comes after events at t).
    time_rank = np.unique(time, return_inverse=True)[1].ravel()
    tau = 2 * time_rank + (~event)
    risk_rank = np.unique(risk, return_inverse=True)[1].ravel()
    n = time.shape[0]
    # Sorted by tau, then by risk: a later patient of the same tau never has a lower risk.
    order = np.lexsort((risk_rank, tau))
    smaller_after = np.empty(n, dtype=np.int64)
    smaller_after[order] = _count_smaller_after(risk_rank[order])
    # Equal risks after in tau: per risk value, the patients sorted by tau.
    key = np.sort(risk_rank * (2 * n + 2) + tau)
    own = risk_rank * (2 * n + 2) + tau
    equal_after = np.searchsorted(key, (risk_rank + 1) * (2 * n + 2), "left") - np.searchsorted(
        key, own, "right"
    )
    comparable = n - np.searchsorted(np.sort(tau), tau, "right")
    total = comparable[event].sum()
    if total == 0:
        return float("nan")
    return float((smaller_after[event].sum() + 0.5 * equal_after[event].sum()) / total)


def _count_smaller_after(values):
    """For each position p, how many later positions hold a strictly smaller value.

    Bottom-up merge counting: at each level the blocks of width ``w`` are sorted, and each value
    of a left block is searched among its right neighbor block, all blocks at once (a block's
    values are offset by its index times ``m`` so that the concatenation stays sorted).
    """
    n = values.shape[0]
    counts = np.zeros(n, dtype=np.int64)
    m = int(values.max(initial=0)) + 1
    positions = np.arange(n)
    width = 1
    blocks = values.astype(np.int64)  # sorted within blocks of the current width
    while width < n:
        block = positions // width
        keys = blocks + block * m
        left = (block % 2 == 0) & ((block + 1) * width < n)
        right_start = np.minimum((block[left] + 1) * width, n)
        found = np.searchsorted(keys, values[left] + (block[left] + 1) * m, "left")
        counts[left] += found - right_start
        width *= 2
        blocks = np.sort(values + (positions // width) * m) - (positions // width) * m
    return counts


def kaplan_meier(time, event):
    """Kaplan-Meier estimate of the survival function of the patients ``(time, event)``.

    As ``sksurv.nonparametric.kaplan_meier_estimator(event, time)``: the survival just after
    each distinct time (censoring times included, where it does not change), the product of
    ``1 - d / n`` over the event times up to it (``d`` events among ``n`` patients at risk).

    Parameters
    ----------
    time : array-like of shape (n_samples,)
        Follow-up times.
    event : array-like of shape (n_samples,)
        Whether each follow-up ended with the event.

    Returns
    -------
    times : ndarray of shape (n_times,)
        The distinct times, ascending.
    survival : ndarray of shape (n_times,)
        The estimate from each time on.

    Examples
    --------
    >>> from graphboost._survival_metrics import kaplan_meier
    >>> times, survival = kaplan_meier([1.0, 2.0, 2.0, 3.0], [True, False, True, False])
    >>> times.tolist(), survival.round(3).tolist()
    ([1.0, 2.0, 3.0], [0.75, 0.5, 0.5])
    """
    time = np.asarray(time, dtype=np.float64).ravel()
    event = np.asarray(event, dtype=bool).ravel()
    if time.shape != event.shape or time.size == 0:
        raise ValueError(
            "time and event of a Kaplan-Meier estimate must be non-empty and of one length; got "
            f"{time.shape[0]} and {event.shape[0]}."
        )
    order = np.argsort(time, kind="stable")
    t, e = time[order], event[order]
    first = np.flatnonzero(np.r_[True, t[1:] != t[:-1]])
    deaths = np.add.reduceat(e.astype(np.float64), first)
    at_risk = t.shape[0] - first
    return t[first], np.cumprod(1.0 - deaths / at_risk)


def kaplan_meier_function(time, event):
    """The Kaplan-Meier estimate as a :class:`StepFunction` (1 before the first time, defined
    up to the last follow-up time)."""
    times, survival = kaplan_meier(time, event)
    return StepFunction(times, survival, left=1.0)


def survival_at(function, horizon):
    """A Kaplan-Meier :class:`StepFunction` at ``horizon``; NaN beyond its last follow-up time
    unless the estimate reached 0 (the patients' follow-up ended before the horizon)."""
    if horizon <= function.domain[1]:
        return function(horizon)
    return 0.0 if function.y[-1] == 0 else float("nan")
