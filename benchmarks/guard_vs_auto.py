"""The design suite's GraphBoost with the guarded default against the former ``boost_scale="auto"``
(issue 19), on the same folds as ``graphboost benchmark --suite design`` and with its figures
(mean over repeats of the pooled out-of-fold AUROC), logistic regression beside them.

Run::

    python benchmarks/guard_vs_auto.py --tasks indo_rct,duke-pcr
"""

from __future__ import annotations

import json

from _scripts import parse_script_args

from experiments import run_suite

OPTIONS = {
    "--tasks": ("indo_rct,duke-pcr", "design-suite tasks, comma-separated"),
    "--repeats": (5, "repeats of the suite's 5-fold CV (its folds: seed 0)"),
    "--n-jobs": (2, "folds fitted at once"),
}


def main(argv=None):
    args = parse_script_args(__doc__, OPTIONS, argv)
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
