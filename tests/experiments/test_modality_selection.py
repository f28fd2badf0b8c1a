"""ModalitySelectionClassifier: each modality alone or all of them, chosen inside the training
data by inner CV; the benchmark method ``graphboost_modalities`` that wraps it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline as sk_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from experiments import (
    Dataset,
    InputError,
    ModalitySelectionClassifier,
    make_pipeline,
    run_benchmark,
)
from experiments.methods._modality_selection import arm_estimator, choose_arm

FITS = []
"""Index of every X a RecordingClassifier was fitted on (cloning copies parameters, so the log
lives at module level)."""


class RecordingClassifier(ClassifierMixin, BaseEstimator):
    """Logistic regression that logs the rows and columns it is fitted on."""

    def __init__(self, *, C=1.0):
        self.C = C

    def fit(self, X, y):
        FITS.append((tuple(X.index), tuple(X.columns)))
        self.model_ = LogisticRegression(C=self.C, max_iter=1000).fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X)

    def predict(self, X):
        return self.model_.predict(X)


def logistic(C=10.0):
    return sk_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000))


def two_modalities(n=120, n_noise=200, clinical=1.0, imaging=0.0, seed=0):
    """Three clinical and ``n_noise`` imaging columns; the label follows ``clinical`` times the
    clinical signal plus ``imaging`` times the first imaging columns."""
    rng = np.random.default_rng(seed)
    clin = rng.normal(size=(n, 3))
    img = rng.normal(size=(n, n_noise))
    score = clinical * clin.sum(axis=1) + imaging * img[:, :3].sum(axis=1)
    y = (score + 0.3 * rng.normal(size=n) > 0).astype(int)
    columns = [f"clin:{k}" for k in range(3)] + [f"img:{k}" for k in range(n_noise)]
    return pd.DataFrame(np.hstack([clin, img]), columns=columns), y


@pytest.fixture(scope="module")
def noisy_imaging():
    X, y = two_modalities()
    return X, y, ModalitySelectionClassifier(logistic(), cv=3).fit(X, y)


def test_picks_the_informative_modality_over_many_noise_columns(noisy_imaging):
    X, y, model = noisy_imaging
    assert model.arm_ == "clinical"
    assert model.columns_ == ["clin:0", "clin:1", "clin:2"]
    assert set(model.modalities_) == {"clinical", "imaging"}
    table = pd.DataFrame(model.cv_results_).set_index("arm")
    assert list(table.index) == ["clinical", "imaging", "all"]
    assert table.loc["clinical", "chosen"] and not table.loc["all", "chosen"]
    assert (
        table.loc["clinical", "mean_difference_vs_all"]
        > table.loc["clinical", "se_difference_vs_all"]
    )
    assert list(table.n_columns) == [3, 200, 203]
    # the chosen arm reads its own columns only: imaging noise changes no prediction
    shuffled = X.copy()
    shuffled.iloc[:, 3:] = np.random.default_rng(1).permutation(shuffled.iloc[:, 3:].to_numpy())
    np.testing.assert_array_equal(model.predict_proba(shuffled), model.predict_proba(X))
    assert model.score(X, y) > 0.9
    assert model.n_features_in_ == 203 and list(model.feature_names_in_) == list(X.columns)


def test_keeps_all_when_both_modalities_carry_signal():
    X, y = two_modalities(n=150, n_noise=3, clinical=1.0, imaging=1.0)
    model = ModalitySelectionClassifier(logistic(), cv=3).fit(X, y)
    assert model.arm_ == "all" and model.columns_ == list(X.columns)
    table = pd.DataFrame(model.cv_results_).set_index("arm")
    assert table.mean_score.idxmax() == "all"
    assert (table.mean_difference_vs_all.drop("all") < 0).all()


def test_choose_arm_needs_a_gap_above_one_paired_standard_error():
    full = np.array([0.70, 0.72, 0.68, 0.71])
    assert choose_arm({"a": full + 0.01, "all": full}) == "a"  # constant gain: SE 0
    assert choose_arm({"a": full, "all": full}) == "all"  # a tie keeps every modality
    noisy = full + np.array([0.10, -0.06, 0.08, -0.08])  # mean gain 0.01, SE 0.045
    assert choose_arm({"a": noisy, "all": full}) == "all"
    assert choose_arm({"a": full + 0.02, "b": full + 0.05, "all": full}) == "b"


def test_one_modality_is_the_wrapped_estimator_without_inner_cv(cohort_df):
    X = cohort_df[["age", "x1"]].fillna(0.0)
    y = cohort_df.y.to_numpy()
    FITS.clear()
    model = ModalitySelectionClassifier(RecordingClassifier(), cv=3).fit(X, y)
    assert len(FITS) == 1  # no inner CV: one fit on all the training data
    assert model.arm_ == "all" and model.cv_results_ == {} and model.columns_ == ["age", "x1"]
    alone = RecordingClassifier().fit(X, y)
    np.testing.assert_array_equal(model.predict_proba(X), alone.predict_proba(X))
    # an array without column names is one modality as well
    arr = ModalitySelectionClassifier(logistic()).fit(X.to_numpy(), y)
    np.testing.assert_allclose(
        arr.predict_proba(X.to_numpy()), logistic().fit(X.to_numpy(), y).predict_proba(X.to_numpy())
    )
    assert arr.n_features_in_ == 2 and not hasattr(arr, "feature_names_in_")


def test_inner_cv_sees_the_training_rows_only_on_folds_shared_by_every_arm():
    X, y = two_modalities(n=90, n_noise=20)
    train, test = X.index[:60], X.index[60:]
    FITS.clear()
    model = ModalitySelectionClassifier(RecordingClassifier(), cv=3, random_state=4)
    model.fit(X.loc[train], y[:60])
    assert len(FITS) == 3 * 3 + 1  # three arms x three inner folds, then the refit
    assert all(set(rows) <= set(train) for rows, _ in FITS)
    assert not any(set(rows) & set(test) for rows, _ in FITS)
    folds = {}
    for rows, cols in FITS[:-1]:
        folds.setdefault(cols, []).append(rows)
    assert len(folds) == 3 and len({tuple(v) for v in folds.values()}) == 1
    assert FITS[-1][0] == tuple(train) and list(FITS[-1][1]) == model.columns_


def test_clone_and_params_round_trip():
    model = ModalitySelectionClassifier(
        logistic(), modalities={"c": ["clin:"], "i": ["img:"]}, cv=2, random_state=3
    )
    twin = clone(model)
    params = model.get_params(deep=False)
    assert twin.get_params(deep=False).keys() == params.keys()
    assert twin.modalities == params["modalities"] and twin.cv == 2 and twin.random_state == 3
    assert "estimator__logisticregression__C" in model.get_params(deep=True)
    twin.set_params(estimator__logisticregression__C=0.5, cv=3)
    assert twin.estimator.steps[-1][1].C == 0.5 and model.estimator.steps[-1][1].C == 10.0
    X, y = two_modalities(n=60, n_noise=5)
    fitted = twin.fit(X, y)
    assert set(fitted.modalities_) == {"c", "i"} and not hasattr(clone(fitted), "arm_")


def test_decision_function_follows_the_estimator(noisy_imaging):
    X, _, model = noisy_imaging
    assert model.decision_function(X).shape == (len(X),)
    no_decision = ModalitySelectionClassifier(RecordingClassifier())
    assert not hasattr(no_decision, "decision_function")


def test_arm_estimator_keeps_the_feature_groups_and_preprocessor_columns_of_the_arm():
    from features import ClinicalPreprocessor

    groups = {"clinical": ["clin:0", "clin:1"], "imaging": ["img:0", "img:1"]}
    pipe = make_pipeline(
        "graphboost",
        {"n_estimators": 3},
        groups,
        preprocessor=ClinicalPreprocessor(numeric=["clin:0", "clin:1", "img:0", "img:1"]),
    )
    arm = arm_estimator(pipe, ["clin:0", "clin:1", "clin:2"])
    assert list(arm.named_steps["model"].feature_groups) == ["clinical"]
    assert arm.named_steps["preprocess"].numeric == ["clin:0", "clin:1"]
    assert sorted(pipe.named_steps["model"].feature_groups) == ["clinical", "imaging"]
    assert arm_estimator(pipe, ["img:5"]).named_steps["model"].feature_groups is None


def test_a_reduced_block_is_reduced_in_its_arms_only():
    """Issue 10: a block reduced to its components inside the fold (``block_components``)."""
    from features import ClinicalPreprocessor

    X, y = two_modalities(n=60, n_noise=30)
    img = list(X.columns[3:])
    pre = ClinicalPreprocessor(numeric=img, skip_indicator=img, block_components={"img": 4})
    pipe = make_pipeline("graphboost", {"n_estimators": 3, "conv": "vote"}, {"img": img}, 0, 1, pre)
    clinical = arm_estimator(pipe, list(X.columns[:3]))
    assert clinical.named_steps["preprocess"].block_components is None
    assert clinical.named_steps["model"].feature_groups is None
    imaging = arm_estimator(pipe, img).fit(X[img], y)
    graphs = imaging.named_steps["model"].feature_groups_
    names = imaging.named_steps["model"].feature_names_in_
    assert [names[i] for i in graphs["img"]] == [f"img:pc{i}" for i in range(4)]
    model = ModalitySelectionClassifier(pipe, cv=2).fit(X, y)
    assert model.arm_ in {"clinical", "imaging", "all"}


def test_graphboost_default_and_feature_groups_fit_each_arm():
    X, y = two_modalities(n=60, n_noise=30)
    groups = {"clinical": list(X.columns[:3]), "imaging": list(X.columns[3:])}
    pipe = make_pipeline("graphboost", {"n_estimators": 3, "conv": "vote"}, groups)
    model = ModalitySelectionClassifier(pipe, cv=2).fit(X, y)
    assert model.arm_ in {"clinical", "imaging", "all"}
    assert model.predict_proba(X).shape == (60, 2)
    default = ModalitySelectionClassifier(cv=2).set_params(
        estimator=None, modalities={"clinical": ["clin:"]}
    )
    with pytest.warns(UserWarning, match="30 column.s. belong to no modality"):
        default.fit(X, y)
    assert default.columns_ == ["clin:0", "clin:1", "clin:2"]
    assert type(default.estimator_[-1]).__name__ == "GraphBoostClassifier"


def test_benchmark_method_graphboost_modalities():
    X, y = two_modalities(n=60, n_noise=30)
    params = {"n_estimators": 3, "conv": "vote", "cv": 2, "modalities": {"c": ["clin:"]}}
    selector = make_pipeline("graphboost_modalities", params, random_state=5)
    assert isinstance(selector, ModalitySelectionClassifier)
    assert selector.cv == 2 and selector.modalities == {"c": ["clin:"]}
    assert selector.random_state == 5 and selector.estimator[-1].n_estimators == 3
    cfg = {
        "name": "toy",
        "dataset": {"kind": "csv"},
        "methods": ["graphboost", "graphboost_modalities"],
        "cv": {"n_splits": 2, "n_repeats": 1},
        "metrics": {"n_bootstrap": 20},
        "params": {
            "graphboost": {"n_estimators": 3, "conv": "vote", "n_neighbors": 5},
            "graphboost_modalities": {"n_estimators": 3, "conv": "vote", "n_neighbors": 5, "cv": 2},
        },
    }
    res = run_benchmark(cfg, progress=False, dataset=Dataset("toy", X, y))
    assert list(res.table.method) == ["graphboost", "graphboost_modalities"]
    assert res.comparison is None  # graphboost_modalities is not a baseline
    assert res.table.set_index("method").auroc["graphboost_modalities"] > 0.8


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")
@parametrize_with_checks([ModalitySelectionClassifier(LogisticRegression(), cv=3)])
def test_sklearn_contract(estimator, check):
    """scikit-learn's estimator checks (arrays without column names: one modality)."""
    check(estimator)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("modalities", "match"),
    [
        ({"clinical": ["clin:"], "scan": ["scan:"]}, r"Modality 'scan' .* matches no column of X"),
        ({"a": ["clin:"], "b": ["clin:0"]}, r"Column 'clin:0' is in two modalities"),
        (["clin:"], r"'modalities' parameter of ModalitySelectionClassifier must be a non-empty"),
        ({"all": ["clin:"]}, r"cannot name a modality 'all'"),
        ({"clinical": "clin:"}, r"modalities\['clinical'\] must be a non-empty list"),
    ],
)
def test_bad_modalities(modalities, match):
    X, y = two_modalities(n=40, n_noise=4)
    with pytest.raises(InputError, match=match):
        ModalitySelectionClassifier(logistic(), modalities=modalities).fit(X, y)


def test_errors_on_x_y_and_cv():
    X, y = two_modalities(n=40, n_noise=4)
    model = ModalitySelectionClassifier(logistic(), modalities={"c": ["clin:"], "i": ["img:"]})
    with pytest.raises(ValueError, match=r"needs X as a pandas DataFrame .* got ndarray"):
        model.fit(X.to_numpy(), y)
    with pytest.raises(ValueError, match="needs string column names"):
        model.fit(X.set_axis(range(X.shape[1]), axis=1), y)
    with pytest.raises(ValueError, match="requires y to be passed, but the target y is None"):
        model.fit(X, None)
    with pytest.raises(ValueError, match="Expected unique column names"):
        model.fit(X.rename(columns={"clin:1": "clin:0"}), y)
    with pytest.raises(ValueError, match="must have as many rows; got 40 and 39"):
        model.fit(X, y[:-1])
    small = y.copy()
    small[:] = 0
    small[:2] = 1
    with pytest.raises(ValueError, match=r"'cv' parameter .* smallest class \(2\); got 5"):
        model.fit(X, small)
    fitted = ModalitySelectionClassifier(logistic(), cv=2).fit(X, y)
    with pytest.raises(ValueError, match=r"Columns missing at predict time: \['clin:0'"):
        fitted.predict(X.rename(columns={"clin:0": "clin:zero"}))
    with pytest.raises(
        ValueError, match="X has 6 features, but ModalitySelectionClassifier is expecting 7"
    ):
        fitted.predict(X.iloc[:, 1:])
