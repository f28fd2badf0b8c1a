"""SupervisedVolumeEmbedder: a 3D CNN fine-tuned on the training labels, cross-fitted.

The encoder is trained inside the fold on the labels of the training patients and gives a small
block (the classifier's logit). For the training patients themselves ``fit_transform`` returns
out-of-fold values (internal K-fold cross-fitting, as stacking does), so a model fitted downstream
never sees values that memorized its own training labels; new patients get the mean of the K
fold encoders, or one encoder refitted on all training patients.

The training and reading of one network (augmented views, AdamW, moving average, early stopping,
test-time flips) live in :mod:`features.imaging._network`; the cross-fitting loop is here.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit, check_cv
from sklearn.utils.validation import check_is_fitted

from graphboost import resolve_device, seeded_torch

from ._encoders import ENCODERS, build_encoder, encoder_kwargs_for, load_encoder_weights
from ._network import NetworkTraining, VolumeClassifier
from ._transforms import VolumePreprocessor
from ._volume_data import VolumeDataset, volume_loader

__all__ = ["SupervisedVolumeEmbedder"]

_INFERENCE = ("mean", "refit")
_ON_ERROR = ("raise", "skip")


def _is_missing(item) -> bool:
    """A cell of the scan column that holds no scan (None, NaN, pandas' NA or an empty path)."""
    if item is None or item is pd.NA or (isinstance(item, str) and not item.strip()):
        return True
    return isinstance(item, float) and np.isnan(item)


class SupervisedVolumeEmbedder(NetworkTraining, TransformerMixin, BaseEstimator):
    """Fine-tune a 3D CNN on the training labels and give its logit as a cross-fitted block.

    ``X`` is a table (e.g. :attr:`features.Cohort.X` joined with a column of scan paths) whose
    ``scan_column`` holds each patient's scan: a path, an array or a :class:`features.Volume`,
    or a missing value for a patient without one. The other columns pass through unchanged; the
    scan column is replaced by the block ``"<prefix>:missing"`` (with ``add_indicator``) and
    ``"<prefix>:logit"`` (binary labels; ``"<prefix>:logit_<k>"``, the log-probability of the k-th
    class, with more classes). A patient without a scan gets NaN in the block and 1 in the
    indicator, as :class:`features.Cohort` writes it, so the block is one ``feature_groups`` entry
    of :class:`graphboost.GraphBoostClassifier`.

    Training (each encoder): the volumes are preprocessed once (``preprocessor``), the encoder
    starts from ``pretrained`` weights (or a seeded random initialization), a dropout and a
    linear head are added, and AdamW (warm-up, cosine decay) minimizes the class-balanced
    cross-entropy on randomly augmented views
    (:func:`~features.imaging._network.random_views`: flips, small affine maps, intensity). The
    weights evaluated are an exponential moving average of the trained ones (``ema_decay``).
    Early stopping: the weights of the epoch with the lowest class-balanced
    loss on an internal stratified split (``validation_fraction`` of the encoder's training
    patients) are kept, and training stops after ``patience`` epochs without improvement (not
    before ``min_epochs``).

    Cross-fitting: :meth:`fit_transform` splits the training patients with a scan into ``cv``
    folds and trains one encoder per fold on the other folds; each patient's output comes from
    the encoder that never saw it (neither for training nor for early stopping). Which encoder
    gave which row is kept in :attr:`oof_fold_` and :attr:`cv_folds_`. As with scikit-learn's
    :class:`~sklearn.preprocessing.TargetEncoder`, ``fit(X, y).transform(X)`` is therefore not
    ``fit_transform(X, y)``: inside a :class:`~sklearn.pipeline.Pipeline`, ``fit`` calls
    ``fit_transform`` (out-of-fold values for the training patients) and ``predict`` calls
    :meth:`transform` (new patients).

    Parameters
    ----------
    scan_column : str, default="scan"
        Column of ``X`` holding the scans.
    prefix : str, default="scan"
        Name of the block: its columns are ``"<prefix>:..."``.
    encoder : {"small", "resnet10", "resnet18", "resnet34"}, default="small"
        Architecture (see :func:`features.build_encoder`).
    encoder_kwargs : dict, optional
        Constructor arguments, e.g. ``{"channels": (8, 16, 32, 64)}``.
    pretrained : path-like or dict, optional
        Starting weights of every encoder, e.g. from :func:`features.pretrain_encoder`
        (self-supervised, on unlabeled scans): a state dict or a file read with
        ``torch.load(weights_only=True)``.
    preprocessor : VolumePreprocessor, optional
        Default ``VolumePreprocessor()`` (64^3, min-max intensities).
    cv : int or cross-validation splitter, default=5
        Cross-fitting folds: a number of stratified, shuffled folds (seeded by
        ``random_state``) or a scikit-learn splitter that holds out every patient at least once.
        With a repeated splitter (e.g. ``RepeatedStratifiedKFold``) a training patient's value
        is the mean over the encoders that held it out, and new patients get the mean of all.
    inference : {"mean", "refit"}, default="mean"
        New patients: the mean of the fold encoders' outputs, or the output of one more encoder
        trained on all training patients (one more training).
    max_epochs : int, default=30
    patience : int, default=10
        Epochs without a lower validation loss before training stops.
    min_epochs : int or None, default=None
        No early stop before this many epochs (``None``: half of ``max_epochs``). A network
        often collapses to a constant output in its first epochs at the full learning rate
        (validation loss just above chance) and recovers a few epochs later; stopping during
        that plateau would keep the first epoch's nearly untrained weights. Measured on
        AdrenalMNIST3D (32^3, one fold): a constant output from epoch 2 to 8, then validation
        AUROC 0.60 -> 0.85 by epoch 15.
    validation_fraction : float, default=0.2
        Share of each encoder's training patients held out for early stopping. With fewer than
        two patients of each class in it, early stopping is off and all ``max_epochs`` run.
    batch_size : int, default=32
    lr : float, default=1e-3
        AdamW learning rate.
    weight_decay : float, default=1e-4
    dropout : float, default=0.2
        Before the linear head.
    ema_decay : float or None, default=0.98
        The weights evaluated and kept are an exponential moving average of the trained ones
        (updated after every batch with this decay), which smooths the epoch-to-epoch swings of
        small-batch training; ``None`` keeps the trained weights themselves.
    augment : float, default=1.0
        Strength of the random views (:func:`~features.imaging._network.random_views`); 0
        keeps random flips only, ``None`` turns augmentation off. The affine maps resample the
        volume (trilinear), which smooths texture finer than a voxel or two: use 0 when the
        signal is such texture.
    test_time_flips : bool, default=False
        The block's values are the mean of the logits of the 8 flips of each volume (along each
        spatial axis, the flips of training), for the out-of-fold values as for new patients;
        8 times the inference cost. Early stopping reads the unflipped volumes.
    add_indicator : bool, default=True
        Add ``"<prefix>:missing"`` (1 for a patient without a usable scan). Set it to False when
        every patient has a scan (the column would be constant).
    on_error : {"raise", "skip"}, default="raise"
        A scan that cannot be read or preprocessed: raise, or treat the patient as lacking a
        scan (listed by row position in :attr:`skipped_`).
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
        See :func:`graphboost.resolve_device`.
    amp : bool, default=True
        Mixed precision (bfloat16 autocast) on CUDA; the CPU runs float32.
    num_workers : int, default=0
        DataLoader workers reading and preprocessing scans.
    random_state : int, default=0
        Seeds the folds, the internal splits, the initial weights, the batches and the views.
    verbose : bool, default=False
        One line per trained encoder.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_channels_ : int
        Channels of the preprocessed scans: the encoders' ``in_channels`` (read from the scans,
        so multi-channel volumes need no ``encoder_kwargs``).
    device_ : torch.device
    fold_models_ : list of torch.nn.Module
        The fold encoders with their heads (CPU, eval mode); empty after ``fit`` with
        ``inference="refit"`` (no cross-fitting needed there).
    model_ : torch.nn.Module or None
        The encoder refitted on all training patients (``inference="refit"``).
    cv_folds_ : list of (ndarray, ndarray)
        Row positions of ``X`` in ``fit`` with which each fold encoder was trained (including
        its early-stopping split) and those it gave out-of-fold values for.
    oof_fold_ : ndarray of shape (n_samples,)
        For each row of ``X`` in ``fit``: the fold encoder that gave its out-of-fold value
        (-1: no scan; with a repeated ``cv``, the last of those that held it out:
        :attr:`cv_folds_` lists them all).
    history_ : list of dict
        Per trained encoder: ``"name"`` ("fold 0"... or "refit"), ``"best_epoch"``,
        ``"train_loss"`` and ``"val_loss"`` per epoch, ``"seconds"``.
    skipped_ : list of int
        Row positions whose scan could not be used (``on_error="skip"``), in the last call.
    feature_names_in_ : ndarray of str
    n_features_in_ : int

    See Also
    --------
    VolumeEmbedder : unsupervised embeddings (random or self-supervised encoder).
    pretrain_encoder : self-supervised starting weights.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from features import SupervisedVolumeEmbedder, VolumePreprocessor
    >>> rng = np.random.default_rng(0)
    >>> y = np.array([0, 1] * 8)
    >>> scans = [rng.random((8, 8, 8)) + 2 * label * (rng.random((8, 8, 8)) > 0.5) for label in y]
    >>> X = pd.DataFrame({"age": rng.normal(60, 10, 16), "scan": scans})
    >>> emb = SupervisedVolumeEmbedder(
    ...     encoder_kwargs={"channels": (4, 4, 8, 8)}, preprocessor=VolumePreprocessor(shape=8),
    ...     cv=2, max_epochs=2, batch_size=4, add_indicator=False)
    >>> out = emb.fit_transform(X, y)  # out-of-fold logits of the training patients
    >>> list(out.columns), emb.oof_fold_.tolist()[:4]
    (['age', 'scan:logit'], [0, 0, 1, 1])
    >>> emb.transform(X.iloc[:2]).shape  # new patients: the mean of the 2 fold encoders
    (2, 2)
    """

    def __init__(
        self,
        *,
        scan_column="scan",
        prefix="scan",
        encoder="small",
        encoder_kwargs=None,
        pretrained=None,
        preprocessor=None,
        cv=5,
        inference="mean",
        max_epochs=30,
        patience=10,
        min_epochs=None,
        validation_fraction=0.2,
        batch_size=32,
        lr=1e-3,
        weight_decay=1e-4,
        dropout=0.2,
        ema_decay=0.98,
        augment=1.0,
        test_time_flips=False,
        add_indicator=True,
        on_error="raise",
        device="auto",
        amp=True,
        num_workers=0,
        random_state=0,
        verbose=False,
    ):
        self.scan_column = scan_column
        self.prefix = prefix
        self.encoder = encoder
        self.encoder_kwargs = encoder_kwargs
        self.pretrained = pretrained
        self.preprocessor = preprocessor
        self.cv = cv
        self.inference = inference
        self.max_epochs = max_epochs
        self.patience = patience
        self.min_epochs = min_epochs
        self.validation_fraction = validation_fraction
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.ema_decay = ema_decay
        self.augment = augment
        self.test_time_flips = test_time_flips
        self.add_indicator = add_indicator
        self.on_error = on_error
        self.device = device
        self.amp = amp
        self.num_workers = num_workers
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        name = type(self).__name__
        choices = {"inference": _INFERENCE, "on_error": _ON_ERROR, "encoder": ENCODERS}
        for param, allowed in choices.items():
            if getattr(self, param) not in allowed:
                raise ValueError(
                    f"The {param!r} parameter of {name} must be one of {set(allowed)}; "
                    f"got {getattr(self, param)!r}."
                )
        for param, low in (("max_epochs", 1), ("patience", 1), ("batch_size", 2)):
            value = getattr(self, param)
            if not isinstance(value, int | np.integer) or value < low:
                raise ValueError(
                    f"The {param!r} parameter of {name} must be an integer >= {low}; got {value!r}."
                )
        if self.min_epochs is not None and (
            not isinstance(self.min_epochs, int | np.integer) or self.min_epochs < 1
        ):
            raise ValueError(
                f"The 'min_epochs' parameter of {name} must be None or an integer >= 1; "
                f"got {self.min_epochs!r}."
            )
        if not 0.0 <= float(self.validation_fraction) < 1.0:
            raise ValueError(
                f"The 'validation_fraction' parameter of {name} must be in [0, 1); "
                f"got {self.validation_fraction!r}."
            )
        if self.ema_decay is not None and not 0.0 < float(self.ema_decay) < 1.0:
            raise ValueError(
                f"The 'ema_decay' parameter of {name} must be None or in (0, 1); "
                f"got {self.ema_decay!r}."
            )
        if self.augment is not None and float(self.augment) < 0:
            raise ValueError(
                f"The 'augment' parameter of {name} must be None or >= 0; got {self.augment!r}."
            )
        if not isinstance(self.test_time_flips, bool | np.bool_):
            raise ValueError(
                f"The 'test_time_flips' parameter of {name} must be True or False; "
                f"got {self.test_time_flips!r}."
            )
        if not isinstance(self.prefix, str) or not self.prefix or ":" in self.prefix:
            raise ValueError(
                f"The 'prefix' parameter of {name} must be a non-empty name without ':'; "
                f"got {self.prefix!r}."
            )

    def _check_frame(self, X, *, reset: bool) -> pd.DataFrame:
        name = type(self).__name__
        if not isinstance(X, pd.DataFrame):
            raise TypeError(
                f"{name} needs X as a pandas DataFrame with a column {self.scan_column!r} of "
                f"scans (paths, arrays or Volumes); got {type(X).__name__}."
            )
        columns = [str(c) for c in X.columns]
        if self.scan_column not in columns:
            raise ValueError(
                f"The scan column {self.scan_column!r} (parameter 'scan_column' of {name}) is "
                f"not a column of X; columns: {columns[:5]}{' ...' if len(columns) > 5 else ''}."
            )
        if reset:
            self.feature_names_in_ = np.asarray(columns, dtype=object)
            self.n_features_in_ = len(columns)
            return X
        missing = [c for c in self.feature_names_in_ if c not in columns]
        if missing:
            raise ValueError(f"Columns missing at transform time: {missing[:5]}.")
        return X[list(self.feature_names_in_)]

    def _check_y(self, y, n: int) -> np.ndarray:
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != n:
            raise ValueError(
                f"y must be 1-D with one label per row of X ({n}); got shape {y.shape}."
            )
        if pd.isna(y).any():
            raise ValueError(f"y has {int(pd.isna(y).sum())} missing label(s).")
        return y

    def block_columns(self, n_classes: int = 2) -> list[str]:
        """The block's value columns for ``n_classes`` classes (known before ``fit``).

        Parameters
        ----------
        n_classes : int, default=2

        Returns
        -------
        list of str
            ``["<prefix>:logit"]`` for two classes, else ``"<prefix>:logit_<k>"`` for each class.

        Examples
        --------
        >>> SupervisedVolumeEmbedder(prefix="ct").block_columns()
        ['ct:logit']
        """
        if n_classes == 2:
            return [f"{self.prefix}:logit"]
        return [f"{self.prefix}:logit_{k}" for k in range(n_classes)]

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """The columns of X without the scan column, then ``"<prefix>:missing"`` and the block."""
        check_is_fitted(self, "classes_")
        kept = [c for c in self.feature_names_in_ if c != self.scan_column]
        indicator = [f"{self.prefix}:missing"] if self.add_indicator else []
        names = kept + indicator + self.block_columns(len(self.classes_))
        return np.asarray(names, dtype=object)

    # ---------------------------------------------------------------- fitting
    def fit(self, X, y):
        """Train the encoders on the patients of ``X`` with a scan.

        With ``inference="mean"`` the ``cv`` fold encoders; with ``"refit"`` one encoder on all
        of them. Use :meth:`fit_transform` for the out-of-fold outputs of these patients.

        Parameters
        ----------
        X : pandas.DataFrame
            With the column ``scan_column``.
        y : array-like of shape (n_samples,)

        Returns
        -------
        self
        """
        self._fit(X, y, out_of_fold=False)
        return self

    def fit_transform(self, X, y=None, **fit_params):
        """Fit, and return the out-of-fold block of the training patients.

        Each patient's values come from the fold encoder that was trained without it
        (:attr:`oof_fold_`); with ``inference="refit"`` the encoder for new patients is trained
        as well.

        Parameters
        ----------
        X : pandas.DataFrame
        y : array-like of shape (n_samples,)

        Returns
        -------
        pandas.DataFrame
            ``X`` with the scan column replaced by the block (same index).
        """
        if y is None:
            raise ValueError(
                f"{type(self).__name__}.fit_transform needs the labels y: the encoders are "
                "trained on them."
            )
        return self._fit(X, y, out_of_fold=True)

    def _fit(self, X, y, *, out_of_fold: bool):
        self._check_params()
        frame = self._check_frame(X, reset=True)
        y = self._check_y(y, len(frame))
        self.device_ = resolve_device(self.device)
        rows, data = self._volumes(frame)
        self.n_channels_ = int(data.shape[1])  # checked by _new_model, before any training
        self.classes_, codes = np.unique(y[rows], return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 classes among the patients with a "
                f"scan; got {self.classes_.tolist()}."
            )
        self._seed = int(np.random.RandomState(self.random_state).randint(2**31 - 1))
        self.history_, self.fold_models_, self.cv_folds_ = [], [], []
        self.oof_fold_ = np.full(len(frame), -1)
        block = np.full((len(frame), len(self.block_columns(len(self.classes_)))), np.nan)
        data = data.to(self.device_)
        if out_of_fold or self.inference == "mean":
            self._cross_fit(data, codes, rows, block)
        self.model_ = None
        if self.inference == "refit":
            everyone = np.arange(len(rows))
            self.model_ = self._train(data, codes, everyone, "refit", len(self.fold_models_))
        return self._output(frame, block, rows) if out_of_fold else None

    def _cross_fit(self, data, codes, rows, block) -> None:
        """Train one encoder per fold; each patient's value in ``block`` is the mean over the
        encoders that held it out (one, unless ``cv`` repeats its splits)."""
        cv = self.cv
        if isinstance(cv, int | np.integer):
            cv = StratifiedKFold(int(cv), shuffle=True, random_state=self._seed % (2**31 - 1))
        cv = check_cv(cv, codes, classifier=True)
        total = np.zeros((len(rows), block.shape[1]))
        times = np.zeros(len(rows))
        for k, (train, held_out) in enumerate(cv.split(np.zeros((len(codes), 1)), codes)):
            model = self._train(data, codes, train, f"fold {k}", k)
            self.fold_models_.append(model)
            self.cv_folds_.append((rows[train], rows[held_out]))
            self.oof_fold_[rows[held_out]] = k
            total[held_out] += self._predict([model], data[held_out])
            times[held_out] += 1
        if (times == 0).any():
            raise ValueError(
                f"The 'cv' parameter of {type(self).__name__} must hold out every training "
                f"patient at least once (as KFold does); {int((times == 0).sum())} of "
                f"{len(times)} patients with a scan were never held out."
            )
        block[rows] = total / times[:, None]

    def _train(self, data, codes, positions, name: str, index: int) -> torch.nn.Module:
        """One encoder + head trained on ``positions`` (early stopping inside them)."""
        positions = np.asarray(positions)
        present = np.unique(codes[positions])
        if len(present) < len(self.classes_):
            raise ValueError(
                f"The training patients of {name} lack class(es) "
                f"{sorted(set(self.classes_.tolist()) - set(self.classes_[present].tolist()))}; "
                "use fewer or stratified folds (parameter 'cv')."
            )
        seed = int(np.random.SeedSequence([self._seed, index]).generate_state(1)[0])
        fit_idx, val_idx = self._early_stopping_split(codes, positions, seed)
        start = time.perf_counter()
        with seeded_torch(seed, self.device_):
            model = self._new_model().to(self.device_)
            gen = torch.Generator(device=data.device).manual_seed(seed)
            record = self._fit_network(model, data, codes, fit_idx, val_idx, gen)
        record.update(name=name, seconds=time.perf_counter() - start)
        self.history_.append(record)
        if self.verbose:
            print(
                f"{type(self).__name__} {name}: {len(fit_idx)} + {len(val_idx)} patients, best "
                f"epoch {record['best_epoch'] + 1} of {len(record['train_loss'])}, "
                f"{record['seconds']:.0f} s"
            )
        return model.cpu().eval()

    def _early_stopping_split(self, codes, positions, seed) -> tuple[np.ndarray, np.ndarray]:
        """Stratified (fit, validation) positions; no validation when it would be too small."""
        n_classes = len(self.classes_)
        counts = np.bincount(codes[positions], minlength=n_classes)
        n_val = int(np.ceil(float(self.validation_fraction) * len(positions)))
        if n_val < 2 * n_classes or (counts * float(self.validation_fraction)).min() < 1.5:
            return positions, positions[:0]
        split = StratifiedShuffleSplit(1, test_size=n_val, random_state=seed % (2**31 - 1))
        fit, val = next(split.split(np.zeros((len(positions), 1)), codes[positions]))
        return positions[np.sort(fit)], positions[np.sort(val)]

    def _new_model(self) -> torch.nn.Module:
        encoder = build_encoder(
            self.encoder, **encoder_kwargs_for(self.encoder_kwargs, self.n_channels_)
        )
        if self.pretrained is not None:
            load_encoder_weights(encoder, self.pretrained)
        return VolumeClassifier(encoder, len(self.classes_), float(self.dropout))

    # -------------------------------------------------------------- transform
    def transform(self, X):
        """The block of new patients: mean of the fold encoders, or the refitted encoder.

        ``inference`` is read here, so after ``fit_transform(X, y)`` with ``inference="refit"``
        (which trains both kinds), ``set_params(inference="mean")`` switches to the fold encoders.

        Parameters
        ----------
        X : pandas.DataFrame
            The columns seen in ``fit``.

        Returns
        -------
        pandas.DataFrame
            ``X`` with the scan column replaced by the block (same index).
        """
        check_is_fitted(self, "classes_")
        self._check_params()
        frame = self._check_frame(X, reset=False)
        models = [self.model_] if self.inference == "refit" else self.fold_models_
        if not models or models[0] is None:
            raise ValueError(
                f"This SupervisedVolumeEmbedder has no encoder for inference={self.inference!r}: "
                "fit trains the fold encoders for 'mean' and one refitted encoder for 'refit' "
                "(fit_transform with 'refit' trains both); fit it again."
            )
        rows, data = self._volumes(frame)
        block = np.full((len(frame), len(self.block_columns(len(self.classes_)))), np.nan)
        if len(rows) and data.shape[1] != self.n_channels_:
            raise ValueError(
                f"The preprocessed scans have {data.shape[1]} channel(s); this "
                f"{type(self).__name__} was fitted on {self.n_channels_}."
            )
        if len(rows):
            block[rows] = self._predict(models, data)
        return self._output(frame, block, rows)

    def _volumes(self, frame: pd.DataFrame) -> tuple[np.ndarray, torch.Tensor]:
        """Row positions with a usable scan and their preprocessed volumes ``(n, C, D, H, W)``."""
        items = frame[self.scan_column].tolist()
        positions = [i for i, item in enumerate(items) if not _is_missing(item)]
        pre = self.preprocessor if self.preprocessor is not None else VolumePreprocessor()
        loader = volume_loader(
            VolumeDataset(items, positions, pre, None, None),
            batch_size=16,
            num_workers=int(self.num_workers),
            device="cpu",  # every volume is kept in memory, then moved once
        )
        self.skipped_, rows, arrays = [], [], []
        for batch in loader:
            rows.extend(batch.positions)
            arrays.extend(batch.volumes)  # the volumes of a stacked tensor, or the list
            for pos, err in batch.failures:
                if self.on_error == "raise":
                    err = (
                        err.replace(str(items[pos]), "<scan>")
                        if isinstance(items[pos], str)
                        else err
                    )
                    raise ValueError(
                        f"Cannot use the scan in row {pos} of column {self.scan_column!r}: {err}. "
                        "Pass on_error='skip' to treat such patients as lacking a scan."
                    )
                self.skipped_.append(pos)
        shapes = sorted({tuple(a.shape) for a in arrays})
        if len(shapes) > 1:
            raise ValueError(
                f"Preprocessed scans have different shapes {shapes[:3]}; give the preprocessor "
                "a fixed shape (VolumePreprocessor(shape=...))."
            )
        if not arrays:
            return np.zeros(0, dtype=int), torch.zeros((0, 1, 1, 1, 1))
        return np.asarray(rows), torch.stack(arrays)

    def _output(self, frame: pd.DataFrame, block: np.ndarray, rows: np.ndarray) -> pd.DataFrame:
        out = frame.drop(columns=[self.scan_column])
        if self.add_indicator:
            indicator = np.ones(len(frame))
            indicator[rows] = 0.0
            out[f"{self.prefix}:missing"] = indicator
        names = self.block_columns(len(self.classes_))
        values = pd.DataFrame(block, index=frame.index, columns=names)
        return pd.concat([out, values], axis=1)
