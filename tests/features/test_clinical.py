"""Tests of ClinicalPreprocessor."""

from __future__ import annotations

import json
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from features import ClinicalPreprocessor, UnseenCategoryWarning, load_preprocessor


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


# ---------------------------------------------------------------------- save / load


def _new_patients(table: pd.DataFrame) -> pd.DataFrame:
    """Rows with unseen categories, an unseen binary value, and missing values everywhere."""
    new = table.head(6).copy()
    new["menopause"] = ["peri", None, "pre", "post", "x", "pre"]
    new["smoker"] = [0, 1, 7, 0, 1, 1]
    new.loc[new.index[:3], ["age", "lab"]] = np.nan
    new["stage"] = pd.Categorical([1, 2, 9, 3, 1, 2])
    return new


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"min_frequency": 3},
        {"min_frequency": 0.2},
        {"scale": False, "skip_indicator": ["lab", "menopause"]},
        {"categorical": ["coded"], "binary": ["treated"], "on_invalid": "drop"},
    ],
)
@pytest.mark.parametrize("output", ["default", "pandas"])
def test_save_load_round_trip_is_exact(table, tmp_path, params, output):
    """The loaded preprocessor transforms bit for bit as the saved one, also on new patients."""
    table = table.assign(rare=["a"] * 36 + ["b", "c", "c", "d"])
    pre = ClinicalPreprocessor(**params).set_output(transform=output).fit(table)
    path = pre.save(tmp_path / "pre.json")
    loaded = load_preprocessor(path)
    for X in (table, _new_patients(table), table.iloc[[5]]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnseenCategoryWarning)
            expected, got = pre.transform(X), loaded.transform(X)
        assert type(got) is type(expected)
        if output == "pandas":
            pd.testing.assert_frame_equal(got, expected, check_exact=True)
            expected, got = expected.to_numpy(), got.to_numpy()
        assert expected.tobytes() == got.tobytes()
    for attr in (
        "numeric_",
        "binary_",
        "categorical_",
        "categories_",
        "binary_levels_",
        "source_columns_",
        "feature_groups_",
        "dropped_columns_",
        "n_features_in_",
    ):
        assert getattr(loaded, attr) == getattr(pre, attr), attr
    assert list(loaded.feature_names_in_) == list(pre.feature_names_in_)
    assert loaded.get_params() == pre.get_params()
    assert list(loaded.get_feature_names_out()) == list(pre.get_feature_names_out())
    assert loaded.map_groups({"g": ["age", "menopause"]}) == pre.map_groups(
        {"g": ["age", "menopause"]}
    )
    # the unseen-category warning survives the round trip
    with pytest.warns(UnseenCategoryWarning, match=r"'menopause': 'peri', 'x'"):
        loaded.transform(_new_patients(table))


def test_save_load_all_categories_infrequent(tmp_path):
    """A column whose every category is infrequent, next to one with frequent categories."""
    df = pd.DataFrame(
        {
            "site": ["a"] * 8 + ["b"] * 2,
            "grade": ["g1", "g2", "g3", "g4", "g5"] * 2,
            "x": np.arange(10.0) ** 2,
        }
    )
    pre = ClinicalPreprocessor(min_frequency=0.3).fit(df)
    assert "grade=infrequent" in pre.get_feature_names_out()
    assert not any(n.startswith("grade=g") for n in pre.get_feature_names_out())
    loaded = load_preprocessor(pre.save(tmp_path / "p.json"))
    new = pd.DataFrame({"site": ["b", "z"], "grade": ["g2", "g9"], "x": [1.0, 2.0]})
    with pytest.warns(UnseenCategoryWarning, match=r"'site': 'z'; 'grade': 'g9'"):
        expected = pre.transform(new)
    with pytest.warns(UnseenCategoryWarning, match=r"'site': 'z'; 'grade': 'g9'"):
        assert loaded.transform(new).tobytes() == expected.tobytes()


def test_save_load_array_input(tmp_path):
    X = np.array([[1.0, 0.0], [2.0, 1.0], [np.nan, 1.0], [4.0, 0.0]])
    pre = ClinicalPreprocessor().fit(X)
    loaded = load_preprocessor(pre.save(tmp_path / "p.json"))
    assert not hasattr(loaded, "feature_names_in_")
    assert loaded.transform(X).tobytes() == pre.transform(X).tobytes()
    assert list(loaded.get_feature_names_out()) == ["x0", "x1", "x0:missing"]


def test_saved_file_is_checksummed_json(table, tmp_path):
    path = ClinicalPreprocessor().fit(table).save(tmp_path / "p.json")
    document = json.loads(path.read_text())
    assert document["format"] == "features.ClinicalPreprocessor"
    assert document["format_version"] == 2
    assert len(document["sha256"]) == 64
    age = next(r for r in document["payload"]["numeric"] if r["column"] == "age")
    assert age["median"] == pytest.approx(np.nanmedian(table["age"]))


def test_load_refuses_altered_and_foreign_files(table, tmp_path):
    path = ClinicalPreprocessor().fit(table).save(tmp_path / "p.json")
    document = json.loads(path.read_text())

    altered = tmp_path / "altered.json"
    edited = json.loads(json.dumps(document))
    next(r for r in edited["payload"]["numeric"] if r["column"] == "age")["mean"] += 1.0
    altered.write_text(json.dumps(edited))
    with pytest.raises(ValueError, match=r"altered\.json' does not match its SHA-256 checksum"):
        load_preprocessor(altered)

    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps({**document, "format_version": 3}))
    with pytest.raises(
        ValueError,
        match=r"newer\.json' holds a ClinicalPreprocessor in format "
        r"version 3; .* reads format version 1 or 2",
    ):
        load_preprocessor(newer)

    text = tmp_path / "notes.json"
    text.write_text("age,bmi\n50,21\n")
    with pytest.raises(
        ValueError,
        match=r"notes\.json' is not a saved ClinicalPreprocessor: it "
        r"is not valid JSON",
    ):
        load_preprocessor(text)

    pickled = tmp_path / "pre.pkl"
    pickled.write_bytes(pickle.dumps(ClinicalPreprocessor().fit(table)))
    with pytest.raises(ValueError, match=r"pre\.pkl' is not a saved ClinicalPreprocessor"):
        load_preprocessor(pickled)

    other = tmp_path / "model.json"
    other.write_text(json.dumps({"format": "graphboost.GraphBoostClassifier"}))
    with pytest.raises(
        ValueError,
        match=r"model\.json' is not a saved ClinicalPreprocessor: its "
        r"format is 'graphboost.GraphBoostClassifier'",
    ):
        load_preprocessor(other)

    with pytest.raises(FileNotFoundError, match=r"No saved ClinicalPreprocessor at .*absent\.json"):
        load_preprocessor(tmp_path / "absent.json")


def test_load_refuses_consistent_checksum_with_broken_state(table, tmp_path):
    """A file re-checksummed after an edit that breaks the state: refused, path named."""
    from features._jsonfile import write_checked_json

    path = ClinicalPreprocessor().fit(table).save(tmp_path / "p.json")
    payload = json.loads(path.read_text())["payload"]
    payload["feature_names_out"] = payload["feature_names_out"][:-1]
    broken = write_checked_json(
        tmp_path / "broken.json", kind="features.ClinicalPreprocessor", version=1, payload=payload
    )
    with pytest.raises(ValueError, match=r"broken\.json' holds an inconsistent"):
        load_preprocessor(broken)


def test_save_needs_a_fitted_preprocessor_and_a_folder(table, tmp_path):
    with pytest.raises(NotFittedError):
        ClinicalPreprocessor().save(tmp_path / "p.json")
    with pytest.raises(FileNotFoundError, match=r"the folder .*nowhere' does not exist"):
        ClinicalPreprocessor().fit(table).save(tmp_path / "nowhere" / "p.json")


def test_transform_names_missing_and_unexpected_columns(table):
    pre = ClinicalPreprocessor().fit(table)
    with pytest.raises(
        ValueError, match=r"Columns missing at transform time: 'age', 'lab' \(seen in fit\)"
    ):
        pre.transform(table.drop(columns=["age", "lab"]))
    with pytest.raises(ValueError, match=r"columns not seen in fit: 'bmi'"):
        pre.transform(table.assign(bmi=1.0))
    with pytest.raises(ValueError, match=r"same order"):
        pre.transform(table[table.columns[::-1]])


def test_numeric_column_with_a_few_non_numbers_is_named_as_such(tmp_path):
    """Regression (issue 11, item 4): one "<5" among numbers was called an identifier or text."""
    crp = [f"{v:.1f}" for v in np.linspace(1, 30, 20)]
    crp[3], crp[11] = "<5", ">180"
    path = tmp_path / "labs.csv"
    pd.DataFrame({"crp_mg_l": crp, "age": np.arange(20.0) ** 1.5}).to_csv(path, index=False)
    table = pd.read_csv(path)
    assert not pd.api.types.is_numeric_dtype(table["crp_mg_l"])  # read as text
    with pytest.raises(
        ValueError,
        match=r"'crp_mg_l': numeric column with 2 value\(s\) that are not numbers, written "
        r"like '<9', '>999'",
    ):
        ClinicalPreprocessor().fit(table)
    forms = r"holds non-numeric values \(2 of 20\), written like '<9', '>999'"
    with pytest.raises(ValueError, match=forms):
        ClinicalPreprocessor(numeric=["crp_mg_l"]).fit(table)
    # declared categorical, it is accepted as text; text that is mostly words stays categorical
    assert ClinicalPreprocessor(categorical=["crp_mg_l"]).fit(table).categorical_ == ["crp_mg_l"]
    words = table.assign(site=["a", "b", "3", "c"] * 5).drop(columns="crp_mg_l")
    assert ClinicalPreprocessor().fit(words).categorical_ == ["site"]
