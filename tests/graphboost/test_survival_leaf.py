"""GraphBoostSurvivalAnalysis with ``interaction_depth > 0``: each round may take a leaf graph
(patients sharing a leaf of a shallow tree fitted to the round's gradient on half the patients,
judged on the other half). What a leaf round computes, that it finds an interaction the
additive model cannot, batch invariance, saving, explanations and the parameter's checks."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.utils._param_validation import InvalidParameterError

from graphboost import GraphBoostSurvivalAnalysis, load
from graphboost._candidates import candidate_graphs
from graphboost._cox import RiskSets
from graphboost._leaf_graphs import LeafGraph
from graphboost._survival_boost import SurvivalBoosting, boosted_score

from .conftest import rewrite_model_json

SURV_DTYPE = [("event", bool), ("time", np.float64)]


def interaction_cohort(n=500, seed=0):
    """Risk high only where two columns are both positive: no sum of one-column smooths has it."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    risk = 1.5 * ((X[:, 0] > 0) & (X[:, 1] > 0)) - 0.75 * ((X[:, 0] > 0) | (X[:, 1] > 0))
    t = rng.exponential(np.exp(-risk))
    c = rng.exponential(2.0, size=n)
    y = np.empty(n, dtype=SURV_DTYPE)
    y["event"], y["time"] = t <= c, np.round(np.minimum(t, c), 3) + 0.001
    return pd.DataFrame(X, columns=["a", "b", "noise0", "noise1"]), y


@pytest.fixture(scope="module")
def cohort():
    return interaction_cohort()


@pytest.fixture(scope="module")
def fitted(cohort):
    X, y = cohort
    return GraphBoostSurvivalAnalysis(
        n_estimators=40, n_neighbors=(20, 50), interaction_depth=2, random_state=0
    ).fit(X[:400], y[:400])


def leaf_learners(model):
    return [e for e in model.estimators_ if isinstance(e.graph, LeafGraph)]


def test_leaf_graphs_find_an_interaction_the_additive_model_misses(cohort, fitted):
    X, y = cohort
    additive = GraphBoostSurvivalAnalysis(
        n_estimators=40, n_neighbors=(20, 50), interaction_depth=0, random_state=0
    ).fit(X[:400], y[:400])
    assert not leaf_learners(additive)
    leaves = leaf_learners(fitted)
    assert len(leaves) >= 5
    assert all(set(e.spec.columns) <= {"a", "b", "noise0", "noise1"} for e in leaves)
    assert any({"a", "b"} <= set(e.spec.columns) for e in leaves)
    assert fitted.boost_scale_ > 0
    assert fitted.score(X[400:], y[400:]) > additive.score(X[400:], y[400:]) + 0.02
    assert fitted.feature_importances_.sum() == pytest.approx(1.0)


def test_a_leaf_round_is_the_newton_step_of_the_new_patients_leaf_mates(cohort, fitted):
    """Brute force: the training patients that fall in the new patient's leaf."""
    X, _ = cohort
    train, queries = X.to_numpy()[:400], X.to_numpy()[400:]
    for learner in leaf_learners(fitted)[:4]:
        graph = learner.graph
        np.testing.assert_array_equal(graph.leaves(train), graph.train_leaf)
        assert graph.spec.rule == "leaf" and str(graph.spec).startswith("GraphSpec(leaf on")
        g, h = learner.gh[:, 0], learner.gh[:, 1]
        expected = []
        for leaf in graph.leaves(queries):
            mates = graph.train_leaf == leaf
            assert mates.sum() >= 20  # min(n_neighbors) of the half the tree was fitted on
            expected.append(-learner.learning_rate * g[mates].sum() / (h[mates].sum() + 1.0))
        np.testing.assert_allclose(learner.predict(queries), expected, rtol=1e-9, atol=1e-12)
    total = sum(learner.predict(queries) for learner in fitted.estimators_)
    np.testing.assert_allclose(
        fitted.predict(X.iloc[400:]),
        fitted.init_.decision_function(queries) + fitted.boost_scale_ * total,
        rtol=1e-9,
        atol=1e-12,
    )


def test_a_leaf_is_the_patients_that_meet_its_conditions(cohort, fitted):
    X, _ = cohort
    graph = leaf_learners(fitted)[0].graph
    names = list(X.columns)
    leaves = graph.leaves(X.to_numpy())
    for leaf in range(graph.n_leaves):
        meets = np.ones(len(X), dtype=bool)
        for condition in graph.rule(leaf, names).split(", "):
            parts = condition.split(" ")
            if len(parts) == 5:  # low < name <= high
                low, name, high = float(parts[0]), parts[2], float(parts[4])
                meets &= (X[name] > low - 1e-3) & (X[name] <= high + 1e-3)
            elif parts[1] == "<=":
                meets &= X[parts[0]] <= float(parts[2]) + 1e-3
            else:
                meets &= X[parts[0]] > float(parts[2]) - 1e-3
        assert meets[leaves == leaf].all()


def test_the_guard_scores_leaf_rounds_as_prediction_does(cohort):
    """Regression: the guard's held-out score found each graph's neighbors once per graph, keyed
    by the graph's id; a round's leaf graph, held by nothing else once its round was scored, was
    freed and a later graph could get its id and its neighbors."""
    X, y = cohort
    X = X.to_numpy()
    names = ["a", "b", "noise0", "noise1"]
    candidates = candidate_graphs(X[:400], names, (20, 50), (), {}, "euclidean")[0]

    def boosting():
        return SurvivalBoosting(
            candidates,
            30,
            0.1,
            1.0,
            True,
            interaction_depth=2,
            min_leaf=20,
            random_state=3,
            names=names,
        )

    risk_sets = RiskSets(y["time"][:400], y["event"][:400])
    start = np.zeros(400)
    kept = boosting().fit(X[:400], risk_sets, start)
    held = boosting().fit(X[:400], risk_sets, start, X_held_out=X[400:])
    assert any(isinstance(e.graph, LeafGraph) for e in kept.learners_)
    np.testing.assert_allclose(
        held.held_out_score_, boosted_score(kept.learners_, X[400:]), rtol=1e-12, atol=1e-14
    )


def test_prediction_is_batch_invariant_and_refits_are_identical(cohort, fitted):
    X, y = cohort
    rng = np.random.default_rng(1)
    queries = pd.DataFrame(rng.normal(size=(300, 4)), columns=X.columns)
    batch = fitted.predict(queries)
    alone = np.array([fitted.predict(queries.iloc[[i]])[0] for i in range(0, 300, 30)])
    np.testing.assert_array_equal(alone, batch[::30])
    again = GraphBoostSurvivalAnalysis(**fitted.get_params()).fit(X[:400], y[:400])
    np.testing.assert_array_equal(again.predict(queries), batch)
    assert again.selected_graphs_ == fitted.selected_graphs_


def test_save_load_and_pickle_predict_exactly_the_same(cohort, fitted, tmp_path):
    X, _ = cohort
    fitted.save(tmp_path / "model")
    loaded = load(tmp_path / "model")
    np.testing.assert_array_equal(loaded.predict(X[400:]), fitted.predict(X[400:]))
    assert loaded.selected_graphs_ == fitted.selected_graphs_
    assert loaded.get_params()["interaction_depth"] == 2
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(fitted)).predict(X[400:]), fitted.predict(X[400:])
    )


def test_explanations_of_a_leaf_graph(cohort, fitted):
    X, _ = cohort
    table = fitted.explain(X.iloc[400:403], n_neighbors=5)
    np.testing.assert_allclose(
        table.groupby("patient", sort=False)["log_hazard"].sum().to_numpy(),
        fitted.predict(X.iloc[400:403]),
        rtol=1e-9,
        atol=1e-12,
    )
    rows = table[table["rule"].str.startswith("GraphSpec(leaf")]
    assert len(rows) > 0
    assert rows["source"].str.contains(r": same leaf \(.+\)$").all()
    assert rows["value"].isna().all()
    assert (rows["neighborhood_size"] >= 20).all()
    assert all(n == [] for n in rows["neighbors"])  # a leaf's patients are equally similar
    step = int(rows["step"].iloc[0])
    curves = fitted.neighbor_survival(X.iloc[400:403], patient=400, graph=step)
    graph = fitted._stacked.groups[step - 1][0]
    leaf = int(graph.leaves(X.to_numpy()[400:401])[0])
    np.testing.assert_array_equal(curves.neighborhood, graph.members(leaf))
    assert curves.source.endswith(f"({graph.rule(leaf, list(X.columns))})")
    first = rows[rows["patient"] == 400].iloc[0]
    assert first["source"] == curves.source
    assert first["neighborhood_size"] == curves.neighborhood.shape[0]
    assert first["neighbor_survival_at_horizon"] == pytest.approx(
        curves.neighbor_survival_at_horizon
    )


@pytest.mark.parametrize("depth", [-1, 1.5, "2"])
def test_bad_interaction_depth_is_refused(cohort, depth):
    X, y = cohort
    with pytest.raises(InvalidParameterError, match="'interaction_depth' parameter"):
        GraphBoostSurvivalAnalysis(interaction_depth=depth).fit(X, y)


def test_depth_0_is_the_additive_model_and_leaves_the_random_state_alone(cohort):
    X, y = cohort
    assert GraphBoostSurvivalAnalysis().interaction_depth == 3  # the default has leaf graphs
    rng = np.random.RandomState(5)
    model = GraphBoostSurvivalAnalysis(n_estimators=5, interaction_depth=0, random_state=rng)
    model.fit(X, y)
    assert not leaf_learners(model)
    reference = np.random.RandomState(5)
    reference.randint(2**31 - 1)  # the inner folds' seed, the one draw of a fit
    assert rng.randint(1000) == reference.randint(1000)


def test_a_folder_saved_before_interaction_depth_loads_as_the_additive_model(cohort, tmp_path):
    """Folders written before the parameter existed hold an additive model: they load with
    ``interaction_depth=0``, not with the later default, and predict as they were saved."""
    X, y = cohort
    model = GraphBoostSurvivalAnalysis(n_estimators=5, interaction_depth=0, random_state=0)
    model.fit(X[:300], y[:300]).save(tmp_path / "model")
    rewrite_model_json(tmp_path / "model", lambda meta: meta["params"].pop("interaction_depth"))
    loaded = load(tmp_path / "model")
    assert loaded.interaction_depth == 0
    np.testing.assert_array_equal(loaded.predict(X[300:]), model.predict(X[300:]))
