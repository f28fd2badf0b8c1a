import json

import numpy as np
import pandas as pd
import pytest

from experiments import (
    Dataset,
    InputError,
    PopulationGCNClassifier,
    format_table,
    load_config,
    run_benchmark,
)
from experiments.methods._registry import make_pipeline


def _cfg(path, methods, **extra):
    cfg = {
        "name": "tiny",
        "dataset": {"kind": "csv", "path": str(path), "label": "y", "exclude": ["pid"]},
        "methods": methods,
        "cv": {"n_splits": 3, "n_repeats": 2},
        "metrics": {"n_bootstrap": 50},
    }
    cfg.update(extra)
    return cfg


@pytest.mark.slow
def test_runner_writes_complete_results_folder(cohort_csv, tmp_path):
    cfg = _cfg(
        cohort_csv,
        ["logistic", "xgboost", "graphboost"],
        params={"graphboost": {"n_estimators": 5, "conv": "vote"}},
    )
    out = tmp_path / "run"
    res = run_benchmark(cfg, output=out, progress=False)
    names = {p.name for p in out.iterdir()}
    assert {
        "results.md",
        "results.csv",
        "roc.png",
        "calibration.png",
        "run.json",
        "oof_predictions.csv",
        "fold_scores.csv",
        "boosting_curve.png",
        "boosting_curve.csv",
        "selected_graphs.csv",
    } <= names
    table = pd.read_csv(out / "results.csv")
    assert list(table.method) == ["logistic", "xgboost", "graphboost"]
    for m in ("auroc", "auprc", "f1", "mcc", "brier"):
        assert (table[f"{m}_low"] <= table[m] + 1e-12).all()
        assert (table[m] <= table[f"{m}_high"] + 1e-12).all()
    # x1 carries the label: every method is far above chance
    assert (table.auroc > 0.75).all()
    meta = json.loads((out / "run.json").read_text())
    assert meta["config"]["cv"] == {"n_splits": 3, "n_repeats": 2}
    assert meta["seeds"]["cv"] == 0 and meta["versions"]["scikit-learn"]
    assert res.comparison["baseline"] in ("logistic", "xgboost")
    assert res.comparison["folds_won"].endswith("/ 6")
    sel = pd.read_csv(out / "selected_graphs.csv")
    assert sel.folds_selected.max() <= 6 and "x1" in set(sel.graph)
    md = (out / "results.md").read_text()
    assert "GraphBoostClassifier vs the best baseline" in md and "| graphboost |" in md
    assert "Modalities chosen inside the folds" not in md and "vs graphboost:" not in md
    assert "modality_arms" not in meta and "variants" not in meta and res.variants == {}
    assert "AUROC" in format_table(res.table)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


def test_results_folder_is_never_overwritten_silently(cohort_csv, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("old")
    cfg = _cfg(cohort_csv, ["logistic"])
    with pytest.raises(InputError, match="already exists and is not empty; pass --overwrite"):
        run_benchmark(cfg, output=out, progress=False)
    assert (out / "keep.txt").read_text() == "old"
    run_benchmark(cfg, output=out, overwrite=True, progress=False)
    assert not (out / "keep.txt").exists() and (out / "results.csv").exists()


def test_timestamped_folder(cohort_csv, tmp_path):
    res = run_benchmark(
        _cfg(cohort_csv, ["logistic"]), output=tmp_path / "r-{timestamp}", progress=False
    )
    assert res.output.name.startswith("r-2") and (res.output / "results.csv").exists()


@pytest.mark.slow
def test_group_aware_mode_leaves_one_site_out(cohort_csv, tmp_path):
    cfg = _cfg(cohort_csv, ["logistic", "random_forest"])
    cfg["dataset"]["group_column"] = "site"
    res = run_benchmark(cfg, output=tmp_path / "g", progress=False)
    folds = pd.read_csv(tmp_path / "g" / "fold_scores.csv")
    assert set(folds.repeat) == {0} and folds.fold.nunique() == 2  # sites A and B
    md = (tmp_path / "g" / "results.md").read_text()
    assert "leave-one-group-out" in md and "Per held-out group" in md
    assert res.table.shape[0] == 2


def test_preprocessing_is_fitted_inside_the_folds(cohort_df):
    """Regression guard: the pipeline's preprocessor sees only the training rows."""
    from features import ClinicalPreprocessor

    pipe = make_pipeline("logistic")
    X = cohort_df.drop(columns=["pid", "y"])
    tr = np.arange(30)
    pipe.fit(X.iloc[tr], cohort_df.y.iloc[tr])
    assert isinstance(pipe.named_steps["preprocess"], ClinicalPreprocessor)
    scaled = pipe[:-1].transform(X)["age"]
    assert scaled.iloc[tr].mean() == pytest.approx(0, abs=1e-12)  # scaled on the training rows
    assert scaled.mean() != pytest.approx(0, abs=1e-3)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"methods": ["logistic", "svm"]}, r"Unknown method\(s\) \['svm'\]; choose from \["),
        ({"dataset": {"kind": "mnist"}}, r"Unknown dataset kind 'mnist'.*choose one of"),
        ({"cv": {"n_splits": 1}}, r"\[cv\] n_splits must be an integer >= 2; got 1"),
        ({"colour": 1}, r"Unknown key\(s\) \['colour'\]"),
        ({"preprocessor": "table"}, r"Unknown key\(s\) \['preprocessor'\]"),
        ({"params": {"xgboost": {}}}, r"\[params\] names method\(s\) \['xgboost'\]"),
    ],
)
def test_bad_configs(cohort_csv, change, match):
    cfg = _cfg(cohort_csv, ["logistic"])
    cfg.update(change)
    with pytest.raises(InputError, match=match):
        load_config(cfg)


def test_config_files(tmp_path):
    cfg = load_config("duke-tnbc")
    assert cfg["dataset"] == {"kind": "duke", "task": "tnbc"}
    assert cfg["cv"] == {"n_splits": 5, "n_repeats": 5}
    bad = tmp_path / "bad.toml"
    bad.write_text("methods = [")
    with pytest.raises(InputError, match="is not valid TOML"):
        load_config(bad)
    with pytest.raises(InputError, match=r"Config file not found: 'nope'. Shipped configs: \["):
        load_config("nope")


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda d: d.drop(columns="y"), r"Label column 'y' not found in the clinical table"),
        (lambda d: d.assign(y=1), r"Label column 'y' is constant \(every patient has 1\)"),
        (
            lambda d: d.assign(y=[1, 1] + [0] * (len(d) - 2)),
            r"class '1' has 2 patients; 3-fold cross-validation needs at least 3 per class",
        ),
        (
            lambda d: d.assign(y=[np.nan] + [0, 1] * ((len(d) - 1) // 2) + [0]),
            r"Label column 'y' is missing for 1 of 48 patients",
        ),
    ],
)
def test_bad_labels_write_nothing(cohort_df, tmp_path, edit, match):
    path = tmp_path / "c.csv"
    edit(cohort_df).to_csv(path, index=False)
    with pytest.raises(ValueError, match=match):
        run_benchmark(_cfg(path, ["logistic"]), output=tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["c.csv"]


def test_dataset_object_and_multiclass(tmp_path):
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"])
    y = np.digitize(X.a + 0.3 * rng.normal(size=60), [-0.5, 0.5])
    ds = Dataset("three", X, y)
    res = run_benchmark(
        {
            "dataset": {"kind": "csv"},
            "methods": ["logistic", "xgboost"],
            "cv": {"n_splits": 3, "n_repeats": 1},
            "metrics": {"n_bootstrap": 20},
        },
        dataset=ds,
        progress=False,
    )
    assert (res.table.auroc > 0.7).all()


@pytest.mark.slow
def test_population_gcn_is_inductive_and_batch_invariant():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    y = (X[:, 0] + 0.3 * rng.normal(size=60) > 0).astype(int)
    clf = PopulationGCNClassifier(max_epochs=40, random_state=0).fit(X[:40], y[:40])
    full = clf.predict_proba(X[40:])
    one_by_one = np.vstack([clf.predict_proba(X[i : i + 1]) for i in range(40, 60)])
    np.testing.assert_allclose(full, one_by_one, atol=1e-6)
    again = PopulationGCNClassifier(max_epochs=40, random_state=0).fit(X[:40], y[:40])
    np.testing.assert_allclose(full, again.predict_proba(X[40:]), atol=1e-6)
    with pytest.raises(ValueError, match="n_neighbors=50 must be smaller than the number"):
        PopulationGCNClassifier(n_neighbors=50).fit(X[:40], y[:40])


def _data_dir():
    from features import shared_data_dir

    return shared_data_dir(must_exist=False)


@pytest.mark.data
@pytest.mark.slow
def test_adrenal_and_duke_datasets_load():
    from experiments import load_dataset

    if not (_data_dir() / "adrenalmnist3d").is_dir():
        pytest.skip(f"shared data folder not found at {_data_dir()} (set GRAPHBOOST_DATA_DIR)")
    ds = load_dataset({"kind": "adrenalmnist3d", "size": 28, "split": "val", "features": "shape"})
    assert ds.X.shape[0] == 98 and ds.X.notna().all().all() and set(ds.y) == {0, 1}
    with pytest.raises(InputError, match="Unknown AdrenalMNIST3D features 'pixels'"):
        load_dataset({"kind": "adrenalmnist3d", "split": "val", "features": "pixels"})
    duke = load_dataset({"kind": "duke", "task": "pcr", "group_column": "clin:Manufacturer"})
    assert duke.X.shape[0] == 288 and "clin:Manufacturer" not in duke.X.columns
    assert set(duke.groups) == {"0", "2"}
    with pytest.raises(InputError, match="Unknown Duke task 'her2'; choose one of"):
        load_dataset({"kind": "duke", "task": "her2"})


# --------------------------------------------------------------------------- graphboost-tuned
TUNED_TINY = {"n_trials": 2, "fixed": {"conv": "vote", "n_estimators": 5}}


@pytest.mark.slow
def test_tuned_method_is_nested_in_the_benchmark_folds(cohort_csv, tmp_path, monkeypatch):
    """``graphboost-tuned`` runs as a runner method: its params reach the estimator, its search
    sees only the training rows of each outer fold, the same folds as ``graphboost``."""
    from experiments import load_dataset
    from experiments.evaluation._cv import make_splits
    from experiments.tuning import _tuned

    seen = []
    fit = _tuned.TunedGraphBoostClassifier.fit

    def recording_fit(self, X, y):
        seen.append((self.n_trials, self.fixed, self.random_state, set(X.index)))
        return fit(self, X, y)

    monkeypatch.setattr(_tuned.TunedGraphBoostClassifier, "fit", recording_fit)
    cfg = _cfg(cohort_csv, ["graphboost", "graphboost-tuned"], seed=3)
    cfg["cv"] = {"n_splits": 2, "n_repeats": 1}
    cfg["params"] = {
        "graphboost": {"n_estimators": 5, "conv": "vote"},
        "graphboost-tuned": TUNED_TINY,
    }
    res = run_benchmark(cfg, output=tmp_path / "run", progress=False)
    assert list(res.table.method) == ["graphboost", "graphboost-tuned"]
    tuned = res.methods["graphboost-tuned"]
    assert np.isfinite(tuned.probas).all() and tuned.probas[0].shape == (48, 2)
    assert [(r, f) for r, f, _ in tuned.fold_scores] == [(0, 0), (0, 1)]
    assert (res.table.auroc > 0.75).all()  # x1 carries the label
    ds = load_dataset(cfg["dataset"])
    splits, _ = make_splits(ds, np.asarray(ds.y), 2, 1, 3)
    assert len(seen) == 2
    for (n_trials, fixed, seed, rows), (train, test) in zip(seen, splits[0], strict=True):
        assert (n_trials, fixed, seed) == (2, TUNED_TINY["fixed"], 3)
        assert rows == set(ds.X.index[train])  # the outer training fold only
        assert rows.isdisjoint(ds.X.index[test])
    assert set(res.variants) == {"graphboost-tuned"}  # a graphboost variant, paired with it
    md = (tmp_path / "run" / "results.md").read_text()
    assert "| graphboost-tuned |" in md and "graphboost-tuned vs graphboost: AUROC" in md


def test_tuned_method_checks_its_name_and_params(cohort_csv, tmp_path):
    from experiments import METHODS, TunedGraphBoostClassifier

    assert "graphboost-tuned" in METHODS
    names = r"choose from \[.*'graphboost', 'graphboost-tuned', 'graphboost_modalities'"
    with pytest.raises(InputError, match=r"Unknown method\(s\) \['graphboost_tuned'\]; " + names):
        load_config(_cfg(cohort_csv, ["logistic", "graphboost_tuned"]))
    pipe = make_pipeline("graphboost-tuned", {"n_trials": 4}, {"lab": ["x1", "x2"]}, 7)
    model = pipe.named_steps["model"]
    assert [step for step, _ in pipe.steps] == ["model"]
    assert isinstance(model, TunedGraphBoostClassifier)
    assert model.n_trials == 4 and model.random_state == 7
    assert model.feature_groups == {"lab": ["x1", "x2"]}
    cfg = _cfg(cohort_csv, ["graphboost-tuned"], params={"graphboost-tuned": {"n_trial": 4}})
    match = (
        r"Unknown graphboost-tuned \(TunedGraphBoostClassifier\) parameter\(s\) \['n_trial'\]; "
        r"valid: \['feature_groups', 'fixed', 'inner_splits', 'n_trials'"
    )
    with pytest.raises(InputError, match=match):
        run_benchmark(cfg, output=tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_catboost_baseline_fits_in_the_folds_and_writes_no_files(tmp_path, monkeypatch):
    """CatBoost with its defaults (issue 19's baseline) learns a plain signal and leaves no
    training logs (catboost_info/) in the working directory."""
    pytest.importorskip("catboost")
    from sklearn.metrics import roc_auc_score

    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(200, 3)), columns=["age", "size [mm]", "grade<3"])
    y = (X["age"] + 0.5 * rng.normal(size=200) > 0).astype(int).to_numpy()
    pipe = make_pipeline("catboost", {"iterations": 50}, random_state=0).fit(X[:150], y[:150])
    assert roc_auc_score(y[150:], pipe.predict_proba(X[150:])[:, 1]) > 0.8
    assert list(tmp_path.iterdir()) == []
