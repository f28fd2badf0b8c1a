"""Load a cohort: a table and, optionally, a folder of scans embedded into one block."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd

from .._base import InputError
from ..evaluation._dataset import (
    read_cohort,
)
from ._scans import (
    PRETRAIN_EPOCHS,
    PRETRAIN_SECONDS,
    check_pretraining,
    check_scan_shape,
    embed_folder,
    pretrain_scan_encoder,
    table_patients,
    unmatched_scans,
)
from ._supervised_scans import (
    DEFAULT_SCAN_EMBEDDER,
    attach_scans,
    check_scan_embedder,
    make_scan_block,
    supervised_recipe,
)

SCANS_BLOCK = "scans"
"""Name of the block (and feature group) of the scan embeddings joined by :func:`load_cohort`."""

SKIPPED_SCANS = "skipped_scans.csv"
"""File of a model folder listing (column ``file``) the scans skipped with ``on_error="skip"``."""


SCAN_ENCODER = "scan_encoder.pt"
"""The file of a model folder that holds the pretrained scan encoder's weights."""


def embed_scans(
    scans,
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
    """Embed the scans of a folder (files named ``<patient id>.<ext>``).

    Parameters
    ----------
    scans : str or Path
        Folder of NIfTI / NumPy volumes or DICOM series folders.
    encoder : str, optional
        ``features.VolumeEmbedder`` encoder name (default: its default).
    device : str, default="auto"
    cache_dir : str or Path, optional
        On-disk cache: a rerun reads it, an interrupted run resumes.
    shape : int, default=64
        Volumes are resampled to a cube of ``shape`` voxels a side.
    on_error : {"raise", "skip"}, default="raise"
        ``"skip"``: an unreadable scan gives a row of NaN, listed in ``frame.attrs["skipped"]``.
    pretrained : dict or path, optional
        Encoder weights (e.g. a model folder's :data:`SCAN_ENCODER`); default: the random
        initialisation seeded by 0.
    patients : iterable of str, optional
        Embed only these patients' scans (default: every scan of the folder).
    progress : bool, default=True
        A tqdm progress bar (stderr).
    scheduler : str or distributed.Client, optional
        Embed on a Dask cluster: its scheduler's address (``"tcp://host:8786"``) or a client
        (``graphboost embed --scheduler``). Each worker embeds chunks of scans on its own
        device (its GPU if it has one), reading the scans and writing ``cache_dir`` at the same
        paths as here; the result and the cache are those of one process, and the chunks of a
        worker that dies are run again by the others. Needs the ``distributed`` extra.

    Returns
    -------
    pandas.DataFrame
        Indexed by patient ID (text), columns ``emb_0 ...``.
    """
    return embed_folder(
        scans,
        encoder=encoder,
        device=device,
        cache_dir=cache_dir,
        shape=shape,
        on_error=on_error,
        pretrained=pretrained,
        patients=patients,
        progress=progress,
        scheduler=scheduler,
    )


def load_cohort(
    data,
    *,
    label=None,
    id_column=None,
    exclude=(),
    scans=None,
    scan_shape=None,
    on_error="raise",
    scan_pretrain_seconds=PRETRAIN_SECONDS,
    scan_encoder=None,
    scan_pretrain_epochs=None,
    progress=True,
    decimal=".",
    scan_embedder=DEFAULT_SCAN_EMBEDDER,
    scan_recipe=None,
):
    """Read a cohort table, embed its scans (if any) and join them by patient ID.

    Parameters
    ----------
    data : str, Path or pandas.DataFrame
        Table file (CSV, TSV, Parquet, Excel; read by ``features.read_table``, the ID column
        as text) or a DataFrame.
    label : str, optional
        Label column (not a feature).
    id_column : str, optional
        Patient ID column (not a feature). Needed with ``scans``; without it the row number is
        the patient ID.
    exclude : list of str, optional
        Columns that are not features (dates, other outcomes, ...).
    scans : str or Path, optional
        Folder of scans named ``<patient id>.<ext>``: embedded (:func:`embed_scans`) and joined
        as the block :data:`SCANS_BLOCK` (``scan_embedder="self-supervised"``), or attached for
        the supervised block (``"supervised"``).
    scan_shape : int, optional
        Scans are resampled to this cube; default 64 for the self-supervised embedder, the
        recipe's for the supervised one (32 on a CPU, 64 on a CUDA device).
    on_error : {"raise", "skip"}, default="raise"
        What an unreadable scan does (``"skip"``: that patient lacks the block).
    scan_pretrain_seconds : float, optional
        An upper time limit of the pretraining (default none): when hit, fewer epochs run, with
        a warning, and the model card says so. 0 skips the pretraining (as
        ``scan_pretrain_epochs=0``).
    scan_encoder : path, optional
        Encoder weights to embed with (no pretraining), e.g. a model folder's
        :data:`SCAN_ENCODER` for its new patients.
    scan_pretrain_epochs : int, optional
        Without ``scan_encoder``: the encoder is first pretrained self-supervised on every scan
        of the folder (no label) for this many epochs, then embeds the table's patients' scans
        (only theirs); 0 keeps its random initialisation. A fixed number, so the same call and
        seed give the same model on any machine. Default: :data:`PRETRAIN_EPOCHS` of masked
        reconstruction for the self-supervised embedder; for the supervised one, the
        recipe's start of its encoders (12 epochs of SimCLR).
    progress : bool, default=True
        tqdm progress bars (stderr) over the pretraining and the embedding.
    decimal : str, default="."
        The table's decimal mark (``","`` reads ``56,8`` as 56.8), see ``features.read_table``.
    scan_embedder : {"self-supervised", "supervised"}, default=DEFAULT_SCAN_EMBEDDER
        What the scans become (:data:`~experiments.workflows.SCAN_EMBEDDERS`).
        ``"self-supervised"``: every scan is embedded here by the encoder pretrained on the
        folder's scans (no label), a 256-d block reduced to 8 components in the fold.
        ``"supervised"``: the scans are checked and read once here, and the block is the logit
        of a 3D CNN fine-tuned on the label (``features.SupervisedVolumeEmbedder``), fitted
        later inside the training data only (:func:`fit_model_folder` cross-fits it on all
        the training patients; :func:`cross_validate` and a search refit it inside every
        training fold), with the recipe :data:`~experiments.workflows.SUPERVISED_RECIPES`. It
        needs a ``label``.
    scan_recipe : dict, optional
        With ``scan_embedder="supervised"``: values that replace the recipe's (its keys, e.g.
        ``{"cv": 2, "max_epochs": 5}``).

    Returns
    -------
    features.Cohort
        With attributes ``skipped_scans``, the file names of the scans skipped with
        ``on_error="skip"`` (empty without scans), which :func:`fit_model_folder` lists in the
        model folder, ``scan_encoder``: the pretrained encoder and its record (a dict;
        ``None`` without pretraining), which :func:`fit_model_folder` saves, and
        ``unmatched_scans``: the patients whose scan and table row do not match (columns
        ``patient_id``, ``reason``), which :func:`fit_model_folder` lists in
        :data:`UNMATCHED_SCANS`; ``scan_embedder`` (``None`` without scans) and
        ``scan_shape``. With the supervised embedder, ``scan_files`` (each patient's usable
        scan, ``None`` for none), ``scan_step`` (the unfitted first step of the pipelines) and
        ``scan_pretraining`` (the record of the encoders' start).
    """
    if check_scan_embedder(scan_embedder) == "supervised" and scans is not None:
        return _load_supervised(
            data,
            label=label,
            id_column=id_column,
            exclude=exclude,
            scans=scans,
            shape=scan_shape,
            on_error=on_error,
            seconds=scan_pretrain_seconds,
            encoder=scan_encoder,
            epochs=scan_pretrain_epochs,
            progress=progress,
            decimal=decimal,
            recipe=scan_recipe,
        )
    scan_shape = 64 if scan_shape is None else scan_shape
    if scan_pretrain_epochs is None:
        scan_pretrain_epochs = PRETRAIN_EPOCHS
    blocks, skipped, pretrained = None, [], None
    if decimal != "." and isinstance(data, str | Path):
        from features import read_table

        data = read_table(data, id_column=id_column, decimal=decimal)
    if scans is not None:
        if id_column is None:
            raise InputError("Scans need an ID column (id_column) to match files to patients.")
        scan_shape = check_scan_shape(scan_shape)  # before any work
        pretrain = scan_encoder is None and scan_pretrain_epochs and scan_pretrain_seconds != 0
        if pretrain:
            check_pretraining(scan_pretrain_epochs, scan_pretrain_seconds)
        if not isinstance(data, pd.DataFrame):  # first: its IDs say which scans to embed
            from features import read_table

            data = read_table(data, id_column=id_column)
        if pretrain:
            encoder, record = pretrain_scan_encoder(
                scans,
                shape=scan_shape,
                epochs=scan_pretrain_epochs,
                seconds=scan_pretrain_seconds,
                on_error=on_error,
                progress=progress,
            )
            pretrained = {"encoder": encoder, "record": record}
        weights = scan_encoder if pretrained is None else pretrained["encoder"].state_dict()
        emb = embed_scans(
            scans,
            shape=scan_shape,
            on_error=on_error,
            pretrained=weights,
            patients=table_patients(data, id_column),
            progress=progress,
        )
        # the scans of patients not in the table: not embedded, counted as not in the table
        emb = emb.reindex([*emb.index, *emb.attrs.get("not_embedded", [])])
        blocks = {SCANS_BLOCK: emb}
        skipped = [Path(s).name for s in emb.attrs.get("skipped", [])]
    with warnings.catch_warnings():  # replaced below: it points to a Python attribute
        warnings.filterwarnings("ignore", message="Patient IDs do not match across sources")
        cohort = read_cohort(data, label=label, id_column=id_column, exclude=exclude, blocks=blocks)
    cohort.skipped_scans = skipped
    cohort.scan_encoder = pretrained
    cohort.scan_embedder = None if scans is None else "self-supervised"
    cohort.scan_shape = None if scans is None else scan_shape
    cohort.unmatched_scans, message = unmatched_scans(cohort, SCANS_BLOCK)
    if message:
        warnings.warn(message, UserWarning, stacklevel=2)
    return cohort


def _load_supervised(
    data,
    *,
    label,
    id_column,
    exclude,
    scans,
    shape,
    on_error,
    seconds,
    encoder,
    epochs,
    progress,
    decimal,
    recipe,
):
    """:func:`load_cohort` with ``scan_embedder="supervised"``: the table, its patients'
    scans checked and read once, the encoders' self-supervised start; every check first."""
    if id_column is None:
        raise InputError("Scans need an ID column (id_column) to match files to patients.")
    if label is None:
        raise InputError(
            "The supervised scan block (--scan-embedder supervised) trains its encoders on "
            "the classes of the label, so it needs a label column (--label); a survival "
            "outcome (--time/--event) takes --scan-embedder self-supervised."
        )
    if encoder is not None:
        raise InputError(
            "scan_encoder (encoder weights to embed with) goes with the self-supervised "
            "embedder; the supervised block trains its own encoders (leave scan_encoder out)."
        )
    recipe = supervised_recipe("auto", recipe)
    shape = check_scan_shape(recipe["shape"] if shape is None else shape)
    epochs = recipe["pretrain_epochs"] if epochs is None else epochs
    pretrain = bool(epochs) and seconds != 0
    if pretrain:
        check_pretraining(epochs, seconds)
    if not isinstance(data, pd.DataFrame):
        from features import read_table

        data = read_table(data, id_column=id_column, decimal=decimal)
    cohort = read_cohort(data, label=label, id_column=id_column, exclude=exclude)
    attach_scans(cohort, scans, SCANS_BLOCK, shape=shape, on_error=on_error, progress=progress)
    start, record = None, None
    if pretrain:
        network, record = pretrain_scan_encoder(
            scans,
            shape=shape,
            epochs=epochs,
            seconds=seconds,
            on_error=on_error,
            progress=progress,
            objective=recipe["pretrain_objective"],
            encoder_kwargs={"channels": tuple(recipe["channels"])},
        )
        start = {k: v.detach().cpu().clone() for k, v in network.state_dict().items()}
    cohort.scan_step = make_scan_block({**recipe, "shape": shape}, SCANS_BLOCK, start)
    cohort.scan_embedder, cohort.scan_shape = "supervised", shape
    cohort.scan_recipe = {**recipe, "shape": shape, "channels": list(recipe["channels"])}
    cohort.scan_encoder, cohort.scan_pretraining = None, record
    cohort.unmatched_scans, message = unmatched_scans(cohort, SCANS_BLOCK)
    if message:
        warnings.warn(message, UserWarning, stacklevel=3)
    return cohort
