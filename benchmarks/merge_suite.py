"""Join the columns of two ``graphboost benchmark --suite`` runs on the same folds, then rank.

The design suite fits every method on the same folds with the same seeds, so a baseline's figures
do not depend on the run; a slow baseline (CatBoost: 140 of the 270 fit-minutes of the 7-method
design suite) need not be refitted when only GraphBoost changed. This script takes the ``suite.csv``
of a new run, adds the named methods' columns from an earlier run, checks that the methods both runs
share agree (within ``--tolerance``), and prints the mean AUROC, the mean ranks, the Friedman test
and the Nemenyi critical difference of the joined table; ``--figure`` draws its critical-difference
diagram. The paired bootstrap CIs stay those of each run (they need the out-of-fold predictions).

Run::

    python benchmarks/merge_suite.py runs/design-new/suite.csv runs/design-old/suite.csv \\
        --add catboost --figure docs/figures/critical_difference.png
"""

from __future__ import annotations

import argparse
import json

import pandas as pd

from experiments import critical_difference, friedman_test

#: Columns of ``suite.csv`` that are not a method's AUROC.
NOT_METHODS = ("n_patients", "n_positive", "best_baseline")


def methods_of(table):
    """The method columns of a ``suite.csv`` table, graphboost last."""
    names = [c for c in table if c not in NOT_METHODS and not c.startswith("delta_")]
    return [c for c in names if c != "graphboost"] + ["graphboost"]


def merge(new, old, added, tolerance):
    """The new run's table with the ``added`` columns of the old one; shared methods checked."""
    shared = [m for m in methods_of(new) if m in old and m != "graphboost"]
    gap = (new[shared] - old.loc[new.index, shared]).abs().to_numpy().max() if shared else 0.0
    if gap > tolerance:
        raise SystemExit(f"the runs disagree on {shared} by up to {gap:.2g}: not the same folds?")
    table = new.copy()
    for method in added:
        table.insert(table.columns.get_loc("graphboost"), method, old.loc[new.index, method])
    return table, shared, gap


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("new", help="suite.csv of the run that changed")
    parser.add_argument("old", help="suite.csv of the earlier run on the same folds")
    parser.add_argument("--add", required=True, help="methods to take from the earlier run")
    parser.add_argument("--tolerance", type=float, default=1e-9)
    parser.add_argument("--figure", default="", help="write the critical-difference diagram here")
    args = parser.parse_args(argv)
    new = pd.read_csv(args.new, index_col="task")
    old = pd.read_csv(args.old, index_col="task")
    table, shared, gap = merge(new, old, args.add.split(","), args.tolerance)
    methods = methods_of(table)
    friedman = friedman_test(table[methods].to_numpy(dtype=float))
    ranks = pd.Series(friedman["mean_ranks"], index=methods)
    cd = critical_difference(len(methods), len(table))
    print(f"shared baselines {shared} agree within {gap:.1g}")
    print(pd.DataFrame({"mean AUROC": table[methods].mean(), "mean rank": ranks}).round(4))
    print(f"Friedman chi2 {friedman['statistic']:.2f}, p {friedman['p_value']:.2g}; CD {cd:.2f}")
    if args.figure:
        _figure(ranks, cd, len(table), args.figure)
    print(json.dumps({"mean_auroc": table[methods].mean().to_dict(), "mean_rank": ranks.to_dict()}))


def _figure(ranks, cd, n_tasks, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from experiments.plots import plot_critical_difference

    title = f"Mean rank over {n_tasks} tasks (Nemenyi, alpha = 0.05)"
    ax = plot_critical_difference(ranks.to_dict(), cd, title=title)
    ax.figure.tight_layout()
    ax.figure.savefig(path, dpi=120)
    plt.close(ax.figure)


if __name__ == "__main__":
    main()
