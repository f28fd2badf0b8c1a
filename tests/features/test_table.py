"""Tests of read_table and of joining by patient IDs written in different formats."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features import Cohort, read_table
from features.tables._table import describe_id_format, ids_as_text


@pytest.fixture
def table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "patient_id": [f"{i:03d}" for i in range(1, 7)],
            "age": [50.0, 61.0, np.nan, 45.0, 70.0, 66.0],
            "site": ["a", "b", "a", "b", "a", "b"],
        }
    )


def _write(table: pd.DataFrame, path) -> None:
    if path.suffix == ".csv":
        table.to_csv(path, index=False)
    elif path.suffix == ".tsv":
        table.to_csv(path, index=False, sep="\t")
    elif path.suffix == ".parquet":
        table.to_parquet(path)
    else:
        table.to_excel(path, index=False)


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet", ".xlsx"])
def test_read_table_formats_keep_zero_padded_ids(tmp_path, table, suffix):
    """Regression (issue 11, item 2): IDs '001', '002' were read as the integers 1, 2."""
    path = tmp_path / f"clinical{suffix}"
    _write(table, path)
    read = read_table(path, id_column="patient_id")
    assert read["patient_id"].tolist() == ["001", "002", "003", "004", "005", "006"]
    np.testing.assert_array_equal(read["age"].to_numpy(), table["age"].to_numpy())
    assert read["site"].tolist() == table["site"].tolist()


def test_read_table_numeric_parquet_ids_become_text(tmp_path, table):
    path = tmp_path / "t.parquet"
    table.assign(patient_id=range(1, 7)).to_parquet(path)
    assert read_table(path, id_column="patient_id")["patient_id"].tolist() == list("123456")
    assert read_table(path)["patient_id"].tolist() == [1, 2, 3, 4, 5, 6]


def test_read_table_errors_name_the_path(tmp_path, table):
    with pytest.raises(
        ValueError,
        match=r"Cannot read '.*table\.txt': unsupported format '\.txt' \(supported: \.csv, "
        r"\.tsv, \.parquet, \.pq, \.xlsx, \.xls\)",
    ):
        read_table(tmp_path / "table.txt")
    with pytest.raises(ValueError, match=r"unsupported format '\(no extension\)'"):
        read_table(tmp_path / "table")
    with pytest.raises(FileNotFoundError, match=r"Table file not found: '.*absent\.csv'"):
        read_table(tmp_path / "absent.csv")
    header_only = tmp_path / "header.csv"
    header_only.write_text("patient_id,age,label\n")
    with pytest.raises(ValueError, match=r"header\.csv' has no rows \(only a header with 3 col"):
        read_table(header_only)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ValueError, match=r"empty\.csv' is empty: no header and no rows"):
        read_table(empty)
    broken = tmp_path / "broken.parquet"
    broken.write_text("not parquet at all")
    with pytest.raises(ValueError, match=r"Cannot read '.*broken\.parquet' as parquet: "):
        read_table(broken)
    path = tmp_path / "t.csv"
    _write(table, path)
    with pytest.raises(ValueError, match=r"ID column 'pid' not found in '.*t\.csv'; columns: "):
        read_table(path, id_column="pid")


def test_ids_as_text():
    assert ids_as_text(["007", 7, np.int64(8), 9.0, 2.5]).tolist() == ["007", "7", "8", "9", "2.5"]
    assert pd.isna(ids_as_text([None, np.nan])).all()


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([1, 2, 30], "integers like 1, 2 (3 IDs)"),
        (np.array([1.0, 2.0]), "whole decimal numbers like 1.0, 2.0 (2 IDs)"),
        (["001", "010", "123"], "zero-padded digit text like '001' (3 IDs)"),
        (["1", "22"], "digit text without leading zeros like '1', '2' (2 IDs)"),
        (["P-001", "Q-002", None], "text shaped like 'A-999' (A, a = letter, 9 = digit) (2 IDs)"),
        ([], "no IDs"),
    ],
)
def test_describe_id_format(values, expected):
    assert describe_id_format(values) == expected


def test_join_matching_nothing_shows_formats_not_ids(table):
    """Regression (issue 11, item 2): integer IDs against '001' matched none and only warned."""
    clinical = table.assign(patient_id=range(1, 7), label=[0, 1] * 3)
    scans = pd.DataFrame({"e0": np.arange(6.0)}, index=table["patient_id"])
    with pytest.raises(
        ValueError,
        match=r"Block 'scans' shares 0 of its 6 patient IDs with the 6 of the clinical table.*"
        r"Clinical table: integers like 1, 2 \(6 IDs\); block 'scans': zero-padded digit text "
        r"like '001' \(6 IDs\)",
    ) as info:
        Cohort(clinical, {"scans": scans}, label="label")
    assert "'002'" not in str(info.value) and "'006'" not in str(info.value)
    # read as text, the same IDs join completely
    cohort = Cohort(table.assign(label=[0, 1] * 3), {"scans": scans}, label="label")
    assert cohort.missing_indicators == {}
    assert cohort.X.index.tolist() == table["patient_id"].tolist()


def test_join_matching_few_is_an_error_matching_some_is_a_warning():
    ids = [f"{i:03d}" for i in range(100)]
    clinical = pd.DataFrame({"patient_id": ids, "x": np.arange(100.0)})
    few = pd.DataFrame({"e": np.ones(50)}, index=ids[:4] + [f"S{i}" for i in range(46)])
    with pytest.raises(ValueError, match=r"shares 4 of its 50 patient IDs"):
        Cohort(clinical, {"mri": few})
    subset = pd.DataFrame({"e": np.ones(10)}, index=ids[:10])
    with pytest.warns(UserWarning, match=r"90 patient\(s\) of the clinical table lack block"):
        cohort = Cohort(clinical, {"mri": subset})
    assert cohort.X["mri:missing"].sum() == 90


def test_cohort_from_file_with_zero_padded_scan_names(tmp_path, table):
    path = tmp_path / "clinical.csv"
    _write(table.assign(label=[0, 1] * 3), path)
    scans = pd.DataFrame({"e0": np.arange(5.0)}, index=[f"{i:03d}" for i in range(1, 6)])
    with pytest.warns(UserWarning, match=r"1 patient\(s\) of the clinical table lack block"):
        cohort = Cohort.from_file(path, {"scans": scans}, label="label")
    assert cohort.X["scans:missing"].tolist() == [0.0] * 5 + [1.0]
