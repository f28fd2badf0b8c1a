"""The project's one device choice, and the thread count of small CPU graphs."""

from __future__ import annotations

import re
from contextlib import contextmanager

import torch

_THREADED_NODES = 20_000
_DEVICE_STRING = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def resolve_device(device="auto"):
    """Turn a device setting into a :class:`torch.device`, checking that it exists here.

    This is the one device choice of the project: the estimator, the weak learner and the imaging
    code of the ``features`` package all go through it.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"}, "cuda:N" or torch.device, default="auto"
        ``"auto"`` is the first CUDA device when torch sees one, else the CPU.

    Returns
    -------
    device : torch.device

    Raises
    ------
    ValueError
        When ``device`` is none of the accepted values, or asks for a CUDA device that torch does
        not see.

    Examples
    --------
    >>> from graphboost import resolve_device
    >>> resolve_device("cpu")
    device(type='cpu')
    >>> resolve_device("auto").type in {"cpu", "cuda"}
    True
    """
    if isinstance(device, torch.device):
        resolved = device
    elif isinstance(device, str) and _DEVICE_STRING.match(device):
        if device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        resolved = torch.device(device)
    else:
        raise ValueError(
            "The 'device' parameter must be 'auto', 'cpu', 'cuda', 'cuda:N' or a torch.device; "
            f"got {device!r}."
        )
    if resolved.type not in ("cpu", "cuda"):
        raise ValueError(
            f"The 'device' parameter must be a CPU or CUDA device; got {str(resolved)!r}."
        )
    if resolved.type == "cuda":
        _check_cuda(resolved)
    return resolved


def _check_cuda(device):
    if not torch.cuda.is_available():
        raise ValueError(
            f"The 'device' parameter is {str(device)!r} but torch sees no CUDA device; "
            "use device='auto' or device='cpu'."
        )
    count = torch.cuda.device_count()
    if device.index is not None and device.index >= count:
        raise ValueError(
            f"The 'device' parameter is {str(device)!r} but torch sees {count} CUDA device(s) "
            f"(cuda:0 to cuda:{count - 1})."
        )


@contextmanager
def torch_threads(n_nodes, device):
    """Run a small CPU graph on one torch thread, then restore the previous thread count.

    Thread start-up costs more than it saves on small graphs, and several threads per process
    oversubscribe a machine that runs folds in parallel. The process-wide count
    (:func:`torch.set_num_threads`) is set back on exit, also when the body raises.

    Parameters
    ----------
    n_nodes : int
        Nodes of the graph; from 20,000 nodes on the thread count is left as it is.
    device : str or torch.device
        Where the graph is computed; a CUDA device leaves the thread count as it is.

    Yields
    ------
    None

    Examples
    --------
    >>> import torch
    >>> from graphboost import torch_threads
    >>> before = torch.get_num_threads()
    >>> with torch_threads(100, "cpu"):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    if torch.device(device).type != "cpu" or n_nodes >= _THREADED_NODES:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def seeded_torch(seed, device="cpu"):
    """Seed torch's generator of ``device`` for the body only; the caller's state is restored.

    Model initialization and dropout draw from torch's global generators; this forks them
    (:func:`torch.random.fork_rng`), so a seeded fit leaves the process's random state as it was.
    Only the generators of the CPU and of ``device`` are seeded, and both are restored on exit.
    The weak learners train inside it; use it for any seeded torch work instead of
    :func:`torch.manual_seed`.

    Parameters
    ----------
    seed : int
        Seed of the body's draws.
    device : str or torch.device, default="cpu"
        The device the body computes on.

    Yields
    ------
    None

    Examples
    --------
    >>> import torch
    >>> from graphboost import seeded_torch
    >>> before = torch.random.get_rng_state()
    >>> with seeded_torch(0):
    ...     a = torch.rand(2)
    >>> with seeded_torch(0):
    ...     b = torch.rand(2)
    >>> bool(torch.equal(a, b)), bool(torch.equal(before, torch.random.get_rng_state()))
    (True, True)
    """
    device = torch.device(device)
    cuda = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        torch.random.default_generator.manual_seed(seed)
        if cuda:
            with torch.cuda.device(device):
                torch.cuda.manual_seed(seed)
        yield
