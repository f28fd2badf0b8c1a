"""GraphBoostSurvivalAnalysis computes what its definition says, to 1e-10, whatever the speed-ups.

Each fast path (prefix sums over sorted columns, shared risk-set sums, candidates with equal
neighborhoods screened once, sorted orders reused across the guard's inner folds) is compared
with a direct implementation written here from the definitions: brute-force neighborhoods, the
partial likelihood summed risk set by risk set, the inner folds refitted one by one.
"""

import numpy as np
import pytest

from graphboost import GraphBoostSurvivalAnalysis
from graphboost._candidates import candidate_graphs
from graphboost._cox import RiskSets
from graphboost._survival_boost import SURVIVAL_SCALES, SurvivalBoosting

SURV_DTYPE = [("event", bool), ("time", np.float64)]


def mixed_cohort(n=160, seed=0):
    """Continuous, count (many ties), binary and constant-free columns; tied times; censoring."""
    rng = np.random.default_rng(seed)
    age = rng.normal(size=n)
    nodes = rng.poisson(1.5, n).astype(float)
    grade = (rng.random(n) < 0.6).astype(float)
    size = rng.lognormal(0, 0.5, n)
    X = np.column_stack([age, nodes, grade, size])
    risk = 0.8 * np.sin(2 * age) + 0.4 * np.log1p(nodes) + 0.5 * grade
    t = rng.exponential(np.exp(-risk))
    c = rng.exponential(1.5, n)
    y = np.empty(n, dtype=SURV_DTYPE)
    y["event"], y["time"] = t <= c, np.round(np.minimum(t, c), 1) + 0.1  # tied times
    return X, y


def direct_loglik(eta, time, event):
    """Breslow's log partial likelihood, one risk set at a time."""
    return sum(eta[i] - np.log(np.exp(eta[time >= time[i]]).sum()) for i in np.flatnonzero(event))


def direct_neighborhoods(x, spec):
    """Boolean matrix: patient j is a neighbor of patient i (i itself excluded) on one column."""
    dist = np.abs(x[:, None] - x[None, :])
    np.fill_diagonal(dist, np.inf)
    if spec.rule == "knn":
        radius = np.sort(dist, axis=1)[:, spec.n_neighbors - 1]  # whole tie groups kept
    else:
        radius = np.full(x.shape[0], spec.threshold)
    return dist <= radius[:, None] * (1 + 1e-12) + 1e-12


def direct_boosting(X, risk_sets, start, candidates, n_rounds, rate, l2):
    """The rounds from their definition: every candidate's leave-self-out Newton step."""
    masks = [direct_neighborhoods(X[:, c.columns[0]], c.spec) for c in candidates]
    score, chosen, gains = start.copy(), [], []
    for _ in range(n_rounds):
        g, h = risk_sets.gradient_hessian(score)
        steps = [-rate * (m @ g) / (m @ h + l2) for m in masks]
        round_gains = [float(np.sum(s * (g + 0.5 * h * s))) for s in steps]
        best = int(np.argmin(round_gains))
        score = score + steps[best]
        chosen.append(candidates[best].spec)
        gains.append(round_gains[best])
    return score - start, chosen, np.array(gains)


@pytest.mark.parametrize("ties", ["breslow", "efron"])
def test_one_pass_loglik_and_gradient_equal_the_separate_ones(ties):
    X, y = mixed_cohort()
    risk_sets = RiskSets(y["time"], y["event"], ties)
    eta = np.random.default_rng(1).normal(size=X.shape[0])
    value, grad = risk_sets.loglik_gradient(eta)
    assert value == risk_sets.loglik(eta)
    np.testing.assert_array_equal(grad, risk_sets.gradient_hessian(eta)[0])
    if ties == "breslow":
        assert value == pytest.approx(direct_loglik(eta, y["time"], y["event"]), rel=1e-12)


@pytest.mark.parametrize("quantiles", [(), (0.1,)])
def test_boosting_rounds_match_brute_force_neighborhoods(quantiles):
    X, y = mixed_cohort()
    names = ["age", "nodes", "grade", "size"]
    candidates, _ = candidate_graphs(X, names, [5, 20, 40], quantiles, {}, "euclidean")
    risk_sets = RiskSets(y["time"], y["event"])
    start = 0.3 * X[:, 0]
    boosting = SurvivalBoosting(candidates, 15, 0.1, 1.0, True).fit(X, risk_sets, start)
    boost, chosen, gains = direct_boosting(X, risk_sets, start, candidates, 15, 0.1, 1.0)
    assert [learner.spec for learner in boosting.learners_] == chosen
    np.testing.assert_allclose(boosting.gains_, gains, rtol=1e-10)
    np.testing.assert_allclose(boosting.train_boost_, boost, rtol=0, atol=1e-10)


def test_binary_column_candidates_with_equal_neighborhoods_are_one_graph():
    X, y = mixed_cohort()
    candidates, _ = candidate_graphs(X[:, 2:3], ["grade"], [5, 20, 40], (), {}, "euclidean")
    risk_sets = RiskSets(y["time"], y["event"])
    boosting = SurvivalBoosting(candidates, 3, 0.1, 1.0, True).fit(
        X[:, 2:3], risk_sets, 0 * X[:, 0]
    )
    # On a 0/1 column every k keeps the whole tie group: the first of the equal candidates wins.
    assert [learner.spec.n_neighbors for learner in boosting.learners_] == [5, 5, 5]


def test_guard_scores_are_those_of_the_inner_folds_refitted_one_by_one():
    X, y = mixed_cohort(n=200, seed=3)
    # The additive model (test_survival_leaf.py checks the guard's scores with leaf graphs).
    params = {"n_estimators": 20, "n_neighbors": (10, 30), "cv": 3, "random_state": 0}
    params["interaction_depth"] = 0
    model = GraphBoostSurvivalAnalysis(**params).fit(X, y)
    folds = model._folds(X, y["event"])
    for f, (train, test) in enumerate(folds):
        inner = GraphBoostSurvivalAnalysis(**params, alphas=[model.alpha_], boost_scale=1.0).fit(
            X[train], y[train]
        )
        base = inner.init_.decision_function(X[test])
        boost = inner.predict(X[test]) - base
        per_event = y["event"][test].sum()
        for s, scale in enumerate(SURVIVAL_SCALES):
            for part, eta in enumerate((base + scale * boost, scale * boost)):
                expected = direct_loglik(eta, y["time"][test], y["event"][test]) / per_event
                assert model.scale_scores_[f, part, s] == pytest.approx(expected, rel=1e-9)


# Risk scores of the first five held-out patients, recorded before the speed-ups of issue 21
# (commit abec5ce); they change only with an intended and explained change of the method.
# Changed once: the ridge Cox start divides a two-valued column by its gap, not its deviation
# (graphboost._cox.penalty_scale; the values before were -0.5785, -0.1447, 0.2213, 0.0533, 0.0881).
FROZEN_RISK = [
    -0.5730322781580637,
    -0.10468692219493836,
    0.2037663389461406,
    0.09302675985066627,
    0.0946373776695337,
]


def test_predictions_are_those_recorded_before_the_speedups():
    X, y = mixed_cohort(n=260, seed=5)
    model = GraphBoostSurvivalAnalysis(
        n_estimators=30,
        n_neighbors=(10, 40),
        threshold_quantiles=(0.1,),
        alphas=[0.01],
        boost_scale=1.0,
        interaction_depth=0,  # the additive model of the recording (the default since has leaves)
        random_state=0,
    ).fit(X[:200], y[:200])
    np.testing.assert_allclose(model.predict(X[200:205]), FROZEN_RISK, rtol=0, atol=1e-10)


def test_held_out_score_round_by_round_is_the_score_of_the_kept_learners():
    """The guard's folds keep no learner: their held-out score is the same sum, bit for bit."""
    from graphboost._survival_boost import boosted_score

    X, y = mixed_cohort(n=220, seed=2)
    names = ["age", "nodes", "grade", "size"]
    candidates, _ = candidate_graphs(X[:180], names, [5, 20], (0.1,), {}, "euclidean")
    risk_sets = RiskSets(y["time"][:180], y["event"][:180])
    start = 0.2 * X[:180, 1]
    kept = SurvivalBoosting(candidates, 25, 0.1, 1.0, True).fit(X[:180], risk_sets, start)
    rounds = SurvivalBoosting(candidates, 25, 0.1, 1.0, True)
    rounds.fit(X[:180], risk_sets, start, X[180:])
    assert rounds.learners_ == [] and len(kept.learners_) == 25
    np.testing.assert_array_equal(rounds.held_out_score_, boosted_score(kept.learners_, X[180:]))
    np.testing.assert_array_equal(rounds.train_boost_, kept.train_boost_)
