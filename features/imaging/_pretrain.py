"""Self-supervised pretraining (masked-volume reconstruction or SimCLR) and supervised fine-tuning
of the 3D encoders, plus saving / loading their weights as plain state dicts."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from graphboost import resolve_device

from .._common import check_on_error
from ._encoders import (
    build_encoder,
    encoder_feature_map,
    encoder_kwargs_for,
    save_encoder,
    seeded,
)
from ._volume_data import preprocess_volumes

__all__ = ["PretrainResult", "fine_tune", "pretrain_encoder"]

_OBJECTIVES = ("mae", "simclr")


@dataclass
class PretrainResult:
    """Outcome of :func:`pretrain_encoder`.

    Attributes
    ----------
    encoder : torch.nn.Module
        The pretrained encoder (on the CPU, in eval mode).
    history : list of float
        Mean training loss of each epoch.
    seconds : float
        Wall-clock training time.
    n_volumes : int
        Volumes trained on.
    config : dict
        Encoder name and keyword arguments, objective and hyper-parameters.
    skipped : list of dict
        With ``on_error="skip"``: the volumes left out, ``{"position", "source", "error"}``.
    epochs_planned : int
        The ``epochs`` asked for; ``len(history)`` epochs ran.
    stopped_by_time : bool
        True when ``max_seconds`` ran out before ``epochs_planned`` epochs: fewer epochs ran
        than asked, so the weights depend on the machine's speed (the caller should say so).
    """

    encoder: nn.Module
    history: list[float] = field(default_factory=list)
    seconds: float = 0.0
    n_volumes: int = 0
    config: dict = field(default_factory=dict)
    skipped: list[dict] = field(default_factory=list)
    epochs_planned: int = 0
    stopped_by_time: bool = False

    def save(self, path) -> Path:
        """Write the encoder weights (a state dict; load with ``VolumeEmbedder(pretrained=)``)."""
        return save_encoder(self.encoder, path)


def _as_tensor(X, preprocessor=None, skipped=None, progress=False) -> torch.Tensor:
    """(n, C, D, H, W) float32 tensor from an array or a list of paths / arrays / Volumes;
    volumes that cannot be read go to ``skipped`` (a list) instead of raising."""
    if isinstance(X, np.ndarray) and X.dtype != object:
        arr = np.asarray(X, dtype=np.float32)
        if arr.ndim == 4:
            arr = arr[:, None]
        if arr.ndim != 5:
            raise ValueError(f"X must be (n, D, H, W) or (n, C, D, H, W), got shape {X.shape}")
    else:
        arr = preprocess_volumes(X, preprocessor, skipped, progress=progress)
    if arr.shape[0] < 2:
        raise ValueError(f"X must hold at least 2 volumes, got {arr.shape[0]}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("X contains NaN or infinite voxels")
    return torch.from_numpy(np.ascontiguousarray(arr))


def _training_data(X, preprocessor, on_error, progress=False) -> tuple[torch.Tensor, list[dict]]:
    """The volumes as a tensor, and those left out (``on_error="skip"``)."""
    check_on_error(on_error)
    skipped = [] if on_error == "skip" else None
    return _as_tensor(X, preprocessor, skipped, progress), skipped or []


class _MAEDecoder(nn.Module):
    """Light decoder: feature map -> patch grid -> the voxels of every patch (pixel shuffle)."""

    def __init__(self, in_channels: int, grid: int, patch: int, channels: int, hidden: int = 64):
        super().__init__()
        self.grid, self.patch, self.channels = grid, patch, channels
        self.proj = nn.Conv3d(in_channels, hidden, 1)
        self.mix = nn.Sequential(nn.GELU(), nn.Conv3d(hidden, hidden, 3, padding=1), nn.GELU())
        self.head = nn.Conv3d(hidden, channels * patch**3, 1)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        g, p, c = self.grid, self.patch, self.channels
        x = self.proj(f)
        if x.shape[-3:] != (g, g, g):
            x = F.interpolate(x, size=(g, g, g), mode="trilinear", align_corners=False)
        x = self.head(self.mix(x))  # (B, c*p^3, g, g, g)
        b = x.shape[0]
        x = x.view(b, c, p, p, p, g, g, g).permute(0, 1, 5, 2, 6, 3, 7, 4)
        return x.reshape(b, c, g * p, g * p, g * p)


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random 3D views for SimCLR: flips, crop-and-resize (70-100 %), intensity jitter.

    ``x`` may sit on any device (the crops are resized there); every random draw comes from
    ``gen`` on the CPU, so the views are the same on every device up to float rounding.
    """
    b, _, s, _, _ = x.shape
    out = []
    for i in range(b):
        v = x[i : i + 1]
        for axis in (2, 3, 4):
            if torch.rand(1, generator=gen).item() < 0.5:
                v = v.flip(axis)
        frac = 0.7 + 0.3 * torch.rand(1, generator=gen).item()
        c = max(2, round(s * frac))
        lo = [int(torch.randint(0, s - c + 1, (1,), generator=gen)) for _ in range(3)]
        v = v[..., lo[0] : lo[0] + c, lo[1] : lo[1] + c, lo[2] : lo[2] + c]
        v = F.interpolate(v, size=(s, s, s), mode="trilinear", align_corners=False)
        scale = 1.0 + 0.2 * (torch.rand(1, generator=gen).item() - 0.5)
        v = v * scale + 0.05 * torch.randn(v.shape, generator=gen).to(v.device)
        out.append(v)
    return torch.cat(out)


def _nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.T / temperature
    n = z1.shape[0]
    sim.fill_diagonal_(float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(sim, target)


def pretrain_encoder(
    X,
    *,
    encoder: str = "small",
    encoder_kwargs: dict | None = None,
    objective: str = "mae",
    epochs: int = 10,
    batch_size: int = 16,
    lr: float = 2e-3,
    mask_ratio: float = 0.6,
    patch_size: int = 8,
    mask_value: float = 0.5,
    temperature: float = 0.2,
    preprocessor=None,
    device: str = "auto",
    max_seconds: float | None = None,
    random_state: int = 0,
    verbose: bool = False,
    on_error: str = "raise",
    progress: bool = False,
) -> PretrainResult:
    """Self-supervised pretraining of a 3D encoder on unlabeled volumes.

    ``objective="mae"`` (masked-volume reconstruction, after masked autoencoders): a random
    ``mask_ratio`` share of the ``patch_size``-cubed patches is set to ``mask_value``; the encoder
    and a light decoder reconstruct the volume; the loss is the squared error on masked patches.
    ``objective="simclr"``: NT-Xent loss of two random 3D views (flips, crop-and-resize,
    intensity jitter) on a projection head. No label is used, so pretraining on all volumes
    (a test set's too, as in transductive use) leaks nothing about the outcome.

    Parameters
    ----------
    X : array (n, D, H, W) / (n, C, D, H, W) or list of paths / arrays / Volumes
        Arrays are used as given (already normalized); other inputs go through
        ``preprocessor`` (default ``VolumePreprocessor()``: 64^3, min-max).
    encoder, encoder_kwargs : see :func:`features.build_encoder`
    objective : {"mae", "simclr"}, default "mae"
    epochs, batch_size : int, default 10 and 16
    lr : float, default 2e-3
        AdamW learning rate with a cosine schedule.
    mask_ratio, patch_size, mask_value : float, int, float, default 0.6, 8 and 0.5
        MAE: share of masked patches, edge of the masked cubes (must divide the volume size),
        value of the masked voxels.
    temperature : float, default 0.2
        SimCLR temperature.
    device : str or torch.device, default "auto"
        See :func:`graphboost.resolve_device`.
    max_seconds : float, optional
        An upper limit: stop after the epoch during which this wall-clock budget runs out
        (``PretrainResult.stopped_by_time`` then says so). The weights depend only on
        ``epochs`` and the seed when the limit is not hit; set none for reproducible weights.
    random_state, verbose : int and bool, default 0 and False
        Seed of the initial weights, masks and views; print one line per epoch.
    on_error : {"raise", "skip"}, default "raise"
        A file that cannot be read or preprocessed: a ValueError naming it, or (``"skip"``)
        left out of the training and listed in ``PretrainResult.skipped``.
    progress : bool, default False
        tqdm progress bars (on stderr) over the reading of the volumes and over the epochs.

    Returns
    -------
    PretrainResult

    Examples
    --------
    >>> import numpy as np
    >>> X = (np.random.default_rng(0).random((8, 16, 16, 16)) > 0.7).astype(np.float32)
    >>> res = pretrain_encoder(X, encoder_kwargs={"channels": (4, 4, 8, 8)}, epochs=1,
    ...                        batch_size=4, patch_size=4)
    >>> len(res.history)
    1
    """
    data, skipped = _training_data(X, preprocessor, on_error, progress)
    _check_pretrain_params(objective, mask_ratio, epochs, batch_size, patch_size, data.shape)
    dev, gen = resolve_device(device), torch.Generator().manual_seed(int(random_state))
    build = (encoder, encoder_kwargs, objective, data.shape, patch_size)
    enc, head = _seeded_modules(build, random_state, dev)
    options = (patch_size, mask_ratio, mask_value) if objective == "mae" else (temperature,)
    loss = _LOSSES[objective](enc, head, *options, dev, gen)
    history, seconds = _train(
        (enc, head), data, loss, epochs, batch_size, lr, max_seconds, gen, (verbose, progress)
    )
    config = _config(encoder, encoder_kwargs, objective, len(history), batch_size, lr)
    config.update(mask_ratio=mask_ratio, patch_size=patch_size)
    result = PretrainResult(enc.eval().cpu(), history, seconds, len(data), config, skipped)
    result.epochs_planned = int(epochs)
    result.stopped_by_time = len(history) < int(epochs)
    return result


def _seeded_modules(build, random_state, dev) -> tuple[nn.Module, nn.Module]:
    """The encoder and the objective's head, initialized from ``random_state``, on ``dev``.

    ``build`` is ``(encoder, encoder_kwargs, objective, data_shape, patch_size)``.
    """
    encoder, encoder_kwargs, objective, shape, patch_size = build
    c, s = shape[1], shape[2]
    parts = (encoder, encoder_kwargs, objective, c, s // patch_size, patch_size)
    enc, head = seeded(random_state, lambda: _pretrain_modules(*parts))
    return enc.to(dev), head.to(dev)


def _config(encoder, encoder_kwargs, objective, epochs, batch_size, lr) -> dict:
    """The settings of a pretraining run, as :attr:`PretrainResult.config` holds them."""
    return {
        "encoder": encoder,
        "encoder_kwargs": dict(encoder_kwargs or {}),
        "objective": objective,
        "epochs": epochs,
        "batch_size": int(batch_size),
        "lr": lr,
    }


def _check_pretrain_params(objective, mask_ratio, epochs, batch_size, patch_size, shape) -> None:
    if objective not in _OBJECTIVES:
        raise ValueError(f"objective must be one of {_OBJECTIVES}, got {objective!r}")
    if not 0.0 < mask_ratio < 1.0:
        raise ValueError(f"mask_ratio must be in (0, 1), got {mask_ratio!r}")
    if int(epochs) < 1 or int(batch_size) < 2:
        raise ValueError(f"epochs must be >= 1 and batch_size >= 2, got {epochs}, {batch_size}")
    s = shape[2]
    if tuple(shape[2:]) != (s, s, s):
        raise ValueError(f"pretraining needs cubic volumes, got spatial shape {tuple(shape[2:])}")
    if objective == "mae" and s % patch_size:
        raise ValueError(f"patch_size={patch_size} must divide the volume size {s}")


def _pretrain_modules(encoder, encoder_kwargs, objective, channels, grid, patch_size):
    """The encoder and the head of the objective (MAE decoder or SimCLR projection)."""
    enc = build_encoder(encoder, **encoder_kwargs_for(encoder_kwargs, channels))
    if objective == "mae":
        return enc, _MAEDecoder(enc.out_channels, grid, patch_size, channels)
    head = nn.Sequential(
        nn.Linear(enc.out_dim, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Linear(256, 128)
    )
    return enc, head


def _mae_loss(enc, head, patch_size, mask_ratio, mask_value, dev, gen):
    """Batch -> mean squared reconstruction error on the randomly masked patches."""

    def loss(xb: torch.Tensor) -> torch.Tensor:
        c, grid = xb.shape[1], xb.shape[2] // patch_size
        keep = torch.rand((len(xb), 1, grid, grid, grid), generator=gen) >= mask_ratio
        vmask = (~keep).float()
        for axis in (2, 3, 4):
            vmask = vmask.repeat_interleave(patch_size, axis)
        xb, vmask = xb.to(dev), vmask.to(dev)
        inp = xb * (1 - vmask) + mask_value * vmask
        rec = head(encoder_feature_map(enc, inp))
        err = ((rec - xb) ** 2) * vmask
        return err.sum() / (vmask.sum() * c).clamp_min(1.0)

    return loss


def _simclr_loss(enc, head, temperature, dev, gen):
    """Batch -> NT-Xent loss of two random views of each volume."""

    def loss(xb: torch.Tensor) -> torch.Tensor:
        xb = xb.to(dev)  # the views are resized on the device; the draws stay on ``gen``
        v1 = _augment(xb, gen)
        v2 = _augment(xb, gen)
        return _nt_xent(head(enc(v1)), head(enc(v2)), temperature)

    return loss


_LOSSES = {"mae": _mae_loss, "simclr": _simclr_loss}


def _warmup_cosine(opt, steps_per_epoch: int, total: int):
    """One epoch of linear warm-up, then a cosine decay to 0 over ``total`` steps."""
    return torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda k: (
            min(1.0, (k + 1) / max(1, steps_per_epoch))
            * 0.5
            * (1 + math.cos(math.pi * min(k, total) / total))
        ),
    )


def _train(modules, data, loss_of, epochs, batch_size, lr, max_seconds, gen, show):
    """AdamW with warm-up and cosine decay over shuffled batches; (epoch losses, seconds).

    ``show`` is ``(verbose, progress)``: a line per epoch, a tqdm bar over the epochs."""
    from tqdm.auto import tqdm

    verbose, progress = show
    n, batch_size = data.shape[0], int(batch_size)
    params = [p for module in modules for p in module.parameters()]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.05)
    steps_per_epoch = math.ceil(n / batch_size)
    sched = _warmup_cosine(opt, steps_per_epoch, steps_per_epoch * int(epochs))
    history: list[float] = []
    start = time.perf_counter()
    for module in modules:
        module.train()
    bar = tqdm(range(int(epochs)), desc="pretraining", unit="epoch", disable=not progress)
    for epoch in bar:
        perm = torch.randperm(n, generator=gen)
        losses = []
        for b0 in range(0, n, batch_size):
            idx = perm[b0 : b0 + batch_size]
            if len(idx) < 2:
                continue
            loss = loss_of(data[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
        history.append(float(np.mean(losses)))
        elapsed = time.perf_counter() - start
        bar.set_postfix(loss=f"{history[-1]:.4f}")
        if verbose:
            print(f"pretrain epoch {epoch + 1}/{epochs}: loss {history[-1]:.5f} ({elapsed:.0f} s)")
        if max_seconds is not None and elapsed > max_seconds:
            break
    bar.close()
    return history, time.perf_counter() - start


# Over 60 lines only through its numpydoc docstring (37 lines of code).
def fine_tune(
    encoder: nn.Module,
    X,
    y,
    *,
    epochs: int = 5,
    lr: float = 1e-3,
    batch_size: int = 16,
    weight_decay: float = 1e-4,
    device="auto",
    random_state: int = 0,
    verbose: bool = False,
) -> nn.Module:
    """Supervised fine-tuning of ``encoder`` (in place) with a linear head and cross-entropy.

    Use it on the training fold only: evaluation data must not reach it. With
    ``VolumeEmbedder(fine_tune_epochs=k)`` inside an sklearn ``Pipeline`` this is automatic
    (``fit`` sees the training fold, ``transform`` of the test fold uses the tuned weights).
    Classes are re-weighted to balance them; random flips augment the volumes.

    Parameters
    ----------
    encoder : torch.nn.Module
        Built by :func:`features.build_encoder`.
    X : array (n, D, H, W) / (n, C, D, H, W) or list of paths / arrays
    y : array-like of shape (n,)
    epochs, lr, batch_size, weight_decay : training hyper-parameters
    device : str or torch.device, default "auto"
    random_state : int, default 0
    verbose : bool, default False

    Returns
    -------
    torch.nn.Module
        The same encoder, tuned, in eval mode.

    Examples
    --------
    >>> import numpy as np
    >>> from features import build_encoder
    >>> X = np.random.default_rng(0).random((8, 16, 16, 16)).astype(np.float32)
    >>> encoder = build_encoder("small", channels=(4, 4, 8, 8))
    >>> fine_tune(encoder, X, [0, 1] * 4, epochs=1, batch_size=4).training
    False
    """
    data = _as_tensor(X)
    y = np.asarray(y)
    if y.shape[0] != data.shape[0]:
        raise ValueError(f"y has {y.shape[0]} labels for {data.shape[0]} volumes")
    classes, yi = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"fine_tune needs at least 2 classes in y, got {classes.tolist()}")
    dev = resolve_device(device)
    encoder.to(dev)
    head = seeded(random_state, lambda: nn.Linear(encoder.out_dim, len(classes))).to(dev)
    counts = np.bincount(yi, minlength=len(classes)).astype(np.float32)
    weight = torch.tensor(len(yi) / (len(classes) * counts), device=dev)
    opt = torch.optim.AdamW(
        list(encoder.parameters()) + list(head.parameters()), lr=lr, weight_decay=weight_decay
    )
    encoder.train()
    gen = torch.Generator().manual_seed(int(random_state))
    target = torch.from_numpy(yi.astype(np.int64))
    for epoch in range(int(epochs)):
        total = _fine_tune_epoch(encoder, head, opt, data, target, weight, batch_size, dev, gen)
        if verbose:
            print(f"fine-tune epoch {epoch + 1}/{epochs}: loss {total / len(yi):.4f}")
    encoder.eval()
    return encoder


def _fine_tune_epoch(encoder, head, opt, data, target, weight, batch_size, dev, gen) -> float:
    """One pass over shuffled, randomly flipped batches; the summed loss."""
    n, batch_size = data.shape[0], int(batch_size)
    perm = torch.randperm(n, generator=gen)
    total = 0.0
    for b0 in range(0, n, batch_size):
        idx = perm[b0 : b0 + batch_size]
        xb = data[idx]
        for axis in (2, 3, 4):
            if torch.rand(1, generator=gen).item() < 0.5:
                xb = xb.flip(axis)
        logits = head(encoder(xb.to(dev)))
        loss = F.cross_entropy(logits, target[idx].to(dev), weight=weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += float(loss.detach()) * len(idx)
    return total
