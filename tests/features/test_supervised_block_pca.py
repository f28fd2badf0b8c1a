"""BlockPCA: one block of columns reduced inside the fold, patients lacking it kept apart."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from features import BlockPCA, ClinicalPreprocessor


def _frame(n=80, d=12, seed=0):
    rng = np.random.default_rng(seed)
    block = rng.normal(size=(n, d)) @ rng.normal(size=(d, d))
    X = pd.DataFrame(
        block, columns=[f"emb:{i}" for i in range(d)], index=[f"p{i}" for i in range(n)]
    )
    X.insert(0, "emb:missing", 0.0)
    X.insert(0, "age", rng.normal(60, 10, n))
    X["bmi"] = rng.normal(27, 4, n)
    return X


def test_components_replace_the_block_and_match_sklearn():
    X = _frame()
    out = BlockPCA(block="emb", n_components=3).fit_transform(X)
    assert list(out.columns) == ["age", "emb:missing", "emb:pc0", "emb:pc1", "emb:pc2", "bmi"]
    assert out.index.equals(X.index)
    block = X.filter(like="emb:").drop(columns="emb:missing")
    expected = PCA(3).fit_transform(StandardScaler().fit_transform(block))
    np.testing.assert_allclose(np.abs(out[["emb:pc0", "emb:pc1", "emb:pc2"]]), np.abs(expected))
    assert list(BlockPCA(block="emb", n_components=3).fit(X).get_feature_names_out()) == list(
        out.columns
    )


def test_fitted_on_training_rows_only_and_missing_rows_stay_missing():
    X = _frame()
    X.iloc[:5, X.columns.get_indexer([f"emb:{i}" for i in range(12)])] = np.nan
    X.iloc[:5, X.columns.get_loc("emb:missing")] = 1.0
    X.iloc[5, X.columns.get_loc("emb:missing")] = 1.0  # flagged, values present: left out too
    pca = BlockPCA(block="emb", n_components=2).fit(X.iloc[:60])
    reference = BlockPCA(block="emb", n_components=2).fit(X.iloc[6:60])
    np.testing.assert_allclose(pca.pca_.components_, reference.pca_.components_)
    out = pca.transform(X.iloc[60:])  # new patients: the fitted components, no refit
    train_only = reference.transform(X.iloc[60:])
    pd.testing.assert_frame_equal(out, train_only)
    lacking = pca.transform(X.iloc[:8])
    assert lacking[["emb:pc0", "emb:pc1"]].isna().all(axis=1).tolist() == [True] * 6 + [False] * 2


def test_auto_and_variance_share():
    X = _frame(n=200, d=40)
    assert BlockPCA(block="emb").fit(X).n_components_ == 10  # one per 20 patients
    assert BlockPCA(block="emb").fit(X.iloc[:30]).n_components_ == 2  # at least 2
    share = BlockPCA(block="emb", n_components=0.9).fit(X)
    assert share.explained_variance_ratio_.sum() >= 0.9
    assert share.n_components_ < 40
    # random_state is deprecated (the components are exact, with no random draw): its default
    # is the marker "deprecated" since BlockPCA shares the preprocessor's code (issue 18)
    assert clone(share).get_params() == {
        "block": "emb",
        "n_components": 0.9,
        "random_state": "deprecated",
    }


def test_errors():
    X = _frame(n=20)
    with pytest.raises(ValueError, match=r"'n_components' parameter of BlockPCA .*got 0"):
        BlockPCA(block="emb", n_components=0).fit(X)
    with pytest.raises(ValueError, match=r"Block 'mri' \(parameter 'block' of BlockPCA\) has no"):
        BlockPCA(block="mri").fit(X)
    with pytest.raises(TypeError, match=r"needs X as a pandas DataFrame; got ndarray"):
        BlockPCA(block="emb").fit(X.to_numpy())
    partial = X.copy()
    partial.iloc[0, partial.columns.get_loc("emb:3")] = np.nan
    with pytest.raises(ValueError, match=r"Block 'emb' has NaN in 1 row\(s\) that have some"):
        BlockPCA(block="emb").fit(partial)
    pca = BlockPCA(block="emb").fit(X)
    with pytest.raises(ValueError, match=r"Columns missing at transform time: \['emb:0'\]"):
        pca.transform(X.drop(columns="emb:0"))
    with pytest.raises(TypeError):
        BlockPCA("emb")  # keyword-only


def test_same_components_as_the_preprocessors_block_components():
    """One implementation (issue 18): on a block every patient has, BlockPCA and
    ClinicalPreprocessor(block_components=...) standardize it alike and give the same
    components; they differ only in what a patient without the block gets."""
    X = _frame()
    block = [f"emb:{i}" for i in range(12)]
    ours = BlockPCA(block="emb", n_components=3).fit_transform(X)
    pre = ClinicalPreprocessor(numeric=block, block_components={"emb": 3})
    theirs = pre.set_output(transform="pandas").fit_transform(X)
    names = ["emb:pc0", "emb:pc1", "emb:pc2"]
    np.testing.assert_allclose(ours[names], theirs[names], rtol=1e-10, atol=1e-10)


def test_a_patient_without_the_block_gets_nan_here_and_zero_in_the_preprocessor():
    X = _frame()
    block = [f"emb:{i}" for i in range(12)]
    X.loc[X.index[:4], block] = np.nan
    X.loc[X.index[:4], "emb:missing"] = 1.0
    names = ["emb:pc0", "emb:pc1"]
    ours = BlockPCA(block="emb", n_components=2).fit_transform(X)
    assert ours[names].iloc[:4].isna().all().all() and ours[names].iloc[4:].notna().all().all()
    pre = ClinicalPreprocessor(
        numeric=block, binary=["emb:missing"], skip_indicator=block, block_components={"emb": 2}
    )
    theirs = pre.set_output(transform="pandas").fit_transform(X)
    assert (theirs[names].iloc[:4] == 0).all().all()


def test_random_state_is_deprecated():
    X = _frame()
    with pytest.warns(FutureWarning, match=r"'random_state' parameter of BlockPCA has no effect"):
        seeded = BlockPCA(block="emb", n_components=2, random_state=3).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plain = BlockPCA(block="emb", n_components=2).fit(X)
    np.testing.assert_array_equal(seeded.pca_.components_, plain.pca_.components_)


def test_a_block_where_the_randomized_solver_was_used_says_its_components_changed():
    """Before issue 18 BlockPCA let scikit-learn pick its solver: randomized (approximate) on a
    large block like this one. The components are exact now, and fit says they changed."""
    X = _frame(n=600, d=80)
    with pytest.warns(FutureWarning, match=r"exact principal components .*600 rows.* 80 columns"):
        pca = BlockPCA(block="emb", n_components=8).fit(X)
    block = X.filter(like="emb:").drop(columns="emb:missing")
    exact = PCA(8, svd_solver="full").fit(StandardScaler().fit_transform(block))
    np.testing.assert_allclose(pca.pca_.components_, exact.components_)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        BlockPCA(block="emb", n_components=0.5).fit(X)  # a share: the full solver already
