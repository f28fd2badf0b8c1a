"""Benchmark of the imaging features: embedding throughput and self-supervised pretraining cost.

1. Throughput (volumes per second) of ``features.VolumeEmbedder.transform`` on in-memory volumes
   (MONAI preprocessing included, cache off) for each encoder at each volume size, after one
   warm-up batch; plus the encoder forward pass alone.
2. Self-supervised pretraining on AdrenalMNIST3D (the first ``--pretrain-volumes`` train
   volumes of 64^3): wall time, time per epoch, peak resident memory of the process that ran it
   (``resource.getrusage``, measured in a fresh child process) and peak Python-side allocations
   (``tracemalloc``: NumPy buffers, not torch's allocator).

Usage::

    python -m experiments.benchmark_embeddings                      # CPU, everything
    python -m experiments.benchmark_embeddings --device cuda --no-pretrain --json out.json

The figures depend on the machine and its load; the script prints both, with the torch thread
count.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import resource
import sys
import time

import numpy as np


def _load_average() -> str:
    try:
        return " / ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover
        return "n/a"


def throughput(encoder, size, n_volumes, batch_size, device, threads, repeats=1) -> dict:
    """Volumes per second of VolumeEmbedder.transform and of the bare encoder."""
    import torch

    import features

    if threads:
        torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    vols = rng.random((n_volumes, size, size, size), dtype=np.float32)
    emb = features.VolumeEmbedder(
        encoder=encoder,
        preprocessor=features.VolumePreprocessor(shape=size, orientation=None),
        batch_size=batch_size,
        device=device,
    ).fit()
    emb.transform(list(vols[:batch_size]))  # warm-up (allocations, cuDNN / oneDNN plans)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        emb.transform(list(vols))
        if emb.device_.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    x = torch.from_numpy(vols[:batch_size, None]).to(emb.device_)
    use_amp = emb.device_.type == "cuda"
    with torch.no_grad(), torch.autocast(emb.device_.type, enabled=use_amp):
        emb.encoder_(x)
        if use_amp:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        n_fw = 0
        while n_fw < n_volumes:
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
        "threads": torch.get_num_threads(),
        "seconds": best,
        "volumes_per_s": n_volumes / best,
        "forward_volumes_per_s": n_fw / fwd,
        "embedding_dim": emb.n_features_out_,
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


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--encoders", default="small,resnet10,resnet18")
    parser.add_argument("--sizes", default="64,128")
    parser.add_argument("--n-volumes", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--no-pretrain", action="store_true")
    parser.add_argument("--no-throughput", action="store_true")
    parser.add_argument("--pretrain-volumes", type=int, default=1000)
    parser.add_argument("--pretrain-epochs", type=int, default=10)
    parser.add_argument(
        "--pretrain-configs",
        default="32:8-16-32-64,64:16-32-64-128",
        help="size:channels pairs; each pretrains once",
    )
    parser.add_argument(
        "--pretrain-64-epochs",
        type=int,
        default=4,
        help="epochs for configurations at 64^3 (slow on CPU)",
    )
    parser.add_argument("--objective", default="mae", choices=("mae", "simclr"))
    parser.add_argument("--json", help="write all figures to this JSON file")
    args = parser.parse_args(argv)

    import torch

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
        f"CUDA available: {torch.cuda.is_available()}, load average {_load_average()}"
    )
    results: dict = {"throughput": [], "pretraining": [], "load_average": _load_average()}
    rows = []
    for size in () if args.no_throughput else (int(s) for s in args.sizes.split(",")):
        for enc in args.encoders.split(","):
            r = throughput(enc, size, args.n_volumes, args.batch_size, args.device, args.threads)
            results["throughput"].append(r)
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
        print(f"\nEmbedding throughput (n = {args.n_volumes} volumes, batch {args.batch_size}):")
        print(_table(rows, list(rows[0])))

    if not args.no_pretrain:
        import features

        try:
            features.load_adrenalmnist3d(size=64)
        except FileNotFoundError as exc:
            print(f"\npretraining benchmark skipped: {exc}")
        else:
            prow = []
            for cfg in args.pretrain_configs.split(","):
                size_s, ch_s = cfg.split(":")
                size = int(size_s)
                channels = tuple(int(c) for c in ch_s.split("-"))
                epochs = args.pretrain_epochs if size < 64 else args.pretrain_64_epochs
                r = pretraining(
                    args.pretrain_volumes,
                    epochs,
                    size,
                    channels,
                    args.objective,
                    args.device,
                    args.threads,
                )
                results["pretraining"].append(r)
                prow.append(
                    {
                        "objective": r["objective"],
                        "volumes": str(r["n_volumes"]),
                        "trained at": f"{size}^3",
                        "channels": ch_s,
                        "epochs": str(r["epochs"]),
                        "threads": str(r["threads"]),
                        "train s": f"{r['train_s']:.0f}",
                        "s/epoch": f"{r['s_per_epoch']:.1f}",
                        "preprocess s": f"{r['preprocess_s']:.1f}",
                        "peak RSS MB": f"{r['peak_rss_mb']:.0f}",
                        "tracemalloc MB": f"{r['tracemalloc_peak_mb']:.0f}",
                        "loss": f"{r['loss_first']:.4f}->{r['loss_last']:.4f}",
                    }
                )
            print(
                f"\nSelf-supervised pretraining on AdrenalMNIST3D (64^3 input volumes, "
                f"device {args.device}):"
            )
            print(_table(prow, list(prow[0])))
    results["load_average_end"] = _load_average()
    print(f"\nload average at the end: {results['load_average_end']}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)
    return results


if __name__ == "__main__":
    main()
