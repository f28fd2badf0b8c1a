"""Issue 20, the scans path: items 8, 16, 18, 20, 21, 25, 26 and 28.

An input whose meaning is ambiguous is an error with the remedy (two scans of one patient, a
scan with several frames, a shape too small for the encoder); the file names, which carry
patient IDs, go to a list file beside the output, never to the terminal; only the table's
patients are embedded; the pretraining runs a fixed number of epochs, with progress bars.
"""

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from experiments import workflows
from experiments._base import InputError
from experiments.cli import main

pytest.importorskip("nibabel")

FAST = {"n_estimators": 3, "n_neighbors": 5}
ID = "SYN0001"  # a patient ID that must never reach the terminal


@pytest.fixture(scope="module")
def syn(tmp_path_factory):
    from features import make_synthetic_cohort

    return make_synthetic_cohort(
        tmp_path_factory.mktemp("syn"),
        n_patients=12,
        shape=(16, 16, 16),
        random_state=0,
        write_masks=False,
    )


@pytest.fixture
def scans(syn, tmp_path):
    """A copy of the cohort's scans folder, to add files to."""
    return shutil.copytree(syn.scans_dir, tmp_path / "scans")


def _embed(scans, out, *extra):
    argv = ["embed", "--scans", str(scans), "--shape", "16", "--device", "cpu", "--quiet"]
    return main([*argv, "--output", str(out), *extra])


# ------------------------------------------------------------------------------ item 8
def test_two_scans_of_one_patient_are_refused_and_listed_in_a_file(scans, syn, tmp_path, capsys):
    """Issue 20 item 8: SYN0001.nii beside SYN0001.nii.gz, one of them used silently."""
    shutil.copy(scans / f"{ID}.nii.gz", scans / f"{ID}.nii")
    with pytest.raises(
        workflows.ScanListError, match=r"1 patient\(s\) have more than one scan"
    ) as e:
        workflows.embed_scans(scans, shape=16, progress=False)
    assert ID not in str(e.value) and "Keep one scan per patient" in str(e.value)
    assert e.value.files == [f"{ID}.nii", f"{ID}.nii.gz"]
    out = tmp_path / "emb.csv"
    assert _embed(scans, out) == 2
    err = capsys.readouterr().err
    listing = tmp_path / "emb.duplicate_scans.csv"
    assert "(2 files" in err and f"listed in '{listing}'" in err and ID not in err
    assert pd.read_csv(listing).file.tolist() == [f"{ID}.nii", f"{ID}.nii.gz"]
    assert not out.exists()
    # fit: refused before any pretraining, the list beside the model folder, no model folder
    fit = ["fit", "--data", str(syn.clinical_path), "--label", "label", "--id-column"]
    fit += ["patient_id", "--scans", str(scans), "--scan-shape", "16", "--quiet"]
    assert main([*fit, "--output", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert "more than one scan" in err and ID not in err and "pretraining" not in err
    assert (tmp_path / "m.duplicate_scans.csv").is_file() and not (tmp_path / "m").exists()


# ----------------------------------------------------------------------------- item 21
def test_hidden_and_system_folders_of_the_scans_folder_are_ignored(scans):
    """Issue 20 item 21: .ipynb_checkpoints/ or __MACOSX/ were read as DICOM series."""
    before = set(workflows.embed_scans(scans, shape=16, progress=False).index)
    for name in (".ipynb_checkpoints", "__MACOSX"):
        (scans / name).mkdir()
        shutil.copy(scans / f"{ID}.nii.gz", scans / name / f"._{ID}.nii.gz")
    (scans / f"._{ID}.nii.gz").write_bytes(b"macOS resource fork")  # AppleDouble file
    (scans / ".DS_Store").write_bytes(b"\0")
    emb = workflows.embed_scans(scans, shape=16, progress=False)
    assert set(emb.index) == before and emb.notna().all().all()


# ----------------------------------------------------------------------------- item 25
@pytest.mark.parametrize("shape", [0, 1, 8])
def test_a_scan_shape_below_the_encoders_minimum_is_refused_before_any_scan(
    shape, scans, tmp_path, capsys
):
    """Issue 20 item 25: --shape 1 embedded one-voxel volumes; --shape 0 blamed the first scan."""
    (scans / "BROKEN.nii.gz").write_bytes(b"not a scan")  # never read: the shape comes first
    with pytest.raises(InputError, match=rf"Scan shape {shape} is too small: .* at least 16"):
        workflows.embed_scans(scans, shape=shape, progress=False)
    with pytest.raises(InputError, match=rf"Scan shape {shape} is too small"):
        workflows.load_cohort(
            tmp_path / "no-table.csv", id_column="patient_id", scans=scans, scan_shape=shape
        )
    argv = ["embed", "--scans", str(scans), "--shape", str(shape), "--quiet"]
    assert main([*argv, "--output", str(tmp_path / "e.csv")]) == 2
    err = capsys.readouterr().err
    assert "too small" in err and "--shape" in err and "BROKEN" not in err


# ----------------------------------------------------------------------------- item 20
def test_a_scan_with_several_frames_is_listed_with_a_command_line_remedy(scans, tmp_path, capsys):
    """Issue 20 item 20: a 4D NIfTI (3 frames) gave "different shapes" and a Python remedy."""
    import nibabel as nib

    frames = np.random.default_rng(0).random((16, 16, 16, 3)).astype(np.float32)
    nib.save(nib.Nifti1Image(frames, np.eye(4)), scans / "SYN0002.nii.gz")
    with pytest.raises(workflows.ScanListError, match=r"1 scan has 4 dimensions \(3 frames\)") as e:
        workflows.embed_scans(scans, shape=16, progress=False)
    assert e.value.rows == [{"file": "SYN0002.nii.gz", "shape": "16x16x16x3"}]
    out = tmp_path / "emb.csv"
    assert _embed(scans, out) == 2
    err = capsys.readouterr().err
    listing = tmp_path / "emb.multi_frame_scans.csv"
    assert "1 scan has 4 dimensions (3 frames)" in err and "--on-error skip" in err
    assert f"listed in '{listing}'" in err and "SYN0002" not in err
    assert pd.read_csv(listing).file.tolist() == ["SYN0002.nii.gz"]
    # --on-error skip: that patient has no scan, the others are embedded
    assert _embed(scans, out, "--on-error", "skip") == 0
    emb = pd.read_csv(out).set_index("patient_id")
    assert emb.loc["SYN0002"].isna().all() and emb.drop(index="SYN0002").notna().all().all()
    assert pd.read_csv(tmp_path / "emb.skipped_scans.csv").file.tolist() == ["SYN0002.nii.gz"]
    assert "SYN0002" not in capsys.readouterr().err


# ------------------------------------------------------------------------- items 16, 17
@pytest.mark.filterwarnings("ignore:Patient IDs do not match")  # SYN0011 has no scan
def test_predict_embeds_only_the_patients_it_predicts(syn, tmp_path, monkeypatch):
    """Issue 20 item 16: predict --scans for 10 patients embedded all the folder's scans; and
    item 17: their embeddings, so their risks, are the same bit for bit as in a larger run."""
    import features

    cohort = workflows.load_cohort(
        syn.clinical_path,
        label="label",
        id_column="patient_id",
        scans=syn.scans_dir,
        scan_shape=16,
        scan_pretrain_epochs=0,
        progress=False,
    )
    fitted = workflows.fit_model_folder(cohort, tmp_path / "m", params=FAST, scan_shape=16)
    everyone = workflows.predict(fitted.path, syn.clinical_path, scans=syn.scans_dir)
    few = pd.read_csv(syn.clinical_path, dtype={"patient_id": str}).head(3)
    embedded = []
    transform = features.VolumeEmbedder.transform

    def counting(self, X, *args, **kwargs):
        embedded.append(len(X))
        return transform(self, X, *args, **kwargs)

    monkeypatch.setattr(features.VolumeEmbedder, "transform", counting)
    pred = workflows.predict(fitted.path, few, scans=syn.scans_dir, progress=False)
    assert embedded == [3] and len(syn.scan_paths) == 11
    proba = [c for c in pred.columns if c.startswith("proba_")]
    np.testing.assert_allclose(pred[proba], everyone[proba].head(3), rtol=0, atol=1e-12)
    # the embeddings themselves: bit for bit the same as in the fit, which embedded all of them
    kw = {"id_column": "patient_id", "scans": syn.scans_dir, "scan_shape": 16, "progress": False}
    again = workflows.load_cohort(few, **kw, scan_pretrain_epochs=0)
    block = [c for c in cohort.X.columns if c.startswith("scans:") and c != "scans:missing"]
    assert np.array_equal(again.X[block].to_numpy(), cohort.X[block].head(3).to_numpy())


# ------------------------------------------------------------------------- items 28, 18
def test_the_pretraining_runs_a_fixed_number_of_epochs(syn, recwarn):
    """Issue 20 item 28: a time budget made the encoder depend on the machine's speed."""
    a, rec_a = workflows._scans.pretrain_scan_encoder(
        syn.scans_dir, shape=16, epochs=1, progress=False
    )
    b, _ = workflows._scans.pretrain_scan_encoder(syn.scans_dir, shape=16, epochs=1, progress=False)
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys() and all(np.array_equal(sa[k], sb[k]) for k in sa)
    assert rec_a["epochs"] == rec_a["epochs_planned"] == 1 and not rec_a["stopped_by_time"]
    assert not [w for w in recwarn if "time limit" in str(w.message)]
    # a time limit is an upper bound, reported when it stops the pretraining early
    with pytest.warns(UserWarning, match=r"stopped at its time limit .* after 1 of 3 epochs"):
        _, rec = workflows._scans.pretrain_scan_encoder(
            syn.scans_dir, shape=16, epochs=3, seconds=1e-6, progress=False
        )
    assert rec["stopped_by_time"] and rec["epochs"] == 1 and rec["epochs_planned"] == 3
    with pytest.raises(InputError, match=r"whole number of epochs of at least 1"):
        workflows._scans.pretrain_scan_encoder(syn.scans_dir, shape=16, epochs=1.5)


def test_fit_with_scans_shows_progress_lists_unmatched_ids_and_records_epochs(
    syn, scans, tmp_path, capsys
):
    """Issue 20 items 18 (no output for 75 s), 26 (IDs "in Cohort.unmatched_ids") and 28 (the
    model card records the epochs run)."""
    shutil.copy(scans / f"{ID}.nii.gz", scans / "SYN0999.nii.gz")  # a scan not in the table
    argv = ["fit", "--data", str(syn.clinical_path), "--label", "label", "--id-column"]
    argv += ["patient_id", "--scans", str(scans), "--scan-shape", "16", "--param"]
    argv += ["n_estimators=3", "--param", "n_neighbors=5", "--scan-pretrain-epochs", "1"]
    assert main([*argv, "--output", str(tmp_path / "m")]) == 0
    err = capsys.readouterr().err
    assert "pretraining" in err and "embedding" in err  # tqdm bars on stderr
    listing = tmp_path / "m" / workflows.UNMATCHED_SCANS
    assert f"Unmatched patient IDs are listed in {listing}" in " ".join(err.split())
    assert "Cohort.unmatched_ids" not in err and "SYN0999" not in err and "SYN0011" not in err
    unmatched = pd.read_csv(listing, dtype=str)
    assert unmatched.values.tolist() == [["SYN0011", "no scan"], ["SYN0999", "not in the table"]]
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert workflows.UNMATCHED_SCANS in manifest["files"]
    card = (tmp_path / "m" / "MODEL_CARD.md").read_text()
    assert "pretrained self-supervised" in card and "for 1 epochs" in card
    assert workflows.UNMATCHED_SCANS in card  # the privacy line names the file
    record = json.loads((tmp_path / "m" / "cohort.json").read_text())["scans"]["pretraining"]
    assert record["epochs"] == 1 and record["stopped_by_time"] is False
    # --quiet: no progress bar
    assert main([*argv, "--output", str(tmp_path / "m2"), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "pretraining" not in err and "embedding:" not in err and "it/s" not in err
