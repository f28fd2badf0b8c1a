"""Scans folder -> embeddings table, through ``features.VolumeEmbedder`` (its encoder
pretrained self-supervised on the folder's scans first, or seeded at random)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .._base import InputError

SCAN_SUFFIXES = (".nii.gz", ".nii", ".npy", ".npz")

PRETRAIN_SECONDS = 60.0
"""Default time budget of the self-supervised pretraining of the scan encoder (CPU-sized). With
8 components, random vs pretrained encoder: demo cohort (10 x 5-fold CV) 0.853 vs 0.885;
AdrenalMNIST3D train split with shape features (5-fold x 2) 0.864 vs 0.874 (docs/results.md)."""

_PRETRAIN_EPOCHS = 10


def _imaging():
    try:
        import features
        from features import VolumeEmbedder  # noqa: F401  (needs the imaging extra)
    except ImportError as exc:
        raise InputError(
            f"Embedding scans needs features.VolumeEmbedder and the imaging extra "
            f"(pip install 'graphboost[imaging]'): {exc}"
        ) from exc
    return features


def mask_patch(shape):
    """Edge of the masked cubes at ``shape``^3: the largest divisor of ``shape`` up to an eighth
    of it (8 at 64, 10 at 100), at least 1.

    Examples
    --------
    >>> [mask_patch(s) for s in (64, 100, 16, 9, 7)]
    [8, 10, 2, 1, 1]
    """
    return max(p for p in range(1, max(1, shape // 8) + 1) if shape % p == 0)


def pretrain_scan_encoder(
    folder, *, shape=64, seconds=PRETRAIN_SECONDS, device="auto", on_error="raise", random_state=0
):
    """Pretrain the default encoder on the scans of ``folder`` (no label): the encoder (a torch
    module) and a JSON-safe record.

    Masked-volume reconstruction (``features.pretrain_encoder``, at most 10 epochs and about
    ``seconds``), volumes resampled to ``shape``^3 and min-max scaled as for the embedding. No
    label is read, so pretraining on every scan of a cohort leaks nothing about the outcome.
    With ``on_error="skip"`` unreadable scans are left out.
    """
    features = _imaging()
    files = scan_files(folder)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
        raise InputError(
            f"The pretraining budget must be a positive number of seconds; got {seconds!r}."
        )
    try:
        result = features.pretrain_encoder(
            [str(p) for p in files.values()],
            objective="mae",
            epochs=_PRETRAIN_EPOCHS,
            patch_size=mask_patch(int(shape)),
            preprocessor=features.VolumePreprocessor(shape=int(shape)),
            device=device,
            max_seconds=float(seconds),
            random_state=random_state,
            on_error=on_error,
        )
    except ValueError as exc:
        raise InputError(f"Cannot pretrain the scan encoder: {exc}") from exc
    record = {
        "objective": "mae",
        "epochs": len(result.history),
        "seconds": round(result.seconds, 1),
        "n_scans": result.n_volumes,
        "loss": [round(result.history[0], 6), round(result.history[-1], 6)],
    }
    return result.encoder, record


def scan_files(folder):
    """Patient ID -> scan path for every volume file (or DICOM series folder) in ``folder``.

    The patient ID is the file name without its extension, kept verbatim as text (``007``).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"Scans folder not found: '{folder}'.")
    out = {}
    for p in sorted(folder.iterdir()):
        name = p.name
        suffix = next((s for s in SCAN_SUFFIXES if name.lower().endswith(s)), None)
        if suffix is not None and p.is_file():
            out[name[: -len(suffix)]] = p
        elif p.is_dir():
            out[name] = p  # a DICOM series
    if not out:
        raise InputError(
            f"No scans in '{folder}' (expected files ending in {', '.join(SCAN_SUFFIXES)} or "
            "one DICOM folder per patient)."
        )
    return out


def embed_folder(
    folder,
    *,
    encoder=None,
    device="auto",
    cache_dir=None,
    shape=64,
    on_error="raise",
    pretrained=None,
):
    """Embed every scan of ``folder``; a DataFrame indexed by patient ID (``emb_<i>`` columns).

    The encoder is ``features.VolumeEmbedder`` (``encoder`` name) with the ``pretrained``
    weights (a state dict or a file, e.g. from :func:`pretrain_scan_encoder`), else a random
    initialisation seeded by ``random_state=0``; volumes resampled to ``shape``^3 and min-max
    scaled. The same settings and weights give the same embeddings, so a model fitted on them
    can embed new patients' scans at prediction time. With ``on_error="skip"`` an unreadable
    scan gives a row of NaN (the patient then lacks the block) instead of an error;
    ``frame.attrs["skipped"]`` lists them.
    """
    features = _imaging()
    files = scan_files(folder)
    params = {"device": device, "cache_dir": cache_dir, "on_error": on_error, "verbose": True}
    if encoder is not None:
        params["encoder"] = encoder
    if pretrained is not None:
        params["pretrained"] = pretrained
    pre = features.VolumePreprocessor(shape=int(shape))
    embedder = features.VolumeEmbedder(preprocessor=pre, **params).fit()
    emb = embedder.transform([str(p) for p in files.values()])
    frame = pd.DataFrame(emb, columns=[f"emb_{i}" for i in range(emb.shape[1])])
    frame.index = pd.Index(list(files), name="patient_id")
    frame.attrs["skipped"] = [s["source"] for s in embedder.skipped_]
    return frame
