"""Explanations a clinician can read: each source of a patient's score in words.

:meth:`graphboost.GraphBoostClassifier.explain` gives, per patient and source of the score (the
start, then each selected graph), numbers: the log-odds it adds, the risk before and after, and
the training patients linked to the patient in the graph, all on the scale the model sees
(after preprocessing). :func:`explanation_words` turns each row into a sentence with the values
the user knows (a numeric column scaled back to its units through the fitted scaler, a binary or
one-hot column named by its level), and names the similar patients by their IDs when the caller
has them (a model folder fitted with ``keep_ids``), else by their row in the training table.
:func:`explanation_text` lays one patient's sources out in the order the score is built
(``graphboost explain`` writes it for every patient to ``<output stem>.readable.txt``)::

    Patient SYN0002: risk of label = 1 is 39.1% (4 sources, in the order the score is built)
      start: linear model (all columns): 37.8% (log-odds -0.50)
      + marker_score: the 20 training patients closest in marker_score (1.58 to 2.55): 13 of 20
        had the outcome. +2.1 points (log-odds +0.09): 37.8% -> 39.9%
        most similar (IDs): SYN0002, SYN0042, SYN0045, SYN0125, SYN0130
      ...
      + family_history: 128 training patients share family_history = 0; 29% had the outcome.
        -1.8 points (log-odds -0.07): 40.9% -> 39.1%
"""

from __future__ import annotations

import math
import re

import numpy as np

#: How the similar patients are named when no ID is given: their row in the training table,
#: counted from 0 at the first row below the header (as ``cv_predictions.csv`` counts them).
ROW_NAMES = "row"


def explanation_words(explanation, preprocessor=None, *, training_ids=None, outcome=None):
    """Each source of each patient's score in words.

    Parameters
    ----------
    explanation : pandas.DataFrame
        The output of :meth:`graphboost.GraphBoostClassifier.explain` (or of
        :func:`experiments.workflows.explain`).
    preprocessor : features.ClinicalPreprocessor, optional
        The fitted preprocessor whose output the model saw: numeric values are scaled back to
        the column's units, binary values named by their level, one-hot and missing-value
        indicator columns by their category. Without it the values are written as the model
        saw them.
    training_ids : sequence, optional
        The training patients' IDs in the order of the training rows (``explain``'s
        ``neighbors`` are positions in it). Without them a similar patient is named by its row
        in the training table (``row 12``, counted from 0 at the first row below the header).
    outcome : str, optional
        What the risk is the risk of, in words (default ``"<class>"`` from
        ``explanation.attrs["outcome"]``, e.g. ``"label = 1"`` from the workflow).

    Returns
    -------
    pandas.DataFrame
        A copy of ``explanation`` with ``text`` (the source in words, e.g. ``"the 10 training
        patients closest in age (61 to 66): 3 of 10 had the outcome"``, ``"112 training
        patients share family_history = 1; 23% had the outcome"``, ``"linear model (all
        columns)"``) and ``similar_patients`` (the listed neighbors, ``"; "``-joined: IDs, or
        ``row <n>``). ``attrs["outcome"]`` and ``attrs["patients_named_by"]`` (``"ID"`` or
        ``"row"``) say how to read them.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from graphboost import GraphBoostClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"age": rng.normal(60, 8, 120).round(), "smoker": rng.integers(0, 2, 120)})
    >>> y = (X["smoker"] == 1).astype(int)
    >>> clf = GraphBoostClassifier(n_estimators=3, random_state=0).fit(X, y)
    >>> words = explanation_words(clf.explain(X.iloc[:1]))
    >>> words["text"].iloc[0]
    'linear model (all columns)'
    """
    _check(explanation)
    names = _ValueNames(preprocessor, explanation.attrs.get("feature_groups", {}))
    out = explanation.copy()
    out["text"] = [names.sentence(row) for row in explanation.itertuples(index=False)]
    out["similar_patients"] = [
        "; ".join(_patient_names(neighbors, training_ids)) for neighbors in explanation["neighbors"]
    ]
    label = explanation.attrs.get("outcome")
    out.attrs["outcome"] = outcome or (str(label) if label is not None else "the predicted class")
    out.attrs["patients_named_by"] = "row" if training_ids is None else "ID"
    return out


def explanation_text(explanation, patient=None, *, preprocessor=None, training_ids=None):
    """One patient's explanation (or every patient's) as lines of text.

    Parameters
    ----------
    explanation : pandas.DataFrame
        The output of :func:`explanation_words` (or of ``explain``: then put in words here, with
        ``preprocessor`` and ``training_ids`` as in :func:`explanation_words`).
    patient : label, optional
        The patient, as in the ``patient`` column (a DataFrame's index label; a position for an
        array), or its ID when the explanation has an ID column (``attrs["id_column"]``, as
        :func:`experiments.workflows.explain` writes). Default: every patient, one block each.

    Returns
    -------
    str
        Per patient: the risk, then each source in the order the score is built, with the change
        of risk in percentage points beside the log-odds, and the most similar patients.

    Raises
    ------
    ValueError
        When ``patient`` is not in the explanation.
    """
    if "text" not in getattr(explanation, "columns", ()):
        explanation = explanation_words(explanation, preprocessor, training_ids=training_ids)
    if patient is not None:
        id_column = explanation.attrs.get("id_column")
        rows = explanation[explanation["patient"] == patient]
        if rows.empty and id_column in explanation.columns:
            rows = explanation[explanation[id_column].astype(str) == str(patient)]
        if rows.empty:
            n = explanation["patient"].nunique()
            raise ValueError(
                f"No patient {type(patient).__name__} of that value among the {n} patients of the "
                "explanation; patients are named as in its 'patient' column (the index label of "
                "the X given to explain, or the position in an array)."
            )
        return _patient_block(rows, explanation.attrs, note=True)
    blocks = [
        _patient_block(rows, explanation.attrs, note=False)
        for _, rows in explanation.groupby("patient", sort=False)
    ]
    return "\n\n".join([*blocks, _row_note(explanation.attrs)]).rstrip()


# ------------------------------------------------------------------------------ the words
def _check(explanation):
    needed = {"patient", "step", "graph", "log_odds", "risk_after", "neighborhood_size"}
    missing = sorted(needed - set(getattr(explanation, "columns", ())))
    if missing:
        raise ValueError(
            f"The explanation lacks the column(s) {missing}; pass the DataFrame returned by "
            "GraphBoostClassifier.explain or experiments.workflows.explain."
        )


def _patient_names(neighbors, training_ids):
    neighbors = [int(i) for i in neighbors]
    if training_ids is None:
        return [f"{ROW_NAMES} {i}" for i in neighbors]
    ids = np.asarray(training_ids, dtype=object)
    return [str(ids[i]) for i in neighbors]


def _number(value):
    """A value as a clinician reads it: 3 significant digits, no exponent for usual sizes."""
    if value is None or not math.isfinite(value):
        return "?"
    if value == int(value) and abs(value) < 1e6:
        return str(int(value))
    size = abs(value)
    decimals = 0 if size >= 100 else 1 if size >= 10 else 2 if size >= 1 else 3
    return f"{value:.{decimals}f}"


class _ValueNames:
    """Model columns and values back in the user's terms, through the fitted preprocessor."""

    def __init__(self, preprocessor, feature_groups):
        self.pre = preprocessor
        self.groups = {str(k): list(v) for k, v in feature_groups.items()}
        self.scaler = {}
        pre = preprocessor
        if pre is not None and getattr(pre, "numeric_", None) and getattr(pre, "scale", False):
            scaler = pre.column_transformer_.named_transformers_["numeric"][-1]
            for i, col in enumerate(pre.numeric_):
                self.scaler[col] = (float(scaler.mean_[i]), float(scaler.scale_[i]))

    # -- one value of one column ------------------------------------------------------------
    def raw(self, column, value):
        """A numeric value in the column's units."""
        mean, scale = self.scaler.get(column, (0.0, 1.0))
        return value * scale + mean

    def condition(self, column, value):
        """What a patient with ``value`` in ``column`` has, in words (``family_history = 1``)."""
        pre = self.pre
        if column.endswith(":missing"):
            base = column.removesuffix(":missing")
            return f"{base} missing" if value >= 0.5 else f"{base} recorded"
        if pre is not None and column in getattr(pre, "binary_levels_", {}):
            levels = pre.binary_levels_[column]
            code = int(np.rint(value))
            level = levels[code] if 0 <= code < len(levels) else value
            return f"{column} = {_number(level)}"
        source = getattr(pre, "source_columns_", {}).get(column) if pre is not None else None
        if source is not None and source in getattr(pre, "categorical_", ()):
            category = column[len(source) + 1 :]
            return f"{source} = {category}" if value >= 0.5 else f"{source} other than {category}"
        return f"{column} = {_number(self.raw(column, value))}"

    def is_numeric(self, column):
        return (
            self.pre is None or column in self.scaler or column in getattr(self.pre, "numeric_", ())
        )

    # -- one row ----------------------------------------------------------------------------
    def sentence(self, row):
        if row.step == 0 or row.graph == "init":
            return str(getattr(row, "source", "the start")) or "the start"
        size = int(row.neighborhood_size)
        rate = float(row.neighbor_outcome_rate)
        if size == 0:
            return f"no training patient is linked to this patient on {row.graph}"
        had = f"{int(np.rint(rate * size))} of {size} had the outcome"
        if row.graph in self.groups:
            block = self._block(row.graph)
            return f"the {size} training patients with the most similar {block}: {had}"
        column = row.graph
        tie = int(getattr(row, "tie_group_size", 0) or 0)
        if tie:
            return (
                f"{tie} training patients share {self.condition(column, row.value_low)}; "
                f"{rate:.0%} had the outcome"
            )
        low, high = self.raw(column, row.value_low), self.raw(column, row.value_high)
        span = f"{_number(low)} to {_number(high)}"
        if not self.is_numeric(column):  # a one-hot or indicator column, values not tied
            low, high = (self.condition(column, v) for v in (row.value_low, row.value_high))
            span = f"{low} to {high}"
        threshold = re.search(r"threshold=([-+0-9.e]+)", str(getattr(row, "rule", "")))
        if threshold:
            _, scale = self.scaler.get(column, (0.0, 1.0))
            within = _number(float(threshold.group(1)) * scale)
            return f"the {size} training patients within {within} in {column} ({span}): {had}"
        return f"the {size} training patients closest in {column} ({span}): {had}"

    def _block(self, name):
        """A block in words: an embedding (a block with a ``<block>:missing`` indicator, as
        ``features.Cohort`` writes a modality) or a group of columns."""
        columns = self.groups[name]
        sources = getattr(self.pre, "source_columns_", {}) if self.pre is not None else {}
        if f"{name}:missing" in sources or any(c.startswith(f"{name}:") for c in columns):
            return f"{name} embedding"
        shown = ", ".join(columns[:4]) + (
            f" and {len(columns) - 4} more" if len(columns) > 4 else ""
        )
        return f"values of {name} ({shown})"


# ------------------------------------------------------------------------------ the layout
def _patient_block(rows, attrs, note):
    rows = rows.sort_values("step", kind="stable")
    outcome = attrs.get("outcome") or "the predicted class"
    final = float(rows["risk_after"].iloc[-1])
    id_column = attrs.get("id_column")
    who = rows[id_column].iloc[0] if id_column in rows.columns else rows["patient"].iloc[0]
    lines = [
        f"Patient {who}: risk of {outcome} is {final:.1%} "
        f"({len(rows)} sources, in the order the score is built)"
    ]
    by_row = attrs.get("patients_named_by", "row") == "row"
    for row in rows.itertuples(index=False):
        if row.step == 0:
            lines.append(
                f"  start: {row.text}: {row.risk_after:.1%} (log-odds {row.log_odds:+.2f})"
            )
            continue
        lines.append(
            f"  + {row.graph}: {row.text}. {row.risk_change_pp:+.1f} points "
            f"(log-odds {row.log_odds:+.2f}): {row.risk_before:.1%} -> {row.risk_after:.1%}"
        )
        if row.similar_patients:
            names = row.similar_patients.split("; ")
            if by_row:
                names = [n.removeprefix(f"{ROW_NAMES} ") for n in names]
            lines.append(
                f"    most similar ({'training rows' if by_row else 'IDs'}): {', '.join(names)}"
            )
    if note and _row_note(attrs):
        lines.append(_row_note(attrs))
    return "\n".join(lines)


def _row_note(attrs):
    if attrs.get("patients_named_by", "row") != "row":
        return ""
    return (
        "(training rows: counted from 0 at the first row below the header of the training "
        "table; a model folder fitted with --keep-ids names the patients by their IDs)"
    )
