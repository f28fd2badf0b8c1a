"""Weight of the boosted score against the init model (issue 9): boost_scale, init_scoring."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.utils._param_validation import InvalidParameterError

from graphboost import GraphBoostClassifier, load
from graphboost._boost_scale import AUTO_SCALES, ValidationLosses
from graphboost._samme import log_loss, samme_codes, softmax

from .conftest import similarity_cohort


def _linear_cohort(seed, n=300):
    """Label linear in five columns: a logistic regression has it all, the graphs only echo it."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    y = (X @ np.array([1.0, 0.8, 0.6, 0.4, 0.2]) + rng.normal(size=n) > 0).astype(int)
    return X, y


def _init_proba(clf, X):
    return softmax(clf.init_.log_proba(X))


def test_auto_scale_drops_graphs_that_lower_the_ranking_of_the_linear_model():
    X, y = _linear_cohort(seed=1)
    clf = GraphBoostClassifier(random_state=0).fit(X, y)
    scores = clf._scale_scores(X, y, np.ones(len(y)))
    # The boosted score echoes the linear signal: every scale of it lowers the training AUROC
    # of the out-of-fold linear score, so the graphs are dropped and the model is the init.
    assert clf.estimators_ and (np.diff(scores) < 0).all()
    assert clf.boost_scale_ == 0.0
    X_new, _ = _linear_cohort(seed=11)
    np.testing.assert_allclose(clf.predict_proba(X_new), _init_proba(clf, X_new))
    whole = GraphBoostClassifier(boost_scale=1.0, random_state=0).fit(X, y)
    assert not np.allclose(whole.predict_proba(X_new), _init_proba(whole, X_new))


def test_auto_scale_keeps_the_graphs_where_neighborhoods_carry_the_signal():
    X, y = similarity_cohort(n=300)
    X_test, y_test = similarity_cohort(n=300, seed=7)
    clf = GraphBoostClassifier(random_state=0).fit(X, y)
    assert clf.boost_scale_ == 0.5
    auc = roc_auc_score(y_test, clf.predict_proba(X_test)[:, 1])
    linear = LogisticRegression().fit(X, y).predict_proba(X_test)[:, 1]
    assert auc > roc_auc_score(y_test, linear) + 0.2


def test_auto_scale_is_the_best_training_auroc_of_out_of_fold_init_plus_left_out_votes():
    """Recomputed independently: per-fold refits of the init, Platt scaling by scikit-learn."""
    X, y = _linear_cohort(seed=3)
    clf = GraphBoostClassifier(n_estimators=30, random_state=0).fit(X, y)
    init = clf.init_
    Z = (X - init.mean_) / init.scale_
    oof = np.empty(len(y))
    for train, test in init._cv.split(Z, y):
        fold = LogisticRegression(C=init.C_, tol=1e-10, max_iter=10_000).fit(Z[train], y[train])
        oof[test] = Z[test] @ fold.coef_[0] / np.linalg.norm(fold.coef_)
    platt = LogisticRegression(C=1e10, tol=1e-10).fit(oof[:, None], y)
    oof = platt.coef_[0, 0] * oof
    assert init.slope_ == pytest.approx(platt.coef_[0, 0], rel=1e-2)
    boost = sum(
        w * samme_codes(learner.train_predictions_, 2) @ np.array([-1.0, 1.0])
        for learner, w in zip(clf.estimators_, clf.estimator_weights_, strict=True)
    )
    expected = [roc_auc_score(y, oof + s * boost) for s in AUTO_SCALES]
    np.testing.assert_allclose(clf._scale_scores(X, y, np.ones(len(y))), expected, atol=2e-3)
    assert clf.boost_scale_ == AUTO_SCALES[int(np.argmax(expected))]


def test_a_fixed_scale_multiplies_the_boosted_score():
    X, y = similarity_cohort(n=200)
    whole = GraphBoostClassifier(n_estimators=10, boost_scale=1.0, random_state=0).fit(X, y)
    half = GraphBoostClassifier(n_estimators=10, boost_scale=0.5, random_state=0).fit(X, y)
    assert half.boost_scale_ == 0.5

    def votes(model):  # the boosted score without its calibrating intercept
        start = model.init_.log_proba(X.to_numpy())
        offset = model.boost_offset_[1] - model.boost_offset_[0]
        return model.decision_function(X) - (start[:, 1] - start[:, 0]) - offset

    np.testing.assert_allclose(votes(half), 0.5 * votes(whole))
    contributions = half.explain(X[:3]).groupby("patient")["contribution"].sum()
    np.testing.assert_allclose(contributions, half.decision_function(X[:3]))


def test_early_stopping_with_a_fixed_scale_chooses_the_rounds_only():
    X, y = similarity_cohort(n=200)
    clf = GraphBoostClassifier(
        n_estimators=30, early_stopping=True, boost_scale=0.5, random_state=0
    ).fit(X, y)
    assert clf.validation_scores_.shape[1] == 1
    assert clf.boost_scale_ == 0.5
    assert len(clf.estimators_) == int(np.argmin(clf.validation_scores_[:, 0]))


def test_init_scored_by_auroc_is_recalibrated_on_its_out_of_fold_scores():
    X, y = _linear_cohort(seed=0)
    clf = GraphBoostClassifier(n_estimators=2, random_state=0).fit(X, y)
    oof = clf.init_.cross_val_log_proba(X, y, np.ones(len(y)))
    refit = LogisticRegression(C=1e10, tol=1e-10).fit((oof[:, 1] - oof[:, 0])[:, None], y)
    assert refit.coef_[0, 0] == pytest.approx(1.0, abs=1e-3)
    assert refit.intercept_[0] == pytest.approx(0.0, abs=1e-3)
    assert clf.init_.slope_ != 1.0


def test_init_scored_by_log_loss_is_the_cross_validated_logistic_regression():
    X, y = _linear_cohort(seed=0)
    clf = GraphBoostClassifier(n_estimators=2, init_scoring="neg_log_loss", random_state=0)
    init = clf.fit(X, y).init_
    assert init.slope_ == 1.0
    np.testing.assert_array_equal(init.coef_, init.estimator_.coef_)
    np.testing.assert_array_equal(init.intercept_, init.estimator_.intercept_)


def test_a_strongly_regularized_init_gets_a_calibrated_scale():
    """One column: every C ranks alike, AUROC ties pick the smallest C and its tiny scores; the
    recalibration brings them to the log-odds of an unpenalized logistic regression."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 1))
    y = (x[:, 0] + rng.normal(size=300) > 0).astype(int)
    init = GraphBoostClassifier(n_estimators=2, random_state=0).fit(x, y).init_
    assert init.C_ == 1e-4 and np.abs(init.estimator_.coef_).max() < 0.05
    unpenalized = LogisticRegression(C=1e10).fit(x, y).predict_proba(x)
    np.testing.assert_allclose(softmax(init.log_proba(x)), unpenalized, atol=0.03)
    weak = GraphBoostClassifier(n_estimators=2, init_scoring="neg_log_loss", random_state=0)
    assert weak.fit(x, y).init_.slope_ == 1.0


def test_prior_init_keeps_the_boosted_score_whole():
    X, y = similarity_cohort(n=120)
    clf = GraphBoostClassifier(n_estimators=5, init=None, random_state=0).fit(X, y)
    assert clf.boost_scale_ == 1.0


class _CountingLogistic(LogisticRegression):
    fits = []

    def fit(self, X, y, sample_weight=None):
        _CountingLogistic.fits.append(X.shape[0])
        return super().fit(X, y, sample_weight=sample_weight)


def test_a_classifier_init_is_cross_fitted_for_the_scale():
    X, y = _linear_cohort(seed=1)
    _CountingLogistic.fits.clear()
    clf = GraphBoostClassifier(init=_CountingLogistic(), random_state=0).fit(X, y)
    # One fit on all patients, then one per inner fold on two thirds of them.
    assert _CountingLogistic.fits[0] == 300
    assert sorted(_CountingLogistic.fits[1:]) == [200, 200, 200]
    assert clf.boost_scale_ in AUTO_SCALES


def test_multiclass_auto_scale():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(240, 4))
    y = np.array(["a", "b", "c"])[np.digitize(np.sin(3 * X[:, 0]) + 0.3 * X[:, 1], [-0.4, 0.4])]
    clf = GraphBoostClassifier(n_estimators=10, random_state=0).fit(X, y)
    scores = clf._scale_scores(X, np.unique(y, return_inverse=True)[1], np.ones(240))
    assert scores.shape == (len(AUTO_SCALES),) and (scores > 0.5).all()
    assert clf.boost_scale_ == AUTO_SCALES[int(np.argmax(scores))]
    np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1.0)


def test_saved_model_keeps_the_scale_and_the_recalibrated_init(tmp_path):
    X, y = _linear_cohort(seed=3)
    clf = GraphBoostClassifier(n_estimators=10, random_state=0).fit(X, y)
    clf.save(tmp_path / "model")
    loaded = load(tmp_path / "model")
    assert loaded.boost_scale_ == clf.boost_scale_
    assert loaded.init_.slope_ == clf.init_.slope_
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"boost_scale": "big"}, r"'boost_scale' parameter .*'auto'.* Got 'big'"),
        ({"boost_scale": -0.5}, r"'boost_scale' parameter .* range \[0.* Got -0.5"),
        ({"init_scoring": "accuracy"}, r"'init_scoring' parameter .*'roc_auc'.* Got 'accuracy'"),
    ],
)
def test_bad_scale_or_scoring_names_the_parameter(params, message):
    X, y = _linear_cohort(seed=0, n=60)
    with pytest.raises(InvalidParameterError, match=message):
        GraphBoostClassifier(**params).fit(X, y)


def _imbalanced_cohort(seed, n=900):
    """About one patient in seven positive, the label in the neighborhoods of 'signal'."""
    X, y = similarity_cohort(n=n, seed=seed)
    y = (
        (np.sin(2.5 * X["signal"].to_numpy()) > 0.8)
        ^ (np.random.default_rng(seed).uniform(size=n) < 0.05)
    ).astype(int)
    return X, y


def test_the_boosted_score_is_recalibrated_so_the_mean_risk_matches_the_cohort():
    X, y = _imbalanced_cohort(seed=0)
    X_new, y_new = _imbalanced_cohort(seed=1)
    clf = GraphBoostClassifier(n_estimators=20, boost_scale=0.5, random_state=0).fit(X, y)
    risk = clf.predict_proba(X_new)[:, 1]
    # SAMME votes lean to the larger class: the uncalibrated sum lowers every risk.
    offset = clf.boost_offset_[1] - clf.boost_offset_[0]
    uncalibrated = 1 / (1 + np.exp(-(clf.decision_function(X_new) - offset)))
    assert abs(uncalibrated.mean() - y_new.mean()) > 0.04
    assert abs(risk.mean() - y_new.mean()) < 0.02
    # The intercept moves no ranking, and each round carries its share of it.
    assert roc_auc_score(y_new, risk) == pytest.approx(roc_auc_score(y_new, uncalibrated))
    *_, last = clf.staged_decision_function(X_new)
    np.testing.assert_allclose(last, clf.decision_function(X_new))
    parts = clf.explain(X_new.iloc[:4]).groupby("patient")["contribution"].sum()
    np.testing.assert_allclose(parts, clf.decision_function(X_new.iloc[:4]))


def test_a_model_without_boosted_weight_has_no_intercept():
    X, y = _linear_cohort(seed=1)
    clf = GraphBoostClassifier(random_state=0).fit(X, y)
    assert clf.boost_scale_ == 0.0
    np.testing.assert_array_equal(clf.boost_offset_, np.zeros(2))


class _FixedInit:
    def __init__(self, logits):
        self.logits = logits

    def log_proba(self, X):
        return self.logits


class _FixedLearner:
    def __init__(self, codes):
        self.codes = codes

    def _predict_codes(self, X):
        return self.codes


def test_early_stopping_scores_each_scale_with_its_own_intercept():
    rng = np.random.default_rng(0)
    y_val = (rng.random(200) < 0.2).astype(int)
    init = np.c_[np.zeros(200), rng.normal(-1.4, 1.0, 200)]
    votes = np.where(rng.random(200) < 0.8, 0, 1)  # SAMME votes lean to the larger class
    monitor = ValidationLosses(None, y_val, n_iter_no_change=5, scales=(0.0, 0.5, 1.0))
    monitor.start(_FixedInit(init))
    monitor(_FixedLearner(votes), estimator_weight=1.0)
    boost = samme_codes(votes, 2)
    for scale, loss in zip((0.0, 0.5, 1.0), monitor.scores()[1], strict=True):
        # The loss at the best intercept: no intercept on a fine grid does better.
        grid = [log_loss(init + scale * boost + [0.0, b], y_val) for b in np.linspace(-3, 3, 601)]
        assert loss == pytest.approx(min(grid), abs=1e-4)
    # A vote that only shifts every patient's log-odds costs nothing at any scale.
    shifted = ValidationLosses(None, y_val, n_iter_no_change=5, scales=(0.0, 0.5, 1.0))
    shifted.start(_FixedInit(init))
    shifted(_FixedLearner(np.zeros(200, dtype=int)), estimator_weight=1.0)
    np.testing.assert_allclose(shifted.scores()[1], shifted.scores()[0], atol=1e-6)
