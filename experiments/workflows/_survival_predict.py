"""Predict and explain new patients with a survival model folder.

:func:`predict_survival` gives each patient's risk score, its rank among the training patients
and the survival probability at each horizon; :func:`explain_survival` the sources of the risk
score and how the patient's training neighbors fared, in numbers and in words. A horizon past the
training follow-up is refused, as scikit-survival refuses a time outside its training range.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._base import InputError
from ..clinical._survival_explanations import risk_percentile, survival_explanation_words
from ..clinical._typicality import add_input_flags
from ._predict import (
    _as_folder,
    _invalid_values,
    _new_patients,
    _observed_flags,
    with_modalities_and_ids,
)
from ._survival_data import horizon_name
from ._survival_fit import TASK


def is_survival_model(folder):
    """Whether a loaded model folder holds a survival model (``cohort.json``'s ``task``)."""
    return folder.spec.get("task") == TASK


def _survival_folder(model):
    folder = _as_folder(model)
    if not is_survival_model(folder):
        raise InputError(
            f"'{folder.path}' holds a classifier (label {folder.spec.get('label')!r}), not a "
            "survival model: --horizon goes with a model fitted with --time and --event."
        )
    return folder


def check_predict_horizons(folder, horizons, option="--horizon"):
    """The horizons of a prediction: each a time from 0 up to the training follow-up's end.

    Without horizons, the model card's (``cohort.json``'s ``horizons``).
    """
    last = float(folder.spec["follow_up"]["last"])
    if horizons is None or len(horizons) == 0:
        return np.asarray(folder.spec["horizons"], dtype=float)
    values = []
    for h in horizons:
        try:
            value = float(h)
        except (TypeError, ValueError):
            value = np.nan
        if not np.isfinite(value) or value <= 0:
            raise InputError(f"{option} must be a positive number (a time); got {h!r}.")
        if value > last:
            raise InputError(
                f"{option} {value:g} is beyond the training follow-up, which ends at {last:g} "
                f"(in the unit of `{folder.spec['time_column']}`): the model estimates no "
                f"survival after it (scikit-survival refuses such times too). Give a horizon up "
                f"to {last:g}."
            )
        if value in values:
            raise InputError(f"{option} {value:g} is given twice; give each horizon once.")
        values.append(value)
    return np.asarray(values, dtype=float)


def predict_survival(
    model,
    data,
    *,
    horizons=None,
    scans=None,
    on_error="raise",
    invalid_values="raise",
    progress=True,
):
    """Risk score and survival probabilities of new patients.

    Parameters
    ----------
    model : ModelFolder, str or Path
        A survival model folder (``graphboost fit --time --event``).
    data : str, Path or pandas.DataFrame
        The new patients' table (the model's feature columns; a time or event column is
        ignored).
    horizons : list of float, optional
        Times at which to give the survival probability, each up to the end of the training
        follow-up; default the model card's horizons.
    scans, on_error, invalid_values, progress
        As for :func:`experiments.workflows.predict`.

    Returns
    -------
    pandas.DataFrame
        One row per patient in the table's order: the ID column (when the model has one),
        ``risk`` (log relative hazard: higher means an earlier event), ``risk_percentile`` (the
        share of training patients with a lower risk score, 0-100), ``survival_at_<h>`` per
        horizon (the probability of being free of the event at ``h``), and the flags of
        :func:`experiments.workflows.predict` (``no_observed_features``,
        ``invalid_as_missing``, ``missing_columns``, ``outside_training_range``) when they apply.

    Raises
    ------
    InputError
        A classifier folder, a horizon that is not a positive time or lies past the training
        follow-up, or a horizon given twice.

    Examples
    --------
    >>> predict_survival("model", "new.csv", horizons=[365, 1826])  # doctest: +SKIP
    """
    folder = _survival_folder(model)
    horizons = check_predict_horizons(folder, horizons)
    cohort, X = _new_patients(folder, data, scans, on_error, progress)
    with _invalid_values(folder, invalid_values) as pre:
        Xt = pre.transform(X)
    est = folder.model.named_steps["model"]
    risk = est.predict(Xt)
    out = pd.DataFrame(index=range(len(X)))
    idc = folder.spec["id_column"]
    if idc is not None:
        out[idc] = cohort.patient_ids.to_numpy()
    out["risk"] = risk
    out["risk_percentile"] = risk_percentile(risk, folder.spec["risk_percentiles"]).round(1)
    survival = np.vstack([f(horizons) for f in est.predict_survival_function(Xt)])
    for k, h in enumerate(horizons):
        out[horizon_name(h)] = survival[:, k]
    _observed_flags(folder, X, pre, out)
    add_input_flags(out, pre, X, folder.spec["feature_columns"])
    out.attrs["skipped_scans"] = list(cohort.skipped_scans)
    return out


def explain_survival(
    model,
    data,
    *,
    horizon=None,
    n_neighbors=5,
    scans=None,
    on_error="raise",
    invalid_values="raise",
    progress=True,
):
    """The sources of each new patient's risk score, and how its training neighbors fared.

    Parameters
    ----------
    model, data, scans, on_error, invalid_values, progress
        As for :func:`predict_survival`.
    horizon : float, optional
        The time at which survival is read (up to the end of the training follow-up); default
        the largest of the model card's horizons.
    n_neighbors : int, default=5
        Similar training patients listed per graph.

    Returns
    -------
    pandas.DataFrame
        :meth:`graphboost.GraphBoostSurvivalAnalysis.explain`'s rows (``patient``: the row in
        ``data``; the log hazard of each source, the survival at the horizon before and after
        it, the neighborhood's Kaplan-Meier survival at the horizon beside the cohort's), with
        the patient's ID first when the model has an ID column, ``modality`` after ``graph``,
        ``risk_percentile`` (as in :func:`predict_survival`), ``text`` (the source in words)
        and ``similar_patients`` (IDs when the folder keeps them, else ``row <n>``).
        ``attrs``: ``id_column``, ``event``, ``horizon``, ``modality_shares`` and
        ``mean_modality_shares`` (as :func:`experiments.workflows.explain`), ``skipped_scans``.

    Examples
    --------
    >>> explain_survival("model", "new.csv", horizon=1826)  # doctest: +SKIP
    """

    folder = _survival_folder(model)
    h = check_predict_horizons(folder, None if horizon is None else [horizon]).max()
    cohort, X = _new_patients(folder, data, scans, on_error, progress)
    with _invalid_values(folder, invalid_values) as pre:
        Xt = pre.transform(X)
    Xt = Xt.reset_index(drop=True) if isinstance(Xt, pd.DataFrame) else Xt
    est = folder.model.named_steps["model"]
    expl = est.explain(Xt, n_neighbors=n_neighbors, horizon=float(h))
    expl = survival_explanation_words(
        expl, pre, training_ids=_training_ids(folder, est), event=folder.spec["event_column"]
    )
    risk = expl.groupby("patient")["risk_after"].transform("last")
    expl["risk_percentile"] = risk_percentile(risk, folder.spec["risk_percentiles"]).round(1)
    return with_modalities_and_ids(expl, folder, cohort)


def _training_ids(folder, est):
    """The training patients' IDs where the folder keeps them (``cv_predictions.csv`` of a fit
    with ``--keep-ids``), else None."""
    idc = folder.spec["id_column"]
    path = folder.path / "cv_predictions.csv"
    if idc is None or not path.is_file():
        return None
    table = pd.read_csv(path, dtype=str, keep_default_na=False, usecols=lambda c: c == idc)
    times = getattr(est, "train_time_", None)
    n_train = len(table) if times is None else len(times)
    if idc not in table.columns or len(table) != n_train:
        return None
    return table[idc].to_numpy(dtype=object)
