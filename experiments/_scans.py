"""Scans folder -> embeddings table, through ``features.VolumeEmbedder``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ._data import InputError

SCAN_SUFFIXES = (".nii.gz", ".nii", ".npy", ".npz")


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
    folder, *, encoder=None, device="auto", cache_dir=None, shape=64, on_error="raise"
):
    """Embed every scan of ``folder``; a DataFrame indexed by patient ID (``emb_<i>`` columns).

    The encoder is ``features.VolumeEmbedder`` (``encoder`` name, random initialisation seeded
    by ``random_state=0``), volumes resampled to ``shape``^3 and min-max scaled. The same
    settings give the same embeddings, so a model fitted on them can embed new patients' scans
    at prediction time. With ``on_error="skip"`` an unreadable scan gives a row of NaN (the
    patient then lacks the block) instead of an error; ``frame.attrs["skipped"]`` lists them.
    """
    try:
        from features import VolumeEmbedder, VolumePreprocessor
    except ImportError as exc:
        raise InputError(
            f"Embedding scans needs features.VolumeEmbedder and the imaging extra "
            f"(pip install 'graphboost[imaging]'): {exc}"
        ) from exc
    files = scan_files(folder)
    params = {"device": device, "cache_dir": cache_dir, "on_error": on_error, "verbose": True}
    if encoder is not None:
        params["encoder"] = encoder
    embedder = VolumeEmbedder(preprocessor=VolumePreprocessor(shape=int(shape)), **params).fit()
    emb = embedder.transform([str(p) for p in files.values()])
    frame = pd.DataFrame(emb, columns=[f"emb_{i}" for i in range(emb.shape[1])])
    frame.index = pd.Index(list(files), name="patient_id")
    frame.attrs["skipped"] = [s["source"] for s in embedder.skipped_]
    return frame
