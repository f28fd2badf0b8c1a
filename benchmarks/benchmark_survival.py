"""Speed and memory of GraphBoostSurvivalAnalysis at 10k, 100k and 1M patients, beside Cox.

A simulated breast-cancer cohort with rotterdam's eight kinds of columns (age, tumour size,
positive nodes, grade, menopause, PGR, ER, hormonal therapy: continuous, counts with many ties
and 0/1 columns), times in whole days from a Weibull model whose log hazard is non-linear in age
and in the log of size, nodes and PGR, about half the patients censored (loss to follow-up and
administrative censoring at 10 years). Each size runs in a fresh subprocess, so that its peak
resident memory is its own. In that process GraphBoostSurvivalAnalysis (defaults: its ridge Cox
start with the penalty by inner cross-validation and the guard's inner folds included) and
scikit-survival's ``CoxPHSurvivalAnalysis`` are fitted on the same patients; the table gives
both fit times (wall clock and the process's CPU time, the better measure on a shared machine)
and their ratio, the memory the fit added per patient, the latency of one new patient (median
of many single-row ``predict`` calls) and the time to predict a batch, and Harrell's C of both
on 5,000 new patients.

Run::

    python benchmarks/benchmark_survival.py                       # 10k, 100k, 1M
    python benchmarks/benchmark_survival.py --sizes 10000 --repeats 3
    python benchmarks/benchmark_survival.py --output survival_speed.json
    python benchmarks/benchmark_survival.py --sizes 10000,100000 --interaction-depth 0   # additive
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _scripts import parse_script_args

N_TEST = 5_000


def simulated_cohort(n, seed=0):
    """``X`` (n, 8), ``event`` (bool) and ``time`` (whole days) of a simulated cohort."""
    import numpy as np

    rng = np.random.default_rng(seed)
    age = rng.normal(55, 12, n).clip(20, 95)
    size = rng.lognormal(3.0, 0.5, n)
    nodes = rng.poisson(np.where(rng.random(n) < 0.5, 0.2, 4.0)).astype(float)
    grade = (rng.random(n) < 0.7) + 2.0
    meno = (age + rng.normal(0, 5, n) > 50).astype(float)
    pgr = np.round(rng.lognormal(3.5, 1.6, n))
    er = np.round(rng.lognormal(3.8, 1.5, n))
    hormon = (rng.random(n) < 0.2).astype(float)
    X = np.column_stack([age, size, nodes, grade, meno, pgr, er, hormon])
    log_hazard = (
        0.5 * ((age - 55) / 12) ** 2
        + 0.5 * np.log1p(size / 20)
        + 0.5 * np.log1p(nodes)
        + 0.4 * (grade - 2)
        - 0.1 * np.log1p(pgr)
        - 0.3 * hormon
    )
    t = 4000 * rng.weibull(1.2, n) * np.exp(-(log_hazard - 0.9) / 1.2)
    censor = np.minimum(rng.uniform(365, 7300, n), 3650)
    return X, t <= censor, np.ceil(np.minimum(t, censor))


def _rss_mb():
    """Resident memory of this process now, in MB (Linux)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


def _peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(fit):
    wall, cpu = time.perf_counter(), time.process_time()
    fit()
    return time.perf_counter() - wall, time.process_time() - cpu


def _latency_ms(predict, X, n_calls):
    predict(X[:1])  # warm-up: the first prediction builds the stacked rounds
    times = []
    for i in range(n_calls):
        row = X[i % X.shape[0] : i % X.shape[0] + 1]
        start = time.perf_counter()
        predict(row)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def run_one(n, repeats=1, batch=10_000, n_calls=200, seed=0, interaction_depth=3):
    """Measure one size (inside the subprocess); returns a dict."""
    from sksurv.linear_model import CoxPHSurvivalAnalysis
    from sksurv.metrics import concordance_index_censored
    from sksurv.util import Surv

    from graphboost import GraphBoostSurvivalAnalysis

    X, event, days = simulated_cohort(n + N_TEST, seed)
    y = Surv.from_arrays(event[:n], days[:n])
    X_train, X_test = X[:n], X[n:]
    X_batch = simulated_cohort(batch, seed + 1)[0]
    rss_before = _rss_mb()
    gb_times = []
    for _ in range(repeats):
        model = GraphBoostSurvivalAnalysis(random_state=0, interaction_depth=interaction_depth)
        gb_times.append(_timed(lambda m=model: m.fit(X_train, y)))
    gb_peak = _peak_mb()
    gb_one = _latency_ms(model.predict, X_test, n_calls)
    gb_batch = _timed(lambda: model.predict(X_batch))[0]
    cox_times = []
    for _ in range(repeats):
        cox = CoxPHSurvivalAnalysis()
        cox_times.append(_timed(lambda c=cox: c.fit(X_train, y)))
    cox_one = _latency_ms(cox.predict, X_test, n_calls)

    def c_index(scores):
        return float(concordance_index_censored(event[n:], days[n:], scores)[0])

    gb_wall, gb_cpu = (statistics.median(t) for t in zip(*gb_times, strict=True))
    cox_wall, cox_cpu = (statistics.median(t) for t in zip(*cox_times, strict=True))
    return {
        "n": n,
        "events": int(event[:n].sum()),
        "repeats": repeats,
        "fit_s": gb_wall,
        "fit_cpu_s": gb_cpu,
        "cox_fit_s": cox_wall,
        "cox_fit_cpu_s": cox_cpu,
        "ratio_cpu": gb_cpu / cox_cpu,
        "boost_scale": float(model.boost_scale_),
        "rounds": len(model.estimators_),
        "interaction_depth": interaction_depth,
        "fit_added_mb": gb_peak - rss_before,
        "bytes_per_patient": (gb_peak - rss_before) * 2**20 / n,
        "peak_rss_mb": gb_peak,
        "predict_one_ms": gb_one,
        "cox_predict_one_ms": cox_one,
        "batch": batch,
        "predict_batch_s": gb_batch,
        "c_index": c_index(model.predict(X_test)),
        "cox_c_index": c_index(cox.predict(X_test)),
    }


OPTIONS = {
    "--sizes": ("10000,100000,1000000", "numbers of training patients, comma-separated"),
    "--repeats": (1, "fits per size (the median time is reported)"),
    "--batch": (10_000, "new patients predicted at once"),
    "--calls": (200, "single-patient predictions timed (their median is reported)"),
    "--output": (None, "also write the results to this JSON file"),
    "--interaction-depth": (
        3,
        "GraphBoostSurvivalAnalysis's interaction_depth (its default; 0: the additive model)",
    ),
    "--child": (0, argparse.SUPPRESS),  # the size a child process measures
}


def _sizes(text):
    sizes = [s.strip() for s in str(text).split(",") if s.strip()]
    if not sizes or not all(s.isdigit() and int(s) >= 50 for s in sizes):
        raise ValueError(
            f"--sizes must be patient counts of at least 50, comma-separated; got {text!r}."
        )
    return [int(s) for s in sizes]


def _measure_in_child(n, args):
    """Run one size in a fresh interpreter, so that its peak memory is its own."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", str(n)]
    for flag in ("--repeats", "--batch", "--calls", "--interaction-depth"):
        command += [flag, str(getattr(args, flag[2:].replace("-", "_")))]
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


HEADER = (
    "| patients (events) | fit (s) | fit CPU (s) | Cox fit CPU (s) | CPU ratio | added memory "
    "(MB) | bytes / patient | predict 1 (ms) | Cox predict 1 (ms) | predict {batch:,} (s) "
    "| C | Cox C |\n|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def format_row(r):
    """One Markdown row of :data:`HEADER` from a result of :func:`run_one`."""
    return (
        f"| {r['n']:,} ({r['events']:,}) | {r['fit_s']:.1f} | {r['fit_cpu_s']:.1f} | "
        f"{r['cox_fit_cpu_s']:.2f} | {r['ratio_cpu']:.0f}x | {r['fit_added_mb']:,.0f} | "
        f"{r['bytes_per_patient']:,.0f} | {r['predict_one_ms']:.2f} | "
        f"{r['cox_predict_one_ms']:.2f} | {r['predict_batch_s']:.2f} | {r['c_index']:.3f} | "
        f"{r['cox_c_index']:.3f} |"
    )


def main(argv=None):
    """Print the table (or, with the hidden ``--child``, one size as JSON)."""
    args = parse_script_args(__doc__, OPTIONS, argv)
    if args.child:
        result = run_one(
            args.child,
            args.repeats,
            args.batch,
            args.calls,
            interaction_depth=args.interaction_depth,
        )
        print(json.dumps(result))
        return
    sizes = _sizes(args.sizes)
    print(HEADER.format(batch=args.batch), flush=True)
    results = []
    for n in sizes:
        results.append(_measure_in_child(n, args))
        print(format_row(results[-1]), flush=True)
        if args.output:
            Path(args.output).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
