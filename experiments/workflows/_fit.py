"""Fit and save a model folder, with its cross-validation, extras and model card."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .._base import InputError, RunFolder
from ..clinical._block_report import block_guard_summary
from ..clinical._calibration import DEFAULT_INNER_SPLITS
from ..clinical._model_card import model_card
from ..evaluation._dataset import (
    BLOCK_COMPONENTS,
    check_class_sizes,
    check_labels,
)
from ..methods._pipelines import make_pipeline
from ..modelfolder._extras import (
    check_binary,
    check_fit_options,
    fit_recalibrated,
    folder_extras,
    write_extras,
)
from ..modelfolder._folder import (
    check_replaceable,
    save_model_folder,
)
from ._cohort import SCAN_ENCODER, SCANS_BLOCK, SKIPPED_SCANS
from ._cv import (
    CrossValidation,
    _cv_lines,
    _cv_name,
    cohort_task,
    cross_validate,
    guarded_params,
)
from ._scans import UNMATCHED_SCANS
from ._supervised_scans import SUPERVISED_EMBEDDER, check_scan_classes, save_scan_block


@dataclass
class FittedModel:
    """What :func:`fit_model_folder` returns.

    Attributes
    ----------
    path : pathlib.Path
        The model folder written.
    model : sklearn.pipeline.Pipeline
        The fitted preprocessor and GraphBoostClassifier (trained on labels encoded 0..K-1,
        in the order of ``classes``).
    classes : list of str
    cv : CrossValidation or None
    scan_block : CrossFittedScanBlock or None
        The fitted supervised scan block (saved in :data:`SUPERVISED_EMBEDDER`), whose
        ``transform`` gives new patients the block ``model`` reads; ``None`` without it.
    """

    path: Path
    model: object
    classes: list
    cv: CrossValidation | None = None
    scan_block: object = None


def _fit_report(source, spec, clf, counts, seconds, cv):
    classes = ", ".join(f"{c}: {k}" for c, k in zip(spec["classes"], counts, strict=True))
    groups = spec["feature_groups"]
    lines = [
        "# graphboost model report",
        "",
        f"- Cohort: `{source}`, {sum(counts)} patients, label `{spec['label']}`, classes {classes}",
        "- Feature groups (one candidate graph each): "
        + (", ".join(f"{k} ({len(v)} columns)" for k, v in groups.items()) or "none"),
        f"- Fit time: {seconds:.1f} s; rounds kept: {len(clf.selected_graphs_)}",
        *[f"- {line}" for line in block_guard_summary(clf)],
        "",
        "## Selected graphs (rounds in order)",
        "",
        "| round | graph | weight |",
        "|---|---|---|",
    ]
    for i, (g, w) in enumerate(zip(clf.selected_graphs_, clf.estimator_weights_, strict=False)):
        lines.append(f"| {i + 1} | {getattr(g, 'name', g)} | {w:.3f} |")
    return "\n".join([*lines, *_cv_lines(cv), ""])


ROW_COLUMN = "row"
"""The column of ``cv_predictions.csv`` that identifies a patient when the IDs are not kept: its
row in the training table, counted from 0 at the first row below the header (as ``explain``
counts the similar training patients)."""


def _cv_frame(cohort, cv, keep_ids=False):
    """Out-of-fold probabilities with the labels (``cv_predictions.csv``), each patient named by
    its ID (``keep_ids``) or by its row in the training table (:data:`ROW_COLUMN`)."""
    frame = pd.DataFrame({"label": np.asarray(cv.classes, dtype=object)[cv.y]})
    if keep_ids:
        frame.insert(0, cohort.id_column, cohort.patient_ids.to_numpy())
    else:
        frame.insert(0, ROW_COLUMN, np.arange(len(frame)))
    for name, p in cv.probas.items():
        for k, c in enumerate(cv.classes):
            frame[f"{name}_proba_{c}"] = p[:, k]
    return frame


# Over 60 lines only by its docstring (seventeen parameters); the body is 38 lines.
def fit_model_folder(
    cohort,
    output,
    *,
    params=None,
    groups=None,
    cv=0,
    random_state=0,
    scan_shape=64,
    block_components=BLOCK_COMPONENTS,
    overwrite=False,
    source="cohort",
    report_extra="",
    progress=False,
    calibration=None,
    threshold_target=None,
    inner_splits=DEFAULT_INNER_SPLITS,
    tuning=None,
    keep_ids=False,
):
    """Fit the preprocessor and GraphBoostClassifier on a cohort and write a model folder.

    Parameters
    ----------
    cohort : features.Cohort
        With a label (e.g. from :func:`load_cohort`).
    output : str or Path
        Model folder to write. It appears complete or not at all.
    params : dict, optional
        GraphBoostClassifier parameters.
    groups : dict of str to list of str, optional
        Named blocks of columns (one candidate graph each), besides the cohort's blocks; an
        entry ``"prefix*"`` takes every column starting with ``prefix``.
    cv : int, default=0
        With ``cv >= 2``, also :func:`cross_validate` with that many folds (in the report and
        ``cv_predictions.csv``: the out-of-fold probabilities and labels, see ``keep_ids``).
    random_state : int, default=0
    scan_shape : int, default=64
        Recorded when the cohort has the :data:`SCANS_BLOCK` block, so :func:`predict` embeds
        new scans the same way (the cohort's own ``scan_shape``, set by :func:`load_cohort`,
        wins).
    block_components : int, default=BLOCK_COMPONENTS
        An embedding block with more columns is reduced to that many principal components,
        fitted inside each training fold and saved with the preprocessor (0: kept whole).
    overwrite : bool, default=False
        Replace ``output`` if it is a model folder written by this library (never any other
        folder). The new model is written beside it and swapped in once complete, so a
        failed run leaves the old model intact.
    source : str, default="cohort"
        The cohort's name in the report (e.g. the table's file name).
    report_extra : str, default=""
        Markdown appended to the report.
    progress : bool, default=False
        Progress bars of the cross-validation.
    calibration : {"sigmoid", "isotonic"}, optional
        Recalibrate the probabilities (binary labels) with scikit-learn's
        ``CalibratedClassifierCV``: the probability is the mean of ``inner_splits`` copies of the
        pipeline, each fitted on the other inner folds with its map fitted on its own
        (``calibration.json``, ``calibration/``); explanations use the pipeline fitted on every
        patient. With ``cv``, the recalibrated model is cross-validated too, recalibrated inside
        each training fold.
    threshold_target : str, optional
        ``"sensitivity:0.9"``, ``"specificity:0.8"`` or ``"net-benefit:0.2"`` (binary labels,
        needs ``cv >= 2``): a decision threshold chosen on the out-of-fold risks
        (``threshold.json``); :func:`predict` then gives the class at it.
    inner_splits : int, default=10
        Inner folds of the recalibration.
    tuning : dict, optional
        The Optuna search that chose ``params`` on this cohort
        (:func:`experiments.tuning._search.tuning_record`): ``MODEL_CARD.md`` then reports it, and
        calls the cross-validated figures optimistic.
    keep_ids : bool, default=False
        Write each patient's ID (the cohort's ``id_column``) in ``cv_predictions.csv``. By
        default the folder holds no patient ID: ``cv_predictions.csv`` names each patient by
        its row in the training table (column ``row``, counted from 0), and ``MODEL_CARD.md``
        says exactly which files name patients and how.

    Returns
    -------
    FittedModel
        Scans skipped with ``on_error="skip"`` (``cohort.skipped_scans``) are listed by file
        name in ``skipped_scans.csv`` of the model folder. With the supervised scan block
        (``load_cohort(..., scan_embedder="supervised")``), its embedder is cross-fitted on
        all the patients (their out-of-fold values train the model) and saved in
        :data:`SUPERVISED_EMBEDDER`; ``model`` is the pipeline after it.
    """
    options = check_fit_options(calibration, threshold_target, cv, inner_splits)
    _check_keep_ids(keep_ids, cohort, cv)
    check_replaceable(output, overwrite)
    # absolute: the staging folder must sit beside the output, also for "." or ".."
    folder = RunFolder(Path(output).resolve(), overwrite=overwrite)
    ds, step = cohort_task(cohort, source, groups, block_components, random_state)
    params = guarded_params(params, ds.feature_groups)
    what = f"label column {cohort.label!r}"
    check_labels(ds.y, cv, what=what)
    check_binary(options, np.unique(ds.y))
    recal_splits = inner_splits if calibration is not None else None
    check_class_sizes(ds.y, params, cv=cv, inner_splits=recal_splits, what=what)
    if step is not None:
        check_scan_classes(ds.y, cohort.scan_files, step.embedder.cv, cv, what=what)
    cv_result = None
    if cv:
        cv_kw = {"params": params, "groups": groups, "random_state": random_state}
        cv_kw.update(calibration=calibration, inner_splits=inner_splits)
        cv_kw["block_components"] = block_components
        cv_result = cross_validate(cohort, n_splits=cv, progress=progress, **cv_kw)
    ds, scan_seconds = _with_scan_block(ds, step)
    pipe, classes, y, seconds, recal = _fit_pipeline(ds, params, random_state, options)
    seconds += scan_seconds
    spec = _model_spec(cohort, ds, classes, params, random_state, scan_shape)
    counts = np.bincount(y).tolist()
    report = _fit_report(source, spec, pipe[-1], counts, seconds, cv_result) + report_extra
    files = folder_extras(cv_result, options, recal)
    skipped = getattr(cohort, "skipped_scans", None)
    held = _identifiers(cohort, cv_result, keep_ids, skipped)
    if len(getattr(cohort, "unmatched_scans", ())):  # issue 20: listed, not in a message
        held[UNMATCHED_SCANS] = "the IDs of the patients whose scan and table row do not match"
    card = _model_card(source, spec, counts, pipe[-1], cv_result, options, files, tuning, held)
    extra = {}
    if cv_result is not None:
        extra["cv_predictions.csv"] = _cv_frame(cohort, cv_result, keep_ids)
    if skipped:
        extra[SKIPPED_SCANS] = pd.DataFrame({"file": skipped})
    if UNMATCHED_SCANS in held:
        extra[UNMATCHED_SCANS] = cohort.unmatched_scans
    with folder:
        save_model_folder(folder.staging, pipe, spec, report, extra)
        if spec["scans"] and spec["scans"]["encoder"]:
            from features import save_encoder

            save_encoder(cohort.scan_encoder["encoder"], folder.staging / SCAN_ENCODER)
        if step is not None:
            save_scan_block(step, folder.staging)
        write_extras(folder.staging, files, card, recal)  # and the manifest, encoder included
    return FittedModel(folder.path, pipe, spec["classes"], cv_result, step)


def _check_keep_ids(keep_ids, cohort, cv):
    """``keep_ids`` writes the IDs in ``cv_predictions.csv``: it needs an ID column and ``cv``."""
    if keep_ids and cohort.id_column is None:
        raise InputError(
            "keep_ids (--keep-ids) keeps the patient IDs in cv_predictions.csv, but the cohort "
            "has no ID column; give one (id_column, --id-column) or leave keep_ids off."
        )
    if keep_ids and not cv:
        raise InputError(
            "keep_ids (--keep-ids) keeps the patient IDs in cv_predictions.csv, which only a "
            "cross-validation writes; add cv (--cv K) or leave keep_ids off."
        )


def _with_scan_block(ds, step):
    """``ds`` with the supervised scan block of ``step`` fitted on all its patients in place of
    the scan column (their out-of-fold values), and the seconds it took; ``ds`` unchanged
    without a step."""
    if step is None:
        return ds, 0.0
    from dataclasses import replace

    t0 = time.perf_counter()
    X = step.fit_transform(ds.X, np.unique(ds.y, return_inverse=True)[1])
    return replace(ds, X=X), time.perf_counter() - t0


def _fit_pipeline(ds, params, random_state, options):
    """The preprocessor + GraphBoostClassifier fitted on all of ``ds``, labels encoded, and the
    recalibration map (``None`` without ``options.calibration``)."""
    classes, y = np.unique(ds.y, return_inverse=True)
    pipe = make_pipeline("graphboost", params, ds.feature_groups, random_state, 1, ds.preprocessor)
    t0 = time.perf_counter()
    pipe, recal = fit_recalibrated(pipe, ds.X, y, options, random_state)
    return pipe, classes, y, time.perf_counter() - t0, recal


def _identifiers(cohort, cv_result, keep_ids, skipped):
    """What the model folder holds that names a patient: file -> description (the model card's
    privacy line); an empty dict when nothing does."""
    held = {}
    if cv_result is not None and keep_ids:
        held["cv_predictions.csv"] = (
            f"each patient's ID (column `{cohort.id_column}`, kept as asked: `keep_ids` / "
            "`--keep-ids`) with the label and the out-of-fold probabilities"
        )
    if skipped:
        held[SKIPPED_SCANS] = (
            "the file names of the scans that could not be read, named by patient ID"
        )
    return held


def _model_card(source, spec, counts, clf, cv, options, files, tuning=None, identifiers=None):
    """``MODEL_CARD.md`` of the folder (see ``experiments.clinical._model_card``)."""
    from graphboost import __version__

    recal = files.get("calibration.json")
    return model_card(
        source=source,
        spec=spec,
        counts=counts,
        clf=clf,
        cv=cv,
        saved=options.saved_method,
        recalibration=recal and {"method": recal["method"], "inner_splits": recal["inner_splits"]},
        threshold=files.get("threshold.json"),
        names=_cv_name,
        version=__version__,
        tuning=tuning,
        identifiers=identifiers or {},
    )


def scan_spec(cohort, scan_shape):
    """The ``scans`` entry of ``cohort.json``: the block, the shape the scans are resampled to,
    the embedder and its files and records (``None`` without scans)."""
    shape = getattr(cohort, "scan_shape", None) or scan_shape or 64
    if getattr(cohort, "scan_embedder", None) == "supervised":
        return {
            "block": SCANS_BLOCK,
            "shape": int(shape),
            "embedder": "supervised",
            "encoder": None,
            "supervised": SUPERVISED_EMBEDDER,
            "recipe": cohort.scan_recipe,
            "pretraining": cohort.scan_pretraining,
        }
    if SCANS_BLOCK not in cohort.feature_groups:
        return None
    pretrained = getattr(cohort, "scan_encoder", None)
    scans = {"block": SCANS_BLOCK, "shape": int(shape), "embedder": "self-supervised"}
    scans["encoder"] = SCAN_ENCODER if pretrained else None
    scans["pretraining"] = pretrained["record"] if pretrained else None
    return scans


def _model_spec(cohort, ds, classes, params, random_state, scan_shape):
    """The JSON-safe ``cohort.json`` of a model folder."""
    return {
        "label": cohort.label,
        "id_column": cohort.id_column,
        "feature_columns": [str(c) for c in ds.X.columns],
        "feature_groups": {k: [str(c) for c in v] for k, v in ds.feature_groups.items()},
        "classes": [str(c) for c in classes],
        "params": {k: list(v) if isinstance(v, tuple) else v for k, v in (params or {}).items()},
        "random_state": random_state,
        "scans": scan_spec(cohort, scan_shape),
    }
