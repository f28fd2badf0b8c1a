"""Optuna searches over GraphBoostClassifier's parameters: nested-CV objective, staged pruning.

The objective is an inner stratified K-fold CV on the patients it is given (so inside an outer
benchmark fold it is the inner loop of a nested CV). After each inner fold it reports the running
mean of the per-round AUROC (``staged_predict_proba`` on the inner validation fold) to the trial,
one report per boosting round, and a :class:`optuna.pruners.MedianPruner` stops trials whose
boosting curve runs below the median of earlier trials.

Studies live in an Optuna storage: a SQLite file by default (a killed search resumes with
``load_if_exists=True`` and loses no finished trial), or a PostgreSQL URL shared by several worker
processes on several machines. Running trials send a heartbeat to the storage
(:data:`HEARTBEAT_INTERVAL`); a trial whose worker died (killed, out of memory, machine lost)
stops beating (or never beat, if the worker died just after creating it), and the next trial
started on the study marks it failed and runs its parameters again (Optuna's
``RetryFailedTrialCallback``, at most twice), instead of leaving it RUNNING forever.
Open a study in the browser with ``optuna-dashboard <storage URL>``.
Optuna is imported lazily; without it the functions raise an ImportError naming the extra
``pip install 'graphboost[tune]'``.
"""

from __future__ import annotations

import datetime
import functools
import json
import logging
import math
import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import LabelEncoder

from .._base import InputError, filter_fold_noise
from ..clinical._metrics import compute_metrics
from ..methods._pipelines import make_pipeline, staged_proba
from ._checks import (
    check_search_data,
    check_search_options,
    check_study_fingerprint,
    study_fingerprint,
)

MAX_ROUNDS = 100
"""Upper bound of ``n_estimators`` in the search space; a boosting curve is reported on this
many steps per inner fold (shorter curves are padded with their last value)."""

_REPORT_STEPS = 20  # reports per inner fold (a stride over the rounds)

_GNN_LR = "gnn_lr"  # the Adam step of the GNN weak learners

HEARTBEAT_INTERVAL = 30
"""Seconds between the heartbeats of a running trial. A trial silent for twice as long is taken
for dead: the next trial started on the study fails it and enqueues its parameters again."""

_MAX_RETRY = 2  # a trial that kills its worker every time (e.g. out of memory) is not rerun forever


def _optuna():
    try:
        import optuna
    except ImportError as exc:  # pragma: no cover - optuna is in the dev extra
        raise ImportError("Optuna searches need optuna: pip install 'graphboost[tune]'") from exc
    return optuna


def search_space(trial, valid_params=None, fixed=None):
    """Suggest GraphBoostClassifier parameters for one trial.

    Parameters
    ----------
    trial : optuna.trial.Trial
    valid_params : set of str, optional
        Parameter names of the estimator (``get_params()``); others are not suggested.
    fixed : dict, optional
        Parameters held fixed (not searched); they override the suggestions.

    Returns
    -------
    dict
        Keyword arguments for ``GraphBoostClassifier``.

    Notes
    -----
    The space: graph rule (kNN only, or kNN plus AdaMedGraph's threshold rule with ``tau`` a
    quantile of the pairwise differences), ``k``, the distance on blocks, the weak learner
    (``conv``), and for GNN learners the hidden size, layers, dropout and learning rate; the
    boosting learning rate, ``n_estimators`` and the screening width ``n_screen``.
    """
    fixed = dict(fixed or {})

    def pick(name, method, *args, **kwargs):
        """The fixed value of ``name``, else ``trial.<method>(name, ...)``."""
        return fixed[name] if name in fixed else getattr(trial, method)(name, *args, **kwargs)

    p = {"n_neighbors": pick("n_neighbors", "suggest_categorical", [5, 10, 20, 40])}
    if "threshold_quantiles" in fixed:
        p["threshold_quantiles"] = fixed["threshold_quantiles"]
    elif trial.suggest_categorical("graph_rule", ["knn", "knn+threshold"]) == "knn+threshold":
        p["threshold_quantiles"] = (
            trial.suggest_float("threshold_quantile", 0.002, 0.05, log=True),
        )
    else:
        p["threshold_quantiles"] = ()
    p["metric"] = pick("metric", "suggest_categorical", ["euclidean", "cosine"])
    p["conv"] = pick("conv", "suggest_categorical", ["vote", "appnp", "gcn", "sage", "gat"])
    if p["conv"] != "vote":
        p["hidden_channels"] = pick("hidden_channels", "suggest_categorical", [8, 16, 32, 64])
        p["num_layers"] = pick("num_layers", "suggest_int", 1, 3)
        p["dropout"] = pick("dropout", "suggest_float", 0.0, 0.5)
        p[_GNN_LR] = pick(_GNN_LR, "suggest_float", 1e-3, 5e-2, log=True)
        p["n_screen"] = pick("n_screen", "suggest_int", 1, 5)
    p["learning_rate"] = pick("learning_rate", "suggest_float", 0.02, 0.5, log=True)
    p["n_estimators"] = pick("n_estimators", "suggest_int", 10, MAX_ROUNDS, step=10)
    if valid_params is not None:
        p = {k: v for k, v in p.items() if k in valid_params}
    p.update(fixed)
    return p


def _report_steps(n_rounds):
    stride = max(1, math.ceil(n_rounds / _REPORT_STEPS))
    steps = list(range(stride - 1, n_rounds, stride))
    if steps[-1] != n_rounds - 1:
        steps.append(n_rounds - 1)
    return steps


class NestedCVObjective:
    """Optuna objective: inner stratified K-fold AUROC of GraphBoostClassifier, with pruning.

    Parameters
    ----------
    X : pandas.DataFrame
        Raw features (preprocessed inside each inner fold).
    y : ndarray
        Encoded labels 0..K-1.
    feature_groups : dict, optional
        Blocks of source columns (each one candidate graph).
    preprocessor : features.ClinicalPreprocessor, optional
        Unfitted preprocessor (default ``ClinicalPreprocessor()``).
    inner_splits : int, default=3
    fixed : dict, optional
        Estimator parameters held fixed.
    random_state : int, default=0
    worker : int, default=0
        Index of the worker process, recorded in each trial's ``user_attrs["worker"]``.
    front : transformer, optional
        An unfitted step before the preprocessor, fitted inside every inner training fold.
    """

    def __init__(
        self,
        X,
        y,
        *,
        feature_groups=None,
        preprocessor=None,
        inner_splits=3,
        fixed=None,
        random_state=0,
        worker=0,
        front=None,
    ):
        self.X = X
        self.y = np.asarray(y)
        self.feature_groups = feature_groups or {}
        self.preprocessor = preprocessor
        self.inner_splits = inner_splits
        self.fixed = fixed or {}
        self.random_state = random_state
        self.worker = worker
        self.front = front

    def _fold_curve(self, params, train, valid):
        """AUROC after each boosting round on one inner validation fold."""
        pipe = make_pipeline(
            "graphboost",
            clip_neighbors(params, len(train)),
            self.feature_groups,
            self.random_state,
            preprocessor=self.preprocessor,
        )
        pipe = pipe if self.front is None else Pipeline([("front", clone(self.front)), *pipe.steps])
        with filter_fold_noise():
            pipe.fit(self.X.iloc[train], self.y[train])
            stages = staged_proba(pipe, self.X.iloc[valid])
        curve = [compute_metrics(self.y[valid], p)["auroc"] for p in stages] or [np.nan]
        return curve[:MAX_ROUNDS] + [curve[-1]] * (MAX_ROUNDS - len(curve))

    def __call__(self, trial):
        try:
            return self._score(trial)
        except _optuna().TrialPruned:
            raise
        except Exception as exc:  # its cause, for the summary of the search (never a traceback)
            trial.set_user_attr(FAILURE, describe_failure(exc))
            raise

    def _score(self, trial):
        from sklearn.model_selection import StratifiedKFold

        from graphboost import GraphBoostClassifier

        params = search_space(trial, set(GraphBoostClassifier().get_params()), self.fixed)
        trial.set_user_attr("estimator_params", _jsonable(params))
        trial.set_user_attr("worker", int(self.worker))
        cv = StratifiedKFold(self.inner_splits, shuffle=True, random_state=self.random_state)
        curves = []
        for k, (train, valid) in enumerate(cv.split(self.X, self.y)):
            curves.append(self._fold_curve(params, train, valid))
            running = np.nanmean(np.asarray(curves), axis=0)
            for s in _report_steps(MAX_ROUNDS):
                trial.report(float(running[s]), step=k * MAX_ROUNDS + s)
            if trial.should_prune():
                raise _optuna().TrialPruned(f"pruned after inner fold {k + 1}")
        final = [c[-1] for c in curves]
        trial.set_user_attr("inner_fold_auroc", [float(v) for v in final])
        return float(np.nanmean(final))


FAILURE = "failure"
"""The user attribute of a failed trial that holds its cause (exception type and message)."""


def describe_failure(exc):
    """``"TypeName: message"`` on one line, at most 300 characters.

    Examples
    --------
    >>> describe_failure(ValueError("bad   value"))
    'ValueError: bad value'
    """
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:300]


def clip_neighbors(params, n_train):
    """``n_neighbors`` capped at half the training patients (small inner folds need it).

    Examples
    --------
    >>> clip_neighbors({"n_neighbors": 40}, 30)
    {'n_neighbors': 15}
    """
    params = dict(params)
    k = params.get("n_neighbors")
    cap = max(1, n_train // 2)
    if isinstance(k, int):
        params["n_neighbors"] = min(k, cap)
    elif isinstance(k, tuple | list):
        params["n_neighbors"] = tuple(sorted({min(int(v), cap) for v in k}))
    return params


def _jsonable(params):
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}


def estimator_params(trial):
    """The GraphBoostClassifier parameters a (finished) trial used."""
    params = dict(trial.user_attrs.get("estimator_params", {}))
    for key in ("threshold_quantiles", "n_neighbors"):
        if isinstance(params.get(key), list):
            params[key] = tuple(params[key])
    return params


def redact(url):
    """A storage URL with its password hidden (for messages).

    Examples
    --------
    >>> redact("postgresql://bob:secret@db:5432/studies")
    'postgresql://bob:***@db:5432/studies'
    """
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1] if "@" in url else url


def _heartbeat_kwargs(optuna, heartbeat_interval):
    """RDBStorage arguments: heartbeats, and a dead worker's trial failed and retried."""
    if heartbeat_interval is None:
        return {}
    if isinstance(heartbeat_interval, bool) or not isinstance(heartbeat_interval, int):
        raise InputError(
            f"heartbeat_interval must be a whole number of seconds (or None); "
            f"got {heartbeat_interval!r}."
        )
    if heartbeat_interval < 1:
        raise InputError(f"heartbeat_interval must be at least 1 second; got {heartbeat_interval}.")
    storages = optuna.storages
    if hasattr(storages, "RetryHeartbeatStaleTrialCallback"):  # Optuna >= 4.9 names
        retry = storages.RetryHeartbeatStaleTrialCallback(max_retry=_MAX_RETRY)
        return {"heartbeat_interval": heartbeat_interval, "heartbeat_stale_trial_callback": retry}
    retry = storages.RetryFailedTrialCallback(max_retry=_MAX_RETRY)
    return {"heartbeat_interval": heartbeat_interval, "failed_trial_callback": retry}


def _silent_trial_ids(storage, study_id, grace_period):
    """Running trials of ``study_id`` that never beat and started over ``grace_period`` s ago.

    Optuna creates a trial before its heartbeat thread writes the first beat, and it only
    fails trials whose last beat is old: a worker killed between the two left its trial RUNNING
    forever. A live worker beats within milliseconds of creating its trial, so a trial with no
    beat after the grace period is dead (``datetime_start`` is the creating machine's clock:
    machines sharing a study need clocks within the grace period of each other).
    """
    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session

    oldest = datetime.datetime.now() - datetime.timedelta(seconds=grace_period)
    running = _optuna().trial.TrialState.RUNNING
    with _create_scoped_session(storage.scoped_session) as session:
        trials = (
            session.query(models.TrialModel)
            .filter(models.TrialModel.state == running)
            .filter(models.TrialModel.study_id == study_id)
            .all()
        )
        return [t.trial_id for t in trials if not t.heartbeats and t.datetime_start < oldest]


@functools.cache
def _storage_class():
    """Optuna's RDBStorage, which also takes a trial that died before its first beat for stale."""

    class HeartbeatRDBStorage(_optuna().storages.RDBStorage):
        def _get_stale_trial_ids(self, study_id):
            stale = super()._get_stale_trial_ids(study_id)
            grace = self.grace_period or 2 * self.heartbeat_interval
            silent = _silent_trial_ids(self, study_id, grace)
            return stale + [i for i in silent if i not in stale]

    return HeartbeatRDBStorage


@contextmanager
def _quiet_heartbeat_notices(optuna):
    """Hide Optuna's notices that its heartbeat API is experimental (filtered by message)."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            message=r".*(heartbeat_interval|Retry\w*TrialCallback)",
            category=optuna.exceptions.ExperimentalWarning,
        )
        yield


def check_storage_url(url):
    """Check a storage URL's form (and a SQLite file's folder) without opening it.

    Returns
    -------
    bool
        True for a SQLite URL (whose file opening it would create), False otherwise.
    """
    if not isinstance(url, str) or "://" not in url:
        raise InputError(
            f"Storage must be a URL such as sqlite:///study.db or "
            f"postgresql://user:password@host/db; got {url!r}."
        )
    if not url.startswith("sqlite:///"):
        return False
    path = url[len("sqlite:///") :]
    folder = os.path.dirname(os.path.abspath(path))
    if path and not os.path.isdir(folder):
        raise InputError(f"Cannot open storage {url}: folder '{folder}' does not exist.")
    return True


def open_storage(url, heartbeat_interval=HEARTBEAT_INTERVAL):
    """Open (and check) an Optuna storage URL, with one clear error if it cannot be reached.

    A SQLite file is created if absent, but its folder must exist. Nothing else is written.
    Running trials beat every ``heartbeat_interval`` seconds; a trial silent for twice as long
    is failed and retried by the next trial started (``None``: no heartbeat).
    """
    optuna = _optuna()
    check_storage_url(url)
    with _quiet_heartbeat_notices(optuna):
        kwargs = _heartbeat_kwargs(optuna, heartbeat_interval)
        if url.startswith("postgresql"):
            kwargs["engine_kwargs"] = {"connect_args": {"connect_timeout": 5}}
        try:
            return _storage_class()(url, **kwargs)
        except Exception as exc:
            reason = " ".join(str(exc).split("\n")[0].split())[:200]
            raise InputError(f"Cannot reach the Optuna storage {redact(url)}: {reason}") from exc


def create_study(storage, study_name, seed=0, worker=0, heartbeat_interval=HEARTBEAT_INTERVAL):
    """Create or load a study (maximise AUROC) with a seeded TPE sampler and a MedianPruner.

    The sampler's seed mixes ``seed``, the worker index and the number of trials already in the
    study, so that workers sharing a study, and a resumed study, do not replay the same
    suggestions, while a given run stays reproducible.
    """
    optuna = _optuna()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if isinstance(storage, str):
        storage = open_storage(storage, heartbeat_interval)
    existing = 0
    try:
        summaries = optuna.study.get_all_study_summaries(storage)
        for s in summaries:
            if s.study_name == study_name:
                existing = s.n_trials
    except Exception:
        existing = 0
    sampler = optuna.samplers.TPESampler(seed=seed + 1009 * worker + existing, n_startup_trials=5)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0)
    return optuna.create_study(
        storage=storage,
        study_name=study_name,
        direction="maximize",
        sampler=sampler,
        pruner=pruner,
        load_if_exists=True,
    )


def count_trials(study, state="COMPLETE"):
    """Number of trials of a study in a state (``COMPLETE``, ``PRUNED``, ``FAIL``, ``RUNNING``)."""
    optuna = _optuna()
    st = getattr(optuna.trial.TrialState, state)
    return len(study.get_trials(deepcopy=False, states=(st,)))


def _split_trials(n_trials, n_workers):
    return [n_trials // n_workers + int(i < n_trials % n_workers) for i in range(n_workers)]


def run_worker(
    dataset,
    storage,
    study_name,
    n_trials,
    *,
    timeout=None,
    inner_splits=3,
    fixed=None,
    random_state=0,
    worker=0,
    progress=False,
    heartbeat_interval=HEARTBEAT_INTERVAL,
    front=None,
):
    """Run ``n_trials`` trials of a study in this process (one worker of :func:`run_search`).

    Every argument is explicit (the dataset is passed, not read again), so a worker process is
    started with this function and its arguments; nothing is read from the command line or the
    environment.
    """
    study = create_study(storage, study_name, random_state, worker, heartbeat_interval)
    objective = NestedCVObjective(
        dataset.X,
        LabelEncoder().fit_transform(dataset.y),
        feature_groups=dataset.feature_groups,
        preprocessor=dataset.preprocessor,
        inner_splits=inner_splits,
        fixed=fixed,
        random_state=random_state,
        worker=worker,
        front=front,
    )
    with _failed_trials_unlogged():  # their causes are in the summary (SearchResult.failures)
        study.optimize(
            objective,
            n_trials=n_trials,
            timeout=timeout,
            show_progress_bar=progress,
            catch=(ValueError, RuntimeError),
        )


class _FailedTrialRecords(logging.Filter):
    """Drops Optuna's "Trial N failed with ..." records (with their tracebacks)."""

    def filter(self, record):
        message = record.getMessage()
        return not (message.startswith("Trial ") and " failed with " in message)


@contextmanager
def _failed_trials_unlogged():
    logger = logging.getLogger("optuna.study._optimize")
    quiet = _FailedTrialRecords()
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)


def _run_workers(dataset, storage_url, study_name, n_trials, n_workers, kwargs):
    """Worker processes (spawned, so no forked torch state) sharing one study."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    procs = []
    for w, n in enumerate(_split_trials(n_trials, n_workers)):
        if n == 0:
            continue
        args = (dataset, storage_url, study_name, n)
        procs.append(ctx.Process(target=run_worker, args=args, kwargs={**kwargs, "worker": w + 1}))
        procs[-1].start()
    for p in procs:
        p.join()
    codes = [p.exitcode for p in procs]
    if any(codes):
        raise InputError(f"Tuning worker(s) failed with exit status {codes}.")


@dataclass
class SearchResult:
    """What :func:`run_search` returns.

    Attributes
    ----------
    study : optuna.study.Study
    n_complete, n_pruned, n_new : int
        Trials of the study complete and pruned, and how many of them this run added.
    best_params : dict or None
        GraphBoostClassifier parameters of the best trial (``n_neighbors`` capped for the
        whole cohort), ``None`` when no trial completed.
    n_failed : int
        Trials of this run that failed.
    failures : dict of str to int
        Their causes (``"TypeName: message"``; a trial of a worker that died: "the worker
        stopped") and how many trials each.
    """

    study: object
    n_complete: int
    n_pruned: int
    n_new: int
    best_params: dict | None
    n_failed: int = 0
    failures: dict = field(default_factory=dict)

    def describe_failures(self):
        """The causes of this run's failed trials on one line ("" when none failed)."""
        return "; ".join(
            f"{cause} ({n} trial{'s' if n > 1 else ''})" for cause, n in self.failures.items()
        )


# Over 60 lines only through its numpydoc docstring (33 lines of code).
def run_search(
    dataset,
    storage,
    *,
    study_name="graphboost",
    n_trials=50,
    n_workers=1,
    timeout=None,
    inner_splits=3,
    fixed=None,
    random_state=0,
    progress=False,
    heartbeat_interval=HEARTBEAT_INTERVAL,
    front=None,
):
    """Optuna search of GraphBoostClassifier's parameters on a dataset (nested-CV objective).

    Parameters
    ----------
    dataset : experiments.Dataset
        E.g. from a cohort (:func:`experiments.evaluation._dataset.dataset_from_cohort`).
    storage : str
        Optuna storage URL (``sqlite:///study.db``; PostgreSQL for several workers).
    study_name : str, default="graphboost"
    n_trials : int, default=50
        New trials in this run, split among the workers.
    n_workers : int, default=1
        Worker processes sharing the study (1: this process).
    timeout : float, optional
        Seconds per worker.
    inner_splits : int, default=3
    fixed : dict, optional
        Parameters held fixed (not searched).
    random_state : int, default=0
    progress : bool, default=False
    heartbeat_interval : int or None, default=HEARTBEAT_INTERVAL
        Seconds between the heartbeats of a running trial. A trial of a killed worker (silent
        for twice as long) is failed by the next trial started, and its parameters are run
        again (at most twice); it counts among that run's ``n_trials``. ``None``: no heartbeat
        (a killed worker's trial stays RUNNING).
    front : transformer, optional
        A step before the preprocessor, fitted inside each inner training fold (the supervised
        scan block of ``experiments.workflows.cohort_task``); in the fingerprint.

    Returns
    -------
    SearchResult

    Raises
    ------
    InputError
        Before the storage is opened (nothing written): an option out of range, a fixed
        parameter GraphBoostClassifier does not take, a class with fewer patients than
        ``inner_splits``. Before any trial: a study of that name created for other data,
        label, fixed parameters, inner splits or seed (its fingerprint, recorded in the
        study's user attributes, differs): name a new study or use another storage.
    """
    _optuna()
    check_search_options(n_trials, n_workers, inner_splits, timeout, fixed)
    check_search_data(dataset.y, inner_splits, fixed)
    fingerprint = study_fingerprint(dataset, inner_splits, fixed, random_state, front)
    open_storage(storage, heartbeat_interval)  # an unreachable storage: an error before any work
    study = create_study(storage, study_name, random_state)
    check_study_fingerprint(study, fingerprint, redact(storage))
    before, first_new = _finished(study), len(study.get_trials(deepcopy=False))
    kwargs = {"timeout": timeout, "inner_splits": inner_splits, "fixed": fixed}
    kwargs.update(random_state=random_state, heartbeat_interval=heartbeat_interval, front=front)
    if n_workers == 1:
        run_worker(dataset, storage, study_name, n_trials, progress=progress, **kwargs)
    else:
        _run_workers(dataset, storage, study_name, n_trials, n_workers, kwargs)
    study = create_study(storage, study_name, random_state, heartbeat_interval=heartbeat_interval)
    n_complete, n_pruned = count_trials(study), count_trials(study, "PRUNED")
    best = None
    if n_complete:
        best = {**estimator_params(study.best_trial), **(fixed or {})}
        best = clip_neighbors(best, len(dataset.y))
    failures = _failures(study, first_new)
    n_new = n_complete + n_pruned - before
    return SearchResult(study, n_complete, n_pruned, n_new, best, sum(failures.values()), failures)


def _failures(study, first_new):
    """Cause -> number of the failed trials numbered ``first_new`` or later (this run's)."""
    fail = _optuna().trial.TrialState.FAIL
    out = {}
    for t in study.get_trials(deepcopy=False, states=(fail,)):
        if t.number >= first_new:
            cause = t.user_attrs.get(FAILURE, "the worker stopped (no heartbeat)")
            out[cause] = out.get(cause, 0) + 1
    return out


def _finished(study):
    return count_trials(study) + count_trials(study, "PRUNED")


def tuning_record(result, study_name, inner_splits):
    """What a model card says of the search that chose a refitted model's parameters.

    Parameters
    ----------
    result : SearchResult
        A search with at least one complete trial.
    study_name : str
    inner_splits : int
        Folds of the inner CV that scored each trial.

    Returns
    -------
    dict
        ``study``, ``n_complete`` (complete trials), ``inner_splits``, ``best_trial`` (its
        number) and ``inner_auroc`` (its mean inner-CV AUROC). No storage URL: it may hold a
        password.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> best = SimpleNamespace(number=7, value=0.7123)
    >>> result = SimpleNamespace(study=SimpleNamespace(best_trial=best), n_complete=20)
    >>> tuning_record(result, "pcr", 3)
    {'study': 'pcr', 'n_complete': 20, 'inner_splits': 3, 'best_trial': 7, 'inner_auroc': 0.7123}
    """
    best = result.study.best_trial
    return {
        "study": str(study_name),
        "n_complete": int(result.n_complete),
        "inner_splits": int(inner_splits),
        "best_trial": int(best.number),
        "inner_auroc": float(best.value),
    }


def tune_report(result, storage, study_name, inner_splits):
    """Markdown for the model report of a refitted best trial (storage password hidden)."""
    t = tuning_record(result, study_name, inner_splits)
    return (
        "\n## Tuning\n\n"
        f"Optuna study `{t['study']}` ({t['n_complete']} complete trials), best trial "
        f"{t['best_trial']} with inner {t['inner_splits']}-fold CV AUROC {t['inner_auroc']:.3f}; "
        f"parameters `{json.dumps(_jsonable(result.best_params))}`. Open the study with "
        f"`optuna-dashboard {redact(storage)}`.\n"
    )
