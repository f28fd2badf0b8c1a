"""How typical is this patient? Training neighbors in the model's graphs, and how far they are.

Two simple, explainable answers for each new patient, from the graphs GraphBoostClassifier
selected:

- **neighbors and their agreement**: the distinct training patients linked to the patient in
  the selected graphs (those :meth:`GraphBoostClassifier.explain` lists), and the share of them
  that carry their most common label. Few neighbors, or neighbors split between the classes,
  mean the graphs have little to say about this patient.
- **unlike any training patient**: in each selected graph, the patient's mean distance to its
  training neighbors (in the graph's own standardized space) is ranked among the leave-one-out
  distances of the training patients. The patient is flagged when its highest rank over the
  graphs is above the ``quantile`` (default 99%) of the training patients' own highest ranks,
  so that about 1 typical patient in 100 is flagged whatever the number of graphs; a patient
  farther from its neighbors than every training patient in some graph is always flagged.
  A patient lacking a block (no scan) is not linked through that block's graph and not judged
  there; in a threshold graph, having no training patient within the threshold counts as
  infinitely far.
"""

from __future__ import annotations

import warnings
from collections import Counter

import numpy as np
import pandas as pd

TYPICALITY_COLUMNS = (
    "n_neighbors",
    "neighbor_majority",
    "neighbor_agreement",
    "distance_rank",
    "unlike_training",
    "unlike_graphs",
)
"""Columns of :func:`neighbor_typicality`."""


def _selected_graphs(model):
    """Each selected graph's spec and fitted graph, once (from the first round that used it)."""
    graphs = {}
    for learner, spec in zip(model.estimators_, model.selected_graphs_, strict=True):
        graphs.setdefault(spec, learner.graph_)
    return graphs


def _pair_distance(a, b, metric):
    if metric == "cosine":
        norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return 1.0 - np.where(norms > 0, np.sum(a * b, axis=1) / norms, 0.0)
    return np.linalg.norm(a - b, axis=1)


def _neighbor_distance(spec, features, neighbors, train_features):
    """Mean distance of each row to its listed neighbors (-1 padded) in the graph's space."""
    total = np.zeros(features.shape[0])
    count = np.zeros(features.shape[0])
    for j in range(neighbors.shape[1]):
        valid = neighbors[:, j] >= 0
        d = _pair_distance(features[valid], train_features[neighbors[valid, j]], spec.metric)
        total[valid] += d
        count[valid] += 1
    lonely = np.inf if spec.rule == "threshold" else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(count > 0, total / count, lonely)


def _ranks(reference, values):
    """Share of the (non-NaN) reference distances strictly below each value; NaN stays NaN."""
    ref = np.sort(reference[~np.isnan(reference)])
    if ref.size == 0:
        return np.full(values.shape, np.nan)
    return np.where(np.isnan(values), np.nan, np.searchsorted(ref, values, side="left") / ref.size)


def _distance_ranks(model, X):
    """Per selected graph: ranks of the query patients and of the training patients."""
    query, train = {}, {}
    for spec, graph in _selected_graphs(model).items():
        train_features = graph.node_features_train()
        d_train = _neighbor_distance(
            spec, train_features, graph.neighbors_train(model.max_degree), train_features
        )
        d_query = _neighbor_distance(
            spec,
            graph.node_features_query(X),
            graph.neighbors_query(X, model.max_degree),
            train_features,
        )
        train[spec.name] = _ranks(d_train, d_train)
        query[spec.name] = _ranks(d_train, d_query)
    return pd.DataFrame(query), pd.DataFrame(train)


def _pooled_neighbors(model, X, n_patients):
    """Distinct training neighbors over the selected graphs, their majority label and share."""
    if isinstance(X, pd.DataFrame):  # explain names patients by the index: use positions
        X = X.reset_index(drop=True)
    expl = model.explain(X, n_neighbors=model.max_degree)
    expl = expl[expl.graph != "init"]
    labels = [dict() for _ in range(n_patients)]
    for patient, found, found_labels in zip(
        expl.patient, expl.neighbors, expl.neighbor_labels, strict=True
    ):
        labels[patient].update(zip(found, found_labels, strict=True))
    rows = []
    for seen in labels:
        if not seen:
            rows.append((0, None, np.nan))
            continue
        label, count = Counter(seen.values()).most_common(1)[0]
        rows.append((len(seen), label, count / len(seen)))
    return pd.DataFrame(rows, columns=list(TYPICALITY_COLUMNS[:3]))


def _max_rank(ranks):
    values = ranks.to_numpy(dtype=np.float64)
    if values.shape[1] == 0:
        return np.full(values.shape[0], np.nan)
    return np.fmax.reduce(values, axis=1)


def neighbor_typicality(model, X, *, quantile=0.99):
    """How typical each patient is for a fitted GraphBoostClassifier.

    Parameters
    ----------
    model : graphboost.GraphBoostClassifier
        Fitted.
    X : array-like of shape (n_samples, n_features)
        Patients, as the model takes them (preprocessed; a DataFrame with the model's columns
        or an array in their order).
    quantile : float, default=0.99
        Share of training patients that are not flagged (leave-one-out).

    Returns
    -------
    pandas.DataFrame
        One row per patient: ``n_neighbors`` (distinct training neighbors in the selected
        graphs), ``neighbor_majority`` (their most common label), ``neighbor_agreement`` (the
        share with that label), ``distance_rank`` (highest rank, over the graphs, of the
        patient's distance to its neighbors among the training patients' leave-one-out
        distances: 0.5 is typical, 1 farther than all of them), ``unlike_training`` (flag) and
        ``unlike_graphs`` (the graphs where the rank is above the flagging level, ``;``-joined).

    Examples
    --------
    >>> import numpy as np
    >>> from graphboost import GraphBoostClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(80, 2))
    >>> y = (X[:, 0] > 0).astype(int)
    >>> clf = GraphBoostClassifier(n_estimators=3, random_state=0).fit(X, y)
    >>> typ = neighbor_typicality(clf, np.array([[0.1, 0.0], [40.0, 0.0]]))
    >>> typ.unlike_training.tolist()
    [False, True]
    """
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        X = np.asarray(X, dtype=np.float64)
    elif isinstance(X, pd.DataFrame):
        X = X[list(names)]
    else:  # an array in the fitted order: named as the model knows its columns
        X = pd.DataFrame(np.asarray(X, dtype=np.float64), columns=list(names))
    matrix = np.asarray(X, dtype=np.float64)
    query, train = _distance_ranks(model, matrix)
    out = _pooled_neighbors(model, X, matrix.shape[0])
    train_max = _max_rank(train)
    train_max = train_max[np.isfinite(train_max)]
    level = np.quantile(train_max, quantile) if train_max.size else np.inf
    out["distance_rank"] = _max_rank(query)
    out["unlike_training"] = out["distance_rank"].to_numpy() > level
    above = query.to_numpy(dtype=np.float64) > level
    out["unlike_graphs"] = [
        ";".join(name for name, hit in zip(query.columns, row, strict=True) if hit) for row in above
    ]
    return out


MISSING_COLUMNS = "missing_columns"
"""Column of ``predict``'s output when some table column is empty for every patient: how many of
the model's table columns have no value for the patient (each imputed)."""

OUTSIDE_RANGE = "outside_training_range"
"""Column of ``predict``'s output when some value is outside the training range: in how many of
the model's numeric table columns the patient's value is outside it."""


def _counted(columns, counts):
    """``'age' (10 patients), 'bmi' (1 patient)``: column names and counts, never values."""
    pairs = zip(columns, counts, strict=True)
    return ", ".join(f"{c!r} ({n} patient{'s' if n != 1 else ''})" for c, n in pairs)


def input_flags(pre, X, columns):
    """Flags and notes for the values of new patients that the model has not seen the like of.

    Two checks on the model's table columns (``columns``; the scans' embeddings are judged by
    :func:`neighbor_typicality`'s graphs):

    - a column empty for every patient (it is imputed from the training patients: the
      prediction does not use it): :data:`MISSING_COLUMNS` counts, per patient, the model's
      table columns without a value;
    - a numeric value outside the training range (beyond the lowest or highest training value
      by more than 10% of the range: the model extrapolates, e.g. an age in days for a model
      fitted on years): :data:`OUTSIDE_RANGE` counts, per patient, the columns where it is.

    Parameters
    ----------
    pre : features.ClinicalPreprocessor
        The model's fitted preprocessor.
    X : pandas.DataFrame
        The new patients, with the model's columns (before preprocessing).
    columns : list of str
        The model's table columns.

    Returns
    -------
    (pandas.DataFrame, list of str)
        The flag columns that apply (none when nothing was found; index as ``X``), and one note
        per finding, naming columns and counts, never a patient's ID or value.
    """
    used = set(pre.numeric_ + pre.binary_ + pre.categorical_)
    table = [c for c in columns if c in used and c in X.columns]
    flags, notes = pd.DataFrame(index=X.index), []
    missing = X[table].isna()
    empty = [c for c in table if missing[c].all()]
    if empty:
        flags[MISSING_COLUMNS] = missing.sum(axis=1).astype(int)
        notes.append(
            f"{len(empty)} column(s) have no value for any of the {len(X)} patient(s): "
            f"{', '.join(map(repr, empty))}; the model filled them in from the training "
            f"patients (median or most frequent value). See column {MISSING_COLUMNS!r}."
        )
    if getattr(pre, "training_ranges_", None) is None:
        notes.append(
            "This model's preprocessor was saved before training ranges were recorded (format "
            "version 1): the values are not checked against the training range. Fit the model "
            "again to check them."
        )
        return flags, notes
    numeric = [c for c in table if c in pre.training_ranges_]
    beyond = pre.find_outside_training_range(X)[numeric]
    if beyond.to_numpy().any():
        flags[OUTSIDE_RANGE] = beyond.sum(axis=1).astype(int)
        hit = [c for c in numeric if beyond[c].any()]
        notes.append(
            f"{int(beyond.any(axis=1).sum())} patient(s) have values outside the training range "
            "(beyond the lowest or highest training value by more than 10% of the range) in "
            f"{len(hit)} column(s): {_counted(hit, [int(beyond[c].sum()) for c in hit])}. "
            "Their predictions extrapolate: check the units (e.g. age in days, not years). See "
            f"column {OUTSIDE_RANGE!r}."
        )
    return flags, notes


def add_input_flags(out, pre, X, columns):
    """Add :func:`input_flags`' columns to ``predict``'s output ``out`` (same row order as
    ``X``) and warn its notes; a patient outside the training range is also ``unlike_training``
    when ``out`` has that column (``--typicality``)."""
    flags, notes = input_flags(pre, X, columns)
    for column in flags.columns:
        out[column] = flags[column].to_numpy()
    if OUTSIDE_RANGE in flags.columns and "unlike_training" in out.columns:
        out["unlike_training"] = out["unlike_training"].to_numpy(dtype=bool) | (
            flags[OUTSIDE_RANGE].to_numpy() > 0
        )
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=3)
