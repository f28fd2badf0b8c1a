"""Benchmark of the imaging features: embedding throughput and self-supervised pretraining cost.

1. Throughput (volumes per second) of ``features.VolumeEmbedder.transform`` on in-memory volumes
   (MONAI preprocessing included, cache off) for each encoder at each volume size, after one
   warm-up batch; plus the encoder forward pass alone.
2. Supervised training throughput (volumes per second through the training loop of
   ``features.SupervisedVolumeEmbedder``: random views, forward, backward, EMA update; mixed
   precision on CUDA) on random volumes, two epochs of one encoder.
3. Self-supervised pretraining on AdrenalMNIST3D (the first ``--pretrain-volumes`` train
   volumes of 64^3): wall time, time per epoch, peak resident memory of the process that ran it
   (``resource.getrusage``, measured in a fresh child process) and peak Python-side allocations
   (``tracemalloc``: NumPy buffers, not torch's allocator).

Usage::

    python benchmarks/benchmark_embeddings.py                      # CPU, everything
    python benchmarks/benchmark_embeddings.py --device cuda --no-pretrain --json out.json

The figures depend on the machine and its load; the script prints both, with the torch thread
count.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import platform
import resource
import sys
import time

import numpy as np
from _scripts import parse_script_args


def _load_average() -> str:
    try:
        return " / ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover
        return "n/a"


def throughput(encoder, size, n_volumes, batch_size, device, repeats=1, num_workers=0) -> dict:
    """Volumes per second of VolumeEmbedder.transform (``num_workers`` DataLoader workers) and of
    the bare encoder (on CUDA at least 50 batches, so the timing is not launch overhead)."""
    import torch

    import features

    rng = np.random.default_rng(0)
    # at most 256 distinct random volumes, repeated (memory stays bounded for large n_volumes)
    distinct = rng.random((min(n_volumes, 256), size, size, size), dtype=np.float32)
    vols = [distinct[i % len(distinct)] for i in range(n_volumes)]
    emb = features.VolumeEmbedder(
        encoder=encoder,
        preprocessor=features.VolumePreprocessor(shape=size, orientation=None),
        batch_size=batch_size,
        num_workers=num_workers,
        device=device,
    ).fit()
    emb.transform(vols[:batch_size])  # warm-up (allocations, cuDNN / oneDNN plans)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        emb.transform(vols)
        if emb.device_.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    x = torch.from_numpy(np.stack(vols[:batch_size])[:, None]).to(emb.device_)
    use_amp = emb.device_.type == "cuda"
    n_forward = max(n_volumes, 50 * batch_size) if use_amp else n_volumes
    with torch.no_grad(), torch.autocast(emb.device_.type, enabled=use_amp):
        emb.encoder_(x)
        if use_amp:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        n_fw = 0
        while n_fw < n_forward:
            emb.encoder_(x)
            n_fw += batch_size
        if use_amp:
            torch.cuda.synchronize()
        fwd = time.perf_counter() - t0
    return {
        "encoder": encoder,
        "size": size,
        "device": str(emb.device_),
        "n_volumes": n_volumes,
        "batch_size": batch_size,
        "num_workers": num_workers,
        "threads": torch.get_num_threads(),
        "seconds": best,
        "volumes_per_s": n_volumes / best,
        "forward_volumes_per_s": n_fw / fwd,
        "embedding_dim": emb.n_features_out_,
    }


def training_throughput(size, n_volumes, batch_size, device) -> dict:
    """Volumes per second of SupervisedVolumeEmbedder's training loop (2 epochs, one encoder)."""
    import pandas as pd
    import torch

    import features

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"scan": list(rng.random((n_volumes, 1, size, size, size), dtype=np.float32))})
    y = np.arange(n_volumes) % 2
    epochs = 2
    emb = features.SupervisedVolumeEmbedder(
        preprocessor=features.VolumePreprocessor(shape=None, orientation=None, intensity=None),
        inference="refit",
        max_epochs=epochs,
        validation_fraction=0.0,
        batch_size=batch_size,
        add_indicator=False,
        device=device,
    ).fit(X, y)
    seconds = emb.history_[0]["seconds"]  # the training loop only, not the preprocessing
    return {
        "encoder": "small",
        "size": size,
        "device": str(emb.device_),
        "n_volumes": n_volumes,
        "epochs": epochs,
        "batch_size": batch_size,
        "threads": torch.get_num_threads(),
        "seconds": seconds,
        "volumes_per_s": n_volumes * epochs / seconds,
    }


def _pretrain_child(queue, n_volumes, epochs, size, channels, objective, device, threads):
    import tracemalloc

    import torch

    import features

    if threads:
        torch.set_num_threads(threads)
    tracemalloc.start()
    ds = features.load_adrenalmnist3d(size=64)
    vols = ds.X_train[:n_volumes]
    t0 = time.perf_counter()
    pre = features.VolumePreprocessor(shape=size, orientation=None, intensity="minmax")
    arrays = np.empty((len(vols), 1, size, size, size), dtype=np.float32)  # no list + stack copy
    for i, v in enumerate(vols):
        arrays[i] = pre(v)
    prep_s = time.perf_counter() - t0
    res = features.pretrain_encoder(
        arrays,
        encoder_kwargs={"channels": channels},
        objective=objective,
        epochs=epochs,
        batch_size=16,
        patch_size=max(2, size // 8),
        device=device,
        verbose=True,
    )
    _, py_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put(
        {
            "objective": objective,
            "n_volumes": len(vols),
            "input": "64^3",
            "train_size": size,
            "channels": list(channels),
            "epochs": len(res.history),
            "threads": torch.get_num_threads(),
            "preprocess_s": prep_s,
            "train_s": res.seconds,
            "s_per_epoch": res.seconds / len(res.history),
            "loss_first": res.history[0],
            "loss_last": res.history[-1],
            "peak_rss_mb": peak_kb / 1024 if sys.platform != "darwin" else peak_kb / 2**20,
            "tracemalloc_peak_mb": py_peak / 2**20,
        }
    )


def pretraining(n_volumes, epochs, size, channels, objective, device, threads) -> dict:
    """Run one pretraining in a fresh process; its figures (time, peak memory)."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(
        target=_pretrain_child,
        args=(queue, n_volumes, epochs, size, channels, objective, device, threads),
    )
    proc.start()
    out = queue.get()
    proc.join()
    return out


def _table(rows, cols) -> str:
    widths = [max(len(c), *(len(r[c]) for r in rows)) for c in cols]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for r in rows:
        lines.append("  ".join(r[c].ljust(w) for c, w in zip(cols, widths, strict=True)))
    return "\n".join(lines)


OPTIONS = {
    "--device": ("cpu", "cpu, cuda or auto"),
    "--encoders": ("small,resnet10,resnet18", "encoders to time, comma-separated"),
    "--sizes": ("64,128", "volume edge lengths to time, comma-separated"),
    "--n-volumes": (16, "volumes embedded per throughput measurement"),
    "--batch-size": (8, "volumes per batch"),
    "--num-workers": (0, "DataLoader workers of the embedder (reading and preprocessing)"),
    "--repeats": (
        1,
        "timed passes of the embedder, the fastest reported (the first also starts the workers "
        "and, on CUDA, allocates the pinned buffers)",
    ),
    "--threads": (0, "torch threads of this process and of the pretraining (0: default)"),
    "--no-pretrain": (False, "skip the pretraining benchmark"),
    "--no-throughput": (False, "skip the throughput benchmark"),
    "--training-sizes": ("64", "edge lengths of the supervised training benchmark ('': skip)"),
    "--pretrain-volumes": (
        "1000",
        "AdrenalMNIST3D train volumes used for pretraining; several counts, comma-separated, "
        "show how time and peak memory grow with the number of scans",
    ),
    "--pretrain-epochs": (10, "epochs for configurations below 64^3"),
    "--pretrain-configs": ("32:8-16-32-64,64:16-32-64-128", "size:channels pairs, each once"),
    "--pretrain-64-epochs": (4, "epochs for configurations at 64^3 (slow on CPU)"),
    "--objective": ("mae", "self-supervised objective", ("mae", "simclr")),
    "--json": (None, "write all figures to this JSON file"),
}


def _throughput_table(args) -> list[dict]:
    """Time every encoder at every size; prints the table, returns the figures."""
    results, rows = [], []
    for size in () if args.no_throughput else (int(s) for s in args.sizes.split(",")):
        for enc in args.encoders.split(","):
            r = throughput(
                enc,
                size,
                args.n_volumes,
                args.batch_size,
                args.device,
                args.repeats,
                args.num_workers,
            )
            results.append(r)
            rows.append(
                {
                    "encoder": enc,
                    "size": f"{size}^3",
                    "device": r["device"],
                    "threads": str(r["threads"]),
                    "dim": str(r["embedding_dim"]),
                    "vol/s (embedder)": f"{r['volumes_per_s']:.2f}",
                    "vol/s (forward only)": f"{r['forward_volumes_per_s']:.2f}",
                }
            )
            print(f"  {enc} {size}^3: {r['volumes_per_s']:.2f} volumes/s", flush=True)
    if rows:
        print(
            f"\nEmbedding throughput (n = {args.n_volumes} volumes, batch {args.batch_size}, "
            f"{args.num_workers} workers):"
        )
        print(_table(rows, list(rows[0])))
    return results


def _training_table(args) -> list[dict]:
    """Time the supervised training loop at every ``--training-sizes``; prints the table."""
    sizes = [int(v) for v in args.training_sizes.split(",") if v.strip()]
    results = [
        training_throughput(size, args.n_volumes, args.batch_size, args.device) for size in sizes
    ]
    if results:
        rows = [
            {
                "size": f"{r['size']}^3",
                "device": r["device"],
                "threads": str(r["threads"]),
                "vol/s (training)": f"{r['volumes_per_s']:.2f}",
            }
            for r in results
        ]
        print(
            f"\nSupervised training throughput (small CNN, n = {args.n_volumes} volumes x 2 "
            f"epochs, batch {args.batch_size}):"
        )
        print(_table(rows, list(rows[0])))
    return results


def _pretraining_row(r) -> dict:
    return {
        "objective": r["objective"],
        "volumes": str(r["n_volumes"]),
        "trained at": f"{r['train_size']}^3",
        "channels": "-".join(map(str, r["channels"])),
        "epochs": str(r["epochs"]),
        "threads": str(r["threads"]),
        "train s": f"{r['train_s']:.0f}",
        "s/epoch": f"{r['s_per_epoch']:.1f}",
        "preprocess s": f"{r['preprocess_s']:.1f}",
        "peak RSS MB": f"{r['peak_rss_mb']:.0f}",
        "tracemalloc MB": f"{r['tracemalloc_peak_mb']:.0f}",
        "loss": f"{r['loss_first']:.4f}->{r['loss_last']:.4f}",
    }


def _volume_counts(text) -> list[int]:
    """``--pretrain-volumes``: one count or several, comma-separated (memory against scans).

    Examples
    --------
    >>> _volume_counts("250,500,1000")
    [250, 500, 1000]
    """
    counts = [int(v) for v in str(text).split(",") if v.strip()]
    if not counts or min(counts) < 1:
        raise ValueError(
            f"--pretrain-volumes must be positive counts, comma-separated; got {text!r}"
        )
    return counts


def _pretraining_table(args) -> list[dict]:
    """Pretrain once per configuration (each in a fresh process); prints the table."""
    import features

    try:
        features.load_adrenalmnist3d(size=64)
    except FileNotFoundError as exc:
        print(f"\npretraining benchmark skipped: {exc}")
        return []
    results = []
    for n_volumes in _volume_counts(args.pretrain_volumes):
        for cfg in args.pretrain_configs.split(","):
            size_s, ch_s = cfg.split(":")
            size = int(size_s)
            channels = tuple(int(c) for c in ch_s.split("-"))
            epochs = args.pretrain_epochs if size < 64 else args.pretrain_64_epochs
            results.append(
                pretraining(
                    n_volumes, epochs, size, channels, args.objective, args.device, args.threads
                )
            )
    print(
        f"\nSelf-supervised pretraining on AdrenalMNIST3D (64^3 input volumes, "
        f"device {args.device}):"
    )
    rows = [_pretraining_row(r) for r in results]
    print(_table(rows, list(rows[0])))
    return results


def main(argv=None) -> dict:
    """Run the benchmarks chosen on the command line; returns (and prints) the figures."""
    args = parse_script_args(__doc__, OPTIONS, argv)
    _volume_counts(args.pretrain_volumes)  # a bad count fails before anything runs
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)  # this script's own process
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
        f"CUDA available: {torch.cuda.is_available()}, load average {_load_average()}"
    )
    results = {"load_average": _load_average(), "throughput": _throughput_table(args)}
    results["training"] = _training_table(args)
    results["pretraining"] = [] if args.no_pretrain else _pretraining_table(args)
    results["load_average_end"] = _load_average()
    print(f"\nload average at the end: {results['load_average_end']}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)
    return results


if __name__ == "__main__":
    main()
