"""The frozen Duke reference cases: predictions recorded before the issue-8 refactor.

``python -m tests.graphboost.reference_cases`` rewrites ``data/duke_reference.json``; only do that
when a change of predictions is intended and explained in the commit.
"""

import json
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold

REFERENCE_FILE = Path(__file__).parent / "data" / "duke_reference.json"

# The defaults when the reference was recorded (issue 9 changed them): the init's C chosen by
# log-loss, the boosted score added whole. Early stopping still chooses its scale ("auto").
RECORDED_DEFAULTS = {"init_scoring": "neg_log_loss", "boost_scale": 1.0}

# (task, estimator parameters): the default, early stopping, threshold graphs and a GNN learner.
CASES = {
    "pcr-default": ("pcr", {**RECORDED_DEFAULTS}),
    "pcr-early-stopping": ("pcr", {"init_scoring": "neg_log_loss", "early_stopping": True}),
    "pcr-threshold": (
        "pcr",
        {**RECORDED_DEFAULTS, "threshold_quantiles": (0.02,), "n_estimators": 20},
    ),
    "pcr-gcn": ("pcr", {**RECORDED_DEFAULTS, "conv": "gcn", "n_estimators": 3, "max_epochs": 20}),
    "tnbc-default": ("tnbc", {**RECORDED_DEFAULTS, "n_estimators": 10}),
}


def reference_fold(y):
    """Train and test indices: the first fold of a seeded stratified 5-fold split."""
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    return next(iter(folds.split(np.zeros(len(y)), y)))


def predict_case(name, data, make_model):
    """Fit ``make_model(**params)`` on the reference fold of ``data``; test-fold probabilities."""
    _, params = CASES[name]
    train, test = reference_fold(data.y)
    model = make_model(**params).fit(data.X.iloc[train], data.y.iloc[train])
    return model.predict_proba(data.X.iloc[test])[:, 1]


def _make_model(**params):
    from sklearn.pipeline import make_pipeline

    from features import ClinicalPreprocessor
    from graphboost import GraphBoostClassifier

    return make_pipeline(
        ClinicalPreprocessor(), GraphBoostClassifier(random_state=0, **params)
    ).set_output(transform="pandas")


def main():
    from features import load_duke

    out = {}
    for name, (task, _) in CASES.items():
        out[name] = predict_case(name, load_duke(task), _make_model).tolist()
        print(name, len(out[name]))
    REFERENCE_FILE.parent.mkdir(exist_ok=True)
    REFERENCE_FILE.write_text(json.dumps(out, indent=0) + "\n")


if __name__ == "__main__":
    main()
