"""Scans folder -> embeddings table, through ``features.VolumeEmbedder`` (its encoder
pretrained self-supervised on the folder's scans first, or seeded at random).

Every check that can fail runs before any scan is read: the scan shape against the encoder's
smallest side, two scans of one patient, a scan with several frames. File names carry patient
IDs, so an error about some files gives their count; the names go to a list
(:class:`ScanListError`: ``.rows`` in Python, a CSV beside the output on the command line).
"""

from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .._base import InputError

SCAN_SUFFIXES = (".nii.gz", ".nii", ".npy", ".npz")

IGNORED_FOLDERS = ("__MACOSX", "__pycache__", "System Volume Information", "$RECYCLE.BIN")
"""Folders of a scans folder that are never a scan: system folders (and any hidden one, whose
name starts with a dot, such as ``.ipynb_checkpoints``)."""

PRETRAIN_EPOCHS = 4
"""Default number of epochs of the self-supervised pretraining of the scan encoder. Fixed, so
the same command and seed give the same encoder (and model) on any machine. Chosen to stay near
the former default, a 60-second budget (the epoch during which it ran out was the last): on the
cohort of issue 20 (150 patients, 142 scans at 64^3) one epoch costs 32 CPU-seconds on this
2-core CPU, about 16-20 s when the machine is idle, so the budget ran about 4 epochs (3 whole
ones in 60 s, the 4th across it); with 8 processes sharing the cores an epoch took 107-152 s of
wall time and the budget ran 1 epoch. With 8
components, random vs pretrained encoder (the former budget): demo cohort (10 x 5-fold CV)
0.853 vs 0.885; AdrenalMNIST3D train split with shape features (5-fold x 2) 0.864 vs 0.874
(docs/results.md)."""

PRETRAIN_SECONDS = None
"""Default time limit of the pretraining: none. A limit (``seconds``) is an upper bound only;
when it stops the pretraining early, a warning and the model card say so."""

DUPLICATE_SCANS = "duplicate_scans.csv"
"""The list (column ``file``) of the scans of patients who have more than one."""

MULTI_FRAME_SCANS = "multi_frame_scans.csv"
"""The list (columns ``file``, ``shape``) of the scans with several frames (4D)."""

UNREADABLE_SCANS = "unreadable_scans.csv"
"""List (column ``file``) of the scans that could not be read, beside the command's output."""


class ScanListError(InputError):
    """An error about some scans of a folder, whose file names (patient IDs) are not in the
    message: ``rows`` lists them (one dict per file), ``list_name`` is the CSV file name the
    command line writes them to, beside its output (:meth:`listed`)."""

    def __init__(self, template, rows, list_name):
        self.template, self.rows, self.list_name = template, list(rows), list_name
        where = f"the error's .rows ({list_name} beside the output on the command line)"
        super().__init__(template.format(listing=where))

    @property
    def files(self):
        """The file names concerned."""
        return [r["file"] for r in self.rows]

    def listed(self, output=None):
        """Write the list beside ``output`` (``<output stem>.<list_name>``; the current folder
        without an output) and return the error that names it, once written."""
        out = Path(output) if output else Path.cwd() / "graphboost"
        path = out.resolve().with_name(f"{out.resolve().stem or 'graphboost'}.{self.list_name}")
        tmp = path.with_name(f".{path.name}.partial")
        try:
            pd.DataFrame(self.rows).to_csv(tmp, index=False)
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            where = f"a list that could not be written ({exc.strerror or exc})"
            return InputError(self.template.format(listing=where))
        return InputError(self.template.format(listing=f"'{path}'"))


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


def check_scan_shape(shape, encoder=None):
    """The scan shape as an int, checked against the encoder's smallest side before any scan is
    read (``features.imaging.min_input_side``: 16 for the default encoder, which halves each
    side four times); a smaller shape would embed volumes made of padding.

    Examples
    --------
    >>> check_scan_shape(16)
    16
    >>> check_scan_shape(1)
    Traceback (most recent call last):
    ...
    experiments._base.InputError: Scan shape 1 is too small: the encoder 'small' reduces each \
side 16-fold, so each side needs at least 16 voxels. Give a shape of 16 or more (--shape for \
`graphboost embed`, --scan-shape for fit and tune, shape= / scan_shape= in Python; default 64).
    """
    from features.imaging import min_input_side

    name = encoder or "small"
    if isinstance(shape, bool) or not isinstance(shape, int | np.integer):
        raise InputError(f"The scan shape must be a whole number of voxels; got {shape!r}.")
    try:
        least = min_input_side(name)
    except (ValueError, KeyError):  # an unknown encoder: VolumeEmbedder names the choices
        return int(shape)
    if shape < least:
        raise InputError(
            f"Scan shape {shape} is too small: the encoder {name!r} reduces each side "
            f"{least}-fold, so each side needs at least {least} voxels. Give a shape of {least} "
            "or more (--shape for `graphboost embed`, --scan-shape for fit and tune, shape= / "
            "scan_shape= in Python; default 64)."
        )
    return int(shape)


def _ignored(path):
    """Hidden entries (``.ipynb_checkpoints``, ``._SYN0001.nii`` of macOS) and system folders."""
    return path.name.startswith(".") or (path.is_dir() and path.name in IGNORED_FOLDERS)


def scan_files(folder):
    """Patient ID -> path for every volume file (or DICOM series folder) in ``folder``.

    The patient ID is the file name without its extension, kept verbatim as text (``007``).
    Hidden entries (their name starts with a dot: ``.ipynb_checkpoints``, macOS's ``._*``) and
    system folders (:data:`IGNORED_FOLDERS`, e.g. ``__MACOSX``) are ignored. Two scans of one
    patient (``SYN0001.nii`` and ``SYN0001.nii.gz``, or a file and a DICOM folder) raise a
    :class:`ScanListError` (the file names in its list :data:`DUPLICATE_SCANS`): which one to
    use is not guessed.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"Scans folder not found: '{folder}'.")
    found = {}
    for p in sorted(folder.iterdir()):
        if _ignored(p):
            continue
        name = p.name
        suffix = next((s for s in SCAN_SUFFIXES if name.lower().endswith(s)), None)
        if suffix is not None and p.is_file():
            found.setdefault(name[: -len(suffix)], []).append(p)
        elif p.is_dir():
            found.setdefault(name, []).append(p)  # a DICOM series
    if not found:
        raise InputError(
            f"No scans in '{folder}' (expected files ending in {', '.join(SCAN_SUFFIXES)} or "
            "one DICOM folder per patient)."
        )
    repeated = {k: v for k, v in found.items() if len(v) > 1}
    if repeated:
        n_files = sum(len(v) for v in repeated.values())
        raise ScanListError(
            f"{len(repeated)} patient(s) have more than one scan in '{folder}' ({n_files} files, "
            "e.g. <id>.nii and <id>.nii.gz); which one to use is not guessed. Keep one scan per "
            "patient (<patient id>.<ext>) and move the others out of the folder. The files are "
            "listed in {listing}.",
            [{"file": p.name} for v in repeated.values() for p in v],
            DUPLICATE_SCANS,
        )
    return {k: v[0] for k, v in found.items()}


def multi_frame_scans(files):
    """``{patient: (file name, shape)}`` of the scans with several frames (read from the file
    headers only, no voxel read): a 4D NIfTI ``(X, Y, Z, T)`` with ``T > 1``, a NumPy array
    with a 4th axis longer than 1."""
    from features.imaging import volume_shape

    out = {}
    for pid, path in files.items():
        shape = volume_shape(path)
        if (
            shape is not None
            and len(shape) >= 4
            and int(np.prod(shape)) > int(np.prod(sorted(shape)[-3:]))
        ):
            out[pid] = (path.name, shape)
    return out


def _frames_error(found):
    """The error for the scans with several frames (count and frames, the names in a list)."""
    counts = sorted({int(np.prod(s)) // int(np.prod(sorted(s)[-3:])) for _, s in found.values()})
    frames = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]} to {counts[-1]}"
    n = len(found)
    return ScanListError(
        f"{n} scan{'s' if n > 1 else ''} {'have' if n > 1 else 'has'} 4 dimensions ({frames} "
        "frames); the scans path embeds one 3D volume per patient and does not guess which "
        "frame to use. Keep one 3D volume per patient in the folder (e.g. the frame you "
        "want, split with fslsplit or nibabel), or pass --on-error skip (on_error='skip') to "
        "leave these patients without a scan. The files and shapes are listed in {listing}.",
        [{"file": name, "shape": "x".join(map(str, s))} for name, s in found.values()],
        MULTI_FRAME_SCANS,
    )


def _unreadable_error(exc, paths, step):
    """The error of a scan that cannot be read, its file name (a patient ID) in a list only.

    Examples
    --------
    >>> exc = ValueError("Cannot embed /d/P7.nii: bad header")
    >>> err = _unreadable_error(exc, ["/d/P7.nii"], "embed the scans")
    >>> str(err).startswith("1 scan cannot be read (Cannot embed <file>: bad header)")
    True
    >>> err.files
    ['P7.nii']
    """
    text = str(exc)
    hit = [str(p) for p in paths if str(p) in text]
    if not hit:
        return InputError(f"Cannot {step}: {text}")
    for path in hit:
        text = text.replace(path, "<file>")
    text = text.replace("{", "{{").replace("}", "}}")
    n = len(hit)
    return ScanListError(
        f"{n} scan{'s' if n > 1 else ''} cannot be read ({text}), so graphboost cannot {step}. "
        "Fix or remove the file, or pass --on-error skip (on_error='skip') to leave that "
        "patient without a scan. The file is listed in {listing}.",
        [{"file": Path(path).name} for path in hit],
        UNREADABLE_SCANS,
    )


def checked_scans(folder, *, shape=64, encoder=None, on_error="raise", patients=None):
    """The scans of ``folder`` to use, checked before any voxel is read: ``(files, skipped)``.

    ``files``: patient ID -> path (:func:`scan_files`), restricted to ``patients`` when given
    (an iterable of IDs as text); a scan with several frames is an error
    (:class:`ScanListError`) or, with ``on_error="skip"``, left out and listed in ``skipped``
    (its path).
    """
    check_scan_shape(shape, encoder)
    if on_error not in ("raise", "skip"):
        raise InputError(f"on_error must be 'raise' or 'skip'; got {on_error!r}.")
    files = scan_files(folder)
    if patients is not None:
        wanted = set(patients)
        files = {k: v for k, v in files.items() if k in wanted}
    frames = multi_frame_scans(files)
    if frames and on_error == "raise":
        raise _frames_error(frames)
    skipped = [files.pop(pid) for pid in frames]
    return files, skipped


def pretrain_scan_encoder(
    folder,
    *,
    shape=64,
    epochs=PRETRAIN_EPOCHS,
    seconds=PRETRAIN_SECONDS,
    device="auto",
    on_error="raise",
    random_state=0,
    progress=True,
    objective="mae",
    encoder_kwargs=None,
):
    """Pretrain the default encoder on the scans of ``folder`` (no label): the encoder (a torch
    module) and a JSON-safe record.

    Masked-volume reconstruction (``objective="mae"``) or SimCLR (``"simclr"``, the start of
    the supervised scan block) by ``features.pretrain_encoder`` for ``epochs`` epochs,
    volumes resampled to ``shape``^3 and min-max scaled as for the embedding; ``encoder_kwargs``:
    the small CNN's widths (default its own). No label is read,
    so pretraining on every scan of a cohort leaks nothing about the outcome. With
    ``on_error="skip"`` unreadable scans are left out.

    The same scans, ``epochs`` and ``random_state`` give the same weights on any machine (of one
    device type). ``seconds`` is an upper limit only (default none): when it stops the
    pretraining before ``epochs``, a warning says so and the record holds
    ``"stopped_by_time": True`` (the model card reports it). ``progress``: tqdm bars (stderr)
    over the reading of the scans and the epochs.
    """
    features = _imaging()
    epochs, seconds = check_pretraining(epochs, seconds)
    files, _ = checked_scans(folder, shape=shape, on_error=on_error)
    try:
        result = features.pretrain_encoder(
            [str(p) for p in files.values()],
            encoder_kwargs=encoder_kwargs,
            objective=objective,
            epochs=epochs,
            patch_size=mask_patch(int(shape)),
            preprocessor=features.VolumePreprocessor(shape=int(shape)),
            device=device,
            max_seconds=seconds,
            random_state=random_state,
            on_error=on_error,
            progress=bool(progress),
        )
    except ValueError as exc:
        raise _unreadable_error(exc, files.values(), "pretrain the scan encoder") from exc
    record = {
        "objective": objective,
        "epochs": len(result.history),
        "epochs_planned": epochs,
        "seconds_limit": seconds,
        "stopped_by_time": bool(result.stopped_by_time),
        "seconds": round(result.seconds, 1),
        "n_scans": result.n_volumes,
        "loss": [round(result.history[0], 6), round(result.history[-1], 6)],
    }
    if result.stopped_by_time:
        warnings.warn(
            f"The scan encoder's pretraining stopped at its time limit ({seconds:g} s, "
            f"--scan-pretrain-seconds) after {len(result.history)} of {epochs} epochs: the "
            "encoder, and the model, depend on this machine's speed (the model card says so). "
            "For a reproducible model, raise or drop the limit, or give fewer epochs "
            "(--scan-pretrain-epochs).",
            UserWarning,
            stacklevel=2,
        )
    return result.encoder, record


def check_pretraining(epochs, seconds):
    """``(epochs, seconds)`` of the pretraining, checked: a whole number of epochs >= 1 and a
    positive time limit or ``None``."""
    if isinstance(epochs, bool) or not isinstance(epochs, int | np.integer) or epochs < 1:
        raise InputError(
            f"The pretraining needs a whole number of epochs of at least 1 "
            f"(--scan-pretrain-epochs); got {epochs!r} (0 skips the pretraining in "
            "load_cohort)."
        )
    if seconds is not None and (
        isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds > 0
    ):
        raise InputError(
            f"The pretraining budget must be a positive number of seconds; got {seconds!r} "
            "(--scan-pretrain-seconds is an upper limit; leave it out for none)."
        )
    return int(epochs), None if seconds is None else float(seconds)


def embed_folder(
    folder,
    *,
    encoder=None,
    device="auto",
    cache_dir=None,
    shape=64,
    on_error="raise",
    pretrained=None,
    patients=None,
    progress=True,
    scheduler=None,
):
    """Embed the scans of ``folder``; a DataFrame indexed by patient ID (``emb_<i>`` columns).

    The encoder is ``features.VolumeEmbedder`` (``encoder`` name) with the ``pretrained``
    weights (a state dict or a file, e.g. from :func:`pretrain_scan_encoder`), else a random
    initialisation seeded by ``random_state=0``; volumes resampled to ``shape``^3 and min-max
    scaled. The same settings and weights give the same embeddings, bit for bit, whatever the
    other scans of the folder (each volume goes through the encoder alone), so a model fitted
    on them can embed new patients' scans at prediction time. With ``on_error="skip"`` an
    unreadable scan (or one with several frames) gives a row of NaN (the patient then lacks
    the block) instead of an error; ``frame.attrs["skipped"]`` lists them. ``patients`` (IDs as
    text): embed only their scans (``frame.attrs["not_embedded"]`` counts the others of the
    folder, by ID). ``progress``: a tqdm bar (stderr). ``scheduler``: the address of a Dask
    scheduler (or a ``distributed.Client``) whose workers embed the scans, each on its own
    device, with the same result and cache as this process (``VolumeEmbedder.transform``); it
    is reached before any scan is read.
    """
    features = _imaging()
    with _cluster(features, scheduler) as client:  # reached before any scan is read
        files, frames = checked_scans(
            folder, shape=shape, encoder=encoder, on_error=on_error, patients=patients
        )
        others = []
        if patients is not None:  # the other scans are neither checked nor read, only counted
            done = {*files, *(_patient(p) for p in frames)}
            others = [k for k in scan_files(folder) if k not in done]
        params = {"device": device, "cache_dir": cache_dir, "on_error": on_error}
        params["verbose"] = bool(progress)
        if encoder is not None:
            params["encoder"] = encoder
        if pretrained is not None:
            params["pretrained"] = pretrained
        pre = features.VolumePreprocessor(shape=int(shape))
        embedder = features.VolumeEmbedder(preprocessor=pre, **params).fit()
        ids = list(files)
        if ids:
            try:
                emb = embedder.transform([str(p) for p in files.values()], scheduler=client)
            except ValueError as exc:
                raise _unreadable_error(exc, files.values(), "embed the scans") from exc
            skipped = [s["source"] for s in embedder.skipped_]
        else:
            emb, skipped = np.zeros((0, embedder.n_features_out_), dtype=np.float32), []
        frame = pd.DataFrame(emb, columns=[f"emb_{i}" for i in range(emb.shape[1])])
        frame.index = pd.Index(ids, name="patient_id")
        if frames:  # several frames, skipped: a row of NaN, as for an unreadable scan
            nan = pd.DataFrame(np.nan, index=[_patient(p) for p in frames], columns=frame.columns)
            frame = pd.concat([frame, nan]).sort_index()
            frame.index.name = "patient_id"
        frame.attrs["skipped"] = [*skipped, *(str(p) for p in frames)]
        frame.attrs["not_embedded"] = others
        return frame


@contextlib.contextmanager
def _cluster(features, scheduler):
    """A client of the Dask scheduler (``None`` without one), closed at the end if opened here;
    an InputError when it cannot be reached."""
    if scheduler is None:
        yield None
        return
    try:
        client = features.imaging.connect_scheduler(scheduler)
    except (ImportError, ValueError, OSError) as exc:
        raise InputError(str(exc)) from exc
    try:
        yield client
    finally:
        if client is not scheduler:
            client.close()


def table_patients(table, id_column):
    """The patient IDs of ``table`` as the scans' file names give them (text), or None when
    some ID is neither text nor a whole number (then every scan is embedded and the table's
    own matching, ``features.Cohort``, decides)."""
    if id_column not in getattr(table, "columns", ()):
        return None
    values = table[id_column].tolist()
    if not all(isinstance(v, str | int | np.integer) and not isinstance(v, bool) for v in values):
        return None
    return {str(v) for v in values}


def _patient(path):
    """The patient ID of a scan's path (its name without the scan suffix)."""
    name = Path(path).name
    suffix = next((s for s in SCAN_SUFFIXES if name.lower().endswith(s)), "")
    return name[: len(name) - len(suffix)]


UNMATCHED_SCANS = "unmatched_scans.csv"
"""File of a model folder listing the patients whose scan and table row do not match: columns
``patient_id`` and ``reason`` (``no scan``, ``scan not read``, ``not in the table``)."""

_REASONS = {
    "not_in_block": "no scan",
    "empty_rows": "scan not read",
    "not_in_clinical": "not in the table",
}


def unmatched_scans(cohort, block):
    """The patients of ``cohort`` whose scan and table row do not match (a DataFrame with
    ``patient_id`` and ``reason``, empty when all match) and the warning that counts them
    (``None`` when all match); no ID in the warning."""
    ids = getattr(cohort, "unmatched_ids", {}).get(block, {})
    rows = [{"patient_id": i, "reason": _REASONS[k]} for k in _REASONS for i in ids.get(k, [])]
    frame = pd.DataFrame(rows, columns=["patient_id", "reason"])
    counts = {k: len(ids.get(k, [])) for k in _REASONS}
    parts = []
    if counts["not_in_block"]:
        parts.append(
            f"{counts['not_in_block']} patient(s) of the clinical table lack block {block!r} "
            f"(kept, with NaN and '{block}:missing' = 1)"
        )
    if counts["empty_rows"]:
        parts.append(
            f"{counts['empty_rows']} patient(s) have an all-NaN row in block {block!r} "
            f"(treated as lacking it: '{block}:missing' = 1)"
        )
    if counts["not_in_clinical"]:
        parts.append(
            f"{counts['not_in_clinical']} patient(s) of block {block!r} are not in the "
            "clinical table (left out)"
        )
    if not parts:
        return frame, None
    message = (
        "Patient IDs do not match across sources: "
        + "; ".join(parts)
        + f". `graphboost fit` lists their IDs in {UNMATCHED_SCANS} of the model folder "
        "(in Python: cohort.unmatched_scans)."
    )
    return frame, message
