"""Leaf graphs against the additive GraphBoostSurvivalAnalysis, by internal CV (issue 21).

``interaction_depth=d`` lets each boosting round take a leaf graph (patients sharing a leaf of a
depth-``d`` tree fitted to the round's gradient on half the patients, judged on the other half);
0 is the additive model. For each depth of ``--depths`` this script runs
:func:`experiments.run_survival_suite` with ``graphboost`` at that depth on the same folds
(repeated K-fold stratified on the event, seed 0, larger tasks subsampled to
``--max-patients`` as the suite's table in the docs), and the ridge Cox once on those folds.
Besides the suite's tasks, ``rotterdam-dev`` is the development cohort of the external
validation (rotterdam, the 8 columns shared with gbsg, recurrence-free survival censored at 5
years, :func:`experiments.benchmark.external_cohorts`, preprocessed as there): its internal CV
is where a design for the external validation is chosen; gbsg, the validation cohort, never
enters this script.

Per task: Harrell's C of each arm (the mean over repeats of the pooled out-of-fold C, as the
suite reports it, and the mean of the per-fold C), each depth minus depth 0; the CPU seconds
of each arm (printed) and the wall seconds of its fits; last line, one JSON object with every
figure.

Run::

    python benchmarks/survival_interactions.py                              # 5 x 2, depths 0, 3
    python benchmarks/survival_interactions.py --tasks rotterdam-dev --depths 0,2,3
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _scripts import parse_script_args

from experiments import run_survival_suite
from experiments.benchmark import external_cohorts
from features import Task

DEV_TASK = "rotterdam-dev"
TASKS = f"rotterdam,gbsg,whas500,veterans_lung_cancer,aids,{DEV_TASK}"

OPTIONS = {
    "--tasks": (TASKS, f"comma-separated suite tasks, and {DEV_TASK}"),
    "--depths": ("0,3", "interaction_depth of each arm, comma-separated (0: additive)"),
    "--folds": (5, "folds of the repeated K-fold"),
    "--repeats": (2, "repeats of the K-fold"),
    "--max-patients": (1000, "larger tasks are subsampled (stratified on the event, seed 0)"),
    "--no-ridge": (False, "skip the ridge Cox arm"),
}


def development_task():
    """The external validation's development cohort as a suite task (8 shared columns, all
    numeric, censored at 5 years)."""
    dev, _ = external_cohorts("rotterdam:gbsg")
    return Task(
        DEV_TASK,
        dev.X,
        dev.y,
        patient_ids=pd.Series(dev.X.index, index=dev.X.index),
        description="rotterdam, 8 columns shared with gbsg, censored at 5 years",
        preprocessor_params={"numeric": list(dev.X.columns)},
    )


def run_arm(tasks, methods, depth, args):
    """Pooled and fold-mean C, and CPU seconds, of ``methods`` on every task."""
    datasets = {DEV_TASK: development_task()} if DEV_TASK in tasks else None
    t0 = time.process_time()
    res = run_survival_suite(
        tasks,
        methods,
        n_splits=args.folds,
        n_repeats=args.repeats,
        n_bootstrap=0,
        params={"graphboost": {"interaction_depth": depth}},
        max_patients=args.max_patients,
        datasets=datasets,
    )
    folds = res.fold_scores.groupby(["task", "method"])
    out = {}
    for method in methods:
        for task in tasks:
            seconds = folds.get_group((task, method))["fit_seconds"].sum()
            out[(task, method)] = {
                "pooled": float(res.table.loc[task, method]),
                "fold_mean": float(folds.get_group((task, method))["harrell_c"].mean()),
                "fit_wall_seconds": float(seconds),
            }
    cpu = time.process_time() - t0
    print(f"  arm depth={depth} {methods}: {cpu:.0f} s CPU", flush=True)
    return out


def main(argv=None):
    args = parse_script_args(__doc__, OPTIONS, argv)
    tasks = args.tasks.split(",")
    depths = [int(d) for d in args.depths.split(",")]
    figures = {}
    if not args.no_ridge:
        for (task, _), value in run_arm(tasks, ["ridge_cox"], 0, args).items():
            figures.setdefault(task, {})["ridge_cox"] = value
    for depth in depths:
        for (task, _), value in run_arm(tasks, ["graphboost"], depth, args).items():
            figures.setdefault(task, {})[f"depth={depth}"] = value
    print(format_table(figures, depths))
    print(json.dumps(_rounded(figures)))
    return figures


def format_table(figures, depths):
    """A Markdown table: per task the pooled (fold-mean) C of each arm and each depth's
    difference to the first depth, then the mean over tasks."""
    arms = [a for a in ("ridge_cox",) if any(a in row for row in figures.values())]
    arms += [f"depth={d}" for d in depths]
    head = ["task", *arms, *(f"depth={d} - depth={depths[0]}" for d in depths[1:])]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    rows = {**figures, "mean": _mean_row(figures, arms)}
    for task, row in rows.items():
        cells = [f"{row[a]['pooled']:.4f} ({row[a]['fold_mean']:.4f})" for a in arms]
        base = row[f"depth={depths[0]}"]
        for d in depths[1:]:
            arm = row[f"depth={d}"]
            pooled, fold_mean = (arm[k] - base[k] for k in ("pooled", "fold_mean"))
            cells.append(f"{pooled:+.4f} ({fold_mean:+.4f})")
        lines.append("| " + " | ".join([task, *cells]) + " |")
    return "\n".join(lines)


def _mean_row(figures, arms):
    return {
        a: {
            key: float(np.mean([row[a][key] for row in figures.values()]))
            for key in ("pooled", "fold_mean")
        }
        for a in arms
    }


def _rounded(value):
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, float | np.floating):
        return round(float(value), 5)
    return value


if __name__ == "__main__":
    main()
