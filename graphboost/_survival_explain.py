"""Explanations of a survival prediction: the parts of the risk score, and how the neighbors fared.

A patient's risk score (log relative hazard) is the ridge Cox start plus, for each selected
graph, ``boost_scale_`` times the summed Newton steps of the rounds on it. One row per (patient,
source) gives that part in the order the score is built (the start, then each graph by its
first round), its hazard ratio, the survival probability at a horizon before and after adding
it (Breslow's baseline), and for a graph the training patients linked to the patient in it:
their number, their events, the range of their values of the column, the nearest of them, and
the Kaplan-Meier survival of the neighborhood at the horizon beside the whole cohort's.
:meth:`SurvivalExplanations.neighbor_survival` returns both Kaplan-Meier curves. A leaf graph
(``interaction_depth > 0``) is one round's: the patient's neighbors are the training patients
in its leaf of that round's tree, a subgroup that ``neighbor_survival`` names by its conditions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._cox import RidgeCox
from ._explain import _check_patients
from ._graphs import GraphSpec
from ._leaf_graphs import LeafGraph
from ._neighborhoods import BlockGraph, _padded_vote
from ._survival_boost import StackedSteps, query_neighbors
from ._survival_metrics import StepFunction, kaplan_meier_function, survival_at

COLUMNS = (
    "patient",
    "step",
    "graph",
    "source",
    "rule",
    "rounds",
    "contribution",
    "log_hazard",
    "hazard_ratio",
    "risk_before",
    "risk_after",
    "horizon",
    "survival_before",
    "survival_after",
    "survival_change_pp",
    "neighborhood_size",
    "neighborhood_events",
    "tie_group_size",
    "value",
    "value_low",
    "value_high",
    "neighbor_survival_at_horizon",
    "cohort_survival_at_horizon",
    "neighbors",
    "neighbor_times",
    "neighbor_events",
)

#: ``source`` of the start, by the kind of start.
START_SOURCES = {"ridge": "ridge Cox model (all columns)", "zero": "no start (score 0)"}


@dataclass(frozen=True)
class NeighborSurvival:
    """How a patient's training neighbors in one graph fared, beside the whole cohort.

    Attributes
    ----------
    step : int
        The graph's step in :meth:`SurvivalExplanations.explain` (1 for the first graph).
    graph : str
        The graph's column or block.
    source : str
        The graph in a short phrase; for a leaf graph, with the conditions that define the
        patient's leaf (values on the model's scale).
    neighborhood : ndarray of int
        Positions in the training data of the patients linked to the patient in the graph (all
        of them, every patient tied at the edge of a column's neighborhood included).
    neighbors : StepFunction or None
        Kaplan-Meier survival of the neighborhood; None when it is empty (a patient lacking a
        block).
    cohort : StepFunction or None
        Kaplan-Meier survival of all training patients (None, like ``neighbors``, for a model
        saved without the training times).
    horizon : float
        The time at which the two below are read.
    neighbor_survival_at_horizon, cohort_survival_at_horizon : float
        The two curves at ``horizon``; NaN where the follow-up ends before it (and the estimate
        did not reach 0), or for an empty neighborhood.
    """

    step: int
    graph: str
    source: str
    neighborhood: np.ndarray
    neighbors: StepFunction | None
    cohort: StepFunction | None
    horizon: float
    neighbor_survival_at_horizon: float
    cohort_survival_at_horizon: float


class SurvivalExplanations:
    """``explain`` and ``neighbor_survival`` of :class:`~graphboost.GraphBoostSurvivalAnalysis`."""

    def explain(self, X, n_neighbors=5, horizon=None):
        """Why each patient got its risk score: the part of the start and of each selected
        graph, the survival at a horizon before and after it, and how the neighbors fared.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Patients to explain. A DataFrame's index names them (its labels must be unique).
        n_neighbors : int, default=5
            Most similar training patients listed per graph.
        horizon : float, default=None
            The time at which survival probabilities are given; None is the median follow-up
            time of the training patients (the median of their observed times, events and
            censorings alike). At most the last training time.

        Returns
        -------
        explanation : pandas.DataFrame
            One row per patient and source, in the order the score is built: the start
            (``step`` 0, ``graph`` ``"init"``), then each selected graph (``step`` 1, 2... by
            its first round; listed with 0 contributions when ``boost_scale_`` is 0). Columns:

            - ``patient`` (the index label of a DataFrame, else the position in ``X``),
              ``step``, ``graph`` (column, block or leaf graph), ``source`` (a short phrase;
              a leaf graph's ends with the conditions of the patient's leaf, e.g.
              ``"(nodes > 0.41, pgr <= -0.3)"``, on the model's scale), ``rule`` (the
              :class:`GraphSpec`, or the kind of start), ``rounds`` (rounds on the graph);
            - ``log_hazard``: what the source adds to the risk score (``predict``); a patient's
              values sum to ``predict(X)``. ``contribution`` is the same number (the name
              :func:`graphboost.modality_shares` reads); ``hazard_ratio`` its exponential;
            - ``risk_before``, ``risk_after``: the risk score before and after the source (0
              before the start: a patient at the training means);
            - ``horizon``, ``survival_before``, ``survival_after``: the predicted survival at
              the horizon before and after the source, ``S0(horizon) ** exp(risk)`` with
              Breslow's baseline; the last row's ``survival_after`` is what
              :meth:`predict_survival_function` gives; ``survival_change_pp`` their difference
              in percentage points;
            - ``neighborhood_size``, ``neighborhood_events``: the training patients linked to
              the patient in the graph (a column graph keeps every patient tied at the edge of
              its neighborhood; a leaf graph links the training patients in the patient's leaf;
              a patient lacking a block has none) and how many of them had
              the event; ``tie_group_size``: for a column graph whose neighbors all share one
              value, their number (else 0);
            - ``value``, ``value_low``, ``value_high``: the patient's value of a column graph's
              column and the range of its neighbors' values (NaN for the start, blocks and
              leaf graphs);
            - ``neighbor_survival_at_horizon``: the Kaplan-Meier survival of the neighborhood
              at the horizon (NaN where its follow-up ends before it), beside
              ``cohort_survival_at_horizon``, that of all training patients (both curves:
              :meth:`neighbor_survival`);
            - ``neighbors``: positions in the training data of the nearest training patients,
              nearest first (none from a tie group, or a leaf graph's leaf, larger than
              ``n_neighbors``: all its members are equally similar), their follow-up times
              ``neighbor_times`` and event indicators ``neighbor_events``.

            ``attrs["horizon"]`` holds the horizon, ``attrs["feature_groups"]`` the blocks.

        Raises
        ------
        ValueError
            When ``X`` is a DataFrame whose index repeats a label, ``n_neighbors`` is not a
            positive integer, or ``horizon`` is not a time within the training follow-up.

        See Also
        --------
        neighbor_survival : the Kaplan-Meier curves of a patient's neighbors and the cohort.

        Examples
        --------
        >>> import numpy as np
        >>> from graphboost import GraphBoostSurvivalAnalysis
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(200, 3))
        >>> time = rng.exponential(np.exp(-np.sin(2 * X[:, 0]))) * 10
        >>> dtype = [("event", bool), ("time", float)]
        >>> y = np.array([(t < 12, min(t, 12)) for t in time], dtype=dtype)
        >>> model = GraphBoostSurvivalAnalysis(n_estimators=20, boost_scale=1.0, random_state=0)
        >>> table = model.fit(X, y).explain(X[:2])
        >>> table["graph"].tolist()[:2], table["step"].tolist()[:2]
        (['init', 'x0'], [0, 1])
        >>> parts = table.groupby("patient")["log_hazard"].sum().to_numpy()
        >>> bool(np.allclose(parts, model.predict(X[:2])))
        True
        """
        patients = X.index if isinstance(X, pd.DataFrame) else None
        return explain_survival(self, self._validate_predict(X), n_neighbors, horizon, patients)

    def neighbor_survival(self, X, patient, graph, horizon=None):
        """The Kaplan-Meier curve of a patient's training neighbors in one graph, and the
        cohort's.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Patients, as given to :meth:`explain`.
        patient : label or int
            The patient: its index label in a DataFrame ``X``, else its position.
        graph : int, str or GraphSpec
            The graph: its ``step`` in :meth:`explain` (1 for the first), its ``graph`` name
            (when only one selected graph has it) or its :class:`GraphSpec`.
        horizon : float, default=None
            As in :meth:`explain`.

        Returns
        -------
        NeighborSurvival
            ``neighbors`` and ``cohort`` step functions, the training positions of the
            neighborhood, and both curves at the horizon (the numbers of :meth:`explain`).

        Examples
        --------
        >>> import numpy as np
        >>> from graphboost import GraphBoostSurvivalAnalysis
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(200, 3))
        >>> time = rng.exponential(np.exp(-np.sin(2 * X[:, 0]))) * 10
        >>> dtype = [("event", bool), ("time", float)]
        >>> y = np.array([(t < 12, min(t, 12)) for t in time], dtype=dtype)
        >>> model = GraphBoostSurvivalAnalysis(n_estimators=20, boost_scale=1.0, random_state=0)
        >>> curves = model.fit(X, y).neighbor_survival(X, patient=0, graph=1)
        >>> curves.graph, curves.neighborhood.shape[0] >= 20, curves.cohort(0.0)
        ('x0', True, 1.0)
        """
        labels = X.index if isinstance(X, pd.DataFrame) else None
        X = self._validate_predict(X)
        position = _position(patient, labels, X.shape[0])
        step, group = _select_graph(self, graph)
        h = _horizon(self, horizon)
        cohort = _cohort_function(self)
        row = X[position : position + 1]
        linked = query_neighbors(group[0], row)
        rows = _neighborhood_rows(group[0], linked)[0]
        neighbors = None
        time, event = _training_outcomes(self)
        if rows.size and time is not None:
            neighbors = kaplan_meier_function(time[rows], event[rows])
        spec = group[0].spec
        source = _sources(self, group[0], linked)
        return NeighborSurvival(
            step=step,
            graph=spec.name,
            source=source if isinstance(source, str) else source[0],
            neighborhood=rows,
            neighbors=neighbors,
            cohort=cohort,
            horizon=h,
            neighbor_survival_at_horizon=np.nan if neighbors is None else survival_at(neighbors, h),
            cohort_survival_at_horizon=np.nan if cohort is None else survival_at(cohort, h),
        )


def explain_survival(model, X, n_neighbors, horizon=None, patients=None):
    """Rows of (patient, source) parts of the risk score; see ``SurvivalExplanations.explain``."""
    if isinstance(n_neighbors, bool) or int(n_neighbors) != n_neighbors or n_neighbors < 1:
        raise ValueError(f"n_neighbors must be a positive integer; got {n_neighbors!r}.")
    n_neighbors = int(n_neighbors)
    n = X.shape[0]
    patients = np.arange(n) if patients is None else _check_patients(patients, n)
    h = _horizon(model, horizon)
    base_hazard = float(model.cum_baseline_hazard_(h))
    cohort = _cohort_function(model)
    cohort_at = np.nan if cohort is None else survival_at(cohort, h)

    def survival(risk):
        return np.exp(-base_hazard * np.exp(risk))

    start = model.init_.decision_function(X)
    kind = "ridge" if isinstance(model.init_, RidgeCox) else "zero"
    frames = [
        _frame(
            patients,
            (0, "init", START_SOURCES[kind], kind, 0),
            start,
            np.zeros(n),
            survival,
            {"horizon": h, "cohort_survival_at_horizon": cohort_at},
        )
    ]
    risk = start
    for step, group in enumerate(_groups(model), start=1):
        graph = group[0]
        neighbors = query_neighbors(graph, X)
        part = model.boost_scale_ * _summed_steps(group, neighbors, n)
        extra = _neighborhoods(model, graph, X, neighbors, n_neighbors, h)
        extra.update(horizon=h, cohort_survival_at_horizon=cohort_at)
        spec = graph.spec
        frames.append(
            _frame(
                patients,
                (step, spec.name, _sources(model, graph, neighbors), str(spec), len(group[2])),
                part,
                risk,
                survival,
                extra,
            )
        )
        risk = risk + part
    frame = pd.concat(frames, ignore_index=True)
    position = np.tile(np.arange(n), len(frames))
    frame = frame.iloc[np.lexsort((frame["step"].to_numpy(), position))].reset_index(drop=True)
    names = model._column_names()
    frame.attrs["feature_groups"] = {
        str(group): [names[i] for i in indices] for group, indices in model.feature_groups_.items()
    }
    frame.attrs["horizon"] = h
    return frame


def _frame(patients, names, part, before, survival, extra):
    """The rows of one source for every patient, in :data:`COLUMNS`; ``names`` is
    ``(step, graph, source, rule, rounds)``."""
    step, graph, source, rule, rounds = names
    n = part.shape[0]
    after = before + part
    columns = {
        "patient": patients,
        "step": np.full(n, step, dtype=np.int64),
        "graph": [graph] * n,
        "source": source if isinstance(source, list) else [source] * n,
        "rule": [rule] * n,
        "rounds": np.full(n, rounds, dtype=np.int64),
        "contribution": part,
        "log_hazard": part,
        "hazard_ratio": np.exp(part),
        "risk_before": before,
        "risk_after": after,
        "survival_before": survival(before),
        "survival_after": survival(after),
    }
    columns["survival_change_pp"] = 100.0 * (columns["survival_after"] - columns["survival_before"])
    empty = [[] for _ in range(n)]
    defaults = {
        "neighborhood_size": np.zeros(n, dtype=np.int64),
        "neighborhood_events": np.zeros(n, dtype=np.int64),
        "tie_group_size": np.zeros(n, dtype=np.int64),
        "value": np.full(n, np.nan),
        "value_low": np.full(n, np.nan),
        "value_high": np.full(n, np.nan),
        "neighbor_survival_at_horizon": np.full(n, np.nan),
        "neighbors": empty,
        "neighbor_times": empty,
        "neighbor_events": empty,
    }
    for key, value in {**defaults, **extra}.items():
        ragged = isinstance(value, list)  # lists of neighbors, of unequal lengths
        columns[key] = value if ragged or np.ndim(value) else np.full(n, value)
    return pd.DataFrame(columns, columns=list(COLUMNS))


def _groups(model):
    """The selected graphs in the order of their first round, as :class:`StackedSteps` groups
    ``(graph, values, rates, l2s)``: the arithmetic of ``predict``."""
    if getattr(model, "_stacked", None) is None:
        model._stacked = StackedSteps(model.estimators_)
    return model._stacked.groups


def _summed_steps(group, neighbors, n):
    """The sum of the rounds' steps on one graph for each patient (as ``StackedSteps``)."""
    graph, values, rate, l2 = group
    if isinstance(graph, BlockGraph):
        sums = _padded_vote(values, neighbors).reshape(n, -1, 2)
    elif isinstance(graph, LeafGraph):
        sums = values[neighbors]
    else:
        lo, hi = neighbors
        sums = values[hi] - values[lo]
    steps = -rate * sums[..., 0] / (sums[..., 1] + l2)
    total = np.zeros(n)
    for j in range(steps.shape[1]):
        total += steps[:, j]
    return total


def _neighborhood_rows(graph, neighbors):
    """Training positions of each query's whole neighborhood, from :func:`query_neighbors`."""
    if isinstance(graph, BlockGraph):
        return [row[row >= 0] for row in neighbors]
    if isinstance(graph, LeafGraph):
        members = {leaf: graph.members(leaf) for leaf in np.unique(neighbors).tolist()}
        return [members[leaf] for leaf in neighbors.tolist()]
    lo, hi = neighbors
    return [graph.order[a:b] for a, b in zip(lo, hi, strict=True)]


def _neighborhoods(model, graph, X, neighbors, n_neighbors, horizon):
    """The neighborhood columns of one graph for every patient (see ``explain``)."""
    n = X.shape[0]
    out = {}
    rows = _neighborhood_rows(graph, neighbors)
    size = np.array([r.shape[0] for r in rows], dtype=np.int64)
    hidden = np.zeros(n, dtype=bool)
    if isinstance(graph, BlockGraph):
        nearest = neighbors[:, :n_neighbors]
        keys = [tuple(np.sort(r).tolist()) for r in rows]
    elif isinstance(graph, LeafGraph):  # a leaf's patients are all equally similar: as a tie
        hidden = size > n_neighbors  # group, none is listed unless the leaf is that small
        nearest = [r[:n_neighbors] for r in rows]
        keys = neighbors.tolist()
    else:
        lo, hi = neighbors
        has = size > 0
        out["value"] = graph.query_values(X)
        out["value_low"] = np.where(has, graph.sorted_x[np.minimum(lo, graph.n_train - 1)], np.nan)
        out["value_high"] = np.where(has, graph.sorted_x[np.maximum(hi - 1, 0)], np.nan)
        tied = has & (size > 1) & (out["value_low"] == out["value_high"])
        out["tie_group_size"] = np.where(tied, size, 0).astype(np.int64)
        hidden = tied & (size > n_neighbors)
        nearest = graph.neighbors_query(X, n_neighbors)[:, :n_neighbors]
        keys = list(zip(lo.tolist(), hi.tolist(), strict=True))
    out["neighborhood_size"] = size
    listed = [
        np.empty(0, np.int64) if hidden[i] else row[row >= 0] for i, row in enumerate(nearest)
    ]
    out["neighbors"] = [r.tolist() for r in listed]
    time, event = _training_outcomes(model)
    if time is None:  # a model saved before the training times were kept
        nan = np.full(n, np.nan)
        out.update(neighborhood_events=nan, neighbor_survival_at_horizon=nan)
        return out
    out["neighbor_times"] = [time[r].tolist() for r in listed]
    out["neighbor_events"] = [event[r].tolist() for r in listed]
    if isinstance(graph, BlockGraph | LeafGraph):
        counts = [int(event[r].sum()) for r in rows]
    else:  # a range of sorted positions: prefix sums, whatever its size
        cumulative = np.r_[0, np.cumsum(event[graph.order], dtype=np.int64)]
        counts = cumulative[neighbors[1]] - cumulative[neighbors[0]]
    out["neighborhood_events"] = np.asarray(counts, dtype=np.int64)
    cache = {}  # patients sharing a neighborhood (a tie group, a binary column) share its curve
    at_horizon = np.full(n, np.nan)
    for i, (key, r) in enumerate(zip(keys, rows, strict=True)):
        if r.size == 0:
            continue
        if key not in cache:
            cache[key] = survival_at(kaplan_meier_function(time[r], event[r]), horizon)
        at_horizon[i] = cache[key]
    out["neighbor_survival_at_horizon"] = at_horizon
    return out


def _sources(model, graph, neighbors):
    """The graph in a short phrase; a leaf graph's with the conditions of each patient's leaf."""
    if not isinstance(graph, LeafGraph):
        return _source_name(graph.spec)
    names = model._column_names()
    rules = {leaf: graph.rule(leaf, names) for leaf in np.unique(neighbors).tolist()}
    return [f"{_source_name(graph.spec)} ({rules[leaf]})" for leaf in neighbors.tolist()]


def _source_name(spec):
    """A graph as a short phrase: what links a patient to training patients in it."""
    if spec.is_block:
        return f"{spec.name} ({len(spec.columns)} columns): {spec.n_neighbors} most similar"
    if spec.rule == "leaf":
        return f"{spec.name}: same leaf"
    if spec.rule == "knn":
        return f"{spec.name}: {spec.n_neighbors} nearest"
    return f"{spec.name}: within {spec.threshold:.3g} (model scale)"


def _horizon(model, horizon):
    """The horizon: the given time (checked), else the median training follow-up time."""
    last = float(model.unique_times_[-1])
    if horizon is None:
        if _training_outcomes(model)[0] is None:
            raise ValueError(
                "This model was saved without its training follow-up times (by an earlier "
                "graphboost), so it has no default horizon: pass horizon= (a time up to "
                f"{last:g}), or refit the model to get the neighbors' Kaplan-Meier curves."
            )
        return float(np.median(model.train_time_))
    try:
        value = float(horizon)
    except (TypeError, ValueError):
        value = np.nan
    if not np.isfinite(value) or not 0 <= value <= last:
        raise ValueError(
            f"horizon must be a time within the training follow-up, from 0 to {last:g}; "
            f"got {horizon!r}."
        )
    return value


def _cohort_function(model):
    """The Kaplan-Meier curve of all training patients (None without their times)."""
    time, event = _training_outcomes(model)
    return None if time is None else kaplan_meier_function(time, event)


def _training_outcomes(model):
    """The training times and events, ``(None, None)`` in a model saved without them."""
    return getattr(model, "train_time_", None), getattr(model, "train_event_", None)


def _position(patient, labels, n):
    """The row of ``patient``: an index label of a DataFrame, else a position."""
    if labels is not None:
        labels = pd.Index(labels)
        if labels.has_duplicates:
            _check_patients(labels, n)  # raises the message explain gives
        if patient not in labels:
            raise KeyError(f"patient {patient!r} is not in the index of X.")
        return int(labels.get_loc(patient))
    if isinstance(patient, bool) or not isinstance(patient, int | np.integer):
        raise TypeError(f"patient must be a row position of X (an int); got {patient!r}.")
    if not -n <= patient < n:
        raise IndexError(f"patient {patient} is out of range for X with {n} rows.")
    return int(patient) % n


def _select_graph(model, graph):
    """``(step, group)`` of the selected graph named by a step, a name or a spec."""
    groups = _groups(model)
    specs = [group[0].spec for group in groups]
    if isinstance(graph, GraphSpec):
        matches = [i for i, spec in enumerate(specs) if spec == graph]
    elif isinstance(graph, str):
        matches = [i for i, spec in enumerate(specs) if spec.name == graph]
    elif isinstance(graph, int | np.integer) and not isinstance(graph, bool):
        matches = [int(graph) - 1] if 1 <= graph <= len(groups) else []
    else:
        raise TypeError(f"graph must be a step (int), a graph name or a GraphSpec; got {graph!r}.")
    listed = ", ".join(f"{i + 1}: {spec.name}" for i, spec in enumerate(specs)) or "none"
    if len(matches) != 1:
        why = "names several selected graphs" if matches else "is not a selected graph"
        raise ValueError(f"graph={graph!r} {why}; the selected graphs by step are {listed}.")
    return matches[0] + 1, groups[matches[0]]
