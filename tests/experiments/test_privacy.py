"""Issue 20, item 6: a model folder holds patient IDs only where the user asked for them, and
its model card says exactly what it holds."""

import pandas as pd
import pytest

from experiments import InputError, workflows
from experiments.cli import main

FAST = {"n_estimators": 3, "conv": "vote", "n_neighbors": 5}


def _ids_in_folder(folder, ids):
    """The files of ``folder`` whose text holds one of ``ids``."""
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        try:
            text = path.read_text()
        except UnicodeDecodeError:  # tensors
            continue
        if any(i in text for i in ids):
            found.append(path.relative_to(folder).as_posix())
    return found


def test_cv_predictions_name_rows_not_ids_by_default(cohort_csv, tmp_path):
    cohort = workflows.load_cohort(cohort_csv, label="y", id_column="pid")
    fit = workflows.fit_model_folder(cohort, tmp_path / "m", params=FAST, cv=3)
    oof = pd.read_csv(fit.path / "cv_predictions.csv")
    assert list(oof.columns[:2]) == ["row", "label"]
    assert oof.row.tolist() == list(range(len(cohort.y)))
    assert (oof.label.astype(str).to_numpy() == cohort.y.astype(str).to_numpy()).all()
    assert _ids_in_folder(fit.path, list(cohort.patient_ids)) == []
    card = (fit.path / "MODEL_CARD.md").read_text()
    assert "- Patient identifiers: none in this folder." in card
    assert "`cv_predictions.csv` names each patient by the row in the training table" in card


def test_keep_ids_writes_the_ids_and_the_card_says_so(cohort_csv, tmp_path, capsys):
    out = tmp_path / "m"
    argv = ["fit", "--data", str(cohort_csv), "--label", "y", "--id-column", "pid"]
    argv += ["--param", "n_estimators=3", "--cv", "3", "--keep-ids", "--output", str(out)]
    assert main(argv) == 0
    oof = pd.read_csv(out / "cv_predictions.csv", dtype={"pid": str})
    ids = pd.read_csv(cohort_csv, dtype={"pid": str}).pid
    assert list(oof.columns[:2]) == ["pid", "label"] and oof.pid.tolist() == ids.tolist()
    assert _ids_in_folder(out, list(ids)) == ["cv_predictions.csv"]
    card = (out / "MODEL_CARD.md").read_text()
    assert "no patient identifier is kept" not in card
    assert "- Patient identifiers: `cv_predictions.csv`: each patient's ID (column `pid`" in card
    assert "No other file of this folder names a patient" in card


def test_keep_ids_needs_an_id_column_and_cv(cohort_csv, tmp_path):
    with pytest.raises(InputError, match=r"keep_ids .* the cohort has no ID column"):
        cohort = workflows.load_cohort(cohort_csv, label="y", exclude=["pid"])
        workflows.fit_model_folder(cohort, tmp_path / "m", params=FAST, cv=3, keep_ids=True)
    with pytest.raises(InputError, match=r"keep_ids .* only a cross-validation writes"):
        cohort = workflows.load_cohort(cohort_csv, label="y", id_column="pid")
        workflows.fit_model_folder(cohort, tmp_path / "m", params=FAST, keep_ids=True)
    assert not (tmp_path / "m").exists()
