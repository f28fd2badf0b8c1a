"""The base methods a benchmark compares, each a scikit-learn Pipeline fitted inside the folds.

Every method starts with the one table preprocessor, ``features.ClinicalPreprocessor``; the
methods whose estimator holds the preprocessor itself (:data:`OWN_PREPROCESSOR`) get it as a
parameter.

``graphboost-tuned`` (:class:`experiments.TunedGraphBoostClassifier`) tunes the ``graphboost``
pipeline built here, so it is not built here: the registry of every method,
:mod:`experiments.methods._registry`, adds it on top (one import direction only).
"""

from __future__ import annotations

import re

import numpy as np
from sklearn.base import clone
from sklearn.compose import make_column_selector
from sklearn.pipeline import Pipeline

from .._base import InputError

METHODS = (
    "adaboost",
    "catboost",
    "gcn",
    "graphboost",
    "graphboost-tuned",
    "graphboost_modalities",
    "hist_gradient_boosting",
    "logistic",
    "random_forest",
    "xgboost",
)
"""Method names a config may list."""

TUNED = "graphboost-tuned"
"""GraphBoostClassifier tuned by an Optuna search inside each training fold (nested CV)."""

OWN_PREPROCESSOR = ("graphboost_modalities", TUNED)
"""Methods whose estimator takes the raw columns and holds the preprocessor itself."""

BASELINES = tuple(m for m in METHODS if not m.startswith("graphboost"))
"""The methods GraphBoostClassifier is compared with (``graphboost_modalities`` and
``graphboost-tuned`` are ours)."""

SELECTOR_PARAMS = ("cv", "modalities", "scoring")
"""Parameters of ``graphboost_modalities`` that go to the ModalitySelectionClassifier; the
others go to its GraphBoostClassifier."""


def check_methods(names):
    """Raise :class:`InputError` naming the unknown methods and the choices.

    Examples
    --------
    >>> check_methods(["logistic", "graphboost-tuned"])
    >>> check_methods(["svm"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    experiments._base.InputError: Unknown method(s) ['svm']; choose from [...'graphboost-tuned'...].
    """
    unknown = [m for m in names if m not in METHODS]
    if unknown:
        raise InputError(f"Unknown method(s) {unknown}; choose from {list(METHODS)}.")
    if not names:
        raise InputError(f"No methods given; choose from {list(METHODS)}.")


def group_selector(columns):
    """Selector of the preprocessed columns that came from the source ``columns``.

    ``features.ClinicalPreprocessor`` keeps a numeric or binary column's name, writes
    ``"c=<category>"`` for a one-hot column and ``"c:missing"`` for an indicator; the selector
    (:func:`sklearn.compose.make_column_selector`) picks exactly those names, so a
    ``feature_groups`` entry written against the user's columns applies inside a Pipeline.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame(columns=["age", "age:missing", "site=a", "site=b", "x"])
    >>> group_selector(["age", "site"])(frame)
    ['age', 'age:missing', 'site=a', 'site=b']
    """
    return _SourceColumnSelector(columns)


class _SourceColumnSelector(make_column_selector):
    """:func:`group_selector`'s selector; ``source_columns`` names the columns it came from, so
    ``experiments.ModalitySelectionClassifier`` can drop a group that has no column in an arm."""

    def __init__(self, columns):
        self.source_columns = tuple(str(c) for c in columns)
        names = "|".join(re.escape(c) for c in self.source_columns)
        super().__init__(pattern=f"^(?:{names})(?:=.*|:missing)?$")


def block_selector(block, columns):
    """Selector of the principal components ``"<block>:pc<k>"`` that a block reduced by
    ``features.ClinicalPreprocessor(block_components=...)`` becomes; its ``source_columns``
    are the block's own columns (so an arm without them drops the group).

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame(columns=["age", "mri:pc0", "mri:pc1", "mri:missing"])
    >>> block_selector("mri", ["mri:0", "mri:1", "mri:2"])(frame)
    ['mri:pc0', 'mri:pc1']
    """
    selector = _SourceColumnSelector(columns)
    selector.pattern = f"^{re.escape(str(block))}:pc\\d+$"
    return selector


def _with_reduced_blocks(feature_groups, preprocessor):
    """``feature_groups`` with each block the preprocessor reduces as a :func:`block_selector`."""
    reduced = preprocessor.block_components or {}
    return {
        name: block_selector(name, cols) if name in reduced and not callable(cols) else cols
        for name, cols in (feature_groups or {}).items()
    }


def unknown_params(estimator, names):
    """The names in ``names`` that are not parameters of ``estimator`` (``get_params()``),
    and the sorted valid ones (for the error message)."""
    valid = estimator.get_params()
    return [k for k in names if k not in valid], sorted(valid)


def _graphboost(params, feature_groups, random_state, n_jobs):
    from graphboost import GraphBoostClassifier

    params = dict(params)
    if feature_groups and "feature_groups" not in params:
        params["feature_groups"] = {
            k: v if callable(v) else group_selector(v) for k, v in feature_groups.items()
        }
    bad, valid = unknown_params(GraphBoostClassifier(), params)
    if bad:
        raise InputError(f"Unknown GraphBoostClassifier parameter(s) {bad}; valid: {valid}.")
    params.setdefault("random_state", random_state)
    return GraphBoostClassifier(**params)


def _logistic(params, feature_groups, random_state, n_jobs):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    grid = params.pop("C_grid", [0.001, 0.01, 0.1, 1.0, 10.0])
    inner = int(params.pop("inner_splits", 3))
    return GridSearchCV(
        LogisticRegression(max_iter=5000, **params),
        {"C": list(grid)},
        cv=StratifiedKFold(inner, shuffle=True, random_state=random_state),
        scoring="roc_auc_ovr",
        n_jobs=n_jobs,
    )


def _random_forest(params, feature_groups, random_state, n_jobs):
    from sklearn.ensemble import RandomForestClassifier

    params = {"n_estimators": 500, "n_jobs": n_jobs, **params}
    return RandomForestClassifier(random_state=random_state, **params)


def _hist_gradient_boosting(params, feature_groups, random_state, n_jobs):
    from sklearn.ensemble import HistGradientBoostingClassifier

    params = {"early_stopping": False, **params}
    return HistGradientBoostingClassifier(random_state=random_state, **params)


def _xgboost(params, feature_groups, random_state, n_jobs):
    try:
        from xgboost import XGBClassifier
    except ImportError as exc:
        raise InputError("xgboost is not installed: pip install 'graphboost[benchmarks]'") from exc
    defaults = {"n_estimators": 300, "max_depth": 4, "learning_rate": 0.05}
    params = {**defaults, "subsample": 0.8, "colsample_bytree": 0.8, "n_jobs": n_jobs, **params}
    return XGBClassifier(random_state=random_state, **params)


def _adaboost(params, feature_groups, random_state, n_jobs):
    from sklearn.ensemble import AdaBoostClassifier

    params = {"n_estimators": 200, "learning_rate": 0.5, **params}
    return AdaBoostClassifier(random_state=random_state, **params)


def _catboost(params, feature_groups, random_state, n_jobs):
    try:
        from catboost import CatBoostClassifier
    except ImportError as exc:
        raise InputError("catboost is not installed: pip install 'graphboost[benchmarks]'") from exc
    # CatBoost's own defaults (1000 trees of depth 6, its automatic learning rate); it writes no
    # training logs to the working directory.
    params = {"verbose": 0, "allow_writing_files": False, "thread_count": n_jobs, **params}
    return CatBoostClassifier(random_seed=random_state, **params)


def _gcn(params, feature_groups, random_state, n_jobs):
    from ._gcn import PopulationGCNClassifier

    return PopulationGCNClassifier(random_state=random_state, **params)


def _graphboost_modalities(params, feature_groups, random_state, n_jobs, preprocessor=None):
    """ModalitySelectionClassifier around the ``graphboost`` pipeline (it sees the raw columns)."""
    from ._modality_selection import ModalitySelectionClassifier

    params = dict(params)
    chosen = {k: params.pop(k) for k in SELECTOR_PARAMS if k in params}
    inner = make_pipeline("graphboost", params, feature_groups, random_state, n_jobs, preprocessor)
    return ModalitySelectionClassifier(inner, random_state=random_state, **chosen)


BUILDERS = {  # graphboost-tuned is added by experiments.methods._registry
    "adaboost": _adaboost,
    "catboost": _catboost,
    "gcn": _gcn,
    "graphboost": _graphboost,
    "graphboost_modalities": _graphboost_modalities,
    "hist_gradient_boosting": _hist_gradient_boosting,
    "logistic": _logistic,
    "random_forest": _random_forest,
    "xgboost": _xgboost,
}


def _builder(name):
    check_methods([name])
    if name not in BUILDERS:
        raise ValueError(f"{name!r} is built by experiments.methods._registry.make_pipeline.")
    return BUILDERS[name]


def make_estimator(name, params=None, feature_groups=None, random_state=0, n_jobs=1):
    """The final estimator of method ``name`` (no preprocessing).

    Parameters
    ----------
    name : str
        One of :data:`METHODS`.
    params : dict, optional
        Overrides of the defaults below.
    feature_groups : dict, optional
        Named blocks of source columns, passed to GraphBoostClassifier (see
        :func:`group_selector`).
    random_state : int
    n_jobs : int

    Notes
    -----
    Defaults: ``logistic`` is L2 logistic regression with C chosen by an inner stratified 3-fold CV
    on AUROC (nested tuning); ``random_forest`` 500 trees; ``hist_gradient_boosting`` scikit-learn
    defaults with early stopping off; ``xgboost`` 300 trees of depth 4 (the Duke README's
    baseline); ``adaboost`` 200 stumps (SAMME); ``catboost`` CatBoost's defaults (what many users
    would pick first); ``gcn`` a 2-layer GCN on a 10-NN graph;
    ``graphboost-tuned`` a one-step Pipeline around :class:`experiments.TunedGraphBoostClassifier`
    (6 Optuna trials, 3 inner folds, ``conv="vote"``), which preprocesses the raw columns itself.

    Examples
    --------
    >>> make_estimator("adaboost", {"n_estimators": 10}).n_estimators
    10
    """
    return _builder(name)(dict(params or {}), feature_groups, random_state, n_jobs)


def _to_array(X):
    """Plain float array (XGBoost rejects column names containing '[', ']' or '<')."""
    return np.asarray(X, dtype=float)


def make_pipeline(
    name, params=None, feature_groups=None, random_state=0, n_jobs=1, preprocessor=None
):
    """``features.ClinicalPreprocessor`` + the estimator of method ``name`` as one Pipeline.

    Parameters
    ----------
    name, params, feature_groups, random_state, n_jobs
        See :func:`make_estimator`.
    preprocessor : features.ClinicalPreprocessor, optional
        An unfitted preprocessor to clone (e.g. ``Cohort.make_preprocessor()``); default
        ``ClinicalPreprocessor()``. It outputs a DataFrame, so column names reach the model.

    Returns
    -------
    sklearn.pipeline.Pipeline or ModalitySelectionClassifier
        Steps ``"preprocess"``, (``"to_array"`` for XGBoost), ``"model"``; fit it inside the
        training folds. The methods of :data:`OWN_PREPROCESSOR` get ``preprocessor`` as a
        parameter of their estimator: ``graphboost_modalities`` is a ModalitySelectionClassifier
        that holds the ``graphboost`` pipeline (it must see the raw, prefixed columns);
        ``graphboost-tuned`` is the one step ``"model"``, a TunedGraphBoostClassifier that
        refits the preprocessor in every inner fold of its search.

    Examples
    --------
    >>> [step for step, _ in make_pipeline("logistic").steps]
    ['preprocess', 'model']
    """
    from features import ClinicalPreprocessor

    if name in OWN_PREPROCESSOR:
        build = _builder(name)
        return build(dict(params or {}), feature_groups, random_state, n_jobs, preprocessor)
    pre = ClinicalPreprocessor() if preprocessor is None else clone(preprocessor)
    feature_groups = _with_reduced_blocks(feature_groups, pre)
    est = make_estimator(name, params, feature_groups, random_state, n_jobs=n_jobs)
    steps = [("preprocess", pre.set_output(transform="pandas"))]
    if name == "xgboost":
        from sklearn.preprocessing import FunctionTransformer

        steps.append(("to_array", FunctionTransformer(_to_array)))
    return Pipeline([*steps, ("model", est)])


def final_estimator(pipe):
    """The fitted model step of a pipeline built by :func:`make_pipeline`."""
    return pipe.named_steps["model"] if isinstance(pipe, Pipeline) else pipe


def staged_proba(pipe, X):
    """Per-round probabilities of a boosting model in a pipeline, or ``None``."""
    model = final_estimator(pipe)
    if not hasattr(model, "staged_predict_proba"):
        return None
    Xt = pipe[:-1].transform(X) if isinstance(pipe, Pipeline) else X
    return [np.asarray(p) for p in model.staged_predict_proba(Xt)]
