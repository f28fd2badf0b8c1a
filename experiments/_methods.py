"""The methods a benchmark compares, each a full scikit-learn Pipeline fitted inside the folds."""

from __future__ import annotations

import numpy as np
from sklearn.pipeline import Pipeline

from ._data import InputError
from ._preprocess import GroupColumns, TablePreprocessor

METHODS = (
    "adaboost",
    "gcn",
    "graphboost",
    "hist_gradient_boosting",
    "logistic",
    "random_forest",
    "xgboost",
)
"""Method names a config may list."""

BASELINES = tuple(m for m in METHODS if m != "graphboost")

PREPROCESSORS = ("auto", "clinical", "table")


def check_methods(names):
    """Raise :class:`InputError` naming the unknown methods and the choices."""
    unknown = [m for m in names if m not in METHODS]
    if unknown:
        raise InputError(f"Unknown method(s) {unknown}; choose from {list(METHODS)}.")
    if not names:
        raise InputError(f"No methods given; choose from {list(METHODS)}.")


def make_preprocessor(kind="auto"):
    """Preprocessing step: ``features.ClinicalPreprocessor`` or :class:`TablePreprocessor`.

    ``auto`` uses the clinical preprocessor of the ``features`` package when it is installed and
    falls back to the table preprocessor otherwise.
    """
    if kind not in PREPROCESSORS:
        raise InputError(f"Unknown preprocessor {kind!r}; choose from {list(PREPROCESSORS)}.")
    if kind in ("auto", "clinical"):
        try:
            from features import ClinicalPreprocessor
        except ImportError:
            if kind == "clinical":
                raise InputError("features.ClinicalPreprocessor is not available.") from None
        else:
            pre = ClinicalPreprocessor()
            if hasattr(pre, "set_output"):
                try:
                    pre.set_output(transform="pandas")
                except Exception:
                    pass
            return pre
    return TablePreprocessor()


def _graphboost(params, feature_groups, random_state):
    try:
        from graphboost import GraphBoostClassifier
    except ImportError as exc:
        raise InputError(f"GraphBoostClassifier is not available: {exc}") from exc
    params = dict(params)
    if feature_groups and "feature_groups" not in params:
        params["feature_groups"] = {k: GroupColumns(v) for k, v in feature_groups.items()}
    valid = GraphBoostClassifier().get_params()
    bad = [k for k in params if k not in valid]
    if bad:
        raise InputError(
            f"Unknown GraphBoostClassifier parameter(s) {bad}; valid: {sorted(valid)}."
        )
    params.setdefault("random_state", random_state)
    return GraphBoostClassifier(**params)


def make_estimator(name, params=None, feature_groups=None, random_state=0, n_jobs=1):
    """The final estimator of method ``name`` (no preprocessing).

    Parameters
    ----------
    name : str
        One of :data:`METHODS`.
    params : dict, optional
        Overrides of the defaults below.
    feature_groups : dict, optional
        Column blocks, passed to GraphBoostClassifier.
    random_state : int
    n_jobs : int

    Notes
    -----
    Defaults: ``logistic`` is L2 logistic regression with C chosen by an inner stratified 3-fold CV
    on AUROC (nested tuning); ``random_forest`` 500 trees; ``hist_gradient_boosting`` scikit-learn
    defaults with early stopping off; ``xgboost`` 300 trees of depth 4 (the Duke README's
    baseline); ``adaboost`` 200 stumps (SAMME); ``gcn`` a 2-layer GCN on a 10-NN graph.
    """
    params = dict(params or {})
    check_methods([name])
    if name == "logistic":
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import GridSearchCV, StratifiedKFold

        grid = params.pop("C_grid", [0.001, 0.01, 0.1, 1.0, 10.0])
        inner = int(params.pop("inner_splits", 3))
        lr = LogisticRegression(max_iter=5000, **params)
        return GridSearchCV(
            lr,
            {"C": list(grid)},
            cv=StratifiedKFold(inner, shuffle=True, random_state=random_state),
            scoring="roc_auc_ovr",
            n_jobs=n_jobs,
        )
    if name == "random_forest":
        from sklearn.ensemble import RandomForestClassifier

        params = {"n_estimators": 500, "n_jobs": n_jobs, **params}
        return RandomForestClassifier(random_state=random_state, **params)
    if name == "hist_gradient_boosting":
        from sklearn.ensemble import HistGradientBoostingClassifier

        params = {"early_stopping": False, **params}
        return HistGradientBoostingClassifier(random_state=random_state, **params)
    if name == "xgboost":
        try:
            from xgboost import XGBClassifier
        except ImportError as exc:
            raise InputError(
                "xgboost is not installed: pip install 'graphboost[benchmarks]'"
            ) from exc
        params = {
            "n_estimators": 300,
            "max_depth": 4,
            "learning_rate": 0.05,
            "subsample": 0.8,
            "colsample_bytree": 0.8,
            "n_jobs": n_jobs,
            **params,
        }
        return XGBClassifier(random_state=random_state, **params)
    if name == "adaboost":
        from sklearn.ensemble import AdaBoostClassifier

        params = {"n_estimators": 200, "learning_rate": 0.5, **params}
        return AdaBoostClassifier(random_state=random_state, **params)
    if name == "gcn":
        from ._gcn import PopulationGCNClassifier

        return PopulationGCNClassifier(random_state=random_state, **params)
    return _graphboost(params, feature_groups, random_state)


def _to_array(X):
    """Plain float array (XGBoost rejects column names containing '[', ']' or '<')."""
    return np.asarray(X, dtype=float)


def make_pipeline(
    name, params=None, feature_groups=None, random_state=0, preprocessor="auto", n_jobs=1
):
    """Preprocessing + estimator of method ``name`` as one Pipeline (fitted inside each fold)."""
    est = make_estimator(name, params, feature_groups, random_state, n_jobs=n_jobs)
    steps = [("preprocess", make_preprocessor(preprocessor))]
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
