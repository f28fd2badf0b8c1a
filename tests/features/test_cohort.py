"""Tests of Cohort (joining a clinical table and embedding blocks by patient ID)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline

from features import Cohort


@pytest.fixture
def clinical() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 30
    return pd.DataFrame(
        {
            "patient_id": [f"P{i:03d}" for i in range(n)],
            "age": rng.normal(60, 8, n),
            "sex": rng.choice(["F", "M"], n),
            "site": rng.choice(["A", "B"], n),
            "label": np.tile([0, 1], n // 2),
        }
    )


@pytest.fixture
def mri(clinical) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    ids = [*clinical["patient_id"].iloc[3:], "X900", "X901"]  # 3 lack MRI, 2 extra
    return pd.DataFrame(
        rng.normal(size=(len(ids), 4)), index=ids, columns=[f"e{i}" for i in range(4)]
    )


def test_join_keeps_patients_lacking_a_block(clinical, mri):
    with pytest.warns(
        UserWarning, match=r"3 patient\(s\).*lack block 'mri'.*2 patient\(s\) of block"
    ):
        cohort = Cohort(clinical, {"mri": mri}, label="label", exclude=["site"])
    X = cohort.X
    assert list(X.index) == clinical["patient_id"].tolist()
    assert list(X.columns) == ["age", "sex", "mri:missing", "mri:e0", "mri:e1", "mri:e2", "mri:e3"]
    assert cohort.feature_groups == {
        "clinical": ["age", "sex"],
        "mri": ["mri:e0", "mri:e1", "mri:e2", "mri:e3"],
    }
    assert cohort.missing_indicators == {"mri": "mri:missing"}
    assert X["mri:missing"].tolist() == [1.0] * 3 + [0.0] * 27
    assert X.loc[["P000", "P001", "P002"], cohort.feature_groups["mri"]].isna().all().all()
    np.testing.assert_allclose(X.loc["P010", "mri:e2"], mri.loc["P010", "e2"])
    assert cohort.unmatched_counts == {
        "mri": {"not_in_block": 3, "empty_rows": 0, "not_in_clinical": 2}
    }
    assert cohort.unmatched_ids["mri"]["not_in_clinical"] == ["X900", "X901"]
    assert cohort.y.tolist() == clinical["label"].tolist()
    assert cohort.y.index.equals(X.index)
    assert cohort.to_frame().columns[-1] == "label"
    assert "site" not in X.columns and "patient_id" not in X.columns


def test_ids_not_in_warning(clinical, mri):
    with pytest.warns(UserWarning) as record:
        Cohort(clinical, {"mri": mri}, label="label")
    text = " ".join(str(w.message) for w in record)
    assert "P000" not in text and "X900" not in text


def test_complete_blocks_no_warning_no_indicator(clinical):
    emb = pd.DataFrame(np.ones((30, 2)), index=clinical["patient_id"], columns=["a", "b"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cohort = Cohort(clinical, {"ct": emb, "pet": emb * 2}, label="label")
    assert cohort.missing_indicators == {}
    assert cohort.block_columns == ["ct:a", "ct:b", "pet:a", "pet:b"]
    assert "Cohort(30 patients" in repr(cohort)


def test_ids_match_as_text(clinical):
    table = clinical.assign(patient_id=range(30))
    emb = pd.DataFrame({"v": np.arange(30.0)}, index=[str(i) for i in range(30)])
    cohort = Cohort(table, {"b": emb})
    assert cohort.X["b:v"].tolist() == list(np.arange(30.0))


def test_duplicate_ids_counted_not_shown(clinical, mri):
    dup = clinical.copy()
    dup.loc[5, "patient_id"] = "P004"
    with pytest.raises(
        ValueError,
        match=r"the clinical column 'patient_id' has 2 rows whose patient ID is not unique "
        r"\(1 ID\(s\) repeated\)",
    ) as info:
        Cohort(dup, label="label")
    assert "P004" not in str(info.value)
    dup_block = pd.concat([mri, mri.iloc[[0]]])
    with pytest.raises(ValueError, match=r"block 'mri' has 2 rows whose patient ID") as info:
        Cohort(clinical, {"mri": dup_block})
    assert "P003" not in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"label": "outcome"}, ValueError, r"Label column 'outcome' not found"),
        ({"label": "site", "exclude": []}, None, None),
        ({"id_column": "pid"}, ValueError, r"id_column 'pid' is not a column"),
        ({"exclude": ["bmi"]}, ValueError, r"exclude are not in the clinical table: 'bmi'"),
        ({"exclude": "site"}, TypeError, r"exclude must be a list"),
    ],
)
def test_bad_arguments(clinical, kwargs, error, match):
    if error is None:
        Cohort(clinical, **kwargs)  # a text label is fine
        return
    with pytest.raises(error, match=match):
        Cohort(clinical, **kwargs)


def test_bad_labels(clinical):
    with pytest.raises(
        ValueError, match=r"Label column 'label' is constant \(every patient has 1\)"
    ):
        Cohort(clinical.assign(label=1), label="label")
    with pytest.raises(ValueError, match=r"'label' is missing for 2 of 30 patients"):
        Cohort(clinical.assign(label=[np.nan, np.nan] + [0, 1] * 14), label="label")


def test_bad_blocks(clinical, mri):
    with pytest.raises(ValueError, match=r"Block 'mri' has non-numeric columns: 'txt'"):
        Cohort(clinical, {"mri": mri.assign(txt="a")})
    with pytest.raises(TypeError, match=r"Block 'mri' must be a pandas DataFrame"):
        Cohort(clinical, {"mri": mri.to_numpy()})
    with pytest.raises(ValueError, match=r"Block name 'clinical' is not allowed"):
        Cohort(clinical, {"clinical": mri})
    with pytest.raises(ValueError, match=r"missing patient ID"):
        Cohort(clinical.assign(patient_id=[None, *clinical["patient_id"].iloc[1:]]))
    with pytest.raises(TypeError, match=r"clinical must be a pandas DataFrame"):
        Cohort(clinical.to_numpy())


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".xlsx"])
def test_from_file(tmp_path, clinical, mri, suffix):
    table = clinical.assign(patient_id=[f"{i:03d}" for i in range(30)])  # leading zeros
    path = tmp_path / f"clinical{suffix}"
    if suffix == ".csv":
        table.to_csv(path, index=False)
    elif suffix == ".parquet":
        table.to_parquet(path)
    else:
        table.to_excel(path, index=False)
    emb = mri.iloc[:5].set_axis([f"{i:03d}" for i in range(5)])
    with pytest.warns(UserWarning, match=r"25 patient\(s\) of the clinical table lack block"):
        cohort = Cohort.from_file(path, {"mri": emb}, label="label", exclude=["site"])
    assert cohort.X.index[0] == "000"
    assert cohort.X["mri:missing"].sum() == 25
    pd.testing.assert_series_equal(
        cohort.X["age"], table.set_index("patient_id")["age"], check_names=False, check_index=False
    )


def test_preprocessor_imputes_inside_folds(clinical, mri):
    with pytest.warns(UserWarning):
        cohort = Cohort(clinical, {"mri": mri}, label="label", exclude=["site"])
    pre = cohort.make_preprocessor().set_output(transform="pandas")
    out = pre.fit_transform(cohort.X)
    assert not out.isna().any().any()
    # one indicator for the block (the cohort's own column), none per embedding column
    assert [c for c in out.columns if c.endswith(":missing")] == ["mri:missing"]
    assert "mri:missing" in pre.binary_
    assert pre.map_groups(cohort.feature_groups)["mri"] == cohort.feature_groups["mri"]
    model = make_pipeline(cohort.make_preprocessor(), LogisticRegression())
    assert cross_val_score(model, cohort.X, cohort.y, cv=3).shape == (3,)


def test_all_nan_rows_count_as_lacking_the_block(clinical):
    emb = pd.DataFrame(np.ones((30, 2)), index=clinical["patient_id"], columns=["a", "b"])
    emb.iloc[4] = np.nan  # e.g. a scan that VolumeEmbedder(on_error="skip") could not read
    emb.iloc[5, 0] = np.nan  # a single missing value is not a missing block
    with pytest.warns(UserWarning, match=r"1 patient\(s\) have an all-NaN row in block 'ct'"):
        cohort = Cohort(clinical, {"ct": emb})
    assert cohort.X["ct:missing"].tolist() == [0.0] * 4 + [1.0] + [0.0] * 25
    assert cohort.unmatched_ids["ct"]["empty_rows"] == ["P004"]
