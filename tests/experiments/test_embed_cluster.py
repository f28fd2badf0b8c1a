"""``graphboost embed --scheduler ADDRESS`` (and ``workflows.embed_scans(scheduler=...)``): the
same table and cache as without a cluster; one clear line when dask or the scheduler is
missing, and nothing written then."""

from __future__ import annotations

import socket
import sys

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("monai")
distributed = pytest.importorskip("distributed")

from experiments import InputError, workflows  # noqa: E402
from experiments.cli import main  # noqa: E402

pytestmark = pytest.mark.slow


def _scans(folder, n=6):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        np.save(folder / f"P{i}.npy", rng.random((16, 16, 16)).astype(np.float32))
    return folder


def _embed(scans, out, *more):
    argv = ["embed", "--scans", str(scans), "--output", str(out), "--shape", "16"]
    return main([*argv, "--device", "cpu", *more])


def _free_address():
    with socket.socket() as s:  # nothing listens on a port just released
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def test_embed_on_a_cluster_writes_the_same_table_and_cache(tmp_path, capsys):
    scans = _scans(tmp_path / "scans")
    assert _embed(scans, tmp_path / "one.csv", "--cache-dir", str(tmp_path / "c1")) == 0
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        address = cluster.scheduler_address
        more = ["--cache-dir", str(tmp_path / "c2"), "--scheduler", address]
        assert _embed(scans, tmp_path / "cluster.csv", *more) == 0
        frame = workflows.embed_scans(scans, shape=16, device="cpu", scheduler=address)
    assert "Embeddings of 6 scans written" in capsys.readouterr().out
    one, many = pd.read_csv(tmp_path / "one.csv"), pd.read_csv(tmp_path / "cluster.csv")
    pd.testing.assert_frame_equal(many, one)
    pd.testing.assert_frame_equal(frame, workflows.embed_scans(scans, shape=16, device="cpu"))

    def cache(name):
        return {p.name: p.read_bytes() for p in (tmp_path / name).iterdir()}

    assert cache("c2") == cache("c1") and len(cache("c1")) == 6


def test_unreachable_scheduler_is_one_line_and_nothing_is_written(tmp_path, capsys):
    import dask

    scans, address = _scans(tmp_path / "scans"), _free_address()
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        assert _embed(scans, tmp_path / "e.csv", "--scheduler", address) == 2
        with pytest.raises(InputError, match="Cannot reach the Dask scheduler"):
            workflows.embed_scans(scans, shape=16, scheduler=address)
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"graphboost: error: Cannot reach the Dask scheduler at '{address}'")
    assert "\n" not in err and "dask scheduler" in err
    assert _embed(scans, tmp_path / "e.csv", "--scheduler", "localhost") == 2
    assert "is not a Dask scheduler address" in capsys.readouterr().err
    assert not list(tmp_path.glob("*e.csv*"))


def test_without_dask_the_command_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    scans = _scans(tmp_path / "scans")
    assert _embed(scans, tmp_path / "e.csv", "--scheduler", "tcp://127.0.0.1:8786") == 2
    err = capsys.readouterr().err
    assert "needs dask.distributed" in err and "pip install 'graphboost[distributed]'" in err
    assert not (tmp_path / "e.csv").exists()
