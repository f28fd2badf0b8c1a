"""Scaling of GraphBoostClassifier: fit time and peak memory at 1k, 10k and 100k patients.

Synthetic cohorts with 50 numeric columns, the label carried by the neighborhoods of a few of
them. Each size runs in a fresh subprocess so that its peak resident memory (``ru_maxrss``) is
its own; a logistic regression on the same data, fitted in the same subprocess, gives the
baseline for the ratio. Also prints the latency of predicting one new patient, and the time to
predict a batch of new patients (``--batch``).

Run::

    python benchmarks/benchmark_scaling.py               # 1k, 10k, 100k
    python benchmarks/benchmark_scaling.py --sizes 1000  # one size
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from _scripts import parse_script_args


def _cohort(n, n_features, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features))
    score = np.sin(2.5 * X[:, 0]) + 0.5 * np.cos(3 * X[:, 1]) + 0.3 * X[:, 2]
    y = (score + 0.5 * rng.normal(size=n) > 0).astype(int)
    return X, y


def run_one(n, n_features, n_estimators, conv, batch=100_000):
    """Fit and time one size; returns a dict (runs inside the subprocess)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    from graphboost import GraphBoostClassifier

    X, y = _cohort(n + 1000, n_features)
    X_test, y_test = X[n:], y[n:]
    X, y = X[:n], y[:n]
    start = time.perf_counter()
    LogisticRegression(max_iter=1000).fit(X, y)
    lr_time = time.perf_counter() - start
    clf = GraphBoostClassifier(n_estimators=n_estimators, conv=conv, random_state=0)
    start = time.perf_counter()
    clf.fit(X, y)
    fit_time = time.perf_counter() - start
    auc = roc_auc_score(y_test, clf.predict_proba(X_test)[:, 1])
    clf.predict_proba(X_test[:1])  # warm-up
    latencies = []
    for i in range(20):
        start = time.perf_counter()
        clf.predict_proba(X_test[i : i + 1])
        latencies.append(time.perf_counter() - start)
    X_batch = _cohort(batch, n_features, seed=1)[0]
    start = time.perf_counter()
    clf.predict_proba(X_batch)
    batch_time = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "n": n,
        "fit_s": fit_time,
        "lr_fit_s": lr_time,
        "rounds": len(clf.estimators_),
        "test_auroc": float(auc),
        "predict_one_ms": 1000 * float(np.median(latencies)),
        "batch": batch,
        "predict_batch_s": batch_time,
        "peak_rss_mb": peak_mb,
    }


OPTIONS = {
    "--sizes": ("1000,10000,100000", "numbers of training patients, comma-separated"),
    "--n-features": (50, "numeric columns"),
    "--n-estimators": (10, "most boosting rounds"),
    "--conv": ("vote", "weak learner of GraphBoostClassifier"),
    "--batch": (100_000, "new patients predicted at once"),
    "--child": (0, argparse.SUPPRESS),  # the size a child process measures
}


def _measure_in_child(n, args):
    """Run one size in a fresh interpreter, so that its peak memory is its own."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", str(n)]
    for flag in ("--n-features", "--n-estimators", "--conv", "--batch"):
        command += [flag, str(getattr(args, flag[2:].replace("-", "_")))]
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    """Print the scaling table (or, with the hidden ``--child``, one size as JSON)."""
    args = parse_script_args(__doc__, OPTIONS, argv)
    if args.child:
        result = run_one(args.child, args.n_features, args.n_estimators, args.conv, args.batch)
        print(json.dumps(result))
        return
    print(f"{args.n_features} features, {args.n_estimators} rounds, conv={args.conv!r}")
    print(
        "| patients | fit (s) | LR fit (s) | ratio | rounds | test AUROC | predict 1 (ms) "
        f"| predict {args.batch:,} (s) | peak RSS (MB) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for n in (int(s) for s in args.sizes.split(",")):
        r = _measure_in_child(n, args)
        print(
            f"| {r['n']:,} | {r['fit_s']:.1f} | {r['lr_fit_s']:.2f} | "
            f"{r['fit_s'] / r['lr_fit_s']:.0f}x | {r['rounds']} | {r['test_auroc']:.3f} | "
            f"{r['predict_one_ms']:.1f} | {r['predict_batch_s']:.1f} | {r['peak_rss_mb']:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
