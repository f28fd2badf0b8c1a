"""3D encoders by name, their weights (strict loading, saving, hashing) and seeded building.

A leaf module: the embedding (:mod:`features.imaging._embedding`) and the pretraining
(:mod:`features.imaging._pretrain`) code both build on it. MONAI (for the ResNet encoders) is
imported lazily.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import torch
from torch import nn

__all__ = [
    "ENCODERS",
    "SmallCNN3D",
    "build_encoder",
    "encoder_feature_map",
    "encoder_kwargs_for",
    "load_encoder",
    "load_encoder_weights",
    "min_input_side",
    "save_encoder",
    "seeded",
    "weights_hash",
]

ENCODERS = ("resnet10", "resnet18", "resnet34", "small")
_IGNORED_HEADS = ("conv_seg.", "fc.")  # MedicalNet segmentation head / classifier head

T = TypeVar("T")


def seeded(random_state: int, build: Callable[[], T]) -> T:
    """Call ``build()`` (e.g. a module's constructor) with torch's RNG seeded by ``random_state``.

    The global RNG state is forked and restored afterwards (:func:`torch.random.fork_rng`), so
    the caller's random state is left as it was: the same seed gives the same weights, whatever
    ran before, and nothing after is affected. Modules are built on the CPU.

    Examples
    --------
    >>> import torch
    >>> from features.imaging._encoders import seeded
    >>> before = torch.random.get_rng_state()
    >>> a = seeded(0, lambda: torch.nn.Linear(3, 2))
    >>> b = seeded(0, lambda: torch.nn.Linear(3, 2))
    >>> torch.equal(a.weight, b.weight), torch.equal(torch.random.get_rng_state(), before)
    (True, True)
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(random_state))
        return build()


def _groups(channels: int) -> int:
    """GroupNorm groups: at most 8, at least 4 channels per group."""
    return max(1, min(8, channels // 4))


class SmallCNN3D(nn.Module):
    """A light 3D CNN encoder: four stride-2 stages, GroupNorm, GELU, global avg+max pooling.

    Parameters
    ----------
    in_channels : int, default 1
    channels : tuple of int, default (16, 32, 64, 128)
        Width of the four stages; the embedding has ``2 * channels[-1]`` values.

    Examples
    --------
    >>> import torch
    >>> SmallCNN3D(channels=(4, 8, 8, 16))(torch.zeros(2, 1, 16, 16, 16)).shape
    torch.Size([2, 32])
    """

    def __init__(self, in_channels: int = 1, channels: Sequence[int] = (16, 32, 64, 128)):
        super().__init__()
        chans = [int(c) for c in channels]
        layers: list[nn.Module] = []
        cin = in_channels
        for i, c in enumerate(chans):
            block = [
                nn.Conv3d(cin, c, 3, stride=2, padding=1, bias=False),
                nn.GroupNorm(_groups(c), c),
                nn.GELU(),
            ]
            if i > 0:  # the full-resolution stage stays a single convolution (cost)
                block += [
                    nn.Conv3d(c, c, 3, padding=1, bias=False),
                    nn.GroupNorm(_groups(c), c),
                    nn.GELU(),
                ]
            layers.append(nn.Sequential(*block))
            cin = c
        self.stages = nn.Sequential(*layers)
        self.out_channels = chans[-1]
        self.out_dim = 2 * chans[-1]

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """Spatial features ``(B, channels[-1], D/16, H/16, W/16)``."""
        return self.stages(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.feature_map(x)
        return torch.cat([f.mean(dim=(2, 3, 4)), f.amax(dim=(2, 3, 4))], dim=1)


def encoder_kwargs_for(encoder_kwargs: dict | None, n_channels: int) -> dict:
    """``encoder_kwargs`` with ``in_channels`` set to the volumes' channel count.

    An ``in_channels`` given by the user must match the volumes (a ValueError otherwise), so
    multi-channel volumes work without it and a wrong one is named before any training.

    Examples
    --------
    >>> encoder_kwargs_for({"channels": (4, 4, 8, 8)}, 2)
    {'channels': (4, 4, 8, 8), 'in_channels': 2}
    """
    kwargs = dict(encoder_kwargs or {})
    given = kwargs.pop("in_channels", n_channels)
    if int(given) != int(n_channels):
        raise ValueError(
            f"encoder_kwargs['in_channels'] is {given!r} but the preprocessed volumes have "
            f"{n_channels} channel(s); drop it (it is read from the volumes) or fix it."
        )
    return {**kwargs, "in_channels": int(n_channels)}


def build_encoder(name: str = "small", in_channels: int = 1, **kwargs) -> nn.Module:
    """Build a 3D encoder mapping ``(B, C, D, H, W)`` to ``(B, d)``, chosen by name.

    Parameters
    ----------
    name : {"small", "resnet10", "resnet18", "resnet34"}
        ``"small"``: :class:`SmallCNN3D`; ``"resnet*"``: MONAI's 3D ResNet with
        ``spatial_dims=3, feed_forward=False`` (MedicalNet-compatible key names).
    in_channels : int, default 1
    **kwargs
        Passed to the constructor (e.g. ``channels=`` for ``"small"``).

    Returns
    -------
    torch.nn.Module
        With an ``out_dim`` attribute (embedding length).

    Examples
    --------
    >>> build_encoder("small", channels=(4, 4, 8, 8)).out_dim
    16
    """
    if name == "small":
        return SmallCNN3D(in_channels=in_channels, **kwargs)
    if name in ("resnet10", "resnet18", "resnet34"):
        try:
            from monai.networks import nets
        except ImportError as exc:  # pragma: no cover
            raise ImportError(
                f"encoder {name!r} needs MONAI: pip install 'graphboost[imaging]'"
            ) from exc
        model = getattr(nets, name)(
            spatial_dims=3,
            n_input_channels=in_channels,
            feed_forward=False,
            **{"conv1_t_stride": 2, **kwargs},
        )
        model.out_dim = 512
        model.out_channels = 512
        return model
    raise ValueError(f"encoder must be one of {ENCODERS}, got {name!r}")


def encoder_feature_map(encoder: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Spatial feature map of an encoder built by :func:`build_encoder` (before pooling)."""
    if hasattr(encoder, "feature_map"):
        return encoder.feature_map(x)
    x = encoder.conv1(x)
    x = encoder.bn1(x)
    x = encoder.act(x)
    if not getattr(encoder, "no_max_pool", False):
        x = encoder.maxpool(x)
    for layer in (encoder.layer1, encoder.layer2, encoder.layer3, encoder.layer4):
        x = layer(x)
    return x


def min_input_side(encoder: str = "small", encoder_kwargs: dict | None = None) -> int:
    """The smallest side (voxels) a volume needs for ``encoder``: its total downsampling.

    Computed, not tabled: the encoder is built on torch's ``meta`` device (shapes only, no
    weights, no arithmetic) and a volume of 64 voxels a side (more if needed) is run to its
    feature map; the ratio of the sides is how many input voxels make one feature voxel. A
    smaller volume would be embedded from padding alone (a 1-voxel volume gives an embedding
    without an error). 16 for ``"small"`` (four stride-2 stages).

    Examples
    --------
    >>> min_input_side("small", {"channels": (4, 4, 8, 8)})
    16
    """
    kwargs = dict(encoder_kwargs or {})
    key = (encoder, repr(sorted(kwargs.items())))
    if key not in _MIN_SIDE:
        c = int(kwargs.get("in_channels", 1))
        side = 64
        while True:
            with torch.device("meta"), torch.no_grad():
                enc = build_encoder(encoder, **kwargs).eval()
                out = encoder_feature_map(enc, torch.zeros(1, c, side, side, side))
            if min(out.shape[2:]) > 1 or side >= 512:
                break
            side *= 2
        _MIN_SIDE[key] = max(1, side // min(int(s) for s in out.shape[2:]))
    return _MIN_SIDE[key]


_MIN_SIDE: dict = {}


def _checkpoint_state(path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Checkpoint file not found: '{path}'")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # not torch's advice to retry with weights_only=False
        raise ValueError(
            f"Could not load checkpoint '{path}' with weights_only=True: it holds Python objects, "
            "not a state dict of tensors. It is not a checkpoint this library saved (nor a "
            "plain state dict), and it was refused without running any of it."
        ) from None
    except Exception as exc:
        raise ValueError(
            f"Could not load checkpoint '{path}' with weights_only=True (only plain state dicts "
            f"of tensors are accepted): {type(exc).__name__}: {exc}"
        ) from exc
    if isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not all(torch.is_tensor(v) for v in obj.values()):
        raise ValueError(
            f"Checkpoint '{path}' is not a state dict of tensors (got {type(obj).__name__})"
        )
    return dict(obj)


# Over 60 lines only through its numpydoc docstring (28 lines of code).
def load_encoder_weights(encoder: nn.Module, state, *, source: str = "checkpoint") -> list[str]:
    """Load a (possibly MedicalNet-style) state dict into ``encoder``, strictly.

    Accepts a path (read with ``torch.load(weights_only=True)``) or a dict. A nested
    ``"state_dict"`` entry and ``"module."`` prefixes (DataParallel) are unwrapped. Keys of a
    segmentation / classification head (``conv_seg.*``, ``fc.*``) absent from the encoder are
    ignored and returned.

    Parameters
    ----------
    encoder : torch.nn.Module
    state : path-like or dict
    source : str
        Name used in error messages when ``state`` is a dict.

    Returns
    -------
    list of str
        Checkpoint keys that were ignored (heads).

    Raises
    ------
    ValueError
        The checkpoint does not fit: the message lists (at most 10 of each) missing keys,
        unexpected keys and keys whose tensor shapes differ.

    Examples
    --------
    >>> import torch
    >>> from features import build_encoder, load_encoder_weights
    >>> trained = build_encoder("small", channels=(4, 4, 8, 8))
    >>> state = {"module." + k: v for k, v in trained.state_dict().items()}  # DataParallel
    >>> state["fc.weight"] = torch.zeros(2, 16)  # a classifier head: ignored
    >>> load_encoder_weights(build_encoder("small", channels=(4, 4, 8, 8)), state)
    ['fc.weight']
    """
    if isinstance(state, (str, os.PathLike)):
        source = str(state)
        state = _checkpoint_state(state)
    state = {(k[7:] if k.startswith("module.") else k): v for k, v in state.items()}
    own = encoder.state_dict()
    ignored = sorted(k for k in state if k not in own and k.startswith(_IGNORED_HEADS))
    unexpected = sorted(k for k in state if k not in own and k not in ignored)
    missing = sorted(k for k in own if k not in state)
    mismatched = sorted(
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own
        if k in state and tuple(state[k].shape) != tuple(own[k].shape)
    )
    if unexpected or missing or mismatched:

        def show(keys: list[str]) -> str:
            more = f" ... and {len(keys) - 10} more" if len(keys) > 10 else ""
            return ", ".join(keys[:10]) + more if keys else "none"

        raise ValueError(
            f"Checkpoint '{source}' does not fit the {type(encoder).__name__} encoder. "
            f"Mismatched shapes ({len(mismatched)}): {show(mismatched)}. "
            f"Missing keys ({len(missing)}): {show(missing)}. "
            f"Unexpected keys ({len(unexpected)}): {show(unexpected)}."
        )
    encoder.load_state_dict({k: v for k, v in state.items() if k in own}, strict=True)
    return ignored


def weights_hash(encoder: nn.Module) -> str:
    h = hashlib.sha256()
    for k, v in sorted(encoder.state_dict().items()):
        h.update(k.encode())
        t = v.detach().to("cpu").contiguous()
        h.update(str(t.dtype).encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def save_encoder(encoder: nn.Module, path) -> Path:
    """Write ``encoder.state_dict()`` to ``path`` atomically (tensors only, CPU).

    Reload with :func:`load_encoder` or ``VolumeEmbedder(pretrained=path)``; both use
    ``torch.load(weights_only=True)``.

    Parameters
    ----------
    encoder : torch.nn.Module
    path : str or Path
        The file to write (its folder is created).

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import os, tempfile, torch
    >>> from features import build_encoder, load_encoder, save_encoder
    >>> encoder = build_encoder("small", channels=(4, 4, 8, 8))
    >>> path = save_encoder(encoder, os.path.join(tempfile.mkdtemp(), "encoder.pt"))
    >>> again = load_encoder(path, encoder_kwargs={"channels": (4, 4, 8, 8)})
    >>> all(torch.equal(a, b) for a, b in zip(encoder.state_dict().values(),
    ...                                       again.state_dict().values()))
    True
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().clone() for k, v in encoder.state_dict().items()}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".pt")
    os.close(fd)
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def load_encoder(path, encoder: str = "small", encoder_kwargs: dict | None = None) -> nn.Module:
    """Build the ``encoder`` architecture and load the weights at ``path`` (weights_only=True).

    Parameters
    ----------
    path : str or Path
        A state dict written by :func:`save_encoder` (or a MedicalNet-style checkpoint).
    encoder, encoder_kwargs
        The architecture, as for :func:`build_encoder`.

    Returns
    -------
    torch.nn.Module
        In eval mode. See :func:`save_encoder` for an example.

    Raises
    ------
    ValueError
        When the file does not fit the architecture (lists the mismatched keys).
    """
    enc = build_encoder(encoder, **(encoder_kwargs or {}))
    load_encoder_weights(enc, path)
    enc.eval()
    return enc
