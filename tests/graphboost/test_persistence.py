"""Saving and loading: exact round trip, safe format, clear errors."""

import json

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier

import graphboost
from graphboost import GraphBoostClassifier, load

from .conftest import rewrite_model_json


@pytest.mark.parametrize("conv", ["vote", "appnp", "gcn", "sage", "gat"])
def test_round_trip_predicts_exactly_the_same(conv, small_cohort, tmp_path):
    X, y = small_cohort
    params = {"max_epochs": 10, "n_screen": 1} if conv != "vote" else {}
    clf = GraphBoostClassifier(
        n_estimators=3,
        n_neighbors=(5, 8),
        conv=conv,
        threshold_quantiles=(0.1,),
        feature_groups={"pair": ["noise0", "noise1"]},
        random_state=0,
        **params,
    ).fit(X[:45], y[:45])
    clf.save(tmp_path / "model")
    loaded = load(tmp_path / "model")
    np.testing.assert_array_equal(loaded.predict_proba(X[45:]), clf.predict_proba(X[45:]))
    np.testing.assert_array_equal(loaded.decision_function(X), clf.decision_function(X))
    assert loaded.selected_graphs_ == clf.selected_graphs_
    np.testing.assert_array_equal(loaded.feature_importances_, clf.feature_importances_)
    assert list(loaded.feature_names_in_) == list(X.columns)
    assert loaded.get_params()["conv"] == conv
    explained = loaded.explain(X[45:47])
    assert explained.equals(clf.explain(X[45:47]))


def test_string_classes_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = np.where(X[:, 0] > 0, "pcr", "residual")
    clf = GraphBoostClassifier(n_estimators=2, n_neighbors=5, init=None).fit(X, y)
    clf.save(tmp_path / "m")
    loaded = load(tmp_path / "m")
    assert list(loaded.predict(X)) == list(clf.predict(X))
    assert loaded.classes_.tolist() == ["pcr", "residual"]


@pytest.fixture
def saved(small_cohort, tmp_path):
    X, y = small_cohort
    GraphBoostClassifier(n_estimators=2, n_neighbors=5).fit(X, y).save(tmp_path / "model")
    return tmp_path / "model"


def test_files_are_json_and_tensors_only(saved):
    assert sorted(p.name for p in saved.iterdir()) == ["arrays.pt", "manifest.json", "model.json"]
    meta = json.loads((saved / "model.json").read_text())
    assert meta["format_version"] == 2
    assert meta["graphboost_version"] == graphboost.__version__


def test_corrupted_tensor_file_is_refused(saved):
    data = bytearray((saved / "arrays.pt").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (saved / "arrays.pt").write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"not a readable graphboost model.*checksum"):
        load(saved)


def test_corrupted_json_is_refused(saved):
    (saved / "model.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"model\.json is not valid JSON"):
        load(saved)


def test_other_format_version_is_refused(saved):
    meta = json.loads((saved / "model.json").read_text())
    meta["format_version"] = 99
    meta["graphboost_version"] = "9.0.0"
    (saved / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"format version 99 by graphboost 9.0.0.*reads format"):
        load(saved)


def test_missing_folder_and_existing_target(saved, small_cohort, tmp_path):
    with pytest.raises(FileNotFoundError, match="No graphboost model at"):
        load(tmp_path / "nothing")
    X, y = small_cohort
    clf = GraphBoostClassifier(n_estimators=1, n_neighbors=5).fit(X, y)
    before = (saved / "model.json").read_text()
    with pytest.raises(FileExistsError, match="nothing was overwritten"):
        clf.save(saved)
    assert (saved / "model.json").read_text() == before


def test_a_custom_init_cannot_be_saved_safely(small_cohort, tmp_path):
    X, y = small_cohort
    clf = GraphBoostClassifier(n_estimators=1, n_neighbors=5, init=RandomForestClassifier(3))
    clf.fit(X, y)
    with pytest.raises(ValueError, match="Only models with init='logistic' or init=None"):
        clf.save(tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_every_file_is_in_the_checksum_manifest(saved):
    manifest = json.loads((saved / "manifest.json").read_text())
    assert sorted(manifest["sha256"]) == ["arrays.pt", "model.json"]
    assert all(len(digest) == 64 for digest in manifest["sha256"].values())


def test_an_edited_model_json_is_refused(saved):
    """A hand-edited round weight would silently change every prediction."""
    meta = json.loads((saved / "model.json").read_text())
    meta["estimator_weights"][0] *= 10
    (saved / "model.json").write_text(json.dumps(meta, indent=1))
    with pytest.raises(
        ValueError, match=r"model\.json does not match its checksum in manifest\.json"
    ):
        load(saved)


def test_a_missing_or_incomplete_manifest_is_refused(saved):
    manifest = json.loads((saved / "manifest.json").read_text())
    del manifest["sha256"]["arrays.pt"]
    (saved / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=r"manifest\.json must list the SHA-256 of model\.json"):
        load(saved)
    (saved / "manifest.json").unlink()
    with pytest.raises(ValueError, match=r"manifest\.json is missing"):
        load(saved)


def test_a_folder_of_format_version_1_gets_the_version_error(saved):
    """Version 1 (parameter gnn_learning_rate, no manifest) is refused by name, not as corrupt."""
    meta = json.loads((saved / "model.json").read_text())
    meta["format_version"] = 1
    meta["params"]["gnn_learning_rate"] = meta["params"].pop("gnn_lr")
    (saved / "model.json").write_text(json.dumps(meta))
    (saved / "manifest.json").unlink()
    with pytest.raises(ValueError, match=r"version 1 by graphboost .* reads format version 2"):
        load(saved)


def test_a_folder_saved_before_the_boosted_intercept_predicts_as_it_was_saved(saved):
    """Folders written before ``boost_offset_`` existed load with a zero intercept."""
    rewrite_model_json(saved, lambda meta: meta.pop("boost_offset"))
    loaded = load(saved)
    np.testing.assert_array_equal(loaded.boost_offset_, np.zeros(loaded.n_classes_))
