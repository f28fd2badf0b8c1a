"""Training and reading the classification network of a SupervisedVolumeEmbedder.

One network (:class:`VolumeClassifier`: encoder, dropout, linear head) is trained by AdamW on
randomly augmented views (:func:`random_views`), with an exponential moving average of its
weights and early stopping, and read (logits, with test-time flips) by the methods of
:class:`NetworkTraining`, a mixin of :class:`features.imaging.SupervisedVolumeEmbedder` that
reads the estimator's parameters. The cross-fitting over folds stays in
:mod:`features.imaging._supervised`.
"""

from __future__ import annotations

import copy
import itertools

import numpy as np
import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from ._pretrain import _warmup_cosine

__all__ = ["NetworkTraining", "VolumeClassifier", "random_views"]


class VolumeClassifier(torch.nn.Module):
    """Encoder, dropout and a linear head: volumes ``(B, C, D, H, W)`` -> logits ``(B, K)``."""

    def __init__(self, encoder: torch.nn.Module, n_classes: int, dropout: float):
        super().__init__()
        self.encoder = encoder
        self.dropout = torch.nn.Dropout(dropout)
        self.head = torch.nn.Linear(encoder.out_dim, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.encoder(x)))


def random_views(x: torch.Tensor, gen: torch.Generator, strength: float = 1.0) -> torch.Tensor:
    """Randomly augmented copies of a batch of volumes ``(B, C, D, H, W)``, on its device.

    Per volume: a flip along each spatial axis with probability 1/2; a small affine map
    (rotations up to 10 degrees about each axis, scaling by up to 10 %, shifts up to 5 % of the
    field of view; MONAI's batched :class:`monai.networks.layers.AffineTransform`, bilinear,
    border padding); intensity scaled by up to 10 % and shifted by up to 0.05. ``strength``
    multiplies the angles, scales, shifts and intensity changes (0: flips only). Every draw
    comes from ``gen``.

    Examples
    --------
    >>> import torch
    >>> x = torch.rand(4, 1, 8, 8, 8)
    >>> a = random_views(x, torch.Generator().manual_seed(0))
    >>> b = random_views(x, torch.Generator().manual_seed(0))
    >>> a.shape, bool(torch.equal(a, b)), bool(torch.equal(a, x))
    (torch.Size([4, 1, 8, 8, 8]), True, False)
    """
    from monai.networks.layers import AffineTransform

    b, dev = x.shape[0], x.device

    def uniform(*shape):  # in [-1, 1), drawn on the generator's device
        return (torch.rand(shape, generator=gen, device=gen.device) * 2 - 1).to(dev)

    flips = torch.rand((b, 3), generator=gen, device=gen.device).to(dev) < 0.5
    out = x.clone()
    for axis in range(3):
        rows = flips[:, axis]
        out[rows] = out[rows].flip(axis + 2)
    theta = _random_affine(uniform(b, 3) * 0.1745 * strength, 1 + 0.1 * strength * uniform(b, 3))
    theta = torch.cat([theta, 0.1 * strength * uniform(b, 3, 1)], dim=2)  # shifts (of [-1, 1])
    warp = AffineTransform(normalized=True, padding_mode="border", align_corners=False)
    out = warp(out, theta.to(out.dtype))
    scale = 1 + 0.1 * strength * uniform(b, 1, 1, 1, 1)
    shift = 0.05 * strength * uniform(b, 1, 1, 1, 1)
    return out * scale.to(out.dtype) + shift.to(out.dtype)


def _random_affine(angles: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """``(B, 3, 3)`` matrices: rotations about the three axes (radians) times axis scalings."""
    c, s = torch.cos(angles), torch.sin(angles)
    one, zero = torch.ones_like(c[:, 0]), torch.zeros_like(c[:, 0])

    def rot(i, j, k):  # rotation in the plane of axes (j, k), about axis i
        m = torch.stack([one, zero, zero, zero, one, zero, zero, zero, one], 1).view(-1, 3, 3)
        m = m.clone()
        m[:, j, j], m[:, j, k], m[:, k, j], m[:, k, k] = c[:, i], -s[:, i], s[:, i], c[:, i]
        return m

    return rot(0, 1, 2) @ rot(1, 0, 2) @ rot(2, 0, 1) @ torch.diag_embed(scales)


class NetworkTraining:
    """Training and reading one network; a mixin of ``SupervisedVolumeEmbedder``.

    Reads the estimator's parameters (``lr``, ``weight_decay``, ``batch_size``, ``max_epochs``,
    ``min_epochs``, ``patience``, ``ema_decay``, ``augment``, ``amp``, ``test_time_flips``) and
    its fitted ``device_`` and ``classes_``.
    """

    def _autocast(self):
        use = bool(self.amp) and self.device_.type == "cuda"
        return torch.autocast(self.device_.type, dtype=torch.bfloat16, enabled=use)

    def _fit_network(self, model, data, codes, fit_idx, val_idx, gen) -> dict:
        """AdamW on augmented batches (with an exponential moving average of the weights when
        ``ema_decay`` is set); the weights of the best validation loss are loaded into
        ``model``."""
        counts = np.bincount(codes[fit_idx], minlength=len(self.classes_)).astype(np.float32)
        weight = torch.tensor(len(fit_idx) / (len(counts) * counts), device=self.device_)
        target = torch.as_tensor(codes, dtype=torch.long, device=data.device)
        opt = torch.optim.AdamW(
            model.parameters(), lr=float(self.lr), weight_decay=float(self.weight_decay)
        )
        steps = int(np.ceil(len(fit_idx) / int(self.batch_size)))
        sched = _warmup_cosine(opt, steps, steps * int(self.max_epochs))
        average = None
        if self.ema_decay is not None:
            ema = get_ema_multi_avg_fn(float(self.ema_decay))
            average = AveragedModel(model, multi_avg_fn=ema)
        net = model if average is None else average.module  # the weights evaluated and kept
        fit_idx = torch.as_tensor(fit_idx, device=data.device)
        record = {"train_loss": [], "val_loss": [], "best_epoch": 0}
        first_stop = int(self.max_epochs) // 2 if self.min_epochs is None else int(self.min_epochs)
        best_loss, best_state = float("inf"), None
        for epoch in range(int(self.max_epochs)):
            steppers = (opt, sched, average)
            train_loss = self._epoch(model, data, target, fit_idx, weight, steppers, gen)
            record["train_loss"].append(train_loss)
            if len(val_idx) == 0:
                record["best_epoch"] = epoch
                continue
            val_loss = self._loss(net, data[val_idx], target[val_idx], weight)
            record["val_loss"].append(val_loss)
            if val_loss < best_loss:
                best_loss, record["best_epoch"] = val_loss, epoch
                best_state = copy.deepcopy(net.state_dict())
            elif epoch - record["best_epoch"] >= int(self.patience) and epoch + 1 >= first_stop:
                break
        model.load_state_dict(best_state if best_state is not None else net.state_dict())
        return record

    def _epoch(self, model, data, target, fit_idx, weight, steppers, gen) -> float:
        """One pass over shuffled, augmented batches; the mean training loss."""
        opt, sched, average = steppers
        model.train()
        order = fit_idx[torch.randperm(len(fit_idx), generator=gen, device=gen.device)]
        total, size = 0.0, int(self.batch_size)
        for b0 in range(0, len(order), size):
            idx = order[b0 : b0 + size]
            xb = data[idx].to(self.device_, non_blocking=True)
            if self.augment is not None:
                xb = random_views(xb, gen, float(self.augment))
            with self._autocast():
                logits = model(xb)
            loss = F.cross_entropy(logits.float(), target[idx].to(self.device_), weight=weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if average is not None:
                average.update_parameters(model)
            total += float(loss.detach()) * len(idx)
        return total / len(order)

    def _logits(self, model, data) -> torch.Tensor:
        """Logits of ``model`` (eval mode, no gradient) for every volume of ``data``, batched."""
        model.eval()
        size = max(64, int(self.batch_size))
        out = []
        with torch.no_grad(), self._autocast():
            for b0 in range(0, len(data), size):
                out.append(model(data[b0 : b0 + size].to(self.device_)).float())
        return torch.cat(out) if out else torch.zeros((0, len(self.classes_)))

    def _loss(self, model, data, target, weight) -> float:
        """Class-balanced cross-entropy on held-out volumes."""
        logits = self._logits(model, data)
        return float(F.cross_entropy(logits, target.to(self.device_), weight=weight))

    def _flipped_logits(self, model, data) -> torch.Tensor:
        """Logits of ``model``; with ``test_time_flips`` the mean over the 8 axis flips."""
        if not self.test_time_flips:
            return self._logits(model, data)
        flips = [dims for k in range(4) for dims in itertools.combinations((2, 3, 4), k)]
        views = [self._logits(model, data.flip(dims) if dims else data) for dims in flips]
        return torch.stack(views).mean(0)

    def _predict(self, models, data) -> np.ndarray:
        """The block's values: mean over ``models`` of the log-odds (two classes) or of the
        log-probabilities of each class."""
        values = []
        for model in models:
            model.to(self.device_)
            logits = self._flipped_logits(model, data)
            if len(self.classes_) == 2:
                values.append((logits[:, 1] - logits[:, 0])[:, None])
            else:
                values.append(torch.log_softmax(logits, dim=1))
            model.cpu()
        return torch.stack(values).mean(0).cpu().numpy().astype(np.float64)
