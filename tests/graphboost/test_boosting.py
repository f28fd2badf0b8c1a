"""GraphBoostClassifier: selection, inductive prediction, boosting, explanations, bad input."""

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.compose import make_column_selector
from sklearn.ensemble import AdaBoostClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from graphboost import GraphBoostClassifier, GraphWeakLearner

from .conftest import similarity_cohort

CONVS = ["vote", "appnp", "gcn", "sage", "gat"]
FAST_GNN = {"max_epochs": 15, "n_screen": 1, "hidden_channels": 8}


def _fast(conv, **kw):
    params = {"conv": conv, "n_estimators": 3, "n_neighbors": 5, "random_state": 0, **kw}
    if conv != "vote":
        params.update(FAST_GNN)
    return GraphBoostClassifier(**params)


def test_selects_the_signal_column_first_and_beats_models_without_it():
    X, y = similarity_cohort(n=300)
    X_test, y_test = similarity_cohort(n=300, seed=7)
    clf = GraphBoostClassifier(n_estimators=30, random_state=0).fit(X, y)
    assert clf.selected_graphs_[0].name == "signal"
    assert clf.feature_importances_.argmax() == list(X.columns).index("signal")
    auc = roc_auc_score(y_test, clf.predict_proba(X_test)[:, 1])
    without = GraphBoostClassifier(n_estimators=30, random_state=0).fit(X.drop(columns="signal"), y)
    auc_without = roc_auc_score(y_test, without.predict_proba(X_test.drop(columns="signal"))[:, 1])
    auc_linear = roc_auc_score(y_test, LogisticRegression().fit(X, y).predict_proba(X_test)[:, 1])
    assert auc > 0.8
    assert auc > auc_without + 0.2
    assert auc > auc_linear + 0.2


@pytest.mark.parametrize("conv", CONVS)
def test_prediction_is_batch_invariant(conv, small_cohort):
    """A new patient's prediction never depends on the other rows passed with it."""
    X, y = small_cohort
    clf = _fast(conv).fit(X[:40], y[:40])
    batch = clf.predict_proba(X[40:])
    one_by_one = np.vstack([clf.predict_proba(X[i : i + 1]) for i in range(40, 60)])
    np.testing.assert_allclose(one_by_one, batch, rtol=1e-6, atol=1e-9)
    shuffled = clf.predict_proba(X[40:].iloc[::-1])[::-1]
    np.testing.assert_allclose(shuffled, batch, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("conv", CONVS)
def test_fit_is_deterministic_with_random_state(conv, small_cohort):
    X, y = small_cohort
    a = _fast(conv).fit(X, y).predict_proba(X)
    b = _fast(conv).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)


def test_staged_outputs_and_decision_function(cohort):
    X, y = cohort
    clf = GraphBoostClassifier(n_estimators=8, random_state=0).fit(X, y)
    staged = list(clf.staged_predict_proba(X))
    assert len(staged) == len(clf.estimators_) + 1
    np.testing.assert_allclose(staged[-1], clf.predict_proba(X))
    decision = clf.decision_function(X)
    np.testing.assert_allclose(1 / (1 + np.exp(-decision)), clf.predict_proba(X)[:, 1])
    assert len(clf.estimator_weights_) == len(clf.estimator_errors_) == len(clf.selected_graphs_)
    assert (clf.estimator_errors_ < 0.5).all()


def test_multiclass_with_string_labels():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 5))
    y = np.array(["low", "mid", "high"])[np.digitize(X[:, 2], [-0.4, 0.4])]
    clf = GraphBoostClassifier(n_estimators=10, random_state=0).fit(X, y)
    assert list(clf.classes_) == ["high", "low", "mid"]
    proba = clf.predict_proba(X)
    assert proba.shape == (150, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert (clf.predict(X) == y).mean() > 0.8
    explanation = clf.explain(X[:4])
    sums = explanation.groupby("patient")["contribution"].sum().to_numpy()
    decision = clf.decision_function(X[:4])
    np.testing.assert_allclose(sums, decision[np.arange(4), decision.argmax(axis=1)])


def test_explain_contributions_sum_to_the_decision_function(cohort):
    X, y = cohort
    clf = GraphBoostClassifier(n_estimators=10, random_state=0).fit(X, y)
    explanation = clf.explain(X.iloc[:5], n_neighbors=3)
    assert set(explanation["graph"]) >= {"init", "signal"}
    sums = explanation.groupby("patient")["contribution"].sum().to_numpy()
    np.testing.assert_allclose(sums, clf.decision_function(X.iloc[:5]))
    row = explanation[explanation["graph"] == "signal"].iloc[0]
    assert len(row["neighbors"]) == 3
    # The neighbors are the training patients nearest on the signal column, with their labels.
    value = X["signal"].iloc[row["patient"]]
    nearest = np.argsort(np.abs(X["signal"].to_numpy() - value), kind="stable")[:3]
    assert set(row["neighbors"]) == set(nearest.tolist())
    assert row["neighbor_labels"] == y[row["neighbors"]].tolist()


def test_feature_groups_make_block_candidates():
    rng = np.random.default_rng(0)
    n = 200
    centers = rng.normal(size=(2, 6)) * 2
    y = rng.integers(0, 2, size=n)
    block = centers[y] + rng.normal(size=(n, 6))
    # The block's signal is in its geometry, not in any one linear direction of the rest.
    X = pd.DataFrame(block, columns=[f"emb{i}" for i in range(6)])
    X["age"] = rng.normal(size=n)
    groups = {"embedding": make_column_selector(pattern="^emb")}
    clf = GraphBoostClassifier(
        n_estimators=5, feature_groups=groups, init=None, random_state=0
    ).fit(X, y)
    assert clf.feature_groups_ == {"embedding": list(range(6))}
    assert clf.selected_graphs_[0].name == "embedding"
    assert clf.selected_graphs_[0].is_block
    by_name = GraphBoostClassifier(feature_groups={"embedding": ["emb0", "emb1"]}, n_estimators=2)
    assert by_name.fit(X, y).feature_groups_ == {"embedding": [0, 1]}


def test_threshold_rule_candidates(cohort):
    X, y = cohort
    clf = GraphBoostClassifier(
        n_estimators=10, threshold_quantiles=(0.02,), n_neighbors=10, random_state=0
    ).fit(X, y)
    rules = {s.rule for s in clf.selected_graphs_}
    assert clf.n_candidates_ == 2 * X.shape[1]
    assert rules <= {"knn", "threshold"}
    assert clf.selected_graphs_[0].name == "signal"


def test_reuse_features_false_retires_selected_columns(cohort):
    X, y = cohort
    clf = GraphBoostClassifier(n_estimators=6, reuse_features=False, random_state=0).fit(X, y)
    names = [s.name for s in clf.selected_graphs_]
    assert len(names) == len(set(names))


def test_early_stopping_chooses_the_number_of_rounds(cohort):
    X, y = cohort
    clf = GraphBoostClassifier(
        n_estimators=60, early_stopping=True, n_iter_no_change=5, random_state=0
    ).fit(X, y)
    scores = clf.validation_scores_
    assert scores.shape[1] == 4 and scores.shape[0] <= 61
    best_round, best_scale = np.unravel_index(np.argmin(scores), scores.shape)
    assert len(clf.estimators_) == best_round < 60
    # The signal column helps, so the boosted score is kept.
    assert clf.boost_scale_ == [0.0, 0.25, 0.5, 1.0][best_scale] > 0
    assert clf.selected_graphs_[0].name == "signal"


def test_early_stopping_keeps_the_init_model_when_graphs_do_not_help():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))
    y = (X[:, 0] + 0.3 * rng.normal(size=300) > 0).astype(int)  # linear: nothing for graphs
    clf = GraphBoostClassifier(
        n_estimators=30, early_stopping=True, n_iter_no_change=30, random_state=0
    ).fit(X, y)
    assert clf.boost_scale_ < 1.0
    if clf.boost_scale_ == 0:
        assert clf.estimators_ == []


def test_samme_agrees_with_sklearn_adaboost_on_one_graph(cohort):
    """Oracle: scikit-learn's SAMME around our weak learner on one fixed graph."""
    X, y = cohort
    x = X[["signal"]].to_numpy()

    class InSample(GraphWeakLearner):
        # AdaBoost scores a learner on the training rows; ours uses the leave-self-out vote.
        def fit(self, X, y, sample_weight=None):
            super().fit(X, y, sample_weight)
            self._fit_X = X
            return self

        def predict(self, X):
            if X is self._fit_X:
                return self.classes_[self.train_predictions_]
            return super().predict(X)

    reference = AdaBoostClassifier(InSample(n_neighbors=10), n_estimators=6, learning_rate=0.5).fit(
        x, y
    )
    ours = GraphBoostClassifier(n_estimators=6, learning_rate=0.5, n_neighbors=10, init=None).fit(
        x, y
    )
    n = len(ours.estimators_)
    # Both stop at the same round, when the single graph no longer beats chance.
    assert n == np.count_nonzero(reference.estimator_weights_) >= 3
    np.testing.assert_allclose(ours.estimator_weights_, reference.estimator_weights_[:n])
    np.testing.assert_allclose(ours.estimator_errors_, reference.estimator_errors_[:n])


def test_constant_columns_are_skipped_with_a_warning(cohort):
    X, y = cohort
    X = X.assign(const=1.0)
    with pytest.warns(UserWarning, match=r"Constant columns skipped .*\['const'\]"):
        clf = GraphBoostClassifier(n_estimators=2, random_state=0).fit(X, y)
    assert clf.skipped_features_ == ["const"]
    assert all(s.name != "const" for s in clf.selected_graphs_)


def test_a_constant_block_indicator_is_skipped_without_a_warning(cohort):
    """Regression: every patient holding the block made the CLI print a note on 'img:missing'."""
    X, y = cohort
    X = X.assign(**{"img:missing": 0.0})
    groups = {"img": ["noise0", "noise1"]}
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        clf = GraphBoostClassifier(n_estimators=2, feature_groups=groups, random_state=0).fit(X, y)
    assert clf.skipped_features_ == ["img:missing"]
    with pytest.warns(UserWarning, match=r"Constant columns skipped .*\['const'\]"):
        GraphBoostClassifier(n_estimators=2, feature_groups=groups, random_state=0).fit(
            X.assign(const=1.0), y
        )


def test_no_candidate_beats_chance_leaves_the_init_model():
    rng = np.random.default_rng(0)
    X = np.repeat(rng.normal(size=(1, 2)), 40, axis=0) + rng.normal(size=(40, 2)) * 1e-3
    y = np.tile([0, 1], 20)
    with pytest.warns(UserWarning, match="No candidate graph beat chance"):
        clf = GraphBoostClassifier(n_estimators=3, n_neighbors=39, init=None).fit(X, y)
    assert clf.estimators_ == []
    np.testing.assert_allclose(clf.predict_proba(X), 0.5)


# -- bad input ------------------------------------------------------------------------------
def test_nan_in_X_names_the_column_and_the_preprocessing(cohort):
    X, y = cohort
    X = X.copy()
    X.loc[3, "noise1"] = np.nan
    with pytest.raises(ValueError, match=r"NaN or inf in columns \['noise1'\].*does not impute"):
        GraphBoostClassifier().fit(X, y)
    clf = GraphBoostClassifier(n_estimators=2).fit(X.fillna(0), y)
    X.loc[4, "signal"] = np.inf
    with pytest.raises(ValueError, match=r"features.ClinicalPreprocessor"):
        clf.predict(X)


def test_single_class_is_an_error(cohort):
    X, _ = cohort
    with pytest.raises(ValueError, match="needs at least 2 classes in y; got 1 class: \\[1\\]"):
        GraphBoostClassifier().fit(X, np.ones(len(X), dtype=int))


def test_too_few_patients_in_a_class(cohort):
    X, y = cohort
    y = np.zeros(len(X), dtype=int)
    y[:2] = 1
    with pytest.raises(ValueError, match="at least 3 patients in each class for the inner 3-fold"):
        GraphBoostClassifier().fit(X, y)
    y[1] = 0
    with pytest.raises(ValueError, match="at least 2 patients in each class for the internal"):
        GraphBoostClassifier(conv="gcn", init=None).fit(X, y)
    with pytest.raises(ValueError, match="at least 2 patients in each class for the internal"):
        GraphBoostClassifier(early_stopping=True, init=None).fit(X, y)


def test_columns_at_predict_time_must_match_fit(cohort):
    X, y = cohort
    clf = GraphBoostClassifier(n_estimators=2).fit(X, y)
    with pytest.raises(ValueError, match="X has 12 features, but GraphBoostClassifier is"):
        clf.predict(X.iloc[:, :12].to_numpy())
    renamed = X.rename(columns={"signal": "sig"})
    with pytest.raises(ValueError, match=r"(?s)unseen at fit time:\n- sig.*missing:\n- signal"):
        clf.predict(renamed)


def test_unknown_conv_lists_the_choices(cohort):
    X, y = cohort
    with pytest.raises(
        ValueError,
        match=r"'conv' parameter of GraphBoostClassifier must be one of "
        r"\{'appnp', 'gat', 'gcn', 'sage', 'vote'\}; got 'gcnn'. Did you mean 'gcn'\?",
    ):
        GraphBoostClassifier(conv="gcnn").fit(X, y)


def test_feature_groups_naming_a_missing_column(cohort):
    X, y = cohort
    with pytest.raises(ValueError, match=r"feature_groups\['mri'\] names columns not in X"):
        GraphBoostClassifier(feature_groups={"mri": ["signal", "nope"]}).fit(X, y)
    with pytest.raises(ValueError, match=r"callable, which needs X as a DataFrame"):
        GraphBoostClassifier(feature_groups={"mri": make_column_selector()}).fit(X.to_numpy(), y)


def test_k_larger_than_the_training_set(small_cohort):
    X, y = small_cohort
    with pytest.raises(ValueError, match=r"n_neighbors=60 must be smaller .*n_samples=60"):
        GraphBoostClassifier(n_neighbors=(5, 60)).fit(X, y)
    with pytest.raises(ValueError, match=r"threshold_quantiles.*in \(0, 1\)"):
        GraphBoostClassifier(threshold_quantiles=(1.5,)).fit(X, y)


def test_unfitted_and_negative_weights(small_cohort):
    X, y = small_cohort
    with pytest.raises(ValueError, match="Negative values in data passed to `sample_weight`"):
        GraphBoostClassifier().fit(X, y, sample_weight=-np.ones(len(y)))
    with pytest.raises(ValueError, match="at least one non-zero number"):
        GraphBoostClassifier().fit(X, y, sample_weight=np.zeros(len(y)))


def test_patients_lacking_a_block_are_not_linked_through_it(tmp_path):
    rng = np.random.default_rng(0)
    n = 120
    y = rng.integers(0, 2, size=n)
    X = pd.DataFrame(
        y[:, None] * 2.0 + rng.normal(size=(n, 4)), columns=[f"mri:e{i}" for i in range(4)]
    )
    lacking = rng.uniform(size=n) < 0.2
    X.loc[lacking, X.columns] = 0.0  # imputed: all alike
    X["mri:missing"] = lacking.astype(float)
    X["age"] = rng.normal(size=n)
    clf = GraphBoostClassifier(
        n_estimators=4,
        n_neighbors=5,
        feature_groups={"mri": [f"mri:e{i}" for i in range(4)]},
        init=None,
        random_state=0,
    ).fit(X, y)
    block = [e for e in clf.estimators_ if e.graph_spec_.name == "mri"]
    assert block, "the informative block should be selected"
    neighbors = block[0].graph_.neighbors_train()
    assert (neighbors[lacking] == -1).all()
    assert not np.isin(neighbors[~lacking], np.flatnonzero(lacking)).any()
    explained = clf.explain(X[lacking][:3])
    assert all(len(r) == 0 for r in explained.loc[explained["graph"] == "mri", "neighbors"])
    assert np.isfinite(clf.predict_proba(X[lacking])).all()
    clf.save(tmp_path / "m")
    from graphboost import load

    np.testing.assert_array_equal(load(tmp_path / "m").predict_proba(X), clf.predict_proba(X))


def test_parameters_are_keyword_only():
    with pytest.raises(TypeError, match="positional argument"):
        GraphBoostClassifier(10)
    with pytest.raises(TypeError, match="positional argument"):
        GraphWeakLearner((0,))


def test_one_meaning_per_name():
    """learning_rate is the shrinkage; the Adam step is lr (weak learner) and gnn_lr."""
    boost = GraphBoostClassifier().get_params()
    assert boost["learning_rate"] == 0.1 and boost["gnn_lr"] == 0.01
    assert "gnn_learning_rate" not in boost
    weak = GraphWeakLearner().get_params()
    assert weak["lr"] == 0.01 and "learning_rate" not in weak
    learner = GraphBoostClassifier(gnn_lr=0.123, conv="gcn")._learner(seed=0)
    assert learner.lr == 0.123


def test_explanation_columns_use_american_spelling(small_cohort):
    X, y = small_cohort
    clf = GraphBoostClassifier(n_estimators=2, n_neighbors=5, random_state=0).fit(X, y)
    assert list(clf.explain(X.iloc[:2]).columns) == [
        "patient",
        "graph",
        "step",
        "source",
        "rule",
        "rounds",
        "contribution",
        "log_odds",
        "risk_before",
        "risk_after",
        "risk_change_pp",
        "neighborhood_size",
        "neighbor_outcome_rate",
        "tie_group_size",
        "value",
        "value_low",
        "value_high",
        "neighbors",
        "neighbor_labels",
    ]


def test_bad_device_is_a_clear_error(small_cohort):
    X, y = small_cohort
    with pytest.raises(ValueError, match="The 'device' parameter must be 'auto', 'cpu', 'cuda'"):
        GraphBoostClassifier(conv="gcn", device="gpu", n_neighbors=5).fit(X, y)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="'cuda:1' but torch sees no CUDA device"):
            GraphBoostClassifier(conv="gcn", device="cuda:1", n_neighbors=5).fit(X, y)
