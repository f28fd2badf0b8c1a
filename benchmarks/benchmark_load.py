"""Load: many patients in one call against one patient per call, same probabilities, memory.

A ``features.ClinicalPreprocessor`` + ``GraphBoostClassifier`` pipeline is fitted on a synthetic
clinical table (numeric, categorical and binary columns, missing values). Then, each in a fresh
subprocess so that its peak resident memory (``ru_maxrss``) is its own: the new patients predicted
in one call (for each size of ``--batches``), and the first ``--singles`` of them one call each.
Prints the throughput and peak memory of each, and whether the probabilities of the single calls
equal those of the batch (exactly, and the largest difference).

Run::

    python benchmarks/benchmark_load.py                          # 100,000 vs 10,000 x 1
    python benchmarks/benchmark_load.py --batches 1000,10000 --singles 500   # a quick look
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _scripts import parse_script_args

OPTIONS = {
    "--train": (2000, "training patients"),
    "--batches": ("10000,100000", "patients predicted in one call, comma-separated sizes"),
    "--singles": (10_000, "patients predicted one call each (the first of the batch)"),
    "--n-estimators": (20, "boosting rounds"),
    "--child": ("", argparse.SUPPRESS),  # "<batch or single>:<n>:<of n new patients>:<file>"
}


def _patients(n, seed):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    table = pd.DataFrame(
        {
            "age": rng.normal(60, 10, n).round(),
            "bmi": rng.normal(27, 4, n).round(1),
            "crp": rng.lognormal(1, 1, n),
            "lab": rng.normal(size=n),
            "site": rng.choice(["a", "b", "c", "d"], n),
            "smoker": rng.integers(0, 2, n),
        }
    )
    table.loc[rng.random(n) < 0.1, "crp"] = np.nan
    table.loc[rng.random(n) < 0.05, "site"] = None
    score = table.lab + 0.04 * (table.age - 60) + 0.3 * (table.site == "a")
    return table, (score + rng.normal(size=n) > 0).astype(int).to_numpy()


def _model(n_train, n_estimators):
    from sklearn.pipeline import make_pipeline

    from features import ClinicalPreprocessor
    from graphboost import GraphBoostClassifier

    X, y = _patients(n_train, seed=0)
    clf = GraphBoostClassifier(n_estimators=n_estimators, device="cpu", random_state=0)
    return make_pipeline(ClinicalPreprocessor(), clf).set_output(transform="pandas").fit(X, y)


def run_child(spec, args):
    """In a fresh process: fit, predict one way, save the probabilities; return the timings."""
    import numpy as np

    mode, n, pool, out = spec.split(":", 3)
    n = int(n)
    model = _model(args.train, args.n_estimators)
    new = _patients(int(pool), seed=1)[0].iloc[:n]  # the same new patients in every child
    model.predict_proba(new.iloc[:2])  # warm-up
    start = time.perf_counter()
    if mode == "batch":
        proba = model.predict_proba(new)
    else:
        proba = np.vstack([model.predict_proba(new.iloc[[i]]) for i in range(n)])
    seconds = time.perf_counter() - start
    np.save(out, proba)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"mode": mode, "n": n, "seconds": seconds, "peak_rss_mb": peak_mb}


def _in_child(spec, args):
    command = [sys.executable, str(Path(__file__).resolve()), "--child", spec]
    for flag in ("--train", "--n-estimators"):
        command += [flag, str(getattr(args, flag[2:].replace("-", "_")))]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    """Print the throughputs, the peak memory and the agreement of the two ways."""
    args = parse_script_args(__doc__, OPTIONS, argv)
    if args.child:
        print(json.dumps(run_child(args.child, args)))
        return
    import numpy as np

    sizes = [int(s) for s in args.batches.split(",")]
    print(f"{args.train:,} training patients, {args.n_estimators} rounds; fresh process per row")
    print("| predicted | calls | patients/s | peak RSS (MB) |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        pool = max([*sizes, args.singles])
        runs = [(f"batch:{n}:{pool}:{Path(tmp) / f'b{n}.npy'}", f"1 x {n:,}") for n in sizes]
        single = f"single:{args.singles}:{pool}:{Path(tmp) / 's.npy'}"
        runs.append((single, f"{args.singles:,} x 1"))
        for spec, calls in runs:
            r = _in_child(spec, args)
            rate = r["n"] / r["seconds"]
            print(f"| {r['n']:,} | {calls} | {rate:,.0f} | {r['peak_rss_mb']:.0f} |", flush=True)
        batch = np.load(Path(tmp) / f"b{max(sizes)}.npy")
        singles = np.load(Path(tmp) / "s.npy")
    n = min(len(batch), len(singles))
    batch, singles = batch[:n], singles[:n]
    diff = float(np.abs(batch - singles).max())
    print(
        f"{n:,} single calls against the same patients in the batch of {max(sizes):,}: identical "
        f"{bool(np.array_equal(batch, singles))}, largest difference {diff:.2g}."
    )


if __name__ == "__main__":
    main()
