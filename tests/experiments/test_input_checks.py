"""Issue 20: inputs whose meaning is ambiguous get an error with the remedy, never a guess.

Items 3 (labels that differ only in case or spaces), 9 (a label column that is an ID or a
measurement), 24 (a class too small for the model, in plain words), 14 (a repeated group name)
and 15 (a group pattern that matches nothing). No message shows a patient's ID or values.
"""

import numpy as np
import pytest

from experiments import InputError, workflows
from experiments.cli import main
from experiments.evaluation._dataset import check_class_sizes, check_labels, resolve_groups

FAST = {"n_estimators": 3, "conv": "vote", "n_neighbors": 5}


def _cli(capsys, argv):
    code = main(argv)
    return code, capsys.readouterr().err.strip()


def _fit_argv(csv, tmp_path, *extra, label="y"):
    head = ["fit", "--data", str(csv), "--label", label, "--id-column", "pid"]
    return [*head, *extra, "--param", "n_estimators=3", "--output", str(tmp_path / "m")]


# ----------------------------------------------------------------- 3: Yes / yes / no
def test_labels_differing_only_in_case_or_spaces_are_refused(cohort_df, tmp_path, capsys):
    words = np.where(cohort_df.y == 1, "no", "Yes").astype(object)
    words[:5] = "yes"
    words[5] = " Yes "
    cohort_df.assign(y=words).to_csv(tmp_path / "c.csv", index=False)
    code, err = _cli(capsys, _fit_argv(tmp_path / "c.csv", tmp_path))
    assert code == 2 and err.startswith("graphboost: error: Label column 'y' has values")
    assert "differ only in case or surrounding spaces" in err
    assert "' Yes ': 1 patient" in err and "'yes': 5 patients" in err
    assert "Write each class one way" in err and "P0" not in err  # counts, never IDs
    assert not (tmp_path / "m").exists()


def test_check_labels_refuses_case_variants():
    with pytest.raises(InputError, match=r"'No': 2 patients, 'no': 2 patients"):
        check_labels(["No", "No", "no", "no", "yes", "yes"], 2)
    check_labels(["no", "no", "yes", "yes"], 2)  # one spelling each: fine


# ----------------------------------------------------------------- 9: the ID or age as label
@pytest.mark.parametrize("label", ["pid", "age"])
def test_an_id_or_a_measurement_as_label_is_refused_without_values(
    label, cohort_df, tmp_path, capsys
):
    cohort_df.to_csv(tmp_path / "c.csv", index=False)
    code, err = _cli(capsys, _fit_argv(tmp_path / "c.csv", tmp_path, label=label))
    n = cohort_df[label].nunique()
    assert code == 2, err
    assert f"Label column '{label}' has {n} distinct" in err and "is it the right column?" in err
    assert "fold cross-validation" not in err  # no cross-validation was asked for
    assert "P00" not in err and str(cohort_df.age.iloc[0]) not in err  # no ID, no value
    assert not (tmp_path / "m").exists()


def test_label_threshold_is_max_20_or_half_the_patients():
    text = np.array([f"c{i % 21}" for i in range(42)])  # 21 classes of 2 patients
    check_labels(text, 2)  # not more than half the patients: a (rare-class) label
    with pytest.raises(InputError, match="has 22 distinct values among 42 patients"):
        check_labels(np.array([f"c{i % 22}" for i in range(42)]), 0)
    with pytest.raises(InputError, match="has 21 distinct numeric values"):
        check_labels(np.arange(420) % 21, 0)  # a numeric label: over 20 values is a measurement
    check_labels(np.arange(420) % 20, 0)


# ----------------------------------------------------------------- 24: a tiny class, no --cv
@pytest.mark.parametrize("size", [1, 2])
def test_a_tiny_class_without_cv_is_named_in_plain_words(size, cohort_df, tmp_path, capsys):
    cohort_df.loc[cohort_df.index[:size], "y"] = 2
    cohort_df.to_csv(tmp_path / "c.csv", index=False)
    code, err = _cli(capsys, _fit_argv(tmp_path / "c.csv", tmp_path))
    patients = "1 patient;" if size == 1 else "2 patients;"
    assert code == 2 and f"Label column 'y': class '2' has {patients}" in err
    assert "linear start (init='logistic')" in err and "at least 3 in each class" in err
    assert "2-fold" not in err and "np.int64" not in err
    assert "--param init=null" in err
    assert not (tmp_path / "m").exists()


def test_the_class_prior_start_fits_a_tiny_class(cohort_df, tmp_path):
    cohort_df.loc[cohort_df.index[:1], "y"] = 2
    cohort_df.to_csv(tmp_path / "c.csv", index=False)
    cohort = workflows.load_cohort(tmp_path / "c.csv", label="y", id_column="pid")
    fit = workflows.fit_model_folder(cohort, tmp_path / "m", params={**FAST, "init": None})
    assert fit.classes == ["0", "1", "2"]


def test_class_sizes_count_what_each_fold_and_copy_sees():
    y = ["a"] * 30 + ["b"] * 3
    check_class_sizes(y)
    with pytest.raises(InputError, match=r"class 'b' has 3 patients \(2 in a training fold of"):
        check_class_sizes(y, cv=3)
    with pytest.raises(InputError, match="early stopping holds out a validation split"):
        check_class_sizes(["a"] * 30 + ["b"], {"init": None, "early_stopping": True})
    with pytest.raises(InputError, match=r"recalibration fits on 10 inner folds"):
        check_class_sizes(["a"] * 30 + ["b"] * 12, cv=5, inner_splits=10)
    check_class_sizes(["a"] * 30 + ["b"] * 30, cv=5, inner_splits=10)


def test_cross_validate_refuses_a_class_too_small_for_its_folds(cohort_df, tmp_path):
    cohort_df.loc[cohort_df.index[:3], "y"] = 2
    cohort_df.to_csv(tmp_path / "c.csv", index=False)
    cohort = workflows.load_cohort(tmp_path / "c.csv", label="y", id_column="pid")
    with pytest.raises(InputError, match=r"class '2' has 3 patients \(2 in a training fold"):
        workflows.cross_validate(cohort, params=FAST, n_splits=3)


# ----------------------------------------------------------------- 14: a repeated group name
def test_a_repeated_group_name_is_refused(cohort_csv, tmp_path, capsys):
    argv = _fit_argv(cohort_csv, tmp_path, "--group", "g1=age,x1", "--group", "g1=x2")
    code, err = _cli(capsys, argv)
    assert code == 2 and "--group 'g1' is given twice" in err
    assert not (tmp_path / "m").exists()
    code, err = _cli(capsys, _fit_argv(cohort_csv, tmp_path, "--group", "lab="))
    assert code == 2 and "expected NAME=COL1,COL2,... got 'lab='" in err


def test_a_group_named_like_a_block_is_refused(cohort_df):
    from experiments.evaluation._dataset import dataset_from_cohort, read_cohort

    emb = cohort_df[["pid"]].assign(e0=1.0, e1=2.0).set_index("pid")
    cohort = read_cohort(cohort_df, label="y", id_column="pid", blocks={"mri": emb})
    with pytest.raises(InputError, match="Group 'mri' has the name of one of the cohort's"):
        dataset_from_cohort(cohort, "c", {"mri": ["age"]})


# ----------------------------------------------------------------- 15: a pattern matching nothing
def test_a_group_pattern_matching_no_column_is_named(cohort_csv, tmp_path, capsys):
    code, err = _cli(capsys, _fit_argv(cohort_csv, tmp_path, "--group", "lab=nonexistent_*"))
    assert code == 2 and "Group 'lab': pattern 'nonexistent_*' matches no column." in err
    assert "[]" not in err


def test_patterns_expand_beside_names():
    cols = ["age", "crp_a", "crp_b", "wbc"]
    assert resolve_groups({"lab": ["crp_*", "wbc"]}, cols) == {"lab": ["crp_a", "crp_b", "wbc"]}
    with pytest.raises(InputError, match=r"names columns that are not features: \['x'\]"):
        resolve_groups({"lab": ["crp_*", "x"]}, cols)
    with pytest.raises(InputError, match="Group 'lab' names no column"):
        resolve_groups({"lab": []}, cols)
