"""The design suite: nine tasks, every method on the same folds, one table, ranks and a CD figure.

``graphboost benchmark --suite design`` (and :func:`run_suite`) cross-validates every method on
each task of a suite with the runner's one cross-validation (every fitted step inside the
training folds, folds fitted in parallel through joblib), and writes one table: the AUROC of each
task and method, the paired difference of GraphBoostClassifier to each task's best baseline and
to logistic regression with a paired bootstrap CI, mean AUROC and mean rank; below it the
Friedman test over tasks and the Nemenyi critical difference, drawn as a critical-difference
diagram (Demsar 2006).

A task is a shipped benchmark config (``experiments/benchmark/configs/<task>.toml``): the suite
takes its ``[dataset]`` table, and runs its own methods and folds on it.

The folds go through :class:`joblib.Parallel`, so a cluster runs them with joblib's Dask (or Ray)
backend; the results are the same as on one core::

    import joblib
    from dask.distributed import Client
    from experiments import run_suite

    client = Client("scheduler-address:8786")  # pip install dask distributed
    with joblib.parallel_backend("dask"):
        res = run_suite("design", output="runs/design-{timestamp}")

References
----------
J. Demsar, "Statistical comparisons of classifiers over multiple data sets", Journal of Machine
Learning Research 7:1-30 (2006).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from .._base import InputError, RunFolder, format_ci, markdown_table
from ..clinical._metrics import paired_bootstrap
from ..evaluation._cv import cross_validate
from ..evaluation._dataset import load_dataset
from ..methods._pipelines import TUNED, check_methods
from ..tuning._tuned import TunedGraphBoostClassifier  # noqa: F401 (re-exported: it was defined here)
from ._config import load_config

SUITES = {
    "design": (
        "rotterdam",
        "gbsg",
        "nwtco",
        "ad_data",
        "pima",
        "indo_rct",
        "duke-tnbc",
        "duke-tnbc-imaging",
        "duke-pcr",
    ),
}
"""Suite name -> its tasks, each a shipped config's name (``experiments/benchmark/configs``)."""

SUITE_BASELINES = (
    "logistic",
    "hist_gradient_boosting",
    "xgboost",
    "adaboost",
    "catboost",
    "gcn",
)
"""The baselines of a suite; each task's best baseline is the one with the highest AUROC."""

SUITE_METHODS = (*SUITE_BASELINES, "graphboost", TUNED)
"""Methods a suite runs by default: the baselines, GraphBoostClassifier's defaults and
:class:`TunedGraphBoostClassifier`."""

_CARDS = Path("docs") / "datasets"


# --------------------------------------------------------------------------- statistics
def rank_methods(scores):
    """Rank of each method within each task: 1 is the highest score, ties share their mean rank.

    Parameters
    ----------
    scores : array-like of shape (n_tasks, n_methods)

    Returns
    -------
    ndarray of shape (n_tasks, n_methods)

    Examples
    --------
    >>> rank_methods([[0.7, 0.8, 0.8], [0.9, 0.6, 0.5]])
    array([[3. , 1.5, 1.5],
           [1. , 2. , 3. ]])
    """
    scores = np.asarray(scores, dtype=float)
    return np.vstack([stats.rankdata(-row, method="average") for row in scores])


def _iman_davenport(chi2, n_tasks, n_methods):
    """Iman and Davenport's F from Friedman's chi-square, and its p-value (Demsar 2006, eq. 2)."""
    df1, df2 = n_methods - 1, (n_methods - 1) * (n_tasks - 1)
    denominator = n_tasks * (n_methods - 1) - chi2
    f = float("inf") if denominator <= 0 else (n_tasks - 1) * chi2 / denominator
    return f, float(stats.f.sf(f, df1, df2))


def friedman_test(scores):
    """Friedman's test that all methods rank alike over the tasks, with Iman-Davenport's F.

    Parameters
    ----------
    scores : array-like of shape (n_tasks, n_methods)
        Higher is better (AUROC); at least 2 tasks and 3 methods.

    Returns
    -------
    dict
        ``statistic`` and ``p_value`` (:func:`scipy.stats.friedmanchisquare`, corrected for
        ties), ``iman_davenport_f`` and ``iman_davenport_p``, ``mean_ranks`` (1 = best),
        ``n_tasks``, ``n_methods``.

    Examples
    --------
    >>> res = friedman_test([[0.9, 0.8, 0.7], [0.8, 0.7, 0.6], [0.7, 0.6, 0.5]])
    >>> res["statistic"], res["mean_ranks"].tolist()
    (6.0, [1.0, 2.0, 3.0])
    """
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 2 or scores.shape[0] < 2 or scores.shape[1] < 3:
        raise ValueError(
            f"Friedman's test needs scores of shape (n_tasks >= 2, n_methods >= 3); got shape "
            f"{scores.shape}."
        )
    if not np.isfinite(scores).all():
        raise ValueError("Friedman's test needs a finite score for every task and method.")
    n, k = scores.shape
    chi2, p = stats.friedmanchisquare(*scores.T)
    f, p_f = _iman_davenport(float(chi2), n, k)
    return {
        "statistic": float(chi2),
        "p_value": float(p),
        "iman_davenport_f": f,
        "iman_davenport_p": p_f,
        "mean_ranks": rank_methods(scores).mean(axis=0),
        "n_tasks": n,
        "n_methods": k,
    }


def critical_difference(n_methods, n_tasks, alpha=0.05):
    """Nemenyi's critical difference of mean ranks (Demsar 2006, section 3.2.2).

    ``CD = q_alpha * sqrt(k (k + 1) / (6 N))``, with ``q_alpha`` the studentized range quantile
    of ``k`` means and infinite degrees of freedom, divided by ``sqrt(2)``. Two methods whose
    mean ranks differ by at least ``CD`` differ significantly.

    Examples
    --------
    >>> round(critical_difference(4, 14), 2)  # Demsar's example: 4 classifiers, 14 data sets
    1.25
    """
    if n_methods < 2 or n_tasks < 1:
        raise ValueError(
            f"The critical difference needs n_methods >= 2 and n_tasks >= 1; got {n_methods} "
            f"and {n_tasks}."
        )
    q = stats.studentized_range.ppf(1 - alpha, n_methods, np.inf) / np.sqrt(2)
    return float(q * np.sqrt(n_methods * (n_methods + 1) / (6.0 * n_tasks)))


# --------------------------------------------------------------------------- the suite
@dataclass
class SuiteResult:
    """What :func:`run_suite` returns.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per task (index): ``n_patients``, ``n_positive``, the AUROC of each method (mean
        over repeats of the pooled out-of-fold AUROC), ``best_baseline`` and the paired
        bootstrap difference of ``graphboost`` to it (``delta_best``, ``delta_best_low``,
        ``delta_best_high``, ``delta_best_p``) and to logistic regression (``delta_logistic``
        ...).
    mean_ranks : pandas.Series
        Mean rank of each method over the tasks (1 = best).
    friedman : dict or None
        :func:`friedman_test` of the AUROC table (None with fewer than 2 tasks or 3 methods).
    critical_difference : float or None
        Nemenyi's critical difference at the 0.05 level.
    fold_scores : pandas.DataFrame
        ``task, method, repeat, fold, auroc, fit_seconds`` of every fold.
    seconds : dict of str to float
        Wall time of each task.
    output : pathlib.Path or None
    """

    table: pd.DataFrame
    mean_ranks: pd.Series
    friedman: dict | None
    critical_difference: float | None
    fold_scores: pd.DataFrame
    seconds: dict
    output: Path | None


def _suite_tasks(suite, tasks):
    if suite not in SUITES:
        raise InputError(f"Unknown suite {suite!r}; choose one of {sorted(SUITES)}.")
    if tasks is None:
        return list(SUITES[suite])
    unknown = [t for t in tasks if t not in SUITES[suite]]
    if unknown or not tasks:
        raise InputError(
            f"Unknown task(s) {unknown} of suite {suite!r}; choose from {list(SUITES[suite])}."
        )
    return list(tasks)


def _suite_methods(methods):
    methods = list(SUITE_METHODS if methods is None else methods)
    if not methods:
        raise InputError(f"No methods given; choose from {list(SUITE_METHODS)}.")
    check_methods(methods)
    return methods


def _auroc(y, probas):
    """Mean over repeats of the AUROC of the pooled out-of-fold predictions (the runner's)."""
    from ..clinical._metrics import compute_metrics

    return float(np.mean([compute_metrics(y, p)["auroc"] for p in probas]))


def _paired(y, results, a, b, n_bootstrap, seed):
    if a not in results or b not in results:
        return {}
    res = paired_bootstrap(y, results[a].probas, results[b].probas, "auroc", n_bootstrap, seed)
    return {"": res["delta"], "_low": res["low"], "_high": res["high"], "_p": res["p_value"]}


def _task_row(y, results, n_bootstrap, seed):
    """The table row of one task: AUROC per method, best baseline, paired differences."""
    row = {"n_patients": int(y.size), "n_positive": int((y == y.max()).sum())}
    row.update({m: _auroc(y, r.probas) for m, r in results.items()})
    baselines = [m for m in SUITE_BASELINES if m in results]
    best = max(baselines, key=lambda m: row[m]) if baselines else None
    row["best_baseline"] = best
    for ref, key in ((best, "delta_best"), ("logistic", "delta_logistic")):
        paired = _paired(y, results, "graphboost", ref, n_bootstrap, seed) if ref else {}
        row.update({key + suffix: value for suffix, value in paired.items()})
    return row


def _fold_rows(task, results):
    return [
        (task, name, r, f, score, seconds)
        for name, res in results.items()
        for (r, f, score), seconds in zip(res.fold_scores, res.fit_seconds, strict=True)
    ]


def _run_task(dataset, methods, params, cv, n_jobs, progress):
    """Cross-validate every method on one task (``graphboost-tuned`` is a runner method like
    the others); its results and encoded labels."""
    return cross_validate(dataset, methods, params=params, n_jobs=n_jobs, progress=progress, **cv)


def _load_tasks(names, datasets, n_splits):
    datasets = dict(datasets or {})
    return {
        t: datasets[t] if t in datasets else load_dataset(load_config(t)["dataset"], n_splits)
        for t in names
    }


# Over 60 lines only through its numpydoc docstring (37 lines of code).
def run_suite(
    suite="design",
    *,
    tasks=None,
    methods=None,
    n_splits=5,
    n_repeats=5,
    n_bootstrap=1000,
    params=None,
    random_state=0,
    n_jobs=None,
    output=None,
    overwrite=False,
    progress=False,
    datasets=None,
):
    """Run every method on every task of a suite; one table, mean ranks, Friedman, CD figure.

    Parameters
    ----------
    suite : str, default="design"
        A key of :data:`SUITES`.
    tasks : list of str, optional
        A subset of the suite's tasks.
    methods : list of str, optional
        Runner methods (:data:`experiments.METHODS`); default :data:`SUITE_METHODS`.
        ``"graphboost-tuned"`` is :class:`experiments.TunedGraphBoostClassifier`.
    n_splits, n_repeats : int, default=5
        Repeated stratified K-fold, the same folds for every method of a task.
    n_bootstrap : int, default=1000
        Resamples of the paired bootstrap CIs.
    params : dict of str to dict, optional
        Method name -> parameters (for ``"graphboost-tuned"``: those of
        :class:`TunedGraphBoostClassifier`, e.g. ``{"n_trials": 10}``).
    random_state : int, default=0
        Seeds the folds, the models and the bootstrap.
    n_jobs : int or None, default=None
        Folds fitted at once through joblib, one thread each; ``None`` is 1, or the number of
        workers of an enclosing ``joblib.parallel_backend`` / ``joblib.parallel_config`` (a
        Dask or Ray cluster). The results do not depend on it.
    output : str or Path, optional
        Results folder (``{timestamp}`` replaced), written complete or not at all:
        ``suite.md`` (the table, the tests, the cost), ``suite.csv``, ``fold_scores.csv``,
        ``critical_difference.png`` and ``run.json``.
    overwrite : bool, default=False
    progress : bool, default=False
    datasets : dict of str to Dataset, optional
        Use these datasets for the named tasks instead of loading their configs.

    Returns
    -------
    SuiteResult

    Examples
    --------
    >>> res = run_suite(tasks=["gbsg", "pima"], n_repeats=1)  # doctest: +SKIP
    >>> res.mean_ranks.idxmin()  # doctest: +SKIP
    'graphboost'
    """
    names = _suite_tasks(suite, tasks)
    methods = _suite_methods(methods)
    params = {m: dict(v) for m, v in (params or {}).items()}
    folder = RunFolder(output, overwrite=overwrite) if output is not None else None
    loaded = _load_tasks(names, datasets, n_splits)
    cv = {"n_splits": n_splits, "n_repeats": n_repeats, "random_state": random_state}
    rows, folds, seconds, schemes = {}, [], {}, {}
    for task, ds in loaded.items():
        t0 = time.perf_counter()
        results, y, schemes[task] = _run_task(ds, methods, params, cv, n_jobs, progress)
        rows[task] = _task_row(y, results, n_bootstrap, random_state)
        folds += _fold_rows(task, results)
        seconds[task] = time.perf_counter() - t0
    result = _summarize(rows, methods, folds, seconds)
    if folder is not None:
        meta = {"suite": suite, "tasks": names, "methods": methods, "params": params, **cv}
        meta.update(n_bootstrap=n_bootstrap, n_jobs=n_jobs, schemes=schemes)
        with folder:
            _write_suite(folder.staging, result, loaded, meta)
        result.output = folder.path
    return result


def rank_summary(rows, methods):
    """The task x method table of a suite (``rows``: task -> its figures), the methods' mean
    ranks, and the Friedman test and Nemenyi critical difference where they are defined (at
    least 2 tasks, 3 methods, every score finite; else None)."""
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "task"
    scores = table[methods].to_numpy(dtype=float)
    friedman = cd = None
    if scores.shape[0] >= 2 and scores.shape[1] >= 3 and np.isfinite(scores).all():
        friedman = friedman_test(scores)
        cd = critical_difference(len(methods), scores.shape[0])
    ranks = pd.Series(rank_methods(scores).mean(axis=0), index=methods, name="mean_rank")
    return table, ranks, friedman, cd


def _summarize(rows, methods, folds, seconds):
    table, ranks, friedman, cd = rank_summary(rows, methods)
    fold_scores = pd.DataFrame(
        folds, columns=["task", "method", "repeat", "fold", "auroc", "fit_seconds"]
    )
    return SuiteResult(table, ranks, friedman, cd, fold_scores, seconds, None)


def _ci(row, key):
    return format_ci(row.get(key), row.get(key + "_low"), row.get(key + "_high"), "{:+.3f}")


def format_suite_table(result):
    """The suite's one Markdown table: AUROC per task and method, differences, mean rows.

    The best AUROC of each task is in bold; the last two rows are the mean AUROC and the mean
    rank (1 = best) of each method.
    """
    methods = list(result.mean_ranks.index)
    rows = []
    for task, r in result.table.iterrows():
        best = max(r[m] for m in methods)
        cells = {"task": task, "n (positive)": f"{r.n_patients} ({r.n_positive})"}
        for m in methods:
            cells[m] = f"**{r[m]:.3f}**" if r[m] == best else f"{r[m]:.3f}"
        cells["best baseline"] = r.best_baseline or "-"
        cells["graphboost - best baseline (95% CI)"] = _ci(r, "delta_best")
        cells["graphboost - logistic (95% CI)"] = _ci(r, "delta_logistic")
        rows.append(cells)
    for label, values in (
        ("mean AUROC", {m: f"{result.table[m].mean():.3f}" for m in methods}),
        ("mean rank", {m: f"{v:.2f}" for m, v in result.mean_ranks.items()}),
    ):
        rows.append({"task": f"**{label}**", "n (positive)": "", **values})
    return markdown_table(pd.DataFrame(rows).fillna(""))


def _test_lines(result):
    if result.friedman is None:
        return ["Friedman test and critical difference: need 2+ tasks and 3+ methods."]
    f = result.friedman
    return [
        f"Friedman test over {f['n_tasks']} tasks and {f['n_methods']} methods: chi-square = "
        f"{f['statistic']:.2f}, p = {f['p_value']:.3g}; Iman-Davenport F = "
        f"{f['iman_davenport_f']:.2f}, p = {f['iman_davenport_p']:.3g}. Nemenyi critical "
        f"difference of mean ranks (alpha = 0.05): {result.critical_difference:.2f} "
        "(`critical_difference.png`; methods joined by a bar do not differ significantly).",
    ]


def _cost_lines(result):
    fit = result.fold_scores.groupby("method", sort=False).fit_seconds.sum() / 60
    per_method = ", ".join(f"{m} {v:.2f}" for m, v in fit.items())
    return [
        f"Cost: {sum(result.seconds.values()) / 60:.1f} min wall time; fit minutes summed over "
        f"all folds and tasks: {per_method}.",
    ]


def _card(task, ds):
    """The task's name, with its dataset card for a public cohort."""
    if not ds.name.startswith("public:"):
        return f"`{task}`"
    return f"`{task}` (card `{_CARDS / ds.name.split(':', 1)[1]}.md`)"


def _write_suite(out, result, loaded, meta):
    """Write ``suite.md``, ``suite.csv``, ``fold_scores.csv``, the CD figure, ``run.json``."""

    result.table.to_csv(out / "suite.csv")
    result.fold_scores.to_csv(out / "fold_scores.csv", index=False)
    cards = ", ".join(_card(t, ds) for t, ds in loaded.items())
    lines = [
        f"# Design suite: {len(loaded)} tasks, {len(meta['methods'])} methods",
        "",
        f"Tasks: {cards}. Evaluation: repeated stratified {meta['n_splits']}-fold CV x "
        f"{meta['n_repeats']}, the same folds for every method, every fitted step inside the "
        "training folds. AUROC is the mean over repeats of the pooled out-of-fold AUROC; the "
        "differences are paired bootstraps over patients "
        f"({meta['n_bootstrap']} resamples). The best baseline is chosen per task among "
        f"{[m for m in SUITE_BASELINES if m in meta['methods']]}.",
        "",
        format_suite_table(result),
        "",
        *_test_lines(result),
        "",
        *_cost_lines(result),
        "",
    ]
    write_report(out, "suite.md", lines, result, meta)


def write_report(out, name, lines, result, meta):
    """A suite's Markdown report ``name``, its CD figure (with a Friedman test) and ``run.json``.

    Shared by the design suite and the survival suite (``result`` has ``friedman``,
    ``mean_ranks``, ``critical_difference`` and ``seconds``).
    """
    from .._base import package_versions, write_json

    if result.friedman is not None:
        _plot_cd(out / "critical_difference.png", result)
    (out / name).write_text("\n".join(lines))
    friedman = None
    if result.friedman is not None:
        friedman = {**result.friedman, "mean_ranks": result.mean_ranks.to_dict()}
    write_json(
        out / "run.json",
        {
            **meta,
            "friedman": friedman,
            "critical_difference": result.critical_difference,
            "seconds": result.seconds,
            "versions": package_versions(),
        },
    )


def _plot_cd(path, result):
    from ..plots import plot_critical_difference
    from ..plots._files import _agg, _save

    _agg()
    ax = plot_critical_difference(
        result.mean_ranks.to_dict(),
        result.critical_difference,
        title=f"Mean rank over {result.friedman['n_tasks']} tasks (Nemenyi, alpha = 0.05)",
    )
    _save(ax, path)
