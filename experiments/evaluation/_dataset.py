"""Datasets for the runner and the workflows: a cohort table (through ``features.Cohort``) or a
named cohort, ready for cross-validation.

``graphboost`` and ``features`` import torch, so they are imported inside the functions that use
them: ``import experiments`` (and ``graphboost --help``) stays fast.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .._base import InputError

DATASETS = ("adrenalmnist3d", "csv", "duke", "public")
"""Dataset kinds a benchmark config may name."""

DUKE_TASKS = ("pcr", "tnbc", "tnbc-imaging")

BLOCK_COMPONENTS = 8
"""Principal components kept of each embedding block of a cohort that has more columns, fitted
inside each training fold (``features.ClinicalPreprocessor(block_components=...)``). Measured:
AdrenalMNIST3D, shape features + the 256-d block, test AUROC 0.891 raw, 0.922 reduced; the demo
cohort, 10 x 5-fold CV: 0.883 raw, 0.899 reduced, paired +0.016 (95% CI +0.001 to +0.030;
docs/results.md)."""

PUBLIC_TASKS = ("ad_data", "gbsg", "indo_rct", "nwtco", "pima", "rotterdam")
"""Public cohorts of ``features.load_public_cohort`` (cards in ``docs/datasets/<name>.md``)."""


def _task(*args, **kwargs):
    """A ``features.Task``, the one container of a task (imported here: features imports torch)."""
    from features import Task

    return Task(*args, **kwargs)


def __getattr__(name):
    """``Dataset`` is ``features.Task``, resolved on first use so ``import experiments`` stays
    light."""
    if name == "Dataset":
        from features import Task

        return Task
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


MAX_LABEL_VALUES = 20
"""A label column with more distinct values than ``max(MAX_LABEL_VALUES, patients / 2)``, or a
numeric one with more than ``MAX_LABEL_VALUES``, is refused as the wrong column (an ID, a date, a
measurement such as age): a classifier's label holds a few classes, each shared by many patients.
"""


def _patients(n):
    return f"{n} patient" if n == 1 else f"{n} patients"


def _case_variants(values, counts):
    """Groups of label values equal but for case or surrounding spaces, with their counts."""
    groups = {}
    for v, c in zip(values, counts, strict=True):
        groups.setdefault(str(v).strip().casefold(), []).append((str(v), int(c)))
    return [g for g in groups.values() if len(g) > 1]


def check_labels(y, n_splits, what="the label"):
    """Check that ``y`` holds a few well-written classes, enough patients each for the folds.

    Refused, each with the remedy (never a guess): a label with too many distinct values for
    classes (see :data:`MAX_LABEL_VALUES`; no value is shown, as it may be an ID or a patient's
    measurement); values that differ only in case or surrounding spaces (``"Yes"``, ``"yes"``,
    ``"no "``: shown with their counts); a single class; with ``n_splits >= 2``, a class with
    fewer patients than folds.

    Examples
    --------
    >>> check_labels([0, 1, 0, 1, 1, 0], n_splits=3)
    >>> check_labels([1, 1, 1], n_splits=2)
    Traceback (most recent call last):
    ...
    experiments._base.InputError: The label has a single class (1): nothing to predict.
    """
    y = np.asarray(y)
    values, counts = np.unique(y.astype(str), return_counts=True)
    what = what[0].upper() + what[1:]
    numeric = y.dtype.kind in "iuf"
    if values.size > max(MAX_LABEL_VALUES, y.size / 2) or (
        numeric and values.size > MAX_LABEL_VALUES
    ):
        kind = "numeric " if numeric else ""
        raise InputError(
            f"{what} has {values.size} distinct {kind}values among {_patients(y.size)}; is it "
            "the right column? A label holds a few classes (e.g. 0/1, yes/no), each shared by "
            "many patients; an ID or a measurement is not one (turn a measurement into classes "
            "first, e.g. by a threshold)."
        )
    variants = _case_variants(values, counts)
    if variants:
        shown = "; ".join(", ".join(f"{v!r}: {_patients(c)}" for v, c in g) for g in variants)
        raise InputError(
            f"{what} has values that differ only in case or surrounding spaces ({shown}); "
            "they would be taken as different classes. Write each class one way in the table."
        )
    if values.size < 2:
        raise InputError(f"{what} has a single class ({values[0]}): nothing to predict.")
    small = [(str(v), int(c)) for v, c in zip(values, counts, strict=True) if c < n_splits]
    if small:
        desc = ", ".join(f"class {v!r} has {_patients(c)}" for v, c in small)
        raise InputError(
            f"{what}: {desc}; {n_splits}-fold cross-validation needs at least {n_splits} per "
            "class. Use fewer folds or merge rare classes."
        )


def _model_needs(params):
    """The patients per class GraphBoostClassifier with ``params`` needs, and why (plain words).

    Mirrors the checks of ``graphboost`` (its linear start's inner 3-fold cross-validation, the
    validation split of early stopping and of the GNN), so that a rare class is refused before
    any work, in the user's words and classes.
    """
    params = params or {}
    needs = [(1, "")]
    if params.get("init", "logistic") == "logistic":
        why = (
            "the model's linear start (init='logistic') chooses its regularization by an inner "
            "3-fold cross-validation, which needs at least 3"
        )
        needs.append((3, why))
    if params.get("early_stopping", False):
        needs.append(
            (2, "early stopping holds out a validation split with every class: at least 2")
        )
    if params.get("conv", "vote") != "vote":
        why = f"the GNN (conv={params['conv']!r}) holds out a validation split with every class"
        needs.append((2, why + ": at least 2"))
    return max(needs)


def _seen(n, k):
    """Patients of a class of ``n`` in the smallest training part of stratified ``k`` folds."""
    return n if k < 2 else n - -(-n // k)


def check_class_sizes(y, params=None, *, cv=0, inner_splits=None, what="the label"):
    """Refuse a class too small for the model with ``params``, in plain words and before any work.

    ``cv`` (folds of a cross-validation, 0: none) and ``inner_splits`` (folds of the
    recalibration, ``None``: none) shrink what each fitted copy sees: a class of ``n`` patients
    leaves ``n - ceil(n / k)`` in the smallest training part of ``k`` stratified folds.

    Examples
    --------
    >>> check_class_sizes(["a"] * 5 + ["b"] * 3)
    >>> check_class_sizes(["a"] * 5 + ["b"] * 2)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    experiments._base.InputError: The label: class 'b' has 2 patients; the model's linear ...
    """
    values, counts = np.unique(np.asarray(y).astype(str), return_counts=True)
    values, counts = [str(v) for v in values], [int(c) for c in counts]
    what = what[0].upper() + what[1:]
    need, why = _model_needs(params)
    if inner_splits is not None:
        seen = [_seen(n, cv) for n in counts]
        small = [
            (v, n, s) for v, n, s in zip(values, counts, seen, strict=True) if s < inner_splits
        ]
        if small:
            v, n, s = small[0]
            where = f" ({s} in a training fold of the {cv}-fold cross-validation)" if cv else ""
            raise InputError(
                f"{what}: class {v!r} has {_patients(n)}{where}; the recalibration fits "
                f"on {inner_splits} inner folds, which needs at least {inner_splits} in each "
                "class. Use fewer inner splits or merge rare classes."
            )
    fit_on = [_seen(_seen(n, cv), inner_splits or 0) for n in counts]
    small = [(v, n, s) for v, n, s in zip(values, counts, fit_on, strict=True) if s < need]
    if not small:
        return
    parts = [f"a training fold of the {cv}-fold cross-validation"] if cv else []
    if inner_splits:
        parts.append(f"a copy of the recalibration ({inner_splits} inner folds)")
    where = f" in {' within '.join(parts)}" if parts else ""
    desc = ", ".join(
        f"class {v!r} has {_patients(n)}" + (f" ({s}{where})" if parts else "") for v, n, s in small
    )
    remedy = "Merge or remove the rare class" + (", use fewer folds" if cv else "")
    if "init=" in why:
        remedy += ", or start from the class prior (--param init=null)"
    raise InputError(f"{what}: {desc}; {why} in each class. {remedy}.")


def read_cohort(data, *, label=None, id_column=None, exclude=(), blocks=None):
    """A ``features.Cohort`` from a table file (or DataFrame) and optional embedding blocks.

    Parameters
    ----------
    data : str, Path or pandas.DataFrame
        The clinical table, read by ``features.read_table`` (ID column as text, verbatim).
    label, id_column, exclude, blocks
        As for ``features.Cohort``; without ``id_column`` the row number is the patient ID.

    Returns
    -------
    features.Cohort
    """
    from features import Cohort, read_table

    table = data if isinstance(data, pd.DataFrame) else read_table(data, id_column=id_column)
    return Cohort(table, blocks, id_column=id_column, label=label, exclude=list(exclude))


def resolve_groups(groups, columns):
    """Check named column blocks against ``columns``; an entry ``"prefix*"`` expands.

    Each entry is a column name, or ends in ``*`` and takes every column whose name starts with
    the text before it. A group naming no column, a name that is not a column and a pattern
    that matches no column are errors that name the group.

    Examples
    --------
    >>> resolve_groups({"lab": ["crp", "wbc"], "mri": ["e*"]}, ["age", "crp", "wbc", "e0", "e1"])
    {'lab': ['crp', 'wbc'], 'mri': ['e0', 'e1']}
    >>> resolve_groups({"lab": ["crp_*"]}, ["age", "crp"])
    Traceback (most recent call last):
    ...
    experiments._base.InputError: Group 'lab': pattern 'crp_*' matches no column.
    """
    out, known = {}, set(columns)
    for name, entries in (groups or {}).items():
        cols = []
        for entry in entries:
            if str(entry).endswith("*"):
                matched = [c for c in columns if str(c).startswith(str(entry)[:-1])]
                if not matched:
                    raise InputError(f"Group {name!r}: pattern {entry!r} matches no column.")
                cols += [c for c in matched if c not in cols]
            elif entry not in cols:
                cols.append(entry)
        bad = [c for c in cols if c not in known]
        if bad:
            raise InputError(f"Group {name!r} names columns that are not features: {bad[:5]}.")
        if not cols:
            raise InputError(f"Group {name!r} names no column.")
        out[str(name)] = cols
    return out


def block_indicators(cohort):
    """Cohort features with a ``"<block>:missing"`` column for every block (0 where absent).

    ``features.Cohort`` writes the indicator only when some patient lacks the block; a model
    keeps it always, so that a new patient without a scan is never linked through the block.
    """
    X = cohort.X.copy()
    for name in cohort.feature_groups:
        indicator = f"{name}:missing"
        if name != "clinical" and indicator not in X.columns:
            X.insert(X.columns.get_loc(cohort.feature_groups[name][0]), indicator, 0.0)
    return X


def cohort_preprocessor(cohort, block_components=None):
    """``Cohort.make_preprocessor`` for the features of :func:`block_indicators`.

    The cohort's own preprocessor, with the ``"<block>:missing"`` columns that
    :func:`block_indicators` adds declared binary too; the blocks in ``block_components``
    (name -> count) are reduced to that many components.
    """
    added = [
        f"{name}:missing"
        for name in cohort.feature_groups
        if name != "clinical" and f"{name}:missing" not in cohort.X.columns
    ]
    return cohort.make_preprocessor(binary=added, block_components=block_components or None)


def reduced_blocks(blocks, block_components):
    """Block -> components, for the blocks wider than ``block_components`` (0 or None: none).

    Examples
    --------
    >>> reduced_blocks({"mri": [f"mri:{i}" for i in range(256)], "lab": ["lab:a"]}, 8)
    {'mri': 8}
    """
    if block_components is None or block_components == 0:
        return {}
    if isinstance(block_components, bool) or not isinstance(block_components, int):
        raise InputError(
            f"block_components must be a whole number (0: keep the blocks whole); got "
            f"{block_components!r}."
        )
    if block_components < 0:
        raise InputError(f"block_components must be 0 or more; got {block_components}.")
    return {
        name: block_components
        for name, cols in blocks.items()
        if len([c for c in cols if c != f"{name}:missing"]) > block_components
    }


def dataset_from_cohort(
    cohort, name, groups=None, group_column=None, block_components=BLOCK_COMPONENTS, target=None
):
    """A ``features.Task`` of a labelled ``features.Cohort``.

    Every embedding block of the cohort is a feature group (with its ``"<block>:missing"``
    column, see :func:`block_indicators`); ``groups`` adds named blocks of other columns. A block
    with more than ``block_components`` columns is reduced to that many principal components
    inside each training fold (by the preprocessor; its group stays the block's columns, and
    :func:`experiments.methods._pipelines.make_pipeline` selects the components); 0 keeps every
    block whole. ``target`` is the outcome to use instead of ``cohort.y`` (a censored time: the
    structured array of ``features.survival_target``, in the cohort's rows).
    """
    if target is not None:
        target = np.asarray(target)
        if target.shape[0] != cohort.X.shape[0]:
            raise InputError(
                f"target has {target.shape[0]} rows for the cohort's {cohort.X.shape[0]} patients."
            )
    elif cohort.y is None:
        raise InputError("The cohort has no label; give the label column.")
    X = block_indicators(cohort)
    blocks = {k: v for k, v in cohort.feature_groups.items() if k != "clinical"}
    site = None
    if group_column is not None:
        if group_column not in X.columns:
            raise InputError(f"Group column {group_column!r} is not a feature column.")
        if X[group_column].isna().any():
            raise InputError(f"Group column {group_column!r} has missing values.")
        site = X.pop(group_column).astype(str).to_numpy()
    clash = sorted(set(map(str, groups or {})) & set(blocks))
    if clash:
        raise InputError(
            f"Group {clash[0]!r} has the name of one of the cohort's blocks ({sorted(blocks)}); "
            "give the group another name."
        )
    feature_groups = {**blocks, **resolve_groups(groups, list(X.columns))}
    preprocessor = cohort_preprocessor(cohort, reduced_blocks(blocks, block_components))
    y = cohort.y.to_numpy() if target is None else target
    return _task(name, X, y, feature_groups, site, group_column, preprocessor)


def load_dataset(spec, n_splits=5):
    """Load the dataset a config's ``[dataset]`` table describes.

    Parameters
    ----------
    spec : dict
        ``kind`` (one of :data:`DATASETS`) and its options: ``task`` and ``data_dir`` for
        ``duke``; ``name`` (one of :data:`PUBLIC_TASKS`) for ``public``; ``path``, ``label``,
        ``id_column``, ``exclude`` and ``feature_groups`` for
        ``csv`` (read through ``features.Cohort``, as ``graphboost fit`` reads it); ``size``
        (28 or 64), ``split``, ``features`` and ``embedder`` for ``adrenalmnist3d``.
        ``group_column`` (any kind) names a site / scanner column for leave-one-group-out
        evaluation; it is removed from the features.
    n_splits : int
        Folds the labels must support.

    Returns
    -------
    Dataset
    """
    kind = spec.get("kind")
    loaders = {
        "csv": _load_csv,
        "duke": _load_duke,
        "adrenalmnist3d": _load_adrenal,
        "public": _load_public,
    }
    if kind not in loaders:
        raise InputError(f"Unknown dataset kind {kind!r}; choose one of {list(DATASETS)}.")
    ds = loaders[kind](spec)
    if ds.groups is None:
        check_labels(ds.y, n_splits, what=f"the label of {ds.name}")
    elif np.unique(ds.groups).size < 2:
        raise InputError(
            f"Group column {ds.group_column!r} has a single value; leave-one-group-out needs "
            "two or more."
        )
    return ds


def _load_csv(spec):
    if "path" not in spec:
        raise InputError("A 'csv' dataset needs 'path' (the cohort table).")
    if spec.get("label") is None:
        raise InputError("A 'csv' dataset needs 'label' (the label column).")
    cohort = read_cohort(
        spec["path"],
        label=spec["label"],
        id_column=spec.get("id_column"),
        exclude=spec.get("exclude", []),
    )
    name = f"csv:{Path(spec['path']).name}"
    return dataset_from_cohort(
        cohort, name, spec.get("feature_groups"), spec.get("group_column") or None
    )


def _load_duke(spec):
    from features import load_duke

    task = spec.get("task")
    if task not in DUKE_TASKS:
        raise InputError(f"Unknown Duke task {task!r}; choose one of {list(DUKE_TASKS)}.")
    duke = load_duke(task, spec.get("data_dir") or None)
    X, fg = duke.X, {k: list(v) for k, v in duke.feature_groups.items()}
    group_col, groups = spec.get("group_column") or None, None
    if group_col:
        if group_col not in X.columns:
            hint = [c for c in X.columns if "anufact" in str(c)][:5]
            raise InputError(
                f"Group column {group_col!r} not in the Duke {task} features; e.g. {hint}."
            )
        groups = X[group_col].astype(str).to_numpy()
        X = X.drop(columns=[group_col])
        fg = {k: [c for c in v if c != group_col] for k, v in fg.items()}
    return _task(f"duke:{task}", X, np.asarray(duke.y), fg, groups, group_col)


def _load_public(spec):
    """A public cohort of the design suite, with its label rule and column allow-list."""
    from features import load_public_cohort

    name = spec.get("name")
    if name not in PUBLIC_TASKS:
        raise InputError(f"Unknown public cohort {name!r}; choose one of {list(PUBLIC_TASKS)}.")
    data = load_public_cohort(name)
    groups = {k: list(v) for k, v in data.feature_groups.items()}
    return _task(f"public:{name}", data.X, np.asarray(data.y), groups)


def _load_adrenal(spec):
    """AdrenalMNIST3D volumes of one or more official splits as a feature table.

    ``features = "shape"`` (default): ``features.shape_features`` of each volume (hand-made shape
    statistics, no learning). ``features = "embedding"``: a ``features.VolumeEmbedder`` (options in
    ``[dataset.embedder]``; its weights are not fitted on labels) embeds the volumes. The splits
    are ``split = "train"`` (default), ``"train+val"`` or any ``+``-joined official split names.
    """
    import features

    kind = spec.get("features", "shape")
    if kind not in ("embedding", "shape"):
        raise InputError(
            f"Unknown AdrenalMNIST3D features {kind!r}; choose one of ['embedding', 'shape']."
        )
    size = int(spec.get("size", 28))
    data = features.load_adrenalmnist3d(size=size, data_dir=spec.get("data_dir") or None)
    parts = [data.split(name) for name in str(spec.get("split", "train")).split("+")]
    volumes = np.concatenate([p[0] for p in parts])
    y = np.concatenate([np.asarray(p[1]).ravel() for p in parts])
    if kind == "shape":
        X, groups = pd.DataFrame([features.shape_features(v) for v in volumes]), {}
    else:
        embedder = features.VolumeEmbedder(**spec.get("embedder", {}))
        emb = np.asarray(embedder.fit().transform(list(volumes.astype(np.float32) / 255.0)))
        X = pd.DataFrame(emb, columns=[f"emb_{i}" for i in range(emb.shape[1])])
        groups = {"ct": list(X.columns)}
    return _task(f"adrenalmnist3d-{size}:{spec.get('split', 'train')}", X, y, groups)
