"""The block guard (``block_guard=True``): a feature group enters the model only when it earns
its place out of fold, and a dropped group leaves exactly the model fitted without it."""

import numpy as np
import pandas as pd
import pytest

import graphboost
from graphboost import GraphBoostClassifier
from graphboost._block_guard import BLOCK_SPLITS, used_columns


def _cohort(n=160, seed=0):
    """A table whose label follows a, b and the block "sig"; the block "noise" is noise and
    lacks a few patients (its "noise:missing" indicator)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    table = pd.DataFrame(
        {"a": rng.normal(size=n) + 0.6 * y, "b": rng.normal(size=n), "c": rng.normal(size=n)}
    )
    noise = pd.DataFrame(rng.normal(size=(n, 5)), columns=[f"noise:{i}" for i in range(5)])
    missing = np.zeros(n)
    missing[rng.choice(n, 12, replace=False)] = 1.0
    noise.loc[missing == 1] = 0.0
    signal = pd.DataFrame(
        rng.normal(size=(n, 3)) + 1.2 * y[:, None], columns=[f"sig:{i}" for i in range(3)]
    )
    X = pd.concat([table, noise, signal], axis=1).assign(**{"noise:missing": missing})
    groups = {"noise": list(noise.columns), "sig": list(signal.columns)}
    return X, y, groups


def _model(groups, **params):
    params = {"n_estimators": 8, "n_neighbors": (10,), "random_state": 0, **params}
    return GraphBoostClassifier(feature_groups=groups, **params)


@pytest.fixture(scope="module")
def guarded():
    X, y, groups = _cohort()
    return _model(groups, block_guard=True).fit(X, y), X, y, groups


def test_the_guard_drops_a_noise_block_and_keeps_a_real_one(guarded):
    model, *_ = guarded
    figures = model.block_guard_
    assert not figures["noise"]["kept"] and figures["sig"]["kept"]
    sig = figures["sig"]
    assert len(sig["fold_auroc_with"]) == len(sig["fold_auroc_without"]) == BLOCK_SPLITS
    gain = np.subtract(sig["fold_auroc_with"], sig["fold_auroc_without"])
    assert sig["gain"] == pytest.approx(gain.mean())
    assert sig["gain"] > sig["margin_se"] * sig["gain_se"]
    assert figures["noise"]["gain"] <= figures["noise"]["margin_se"] * figures["noise"]["gain_se"]


def test_a_dropped_block_gives_exactly_the_model_without_it(guarded):
    model, X, y, groups = guarded
    without = X.drop(columns=[*groups["noise"], "noise:missing"])
    reference = _model({"sig": groups["sig"]}).fit(without, y)
    np.testing.assert_array_equal(model.predict_proba(X), reference.predict_proba(without))
    np.testing.assert_array_equal(
        model.decision_function(X.iloc[:7]), reference.decision_function(without.iloc[:7])
    )
    assert [str(s) for s in model.selected_graphs_] == [str(s) for s in reference.selected_graphs_]
    assert model.boost_scale_ == reference.boost_scale_
    # nothing of the block is read: its columns may hold anything at prediction
    scrambled = X.copy()
    scrambled[groups["noise"]] = 1e6
    np.testing.assert_array_equal(model.predict_proba(scrambled), model.predict_proba(X))
    dropped = [*groups["noise"], "noise:missing"]
    assert model.feature_importances_[X.columns.get_indexer(dropped)].sum() == 0


def test_the_guarded_model_round_trips_through_save(guarded, tmp_path):
    model, X, *_ = guarded
    model.save(tmp_path / "m")
    loaded = graphboost.load(tmp_path / "m")
    assert loaded.block_guard_ == model.block_guard_
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(loaded.columns_used_, model.columns_used_)


def test_without_the_guard_nothing_changes():
    X, y, groups = _cohort(n=100)
    model = _model(groups).fit(X, y)
    assert model.block_guard_ is None and model.columns_used_ is None
    assert model.init_.columns_ is None


def test_a_class_too_small_to_guard_drops_every_block():
    X, y, groups = _cohort(n=100)
    y = np.zeros(len(y), dtype=int)
    y[:4] = 1
    model = _model(groups, block_guard=True, n_neighbors=(3,)).fit(X, y)
    for figures in model.block_guard_.values():
        assert not figures["kept"]
        assert figures["reason"] == f"a class has fewer than {BLOCK_SPLITS} patients"
    assert list(model.feature_names_in_[model.columns_used_]) == ["a", "b", "c"]


def test_a_block_that_is_every_column_is_kept():
    X, y, groups = _cohort(n=80)
    X = X[groups["sig"]]
    model = _model({"sig": groups["sig"]}, block_guard=True).fit(X, y)
    assert model.block_guard_["sig"] == {"kept": True, "reason": "the model has no other column"}
    assert model.columns_used_ is None


def test_block_guard_must_be_a_bool():
    X, y, groups = _cohort(n=60)
    with pytest.raises(ValueError, match=r"'block_guard' parameter .* must be an instance of"):
        _model(groups, block_guard="yes").fit(X, y)


def test_used_columns_keeps_a_column_shared_with_a_kept_block():
    names = ["a", "m:0", "m:1", "m:missing", "s:0"]
    groups = {"m": [1, 2], "s": [2, 4]}
    assert used_columns(names, groups, ["m"]).tolist() == [0, 2, 4]
    assert used_columns(names, groups, []) is None
