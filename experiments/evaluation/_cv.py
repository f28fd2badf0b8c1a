"""Cross-validation of one or several methods on the same folds, every fitted step in the fold."""

from __future__ import annotations

import time
import warnings
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import LeaveOneGroupOut, RepeatedStratifiedKFold
from sklearn.preprocessing import LabelEncoder

from .._base import filter_fold_noise
from ..clinical._metrics import (
    compute_metrics,
)
from ..methods._pipelines import final_estimator, staged_proba
from ..methods._registry import make_pipeline


@dataclass
class MethodResult:
    """Out-of-fold predictions and diagnostics of one method."""

    name: str
    probas: list  # one (n_samples, n_classes) array per repeat
    fold_scores: list = field(default_factory=list)  # (repeat, fold, auroc)
    fit_seconds: list = field(default_factory=list)
    selected: Counter = field(default_factory=Counter)  # graph name -> folds where selected
    staged: list = field(default_factory=list)  # per fold: list of AUROC per round
    shares: list = field(default_factory=list)  # per fold: (repeat, fold, n_test, mean shares)
    arms: Counter = field(default_factory=Counter)  # modality arm (``arm_``) -> folds that chose it


def make_splits(dataset, y, n_splits=5, n_repeats=1, random_state=0):
    """The folds of every repeat, and a description of the scheme.

    Leave-one-group-out when the dataset has groups, else repeated stratified K-fold.

    Returns
    -------
    splits : list of list of (train, test) index arrays
        One list of folds per repeat.
    scheme : str
    """
    if dataset.groups is not None:
        logo = LeaveOneGroupOut()
        return [list(logo.split(dataset.X, y, dataset.groups))], "leave-one-group-out"
    rskf = RepeatedStratifiedKFold(
        n_splits=n_splits, n_repeats=n_repeats, random_state=random_state
    )
    folds = list(rskf.split(dataset.X, y))
    splits = [folds[r * n_splits : (r + 1) * n_splits] for r in range(n_repeats)]
    return splits, f"repeated stratified {n_splits}-fold CV x {n_repeats}"


def _align_proba(model, proba, n_classes):
    """Columns of ``predict_proba`` placed by encoded class (a fold may miss a class)."""
    classes = np.asarray(getattr(model, "classes_", np.arange(proba.shape[1]))).astype(int)
    out = np.zeros((proba.shape[0], n_classes))
    out[:, classes] = proba
    return out


def _graph_name(g):
    return str(getattr(g, "name", g))


def _progress(total, desc, enabled):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=not enabled, leave=False)


@dataclass
class FoldResult:
    """What one fold returns: test-fold probabilities and diagnostics (picklable)."""

    proba: np.ndarray
    seconds: float
    selected: frozenset = frozenset()  # names of the graphs the model selected
    staged: list | None = None  # test-fold AUROC after each boosting round
    warnings: list = field(default_factory=list)  # (category, message) raised in the fold
    shares: object = None  # pandas.Series: mean share of the score per modality (test patients)
    arm: str | None = None  # the modality arm the fitted model chose (its ``arm_``), if any


def fit_fold(name, pipe, X, y, train, test, n_classes, column_modality=None):
    """Fit a clone of ``pipe`` on the training rows of one fold; score its test rows.

    The fold runs on one BLAS/OpenMP thread and one torch thread whatever the process, so that
    a fold gives the same numbers sequentially, in a joblib worker process or on a Dask or Ray
    worker. Warnings raised in the fold (but the :data:`FOLD_NOISE`) are returned, and shown
    again by the caller, so they are not lost in a worker process. With ``column_modality``
    (source column -> modality), a GraphBoostClassifier also explains its test patients and
    returns the mean share of their score from each modality (:func:`fold_modality_shares`).
    A fitted model with ``arm_`` (a ModalitySelectionClassifier) returns the arm it chose.

    Returns
    -------
    FoldResult
    """
    from threadpoolctl import threadpool_limits

    from graphboost import torch_threads

    model = clone(pipe)
    with (
        threadpool_limits(limits=1),
        torch_threads(len(train), "cpu"),
        warnings.catch_warnings(record=True) as caught,
        filter_fold_noise(),
    ):
        t0 = time.perf_counter()
        model.fit(X.iloc[train], y[train])
        seconds = time.perf_counter() - t0
        est = final_estimator(model)
        proba = _align_proba(est, model.predict_proba(X.iloc[test]), n_classes)
        stages = staged_proba(model, X.iloc[test]) if name == "graphboost" else None
        shares = None
        if column_modality is not None:
            shares = fold_modality_shares(model, X.iloc[test], column_modality)
    selected = frozenset(_graph_name(g) for g in getattr(est, "selected_graphs_", ()))
    if stages is not None:
        stages = [_align_proba(est, p, n_classes) for p in stages]
        stages = [compute_metrics(y[test], p)["auroc"] for p in stages]
    caught = [(w.category, str(w.message)) for w in caught]
    arm = getattr(est, "arm_", None)
    return FoldResult(proba, seconds, selected, stages, caught, shares, arm)


def _graph_modalities(model, column_modality):
    """Selected graph name -> modality of its source columns (``"mixed"`` when they differ)."""
    est = final_estimator(model)
    pre = model.named_steps.get("preprocess")
    source = dict(getattr(pre, "source_columns_", {}))
    out = {}
    for spec in est.selected_graphs_:
        names = {column_modality.get(source.get(c, c), "other") for c in spec.columns}
        out[spec.name] = names.pop() if len(names) == 1 else "mixed"
    return out


def fold_modality_shares(model, X_test, column_modality):
    """Mean share of the score from each modality over the test patients of one fold.

    The fold's fitted GraphBoostClassifier explains its test patients
    (``explain(Xt, n_neighbors=1)`` on the preprocessed test rows) and
    :func:`graphboost.modality_shares` turns the contributions into shares, each selected graph
    counted for the modality of its source columns.

    Parameters
    ----------
    model : sklearn.pipeline.Pipeline
        Fitted on the training rows of the fold.
    X_test : pandas.DataFrame
        The raw test rows.
    column_modality : dict of str to str
        Source column -> modality.

    Returns
    -------
    pandas.Series or None
        Modality (and ``"init"``) -> mean share; ``None`` when the model is not a
        GraphBoostClassifier in a Pipeline.
    """
    from sklearn.pipeline import Pipeline

    import graphboost

    est = final_estimator(model)
    if not isinstance(model, Pipeline) or not hasattr(est, "selected_graphs_"):
        return None
    # explain names patients by their index label: positions, so a repeated label is no error
    Xt = model[:-1].transform(X_test).reset_index(drop=True)
    explanation = est.explain(Xt, n_neighbors=1)
    modality_of = _graph_modalities(model, column_modality)
    shares = graphboost.modality_shares(explanation, modality_of=modality_of)
    names = [*dict.fromkeys(column_modality.values()), "init"]
    order = names + [c for c in shares.columns if c not in names]
    return shares.reindex(columns=order, fill_value=0.0).mean()


def run_method(name, pipe, X, y, splits, progress=False, n_jobs=1, column_modality=None):
    """Cross-validate one pipeline; every fitted step lives inside the training folds.

    Parameters
    ----------
    name : str
        Method name (``"graphboost"`` also records the boosting curve).
    pipe : sklearn.pipeline.Pipeline or estimator
        Unfitted; cloned for every fold.
    X : pandas.DataFrame
    y : ndarray
        Labels encoded 0..K-1.
    splits : list of list of (train, test)
        From :func:`make_splits`.
    progress : bool, default=False
    n_jobs : int or None, default=1
        Folds fitted at once through :class:`joblib.Parallel` (each on one thread); ``None``
        takes the number from an enclosing ``joblib.parallel_config`` (a Dask or Ray backend).
        The results do not depend on it.
    column_modality : dict of str to str, optional
        Source column -> modality: a GraphBoostClassifier's folds also record the mean share of
        the score from each modality (``MethodResult.shares``).

    Returns
    -------
    MethodResult
    """
    from joblib import Parallel, delayed

    n_classes = int(y.max()) + 1
    res = MethodResult(name, probas=[])
    jobs = [(r, f, tr, te) for r, folds in enumerate(splits) for f, (tr, te) in enumerate(folds)]
    oof = [np.full((y.size, n_classes), np.nan) for _ in splits]
    fits = Parallel(n_jobs=n_jobs, return_as="generator")(
        delayed(fit_fold)(name, pipe, X, y, tr, te, n_classes, column_modality)
        for _, _, tr, te in jobs
    )
    with _progress(len(jobs), name, progress) as bar:
        for (r, f, _, test), fold in zip(jobs, fits, strict=True):
            for category, message in fold.warnings:
                warnings.warn(message, category, stacklevel=2)
            oof[r][test] = fold.proba
            full = np.unique(y[test]).size == n_classes
            score = compute_metrics(y[test], fold.proba)["auroc"] if full else np.nan
            res.fold_scores.append((r, f, score))
            res.fit_seconds.append(fold.seconds)
            res.selected.update(fold.selected)
            if fold.staged is not None:
                res.staged.append(fold.staged)
            if fold.shares is not None:
                res.shares.append((r, f, len(test), fold.shares))
            if fold.arm is not None:
                res.arms[str(fold.arm)] += 1
            bar.update(1)
    res.probas = oof
    return res


# Over 60 lines only through its numpydoc docstring (19 lines of code).
def cross_validate(
    dataset,
    methods,
    *,
    params=None,
    n_splits=5,
    n_repeats=1,
    random_state=0,
    n_jobs=1,
    progress=False,
    estimators=None,
    column_modality=None,
):
    """Cross-validate methods on a dataset, all on the same folds.

    This is the one cross-validation of the project: ``graphboost benchmark`` and
    ``graphboost fit --cv`` both call it, so the same data and settings give the same AUROC.

    Parameters
    ----------
    dataset : Dataset
    methods : list of str
        Names from :data:`experiments.METHODS`.
    params : dict of str to dict, optional
        Method name -> parameters.
    n_splits, n_repeats, random_state : int
        Repeated stratified K-fold (leave-one-group-out when the dataset has groups).
    n_jobs : int or None, default=1
        Folds fitted at once (joblib processes, one thread each); ``None`` defers to an
        enclosing ``joblib.parallel_config``. The results do not depend on it.
    progress : bool, default=False
    estimators : dict of str to estimator, optional
        More methods by name: an unfitted estimator (or Pipeline) that takes the raw features
        and preprocesses them itself, cloned for every fold; run after ``methods``.
    column_modality : dict of str to str, optional
        Source column -> modality; GraphBoostClassifier's folds then record the mean share of
        the score from each modality (see :func:`run_method`).

    Returns
    -------
    results : dict of str to MethodResult
    y : ndarray
        The labels encoded 0..K-1 (``LabelEncoder`` order).
    scheme : str
    """
    y = LabelEncoder().fit_transform(dataset.y)
    splits, scheme = make_splits(dataset, y, n_splits, n_repeats, random_state)
    pipes = {
        name: make_pipeline(
            name,
            (params or {}).get(name, {}),
            dataset.feature_groups,
            random_state=random_state,
            preprocessor=dataset.preprocessor,
        )
        for name in methods
    }
    pipes.update(estimators or {})
    results = {}
    for name, pipe in pipes.items():
        results[name] = run_method(
            name, pipe, dataset.X, y, splits, progress, n_jobs, column_modality
        )
    return results, y, scheme
