"""External validation of survival models: fit on rotterdam, validate on gbsg (issue 21, point 6).

A thin wrapper of :func:`experiments.run_external_validation` (``graphboost benchmark --external
rotterdam:gbsg``), whose docstring holds the protocol: Royston and Altman (BMC Med Res Methodol
2013;13:33) as the STRATOS tutorial reproduces it, recurrence-free survival censored at 5 years,
the published Cox models first, then ridge Cox, random survival forest, gradient-boosted Cox and
GraphBoostSurvivalAnalysis on the 8 columns both cohorts share. This script sets
GraphBoostSurvivalAnalysis's parameters from its options, prints the table, and as its last line
one JSON object with every figure.

Run: ``python benchmarks/survival_external.py`` (about two minutes on 2 cores).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _scripts import parse_script_args

from experiments import run_external_validation
from experiments.benchmark import EXTERNAL_METHODS, format_external_table

OPTIONS = {
    "--n-boot": (1000, "bootstrap resamples of the gbsg patients for the CIs"),
    "--seed": (0, "seed of the models' inner folds and of the bootstrap"),
    "--methods": (None, f"comma-separated, of {', '.join(EXTERNAL_METHODS)} (default: six)"),
    "--n-estimators": (100, "rounds of GraphBoostSurvivalAnalysis"),
    "--learning-rate": (0.1, "shrinkage of GraphBoostSurvivalAnalysis"),
    "--n-neighbors": (
        "20,50,100",
        "neighborhood sizes of GraphBoostSurvivalAnalysis, comma-separated",
    ),
    "--boost-scale": ("auto", "'auto' (the out-of-fold guard) or a number"),
    "--interaction-depth": (
        3,
        "depth of each round's leaf graph (the estimator's default; 0: none, the additive model)",
    ),
    "--output": (None, "also write the results folder (external.md, external.json)"),
}


def main(argv=None):
    args = parse_script_args(__doc__, OPTIONS, argv)
    graphboost = {
        "n_estimators": args.n_estimators,
        "learning_rate": args.learning_rate,
        "n_neighbors": tuple(int(k) for k in args.n_neighbors.split(",")),
        "boost_scale": args.boost_scale if args.boost_scale == "auto" else float(args.boost_scale),
        "interaction_depth": args.interaction_depth,
    }
    res = run_external_validation(
        "rotterdam:gbsg",
        args.methods.split(",") if args.methods else None,
        n_bootstrap=args.n_boot,
        params={"graphboost": graphboost},
        random_state=args.seed,
        output=args.output,
    )
    print(format_external_table(res))
    if "graphboost" in res.models:
        model = res.models["graphboost"][-1]
        graphs = sorted({spec.name for spec in model.selected_graphs_ if spec.rule != "leaf"})
        leaves = sum(spec.rule == "leaf" for spec in model.selected_graphs_)
        print(
            f"graphboost: {len(model.estimators_)} rounds, boost_scale {model.boost_scale_}, "
            f"graphs {graphs}, leaf graphs in {leaves} rounds"
        )
    table = res.table.astype(object).where(res.table.notna(), None)
    print(json.dumps(_rounded(table.to_dict(orient="index"))))
    return res


def _rounded(value):
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, float | np.floating):
        return round(float(value), 4)
    return value


if __name__ == "__main__":
    main()
