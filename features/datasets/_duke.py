"""Loader for the Duke breast MRI cohort: clinical table plus 529 computer-extracted MRI features.

The tasks, cohorts and the columns each task may use follow the README of the data folder
(``<data>/duke-breast-mri/README.md``) exactly; the module constants below are the single place
where they are written down, and ``tests/features/test_duke.py`` checks them against the raw
file headers.

Column names of the returned ``X`` (stable, documented):

- ``"age"``: age at diagnosis in years, ``-(Date of Birth (Days)) / 365.25``.
- ``"clin:<name>"``: a clinical column, ``<name>`` being its name in the second header row of the
  Excel file with runs of whitespace collapsed and the ends stripped (e.g. ``"clin:Flip Angle"``).
  The three ``Tumor Grade`` columns become ``"clin:Tumor Grade (Tubule)"``, ``(Nuclear)`` and
  ``(Mitotic)``; the ``Mammography Characteristics`` and ``US features`` columns (which share names
  such as ``Shape``) become ``"clin:Mammography <name>"`` and ``"clin:US <name>"``.
- ``"img:<feature>"``: one of the 529 imaging features of Saha et al. (2018), name as in the file.
"""

from __future__ import annotations

import functools
import importlib.util
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .._data import shared_data_dir
from ..tables import Task

__all__ = [
    "DUKE_CATEGORICAL",
    "DUKE_PCR_EXTRA_COLUMNS",
    "DUKE_PCR_FORBIDDEN_COLUMNS",
    "DUKE_PCR_FORBIDDEN_GROUPS",
    "DUKE_TASKS",
    "DUKE_TNBC_CLINICAL_COLUMNS",
    "DUKE_TNBC_FORBIDDEN_COLUMNS",
    "DUKE_TNBC_FORBIDDEN_GROUPS",
    "load_duke",
]

DUKE_FOLDER = "duke-breast-mri"
CLINICAL_FILE = "Clinical_and_Other_Features.xlsx"
IMAGING_FILE = "Imaging_Features_with_ER.xlsx"

#: Task name -> one-line description.
DUKE_TASKS: dict[str, str] = {
    "tnbc": (
        "Triple-negative status (Mol Subtype == 3) from the 529 imaging features and pre-biopsy "
        "information; all 922 patients."
    ),
    "tnbc-imaging": (
        "Triple-negative status (Mol Subtype == 3) from the 529 imaging features alone "
        "(the setting of Saha et al. 2018); all 922 patients."
    ),
    "pcr": (
        "Pathological complete response to neoadjuvant therapy (Pathologic Response to "
        "Neoadjuvant Therapy == 1 vs 2; other patients left out) from everything allowed for "
        "tnbc plus receptor status, subtype, grades, histology and the neoadjuvant therapy "
        "columns."
    ),
}

# A clinical column is addressed by (first header row = group, second header row = name), both
# whitespace-normalized. The Tumor Grade columns share their name and are told apart by a word of
# the third header row.

#: Clinical columns allowed for ``tnbc`` (and ``pcr``), besides ``age`` (derived from
#: ``Date of Birth (Days)``) and the 529 imaging features.
DUKE_TNBC_CLINICAL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("Demographics", "Menopause (at diagnosis)"),
    ("Demographics", "Race and Ethnicity"),
    ("Demographics", "Metastatic at Presentation (Outside of Lymph Nodes)"),
    ("Tumor Characteristics", "Staging(Tumor Size)# [T]"),
    ("Tumor Characteristics", "Staging(Nodes)#(Nx replaced by -1)[N]"),
    ("Tumor Characteristics", "Staging(Metastasis)#(Mx -replaced by -1)[M]"),
    ("MRI Findings", "Multicentric/Multifocal"),
    ("MRI Findings", "Contralateral Breast Involvement"),
    ("MRI Findings", "Lymphadenopathy or Suspicious Nodes"),
    ("MRI Findings", "Skin/Nipple Invovlement"),
    ("MRI Findings", "Pec/Chest Involvement"),
    ("MRI Technical Information", "Manufacturer"),
    ("MRI Technical Information", "Manufacturer Model Name"),
    ("MRI Technical Information", "Field Strength (Tesla)"),
    ("MRI Technical Information", "Contrast Agent"),
    ("MRI Technical Information", "TR (Repetition Time)"),
    ("MRI Technical Information", "TE (Echo Time)"),
    ("MRI Technical Information", "Slice Thickness"),
    ("MRI Technical Information", "Flip Angle"),
    ("Mammography Characteristics", "Age at mammo (days)"),
    ("Mammography Characteristics", "Breast Density"),
    ("Mammography Characteristics", "Shape"),
    ("Mammography Characteristics", "Margin"),
    ("Mammography Characteristics", "Architectural distortion"),
    ("Mammography Characteristics", "Mass Density"),
    ("Mammography Characteristics", "Calcifications"),
    ("Mammography Characteristics", "Tumor Size (cm)"),
    ("US features", "Shape"),
    ("US features", "Margin"),
    ("US features", "Tumor Size (cm)"),
    ("US features", "Echogenicity"),
    ("US features", "Solid"),
    ("US features", "Posterior acoustic shadowing"),
)

#: Clinical columns allowed for ``pcr`` on top of :data:`DUKE_TNBC_CLINICAL_COLUMNS`.
DUKE_PCR_EXTRA_COLUMNS: tuple[tuple[str, str], ...] = (
    ("Tumor Characteristics", "ER"),
    ("Tumor Characteristics", "PR"),
    ("Tumor Characteristics", "HER2"),
    ("Tumor Characteristics", "Mol Subtype"),
    ("Tumor Characteristics", "Tumor Grade (Tubule)"),
    ("Tumor Characteristics", "Tumor Grade (Nuclear)"),
    ("Tumor Characteristics", "Tumor Grade (Mitotic)"),
    ("Tumor Characteristics", "Nottingham grade"),
    ("Tumor Characteristics", "Histologic type"),
    ("Chemotherapy", "Neoadjuvant Chemotherapy"),
    ("Endocrine Therapy", "Neoadjuvant Endocrine Therapy Medications"),
    ("Anti-Her2 Neu Therapy", "Neoadjuvant Anti-Her2 Neu Therapy"),
    ("Radiation Therapy", "Neoadjuvant Radiation Therapy"),
)

#: Clinical columns (by name row) that must never enter ``tnbc`` / ``tnbc-imaging``.
DUKE_TNBC_FORBIDDEN_COLUMNS: tuple[str, ...] = (
    "ER",
    "PR",
    "HER2",
    "Mol Subtype",
    "Oncotype score",
    "Tumor Grade",
    "Tumor Grade (Tubule)",
    "Tumor Grade (Nuclear)",
    "Tumor Grade (Mitotic)",
    "Nottingham grade",
    "Histologic type",
    "For Other Side If Bilateral",
)
#: Header groups (first row) whose every column is forbidden for ``tnbc``: every therapy, surgery,
#: response, recurrence and follow-up column.
DUKE_TNBC_FORBIDDEN_GROUPS: tuple[str, ...] = (
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
)
#: Clinical columns (by name row) that must never enter ``pcr`` (the label column included).
DUKE_PCR_FORBIDDEN_COLUMNS: tuple[str, ...] = (
    "Surgery",
    "Days to Surgery (from the date of diagnosis)",
    "Definitive Surgery Type",
    "Adjuvant Radiation Therapy",
    "Adjuvant Chemotherapy",
    "Adjuvant Endocrine Therapy Medications",
    "Adjuvant Anti-Her2 Neu Therapy",
    "Clinical Response, Evaluated Through Imaging",
    "Pathologic Response to Neoadjuvant Therapy",
)
#: Header groups whose every column is forbidden for ``pcr``: surgery, post-treatment pathologic
#: stage, near-complete response, recurrence and follow-up.
DUKE_PCR_FORBIDDEN_GROUPS: tuple[str, ...] = (
    "SURGERY",
    "Tumor Response",
    "Pathologic Response to Neoadjuvant Therapy",
    "Near Complete Response",
    "Recurrence",
    "Follow Up",
)

#: Clinical columns whose integer codes are nominal (no order): returned as pandas ``category``.
DUKE_CATEGORICAL: frozenset[str] = frozenset(
    {
        "Race and Ethnicity",
        "Manufacturer",
        "Manufacturer Model Name",
        "Contrast Agent",
        "Mol Subtype",
        "Histologic type",
        "Mammography Breast Density",
        "Mammography Shape",
        "Mammography Margin",
        "Mammography Calcifications",
        "US Shape",
        "US Margin",
        "US Echogenicity",
    }
)

# Coded values that mean "missing" (README: Menopause 2 = not applicable, Race 0 = not available).
_MISSING_CODES: dict[str, float] = {"Menopause (at diagnosis)": 2, "Race and Ethnicity": 0}
# Free-text markers meaning "not collected / not applicable / not pertinent".
_MISSING_TEXT = frozenset({"", "NC", "NA", "NP", "N/A"})
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_GROUP_PREFIX = {"Mammography Characteristics": "Mammography ", "US features": "US "}
_GRADE_WORDS = ("Tubule", "Nuclear", "Mitotic")
_DOB = ("Demographics", "Date of Birth (Days)")
_ID = ("Patient Information", "Patient ID")
_SUBTYPE = ("Tumor Characteristics", "Mol Subtype")
_RESPONSE = ("Tumor Response", "Pathologic Response to Neoadjuvant Therapy")


def _norm(text: object) -> str:
    return " ".join(str(text).split())


def _require_openpyxl() -> None:
    if importlib.util.find_spec("openpyxl") is None:
        raise ImportError(
            "Reading the Duke cohort (Excel files) needs openpyxl: "
            "pip install 'graphboost[benchmarks]'"
        )


@functools.lru_cache(maxsize=4)
def _read_tables(folder: str, mtimes: tuple[int, int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parse both Excel files once per process (keyed on folder and modification times)."""
    del mtimes  # part of the cache key only
    _require_openpyxl()
    clinical = pd.read_excel(Path(folder) / CLINICAL_FILE, header=[0, 1, 2])
    imaging = pd.read_excel(Path(folder) / IMAGING_FILE)
    return clinical, imaging


def _locate(data_dir: str | Path | None) -> Path:
    base = Path(data_dir) if data_dir is not None else shared_data_dir()
    folder = base / DUKE_FOLDER if (base / DUKE_FOLDER).is_dir() else base
    for name in (CLINICAL_FILE, IMAGING_FILE):
        if not (folder / name).is_file():
            raise FileNotFoundError(
                f"Duke breast MRI file not found: {folder / name}. Pass data_dir= the shared data "
                f"folder (holding '{DUKE_FOLDER}/') or the '{DUKE_FOLDER}' folder itself."
            )
    return folder.resolve()


def _clinical_key(col: tuple[object, object, object]) -> tuple[str, str, str]:
    group, name, legend = (_norm(c) for c in col)
    if group == "Tumor Characteristics" and name == "Tumor Grade":
        word = next((w for w in _GRADE_WORDS if w in legend), None)
        if word is None:
            raise ValueError(f"Unrecognized Tumor Grade column in the Duke clinical file: {col!r}")
        name = f"Tumor Grade ({word})"
    return group, name, legend


def _output_name(group: str, name: str) -> str:
    return f"clin:{_GROUP_PREFIX.get(group, '')}{name}"


def _to_number(value: object) -> float:
    """Numeric value of a cell; free text keeps its first number ('1 [1]' -> 1), 'NC' -> NaN."""
    if isinstance(value, str):
        text = value.strip()
        if text.upper() in _MISSING_TEXT:
            return np.nan
        match = _NUMBER.search(text)
        return float(match.group()) if match else np.nan
    if value is None:
        return np.nan
    return float(value)


def _flat_clinical(raw: pd.DataFrame) -> dict[tuple[str, str], pd.Series]:
    """Clinical columns keyed by (group, name); names that repeat (the bilateral block) are
    kept out of the dictionary: none of them is allowed for any task."""
    keys = [_clinical_key(c) for c in raw.columns]
    counts: dict[tuple[str, str], int] = {}
    for group, name, _ in keys:
        counts[(group, name)] = counts.get((group, name), 0) + 1
    return {
        (group, name): raw.iloc[:, i]
        for i, (group, name, _) in enumerate(keys)
        if counts[(group, name)] == 1
    }


def _column(clinical: dict[tuple[str, str], pd.Series], key: tuple[str, str]) -> pd.Series:
    try:
        return clinical[key]
    except KeyError:
        raise ValueError(
            f"Column {key[1]!r} (group {key[0]!r}) not found (or not unique) in the Duke clinical "
            f"file {CLINICAL_FILE}; the file does not match the README."
        ) from None


# Over 60 lines only through its numpydoc docstring (39 lines of code).
def load_duke(task: str, data_dir: str | Path | None = None) -> Task:
    """Load a task of the Duke breast MRI cohort exactly as its README defines it.

    Parameters
    ----------
    task : {"tnbc", "tnbc-imaging", "pcr"}
        ``"tnbc"``: triple-negative status (``Mol Subtype == 3``, 164 of 922) from the imaging
        features and pre-biopsy clinical columns. ``"tnbc-imaging"``: the same label from the 529
        imaging features alone. ``"pcr"``: pathological complete response (``Pathologic Response to
        Neoadjuvant Therapy`` 1 vs 2; 288 patients, 64 with pCR).
    data_dir : str or Path, optional
        The shared data folder (holding ``duke-breast-mri/``) or the ``duke-breast-mri`` folder.
        Default: :func:`features.shared_data_dir`.

    Returns
    -------
    features.Task
        ``X`` (raw values with NaN, indexed by patient ID), ``y``, ``feature_groups``,
        ``patient_ids``, ``name`` (the task), ``description``, ``source_columns``.

    Notes
    -----
    Only the columns the README allows for the task are returned (an allow-list, see
    :data:`DUKE_TNBC_CLINICAL_COLUMNS` and :data:`DUKE_PCR_EXTRA_COLUMNS`); the ``ER`` column of
    the imaging file is dropped. ``Menopause`` 2 and ``Race and Ethnicity`` 0 become NaN. In the
    mammography and ultrasound columns ``NC`` becomes NaN and free-text cells keep their first
    number (``"1 [1]"`` -> 1, ``"4, 7"`` -> 4). The Excel files are parsed once per process.

    Examples
    --------
    >>> from features import load_duke
    >>> data = load_duke("tnbc")  # doctest: +SKIP
    >>> data.X.shape, int(data.y.sum())  # doctest: +SKIP
    ((922, 562), 164)
    """
    if task not in DUKE_TASKS:
        raise ValueError(f"Unknown Duke task {task!r}; expected one of {sorted(DUKE_TASKS)}.")
    clinical, ids, number, imaging = _read_cohort(_locate(data_dir))
    keep, y_values, label = _cohort_label(clinical, task, len(ids))
    index = pd.Index(ids[keep].to_numpy(), name="patient_id")
    columns, sources = _clinical_columns(clinical, task)
    clin_frame = pd.DataFrame(columns)
    clin_frame.index = ids.to_numpy()
    img_frame = imaging.loc[number.to_numpy()].astype(float)
    img_frame.index = ids.to_numpy()
    img_frame.columns = [f"img:{c}" for c in img_frame.columns]
    for col in imaging.columns:
        sources[f"img:{col}"] = (IMAGING_FILE, "", str(col))
    X = pd.concat([clin_frame, img_frame], axis=1).loc[index.to_numpy()]
    X.index = index
    _categorical_codes(X)
    if X.columns.duplicated().any():
        raise ValueError("Duplicate output column names in the Duke loader.")
    y = pd.Series(y_values, index=index, name=label)
    groups = {"imaging": list(img_frame.columns)}
    if task != "tnbc-imaging":
        groups["clinical"] = list(clin_frame.columns)
    n_imaging = len(groups["imaging"])
    description = (
        f"Duke breast MRI, task {task!r}: {DUKE_TASKS[task]} {len(y)} patients, "
        f"{int(y.sum())} positive; {X.shape[1]} columns "
        f"({n_imaging} imaging, {X.shape[1] - n_imaging} clinical). "
        "Saha et al., Br J Cancer 2018; TCIA DOI 10.7937/TCIA.e3sv-re93; CC BY-NC 4.0."
    )
    return Task(
        name=task,
        X=X,
        y=y,
        feature_groups=groups,
        patient_ids=pd.Series(index.to_numpy(), index=index, name="patient_id"),
        description=description,
        source_columns={c: sources[c] for c in X.columns},
    )


def _read_cohort(folder: Path) -> tuple[dict, pd.Series, pd.Series, pd.DataFrame]:
    """Clinical columns, patient IDs, their numbers, and the imaging table indexed by number."""
    mtimes = tuple((folder / n).stat().st_mtime_ns for n in (CLINICAL_FILE, IMAGING_FILE))
    raw_clinical, raw_imaging = _read_tables(str(folder), mtimes)
    clinical = _flat_clinical(raw_clinical)
    imaging = raw_imaging.drop(columns=["ER"])
    ids = _column(clinical, _ID).astype(str)
    number = ids.str.extract(r"(\d+)$", expand=False).astype(int)
    imaging_ids = imaging["Patient ID"].astype(int)
    if imaging_ids.duplicated().any() or number.duplicated().any():
        raise ValueError("Duplicate patient IDs in the Duke files.")
    imaging = imaging.set_index(imaging_ids).drop(columns=["Patient ID"])
    missing = sorted(set(number) ^ set(imaging.index))
    if missing:
        raise ValueError(
            f"The Duke clinical and imaging files do not hold the same patients "
            f"({len(missing)} IDs in one file only)."
        )
    return clinical, ids, number, imaging


def _cohort_label(clinical: dict, task: str, n: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Which patients belong to the task's cohort, their labels, and the label's name."""
    if task == "pcr":
        response = _column(clinical, _RESPONSE)
        keep = response.isin([1, 2]).to_numpy()
        return keep, (response[keep] == 1).astype(int).to_numpy(), "pcr"
    keep = np.ones(n, dtype=bool)
    return keep, (_column(clinical, _SUBTYPE) == 3).astype(int).to_numpy(), "tnbc"


def _clinical_columns(clinical: dict, task: str) -> tuple[dict, dict]:
    """The clinical columns the README allows for the task (none for tnbc-imaging), with their
    source (file, group, name)."""
    columns: dict[str, pd.Series] = {}
    sources: dict[str, tuple[str, str, str]] = {}
    if task == "tnbc-imaging":
        return columns, sources
    columns["age"] = -_column(clinical, _DOB).astype(float) / 365.25
    sources["age"] = (CLINICAL_FILE, *_DOB)
    allowed = DUKE_TNBC_CLINICAL_COLUMNS + (DUKE_PCR_EXTRA_COLUMNS if task == "pcr" else ())
    for group, name in allowed:
        out = _output_name(group, name)
        values = _column(clinical, (group, name)).map(_to_number).astype(float)
        if name in _MISSING_CODES:
            values = values.mask(values == _MISSING_CODES[name])
        columns[out] = values
        sources[out] = (CLINICAL_FILE, group, name)
    return columns, sources


def _categorical_codes(X: pd.DataFrame) -> None:
    """Coded nominal columns (in place) become pandas categoricals of their integer codes."""
    for col in X.columns:
        if col.removeprefix("clin:") in DUKE_CATEGORICAL:
            codes = X[col]
            categories = sorted({int(v) for v in codes.dropna()})
            X[col] = pd.Categorical(
                [None if pd.isna(v) else int(v) for v in codes], categories=categories
            )
