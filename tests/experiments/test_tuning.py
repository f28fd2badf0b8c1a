"""Optuna searches: search space, pruning reports, storage errors, resume after SIGKILL, workers."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid

import numpy as np
import pytest

optuna = pytest.importorskip("optuna")

from experiments._tuning import (  # noqa: E402
    MAX_ROUNDS,
    NestedCVObjective,
    create_study,
    open_storage,
    search_space,
)
from experiments.cli import main  # noqa: E402

FAST = [
    "--param",
    "n_estimators=4",
    "--param",
    'conv="vote"',
    "--param",
    "n_neighbors=5",
    "--inner-splits",
    "2",
]


def _tune_argv(csv, storage, n_trials, *extra):
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
        *FAST,
        *extra,
    ]


def test_search_space_uses_real_parameter_names():
    from graphboost import GraphBoostClassifier

    valid = set(GraphBoostClassifier().get_params())
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen_convs = set()
    for _ in range(25):
        trial = study.ask()
        params = search_space(trial, valid)
        assert set(params) <= valid
        GraphBoostClassifier(**params)  # accepted by the estimator
        seen_convs.add(params["conv"])
        if params["conv"] == "vote":
            assert "hidden_channels" not in trial.params
        else:  # the GNN's Adam step is searched under the estimator's own name
            assert {"gnn_lr", "hidden_channels", "n_screen"} <= set(params)
        study.tell(trial, 0.5)
    assert len(seen_convs) >= 3
    fixed = search_space(study.ask(), valid, fixed={"conv": "vote", "n_estimators": 7})
    assert fixed["conv"] == "vote" and fixed["n_estimators"] == 7


def test_objective_reports_staged_scores_and_prunes(cohort_df):
    X = cohort_df.drop(columns=["pid", "y"])
    y = cohort_df.y.to_numpy()
    study = optuna.create_study(
        direction="maximize", pruner=optuna.pruners.MedianPruner(n_startup_trials=1)
    )
    objective = NestedCVObjective(
        X, y, inner_splits=2, fixed={"n_estimators": 4, "conv": "vote", "n_neighbors": 5}
    )
    study.optimize(objective, n_trials=1)
    t = study.trials[0]
    assert t.state == optuna.trial.TrialState.COMPLETE and t.value > 0.7
    steps = sorted(t.intermediate_values)
    assert steps[0] < MAX_ROUNDS and steps[-1] == 2 * MAX_ROUNDS - 1  # both inner folds reported
    assert t.user_attrs["estimator_params"]["conv"] == "vote"

    # A trial whose staged scores run below the median is pruned after its first inner fold.
    class Worse(NestedCVObjective):
        def __call__(self, trial):
            for s in range(5):
                trial.report(0.1, step=s)
            if trial.should_prune():
                raise optuna.TrialPruned()
            return 0.1

    study.optimize(Worse(X, y), n_trials=1)
    assert study.trials[-1].state == optuna.trial.TrialState.PRUNED


def test_unreachable_storage_is_a_clear_error_and_writes_nothing(cohort_csv, tmp_path, capsys):
    url = "postgresql+psycopg2://bob:s3cret@127.0.0.1:1/nowhere"
    code = main(_tune_argv(cohort_csv, url, 1, "--output", str(tmp_path / "model")))
    err = capsys.readouterr().err
    assert code == 2
    assert (
        "graphboost: error: Cannot reach the Optuna storage postgresql+psycopg2://bob:***@" in err
    )
    assert "s3cret" not in err
    assert list(tmp_path.iterdir()) == []
    code = main(_tune_argv(cohort_csv, f"sqlite:///{tmp_path}/no/such/dir/s.db", 1))
    assert code == 2 and "does not exist" in capsys.readouterr().err
    with pytest.raises(Exception, match=r"Storage must be a URL such as sqlite:///study\.db"):
        open_storage("study.db")


@pytest.mark.slow
def test_tune_refits_best_trial_and_saves_a_model(cohort_csv, tmp_path, capsys):
    storage = f"sqlite:///{tmp_path}/study.db"
    out = tmp_path / "model"
    assert main(_tune_argv(cohort_csv, storage, 3, "--output", str(out))) == 0
    printed = capsys.readouterr().out
    assert "3 complete and 0 pruned trials (3 new)" in printed and "Best inner-CV AUROC" in printed
    assert (out / "cohort.json").exists() and "optuna-dashboard" in (out / "report.md").read_text()
    # the study resumes: 2 more trials add up
    assert main(_tune_argv(cohort_csv, storage, 2)) == 0
    capsys.readouterr()
    finished = [t for t in create_study(storage, "graphboost").trials if t.state.is_finished()]
    assert len(finished) == 5  # 3 + 2: complete or pruned by the MedianPruner


def _complete_read_only(db):
    """COMPLETE trials, read without writing to the worker's database (no study creation)."""
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute("SELECT count(*) FROM trials WHERE state = 'COMPLETE'").fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:  # schema not created yet, or locked for a moment
        return 0


@pytest.mark.slow
def test_killed_worker_resumes_without_losing_finished_trials(cohort_csv, tmp_path):
    """Issue 11: the trial running when the worker was killed stayed RUNNING forever.

    With a heartbeat every second, the rerun fails that trial (silent for over 2 s) and runs its
    parameters again as one of its own trials.
    """
    db = tmp_path / "study.db"
    storage = f"sqlite:///{db}"
    beat = ("--heartbeat", "1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "experiments.cli", *_tune_argv(cohort_csv, storage, 200, *beat)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 240
        done = 0
        while time.time() < deadline:
            time.sleep(1)
            done = _complete_read_only(db)
            if done >= 2:
                break
            assert proc.poll() is None, "the tuning worker exited early"
        assert done >= 2, "no two trials finished in time"
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    state = optuna.trial.TrialState
    study = create_study(storage, "graphboost")
    finished = {t.number: t.value for t in study.get_trials(states=(state.COMPLETE,))}
    assert len(finished) >= 2
    killed = [t.number for t in study.get_trials(states=(state.RUNNING,))]
    assert len(killed) <= 1  # the trial running at the kill (none if killed between two)
    done = (state.COMPLETE, state.PRUNED)
    n_done_before = len(study.get_trials(states=done))
    time.sleep(2.5)  # the killed trial's last heartbeat is now older than its grace period (2 s)
    assert main(_tune_argv(cohort_csv, storage, 2, *beat)) == 0
    study = create_study(storage, "graphboost")
    after = {t.number: t.value for t in study.get_trials(states=(state.COMPLETE,))}
    # two new trials, complete or pruned; the retry of the killed trial is one of them (FAIL,
    # the killed trial's new state, is not counted)
    assert len(study.get_trials(states=done)) == n_done_before + 2
    assert all(after[n] == v for n, v in finished.items())  # nothing lost or changed
    assert not study.get_trials(states=(state.RUNNING,))  # none left RUNNING forever
    for number in killed:
        assert study.trials[number].state == state.FAIL
        retry = [t for t in study.trials if t.system_attrs.get("failed_trial") == number]
        # The retry keeps every parameter the killed trial had drawn (the kill may land before
        # it drew all of them: the retry draws the rest).
        killed_params = study.trials[number].params.items()
        assert len(retry) == 1 and killed_params <= retry[0].params.items()


@pytest.mark.postgres
@pytest.mark.slow
def test_two_workers_share_one_postgres_study(cohort_csv, capsys):
    url = os.environ.get("GRAPHBOOST_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("GRAPHBOOST_TEST_POSTGRES_URL is not set (CI sets it with .ci/postgres.sh)")
    name = f"test-{uuid.uuid4().hex[:12]}"
    assert main(_tune_argv(cohort_csv, url, 4, "--n-workers", "2", "--study-name", name)) == 0
    study = optuna.load_study(study_name=name, storage=url)
    trials = study.get_trials()
    numbers = [t.number for t in trials]
    assert len(trials) == 4 and sorted(numbers) == [0, 1, 2, 3]  # no duplicate, none lost
    assert all(t.state.is_finished() for t in trials)
    by_worker = np.bincount([t.user_attrs["worker"] for t in trials], minlength=3)
    assert by_worker.tolist() == [0, 2, 2]  # both worker processes did their share
    assert "(4 new)" in capsys.readouterr().out
    optuna.delete_study(study_name=name, storage=url)


@pytest.mark.slow
def test_worker_processes_get_explicit_arguments(cohort_df, tmp_path):
    """Issue 8: workers rewrote the command line and read their index from the environment."""
    from experiments import run_search
    from experiments._data import dataset_from_cohort, read_cohort

    ds = dataset_from_cohort(read_cohort(cohort_df, label="y", id_column="pid"), "c")
    storage = f"sqlite:///{tmp_path}/study.db"
    fixed = {"n_estimators": 4, "conv": "vote", "n_neighbors": 5}
    res = run_search(ds, storage, n_trials=2, n_workers=2, inner_splits=2, fixed=fixed)
    assert res.n_new == 2 and res.best_params["n_estimators"] == 4
    assert sorted(t.user_attrs["worker"] for t in res.study.trials) == [1, 2]
    with pytest.raises(ValueError, match="n_trials and n_workers must be at least 1; got 0, 1"):
        run_search(ds, storage, n_trials=0)
