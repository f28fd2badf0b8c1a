"""Tests of ClinicalPreprocessor."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from features import ClinicalPreprocessor, UnseenCategoryWarning


@pytest.fixture
def table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 40
    age = rng.normal(60, 10, n)
    age[[3, 7]] = np.nan
    return pd.DataFrame(
        {
            "age": age,
            "menopause": rng.choice(["pre", "post", None], n, p=[0.4, 0.5, 0.1]).tolist(),
            "smoker": rng.integers(0, 2, n),
            "stage": pd.Categorical(rng.choice([1, 2, 3], n)),
            "lab": np.where(rng.random(n) < 0.3, np.nan, rng.lognormal(1, 0.3, n)),
            "coded": rng.integers(0, 5, n),
            "treated": rng.random(n) < 0.5,
        }
    )


@parametrize_with_checks([ClinicalPreprocessor(), ClinicalPreprocessor(min_frequency=2)])
def test_sklearn_compatible(estimator, check):
    # No expected failures: every scikit-learn check passes.
    check(estimator)


def test_infers_types_and_names(table):
    pre = ClinicalPreprocessor().fit(table)
    assert pre.numeric_ == ["age", "lab", "coded"]
    assert pre.binary_ == ["smoker", "treated"]
    assert pre.categorical_ == ["menopause", "stage"]
    names = list(pre.get_feature_names_out())
    assert names == [
        "age",
        "lab",
        "coded",
        "smoker",
        "treated",
        "menopause=post",
        "menopause=pre",
        "stage=1",
        "stage=2",
        "stage=3",
        "age:missing",
        "lab:missing",
        "menopause:missing",
    ]
    assert pre.source_columns_["stage=2"] == "stage"
    assert pre.source_columns_["lab:missing"] == "lab"
    assert pre.feature_groups_["menopause"] == [
        "menopause=post",
        "menopause=pre",
        "menopause:missing",
    ]
    assert pre.feature_groups_["smoker"] == ["smoker"]
    assert pre.categories_["stage"] == ["1", "2", "3"]


def test_output_pandas_no_nan_scaled(table):
    pre = ClinicalPreprocessor().set_output(transform="pandas")
    out = pre.fit_transform(table)
    assert isinstance(out, pd.DataFrame)
    assert out.index.equals(table.index)
    assert not out.isna().any().any()
    assert out["age"].mean() == pytest.approx(0, abs=1e-9)
    assert out["age"].std(ddof=0) == pytest.approx(1)
    assert set(out["smoker"].unique()) <= {0.0, 1.0}
    assert out["age:missing"].sum() == 2
    # one-hot rows sum to 1 where the category was known
    known = table["menopause"].notna()
    assert (out.loc[known, ["menopause=post", "menopause=pre"]].sum(axis=1) == 1).all()
    # fit_transform == fit().transform()
    np.testing.assert_allclose(out.to_numpy(), pre.transform(table).to_numpy())


def test_overrides(table):
    pre = ClinicalPreprocessor(categorical=["coded"], numeric=["smoker"]).fit(table)
    assert "coded" in pre.categorical_ and "smoker" in pre.numeric_
    assert "coded=4" in pre.get_feature_names_out()
    with pytest.raises(ValueError, match=r"'age' is given in both 'numeric' and 'categorical'"):
        ClinicalPreprocessor(numeric=["age"], categorical=["age"]).fit(table)
    with pytest.raises(ValueError, match=r"not in X: 'weight'"):
        ClinicalPreprocessor(numeric=["weight"]).fit(table)
    with pytest.raises(ValueError, match=r"Column 'menopause' is numeric but holds non-numeric"):
        ClinicalPreprocessor(numeric=["menopause"]).fit(table)
    with pytest.raises(ValueError, match=r"'coded' is binary but has 5 distinct values"):
        ClinicalPreprocessor(binary=["coded"]).fit(table)
    with pytest.raises(TypeError, match=r"numeric must be a list of column names"):
        ClinicalPreprocessor(numeric="age").fit(table)


def test_unseen_categories_warn_and_encode_as_zero(table):
    pre = ClinicalPreprocessor().set_output(transform="pandas").fit(table)
    new = table.head(8).copy()
    new["menopause"] = ["peri", "x1", "x2", "x3", "x4", "x5", "pre", "post"]
    with pytest.warns(UnseenCategoryWarning, match=r"'menopause': 'peri', 'x1', .*and 1 more"):
        out = pre.transform(new)
    assert (out.loc[new.index[:6], ["menopause=post", "menopause=pre"]] == 0).all().all()
    assert not out.isna().any().any()
    # an unseen value in a binary column is imputed and reported
    new = table.head(3).copy()
    new["smoker"] = [0, 1, 7]
    with pytest.warns(UnseenCategoryWarning, match=r"'smoker': 7"):
        out = pre.transform(new)
    assert out["smoker"].iloc[2] in (0.0, 1.0)
    # seen values: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnseenCategoryWarning)
        pre.transform(table)


def test_infrequent_categories(table):
    table = table.copy()
    table.loc[0, "menopause"] = "rare"
    pre = ClinicalPreprocessor(min_frequency=3).fit(table)
    assert "menopause=infrequent" in pre.get_feature_names_out()
    assert pre.source_columns_["menopause=infrequent"] == "menopause"


def test_invalid_columns_raise_by_name(table):
    bad = table.assign(
        empty=np.nan,
        patient=[f"P{i:03d}" for i in range(len(table))],
        mixed=[1.5, "n/a"] * (len(table) // 2),
    )
    with pytest.raises(
        ValueError,
        match=r"3 column\(s\) cannot be used: 'empty': all values missing; 'patient': "
        r"identifier-like.*'mixed': mixed types \(number, text\).*on_invalid='drop'",
    ):
        ClinicalPreprocessor().fit(bad)
    with pytest.warns(UserWarning, match=r"Dropping 3 column\(s\): 'empty'.*'patient'.*'mixed'"):
        pre = ClinicalPreprocessor(on_invalid="drop").fit(bad)
    assert set(pre.dropped_columns_) == {"empty", "patient", "mixed"}
    assert not any(c.startswith(("empty", "patient", "mixed")) for c in pre.get_feature_names_out())
    # a mixed column made explicit is accepted
    pre = ClinicalPreprocessor(categorical=["mixed"], on_invalid="drop")
    with pytest.warns(UserWarning, match="Dropping 2"):
        pre.fit(bad)
    assert pre.categories_["mixed"] == ["1.5", "n/a"]


def test_integer_identifier_rule():
    n = 30
    rng = np.random.default_rng(1)
    ids = rng.permutation(np.arange(1001, 1001 + n))
    df = pd.DataFrame({"record": ids, "x": rng.normal(size=n)})
    with pytest.raises(ValueError, match=r"'record': identifier-like \(consecutive"):
        ClinicalPreprocessor().fit(df)
    # distinct but not consecutive integers (e.g. a lab count) are a real measurement
    df["record"] = rng.choice(10_000, n, replace=False)
    assert "record" in ClinicalPreprocessor().fit(df).numeric_
    # declared numeric: never an identifier
    df["record"] = ids
    assert "record" in ClinicalPreprocessor(numeric=["record"]).fit(df).numeric_
    # more than five problems: five named, the rest counted
    many = pd.DataFrame({f"e{i}": [np.nan] * 3 for i in range(7)}).assign(x=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"7 column\(s\).*'e4': all values missing; and 2 more"):
        ClinicalPreprocessor().fit(many)


def test_other_bad_input(table):
    with pytest.raises(ValueError, match=r"on_invalid must be 'raise' or 'drop', got 'skip'"):
        ClinicalPreprocessor(on_invalid="skip").fit(table)
    with pytest.raises(ValueError, match=r"'when': unsupported dtype datetime64"):
        ClinicalPreprocessor().fit(table.assign(when=pd.Timestamp("2020-01-01")))
    with pytest.raises(ValueError, match=r"No usable column left"):
        with pytest.warns(UserWarning):
            ClinicalPreprocessor(on_invalid="drop").fit(pd.DataFrame({"a": [np.nan] * 4}))
    pre = ClinicalPreprocessor().fit(table)
    with pytest.raises(ValueError, match=r"Column 'age' is numeric but holds non-numeric values"):
        pre.transform(table.astype({"age": object}).assign(age="old"))
    with pytest.raises(ValueError, match=r"Duplicate column names in X: 'a'"):
        ClinicalPreprocessor().fit(pd.DataFrame([[1, 2]], columns=["a", "a"]))


def test_map_groups(table):
    pre = ClinicalPreprocessor().fit(table)
    groups = pre.map_groups({"demo": ["age", "menopause"], "labs": ["lab"]})
    assert groups == {
        "demo": ["age", "age:missing", "menopause=post", "menopause=pre", "menopause:missing"],
        "labs": ["lab", "lab:missing"],
    }
    with pytest.raises(ValueError, match=r"not columns of X: 'bmi'"):
        pre.map_groups({"x": ["bmi"]})


def test_in_pipeline_cross_validation(table):
    y = (table["smoker"].to_numpy() + (table["menopause"] == "post").to_numpy()) > 0
    model = make_pipeline(ClinicalPreprocessor(), LogisticRegression())
    scores = cross_val_score(model, table, y.astype(int), cv=3)
    assert scores.mean() > 0.6
    assert clone(ClinicalPreprocessor(numeric=["age"])).get_params()["numeric"] == ["age"]


def test_skip_indicator(table):
    pre = ClinicalPreprocessor(skip_indicator=["lab"]).fit(table)
    names = list(pre.get_feature_names_out())
    assert "lab:missing" not in names and "age:missing" in names
    assert not np.isnan(pre.transform(table)).any()
    with pytest.raises(ValueError, match=r"skip_indicator are not in X: 'bmi'"):
        ClinicalPreprocessor(skip_indicator=["bmi"]).fit(table)
    with pytest.raises(TypeError, match=r"skip_indicator must be a list"):
        ClinicalPreprocessor(skip_indicator="lab").fit(table)


def test_binary_coding():
    train = pd.DataFrame({"ind": [0.0] * 6, "sex": [1, 2, 2, 1, 1, 2], "x": np.arange(6.0) ** 2})
    pre = ClinicalPreprocessor(binary=["ind"]).fit(train)
    assert pre.binary_ == ["ind", "sex"]
    test = pd.DataFrame({"ind": [1.0, 0.0], "sex": [2, 1], "x": [1.0, 2.0]})
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnseenCategoryWarning)  # 1 in a 0/1 column is not new
        out = pre.transform(test)
    np.testing.assert_array_equal(out[:, 1:], [[1.0, 1.0], [0.0, 0.0]])  # x, ind, sex
