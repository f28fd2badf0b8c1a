"""Tests of the data-folder helper and of the Duke breast MRI loader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features import load_duke, shared_data_dir

# The README's lists, written out here independently of the loader's constants.
README_TNBC_FORBIDDEN_NAMES = {
    "ER",
    "PR",
    "HER2",
    "Mol Subtype",
    "Oncotype score",
    "Tumor Grade",
    "Nottingham grade",
    "Histologic type",
    "For Other Side If Bilateral",
}
README_TNBC_FORBIDDEN_GROUPS = {  # every therapy, surgery, response, recurrence, follow-up column
    "SURGERY",
    "Radiation Therapy",
    "Tumor Response",
    "Recurrence",
    "Follow Up",
    "Chemotherapy",
    "Endocrine Therapy",
    "Anti-Her2 Neu Therapy",
    "Neoadjuvant therapy",
    "Pathologic Response to Neoadjuvant Therapy",
    "Near Complete Response",
}
README_PCR_FORBIDDEN_NAMES = {
    "Surgery",
    "Days to Surgery (from the date of diagnosis)",
    "Definitive Surgery Type",
    "Adjuvant Radiation Therapy",
    "Adjuvant Chemotherapy",
    "Adjuvant Endocrine Therapy Medications",
    "Adjuvant Anti-Her2 Neu Therapy",
    "Clinical Response, Evaluated Through Imaging",
    "Pathologic Response to Neoadjuvant Therapy",
    "Oncotype score",  # not in the pcr allow-list either
}
README_PCR_FORBIDDEN_GROUPS = {
    "SURGERY",
    "Tumor Response",
    "Pathologic Response to Neoadjuvant Therapy",
    "Near Complete Response",
    "Recurrence",
    "Follow Up",
}
PCR_ALLOWED_THERAPY = {
    "Neoadjuvant Chemotherapy",
    "Neoadjuvant Endocrine Therapy Medications",
    "Neoadjuvant Anti-Her2 Neu Therapy",
    "Neoadjuvant Radiation Therapy",
}


def _norm(text: object) -> str:
    return " ".join(str(text).split())


# --- shared_data_dir -------------------------------------------------------------------------


def test_shared_data_dir_env_override(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHBOOST_DATA_DIR", str(tmp_path))
    assert shared_data_dir() == tmp_path.resolve()


def test_shared_data_dir_missing_names_path_and_env(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere"
    monkeypatch.setenv("GRAPHBOOST_DATA_DIR", str(missing))
    with pytest.raises(FileNotFoundError, match=r"nowhere.*GRAPHBOOST_DATA_DIR"):
        shared_data_dir()
    assert shared_data_dir(must_exist=False) == missing.resolve()


def test_shared_data_dir_default_is_next_to_repo(monkeypatch):
    monkeypatch.delenv("GRAPHBOOST_DATA_DIR", raising=False)
    repo = Path(__file__).resolve().parents[2]
    assert shared_data_dir(must_exist=False) == (repo / ".." / "shared" / "data").resolve()


# --- load_duke: errors (no data needed) ------------------------------------------------------


def test_unknown_task_lists_tasks():
    with pytest.raises(
        ValueError, match=r"Unknown Duke task 'her2'.*'pcr'.*'tnbc'.*'tnbc-imaging'"
    ):
        load_duke("her2")


def test_missing_files_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"Clinical_and_Other_Features\.xlsx.*data_dir"):
        load_duke("tnbc", data_dir=tmp_path)


# --- load_duke on the real data ---------------------------------------------------------------


@pytest.fixture(scope="module")
def duke(duke_dir):
    return {
        task: load_duke(task, data_dir=duke_dir.parent) for task in ("tnbc", "tnbc-imaging", "pcr")
    }


@pytest.fixture(scope="module")
def raw_header(duke_dir):
    clinical = pd.read_excel(
        duke_dir / "Clinical_and_Other_Features.xlsx", header=[0, 1, 2], nrows=1
    )
    imaging = pd.read_excel(duke_dir / "Imaging_Features_with_ER.xlsx", nrows=1)
    return clinical.columns, imaging.columns


@pytest.mark.data
@pytest.mark.slow  # parses the two Excel files (~6 s) once per worker
@pytest.mark.parametrize(
    ("task", "n", "n_pos", "n_img"),
    [("tnbc", 922, 164, 529), ("tnbc-imaging", 922, 164, 529), ("pcr", 288, 64, 529)],
)
def test_counts_and_shapes(duke, task, n, n_pos, n_img):
    data = duke[task]
    assert data.task == task
    assert data.X.shape[0] == n == len(data.y) == len(data.patient_ids)
    assert int(data.y.sum()) == n_pos
    assert set(np.unique(data.y)) == {0, 1}
    assert data.y.name == task.split("-")[0]
    assert len(data.feature_groups["imaging"]) == n_img
    assert data.X.columns.is_unique
    assert data.X.index.equals(data.y.index) and data.X.index.equals(data.patient_ids.index)
    assert data.patient_ids.str.match(r"^Breast_MRI_\d{3}$").all()
    assert "patient_id" not in data.X.columns and "Patient ID" not in data.X.columns
    grouped = [c for cols in data.feature_groups.values() for c in cols]
    assert sorted(grouped) == sorted(data.X.columns)  # every column in exactly one group
    assert str(n) in data.description and str(n_pos) in data.description


@pytest.mark.data
@pytest.mark.slow  # parses the two Excel files (~6 s) once per worker
def test_imaging_only_task_has_no_clinical_column(duke):
    data = duke["tnbc-imaging"]
    assert all(c.startswith("img:") for c in data.X.columns)
    assert list(data.feature_groups) == ["imaging"]
    assert data.X.dtypes.eq(float).all()


@pytest.mark.data
@pytest.mark.slow  # parses the two Excel files (~6 s) once per worker
@pytest.mark.parametrize("task", ["tnbc", "tnbc-imaging", "pcr"])
def test_no_forbidden_column_enters(duke, raw_header, task):
    data = duke[task]
    clinical_cols, imaging_cols = raw_header
    raw_clinical = {(_norm(g), _norm(n)) for g, n, _ in clinical_cols}
    raw_imaging = {str(c) for c in imaging_cols}
    if task == "pcr":
        names, groups = README_PCR_FORBIDDEN_NAMES, README_PCR_FORBIDDEN_GROUPS
    else:
        names, groups = README_TNBC_FORBIDDEN_NAMES, README_TNBC_FORBIDDEN_GROUPS
    assert ("img:ER" not in data.X.columns and "clin:ER" not in data.X.columns) or task == "pcr"
    for column in data.X.columns:
        file, group, name = data.source_columns[column]
        if file.startswith("Imaging"):
            assert name in raw_imaging and name not in {"ER", "Patient ID"}
            assert column == f"img:{name}"
            continue
        if name.startswith("Tumor Grade ("):  # the loader tells the three grade columns apart
            name = "Tumor Grade"
        assert (group, name) in raw_clinical, column
        assert name not in names, column
        assert name != "Patient ID", column
        if task == "pcr" and name in PCR_ALLOWED_THERAPY:
            continue
        assert group not in groups, column
    # Label columns never appear, under any prefix.
    flat = " ".join(data.X.columns)
    assert "Pathologic Response" not in flat
    if task != "pcr":
        assert "Mol Subtype" not in flat and "clin:ER" not in flat


@pytest.mark.data
@pytest.mark.slow  # parses the two Excel files (~6 s) once per worker
def test_pcr_uses_the_extra_columns(duke):
    cols = set(duke["pcr"].X.columns)
    for name in (
        "clin:ER",
        "clin:Mol Subtype",
        "clin:Nottingham grade",
        "clin:Neoadjuvant Chemotherapy",
    ):
        assert name in cols
    assert {c for c in cols if c.startswith("clin:Tumor Grade")} == {
        "clin:Tumor Grade (Tubule)",
        "clin:Tumor Grade (Nuclear)",
        "clin:Tumor Grade (Mitotic)",
    }


@pytest.mark.data
@pytest.mark.slow  # parses the two Excel files (~6 s) once per worker
def test_values_follow_readme(duke):
    X = duke["tnbc"].X
    assert X["age"].between(18, 100).all()  # -(days) / 365.25
    assert set(X["clin:Menopause (at diagnosis)"].dropna().unique()) == {0, 1}  # 2 -> missing
    assert 0 not in set(X["clin:Race and Ethnicity"].dropna())  # 0 -> missing
    assert X["clin:Race and Ethnicity"].isna().sum() == 19
    assert isinstance(X["clin:Manufacturer"].dtype, pd.CategoricalDtype)
    # Free text in the mammography/ultrasound reads: 'NC' -> NaN, numbers kept.
    assert X["clin:US Shape"].dtype.name == "category"
    assert pd.api.types.is_float_dtype(X["clin:US Tumor Size (cm)"])
    assert X["clin:US Tumor Size (cm)"].notna().sum() > 100


@pytest.mark.data
@pytest.mark.slow  # parses the two Excel files (~6 s) once per worker
def test_no_single_column_gives_the_label_away(duke):
    """A leaked label column would separate the classes almost perfectly on its own."""
    from scipy.stats import rankdata

    def roc_auc_score(y, values):  # Mann-Whitney form; sklearn's is slow over 1,100 columns
        y = np.asarray(y)
        ranks = rankdata(np.asarray(values))
        n1 = int(y.sum())
        return (ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * (len(y) - n1))

    for task in ("tnbc", "pcr"):
        data = duke[task]
        for column in data.X.columns:
            values = data.X[column]
            if isinstance(values.dtype, pd.CategoricalDtype):
                values = values.cat.codes.where(values.notna())
            known = values.notna()
            if known.sum() < 30 or data.y[known].nunique() < 2:
                continue
            auc = roc_auc_score(data.y[known], values[known].astype(float))
            assert max(auc, 1 - auc) < 0.8, (task, column, auc)


@pytest.mark.data
@pytest.mark.slow  # parses the two Excel files (~6 s) once per worker
@pytest.mark.parametrize("task", ["tnbc", "pcr"])
def test_clinical_preprocessor_takes_every_task(duke, task):
    from features import ClinicalPreprocessor

    data = duke[task]
    pre = ClinicalPreprocessor().set_output(transform="pandas")
    out = pre.fit_transform(data.X)
    assert not out.isna().any().any()
    assert pre.dropped_columns_ == {}
    assert "clin:Race and Ethnicity" in pre.categorical_  # category dtype -> one-hot
    groups = pre.map_groups(data.feature_groups)
    assert set(groups) == {"imaging", "clinical"}
    assert sorted(c for cols in groups.values() for c in cols) == sorted(out.columns)
