"""Datasets for the runner and the command line: tables, labels, and the named cohorts."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

DATASETS = ("adrenalmnist3d", "csv", "duke")
"""Dataset kinds a benchmark config may name."""

DUKE_TASKS = ("pcr", "tnbc", "tnbc-imaging")

TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq", ".xlsx", ".xls")


class InputError(ValueError):
    """Bad user input (file, column, label, config); the CLI prints it as one line."""


@dataclass
class Dataset:
    """A cohort ready for cross-validation.

    Attributes
    ----------
    name : str
    X : pandas.DataFrame
        Features (raw; preprocessing happens inside the folds).
    y : ndarray
        Labels as given (encoded by the runner).
    feature_groups : dict of str to list of str
        Named column blocks (for example an imaging embedding) for GraphBoostClassifier.
    groups : ndarray or None
        Site / scanner / source-cohort of each patient, for leave-one-group-out evaluation.
    group_column : str or None
    """

    name: str
    X: pd.DataFrame
    y: np.ndarray
    feature_groups: dict = field(default_factory=dict)
    groups: np.ndarray | None = None
    group_column: str | None = None


def data_dir():
    """Shared data folder: ``$GRAPHBOOST_DATA_DIR`` or ``<repo>/../shared/data``."""
    env = os.environ.get("GRAPHBOOST_DATA_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


def read_table(path):
    """Read a cohort table (CSV, TSV, Parquet or Excel) with a clear error for anything else.

    Examples
    --------
    >>> read_table("cohort.txt")  # doctest: +SKIP
    Traceback (most recent call last):
    InputError: Cannot read 'cohort.txt': unsupported format '.txt' ...
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise InputError(
            f"Cannot read '{path}': unsupported format '{suffix}' "
            f"(supported: {', '.join(TABLE_SUFFIXES)})."
        )
    if not path.is_file():
        raise InputError(f"Cohort file not found: '{path}'.")
    try:
        if suffix == ".csv":
            return pd.read_csv(path)
        if suffix == ".tsv":
            return pd.read_csv(path, sep="\t")
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_excel(path)
    except Exception as exc:  # parser errors differ by format; report them in one line
        raise InputError(f"Cannot read '{path}' as {suffix[1:]}: {exc}") from exc


def split_table(df, label, exclude=(), group=None, source="the cohort table"):
    """Split a table into features, labels and optional groups, checking the columns.

    Parameters
    ----------
    df : pandas.DataFrame
    label : str
        Label column.
    exclude : sequence of str
        Columns that must not be used as features (identifiers, leakage).
    group : str or None
        Site / scanner column for leave-one-group-out evaluation (dropped from the features).
    source : str
        Where the table came from, for error messages.

    Returns
    -------
    X, y, groups
    """
    if label is None:
        raise InputError("No label column given (--label).")
    needed = [label, *exclude] + ([group] if group else [])
    missing = [c for c in needed if c not in df.columns]
    if missing:
        cols = ", ".join(map(str, list(df.columns)[:8]))
        more = "" if df.shape[1] <= 8 else f", ... ({df.shape[1]} columns)"
        raise InputError(f"Columns not found in {source}: {missing[:5]}; available: {cols}{more}.")
    y = df[label]
    if y.isna().any():
        raise InputError(
            f"Label column {label!r} has {int(y.isna().sum())} missing values; "
            "drop those patients or fill the label."
        )
    drop = [label, *exclude] + ([group] if group else [])
    X = df.drop(columns=list(dict.fromkeys(drop)))
    if X.shape[1] == 0:
        raise InputError(f"No feature columns left in {source} after removing {drop}.")
    groups = None
    if group:
        if df[group].isna().any():
            raise InputError(f"Group column {group!r} has missing values.")
        groups = df[group].astype(str).to_numpy()
    return X, y.to_numpy(), groups


def check_labels(y, n_splits, what="the label"):
    """Check that ``y`` has two or more classes and enough patients per class for the folds.

    Examples
    --------
    >>> check_labels([0, 1, 0, 1, 1, 0], n_splits=3)
    >>> check_labels([1, 1, 1], n_splits=2)
    Traceback (most recent call last):
    ...
    experiments._data.InputError: The label has a single class (1): nothing to predict.
    """
    values, counts = np.unique(np.asarray(y).astype(str), return_counts=True)
    if values.size < 2:
        raise InputError(
            f"{what[0].upper()}{what[1:]} has a single class ({values[0]}): nothing to predict."
        )
    small = [(str(v), int(c)) for v, c in zip(values, counts, strict=True) if c < n_splits]
    if small:
        desc = ", ".join(f"class {v!r} has {c}" for v, c in small)
        raise InputError(
            f"{what[0].upper()}{what[1:]}: {desc} patients; {n_splits}-fold cross-validation needs "
            f"at least {n_splits} per class. Use fewer folds or merge rare classes."
        )


def _unpack_loader_result(res, name):
    """Accept (X, y, groups) tuples, dicts or Bunch-like objects from the features loaders."""
    if isinstance(res, tuple):
        if len(res) == 3:
            return res
        if len(res) == 2:
            return res[0], res[1], {}
    if isinstance(res, dict):
        return res["X"], res["y"], res.get("feature_groups", {})
    if hasattr(res, "X") and hasattr(res, "y"):
        return res.X, res.y, getattr(res, "feature_groups", {}) or {}
    raise TypeError(f"Unexpected result from {name}: {type(res).__name__}")


def _features_api(name):
    try:
        import features
    except ImportError as exc:  # pragma: no cover - features ships with the package
        raise InputError(f"The 'features' package is needed for {name}: {exc}") from exc
    fn = getattr(features, name, None)
    if fn is None:
        raise InputError(f"features.{name} is not available in this installation.")
    return fn


def load_dataset(spec, n_splits=5):
    """Load the dataset a config's ``[dataset]`` table describes.

    Parameters
    ----------
    spec : dict
        ``kind`` (one of :data:`DATASETS`) and its options: ``task`` for ``duke``;
        ``path``, ``label``, ``exclude``, ``groups`` for ``csv``; ``size`` (28 or 64),
        ``encoder`` and ``cache_dir`` for ``adrenalmnist3d``. ``group_column`` (any kind) names a
        site / scanner column used for leave-one-group-out evaluation.
    n_splits : int
        Folds the labels must support.

    Returns
    -------
    Dataset
    """
    kind = spec.get("kind")
    if kind not in DATASETS:
        raise InputError(f"Unknown dataset kind {kind!r}; choose one of {list(DATASETS)}.")
    group_col = spec.get("group_column") or None
    if kind == "csv":
        if "path" not in spec:
            raise InputError("A 'csv' dataset needs 'path' (the cohort table).")
        df = read_table(spec["path"])
        X, y, groups = split_table(
            df, spec.get("label"), spec.get("exclude", []), group_col, source=f"'{spec['path']}'"
        )
        fg = {k: list(v) for k, v in spec.get("feature_groups", {}).items()}
        ds = Dataset(f"csv:{Path(spec['path']).name}", X, y, fg, groups, group_col)
    elif kind == "duke":
        task = spec.get("task")
        if task not in DUKE_TASKS:
            raise InputError(f"Unknown Duke task {task!r}; choose one of {list(DUKE_TASKS)}.")
        load_duke = _features_api("load_duke")
        kwargs = {}
        if spec.get("data_dir"):
            kwargs["data_dir"] = spec["data_dir"]
        X, y, fg = _unpack_loader_result(load_duke(task, **kwargs), "features.load_duke")
        X = pd.DataFrame(X)
        groups = None
        if group_col:
            if group_col not in X.columns:
                raise InputError(
                    f"Group column {group_col!r} not in the Duke {task} features; e.g. "
                    f"{[c for c in X.columns if 'anufact' in str(c)][:5]}."
                )
            groups = X[group_col].astype(str).to_numpy()
            X = X.drop(columns=[group_col])
            fg = {k: [c for c in v if c != group_col] for k, v in dict(fg).items()}
        ds = Dataset(f"duke:{task}", X, np.asarray(y), dict(fg), groups, group_col)
    else:  # adrenalmnist3d
        ds = _load_adrenal(spec)
    check_labels(ds.y, n_splits, what=f"the label of {ds.name}")
    if ds.groups is not None and np.unique(ds.groups).size < 2:
        raise InputError(
            f"Group column {group_col!r} has a single value; leave-one-group-out needs two or more."
        )
    return ds


def _load_adrenal(spec):
    """AdrenalMNIST3D volumes of one or more official splits as a feature table.

    ``features = "shape"`` (default): ``features.shape_features`` of each volume (hand-made shape
    statistics, no learning). ``features = "embedding"``: a ``features.VolumeEmbedder`` (options in
    ``[dataset.embedder]``; its weights are not fitted on labels) embeds the volumes. The splits
    are ``split = "train"`` (default), ``"train+val"`` or any ``+``-joined official split names.
    """
    load = _features_api("load_adrenalmnist3d")
    size = int(spec.get("size", 28))
    kwargs = {"data_dir": spec["data_dir"]} if spec.get("data_dir") else {}
    data = load(size=size, **kwargs)
    parts = [data.split(name) for name in str(spec.get("split", "train")).split("+")]
    volumes = np.concatenate([p[0] for p in parts])
    y = np.concatenate([np.asarray(p[1]).ravel() for p in parts])
    kind = spec.get("features", "shape")
    if kind == "shape":
        shape_features = _features_api("shape_features")
        X = pd.DataFrame([shape_features(v) for v in volumes])
        groups = {}
    elif kind == "embedding":
        embedder_cls = _features_api("VolumeEmbedder")
        embedder = embedder_cls(**spec.get("embedder", {}))
        emb = np.asarray(embedder.fit().transform(list(volumes.astype(np.float32) / 255.0)))
        X = pd.DataFrame(emb, columns=[f"emb_{i}" for i in range(emb.shape[1])])
        groups = {"ct": list(X.columns)}
    else:
        raise InputError(
            f"Unknown AdrenalMNIST3D features {kind!r}; choose one of ['embedding', 'shape']."
        )
    return Dataset(f"adrenalmnist3d-{size}:{spec.get('split', 'train')}", X, y, groups)
