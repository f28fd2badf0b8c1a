"""Loader for AdrenalMNIST3D (MedMNIST v2), read from the shared data folder at run time."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["AdrenalMNIST3D", "load_adrenalmnist3d"]

_FILES = {28: "adrenalmnist3d.npz", 64: "adrenalmnist3d_64.npz"}
_SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class AdrenalMNIST3D:
    """The official AdrenalMNIST3D splits.

    Attributes
    ----------
    X_train, X_val, X_test : numpy.ndarray
        uint8 volumes of shape ``(n, size, size, size)`` (0 background, 255 adrenal gland).
    y_train, y_val, y_test : numpy.ndarray
        int64 labels of shape ``(n,)``: 1 adrenal mass, 0 normal.
    size : int
        Edge length of the volumes (28 or 64).
    path : pathlib.Path
        The ``.npz`` file the arrays were read from.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    size: int
    path: Path

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(X, y)`` of the split ``"train"``, ``"val"`` or ``"test"``."""
        if name not in _SPLITS:
            raise ValueError(f"split must be one of {_SPLITS}, got {name!r}")
        return getattr(self, f"X_{name}"), getattr(self, f"y_{name}")


# Over 60 lines only through its numpydoc docstring (31 lines of code).
def load_adrenalmnist3d(
    size: int = 28, data_dir: str | os.PathLike | None = None
) -> AdrenalMNIST3D:
    """Load the official train / val / test splits of AdrenalMNIST3D.

    1,584 binary shape volumes of the adrenal gland segmented from abdominal CT (1,188 train,
    98 val, 298 test); label 1 = adrenal mass. From MedMNIST v2 (Yang et al., Scientific Data
    10:41, 2023), CC BY 4.0. The files are read from the shared data folder, never copied.

    Parameters
    ----------
    size : {28, 64}, default 28
        Edge length of the volumes.
    data_dir : path-like, optional
        Folder holding ``adrenalmnist3d.npz`` / ``adrenalmnist3d_64.npz``. Default:
        ``shared_data_dir() / "adrenalmnist3d"`` (env ``GRAPHBOOST_DATA_DIR``).

    Returns
    -------
    AdrenalMNIST3D

    Raises
    ------
    ValueError
        ``size`` other than 28 or 64, or a file lacking one of the expected arrays.
    FileNotFoundError
        The file is absent (the message names the path).

    Examples
    --------
    >>> ds = load_adrenalmnist3d(size=28)  # doctest: +SKIP
    >>> ds.X_train.shape, ds.y_train.mean().round(3)  # doctest: +SKIP
    ((1188, 28, 28, 28), 0.218)
    """
    if size not in _FILES:
        raise ValueError(f"size must be 28 or 64, got {size!r}")
    if data_dir is None:
        from .._data import shared_data_dir

        folder = shared_data_dir() / "adrenalmnist3d"
    else:
        folder = Path(data_dir)
    path = folder / _FILES[size]
    if not path.is_file():
        raise FileNotFoundError(f"AdrenalMNIST3D file not found: '{path}'")
    out: dict[str, np.ndarray] = {}
    with np.load(path, allow_pickle=False) as npz:
        for split in _SPLITS:
            for kind in ("images", "labels"):
                name = f"{split}_{kind}"
                if name not in npz.files:
                    raise ValueError(f"'{path}' lacks the array {name!r}; it holds {npz.files}")
            X = npz[f"{split}_images"]
            y = npz[f"{split}_labels"].reshape(-1).astype(np.int64)
            if X.shape[0] != y.shape[0] or X.shape[1:] != (size, size, size):
                raise ValueError(
                    f"'{path}': {split}_images has shape {X.shape}, expected (n, {size}, {size}, "
                    f"{size}) with n = {y.shape[0]} labels"
                )
            out[f"X_{split}"] = X
            out[f"y_{split}"] = y
    return AdrenalMNIST3D(**out, size=size, path=path)
