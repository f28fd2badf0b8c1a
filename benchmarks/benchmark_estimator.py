"""Benchmark GraphBoostClassifier on the Duke cohort against baselines, in one process.

Prints, for each method, the cross-validated AUROC (fold mean and a bootstrap 95% CI of the pooled
out-of-fold predictions) and the fit time per fold; then the fit time of a faithful exhaustive
variant (one GNN per candidate graph per round, as AdaMedGraph's reference code does), timed on a
sample of candidates and extrapolated, as a ratio to ours. Preprocessing
(:class:`features.ClinicalPreprocessor`) is fitted inside each training fold.

Run::

    python benchmarks/benchmark_estimator.py --task tnbc
    python benchmarks/benchmark_estimator.py --task pcr --methods vote,appnp,lr,xgb --repeats 5
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from _scripts import parse_script_args
from sklearn.base import clone
from sklearn.compose import make_column_selector
from sklearn.linear_model import LogisticRegressionCV
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from features import ClinicalPreprocessor, load_duke
from graphboost import GraphBoostClassifier, GraphWeakLearner


def methods(n_estimators, seed):
    """The compared models; each gets its own ClinicalPreprocessor inside the fold."""
    graph = {"n_estimators": n_estimators, "learning_rate": 0.1, "random_state": seed}
    gnn = {"n_screen": 3, "max_epochs": 60, "hidden_channels": 16}
    models = {
        "vote": GraphBoostClassifier(**graph),
        "vote-noinit": GraphBoostClassifier(init=None, **graph),
        "vote-es": GraphBoostClassifier(early_stopping=True, **graph),
        "vote-imaging-block": GraphBoostClassifier(
            feature_groups={"imaging": make_column_selector(pattern="^img:")}, **graph
        ),
        "appnp": GraphBoostClassifier(conv="appnp", **gnn, **graph),
        "gcn": GraphBoostClassifier(conv="gcn", **gnn, **graph),
        "lr": make_pipeline(
            StandardScaler(),
            LogisticRegressionCV(
                Cs=np.logspace(-4, 1, 6),
                cv=3,
                scoring="neg_log_loss",
                l1_ratios=(0.0,),
                use_legacy_attributes=False,
                max_iter=5000,
            ),
        ),
    }
    try:
        from xgboost import XGBClassifier

        models["xgb"] = XGBClassifier(
            n_estimators=300,
            max_depth=4,
            learning_rate=0.05,
            subsample=0.8,
            n_jobs=1,
            random_state=seed,
        )
    except ImportError:  # pragma: no cover - xgboost is in the benchmarks extra
        pass
    return models


def bootstrap_ci(y, p, n_boot=1000, seed=0):
    rng = np.random.default_rng(seed)
    stats = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(y), len(y))
        if len(np.unique(y[idx])) == 2:
            stats.append(roc_auc_score(y[idx], p[idx]))
    return np.percentile(stats, [2.5, 97.5])


def exhaustive_estimate(X, y, n_rounds, n_sample, seed):
    """Fit time of the reference search: one APPNP per candidate graph per round.

    The reference trains a GNN for every feature x threshold in every round; we time
    ``n_sample`` such trainings (3 quantiles each) on random candidates and extrapolate.
    """
    rng = np.random.default_rng(seed)
    columns = rng.choice(X.shape[1], size=min(n_sample, X.shape[1]), replace=False)
    start = time.perf_counter()
    for c in columns:
        GraphWeakLearner(
            columns=(int(c),),
            rule="threshold",
            quantile=0.05,
            conv="appnp",
            max_epochs=60,
            random_state=0,
        ).fit(X, y)
    per_gnn = (time.perf_counter() - start) / len(columns)
    n_thresholds = 3
    return per_gnn, per_gnn * X.shape[1] * n_thresholds * n_rounds


OPTIONS = {
    "--task": ("tnbc", "Duke task", ("tnbc", "tnbc-imaging", "pcr")),
    "--methods": ("vote,lr,xgb", "methods to compare, comma-separated"),
    "--folds": (5, "stratified CV folds"),
    "--repeats": (1, "CV repeats (seeds seed, seed + 1, ...)"),
    "--n-estimators": (50, "most boosting rounds"),
    "--exhaustive-sample": (6, "GNN trainings timed for the exhaustive estimate (0 to skip)"),
    "--seed": (0, "random seed"),
}
# Expected on Duke folds (constant or unusable columns in a fold, a category absent from a
# training fold); filtered by message so that any other warning, such as "No candidate graph beat
# chance", is still shown.
_EXPECTED_WARNINGS = ("Constant columns skipped", "Dropping ", "Values not seen in fit")


def _fit_fold(model, X, y, train, test):
    """Fit one method on one training fold; returns (test probabilities, fit seconds, note)."""
    pipe = make_pipeline(ClinicalPreprocessor(), clone(model))
    if isinstance(model, GraphBoostClassifier):
        pipe.set_output(transform="pandas")  # column names for feature_groups
    with warnings.catch_warnings():
        for message in _EXPECTED_WARNINGS:
            warnings.filterwarnings("ignore", message=message, category=UserWarning)
        start = time.perf_counter()
        pipe.fit(X.iloc[train], y[train])
        elapsed = time.perf_counter() - start
        proba = pipe.predict_proba(X.iloc[test])[:, 1]
    note = ""
    if isinstance(pipe[-1], GraphBoostClassifier):
        first = [s.name for s in pipe[-1].selected_graphs_[:3]]
        note = f" rounds={len(pipe[-1].estimators_)} first={first}"
    return proba, elapsed, note


def cross_validate(X, y, models, folds, repeats, seed):
    """Repeated stratified CV of every model; per-fold AUROCs and times, pooled AUROCs, last OOF."""
    results = {m: {"auc": [], "time": [], "pooled": []} for m in models}
    for repeat in range(repeats):
        cv = StratifiedKFold(folds, shuffle=True, random_state=seed + repeat)
        oof = {m: np.zeros(len(y)) for m in models}
        for fold, (train, test) in enumerate(cv.split(X, y)):
            for name, model in models.items():
                p, elapsed, note = _fit_fold(model, X, y, train, test)
                oof[name][test] = p
                auc = roc_auc_score(y[test], p)
                results[name]["auc"].append(auc)
                results[name]["time"].append(elapsed)
                print(
                    f"repeat {repeat} fold {fold} {name:>18}: AUROC {auc:.3f} "
                    f"fit {elapsed:6.1f} s{note}",
                    flush=True,
                )
        for name in models:
            results[name]["pooled"].append(roc_auc_score(y, oof[name]))
    return results, oof


def _print_exhaustive(X, y, args, ours, name):
    pre = ClinicalPreprocessor().set_output(transform="pandas")
    cv = StratifiedKFold(args.folds, shuffle=True, random_state=args.seed)
    train = next(cv.split(X, y))[0]
    Xt = pre.fit_transform(X.iloc[train]).to_numpy()
    per_gnn, total = exhaustive_estimate(
        Xt, y[train], args.n_estimators, args.exhaustive_sample, args.seed
    )
    print()
    print(
        f"Exhaustive search (one APPNP per column x 3 thresholds per round, "
        f"{Xt.shape[1]} columns, {args.n_estimators} rounds): {per_gnn:.2f} s per GNN, "
        f"{total / 3600:.1f} CPU-hours per fold (extrapolated from "
        f"{args.exhaustive_sample} GNNs); ours ({name}) {ours:.1f} s per fold: "
        f"{total / ours:,.0f}x faster."
    )


def main(argv=None):
    """Run the comparison chosen on the command line and print its tables."""
    args = parse_script_args(__doc__, OPTIONS, argv)
    data = load_duke(args.task)
    X, y = data.X, data.y.to_numpy()
    print(f"Duke {args.task}: {X.shape[0]} patients, {X.shape[1]} columns, {y.sum()} positive")
    models = methods(args.n_estimators, args.seed)
    chosen = args.methods.split(",")
    unknown = sorted(set(chosen) - set(models))
    if unknown:
        raise SystemExit(f"--methods: unknown methods {unknown}; choose from {sorted(models)}")
    models = {name: models[name] for name in chosen}
    results, oof = cross_validate(X, y, models, args.folds, args.repeats, args.seed)
    print()
    print("| method | fold-mean AUROC | pooled AUROC (95% CI, last repeat) | fit s/fold |")
    print("|---|---|---|---|")
    for name, r in results.items():
        lo, hi = bootstrap_ci(y, oof[name])
        print(
            f"| {name} | {np.mean(r['auc']):.3f} | {np.mean(r['pooled']):.3f} "
            f"({lo:.3f}-{hi:.3f}) | {np.mean(r['time']):.1f} |"
        )
    if args.exhaustive_sample:
        _print_exhaustive(X, y, args, np.mean(results[chosen[0]]["time"]), chosen[0])


if __name__ == "__main__":
    main()
