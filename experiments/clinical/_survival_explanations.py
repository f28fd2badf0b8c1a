"""A survival prediction's explanation in words a clinician can read.

:meth:`graphboost.GraphBoostSurvivalAnalysis.explain` gives, per patient and source of the risk
score (the ridge Cox start, then each selected graph), numbers: the log hazard it adds, the
survival at a horizon before and after it, and how the training patients linked to the patient
in the graph fared (their Kaplan-Meier survival at the horizon beside the whole cohort's).
:func:`survival_explanation_words` turns each row into a sentence in the table's units (through
the fitted preprocessor, as :func:`experiments.clinical.explanation_words` does for the
classifier); :func:`survival_explanation_text` lays a patient out (a gbsg patient, from
``graphboost explain --horizon 1826``; lines wrapped here)::

    Patient 1575: risk score +1.14 (log relative hazard), higher than 97% of the training
    patients; event-free (status) at 1826: 11% (cohort 49%)
      start: ridge Cox model (all columns): log hazard +1.06 (hazard ratio 2.88), 13% at 1826
      + nodes: of the 58 training patients most similar on nodes (12 to 20), 23% were
        event-free (status) at 1826 vs 49% in the cohort (41 had the event). Log hazard +0.08
        (hazard ratio 1.08): 13% -> 11% (-2.1 points)
        most similar (training rows): 1, 79, 170, 207, 222
"""

from __future__ import annotations

import math
import re

import numpy as np

from ._explanations import ROW_NAMES, _number, _patient_names, _row_note, _ValueNames


def _pct(value):
    return "?" if value is None or not math.isfinite(value) else f"{value:.0%}"


class _SurvivalWords(_ValueNames):
    """A row of a survival explanation in words."""

    def __init__(self, preprocessor, feature_groups, event):
        super().__init__(preprocessor, feature_groups)
        self.event = event

    def raw(self, column, value):
        """A value in the column's units, the float noise of the scaler rounded off."""
        return round(super().raw(column, value), 9)

    def who(self, row):
        """The training patients linked in the graph, as a phrase."""
        size = int(row.neighborhood_size)
        if str(row.rule).startswith("GraphSpec(leaf"):
            return f"the {size} training patients in the same subgroup ({self.leaf(row.source)})"
        if row.graph in self.groups:
            return f"the {size} training patients with the most similar {self._block(row.graph)}"
        tie = int(getattr(row, "tie_group_size", 0) or 0)
        if tie:
            return (
                f"the {tie} training patients who share {self.condition(row.graph, row.value_low)}"
            )
        low, high = self.raw(row.graph, row.value_low), self.raw(row.graph, row.value_high)
        span = f"{_number(low)} to {_number(high)}"
        if not self.is_numeric(row.graph):
            span = " to ".join(
                self.condition(row.graph, v) for v in (row.value_low, row.value_high)
            )
        return f"the {size} training patients most similar on {row.graph} ({span})"

    def leaf(self, source):
        """A leaf graph's conditions (the end of its ``source``, on the model's scale) in the
        table's units; as they are where they cannot be read."""
        found = re.search(r": same leaf \((.*)\)$", str(source))
        if found is None:
            return str(source)
        return ", ".join(self._bound(part) for part in found.group(1).split(", "))

    def _bound(self, condition):
        """One condition (``name <= v``, ``name > v`` or ``low < name <= high``) in words."""
        both = re.fullmatch(r"(\S+) < (.+) <= (\S+)", condition)
        one = re.fullmatch(r"(.+) (<=|>) (\S+)", condition)
        try:
            if both is not None:
                low, column, high = both.group(1), both.group(2), both.group(3)
                if self.is_numeric(column):
                    values = [_number(self.raw(column, float(v))) for v in (low, high)]
                    return f"{values[0]} < {column} <= {values[1]}"
            elif one is not None:
                column, sign, value = one.group(1), one.group(2), float(one.group(3))
                if self.is_numeric(column):
                    return f"{column} {sign} {_number(self.raw(column, value))}"
                if 0 <= value < 1:  # a 0/1 column split between its values
                    return self.condition(column, 0.0 if sign == "<=" else 1.0)
        except ValueError:
            pass
        return condition

    def sentence(self, row):
        if row.step == 0 or row.graph == "init":
            return str(row.source)
        size = int(row.neighborhood_size)
        if size == 0:
            return f"no training patient is linked to this patient on {row.graph}"
        h = _number(float(row.horizon))
        events = row.neighborhood_events
        had = f"{int(events)} had the event" if math.isfinite(float(events)) else "events unknown"
        neighbors = float(row.neighbor_survival_at_horizon)
        if not math.isfinite(neighbors):
            return f"{self.who(row)}: their follow-up ends before {h} ({had})"
        return (
            f"of {self.who(row)}, {_pct(neighbors)} were event-free ({self.event}) at {h} vs "
            f"{_pct(float(row.cohort_survival_at_horizon))} in the cohort ({had})"
        )


def survival_explanation_words(
    explanation, preprocessor=None, *, training_ids=None, event="the event"
):
    """Each source of each patient's risk score in words.

    Parameters
    ----------
    explanation : pandas.DataFrame
        :meth:`graphboost.GraphBoostSurvivalAnalysis.explain`'s output.
    preprocessor : features.ClinicalPreprocessor, optional
        The fitted preprocessor whose output the model saw (values in the table's units).
    training_ids : sequence, optional
        The training patients' IDs in the order of the training rows; without them a similar
        patient is named by its row in the training table.
    event : str, default="the event"
        The event's name in the sentences (the event column).

    Returns
    -------
    pandas.DataFrame
        A copy with ``text`` (e.g. ``"of the 58 training patients most similar on nodes (12 to
        20), 23% were event-free (status) at 1826 vs 49% in the cohort (41 had the event)"``) and
        ``similar_patients`` (``"; "``-joined IDs or ``row <n>``).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from graphboost import GraphBoostSurvivalAnalysis
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"nodes": rng.integers(0, 10, 200).astype(float)})
    >>> t = rng.exponential(np.exp(-0.3 * X["nodes"].to_numpy())) * 10
    >>> y = np.array([(v < 12, min(v, 12)) for v in t], dtype=[("event", bool), ("time", float)])
    >>> model = GraphBoostSurvivalAnalysis(n_estimators=5, boost_scale=1.0, random_state=0)
    >>> words = survival_explanation_words(model.fit(X, y).explain(X.iloc[:1]), event="relapse")
    >>> words["text"].iloc[0]
    'ridge Cox model (all columns)'
    >>> "were event-free (relapse) at" in words["text"].iloc[1]
    True
    """
    names = _SurvivalWords(preprocessor, explanation.attrs.get("feature_groups", {}), event)
    out = explanation.copy()
    out["text"] = [names.sentence(row) for row in explanation.itertuples(index=False)]
    out["similar_patients"] = [
        "; ".join(_patient_names(neighbors, training_ids)) for neighbors in explanation["neighbors"]
    ]
    out.attrs["event"] = event
    out.attrs["patients_named_by"] = "row" if training_ids is None else "ID"
    return out


def survival_explanation_text(explanation):
    """Every patient's explanation (from :func:`survival_explanation_words`) as lines of text.

    The first line of a patient gives the risk score, its rank among the training patients
    (column ``risk_percentile``, when present) and the survival at the horizon beside the
    cohort's; then each source in the order the score is built.
    """
    blocks = [
        _patient_block(rows, explanation.attrs)
        for _, rows in explanation.groupby("patient", sort=False)
    ]
    return "\n\n".join([*blocks, _row_note(explanation.attrs)]).rstrip()


def _patient_block(rows, attrs):
    rows = rows.sort_values("step", kind="stable")
    last = rows.iloc[-1]
    id_column = attrs.get("id_column")
    who = rows[id_column].iloc[0] if id_column in rows.columns else rows["patient"].iloc[0]
    h, event = _number(float(last.horizon)), attrs.get("event", "the event")
    rank = ""
    if "risk_percentile" in rows.columns and math.isfinite(float(last.risk_percentile)):
        rank = f", higher than {float(last.risk_percentile):.0f}% of the training patients"
    lines = [
        f"Patient {who}: risk score {float(last.risk_after):+.2f} (log relative hazard){rank}; "
        f"event-free ({event}) at {h}: {_pct(float(last.survival_after))} (cohort "
        f"{_pct(float(last.cohort_survival_at_horizon))})"
    ]
    by_row = attrs.get("patients_named_by", "row") == "row"
    for row in rows.itertuples(index=False):
        change = f"log hazard {row.log_hazard:+.2f} (hazard ratio {row.hazard_ratio:.2f})"
        if row.step == 0:
            lines.append(f"  start: {row.text}: {change}, {_pct(row.survival_after)} at {h}")
            continue
        lines.append(
            f"  + {row.graph}: {row.text}. {change[0].upper()}{change[1:]}: "
            f"{_pct(row.survival_before)} -> {_pct(row.survival_after)} "
            f"({row.survival_change_pp:+.1f} points)"
        )
        if row.similar_patients:
            names = row.similar_patients.split("; ")
            if by_row:
                names = [n.removeprefix(f"{ROW_NAMES} ") for n in names]
            lines.append(
                f"    most similar ({'training rows' if by_row else 'IDs'}): {', '.join(names)}"
            )
    return "\n".join(lines)


def risk_percentile(risk, percentiles):
    """Where each risk score lies among the training patients' (0-100), from the 101
    percentiles of their scores that a survival model folder keeps.

    Examples
    --------
    >>> risk_percentile([0.5], list(range(101))).tolist()
    [0.5]
    """
    grid = np.asarray(percentiles, dtype=float)
    return np.interp(np.asarray(risk, dtype=float), grid, np.arange(grid.size, dtype=float))
