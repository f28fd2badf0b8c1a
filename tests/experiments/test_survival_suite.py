"""Survival baselines and the survival suite: scikit-survival conventions, in-fold fitting, the
exact paired bootstrap of Harrell's C, and a run on a synthetic and on a real censored cohort."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("sksurv", reason="the survival baselines are scikit-survival's")

from experiments import InputError
from experiments.clinical import harrell_c
from experiments.methods import (
    SURVIVAL_BASELINES,
    SURVIVAL_METHODS,
    KNeighborsSurvival,
    XGBoostCoxSurvival,
    make_survival_pipeline,
)
from experiments.methods import _survival_methods as sm
from features import SurvivalDataset, survival_target

FAST = ("ridge_cox", "xgboost_cox", "knn_km")


def synthetic(n=160, seed=0, name="synthetic"):
    """Exponential times with log-hazard 1.0 * x0 - 0.7 * x1 + 0.5 * (site == "b"), uniform
    censoring (about a third censored), a noise column, a nominal column and missing values."""
    rng = np.random.RandomState(seed)
    X = pd.DataFrame(rng.normal(size=(n, 3)), columns=["x0", "x1", "noise"])
    X["site"] = pd.Categorical(rng.choice(["a", "b", "c"], size=n))
    log_hazard = X.x0 - 0.7 * X.x1 + 0.5 * (X.site == "b")
    event_time = rng.exponential(np.exp(-log_hazard))
    censor_time = rng.uniform(0, 3, size=n)
    event = event_time <= censor_time
    time = np.maximum(np.minimum(event_time, censor_time), 1e-3)
    X.loc[rng.rand(n) < 0.05, "x1"] = np.nan
    X.index = pd.Index([f"p{i}" for i in range(n)], name="patient_id")
    return SurvivalDataset(
        X=X,
        y=survival_target(event, time),
        feature_groups={"clinical": list(X.columns)},
        patient_ids=pd.Series(X.index, index=X.index),
        task=name,
        description="synthetic",
    )


@pytest.fixture(scope="module")
def data():
    return synthetic()


@pytest.mark.parametrize("name", SURVIVAL_BASELINES)
def test_every_baseline_is_a_fitted_pipeline_that_ranks_the_signal(name, data):
    train, test = np.arange(110), np.arange(110, 160)
    params = {"n_estimators": 50} if name in {"random_survival_forest"} else None
    pipe = make_survival_pipeline(name, params, random_state=0)
    assert [step for step, _ in pipe.steps] == ["preprocess", "model"]
    pipe.fit(data.X.iloc[train], data.y[train])
    risk = pipe.predict(data.X.iloc[test])
    assert risk.shape == (50,) and np.isfinite(risk).all()
    c = harrell_c(data.y[test], risk)
    assert c > 0.65, (name, c)
    assert pipe.score(data.X.iloc[test], data.y[test]) == pytest.approx(c)


@pytest.mark.parametrize("name", ["ridge_cox", "coxnet", "xgboost_cox", "knn_km"])
def test_survival_functions_are_decreasing_probabilities(name, data):
    pipe = make_survival_pipeline(name).fit(data.X.iloc[:120], data.y[:120])
    Xt = pipe[:-1].transform(data.X.iloc[120:130])
    surv = pipe.named_steps["model"].predict_survival_function(Xt, return_array=True)
    assert surv.shape[0] == 10
    assert ((surv >= 0) & (surv <= 1)).all() and (np.diff(surv, axis=1) <= 1e-12).all()


def test_knn_risk_is_the_neighbours_nelson_aalen_summed_over_the_event_times(data):
    from sksurv.nonparametric import nelson_aalen_estimator

    rng = np.random.RandomState(1)
    X = rng.normal(size=(80, 2))
    y = data.y[:80]
    model = KNeighborsSurvival(n_neighbors=12).fit(X, y)
    queries = rng.normal(size=(5, 2))
    risk = model.predict(queries)
    grid = np.unique(y["time"][y["event"]])
    for q, value in zip(queries, risk, strict=True):
        ix = np.argsort(((X - q) ** 2).sum(axis=1))[:12]
        times, hazard = nelson_aalen_estimator(y["event"][ix], y["time"][ix])
        pos = np.searchsorted(times, grid, side="right") - 1
        expected = np.where(pos >= 0, hazard[np.clip(pos, 0, None)], 0.0).sum()
        assert value == pytest.approx(expected)


def test_knn_chooses_k_by_inner_cv(data):
    model = make_survival_pipeline("knn_km").fit(data.X, data.y).named_steps["model"]
    assert model.n_neighbors_ in (5, 10, 20, 40, 80)


def test_xgboost_label_marks_the_censored_with_a_negative_time(data, monkeypatch):
    seen = {}
    from xgboost import XGBRegressor

    original = XGBRegressor.fit

    def spy(self, X, y, **kw):
        seen["label"] = np.asarray(y)
        return original(self, X, y, **kw)

    monkeypatch.setattr(XGBRegressor, "fit", spy)
    XGBoostCoxSurvival(n_estimators=5).fit(data.X[["x0"]].to_numpy(), data.y)
    event, time = data.y["event"], data.y["time"]
    assert np.array_equal(seen["label"], np.where(event, time, -time))


def test_inner_cv_choices(data):
    grid = [0.1, 10.0, 1e4]
    ridge = make_survival_pipeline("ridge_cox", {"alpha_grid": grid}).fit(data.X, data.y)
    model = ridge.named_steps["model"]
    assert model.cv_scores_.shape == (3,)
    assert model.best_params_ == {"alpha": grid[int(np.nanargmax(model.cv_scores_))]}
    assert model.best_estimator_.alpha == model.best_params_["alpha"]
    coxnet = make_survival_pipeline("coxnet").fit(data.X, data.y).named_steps["model"]
    assert coxnet.alpha_ in coxnet.model_.alphas_ and coxnet.l1_ratio == 0.5


def test_method_names_are_checked_and_graphboost_joins_when_it_exists(monkeypatch):
    import graphboost

    with pytest.raises(InputError, match="Unknown survival method"):
        make_survival_pipeline("svm")
    assert set(SURVIVAL_METHODS) == {*SURVIVAL_BASELINES, "graphboost"}
    monkeypatch.delattr(graphboost, "GraphBoostSurvivalAnalysis", raising=False)
    assert sm.available_survival_methods() == SURVIVAL_BASELINES
    with pytest.raises(InputError, match="GraphBoostSurvivalAnalysis"):
        make_survival_pipeline("graphboost")
    monkeypatch.setattr(
        graphboost, "GraphBoostSurvivalAnalysis", type("Fake", (), {}), raising=False
    )
    assert sm.available_survival_methods() == (*SURVIVAL_BASELINES, "graphboost")
