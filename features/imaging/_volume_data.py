"""Reading and preprocessing the volumes of a batch: inputs normalized to a list, a torch
Dataset that reports (rather than raises) a volume it cannot read, and a stacked array.

A leaf module shared by :mod:`features.imaging._embedding` and
:mod:`features.imaging._pretrain`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from ._transforms import VolumePreprocessor, preload_monai
from ._volumes import Volume, read_volume

__all__ = [
    "VolumeBatch",
    "VolumeDataset",
    "collate_volumes",
    "describe_item",
    "hash_item",
    "normalize_inputs",
    "preprocess_volumes",
    "volume_loader",
]


def _hash_path(path: Path) -> str:
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        h.update(f.relative_to(path).as_posix().encode() if path.is_dir() else b"")
        with open(f, "rb") as fh:
            for chunk in iter(lambda fh=fh: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def hash_item(item) -> str:
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


def describe_item(item, index) -> str:
    if isinstance(item, (str, os.PathLike)):
        return str(item)
    if isinstance(item, Volume) and item.source is not None:
        return str(item.source)
    return f"array at position {index}"


class VolumeDataset(torch.utils.data.Dataset):
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


class VolumeBatch(NamedTuple):
    """One DataLoader batch of :class:`VolumeDataset` items, collated in the worker.

    ``volumes`` is one stacked tensor ``(n, C, D, H, W)`` of the volumes at ``positions`` (a
    list of tensors when their shapes differ, so the main process can report the shapes);
    ``failures`` holds ``(position, error)`` of the items that could not be preprocessed.
    """

    positions: list[int]
    volumes: torch.Tensor | list[torch.Tensor]
    failures: list[tuple[int, str]]


def collate_volumes(batch) -> VolumeBatch:
    """DataLoader ``collate_fn``: stack the preprocessed volumes of a batch into one tensor.

    It runs in the worker, so the batch reaches the main process as one tensor in shared
    memory (no pickled arrays) that the DataLoader can pin for an asynchronous copy to the GPU.

    Examples
    --------
    >>> import numpy as np
    >>> batch = collate_volumes([(0, np.zeros((1, 2, 2, 2), np.float32), None), (1, None, "bad")])
    >>> batch.positions, tuple(batch.volumes.shape), batch.failures
    ([0], (1, 1, 2, 2, 2), [(1, 'bad')])
    """
    good = [(pos, arr) for pos, arr, err in batch if err is None]
    failures = [(pos, err) for pos, _, err in batch if err is not None]
    tensors = [torch.from_numpy(np.ascontiguousarray(arr)) for _, arr in good]
    if tensors and len({t.shape for t in tensors}) == 1:
        volumes = torch.stack(tensors, out=_shared_batch(tensors))
    else:
        volumes = tensors
    return VolumeBatch([pos for pos, _ in good], volumes, failures)


def _shared_batch(tensors: list[torch.Tensor]) -> torch.Tensor | None:
    """In a DataLoader worker, an empty batch tensor in shared memory (as torch's
    ``default_collate`` does), so sending it to the main process copies nothing; else None."""
    if torch.utils.data.get_worker_info() is None:
        return None
    first = tensors[0]
    storage = first.untyped_storage()._new_shared(len(tensors) * first.nbytes)
    return first.new(storage).resize_(len(tensors), *first.shape)


def volume_loader(
    dataset: VolumeDataset, *, batch_size: int, num_workers: int, device, seed: int = 0
) -> torch.utils.data.DataLoader:
    """A DataLoader of :class:`VolumeBatch` that keeps a GPU busy.

    ``num_workers`` processes read and preprocess volumes ahead (4 batches each) and stack them
    in shared memory; on CUDA the batches are pinned, so ``.to(device, non_blocking=True)``
    overlaps the copy with the encoder. MONAI is imported here first, so that forked workers do
    not each import it. Worker seeds come from ``seed``, not from torch's global random state.
    The order of the items is kept.
    """
    workers = int(num_workers)
    if workers > 0:
        preload_monai()  # the workers inherit the imports instead of each importing MONAI
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=int(batch_size),
        shuffle=False,
        num_workers=workers,
        collate_fn=collate_volumes,
        pin_memory=torch.device(device).type == "cuda",
        prefetch_factor=4 if workers > 0 else None,
        generator=torch.Generator().manual_seed(int(seed)),
    )


def normalize_inputs(X, ids=None, masks=None, bboxes=None):
    """``X`` (list, Series, dict or array of volumes) -> (items, index, masks, bboxes), checked.

    ``index`` is the patient IDs: ``ids`` when given, else the Series index or dict keys, else
    ``None``. IDs must be unique; ``masks`` and ``bboxes`` must have one entry per volume.
    """
    import pandas as pd

    if isinstance(X, str | os.PathLike):
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
        n_dupes = len(index) - len(set(index))
        raise ValueError(f"ids are not unique: {n_dupes} repeated patient ID(s)")
    return items, index, masks, bboxes


def preprocess_volumes(
    X,
    preprocessor: VolumePreprocessor | None = None,
    skipped: list | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Preprocess every volume of ``X`` and stack them: an array of shape (n, C, D, H, W).

    A volume that cannot be read or preprocessed raises a ``ValueError`` naming it; with a list
    ``skipped``, it is left out and ``{"position", "source", "error"}`` is appended there.
    ``progress``: a tqdm bar (stderr) over the volumes.
    """
    from tqdm.auto import tqdm

    items, _, masks, bboxes = normalize_inputs(X)
    preprocessor = preprocessor if preprocessor is not None else VolumePreprocessor()
    dataset = VolumeDataset(items, list(range(len(items))), preprocessor, masks, bboxes)
    out = []
    bar = tqdm(range(len(dataset)), desc="reading scans", unit="vol", disable=not progress)
    for pos in bar:
        _, arr, err = dataset[pos]
        if err is None:
            out.append(arr)
            continue
        source = describe_item(items[pos], pos)
        if skipped is None:
            raise ValueError(f"Cannot preprocess {source}: {err}")
        skipped.append({"position": pos, "source": source, "error": err})
    if not out:
        raise ValueError(f"No volume of {len(items)} could be read or preprocessed.")
    return np.stack(out)
