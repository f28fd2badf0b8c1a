"""ClinicalPreprocessor(block_components=...): an embedding block reduced inside the fold."""

import numpy as np
import pandas as pd
import pytest

from features import ClinicalPreprocessor, load_preprocessor

BLOCK = [f"mri:{i}" for i in range(12)]


def _table(n=40, lacking=5, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"age": rng.normal(60, 10, n), "site": rng.choice(["a", "b"], n)})
    X[BLOCK] = rng.normal(size=(n, len(BLOCK)))
    X["mri:missing"] = 0.0
    X.loc[: lacking - 1, BLOCK] = np.nan
    X.loc[: lacking - 1, "mri:missing"] = 1.0
    X["lab"] = rng.normal(size=n)
    return X


def _pre(n=3, **kwargs):
    return ClinicalPreprocessor(
        numeric=BLOCK,
        binary=["mri:missing"],
        skip_indicator=BLOCK,
        block_components={"mri": n},
        **kwargs,
    ).set_output(transform="pandas")


def test_block_is_replaced_by_its_components_in_place():
    X = _table()
    out = _pre().fit_transform(X)
    assert list(out.columns) == [
        "age",
        "mri:pc0",
        "mri:pc1",
        "mri:pc2",
        "lab",
        "mri:missing",
        "site=a",
        "site=b",
    ]
    pre = _pre().fit(X)
    assert pre.feature_groups_["mri"] == ["mri:pc0", "mri:pc1", "mri:pc2"]
    assert pre.source_columns_["mri:pc1"] == "mri"
    assert pre.map_groups({"img": ["mri:0", "mri:5"], "c": ["age"]}) == {
        "img": ["mri:pc0", "mri:pc1", "mri:pc2"],
        "c": ["age"],
    }
    ratios = pre.block_pca_["mri"]["explained_variance_ratio"]
    assert len(ratios) == 3 and np.all(np.diff(ratios) <= 0)


def test_components_are_fitted_on_the_patients_that_have_the_block():
    X = _table()
    out = _pre().fit_transform(X)
    lacking = X["mri:missing"] == 1
    assert (out.loc[lacking, ["mri:pc0", "mri:pc1", "mri:pc2"]] == 0).all().all()
    # the present rows' components: a PCA of the scaled block on those rows alone
    present = out.loc[~lacking, ["mri:pc0", "mri:pc1", "mri:pc2"]].to_numpy()
    np.testing.assert_allclose(present.mean(axis=0), 0, atol=1e-12)
    assert np.all(np.diff(present.var(axis=0)) <= 0)


def test_new_patients_use_the_fitted_components():
    X, new = _table(seed=0), _table(seed=1)
    pre = _pre().fit(X)
    again = _pre().fit(pd.concat([X, new], ignore_index=True))
    moved = np.abs(pre.transform(new)["mri:pc0"] - again.transform(new)["mri:pc0"]).max()
    assert moved > 1e-3  # refitting on other rows gives other components: transform did not refit
    np.testing.assert_array_equal(pre.transform(new).to_numpy(), pre.transform(new).to_numpy())


def test_saved_and_loaded_it_transforms_bit_for_bit(tmp_path):
    X = _table()
    pre = _pre().fit(X)
    loaded = load_preprocessor(pre.save(tmp_path / "pre.json"))
    assert loaded.get_params()["block_components"] == {"mri": 3}
    np.testing.assert_array_equal(loaded.transform(X).to_numpy(), pre.transform(X).to_numpy())
    assert list(loaded.transform(X).columns) == list(pre.transform(X).columns)


def test_at_most_one_component_per_column_and_per_patient():
    X = _table(n=12, lacking=8)  # 4 patients have the block
    pre = _pre(n=10).fit(X)
    assert pre.feature_groups_["mri"] == [f"mri:pc{i}" for i in range(4)]


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        (["mri"], TypeError, r"block_components must be a dict .* got list"),
        ({"mri": 0}, ValueError, r"block_components\['mri'\] must be a whole number .* got 0"),
        ({"mri": 2.5}, ValueError, r"block_components\['mri'\] must be a whole number"),
        ({"ct": 2}, ValueError, r"names block 'ct', but X has no column named 'ct:...'"),
        ({"age": 2}, ValueError, r"names block 'age', which is also a column of X"),
    ],
)
def test_bad_block_components_are_named(value, error, match):
    pre = ClinicalPreprocessor(numeric=BLOCK, block_components=value)
    with pytest.raises(error, match=match):
        pre.fit(_table().assign(**{"age:x": 1.0}) if "age" in str(value) else _table())


def test_a_block_column_that_is_not_numeric_is_named():
    X = _table().assign(**{"mri:note": "x"})
    with pytest.raises(ValueError, match=r"Block 'mri' .* not numeric: 'mri:note'"):
        ClinicalPreprocessor(numeric=BLOCK, block_components={"mri": 2}).fit(X)


def test_a_block_present_for_one_patient_cannot_be_reduced():
    with pytest.raises(ValueError, match=r"Block 'mri' .* present for 1 row\(s\)"):
        _pre().fit(_table(n=12, lacking=11))


def test_a_preprocessor_saved_before_block_components_still_loads(tmp_path):
    """Files written before the parameter existed have neither it nor the ``block_pca`` state."""
    from features._jsonfile import read_checked_json, write_checked_json
    from features.tables._preprocessor_state import FORMAT, FORMAT_VERSION

    X = _table().drop(columns=[*BLOCK, "mri:missing"])
    pre = ClinicalPreprocessor().set_output(transform="pandas").fit(X)
    path = pre.save(tmp_path / "new.json")
    state = read_checked_json(path, kind=FORMAT, version=FORMAT_VERSION, what="test")
    del state["block_pca"], state["params"]["block_components"]
    old = write_checked_json(
        tmp_path / "old.json", kind=FORMAT, version=FORMAT_VERSION, payload=state
    )
    loaded = load_preprocessor(old)
    assert loaded.block_components is None and loaded.block_pca_ == {}
    pd.testing.assert_frame_equal(loaded.transform(X), pre.transform(X))


def test_a_saved_file_whose_components_were_removed_is_refused(tmp_path):
    from features._jsonfile import read_checked_json, write_checked_json
    from features.tables._preprocessor_state import FORMAT, FORMAT_VERSION

    path = _pre().fit(_table()).save(tmp_path / "pre.json")
    state = read_checked_json(path, kind=FORMAT, version=FORMAT_VERSION, what="test")
    del state["block_pca"]
    edited = write_checked_json(
        tmp_path / "edited.json", kind=FORMAT, version=FORMAT_VERSION, payload=state
    )
    with pytest.raises(ValueError, match="output columns do not agree with the saved ones"):
        load_preprocessor(edited)
