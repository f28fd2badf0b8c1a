"""Model folders written by ``graphboost fit`` / ``tune``: estimator, preprocessing and cohort spec.

Layout (no pickle anywhere)::

    model/
      estimator/          GraphBoostClassifier.save() output (JSON + tensors)
      preprocessor.json   fitted TablePreprocessor state
      cohort.json         label, excluded and feature columns, ID column, feature groups, classes
      report.md           what was fitted, on what, with which result
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ._data import InputError
from ._preprocess import GroupColumns, TablePreprocessor

FORMAT = "graphboost-model-folder/1"


def build_estimator(params, groups, random_state):
    """GraphBoostClassifier; ``groups`` are lists of *preprocessed* column names (JSON-safe)."""
    from ._methods import make_estimator

    params = dict(params)
    if groups:
        params["feature_groups"] = {k: list(v) for k, v in groups.items()}
    return make_estimator("graphboost", params, None, random_state=random_state)


def resolved_groups(clf, columns):
    """Names of the columns of each fitted feature group (for the JSON metadata)."""
    groups = getattr(clf, "feature_groups_", None) or {}
    return {k: [str(columns[i]) for i in v] for k, v in groups.items()}


def save_model_folder(path, clf, preprocessor, cohort, report):
    """Write a model folder (the folder must be a fresh staging folder)."""
    path = Path(path)
    clf.save(path / "estimator")
    (path / "preprocessor.json").write_text(json.dumps(preprocessor.to_dict(), indent=2))
    meta = {"format": FORMAT, **cohort}
    (path / "cohort.json").write_text(json.dumps(meta, indent=2, default=str))
    (path / "report.md").write_text(report)


class LoadedModel:
    """A model folder loaded back: ``predict_proba`` / ``explain`` on a raw cohort table."""

    def __init__(self, path):
        from graphboost import load

        path = Path(path)
        if not path.is_dir():
            raise InputError(f"Model folder not found: '{path}'.")
        meta_file = path / "cohort.json"
        if not meta_file.is_file():
            raise InputError(
                f"'{path}' is not a graphboost model folder (no cohort.json); "
                "create one with `graphboost fit`."
            )
        try:
            self.meta = json.loads(meta_file.read_text())
            pre_state = json.loads((path / "preprocessor.json").read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(f"Model folder '{path}' is damaged: {exc}") from exc
        if self.meta.get("format") != FORMAT:
            raise InputError(
                f"Model folder '{path}' has format {self.meta.get('format')!r}; this version "
                f"reads {FORMAT!r}."
            )
        self.preprocessor = TablePreprocessor.from_dict(pre_state)
        try:
            self.clf = load(path / "estimator")
        except Exception as exc:
            raise InputError(f"Cannot load the estimator in '{path / 'estimator'}': {exc}") from exc
        self.path = path

    def features(self, df):
        """Preprocessed feature matrix for a raw cohort table (columns checked by name)."""
        cols = self.meta["feature_columns"]
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise InputError(
                f"Columns missing from the cohort table: {missing[:5]}"
                + (f" (and {len(missing) - 5} more)" if len(missing) > 5 else "")
                + "; the model was fitted with them."
            )
        return self.preprocessor.transform(df[cols])

    def predict_frame(self, df):
        """Probabilities per class and the predicted class, with the ID column when known."""
        Xt = self.features(df)
        proba = self.clf.predict_proba(Xt)
        classes = self.meta["classes"]
        out = pd.DataFrame(index=df.index)
        idc = self.meta.get("id_column")
        if idc and idc in df.columns:
            out[idc] = df[idc].to_numpy()
        for k, c in enumerate(classes):
            out[f"proba_{c}"] = proba[:, k]
        out["predicted"] = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
        return out


def resolve_groups(feature_groups, Xt):
    """Source-column groups -> lists of preprocessed column names (empty groups are errors)."""
    out = {}
    for name, cols in (feature_groups or {}).items():
        picked = GroupColumns(cols)(Xt)
        if not picked:
            raise InputError(f"Feature group {name!r} matches no column of the cohort: {cols[:5]}.")
        out[name] = picked
    return out
