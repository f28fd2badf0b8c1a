"""GraphBoostSurvivalAnalysis: the Cox pieces against scikit-survival, the guard, batch
invariance, the input checks, the estimator contract and the saved model."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import (
    check_estimators_unfitted,
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_set_params,
)

import graphboost
from graphboost import (
    GraphBoostClassifier,
    GraphBoostSurvivalAnalysis,
    StepFunction,
    concordance_index,
    load,
)
from graphboost._cox import RiskSets

SURV_DTYPE = [("event", bool), ("time", np.float64)]


def surv(event, time):
    y = np.empty(len(time), dtype=SURV_DTYPE)
    y["event"], y["time"] = event, time
    return y


def survival_cohort(n=240, n_noise=4, seed=0, signal=True):
    """Times driven by a linear column and by bands of another (visible to neighbors only)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2 + n_noise))
    risk = 0.7 * X[:, 0] + 1.2 * np.sin(2.5 * X[:, 1]) if signal else np.zeros(n)
    t = rng.exponential(np.exp(-risk))
    c = rng.exponential(2.0, size=n)
    frame = pd.DataFrame(X, columns=["linear", "bands", *[f"noise{i}" for i in range(n_noise)]])
    return frame, surv(t <= c, np.round(np.minimum(t, c), 2) + 0.01)


@pytest.fixture(scope="module")
def cohort():
    return survival_cohort()


@pytest.fixture(scope="module")
def fitted(cohort):
    X, y = cohort
    return GraphBoostSurvivalAnalysis(n_estimators=30, n_neighbors=(10, 30), random_state=0).fit(
        X[:180], y[:180]
    )


# -- the Cox pieces and Harrell's C ------------------------------------------------------------
def test_concordance_hand_cases():
    # Events at 1 and 2, a censoring at 3: pairs (1,2), (1,3), (2,3) are comparable.
    event, time = np.array([True, True, False]), np.array([1.0, 2.0, 3.0])
    assert concordance_index(event, time, np.array([3.0, 2.0, 1.0])) == 1.0
    assert concordance_index(event, time, np.array([1.0, 2.0, 3.0])) == 0.0
    assert concordance_index(event, time, np.array([1.0, 1.0, 1.0])) == 0.5
    # An event and a censoring at the same time: comparable, the event counts as first.
    assert concordance_index(np.array([True, False]), np.array([2.0, 2.0]), [2.0, 1.0]) == 1.0
    # Two events at the same time: not comparable; no comparable pair at all gives NaN.
    assert np.isnan(concordance_index(np.array([True, True]), np.array([2.0, 2.0]), [2.0, 1.0]))


def test_concordance_matches_scikit_survival():
    metrics = pytest.importorskip("sksurv.metrics")
    rng = np.random.default_rng(0)
    for trial in range(60):
        n = int(rng.integers(3, 80))
        time = rng.integers(1, 8, n).astype(float)  # many tied times
        event = rng.uniform(size=n) < 0.6
        event[0] = True
        risk = rng.integers(0, 4, n).astype(float) if trial % 2 else rng.normal(size=n)
        expected = metrics.concordance_index_censored(event, time, risk, tied_tol=0)[0]
        assert concordance_index(event, time, risk) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("ties", ["breslow", "efron"])
def test_gradient_and_hessian_are_the_derivatives_of_the_partial_likelihood(ties):
    rng = np.random.default_rng(1)
    n = 40
    time = rng.integers(1, 10, n).astype(float)  # tied event times
    event = rng.uniform(size=n) < 0.7
    risk_sets = RiskSets(time, event, ties)
    eta = rng.normal(size=n)
    grad, hess = risk_sets.gradient_hessian(eta)
    eps = 1e-4
    for i in range(n):
        step = np.zeros(n)
        step[i] = eps
        up, down = risk_sets.loglik(eta + step), risk_sets.loglik(eta - step)
        assert -(up - down) / (2 * eps) == pytest.approx(grad[i], abs=1e-6)
        curvature = -(up - 2 * risk_sets.loglik(eta) + down) / eps**2
        assert curvature == pytest.approx(hess[i], rel=1e-3, abs=1e-5)
    assert grad.sum() == pytest.approx(0.0, abs=1e-10)  # Cox scores are shift invariant


@pytest.mark.parametrize("ties", ["breslow", "efron"])
def test_ridge_start_and_breslow_baseline_match_scikit_survival(ties):
    linear_model = pytest.importorskip("sksurv.linear_model")
    X, y = survival_cohort(n=150, seed=3)
    Z = (X.to_numpy() - X.to_numpy().mean(axis=0)) / X.to_numpy().std(axis=0)
    y["time"] = np.round(y["time"], 1) + 0.1  # tied times
    alpha = 0.5
    ours = GraphBoostSurvivalAnalysis(n_estimators=0, alphas=[alpha / len(y)], ties=ties)
    ours.fit(Z, y)
    theirs = linear_model.CoxPHSurvivalAnalysis(alpha=alpha, ties=ties).fit(Z, y)
    np.testing.assert_allclose(ours.init_.coef_, theirs.coef_, atol=1e-5)
    np.testing.assert_allclose(ours.unique_times_, theirs.unique_times_)
    if ties == "breslow":  # scikit-survival's baseline is Breslow's whatever the ties
        np.testing.assert_allclose(
            ours.predict_survival_function(Z[:5], return_array=True),
            theirs.predict_survival_function(Z[:5], return_array=True),
            atol=1e-5,
        )


# -- the method ----------------------------------------------------------------------------------
def test_neighbors_find_the_bands_a_cox_model_misses(cohort, fitted):
    X, y = cohort
    start_only = GraphBoostSurvivalAnalysis(n_estimators=0, random_state=0).fit(X[:180], y[:180])
    assert fitted.boost_scale_ > 0
    assert "bands" in {spec.name for spec in fitted.selected_graphs_}
    assert fitted.score(X[180:], y[180:]) > start_only.score(X[180:], y[180:]) + 0.03
    assert fitted.feature_importances_.sum() == pytest.approx(1.0)
    assert fitted.feature_importances_[1] == fitted.feature_importances_.max()


def test_pure_noise_keeps_the_ridge_cox_start_in_most_seeds():
    """Times independent of X: the guard gives the boosted score weight 0 in 4 of 5 seeds (a
    sample of 200 may hold a chance pattern that its own inner folds all see)."""
    scales = []
    for seed in range(5):
        X, y = survival_cohort(n=200, seed=10 + seed, signal=False)
        model = GraphBoostSurvivalAnalysis(
            n_estimators=30, n_neighbors=(10, 30), random_state=seed
        ).fit(X, y)
        assert len(model.estimators_) == 30
        assert model.scale_scores_.shape == (5, 2, 4)
        scales.append(model.boost_scale_)
        if model.boost_scale_ == 0:
            np.testing.assert_array_equal(
                model.predict(X), model.init_.decision_function(X.to_numpy())
            )
    assert scales.count(0.0) >= 4, scales


def test_tie_groups_are_whole():
    """Regression: taking "the k nearest" inside a tie group by row order fitted follow-up time
    through the row order (design notes, section 8). Every patient of a tie group of a binary
    column must get the same step, whatever the row order."""
    rng = np.random.default_rng(0)
    n = 120
    X = np.column_stack([rng.integers(0, 2, n), rng.normal(size=n)]).astype(float)
    y = surv(np.ones(n, dtype=bool), np.arange(1.0, n + 1))  # time follows the row order
    model = GraphBoostSurvivalAnalysis(
        n_estimators=5, n_neighbors=10, init=None, random_state=0
    ).fit(X[:, :1], y)
    steps = model.estimators_[0].predict(X[:, :1])
    for value in (0.0, 1.0):
        assert np.unique(steps[X[:, 0] == value]).size == 1


def test_a_round_is_the_newton_step_of_the_new_patients_training_neighbors(cohort, fitted):
    """Brute force: the training patients within the k-th nearest distance (ties kept)."""
    X, _ = cohort
    queries = X.to_numpy()[180:200]
    for learner in fitted.estimators_[:6]:
        spec = learner.spec
        x_train = X[spec.name].to_numpy()[:180]
        g, h = learner.gh[:, 0], learner.gh[:, 1]
        expected = []
        for value in queries[:, list(X.columns).index(spec.name)]:
            distance = np.abs(x_train - value)
            near = distance <= np.sort(distance)[spec.n_neighbors - 1]
            expected.append(-learner.learning_rate * g[near].sum() / (h[near].sum() + 1.0))
        np.testing.assert_allclose(learner.predict(queries), expected, rtol=1e-9, atol=1e-12)
    total = sum(learner.predict(queries) for learner in fitted.estimators_)
    np.testing.assert_allclose(
        fitted.predict(X.iloc[180:200]),
        fitted.init_.decision_function(queries) + fitted.boost_scale_ * total,
        rtol=1e-9,
        atol=1e-12,
    )


def test_prediction_is_batch_invariant(cohort, fitted):
    X, _ = cohort
    rng = np.random.default_rng(0)
    queries = pd.DataFrame(
        rng.normal(size=(1100, X.shape[1])), columns=X.columns
    )  # over 1,024 rows: the sorted-batch search
    batch = fitted.predict(queries)
    alone = np.array([fitted.predict(queries.iloc[[i]])[0] for i in range(0, 1100, 55)])
    np.testing.assert_array_equal(alone, batch[::55])
    order = rng.permutation(1100)
    np.testing.assert_array_equal(fitted.predict(queries.iloc[order]), batch[order])


def test_efron_ties_fit_and_predict(cohort):
    X, y = cohort
    y = y.copy()
    y["time"] = np.ceil(y["time"] * 4) / 4  # many tied times
    model = GraphBoostSurvivalAnalysis(n_estimators=10, n_neighbors=20, ties="efron")
    assert model.fit(X, y).score(X, y) > 0.6


def test_blocks_and_threshold_graphs_are_candidates(cohort):
    X, y = cohort
    model = GraphBoostSurvivalAnalysis(
        n_estimators=10,
        n_neighbors=15,
        threshold_quantiles=(0.05,),
        feature_groups={"pair": ["linear", "bands"]},
        boost_scale=1.0,
        random_state=0,
    ).fit(X, y)
    assert model.n_candidates_ == 6 * 2 + 1
    assert np.isfinite(model.predict(X)).all()


# -- predictions in scikit-survival's conventions --------------------------------------------------
def test_survival_and_hazard_functions(cohort, fitted):
    X, _ = cohort
    functions = fitted.predict_survival_function(X[:3])
    hazards = fitted.predict_cumulative_hazard_function(X[:3])
    surv_array = fitted.predict_survival_function(X[:3], return_array=True)
    hazard_array = fitted.predict_cumulative_hazard_function(X[:3], return_array=True)
    times = fitted.unique_times_
    assert surv_array.shape == hazard_array.shape == (3, times.shape[0])
    np.testing.assert_allclose(surv_array, np.exp(-hazard_array))
    for f, h, row_s, row_h in zip(functions, hazards, surv_array, hazard_array, strict=True):
        np.testing.assert_allclose(f(times), row_s)
        np.testing.assert_allclose(h(times), row_h)
        assert f(0.0) == 1.0 and h(0.0) == 0.0
        assert np.all(np.diff(row_s) <= 0)
    risk = fitted.predict(X[:3])
    mid = times[len(times) // 2]
    by_risk = np.argsort(risk)
    assert np.all(np.diff([functions[i](mid) for i in by_risk]) <= 0)
    with pytest.raises(ValueError, match=r"must lie within the domain \[0, "):
        functions[0](times[-1] + 1)


def test_step_function():
    f = StepFunction(np.array([1.0, 3.0]), np.array([2.0, 4.0]), a=0.5, b=1.0)
    assert f(1.0) == 2.0 and f(2.9) == 2.0 and f(3.0) == 3.0
    assert f(0.5) == 2.0  # before the first step: a * y[0] + b, as scikit-survival
    assert StepFunction([1.0], [0.9], left=1.0)(0.0) == 1.0
    with pytest.raises(ValueError, match="same length"):
        StepFunction([1.0, 2.0], [1.0])


# -- input checks ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("y", "match"),
    [
        (np.ones(6), r"y must be a 1-D structured array with two fields.*float64"),
        (
            np.zeros(6, dtype=[("a", bool), ("b", float), ("c", float)]),
            "two fields",
        ),
        (
            np.array([(2, 1.0), (0, 1.0)] * 3, dtype=[("status", int), ("time", float)]),
            r"'status' of y must hold booleans or 0/1; got dtype int64 with values \[2\]",
        ),
        (
            np.array([("a", 1.0)] * 6, dtype=[("status", "U1"), ("time", float)]),
            r"'status' of y must hold booleans or 0/1; got dtype <U1\.",
        ),
        (surv([1, 0, 1, 0, 1, 0], [1, -2, 3, 4, 5, 6]), r"finite times >= 0; got 1 .*\[-2.0\]"),
        (surv([1, 0, 1, 0, 1, 0], [1, np.nan, 3, 4, 5, 6]), "finite times >= 0"),
        (surv([0] * 6, np.ones(6)), r"no event \(all 6 patients are censored\)"),
        (surv([1, 0, 1], np.ones(3)), "y has 3 patients but X has 6"),
    ],
)
def test_bad_targets_are_refused_with_a_clear_message(y, match):
    X = np.arange(12.0).reshape(6, 2)
    with pytest.raises(ValueError, match=match):
        GraphBoostSurvivalAnalysis(n_neighbors=2, cv=2).fit(X, y)


def test_integer_events_and_day_zero_times_are_accepted():
    X, y = survival_cohort(n=60, seed=2)
    y_int = np.empty(60, dtype=[("status", np.int64), ("days", np.int64)])
    y_int["status"], y_int["days"] = y["event"], np.floor(y["time"] * 10)
    model = GraphBoostSurvivalAnalysis(n_estimators=3, n_neighbors=5, random_state=0)
    assert np.isfinite(model.fit(X, y_int).predict(X)).all()


def test_bad_parameters_and_inputs(cohort):
    X, y = cohort
    with pytest.raises(InvalidParameterError, match="'ties' parameter"):
        GraphBoostSurvivalAnalysis(ties="exact").fit(X, y)
    with pytest.raises(ValueError, match=r"n_neighbors=300 must be smaller .*n_samples=240"):
        GraphBoostSurvivalAnalysis(n_neighbors=(10, 300)).fit(X, y)
    with pytest.raises(ValueError, match=r"needs at least 2 \* cv = 10 patients"):
        GraphBoostSurvivalAnalysis(n_neighbors=2).fit(X[:8], y[:8])
    X_nan = X.copy()
    X_nan.iloc[0, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN or inf in columns \['bands'\]"):
        GraphBoostSurvivalAnalysis().fit(X_nan, y)


# -- the scikit-learn contract (parametrize_with_checks cannot make survival targets) --------------
NAME = "GraphBoostSurvivalAnalysis"


@pytest.mark.parametrize(
    "check",
    [
        check_get_params_invariance,
        check_set_params,
        check_no_attributes_set_in_init,
        check_estimators_unfitted,
    ],
)
def test_sklearn_checks_that_need_no_target(check):
    check(NAME, GraphBoostSurvivalAnalysis(n_estimators=3))


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_fit_sets_only_fitted_attributes_and_keeps_parameters(cohort):
    X, y = cohort
    model = GraphBoostSurvivalAnalysis(n_estimators=3, n_neighbors=(5, 10), random_state=0)
    params = model.get_params()
    with pytest.raises(NotFittedError):
        model.predict(X)
    model.fit(X, y)
    assert model.get_params() == params  # check_dont_overwrite_parameters
    public = {k for k in vars(model) if not k.startswith("_")}
    assert public - set(params) == {k for k in public if k.endswith("_")}
    assert model.n_features_in_ == X.shape[1]
    assert list(model.feature_names_in_) == list(X.columns)
    with pytest.raises(ValueError, match="X has 5 features"):
        model.predict(X.to_numpy()[:, :5])
    # check_fit_idempotent: a second fit on the same data gives the same model
    first = model.predict(X)
    np.testing.assert_array_equal(model.fit(X, y).predict(X), first)
    # clone gives an unfitted copy with the same parameters
    copy = clone(model)
    assert copy.get_params() == params and not hasattr(copy, "estimators_")


def test_pickle_round_trip(fitted, cohort):
    X, _ = cohort
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.predict(X), fitted.predict(X))


# -- saving ---------------------------------------------------------------------------------------
def test_save_and_load_predict_exactly_the_same(cohort, tmp_path):
    X, y = cohort
    model = GraphBoostSurvivalAnalysis(
        n_estimators=8,
        n_neighbors=(10, 20),
        feature_groups={"pair": ["linear", "noise0"]},
        boost_scale=0.5,
        random_state=0,
    ).fit(X[:200], y[:200])
    model.save(tmp_path / "model")
    loaded = load(tmp_path / "model")
    assert isinstance(loaded, GraphBoostSurvivalAnalysis)
    np.testing.assert_array_equal(loaded.predict(X[200:]), model.predict(X[200:]))
    np.testing.assert_array_equal(
        loaded.predict_survival_function(X[200:], return_array=True),
        model.predict_survival_function(X[200:], return_array=True),
    )
    assert loaded.selected_graphs_ == model.selected_graphs_
    assert loaded.get_params() == model.get_params() | {"n_neighbors": (10, 20)}
    assert loaded.alpha_ == model.alpha_
    (tmp_path / "model" / "model.json").write_text(
        (tmp_path / "model" / "model.json")
        .read_text()
        .replace('"boost_scale": 0.5', '"boost_scale": 9')
    )
    with pytest.raises(ValueError, match="does not match its checksum"):
        load(tmp_path / "model")


def test_load_still_reads_classifiers(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)
    clf = GraphBoostClassifier(n_estimators=2, n_neighbors=5, random_state=0).fit(X, y)
    clf.save(tmp_path / "clf")
    assert isinstance(graphboost.load(tmp_path / "clf"), GraphBoostClassifier)
    with pytest.raises(FileNotFoundError, match="No graphboost model at"):
        graphboost.load(tmp_path / "nothing")
