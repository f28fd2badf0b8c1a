"""What the command line, the demo, tuning and the notebooks do, as plain functions.

Each function takes explicit arguments and returns a result; none reads the command line or the
environment. The ``graphboost`` command only parses its arguments and calls these.

Data flow: a table (+ a folder of scans, embedded) -> :func:`load_cohort` (a ``features.Cohort``:
a patient without a scan is marked in ``"scans:missing"`` and linked through no imaging graph)
-> :func:`cross_validate` and :func:`fit_model_folder` (``features.ClinicalPreprocessor`` +
``GraphBoostClassifier`` in one Pipeline) -> :func:`load_model_folder` -> :func:`predict` and
:func:`explain` on new patients.

Examples
--------
>>> from experiments import workflows
>>> cohort = workflows.load_cohort("cohort.csv", label="outcome", id_column="patient_id")
... # doctest: +SKIP
>>> fitted = workflows.fit_model_folder(cohort, "model", params={"n_estimators": 30}, cv=5)
... # doctest: +SKIP
>>> workflows.predict(workflows.load_model_folder("model"), "new.csv")  # doctest: +SKIP
"""

from __future__ import annotations

import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ._calibration import DEFAULT_INNER_SPLITS, recalibrated
from ._clinical_report import clinical_results
from ._data import (
    BLOCK_COMPONENTS,
    InputError,
    block_indicators,
    check_labels,
    dataset_from_cohort,
    read_cohort,
)
from ._methods import make_pipeline
from ._model_card import model_card
from ._model_extras import (
    add_threshold_and_set,
    add_typicality,
    check_binary,
    check_fit_options,
    check_predict_options,
    fit_recalibrated,
    folder_extras,
    probabilities,
    read_extras,
    write_extras,
)
from ._modelfolder import ModelFolder, check_replaceable, load_model_folder, save_model_folder
from ._report import RunFolder
from ._runner import cross_validate as _cross_validate
from ._runner import make_splits, summary_table
from ._scans import PRETRAIN_SECONDS, embed_folder, pretrain_scan_encoder

__all__ = [
    "NO_OBSERVED",
    "PRETRAIN_SECONDS",
    "SCANS_BLOCK",
    "SCAN_ENCODER",
    "SKIPPED_SCANS",
    "CrossValidation",
    "FittedModel",
    "ModelFolder",
    "cross_validate",
    "embed_scans",
    "explain",
    "fit_model_folder",
    "load_cohort",
    "load_model_folder",
    "predict",
]

SCANS_BLOCK = "scans"
"""Name of the block (and feature group) of the scan embeddings joined by :func:`load_cohort`."""

SKIPPED_SCANS = "skipped_scans.csv"
"""File of a model folder listing (column ``file``) the scans skipped with ``on_error="skip"``."""

NO_OBSERVED = "no_observed_features"
"""Column of :func:`predict`'s output (when needed): True for a patient with no observed value."""

_CV_METHODS = {"graphboost": "GraphBoostClassifier", "logistic": "logistic regression"}


SCAN_ENCODER = "scan_encoder.pt"
"""The file of a model folder that holds the pretrained scan encoder's weights."""


def embed_scans(
    scans,
    *,
    encoder=None,
    device="auto",
    cache_dir=None,
    shape=64,
    on_error="raise",
    pretrained=None,
):
    """Embed every scan of a folder (files named ``<patient id>.<ext>``).

    Parameters
    ----------
    scans : str or Path
        Folder of NIfTI / NumPy volumes or DICOM series folders.
    encoder : str, optional
        ``features.VolumeEmbedder`` encoder name (default: its default).
    device : str, default="auto"
    cache_dir : str or Path, optional
        On-disk cache: a rerun reads it, an interrupted run resumes.
    shape : int, default=64
        Volumes are resampled to ``shape``^3.
    on_error : {"raise", "skip"}, default="raise"
        ``"skip"``: an unreadable scan gives a row of NaN, listed in ``frame.attrs["skipped"]``.
    pretrained : dict or path, optional
        Encoder weights (e.g. a model folder's :data:`SCAN_ENCODER`); default: the random
        initialisation seeded by 0.

    Returns
    -------
    pandas.DataFrame
        Indexed by patient ID (text), columns ``emb_0 ...``.
    """
    return embed_folder(
        scans,
        encoder=encoder,
        device=device,
        cache_dir=cache_dir,
        shape=shape,
        on_error=on_error,
        pretrained=pretrained,
    )


def load_cohort(
    data,
    *,
    label=None,
    id_column=None,
    exclude=(),
    scans=None,
    scan_shape=64,
    on_error="raise",
    scan_pretrain_seconds=PRETRAIN_SECONDS,
    scan_encoder=None,
):
    """Read a cohort table, embed its scans (if any) and join them by patient ID.

    Parameters
    ----------
    data : str, Path or pandas.DataFrame
        Table file (CSV, TSV, Parquet, Excel; read by ``features.read_table``, the ID column
        as text) or a DataFrame.
    label : str, optional
        Label column (not a feature).
    id_column : str, optional
        Patient ID column (not a feature). Needed with ``scans``; without it the row number is
        the patient ID.
    exclude : list of str, optional
        Columns that are not features (dates, other outcomes, ...).
    scans : str or Path, optional
        Folder of scans named ``<patient id>.<ext>``: embedded (:func:`embed_scans`) and joined
        as the block :data:`SCANS_BLOCK`.
    scan_shape : int, default=64
    on_error : {"raise", "skip"}, default="raise"
        What an unreadable scan does (``"skip"``: that patient lacks the block).
    scan_pretrain_seconds : float, default=PRETRAIN_SECONDS
        Without ``scan_encoder``: the encoder is first pretrained self-supervised on these scans
        (masked reconstruction, no label; about that many seconds), then embeds them; 0 keeps
        its random initialisation.
    scan_encoder : path, optional
        Encoder weights to embed with (no pretraining), e.g. a model folder's
        :data:`SCAN_ENCODER` for its new patients.

    Returns
    -------
    features.Cohort
        With attributes ``skipped_scans``, the file names of the scans skipped with
        ``on_error="skip"`` (empty without scans), which :func:`fit_model_folder` lists in the
        model folder, and ``scan_encoder``: the pretrained encoder and its record (a dict;
        ``None`` without pretraining), which :func:`fit_model_folder` saves.
    """
    blocks, skipped, pretrained = None, [], None
    if scans is not None:
        if id_column is None:
            raise InputError("Scans need an ID column (id_column) to match files to patients.")
        if scan_encoder is None and scan_pretrain_seconds:
            encoder, record = pretrain_scan_encoder(
                scans, shape=scan_shape, seconds=scan_pretrain_seconds, on_error=on_error
            )
            pretrained = {"encoder": encoder, "record": record}
        weights = scan_encoder if pretrained is None else pretrained["encoder"].state_dict()
        emb = embed_scans(scans, shape=scan_shape, on_error=on_error, pretrained=weights)
        blocks = {SCANS_BLOCK: emb}
        skipped = [Path(s).name for s in emb.attrs.get("skipped", [])]
    cohort = read_cohort(data, label=label, id_column=id_column, exclude=exclude, blocks=blocks)
    cohort.skipped_scans = skipped
    cohort.scan_encoder = pretrained
    return cohort


@dataclass
class CrossValidation:
    """What :func:`cross_validate` returns.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per method (``"graphboost"``, ``"logistic"``): each metric with its bootstrap
        95% CI (``auroc``, ``auroc_low``, ``auroc_high``, ...).
    probas : dict of str to ndarray of shape (n_samples, n_classes)
        Out-of-fold probabilities per method.
    y : ndarray
        Labels encoded 0..K-1.
    classes : list of str
    clinical : ClinicalResults or None
        Calibration (slope, intercept, Brier), decision curves and conformal coverage of each
        method (``experiments._clinical_report``).
    n_splits, random_state : int
        The folds.
    """

    table: pd.DataFrame
    probas: dict
    y: np.ndarray
    classes: list
    clinical: object = None
    n_splits: int = 5
    random_state: int = 0

    def auroc(self, method="graphboost"):
        """Point estimate of the out-of-fold AUROC of ``method``."""
        return float(self.table.set_index("method").loc[method, "auroc"])


# Over 60 lines only by its docstring (eleven parameters); the body is 24 lines.
def cross_validate(
    cohort,
    *,
    params=None,
    groups=None,
    n_splits=5,
    random_state=0,
    n_bootstrap=500,
    progress=False,
    calibration=None,
    inner_splits=DEFAULT_INNER_SPLITS,
    alpha=0.1,
    block_components=BLOCK_COMPONENTS,
):
    """Stratified K-fold AUROC of GraphBoostClassifier and logistic regression, same folds.

    The preprocessing is fitted inside each training fold. This runs the benchmark's own
    cross-validation (:func:`experiments.run_benchmark` on the same table, seed and folds gives
    the same AUROC).

    Parameters
    ----------
    cohort : features.Cohort
        With a label.
    params : dict, optional
        GraphBoostClassifier parameters.
    groups : dict of str to list of str, optional
        Named blocks of columns (one candidate graph each), besides the cohort's blocks.
    n_splits, random_state : int
    n_bootstrap : int, default=500
        Resamples of the confidence intervals.
    progress : bool, default=False
    calibration : {"sigmoid", "isotonic"}, optional
        Also cross-validate GraphBoostClassifier recalibrated inside each training fold
        (method ``"graphboost+<calibration>"``), on ``inner_splits`` inner folds.
    inner_splits : int, default=10
    alpha : float, default=0.1
        Error rate of the conformal sets whose coverage ``clinical`` reports.
    block_components : int, default=BLOCK_COMPONENTS
        An embedding block with more columns is reduced to that many principal components
        inside each training fold (0: kept whole).

    Returns
    -------
    CrossValidation
    """
    ds = dataset_from_cohort(cohort, "cohort", groups, block_components=block_components)
    check_labels(ds.y, n_splits)
    twins = {}
    if calibration is not None:
        pipe = make_pipeline(
            "graphboost", params, ds.feature_groups, random_state, 1, ds.preprocessor
        )
        twin = recalibrated(pipe, calibration, inner_splits=inner_splits, random_state=random_state)
        twins[f"graphboost+{calibration}"] = twin
    results, y, _ = _cross_validate(
        ds,
        list(_CV_METHODS),
        params={"graphboost": dict(params or {})},
        n_splits=n_splits,
        random_state=random_state,
        progress=progress,
        estimators=twins,
    )
    table = summary_table(y, results, n_bootstrap, random_state)
    probas = {name: res.probas[0] for name, res in results.items()}
    splits, _ = make_splits(ds, y, n_splits, 1, random_state)
    clinical = clinical_results(y, results, splits, n_bootstrap, random_state, alpha)
    classes = [str(c) for c in np.unique(ds.y)]
    return CrossValidation(table, probas, y, classes, clinical, n_splits, random_state)


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
    """

    path: Path
    model: object
    classes: list
    cv: CrossValidation | None = None


def _cv_name(method):
    """Display name of a cross-validated method (``graphboost+sigmoid``: recalibrated)."""
    base, _, calibration = method.partition("+")
    name = _CV_METHODS.get(base, base)
    return f"{name}, recalibrated ({calibration})" if calibration else name


def _cv_lines(cv):
    if cv is None:
        return []
    lines = [
        "",
        "## Cross-validated performance (preprocessing inside the folds)",
        "",
        "| method | AUROC (95% CI) | AUPRC | Brier |",
        "|---|---|---|---|",
    ]
    for _, r in cv.table.iterrows():
        lines.append(
            f"| {_cv_name(r.method)} | {r.auroc:.3f} ({r.auroc_low:.3f}-{r.auroc_high:.3f}) "
            f"| {r.auprc:.3f} | {r.brier:.3f} |"
        )
    return lines


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
        "",
        "## Selected graphs (rounds in order)",
        "",
        "| round | graph | weight |",
        "|---|---|---|",
    ]
    for i, (g, w) in enumerate(zip(clf.selected_graphs_, clf.estimator_weights_, strict=False)):
        lines.append(f"| {i + 1} | {getattr(g, 'name', g)} | {w:.3f} |")
    return "\n".join([*lines, *_cv_lines(cv), ""])


def _cv_frame(cohort, cv):
    """Out-of-fold probabilities with the patient IDs and labels (``cv_predictions.csv``)."""
    frame = pd.DataFrame({"label": np.asarray(cv.classes, dtype=object)[cv.y]})
    if cohort.id_column is not None:
        frame.insert(0, cohort.id_column, cohort.patient_ids.to_numpy())
    for name, p in cv.probas.items():
        for k, c in enumerate(cv.classes):
            frame[f"{name}_proba_{c}"] = p[:, k]
    return frame


# Over 60 lines only by its docstring (sixteen parameters); the body is 28 lines.
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
        Named blocks of columns (one candidate graph each), besides the cohort's blocks; a lone
        ``"prefix*"`` entry takes every column starting with ``prefix``.
    cv : int, default=0
        With ``cv >= 2``, also :func:`cross_validate` with that many folds (in the report and
        ``cv_predictions.csv``).
    random_state : int, default=0
    scan_shape : int, default=64
        Recorded when the cohort has the :data:`SCANS_BLOCK` block, so :func:`predict` embeds
        new scans the same way.
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
        (:func:`experiments._tuning.tuning_record`): ``MODEL_CARD.md`` then reports it, and
        calls the cross-validated figures optimistic.

    Returns
    -------
    FittedModel
        Scans skipped with ``on_error="skip"`` (``cohort.skipped_scans``) are listed by file
        name in ``skipped_scans.csv`` of the model folder.
    """
    options = check_fit_options(calibration, threshold_target, cv, inner_splits)
    check_replaceable(output, overwrite)
    # absolute: the staging folder must sit beside the output, also for "." or ".."
    folder = RunFolder(Path(output).resolve(), overwrite=overwrite)
    ds = dataset_from_cohort(cohort, source, groups, block_components=block_components)
    check_labels(ds.y, max(cv, 2))
    check_binary(options, np.unique(ds.y))
    cv_result = None
    if cv:
        cv_kw = {"params": params, "groups": groups, "random_state": random_state}
        cv_kw.update(calibration=calibration, inner_splits=inner_splits)
        cv_kw["block_components"] = block_components
        cv_result = cross_validate(cohort, n_splits=cv, progress=progress, **cv_kw)
    pipe, classes, y, seconds, recal = _fit_pipeline(ds, params, random_state, options)
    spec = _model_spec(cohort, ds, classes, params, random_state, scan_shape)
    counts = np.bincount(y).tolist()
    report = _fit_report(source, spec, pipe[-1], counts, seconds, cv_result) + report_extra
    files = folder_extras(cv_result, options, recal)
    card = _model_card(source, spec, counts, pipe[-1], cv_result, options, files, tuning)
    extra = {} if cv_result is None else {"cv_predictions.csv": _cv_frame(cohort, cv_result)}
    if getattr(cohort, "skipped_scans", None):
        extra[SKIPPED_SCANS] = pd.DataFrame({"file": cohort.skipped_scans})
    with folder:
        save_model_folder(folder.staging, pipe, spec, report, extra)
        if spec["scans"] and spec["scans"]["encoder"]:
            from features import save_encoder

            save_encoder(cohort.scan_encoder["encoder"], folder.staging / SCAN_ENCODER)
        write_extras(folder.staging, files, card, recal)  # and the manifest, encoder included
    return FittedModel(folder.path, pipe, spec["classes"], cv_result)


def _fit_pipeline(ds, params, random_state, options):
    """The preprocessor + GraphBoostClassifier fitted on all of ``ds``, labels encoded, and the
    recalibration map (``None`` without ``options.calibration``)."""
    classes, y = np.unique(ds.y, return_inverse=True)
    pipe = make_pipeline("graphboost", params, ds.feature_groups, random_state, 1, ds.preprocessor)
    t0 = time.perf_counter()
    pipe, recal = fit_recalibrated(pipe, ds.X, y, options, random_state)
    return pipe, classes, y, time.perf_counter() - t0, recal


def _model_card(source, spec, counts, clf, cv, options, files, tuning=None):
    """``MODEL_CARD.md`` of the folder (see ``experiments._model_card``)."""
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
    )


def _model_spec(cohort, ds, classes, params, random_state, scan_shape):
    """The JSON-safe ``cohort.json`` of a model folder."""
    pretrained = getattr(cohort, "scan_encoder", None)
    scans = {"block": SCANS_BLOCK, "shape": int(scan_shape)}
    scans["encoder"] = SCAN_ENCODER if pretrained else None
    scans["pretraining"] = pretrained["record"] if pretrained else None
    return {
        "label": cohort.label,
        "id_column": cohort.id_column,
        "feature_columns": [str(c) for c in ds.X.columns],
        "feature_groups": {k: [str(c) for c in v] for k, v in ds.feature_groups.items()},
        "classes": [str(c) for c in classes],
        "params": {k: list(v) if isinstance(v, tuple) else v for k, v in (params or {}).items()},
        "random_state": random_state,
        "scans": scans if SCANS_BLOCK in cohort.feature_groups else None,
    }


def _as_folder(model):
    return model if isinstance(model, ModelFolder) else load_model_folder(model)


def _new_patients(folder, data, scans, on_error):
    """The cohort of new patients and the model's feature columns of it."""
    scan_spec = folder.spec.get("scans")
    if scan_spec and scans is None:
        raise InputError("This model was fitted with scans; pass the scans of the new patients.")
    if scans is not None and not scan_spec:
        warnings.warn("This model was fitted without scans; the scans are not used.", stacklevel=3)
        scans = None
    encoder = (scan_spec or {}).get("encoder")
    cohort = load_cohort(
        data,
        id_column=folder.spec["id_column"],
        scans=scans,
        scan_shape=scan_spec["shape"] if scan_spec else 64,
        on_error=on_error,
        scan_pretrain_seconds=0,  # new patients: the fitted encoder, or the seeded random one
        scan_encoder=folder.path / encoder if encoder else None,
    )
    return cohort, folder.features(block_indicators(cohort))


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
        Add how typical each patient is (see ``experiments._typicality``): ``n_neighbors``,
        ``neighbor_majority``, ``neighbor_agreement``, ``distance_rank``, ``unlike_training``
        (farther from its neighbors in some selected graph than all but 1% of the training
        patients) and ``unlike_graphs``.

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
        One row per patient in the table's order. ``frame.attrs["skipped_scans"]`` lists the
        file names of the scans skipped with ``on_error="skip"``.
    """
    folder = _as_folder(model)
    extras = read_extras(folder.path)
    alpha = check_predict_options(extras, alpha)
    cohort, X = _new_patients(folder, data, scans, on_error)
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
    out.attrs["skipped_scans"] = list(cohort.skipped_scans)
    return out


def explain(model, data, *, scans=None, n_neighbors=5, on_error="raise", invalid_values="raise"):
    """Per-patient contributions of each selected graph, and the most similar training patients.

    Parameters
    ----------
    model, data, scans, on_error, invalid_values
        As for :func:`predict`.
    n_neighbors : int, default=5
        Similar training patients listed per graph (by their row in the training table).

    Returns
    -------
    pandas.DataFrame
        ``GraphBoostClassifier.explain``'s rows, with the patient's ID first when the model has
        an ID column, and the ``modality`` of each source after ``graph`` (``"init"``,
        ``"clinical"`` for the table's columns, the block's name for a block such as the scans;
        the default rule of :func:`graphboost.modality_shares`).
        ``frame.attrs["modality_shares"]``: modality -> {patient -> share of the score}
        (patients by ID when the model has an ID column, else by row; each patient's shares
        sum to 1; ``pandas.DataFrame(frame.attrs["modality_shares"])`` is the table);
        ``frame.attrs["mean_modality_shares"]``: modality -> mean share over the patients.
        ``frame.attrs["skipped_scans"]`` as for :func:`predict`. The attrs hold plain dicts and
        lists, so ``pandas.concat`` of two explanations works.
    """
    from graphboost import modality_shares

    folder = _as_folder(model)
    cohort, X = _new_patients(folder, data, scans, on_error)
    with _invalid_values(folder, invalid_values) as pre:
        Xt = pre.transform(X)
    expl = folder.model.named_steps["model"].explain(Xt, n_neighbors=n_neighbors)
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
        skipped_scans=list(cohort.skipped_scans),
        modality_shares=shares.to_dict(),
        mean_modality_shares=_mean_shares(shares),
    )
    return expl


def _mean_shares(shares):
    """Modality -> mean share over the patients whose score is not zero (plain floats)."""
    return {str(m): float(v) for m, v in shares.mean(axis=0, skipna=True).items()}
