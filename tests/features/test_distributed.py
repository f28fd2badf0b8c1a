"""VolumeEmbedder.transform(scheduler=...): a Dask cluster of 2 worker processes gives the
embeddings and the cache of one process, redoes a killed worker's scans, and says clearly when
dask is missing or the scheduler cannot be reached."""

from __future__ import annotations

import logging
import os
import socket
import sys

import numpy as np
import pytest

pytest.importorskip("monai")
distributed = pytest.importorskip("distributed")

from features import VolumeEmbedder, VolumePreprocessor  # noqa: E402
from features.imaging import connect_scheduler  # noqa: E402

pytestmark = pytest.mark.slow  # a cluster of 2 worker processes: 20-60 s on 2 busy cores

TINY = {"channels": (4, 4, 8, 8)}


def _embedder(**kw):
    return VolumeEmbedder(encoder_kwargs=TINY, preprocessor=VolumePreprocessor(shape=16), **kw)


def _scans(folder, n=8, bad_at=None):
    """``n`` scans of 16^3 as .npy files; at ``bad_at`` a file that is not a volume."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        path = folder / f"scan{i}.npy"
        if i == bad_at:
            path.write_text("not a volume")
        else:
            np.save(path, rng.random((16, 16, 16)).astype(np.float32))
        paths.append(str(path))
    return paths


def _cache(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def client():
    """A cluster of 2 worker processes with one thread each, on this machine."""
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as cli,
    ):
        yield cli


def test_cluster_gives_the_embeddings_and_cache_of_one_process(tmp_path, client):
    paths = _scans(tmp_path / "scans", n=9, bad_at=5)
    one, many = tmp_path / "cache-one", tmp_path / "cache-cluster"
    with pytest.warns(UserWarning, match="skipped 1 of 9 volumes"):
        ref = _embedder(cache_dir=one, on_error="skip").fit().transform(paths)
    emb = _embedder(cache_dir=many, on_error="skip").fit()
    with pytest.warns(UserWarning, match="skipped 1 of 9 volumes"):
        got = emb.transform(paths, scheduler=client, chunk_size=2)
    np.testing.assert_array_equal(got, ref)  # bit for bit, the unreadable scan's row NaN
    assert np.isnan(got[5]).all() and np.isfinite(np.delete(got, 5, axis=0)).all()
    assert [s["position"] for s in emb.skipped_] == [5]
    assert emb.skipped_[0]["source"] == paths[5]
    assert (emb.n_computed_, emb.n_from_cache_, emb.worker_devices_) == (8, 0, {"cpu": 9})
    assert _cache(many) == _cache(one) and len(_cache(one)) == 8  # same names, same bytes
    with pytest.warns(UserWarning, match="skipped 1 of 9"):
        again = emb.transform(paths, scheduler=client, chunk_size=4)
    np.testing.assert_array_equal(again, ref)
    assert (emb.n_computed_, emb.n_from_cache_) == (0, 8)


def test_pandas_output_keeps_the_order_and_ids(tmp_path, client):
    paths = _scans(tmp_path / "scans", n=5)
    ids = [f"P{i}" for i in (4, 2, 0, 3, 1)]
    ref = _embedder(output="pandas").fit().transform(paths, ids=ids)
    got = _embedder(output="pandas").fit().transform(paths, ids=ids, scheduler=client)
    assert list(got.index) == ids
    assert got.equals(ref)


def test_unreadable_scan_is_an_error_naming_it(tmp_path, client):
    paths = _scans(tmp_path / "scans", n=4, bad_at=2)
    with pytest.raises(ValueError, match=r"Cannot embed .*scan2\.npy"):
        _embedder().fit().transform(paths, scheduler=client, chunk_size=1)
    arrays = [np.zeros((16, 16, 16), np.float32)] * 5
    arrays[3] = np.full((16, 16, 16), np.nan, np.float32)  # position 3, the 2nd of its chunk
    with pytest.raises(
        ValueError, match=r"array at position 3: ValueError: array at position 3 contains NaN"
    ):
        _embedder().fit().transform(arrays, scheduler=client, chunk_size=2)


def test_a_killed_workers_scans_are_redone(tmp_path, client):
    """The first chunk to start kills its worker process (once, a marker file says so): the
    scheduler gives its chunk to a worker again and the result is that of one process."""
    marker = tmp_path / "killed"

    class KillOnce(distributed.WorkerPlugin):
        def transition(self, key, start, finish, **kwargs):
            if finish != "executing" or "_embed_chunk" not in str(key):
                return
            try:
                os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                return
            os._exit(1)  # the worker process dies mid-run; its nanny starts a new one

    arrays = list(np.random.default_rng(1).random((8, 16, 16, 16)).astype(np.float32))
    ref = _embedder().fit().transform(arrays)
    client.register_plugin(KillOnce(), name="kill-once")
    try:
        emb = _embedder(cache_dir=tmp_path / "cache").fit()
        got = emb.transform(arrays, scheduler=client, chunk_size=2)
    finally:
        client.unregister_worker_plugin("kill-once")
    assert marker.exists()  # a worker did die
    np.testing.assert_array_equal(got, ref)
    assert emb.n_computed_ + emb.n_from_cache_ == 8
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 8


def test_without_dask_the_error_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    with pytest.raises(ImportError, match=r"needs dask\.distributed.*graphboost\[distributed\]"):
        _embedder().fit().transform(_scans(tmp_path / "scans", n=2), scheduler="tcp://h:8786")


def test_unreachable_or_malformed_scheduler(tmp_path):
    with socket.socket() as s:  # a free port: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        with pytest.raises(
            OSError,
            match=rf"Cannot reach the Dask scheduler at 'tcp://127\.0\.0\.1:{port}'.*dask sched",
        ):
            connect_scheduler(f"tcp://127.0.0.1:{port}")
    with pytest.raises(ValueError, match=r"scheduler 'localhost' is not a Dask scheduler address"):
        connect_scheduler("localhost")
    with pytest.raises(ValueError, match=r"scheduler must be the address .*type int"):
        connect_scheduler(8786)
    paths = _scans(tmp_path / "scans", n=2)
    with pytest.raises(ValueError, match=r"chunk_size must be a whole number >= 1, got 0"):
        _embedder().fit().transform(paths, scheduler="tcp://127.0.0.1:1", chunk_size=0)
