"""The survival speed benchmark measures what its table says, on a tiny cohort (its figures at
10k-1M patients are in docs/results.md, not in tests)."""

import json

import numpy as np
import pytest
from benchmark_survival import HEADER, format_row, main, run_one, simulated_cohort

pytest.importorskip("sksurv")


def test_simulated_cohort_is_mixed_and_about_half_censored():
    X, event, time = simulated_cohort(4000)
    assert X.shape == (4000, 8)
    assert 0.35 < 1 - event.mean() < 0.6
    assert (time == np.round(time)).all() and (time > 0).all()  # whole days
    assert np.unique(X[:, 3]).tolist() == [2.0, 3.0] and np.unique(X[:, 7]).tolist() == [0.0, 1.0]
    assert np.unique(X[:, 2]).shape[0] < 30  # counts: many ties


@pytest.mark.slow
def test_one_size_reports_both_models_in_the_same_process():
    r = run_one(300, batch=200, n_calls=5)
    assert r["n"] == 300 and 0 < r["events"] < 300
    assert r["fit_s"] > 0 and r["cox_fit_cpu_s"] > 0
    assert r["ratio_cpu"] == pytest.approx(r["fit_cpu_s"] / r["cox_fit_cpu_s"])
    assert r["predict_one_ms"] > 0 and r["predict_batch_s"] > 0
    assert 0.5 < r["c_index"] <= 1 and 0.5 < r["cox_c_index"] <= 1
    assert r["peak_rss_mb"] > 0
    row = format_row(r)
    assert row.count("|") == HEADER.splitlines()[0].count("|")


@pytest.mark.slow
def test_the_table_and_json_come_from_a_child_process(tmp_path, capsys):
    out = tmp_path / "speed.json"
    main(["--sizes", "200", "--batch", "100", "--calls", "3", "--output", str(out)])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("| patients (events)") and lines[2].startswith("| 200 (")
    assert [r["n"] for r in json.loads(out.read_text())] == [200]


@pytest.mark.parametrize("text", ["", "10,abc", "10", "-5000"])
def test_bad_sizes_are_refused_before_anything_runs(text, capsys):
    with pytest.raises(ValueError, match=r"--sizes must be patient counts of at least 50.*got"):
        main(["--sizes", text])
    assert capsys.readouterr().out == ""
