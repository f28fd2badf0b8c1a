"""Issue 19, point 3: the supervised scan block on the user's scans path.

``--scan-embedder supervised`` / ``scan_embedder="supervised"``: the block is the cross-fitted
logit of a 3D CNN trained on the labels, so it is fitted on training patients only (cross-fitted
on all of them for a model folder, refitted inside every training fold of a cross-validation or
a search); the model folder saves it without pickle, a patient without a scan is predicted, and
the block guard decides whether it stays. Tiny volumes (16^3) and a tiny recipe.
"""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from experiments import workflows
from experiments._base import InputError
from experiments.cli import main
from experiments.workflows import _supervised_scans

pytest.importorskip("monai")
pytest.importorskip("nibabel")

FAST = {"n_estimators": 3, "n_neighbors": 5, "conv": "vote", "boost_scale": 0.5}
QUICK = {**FAST, "block_guard": False}  # where the guard is not what is tested
TINY = {"cv": 2, "max_epochs": 1, "batch_size": 8, "channels": (4, 4, 8, 8), "shape": 16}
TINY["pretrain_epochs"] = 0


@pytest.fixture(scope="module")
def syn(tmp_path_factory):
    from features import make_synthetic_cohort

    return make_synthetic_cohort(
        tmp_path_factory.mktemp("syn"),
        n_patients=24,
        shape=(16, 16, 16),
        random_state=0,
        write_masks=False,
    )


@pytest.fixture(scope="module")
def cohort(syn):
    with pytest.warns(UserWarning, match="lack block 'scans'"):
        return workflows.load_cohort(
            syn.clinical_path,
            label="label",
            id_column="patient_id",
            scans=syn.scans_dir,
            scan_embedder="supervised",
            scan_recipe=TINY,
            progress=False,
        )


@pytest.fixture(scope="module")
def fitted(cohort, tmp_path_factory):
    return workflows.fit_model_folder(cohort, tmp_path_factory.mktemp("m") / "model", params=FAST)


@pytest.fixture
def tiny_recipe(monkeypatch):
    """The command line reads the recipe from SUPERVISED_RECIPES: a tiny one for the tests."""
    for kind in ("cpu", "cuda"):
        monkeypatch.setitem(
            _supervised_scans.SUPERVISED_RECIPES,
            kind,
            {**_supervised_scans.SUPERVISED_RECIPES[kind], **TINY},
        )


@pytest.fixture
def fits(monkeypatch):
    """The patients (IDs) of every training of a SupervisedVolumeEmbedder, in order."""
    from features import SupervisedVolumeEmbedder

    seen, original = [], SupervisedVolumeEmbedder.fit_transform

    def recording(self, X, y=None, **kw):
        seen.append(set(map(str, X.index)))
        return original(self, X, y, **kw)

    monkeypatch.setattr(SupervisedVolumeEmbedder, "fit_transform", recording)
    _supervised_scans._FITTED.clear()  # no fit of another test is reused
    return seen


def test_load_cohort_attaches_the_scans_and_the_step(cohort, syn):
    assert cohort.scan_embedder == "supervised" and cohort.scan_shape == 16
    assert "scans:logit" not in cohort.X.columns  # fitted later, inside the training data
    without = [pid for pid, f in zip(cohort.patient_ids, cohort.scan_files, strict=True) if not f]
    assert len(without) == len(cohort.unmatched_scans) > 0
    assert set(without) == set(syn.read_clinical().patient_id) - set(syn.scan_paths)
    embedder = cohort.scan_step.embedder
    assert (embedder.cv, embedder.max_epochs, embedder.test_time_flips) == (2, 1, True)
    assert embedder.validation_fraction == 0.0 and embedder.pretrained is None


def test_the_folder_is_cross_fitted_out_of_fold_and_guarded(fitted, cohort):
    emb = fitted.scan_block.embedder_
    has_scan = np.array([f is not None for f in cohort.scan_files])
    assert (emb.oof_fold_[has_scan] >= 0).all() and (emb.oof_fold_[~has_scan] == -1).all()
    for row in np.flatnonzero(has_scan):  # each value from the encoder that never saw the row
        trained_on, _ = emb.cv_folds_[emb.oof_fold_[row]]
        assert row not in set(trained_on)
    clf = fitted.model[-1]
    assert set(clf.block_guard_) == {"scans"} and "scans:logit" in clf.feature_names_in_
    spec = json.loads((fitted.path / "cohort.json").read_text())
    assert spec["scans"]["embedder"] == "supervised"
    assert spec["scans"]["recipe"]["cv"] == 2 and spec["params"]["block_guard"] is True
    files = json.loads((fitted.path / "manifest.json").read_text())["files"]
    assert {"scan_embedder/embedder.json", "scan_embedder/fold_0.pt"} <= set(files)
    assert not list(fitted.path.rglob("*.pkl")) and not list(fitted.path.rglob("*.pickle"))


def test_a_fresh_load_predicts_as_the_fitted_model(fitted, cohort, syn):
    table = syn.read_clinical()
    X = workflows.cohort_task(cohort, "c")[0].X
    expected = fitted.model.predict_proba(fitted.scan_block.transform(X))
    folder = workflows.load_model_folder(fitted.path)  # a new object, read from disk
    with pytest.warns(UserWarning, match="lack block 'scans'"):
        got = workflows.predict(folder, table, scans=syn.scans_dir, progress=False)
    np.testing.assert_allclose(got[["proba_0", "proba_1"]].to_numpy(), expected, rtol=1e-6)
    no_scan = ~table.patient_id.isin(list(syn.scan_paths)).to_numpy()
    assert no_scan.any() and np.isfinite(got.loc[no_scan, "proba_1"]).all()


def test_fit_and_predict_on_the_command_line(syn, tiny_recipe, tmp_path, capsys):
    out = tmp_path / "model"
    argv = ["fit", "--data", str(syn.clinical_path), "--label", "label", "--id-column"]
    argv += ["patient_id", "--scans", str(syn.scans_dir), "--scan-embedder", "supervised"]
    argv += ["--quiet", "--output", str(out)]
    for k, v in FAST.items():
        argv += ["--param", f"{k}={json.dumps(v)}"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    guard = workflows.load_model_folder(out).model[-1].block_guard_["scans"]
    word = "kept" if guard["kept"] else "dropped"
    assert f"Block scans: {word} (inner 5-fold AUROC" in printed
    card = (out / "MODEL_CARD.md").read_text()
    assert f"| scans | {'yes' if guard['kept'] else 'no'} | " in card
    assert "fine-tuned on the training labels" in card and "cross-fitted" in card
    # predict in a fresh process: the block comes from the folder alone
    preds = tmp_path / "preds.csv"
    argv = ["predict", "--model", str(out), "--data", str(syn.clinical_path)]
    argv += ["--scans", str(syn.scans_dir), "--quiet", "--output", str(preds)]
    run = subprocess.run(
        [sys.executable, "-m", "experiments.cli", *argv], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    frame = pd.read_csv(preds, dtype={"patient_id": str})
    assert len(frame) == 24 and frame.proba_1.notna().all()
    assert "lack block 'scans'" in run.stderr  # the patients without a scan, predicted
    with pytest.warns(UserWarning, match="lack block 'scans'"):
        here = workflows.predict(out, syn.read_clinical(), scans=syn.scans_dir, progress=False)
    np.testing.assert_allclose(frame.proba_1, here.proba_1, rtol=1e-6)


def test_a_bad_scan_embedder_is_refused_naming_the_option(syn, tmp_path, capsys):
    argv = ["fit", "--data", str(syn.clinical_path), "--label", "label", "--id-column"]
    argv += ["patient_id", "--scans", str(syn.scans_dir), "--scan-embedder", "cnn"]
    assert main([*argv, "--output", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert "--scan-embedder" in err and "'cnn'" in err and "supervised" in err
    assert not (tmp_path / "m").exists()
    with pytest.raises(InputError, match=r"scan embedder \(--scan-embedder, scan_embedder=\)"):
        workflows.load_cohort(
            syn.clinical_path,
            label="label",
            id_column="patient_id",
            scans=syn.scans_dir,
            scan_embedder="Supervised",
        )
    with pytest.raises(InputError, match=r"scan_recipe has unknown key\(s\) \['epochs'\]"):
        workflows.load_cohort(
            syn.clinical_path,
            label="label",
            id_column="patient_id",
            scans=syn.scans_dir,
            scan_embedder="supervised",
            scan_recipe={"epochs": 3},
        )


def test_a_survival_outcome_takes_the_self_supervised_block(syn):
    table = syn.read_clinical().assign(time=np.arange(1.0, 25.0), event=[0, 1] * 12)
    with pytest.raises(InputError, match=r"needs a label column \(--label\)"):
        workflows.load_survival_cohort_table(
            table.drop(columns="label"),
            time="time",
            event="event",
            id_column="patient_id",
            scans=syn.scans_dir,
            scan_embedder="supervised",
        )


def _held_out_parts(seen, patients):
    """The patients each training left out: they must partition the cohort (each one left
    out by exactly one training)."""
    held_out = [patients - s for s in seen]
    assert sum(len(h) for h in held_out) == len(patients)
    assert set().union(*held_out) == patients
    return held_out


def test_cross_validate_refits_the_block_inside_every_training_fold(cohort, fits):
    cv = workflows.cross_validate(cohort, params=QUICK, n_splits=3, n_bootstrap=10)
    assert np.isfinite(cv.auroc()) and np.isfinite(cv.auroc("logistic"))
    patients = set(map(str, cohort.patient_ids))
    # three trainings, one per outer training fold (logistic regression reuses GraphBoost's),
    # each without the patients of its held-out fold
    assert len(fits) == 3
    _held_out_parts(fits, patients)


def test_fit_cv_cross_fits_the_folder_on_every_patient_after_the_folds(cohort, fits, tmp_path):
    fitted = workflows.fit_model_folder(cohort, tmp_path / "m", params=QUICK, cv=2)
    assert fitted.cv is not None and len(fits) == 3
    patients = set(map(str, cohort.patient_ids))
    _held_out_parts(fits[:2], patients)  # the two outer folds
    assert fits[2] == patients  # the folder's block: cross-fitted on all the patients


def test_tune_refits_the_block_inside_every_inner_fold(syn, tiny_recipe, fits, tmp_path, capsys):
    pytest.importorskip("optuna")
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    argv = ["tune", "--data", str(syn.clinical_path), "--label", "label", "--id-column"]
    argv += ["patient_id", "--scans", str(syn.scans_dir), "--scan-embedder", "supervised"]
    argv += ["--n-trials", "2", "--inner-splits", "2", "--storage", storage, "--quiet"]
    argv += ["--param", "n_estimators=3", "--param", 'conv="vote"', "--param", "boost_scale=0.5"]
    assert main(argv) == 0
    assert "Best inner-CV AUROC" in capsys.readouterr().out
    # two trials on the same two inner folds: one training per inner fold, shared by the trials
    assert len(fits) == 2
    _held_out_parts(fits, {str(p) for p in syn.read_clinical().patient_id})
    import optuna

    study = optuna.load_study(study_name="graphboost", storage=storage)
    assert "scan_block" in study.user_attrs["graphboost_fingerprint"]


def test_the_step_reuses_an_equal_fit_and_refits_on_other_labels(cohort, fits):
    ds, step = workflows.cohort_task(cohort, "c")
    y = np.unique(ds.y, return_inverse=True)[1]
    first = step.fit_transform(ds.X, y)
    again = workflows.cohort_task(cohort, "c")[1]
    second = again.fit_transform(ds.X, y)
    assert again.reused_ and len(fits) == 1
    pd.testing.assert_frame_equal(first, second)
    again.fit_transform(ds.X, 1 - y)
    assert not again.reused_ and len(fits) == 2


def test_a_class_with_too_few_scans_for_the_block_is_refused_before_any_work(cohort, tmp_path):
    import copy

    few = copy.copy(cohort)
    y = cohort.y.astype(str).to_numpy()
    first = np.flatnonzero(y == y[0])
    few.scan_files = [None if i in first[1:] else f for i, f in enumerate(cohort.scan_files)]
    with pytest.raises(InputError, match=r"has 1 patient with a scan; the supervised scan block"):
        workflows.fit_model_folder(few, tmp_path / "m", params=QUICK)
    assert not (tmp_path / "m").exists()


def test_the_recipe_is_the_studys_for_the_device(monkeypatch):
    import torch

    import graphboost

    cpu = workflows.supervised_recipe("cpu")
    assert (cpu["device_type"], cpu["shape"], cpu["cv"], cpu["max_epochs"]) == ("cpu", 32, 3, 25)
    assert cpu["test_time_flips"] and cpu["validation_fraction"] == 0.0
    assert (cpu["pretrain_objective"], cpu["pretrain_epochs"]) == ("simclr", 12)
    monkeypatch.setattr(graphboost, "resolve_device", lambda device: torch.device("cuda"))
    gpu = workflows.supervised_recipe()
    assert (gpu["device_type"], gpu["shape"], gpu["cv"], gpu["max_epochs"]) == ("cuda", 64, 5, 30)


def test_a_recalibrated_folder_and_explain_read_the_saved_block(cohort, syn, tmp_path):
    out = tmp_path / "m"
    workflows.fit_model_folder(cohort, out, params=QUICK, calibration="sigmoid", inner_splits=2)
    table = syn.read_clinical()
    with pytest.warns(UserWarning, match="lack block 'scans'"):
        pred = workflows.predict(out, table, scans=syn.scans_dir, progress=False)
    assert pred.proba_1.between(0, 1).all() and len(pred) == len(table)
    with pytest.warns(UserWarning, match="lack block 'scans'"):
        expl = workflows.explain(out, table.iloc[:3], scans=syn.scans_dir, progress=False)
    assert set(expl.patient_id) <= set(table.patient_id) and "modality" in expl.columns
