"""The out-of-fold guard of boost_scale="guarded" (issue 19): graphs get weight only when the whole
fit, refitted in inner folds, beats the start and chance on held-out patients."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from graphboost import GraphBoostClassifier, load
from graphboost._boost_scale import GUARD_SPLITS, boost_offset, guard_scale


def _noise_cohort(seed, n=300):
    """Labels independent of every column."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 6)), rng.integers(0, 2, size=n)


def _distance_cohort(seed, n=300):
    """Label set by how far one column lies from its middle: invisible to a linear model, plain
    to a neighbor graph on that column."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    y = (np.abs(X[:, 0]) > 0.67).astype(int)
    flip = rng.uniform(size=n) < 0.1
    y[flip] = 1 - y[flip]
    return X, y


@pytest.mark.parametrize("seed", range(5))
def test_guard_gives_the_graphs_no_weight_on_pure_noise(seed):
    X, y = _noise_cohort(seed)
    clf = GraphBoostClassifier(boost_scale="guarded", random_state=seed).fit(X, y)
    assert clf.boost_scale_ == 0.0
    # The training-side rule alone ("auto") keeps them: the guard is what drops them.
    former = GraphBoostClassifier(boost_scale="auto", random_state=seed).fit(X, y)
    assert former.boost_scale_ > 0
    guard = clf.boost_scale_guard_
    assert guard["training_scale"] == former.boost_scale_ and not guard["kept"]
    assert len(guard["fold_auroc_start"]) == len(guard["fold_auroc_boosted"]) == GUARD_SPLITS


def test_guard_keeps_the_graphs_where_the_linear_model_misses_the_signal():
    X, y = _distance_cohort(seed=0)
    clf = GraphBoostClassifier(boost_scale="guarded", random_state=0).fit(X, y)
    guard = clf.boost_scale_guard_
    assert clf.boost_scale_ > 0 and guard["kept"]
    assert clf.boost_scale_ == guard["training_scale"]
    assert guard["gain"] > 0.1 and min(guard["fold_auroc_boosted"]) > 0.7
    X_test, y_test = _distance_cohort(seed=1)
    auc = roc_auc_score(y_test, clf.predict_proba(X_test)[:, 1])
    linear = LogisticRegression().fit(X, y).predict_proba(X_test)[:, 1]
    assert auc > roc_auc_score(y_test, linear) + 0.2


def test_guard_only_decides_between_zero_and_the_training_side_scale():
    """Same boosting, same training-side choice: "guarded" and "auto" differ in the scale only."""
    X, y = _noise_cohort(seed=2)
    guarded = GraphBoostClassifier(n_estimators=20, boost_scale="guarded", random_state=0)
    guarded.fit(X, y)
    auto = GraphBoostClassifier(n_estimators=20, boost_scale="auto", random_state=0).fit(X, y)
    assert auto.boost_scale_guard_ is None
    assert guarded.selected_graphs_ == auto.selected_graphs_
    np.testing.assert_array_equal(guarded.estimator_weights_, auto.estimator_weights_)
    assert guarded.boost_scale_ == 0.0  # noise: the guard dropped the graphs, and their intercept
    np.testing.assert_array_equal(guarded.boost_offset_, np.zeros(2))
    guarded.boost_scale_ = guarded.boost_scale_guard_["training_scale"]
    guarded.boost_offset_ = boost_offset(guarded, X, y, np.ones(len(y)))  # as fit computes it
    np.testing.assert_array_equal(guarded.boost_offset_, auto.boost_offset_)
    np.testing.assert_array_equal(guarded.predict_proba(X), auto.predict_proba(X))


def test_guard_is_skipped_when_the_training_side_scale_is_already_zero():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 5))
    y = (X @ np.array([1.0, 0.8, 0.6, 0.4, 0.2]) + rng.normal(size=300) > 0).astype(int)
    clf = GraphBoostClassifier(boost_scale="guarded", random_state=0).fit(X, y)
    assert clf.boost_scale_ == 0.0 and clf.boost_scale_guard_ is None


def test_guard_drops_the_graphs_when_a_class_is_too_small_for_its_folds():
    X, y = _distance_cohort(seed=0, n=120)
    y[:] = 0
    y[[0, 1, 2, 3]] = 1  # 4 patients: fewer than the inner folds
    clf = GraphBoostClassifier(n_estimators=5, n_neighbors=5, boost_scale=0.5).fit(X, y)
    scale, figures = guard_scale(clf, X, y, np.ones(len(y)), 0.5, seed=0)
    assert scale == 0.0 and not figures["kept"]
    assert figures["reason"] == f"a class has fewer than {GUARD_SPLITS} patients"


def test_guard_is_the_default_and_records_its_t_test():
    X, y = _noise_cohort(seed=3)
    clf = GraphBoostClassifier(n_estimators=20, random_state=0).fit(X, y)
    assert clf.get_params()["boost_scale"] == "guarded"
    guard = clf.boost_scale_guard_
    assert clf.boost_scale_ == 0.0 and guard["chance_p"] >= 0.01 and not guard["kept"]
    Xd, yd = _distance_cohort(seed=0)
    kept = GraphBoostClassifier(n_estimators=20, random_state=0).fit(Xd, yd).boost_scale_guard_
    assert kept["kept"] and kept["chance_p"] < 0.01


def test_saved_model_keeps_the_guard_figures(tmp_path):
    X, y = _distance_cohort(seed=0, n=200)
    clf = GraphBoostClassifier(n_estimators=10, boost_scale="guarded", random_state=0).fit(X, y)
    clf.save(tmp_path / "model")
    loaded = load(tmp_path / "model")
    assert loaded.boost_scale_ == clf.boost_scale_
    assert loaded.boost_scale_guard_ == clf.boost_scale_guard_
