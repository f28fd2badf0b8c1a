"""Per-patient explanations: which graphs moved the score, and which similar patients drove it.

The score of a patient is the init model's score plus, for each selected graph, the weighted
SAMME codes of the rounds that used it. One row per (patient, source of the score) lists that
part and, for a graph, the patient's nearest training patients in it with their labels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._samme import samme_codes

COLUMNS = ("patient", "graph", "rule", "rounds", "contribution", "neighbors", "neighbor_labels")


def explain(model, X, n_neighbors):
    """Rows of (patient, graph) contributions; see :meth:`GraphBoostClassifier.explain`."""
    if int(n_neighbors) != n_neighbors or n_neighbors < 1:
        raise ValueError(f"n_neighbors must be a positive integer; got {n_neighbors!r}.")
    init_logits = model.init_.log_proba(X)
    by_graph = _scores_by_graph(model, X)
    total = init_logits + sum((entry["scores"] for entry in by_graph.values()), 0.0)
    part = _part_of_the_decision(total)
    no_one = np.empty(0, dtype=np.int64)
    init_rule = getattr(model.init_, "kind", "init")
    records = [
        _record(i, "init", init_rule, 0, contribution, no_one, model.classes_[no_one])
        for i, contribution in enumerate(part(init_logits))
    ]
    for spec, entry in by_graph.items():
        learner = entry["learner"]
        labels = model.classes_[learner.y_codes_]
        nearest = learner.graph_.neighbors_query(X, max(n_neighbors, model.max_degree))
        rounds = entry["rounds"]
        for i, contribution in enumerate(part(entry["scores"])):
            found = nearest[i, :n_neighbors]
            found = found[found >= 0]
            records.append(
                _record(i, spec.name, str(spec), rounds, contribution, found, labels[found])
            )
    frame = pd.DataFrame.from_records(records, columns=COLUMNS)
    return frame.sort_values(["patient", "graph"], kind="stable", ignore_index=True)


def _scores_by_graph(model, X):
    """Per selected graph: the summed class scores of its rounds, their number, a learner."""
    by_graph = {}
    for learner, weight, spec in zip(
        model.estimators_, model.estimator_weights_, model.selected_graphs_, strict=True
    ):
        codes = samme_codes(learner._predict_codes(X), model.n_classes_)
        entry = by_graph.setdefault(spec, {"scores": 0.0, "rounds": 0, "learner": learner})
        entry["scores"] = entry["scores"] + model.boost_scale_ * weight * codes
        entry["rounds"] += 1
    return by_graph


def _part_of_the_decision(total):
    """What a score adds to the decision: the log-odds (binary) or the predicted class's score."""
    if total.shape[1] == 2:
        return lambda scores: scores[:, 1] - scores[:, 0]
    predicted = np.argmax(total, axis=1)
    rows = np.arange(total.shape[0])
    return lambda scores: scores[rows, predicted]


def _record(patient, graph, rule, rounds, contribution, neighbors, labels):
    return {
        "patient": int(patient),
        "graph": graph,
        "rule": rule,
        "rounds": rounds,
        "contribution": float(contribution),
        "neighbors": neighbors.tolist(),
        "neighbor_labels": labels.tolist(),
    }
