"""The ``graphboost-tuned`` method: GraphBoostClassifier tuned by Optuna inside each training fold.

:class:`TunedGraphBoostClassifier` runs an Optuna search (:class:`experiments.NestedCVObjective`)
on the patients it is fitted on and refits the best trial. Cross-validated by the runner
(``graphboost benchmark --config <config> --methods graphboost,graphboost-tuned``) or the design
suite, its search sees only the outer training fold: nested cross-validation, an unbiased
estimate of the tuned model.

The search tunes the ``graphboost`` pipeline of :mod:`experiments.methods._pipelines`; the
registry of every method (:mod:`experiments.methods._registry`) adds this one on top.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.validation import check_is_fitted

from .._base import InputError, filter_fold_noise
from ..evaluation._dataset import check_labels
from ..methods._pipelines import TUNED, make_pipeline, unknown_params
from ._search import NestedCVObjective, clip_neighbors, count_trials, create_study, estimator_params


class TunedGraphBoostClassifier(ClassifierMixin, BaseEstimator):
    """GraphBoostClassifier with its parameters chosen by an Optuna search on the training data.

    ``fit(X, y)`` runs an in-memory Optuna study (seeded TPE sampler, median pruner) whose
    objective is :class:`experiments.NestedCVObjective`: the inner stratified K-fold AUROC on
    ``X, y`` alone, the preprocessing fitted inside each inner fold. It then refits the best
    trial's parameters on all of ``X, y``. Inside a benchmark fold ``X, y`` is the outer training
    fold, so the outer test fold never reaches the search: the tuned model is scored without
    leakage (nested cross-validation). The runner and the suite know it as the method
    ``"graphboost-tuned"``.

    Parameters
    ----------
    n_trials : int, default=6
        Optuna trials per fit.
    inner_splits : int, default=3
        Folds of the inner cross-validation.
    fixed : dict, optional
        GraphBoostClassifier parameters held fixed; default ``{"conv": "vote"}`` (GNN weak
        learners cost 20-60 times more and were not better, ``design-notes.md`` section 3).
    feature_groups : dict of str to list of str, optional
        Named blocks of source columns, one candidate graph each.
    preprocessor : features.ClinicalPreprocessor, optional
        Unfitted preprocessor of the raw columns (default ``ClinicalPreprocessor()``).
    random_state : int, default=0
        Seeds the sampler, the inner folds and the models.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    best_params_ : dict
        Parameters of the refitted model (the best trial, ``fixed`` included).
    best_score_ : float
        Inner-CV AUROC of the best trial (NaN when no trial completed).
    n_trials_complete_, n_trials_pruned_ : int
    model_ : sklearn.pipeline.Pipeline
        Preprocessor and GraphBoostClassifier refitted on all training patients.

    See Also
    --------
    experiments.make_pipeline : ``make_pipeline("graphboost-tuned", params)`` builds it for the
        runner.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"])
    >>> y = (X.a + 0.5 * rng.normal(size=60) > 0).astype(int)
    >>> clf = TunedGraphBoostClassifier(n_trials=2, fixed={"conv": "vote", "n_estimators": 5})
    >>> clf.fit(X, y).predict_proba(X.head(2)).shape  # doctest: +SKIP
    (2, 2)
    """

    def __init__(
        self,
        *,
        n_trials=6,
        inner_splits=3,
        fixed=None,
        feature_groups=None,
        preprocessor=None,
        random_state=0,
    ):
        self.n_trials = n_trials
        self.inner_splits = inner_splits
        self.fixed = fixed
        self.feature_groups = feature_groups
        self.preprocessor = preprocessor
        self.random_state = random_state

    def _check_params(self):
        for name, low in (("n_trials", 1), ("inner_splits", 2)):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < low:
                raise ValueError(
                    f"The '{name}' parameter of TunedGraphBoostClassifier must be an integer "
                    f">= {low}; got {value!r}."
                )
        if self.fixed is None:
            return
        if not isinstance(self.fixed, dict):
            raise ValueError(
                "The 'fixed' parameter of TunedGraphBoostClassifier must be a dict of "
                f"GraphBoostClassifier parameters; got {self.fixed!r}."
            )
        from graphboost import GraphBoostClassifier

        bad, valid = unknown_params(GraphBoostClassifier(), self.fixed)
        if bad:
            raise ValueError(
                f"The 'fixed' parameter of TunedGraphBoostClassifier names unknown "
                f"GraphBoostClassifier parameter(s) {bad}; valid: {valid}."
            )

    def fit(self, X, y):
        """Search the parameters on ``X, y`` (inner CV), then refit the best on all of them."""
        from optuna.storages import InMemoryStorage

        self._check_params()
        X = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X))
        check_labels(y, self.inner_splits, what="the label of the training patients")
        encoder = LabelEncoder().fit(y)
        y_enc = encoder.transform(y)
        fixed = {"conv": "vote"} if self.fixed is None else dict(self.fixed)
        study = create_study(InMemoryStorage(), TUNED, seed=int(self.random_state))
        objective = NestedCVObjective(
            X,
            y_enc,
            feature_groups=self.feature_groups,
            preprocessor=self.preprocessor,
            inner_splits=self.inner_splits,
            fixed=fixed,
            random_state=self.random_state,
        )
        study.optimize(objective, n_trials=self.n_trials, catch=(ValueError, RuntimeError))
        self.n_trials_complete_ = count_trials(study)
        self.n_trials_pruned_ = count_trials(study, "PRUNED")
        if self.n_trials_complete_:
            params = {**estimator_params(study.best_trial), **fixed}
            self.best_score_ = float(study.best_value)
        else:
            warnings.warn(
                "No Optuna trial completed; GraphBoostClassifier refitted with its defaults "
                "and the fixed parameters.",
                UserWarning,
                stacklevel=2,
            )
            params, self.best_score_ = fixed, float("nan")
        self.best_params_ = clip_neighbors(params, len(y_enc))
        self.model_ = make_pipeline(
            "graphboost",
            self.best_params_,
            self.feature_groups,
            self.random_state,
            preprocessor=self.preprocessor,
        )
        with filter_fold_noise():
            self.model_.fit(X, y_enc)
        self.classes_ = encoder.classes_
        self.n_features_in_ = X.shape[1]
        return self

    def predict_proba(self, X):
        """Class probabilities of shape (n_samples, n_classes), from the refitted model."""
        check_is_fitted(self, "model_")
        X = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X))
        return self.model_.predict_proba(X)

    def predict(self, X):
        """The most probable class of each patient."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def tuned_pipeline(params, feature_groups, random_state, n_jobs, preprocessor=None):
    """The ``graphboost-tuned`` method: a one-step Pipeline around TunedGraphBoostClassifier.

    The classifier holds the preprocessor (it refits it in every inner fold of its search), so
    the pipeline has the one step ``"model"``; it takes the raw columns like every pipeline of
    the runner (a modality ablation puts its column selection in front of it).

    Parameters
    ----------
    params : dict
        TunedGraphBoostClassifier parameters (e.g. ``{"n_trials": 10}``); ``feature_groups``
        and ``random_state`` given here win over the arguments of the same name.
    feature_groups : dict of str to list of str or None
        Blocks of source columns (the dataset's).
    random_state : int
    n_jobs : int
        Unused: the search runs on the fold's one thread (the runner parallelizes the folds).
    preprocessor : features.ClinicalPreprocessor, optional
        Unfitted preprocessor of the raw columns (the dataset's); cloned with the classifier.

    Returns
    -------
    sklearn.pipeline.Pipeline

    Raises
    ------
    InputError
        A parameter TunedGraphBoostClassifier does not have (the valid ones are listed).

    Examples
    --------
    >>> pipe = tuned_pipeline({"n_trials": 10}, None, 0, 1)
    >>> pipe.named_steps["model"].n_trials
    10
    """
    params = dict(params)
    bad, valid = unknown_params(TunedGraphBoostClassifier(), params)
    if bad:
        raise InputError(
            f"Unknown {TUNED} (TunedGraphBoostClassifier) parameter(s) {bad}; valid: {valid}."
        )
    params.setdefault("feature_groups", feature_groups or None)
    params.setdefault("random_state", random_state)
    params.setdefault("preprocessor", preprocessor)
    return Pipeline([("model", TunedGraphBoostClassifier(**params))])
