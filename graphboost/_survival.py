"""GraphBoostSurvivalAnalysis: Newton boosting of the Cox partial likelihood on patient graphs.

This module holds the estimator's parameters, its input checks and the prediction methods, in
scikit-survival's conventions; the partial likelihood, the ridge Cox start and Breslow's
estimator are in :mod:`graphboost._cox`, the rounds and the guard in
:mod:`graphboost._survival_boost`, step functions and Harrell's C in
:mod:`graphboost._survival_metrics`, saving in :mod:`graphboost._survival_persistence`.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, check_random_state, validate_data

from ._candidates import GRAPH_CONSTRAINTS, candidate_graphs, resolve_groups
from ._cox import RIDGE_ALPHAS, TIES, RidgeCox, RiskSets, ZeroStart
from ._survival_boost import (
    SURVIVAL_SCALES,
    StackedSteps,
    SurvivalBoosting,
    choose_boost_scale,
)
from ._survival_explain import SurvivalExplanations
from ._survival_metrics import StepFunction, concordance_index
from ._survival_persistence import is_survival_folder, read_survival_model, write_survival_model
from ._validation import check_finite

_OWNER = "GraphBoostSurvivalAnalysis"


class GraphBoostSurvivalAnalysis(SurvivalExplanations, BaseEstimator):
    """Boosted neighbor learners over patient-similarity graphs for censored survival times.

    The risk score is a ridge Cox model's linear predictor plus a boosted score. Every input
    column (and every named block of columns in ``feature_groups``) is a candidate graph linking
    each patient to its nearest patients on it, whole tie groups kept. Each round computes the
    gradient and the Hessian of the negative Cox log partial likelihood (Breslow's or Efron's
    ties) in every patient's current score, scores every candidate by the Newton step of the
    patient's neighbors (the sum of their gradients over the sum of their Hessians, the patient
    itself left out) and keeps the graph whose shrunken step lowers the loss most (its
    second-order approximation). The baseline hazard is Breslow's estimator on the final score.

    The boosted score is fitted after the start, on the same patients, and may only fit noise.
    ``boost_scale="auto"`` weighs it out of fold: in each of ``cv`` inner folds the start and the
    boosting are refitted on the training part and the held-out patients scored by their log
    partial likelihood at the scales 0, 0.25, 0.5 and 1; the best scale is kept only when its
    mean gain over the start alone, and that of the scaled boosted score alone over no score,
    both exceed one standard error of the paired fold differences; else the model is the ridge
    Cox model.

    Prediction is inductive: a new patient is linked only to training patients, and its score
    never depends on the other rows passed with it.

    Parameters
    ----------
    n_estimators : int, default=100
        Boosting rounds (all are run; the guard weighs their sum).
    learning_rate : float, default=0.1
        Shrinkage of each round's step.
    n_neighbors : int or tuple of int, default=(20, 50, 100)
        Neighborhood sizes of the kNN candidate graphs; each must be smaller than the number of
        training patients (the inner folds of ``cv`` use at most their own size minus one).
    threshold_quantiles : tuple of float, default=()
        Quantiles of the pairwise differences of a column that set the radius of AdaMedGraph's
        threshold graphs; empty for kNN graphs only.
    feature_groups : dict of str to list, default=None
        Named blocks of columns, each one candidate kNN graph in the block's standardized space
        (see :class:`~graphboost.GraphBoostClassifier`).
    metric : {"euclidean", "cosine"}, default="euclidean"
        Distance between patients on a block.
    reuse_features : bool, default=True
        Whether a selected candidate may be selected again in a later round.
    l2_regularization : float, default=1.0
        Added to the neighbors' Hessian sum in each step, as in XGBoost's leaf values.
    interaction_depth : int, default=3
        Depth of the leaf graph each round proposes besides the fixed candidates; 0 for none
        (the additive model: each column's steps add up to a smooth of that column).
        A regression tree of this depth, fitted on a random half of the patients to the round's
        Newton working response (``-g / h`` weighted by ``h``; each leaf at least
        ``min(n_neighbors)`` patients of that half), links each patient to the training
        patients in its leaf: a subgroup defined by up to ``interaction_depth`` conditions,
        through which the boosting learns interactions between columns. The round takes it
        when, on the other half (patients that did not shape its splits), its leave-self-out
        step lowers the loss more than the best fixed graph's step does on the same patients.
        Depth 3 gained 0.005-0.007 in Harrell's C on two of the seven survival-suite tasks and
        lost at most 0.0005 on the others, for about twice the fit time of large cohorts (the
        docs' results page).
    init : {"ridge"} or None, default="ridge"
        The start: an L2-penalized Cox model on the centered columns, each divided by its
        standard deviation (a two-valued column by the gap between its values), its penalty chosen
        from ``alphas`` by the cross-validated partial likelihood (Verweij and van
        Houwelingen) over the ``cv`` folds; None starts every patient at 0.
    alphas : array-like of float, default=None
        Penalties of the ridge Cox start on the mean log partial likelihood per patient; None
        is ``numpy.logspace(-4, 1, 11)``. One value fixes the penalty.
    ties : {"breslow", "efron"}, default="breslow"
        How tied event times enter the partial likelihood (start and boosting).
    boost_scale : "auto" or float, default="auto"
        Weight of the boosted score: ``"auto"`` chooses it out of fold as above (1 with
        ``init=None``); a number fixes it.
    cv : int, default=5
        Inner folds (stratified on the event) for the penalty and the guard.
    random_state : int, RandomState instance or None, default=None
        Seed of the inner folds.
    verbose : int, default=0
        Print one line per round when positive.

    Attributes
    ----------
    n_features_in_ : int
        Number of input columns.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when ``X`` was a DataFrame with string column names.
    feature_groups_ : dict of str to list of int
        The resolved blocks, as column indices.
    init_ : object
        The fitted start; ``init_.coef_`` are the ridge Cox coefficients on the columns divided
        by ``init_.scale_``.
    alpha_ : float or None
        The penalty of the ridge Cox start.
    estimators_ : list of NeighborStep
        The weak learner of each round.
    selected_graphs_ : list of GraphSpec
        The graph of each round.
    train_gains_ : ndarray of shape (n_rounds,)
        Leave-self-out second-order loss change of each round (negative is better).
    boost_scale_ : float
        Weight of the boosted score in ``predict``.
    scale_scores_ : ndarray of shape (cv, 2, 4) or None
        With ``boost_scale="auto"``, the held-out log partial likelihood per event of each inner
        fold at the scales (0, 0.25, 0.5, 1) of the boosted score: ``[:, 0]`` added to the
        start, ``[:, 1]`` alone.
    feature_importances_ : ndarray of shape (n_features_in_,)
        Share of the rounds' total gain of the graphs built on each column.
    n_candidates_ : int
        Number of candidate graphs screened each round.
    skipped_features_ : list of str
        Constant columns, left out of the candidates.
    unique_times_ : ndarray of shape (n_unique_times,)
        Distinct follow-up times of the training patients.
    cum_baseline_hazard_ : StepFunction
        Breslow's cumulative baseline hazard on the final training scores.
    baseline_survival_ : StepFunction
        ``exp(-cum_baseline_hazard_)``.
    train_time_, train_event_ : ndarray of shape (n_samples,)
        Follow-up times and event indicators of the training patients, for the Kaplan-Meier
        curves of :meth:`neighbor_survival` (None in a model saved without them).

    See Also
    --------
    GraphBoostClassifier : The same candidate graphs for class labels.
    sksurv.ensemble.GradientBoostingSurvivalAnalysis : Cox boosting with trees.

    References
    ----------
    .. [1] Lian et al., "AdaMedGraph: Adaboosting Graph Neural Networks for Personalized Medicine",
       ML4H 2023.
    .. [2] Verweij and van Houwelingen, "Cross-validation in survival analysis", Statistics in
       Medicine, 1993.
    .. [3] Breslow, "Discussion of the paper by D. R. Cox", JRSS B, 1972.

    Examples
    --------
    >>> import numpy as np
    >>> from graphboost import GraphBoostSurvivalAnalysis
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> time = rng.exponential(np.exp(-X[:, 0])) * 10
    >>> y = np.array([(t < 12, min(t, 12)) for t in time], dtype=[("event", bool), ("time", float)])
    >>> model = GraphBoostSurvivalAnalysis(n_estimators=20, random_state=0).fit(X, y)
    >>> risk = model.predict(X[:3])
    >>> surv = model.predict_survival_function(X[:1])
    >>> round(float(surv[0](0.0)), 3), bool(surv[0](5.0) < 1)
    (1.0, True)
    >>> bool(model.score(X, y) > 0.6)
    True
    """

    _parameter_constraints = {
        **GRAPH_CONSTRAINTS,
        "n_estimators": [Interval(Integral, 0, None, closed="left")],
        "l2_regularization": [Interval(Real, 0, None, closed="left")],
        "interaction_depth": [Interval(Integral, 0, None, closed="left")],
        "init": [StrOptions({"ridge"}), None],
        "alphas": ["array-like", None],
        "ties": [StrOptions(set(TIES))],
        "boost_scale": [StrOptions({"auto"}), Interval(Real, 0, None, closed="left")],
        "cv": [Interval(Integral, 2, None, closed="left")],
    }

    def __init__(
        self,
        *,
        n_estimators=100,
        learning_rate=0.1,
        n_neighbors=(20, 50, 100),
        threshold_quantiles=(),
        feature_groups=None,
        metric="euclidean",
        reuse_features=True,
        l2_regularization=1.0,
        interaction_depth=3,
        init="ridge",
        alphas=None,
        ties="breslow",
        boost_scale="auto",
        cv=5,
        random_state=None,
        verbose=0,
    ):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.n_neighbors = n_neighbors
        self.threshold_quantiles = threshold_quantiles
        self.feature_groups = feature_groups
        self.metric = metric
        self.reuse_features = reuse_features
        self.l2_regularization = l2_regularization
        self.interaction_depth = interaction_depth
        self.init = init
        self.alphas = alphas
        self.ties = ties
        self.boost_scale = boost_scale
        self.cv = cv
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.target_tags.required = True
        return tags

    # -- fit ---------------------------------------------------------------------------------
    def fit(self, X, y):
        """Fit the ridge Cox start, boost neighbor learners, estimate the baseline hazard.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training patients: numeric, no missing values.
        y : structured array of shape (n_samples,)
            Two fields: the event indicator (bool, or 0/1), then the time (finite, >= 0), as
            ``sksurv.util.Surv.from_arrays(event, time)`` makes.

        Returns
        -------
        self : GraphBoostSurvivalAnalysis
        """
        self._validate_params()
        frame = X if hasattr(X, "columns") else None
        X = validate_data(self, X, ensure_all_finite=False, dtype=np.float64)
        check_finite(X, getattr(self, "feature_names_in_", None), _OWNER)
        event, time = check_survival_y(y, X.shape[0])
        n = X.shape[0]
        ks = _check_neighbors(self.n_neighbors, self.threshold_quantiles, n)
        if n < 2 * self.cv:
            raise ValueError(
                f"{_OWNER} needs at least 2 * cv = {2 * self.cv} patients for its inner "
                f"cross-validation; got {n}."
            )
        folds = self._folds(X, event)
        leaf_seed = self._leaf_seed()
        self.train_time_, self.train_event_ = time.copy(), event.copy()
        self.init_ = (RidgeCox() if self.init == "ridge" else ZeroStart()).fit(
            X, time, event, RIDGE_ALPHAS if self.alphas is None else self.alphas, folds, self.ties
        )
        self.alpha_ = self.init_.alpha_
        self.feature_groups_ = resolve_groups(self.feature_groups, frame, self._column_names())
        candidates, self.skipped_features_ = self._candidates(X, ks)
        self.n_candidates_ = len(candidates)
        risk_sets = RiskSets(time, event, self.ties)
        boosting = self._boosting(candidates, ks, leaf_seed)
        boosting.fit(X, risk_sets, self.init_.decision_function(X))
        self.estimators_ = boosting.learners_
        self._stacked = None  # built on the first prediction
        self.train_gains_ = boosting.gains_
        self.selected_graphs_ = [learner.spec for learner in self.estimators_]
        self.boost_scale_, self.scale_scores_ = self._choose_scale(
            X, time, event, folds, ks, leaf_seed
        )
        self._fit_baseline(X, risk_sets)
        self.feature_importances_ = self._importances()
        return self

    def _folds(self, X, event):
        counts = np.bincount(event.astype(np.int64), minlength=2)
        seed = check_random_state(self.random_state).randint(2**31 - 1)
        if counts.min() >= self.cv:
            splitter = StratifiedKFold(self.cv, shuffle=True, random_state=seed)
        else:
            splitter = KFold(self.cv, shuffle=True, random_state=seed)
        return list(splitter.split(X, event))

    def _leaf_seed(self):
        """Seed of this fit's leaf-graph halves (each inner fold's: it plus 1 + the fold)."""
        if not self.interaction_depth:
            return 0  # no leaf graphs: the random state is left as it is
        return int(check_random_state(self.random_state).randint(2**31 - 1, size=2)[1])

    def _boosting(self, candidates, ks, seed):
        return SurvivalBoosting(
            candidates,
            self.n_estimators,
            self.learning_rate,
            self.l2_regularization,
            self.reuse_features,
            self.verbose,
            interaction_depth=self.interaction_depth,
            min_leaf=min(ks),
            random_state=seed,
            names=self._column_names(),
        )

    def _choose_scale(self, X, time, event, folds, ks, leaf_seed):
        if self.boost_scale != "auto":
            return float(self.boost_scale), None
        if self.init is None:
            return 1.0, None
        if not self.estimators_:
            return 0.0, None
        fold_seeds = iter(range(leaf_seed + 1, leaf_seed + 1 + len(folds)))

        def make_boosting(X_train, n_train):
            fold_ks = sorted({min(k, n_train - 1) for k in ks})
            candidates = self._candidates(X_train, fold_ks)[0]
            return self._boosting(candidates, fold_ks, next(fold_seeds) % (2**31 - 1))

        return choose_boost_scale(
            X, time, event, self.init_, folds, make_boosting, self.ties, SURVIVAL_SCALES
        )

    def _fit_baseline(self, X, risk_sets):
        hazard = risk_sets.breslow(self._risk(X))
        self.unique_times_ = risk_sets.group_time.astype(np.float64)
        self._set_baseline(hazard)

    def _set_baseline(self, hazard):
        self.cum_baseline_hazard_ = StepFunction(self.unique_times_, hazard, left=0.0)
        self.baseline_survival_ = StepFunction(self.unique_times_, np.exp(-hazard), left=1.0)

    def _column_names(self):
        if hasattr(self, "feature_names_in_"):
            return [str(c) for c in self.feature_names_in_]
        return [f"x{i}" for i in range(self.n_features_in_)]

    def _candidates(self, X, ks):
        return candidate_graphs(
            X,
            self._column_names(),
            ks,
            self.threshold_quantiles,
            self.feature_groups_,
            self.metric,
        )

    def _importances(self):
        lookup = {name: i for i, name in enumerate(self._column_names())}
        importances = np.zeros(self.n_features_in_)
        for spec, gain in zip(self.selected_graphs_, self.train_gains_, strict=True):
            idx = [lookup[c] for c in spec.columns]
            importances[idx] += -gain / len(idx)
        total = importances.sum()
        return importances / total if total > 0 else importances

    # -- predict -----------------------------------------------------------------------------
    def _validate_predict(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite=False, dtype=np.float64)
        check_finite(X, getattr(self, "feature_names_in_", None), _OWNER)
        return X

    def _risk(self, X):
        risk = self.init_.decision_function(X)
        if self.boost_scale_ > 0 and self.estimators_:
            if getattr(self, "_stacked", None) is None:
                self._stacked = StackedSteps(self.estimators_)
            risk = risk + self.boost_scale_ * self._stacked.predict(X)
        return risk

    def predict(self, X):
        """Risk score of each patient: higher means an earlier event.

        The log relative hazard: the start's linear predictor plus ``boost_scale_`` times the
        boosted score.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        risk : ndarray of shape (n_samples,)
        """
        return self._risk(self._validate_predict(X))

    def predict_cumulative_hazard_function(self, X, return_array=False):
        """Cumulative hazard ``H0(t) * exp(risk)`` of each patient.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        return_array : bool, default=False
            Return the values at ``unique_times_`` instead of step functions.

        Returns
        -------
        cum_hazard : ndarray of StepFunction of shape (n_samples,), or ndarray of shape \
(n_samples, n_unique_times)
        """
        relative = np.exp(self.predict(X))
        hazard = self.cum_baseline_hazard_.y
        if return_array:
            return relative[:, None] * hazard[None, :]
        return _functions(
            [StepFunction(self.unique_times_, hazard, a=r, left=0.0) for r in relative]
        )

    def predict_survival_function(self, X, return_array=False):
        """Survival function ``S0(t) ** exp(risk)`` of each patient.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        return_array : bool, default=False
            Return the values at ``unique_times_`` instead of step functions.

        Returns
        -------
        survival : ndarray of StepFunction of shape (n_samples,), or ndarray of shape \
(n_samples, n_unique_times)
        """
        relative = np.exp(self.predict(X))
        hazard = self.cum_baseline_hazard_.y
        values = np.exp(-relative[:, None] * hazard[None, :])
        if return_array:
            return values
        return _functions([StepFunction(self.unique_times_, v, left=1.0) for v in values])

    def score(self, X, y):
        """Harrell's concordance index of ``predict(X)`` on the survival times ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : structured array of shape (n_samples,)
            Event indicator and time, as in :meth:`fit`.

        Returns
        -------
        cindex : float
        """
        risk = self.predict(X)
        event, time = check_survival_y(y, risk.shape[0])
        return concordance_index(event, time, risk)

    def save(self, path):
        """Save the fitted model to the new folder ``path`` (JSON and tensors, checksummed).

        Read it back with :func:`graphboost.load`; the loaded model predicts exactly what this
        one does.
        """
        write_survival_model(self, path)


def load(path):
    """Load a model saved with :meth:`GraphBoostClassifier.save` or
    :meth:`GraphBoostSurvivalAnalysis.save`.

    Only JSON and tensors are read (``torch.load(..., weights_only=True)``) after their SHA-256
    checksums are verified; no code from the folder is run. The loaded model predicts exactly
    what the saved one did.

    Parameters
    ----------
    path : str or path-like
        The folder written by ``save``.

    Returns
    -------
    model : GraphBoostClassifier or GraphBoostSurvivalAnalysis
        The estimator named in the folder's ``model.json``.

    Raises
    ------
    FileNotFoundError
        When ``path`` holds no saved model.
    ValueError
        When a file was altered or corrupted, or was written in another format version.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from graphboost import GraphBoostClassifier, load
    >>> X = np.random.default_rng(0).normal(size=(60, 3)); y = (X[:, 0] > 0).astype(int)
    >>> clf = GraphBoostClassifier(n_estimators=5, random_state=0).fit(X, y)
    >>> folder = os.path.join(tempfile.mkdtemp(), "model")
    >>> clf.save(folder)
    >>> bool(np.array_equal(load(folder).predict_proba(X), clf.predict_proba(X)))
    True
    """
    if is_survival_folder(path):
        return read_survival_model(path, GraphBoostSurvivalAnalysis)
    from ._boosting import load as load_classifier  # the classifier's reader and its messages

    return load_classifier(path)


def _functions(items):
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def check_survival_y(y, n_samples=None, name="y"):
    """Event indicator (bool) and time (float) of a two-field structured array.

    Times must be finite and >= 0 (a follow-up may end on day 0), events bool or 0/1, and at
    least one event present when ``n_samples`` is given (fit). Raise a ValueError naming ``y``,
    what was expected and what came.
    """
    dtype = getattr(y, "dtype", None)
    names = getattr(dtype, "names", None)
    if names is None or len(names) != 2 or np.ndim(y) != 1:
        got = (
            f"an array of dtype {dtype} and shape {np.shape(y)}"
            if dtype is not None
            else f"a {type(y).__name__}"
        )
        raise ValueError(
            f"{name} must be a 1-D structured array with two fields, the event indicator then the "
            "time, as sksurv.util.Surv.from_arrays(event, time) makes; got " + got + "."
        )
    event_field, time_field = names
    raw_event = np.asarray(y[event_field])
    if raw_event.dtype == bool:
        event = raw_event
    else:
        values = np.unique(raw_event) if raw_event.dtype.kind in "biuf" else None
        if values is None or not np.isin(values, (0, 1)).all():
            shown = [] if values is None else values[~np.isin(values, (0, 1))][:5].tolist()
            raise ValueError(
                f"The event field {event_field!r} of {name} must hold booleans or 0/1; got dtype "
                f"{raw_event.dtype}" + (f" with values {shown}." if shown else ".")
            )
        event = raw_event.astype(bool)
    raw_time = np.asarray(y[time_field])
    if raw_time.dtype.kind not in "biuf":
        raise ValueError(
            f"The time field {time_field!r} of {name} must hold numbers; got dtype "
            f"{raw_time.dtype}."
        )
    time = raw_time.astype(np.float64)
    bad = ~np.isfinite(time) | (time < 0)
    if bad.any():
        raise ValueError(
            f"The time field {time_field!r} of {name} must hold finite times >= 0; got "
            f"{int(bad.sum())} other value(s), e.g. {time[bad][:5].tolist()}."
        )
    if n_samples is not None and time.shape[0] != n_samples:
        raise ValueError(
            f"{name} has {time.shape[0]} patients but X has {n_samples}: pass one row of "
            f"{name} per row of X."
        )
    if n_samples is not None and not event.any():
        raise ValueError(
            f"{name} holds no event (all {time.shape[0]} patients are censored): the Cox "
            "partial likelihood needs at least one."
        )
    return event, time


def _check_neighbors(n_neighbors, threshold_quantiles, n_samples):
    """The sorted neighborhood sizes; a ValueError naming the parameter otherwise."""
    ks = np.atleast_1d(np.asarray(n_neighbors))
    if ks.size == 0 or not np.issubdtype(ks.dtype, np.integer) or (ks < 1).any():
        raise ValueError(
            f"The 'n_neighbors' parameter of {_OWNER} must be a positive int or a non-empty "
            f"sequence of positive ints; got {n_neighbors!r}."
        )
    if (ks >= n_samples).any():
        raise ValueError(
            f"n_neighbors={int(ks.max())} must be smaller than the number of training patients "
            f"(n_samples={n_samples}): each patient needs that many neighbors other than itself."
        )
    qs = np.asarray(threshold_quantiles, dtype=np.float64).ravel()
    if ((qs <= 0) | (qs >= 1)).any():
        raise ValueError(
            f"The 'threshold_quantiles' parameter of {_OWNER} must hold numbers in (0, 1); "
            f"got {threshold_quantiles!r}."
        )
    return sorted({int(k) for k in ks})
