"""Per-patient explanations: which graphs moved the score, and which similar patients drove it.

The score of a patient is the init model's score plus, for each selected graph, the weighted
SAMME codes of the rounds that used it. One row per (patient, source of the score) lists that
part, in the order the score is built (the start, then each graph in the order of its first
round), with the risk before and after adding it, and, for a graph, the training patients that
are the patient's neighbors in it: how many, how many of them had the outcome, the range of
their values of the graph's column, and the nearest of them with their labels.
:func:`modality_shares` and :func:`modality_contributions` sum those parts by modality (clinical
table, imaging block, ...). ``experiments.clinical.explanation_words`` puts a row in words.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from ._graphs import sorted_ranges
from ._samme import samme_codes, softmax

COLUMNS = (
    "patient",
    "graph",
    "step",
    "source",
    "rule",
    "rounds",
    "contribution",
    "log_odds",
    "risk_before",
    "risk_after",
    "risk_change_pp",
    "neighborhood_size",
    "neighbor_outcome_rate",
    "tie_group_size",
    "value",
    "value_low",
    "value_high",
    "neighbors",
    "neighbor_labels",
)

#: ``source`` of the start of the score, by the init model's ``kind``.
START_SOURCES = {
    "logistic": "linear model (all columns)",
    "prior": "outcome rate of the training patients",
    "estimator": "starting model (all columns)",
}


def explain(model, X, n_neighbors, patients=None):
    """Rows of (patient, source) parts of the score; see :meth:`GraphBoostClassifier.explain`.

    ``patients`` names the rows of ``X`` (a DataFrame's index); default their positions.
    """
    if int(n_neighbors) != n_neighbors or n_neighbors < 1:
        raise ValueError(f"n_neighbors must be a positive integer; got {n_neighbors!r}.")
    n = X.shape[0]
    patients = np.arange(n) if patients is None else _check_patients(patients, n)
    init_logits = model.init_.log_proba(X)
    by_graph = _scores_by_graph(model, X)
    total = init_logits + sum((entry["scores"] for entry in by_graph.values()), 0.0)
    part, risk, outcome = _part_of_the_decision(total), _risk_of(total), _outcome_codes(total)
    kind = getattr(model.init_, "kind", "init")
    source = START_SOURCES.get(kind, f"starting model ({kind})")
    start, contribution = risk(init_logits), part(init_logits)
    nan = np.full(n, np.nan)
    records = [
        _record(patients[i], 0, "init", source, kind, 0, contribution[i], nan[i], start[i])
        for i in range(n)
    ]
    logits = init_logits
    for step, (spec, entry) in enumerate(by_graph.items(), start=1):
        before, logits = risk(logits), logits + entry["scores"]
        after, contribution = risk(logits), part(entry["scores"])
        learner = entry["learner"]
        hood = _neighborhoods(model, learner, X, n_neighbors, outcome)
        labels = model.classes_[learner.y_codes_]
        name, rule, rounds = _source_name(spec), str(spec), entry["rounds"]
        for i in range(n):
            listed = hood["listed"][i]
            row = _record(patients[i], step, spec.name, name, rule, rounds, contribution[i],
                          before[i], after[i])  # fmt: skip
            row.update({key: hood[key][i] for key in _NEIGHBORHOOD})
            row.update(neighbors=listed.tolist(), neighbor_labels=labels[listed].tolist())
            records.append(row)
    frame = pd.DataFrame.from_records(records, columns=COLUMNS)
    position = np.tile(np.arange(n), len(by_graph) + 1)  # records: step by step, each patient
    frame = frame.iloc[np.lexsort((frame["step"].to_numpy(), position))].reset_index(drop=True)
    names = model._column_names()
    frame.attrs["feature_groups"] = {
        str(group): [names[i] for i in indices] for group, indices in model.feature_groups_.items()
    }
    frame.attrs["outcome"] = str(model.classes_[1]) if total.shape[1] == 2 else None
    return frame


def _check_patients(patients, n):
    patients = pd.Index(patients)
    if len(patients) != n:
        raise ValueError(f"patients names {len(patients)} rows; X has {n}.")
    if patients.has_duplicates:
        raise ValueError(
            f"The index of X repeats {int(patients.duplicated().sum())} label(s); explain names "
            "each patient by its index label, so they must be unique (X.reset_index(drop=True) "
            "names them by position)."
        )
    return np.asarray(patients, dtype=object) if patients.dtype == object else patients.to_numpy()


#: The columns of a graph's neighborhood, and their value for the start (no neighborhood).
_NEIGHBORHOOD = {
    "neighborhood_size": 0,
    "neighbor_outcome_rate": np.nan,
    "tie_group_size": 0,
    "value": np.nan,
    "value_low": np.nan,
    "value_high": np.nan,
}


def _outcome_codes(total):
    """The class whose risk is reported, per patient: ``classes_[1]`` (binary), else the
    predicted class."""
    if total.shape[1] == 2:
        return np.ones(total.shape[0], dtype=np.int64)
    return np.argmax(total, axis=1)


def _risk_of(total):
    """Logits -> the risk reported: of ``classes_[1]`` (binary), else of the predicted class."""
    outcome = _outcome_codes(total)
    rows = np.arange(total.shape[0])
    return lambda logits: softmax(logits)[rows, outcome]


def _neighborhoods(model, learner, X, n_neighbors, outcome):
    """Per patient, the training patients that are its neighbors in ``learner``'s graph.

    A column graph's neighborhood is the range of sorted training values its rule gives (every
    patient tied at the edge included: what the vote counts); ``listed`` holds the nearest
    ``n_neighbors`` of them, but none of a tie group larger than that (all its members are
    equally near, and listing the first rows of the table would pick arbitrary ones). A block's
    neighborhood is its ``n_neighbors`` nearest patients having the block (none without it).
    """
    graph, y = learner.graph_, learner.y_codes_
    n = X.shape[0]
    out = {key: np.full(n, value, dtype=np.float64) for key, value in _NEIGHBORHOOD.items()}
    nearest = graph.neighbors_query(X, max(n_neighbors, model.max_degree))[:, :n_neighbors]
    hidden = np.zeros(n, dtype=bool)
    if hasattr(graph, "sorted_x"):  # a column graph: a range of the sorted training values
        values = graph.query_values(X)
        lo, hi = sorted_ranges(graph.sorted_x, query=values, **graph._rule())
        size = hi - lo
        has = size > 0
        is_class = y[graph.order][:, None] == np.arange(model.n_classes_)[None, :]
        counts = np.vstack([np.zeros((1, model.n_classes_)), np.cumsum(is_class, axis=0)])
        hits = counts[hi, outcome] - counts[lo, outcome]
        out["value"] = values
        out["value_low"] = np.where(has, graph.sorted_x[np.minimum(lo, graph.n_train - 1)], np.nan)
        out["value_high"] = np.where(has, graph.sorted_x[np.maximum(hi - 1, 0)], np.nan)
        tied = has & (size > 1) & (out["value_low"] == out["value_high"])
        out["tie_group_size"] = np.where(tied, size, 0)
        hidden = tied & (size > n_neighbors)
    else:  # a block: its k nearest training patients having it
        found = graph.neighbors_query(X)
        valid = found >= 0
        size = valid.sum(axis=1)
        hits = ((y[np.where(valid, found, 0)] == outcome[:, None]) & valid).sum(axis=1)
    out["neighborhood_size"] = size
    out["neighbor_outcome_rate"] = np.where(size > 0, hits / np.maximum(size, 1), np.nan)
    out["neighborhood_size"] = out["neighborhood_size"].astype(np.int64)
    out["tie_group_size"] = out["tie_group_size"].astype(np.int64)
    out["listed"] = [
        np.empty(0, dtype=np.int64) if hidden[i] else row[row >= 0] for i, row in enumerate(nearest)
    ]
    return out


def _source_name(spec):
    """A graph as a short phrase: what links a patient to training patients in it."""
    if spec.is_block:
        return f"{spec.name} ({len(spec.columns)} columns): {spec.n_neighbors} most similar"
    if spec.rule == "knn":
        return f"{spec.name}: {spec.n_neighbors} nearest"
    return f"{spec.name}: within {spec.threshold:.3g} (model scale)"


def _scores_by_graph(model, X):
    """Per selected graph: the summed class scores of its rounds (each with its share of
    ``boost_offset_``), their number, a learner."""
    by_graph = {}
    rounds = zip(
        model.estimators_,
        model.estimator_weights_,
        model._round_offsets(),
        model.selected_graphs_,
        strict=True,
    )
    for learner, weight, offset, spec in rounds:
        codes = samme_codes(learner._predict_codes(X), model.n_classes_)
        entry = by_graph.setdefault(spec, {"scores": 0.0, "rounds": 0, "learner": learner})
        entry["scores"] = entry["scores"] + model.boost_scale_ * weight * codes + offset
        entry["rounds"] += 1
    return by_graph


def _part_of_the_decision(total):
    """What a score adds to the decision: the log-odds (binary) or the predicted class's score."""
    if total.shape[1] == 2:
        return lambda scores: scores[:, 1] - scores[:, 0]
    predicted = np.argmax(total, axis=1)
    rows = np.arange(total.shape[0])
    return lambda scores: scores[rows, predicted]


def _record(patient, step, graph, source, rule, rounds, contribution, before, after):
    """One row of the explanation; a graph's row gets its neighborhood afterwards."""
    return {
        "patient": patient,
        "step": step,
        "graph": graph,
        "source": source,
        "rule": rule,
        "rounds": rounds,
        "contribution": float(contribution),
        "log_odds": float(contribution),
        "risk_before": float(before),
        "risk_after": float(after),
        "risk_change_pp": 100.0 * (float(after) - float(before)),
        **_NEIGHBORHOOD,
        "neighbors": [],
        "neighbor_labels": [],
    }


# -- modalities --------------------------------------------------------------------------------
#: Prefixes spelled out as modality names: Duke's ``"clin:"`` and ``"img:"`` columns are the
#: ``"clinical"`` and ``"imaging"`` groups of its ``feature_groups`` (``features.load_duke``).
MODALITY_ALIASES = {"clin": "clinical", "img": "imaging"}
#: The modality of a column with no ``"<prefix>:"``: ``features.Cohort`` calls the clinical
#: table's columns ``"clinical"`` and prefixes every other block's columns with its name.
PLAIN_MODALITY = "clinical"
_REQUIRED = ("patient", "graph", "contribution")

_SHARED_PARAMETERS = """explanation : pandas.DataFrame
        The frame of :meth:`GraphBoostClassifier.explain`: one row per patient and source, with
        at least the columns ``patient``, ``graph`` and ``contribution`` (``rule`` and
        ``attrs["feature_groups"]`` help the default rule tell blocks apart).
    modality_of : None, dict or callable, default=None
        The modality of a source (a ``graph`` name). ``None``: the default rule (Notes). A dict
        maps a graph name or a prefix to a modality (a key ``"scan"`` or ``"scan:"`` matches the
        graphs ``"scan"`` and ``"scan:<anything>"``; the longest matching key wins); sources it
        does not match follow the default rule. A callable takes the graph name and returns
        the modality name."""

_NOTES = """The default rule, in order: ``"init"`` (the init model) is the modality ``"init"``; a
    ``feature_groups`` block is a modality named after it, and so is its indicator
    ``"<block>:missing"``; a column that belongs to a block (also after removing a
    ``":missing"`` indicator suffix, then a ``"=category"`` one-hot suffix) takes the block's
    modality (the first block that lists it); any other column ``"<prefix>:<rest>"`` takes
    ``<prefix>``, and a column with no prefix (``"age"``, ``"menopause=post"``,
    ``"age:missing"``) is ``"clinical"``. The prefixes ``"clin"`` and ``"img"`` (Duke's) are
    spelled ``"clinical"`` and ``"imaging"``. So Duke's ``age``, ``"clin:PR"``,
    ``"clin:Mol Subtype=2"`` and its ``"clinical"`` block are ``"clinical"``, its ``"img:..."``
    columns and ``"imaging"`` block ``"imaging"``; with ``features.Cohort``, the clinical table's
    columns are ``"clinical"`` and a block ``"scan"`` (columns ``"scan:logit"``, indicator
    ``"scan:missing"``) is ``"scan"``. Blocks are read from ``explanation.attrs["feature_groups"]``
    (set by ``explain``) or, for a frame read back from a file, from the ``rule`` text (then a
    block's column selected alone is known by its name only). To merge
    a block of clinical columns (say ``"lab"``) into ``"clinical"``, pass
    ``modality_of={"lab": "clinical"}``."""


def modality_shares(explanation, modality_of=None):
    """Share of each patient's score that comes from each modality.

    The share of a modality is the sum of the absolute contributions of its sources (graphs, or
    the init model) divided by the sum of the absolute contributions of all sources, so a
    patient's shares are non-negative and sum to 1; their mean over patients is the average
    share of the modality.

    Parameters
    ----------
    {parameters}

    Returns
    -------
    shares : pandas.DataFrame of shape (n_patients, n_modalities)
        Indexed by ``patient`` (as in ``explanation``), one column per modality (``"init"``
        first, then by name). A patient whose contributions are all 0 has NaN shares.
        ``shares.attrs["modality_of"]`` maps each graph name to its modality.

    Raises
    ------
    TypeError
        When ``explanation`` is not a DataFrame, ``modality_of`` is of another type, or a
        modality is not a non-empty string.
    ValueError
        When ``explanation`` lacks a required column or has non-numeric contributions.

    See Also
    --------
    modality_contributions : the signed parts of the score by modality.

    Notes
    -----
    {notes}

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from graphboost import GraphBoostClassifier, modality_shares
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(80, 3)), columns=["age", "img:volume", "img:texture"])
    >>> y = (np.sin(3 * X["img:volume"]) > 0).astype(int)
    >>> clf = GraphBoostClassifier(n_estimators=5, random_state=0).fit(X, y)
    >>> shares = modality_shares(clf.explain(X.iloc[:4]))
    >>> shares.columns.tolist()
    ['init', 'imaging']
    >>> bool(np.allclose(shares.sum(axis=1), 1.0))
    True
    >>> modality_shares(clf.explain(X.iloc[:4]), {{"img": "MRI"}}).columns.tolist()
    ['init', 'MRI']
    """
    table, mapping = _by_modality(explanation, modality_of, "modality_shares", absolute=True)
    total = table.sum(axis=1)
    shares = table.div(total.where(total > 0), axis=0)
    shares.attrs["modality_of"] = mapping
    return shares


def modality_contributions(explanation, modality_of=None):
    """Signed part of each patient's score that comes from each modality.

    Parameters
    ----------
    {parameters}

    Returns
    -------
    contributions : pandas.DataFrame of shape (n_patients, n_modalities)
        Indexed by ``patient``, one column per modality (``"init"`` first, then by name): the
        sum of the contributions of its sources. A patient's row sums to its decision function
        (binary: the log-odds of ``classes_[1]``). ``attrs["modality_of"]`` as for
        :func:`modality_shares`.

    Raises
    ------
    TypeError, ValueError
        As for :func:`modality_shares`.

    See Also
    --------
    modality_shares : the share of the score (absolute contributions) by modality.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from graphboost import GraphBoostClassifier, modality_contributions
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(80, 2)), columns=["clin:age", "scan:logit"])
    >>> y = (X["scan:logit"] > 0).astype(int)
    >>> clf = GraphBoostClassifier(n_estimators=5, random_state=0).fit(X, y)
    >>> parts = modality_contributions(clf.explain(X.iloc[:3]))
    >>> bool(np.allclose(parts.sum(axis=1), clf.decision_function(X.iloc[:3])))
    True
    """
    table, mapping = _by_modality(explanation, modality_of, "modality_contributions")
    table.attrs["modality_of"] = mapping
    return table


if modality_shares.__doc__:  # None under python -OO
    modality_shares.__doc__ = modality_shares.__doc__.format(
        parameters=_SHARED_PARAMETERS, notes=_NOTES
    )
    modality_contributions.__doc__ = modality_contributions.__doc__.format(
        parameters=_SHARED_PARAMETERS
    )


def _by_modality(explanation, modality_of, caller, absolute=False):
    """Per patient and modality, the summed (absolute) contributions; the graph -> modality map."""
    _check_explanation(explanation, caller)
    resolve = _resolver(modality_of, explanation, caller)
    mapping = {str(g): resolve(str(g)) for g in pd.unique(explanation["graph"])}
    values = explanation["contribution"].astype(np.float64)
    values = values.abs() if absolute else values
    modality = explanation["graph"].astype(str).map(mapping).rename("modality")
    table = values.groupby([explanation["patient"], modality], sort=True).sum()
    table = table.unstack("modality", fill_value=0.0)
    order = sorted(table.columns, key=lambda m: (m != "init", m))
    table = table[order]
    table.columns.name = "modality"
    return table, mapping


def _check_explanation(explanation, caller):
    if not isinstance(explanation, pd.DataFrame):
        raise TypeError(
            f"The 'explanation' parameter of {caller} must be a pandas DataFrame (the output of "
            f"GraphBoostClassifier.explain); got {type(explanation).__name__}."
        )
    missing = [c for c in _REQUIRED if c not in explanation.columns]
    if missing:
        raise ValueError(
            f"The explanation given to {caller} lacks the columns {missing}; expected the "
            f"columns of GraphBoostClassifier.explain; got {[str(c) for c in explanation][:5]}."
        )
    if not pd.api.types.is_numeric_dtype(explanation["contribution"]):
        raise ValueError(
            f"The 'contribution' column of the explanation given to {caller} must be numeric; "
            f"got dtype {explanation['contribution'].dtype}."
        )


def _resolver(modality_of, explanation, caller):
    """The function graph name -> modality that ``modality_of`` describes."""
    default = _default_rule(explanation)
    if modality_of is None:
        rule = default
    elif isinstance(modality_of, Mapping):
        keys = {str(k).removesuffix(":"): v for k, v in modality_of.items()}

        def rule(name):
            matches = [k for k in keys if name == k or name.startswith(f"{k}:")]
            return keys[max(matches, key=len)] if matches else default(name)

    elif callable(modality_of):
        rule = modality_of
    else:
        raise TypeError(
            f"The 'modality_of' parameter of {caller} must be None, a dict or a callable; "
            f"got {type(modality_of).__name__}."
        )
    return lambda name: _checked(rule(name), name, caller)


def _checked(modality, name, caller):
    if not isinstance(modality, str) or not modality:
        raise TypeError(
            f"The modality of graph {name!r} given by the 'modality_of' parameter of {caller} "
            f"must be a non-empty string; got {modality!r}."
        )
    return modality


def _default_rule(explanation) -> Callable[[str], str]:
    """The default graph name -> modality rule (see the Notes of :func:`modality_shares`)."""
    groups = {str(k): list(v) for k, v in explanation.attrs.get("feature_groups", {}).items()}
    if "rule" in explanation.columns:  # a frame read back from a file: blocks from their rule
        blocks = explanation.loc[explanation["rule"].astype(str).str.contains("metric="), "graph"]
        groups.update({str(b): [] for b in pd.unique(blocks) if str(b) not in groups})
    block_of = {}
    for group, columns in groups.items():
        for column in columns:
            block_of.setdefault(str(column), group)
    block_of.update({group: group for group in groups})

    def rule(name):
        if name == "init":
            return "init"
        base = name.removesuffix(":missing")
        for key in (name, base, base.split("=", 1)[0]):
            if key in block_of:
                return MODALITY_ALIASES.get(block_of[key], block_of[key])
        prefix, colon, _ = base.partition(":")
        if not colon or "=" in prefix:
            return PLAIN_MODALITY
        return MODALITY_ALIASES.get(prefix, prefix)

    return rule
