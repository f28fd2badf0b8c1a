"""Optuna searches over GraphBoostSurvivalAnalysis's parameters: Harrell's C out of fold.

The survival twin of :func:`experiments.tuning.run_search`, on the same storage, study,
fingerprint, heartbeat and failure machinery. Each trial fits the preprocessor and
GraphBoostSurvivalAnalysis in each fold of an inner K-fold cross-validation stratified on the
event and scores the held-out patients by Harrell's C; the running mean is reported after each
fold, so the MedianPruner stops a trial whose first folds run below the median of earlier trials.
One worker process (``n_workers=1``).

The search space is small: the neighborhood sizes of the kNN graphs, the shrinkage, the number of
rounds and the L2 term of the Newton steps; the penalty of the ridge Cox start is chosen inside
every fit (its own inner CV) and the weight of the boosted score by its out-of-fold guard.
"""

from __future__ import annotations

import numpy as np

from .._base import InputError, filter_fold_noise
from ..clinical._survival import harrell_c
from ..methods._survival_methods import event_stratified_folds, make_survival_pipeline
from ._checks import check_search_options, check_study_fingerprint, study_fingerprint
from ._search import (
    FAILURE,
    HEARTBEAT_INTERVAL,
    SearchResult,
    _failed_trials_unlogged,
    _failures,
    _finished,
    _jsonable,
    _optuna,
    clip_neighbors,
    count_trials,
    create_study,
    describe_failure,
    estimator_params,
    open_storage,
    redact,
)

NEIGHBORS = {"20": (20,), "20,50": (20, 50), "20,50,100": (20, 50, 100), "10,30": (10, 30)}
"""The neighborhood sizes a trial may choose (Optuna's choices are text)."""


def survival_search_space(trial, fixed=None):
    """Suggest GraphBoostSurvivalAnalysis parameters for one trial.

    Returns
    -------
    dict
        ``n_neighbors`` (one of :data:`NEIGHBORS`), ``learning_rate`` (0.02-0.3, log),
        ``n_estimators`` (20-100, step 20) and ``l2_regularization`` (0.1-10, log); ``fixed``
        parameters override them and are not suggested.
    """
    fixed = dict(fixed or {})
    p = {}
    if "n_neighbors" not in fixed:
        p["n_neighbors"] = NEIGHBORS[trial.suggest_categorical("neighbors", list(NEIGHBORS))]
    if "learning_rate" not in fixed:
        p["learning_rate"] = trial.suggest_float("learning_rate", 0.02, 0.3, log=True)
    if "n_estimators" not in fixed:
        p["n_estimators"] = trial.suggest_int("n_estimators", 20, 100, step=20)
    if "l2_regularization" not in fixed:
        p["l2_regularization"] = trial.suggest_float("l2_regularization", 0.1, 10.0, log=True)
    return {**p, **fixed}


class SurvivalCVObjective:
    """Optuna objective: the mean inner-fold Harrell's C of GraphBoostSurvivalAnalysis.

    Parameters
    ----------
    dataset : features.Task
        A survival task (``y`` structured: event, time).
    inner_splits : int, default=3
        Folds stratified on the event.
    fixed : dict, optional
        Estimator parameters held fixed.
    random_state : int, default=0
    """

    def __init__(self, dataset, *, inner_splits=3, fixed=None, random_state=0):
        self.dataset = dataset
        self.inner_splits = inner_splits
        self.fixed = fixed or {}
        self.random_state = random_state

    def __call__(self, trial):
        try:
            return self._score(trial)
        except _optuna().TrialPruned:
            raise
        except Exception as exc:  # its cause, for the summary of the search
            trial.set_user_attr(FAILURE, describe_failure(exc))
            raise

    def _fold_c(self, params, train, valid):
        ds = self.dataset
        pipe = make_survival_pipeline(
            "graphboost",
            clip_neighbors(params, len(train)),
            self.random_state,
            feature_groups=ds.feature_groups,
            preprocessor=ds.preprocessor,
        )
        with filter_fold_noise():
            pipe.fit(ds.X.iloc[train], ds.y[train])
            return harrell_c(ds.y[valid], pipe.predict(ds.X.iloc[valid]))

    def _score(self, trial):
        params = survival_search_space(trial, self.fixed)
        trial.set_user_attr("estimator_params", _jsonable(params))
        trial.set_user_attr("worker", 0)
        folds = event_stratified_folds(self.dataset.y, self.inner_splits, self.random_state)
        scores = []
        for k, (train, valid) in enumerate(folds):
            scores.append(self._fold_c(params, train, valid))
            trial.report(float(np.mean(scores)), step=k)
            if trial.should_prune():
                raise _optuna().TrialPruned(f"pruned after inner fold {k + 1}")
        trial.set_user_attr("inner_fold_c", [float(v) for v in scores])
        return float(np.mean(scores))


def check_survival_search_data(y, inner_splits, cli=False):
    """Every inner fold needs events to score and to learn from: at least ``inner_splits``
    events and as many censored patients (the folds are stratified on the event)."""
    event = np.asarray(y["event"], dtype=bool)
    option = "--inner-splits" if cli else "inner_splits"
    fewest = int(min(event.sum(), (~event).sum()))
    if fewest < inner_splits:
        raise InputError(
            f"{option} {inner_splits}: the table has {int(event.sum())} events and "
            f"{int((~event).sum())} censored patients; an inner {inner_splits}-fold "
            "cross-validation stratified on the event needs at least that many of each. Use "
            f"fewer inner folds or a larger table."
        )


# Over 60 lines only through its docstring.
def run_survival_search(
    dataset,
    storage,
    *,
    study_name="graphboost",
    n_trials=50,
    timeout=None,
    inner_splits=3,
    fixed=None,
    random_state=0,
    progress=False,
    heartbeat_interval=HEARTBEAT_INTERVAL,
):
    """Optuna search of GraphBoostSurvivalAnalysis's parameters on a survival task.

    Parameters
    ----------
    dataset : features.Task
        A survival task (e.g. ``dataset_from_cohort(cohort, name, target=y)``).
    storage : str
        Optuna storage URL.
    study_name, n_trials, timeout, inner_splits, fixed, random_state, progress,
    heartbeat_interval
        As for :func:`experiments.tuning.run_search` (one worker).

    Returns
    -------
    SearchResult
        ``best_params``: the GraphBoostSurvivalAnalysis parameters of the best trial (its value:
        the mean inner-fold Harrell's C).

    Raises
    ------
    InputError
        Before the storage is opened: an option out of range, a fixed parameter the estimator
        does not take, too few events or censored patients for the inner folds. Before any
        trial: a study of that name created for other data or settings.

    Examples
    --------
    >>> result = run_survival_search(task, "sqlite:///study.db", n_trials=20)  # doctest: +SKIP
    >>> result.best_params  # doctest: +SKIP
    {'n_neighbors': (20, 50), 'learning_rate': 0.08, 'n_estimators': 60, ...}
    """
    _optuna()
    check_search_options(n_trials, 1, inner_splits, timeout)
    check_fixed_survival_params(fixed)
    check_survival_search_data(dataset.y, inner_splits)
    fingerprint = study_fingerprint(dataset, inner_splits, fixed, random_state)
    open_storage(storage, heartbeat_interval)
    study = create_study(storage, study_name, random_state, heartbeat_interval=heartbeat_interval)
    check_study_fingerprint(study, fingerprint, redact(storage))
    before, first_new = _finished(study), len(study.get_trials(deepcopy=False))
    objective = SurvivalCVObjective(
        dataset, inner_splits=inner_splits, fixed=fixed, random_state=random_state
    )
    with _failed_trials_unlogged():
        study.optimize(
            objective,
            n_trials=n_trials,
            timeout=timeout,
            show_progress_bar=progress,
            catch=(ValueError, RuntimeError, InputError),
        )
    n_complete, n_pruned = count_trials(study), count_trials(study, "PRUNED")
    best = None
    if n_complete:
        best = {**estimator_params(study.best_trial), **(fixed or {})}
        best = clip_neighbors(best, len(dataset.y))
    failures = _failures(study, first_new)
    n_new = n_complete + n_pruned - before
    return SearchResult(study, n_complete, n_pruned, n_new, best, sum(failures.values()), failures)


def check_fixed_survival_params(fixed):
    """Refuse a fixed parameter GraphBoostSurvivalAnalysis does not have or does not take.

    Examples
    --------
    >>> check_fixed_survival_params({"n_estimators": 5})
    >>> check_fixed_survival_params({"n_estimator": 5})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    experiments._base.InputError: --param n_estimator: GraphBoostSurvivalAnalysis has no ...
    """
    from graphboost import GraphBoostSurvivalAnalysis

    valid = sorted(GraphBoostSurvivalAnalysis().get_params())
    for key in fixed or {}:
        if key not in valid:
            raise InputError(
                f"--param {key}: GraphBoostSurvivalAnalysis has no parameter {key!r}; its "
                f"parameters: {', '.join(valid)}."
            )
    try:
        GraphBoostSurvivalAnalysis(**(fixed or {}))._validate_params()
    except (TypeError, ValueError) as exc:
        raise InputError(f"--param: {' '.join(str(exc).split())}") from exc
