"""experiments.workflows: one path from a table (+ scans) to a saved model, predictions, reasons."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from experiments import InputError, run_benchmark, workflows
from experiments._base import filter_fold_noise
from experiments.evaluation._dataset import dataset_from_cohort, read_cohort

FAST = {"n_estimators": 5, "conv": "vote", "n_neighbors": 5}


@pytest.fixture(scope="module")
def fitted(cohort_csv, tmp_path_factory):
    cohort = workflows.load_cohort(cohort_csv, label="y", id_column="pid")
    out = tmp_path_factory.mktemp("wf") / "model"
    return workflows.fit_model_folder(cohort, out, params=FAST, groups={"lab": ["x1", "x2"]})


def test_fit_cv_and_benchmark_share_one_cross_validation(cohort_csv, tmp_path):
    """Issue 8: `fit --cv` and `benchmark` reported AUROCs from different preprocessing."""
    cohort = workflows.load_cohort(cohort_csv, label="y", id_column="pid")
    fit = workflows.fit_model_folder(cohort, tmp_path / "m", params=FAST, cv=3, random_state=1)
    cfg = {
        "dataset": {"kind": "csv", "path": str(cohort_csv), "label": "y", "id_column": "pid"},
        "methods": ["graphboost", "logistic"],
        "params": {"graphboost": FAST},
        "cv": {"n_splits": 3, "n_repeats": 1},
        "metrics": {"n_bootstrap": 20},
        "seed": 1,
    }
    bench = run_benchmark(cfg, progress=False).table.set_index("method")
    for method in ("graphboost", "logistic"):
        assert fit.cv.auroc(method) == pytest.approx(bench.loc[method, "auroc"], abs=1e-12)
    assert fit.cv.auroc("graphboost") > 0.75  # x1 carries the label
    oof = pd.read_csv(tmp_path / "m" / "cv_predictions.csv")
    assert list(oof.columns[:2]) == ["row", "label"] and len(oof) == 48  # no ID (issue 20.6)


def test_load_predict_explain_round_trip(fitted, cohort_csv):
    folder = workflows.load_model_folder(fitted.path)
    table = pd.read_csv(cohort_csv)
    pred = workflows.predict(folder, table)
    expected = fitted.model.predict_proba(table.drop(columns=["pid", "y"]).set_index(table.pid))
    np.testing.assert_allclose(pred[["proba_0", "proba_1"]].to_numpy(), expected, atol=1e-12)
    assert pred.pid.tolist() == table.pid.tolist()
    expl = workflows.explain(fitted.path, cohort_csv, n_neighbors=3)
    assert set(expl.pid) == set(table.pid) and "contribution" in expl.columns
    assert folder.spec["feature_groups"] == {"lab": ["x1", "x2"]}


def test_ids_are_text_and_kept_verbatim(cohort_df, tmp_path):
    """Issue 11: zero-padded IDs were read as integers (001 -> 1) and could not be joined back."""
    df = cohort_df.assign(pid=[f"{i:03d}" for i in range(len(cohort_df))])
    df.to_csv(tmp_path / "c.csv", index=False)
    cohort = workflows.load_cohort(tmp_path / "c.csv", label="y", id_column="pid")
    fit = workflows.fit_model_folder(cohort, tmp_path / "m", params=FAST)
    pred = workflows.predict(fit.path, tmp_path / "c.csv")
    assert pred.pid.tolist()[:3] == ["000", "001", "002"]


def _block_cohort(cohort_df, lacking):
    rng = np.random.default_rng(0)
    emb = pd.DataFrame(rng.normal(size=(len(cohort_df), 4)), columns=[f"e{i}" for i in range(4)])
    emb.index = cohort_df.pid
    emb = emb.drop(index=cohort_df.pid.iloc[:lacking])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Patient IDs do not match")
        return read_cohort(cohort_df, label="y", id_column="pid", blocks={"mri": emb})


@pytest.mark.parametrize("lacking", [0, 6])
def test_a_patient_without_a_scan_is_linked_through_no_imaging_graph(cohort_df, tmp_path, lacking):
    """Issue 8: per-column `emb_i__missing` indicators made them identical, linked points."""
    cohort = _block_cohort(cohort_df, lacking)
    fit = workflows.fit_model_folder(cohort, tmp_path / "m", params=FAST)
    clf = fit.model[-1]
    names = list(clf.feature_names_in_)
    assert "mri:missing" in names and not [c for c in names if c.endswith("__missing")]
    assert [names[i] for i in clf.feature_groups_["mri"]] == [f"mri:e{i}" for i in range(4)]
    # New patients without the block are flagged, even when every training patient had it.
    new = cohort_df.head(3).assign(**{f"mri:e{i}": np.nan for i in range(4)}, **{"mri:missing": 1})
    pred = workflows.predict(fit.path, new)
    assert pred.pid.tolist() == cohort_df.pid.head(3).tolist()
    assert np.isfinite(pred[["proba_0", "proba_1"]].to_numpy()).all()


def test_overwrite_replaces_only_a_model_folder(fitted, cohort_df, tmp_path, monkeypatch):
    """Issue 11: `--output . --overwrite` emptied the folder holding the data."""
    data = tmp_path / "data"
    data.mkdir()
    cohort_df.to_csv(data / "c.csv", index=False)
    (data / "notes.txt").write_text("keep")
    cohort = workflows.load_cohort(data / "c.csv", label="y", id_column="pid")
    monkeypatch.chdir(data)
    for out in (".", data):
        with pytest.raises(InputError, match=r"Refusing to overwrite .* not a model folder"):
            workflows.fit_model_folder(cohort, out, params=FAST, overwrite=True)
    assert sorted(p.name for p in data.iterdir()) == ["c.csv", "notes.txt"]
    model = tmp_path / "model"
    workflows.fit_model_folder(cohort, model, params=FAST)
    with pytest.raises(InputError, match="already exists and is not empty; pass --overwrite"):
        workflows.fit_model_folder(cohort, model, params=FAST)
    workflows.fit_model_folder(cohort, model, params={**FAST, "n_estimators": 2}, overwrite=True)
    assert json.loads((model / "cohort.json").read_text())["params"]["n_estimators"] == 2
    (model / "mine.txt").write_text("foreign")
    with pytest.raises(InputError, match=r"files it did not write: \['mine.txt'\]"):
        workflows.fit_model_folder(cohort, model, params=FAST, overwrite=True)


@pytest.mark.parametrize("name", ["cohort.json", "preprocessor.json", "estimator/model.json"])
def test_every_file_of_a_model_folder_is_checked_on_load(fitted, tmp_path, name):
    """Issue 11: only arrays.pt was checksummed; an edited JSON changed predictions silently."""
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(fitted.path, copy)
    path = copy / name
    path.write_text(path.read_text().replace("0", "1", 1))
    with pytest.raises(InputError, match=f"altered or damaged: '{name}' does not match"):
        workflows.load_model_folder(copy)
    path.unlink()
    with pytest.raises(InputError, match=f"incomplete: '{name}' is missing"):
        workflows.load_model_folder(copy)


def test_errors_name_what_is_wrong(fitted, cohort_csv, tmp_path):
    cohort = workflows.load_cohort(cohort_csv, label="y", id_column="pid")
    with pytest.raises(InputError, match=r"cv must be 0 .* or at least 2; got 1"):
        workflows.fit_model_folder(cohort, tmp_path / "m", params=FAST, cv=1)
    with pytest.raises(InputError, match=r"Group 'g' names columns that are not features: \['z'\]"):
        workflows.fit_model_folder(cohort, tmp_path / "m", params=FAST, groups={"g": ["z"]})
    with pytest.raises(InputError, match="Scans need an ID column"):
        workflows.load_cohort(cohort_csv, label="y", scans=tmp_path)
    with pytest.raises(InputError, match="fitted with scans; pass the scans"):
        folder = workflows.load_model_folder(fitted.path)
        folder.spec["scans"] = {"block": "scans", "shape": 16}
        workflows.predict(folder, cohort_csv)
    assert not (tmp_path / "m").exists()


def test_fold_noise_is_filtered_by_message_and_nothing_else():
    """Issue 8: UserWarning was silenced for whole runs, hiding 'No candidate graph beat chance'."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with filter_fold_noise():
            warnings.warn("Constant columns skipped as candidate edge features: 'a'.", stacklevel=1)
            warnings.warn("Values not seen in fit (encoded as all zeros) ...", stacklevel=1)
            warnings.warn("No candidate graph beat chance in the first round.", stacklevel=1)
    assert [str(w.message) for w in caught] == [
        "No candidate graph beat chance in the first round."
    ]


def _wide_block_cohort(cohort_df, lacking=4, width=20):
    rng = np.random.default_rng(1)
    emb = pd.DataFrame(rng.normal(size=(len(cohort_df), width)))
    emb.columns = [f"e{i}" for i in range(width)]
    emb.index = cohort_df.pid
    emb = emb.drop(index=cohort_df.pid.iloc[:lacking])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Patient IDs do not match")
        return read_cohort(cohort_df, label="y", id_column="pid", blocks={"mri": emb})


def test_a_wide_embedding_block_is_reduced_inside_the_fold_and_saved(cohort_df, tmp_path):
    """Issue 10: a 256-d block is mostly distance noise; reduced to 8 components by default."""
    cohort = _wide_block_cohort(cohort_df)
    fit = workflows.fit_model_folder(cohort, tmp_path / "m", params=FAST, cv=3)
    clf, pre = fit.model[-1], fit.model[0]
    names = list(clf.feature_names_in_)
    assert [names[i] for i in clf.feature_groups_["mri"]] == [f"mri:pc{i}" for i in range(8)]
    assert not [c for c in names if c.startswith("mri:e")]
    assert pre.block_pca_["mri"]["columns"] == [f"mri:e{i}" for i in range(20)]
    block = cohort.X.filter(like="mri:")  # by patient ID, NaN and "mri:missing" = 1 if lacking
    table = pd.concat([cohort_df.set_index("pid"), block.set_axis(cohort_df.pid)], axis=1)
    table = table.reset_index()
    pred = workflows.predict(workflows.load_model_folder(fit.path), table)
    features = dataset_from_cohort(cohort, "c").X.loc[pred.pid]  # the columns as in fit
    expected = fit.model.predict_proba(features)
    np.testing.assert_allclose(pred[["proba_0", "proba_1"]].to_numpy(), expected, atol=1e-12)
    whole = workflows.fit_model_folder(cohort, tmp_path / "w", params=FAST, block_components=0)
    whole_names = list(whole.model[-1].feature_names_in_)
    assert len([c for c in whole_names if c.startswith("mri:e")]) == 20


def test_block_components_must_be_a_count(cohort_df, tmp_path):
    cohort = _wide_block_cohort(cohort_df)
    with pytest.raises(InputError, match=r"block_components must be 0 or more; got -1"):
        workflows.fit_model_folder(cohort, tmp_path / "m", params=FAST, block_components=-1)
    assert not (tmp_path / "m").exists()


@pytest.fixture(scope="module")
def scans_cohort(tmp_path_factory):
    from features import make_synthetic_cohort

    syn = make_synthetic_cohort(
        tmp_path_factory.mktemp("syn"), n_patients=24, shape=(12, 12, 12), write_masks=False
    )
    return syn


@pytest.mark.filterwarnings("ignore:Patient IDs do not match")  # one patient has no scan
def test_the_scan_encoder_is_pretrained_saved_and_used_for_new_patients(scans_cohort, tmp_path):
    """Issue 10: `fit --scans` embedded with a random encoder, below the clinical table alone."""
    syn = scans_cohort
    kw = {"label": "label", "id_column": "patient_id", "scans": syn.scans_dir, "scan_shape": 16}
    cohort = workflows.load_cohort(syn.clinical_path, **kw)
    assert cohort.scan_encoder["record"]["n_scans"] == len(syn.scan_paths)
    random_init = workflows.load_cohort(syn.clinical_path, **kw, scan_pretrain_seconds=0)
    with pytest.raises(InputError, match=r"budget must be a positive number of seconds; got -1"):
        workflows.load_cohort(syn.clinical_path, **kw, scan_pretrain_seconds=-1)
    assert random_init.scan_encoder is None
    block = [c for c in cohort.X.columns if c.startswith("scans:")]
    assert not np.allclose(cohort.X[block].fillna(0), random_init.X[block].fillna(0))
    fit = workflows.fit_model_folder(cohort, tmp_path / "m", params=FAST, scan_shape=16)
    assert "scan_encoder.pt" in json.loads((fit.path / "manifest.json").read_text())["files"]
    pred = workflows.predict(fit.path, syn.clinical_path, scans=syn.scans_dir)
    X = dataset_from_cohort(cohort, "c").X.loc[pred.patient_id]  # the fit's own embeddings
    np.testing.assert_allclose(
        pred[["proba_0", "proba_1"]].to_numpy(), fit.model.predict_proba(X), atol=1e-9
    )
    (fit.path / "scan_encoder.pt").write_bytes(b"not the weights")
    with pytest.raises(InputError, match=r"altered or damaged: 'scan_encoder\.pt'"):
        workflows.load_model_folder(fit.path)
