"""The out-of-fold guard ``boost_scale="guarded"`` on noise and on real labels (issue 19).

Two measurements:

1. **Noise.** For each cohort of ``--noise-cohorts``, the labels permuted with seeds
   ``0..--seeds-1``; ``make_pipeline(ClinicalPreprocessor(),
   GraphBoostClassifier(boost_scale="guarded", random_state=seed))`` is fitted on all patients,
   and the script counts the fits whose boosted weight ``boost_scale_`` is 0, with the guard and
   with the training-side choice alone (``boost_scale="auto"``, the former default, whose fit is the
   same up to the guard: its scale is the guard's ``training_scale``).
2. **Real labels.** For each cohort of ``--real-cohorts`` (``pcr`` and ``tnbc`` are the Duke tasks),
   repeated stratified K-fold CV (``--folds`` x ``--repeats``, the same folds for both arms,
   preprocessing inside the folds by ``experiments.make_pipeline("graphboost")`` with the
   cohort's blocks). Both arms come from one fit: the guard only decides, after the boosting,
   between 0 and the training-side scale, which the fit records (``boost_scale_guard_``), so the
   ``"auto"`` model is the same fitted model at that scale (checked on the first fold of each
   cohort against a separate ``boost_scale="auto"`` fit). Per cohort: mean test AUROC of
   each arm, the paired difference with a 95% bootstrap CI over the folds, and how often the guard
   kept the graphs; over the cohorts, the mean difference with a bootstrap CI (folds resampled
   within each cohort). The CPU time of one ``"auto"`` fit and one ``"guarded"`` fit on the first
   fold of each cohort gives the cost of the guard.

Prints a table and, last, one JSON line with every figure.

Run::

    python benchmarks/noise_guard.py                                   # full: 20 seeds, 5 x 2
    python benchmarks/noise_guard.py --seeds 5 --repeats 1 --real-cohorts pima,gbsg   # a quick look
    python benchmarks/noise_guard.py --from-records noise.jsonl,rep0.jsonl,rep1.jsonl  # summarize
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np

NOISE_COHORTS = "pima,gbsg,ad_data"
REAL_COHORTS = "pima,gbsg,ad_data,rotterdam,nwtco,indo_rct,pcr,tnbc"
DUKE_TASKS = ("pcr", "tnbc")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--noise-cohorts", default=NOISE_COHORTS, help="comma-separated; '' skips")
    parser.add_argument("--seeds", type=int, default=20, help="label permutations per cohort")
    parser.add_argument("--first-seed", type=int, default=0, help="seed of the first permutation")
    parser.add_argument("--real-cohorts", default=REAL_COHORTS, help="comma-separated; '' skips")
    parser.add_argument("--folds", type=int, default=5, help="outer stratified folds")
    parser.add_argument("--repeats", type=int, default=2, help="repeats of the outer K-fold")
    parser.add_argument(
        "--first-repeat", type=int, default=0, help="seed of the first repeat's folds"
    )
    parser.add_argument("--bootstrap", type=int, default=2000, help="bootstrap resamples of CIs")
    parser.add_argument("--records", default="", help="JSON-lines file of every fit (optional)")
    parser.add_argument(
        "--from-records",
        default="",
        help="comma-separated --records files of earlier runs: summarize them with the current "
        "guard's decisions, fit nothing (the CPU times are not in the records)",
    )
    return parser.parse_args(argv)


class _Records:
    """Every fit as one JSON line, written as it comes (``--records``; nothing when empty)."""

    def __init__(self, path):
        self.out = open(path, "w") if path else None

    def write(self, record):
        if self.out is not None:
            self.out.write(json.dumps(record) + "\n")
            self.out.flush()


def load(name):
    import features

    if name in DUKE_TASKS:
        return features.load_duke(name)
    return features.load_public_cohort(name)


def guard_record(model):
    """One fitted GraphBoostClassifier's decision: (scale, training-side scale, figures)."""
    figures = model.boost_scale_guard_
    training = model.boost_scale_ if figures is None else figures["training_scale"]
    return model.boost_scale_, training, figures


def run_noise(cohorts, n_seeds, records, first_seed=0):
    from sklearn.pipeline import make_pipeline

    import features
    from graphboost import GraphBoostClassifier

    counts = {}
    for name in cohorts:
        data = load(name)
        y = np.asarray(data.y)
        new_zero = old_zero = 0
        for seed in range(first_seed, first_seed + n_seeds):
            permuted = np.random.default_rng(seed).permutation(y)
            model = GraphBoostClassifier(boost_scale="guarded", random_state=seed)
            pipe = make_pipeline(features.ClinicalPreprocessor(), model)
            pipe.set_output(transform="pandas")
            pipe.fit(data.X, permuted)
            new, old, figures = guard_record(pipe[-1])
            new_zero += new == 0
            old_zero += old == 0
            records.write(
                {
                    "part": "noise",
                    "cohort": name,
                    "seed": seed,
                    "new": new,
                    "old": old,
                    "guard": figures,
                }
            )
            print(
                f"  noise {name} seed {seed}: boost_scale_ {new} (training-side {old})", flush=True
            )
        counts[name] = {"n": n_seeds, "new_zero": int(new_zero), "old_zero": int(old_zero)}
    return counts


def _fit_cpu_seconds(make, X, y):
    start = time.process_time()
    model = make().fit(X, y)
    return time.process_time() - start, model


def run_real(cohorts, n_folds, repeats, records):
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    from experiments import make_pipeline

    folds_by_cohort, timing = {}, {}
    for name in cohorts:
        data = load(name)
        X, y = data.X, np.asarray(data.y)
        rows = []
        for rep in repeats:
            splits = StratifiedKFold(n_folds, shuffle=True, random_state=rep).split(X, y)
            for k, (train, test) in enumerate(splits):

                def make(scale="guarded", rep=rep, groups=data.feature_groups):
                    return make_pipeline("graphboost", {"boost_scale": scale}, groups, rep)

                cpu, pipe = _fit_cpu_seconds(make, X.iloc[train], y[train])
                model = pipe[-1]
                new, old, figures = guard_record(model)
                Xt = pipe[:-1].transform(X.iloc[test])
                auc_new = roc_auc_score(y[test], model.predict_proba(Xt)[:, 1])
                model.boost_scale_ = old
                auc_old = roc_auc_score(y[test], model.predict_proba(Xt)[:, 1])
                model.boost_scale_ = 0.0
                auc_start = roc_auc_score(y[test], model.predict_proba(Xt)[:, 1])
                model.boost_scale_ = new
                if rep == repeats[0] and k == 0:
                    # The default fitted on its own: the same model at the same scale.
                    cpu_old, former = _fit_cpu_seconds(
                        lambda: make("auto"), X.iloc[train], y[train]
                    )
                    auc_former = roc_auc_score(y[test], former.predict_proba(X.iloc[test])[:, 1])
                    assert former[-1].boost_scale_ == old and abs(auc_former - auc_old) < 1e-12
                    timing[name] = {"auto_cpu_s": cpu_old, "guarded_cpu_s": cpu}
                rows.append(
                    {
                        "rep": rep,
                        "fold": k,
                        "old": auc_old,
                        "new": auc_new,
                        "start": auc_start,
                        "scale_old": old,
                        "scale_new": new,
                    }
                )
                records.write({"part": "real", "cohort": name, **rows[-1], "guard": figures})
                print(
                    f"  real {name} {rep}/{k}: AUROC auto {auc_old:.4f} guarded {auc_new:.4f} "
                    f"(scale {old} -> {new}; fit {cpu:.1f} s CPU)",
                    flush=True,
                )
        folds_by_cohort[name] = rows
    return folds_by_cohort, timing


def redecide(record):
    """The record with the current guard's decision, made again from its recorded inner-fold
    AUROCs (the fits do not depend on the rule: it only chooses between 0 and the
    training-side scale); records of earlier rules thus count as the current rule's."""
    from scipy.stats import ttest_1samp

    figures = record["guard"]
    if not figures or "fold_auroc_boosted" not in figures:
        return record  # no positive training-side scale, or the guard could not run: 0 as before
    # The guard's rule (GraphBoostClassifier's boost_scale="guarded"): a one-sided t-test of the
    # inner folds' held-out AUROCs against 0.5 at level 0.01.
    test = ttest_1samp(figures["fold_auroc_boosted"], 0.5, alternative="greater")
    kept = test.pvalue < 0.01
    record = dict(record)
    if record["part"] == "noise":
        record["new"] = record["old"] if kept else 0.0
    else:
        record["scale_new"] = record["scale_old"] if kept else 0.0
        record["new"] = record["old"] if kept else record["start"]
    return record


def from_records(paths):
    """Noise counts and real-label folds of earlier runs, from their ``--records`` files, each
    decision made again by the current rule (:func:`redecide`)."""
    noise, folds = {}, {}
    for path in paths:
        with open(path) as lines:
            for record in map(redecide, map(json.loads, lines)):
                name = record["cohort"]
                if record["part"] == "noise":
                    c = noise.setdefault(name, {"n": 0, "new_zero": 0, "old_zero": 0})
                    c["n"] += 1
                    c["new_zero"] += record["new"] == 0
                    c["old_zero"] += record["old"] == 0
                else:
                    keys = ("rep", "fold", "old", "new", "start", "scale_old", "scale_new")
                    folds.setdefault(name, []).append({k: record[k] for k in keys})
    return noise, folds


def bootstrap_ci(diffs, n_boot, rng):
    """95% percentile CI of the mean of ``diffs`` (folds resampled)."""
    diffs = np.asarray(diffs)
    means = rng.choice(diffs, size=(n_boot, len(diffs)), replace=True).mean(axis=1)
    return [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]


def summarize_real(folds_by_cohort, timing, n_boot):
    rng = np.random.default_rng(0)
    per_cohort = {}
    for name, rows in folds_by_cohort.items():
        old = np.array([r["old"] for r in rows])
        new = np.array([r["new"] for r in rows])
        per_cohort[name] = {
            "old": float(old.mean()),
            "new": float(new.mean()),
            "start": float(np.mean([r["start"] for r in rows])),
            "diff": float((new - old).mean()),
            "diff_ci": bootstrap_ci(new - old, n_boot, rng),
            "kept": int(sum(r["scale_new"] > 0 for r in rows)),
            "old_positive": int(sum(r["scale_old"] > 0 for r in rows)),
            "n_folds": len(rows),
            **timing.get(name, {}),
        }
    names = list(folds_by_cohort)
    diffs = [np.array([r["new"] - r["old"] for r in folds_by_cohort[n]]) for n in names]
    boots = np.mean(
        [rng.choice(d, size=(n_boot, len(d)), replace=True).mean(axis=1) for d in diffs], axis=0
    )
    overall = {
        "old": float(np.mean([per_cohort[n]["old"] for n in names])),
        "new": float(np.mean([per_cohort[n]["new"] for n in names])),
        "diff": float(np.mean([d.mean() for d in diffs])),
        "diff_ci": [float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))],
        "worst_cohort_diff": float(min(d.mean() for d in diffs)),
    }
    ratios = [t["guarded_cpu_s"] / t["auto_cpu_s"] for t in timing.values()]
    overall["fit_cpu_ratio"] = (
        {"median": float(np.median(ratios)), "min": float(min(ratios)), "max": float(max(ratios))}
        if ratios
        else None
    )
    return per_cohort, overall


def print_tables(noise, per_cohort, overall):
    if noise:
        print("\nNoise labels: fits with boost_scale_ == 0")
        print(f"{'cohort':10s} {'guarded (default)':>18s} {'auto':>10s}")
        for name, c in noise.items():
            print(f"{name:10s} {c['new_zero']:>13d} / {c['n']:<2d} {c['old_zero']:>5d} / {c['n']}")
    if per_cohort:
        print("\nReal labels: mean test AUROC over the folds (same folds for both arms)")
        print(
            f"{'cohort':10s} {'auto':>7s} {'guarded':>7s} {'diff':>8s} {'95% CI':>19s} "
            f"{'kept':>6s} {'CPU x':>6s}"
        )
        for name, c in per_cohort.items():
            ratio = c["guarded_cpu_s"] / c["auto_cpu_s"] if "auto_cpu_s" in c else float("nan")
            lo, hi = c["diff_ci"]
            print(
                f"{name:10s} {c['old']:7.4f} {c['new']:7.4f} {c['diff']:+8.4f} "
                f"[{lo:+.4f}, {hi:+.4f}] {c['kept']:>2d}/{c['n_folds']:<3d} {ratio:6.1f}"
            )
        lo, hi = overall["diff_ci"]
        print(
            f"{'mean':10s} {overall['old']:7.4f} {overall['new']:7.4f} {overall['diff']:+8.4f} "
            f"[{lo:+.4f}, {hi:+.4f}]"
        )


def main(argv=None):
    args = parse_args(argv)
    warnings.filterwarnings("ignore")
    records = _Records(args.records)
    noise_cohorts = [c for c in args.noise_cohorts.split(",") if c]
    real_cohorts = [c for c in args.real_cohorts.split(",") if c]
    start = time.time()
    if args.from_records:
        noise, folds = from_records(args.from_records.split(","))
        per_cohort, overall = summarize_real(folds, {}, args.bootstrap) if folds else ({}, {})
    else:
        noise = {}
        if noise_cohorts:
            noise = run_noise(noise_cohorts, args.seeds, records, args.first_seed)
        per_cohort, overall = {}, {}
        if real_cohorts:
            repeats = list(range(args.first_repeat, args.first_repeat + args.repeats))
            folds, timing = run_real(real_cohorts, args.folds, repeats, records)
            per_cohort, overall = summarize_real(folds, timing, args.bootstrap)
    print_tables(noise, per_cohort, overall)
    summary = {
        "noise": noise,
        "real": per_cohort,
        "overall": overall,
        "settings": {**vars(args), "wall_s": round(time.time() - start, 1)},
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
