"""Tables whose meaning is ambiguous are refused with the remedy (issue 20: 4, 12, 13), the
training range of each numeric column (issue 20: 5), and block_components without skip_indicator.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from features import ClinicalPreprocessor, load_preprocessor, read_table


def _table(n=150, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "patient_id": [f"P{i:03d}" for i in range(n)],
            "age": rng.normal(60, 10, n).round(1),
            "bmi": rng.normal(26, 4, n).round(1),
            "site": rng.choice(["vendor_a", "vendor_b"], n),
            "stage": rng.choice(["T1", "T2", "T3"], n),
        }
    )


# ----------------------------------------------------------------- 4: decimal commas


def _with_commas(table):
    return table.assign(age=table["age"].map(lambda v: f"{v:.1f}".replace(".", ",")))


def test_numbers_with_a_decimal_comma_are_refused_with_the_remedy():
    X = _with_commas(_table()).drop(columns="patient_id")
    pattern = (
        r"'age': numbers written with a decimal comma \(150 of 150 values.*decimal=','.*--decimal ,"
    )
    with pytest.raises(ValueError, match=pattern) as info:
        ClinicalPreprocessor().fit(X)
    assert X["age"].iloc[0] not in str(info.value)  # counts and the form, never a value
    # not dropped either: the column is numbers, only written differently
    with pytest.raises(ValueError, match="decimal comma"):
        ClinicalPreprocessor(on_invalid="drop").fit(X)
    # a few plain numbers and missing values among them change nothing
    X.loc[:4, "age"] = ["61", "70", None, "58", None]
    with pytest.raises(ValueError, match=r"'age': numbers written with a decimal comma"):
        ClinicalPreprocessor().fit(X)


@pytest.mark.parametrize("suffix", [".csv", ".tsv"])
def test_read_table_decimal_reads_the_comma_as_the_decimal_mark(tmp_path, suffix):
    table = _table(n=20)
    path = tmp_path / f"clinical{suffix}"
    table.to_csv(path, index=False, sep="\t" if suffix == ".tsv" else ",", decimal=",")
    assert read_table(path, id_column="patient_id")["age"].dtype != float
    read = read_table(path, id_column="patient_id", decimal=",")
    np.testing.assert_allclose(read["age"].to_numpy(), table["age"].to_numpy())
    assert read["patient_id"].tolist() == table["patient_id"].tolist()
    pre = ClinicalPreprocessor().fit(read.drop(columns="patient_id"))
    assert pre.numeric_ == ["age", "bmi"]
    # one decimal mark per table: a column still written with '.' is refused, by name
    _with_commas(table).to_csv(path, index=False, sep="\t" if suffix == ".tsv" else ",")
    with pytest.raises(ValueError, match=r"1 column\(s\) hold numbers written with '.': 'bmi'"):
        read_table(path, id_column="patient_id", decimal=",")


def test_decimal_does_not_apply_to_parquet(tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "clinical.parquet"
    _table(n=5).to_parquet(path)
    with pytest.raises(ValueError, match=r"Parquet stores numbers as numbers"):
        read_table(path, decimal=",")


def test_categories_and_dotted_numbers_are_not_decimal_commas():
    X = _table().drop(columns="patient_id")
    X["grade"] = np.random.default_rng(3).choice(["1,2", "grade 3", "low", "high"], len(X))
    pre = ClinicalPreprocessor().fit(X)
    assert pre.numeric_ == ["age", "bmi"] and "grade" in pre.categorical_


# ----------------------------------------------------------------- 12: dates


@pytest.mark.parametrize(
    "fmt", ["%Y-%m-%d", "%d/%m/%Y", "%d %b %Y", "%Y-%m-%d %H:%M", "%d.%m.%y", "%B %d, %Y"]
)
def test_a_date_column_is_refused_with_command_line_remedies(fmt):
    X = _table().drop(columns="patient_id")
    days = pd.date_range("2019-01-01", periods=40)
    X["visit"] = [days[i % 40].strftime(fmt) for i in range(len(X))]
    with pytest.raises(
        ValueError,
        match=r"'visit': dates \(150 of 150 values look like dates\).*"
        r"--exclude visit.*days since a reference date",
    ):
        ClinicalPreprocessor().fit(X)


def test_distinct_dates_are_dates_not_identifiers_and_drop_warns():
    X = _table().drop(columns="patient_id")
    X["visit"] = pd.date_range("2019-01-01", periods=len(X)).strftime("%d/%m/%Y")
    with pytest.raises(ValueError, match=r"'visit': dates .*--exclude visit") as info:
        ClinicalPreprocessor().fit(X)
    assert "identifier" not in str(info.value)
    with pytest.warns(UserWarning, match=r"Dropping 1 column\(s\): 'visit': dates"):
        pre = ClinicalPreprocessor(on_invalid="drop").fit(X)
    assert "visit" in pre.dropped_columns_
    # a column of datetime type (Parquet, Excel) gets the same remedies
    with pytest.raises(ValueError, match=r"'when': unsupported dtype datetime64.*--exclude when"):
        ClinicalPreprocessor().fit(X.drop(columns="visit").assign(when=pd.Timestamp("2020-01-01")))


def test_text_that_pandas_could_parse_as_a_date_is_not_called_one():
    X = _table().drop(columns="patient_id")
    rng = np.random.default_rng(4)
    X["year_text"] = rng.choice(["2019", "2020", "2021"], len(X))  # numbers as text
    X["code"] = rng.choice(["1-2", "T2", "3 Mar", "ER+"], len(X))
    pre = ClinicalPreprocessor().fit(X)
    assert {"code", "year_text"} <= set(pre.categorical_)  # as before: categories, not dates


# ----------------------------------------------------------------- 13: duplicate column names


def _write_duplicate(path, table):
    header = [*table.columns, "age"]
    rows = [[*row, 1.0] for row in table.itertuples(index=False)]
    frame = pd.DataFrame(rows, columns=range(len(header)))
    if path.suffix == ".xlsx":
        pd.DataFrame([header, *rows]).to_excel(path, index=False, header=False)
    else:
        sep = "\t" if path.suffix == ".tsv" else ","
        frame.to_csv(path, index=False, header=header, sep=sep)


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".xlsx"])
def test_a_name_given_to_two_columns_is_refused(tmp_path, suffix):
    if suffix == ".xlsx":
        pytest.importorskip("openpyxl")
    path = tmp_path / f"clinical{suffix}"
    _write_duplicate(path, _table(n=12))
    with pytest.raises(
        ValueError, match=r"gives one name to more than one column: 'age' \(2 columns\).*age\.1"
    ):
        read_table(path, id_column="patient_id")


def test_a_real_dot_one_column_is_kept(tmp_path):
    path = tmp_path / "clinical.csv"
    _table(n=12).assign(**{"age.1": 1.0}).to_csv(path, index=False)
    assert "age.1" in read_table(path, id_column="patient_id").columns


# ----------------------------------------------------------------- 5: training ranges


def test_training_ranges_are_recorded_saved_and_checked(tmp_path):
    X = _table().drop(columns="patient_id")
    pre = ClinicalPreprocessor().fit(X)
    assert pre.training_ranges_["age"] == [float(X.age.min()), float(X.age.max())]
    new = X.head(4).copy()
    new["age"] = [X.age.max() + 1.0, X.age.max() * 365.25, np.nan, X.age.min()]
    outside = pre.find_outside_training_range(new)
    assert list(outside.columns) == ["age", "bmi"]
    assert outside["age"].tolist() == [False, True, False, False] and not outside["bmi"].any()
    loaded = load_preprocessor(pre.save(tmp_path / "p.json"))
    assert json.loads((tmp_path / "p.json").read_text())["format_version"] == 2
    assert loaded.training_ranges_ == pre.training_ranges_
    pd.testing.assert_frame_equal(loaded.find_outside_training_range(new), outside)


def test_a_version_1_file_still_loads_without_ranges(tmp_path):
    from features._jsonfile import read_checked_json, write_checked_json
    from features.tables._preprocessor_state import FORMAT

    X = _table().drop(columns="patient_id")
    pre = ClinicalPreprocessor().fit(X)
    state = read_checked_json(pre.save(tmp_path / "p.json"), kind=FORMAT, version=2, what="t")
    del state["training_ranges"]
    old = write_checked_json(tmp_path / "old.json", kind=FORMAT, version=1, payload=state)
    loaded = load_preprocessor(old)
    assert loaded.training_ranges_ is None
    np.testing.assert_array_equal(loaded.transform(X), pre.transform(X))
    with pytest.raises(ValueError, match=r"saved before training ranges were recorded"):
        loaded.find_outside_training_range(X)
    newer = write_checked_json(tmp_path / "newer.json", kind=FORMAT, version=3, payload=state)
    with pytest.raises(ValueError, match=r"format version 3; .* reads format version 1 or 2"):
        load_preprocessor(newer)


# ----------------------------------------------------------------- block_components, indicators


def test_block_components_without_skip_indicator_keeps_the_block_indicators(tmp_path):
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(30, 4)), columns=["mri:0", "mri:1", "mri:2", "age"])
    X.iloc[:3, :3] = np.nan
    pre = ClinicalPreprocessor(block_components={"mri": 2}).set_output(transform="pandas")
    out = pre.fit_transform(X)  # was KeyError: 'mri:0'
    indicators = ["mri:0:missing", "mri:1:missing", "mri:2:missing"]
    assert list(out.columns) == ["mri:pc0", "mri:pc1", "age", *indicators]
    assert pre.feature_groups_ == {"age": ["age"], "mri": ["mri:pc0", "mri:pc1", *indicators]}
    assert out[indicators].to_numpy()[:3].all() and not out[indicators].to_numpy()[3:].any()
    loaded = load_preprocessor(pre.save(tmp_path / "p.json"))
    pd.testing.assert_frame_equal(loaded.transform(X), out)
