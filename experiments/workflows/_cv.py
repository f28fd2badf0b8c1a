"""Cross-validate GraphBoostClassifier against logistic regression on a cohort."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..clinical._calibration import DEFAULT_INNER_SPLITS, recalibrated
from ..evaluation._clinical_report import clinical_results
from ..evaluation._cv import cross_validate as _cross_validate
from ..evaluation._cv import make_splits
from ..evaluation._dataset import (
    BLOCK_COMPONENTS,
    check_class_sizes,
    check_labels,
    dataset_from_cohort,
)
from ..evaluation._summary import summary_table
from ..methods._pipelines import make_pipeline
from ._cohort import SCANS_BLOCK
from ._supervised_scans import check_scan_classes, seeded_step, supervised_task

SCANS_STEP = "scans"
"""The name of the supervised scan block's step, first in a pipeline."""

_CV_METHODS = {"graphboost": "GraphBoostClassifier", "logistic": "logistic regression"}


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
        method (``experiments.evaluation._clinical_report``).
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

    Notes
    -----
    With the supervised scan block (``load_cohort(..., scan_embedder="supervised")``), every
    method's pipeline starts with it (step ``"scans"``), so its encoders are trained inside each
    training fold and a held-out patient's label is never read; GraphBoost and logistic
    regression share the fit of a fold (:class:`CrossFittedScanBlock`).
    """
    ds, step = cohort_task(cohort, "cohort", groups, block_components, random_state)
    params = guarded_params(params, ds.feature_groups)
    what = f"label column {cohort.label!r}"
    check_labels(ds.y, n_splits, what=what)
    recal_splits = inner_splits if calibration is not None else None
    check_class_sizes(ds.y, params, cv=n_splits, inner_splits=recal_splits, what=what)
    if step is not None:
        check_scan_classes(ds.y, cohort.scan_files, step.embedder.cv, n_splits, what=what)
    pipes = (
        {}
        if step is None
        else {
            m: with_scan_step(
                step, make_pipeline(m, p, ds.feature_groups, random_state, 1, ds.preprocessor)
            )
            for m, p in (("graphboost", params), ("logistic", None))
        }
    )
    if calibration is not None:
        pipe = make_pipeline(
            "graphboost", params, ds.feature_groups, random_state, 1, ds.preprocessor
        )
        twin = recalibrated(pipe, calibration, inner_splits=inner_splits, random_state=random_state)
        pipes[f"graphboost+{calibration}"] = with_scan_step(step, twin)
    results, y, _ = _cross_validate(
        ds,
        list(_CV_METHODS) if step is None else [],
        params={"graphboost": dict(params or {})},
        n_splits=n_splits,
        random_state=random_state,
        progress=progress,
        estimators=pipes,
    )
    table = summary_table(y, results, n_bootstrap, random_state)
    probas = {name: res.probas[0] for name, res in results.items()}
    splits, _ = make_splits(ds, y, n_splits, 1, random_state)
    clinical = clinical_results(y, results, splits, n_bootstrap, random_state, alpha)
    classes = [str(c) for c in np.unique(ds.y)]
    return CrossValidation(table, probas, y, classes, clinical, n_splits, random_state)


def cohort_task(cohort, name, groups=None, block_components=BLOCK_COMPONENTS, random_state=0):
    """The ``features.Task`` of a cohort, and the step of its supervised scan block.

    For a cohort loaded with ``scan_embedder="supervised"``, the task's ``X`` holds the scan
    column and its preprocessor knows the block, and the step (unfitted, seeded by
    ``random_state``) must come first in every pipeline fitted on it (:func:`with_scan_step`);
    otherwise the step is ``None`` and the task that of ``dataset_from_cohort``.

    Returns
    -------
    task : features.Task
    step : CrossFittedScanBlock or None
    """
    ds = dataset_from_cohort(cohort, name, groups, block_components=block_components)
    step = getattr(cohort, "scan_step", None)
    if step is None:
        return ds, None
    return supervised_task(ds, cohort, SCANS_BLOCK), seeded_step(step, random_state)


def with_scan_step(step, model):
    """``model`` (a pipeline or estimator) with the scan block ``step`` first; ``model`` itself
    when ``step`` is ``None``.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.preprocessing import StandardScaler
    >>> [name for name, _ in with_scan_step(StandardScaler(), LogisticRegression()).steps]
    ['scans', 'model']
    >>> type(with_scan_step(None, LogisticRegression())).__name__
    'LogisticRegression'
    """
    from sklearn.pipeline import Pipeline

    if step is None:
        return model
    steps = model.steps if isinstance(model, Pipeline) else [("model", model)]
    return Pipeline([(SCANS_STEP, step), *steps])


def guarded_params(params, feature_groups):
    """The GraphBoostClassifier parameters of the user's path: with feature groups (the scans
    block, ``groups``), ``block_guard=True`` unless ``params`` says otherwise.

    Examples
    --------
    >>> guarded_params({"n_estimators": 30}, {"scans": ["scans:0"]})
    {'n_estimators': 30, 'block_guard': True}
    >>> guarded_params({"block_guard": False}, {"scans": ["scans:0"]})
    {'block_guard': False}
    >>> guarded_params(None, {})
    {}
    """
    params = dict(params or {})
    if feature_groups:
        params.setdefault("block_guard", True)
    return params


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
