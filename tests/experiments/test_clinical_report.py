import json

import numpy as np
import pandas as pd
import pytest

from experiments import InputError, load_config, run_benchmark
from experiments.clinical._calibration import calibration_summary


def _cfg(path, **extra):
    cfg = {
        "name": "tiny",
        "dataset": {"kind": "csv", "path": str(path), "label": "y", "exclude": ["pid"]},
        "methods": ["logistic", "graphboost"],
        "cv": {"n_splits": 3, "n_repeats": 2},
        "metrics": {"n_bootstrap": 40},
        "params": {"graphboost": {"n_estimators": 5}},
    }
    cfg.update(extra)
    return cfg


@pytest.mark.slow
def test_report_shows_calibration_decision_curve_and_coverage_for_every_method(
    cohort_csv, tmp_path
):
    cfg = _cfg(cohort_csv, calibration={"method": "sigmoid", "inner_splits": 3})
    res = run_benchmark(cfg, output=tmp_path / "run", progress=False)
    out = tmp_path / "run"
    methods = ["logistic", "graphboost", "graphboost+sigmoid"]
    assert list(res.table.method) == methods
    calib = pd.read_csv(out / "calibration.csv")
    assert list(calib.method) == methods
    for name in ("slope", "intercept"):
        assert (calib[f"{name}_low"] <= calib[name]).all()
        assert (calib[name] <= calib[f"{name}_high"]).all()
    # the table is the one calibration_summary gives for the method's out-of-fold risks
    gb = res.methods["graphboost"]
    y = pd.read_csv(cohort_csv).y.to_numpy()  # already 0/1
    expected = calibration_summary(y, gb.probas, 40, random_state=0)
    assert calib.set_index("method").loc["graphboost", "slope"] == pytest.approx(expected["slope"])
    conformal = pd.read_csv(out / "conformal.csv")
    assert list(conformal.method) == methods and (conformal.alpha == 0.1).all()
    assert conformal.coverage.between(0.75, 1).all()
    curve = pd.read_csv(out / "decision_curve.csv")
    assert set(curve.method) == set(methods) and curve.threshold.between(0, 1).all()
    report = (out / "results.md").read_text()
    for heading in ("## Calibration", "## Decision curve", "## Conformal prediction sets"):
        assert heading in report
    assert "graphboost+sigmoid" in report and (out / "decision_curve.png").stat().st_size > 0
    meta = json.loads((out / "run.json").read_text())
    assert meta["config"]["calibration"] == {
        "method": "sigmoid",
        "methods": ["graphboost"],
        "inner_splits": 3,
        "ensemble": True,
    }
    assert {r["method"] for r in meta["clinical"]["conformal"]} == set(methods)


def test_calibration_config_errors_are_named(cohort_csv):
    with pytest.raises(InputError, match=r"calibration method must be one of .*got 'platt'"):
        load_config(_cfg(cohort_csv, calibration={"method": "platt"}))
    with pytest.raises(InputError, match=r"Unknown key\(s\) \['folds'\] in \[calibration\]"):
        load_config(_cfg(cohort_csv, calibration={"method": "sigmoid", "folds": 3}))
    with pytest.raises(InputError, match=r"\[calibration\] methods must name methods of the run"):
        load_config(_cfg(cohort_csv, calibration={"method": "isotonic", "methods": ["xgboost"]}))
    with pytest.raises(InputError, match=r"\[calibration\] inner_splits must be an integer >= 2"):
        load_config(_cfg(cohort_csv, calibration={"method": "sigmoid", "inner_splits": 1}))
    with pytest.raises(InputError, match=r"\[calibration\] ensemble must be true or false"):
        load_config(_cfg(cohort_csv, calibration={"method": "sigmoid", "ensemble": "yes"}))
    bad_alpha = {"n_bootstrap": 10, "conformal_alpha": 1.5}
    with pytest.raises(InputError, match=r"alpha .*must be a number in \(0, 1\).*got 1.5"):
        load_config(_cfg(cohort_csv, metrics=bad_alpha))
    cfg = load_config(_cfg(cohort_csv))
    assert cfg["calibration"] == {} and cfg["metrics"]["conformal_alpha"] == 0.1
    assert load_config(cfg) == cfg  # a checked config checks again unchanged


def test_multiclass_run_reports_coverage_without_binary_only_sections(tmp_path):
    rng = np.random.default_rng(0)
    n = 90
    df = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n)})
    df["y"] = np.digitize(df.x1 + 0.3 * rng.normal(size=n), [-0.5, 0.5])
    df.to_csv(tmp_path / "three.csv", index=False)
    cfg = _cfg(tmp_path / "three.csv", methods=["logistic"], params={})
    cfg["dataset"]["exclude"] = []
    res = run_benchmark(cfg, output=tmp_path / "run", progress=False)
    assert res.clinical.calibration is None and res.clinical.decision == {}
    conformal = pd.read_csv(tmp_path / "run" / "conformal.csv")
    assert {"coverage_0", "coverage_1", "coverage_2"} <= set(conformal.columns)
    assert not (tmp_path / "run" / "calibration.csv").exists()
