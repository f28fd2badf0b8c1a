"""Per-patient explanations: which graphs moved the score, and which similar patients drove it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._boosting import _samme_codes


def explain(model, X, n_neighbors):
    """Rows of (patient, graph) contributions; see :meth:`GraphBoostClassifier.explain`."""
    if int(n_neighbors) != n_neighbors or n_neighbors < 1:
        raise ValueError(f"n_neighbors must be a positive integer; got {n_neighbors!r}.")
    n_classes = model.n_classes_
    init_logits = model.init_.log_proba(X)
    # Per-round class scores, grouped by graph.
    by_graph = {}
    for learner, weight, spec in zip(
        model.estimators_, model.estimator_weights_, model.selected_graphs_, strict=True
    ):
        scores = model.boost_scale_ * weight * _samme_codes(learner._predict_codes(X), n_classes)
        entry = by_graph.setdefault(spec, {"scores": 0.0, "rounds": 0, "learner": learner})
        entry["scores"] = entry["scores"] + scores
        entry["rounds"] += 1
    total = init_logits + sum((e["scores"] for e in by_graph.values()), 0.0)
    predicted = np.argmax(total, axis=1)
    rows_idx = np.arange(X.shape[0])

    def part(scores):
        if n_classes == 2:
            return scores[:, 1] - scores[:, 0]
        return scores[rows_idx, predicted]

    y_train = None
    records = []
    init_part = part(init_logits)
    for i in rows_idx:
        records.append(
            {
                "patient": int(i),
                "graph": "init",
                "rule": getattr(model.init_, "kind", "init"),
                "rounds": 0,
                "contribution": float(init_part[i]),
                "neighbours": [],
                "neighbour_labels": [],
            }
        )
    for spec, entry in by_graph.items():
        learner = entry["learner"]
        graph = learner.graph_
        if y_train is None:
            y_train = learner.vote_weights_.argmax(axis=1)
        neighbours = graph.neighbours_query(X, max(n_neighbors, model.max_degree))[:, :n_neighbors]
        contribution = part(entry["scores"])
        for i in rows_idx:
            found = neighbours[i][neighbours[i] >= 0]
            records.append(
                {
                    "patient": int(i),
                    "graph": spec.name,
                    "rule": str(spec),
                    "rounds": entry["rounds"],
                    "contribution": float(contribution[i]),
                    "neighbours": found.tolist(),
                    "neighbour_labels": model.classes_[y_train[found]].tolist(),
                }
            )
    frame = pd.DataFrame.from_records(records)
    return frame.sort_values(["patient", "graph"], kind="stable", ignore_index=True)
