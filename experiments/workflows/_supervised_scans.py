"""The supervised scan block of the scans path (``scan_embedder="supervised"``,
``graphboost fit --scans DIR --scan-embedder supervised``).

Instead of the self-supervised embeddings (``features.VolumeEmbedder``: 256 columns, reduced to 8
principal components in the fold), the block is the logit of a 3D CNN fine-tuned on the training
labels (``features.SupervisedVolumeEmbedder``): one column ``scans:logit`` beside the indicator
``scans:missing``. It learns from labels, so it is fitted on training patients only:

- a model folder (:func:`~experiments.workflows.fit_model_folder`): cross-fitted on all the
  training patients (each one's value comes from a fold encoder that never saw its label, as in
  stacking); new patients get the mean of the fold encoders;
- :func:`~experiments.workflows.cross_validate`, ``graphboost fit --cv`` and ``graphboost
  tune``: the first step of every pipeline (:class:`CrossFittedScanBlock`), so it is refitted
  inside every outer (and, for a search, inner) training fold and never reads the label of a
  held-out patient.

The recipe is that of the AdrenalMNIST3D study, in one place: :data:`SUPERVISED_RECIPES`.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from .._base import InputError
from ._scans import (
    _imaging,
    _patient,
    _unreadable_error,
    checked_scans,
    scan_files,
)

SCAN_EMBEDDERS = ("self-supervised", "supervised")
"""The scan embedders of the scans path (``scan_embedder=``, ``--scan-embedder``):
``"self-supervised"``, the encoder pretrained by masked reconstruction on the cohort's scans (no
label), its 256-d embeddings reduced to 8 components in the fold; ``"supervised"``, the
cross-fitted logit of an encoder fine-tuned on the training labels (:data:`SUPERVISED_RECIPES`)."""

DEFAULT_SCAN_EMBEDDER = "self-supervised"
"""The default scan embedder, chosen by measurement on the cohorts with scans
(``benchmarks/scan_embedders.py``, docs/results.md, "Which scan embedder"): the supervised block
did not beat the self-supervised one (demo, 10 folds: -0.014, 95% CI -0.059 to +0.027; the
texture-only cohort and AdrenalMNIST3D at 400 patients: the supervised block dropped by the guard
in 5 of 5 folds, +0.000), so the default stays."""

SCAN_FILE_COLUMN = "scans:file"
"""The column of a supervised scans task that holds each patient's scan (its path, or a missing
value for a patient without a usable scan); the first pipeline step turns it into the block."""

SUPERVISED_EMBEDDER = "scan_embedder"
"""The folder of a model folder that holds the fitted supervised embedder
(``features.save_supervised_embedder``: ``embedder.json`` and the ``state_dict`` of each fold
encoder, loaded with ``torch.load(weights_only=True)``)."""

SUPERVISED_RECIPES = {
    # The CPU profile of benchmarks/adrenal_mnist3d.py (docs/results.md, "Imaging:
    # AdrenalMNIST3D"): 32^3, 3 folds x 25 epochs, test-time flips (test 0.889 vs 0.876), no
    # early-stopping split (out-of-fold 0.825 vs 0.776 over 1,188 patients), SimCLR start (val
    # 0.826 vs 0.786 from scratch); 3.2-3.6 min of encoders for 1,188 patients on one thread.
    "cpu": {
        "shape": 32,
        "cv": 3,
        "max_epochs": 25,
        "patience": 8,
        "validation_fraction": 0.0,
        "test_time_flips": True,
        "augment": 1.0,
        "lr": 1e-3,
        "batch_size": 32,
        "channels": (16, 32, 64, 128),
        "pretrain_objective": "simclr",
        "pretrain_epochs": 12,
    },
    # Its GPU profile (one H200): 64^3, 5 folds x 30 epochs, the same flips, no split and SimCLR
    # start (val 0.828 vs 0.819 from scratch, test 0.897 vs 0.888).
    "cuda": {
        "shape": 64,
        "cv": 5,
        "max_epochs": 30,
        "patience": 10,
        "validation_fraction": 0.0,
        "test_time_flips": True,
        "augment": 1.0,
        "lr": 1e-3,
        "batch_size": 32,
        "channels": (16, 32, 64, 128),
        "pretrain_objective": "simclr",
        "pretrain_epochs": 12,
    },
}
"""The recipe of the supervised scan block by device type: ``"cuda"`` when a CUDA device is
there (``graphboost.resolve_device("auto")``), else ``"cpu"``; those of the AdrenalMNIST3D study
(``benchmarks/adrenal_mnist3d.py``, ``PROFILES``). ``shape``: the scans are resampled to that cube
(``--scan-shape`` wins); ``cv``, ``max_epochs``, ``patience``, ``validation_fraction``,
``test_time_flips``, ``augment``, ``lr``, ``batch_size``: ``features.SupervisedVolumeEmbedder``;
``channels``: the small CNN's widths; ``pretrain_objective`` and ``pretrain_epochs``: the
encoders' self-supervised start on every scan of the folder (no label;
``--scan-pretrain-epochs`` wins, 0: a seeded random start)."""

MEMO_SIZE = 8
"""Fitted embedders kept by :class:`CrossFittedScanBlock` in one process (the latest used)."""

_FITTED = OrderedDict()  # fit key -> (fitted embedder, its out-of-fold block)


def check_scan_embedder(value):
    """``value`` if it names a scan embedder (:data:`SCAN_EMBEDDERS`), else an error naming the
    option.

    Examples
    --------
    >>> check_scan_embedder("supervised")
    'supervised'
    >>> check_scan_embedder("cnn")
    Traceback (most recent call last):
    ...
    experiments._base.InputError: The scan embedder (--scan-embedder, scan_embedder=) must be \
one of 'self-supervised', 'supervised'; got 'cnn'.
    """
    if not isinstance(value, str) or value not in SCAN_EMBEDDERS:
        allowed = ", ".join(repr(v) for v in SCAN_EMBEDDERS)
        raise InputError(
            "The scan embedder (--scan-embedder, scan_embedder=) must be one of "
            f"{allowed}; got {value!r}."
        )
    return value


def supervised_recipe(device="auto", overrides=None):
    """The recipe of the supervised block for ``device`` (:data:`SUPERVISED_RECIPES`), with
    ``overrides`` (a dict of its keys) applied; ``"device_type"`` says which profile it is.

    Examples
    --------
    >>> recipe = supervised_recipe("cpu", {"max_epochs": 2})
    >>> recipe["device_type"], recipe["shape"], recipe["cv"], recipe["max_epochs"]
    ('cpu', 32, 3, 2)
    """
    from graphboost import resolve_device

    kind = "cuda" if resolve_device(device).type == "cuda" else "cpu"
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(SUPERVISED_RECIPES[kind]))
    if unknown:
        raise InputError(
            f"scan_recipe has unknown key(s) {unknown}; its keys are "
            f"{sorted(SUPERVISED_RECIPES[kind])}."
        )
    return {**SUPERVISED_RECIPES[kind], **overrides, "device_type": kind}


def make_scan_block(recipe, block, pretrained=None, random_state=0):
    """The unfitted pipeline step of the supervised block (a :class:`CrossFittedScanBlock`)."""
    features = _imaging()
    embedder = features.SupervisedVolumeEmbedder(
        scan_column=SCAN_FILE_COLUMN,
        prefix=block,
        encoder_kwargs={"channels": tuple(int(c) for c in recipe["channels"])},
        pretrained=pretrained,
        preprocessor=features.VolumePreprocessor(shape=int(recipe["shape"])),
        cv=int(recipe["cv"]),
        inference="mean",
        max_epochs=int(recipe["max_epochs"]),
        patience=int(recipe["patience"]),
        validation_fraction=float(recipe["validation_fraction"]),
        batch_size=int(recipe["batch_size"]),
        lr=float(recipe["lr"]),
        augment=recipe["augment"],
        test_time_flips=bool(recipe["test_time_flips"]),
        add_indicator=True,
        random_state=random_state,
    )
    return CrossFittedScanBlock(embedder)


class CrossFittedScanBlock(TransformerMixin, BaseEstimator):
    """The supervised scan block as the first step of a pipeline.

    ``fit_transform(X, y)`` fits a clone of ``embedder`` (a ``features.SupervisedVolumeEmbedder``)
    on the patients of ``X`` and returns their out-of-fold block (each patient's value from a
    fold encoder that never saw its label); ``transform`` gives new patients the mean of the
    fold encoders. ``X`` holds the scan column (:data:`SCAN_FILE_COLUMN`) beside the table's
    columns, which pass through.

    Within one process the fitted embedders of the last :data:`MEMO_SIZE` fits are kept, keyed by
    what the fit reads (the embedder's parameters and start weights, the column names, each
    scan's path, size and modification time, and the labels): a pipeline fitted again on the
    same training rows (logistic regression beside GraphBoost in a fold, the trials of a search
    on their inner folds) reuses that fit instead of training the same encoders again. The
    result is the same as a fresh fit with the same seed.

    Parameters
    ----------
    embedder : features.SupervisedVolumeEmbedder
        Unfitted.

    Attributes
    ----------
    embedder_ : features.SupervisedVolumeEmbedder
        The fitted embedder.
    reused_ : bool
        Whether the last fit reused an earlier one.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from features import SupervisedVolumeEmbedder, VolumePreprocessor
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"age": rng.normal(60, 10, 8),
    ...                   "scans:file": [rng.random((8, 8, 8)) for _ in range(8)]})
    >>> emb = SupervisedVolumeEmbedder(
    ...     scan_column="scans:file", prefix="scans", encoder_kwargs={"channels": (4, 4, 8, 8)},
    ...     preprocessor=VolumePreprocessor(shape=8), cv=2, max_epochs=1, batch_size=4,
    ...     device="cpu")
    >>> list(CrossFittedScanBlock(emb).fit_transform(X, [0, 1] * 4).columns)
    ['age', 'scans:missing', 'scans:logit']
    >>> CrossFittedScanBlock(emb).fit(X, [0, 1] * 4).reused_  # the same fit, in one process
    True
    """

    def __init__(self, embedder=None):
        self.embedder = embedder

    def fit(self, X, y):
        """Fit the embedder on ``X`` and ``y`` (see :meth:`fit_transform`)."""
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X, y=None, **fit_params):
        """Fit, and return ``X`` with the scan column replaced by the out-of-fold block."""
        if y is None:
            raise ValueError("CrossFittedScanBlock needs the labels y: its encoders learn them.")
        key = _fit_key(self.embedder, X, y)
        hit = _FITTED.get(key)
        self.reused_ = hit is not None
        if hit is None:
            embedder = clone(self.embedder)
            out = embedder.fit_transform(X, y)
            block = out[[c for c in out.columns if c not in X.columns]]
            _FITTED[key] = (embedder, block.to_numpy(), list(block.columns))
            while len(_FITTED) > MEMO_SIZE:
                _FITTED.popitem(last=False)
        else:
            _FITTED.move_to_end(key)
        embedder, values, names = _FITTED[key]
        self.embedder_ = embedder
        kept = X.drop(columns=[embedder.scan_column])
        return pd.concat([kept, pd.DataFrame(values, index=X.index, columns=names)], axis=1)

    def transform(self, X):
        """The block of new patients: the mean of the fold encoders."""
        check_is_fitted(self, "embedder_")
        return self.embedder_.transform(X)

    def get_feature_names_out(self, input_features=None):
        """The columns of ``X`` without the scan column, then the indicator and the block."""
        check_is_fitted(self, "embedder_")
        return self.embedder_.get_feature_names_out()


def _fit_key(embedder, X, y):
    """SHA-256 of what a fit of ``embedder`` on ``X``, ``y`` reads (see
    :class:`CrossFittedScanBlock`)."""
    h = hashlib.sha256()
    params = embedder.get_params(deep=False)
    pre, weights = params.pop("preprocessor"), params.pop("pretrained")
    h.update(json.dumps(params, sort_keys=True, default=repr).encode())
    h.update(json.dumps(None if pre is None else vars(pre), sort_keys=True, default=repr).encode())
    if isinstance(weights, dict):
        for name in sorted(weights):
            h.update(name.encode())
            h.update(weights[name].detach().cpu().contiguous().numpy().tobytes())
    else:
        h.update(repr(weights).encode())
    h.update(json.dumps([str(c) for c in X.columns]).encode())
    for item in X[embedder.scan_column].tolist():
        h.update(_item_key(item).encode())
    h.update("\n".join(map(str, np.asarray(y).tolist())).encode())
    return h.hexdigest()


def _item_key(item):
    """A scan path with its size and modification time; an array by its bytes; "-" for none."""
    if isinstance(item, str | Path):
        try:
            st = Path(item).stat()
        except OSError:
            return f"{item}|?"
        return f"{item}|{st.st_size}|{st.st_mtime_ns}"
    if isinstance(item, np.ndarray):
        return hashlib.sha256(np.ascontiguousarray(item).tobytes()).hexdigest()
    return "-"


def read_scans(folder, ids, *, shape, on_error, progress=False):
    """The scans of the patients ``ids`` in ``folder``, checked and each read once.

    Before any voxel is read: two scans of one patient, a scan with several frames
    (``checked_scans``). Then every scan of these patients is read and resampled to ``shape``^3;
    one that cannot be read is an error (:class:`ScanListError`, its file name in a list) or,
    with ``on_error="skip"``, left out.

    Returns
    -------
    files : dict of str to str
        Patient ID -> path of a usable scan.
    skipped : list of str
        Paths of the scans left out (``on_error="skip"``).
    others : list of str
        The IDs of the folder's scans of patients not in ``ids``.
    """
    features = _imaging()
    files, frames = checked_scans(folder, shape=shape, on_error=on_error, patients=set(ids))
    others = [k for k in scan_files(folder) if k not in set(ids)]
    pre = features.VolumePreprocessor(shape=int(shape))
    bad, skipped = [], [str(p) for p in frames]
    items = list(files.items())
    if progress:
        from tqdm.auto import tqdm

        items = tqdm(items, desc="reading scans", leave=False)
    for pid, path in items:
        try:
            pre(features.read_volume(str(path)))
        except Exception as exc:  # any reader's error: raised or skipped below
            bad.append((pid, path, f"Cannot read {path}: {type(exc).__name__}: {exc}"))
    if bad and on_error == "raise":
        raise _unreadable_error(ValueError(bad[0][2]), [p for _, p, _ in bad], "read the scans")
    for pid, path, _ in bad:
        skipped.append(str(path))
        del files[pid]
    return {pid: str(p) for pid, p in files.items()}, skipped, others


def attach_scans(cohort, folder, block, *, shape, on_error, progress=False):
    """Give ``cohort`` the scans of its patients for the supervised block.

    Sets ``cohort.scan_files`` (one entry per row of ``cohort.X``: the path of the patient's
    usable scan, or ``None``), ``cohort.skipped_scans`` (file names), and the unmatched IDs of
    ``block`` in ``cohort.unmatched_ids`` / ``unmatched_counts`` as ``features.Cohort`` writes
    them for a block (``"not_in_block"``: no scan; ``"empty_rows"``: a scan left out;
    ``"not_in_clinical"``: a scan of a patient not in the table).
    """
    ids = [str(i) for i in cohort.patient_ids]
    files, skipped, others = read_scans(
        folder, ids, shape=shape, on_error=on_error, progress=progress
    )
    skipped_ids = {_patient(p) for p in skipped}
    cohort.scan_files = [files.get(i) for i in ids]
    cohort.skipped_scans = [Path(p).name for p in skipped]
    unmatched = {
        "not_in_block": [i for i in ids if i not in files and i not in skipped_ids],
        "empty_rows": [i for i in ids if i in skipped_ids],
        "not_in_clinical": list(others),
    }
    cohort.unmatched_ids = {**getattr(cohort, "unmatched_ids", {}), block: unmatched}
    counts = {k: len(v) for k, v in unmatched.items()}
    cohort.unmatched_counts = {**getattr(cohort, "unmatched_counts", {}), block: counts}
    return cohort


def supervised_task(task, cohort, block):
    """``task`` (of ``cohort``) with the scan column and the block's group and preprocessing.

    The scan column (:data:`SCAN_FILE_COLUMN`) is added to ``X``; the group ``block`` names the
    block's value columns, which the preprocessor scales (and does not impute with a per-column
    indicator: ``"<block>:missing"`` says which patients lack a scan).
    """
    from dataclasses import replace

    step = cohort.scan_step
    if block in task.feature_groups:
        raise InputError(
            f"Group {block!r} has the name of the scans block; give the group another name."
        )
    X = task.X.copy()
    X[SCAN_FILE_COLUMN] = pd.Series(cohort.scan_files, index=cohort.X.index, dtype=object)
    values = step.embedder.block_columns(len(np.unique(np.asarray(task.y))))
    indicator = f"{block}:missing"
    pre = clone(task.preprocessor).set_params(
        numeric=[*(task.preprocessor.numeric or []), *values],
        binary=[*(task.preprocessor.binary or []), indicator],
        skip_indicator=[*(task.preprocessor.skip_indicator or []), *values],
    )
    groups = {**task.feature_groups, block: values}
    return replace(task, X=X, feature_groups=groups, preprocessor=pre)


def check_scan_classes(y, scan_files, folds, cv=0, what="the label"):
    """Refuse, before any work, a class with too few patients with a scan for the block's
    ``folds`` cross-fitted encoders (each needs every class among its training patients), in
    the smallest training part of a ``cv``-fold cross-validation (0: none).

    Examples
    --------
    >>> check_scan_classes(["a", "b"] * 4, ["f"] * 8, folds=3)
    >>> check_scan_classes(["a", "b"] * 4, ["f"] * 6 + [None] * 2, folds=3, cv=2)
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    experiments._base.InputError: The label: class 'a' has 3 patients with a scan (1 in a ...
    """
    y = np.asarray(y).astype(str)
    has = np.array([f is not None for f in scan_files], dtype=bool)
    what = what[0].upper() + what[1:]
    folds = int(folds) if isinstance(folds, int | np.integer) else 2
    for value in np.unique(y):
        n = int(((y == value) & has).sum())
        seen = n if cv < 2 else n - -(-n // cv)
        if seen < folds:
            where = f" ({seen} in a training fold of the {cv}-fold cross-validation)" if cv else ""
            raise InputError(
                f"{what}: class {str(value)!r} has {n} patient{'' if n == 1 else 's'} with a scan"
                f"{where}; the supervised "
                f"scan block trains {folds} cross-fitted encoders, which needs at least {folds} "
                "in each class. Use fewer folds, merge rare classes, or --scan-embedder "
                "self-supervised."
            )


def seeded_step(step, random_state):
    """An unfitted copy of the scans step whose embedder is seeded by ``random_state``."""
    return clone(step).set_params(embedder__random_state=random_state)


def save_scan_block(step, folder):
    """Write the fitted embedder of ``step`` into ``folder`` (:data:`SUPERVISED_EMBEDDER`)."""
    features = _imaging()
    return features.save_supervised_embedder(step.embedder_, Path(folder) / SUPERVISED_EMBEDDER)
