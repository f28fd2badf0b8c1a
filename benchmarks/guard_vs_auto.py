"""The design suite's GraphBoost with the guarded default against the former ``boost_scale="auto"``
(issue 19), on the same folds as ``graphboost benchmark --suite design`` and with its figures
(mean over repeats of the pooled out-of-fold AUROC), logistic regression beside them.

Run::

    python benchmarks/guard_vs_auto.py --tasks indo_rct,duke-pcr
"""

from __future__ import annotations

import argparse
import json

from experiments import run_suite


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", required=True, help="design-suite tasks, comma-separated")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args(argv)
    tasks = args.tasks.split(",")
    out = {}
    for scale in ("auto", "guarded"):
        res = run_suite(
            tasks=tasks,
            methods=["logistic", "graphboost"],
            n_repeats=args.repeats,
            n_jobs=args.n_jobs,
            params={"graphboost": {"boost_scale": scale}},
        )
        out[scale] = res.table[["logistic", "graphboost"]].round(4).to_dict()
        print(scale, out[scale], flush=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
