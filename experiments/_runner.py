"""The benchmark runner: configs, repeated (or group-aware) CV, metrics and a results folder."""

from __future__ import annotations

import copy
import re
import time
import tomllib
import warnings
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import LeaveOneGroupOut, RepeatedStratifiedKFold
from sklearn.preprocessing import LabelEncoder

from ._clinical_report import (
    check_calibration_config,
    clinical_results,
    recalibrated_estimators,
    write_clinical,
)
from ._conformal import check_alpha
from ._data import DATASETS, Dataset, InputError, check_labels, load_dataset
from ._methods import BASELINES, check_methods, final_estimator, make_pipeline, staged_proba
from ._metrics import METRICS, bootstrap_metrics, compute_metrics, delong_test, paired_bootstrap
from ._modalities import (  # noqa: F401 (re-exported: tests and callers import them from here)
    ALL_ARM,
    _arm_preprocessor,
    default_modalities,
    modality_columns,
)
from ._report import (
    RunFolder,
    dataset_lines,
    markdown_table,
    modality_arm_lines,
    modality_share_lines,
    package_versions,
    plot_boosting_curve,
    plot_calibration,
    plot_roc,
    write_json,
)

CONFIG_DIR = Path(__file__).parent / "configs"

_TOP_KEYS = {
    "name",
    "methods",
    "seed",
    "n_jobs",
    "dataset",
    "cv",
    "metrics",
    "params",
    "calibration",
    "ablation",
}
_CV_KEYS = {"n_splits", "n_repeats"}
_METRIC_KEYS = {"n_bootstrap", "conformal_alpha"}
_ABLATION_KEYS = {"modalities", "methods"}

ABLATION_METHODS = ("graphboost", "logistic")
"""Methods of a modality ablation when ``[ablation]`` names none (those the run has)."""

# Warnings that every fold of a cross-validation repeats and that say nothing about the result:
# a rare category or binary value absent from one training fold, a rare column constant in one.
# Filtered by message inside the folds only; every other warning (such as "No candidate graph
# beat chance") reaches the user.
FOLD_NOISE = ("Values not seen in fit", "Constant columns skipped")


def default_config():
    """A complete config with every default filled in."""
    return {
        "name": "benchmark",
        "methods": [
            "logistic",
            "random_forest",
            "hist_gradient_boosting",
            "xgboost",
            "adaboost",
            "gcn",
            "graphboost",
        ],
        "seed": 0,
        "n_jobs": 1,
        "dataset": {},
        "cv": {"n_splits": 5, "n_repeats": 5},
        "metrics": {"n_bootstrap": 1000, "conformal_alpha": 0.1},
        "params": {},
        "calibration": {},  # e.g. {"method": "sigmoid"}: recalibrated twins (_clinical_report)
        "ablation": {},  # {"modalities": {name: [prefix, ...]}, "methods": [...]}
    }


def _read_config(source):
    """The raw config and a description of where it came from."""
    if isinstance(source, dict):
        return copy.deepcopy(source), "config"
    path = Path(source)
    if not path.suffix and not path.exists():
        path = CONFIG_DIR / f"{source}.toml"
    if not path.is_file():
        shipped = sorted(p.stem for p in CONFIG_DIR.glob("*.toml"))
        raise InputError(f"Config file not found: '{source}'. Shipped configs: {shipped}.")
    try:
        return tomllib.loads(path.read_text()), f"config '{path}'"
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"Config '{path}' is not valid TOML: {exc}") from exc


def _check_keys(found, allowed, where):
    unknown = sorted(set(found) - allowed)
    if unknown:
        raise InputError(f"Unknown key(s) {unknown} in {where}; allowed: {sorted(allowed)}.")


def load_config(source):
    """Read and check a benchmark config: a TOML path, a name in ``experiments/configs``, or a dict.

    Parameters
    ----------
    source : str, Path or dict
        ``"duke-tnbc"`` finds ``experiments/configs/duke-tnbc.toml``.

    Returns
    -------
    dict
        The config with defaults filled in.

    Raises
    ------
    InputError
        Unknown keys, methods or dataset kinds (each listing the choices), bad fold numbers, or a
        file that is not valid TOML.

    Examples
    --------
    >>> load_config("duke-tnbc")["cv"]
    {'n_splits': 5, 'n_repeats': 5}
    """
    raw, where = _read_config(source)
    _check_keys(raw, _TOP_KEYS, where)
    cfg = default_config()
    for key, value in raw.items():
        is_table = isinstance(value, dict) and isinstance(cfg.get(key), dict)
        cfg[key] = {**cfg[key], **value} if is_table else value
    _check_keys(cfg["cv"], _CV_KEYS, "[cv]")
    _check_keys(cfg["metrics"], _METRIC_KEYS, "[metrics]")
    check_methods(cfg["methods"])
    unknown_params = sorted(set(cfg["params"]) - set(cfg["methods"]))
    if unknown_params:
        raise InputError(
            f"[params] names method(s) {unknown_params} that are not in methods={cfg['methods']}."
        )
    kind = cfg["dataset"].get("kind")
    if kind not in DATASETS:
        raise InputError(
            f"Unknown dataset kind {kind!r} in {where}; choose one of {list(DATASETS)}."
        )
    cfg["calibration"] = check_calibration_config(cfg["calibration"], cfg["methods"])
    check_ablation_config(cfg["ablation"], cfg["methods"])
    check_alpha(cfg["metrics"]["conformal_alpha"])
    for key, low in (("n_splits", 2), ("n_repeats", 1)):
        v = cfg["cv"][key]
        if not isinstance(v, int) or isinstance(v, bool) or v < low:
            raise InputError(f"[cv] {key} must be an integer >= {low}; got {v!r}.")
    return cfg


def check_ablation_config(ablation, methods):
    """Check the ``[ablation]`` table of a config (modalities and methods); raise InputError.

    ``modalities`` maps a name to a non-empty list of column prefixes; ``methods``, when given,
    is a non-empty subset of the run's ``methods``.

    Examples
    --------
    >>> check_ablation_config({"modalities": {"clinical": ["clin:"], "imaging": ["img:"]}},
    ...                       ["logistic", "graphboost"])
    >>> check_ablation_config({"methods": ["xgboost"]}, ["logistic"])
    Traceback (most recent call last):
    ...
    experiments._data.InputError: [ablation] methods ['xgboost'] are not in methods=['logistic'].
    """
    if not isinstance(ablation, dict):
        raise InputError(f"[ablation] must be a table; got {ablation!r}.")
    _check_keys(ablation, _ABLATION_KEYS, "[ablation]")
    modalities = ablation.get("modalities", {})
    if not isinstance(modalities, dict):
        raise InputError(
            "[ablation] modalities must be a table of name = [column prefixes]; "
            f"got {modalities!r}."
        )
    for name, prefixes in modalities.items():
        ok = isinstance(prefixes, list | tuple) and len(prefixes) > 0
        if not ok or not all(isinstance(p, str) and p for p in prefixes):
            raise InputError(
                f"[ablation] modality {name!r} must be a non-empty list of column prefixes "
                f"(text); got {prefixes!r}."
            )
        if name == ALL_ARM:
            raise InputError(
                f"[ablation] modality name {ALL_ARM!r} is taken by the arm with every modality; "
                "choose another name."
            )
    if "methods" in ablation:
        chosen = ablation["methods"]
        if not isinstance(chosen, list) or not chosen:
            raise InputError(f"[ablation] methods must be a non-empty list; got {chosen!r}.")
        missing = [m for m in chosen if m not in methods]
        if missing:
            raise InputError(f"[ablation] methods {missing} are not in methods={list(methods)}.")


def ablation_methods(cfg):
    """Methods of the ablation: ``[ablation] methods``, else graphboost and logistic (those the
    run has), else every method of the run."""
    chosen = cfg["ablation"].get("methods")
    if chosen:
        return list(chosen)
    return [m for m in ABLATION_METHODS if m in cfg["methods"]] or list(cfg["methods"])


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


@dataclass
class BenchmarkResult:
    """What :func:`run_benchmark` returns."""

    config: dict
    table: pd.DataFrame
    comparison: dict | None
    methods: dict
    output: Path | None
    clinical: object = None  # ClinicalResults: calibration, conformal coverage, decision curves
    modality_shares: pd.DataFrame | None = None  # graphboost: mean share of the score per modality
    variants: dict = field(default_factory=dict)  # graphboost variant -> its paired comparison


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


@contextmanager
def filter_fold_noise():
    """Filter the per-fold noise of :data:`FOLD_NOISE` by message; let the rest through."""
    with warnings.catch_warnings():
        for message in FOLD_NOISE:
            warnings.filterwarnings("ignore", message=re.escape(message))
        yield


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
    explanation = est.explain(model[:-1].transform(X_test), n_neighbors=1)
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


def summary_table(y, results, n_bootstrap, seed):
    """One row per method: every metric with its bootstrap 95% CI, fold AUROC and fit time."""
    rows = []
    for name, res in results.items():
        cis = bootstrap_metrics(y, res.probas, n_bootstrap=n_bootstrap, random_state=seed)
        row = {"method": name}
        for m in METRICS:
            est, lo, hi = cis[m]
            row[m] = est
            row[f"{m}_low"] = lo
            row[f"{m}_high"] = hi
        folds = [s for _, _, s in res.fold_scores]
        row["fold_auroc_mean"] = float(np.nanmean(folds))
        row["fold_auroc_sd"] = float(np.nanstd(folds))
        row["fit_seconds_per_fold"] = float(np.mean(res.fit_seconds))
        rows.append(row)
    return pd.DataFrame(rows)


def fold_wins(res, other):
    """Folds (same test patients) where ``res`` has the higher AUROC than ``other``, and the
    number of folds both scored (a fold without both classes has no AUROC)."""
    mine = {(r, f): s for r, f, s in res.fold_scores}
    both = [(mine[r, f], s) for r, f, s in other.fold_scores]
    both = [(a, b) for a, b in both if np.isfinite(a) and np.isfinite(b)]
    return sum(a > b for a, b in both), len(both)


def _paired_difference(y, res, other, n_bootstrap, seed):
    """``res`` minus ``other`` (same folds): paired bootstrap of the AUROC and folds won."""
    pb = paired_bootstrap(
        y, res.probas, other.probas, "auroc", n_bootstrap=n_bootstrap, random_state=seed
    )
    won, _ = fold_wins(res, other)
    return {
        "metric": "auroc",
        "paired_bootstrap": pb,
        "folds_won": f"{won} / {len(res.fold_scores)}",
    }


def _compare(y, results, table, n_bootstrap, seed):
    """GraphBoostClassifier against the best baseline by mean AUROC."""
    if "graphboost" not in results:
        return None
    base = table[table.method.isin(BASELINES)]
    if base.empty:
        return None
    best = base.sort_values("auroc", ascending=False).iloc[0].method
    gb, bl = results["graphboost"], results[best]
    out = {"baseline": best, **_paired_difference(y, gb, bl, n_bootstrap, seed)}
    if y.max() == 1:
        pa = np.mean([p[:, 1] for p in gb.probas], axis=0)
        pb = np.mean([p[:, 1] for p in bl.probas], axis=0)
        out["delong_repeat_averaged"] = delong_test(y, pa, pb)
    out["folds_won"] = out.pop("folds_won")  # last, as run.json always had it
    return out


def graphboost_variants(methods):
    """The run's graphboost variants: names starting with ``"graphboost"`` but ``"graphboost"``
    itself and the recalibrated twins (``"<method>+<calibration>"``, reported on their own).

    Examples
    --------
    >>> graphboost_variants(["logistic", "graphboost", "graphboost_modalities",
    ...                      "graphboost+sigmoid"])
    ['graphboost_modalities']
    """
    return [m for m in methods if m.startswith("graphboost") and m != "graphboost" and "+" not in m]


def _compare_variants(y, results, n_bootstrap, seed):
    """Each graphboost variant minus ``graphboost`` (same folds); empty without ``graphboost``."""
    if "graphboost" not in results:
        return {}
    gb = results["graphboost"]
    return {
        name: _paired_difference(y, results[name], gb, n_bootstrap, seed)
        for name in graphboost_variants(results)
    }


def format_table(table):
    """The printable Markdown results table (estimate and 95% CI per metric)."""
    shown = pd.DataFrame({"method": table.method})
    for m in METRICS:
        shown[m.upper() if m != "brier" else "Brier"] = [
            f"{r[m]:.3f} ({r[m + '_low']:.3f}-{r[m + '_high']:.3f})" for _, r in table.iterrows()
        ]
    shown["fold AUROC mean (SD)"] = [
        f"{r.fold_auroc_mean:.3f} ({r.fold_auroc_sd:.3f})" for _, r in table.iterrows()
    ]
    shown["fit s/fold"] = [f"{v:.2f}" for v in table.fit_seconds_per_fold]
    return markdown_table(shown)


# Over 60 lines only through its numpydoc docstring (37 lines of code).
def run_benchmark(config, output=None, overwrite=False, progress=True, dataset=None):
    """Run a benchmark config and (optionally) write its results folder.

    Parameters
    ----------
    config : str, Path or dict
        See :func:`load_config`.
    output : str or Path, optional
        Results folder. It must not exist (or be empty) unless ``overwrite``; ``{timestamp}`` in
        the path is replaced by the current time. Nothing is written until every method ran: the
        folder appears complete or not at all.
    overwrite : bool, default=False
    progress : bool, default=True
        tqdm progress bars per method.
    dataset : Dataset, optional
        Use this dataset instead of loading ``config["dataset"]``.

    Returns
    -------
    BenchmarkResult

    Examples
    --------
    >>> cfg = {"dataset": {"kind": "csv", "path": "cohort.csv", "label": "y"},
    ...        "methods": ["logistic", "graphboost"], "cv": {"n_splits": 5, "n_repeats": 5}}
    >>> res = run_benchmark(cfg, output="runs/{timestamp}")  # doctest: +SKIP
    >>> print(format_table(res.table))  # doctest: +SKIP
    """
    cfg = load_config(config)
    folder = RunFolder(output, overwrite=overwrite) if output is not None else None
    ds = _dataset(cfg, dataset)
    t0 = time.time()
    seed = int(cfg["seed"])
    modalities = modality_columns(
        ds.X.columns, cfg["ablation"].get("modalities"), minimum=1, where=ds.name
    )
    results, y, scheme = cross_validate(
        ds,
        cfg["methods"],
        params=cfg["params"],
        n_splits=cfg["cv"]["n_splits"],
        n_repeats=cfg["cv"]["n_repeats"],
        random_state=seed,
        n_jobs=int(cfg.get("n_jobs", 1)),
        progress=progress,
        estimators=recalibrated_estimators(cfg, ds, make_pipeline),
        column_modality={c: m for m, cols in modalities.items() for c in cols},
    )
    n_boot = int(cfg["metrics"]["n_bootstrap"])
    table = summary_table(y, results, n_boot, seed)
    comparison = _compare(y, results, table, n_boot, seed)
    variants = _compare_variants(y, results, n_boot, seed)
    splits, _ = make_splits(ds, y, cfg["cv"]["n_splits"], cfg["cv"]["n_repeats"], seed)
    alpha = cfg["metrics"]["conformal_alpha"]
    clinical = clinical_results(y, results, splits, n_boot, seed, alpha)
    meta = _run_meta(cfg, ds, y, scheme, comparison, time.time() - t0)
    meta["clinical"] = clinical.to_dict()
    shares = modality_share_summary(results["graphboost"]) if "graphboost" in results else None
    shares = shares or (None, None)
    meta["modality_shares"] = None if shares[0] is None else shares[0].to_dict("records")
    _arm_meta(meta, results, variants)
    if folder is not None:
        with folder:
            _write_outputs(folder.staging, ds, y, results, table, comparison, meta, clinical)
            _append_shares(folder.staging, shares)
    path = folder.path if folder else None
    return BenchmarkResult(cfg, table, comparison, results, path, clinical, shares[0], variants)


def _arm_meta(meta, results, variants):
    """``run.json``'s ``modality_arms`` (method -> arm -> folds) and ``variants`` (each
    graphboost variant minus graphboost), added only when the run has them."""
    arms = {name: dict(res.arms.most_common()) for name, res in results.items() if res.arms}
    if arms:
        meta["modality_arms"] = arms
    if variants:
        meta["variants"] = variants


def _dataset(cfg, dataset=None):
    """The config's dataset (or ``dataset``), its labels checked against the folds."""
    ds = dataset if dataset is not None else load_dataset(cfg["dataset"], cfg["cv"]["n_splits"])
    if not isinstance(ds, Dataset):
        raise TypeError(f"dataset must be an experiments Dataset; got {type(ds).__name__}.")
    if ds.groups is None:
        check_labels(ds.y, cfg["cv"]["n_splits"], what=f"the label of {ds.name}")
    return ds


def _run_meta(cfg, ds, y, scheme, comparison, seconds):
    """What ``run.json`` records: config, dataset summary, seeds, versions, time, comparison."""
    classes = np.unique(ds.y)
    return {
        "config": cfg,
        "dataset": {
            "name": ds.name,
            "n_patients": int(y.size),
            "n_features": int(ds.X.shape[1]),
            "classes": [str(c) for c in classes],
            "class_counts": np.bincount(y).tolist(),
            "feature_groups": {k: len(v) for k, v in ds.feature_groups.items()},
            "group_column": ds.group_column,
            "groups": None if ds.groups is None else sorted(set(ds.groups.tolist())),
        },
        "scheme": scheme,
        "seeds": {
            "cv": int(cfg["seed"]),
            "models": int(cfg["seed"]),
            "bootstrap": int(cfg["seed"]),
        },
        "versions": package_versions(),
        "wall_seconds": seconds,
        "comparison": comparison,
    }


def _difference_text(comparison):
    """A paired comparison (:func:`_paired_difference`) as one sentence of ``results.md``."""
    pb = comparison["paired_bootstrap"]
    return (
        f"AUROC difference {pb['delta']:+.3f} (paired bootstrap 95% CI {pb['low']:+.3f} to "
        f"{pb['high']:+.3f}, p = {pb['p_value']:.3f}); folds won {comparison['folds_won']}."
    )


def _variant_lines(variants):
    """One line per graphboost variant: the variant minus ``graphboost``."""
    if not variants:
        return []
    lines = [f"{name} vs graphboost: {_difference_text(c)}" for name, c in variants.items()]
    return [*lines, ""]


def _comparison_lines(comparison):
    if not comparison:
        return []
    lines = [
        f"GraphBoostClassifier vs the best baseline ({comparison['baseline']}): "
        + _difference_text(comparison)
    ]
    if "delong_repeat_averaged" in comparison:
        d = comparison["delong_repeat_averaged"]
        lines.append(
            f"DeLong test on the repeat-averaged probabilities: z = {d['z']:.2f}, "
            f"p = {d['p_value']:.3f}."
        )
    return [*lines, ""]


def _group_lines(ds, results):
    if ds.groups is None:
        return []
    names = sorted(set(ds.groups.tolist()))
    rows = []
    for name, res in results.items():
        scores = {g: s for (_, _f, s), g in zip(res.fold_scores, names, strict=False)}
        rows.append({"method": name, **scores})
    return ["## Per held-out group (AUROC)", "", markdown_table(pd.DataFrame(rows)), ""]


def _write_selected(out, gb):
    """``selected_graphs.csv``: how many folds selected each graph."""
    if gb is None or not gb.selected:
        return []
    n_folds = len(gb.fit_seconds)
    sel = pd.DataFrame(
        [(k, v, v / n_folds) for k, v in gb.selected.most_common()],
        columns=["graph", "folds_selected", "share_of_folds"],
    )
    sel.to_csv(out / "selected_graphs.csv", index=False)
    return ["## Edge features selected across folds (top 20)", "", markdown_table(sel.head(20)), ""]


def _write_curve(out, ds, gb, table, comparison):
    """``boosting_curve.csv`` / ``.png``: mean test-fold AUROC after each round."""
    if gb is None or not gb.staged:
        return []
    width = max(len(c) for c in gb.staged)
    curve = np.full((len(gb.staged), width), np.nan)
    for i, c in enumerate(gb.staged):
        curve[i, : len(c)] = c
        curve[i, len(c) :] = c[-1] if c else np.nan  # a model that stopped early keeps its score
    pd.DataFrame(
        {
            "round": np.arange(width),  # round 0 = the init model alone
            "auroc_mean": np.nanmean(curve, axis=0),
            "auroc_sd": np.nanstd(curve, axis=0),
        }
    ).to_csv(out / "boosting_curve.csv", index=False)
    ref = None
    if comparison:
        bl = comparison["baseline"]
        ref = (bl, float(table.set_index("method").loc[bl, "auroc"]))
    plot_boosting_curve(
        out / "boosting_curve.png", curve, f"Boosting curve, {ds.name}", reference=ref
    )
    return ["Boosting curve: `boosting_curve.png` / `boosting_curve.csv`.", ""]


def _write_plots(out, ds, y, results):
    """ROC and calibration plots of a binary task."""
    if y.max() != 1:
        return []
    probas = {n: r.probas for n, r in results.items()}
    plot_roc(out / "roc.png", y, probas, f"ROC, {ds.name} (out-of-fold)")
    plot_calibration(out / "calibration.png", y, probas, f"Calibration, {ds.name} (out-of-fold)")
    return ["Plots: `roc.png`, `calibration.png`.", ""]


def _write_predictions(out, y, results):
    """``oof_predictions.csv`` (per repeat and class) and ``fold_scores.csv``."""
    oof = {"row": np.arange(y.size), "label": y}
    for name, res in results.items():
        for r, p in enumerate(res.probas):
            for k in range(p.shape[1]):
                oof[f"{name}_r{r}_p{k}"] = p[:, k]
    pd.DataFrame(oof).to_csv(out / "oof_predictions.csv", index=False)
    folds = pd.DataFrame(
        [
            (n, r, f, s, t)
            for n, res in results.items()
            for (r, f, s), t in zip(res.fold_scores, res.fit_seconds, strict=True)
        ],
        columns=["method", "repeat", "fold", "auroc", "fit_seconds"],
    )
    folds.to_csv(out / "fold_scores.csv", index=False)


def _write_outputs(out, ds, y, results, table, comparison, meta, clinical=None):
    table.to_csv(out / "results.csv", index=False)
    lines = [
        f"# Benchmark: {meta['config']['name']}",
        "",
        *dataset_lines(ds, y, meta),
        format_table(table),
        "",
    ]
    gb = results.get("graphboost")
    lines += _comparison_lines(comparison) + _variant_lines(meta.get("variants"))
    lines += _group_lines(ds, results)
    lines += _write_selected(out, gb) + modality_arm_lines(results)
    lines += _write_curve(out, ds, gb, table, comparison)
    lines += _write_plots(out, ds, y, results)
    if clinical is not None:
        calibration = meta["config"]["calibration"]
        lines += write_clinical(out, ds, y, results, clinical, calibration)
    _write_predictions(out, y, results)
    (out / "results.md").write_text("\n".join(lines))
    write_json(out / "run.json", meta)


# --------------------------------------------------------------------------- modality ablation
def modality_share_summary(res):
    """Mean share of the score from each modality over the out-of-fold patients.

    Parameters
    ----------
    res : MethodResult
        With ``shares`` recorded (a GraphBoostClassifier run with ``column_modality``).

    Returns
    -------
    summary : pandas.DataFrame or None
        ``modality``, ``mean_share`` (mean over every out-of-fold patient of every repeat: the
        mean over repeats of the mean over the patients), ``fold_sd``, ``fold_min``,
        ``fold_max`` (over the folds' means); ``None`` when nothing was recorded.
    folds : pandas.DataFrame or None
        ``repeat``, ``fold``, ``n_patients`` and one column per modality: the fold's mean share.
    """
    if not res.shares:
        return None, None
    means = pd.DataFrame([s for *_, s in res.shares]).fillna(0.0)
    n = np.array([k for _, _, k, _ in res.shares], dtype=float)
    summary = pd.DataFrame(
        {
            "modality": means.columns,
            "mean_share": (means.mul(n, axis=0).sum() / n.sum()).to_numpy(),
            "fold_sd": means.std(ddof=0).to_numpy(),
            "fold_min": means.min().to_numpy(),
            "fold_max": means.max().to_numpy(),
        }
    )
    keys = pd.DataFrame(
        [(r, f, k) for r, f, k, _ in res.shares], columns=["repeat", "fold", "n_patients"]
    )
    return summary, pd.concat([keys, means], axis=1)


def _append_shares(out, shares, where=None):
    """``modality_shares.csv`` and the section "Modality contributions" of ``results.md``."""
    summary, per_fold = shares
    if summary is None:
        return
    per_fold.to_csv(out / "modality_shares.csv", index=False)
    lines = modality_share_lines(summary, "graphboost", where)
    with (out / "results.md").open("a") as md:
        md.write("\n" + "\n".join(lines))
