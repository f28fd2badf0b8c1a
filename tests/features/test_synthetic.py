"""Tests of the synthetic cohort generator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline

from features import ClinicalPreprocessor, Cohort, make_synthetic_cohort

nib = pytest.importorskip(
    "nibabel", reason="the synthetic cohort writes NIfTI (graphboost[imaging])"
)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    out = tmp_path_factory.mktemp("synthetic")
    return make_synthetic_cohort(out, n_patients=40, shape=(16, 16, 12), random_state=3)


def test_files_and_table(small):
    table = small.read_clinical()
    assert table.columns[:2].tolist() == ["patient_id", "label"]
    assert table.columns[2:].tolist() == small.clinical_columns
    assert table["patient_id"].tolist() == small.patient_ids
    assert set(table["label"]) == {0, 1} and (table["label"] == 1).sum() >= 3
    assert len(small.missing_scans) == 2  # 5% of 40
    assert sorted(p.name for p in small.scans_dir.iterdir()) == sorted(
        f"{pid}.nii.gz" for pid in small.scan_paths
    )
    assert set(small.scan_paths) | set(small.missing_scans) == set(small.patient_ids)
    assert not set(small.scan_paths) & set(small.missing_scans)
    # realistic column types
    assert pd.api.types.is_float_dtype(table["age"])
    assert set(table["menopause"].dropna()) == {"pre", "post"}
    assert set(table["family_history"]) <= {0, 1}
    assert table["histology"].nunique() in (3, 4)
    assert table["crp_mg_l"].isna().any() and not table["age"].isna().any()
    assert set(small.noise_columns) <= set(small.clinical_columns)


def test_volumes_have_spacing_and_lesions(small):
    pid = next(iter(small.scan_paths))
    image = nib.load(small.scan_paths[pid])
    assert image.shape == (16, 16, 12)
    assert image.get_data_dtype() == np.float32
    np.testing.assert_allclose(image.header.get_zooms(), small.spacing)
    np.testing.assert_allclose(np.diag(image.affine)[:3], small.spacing)
    mask = np.asarray(nib.load(small.masks_dir / f"{pid}.nii.gz").dataobj) > 0
    data = np.asarray(image.dataobj)
    assert 0 < mask.sum() < mask.size / 2
    assert data[mask].mean() > data[~mask].mean() + 20  # the lesion enhances


def test_deterministic(tmp_path, small):
    again = make_synthetic_cohort(tmp_path / "a", n_patients=40, shape=(16, 16, 12), random_state=3)
    assert again.clinical_path.read_bytes() == small.clinical_path.read_bytes()
    for pid, path in small.scan_paths.items():
        assert again.scan_paths[pid].read_bytes() == path.read_bytes()
    other = make_synthetic_cohort(tmp_path / "b", n_patients=40, shape=(16, 16, 12), random_state=4)
    assert other.clinical_path.read_bytes() != small.clinical_path.read_bytes()


@pytest.mark.slow  # 160 patients written and read back: ~4 s, more on a loaded machine
def test_label_signal_is_real_but_not_trivial(tmp_path):
    cohort = make_synthetic_cohort(tmp_path, n_patients=160, shape=(16, 16, 16), random_state=0)
    table = cohort.read_clinical()
    y = table["label"].to_numpy()
    model = make_pipeline(ClinicalPreprocessor(), LogisticRegression(max_iter=1000))
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    proba = cross_val_predict(
        model, table[cohort.clinical_columns], y, cv=cv, method="predict_proba"
    )
    assert 0.6 < roc_auc_score(y, proba[:, 1]) < 0.9
    # imaging: lesions of positives are larger and brighter on average
    volumes = {
        pid: (np.asarray(nib.load(cohort.masks_dir / f"{pid}.nii.gz").dataobj) > 0).sum()
        for pid in cohort.scan_paths
    }
    size = table["patient_id"].map(volumes)
    known = size.notna()
    assert 0.65 < roc_auc_score(y[known], size[known]) < 0.95
    # noise columns carry no signal
    for column in ("bmi", "systolic_bp"):
        values = table[column]
        auc = roc_auc_score(y[values.notna()], values.dropna())
        assert 0.3 < auc < 0.7, column


def test_feeds_a_cohort(small):
    features = {
        pid: [np.asarray(nib.load(path).dataobj).mean()] for pid, path in small.scan_paths.items()
    }
    block = pd.DataFrame.from_dict(features, orient="index", columns=["mean"])
    with pytest.warns(UserWarning, match=r"2 patient\(s\) of the clinical table lack block 'scan'"):
        cohort = Cohort.from_file(small.clinical_path, {"scan": block}, label="label")
    assert cohort.X["scan:missing"].sum() == 2
    out = cohort.make_preprocessor().fit_transform(cohort.X)
    assert not np.isnan(out).any()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_patients": 5}, r"n_patients must be an integer >= 10, got 5"),
        ({"shape": (32, 32)}, r"shape must be three integers >= 8, got \(32, 32\)"),
        ({"missing_rate": 0.7}, r"missing_rate must be in \[0, 0.5\), got 0.7"),
        ({"spacing": (1, 0, 1)}, r"spacing must be three positive numbers"),
        ({"positive_rate": 1.0}, r"positive_rate must be in \[0.05, 0.95\], got 1.0"),
    ],
)
def test_bad_parameters(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_synthetic_cohort(tmp_path, **kwargs)
