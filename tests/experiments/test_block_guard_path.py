"""The block guard on the user's path: ``graphboost fit`` guards every feature group by default,
prints which were kept with their inner figures, and the report and model card record them."""

import json

import numpy as np

from experiments import workflows
from experiments.cli import main


def test_fit_prints_and_records_which_groups_were_kept(cohort_csv, tmp_path, capsys):
    out = tmp_path / "model"
    argv = ["fit", "--data", str(cohort_csv), "--label", "y", "--id-column", "pid"]
    argv += ["--group", "lab=x1,x2", "--group", "other=site,grade"]
    argv += ["--param", "n_estimators=5", "--param", 'conv="vote"', "--output", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    clf = workflows.load_model_folder(out).model[-1]
    figures = clf.block_guard_
    assert set(figures) == {"lab", "other"}
    assert figures["lab"]["kept"]  # x1 carries the label
    card = (out / "MODEL_CARD.md").read_text()
    report = (out / "report.md").read_text()
    assert "## Feature groups and blocks: kept or dropped out of fold" in card
    for group, f in figures.items():
        word = "kept" if f["kept"] else "dropped"
        line = f"Block {group}: {word} (inner 5-fold AUROC"
        assert line in printed and line in report
        assert f"| {group} | {'yes' if f['kept'] else 'no'} | " in card
        assert f"gain {f['gain']:+.3f}, SE {f['gain_se']:.3f}" in printed
    assert json.loads((out / "cohort.json").read_text())["params"]["block_guard"] is True


def test_the_guard_can_be_turned_off_and_a_cohort_without_groups_has_none(cohort_csv, tmp_path):
    cohort = workflows.load_cohort(cohort_csv, label="y", id_column="pid")
    fast = {"n_estimators": 5, "conv": "vote", "n_neighbors": 5}
    off = workflows.fit_model_folder(
        cohort, tmp_path / "off", params={**fast, "block_guard": False}, groups={"lab": ["x1"]}
    )
    assert off.model[-1].block_guard_ is None
    plain = workflows.fit_model_folder(cohort, tmp_path / "plain", params=fast)
    assert plain.model[-1].block_guard_ is None
    assert "kept or dropped" not in (tmp_path / "plain" / "MODEL_CARD.md").read_text()


def test_cross_validate_guards_the_groups_inside_each_fold(cohort_csv):
    cohort = workflows.load_cohort(cohort_csv, label="y", id_column="pid")
    fast = {"n_estimators": 5, "conv": "vote", "n_neighbors": 5}
    groups = {"other": ["site", "grade"]}
    guarded = workflows.cross_validate(cohort, params=fast, groups=groups, n_bootstrap=10)
    off = workflows.cross_validate(
        cohort, params={**fast, "block_guard": False}, groups=groups, n_bootstrap=10
    )
    assert np.isfinite(guarded.auroc()) and np.isfinite(off.auroc())
    # logistic regression is not touched by the guard
    assert guarded.auroc("logistic") == off.auroc("logistic")
