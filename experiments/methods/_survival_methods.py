"""The survival baselines a survival benchmark compares, each a Pipeline fitted inside the folds.

Every method is ``features.ClinicalPreprocessor`` (imputation, scaling, one-hot, missing
indicators; the one table preprocessor, as in :mod:`experiments.methods._pipelines`) followed by
a scikit-survival-style estimator: ``fit(X, y)`` with ``y`` a structured array (event, time),
``predict`` a risk (higher = earlier event), ``score`` Harrell's C.

- ``ridge_cox``: ``sksurv.linear_model.CoxPHSurvivalAnalysis`` (Breslow ties), its L2 penalty
  ``alpha`` chosen by an inner 3-fold CV stratified on the event (Harrell's C).
- ``coxnet``: ``CoxnetSurvivalAnalysis`` (elastic net, ``l1_ratio=0.5``), ``alpha`` chosen on its
  path by an inner 3-fold CV; ``fit_baseline_model=True``.
- ``random_survival_forest``: ``RandomSurvivalForest``, 200 trees, ``min_samples_leaf=15``.
- ``gradient_boosting_survival``: ``GradientBoostingSurvivalAnalysis`` (Cox loss), 200 trees of
  depth 3, learning rate 0.1.
- ``xgboost_cox``: XGBoost with ``objective="survival:cox"`` (:class:`XGBoostCoxSurvival`; label
  = time, negative for a censored patient), 300 trees of depth 3, learning rate 0.05; the risk is
  its margin (log hazard ratio), the survival function Breslow's on the training margins.
- ``knn_km``: :class:`KNeighborsSurvival`, the k nearest training patients in the preprocessed
  space; the survival function is their Kaplan-Meier curve, the risk their Nelson-Aalen
  cumulative hazard summed over the training event times (the "mortality" that
  ``RandomSurvivalForest.predict`` returns, Ishwaran et al. 2008); k by inner CV.
- ``graphboost``: ``graphboost.GraphBoostSurvivalAnalysis`` with its defaults, once it exists.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline

from .._base import InputError
from ._pipelines import _to_array, block_selector, group_selector, unknown_params

SURVIVAL_BASELINES = (
    "ridge_cox",
    "coxnet",
    "random_survival_forest",
    "gradient_boosting_survival",
    "xgboost_cox",
    "knn_km",
)
"""The survival baselines, in their table order; ``ridge_cox`` is the reference of the paired
comparisons."""

SURVIVAL_METHODS = (*SURVIVAL_BASELINES, "graphboost")
"""Method names a survival benchmark may list (``graphboost`` needs
``graphboost.GraphBoostSurvivalAnalysis``)."""


def graphboost_survival_available():
    """Whether ``graphboost.GraphBoostSurvivalAnalysis`` exists in this installation."""
    import graphboost

    return hasattr(graphboost, "GraphBoostSurvivalAnalysis")


def available_survival_methods():
    """The methods that can run here: the baselines, and ``graphboost`` once it exists."""
    extra = ("graphboost",) if graphboost_survival_available() else ()
    return (*SURVIVAL_BASELINES, *extra)


def check_survival_methods(names):
    """Raise :class:`InputError` naming unknown (or not yet available) methods and the choices."""
    names = list(names)
    if not names:
        raise InputError(f"No methods given; choose from {list(SURVIVAL_METHODS)}.")
    unknown = [m for m in names if m not in SURVIVAL_METHODS]
    if unknown:
        raise InputError(
            f"Unknown survival method(s) {unknown}; choose from {list(SURVIVAL_METHODS)}."
        )
    if "graphboost" in names and not graphboost_survival_available():
        raise InputError(
            "The survival method 'graphboost' needs graphboost.GraphBoostSurvivalAnalysis, "
            "which this graphboost does not have yet."
        )


def _event_time(y):
    names = y.dtype.names
    return np.asarray(y[names[0]], dtype=bool), np.asarray(y[names[1]], dtype=float)


def _harrell(y, risk):
    from sksurv.metrics import concordance_index_censored

    event, time = _event_time(y)
    return float(concordance_index_censored(event, time, np.asarray(risk, dtype=float))[0])


def event_stratified_folds(y, n_splits=3, random_state=0):
    """K folds of a survival target stratified on the event indicator (shuffled, seeded).

    Examples
    --------
    >>> from features import survival_target
    >>> y = survival_target([1, 0] * 6, range(1, 13))
    >>> [int(y["event"][test].sum()) for _, test in event_stratified_folds(y, 3)]
    [2, 2, 2]
    """
    event, _ = _event_time(y)
    n_splits = int(min(n_splits, max(2, event.sum()), max(2, (~event).sum())))
    cv = StratifiedKFold(n_splits, shuffle=True, random_state=random_state)
    return list(cv.split(np.zeros(event.size), event))


def _rows(X, ix):
    return X.iloc[ix] if hasattr(X, "iloc") else X[ix]


class _SurvivalMixin:
    """``score`` = Harrell's C of ``predict``, scikit-survival's convention."""

    _estimator_type = "survival"

    def score(self, X, y):
        return _harrell(y, self.predict(X))


class InnerCVSurvival(_SurvivalMixin, BaseEstimator):
    """A survival estimator whose parameter grid is searched by inner CV on Harrell's C.

    Parameters
    ----------
    estimator : scikit-survival-style estimator
    param_grid : dict of str to list
        One parameter and its candidate values.
    inner_splits : int, default=3
        Folds stratified on the event.
    random_state : int, default=0

    Attributes
    ----------
    best_params_ : dict
    cv_scores_ : ndarray
        Mean inner Harrell's C of each candidate (NaN where every fit failed).
    best_estimator_ : estimator
        Refitted on all the training patients with the best value.
    """

    def __init__(self, estimator, param_grid, inner_splits=3, random_state=0):
        self.estimator = estimator
        self.param_grid = param_grid
        self.inner_splits = inner_splits
        self.random_state = random_state

    def fit(self, X, y):
        ((name, values),) = self.param_grid.items()
        folds = event_stratified_folds(y, self.inner_splits, self.random_state)
        scores = np.full((len(values), len(folds)), np.nan)
        for i, value in enumerate(values):
            for j, (train, test) in enumerate(folds):
                model = clone(self.estimator).set_params(**{name: value})
                try:
                    model.fit(_rows(X, train), y[train])
                    scores[i, j] = _harrell(y[test], model.predict(_rows(X, test)))
                except (ArithmeticError, ValueError, np.linalg.LinAlgError):
                    continue
        mean = np.nanmean(
            np.where(np.isnan(scores).all(axis=1, keepdims=True), -np.inf, scores), axis=1
        )
        self.cv_scores_ = np.where(np.isinf(mean), np.nan, mean)
        best = int(np.argmax(mean))
        self.best_params_ = {name: values[best]}
        self.best_estimator_ = clone(self.estimator).set_params(**self.best_params_).fit(X, y)
        return self

    def predict(self, X):
        return self.best_estimator_.predict(X)

    def predict_survival_function(self, X, return_array=False):
        return self.best_estimator_.predict_survival_function(X, return_array=return_array)

    def predict_cumulative_hazard_function(self, X, return_array=False):
        return self.best_estimator_.predict_cumulative_hazard_function(X, return_array=return_array)


class CoxnetCV(_SurvivalMixin, BaseEstimator):
    """Elastic-net Cox (``CoxnetSurvivalAnalysis``) with ``alpha`` chosen on its path by inner CV.

    The path (``n_alphas`` values down to ``alpha_min_ratio`` of the largest) is computed on all
    training patients; each inner fold refits it and scores every alpha by Harrell's C; the
    model is refitted on all patients with ``fit_baseline_model=True`` and predicts at the best
    alpha (``alpha_``).
    """

    def __init__(
        self, l1_ratio=0.5, n_alphas=30, alpha_min_ratio=0.01, inner_splits=3, random_state=0
    ):
        self.l1_ratio = l1_ratio
        self.n_alphas = n_alphas
        self.alpha_min_ratio = alpha_min_ratio
        self.inner_splits = inner_splits
        self.random_state = random_state

    def _model(self, **kw):
        from sksurv.linear_model import CoxnetSurvivalAnalysis

        return CoxnetSurvivalAnalysis(l1_ratio=self.l1_ratio, max_iter=100000, **kw)

    def fit(self, X, y):
        path = self._model(n_alphas=self.n_alphas, alpha_min_ratio=self.alpha_min_ratio).fit(X, y)
        alphas = np.asarray(path.alphas_)
        folds = event_stratified_folds(y, self.inner_splits, self.random_state)
        scores = np.full((alphas.size, len(folds)), np.nan)
        for j, (train, test) in enumerate(folds):
            try:
                inner = self._model(alphas=alphas).fit(_rows(X, train), y[train])
            except (ArithmeticError, ValueError):
                continue
            for i, a in enumerate(alphas):
                scores[i, j] = _harrell(y[test], inner.predict(_rows(X, test), alpha=a))
        mean = np.nanmean(np.where(np.isnan(scores), 0.5, scores), axis=1)
        best = int(np.argmax(mean))
        self.cv_scores_, self.alpha_ = mean, float(alphas[best])
        self.model_ = self._model(alphas=alphas[: best + 1], fit_baseline_model=True).fit(X, y)
        return self

    def predict(self, X):
        return self.model_.predict(X, alpha=self.alpha_)

    def predict_survival_function(self, X, return_array=False):
        return self.model_.predict_survival_function(
            X, alpha=self.alpha_, return_array=return_array
        )

    def predict_cumulative_hazard_function(self, X, return_array=False):
        return self.model_.predict_cumulative_hazard_function(
            X, alpha=self.alpha_, return_array=return_array
        )


class XGBoostCoxSurvival(_SurvivalMixin, BaseEstimator):
    """XGBoost's ``survival:cox`` objective as a scikit-survival-style estimator.

    The label is the time, negative for a censored patient (XGBoost's convention). ``predict``
    returns the margin (log hazard ratio); the baseline hazard is Breslow's estimator on the
    training margins, for ``predict_survival_function``.
    """

    def __init__(
        self,
        n_estimators=300,
        max_depth=3,
        learning_rate=0.05,
        subsample=0.8,
        colsample_bytree=0.8,
        min_child_weight=1.0,
        random_state=0,
        n_jobs=1,
    ):
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.min_child_weight = min_child_weight
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X, y):
        try:
            from xgboost import XGBRegressor
        except ImportError as exc:
            raise InputError(
                "xgboost is not installed: pip install 'graphboost[benchmarks]'"
            ) from exc
        from sksurv.linear_model.coxph import BreslowEstimator

        event, time = _event_time(y)
        params = {k: v for k, v in self.get_params().items()}
        self.model_ = XGBRegressor(objective="survival:cox", tree_method="hist", **params)
        X = _to_array(X)
        self.model_.fit(X, np.where(event, time, -time))
        self.breslow_ = BreslowEstimator().fit(self.predict(X), event, time)
        return self

    def predict(self, X):
        return np.asarray(self.model_.predict(_to_array(X), output_margin=True), dtype=float)

    def predict_survival_function(self, X, return_array=False):
        fns = self.breslow_.get_survival_function(self.predict(X))
        return np.vstack([f(self.breslow_.unique_times_) for f in fns]) if return_array else fns

    def predict_cumulative_hazard_function(self, X, return_array=False):
        fns = self.breslow_.get_cumulative_hazard_function(self.predict(X))
        return np.vstack([f(self.breslow_.unique_times_) for f in fns]) if return_array else fns


class KNeighborsSurvival(_SurvivalMixin, BaseEstimator):
    """k nearest training patients: their Kaplan-Meier curve, and their cumulative hazard as risk.

    Parameters
    ----------
    n_neighbors : int or None, default=None
        ``None`` chooses k among ``k_grid`` (those below half the training patients) by an inner
        3-fold CV stratified on the event (Harrell's C).
    k_grid : tuple of int, default=(5, 10, 20, 40, 80)
    random_state : int, default=0
        Seeds the inner folds.

    Notes
    -----
    Distances are Euclidean in the preprocessed (imputed, scaled, one-hot) space. The risk of a
    patient is ``sum_m H(t_m)``, the neighbours' Nelson-Aalen cumulative hazard ``H`` summed over
    the training event times ``t_m``: the expected number of events over the follow-up, as
    ``RandomSurvivalForest.predict`` computes it. A new patient's neighbours are training
    patients only; when fitting, a training patient is not its own neighbour in the inner CV.
    """

    def __init__(self, n_neighbors=None, k_grid=(5, 10, 20, 40, 80), random_state=0):
        self.n_neighbors = n_neighbors
        self.k_grid = k_grid
        self.random_state = random_state

    def fit(self, X, y):
        from sklearn.neighbors import NearestNeighbors

        X = _to_array(X)
        self.event_, self.time_ = _event_time(y)
        self.unique_times_ = np.unique(self.time_[self.event_])
        k = self.n_neighbors
        if k is None:
            grid = [g for g in self.k_grid if g <= max(1, X.shape[0] // 2)] or [1]
            scores = []
            for g in grid:
                scores.append(
                    np.mean(
                        [
                            _harrell(
                                y[test],
                                KNeighborsSurvival(g).fit(X[train], y[train]).predict(X[test]),
                            )
                            for train, test in event_stratified_folds(y, 3, self.random_state)
                        ]
                    )
                )
            k = grid[int(np.argmax(scores))]
        self.n_neighbors_ = int(min(k, X.shape[0]))
        self.index_ = NearestNeighbors(n_neighbors=self.n_neighbors_).fit(X)
        return self

    def _neighbours(self, X):
        ix = self.index_.kneighbors(_to_array(X), return_distance=False)
        return self.time_[ix], self.event_[ix]

    def predict(self, X, chunk=512):
        times, events = self._neighbours(X)
        grid = self.unique_times_
        weight = grid.size - np.searchsorted(grid, times, side="left")  # event times >= t
        risk = np.empty(times.shape[0])
        for start in range(0, times.shape[0], chunk):
            t = times[start : start + chunk]
            at_risk = (t[:, None, :] >= t[:, :, None]).sum(axis=2)  # neighbours still at risk
            w = weight[start : start + chunk] * events[start : start + chunk]
            risk[start : start + chunk] = (w / at_risk).sum(axis=1)
        return risk

    def _curves(self, X, cumulative):
        from sksurv.functions import StepFunction
        from sksurv.nonparametric import kaplan_meier_estimator, nelson_aalen_estimator

        estimator = nelson_aalen_estimator if cumulative else kaplan_meier_estimator
        out = []
        for t, e in zip(*self._neighbours(X), strict=True):
            x, value = (
                estimator(e, t)
                if e.any()
                else (np.array([t.min()]), np.array([0.0 if cumulative else 1.0]))
            )
            grid = self.unique_times_
            pos = np.searchsorted(x, grid, side="right") - 1
            start = 0.0 if cumulative else 1.0
            out.append(np.where(pos >= 0, value[np.clip(pos, 0, None)], start))
        return np.vstack(out), [StepFunction(self.unique_times_, row) for row in out]

    def predict_survival_function(self, X, return_array=False):
        array, fns = self._curves(X, cumulative=False)
        return array if return_array else np.array(fns)

    def predict_cumulative_hazard_function(self, X, return_array=False):
        array, fns = self._curves(X, cumulative=True)
        return array if return_array else np.array(fns)


# --------------------------------------------------------------------------- builders
def _ridge_cox(params, random_state):
    from sksurv.linear_model import CoxPHSurvivalAnalysis

    grid = list(params.pop("alpha_grid", [0.01, 0.1, 1.0, 10.0, 100.0, 1000.0]))
    inner = int(params.pop("inner_splits", 3))
    params = {"ties": "breslow", "n_iter": 100, **params}
    return InnerCVSurvival(CoxPHSurvivalAnalysis(**params), {"alpha": grid}, inner, random_state)


def _coxnet(params, random_state):
    return CoxnetCV(**{"l1_ratio": 0.5, **params}, random_state=random_state)


def _random_survival_forest(params, random_state):
    from sksurv.ensemble import RandomSurvivalForest

    params = {
        "n_estimators": 200,
        "min_samples_leaf": 15,
        "max_features": "sqrt",
        "n_jobs": 1,
        **params,
    }
    return RandomSurvivalForest(random_state=random_state, **params)


def _gradient_boosting_survival(params, random_state):
    from sksurv.ensemble import GradientBoostingSurvivalAnalysis

    params = {"n_estimators": 200, "max_depth": 3, "learning_rate": 0.1, **params}
    return GradientBoostingSurvivalAnalysis(random_state=random_state, **params)


def _xgboost_cox(params, random_state):
    return XGBoostCoxSurvival(random_state=random_state, **params)


def _knn_km(params, random_state):
    return KNeighborsSurvival(random_state=random_state, **params)


def _group_selectors(feature_groups, preprocessor):
    """Each group as a selector of the preprocessed columns; a group whose columns all belong to
    a block the preprocessor reduces (``block_components``, ``"<block>:..."``) selects the
    block's components, as :func:`experiments.methods._pipelines.make_pipeline` does."""
    reduced = getattr(preprocessor, "block_components", None) or {}
    out = {}
    for name, cols in feature_groups.items():
        if callable(cols):
            out[name] = cols
            continue
        block = next(
            (b for b in reduced if cols and all(str(c).startswith(f"{b}:") for c in cols)), None
        )
        out[name] = block_selector(block, cols) if block else group_selector(cols)
    return out


def _graphboost(params, random_state, feature_groups=None, preprocessor=None):
    import graphboost

    cls = getattr(graphboost, "GraphBoostSurvivalAnalysis", None)
    if cls is None:
        check_survival_methods(["graphboost"])  # raises the message
    params = dict(params)
    valid = cls().get_params()
    if feature_groups and "feature_groups" not in params and "feature_groups" in valid:
        params["feature_groups"] = _group_selectors(feature_groups, preprocessor)
    bad, names = unknown_params(cls(), params)
    if bad:
        raise InputError(f"Unknown GraphBoostSurvivalAnalysis parameter(s) {bad}; valid: {names}.")
    if "random_state" in valid:
        params.setdefault("random_state", random_state)
    return cls(**params)


SURVIVAL_BUILDERS = {
    "ridge_cox": _ridge_cox,
    "coxnet": _coxnet,
    "random_survival_forest": _random_survival_forest,
    "gradient_boosting_survival": _gradient_boosting_survival,
    "xgboost_cox": _xgboost_cox,
    "knn_km": _knn_km,
    "graphboost": _graphboost,
}
"""Method name -> builder ``(params, random_state)`` of its final estimator."""

assert set(SURVIVAL_BUILDERS) == set(SURVIVAL_METHODS)


def make_survival_pipeline(
    name, params=None, random_state=0, feature_groups=None, preprocessor=None
):
    """``features.ClinicalPreprocessor`` + the survival estimator of method ``name``.

    Parameters
    ----------
    name : str
        One of :data:`SURVIVAL_METHODS`.
    params : dict, optional
        Overrides of the method's defaults (module docstring); ``ridge_cox`` also takes
        ``alpha_grid`` and ``inner_splits``.
    random_state : int, default=0
    feature_groups : dict, optional
        Named blocks of source columns, for ``graphboost`` (as the classifier gets them).
    preprocessor : features.ClinicalPreprocessor, optional
        An unfitted preprocessor to clone; default ``ClinicalPreprocessor()``.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``"preprocess"`` and ``"model"``; ``fit(X, y)`` with ``y`` a structured array
        (event, time); ``predict`` the risk; ``score`` Harrell's C.

    Examples
    --------
    >>> pipe = make_survival_pipeline("ridge_cox")
    >>> [step for step, _ in pipe.steps], type(pipe.named_steps["model"]).__name__
    (['preprocess', 'model'], 'InnerCVSurvival')
    """
    from features import ClinicalPreprocessor

    check_survival_methods([name])
    params = dict(params or {})
    pre = ClinicalPreprocessor() if preprocessor is None else clone(preprocessor)
    if name == "graphboost":
        est = _graphboost(params, random_state, feature_groups, pre)
    else:
        est = SURVIVAL_BUILDERS[name](params, random_state)
    return Pipeline([("preprocess", pre.set_output(transform="pandas")), ("model", est)])
