"""3D CNN embeddings of volumes: encoders, checkpoint loading, on-disk cache, VolumeEmbedder.

torch is a core dependency; MONAI (for the ResNet encoders and preprocessing) is imported lazily.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import NotFittedError
from torch import nn

from ._transforms import VolumePreprocessor
from ._volumes import Volume, read_volume

__all__ = [
    "ENCODERS",
    "SmallCNN3D",
    "VolumeEmbedder",
    "build_encoder",
    "encoder_feature_map",
    "load_encoder_weights",
]

ENCODERS = ("resnet10", "resnet18", "resnet34", "small")
_IGNORED_HEADS = ("conv_seg.", "fc.")  # MedicalNet segmentation head / classifier head
_CACHE_VERSION = 1


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


def _checkpoint_state(path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Checkpoint file not found: '{path}'")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
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


def _weights_hash(encoder: nn.Module) -> str:
    h = hashlib.sha256()
    for k, v in sorted(encoder.state_dict().items()):
        h.update(k.encode())
        t = v.detach().to("cpu").contiguous()
        h.update(str(t.dtype).encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def _hash_path(path: Path) -> str:
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        h.update(f.relative_to(path).as_posix().encode() if path.is_dir() else b"")
        with open(f, "rb") as fh:
            for chunk in iter(lambda fh=fh: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def _hash_item(item) -> str:
    if isinstance(item, Volume):
        h = hashlib.sha256(np.ascontiguousarray(item.array).tobytes())
        h.update(repr((item.array.shape, item.spacing)).encode())
        h.update(np.asarray(item.affine, dtype=np.float64).tobytes())
        return h.hexdigest()
    if isinstance(item, np.ndarray):
        h = hashlib.sha256(np.ascontiguousarray(item).tobytes())
        h.update(repr((item.shape, str(item.dtype))).encode())
        return h.hexdigest()
    return _hash_path(Path(item))


def _describe(item, index) -> str:
    if isinstance(item, (str, os.PathLike)):
        return str(item)
    if isinstance(item, Volume) and item.source is not None:
        return str(item.source)
    return f"array at position {index}"


class _VolumeDataset(torch.utils.data.Dataset):
    def __init__(self, items, positions, preprocessor, masks, bboxes):
        self.items = items
        self.positions = positions
        self.preprocessor = preprocessor
        self.masks = masks
        self.bboxes = bboxes

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, i):
        pos = self.positions[i]
        item = self.items[pos]
        try:
            if isinstance(item, Volume):
                vol = item
            elif isinstance(item, np.ndarray):
                arr = np.asarray(item, dtype=np.float32)
                if arr.ndim not in (3, 4) or min(arr.shape[-3:]) < 2:
                    raise ValueError(
                        f"array at position {pos} has shape {item.shape}; a 3D volume is needed"
                    )
                if not np.all(np.isfinite(arr)):
                    raise ValueError(f"array at position {pos} contains NaN or infinite voxels")
                vol = Volume(arr)
            else:
                vol = read_volume(item)
            mask = self.masks[pos] if self.masks is not None else None
            if isinstance(mask, (str, os.PathLike)):
                mask = read_volume(mask)
            bbox = self.bboxes[pos] if self.bboxes is not None else None
            out = self.preprocessor(vol, mask=mask, bbox=bbox)
            return pos, out, None
        except Exception as exc:  # reported (raise or skip) by the main process
            return pos, None, f"{type(exc).__name__}: {exc}"


def _collate(batch):
    return batch


class VolumeEmbedder(TransformerMixin, BaseEstimator):
    """Embed 3D volumes with a 3D CNN encoder: an sklearn transformer over paths or arrays.

    Parameters
    ----------
    encoder : {"small", "resnet10", "resnet18", "resnet34"}, default "small"
        Encoder architecture (see :func:`build_encoder`).
    encoder_kwargs : dict, optional
        Extra constructor arguments, e.g. ``{"channels": (8, 16, 32, 64)}`` for ``"small"``.
    pretrained : path-like or dict, optional
        Local checkpoint (a state dict, possibly nested under ``"state_dict"`` with
        ``"module."`` prefixes, e.g. MedicalNet ResNets, or the file written by
        :func:`features.pretrain_encoder`), loaded with ``torch.load(weights_only=True)``.
        ``None``: random initialisation seeded by ``random_state``.
    preprocessor : VolumePreprocessor, optional
        Default ``VolumePreprocessor(shape=(64, 64, 64), intensity="minmax")``.
    device : {"auto", "cpu", "cuda", ...}, default "auto"
        ``"auto"`` picks CUDA when available.
    amp : bool, default True
        Mixed precision (``torch.autocast`` float16) on CUDA; CPU always runs float32.
    batch_size : int, default 8
    num_workers : int, default 0
        DataLoader workers reading and preprocessing volumes in parallel.
    cache_dir : path-like, optional
        Folder of per-volume ``.npy`` embeddings keyed by the file content hash, the encoder and
        preprocessing configuration and the weights hash; written atomically (temporary file then
        rename), so an interrupted run resumes and a second run reads everything from the cache.
    on_error : {"raise", "skip"}, default "raise"
        ``"skip"``: a volume that cannot be read or preprocessed gets a row of NaN, is listed in
        ``skipped_`` and in a warning; every other embedding is kept (and cached).
    output : {"numpy", "pandas"}, default "numpy"
        ``"pandas"``: a DataFrame with columns ``"<prefix>:0" ...`` indexed by patient id
        (``ids`` passed to :meth:`transform`, the index of a Series / keys of a dict, else
        0..n-1).
    prefix : str, default "emb"
    fine_tune_epochs : int, default 0
        When > 0 and ``fit`` receives ``y``, the encoder is fine-tuned on (X, y) (see
        :meth:`fine_tune`). Inside a ``Pipeline`` under cross-validation this runs on the
        training fold only.
    random_state : int, default 0
    verbose : bool, default False
        tqdm progress bar.

    Attributes
    ----------
    encoder_ : torch.nn.Module
    device_ : torch.device
    n_features_out_ : int
    weights_hash_ : str
    ignored_checkpoint_keys_ : list of str
    skipped_ : list of dict
        After :meth:`transform`: ``{"position", "source", "error"}`` of each skipped volume.
    n_computed_, n_from_cache_ : int
        After :meth:`transform`: embeddings computed / read from the cache.

    Examples
    --------
    >>> import numpy as np
    >>> from features import VolumeEmbedder, VolumePreprocessor
    >>> emb = VolumeEmbedder(encoder_kwargs={"channels": (4, 4, 8, 8)},
    ...                      preprocessor=VolumePreprocessor(shape=16))
    >>> emb.fit_transform([np.random.rand(20, 20, 20) for _ in range(3)]).shape
    (3, 16)
    """

    def __init__(
        self,
        encoder: str = "small",
        encoder_kwargs: dict | None = None,
        pretrained=None,
        preprocessor: VolumePreprocessor | None = None,
        device: str = "auto",
        amp: bool = True,
        batch_size: int = 8,
        num_workers: int = 0,
        cache_dir=None,
        on_error: str = "raise",
        output: str = "numpy",
        prefix: str = "emb",
        fine_tune_epochs: int = 0,
        random_state: int = 0,
        verbose: bool = False,
    ) -> None:
        self.encoder = encoder
        self.encoder_kwargs = encoder_kwargs
        self.pretrained = pretrained
        self.preprocessor = preprocessor
        self.device = device
        self.amp = amp
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.cache_dir = cache_dir
        self.on_error = on_error
        self.output = output
        self.prefix = prefix
        self.fine_tune_epochs = fine_tune_epochs
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ setup
    def _check_params(self) -> None:
        if self.on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {self.on_error!r}")
        if self.output not in ("numpy", "pandas"):
            raise ValueError(f"output must be 'numpy' or 'pandas', got {self.output!r}")
        if int(self.batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size!r}")
        if int(self.num_workers) < 0:
            raise ValueError(f"num_workers must be >= 0, got {self.num_workers!r}")

    def _resolve_device(self) -> torch.device:
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        dev = torch.device(self.device)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device={self.device!r} but CUDA is not available here")
        return dev

    def _preprocessor(self) -> VolumePreprocessor:
        return self.preprocessor if self.preprocessor is not None else VolumePreprocessor()

    def fit(self, X=None, y=None):
        """Build the encoder and load its weights; fine-tune on (X, y) if asked.

        Parameters
        ----------
        X : list of paths / arrays / Volumes, optional
            Used only for fine-tuning (``fine_tune_epochs > 0`` and ``y`` given).
        y : array-like, optional

        Returns
        -------
        self
        """
        self._check_params()
        self.device_ = self._resolve_device()
        torch.manual_seed(int(self.random_state))
        enc = build_encoder(self.encoder, **(self.encoder_kwargs or {}))
        self.ignored_checkpoint_keys_ = []
        if self.pretrained is not None:
            self.ignored_checkpoint_keys_ = load_encoder_weights(enc, self.pretrained)
        enc.eval()
        self.encoder_ = enc.to(self.device_)
        self.n_features_out_ = int(enc.out_dim)
        self.weights_hash_ = _weights_hash(enc)
        if int(self.fine_tune_epochs) > 0 and y is not None and X is not None:
            self.fine_tune(X, y, epochs=int(self.fine_tune_epochs))
        return self

    def fine_tune(self, X, y, *, epochs: int = 5, lr: float = 1e-3, **kwargs):
        """Supervised fine-tuning of the encoder (linear head, cross-entropy) on (X, y).

        Call it on training data only; inside a ``Pipeline`` (``fine_tune_epochs > 0``) this is
        automatic. Other keyword arguments go to :func:`features.fine_tune`.

        Returns
        -------
        self
        """
        from ._pretrain import fine_tune as _fine_tune

        if not hasattr(self, "encoder_"):
            self.fit()
        arrays = self._preprocess_all(X)
        _fine_tune(
            self.encoder_,
            arrays,
            y,
            epochs=epochs,
            lr=lr,
            device=self.device_,
            random_state=self.random_state,
            verbose=self.verbose,
            **kwargs,
        )
        self.encoder_.eval()
        self.weights_hash_ = _weights_hash(self.encoder_)
        return self

    def _preprocess_all(self, X) -> np.ndarray:
        items, _, masks, bboxes = self._normalise_inputs(X, None, None, None)
        ds = _VolumeDataset(items, list(range(len(items))), self._preprocessor(), masks, bboxes)
        out = []
        for pos in range(len(ds)):
            _, arr, err = ds[pos]
            if err is not None:
                raise ValueError(f"Cannot preprocess {_describe(items[pos], pos)}: {err}")
            out.append(arr)
        return np.stack(out)

    # -------------------------------------------------------------- transform
    @staticmethod
    def _normalise_inputs(X, ids, masks, bboxes):
        import pandas as pd

        if isinstance(X, (str, os.PathLike)):
            raise ValueError(
                f"X must be a list of volume paths or arrays, got a single path {str(X)!r}; "
                f"wrap it in a list"
            )
        index = None
        if isinstance(X, pd.Series):
            index = list(X.index)
            items = list(X.to_numpy())
        elif isinstance(X, Mapping):
            index = list(X.keys())
            items = list(X.values())
        elif isinstance(X, np.ndarray) and X.dtype != object:
            if X.ndim not in (4, 5):
                raise ValueError(
                    f"X as an array must be (n, X, Y, Z) or (n, C, X, Y, Z), got shape {X.shape}"
                )
            items = list(X)
        else:
            items = list(X)
        if ids is not None:
            ids = list(ids)
            if len(ids) != len(items):
                raise ValueError(f"ids has {len(ids)} entries for {len(items)} volumes")
            index = ids
        for name, extra in (("masks", masks), ("bboxes", bboxes)):
            if extra is not None and len(extra) != len(items):
                raise ValueError(f"{name} has {len(extra)} entries for {len(items)} volumes")
        if index is not None and len(set(index)) != len(index):
            seen: set = set()
            dups = [i for i in index if i in seen or seen.add(i)]
            raise ValueError(f"duplicate patient ids: {sorted(map(str, set(dups)))[:10]}")
        return items, index, masks, bboxes

    def _key(self, item_hash: str, extra: str = "") -> str:
        cfg = {
            "v": _CACHE_VERSION,
            "encoder": self.encoder,
            "encoder_kwargs": {
                k: list(v) if isinstance(v, tuple) else v
                for k, v in sorted((self.encoder_kwargs or {}).items())
            },
            "preprocessor": self._preprocessor().config(),
            "weights": self.weights_hash_,
            "amp": bool(self.amp and self.device_.type == "cuda"),
        }
        blob = json.dumps(cfg, sort_keys=True, default=str) + item_hash + extra
        return hashlib.sha256(blob.encode()).hexdigest()

    def transform(self, X, ids=None, masks=None, bboxes=None):
        """Embed volumes.

        Parameters
        ----------
        X : list, pandas.Series or dict of paths / arrays / Volumes, or an array (n, X, Y, Z)
        ids : sequence, optional
            Patient ids (DataFrame index with ``output="pandas"``); must be unique.
        masks : sequence, optional
            Per-volume lesion masks (arrays or paths) for ``crop="mask"`` preprocessing.
        bboxes : sequence, optional
            Per-volume voxel boxes for ``crop="bbox"`` preprocessing.

        Returns
        -------
        numpy.ndarray of shape (n, d) or pandas.DataFrame
            Skipped volumes (``on_error="skip"``) give rows of NaN.
        """
        from tqdm.auto import tqdm

        if not hasattr(self, "encoder_"):
            raise NotFittedError("This VolumeEmbedder is not fitted yet; call fit() first")
        self._check_params()
        items, index, masks, bboxes = self._normalise_inputs(X, ids, masks, bboxes)
        n, d = len(items), self.n_features_out_
        out = np.full((n, d), np.nan, dtype=np.float32)
        cache = Path(self.cache_dir) if self.cache_dir is not None else None
        if cache is not None:
            cache.mkdir(parents=True, exist_ok=True)
        keys: list[str | None] = [None] * n
        todo: list[int] = []
        self.skipped_ = []
        self.n_from_cache_ = 0
        self.n_computed_ = 0
        for i, item in enumerate(items):
            if cache is None:
                todo.append(i)
                continue
            try:
                extra = ""
                if masks is not None:
                    extra += _hash_item(masks[i])
                if bboxes is not None:
                    extra += json.dumps(np.asarray(bboxes[i]).tolist())
                keys[i] = self._key(_hash_item(item), extra)
            except OSError as exc:
                self._fail(i, item, f"{type(exc).__name__}: {exc}")
                continue
            f = cache / f"{keys[i]}.npy"
            if f.is_file():
                try:
                    vec = np.load(f, allow_pickle=False)
                except Exception:  # a damaged cache entry is recomputed
                    vec = None
                if vec is not None and vec.shape == (d,):
                    out[i] = vec
                    self.n_from_cache_ += 1
                    continue
            todo.append(i)

        ds = _VolumeDataset(items, todo, self._preprocessor(), masks, bboxes)
        loader = torch.utils.data.DataLoader(
            ds,
            batch_size=int(self.batch_size),
            num_workers=int(self.num_workers),
            collate_fn=_collate,
            shuffle=False,
        )
        dev = self.device_
        use_amp = bool(self.amp and dev.type == "cuda")
        self.encoder_.eval()
        with tqdm(
            total=n,
            initial=self.n_from_cache_,
            disable=not self.verbose,
            desc="embedding",
            unit="vol",
        ) as bar:
            for batch in loader:
                good = []
                for pos, arr, err in batch:
                    if err is None:
                        good.append((pos, arr))
                    else:
                        self._fail(pos, items[pos], err)
                if good:
                    shapes = {a.shape for _, a in good}
                    if len(shapes) > 1:
                        raise ValueError(
                            f"preprocessed volumes have different shapes {sorted(shapes)}; set "
                            f"VolumePreprocessor(shape=...) to a fixed shape"
                        )
                    xb = torch.from_numpy(np.stack([a for _, a in good])).to(dev)
                    with torch.no_grad(), torch.autocast(dev.type, enabled=use_amp):
                        emb = self.encoder_(xb)
                    emb = emb.float().cpu().numpy()
                    for (pos, _), vec in zip(good, emb, strict=True):
                        out[pos] = vec
                        self.n_computed_ += 1
                        if cache is not None and keys[pos] is not None:
                            _atomic_save(cache / f"{keys[pos]}.npy", vec)
                bar.update(len(batch))
        if self.skipped_:
            names = ", ".join(s["source"] for s in self.skipped_[:10])
            more = f" and {len(self.skipped_) - 10} more" if len(self.skipped_) > 10 else ""
            warnings.warn(
                f"VolumeEmbedder skipped {len(self.skipped_)} of {n} volumes (rows of NaN): "
                f"{names}{more}; see .skipped_ for the errors",
                UserWarning,
                stacklevel=2,
            )
        if self.output == "pandas":
            import pandas as pd

            return pd.DataFrame(
                out,
                index=pd.Index(index if index is not None else range(n)),
                columns=self.get_feature_names_out(),
            )
        return out

    def _fail(self, pos: int, item, err: str) -> None:
        source = _describe(item, pos)
        if self.on_error == "raise":
            raise ValueError(f"Cannot embed {source}: {err}")
        self.skipped_.append({"position": pos, "source": source, "error": err})

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Column names ``"<prefix>:0" ... "<prefix>:<d-1>"``."""
        if not hasattr(self, "n_features_out_"):
            raise NotFittedError("This VolumeEmbedder is not fitted yet; call fit() first")
        return np.array([f"{self.prefix}:{i}" for i in range(self.n_features_out_)], dtype=object)

    def save_encoder(self, path) -> Path:
        """Write the encoder weights as a state dict (reload with ``pretrained=path``)."""
        from ._pretrain import save_encoder

        if not hasattr(self, "encoder_"):
            raise NotFittedError("This VolumeEmbedder is not fitted yet; call fit() first")
        return save_encoder(self.encoder_, path)


def _atomic_save(path: Path, vec: np.ndarray) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npy")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, np.asarray(vec, dtype=np.float32))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
