"""The survival suite: censored tasks, every survival method on the same folds, one table.

:func:`run_survival_suite` (``graphboost benchmark --suite survival``) is the classification
design suite's protocol (:mod:`experiments.benchmark._suite`) for censored outcomes, with every
censored patient kept: repeated K-fold CV stratified on the event indicator, the same folds for
every method of a task, every fitted step (``features.ClinicalPreprocessor`` included) inside the
training folds, folds fitted through joblib. It writes one table of Harrell's C per task and
method, mean C and mean ranks, Friedman's test and Nemenyi's critical difference with the
critical-difference diagram, and the paired bootstrap difference of every method to the ridge
Cox model.

**Harrell's C** of a method on a task is, as the classification suite's AUROC, the mean over
repeats of the C of the pooled out-of-fold risks (each patient's risk comes from the one model
that did not see it). The per-fold C is kept in ``fold_scores``.

**Paired bootstrap**: patients are resampled (stratified on the event, as
:func:`experiments.clinical.paired_survival_bootstrap` does, with the same draws for one
repeat) and the mean-over-repeats C of both methods is recomputed on the same resample. A
resample's C is computed exactly from the pair matrices weighted by each patient's multiplicity
(``w' A w / w' B w``: ``B`` the comparable pairs, ``A`` the concordant ones, ties 1/2, as
scikit-survival's ``concordance_index_censored``), which is what makes 1,000 resamples of a few
thousand patients affordable.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from numbers import Integral
from pathlib import Path

import numpy as np
import pandas as pd

from .._base import InputError, RunFolder, format_ci, markdown_table
from ..clinical._metrics import _bootstrap_indices
from ..clinical._survival import check_survival_target, harrell_c
from ..methods._survival_methods import (
    SURVIVAL_BASELINES,
    available_survival_methods,
    check_survival_methods,
    make_survival_pipeline,
)
from ._suite import (
    _cost_lines,
    _test_lines,
    rank_methods,
    rank_summary,
    write_report,
)

SURVIVAL_TASKS = (
    "rotterdam",
    "gbsg",
    "whas500",
    "flchain",
    "veterans_lung_cancer",
    "aids",
    "duke-rfs",
)
"""The tasks of the survival suite (``features.load_survival_cohort`` names)."""

REFERENCE = "ridge_cox"
"""The method every other method is compared with (paired bootstrap)."""

_CARDS = Path("docs") / "datasets"
_TIE_TOL = 1e-8  # scikit-survival's tied_tol


# --------------------------------------------------------------------------- Harrell's C
def _comparable(event, time):
    """``B[i, j]``: ``i`` had the event and ``j`` was still at risk after it (later time, or the
    same time and censored): scikit-survival's comparable pairs."""
    later = time[None, :] > time[:, None]
    same_censored = (time[None, :] == time[:, None]) & ~event[None, :]
    return (event[:, None] & (later | same_censored)).astype(float)


def _concordant(comparable, risks):
    """Mean over ``risks`` of the concordant pairs (1, ties 1/2) among the comparable ones."""
    out = np.zeros_like(comparable)
    for risk in risks:
        diff = risk[:, None] - risk[None, :]
        tie = np.abs(diff) <= _TIE_TOL
        out += comparable * ((diff > 0) & ~tie) + 0.5 * comparable * tie
    return out / len(risks)


def _quadratic(weights, matrix, chunk=256):
    """``w_b' M w_b`` for every row ``w_b`` of ``weights``."""
    return np.concatenate(
        [
            np.einsum("bi,bi->b", weights[s : s + chunk] @ matrix, weights[s : s + chunk])
            for s in range(0, weights.shape[0], chunk)
        ]
    )


def pooled_harrell_c(y, risks):
    """Mean over repeats of Harrell's C of each repeat's pooled out-of-fold risks.

    Examples
    --------
    >>> from features import survival_target
    >>> y = survival_target([1, 1, 0, 1], [1.0, 2.0, 3.0, 4.0])
    >>> pooled_harrell_c(y, [[4, 3, 2, 1], [1, 2, 3, 4]])
    0.5
    """
    return float(np.mean([harrell_c(y, r) for r in risks]))


def bootstrap_weights(event, n_bootstrap, seed):
    """Multiplicity of each patient in each stratified resample (the draws of
    :func:`experiments.clinical.paired_survival_bootstrap` with the same seed)."""
    rng = np.random.RandomState(seed)
    return np.vstack(
        [
            np.bincount(ix, minlength=event.size)
            for ix in _bootstrap_indices(event, n_bootstrap, rng)
        ]
    ).astype(float)


def paired_c_bootstrap(y, risks, reference, n_bootstrap=1000, seed=0, alpha=0.05):
    """Paired bootstrap of (mean-over-repeats Harrell's C of each method) minus the reference's.

    Parameters
    ----------
    y : structured ndarray
        The patients' (event, time).
    risks : dict of str to list of ndarray
        Method -> one out-of-fold risk vector per repeat.
    reference : str
        A key of ``risks``.
    n_bootstrap : int, default=1000
    seed : int, default=0
    alpha : float, default=0.05

    Returns
    -------
    dict of str to dict
        Method (all but the reference) -> ``delta``, ``low``, ``high``, ``p_value``
        (two-sided, as the classification suite's) and ``p_better`` (share of resamples where
        the method beats the reference).
    """
    event, time = check_survival_target(y)
    comparable = _comparable(event, time)
    weights = bootstrap_weights(event, n_bootstrap, seed)
    denominator = _quadratic(weights, comparable)

    def draws(name):
        conc = _concordant(comparable, [np.asarray(r, dtype=float) for r in risks[name]])
        return _quadratic(weights, conc) / denominator

    base = draws(reference)
    point = {m: pooled_harrell_c(y, r) for m, r in risks.items()}
    out = {}
    for name in risks:
        if name == reference:
            continue
        diff = draws(name) - base
        diff = diff[np.isfinite(diff)]
        out[name] = {
            "delta": point[name] - point[reference],
            "low": float(np.quantile(diff, alpha / 2)),
            "high": float(np.quantile(diff, 1 - alpha / 2)),
            "p_value": float(min(1.0, 2 * min(np.mean(diff <= 0), np.mean(diff >= 0)))),
            "p_better": float(np.mean(diff > 0)),
        }
    return out


# --------------------------------------------------------------------------- folds
def survival_splits(y, n_splits=5, n_repeats=5, random_state=0):
    """Repeated K-fold stratified on the event indicator: one list of (train, test) per repeat."""
    from sklearn.model_selection import RepeatedStratifiedKFold

    event, _ = check_survival_target(y)
    rskf = RepeatedStratifiedKFold(
        n_splits=n_splits, n_repeats=n_repeats, random_state=random_state
    )
    folds = list(rskf.split(np.zeros(event.size), event))
    return [folds[r * n_splits : (r + 1) * n_splits] for r in range(n_repeats)]


@dataclass
class SurvivalFold:
    """What one fold returns (picklable)."""

    risk: np.ndarray
    seconds: float
    warnings: list = field(default_factory=list)


def fit_survival_fold(pipe, X, y, train, test):
    """Fit a clone of ``pipe`` on the training rows (one BLAS thread); the test rows' risk."""
    from sklearn.base import clone
    from threadpoolctl import threadpool_limits

    from .._base import filter_fold_noise

    model = clone(pipe)
    with (
        threadpool_limits(limits=1),
        warnings.catch_warnings(record=True) as caught,
        filter_fold_noise(),
    ):
        t0 = time.perf_counter()
        model.fit(X.iloc[train], y[train])
        seconds = time.perf_counter() - t0
        risk = np.asarray(model.predict(X.iloc[test]), dtype=float).ravel()
    return SurvivalFold(risk, seconds, [(w.category, str(w.message)) for w in caught])


@dataclass
class SurvivalMethodResult:
    """Out-of-fold risks of one method: one vector per repeat, and the per-fold C and cost."""

    name: str
    risks: list
    fold_scores: list = field(default_factory=list)  # (repeat, fold, harrell_c)
    fit_seconds: list = field(default_factory=list)
    n_warnings: int = 0


def cross_validate_survival(dataset, methods, splits, params=None, random_state=0, n_jobs=1):
    """Every method on the same folds of one task; method -> :class:`SurvivalMethodResult`."""
    from joblib import Parallel, delayed

    from features import ClinicalPreprocessor

    params = params or {}
    y = dataset.y
    pre = ClinicalPreprocessor(**getattr(dataset, "preprocessor_params", {}))
    jobs = [(r, f, tr, te) for r, folds in enumerate(splits) for f, (tr, te) in enumerate(folds)]
    results = {}
    for name in methods:
        pipe = make_survival_pipeline(
            name, params.get(name), random_state, dataset.feature_groups, pre
        )
        fits = Parallel(n_jobs=n_jobs, return_as="generator")(
            delayed(fit_survival_fold)(pipe, dataset.X, y, tr, te) for _, _, tr, te in jobs
        )
        res = SurvivalMethodResult(name, [np.full(y.size, np.nan) for _ in splits])
        for (r, f, _, test), fold in zip(jobs, fits, strict=True):
            res.risks[r][test] = fold.risk
            try:
                score = harrell_c(y[test], fold.risk)
            except InputError:  # a test fold without an event
                score = np.nan
            res.fold_scores.append((r, f, score))
            res.fit_seconds.append(fold.seconds)
            res.n_warnings += len(fold.warnings)
        results[name] = res
    return results


# --------------------------------------------------------------------------- the suite
@dataclass
class SurvivalSuiteResult:
    """What :func:`run_survival_suite` returns.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per task: ``n_patients``, ``n_events``, Harrell's C of each method (mean over
        repeats of the pooled out-of-fold C), and for every method but the reference
        ``<method>:delta``, ``:low``, ``:high``, ``:p`` (paired bootstrap against ``ridge_cox``).
    mean_ranks : pandas.Series
    friedman : dict or None
    critical_difference : float or None
    fold_scores : pandas.DataFrame
        ``task, method, repeat, fold, harrell_c, fit_seconds``.
    seconds : dict of str to float
    subsampled : dict of str to int
        Tasks cut to ``max_patients`` -> their full size.
    output : pathlib.Path or None
    """

    table: pd.DataFrame
    mean_ranks: pd.Series
    friedman: dict | None
    critical_difference: float | None
    fold_scores: pd.DataFrame
    seconds: dict
    subsampled: dict
    output: Path | None = None


def _subsample(ds, max_patients, seed):
    """At most ``max_patients`` patients, drawn stratified on the event (seeded)."""
    from dataclasses import replace

    from sklearn.model_selection import train_test_split

    n = ds.y.size
    if max_patients is None or n <= max_patients:
        return ds
    keep, _ = train_test_split(
        np.arange(n), train_size=max_patients, stratify=ds.y["event"], random_state=seed
    )
    keep = np.sort(keep)
    return replace(ds, X=ds.X.iloc[keep], y=ds.y[keep], patient_ids=ds.patient_ids.iloc[keep])


def _check_max_patients(max_patients):
    if max_patients is None:
        return
    if isinstance(max_patients, bool) or not isinstance(max_patients, Integral):
        raise InputError(f"max_patients must be a positive integer; got {max_patients!r}.")
    if max_patients < 1:
        raise InputError(f"max_patients must be a positive integer; got {max_patients}.")


def _load_tasks(tasks, datasets, max_patients, seed):
    from features import load_survival_cohort

    datasets = dict(datasets or {})
    names = list(SURVIVAL_TASKS if tasks is None else tasks)
    unknown = [t for t in names if t not in SURVIVAL_TASKS and t not in datasets]
    if unknown or not names:
        raise InputError(f"Unknown survival task(s) {unknown}; choose from {list(SURVIVAL_TASKS)}.")
    loaded, subsampled = {}, {}
    for t in names:
        ds = datasets[t] if t in datasets else load_survival_cohort(t)
        small = _subsample(ds, max_patients, seed)
        if small is not ds:
            subsampled[t] = int(ds.y.size)
        loaded[t] = small
    return loaded, subsampled


def _task_row(y, results, methods, n_bootstrap, seed):
    row = {"n_patients": int(y.size), "n_events": int(np.sum(y["event"]))}
    risks = {m: results[m].risks for m in methods}
    row.update({m: pooled_harrell_c(y, r) for m, r in risks.items()})
    if REFERENCE in risks and len(risks) > 1 and n_bootstrap:
        for m, res in paired_c_bootstrap(y, risks, REFERENCE, n_bootstrap, seed).items():
            row.update({f"{m}:delta": res["delta"], f"{m}:low": res["low"]})
            row.update({f"{m}:high": res["high"], f"{m}:p": res["p_value"]})
    return row


# Over 60 lines only through its numpydoc docstring.
def run_survival_suite(
    tasks=None,
    methods=None,
    *,
    n_splits=5,
    n_repeats=5,
    n_bootstrap=1000,
    params=None,
    random_state=0,
    n_jobs=1,
    max_patients=None,
    output=None,
    overwrite=False,
    datasets=None,
):
    """Run every survival method on every censored task; one table, ranks, Friedman, CD figure.

    Parameters
    ----------
    tasks : list of str, optional
        Names of :data:`SURVIVAL_TASKS` (default: all) or keys of ``datasets``.
    methods : list of str, optional
        Names of :data:`experiments.SURVIVAL_METHODS`; default the six baselines, and
        ``graphboost`` when ``graphboost.GraphBoostSurvivalAnalysis`` exists.
    n_splits, n_repeats : int, default=5
        Repeated K-fold stratified on the event; the same folds for every method of a task.
    n_bootstrap : int, default=1000
        Resamples of the paired bootstrap against ``ridge_cox`` (0: none).
    params : dict of str to dict, optional
        Method -> parameters. ``random_survival_forest`` defaults to ``low_memory=True`` here
        (the suite needs the risk only).
    random_state : int, default=0
        Seeds the folds, the models, the subsampling and the bootstrap.
    n_jobs : int, default=1
        Folds fitted at once through joblib (one BLAS thread each).
    max_patients : int, optional
        Cut larger tasks to this many patients (stratified on the event, seeded) and say so.
    output : str or Path, optional
        Results folder (``{timestamp}`` replaced), written complete or not at all:
        ``survival_suite.md``, ``survival_suite.csv``, ``fold_scores.csv``,
        ``critical_difference.png``, ``run.json``.
    overwrite : bool, default=False
    datasets : dict of str to features.Task, optional
        Tasks given directly (a synthetic set in the tests).

    Returns
    -------
    SurvivalSuiteResult
    """
    methods = list(available_survival_methods() if methods is None else methods)
    check_survival_methods(methods)
    _check_max_patients(max_patients)
    params = {m: dict(v) for m, v in (params or {}).items()}
    params.setdefault("random_survival_forest", {}).setdefault("low_memory", True)
    folder = RunFolder(output, overwrite=overwrite) if output is not None else None
    loaded, subsampled = _load_tasks(tasks, datasets, max_patients, random_state)
    rows, folds, seconds, warned = {}, [], {}, {}
    for task, ds in loaded.items():
        t0 = time.perf_counter()
        splits = survival_splits(ds.y, n_splits, n_repeats, random_state)
        results = cross_validate_survival(ds, methods, splits, params, random_state, n_jobs)
        rows[task] = _task_row(ds.y, results, methods, n_bootstrap, random_state)
        for m, res in results.items():
            folds += [
                (task, m, *s, sec) for s, sec in zip(res.fold_scores, res.fit_seconds, strict=True)
            ]
            warned[f"{task}/{m}"] = res.n_warnings
        seconds[task] = time.perf_counter() - t0
    result = _summarize(rows, methods, folds, seconds, subsampled)
    if folder is not None:
        meta = {"suite": "survival", "tasks": list(loaded), "methods": methods, "params": params}
        meta.update(n_splits=n_splits, n_repeats=n_repeats, random_state=random_state)
        meta.update(n_bootstrap=n_bootstrap, n_jobs=n_jobs, max_patients=max_patients)
        meta.update(subsampled=subsampled, fold_warnings=warned)
        with folder:
            _write(folder.staging, result, meta)
        result.output = folder.path
    return result


_SAME_PROTOCOL = ("methods", "n_splits", "n_repeats", "random_state", "n_bootstrap", "max_patients")


def merge_survival_runs(folders, output=None, overwrite=False):
    """Join results folders of :func:`run_survival_suite` run on disjoint tasks into one suite.

    Each task's folds, models and bootstrap are seeded by ``random_state`` alone, so running the
    tasks one at a time (one process each, or on several machines) and merging gives the table
    of one call over all of them; the mean ranks, Friedman's test and the critical difference
    are computed on the merged table.

    Parameters
    ----------
    folders : list of str or Path
        Results folders written by :func:`run_survival_suite` with the same methods and protocol.
    output : str or Path, optional
        The merged results folder (the files :func:`run_survival_suite` writes).
    overwrite : bool, default=False

    Returns
    -------
    SurvivalSuiteResult
    """
    import json

    tables, folds, metas = [], [], []
    for folder in map(Path, folders):
        tables.append(pd.read_csv(folder / "survival_suite.csv", index_col="task"))
        folds.append(pd.read_csv(folder / "fold_scores.csv"))
        metas.append(json.loads((folder / "run.json").read_text()))
    if not metas:
        raise InputError("No results folder to merge.")
    differ = [k for k in _SAME_PROTOCOL for m in metas[1:] if m.get(k) != metas[0].get(k)]
    if differ:
        raise InputError(f"The runs differ in {sorted(set(differ))}; merge runs of one protocol.")
    table = pd.concat(tables)
    if table.index.duplicated().any():
        raise InputError(
            f"Tasks in several runs: {sorted(set(table.index[table.index.duplicated()]))}."
        )
    methods = list(metas[0]["methods"])
    seconds = {t: v for m in metas for t, v in m["seconds"].items()}
    subsampled = {t: v for m in metas for t, v in m.get("subsampled", {}).items()}
    fold_rows = list(pd.concat(folds).itertuples(index=False, name=None))
    result = _summarize(table.to_dict(orient="index"), methods, fold_rows, seconds, subsampled)
    if output is not None:
        meta = {k: metas[0][k] for k in ("suite", "params", "n_jobs", *_SAME_PROTOCOL)}
        meta.update(tasks=list(table.index), subsampled=subsampled)
        meta["fold_warnings"] = {k: v for m in metas for k, v in m.get("fold_warnings", {}).items()}
        meta["merged_from"] = [str(f) for f in folders]
        folder = RunFolder(output, overwrite=overwrite)
        with folder:
            _write(folder.staging, result, meta)
        result.output = folder.path
    return result


def _summarize(rows, methods, folds, seconds, subsampled):
    table, ranks, friedman, cd = rank_summary(rows, methods)
    fold_scores = pd.DataFrame(
        folds, columns=["task", "method", "repeat", "fold", "harrell_c", "fit_seconds"]
    )
    return SurvivalSuiteResult(table, ranks, friedman, cd, fold_scores, seconds, subsampled)


_SHORT = {
    "ridge_cox": "ridge Cox",
    "coxnet": "Coxnet",
    "random_survival_forest": "RSF",
    "gradient_boosting_survival": "GB Cox",
    "xgboost_cox": "XGBoost Cox",
    "knn_km": "kNN KM",
    "graphboost": "**GraphBoost**",
}


def format_survival_table(result):
    """Harrell's C per task and method (best in bold), mean C and mean rank rows."""
    methods = list(result.mean_ranks.index)
    rows = []
    for task, r in result.table.iterrows():
        best = max(r[m] for m in methods)
        n = f"{int(r.n_patients)} ({int(r.n_events)})"
        if task in result.subsampled:
            n += f" of {result.subsampled[task]}"
        cells = {"task": task, "n (events)": n}
        cells.update(
            {
                _SHORT.get(m, m): f"**{r[m]:.3f}**" if r[m] == best else f"{r[m]:.3f}"
                for m in methods
            }
        )
        if "graphboost" in methods and "graphboost:delta" in r:
            cells["graphboost - ridge Cox (95% CI)"] = _ci(r, "graphboost")
        rows.append(cells)
    for label, values in (
        ("mean C", {m: f"{result.table[m].mean():.3f}" for m in methods}),
        (f"mean rank (of {len(methods)})", {m: f"{v:.2f}" for m, v in result.mean_ranks.items()}),
    ):
        rows.append(
            {
                "task": f"**{label}**",
                "n (events)": "",
                **{_SHORT.get(m, m): v for m, v in values.items()},
            }
        )
    return markdown_table(pd.DataFrame(rows).fillna(""))


def _ci(row, method):
    return format_ci(
        row.get(f"{method}:delta"), row.get(f"{method}:low"), row.get(f"{method}:high"), "{:+.3f}"
    )


def format_difference_table(result):
    """Each method minus ridge Cox in Harrell's C, per task, with its paired bootstrap CI."""
    others = [m for m in result.mean_ranks.index if m != REFERENCE]
    rows = [
        {"task": task, **{_SHORT.get(m, m): _ci(r, m) for m in others}}
        for task, r in result.table.iterrows()
    ]
    return markdown_table(pd.DataFrame(rows))


def format_fold_mean_table(result):
    """Harrell's C as the mean over the test folds (each fold's own C), with its mean ranks.

    Pooling ranks the risks of K models together, so a model whose risk scale moves from fold
    to fold (a penalty chosen per fold) loses concordance across folds that the fold-mean C does
    not count; the two tables side by side show how much of a difference is that.
    """
    methods = list(result.mean_ranks.index)
    table = result.fold_scores.groupby(["task", "method"]).harrell_c.mean().unstack()
    table = table.loc[list(result.table.index), methods]
    ranks = rank_methods(table.to_numpy()).mean(axis=0)
    rows = [
        {"task": task, **{_SHORT.get(m, m): f"{r[m]:.3f}" for m in methods}}
        for task, r in table.iterrows()
    ]
    rows.append(
        {"task": "**mean C**", **{_SHORT.get(m, m): f"{table[m].mean():.3f}" for m in methods}}
    )
    rows.append(
        {
            "task": "**mean rank**",
            **{_SHORT.get(m, m): f"{v:.2f}" for m, v in zip(methods, ranks, strict=True)},
        }
    )
    return markdown_table(pd.DataFrame(rows))


def _write(out, result, meta):

    result.table.to_csv(out / "survival_suite.csv")
    result.fold_scores.to_csv(out / "fold_scores.csv", index=False)
    cards = ", ".join(
        f"`{t}`" + (f" (card `{_CARDS / ('survival-' + t)}.md`)" if t in SURVIVAL_TASKS else "")
        for t in meta["tasks"]
    )
    cut = "; ".join(
        f"{t}: {n} patients drawn of {m}"
        for t, m in result.subsampled.items()
        for n in [int(result.table.loc[t, "n_patients"])]
    )
    lines = [
        f"# Survival suite: {len(meta['tasks'])} tasks, {len(meta['methods'])} methods",
        "",
        f"Tasks: {cards}. Evaluation: repeated {meta['n_splits']}-fold CV x {meta['n_repeats']} "
        "stratified on the event, censored patients kept, the same folds for every method, every "
        "fitted step inside the training folds. Harrell's C is the mean over repeats of the C of "
        "the pooled out-of-fold risks. Differences to ridge Cox: paired bootstraps over patients "
        f"({meta['n_bootstrap']} resamples, stratified on the event)."
        + (
            f" Subsampled (stratified on the event, seed {meta['random_state']}): {cut}."
            if cut
            else ""
        ),
        "",
        format_survival_table(result),
        "",
        "Fold-mean Harrell's C (the mean of each test fold's C; not the table's statistic, shown "
        "because pooling penalises a risk scale that moves between folds):",
        "",
        format_fold_mean_table(result),
        "",
        "Difference to ridge Cox in Harrell's C (95% CI):",
        "",
        format_difference_table(result)
        if meta["n_bootstrap"] and REFERENCE in meta["methods"]
        else "-",
        "",
        *_test_lines(result),
        "",
        *_cost_lines(result),
        "",
    ]
    write_report(out, "survival_suite.md", lines, result, meta)


assert set(SURVIVAL_BASELINES) >= {REFERENCE}
