"""Embedding a folder on a Dask cluster against one process: time, and identical results and cache.

Writes ``--scans`` random volumes (``--side``^3 voxels, ``.npy``) to a temporary folder, embeds
them with ``features.VolumeEmbedder`` (the default small encoder, resampled to ``--shape``^3,
device ``auto``) in this process, then on a ``distributed.LocalCluster`` of ``--workers`` worker
processes (one thread each, as Dask sets them), then again on the cluster from the cache; the
start-up and imports of each side are not timed (two volumes embedded first, without cache).
Prints the times, the devices the workers used, and whether the embeddings and the cache files
(names and bytes) equal those of the single process.

Run::

    python benchmarks/benchmark_cluster_embedding.py                    # 1,000 scans, 2 workers
    python benchmarks/benchmark_cluster_embedding.py --scans 5000 --workers 8 --chunk-size 64
"""

from __future__ import annotations

import filecmp
import logging
import tempfile
import time
from pathlib import Path

from _scripts import parse_script_args

OPTIONS = {
    "--scans": (1000, "number of volumes"),
    "--side": (24, "voxels a side of each volume written"),
    "--shape": (32, "volumes are resampled to SHAPE^3 before embedding"),
    "--workers": (2, "worker processes of the local cluster"),
    "--chunk-size": (32, "volumes per task"),
    "--threads": (1, "torch threads of the single process (each worker has one)"),
    "--seed": (0, "random seed of the volumes"),
    "--no-malloc-trim": (
        False,
        "start the workers without Dask's MALLOC_TRIM_THRESHOLD_=65536 (glibc then hands "
        "memory back to the system less often; faster for CPU embedding)",
    ),
}

MALLOC_TRIM = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"


def _write_scans(folder, n, side, seed):
    import numpy as np

    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        path = folder / f"scan{i:05d}.npy"
        np.save(path, rng.random((side, side, side)).astype(np.float32))
        paths.append(str(path))
    return paths


def _same_cache(a, b):
    names = sorted(p.name for p in a.iterdir())
    return names == sorted(p.name for p in b.iterdir()) and all(
        filecmp.cmp(a / n, b / n, shallow=False) for n in names
    )


def _timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main(argv=None):
    """Run the comparison and print one line of figures."""
    import dask
    import distributed
    import numpy as np
    import torch

    from features import VolumeEmbedder, VolumePreprocessor

    args = parse_script_args(__doc__, OPTIONS, argv)
    with tempfile.TemporaryDirectory(prefix="cluster-embedding-") as tmp:
        tmp = Path(tmp)
        (tmp / "scans").mkdir()
        paths = _write_scans(tmp / "scans", args.scans, args.side, args.seed)

        def embedder(cache):
            return VolumeEmbedder(
                preprocessor=VolumePreprocessor(shape=args.shape), cache_dir=cache
            )

        VolumeEmbedder(preprocessor=VolumePreprocessor(shape=args.shape)).fit().transform(paths[:2])
        before = torch.get_num_threads()
        torch.set_num_threads(args.threads)
        try:
            ref, t_one = _timed(lambda: embedder(tmp / "one").fit().transform(paths))
        finally:
            torch.set_num_threads(before)
        trim = {MALLOC_TRIM: None} if args.no_malloc_trim else {}  # None: left unset
        with (
            dask.config.set(trim),
            distributed.LocalCluster(
                n_workers=args.workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            ) as cluster,
            distributed.Client(cluster, set_as_default=False) as client,
        ):
            emb = embedder(tmp / "cluster").fit()
            emb.transform(paths[:2], scheduler=client, chunk_size=1)  # the workers' imports
            for path in (tmp / "cluster").iterdir():
                path.unlink()

            def run():
                return emb.transform(paths, scheduler=client, chunk_size=args.chunk_size)

            got, t_cluster = _timed(run)
            again, t_cached = _timed(run)
        print(
            f"{args.scans} scans of {args.side}^3 -> {args.shape}^3: one process "
            f"({args.threads} thread(s)) {t_one:.1f} s; "
            f"{args.workers} workers{' (no malloc trim)' if args.no_malloc_trim else ''} "
            f"{t_cluster:.1f} s, again from the cache {t_cached:.1f} s "
            f"(devices {emb.worker_devices_}); embeddings identical: "
            f"{np.array_equal(ref, got) and np.array_equal(ref, again)}; cache identical: "
            f"{_same_cache(tmp / 'one', tmp / 'cluster')}"
        )


if __name__ == "__main__":
    main()
