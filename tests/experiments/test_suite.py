"""The design suite: public datasets, statistics over tasks, the CD figure, parallel folds, the
tuned method without leakage, and the ``benchmark --suite`` command."""

from __future__ import annotations

import json
import re
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from experiments import (
    SUITES,
    Dataset,
    InputError,
    TunedGraphBoostClassifier,
    critical_difference,
    cross_validate,
    friedman_test,
    load_config,
    load_dataset,
    run_suite,
)
from experiments.benchmark._suite import (
    SUITE_BASELINES,
    SUITE_METHODS,
    _iman_davenport,
    rank_methods,
)
from experiments.evaluation._cv import make_splits
from experiments.evaluation._dataset import PUBLIC_TASKS
from experiments.methods._pipelines import TUNED
from experiments.tuning import _tuned as tuned_module

ROOT = Path(__file__).resolve().parents[2]

# Few rounds, trees, epochs and trials: the tests check the machinery, not the models.
TINY = {
    "graphboost": {"n_estimators": 5},
    "xgboost": {"n_estimators": 20},
    "adaboost": {"n_estimators": 20},
    "catboost": {"iterations": 30},
    "gcn": {"max_epochs": 20},
    TUNED: {"n_trials": 2, "fixed": {"conv": "vote", "n_estimators": 5}},
}


def _synthetic(name, n=60, seed=0):
    """A small task whose label follows column a (and a little b)."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 3)), columns=["a", "b", "c"])
    X.index = [f"{name}-{i:03d}" for i in range(n)]
    y = (X.a + 0.3 * X.b + 0.6 * rng.normal(size=n) > 0).astype(int).to_numpy()
    return Dataset(name, X, y)


# --------------------------------------------------------------------------- datasets
def test_public_configs_load_their_cohorts_and_link_their_cards():
    import features

    assert sorted(features.PUBLIC_COHORTS) == list(PUBLIC_TASKS)
    for name in PUBLIC_TASKS:
        cfg = load_config(name)
        assert cfg["dataset"] == {"kind": "public", "name": name}
        assert cfg["cv"] == {"n_splits": 5, "n_repeats": 5}
        text = (ROOT / "experiments" / "benchmark" / "configs" / f"{name}.toml").read_text()
        assert f"docs/datasets/{name}.md" in text and (ROOT / "docs" / "datasets" / f"{name}.md")
    for task in SUITES["design"]:
        load_config(task)  # every task of the suite is a shipped config
    ds = load_dataset({"kind": "public", "name": "gbsg"})
    assert ds.name == "public:gbsg" and ds.X.shape == (408, 8) and int(ds.y.sum()) == 285
    assert ds.feature_groups == {"clinical": list(ds.X.columns)}
    with pytest.raises(
        InputError, match=r"Unknown public cohort 'iris'; choose one of \['ad_data'"
    ):
        load_dataset({"kind": "public", "name": "iris"})


# --------------------------------------------------------------------------- statistics
def test_friedman_on_known_rank_matrices():
    # The same order on every task: chi-square = N (k - 1), the largest it can be.
    base = np.array([0.9, 0.8, 0.7, 0.6])
    scores = np.vstack([base - 0.01 * i for i in range(14)])
    res = friedman_test(scores)
    assert res["statistic"] == pytest.approx(14 * 3)
    assert res["mean_ranks"].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert res["iman_davenport_f"] == np.inf and res["iman_davenport_p"] == 0.0
    # Without ties, Demsar's formula from the mean ranks and scipy's test agree.
    rng = np.random.default_rng(0)
    scores = rng.uniform(size=(9, 7))
    res = friedman_test(scores)
    n, k = scores.shape
    r = rank_methods(scores).mean(axis=0)
    chi2 = 12 * n / (k * (k + 1)) * (np.sum(r**2) - k * (k + 1) ** 2 / 4)
    assert res["statistic"] == pytest.approx(chi2, rel=1e-12)
    assert res["p_value"] == pytest.approx(stats.chi2.sf(chi2, k - 1), rel=1e-12)
    assert res["mean_ranks"] == pytest.approx(r)


def test_iman_davenport_and_critical_difference_match_demsar():
    # Demsar (2006), section 3.2.4: 4 classifiers on 14 data sets, chi2_F = 9.28, F_F = 3.69,
    # CD = 2.569 * sqrt(4 * 5 / (6 * 14)) = 1.25.
    f, p = _iman_davenport(9.28, 14, 4)
    assert round(f, 2) == 3.69 and p < 0.05
    assert round(critical_difference(4, 14), 2) == 1.25
    # Table 5 (a): q_alpha of the Nemenyi test for 2 to 10 classifiers.
    q05 = [1.960, 2.343, 2.569, 2.728, 2.850, 2.949, 3.031, 3.102, 3.164]
    q10 = [1.645, 2.052, 2.291, 2.459, 2.589, 2.693, 2.780, 2.855, 2.920]
    for k, a, b in zip(range(2, 11), q05, q10, strict=True):
        scale = np.sqrt(k * (k + 1) / (6 * 9))
        assert critical_difference(k, 9) / scale == pytest.approx(a, abs=2e-3)
        assert critical_difference(k, 9, alpha=0.10) / scale == pytest.approx(b, abs=2e-3)


def test_statistics_reject_bad_input():
    with pytest.raises(ValueError, match=r"needs scores of shape \(n_tasks >= 2, n_methods >= 3\)"):
        friedman_test([[0.7, 0.8]])
    with pytest.raises(ValueError, match="needs a finite score for every task and method"):
        friedman_test([[0.7, 0.8, np.nan], [0.6, 0.7, 0.8]])
    with pytest.raises(ValueError, match="needs n_methods >= 2 and n_tasks >= 1; got 1 and 9"):
        critical_difference(1, 9)


def test_critical_difference_groups_and_figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from experiments.plots import plot_critical_difference
    from experiments.plots._studies import _cd_groups

    assert _cd_groups([1.0, 2.0, 3.0, 4.0], 1.5) == [(0, 1), (1, 2), (2, 3)]
    assert _cd_groups([1.0, 2.0, 3.0, 4.0], 2.5) == [(0, 2), (1, 3)]
    assert _cd_groups([1.0, 3.0, 5.0], 1.0) == []  # every pair differs
    assert _cd_groups([1.0, 1.5, 1.9], 5.0) == [(0, 2)]
    ranks = {"a": 1.4, "b": 2.1, "c": 2.5, "d": 4.0}
    ax = plot_critical_difference(ranks, 1.25, title="CD")
    texts = [t.get_text() for t in ax.texts]
    assert "CD = 1.25" in texts and "a (1.40)" in texts and "d (4.00)" in texts
    thick = [line for line in ax.lines if line.get_linewidth() == 3]
    assert len(thick) == 1  # a, b, c lie within 1.25 of a; d is 1.5 from c
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="mean_ranks must be a dict of two or more"):
        plot_critical_difference({"a": 1.0}, 1.0)
    with pytest.raises(ValueError, match="critical_difference must be positive; got 0"):
        plot_critical_difference(ranks, 0)


# --------------------------------------------------------------------------- tuned method
def test_tuned_search_never_sees_the_outer_test_fold(monkeypatch):
    seen = []

    class Recording(tuned_module.NestedCVObjective):
        def __init__(self, X, y, **kwargs):
            seen.append(set(X.index))
            super().__init__(X, y, **kwargs)

    monkeypatch.setattr(tuned_module, "NestedCVObjective", Recording)
    ds = _synthetic("t", n=45)
    results, y, _ = cross_validate(  # the runner method, as the suite and the benchmark run it
        ds, [TUNED], params=TINY, n_splits=3, n_repeats=1, random_state=0, n_jobs=1
    )
    splits, _ = make_splits(ds, y, 3, 1, 0)
    assert len(seen) == 3
    for rows, (train, test) in zip(seen, splits[0], strict=True):
        assert rows == set(ds.X.index[train])
        assert rows.isdisjoint(ds.X.index[test])
    assert results[TUNED].probas[0].shape == (45, 2) and np.isfinite(results[TUNED].probas).all()


def test_tuned_classifier_fits_and_checks_its_parameters():
    ds = _synthetic("t", n=48)
    clf = TunedGraphBoostClassifier(**TINY[TUNED]).fit(ds.X, np.where(ds.y == 1, "yes", "no"))
    assert list(clf.classes_) == ["no", "yes"] and clf.n_features_in_ == 3
    assert clf.n_trials_complete_ + clf.n_trials_pruned_ == 2
    assert clf.best_params_["conv"] == "vote" and clf.best_params_["n_estimators"] == 5
    assert 0.5 < clf.best_score_ <= 1
    assert set(clf.predict(ds.X.head(5))) <= {"no", "yes"}
    for name, value, low in (("n_trials", 0, 1), ("inner_splits", 1, 2)):
        bad = TunedGraphBoostClassifier(**{name: value})
        match = (
            f"The '{name}' parameter of TunedGraphBoostClassifier must be an integer >= {low}; "
            f"got {value}."
        )
        with pytest.raises(ValueError, match=re.escape(match)):
            bad.fit(ds.X, ds.y)


def test_tuned_classifier_checks_its_fixed_parameters():
    ds = _synthetic("t", n=30)
    match = "The 'fixed' parameter of TunedGraphBoostClassifier must be a dict of "
    with pytest.raises(ValueError, match=match + "GraphBoostClassifier parameters; got 'vote'"):
        TunedGraphBoostClassifier(fixed="vote").fit(ds.X, ds.y)
    match = r"names unknown GraphBoostClassifier parameter\(s\) \['n_rounds'\]; valid: \["
    with pytest.raises(ValueError, match=match):
        TunedGraphBoostClassifier(fixed={"conv": "vote", "n_rounds": 5}).fit(ds.X, ds.y)


@pytest.mark.slow
def test_suite_runs_the_tuned_method_as_a_runner_method():
    """The suite's ``graphboost-tuned`` is the runner's method: same folds, same numbers."""
    ds = _synthetic("s", n=40, seed=3)
    kwargs = {"tasks": ["gbsg"], "n_splits": 2, "n_repeats": 1, "n_bootstrap": 10}
    res = run_suite(methods=[TUNED, "logistic"], params=TINY, datasets={"gbsg": ds}, **kwargs)
    results, _, _ = cross_validate(ds, [TUNED], params=TINY, n_splits=2, n_repeats=1)
    assert list(res.mean_ranks.index) == [TUNED, "logistic"]
    tuned_folds = res.fold_scores[res.fold_scores.method == TUNED].auroc.tolist()
    assert tuned_folds == [s for _, _, s in results[TUNED].fold_scores]


# --------------------------------------------------------------------------- the suite
@pytest.mark.slow
def test_suite_writes_one_table_ranks_friedman_and_figure(tmp_path):
    res = run_suite(
        tasks=["gbsg", "pima"],
        n_splits=3,
        n_repeats=1,
        n_bootstrap=50,
        params=TINY,
        n_jobs=1,
        output=tmp_path / "suite",
    )
    out = tmp_path / "suite"
    names = {p.name for p in out.iterdir()}
    assert names == {
        "suite.md",
        "suite.csv",
        "fold_scores.csv",
        "critical_difference.png",
        "run.json",
    }
    table = pd.read_csv(out / "suite.csv", index_col="task")
    methods = list(SUITE_METHODS)
    assert list(table.index) == ["gbsg", "pima"]
    assert ((table[methods] > 0.55) & (table[methods] < 1)).all().all()
    for task, row in table.iterrows():
        best = max(SUITE_BASELINES, key=lambda m: row[m])
        assert row.best_baseline == best, task
        assert row.delta_best == pytest.approx(row.graphboost - row[best], abs=1e-12)
        assert row.delta_logistic == pytest.approx(row.graphboost - row.logistic, abs=1e-12)
        assert row.delta_best_low <= row.delta_best <= row.delta_best_high
    scores = table[methods].to_numpy()
    chi2, p = stats.friedmanchisquare(*scores.T)
    assert res.friedman["statistic"] == pytest.approx(chi2)
    assert res.friedman["p_value"] == pytest.approx(p)
    assert res.mean_ranks.to_numpy() == pytest.approx(rank_methods(scores).mean(axis=0))
    assert res.critical_difference == pytest.approx(critical_difference(len(methods), 2))
    folds = pd.read_csv(out / "fold_scores.csv")
    assert len(folds) == 2 * len(methods) * 3 and folds.auroc.between(0, 1).all()
    md = (out / "suite.md").read_text()
    assert "| task | n (positive) | logistic |" in md and "**mean rank**" in md
    assert f"Friedman test over 2 tasks and {len(methods)} methods" in md
    assert "docs/datasets/gbsg.md" in md
    assert "Cost:" in md


@pytest.mark.slow
def test_suite_results_do_not_depend_on_n_jobs():
    kwargs = {"tasks": ["gbsg"], "n_splits": 3, "n_repeats": 1, "n_bootstrap": 20}
    kwargs.update(params=TINY, datasets={"gbsg": _synthetic("a", n=48, seed=1)})
    kwargs["methods"] = ["logistic", "gcn", "graphboost", TUNED]
    one = run_suite(n_jobs=1, **kwargs)
    two = run_suite(n_jobs=2, **kwargs)
    with joblib.parallel_config(backend="loky", n_jobs=2):
        context = run_suite(**kwargs)  # n_jobs=None: the enclosing backend's workers
    for other in (two, context):
        pd.testing.assert_frame_equal(one.table, other.table, check_exact=True)
        pd.testing.assert_series_equal(
            one.fold_scores.auroc, other.fold_scores.auroc, check_exact=True
        )


def test_suite_rejects_unknown_names():
    with pytest.raises(InputError, match=r"Unknown suite 'big'; choose one of \['design'\]"):
        run_suite("big")
    with pytest.raises(InputError, match=r"Unknown task\(s\) \['iris'\] of suite 'design'"):
        run_suite(tasks=["gbsg", "iris"])
    with pytest.raises(InputError, match=r"Unknown method\(s\) \['svm'\]"):
        run_suite(tasks=["gbsg"], methods=["logistic", "svm"])


# --------------------------------------------------------------------------- command line
@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["--suite", "design", "--tasks", "iris"], r"Unknown task\(s\) \['iris'\]"),
        (["--config", "gbsg", "--quick"], "--tasks and --quick go with --suite"),
        (["--config", "gbsg", "--suite", "design"], "not allowed with argument"),
        ([], "one of the arguments --config --suite( --external)? is required"),
        (["--config", "gbsg", "--param", "n_estimators=5"], "--param goes with --suite or"),
        (
            ["--suite", "design", "--param", "n_estimator=5"],
            "--param n_estimator: GraphBoostClassifier has no parameter 'n_estimator'; did you "
            "mean 'n_estimators'",
        ),
        (
            ["--suite", "survival", "--param", "interaction_depth=-1"],
            "--param: The 'interaction_depth' parameter of GraphBoostSurvivalAnalysis",
        ),
        (["--suite", "survival", "--max-patients", "0"], "max_patients must be a positive"),
        (["--suite", "design", "--max-patients", "100"], "--max-patients goes with --suite surv"),
        (["--config", "gbsg", "--max-patients", "100"], "--max-patients goes with --suite surv"),
    ],
)
def test_benchmark_suite_command_errors(argv, match, capsys, tmp_path):
    from experiments.cli import main

    assert main(["benchmark", *argv, "--output", str(tmp_path / "out")]) == 2
    assert re.search(match, capsys.readouterr().err)
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_benchmark_suite_command(capsys, tmp_path):
    from experiments.cli import main

    out = tmp_path / "suite"
    argv = ["benchmark", "--suite", "design", "--tasks", "gbsg,pima", "--quick", "--folds", "3"]
    argv += ["--methods", "logistic,adaboost,graphboost", "--bootstrap", "20"]
    assert main([*argv, "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert (
        "| gbsg | 408 (285) |" in printed and "Friedman test over 2 tasks and 3 methods" in printed
    )
    assert (out / "critical_difference.png").is_file()
    folds = pd.read_csv(out / "fold_scores.csv")
    assert set(folds.repeat) == {0} and folds.fold.nunique() == 3  # --quick: one repeat


@pytest.mark.slow
def test_benchmark_suite_command_passes_graphboost_parameters(capsys, tmp_path):
    """``--param`` reaches the graphboost method of every fold, and the run records it."""
    from experiments.cli import main

    argv = ["benchmark", "--suite", "design", "--tasks", "gbsg", "--quick", "--folds", "3"]
    argv += ["--methods", "logistic,graphboost", "--bootstrap", "20"]
    runs = {}
    for name, params in (("default", []), ("fixed", ["--param", "boost_scale=0"])):
        assert main([*argv, *params, "--output", str(tmp_path / name)]) == 0
        runs[name] = pd.read_csv(tmp_path / name / "suite.csv", index_col="task")
    capsys.readouterr()
    meta = json.loads((tmp_path / "fixed" / "run.json").read_text())
    assert meta["params"] == {"graphboost": {"boost_scale": 0}}
    # boost_scale=0 is the linear start alone: another model than the default's on gbsg.
    assert runs["fixed"].loc["gbsg", "logistic"] == runs["default"].loc["gbsg", "logistic"]
    assert runs["fixed"].loc["gbsg", "graphboost"] != runs["default"].loc["gbsg", "graphboost"]
