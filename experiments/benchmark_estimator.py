"""Benchmark GraphBoostClassifier on the Duke cohort against baselines, in one process.

Prints, for each method, the cross-validated AUROC (fold mean and a bootstrap 95% CI of the pooled
out-of-fold predictions) and the fit time per fold; then the fit time of a faithful exhaustive
variant (one GNN per candidate graph per round, as AdaMedGraph's reference code does), timed on a
sample of candidates and extrapolated, as a ratio to ours. Preprocessing
(:class:`features.ClinicalPreprocessor`) is fitted inside each training fold.

Run::

    python -m experiments.benchmark_estimator --task tnbc
    python -m experiments.benchmark_estimator --task pcr --methods vote,appnp,lr,xgb --repeats 5
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="tnbc", choices=["tnbc", "tnbc-imaging", "pcr"])
    parser.add_argument("--methods", default="vote,lr,xgb")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--n-estimators", type=int, default=50)
    parser.add_argument(
        "--exhaustive-sample",
        type=int,
        default=6,
        help="GNN trainings timed for the exhaustive estimate (0 to skip)",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)

    data = load_duke(args.task)
    X, y = data.X, data.y.to_numpy()
    print(f"Duke {args.task}: {X.shape[0]} patients, {X.shape[1]} columns, {y.sum()} positive")
    models = methods(args.n_estimators, args.seed)
    chosen = args.methods.split(",")
    unknown = sorted(set(chosen) - set(models))
    if unknown:
        parser.error(f"unknown methods {unknown}; choose from {sorted(models)}")
    results = {m: {"auc": [], "time": [], "pooled": []} for m in chosen}
    for repeat in range(args.repeats):
        cv = StratifiedKFold(args.folds, shuffle=True, random_state=args.seed + repeat)
        oof = {m: np.zeros(len(y)) for m in chosen}
        for fold, (train, test) in enumerate(cv.split(X, y)):
            for name in chosen:
                pipe = make_pipeline(ClinicalPreprocessor(), clone(models[name]))
                if isinstance(models[name], GraphBoostClassifier):
                    pipe.set_output(transform="pandas")  # column names for feature_groups
                start = time.perf_counter()
                pipe.fit(X.iloc[train], y[train])
                elapsed = time.perf_counter() - start
                p = pipe.predict_proba(X.iloc[test])[:, 1]
                oof[name][test] = p
                auc = roc_auc_score(y[test], p)
                results[name]["auc"].append(auc)
                results[name]["time"].append(elapsed)
                extra = ""
                est = pipe[-1]
                if isinstance(est, GraphBoostClassifier):
                    first = [s.name for s in est.selected_graphs_[:3]]
                    extra = f" rounds={len(est.estimators_)} first={first}"
                print(
                    f"repeat {repeat} fold {fold} {name:>18}: AUROC {auc:.3f} "
                    f"fit {elapsed:6.1f} s{extra}",
                    flush=True,
                )
        for name in chosen:
            results[name]["pooled"].append(roc_auc_score(y, oof[name]))
    print()
    print("| method | fold-mean AUROC | pooled AUROC (95% CI, last repeat) | fit s/fold |")
    print("|---|---|---|---|")
    for name in chosen:
        r = results[name]
        lo, hi = bootstrap_ci(y, oof[name])
        print(
            f"| {name} | {np.mean(r['auc']):.3f} | {np.mean(r['pooled']):.3f} "
            f"({lo:.3f}-{hi:.3f}) | {np.mean(r['time']):.1f} |"
        )
    if args.exhaustive_sample:
        pre = ClinicalPreprocessor().set_output(transform="pandas")
        train = next(StratifiedKFold(args.folds, shuffle=True, random_state=args.seed).split(X, y))[
            0
        ]
        Xt = pre.fit_transform(X.iloc[train]).to_numpy()
        per_gnn, total = exhaustive_estimate(
            Xt, y[train], args.n_estimators, args.exhaustive_sample, args.seed
        )
        ours = np.mean(results[chosen[0]]["time"])
        print()
        print(
            f"Exhaustive search (one APPNP per column x 3 thresholds per round, "
            f"{Xt.shape[1]} columns, {args.n_estimators} rounds): {per_gnn:.2f} s per GNN, "
            f"{total / 3600:.1f} CPU-hours per fold (extrapolated from "
            f"{args.exhaustive_sample} GNNs); ours ({chosen[0]}) {ours:.1f} s per fold: "
            f"{total / ours:,.0f}x faster."
        )


if __name__ == "__main__":
    main()
