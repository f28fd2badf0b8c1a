"""Optuna searches over GraphBoostClassifier's parameters: nested-CV objective, staged pruning.

The objective is an inner stratified K-fold CV on the patients it is given (so inside an outer
benchmark fold it is the inner loop of a nested CV). After each inner fold it reports the running
mean of the per-round AUROC (``staged_predict_proba`` on the inner validation fold) to the trial,
one report per boosting round, and a :class:`optuna.pruners.MedianPruner` stops trials whose
boosting curve runs below the median of earlier trials.

Studies live in an Optuna storage: a SQLite file by default (a killed search resumes with
``load_if_exists=True`` and loses no finished trial), or a PostgreSQL URL shared by several worker
processes on several machines. Open a study in the browser with ``optuna-dashboard <storage URL>``.
Optuna is imported lazily; without it the functions raise an ImportError naming the extra
``pip install 'graphboost[tune]'``.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import warnings

import numpy as np

from ._data import InputError

MAX_ROUNDS = 100
"""Upper bound of ``n_estimators`` in the search space; a boosting curve is reported on this
many steps per inner fold (shorter curves are padded with their last value)."""

_REPORT_STEPS = 20  # reports per inner fold (a stride over the rounds)


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

    def pick(name, suggest):
        return fixed[name] if name in fixed else suggest()

    p = {}
    p["n_neighbors"] = pick(
        "n_neighbors", lambda: trial.suggest_categorical("n_neighbors", [5, 10, 20, 40])
    )
    if "threshold_quantiles" in fixed:
        p["threshold_quantiles"] = fixed["threshold_quantiles"]
    elif trial.suggest_categorical("graph_rule", ["knn", "knn+threshold"]) == "knn+threshold":
        q = trial.suggest_float("threshold_quantile", 0.002, 0.05, log=True)
        p["threshold_quantiles"] = (q,)
    else:
        p["threshold_quantiles"] = ()
    p["metric"] = pick(
        "metric", lambda: trial.suggest_categorical("metric", ["euclidean", "cosine"])
    )
    p["conv"] = pick(
        "conv", lambda: trial.suggest_categorical("conv", ["vote", "appnp", "gcn", "sage", "gat"])
    )
    if p["conv"] != "vote":
        p["hidden_channels"] = pick(
            "hidden_channels", lambda: trial.suggest_categorical("hidden_channels", [8, 16, 32, 64])
        )
        p["num_layers"] = pick("num_layers", lambda: trial.suggest_int("num_layers", 1, 3))
        p["dropout"] = pick("dropout", lambda: trial.suggest_float("dropout", 0.0, 0.5))
        p["gnn_learning_rate"] = pick(
            "gnn_learning_rate",
            lambda: trial.suggest_float("gnn_learning_rate", 1e-3, 5e-2, log=True),
        )
        p["n_screen"] = pick("n_screen", lambda: trial.suggest_int("n_screen", 1, 5))
    p["learning_rate"] = pick(
        "learning_rate", lambda: trial.suggest_float("learning_rate", 0.02, 0.5, log=True)
    )
    p["n_estimators"] = pick(
        "n_estimators", lambda: trial.suggest_int("n_estimators", 10, MAX_ROUNDS, step=10)
    )
    if valid_params is not None:
        p = {k: v for k, v in p.items() if k in valid_params}
    p.update(fixed)
    return p


def _auroc(y, proba):
    from ._metrics import compute_metrics

    return compute_metrics(y, proba)["auroc"]


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
    inner_splits : int, default=3
    fixed : dict, optional
        Estimator parameters held fixed.
    random_state : int, default=0
    preprocessor : str, default="table"
        See :func:`experiments._methods.make_preprocessor`.
    """

    def __init__(
        self,
        X,
        y,
        feature_groups=None,
        inner_splits=3,
        fixed=None,
        random_state=0,
        preprocessor="table",
    ):
        self.X = X
        self.y = np.asarray(y)
        self.feature_groups = feature_groups or {}
        self.inner_splits = inner_splits
        self.fixed = fixed or {}
        self.random_state = random_state
        self.preprocessor = preprocessor

    def __call__(self, trial):
        optuna = _optuna()
        from sklearn.model_selection import StratifiedKFold

        from graphboost import GraphBoostClassifier

        from ._methods import make_pipeline, staged_proba

        params = search_space(trial, set(GraphBoostClassifier().get_params()), self.fixed)
        trial.set_user_attr("estimator_params", _jsonable(params))
        trial.set_user_attr("worker", int(os.environ.get("GRAPHBOOST_TUNE_WORKER", "0")))
        cv = StratifiedKFold(self.inner_splits, shuffle=True, random_state=self.random_state)
        curves = []
        for k, (tr, va) in enumerate(cv.split(self.X, self.y)):
            fold_params = clip_neighbors(params, len(tr))
            pipe = make_pipeline(
                "graphboost", fold_params, self.feature_groups, self.random_state, self.preprocessor
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", category=UserWarning)
                pipe.fit(self.X.iloc[tr], self.y[tr])
                stages = staged_proba(pipe, self.X.iloc[va])
            curve = [_auroc(self.y[va], p) for p in stages] or [np.nan]
            curve = curve[:MAX_ROUNDS] + [curve[-1]] * (MAX_ROUNDS - len(curve))
            curves.append(curve)
            running = np.nanmean(np.asarray(curves), axis=0)
            for s in _report_steps(MAX_ROUNDS):
                trial.report(float(running[s]), step=k * MAX_ROUNDS + s)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned after inner fold {k + 1}")
        final = [c[-1] for c in curves]
        trial.set_user_attr("inner_fold_auroc", [float(v) for v in final])
        return float(np.nanmean(final))


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


def open_storage(url):
    """Open (and check) an Optuna storage URL, with one clear error if it cannot be reached.

    A SQLite file is created if absent, but its folder must exist. Nothing else is written.
    """
    optuna = _optuna()
    if not isinstance(url, str) or "://" not in url:
        raise InputError(
            f"Storage must be a URL such as sqlite:///study.db or "
            f"postgresql://user:password@host/db; got {url!r}."
        )
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
        folder = os.path.dirname(os.path.abspath(path))
        if path and not os.path.isdir(folder):
            raise InputError(f"Cannot open storage {url}: folder '{folder}' does not exist.")
    try:
        kwargs = {}
        if url.startswith("postgresql"):
            kwargs["engine_kwargs"] = {"connect_args": {"connect_timeout": 5}}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return optuna.storages.RDBStorage(url, **kwargs)
    except Exception as exc:
        reason = " ".join(str(exc).split("\n")[0].split())[:200]
        raise InputError(f"Cannot reach the Optuna storage {redact(url)}: {reason}") from exc


def create_study(storage, study_name, seed=0, worker=0):
    """Create or load a study (maximise AUROC) with a seeded TPE sampler and a MedianPruner.

    The sampler's seed mixes ``seed``, the worker index and the number of trials already in the
    study, so that workers sharing a study, and a resumed study, do not replay the same
    suggestions, while a given run stays reproducible.
    """
    optuna = _optuna()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if isinstance(storage, str):
        storage = open_storage(storage)
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
    return [
        n_trials // n_workers + (1 if i < n_trials % n_workers else 0) for i in range(n_workers)
    ]


def _worker_argv(argv, n):
    """The worker's command line: this command with --n-workers 1, --n-trials n, no --output."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a in ("--n-workers", "--n-trials", "--output"):
            skip = True
            continue
        if a.startswith(("--n-workers=", "--n-trials=", "--output=")) or a == "--overwrite":
            continue
        out.append(a)
    return [*out, "--n-workers", "1", "--n-trials", str(n), "--worker"]


def run_tune_command(args):
    """``graphboost tune``: search, then refit the best trial and save a model folder."""
    from sklearn.preprocessing import LabelEncoder

    from .cli import fit_model_folder, load_cohort

    _optuna()
    if args.n_trials < 1 or args.n_workers < 1:
        raise InputError("--n-trials and --n-workers must be at least 1.")
    folder = None
    if args.output and not args.worker:
        from ._report import RunFolder

        RunFolder(args.output, overwrite=args.overwrite)  # checks before any work
        folder = args.output
    storage = open_storage(args.storage)  # unreachable storage: error before anything is written
    df, feature_cols, groups = load_cohort(args)
    y = df[args.label]
    from ._data import check_labels

    check_labels(y.to_numpy(), args.inner_splits, what="the label")
    y_enc = LabelEncoder().fit_transform(y.astype(str) if y.dtype == object else y)
    fixed = dict(args.param)
    worker_index = int(os.environ.get("GRAPHBOOST_TUNE_WORKER", "0"))
    study = create_study(storage, args.study_name, args.seed, worker=worker_index)
    before = count_trials(study) + count_trials(study, "PRUNED")
    if args.n_workers == 1:
        objective = NestedCVObjective(
            df[feature_cols], y_enc, groups, args.inner_splits, fixed, args.seed
        )
        study.optimize(
            objective,
            n_trials=args.n_trials,
            timeout=args.timeout,
            show_progress_bar=not args.worker and sys.stderr.isatty(),
            catch=(ValueError, RuntimeError),
        )
    else:
        argv = list(getattr(args, "argv", None) or sys.argv[1:])
        procs = []
        for w, n in enumerate(_split_trials(args.n_trials, args.n_workers)):
            if n == 0:
                continue
            wargv = _worker_argv(argv, n)
            env = {**os.environ, "GRAPHBOOST_TUNE_WORKER": str(w + 1)}
            procs.append(
                subprocess.Popen([sys.executable, "-m", "experiments.cli", *wargv], env=env)
            )
        codes = [p.wait() for p in procs]
        if any(codes):
            raise InputError(f"Tuning worker(s) failed with exit status {codes}.")
    study = create_study(storage, args.study_name, args.seed, worker=worker_index)
    n_complete = count_trials(study)
    n_pruned = count_trials(study, "PRUNED")
    if args.worker:
        return 0
    print(
        f"Study {args.study_name!r} in {redact(args.storage)}: {n_complete} complete and "
        f"{n_pruned} pruned trials ({n_complete + n_pruned - before} new)."
    )
    if n_complete == 0:
        raise InputError("No trial completed; nothing to refit.")
    best = study.best_trial
    params = clip_neighbors({**estimator_params(best), **fixed}, len(y_enc))
    print(
        f"Best inner-CV AUROC {best.value:.3f} (trial {best.number}): "
        f"{json.dumps(_jsonable(params))}"
    )
    if folder is not None:
        args.cv = 0
        extra = (
            "\n## Tuning\n\n"
            f"Optuna study `{args.study_name}` ({n_complete} complete trials), best trial "
            f"{best.number} with inner {args.inner_splits}-fold CV AUROC {best.value:.3f}; "
            f"parameters `{json.dumps(_jsonable(params))}`. Open the study with "
            f"`optuna-dashboard {redact(args.storage)}`.\n"
        )
        path, _, _ = fit_model_folder(
            args, df, feature_cols, groups, params, folder, args.seed, extra_report=extra
        )
        print(f"Best trial refitted on all {len(y_enc)} patients; model written to {path}.")
    else:
        print("Pass --output DIR to refit the best trial on all patients and save the model.")
    return 0
