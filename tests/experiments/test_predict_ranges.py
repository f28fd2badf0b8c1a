"""Issue 20 on the command line: decimal commas (4), dates (12), duplicate column names (13)
refused with the remedy; an empty column (11) and values outside the training range (5) flagged
at predict, with a note naming columns and counts, never a patient's ID or value."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from experiments.cli import main
from experiments.clinical._typicality import MISSING_COLUMNS, OUTSIDE_RANGE, input_flags

FIT = ["--label", "y", "--id-column", "pid", "--param", "n_estimators=3"]


@pytest.fixture(scope="module")
def model_dir(cohort_csv, tmp_path_factory):
    out = tmp_path_factory.mktemp("ranges") / "model"
    assert main(["fit", "--data", str(cohort_csv), *FIT, "--cv", "3", "--output", str(out)]) == 0
    return out


def _predict(model_dir, table, tmp_path, capsys, *extra):
    data, out = tmp_path / "new.csv", tmp_path / "pred.csv"
    table.drop(columns="y").to_csv(data, index=False)
    capsys.readouterr()
    args = ["--model", str(model_dir), "--data", str(data), "--output", str(out), "--overwrite"]
    code = main(["predict", *args, *extra])
    assert code == 0
    return pd.read_csv(out), capsys.readouterr().err


def test_values_outside_the_training_range_are_flagged(model_dir, cohort_df, tmp_path, capsys):
    new = cohort_df.head(10).copy()
    new.loc[:3, "age"] = new.loc[:3, "age"] * 365.25  # age in days, for 4 patients
    pred, err = _predict(model_dir, new, tmp_path, capsys, "--typicality", "--alpha", "0.1")
    assert pred[OUTSIDE_RANGE].tolist() == [1] * 4 + [0] * 6
    assert pred["unlike_training"][:4].all()
    assert "4 patient(s) have values outside the training range" in err
    assert "'age' (4 patients)" in err and "check the units" in err
    assert not any(str(v) in err for v in new["age"]) and "P00" not in err
    # patients like the training ones: no column, no note
    pred, err = _predict(model_dir, cohort_df.head(10), tmp_path, capsys)
    assert OUTSIDE_RANGE not in pred.columns and "training range" not in err


def test_a_column_empty_for_every_patient_is_named_and_flagged(
    model_dir, cohort_df, tmp_path, capsys
):
    new = cohort_df.head(10).assign(x2=np.nan)
    new.loc[0, "age"] = np.nan
    pred, err = _predict(model_dir, new, tmp_path, capsys)
    assert pred[MISSING_COLUMNS].tolist() == [2] + [1] * 9
    assert "1 column(s) have no value for any of the 10 patient(s): 'x2'" in err


def test_a_preprocessor_without_ranges_says_the_values_are_not_checked(cohort_df):
    from features import ClinicalPreprocessor

    X = cohort_df.drop(columns=["pid", "y"])
    pre = ClinicalPreprocessor().fit(X)
    pre.training_ranges_ = None  # as loaded from a format version 1 file
    flags, notes = input_flags(pre, X, list(X.columns))
    assert flags.shape[1] == 0
    assert notes == [
        "This model's preprocessor was saved before training ranges were recorded (format "
        "version 1): the values are not checked against the training range. Fit the model "
        "again to check them."
    ]


def test_decimal_commas_are_refused_then_read_with_decimal(cohort_df, tmp_path, capsys):
    table = cohort_df
    table["age"] = table["age"].map(lambda v: f"{v:.1f}".replace(".", ","))
    path = tmp_path / "comma.csv"
    table.to_csv(path, index=False)
    # with --decimal , every number must use it: x1 = 1.8 could be 1.8, or 18 (thousands)
    code = main(
        ["fit", "--data", str(path), *FIT, "--decimal", ",", "--output", str(tmp_path / "x")]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "2 column(s) hold numbers written with '.': 'x1', 'x2'" in err
    table.to_csv(path, index=False, decimal=",")
    out = tmp_path / "m"
    assert main(["fit", "--data", str(path), *FIT, "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert "'age': numbers written with a decimal comma (48 of 48 values" in err
    assert "--decimal ," in err and not out.exists()
    assert main(["fit", "--data", str(path), *FIT, "--decimal", ",", "--output", str(out)]) == 0
    assert "age" in (out / "preprocessor.json").read_text()


def test_predict_reads_decimal_commas_with_decimal(model_dir, cohort_df, tmp_path, capsys):
    new = cohort_df.head(6).drop(columns="y")
    dotted, comma, out = tmp_path / "dot.csv", tmp_path / "comma.csv", tmp_path / "p.csv"
    new.to_csv(dotted, index=False)
    new.to_csv(comma, index=False, decimal=",")
    args = ["predict", "--model", str(model_dir), "--output", str(out), "--overwrite"]
    assert main([*args, "--data", str(comma)]) == 2
    err = capsys.readouterr().err
    assert "Column 'age' is numeric but holds numbers written with a decimal comma (6 of 6" in err
    assert "--decimal ," in err and not any(f"{v:.1f}".replace(".", ",") in err for v in new.age)
    assert main([*args, "--data", str(comma), "--decimal", ","]) == 0
    from_comma = pd.read_csv(out, dtype={"pid": str})
    assert main([*args, "--data", str(dotted)]) == 0
    pd.testing.assert_frame_equal(from_comma, pd.read_csv(out, dtype={"pid": str}))


def test_dates_are_refused_with_exclude(cohort_df, tmp_path, capsys):
    table = cohort_df
    table["visit"] = pd.date_range("2019-01-01", periods=len(table)).strftime("%Y-%m-%d")
    path = tmp_path / "dates.csv"
    table.to_csv(path, index=False)
    assert main(["fit", "--data", str(path), *FIT, "--output", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert "'visit': dates (48 of 48 values look like dates)" in err
    assert "--exclude visit" in err and "on_invalid" not in err
    out = tmp_path / "m2"
    assert main(["fit", "--data", str(path), *FIT, "--exclude", "visit", "--output", str(out)]) == 0


def test_a_duplicate_column_name_is_refused(cohort_df, tmp_path, capsys):
    path = tmp_path / "dup.csv"
    table = cohort_df
    lines = table.to_csv(index=False).splitlines()
    path.write_text("\n".join([lines[0] + ",age"] + [line + ",1" for line in lines[1:]]) + "\n")
    assert main(["fit", "--data", str(path), *FIT, "--output", str(tmp_path / "m")]) == 2
    assert "gives one name to more than one column: 'age' (2 columns)" in capsys.readouterr().err
