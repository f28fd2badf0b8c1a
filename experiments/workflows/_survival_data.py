"""A survival cohort from a table: its follow-up time and event columns, checked, and horizons.

The time and event columns are the outcome (never features): :func:`load_survival_cohort_table`
checks them (present, distinct, numeric, times finite and > 0, events 0/1, at least one event)
and returns the cohort of the other columns with the target ``features.survival_target`` makes.
Every message counts patients and names columns; none shows a patient's value.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .._base import InputError
from ._cohort import load_cohort

QUARTILES = (25, 50, 75)
"""Default horizons of a survival model card: these percentiles of the follow-up times."""


def _column(table, name, option, role):
    """The column ``name`` of the table, or an error naming the option and the columns."""
    if name not in table.columns:
        from features._common import named

        raise InputError(
            f"The {role} column {name!r} ({option}) is not in the table; its columns are "
            f"{named([str(c) for c in table.columns])}."
        )
    return table[name]


def _numbers(values, name, option, role):
    """A column as floats; text that is not a number is an error showing its forms only."""
    from features._common import value_forms

    numbers = pd.to_numeric(values, errors="coerce")
    text = values.notna() & numbers.isna()
    if text.any():
        raise InputError(
            f"The {role} column {name!r} ({option}) must hold numbers; {int(text.sum())} of "
            f"{len(values)} entries are text (written like {value_forms(values[text].unique())})."
        )
    return numbers.to_numpy(dtype=float)


def survival_columns(table, time, event):
    """The checked event (bool) and time (float) arrays of a table's outcome columns.

    Parameters
    ----------
    table : pandas.DataFrame
    time, event : str
        The follow-up time column (finite, > 0; to the event or the last follow-up) and the
        event column (1: the event happened at that time, 0: censored then).

    Returns
    -------
    structured ndarray
        Fields ``event`` and ``time`` (``features.survival_target``).

    Raises
    ------
    InputError
        A column absent, the same column given twice, a missing, negative, zero or infinite
        time, an event that is not 0/1, or no event at all: each names the option and counts the
        patients.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"days": [100.0, 250.0, 30.0], "died": [1, 0, 1]})
    >>> y = survival_columns(table, "days", "died")
    >>> y["event"].tolist(), y["time"].tolist()
    ([True, False, True], [100.0, 250.0, 30.0])
    >>> survival_columns(table.assign(died=[1, 2, 0]), "days", "died")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    experiments._base.InputError: The event column 'died' (--event) must hold 0 (censored) or 1 ...
    """
    from features import survival_target

    if time == event:
        raise InputError(
            f"--time and --event both name the column {time!r}; give the follow-up time and the "
            "event indicator, two columns."
        )
    t = _numbers(_column(table, time, "--time", "time"), time, "--time", "time")
    e = _numbers(_column(table, event, "--event", "event"), event, "--event", "event")
    n = t.size
    _check_missing(t, time, "--time", "time", "the follow-up time")
    if np.isinf(t).any():
        raise InputError(
            f"The time column {time!r} (--time) has {int(np.isinf(t).sum())} infinite times of "
            f"{n}; give each patient's follow-up time as a finite number."
        )
    if (t < 0).any():
        raise InputError(
            f"The time column {time!r} (--time) has {int((t < 0).sum())} negative times of {n}: "
            "a follow-up time runs from the start of follow-up to the event or the last visit "
            "and is > 0. Check how the column was computed (dates in the wrong order?)."
        )
    if (t == 0).any():
        raise InputError(
            f"The time column {time!r} (--time) has {int((t == 0).sum())} times equal to 0 of "
            f"{n}: a follow-up time must be > 0 (scikit-survival's metrics refuse 0). Drop those "
            "patients or give their time in a finer unit (days instead of months)."
        )
    _check_missing(e, event, "--event", "event", "the event indicator")
    bad = ~np.isin(e, (0.0, 1.0))
    if bad.any():
        codes = np.unique(e[bad])
        shown = (
            f"codes: {', '.join(f'{c:g}' for c in codes)}"
            if codes.size <= 5
            else f"{codes.size} distinct values; is it a time column?"
        )
        raise InputError(
            f"The event column {event!r} (--event) must hold 0 (censored) or 1 (the event); "
            f"{int(bad.sum())} of {n} patients have another value ({shown}). Recode it to 0/1 "
            "first (e.g. a competing event as 0)."
        )
    if not e.any():
        raise InputError(
            f"The event column {event!r} (--event) has no event: all {n} patients are censored "
            "(0), so there is nothing to learn a risk from. Check the column and its coding "
            "(1 = the event happened)."
        )
    return survival_target(e.astype(bool), t)


def _check_missing(values, name, option, role, what):
    missing = np.isnan(values)
    if missing.any():
        raise InputError(
            f"The {role} column {name!r} ({option}) is missing for {int(missing.sum())} of "
            f"{values.size} patients; each patient needs {what}. Drop those patients or fill "
            "the column first."
        )


def load_survival_cohort_table(data, *, time, event, id_column=None, exclude=(), **kwargs):
    """Read a cohort table whose outcome is a censored time, and check the outcome.

    Parameters
    ----------
    data : str, Path or pandas.DataFrame
        The table (CSV, TSV, Parquet, Excel), as for :func:`load_cohort`.
    time, event : str
        The follow-up time and event columns (see :func:`survival_columns`); neither is a
        feature.
    id_column : str, optional
    exclude : list of str, optional
        Other columns that are not features (dates, other outcomes).
    **kwargs
        Passed to :func:`load_cohort` (``scans``, ``decimal``, ...).

    Returns
    -------
    features.Cohort
        With no label (``y`` None) and the attributes ``survival`` (the structured target of
        :func:`survival_columns`, in the cohort's rows), ``time_column`` and ``event_column``.

    Examples
    --------
    >>> cohort = load_survival_cohort_table("gbsg.csv", time="rfstime", event="status")
    ... # doctest: +SKIP
    >>> int(cohort.survival["event"].sum())  # doctest: +SKIP
    299
    """
    from features import read_table

    decimal = kwargs.pop("decimal", ".")
    if isinstance(data, str | Path):
        data = read_table(data, id_column=id_column, decimal=decimal)
    y = survival_columns(data, time, event)
    cohort = load_cohort(
        data, label=None, id_column=id_column, exclude=[*exclude, time, event], **kwargs
    )
    cohort.survival, cohort.time_column, cohort.event_column = y, time, event
    return cohort


def check_horizons(horizons, time, option="--horizon"):
    """The horizons as floats, each inside the follow-up of the times ``time``.

    scikit-survival reads a time-dependent AUC and a Brier score only at times after the first
    follow-up time and before the last; a horizon outside is an error naming ``option`` and the
    range.

    Examples
    --------
    >>> import numpy as np
    >>> check_horizons([365, 730], np.array([30.0, 400, 900, 1200])).tolist()
    [365.0, 730.0]
    >>> check_horizons([1826], np.array([30.0, 400, 900, 1200]))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    experiments._base.InputError: --horizon 1826 is outside the follow-up of the training ...
    """
    values = []
    for h in horizons:
        try:
            value = float(h)
        except (TypeError, ValueError):
            value = np.nan
        if not np.isfinite(value) or value <= 0:
            raise InputError(f"{option} must be a positive number (a time); got {h!r}.")
        if value in values:
            raise InputError(f"{option} {value:g} is given twice; give each horizon once.")
        values.append(value)
    low, high = float(np.min(time)), float(np.max(time))
    outside = [v for v in values if not low < v < high]
    if outside:
        shown = ", ".join(f"{v:g}" for v in outside)
        raise InputError(
            f"{option} {shown} is outside the follow-up of the training patients: a horizon "
            f"must lie after the first time ({low:g}) and before the last ({high:g}). Give a "
            "horizon inside it."
        )
    return np.asarray(values, dtype=float)


def default_horizons(time):
    """The 25th, 50th and 75th percentiles of the follow-up times (rounded to 3 digits).

    Examples
    --------
    >>> import numpy as np
    >>> default_horizons(np.arange(1.0, 101.0)).tolist()
    [25.8, 50.5, 75.2]
    """
    return np.array([float(f"{q:.3g}") for q in np.percentile(time, QUARTILES)])


def horizon_name(horizon):
    """The output column of the survival probability at ``horizon``.

    Examples
    --------
    >>> horizon_name(1826.0), horizon_name(365.25)
    ('survival_at_1826', 'survival_at_365.25')
    """
    return f"survival_at_{float(horizon):g}"
