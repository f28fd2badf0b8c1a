"""Fit GraphBoostSurvivalAnalysis on a censored outcome and write a model folder.

The survival twin of :func:`experiments.workflows.fit_model_folder`: the same folder layout
(``features.ClinicalPreprocessor`` + the estimator, saved as JSON and tensors with checksums), a
``cohort.json`` that says ``"task": "survival"`` with the time and event columns, the horizons
and the training follow-up, and a model card with Harrell's and Uno's C, the time-dependent AUC
and the integrated Brier score, and the calibration at a horizon, all on out-of-fold predictions
of a cross-validation (``cv``) beside a ridge Cox model.
"""

from __future__ import annotations

import time as _time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .._base import InputError, RunFolder
from ..clinical._survival import survival_calibration, survival_metrics, time_dependent_auc
from ..clinical._survival_card import survival_model_card
from ..evaluation._dataset import BLOCK_COMPONENTS, dataset_from_cohort
from ..methods._survival_methods import event_stratified_folds, make_survival_pipeline
from ..modelfolder._extras import check_cv_folds, write_extras
from ..modelfolder._folder import check_replaceable, save_model_folder
from ._cohort import SCAN_ENCODER, SKIPPED_SCANS
from ._fit import ROW_COLUMN, scan_spec
from ._survival_data import check_horizons, default_horizons, horizon_name

CV_METHODS = ("graphboost", "ridge_cox")
"""Methods cross-validated for the model card: the saved model and its comparator."""

CV_NAMES = {"graphboost": "GraphBoostSurvivalAnalysis", "ridge_cox": "ridge Cox (sksurv)"}

TASK = "survival"
"""``cohort.json``'s ``task`` of a survival model folder."""


@dataclass
class SurvivalCrossValidation:
    """Out-of-fold predictions of :func:`survival_cross_validate` and their metrics.

    Attributes
    ----------
    n_splits, random_state : int
    horizons : ndarray
        Times of the time-dependent AUC (and of ``survival``).
    calibration_horizon : float
        The largest horizon: where the calibration is read.
    times : ndarray
        The grid of the integrated Brier score (10th to 80th percentile of the follow-up).
    risks : dict of str to ndarray
        Method -> out-of-fold risk score.
    survival : dict of str to ndarray
        Method -> out-of-fold survival probability at each horizon, shape (n, n_horizons).
    metrics : pandas.DataFrame
        Index (method, metric); columns ``estimate``, ``low``, ``high`` (bootstrap 95% CI).
    td_auc : pandas.DataFrame
        Method x horizon: the time-dependent AUC at each horizon.
    calibration : dict of str to dict
        Method -> :func:`experiments.clinical.survival_calibration` at ``calibration_horizon``.
    fold_c : dict of str to list of float
        Method -> Harrell's C in each test fold.
    """

    n_splits: int
    random_state: int
    horizons: np.ndarray
    calibration_horizon: float
    times: np.ndarray
    risks: dict = field(default_factory=dict)
    survival: dict = field(default_factory=dict)
    metrics: pd.DataFrame | None = None
    td_auc: pd.DataFrame | None = None
    calibration: dict = field(default_factory=dict)
    fold_c: dict = field(default_factory=dict)


@dataclass
class FittedSurvivalModel:
    """What :func:`fit_survival_model_folder` returns: the folder, the fitted pipeline, the
    cross-validation (or None) and the horizons of the card."""

    path: Path
    model: object
    cv: SurvivalCrossValidation | None
    horizons: np.ndarray


def survival_at(pipe, X, times):
    """Each patient's survival at ``times`` (n x len(times)) predicted by a fitted pipeline
    (preprocessor, then a survival estimator); a time past the end of the model's follow-up
    reads its last value (the curve is flat there)."""
    functions = pipe[-1].predict_survival_function(pipe[:-1].transform(X))
    out = np.empty((len(functions), len(times)))
    for i, f in enumerate(functions):
        out[i] = f(np.minimum(times, f.domain[1]))
    return out


def _brier_grid(time):
    return np.unique(np.percentile(time, np.linspace(10, 80, 15)))


def survival_cross_validate(
    ds, n_splits, horizons, *, params=None, random_state=0, n_bootstrap=200
):
    """Out-of-fold risks and survival of GraphBoostSurvivalAnalysis and a ridge Cox model.

    Folds are stratified on the event (:func:`experiments.methods.event_stratified_folds`);
    each method's pipeline (preprocessor and estimator) is fitted inside each training fold.

    Parameters
    ----------
    ds : features.Task
        A survival task (``y`` structured: event, time).
    n_splits : int
    horizons : array-like of float
        Checked inside the follow-up.
    params : dict, optional
        GraphBoostSurvivalAnalysis parameters.
    random_state : int, default=0
    n_bootstrap : int, default=200
        Bootstrap resamples of the confidence intervals.

    Returns
    -------
    SurvivalCrossValidation
    """
    y = ds.y
    horizons = np.asarray(horizons, dtype=float)
    grid = _brier_grid(y["time"])
    cv = SurvivalCrossValidation(n_splits, random_state, horizons, float(horizons.max()), grid)
    folds = event_stratified_folds(y, n_splits, random_state)
    times = np.concatenate([horizons, grid])
    tables = {}
    for name in CV_METHODS:
        risk, surv, fold_c = np.empty(y.size), np.empty((y.size, times.size)), []
        for train, test in folds:
            pipe = _pipeline(name, ds, params, random_state)
            pipe.fit(ds.X.iloc[train], y[train])
            risk[test] = pipe.predict(ds.X.iloc[test])
            surv[test] = survival_at(pipe, ds.X.iloc[test], times)
            fold_c.append(_harrell(y[test], risk[test]))
        cv.risks[name], cv.survival[name] = risk, surv[:, : horizons.size]
        cv.fold_c[name] = fold_c
        tables[name] = _metrics(cv, name, y, risk, surv[:, horizons.size :], n_bootstrap)
    cv.metrics = pd.concat(tables, names=["method", "metric"])
    return cv


def _harrell(y, risk):
    from ..clinical._survival import harrell_c

    return harrell_c(y, risk)


def _metrics(cv, name, y, risk, brier_survival, n_bootstrap):
    """The metrics table of one method; its AUC by horizon and calibration into ``cv``."""
    table = survival_metrics(
        y, y, risk, cv.horizons, survival=brier_survival, times=cv.times,
        n_bootstrap=n_bootstrap, seed=cv.random_state,
    )  # fmt: skip
    auc = time_dependent_auc(y, y, risk, cv.horizons)
    row = pd.DataFrame([auc], index=[name], columns=cv.horizons)
    cv.td_auc = row if cv.td_auc is None else pd.concat([cv.td_auc, row])
    h = list(cv.horizons).index(cv.calibration_horizon)
    s = np.clip(cv.survival[name][:, h], 1e-9, 1 - 1e-9)
    cv.calibration[name] = survival_calibration(y, s, cv.calibration_horizon)
    return table


def _pipeline(name, ds, params, random_state):
    return make_survival_pipeline(
        name,
        params if name == "graphboost" else None,
        random_state,
        feature_groups=ds.feature_groups if name == "graphboost" else None,
        preprocessor=ds.preprocessor,
    )


# Over 60 lines only by its docstring (fifteen parameters); the body is 35 lines.
def fit_survival_model_folder(
    cohort,
    output,
    *,
    params=None,
    groups=None,
    cv=0,
    horizons=None,
    random_state=0,
    scan_shape=64,
    block_components=BLOCK_COMPONENTS,
    overwrite=False,
    source="cohort",
    keep_ids=False,
    n_bootstrap=200,
    tuning=None,
):
    """Fit the preprocessor and GraphBoostSurvivalAnalysis on a survival cohort; write a folder.

    Parameters
    ----------
    cohort : features.Cohort
        From :func:`load_survival_cohort_table` (its ``survival`` target).
    output : str or Path
        Model folder to write; it appears complete or not at all.
    params : dict, optional
        GraphBoostSurvivalAnalysis parameters.
    groups : dict, optional
        Named blocks of columns (one candidate graph each), as for ``fit_model_folder``.
    cv : int, default=0
        With ``cv >= 2``, cross-validate (folds stratified on the event) GraphBoostSurvivalAnalysis
        and a ridge Cox model: the model card reports Harrell's and Uno's C, the time-dependent
        AUC at the horizons, the integrated Brier score and the calibration at the largest
        horizon on their out-of-fold predictions (``cv_predictions.csv``).
    horizons : list of float, optional
        Times of the card's AUC and calibration (inside the follow-up); default the quartiles
        of the follow-up times (:func:`default_horizons`).
    random_state, scan_shape, block_components, overwrite, source
        As for ``fit_model_folder``.
    keep_ids : bool, default=False
        Write the patient IDs in ``cv_predictions.csv`` (else their rows in the table).
    n_bootstrap : int, default=200
        Bootstrap resamples of the card's confidence intervals.
    tuning : dict, optional
        The Optuna search that chose ``params`` on this cohort (``study``, ``n_complete``,
        ``inner_splits``, ``best_trial``, ``inner_c``): the card reports it and calls the
        cross-validated figures optimistic.

    Returns
    -------
    FittedSurvivalModel

    Examples
    --------
    >>> from experiments import workflows
    >>> cohort = workflows.load_survival_cohort_table("gbsg.csv", time="rfstime", event="status")
    ... # doctest: +SKIP
    >>> fitted = workflows.fit_survival_model_folder(cohort, "model", cv=5, horizons=[1826])
    ... # doctest: +SKIP
    """
    y = _target(cohort)
    check_cv_folds(cv)
    _check_keep_ids(keep_ids, cohort, cv)
    horizons = check_horizons(default_horizons(y["time"]) if horizons is None else horizons,
                              y["time"])  # fmt: skip
    check_replaceable(output, overwrite)
    folder = RunFolder(Path(output).resolve(), overwrite=overwrite)
    ds = dataset_from_cohort(cohort, source, groups, block_components=block_components, target=y)
    cv_result = None
    if cv:
        cv_result = survival_cross_validate(
            ds, cv, horizons, params=params, random_state=random_state, n_bootstrap=n_bootstrap
        )
    t0 = _time.perf_counter()
    pipe = _pipeline("graphboost", ds, params, random_state).fit(ds.X, y)
    seconds = _time.perf_counter() - t0
    spec = _spec(cohort, ds, params, random_state, scan_shape, horizons, pipe)
    held = _identifiers(cohort, cv_result, keep_ids)
    card = survival_model_card(
        source=source, spec=spec, model=pipe[-1], cv=cv_result, names=CV_NAMES,
        identifiers=held, version=_version(), tuning=tuning,
    )  # fmt: skip
    report = _report(source, spec, pipe[-1], seconds)
    extra = {}
    if cv_result is not None:
        extra["cv_predictions.csv"] = _cv_frame(cohort, y, cv_result, keep_ids)
    if getattr(cohort, "skipped_scans", None):
        extra[SKIPPED_SCANS] = pd.DataFrame({"file": cohort.skipped_scans})
    with folder:
        save_model_folder(folder.staging, pipe, spec, report, extra)
        if spec["scans"] and spec["scans"]["encoder"]:
            from features import save_encoder

            save_encoder(cohort.scan_encoder["encoder"], folder.staging / SCAN_ENCODER)
        write_extras(folder.staging, {}, card)
    return FittedSurvivalModel(folder.path, pipe, cv_result, horizons)


def _target(cohort):
    y = getattr(cohort, "survival", None)
    if y is None:
        raise InputError(
            "The cohort has no survival target; load it with load_survival_cohort_table "
            "(graphboost fit --time COL --event COL)."
        )
    return y


def _check_keep_ids(keep_ids, cohort, cv):
    if keep_ids and (cohort.id_column is None or not cv):
        raise InputError(
            "keep_ids (--keep-ids) writes the patient IDs in cv_predictions.csv, so it needs an "
            "ID column (--id-column) and a cross-validation (--cv K); leave it off otherwise."
        )


def _version():
    from graphboost import __version__

    return __version__


def _identifiers(cohort, cv, keep_ids):
    held = {}
    if cv is not None and keep_ids:
        held["cv_predictions.csv"] = (
            f"each patient's ID (column `{cohort.id_column}`, kept as asked: `--keep-ids`) with "
            "the follow-up time, the event and the out-of-fold risks"
        )
    if getattr(cohort, "skipped_scans", None):
        held[SKIPPED_SCANS] = "the file names of the scans that could not be read"
    return held


def _cv_frame(cohort, y, cv, keep_ids):
    """Out-of-fold risks and survival with the outcome (``cv_predictions.csv``)."""
    frame = pd.DataFrame({"time": y["time"], "event": y["event"].astype(int)})
    if keep_ids:
        frame.insert(0, cohort.id_column, cohort.patient_ids.to_numpy())
    else:
        frame.insert(0, ROW_COLUMN, np.arange(len(frame)))
    for name in CV_METHODS:
        frame[f"{name}_risk"] = cv.risks[name]
        for k, h in enumerate(cv.horizons):
            frame[f"{name}_{horizon_name(h)}"] = cv.survival[name][:, k]
    return frame


def _spec(cohort, ds, params, random_state, scan_shape, horizons, pipe):
    """``cohort.json`` of a survival model folder."""
    y = ds.y
    train_risk = pipe.predict(ds.X)
    return {
        "task": TASK,
        "label": None,
        "time_column": cohort.time_column,
        "event_column": cohort.event_column,
        "id_column": cohort.id_column,
        "feature_columns": [str(c) for c in ds.X.columns],
        "feature_groups": {k: [str(c) for c in v] for k, v in ds.feature_groups.items()},
        "classes": [],
        "params": {k: list(v) if isinstance(v, tuple) else v for k, v in (params or {}).items()},
        "random_state": random_state,
        "scans": scan_spec(cohort, scan_shape),
        "horizons": [float(h) for h in horizons],
        "n_patients": int(y.size),
        "n_events": int(y["event"].sum()),
        "follow_up": {"first": float(y["time"].min()), "last": float(y["time"].max())},
        "risk_percentiles": [float(v) for v in np.percentile(train_risk, np.arange(101))],
    }


def _report(source, spec, model, seconds):
    lines = [
        "# graphboost survival model report",
        "",
        f"- Cohort: `{source}`, {spec['n_patients']} patients, {spec['n_events']} events "
        f"(`{spec['event_column']}` = 1), follow-up `{spec['time_column']}` from "
        f"{spec['follow_up']['first']:g} to {spec['follow_up']['last']:g}",
        f"- Fit time: {seconds:.1f} s; rounds: {len(model.selected_graphs_)}; weight of the "
        f"boosted score (boost_scale_): {model.boost_scale_:g}",
        "",
        "## Selected graphs (rounds in order)",
        "",
        "| round | graph | gain |",
        "|---|---|---|",
    ]
    for i, (g, gain) in enumerate(zip(model.selected_graphs_, model.train_gains_, strict=False)):
        lines.append(f"| {i + 1} | {getattr(g, 'name', g)} | {float(gain):.4f} |")
    return "\n".join([*lines, ""])
