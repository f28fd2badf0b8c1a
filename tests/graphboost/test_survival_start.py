"""The ridge Cox start of GraphBoostSurvivalAnalysis: how each column enters the penalty."""

import numpy as np

from graphboost._cox import RidgeCox, RiskSets, fit_ridge_cox, penalty_scale


def test_penalty_scale_is_the_gap_of_a_two_valued_column_and_the_deviation_otherwise():
    X = np.array(
        [
            [0.0, 1.0, -2.0, 3.0, 7.0],
            [0.0, 2.0, -2.0, 3.0, 7.0],
            [1.0, 4.0, 5.0, 3.0, 7.0],
            [0.0, 5.0, -2.0, 3.0, 7.0],
        ]
    )
    expected = [1.0, X[:, 1].std(), 7.0, 1.0, 1.0]  # indicator, continuous, -2/5, constants
    np.testing.assert_allclose(penalty_scale(X), expected)


def rare_and_common_groups(n=2000, seed=0):
    """Two indicators with the same true hazard ratio (2), one in 1% of the patients."""
    rng = np.random.default_rng(seed)
    rare = (rng.random(n) < 0.01).astype(float)
    common = (rng.random(n) < 0.5).astype(float)
    t = rng.exponential(np.exp(-np.log(2.0) * (rare + common)))
    c = rng.exponential(2.0, n)
    return np.column_stack([rare, common]), np.minimum(t, c), t <= c


def test_the_penalty_shrinks_a_rare_group_more_than_a_common_one():
    X, time, event = rare_and_common_groups()
    model = RidgeCox().fit(X, time, event, [0.05], None, "breslow")
    log_hr = model.coef_ / model.scale_  # per unit of the 0/1 column: the log hazard ratio
    unpenalized = fit_ridge_cox((X - X.mean(0)), RiskSets(time, event), 0.0)
    shrink = log_hr / unpenalized
    assert 0 < shrink[0] < 0.5 * shrink[1] < 0.5
    # On standardized columns the rare group (14 patients) would keep as much of its hazard
    # ratio as the common one (about 1,000).
    Z = (X - X.mean(0)) / X.std(0)
    standardized = fit_ridge_cox(Z, RiskSets(time, event), 0.05) / X.std(0) / unpenalized
    assert abs(standardized[0] - standardized[1]) < 0.05


def test_the_start_predicts_the_same_on_a_recoded_indicator():
    """Coding an indicator 0/1 or -3/4 changes neither the penalty nor the risk."""
    X, time, event = rare_and_common_groups(n=400, seed=1)
    recoded = X.copy()
    recoded[:, 1] = np.where(X[:, 1] == 1, 4.0, -3.0)
    a = RidgeCox().fit(X, time, event, [0.1], None, "breslow")
    b = RidgeCox().fit(recoded, time, event, [0.1], None, "breslow")
    np.testing.assert_allclose(a.decision_function(X), b.decision_function(recoded), atol=1e-6)
