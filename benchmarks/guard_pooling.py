"""Why the guarded default lost the design suite's pooled AUROC, and what boost_offset_ gives back.

Issue 19: the boosted score's intercept (``boost_offset_``) and the guard, measured together.

On the folds of ``graphboost benchmark --suite design`` (5 x 5 repeated stratified CV, seed 0,
the suite's preprocessing), each outer fit of the default ``GraphBoostClassifier`` is scored on
its test patients as five models that differ only after the boosting:

- ``start``: the init model alone (scale 0);
- ``auto``: the training-side scale (``boost_scale="auto"``, the former default);
- ``guarded``: the scale the out-of-fold guard kept (the default as shipped);
- each of ``auto`` and ``guarded`` with and without the calibrating intercept of the boosted
  score (``boost_offset_``); ``auto`` is a second fit with ``boost_scale="auto"`` and the same
  seed, whose boosting is the guarded fit's (its scale is the guard's ``training_scale``).

Logistic regression (the suite's baseline) is fitted on the same folds. Per task it prints the
mean over repeats of the pooled out-of-fold AUROC (the suite's figure) and the mean of the fold
AUROCs, and how many outer fits the guard kept.

Run::

    python benchmarks/guard_pooling.py --tasks indo_rct,duke-pcr,duke-tnbc-imaging
"""

from __future__ import annotations

import json

import numpy as np
from _scripts import parse_script_args
from joblib import Parallel, delayed
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import LabelEncoder

ARMS = ("logistic", "start", "auto", "auto_no_offset", "guarded", "guarded_no_offset")


def _fold(ds, y, train, test):
    from experiments import make_pipeline

    def fit(params):
        pipe = make_pipeline(
            "graphboost", params, ds.feature_groups, 0, preprocessor=ds.preprocessor
        )
        return pipe.fit(ds.X.iloc[train], y[train])

    def scores(pipe):
        model = pipe[-1]
        score = pipe.decision_function(ds.X.iloc[test])
        return score, score - (model.boost_offset_[1] - model.boost_offset_[0])

    guarded = fit({})  # the default; the same seed gives "auto" the same boosting fit
    auto = fit({"boost_scale": "auto"})
    guard = guarded[-1].boost_scale_guard_
    if guard is not None:
        assert auto[-1].boost_scale_ == guard["training_scale"]
    out = {}
    out["guarded"], out["guarded_no_offset"] = scores(guarded)
    out["auto"], out["auto_no_offset"] = scores(auto)
    model = guarded[-1]
    model.boost_scale_, model.boost_offset_ = 0.0, 0.0 * model.boost_offset_
    out["start"], _ = scores(guarded)  # the init model alone
    logistic = make_pipeline("logistic", {}, ds.feature_groups, 0, preprocessor=ds.preprocessor)
    logistic.fit(ds.X.iloc[train], y[train])
    out["logistic"] = logistic.predict_proba(ds.X.iloc[test])[:, 1]
    return test, out, bool(guard is not None and guard["kept"])


def run_task(task, n_repeats, n_jobs):
    from experiments import load_config, load_dataset
    from experiments.evaluation import make_splits

    ds = load_dataset(load_config(task)["dataset"], 5)
    y = LabelEncoder().fit_transform(ds.y)
    splits, _ = make_splits(ds, y, 5, n_repeats, 0)
    jobs = [(r, tr, te) for r, folds in enumerate(splits) for tr, te in folds]
    fits = Parallel(n_jobs=n_jobs)(delayed(_fold)(ds, y, tr, te) for _, tr, te in jobs)
    row = {"kept": sum(kept for *_, kept in fits), "fits": len(fits)}
    for arm in ARMS:
        pooled = []
        for r in range(n_repeats):
            score = np.empty(y.size)
            for (rep, _, _), (test, scores, _) in zip(jobs, fits, strict=True):
                if rep == r:
                    score[test] = scores[arm]
            pooled.append(roc_auc_score(y, score))
        folds = [roc_auc_score(y[test], scores[arm]) for test, scores, _ in fits]
        row[arm] = {"pooled": float(np.mean(pooled)), "fold_mean": float(np.mean(folds))}
    return row


OPTIONS = {
    "--tasks": ("indo_rct,duke-pcr,duke-tnbc-imaging", "design-suite tasks, comma-separated"),
    "--repeats": (5, "repeats of the suite's 5-fold CV (its folds: seed 0)"),
    "--n-jobs": (2, "folds fitted at once"),
}


def main(argv=None):
    args = parse_script_args(__doc__, OPTIONS, argv)
    out = {}
    for task in args.tasks.split(","):
        out[task] = row = run_task(task, args.repeats, args.n_jobs)
        print(f"{task}: guard kept {row['kept']}/{row['fits']}")
        for arm in ARMS:
            pooled, fold_mean = row[arm]["pooled"], row[arm]["fold_mean"]
            print(f"  {arm:18s} pooled {pooled:.4f}  fold mean {fold_mean:.4f}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
