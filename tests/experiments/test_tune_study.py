"""``graphboost tune`` checks everything before it writes, and a study keeps to what it was
created for (issue 20, items 2, 10 and 27)."""

import warnings

import pandas as pd
import pytest

optuna = pytest.importorskip("optuna")

from experiments import InputError  # noqa: E402
from experiments.cli import build_parser, main  # noqa: E402
from experiments.evaluation._dataset import dataset_from_cohort, read_cohort  # noqa: E402
from experiments.tuning import _search  # noqa: E402
from experiments.tuning._checks import (  # noqa: E402
    FINGERPRINT,
    check_study_fingerprint,
    study_fingerprint,
)
from experiments.tuning._search import create_study, run_search  # noqa: E402

FIXED = {"n_estimators": 4, "conv": "vote", "n_neighbors": 5}
FAST = ["--param", "n_estimators=4", "--param", 'conv="vote"', "--param", "n_neighbors=5"]


def _argv(csv, storage, *extra, n_trials=1):
    return [
        "tune",
        "--data",
        str(csv),
        "--label",
        "y",
        "--exclude",
        "pid",
        "--storage",
        storage,
        "--n-trials",
        str(n_trials),
        "--inner-splits",
        "2",
        *FAST,
        *extra,
    ]


def _dataset(df):
    return dataset_from_cohort(read_cohort(df, label="y", id_column="pid"), "c")


# ---------------------------------------------------------------- item 27 and item 10
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--n-trials", "0"], "--n-trials and --n-workers must be at least 1; got 0, 1"),
        (["--n-trials", "-1"], "--n-trials and --n-workers must be at least 1; got -1, 1"),
        (["--n-workers", "0"], "--n-trials and --n-workers must be at least 1; got 1, 0"),
        (["--inner-splits", "1"], "--inner-splits must be a whole number of at least 2"),
        (["--timeout", "0"], "--timeout must be a positive number of seconds; got 0.0"),
        (["--param", 'init="nonsense"'], "--param: The 'init' parameter of GraphBoostClassifier"),
        (
            ["--param", "n_estimator=3"],
            "--param n_estimator: GraphBoostClassifier has no parameter",
        ),
    ],
)
def test_a_bad_option_is_refused_before_the_storage_is_created(
    cohort_csv, tmp_path, extra, message, capsys
):
    assert main(_argv(cohort_csv, f"sqlite:///{tmp_path}/study.db", *extra)) == 2
    err = capsys.readouterr().err
    assert f"graphboost: error: {message}" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # no SQLite file


def test_a_table_too_small_to_tune_on_is_refused_before_the_storage(cohort_df, tmp_path, capsys):
    csv = tmp_path / "small.csv"
    cohort_df.head(5).to_csv(csv, index=False)
    assert main(_argv(csv, f"sqlite:///{tmp_path}/study.db")) == 2
    err = capsys.readouterr().err
    assert "--inner-splits 2: class" in err and "the table is too small to tune on" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.csv"]
    rare = pd.concat([cohort_df[cohort_df.y == 1].head(20), cohort_df[cohort_df.y == 0].head(4)])
    with pytest.raises(InputError, match=r"inner_splits 5: class '0' has 4 of the 24 patients"):
        run_search(_dataset(rare), f"sqlite:///{tmp_path}/s.db", inner_splits=5, fixed=FIXED)
    with pytest.raises(InputError, match=r"use inner_splits 4 or fewer"):
        run_search(_dataset(rare), f"sqlite:///{tmp_path}/s.db", inner_splits=5, fixed=FIXED)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.csv"]


def test_a_failed_trial_shows_its_cause(cohort_csv, tmp_path, monkeypatch, capsys):
    def broken(self, params, train, valid):
        raise ValueError("inner fold\nbroke")

    monkeypatch.setattr(_search.NestedCVObjective, "_fold_curve", broken)
    assert main(_argv(cohort_csv, f"sqlite:///{tmp_path}/study.db", n_trials=2)) == 2
    err = capsys.readouterr().err
    assert (
        "graphboost: error: No trial completed; nothing to refit. 2 trial(s) of this run "
        "failed: ValueError: inner fold broke (2 trials)." in err
    )
    assert "Traceback" not in err and "failed with parameters" not in err
    study = create_study(f"sqlite:///{tmp_path}/study.db", "graphboost")
    assert [t.user_attrs["failure"] for t in study.trials] == ["ValueError: inner fold broke"] * 2


# ---------------------------------------------------------------- item 2
def test_a_study_refuses_a_search_on_other_data_or_settings(cohort_df, tmp_path):
    storage = f"sqlite:///{tmp_path}/study.db"
    ds = _dataset(cohort_df)
    study = create_study(storage, "graphboost")
    check_study_fingerprint(study, study_fingerprint(ds, 2, FIXED, 0), "here")  # what it was for
    assert study.user_attrs[FINGERPRINT]["inner_splits"] == 2
    kw = {"n_trials": 1, "inner_splits": 2, "fixed": FIXED}
    cases = [
        (_dataset(cohort_df.iloc[1:]), kw, "other data .*another label"),
        (ds, {**kw, "fixed": {**FIXED, "n_estimators": 5}}, "other fixed parameters"),
        (ds, {**kw, "inner_splits": 3}, r"--inner-splits 2 \(here 3\)"),
        (ds, {**kw, "random_state": 1}, r"--seed 0 \(here 1\)"),
    ]
    for data, kwargs, what in cases:
        with pytest.raises(InputError, match=rf"created for {what}.*--study-name NEW"):
            run_search(data, storage, **kwargs)
    assert create_study(storage, "graphboost").trials == []  # no trial was run


def test_a_study_with_trials_and_no_fingerprint_is_refused(cohort_df, tmp_path):
    storage = f"sqlite:///{tmp_path}/study.db"
    study = create_study(storage, "graphboost")  # as an older graphboost left it
    with warnings.catch_warnings():  # Optuna: heartbeats are meant for Study.optimize
        warnings.filterwarnings("ignore", message="Heartbeat of storage")
        study.tell(study.ask(), 0.5)
    with pytest.raises(InputError, match=r"holds 1 trials that recorded no fingerprint"):
        run_search(_dataset(cohort_df), storage, n_trials=1, inner_splits=2, fixed=FIXED)


def test_tune_twice_on_another_table_is_refused_with_the_remedy(
    cohort_csv, cohort_df, tmp_path, capsys
):
    storage = f"sqlite:///{tmp_path}/study.db"
    assert main(_argv(cohort_csv, storage)) == 0
    assert "1 complete and 0 pruned trials (1 new)" in capsys.readouterr().out
    other = tmp_path / "other.csv"
    cohort_df.iloc[:-1].to_csv(other, index=False)
    assert main(_argv(other, storage)) == 2
    err = capsys.readouterr().err
    assert "Study 'graphboost' in sqlite:///" in err and "was created for other data" in err
    assert "Pass --study-name NEW for a new study in the same storage" in err
    assert len(create_study(storage, "graphboost").trials) == 1  # nothing mixed in


def test_study_name_is_documented(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["tune", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--study-name STUDY_NAME" in text and "records what it was created for" in text
