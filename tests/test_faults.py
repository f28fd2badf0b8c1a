"""Fault tests of the long jobs: killed with SIGKILL at a random point, or out of disk space.

A killed job, run again, must end with exactly the result of an uninterrupted run; a full disk
(a patched writer raising ``OSError(ENOSPC)``) must leave no half-written file that a later run
trusts, and nothing of the previous result lost. Each test takes a few seconds.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features import VolumeEmbedder, VolumePreprocessor
from graphboost import torch_threads

ROOT = Path(__file__).resolve().parents[1]
_ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def _kill_when(proc, ready, timeout=120):
    """SIGKILL ``proc`` as soon as ``ready()`` holds; True if it was killed (not finished)."""
    deadline = time.time() + timeout
    try:
        while time.time() < deadline and proc.poll() is None:
            if ready():
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.002)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode == -signal.SIGKILL


# ------------------------------------------------------------------------------ embedding
_EMBED = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import numpy as np
    from features import VolumeEmbedder, VolumePreprocessor
    paths = [str(p) for p in sorted(Path(sys.argv[1]).glob("*.npy"))]
    emb = VolumeEmbedder(encoder_kwargs={"channels": (4, 4, 8, 8)}, device="cpu", batch_size=1,
                         preprocessor=VolumePreprocessor(shape=24), cache_dir=sys.argv[2]).fit()
    emb.transform(paths)
    """
)


def _embedder(cache=None):
    return VolumeEmbedder(
        encoder_kwargs={"channels": (4, 4, 8, 8)},
        device="cpu",
        batch_size=1,
        preprocessor=VolumePreprocessor(shape=24),
        cache_dir=cache,
    ).fit()


def _volumes(folder, n):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        np.save(folder / f"v{i:02d}.npy", rng.random((20, 20, 20)).astype(np.float32))
    return [str(p) for p in sorted(folder.glob("*.npy"))]


@pytest.mark.slow
def test_embedding_killed_at_a_random_point_resumes_to_the_same_embeddings(tmp_path):
    n = 30
    paths = _volumes(tmp_path / "vols", n)
    with torch_threads(0, "cpu"):  # one thread, like the OMP_NUM_THREADS=1 worker
        reference = _embedder().transform(paths)
    cache = tmp_path / "cache"
    k = int(np.random.default_rng().integers(1, n - 5))  # cache entries written before the kill
    argv = [sys.executable, "-c", _EMBED, str(tmp_path / "vols"), str(cache)]
    proc = subprocess.Popen(argv, cwd=ROOT, env=_ENV)
    killed = _kill_when(proc, lambda: len(list(cache.glob("[0-9a-f]*.npy"))) >= k)
    assert killed, f"the embedding run ended before {k} of {n} volumes were cached"
    entries = list(cache.glob("[0-9a-f]*.npy"))
    assert k <= len(entries) < n
    for entry in entries:  # every entry a later run trusts is whole
        assert np.load(entry).shape == (reference.shape[1],)
    emb = _embedder(cache)
    with torch_threads(0, "cpu"):
        resumed = emb.transform(paths)
    assert (emb.n_from_cache_, emb.n_computed_) == (len(entries), n - len(entries))
    np.testing.assert_array_equal(resumed, reference)  # bit for bit


def test_full_disk_while_caching_leaves_no_entry_a_later_run_trusts(tmp_path, monkeypatch):
    import features.imaging._embedding as embedding

    paths = _volumes(tmp_path / "vols", 4)
    reference = _embedder().transform(paths)
    cache = tmp_path / "cache"
    real_save = np.save
    calls = {"n": 0}

    def save_then_fill_the_disk(file, array, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:  # half an entry written, then the disk is full
            file.write(b"\x93NUMPY half")
            _enospc()
        real_save(file, array, *args, **kwargs)

    monkeypatch.setattr(embedding.np, "save", save_then_fill_the_disk)
    with pytest.raises(OSError, match=r"Cannot write the embedding cache in '.*cache'"):
        _embedder(cache).transform(paths)
    monkeypatch.setattr(embedding.np, "save", real_save)
    assert len(list(cache.iterdir())) == 2  # two whole entries, no temporary file left
    emb = _embedder(cache)
    np.testing.assert_array_equal(emb.transform(paths), reference)
    assert (emb.n_from_cache_, emb.n_computed_) == (2, 2)


# ------------------------------------------------------------------------------ model folders
FAST = {"n_estimators": 3, "conv": "vote", "n_neighbors": 5}


def _cohort(tmp_path, n=40):
    """A small table whose label follows x1, written to CSV, and its cohort."""
    from experiments import workflows

    rng = np.random.default_rng(0)
    x1 = rng.normal(size=n)
    table = pd.DataFrame(
        {
            "pid": [f"P{i:03d}" for i in range(n)],
            "x1": x1,
            "x2": rng.normal(size=n),
            "site": rng.choice(["A", "B"], n),
            "y": (x1 + 0.5 * rng.normal(size=n) > 0).astype(int),
        }
    )
    csv = tmp_path / "cohort.csv"
    table.to_csv(csv, index=False)
    return csv, workflows.load_cohort(csv, label="y", id_column="pid")


def test_full_disk_while_replacing_a_model_keeps_the_old_model(tmp_path, monkeypatch):
    from experiments import workflows

    csv, cohort = _cohort(tmp_path)
    model = tmp_path / "model"
    workflows.fit_model_folder(cohort, model, params=FAST)
    before = workflows.predict(model, csv)
    files = {p: p.read_bytes() for p in model.rglob("*") if p.is_file()}
    real_write = Path.write_text

    def write_half(self, text, *args, **kwargs):
        if self.name == "report.md":
            real_write(self, text[: len(text) // 2], *args, **kwargs)
            _enospc()
        return real_write(self, text, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", write_half)
    with pytest.raises(OSError, match="No space left"):
        workflows.fit_model_folder(
            cohort, model, params={**FAST, "n_estimators": 2}, overwrite=True
        )
    monkeypatch.setattr(Path, "write_text", real_write)
    assert {p: p.read_bytes() for p in model.rglob("*") if p.is_file()} == files
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort.csv", "model"]  # no staging
    pd.testing.assert_frame_equal(workflows.predict(model, csv), before)


def test_full_disk_while_writing_predictions_leaves_no_file(tmp_path, monkeypatch, capsys):
    from experiments import workflows
    from experiments.cli import main

    csv, cohort = _cohort(tmp_path)
    workflows.fit_model_folder(cohort, tmp_path / "model", params=FAST)
    real_to_csv = pd.DataFrame.to_csv

    def to_csv_half(self, path, *args, **kwargs):
        Path(path).write_text("pid,proba_0\nP000,0.")
        _enospc()

    monkeypatch.setattr(pd.DataFrame, "to_csv", to_csv_half)
    argv = ["predict", "--model", str(tmp_path / "model"), "--data", str(csv)]
    assert main([*argv, "--output", str(tmp_path / "p.csv")]) == 2
    assert "graphboost: error: [Errno 28] No space left" in capsys.readouterr().err
    monkeypatch.setattr(pd.DataFrame, "to_csv", real_to_csv)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort.csv", "model"]
    assert main([*argv, "--output", str(tmp_path / "p.csv")]) == 0  # no --overwrite needed


# ------------------------------------------------------------------------------ benchmark
@pytest.mark.slow
def test_benchmark_killed_at_a_random_point_leaves_nothing_and_reruns_identically(tmp_path):
    from experiments import run_benchmark

    csv, _ = _cohort(tmp_path)
    cfg = {
        "name": "t",
        "dataset": {"kind": "csv", "path": str(csv), "label": "y", "id_column": "pid"},
        "methods": ["logistic", "graphboost"],
        "params": {"graphboost": FAST},
        "cv": {"n_splits": 3, "n_repeats": 2},
        "metrics": {"n_bootstrap": 20},
    }
    config = tmp_path / "c.json"
    config.write_text(json.dumps(cfg))
    script = (
        "import json, sys; from experiments import run_benchmark; "
        "run_benchmark(json.load(open(sys.argv[1])), output=sys.argv[2], progress=False)"
    )
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(config), str(out)], cwd=ROOT, env=_ENV
    )
    started, delay = time.time(), float(np.random.default_rng().uniform(2.0, 6.0))
    killed = _kill_when(proc, lambda: time.time() - started >= delay)
    if killed:  # nothing is published before every method ran: no results folder, no half of one
        # (the kill can land after the folder was renamed into place, during interpreter exit:
        # then it is the complete folder)
        assert not out.exists() or {"run.json", "results.md"} <= {p.name for p in out.iterdir()}
    rerun = run_benchmark(cfg, output=out, progress=False, overwrite=True)
    uninterrupted = run_benchmark(cfg, output=tmp_path / "uninterrupted", progress=False)
    for name in ("oof_predictions.csv", "fold_scores.csv", "results.csv"):
        a = pd.read_csv(rerun.output / name)
        b = pd.read_csv(uninterrupted.output / name)
        timing = [c for c in a.columns if "seconds" in c]
        pd.testing.assert_frame_equal(a.drop(columns=timing), b.drop(columns=timing))


# ------------------------------------------------------------------------------ tuning
@pytest.mark.postgres
@pytest.mark.slow
def test_killed_worker_trial_is_failed_and_retried_on_postgres(tmp_path):
    url = os.environ.get("GRAPHBOOST_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("GRAPHBOOST_TEST_POSTGRES_URL is not set (CI sets it with .ci/postgres.sh)")
    optuna = pytest.importorskip("optuna")
    from experiments.tuning._search import create_study

    csv, _ = _cohort(tmp_path)
    name = f"test-{uuid.uuid4().hex[:12]}"
    argv = [sys.executable, "-m", "experiments.cli", "tune", "--data", str(csv), "--label", "y"]
    argv += ["--exclude", "pid", "--storage", url, "--study-name", name, "--heartbeat", "1"]
    argv += ["--param", "n_estimators=4", "--param", 'conv="vote"', "--inner-splits", "2"]
    study = None

    def running():
        nonlocal study
        try:
            study = study or create_study(url, name)
        except Exception:  # the worker has not created the study yet
            return False
        trials = study.get_trials(deepcopy=False)
        done = sum(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
        # Parameters are drawn after the trial's first heartbeat: a trial killed between its
        # creation and that heartbeat has none, and Optuna cannot tell it is stale.
        last = trials[-1] if trials else None
        running = last is not None and last.state == optuna.trial.TrialState.RUNNING
        return done >= 1 and running and bool(last.params)

    proc = subprocess.Popen([*argv, "--n-trials", "200"], cwd=ROOT, env=_ENV)
    assert _kill_when(proc, running)
    killed = [t.number for t in create_study(url, name).trials if t.state.name == "RUNNING"]
    time.sleep(2.5)  # older than the grace period (twice the heartbeat)
    subprocess.run([*argv, "--n-trials", "2"], cwd=ROOT, env=_ENV, check=True)
    trials = create_study(url, name).trials
    try:
        assert not [t for t in trials if t.state.name == "RUNNING"]
        for number in killed:
            assert trials[number].state.name == "FAIL"
            retries = [t for t in trials if t.system_attrs.get("failed_trial") == number]
            # The retry starts from the parameters the killed trial had drawn (it may have been
            # killed between two suggestions) and draws the rest.
            assert len(retries) == 1
            assert retries[0].params.items() >= trials[number].params.items()
    finally:
        optuna.delete_study(study_name=name, storage=url)
