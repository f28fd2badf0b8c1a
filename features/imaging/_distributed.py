"""Embedding volumes on a Dask cluster (``dask.distributed``): the same embeddings and cache as
one process, the work spread over the workers, each on its own device.

Imported only when asked for (``VolumeEmbedder.transform(..., scheduler=...)``); dask is then
imported here and nowhere else. The workers must reach the volumes (and the cache folder) by
the same paths as this process: a shared file system, or in-memory arrays sent with the tasks.
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["connect_scheduler"]

DEFAULT_CHUNK_SIZE = 32
"""Volumes per task: small enough that a killed worker's chunk is cheap to redo and that many
workers share a folder evenly, large enough that building the encoder on a worker is paid
rarely."""

_INSTALL = "pip install 'graphboost[distributed]' (or: pip install 'dask[distributed]')"


def _distributed():
    """The ``distributed`` module, or an ImportError that says how to install it."""
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(
            f"Embedding on a Dask cluster (scheduler=..., --scheduler) needs dask.distributed, "
            f"which is not installed: {_INSTALL}"
        ) from exc
    return distributed


def connect_scheduler(scheduler):
    """A ``distributed.Client`` connected to ``scheduler``, checked before any work.

    Parameters
    ----------
    scheduler : str or distributed.Client
        The scheduler's address (``"tcp://host:8786"``, as printed by ``dask scheduler``) or a
        client already connected (returned as it is). The wait for the scheduler is Dask's
        connect timeout (the ``distributed.comm.timeouts.connect`` setting, 30 s by default).

    Returns
    -------
    distributed.Client
        A new client for an address: close it when done (``client.close()``).

    Raises
    ------
    ImportError
        ``dask.distributed`` is not installed (the message says how to install it).
    ValueError
        ``scheduler`` is neither an address nor a client, or the address is malformed.
    OSError
        No scheduler answers at the address.

    Examples
    --------
    >>> from features.imaging import connect_scheduler
    >>> connect_scheduler(8786)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: scheduler must be the address of a Dask scheduler (...); got an object of type int
    """
    distributed = _distributed()
    if isinstance(scheduler, distributed.Client):
        return scheduler
    if not isinstance(scheduler, str) or not scheduler.strip():
        raise ValueError(
            "scheduler must be the address of a Dask scheduler (e.g. 'tcp://host:8786' or a "
            f"distributed.Client); got an object of type {type(scheduler).__name__}"
        )
    try:
        return distributed.Client(scheduler, set_as_default=False)
    except ValueError as exc:  # dask's own words: "missing port number in address 'x'"
        raise ValueError(
            f"scheduler {scheduler!r} is not a Dask scheduler address ({exc}); give it as "
            "printed by `dask scheduler`, e.g. 'tcp://10.0.0.5:8786'"
        ) from exc
    except OSError as exc:  # "Timed out trying to connect to ... after 30 s"
        raise OSError(
            f"Cannot reach the Dask scheduler at {scheduler!r} ({exc}). Start one with "
            "`dask scheduler` and its workers with `dask worker ADDRESS`, check the address and "
            "the firewall, or raise Dask's connect timeout (distributed.comm.timeouts.connect)."
        ) from exc


def embed_on_cluster(embedder, items, masks, bboxes, out, *, scheduler, chunk_size) -> None:
    """Embed ``items`` on the cluster into ``out`` (the rows in ``items``' order).

    Each task gets a chunk of consecutive volumes and embeds it as one process would
    (:meth:`VolumeEmbedder.transform` of a copy of ``embedder`` built on the worker from the
    broadcast weights, ``device`` resolved there): it reads the cache, embeds the other volumes
    one at a time and writes their cache entries atomically (a temporary file, then a rename),
    so an embedding and its cache entry do not depend on which worker made it. A worker that
    dies loses its tasks to the scheduler, which runs them again elsewhere (Dask's
    ``distributed.scheduler.allowed-failures`` times); the chunk's volumes that the dead worker
    had cached are then read back. Sets ``n_computed_``, ``n_from_cache_``, ``skipped_`` and
    ``worker_devices_`` on ``embedder``.
    """
    distributed = _distributed()
    chunk_size = _check_chunk_size(chunk_size)
    client = connect_scheduler(scheduler)
    futures = {}
    try:
        weights = client.scatter([_cpu_state(embedder.encoder_)], broadcast=True, hash=False)[0]
        template = _template(embedder)
        for start in range(0, len(items), chunk_size):
            part = slice(start, start + chunk_size)
            future = client.submit(
                _embed_chunk,
                template,
                weights,
                items[part],
                None if masks is None else list(masks[part]),
                None if bboxes is None else list(bboxes[part]),
                pure=False,
            )
            futures[future] = start
        done = distributed.as_completed(list(futures), loop=client.loop)
        _collect(embedder, items, done, futures, out)
    finally:
        client.cancel(list(futures))  # after an error, nothing keeps running for nothing
        if client is not scheduler:
            client.close()


def _check_chunk_size(chunk_size) -> int:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int | np.integer):
        raise ValueError(f"chunk_size must be a whole number >= 1, got {chunk_size!r}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be a whole number >= 1, got {chunk_size!r}")
    return int(chunk_size)


def _cpu_state(encoder) -> dict:
    """The encoder's weights on the CPU, sent once to every worker."""
    return {k: v.detach().to("cpu") for k, v in encoder.state_dict().items()}


def _template(embedder) -> tuple[type, dict]:
    """The worker's embedder: the class and settings of ``embedder``, its weights sent apart,
    errors collected (the client raises or skips)."""
    params = embedder.get_params(deep=False)
    params.update(pretrained=None, fine_tune_epochs=0, on_error="skip")
    params.update(output="numpy", verbose=False)
    return type(embedder), params


def _embed_chunk(template: tuple[type, dict], weights: dict, items, masks, bboxes) -> dict:
    """On a worker: one chunk through a copy of the embedder, on the worker's own device."""
    cls, params = template
    embedder = cls(**{**params, "pretrained": weights}).fit()
    with warnings.catch_warnings():  # the client counts the skipped volumes and warns once
        warnings.filterwarnings("ignore", message="VolumeEmbedder skipped", category=UserWarning)
        emb = embedder.transform(items, masks=masks, bboxes=bboxes)
    return {
        "embeddings": emb,
        "skipped": [(s["position"], s["error"]) for s in embedder.skipped_],
        "n_computed": embedder.n_computed_,
        "n_from_cache": embedder.n_from_cache_,
        "device": str(embedder.device_),
        "weights": embedder.weights_hash_,
    }


def _collect(embedder, items, done, futures, out) -> None:
    """Put each finished chunk in its place; raise (``on_error="raise"``) at the first failure."""
    from tqdm.auto import tqdm

    embedder.worker_devices_ = {}
    bar = tqdm(
        total=len(items), disable=not embedder.verbose, desc="embedding (cluster)", unit="vol"
    )
    with bar:
        for future in done:
            start, res = futures[future], future.result()
            if res["weights"] != embedder.weights_hash_:
                raise RuntimeError(
                    "A Dask worker's copy of the encoder differs from this process's (another "
                    "weights hash): install the same torch and graphboost versions on the workers"
                )
            rows = res["embeddings"]
            out[start : start + len(rows)] = rows
            for pos, err in sorted(res["skipped"]):
                err = err.replace(f"array at position {pos} ", f"array at position {start + pos} ")
                embedder._fail(start + pos, items[start + pos], err)  # positions in all of X
            embedder.n_computed_ += res["n_computed"]
            embedder.n_from_cache_ += res["n_from_cache"]
            devices = embedder.worker_devices_
            devices[res["device"]] = devices.get(res["device"], 0) + len(rows)
            bar.update(len(rows))
    embedder.skipped_.sort(key=lambda s: s["position"])
