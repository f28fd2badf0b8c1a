"""Survival baselines and the survival suite: scikit-survival conventions, in-fold fitting, the
exact paired bootstrap of Harrell's C, and a run on a synthetic and on a real censored cohort."""

from __future__ import annotations

import json

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
from features import Task, survival_target

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
    return Task(
        name=name,
        X=X,
        y=survival_target(event, time),
        feature_groups={"clinical": list(X.columns)},
        patient_ids=pd.Series(X.index, index=X.index),
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


# --------------------------------------------------------------------------- the suite
def test_the_exact_bootstrap_is_paired_survival_bootstrap_for_one_repeat(data):
    from experiments.benchmark._survival_suite import paired_c_bootstrap, pooled_harrell_c
    from experiments.clinical import paired_survival_bootstrap

    rng = np.random.RandomState(0)
    a = data.X.x0.to_numpy() + rng.normal(size=160)
    b = rng.normal(size=160).round(1)  # ties in the risk count 1/2
    ours = paired_c_bootstrap(data.y, {"a": [a], "b": [b]}, "b", n_bootstrap=200, seed=3)["a"]
    ref = paired_survival_bootstrap(data.y, a, b, n_bootstrap=200, seed=3)
    assert ours["delta"] == pytest.approx(ref["difference"], abs=1e-12)
    assert (ours["low"], ours["high"]) == pytest.approx((ref["low"], ref["high"]), abs=1e-12)
    assert ours["p_better"] == pytest.approx(ref["p_better"])
    # two repeats: the point estimate is the mean over repeats of the pooled C
    two = paired_c_bootstrap(data.y, {"a": [a, b], "b": [b, b]}, "b", n_bootstrap=20)
    assert two["a"]["delta"] == pytest.approx(
        pooled_harrell_c(data.y, [a, b]) - harrell_c(data.y, b)
    )


def test_folds_are_stratified_on_the_event_and_the_same_for_every_method(data):
    from experiments.benchmark._survival_suite import survival_splits

    splits = survival_splits(data.y, n_splits=4, n_repeats=2, random_state=0)
    assert len(splits) == 2 and all(len(r) == 4 for r in splits)
    events = [int(data.y["event"][test].sum()) for _, test in splits[0]]
    assert max(events) - min(events) <= 1
    again = survival_splits(data.y, n_splits=4, n_repeats=2, random_state=0)
    for first, second in zip(splits, again, strict=True):
        for (_, t1), (_, t2) in zip(first, second, strict=True):
            assert np.array_equal(t1, t2)


def test_a_fold_sees_only_its_training_rows(data):
    from experiments.benchmark._survival_suite import fit_survival_fold

    pipe = make_survival_pipeline("ridge_cox")
    train, test = np.arange(100), np.arange(100, 160)
    first = fit_survival_fold(pipe, data.X, data.y, train, test).risk
    X = data.X.copy()
    X.iloc[101:, :3] = 1e3  # other test patients changed: nothing fitted moves
    second = fit_survival_fold(pipe, X, data.y, train, test).risk
    assert first[0] == pytest.approx(second[0])


def test_run_on_two_synthetic_tasks_writes_the_results_folder(tmp_path):
    from experiments import run_survival_suite

    sets = {"s1": synthetic(120, 1, "s1"), "s2": synthetic(120, 2, "s2")}
    res = run_survival_suite(
        ["s1", "s2"],
        list(FAST),
        n_splits=2,
        n_repeats=2,
        n_bootstrap=50,
        datasets=sets,
        output=tmp_path / "run",
    )
    assert list(res.table.index) == ["s1", "s2"]
    assert set(FAST) <= set(res.table.columns) and "knn_km:delta" in res.table
    assert (res.table[list(FAST)] > 0.6).all().all()
    assert res.friedman is not None and res.critical_difference > 0
    assert len(res.fold_scores) == 2 * 3 * 4
    names = {p.name for p in (tmp_path / "run").iterdir()}
    assert names == {
        "survival_suite.md",
        "survival_suite.csv",
        "fold_scores.csv",
        "critical_difference.png",
        "run.json",
    }
    text = (tmp_path / "run" / "survival_suite.md").read_text()
    assert "| s1 | 120 (" in text and "mean rank (of 3)" in text and "Friedman" in text
    assert "Fold-mean Harrell's C" in text
    fold_mean = res.fold_scores.query("task == 's1' and method == 'knn_km'").harrell_c.mean()
    assert f"{fold_mean:.3f}" in text.split("Fold-mean")[1].split("Difference")[0]
    # one task at a time, merged: the same table, ranks and test as one call
    from experiments.benchmark._survival_suite import merge_survival_runs

    for task in sets:
        run_survival_suite(
            [task],
            list(FAST),
            n_splits=2,
            n_repeats=2,
            n_bootstrap=50,
            datasets=sets,
            output=tmp_path / task,
        )
    merged = merge_survival_runs([tmp_path / "s1", tmp_path / "s2"], tmp_path / "merged")
    pd.testing.assert_frame_equal(merged.table, res.table, check_dtype=False, check_names=False)
    assert merged.friedman["statistic"] == pytest.approx(res.friedman["statistic"])
    assert (tmp_path / "merged" / "critical_difference.png").is_file()


def test_unknown_task_and_subsampling(data):
    from experiments import run_survival_suite
    from experiments.benchmark._survival_suite import _subsample

    with pytest.raises(InputError, match="Unknown survival task"):
        run_survival_suite(["nope"], ["ridge_cox"])
    small = _subsample(data, 80, 0)
    assert small.y.size == 80 and small.X.index.equals(small.patient_ids.index)
    assert abs(small.y["event"].mean() - data.y["event"].mean()) < 0.02
    assert _subsample(data, None, 0) is data
    with pytest.raises(InputError, match="max_patients must be a positive integer; got True"):
        run_survival_suite(["veterans_lung_cancer"], ["ridge_cox"], max_patients=True)


def test_a_real_cohort_veterans_lung_cancer():
    from experiments import run_survival_suite

    res = run_survival_suite(
        ["veterans_lung_cancer"],
        ["ridge_cox", "xgboost_cox", "knn_km"],
        n_splits=2,
        n_repeats=2,
        n_bootstrap=100,
    )
    row = res.table.loc["veterans_lung_cancer"]
    assert (row.n_patients, row.n_events) == (137, 128)
    assert 0.6 < row["ridge_cox"] < 0.8  # Karnofsky score and cell type carry the signal
    assert row["xgboost_cox:low"] <= row["xgboost_cox:delta"] <= row["xgboost_cox:high"]


def test_a_reduced_block_is_passed_to_graphboost_as_its_components():
    from features import ClinicalPreprocessor

    pre = ClinicalPreprocessor(block_components={"img": 2})
    groups = sm._group_selectors({"clinical": ["age", "site"], "imaging": ["img:a", "img:b"]}, pre)
    frame = pd.DataFrame(columns=["age", "site=a", "img:pc0", "img:pc1", "img:a"])
    assert groups["clinical"](frame) == ["age", "site=a"]
    assert groups["imaging"](frame) == ["img:pc0", "img:pc1"]


def test_cli_runs_the_survival_suite(tmp_path, capsys):
    """``graphboost benchmark --suite survival`` runs the survival suite and prints its table."""
    from experiments.cli import main

    out = tmp_path / "run"
    argv = ["benchmark", "--suite", "survival", "--tasks", "veterans_lung_cancer"]
    argv += ["--methods", "ridge_cox,knn_km", "--folds", "2", "--repeats", "1"]
    argv += ["--bootstrap", "20", "--output", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "veterans_lung_cancer" in printed and "ridge_cox" in printed
    assert (out / "survival_suite.md").is_file()


def test_cli_cuts_the_survival_tasks_to_max_patients(tmp_path, capsys):
    """``--max-patients`` subsamples the survival suite's tasks, as the documented runs do."""
    from experiments.cli import main

    out = tmp_path / "run"
    argv = ["benchmark", "--suite", "survival", "--tasks", "veterans_lung_cancer"]
    argv += ["--methods", "ridge_cox", "--folds", "2", "--repeats", "1", "--bootstrap", "0"]
    argv += ["--max-patients", "100", "--output", str(out)]
    assert main(argv) == 0
    assert "100 patients drawn of 137" in capsys.readouterr().out
    assert json.loads((out / "run.json").read_text())["max_patients"] == 100
