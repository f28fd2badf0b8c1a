"""Predict and explain new patients with a saved model folder."""

from __future__ import annotations

import warnings
from contextlib import contextmanager

import numpy as np
import pandas as pd

from .._base import InputError
from ..clinical._explanations import explanation_words
from ..clinical._typicality import add_input_flags
from ..evaluation._dataset import (
    block_indicators,
)
from ..modelfolder._extras import (
    add_threshold_and_set,
    add_typicality,
    check_predict_options,
    probabilities,
    read_extras,
)
from ..modelfolder._folder import (
    ModelFolder,
    load_model_folder,
)
from ._cohort import load_cohort
from ._scans import unmatched_scans
from ._supervised_scans import SCAN_FILE_COLUMN, attach_scans

NO_OBSERVED = "no_observed_features"
"""Column of :func:`predict`'s output (when needed): True for a patient with no observed value."""


def _as_folder(model):
    return model if isinstance(model, ModelFolder) else load_model_folder(model)


def _classifier_folder(model):
    """The loaded folder of a classifier; a survival model folder is an error naming its
    functions."""
    folder = _as_folder(model)
    if folder.spec.get("task") == "survival":
        raise InputError(
            f"'{folder.path}' holds a survival model (fitted with --time and --event); use "
            "predict_survival and explain_survival (graphboost predict/explain --horizon T)."
        )
    return folder


def _new_patients(folder, data, scans, on_error, progress=True):
    """The cohort of new patients and the model's feature columns of it."""
    scan_spec = folder.spec.get("scans")
    if scan_spec and scans is None:
        raise InputError("This model was fitted with scans; pass the scans of the new patients.")
    if scans is not None and not scan_spec:
        warnings.warn("This model was fitted without scans; the scans are not used.", stacklevel=3)
        scans = None
    if scan_spec and scan_spec.get("embedder") == "supervised":
        return _supervised_patients(folder, data, scans, on_error, progress)
    encoder = (scan_spec or {}).get("encoder")
    cohort = load_cohort(
        data,
        id_column=folder.spec["id_column"],
        scans=scans,
        scan_shape=scan_spec["shape"] if scan_spec else 64,
        on_error=on_error,
        scan_pretrain_seconds=0,  # new patients: the fitted encoder, or the seeded random one
        scan_encoder=folder.path / encoder if encoder else None,
        progress=progress,
    )
    return cohort, folder.features(block_indicators(cohort))


def _supervised_patients(folder, data, scans, on_error, progress):
    """The new patients of a model with the supervised scan block: their scans read once, the
    block given by the saved embedder (the mean of its fold encoders), NaN and
    ``"scans:missing"`` = 1 for a patient without a usable scan."""
    from features import load_supervised_embedder

    spec = folder.spec["scans"]
    try:
        embedder = load_supervised_embedder(folder.path / spec["supervised"])
    except (OSError, ValueError) as exc:
        raise InputError(f"Cannot load the scan block of '{folder.path}': {exc}") from exc
    cohort = load_cohort(data, id_column=folder.spec["id_column"], progress=progress)
    attach_scans(
        cohort, scans, spec["block"], shape=spec["shape"], on_error=on_error, progress=progress
    )
    cohort.unmatched_scans, message = unmatched_scans(cohort, spec["block"])
    if message:
        warnings.warn(message, UserWarning, stacklevel=4)
    X = block_indicators(cohort)
    X[SCAN_FILE_COLUMN] = pd.Series(cohort.scan_files, index=X.index, dtype=object)
    needed = [str(c) for c in embedder.feature_names_in_]
    missing = [c for c in needed if c not in X.columns]
    if missing:
        more = f" (and {len(missing) - 5} more)" if len(missing) > 5 else ""
        raise InputError(
            f"Columns missing from the cohort table: {missing[:5]}{more}; the model was "
            "fitted with them."
        )
    return cohort, folder.features(embedder.transform(X[needed]))


@contextmanager
def _invalid_values(folder, invalid_values):
    """The model's preprocessor with ``invalid_values`` set for one call (then restored)."""
    if invalid_values not in ("raise", "missing"):
        raise InputError(f"invalid_values must be 'raise' or 'missing'; got {invalid_values!r}.")
    pre = folder.model.named_steps["preprocess"]
    before = pre.get_params()["invalid_values"]
    pre.set_params(invalid_values=invalid_values)
    try:
        yield pre
    finally:
        pre.set_params(invalid_values=before)


def _observed_flags(folder, X, pre, out):
    """Add ``no_observed_features`` (and, when any, where values were not numbers) to ``out``."""
    invalid = pre.find_invalid_values(X)
    indicators = {f"{name}:missing" for name in folder.spec["feature_groups"]}
    observed = X[[c for c in X.columns if c not in indicators]].notna()
    checked = [c for c in invalid.columns if c in observed.columns]
    observed[checked] &= ~invalid[checked]
    none_observed = ~observed.any(axis=1).to_numpy()
    if invalid.to_numpy().any():
        names = np.asarray(invalid.columns, dtype=object)
        out["invalid_as_missing"] = [";".join(names[row]) for row in invalid.to_numpy()]
    n = int(none_observed.sum())
    if n:
        out[NO_OBSERVED] = none_observed
        warnings.warn(
            f"{n} patient(s) have no observed feature value (all missing or not numbers): "
            f"their predictions rest on imputed values only; see column {NO_OBSERVED!r}.",
            UserWarning,
            stacklevel=3,
        )


# Over 60 lines only by its docstring (seven parameters, the output columns); body 20 lines.
def predict(
    model,
    data,
    *,
    scans=None,
    on_error="raise",
    invalid_values="raise",
    alpha=None,
    typicality=False,
    progress=True,
):
    """Class probabilities and the predicted class of new patients.

    Parameters
    ----------
    model : ModelFolder, str or Path
        A model folder (loaded, or its path).
    data : str, Path or pandas.DataFrame
        The new patients' table (the model's feature columns, in any order).
    scans : str or Path, optional
        Their scans folder, when the model was fitted with scans.
    on_error : {"raise", "skip"}, default="raise"
        What an unreadable scan does.
    invalid_values : {"raise", "missing"}, default="raise"
        What a value that is not a number in a numeric column (``"fifty"`` in ``age``) does:
        an error naming the columns (count and examples per column), or it is treated as a
        missing value, with a warning and the column ``invalid_as_missing``.
    alpha : float in (0, 1), optional
        Add the class-conditional conformal set at error rate ``alpha`` (the set holds the true
        class with probability at least ``1 - alpha`` for patients like the training ones):
        ``prediction_set`` (classes joined by ``|``; empty: like neither class),
        ``set_size`` and ``uncertain`` (the set holds more than one class). Needs a model folder
        fitted with cross-validation (its out-of-fold predictions calibrate the sets).
    typicality : bool, default=False
        Add how typical each patient is (see ``experiments.clinical._typicality``): ``n_neighbors``,
        ``neighbor_majority``, ``neighbor_agreement``, ``distance_rank``, ``unlike_training``
        (farther from its neighbors in some selected graph than all but 1% of the training
        patients) and ``unlike_graphs``.
    progress : bool, default=True
        A progress bar (stderr) while the scans are embedded (only the table's patients').

    Returns
    -------
    pandas.DataFrame
        The ID column (when the model has one, IDs verbatim), ``proba_<class>`` per class,
        ``predicted``; when some patient has no observed feature value (every feature missing
        or not a number: the prediction rests on imputed values only), ``no_observed_features``
        (True for them) and a warning counting them; with ``invalid_values="missing"`` and
        values that were not numbers, ``invalid_as_missing`` (the columns of each row treated as
        missing, ``;``-separated). The probabilities are the recalibrated ones when the model
        was fitted with a calibration; ``predicted_at_threshold``: the class at the threshold
        the fit recorded (``threshold_target``), when it did.
        ``missing_columns`` (how many of the model's table columns have no value for the
        patient) when a column is empty for every patient, and ``outside_training_range`` (in
        how many numeric columns the value is beyond the training range by more than 10% of
        it; such a patient is also ``unlike_training``), each with a note naming the columns.
        One row per patient in the table's order. ``frame.attrs["skipped_scans"]`` lists the
        file names of the scans skipped with ``on_error="skip"``.
    """
    folder = _classifier_folder(model)
    extras = read_extras(folder.path)
    alpha = check_predict_options(extras, alpha)
    cohort, X = _new_patients(folder, data, scans, on_error, progress)
    with _invalid_values(folder, invalid_values) as pre:
        proba = probabilities(folder.model, extras, X)
        Xt = pre.transform(X) if typicality else None
    out = pd.DataFrame(index=range(len(X)))
    idc = folder.spec["id_column"]
    if idc is not None:
        out[idc] = cohort.patient_ids.to_numpy()
    for k, c in enumerate(folder.classes):
        out[f"proba_{c}"] = proba[:, k]
    out["predicted"] = np.asarray(folder.classes, dtype=object)[proba.argmax(axis=1)]
    add_threshold_and_set(out, folder.classes, proba, extras, alpha)
    if typicality:
        add_typicality(out, folder.classes, folder.model.named_steps["model"], Xt)
    _observed_flags(folder, X, pre, out)
    add_input_flags(out, pre, X, folder.spec["feature_columns"])
    out.attrs["skipped_scans"] = list(cohort.skipped_scans)
    return out


def explain(
    model,
    data,
    *,
    scans=None,
    n_neighbors=5,
    on_error="raise",
    invalid_values="raise",
    progress=True,
):
    """Per-patient contributions of each selected graph, and the most similar training patients.

    Parameters
    ----------
    model, data, scans, on_error, invalid_values, progress
        As for :func:`predict`.
    n_neighbors : int, default=5
        Similar training patients listed per graph.

    Returns
    -------
    pandas.DataFrame
        ``GraphBoostClassifier.explain``'s rows (``patient``: the row in ``data``), with the
        patient's ID first when the model has an ID column, the source in words (``text``, with
        the values in the table's units, see ``experiments.clinical.explanation_words``) and the
        similar training patients (``similar_patients``: their IDs when the model folder holds
        them, fitted with ``keep_ids``, else ``row <n>``, their row in the training table,
        counted from 0 at the first row below the header); ``attrs["id_column"]`` names the ID
        column (``experiments.clinical.explanation_text`` lays a patient out as text), and the
        ``modality`` of each source after ``graph`` (``"init"``,
        ``"clinical"`` for the table's columns, the block's name for a block such as the scans;
        the default rule of :func:`graphboost.modality_shares`).
        ``frame.attrs["modality_shares"]``: modality -> {patient -> share of the score}
        (patients by ID when the model has an ID column, else by row; each patient's shares
        sum to 1; ``pandas.DataFrame(frame.attrs["modality_shares"])`` is the table);
        ``frame.attrs["mean_modality_shares"]``: modality -> mean share over the patients.
        ``frame.attrs["skipped_scans"]`` as for :func:`predict`. The attrs hold plain dicts and
        lists, so ``pandas.concat`` of two explanations works.
    """

    folder = _classifier_folder(model)
    cohort, X = _new_patients(folder, data, scans, on_error, progress)
    with _invalid_values(folder, invalid_values) as pre:
        Xt = pre.transform(X)
    Xt = Xt.reset_index(drop=True) if isinstance(Xt, pd.DataFrame) else Xt  # patient: the row
    expl = folder.model.named_steps["model"].explain(Xt, n_neighbors=n_neighbors)
    binary = len(folder.classes) == 2
    outcome = f"{folder.spec['label']} = {folder.classes[-1]}" if binary else None
    expl = explanation_words(expl, pre, training_ids=_training_ids(folder), outcome=outcome)
    return with_modalities_and_ids(expl, folder, cohort)


def with_modalities_and_ids(expl, folder, cohort):
    """An explanation table with each graph's modality, the patients' IDs (where the model
    folder has an ID column) and, in ``attrs``, the modality shares and the skipped scans;
    shared by the classifier's and the survival model's ``explain``."""
    from graphboost import modality_shares

    shares = modality_shares(expl)
    expl.insert(
        expl.columns.get_loc("graph") + 1,
        "modality",
        expl["graph"].map(shares.attrs["modality_of"]),
    )
    idc = folder.spec["id_column"]
    if idc is not None:
        ids = cohort.patient_ids.to_numpy()
        expl.insert(0, idc, ids[expl["patient"].to_numpy(dtype=int)])
        shares.index = pd.Index(ids[shares.index.to_numpy(dtype=int)], name=idc)
    expl.attrs.update(
        id_column=idc,
        skipped_scans=list(cohort.skipped_scans),
        modality_shares=shares.to_dict(),
        mean_modality_shares=_mean_shares(shares),
    )
    return expl


def _training_ids(folder):
    """The training patients' IDs in the order of the training rows, where the model folder
    holds them (``cv_predictions.csv`` of a fit with ``keep_ids``: its ID column), else None.

    The one place that reads them: a folder that keeps the IDs elsewhere adds its file here.
    """
    idc = folder.spec["id_column"]
    path = folder.path / "cv_predictions.csv"
    if idc is None or not path.is_file():
        return None
    table = pd.read_csv(path, dtype=str, keep_default_na=False, usecols=lambda c: c == idc)
    learners = getattr(folder.model.named_steps["model"], "estimators_", [])
    n_train = len(learners[0].y_codes_) if learners else len(table)
    if idc not in table.columns or len(table) != n_train:
        return None
    return table[idc].to_numpy(dtype=object)


def _mean_shares(shares):
    """Modality -> mean share over the patients whose score is not zero (plain floats)."""
    return {str(m): float(v) for m, v in shares.mean(axis=0, skipna=True).items()}
