"""Saving and loading a fitted :class:`SupervisedVolumeEmbedder`, without pickle.

A folder holds ``embedder.json`` (checksummed JSON: the estimator's parameters, the volume
preprocessor's, the fitted attributes that are not tensors, and the SHA-256 of every weights
file) and one ``<name>.pt`` per network: the ``state_dict`` of each fold encoder with its head
(``fold_0.pt`` ...) and of the refitted one (``refit.pt``), written by ``torch.save`` and read
by ``torch.load(weights_only=True)``. Nothing in the folder is run when it is loaded.
"""

from __future__ import annotations

import hashlib
import inspect
from pathlib import Path

import numpy as np
import torch

from graphboost import resolve_device

from .._jsonfile import read_checked_json, write_checked_json
from ._supervised import SupervisedVolumeEmbedder
from ._transforms import VolumePreprocessor

__all__ = ["load_supervised_embedder", "save_supervised_embedder"]

KIND = "features.SupervisedVolumeEmbedder"
VERSION = 1
MANIFEST = "embedder.json"
_NOT_SAVED = ("pretrained", "preprocessor", "cv", "verbose")  # the weights are in the files


def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _plain(value):
    """A JSON-safe copy of a parameter value (tuples as lists, NumPy scalars as Python's)."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, torch.device):
        return str(value)
    return value


def _preprocessor_params() -> list[str]:
    """The parameters of :class:`VolumePreprocessor` (its constructor's keywords)."""
    return [p for p in inspect.signature(VolumePreprocessor).parameters if p != "self"]


def save_supervised_embedder(embedder: SupervisedVolumeEmbedder, folder) -> Path:
    """Write a fitted :class:`SupervisedVolumeEmbedder` into ``folder`` (created if needed).

    Parameters
    ----------
    embedder : SupervisedVolumeEmbedder
        Fitted (``fit`` or ``fit_transform``).
    folder : str or Path

    Returns
    -------
    pathlib.Path
        ``folder``.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np, pandas as pd
    >>> from features import SupervisedVolumeEmbedder, VolumePreprocessor
    >>> from features.imaging import load_supervised_embedder, save_supervised_embedder
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"scan": [rng.random((8, 8, 8)) for _ in range(8)]})
    >>> emb = SupervisedVolumeEmbedder(
    ...     encoder_kwargs={"channels": (4, 4, 8, 8)}, preprocessor=VolumePreprocessor(shape=8),
    ...     cv=2, max_epochs=1, batch_size=4, add_indicator=False, device="cpu")
    >>> _ = emb.fit_transform(X, [0, 1] * 4)
    >>> folder = save_supervised_embedder(emb, os.path.join(tempfile.mkdtemp(), "emb"))
    >>> sorted(p.name for p in folder.iterdir())
    ['embedder.json', 'fold_0.pt', 'fold_1.pt']
    >>> again = load_supervised_embedder(folder)
    >>> bool(np.allclose(again.transform(X), emb.transform(X)))
    True
    """
    if not hasattr(embedder, "classes_"):
        raise ValueError("Only a fitted SupervisedVolumeEmbedder can be saved; fit it first.")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    networks = {f"fold_{k}": m for k, m in enumerate(embedder.fold_models_)}
    if embedder.model_ is not None:
        networks["refit"] = embedder.model_
    weights = {}
    for name, model in networks.items():
        path = folder / f"{name}.pt"
        state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        torch.save(state, path)
        weights[name] = _sha256(path)
    params = embedder.get_params(deep=False)
    pre = params["preprocessor"] if params["preprocessor"] is not None else VolumePreprocessor()
    payload = {
        "params": {k: _plain(v) for k, v in params.items() if k not in _NOT_SAVED},
        "cv": _plain(params["cv"]) if isinstance(params["cv"], int | np.integer) else None,
        "preprocessor": {k: _plain(getattr(pre, k)) for k in _preprocessor_params()},
        "classes": _plain(embedder.classes_.tolist()),
        "n_channels": int(embedder.n_channels_),
        "feature_names_in": [str(c) for c in embedder.feature_names_in_],
        "history": [
            {"name": h["name"], "best_epoch": int(h["best_epoch"]), "epochs": len(h["train_loss"])}
            for h in embedder.history_
        ],
        "weights": weights,
    }
    write_checked_json(folder / MANIFEST, kind=KIND, version=VERSION, payload=payload)
    return folder


def load_supervised_embedder(folder) -> SupervisedVolumeEmbedder:
    """Load an embedder written by :func:`save_supervised_embedder`.

    Every weights file is checked against its SHA-256 in ``embedder.json`` and read with
    ``torch.load(weights_only=True)``; the networks are rebuilt from the saved parameters.

    Parameters
    ----------
    folder : str or Path

    Returns
    -------
    SupervisedVolumeEmbedder
        Fitted: :meth:`~SupervisedVolumeEmbedder.transform` gives the same block as the saved
        one (``cv_folds_`` and ``oof_fold_``, which describe the training rows, are not kept).

    Raises
    ------
    ValueError
        A file altered or damaged after it was saved, or another format.
    """
    folder = Path(folder)
    what = "SupervisedVolumeEmbedder"
    payload = read_checked_json(folder / MANIFEST, kind=KIND, version=VERSION, what=what)
    params = dict(payload["params"])
    if params.get("encoder_kwargs") is not None:
        params["encoder_kwargs"] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in params["encoder_kwargs"].items()
        }
    pre = {k: tuple(v) if isinstance(v, list) else v for k, v in payload["preprocessor"].items()}
    embedder = SupervisedVolumeEmbedder(
        **params, cv=payload["cv"] or 5, preprocessor=VolumePreprocessor(**pre)
    )
    embedder._check_params()
    embedder.classes_ = np.asarray(payload["classes"])
    embedder.n_channels_ = int(payload["n_channels"])
    embedder.feature_names_in_ = np.asarray(payload["feature_names_in"], dtype=object)
    embedder.n_features_in_ = len(embedder.feature_names_in_)
    embedder.history_ = list(payload["history"])
    embedder.cv_folds_, embedder.skipped_ = [], []
    embedder.oof_fold_ = np.zeros(0, dtype=int)
    embedder.device_ = resolve_device(embedder.device)
    weights = payload["weights"]
    folds = sorted((n for n in weights if n.startswith("fold_")), key=lambda n: int(n[5:]))
    embedder.fold_models_ = [_network(embedder, folder, n, weights[n]) for n in folds]
    refit = weights.get("refit")
    embedder.model_ = None if refit is None else _network(embedder, folder, "refit", refit)
    return embedder


def _network(embedder, folder: Path, name: str, sha: str) -> torch.nn.Module:
    """One network of the folder, its weights checked and loaded (CPU, eval mode)."""
    path = folder / f"{name}.pt"
    if not path.is_file():
        raise ValueError(f"The saved SupervisedVolumeEmbedder in '{folder}' lacks '{path.name}'.")
    if _sha256(path) != sha:
        raise ValueError(
            f"'{path}' does not match its SHA-256 in {MANIFEST}: the weights were altered or "
            "damaged after they were saved. Refusing to load them; save the embedder again."
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = embedder._new_model()  # no pretrained start: every weight comes from `state`
    model.load_state_dict(state, strict=True)
    return model.eval()
