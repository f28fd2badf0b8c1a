"""Issue 11 through the command line: each reproduction of the issue, and the answer it now gets.

Nothing lost (an ``--overwrite`` that fails keeps the old model), nothing silently wrong (IDs kept
verbatim, text in numeric columns refused or flagged, skipped scans listed in the output folder).
"""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from experiments import workflows
from experiments.cli import main

FAST = ["--param", "n_estimators=3", "--param", 'conv="vote"', "--param", "n_neighbors=5"]


def _fit(data, out, *extra):
    argv = ["fit", "--data", str(data), "--label", "y", "--id-column", "pid", "--output", str(out)]
    return main([*argv, *FAST, *extra])


@pytest.fixture(scope="module")
def padded(cohort_csv, tmp_path_factory):
    """A cohort whose IDs are zero-padded digits (000, 001, ...) and a model fitted on it."""
    folder = tmp_path_factory.mktemp("padded")
    table = pd.read_csv(cohort_csv)
    table.assign(pid=[f"{i:03d}" for i in range(len(table))]).to_csv(folder / "c.csv", index=False)
    assert _fit(folder / "c.csv", folder / "model") == 0
    return folder


# ------------------------------------------------------------------------------ item 1
def test_overwrite_from_inside_the_model_folder_replaces_it(padded, tmp_path, monkeypatch):
    """Issue 11 item 1: `--output . --overwrite` emptied the folder, then failed (Errno 22)."""
    import shutil

    model = tmp_path / "model"
    shutil.copytree(padded / "model", model)
    monkeypatch.chdir(model)
    assert _fit(padded / "c.csv", ".", "--overwrite", "--param", "n_estimators=2") == 0
    assert json.loads((model / "cohort.json").read_text())["params"]["n_estimators"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no staging folder left
    workflows.load_model_folder(model)  # complete, checksums valid


def test_a_failed_overwrite_leaves_the_old_model_intact(padded, tmp_path, monkeypatch, capsys):
    import shutil

    model = tmp_path / "model"
    shutil.copytree(padded / "model", model)
    files = {p: p.read_bytes() for p in model.rglob("*") if p.is_file()}

    def fail(*args, **kwargs):
        raise ValueError("the fit failed half-way")

    from experiments.workflows import _fit as fit_module

    monkeypatch.setattr(fit_module, "_fit_pipeline", fail)
    assert _fit(padded / "c.csv", model, "--overwrite") == 2
    assert "the fit failed half-way" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in model.rglob("*") if p.is_file()} == files
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


# ------------------------------------------------------------------------------ item 2
def test_zero_padded_ids_are_kept_in_predictions(padded, tmp_path):
    """Issue 11 item 2: `graphboost predict` wrote 1, 2, ... for 001, 002, ..."""
    out = tmp_path / "p.csv"
    argv = ["predict", "--model", str(padded / "model"), "--data", str(padded / "c.csv")]
    assert main([*argv, "--output", str(out)]) == 0
    assert out.read_text().splitlines()[1].startswith("000,")
    assert pd.read_csv(out, dtype={"pid": str}).pid.tolist()[:3] == ["000", "001", "002"]


def _scans(folder, ids, broken=()):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for pid in ids:
        if pid in broken:
            (folder / f"{pid}.nii.gz").write_bytes(b"not a NIfTI file")
            continue
        image = nib.Nifti1Image(rng.random((10, 10, 10)).astype(np.float32), np.eye(4))
        nib.save(image, folder / f"{pid}.nii.gz")
    return folder


@pytest.mark.slow
def test_scans_named_with_padded_ids_match_and_skipped_scans_are_listed(padded, tmp_path, capsys):
    """Issue 11 items 2 and 8: scans named 001.nii.gz matched 0 of 60; no --on-error skip."""
    ids = [f"{i:03d}" for i in range(48)]
    scans = _scans(tmp_path / "scans", ids, broken={"007"})
    model = tmp_path / "model"
    argv = ["--scans", str(scans), "--scan-shape", "16"]
    assert _fit(padded / "c.csv", model, *argv) == 2
    # one bad scan stops the run by default, at the first step that reads the scans; its file
    # name (a patient ID) goes to a list beside the output, never to the terminal
    err = capsys.readouterr().err
    assert "1 scan cannot be read (Cannot preprocess <file>" in err
    assert "so graphboost cannot pretrain the scan encoder" in err and "007" not in err
    listed = pd.read_csv(tmp_path / f"model.{workflows.UNREADABLE_SCANS}", dtype=str)
    assert listed.file.tolist() == ["007.nii.gz"]
    assert _fit(padded / "c.csv", model, *argv, "--on-error", "skip") == 0
    err = capsys.readouterr().err
    assert "1 patient(s) have an all-NaN row in block 'scans'" in err  # 47 of 48 matched
    assert "007" not in err  # the skipped patient is named in a file, not in the log
    listed = pd.read_csv(model / workflows.SKIPPED_SCANS, dtype=str)
    assert listed.file.tolist() == ["007.nii.gz"]
    assert workflows.SKIPPED_SCANS in json.loads((model / "manifest.json").read_text())["files"]
    out = tmp_path / "p.csv"
    predict = ["predict", "--model", str(model), "--data", str(padded / "c.csv"), *argv[:2]]
    assert main([*predict, "--on-error", "skip", "--output", str(out)]) == 0
    assert pd.read_csv(tmp_path / "p.skipped_scans.csv").file.tolist() == ["007.nii.gz"]
    assert "007" not in capsys.readouterr().err


def test_embed_lists_skipped_scans_beside_its_output(tmp_path, capsys):
    scans = _scans(tmp_path / "scans", ["P-01", "P-02", "P-03"], broken={"P-02"})
    argv = ["embed", "--scans", str(scans), "--shape", "16", "--device", "cpu"]
    out = tmp_path / "emb.csv"
    assert main([*argv, "--on-error", "skip", "--output", str(out)]) == 0
    err = capsys.readouterr().err
    assert "1 scan(s) could not be read and were skipped; listed in" in err
    assert "P-02" not in err
    assert pd.read_csv(tmp_path / "emb.skipped_scans.csv").file.tolist() == ["P-02.nii.gz"]
    assert pd.read_csv(out).set_index("patient_id").loc["P-02"].isna().all()
    # a rerun without a skip removes the list, which would otherwise describe another run
    (scans / "P-02.nii.gz").unlink()
    assert main([*argv, "--on-error", "skip", "--output", str(out), "--overwrite"]) == 0
    assert not (tmp_path / "emb.skipped_scans.csv").exists()


# ------------------------------------------------------------------------------ item 3
@pytest.fixture
def bad_values(padded, tmp_path):
    table = pd.read_csv(padded / "c.csv", dtype={"pid": str}).head(5)
    table = table.astype({"age": object, "x1": object})
    table.loc[0, "age"] = "fifty"
    table.loc[1, "x1"] = ">180"
    table.loc[2, ["age", "x1", "x2", "site", "grade"]] = np.nan  # nothing observed
    table.to_csv(tmp_path / "new.csv", index=False)
    return ["predict", "--model", str(padded / "model"), "--data", str(tmp_path / "new.csv")]


def test_text_in_a_numeric_column_is_refused_naming_each_column(bad_values, tmp_path, capsys):
    """Issue 11 item 3: "fifty" in age and ">180" were imputed in silence; exit status 0."""
    assert main([*bad_values, "--output", str(tmp_path / "p.csv")]) == 2
    err = capsys.readouterr().err
    assert "Column 'age' is numeric but holds non-numeric values (1 of 5), written like 'abc'" in (
        err
    )
    assert "Column 'x1' is numeric but holds non-numeric values (1 of 5), written like '>999'" in (
        err
    )
    assert "fifty" not in err and "180" not in err  # the form of the text, never the value
    assert "--invalid-values missing" in err and not (tmp_path / "p.csv").exists()


def test_invalid_values_missing_notes_and_flags_the_rows(bad_values, tmp_path, capsys):
    out = tmp_path / "p.csv"
    assert main([*bad_values, "--invalid-values", "missing", "--output", str(out)]) == 0
    err = capsys.readouterr().err
    assert "graphboost: note: Treated as missing values (invalid_values='missing')" in err
    assert "1 patient(s) have no observed feature value" in err
    pred = pd.read_csv(out, dtype={"pid": str}, keep_default_na=False)
    assert pred.invalid_as_missing.tolist() == ["age", "x1", "", "", ""]
    assert pred.no_observed_features.tolist() == [False, False, True, False, False]
    assert np.isfinite(pred[["proba_0", "proba_1"]].to_numpy()).all()


# ------------------------------------------------------------------------------ item 7
def test_a_header_only_table_says_it_has_no_rows(tmp_path, capsys):
    """Issue 11 item 7: a header-only CSV ended in `unexpected IndexError`."""
    (tmp_path / "h.csv").write_text("pid,age,y\n")
    assert _fit(tmp_path / "h.csv", tmp_path / "m") == 2
    err = capsys.readouterr().err
    assert "h.csv' has no rows (only a header with 3 column(s))" in err
    assert "unexpected" not in err and not (tmp_path / "m").exists()


def test_an_overwrite_swaps_folders_so_one_complete_folder_always_exists(tmp_path, monkeypatch):
    """Regression: RunFolder deleted the old folder before renaming the new one in."""
    from experiments._base import RunFolder

    target = tmp_path / "run"
    with RunFolder(target) as rf:
        (rf.staging / "a.txt").write_text("old")
    real_rename = type(target).rename
    calls = []

    def rename(self, new):
        calls.append((self.name, type(self)(new).name))
        if self.name.startswith(".run.partial"):
            raise OSError("disk gone")
        return real_rename(self, new)

    monkeypatch.setattr(type(target), "rename", rename)
    with pytest.raises(OSError, match="disk gone"), RunFolder(target, overwrite=True) as rf:
        (rf.staging / "a.txt").write_text("new")
    assert (target / "a.txt").read_text() == "old"  # the old folder was put back
    assert calls[0][0] == "run" and calls[0][1].startswith(".run.old-")
