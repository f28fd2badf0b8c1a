"""BlockPCA: one block of columns reduced inside the fold, patients lacking it kept apart."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from features import BlockPCA


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
    assert clone(share).get_params() == {"block": "emb", "n_components": 0.9, "random_state": 0}


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
