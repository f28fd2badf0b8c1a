"""Choose the modalities inside the training fold: each modality alone, or all of them."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.model_selection import StratifiedKFold, check_cv, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted

from .._base import InputError
from ._modalities import ALL_ARM, _arm_preprocessor, modality_columns


def default_estimator(random_state=0):
    """The benchmark's ``graphboost`` pipeline: ``ClinicalPreprocessor`` + GraphBoostClassifier.

    Built here rather than by :func:`experiments.make_pipeline`, whose module registers
    :class:`ModalitySelectionClassifier` as a method (one import direction only).
    """
    from features import ClinicalPreprocessor
    from graphboost import GraphBoostClassifier

    return Pipeline(
        [
            ("preprocess", ClinicalPreprocessor().set_output(transform="pandas")),
            ("model", GraphBoostClassifier(random_state=random_state)),
        ]
    )


def _source(name):
    """Source column of a preprocessed name (``"c=<category>"``, ``"c:missing"``) or ``name``."""
    name = str(name)
    return name.split("=", 1)[0].removesuffix(":missing")


def _group_in_arm(members, keep):
    """A ``feature_groups`` entry cut to the arm's columns, or ``None`` when none is left.

    A selector built by :func:`experiments.methods._pipelines.group_selector` names its source
    columns (``source_columns``); a list names columns; any other callable is kept unchanged.
    """
    if hasattr(members, "source_columns"):
        return members if keep.intersection(members.source_columns) else None
    if callable(members):
        return members
    kept = [m for m in members if _source(m) in keep]
    return kept or None


def arm_estimator(estimator, columns):
    """A clone of ``estimator`` fitted on ``columns`` only.

    The column lists of a ``features.ClinicalPreprocessor`` step, and the ``feature_groups`` of
    any step, keep the arm's columns (a group left empty is dropped), as
    :func:`experiments.benchmark._ablation.modality_pipeline` does for the ablation.
    """
    from features import ClinicalPreprocessor

    est = clone(estimator)
    keep = {str(c) for c in columns}
    changes = {}
    for key, value in est.get_params(deep=True).items():
        if key.rsplit("__", 1)[-1] == "feature_groups" and isinstance(value, dict):
            groups = {g: _group_in_arm(m, keep) for g, m in value.items()}
            changes[key] = {g: m for g, m in groups.items() if m is not None} or None
    est.set_params(**changes)
    steps = est.steps if isinstance(est, Pipeline) else []
    for i, (name, step) in enumerate(steps):
        if isinstance(step, ClinicalPreprocessor):
            est.steps[i] = (name, _arm_preprocessor(step, columns))
    return est


def _estimator_has(attr):
    def check(self):
        target = self.estimator_ if hasattr(self, "estimator_") else self.estimator
        return target is None or hasattr(target, attr)

    return check


class ModalitySelectionClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Fit each modality alone and all of them together; keep the one the training data prefers.

    A modality is the columns whose names start with one of its prefixes (``"clin:"``,
    ``"img:"``, see :func:`experiments.methods._modalities.modality_columns`). :meth:`fit` scores
    every arm (each modality alone, then ``"all"``: every modality together) by stratified inner
    K-fold cross-validation on the training data only, the same inner folds for every arm, and
    refits the chosen arm on the whole training data. Prediction uses the chosen arm's columns.

    The rule keeps ``"all"`` unless a single modality beats it by more than the noise of the
    inner CV: a modality is a candidate when its mean paired fold difference over ``"all"``
    exceeds one standard error of those differences (``mean(d) > sd(d) / sqrt(K)``, the
    one-standard-error rule applied to paired differences, i.e. a paired t statistic above 1);
    the candidate with the best mean score wins. Paired differences remove the fold-to-fold
    variation that both arms share (a hard fold is hard for both), so the rule detects a real
    gap with 5 folds where unpaired standard errors would not. Dropping a modality throws data
    away, so the full model is the default and a single modality has to earn its place; the
    threshold of one standard error is the usual convention (Hastie, Tibshirani and Friedman,
    2009, sec. 7.10), fixed before any outer test fold was seen. The fold differences are not
    independent (the inner training sets overlap; Bengio and Grandvalet, 2004), so this standard
    error is too small: read the rule as a noise threshold, not as a significance test. With one
    modality only, the classifier is the wrapped estimator on those columns and no inner CV runs.

    Parameters
    ----------
    estimator : classifier, default=None
        Unfitted classifier or Pipeline that takes the raw feature DataFrame (it preprocesses
        the columns itself) and accepts any subset of them. Default: ``ClinicalPreprocessor`` +
        ``GraphBoostClassifier(random_state=random_state)``, the benchmark's ``graphboost``.
    modalities : dict of str to list of str, default=None
        Modality name -> column prefixes (the empty prefix ``""`` matches the columns without a
        ``":"``). Default: one modality per column prefix
        (:func:`experiments.methods._modalities.default_modalities`); X without column names is one
        modality.
    cv : int or cross-validation splitter, default=5
        Inner folds: an int is a shuffled ``StratifiedKFold`` seeded by ``random_state``.
    scoring : str or callable, default="roc_auc"
        Score of the inner folds (scikit-learn scorer; higher is better).
    random_state : int, default=0
        Seed of the inner folds and of the default estimator.
    n_jobs : int, default=None
        Inner folds fitted at once (joblib).

    Attributes
    ----------
    arm_ : str
        The chosen arm: a modality name or ``"all"``.
    columns_ : list
        Columns of the chosen arm, in X's order.
    modalities_ : dict of str to list
        Modality -> its columns.
    cv_results_ : dict of str to ndarray
        One entry per arm (modalities, then ``"all"``): ``arm``, ``n_columns``,
        ``split<k>_score``, ``mean_score``, ``std_score``, ``mean_difference_vs_all``,
        ``se_difference_vs_all`` and ``chosen``; ``pandas.DataFrame(cv_results_)`` reads it.
        Empty with one modality.
    estimator_ : estimator
        The chosen arm's estimator, refitted on all the training data.
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined when X has string column names.

    See Also
    --------
    experiments.run_ablation : the same arms, scored on the outer folds for reporting.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> signal = rng.normal(size=(80, 2))
    >>> X = pd.DataFrame(np.hstack([signal, rng.normal(size=(80, 60))]),
    ...                  columns=["clin:a", "clin:b"] + [f"img:{i}" for i in range(60)])
    >>> y = (signal.sum(axis=1) > 0).astype(int)
    >>> model = ModalitySelectionClassifier(LogisticRegression(C=100), cv=3).fit(X, y)
    >>> model.arm_, model.columns_
    ('clinical', ['clin:a', 'clin:b'])
    >>> model.predict_proba(X).shape
    (80, 2)
    """

    def __init__(
        self,
        estimator=None,
        *,
        modalities=None,
        cv=5,
        scoring="roc_auc",
        random_state=0,
        n_jobs=None,
    ):
        self.estimator = estimator
        self.modalities = modalities
        self.cv = cv
        self.scoring = scoring
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X, y):
        """Score every arm by inner CV on (X, y), choose one, refit it on all of (X, y).

        Parameters
        ----------
        X : pandas.DataFrame of shape (n_samples, n_features)
            Raw features; an array only without ``modalities``.
        y : array-like of shape (n_samples,)

        Returns
        -------
        self
        """
        if y is None:
            raise ValueError(
                "ModalitySelectionClassifier requires y to be passed, but the target y is None."
            )
        X = self._frame(X, reset=True)
        y = np.asarray(y)
        check_classification_targets(y)
        if len(y) != len(X):
            raise ValueError(
                f"X and y of ModalitySelectionClassifier must have as many rows; got {len(X)} "
                f"and {len(y)}."
            )
        base = default_estimator(self.random_state) if self.estimator is None else self.estimator
        self.modalities_ = self._modalities(X)
        owned = {c for cols in self.modalities_.values() for c in cols}
        arms = {**self.modalities_, ALL_ARM: [c for c in X.columns if c in owned]}
        self.cv_results_ = {}
        if len(self.modalities_) == 1:
            self.arm_ = ALL_ARM
        else:
            scores = self._inner_scores(base, arms, X, y)
            self.arm_ = choose_arm(scores)
            self.cv_results_ = _results_table(scores, arms, self.arm_)
        self.columns_ = list(arms[self.arm_])
        self.estimator_ = arm_estimator(base, self.columns_).fit(X[self.columns_], y)
        self.classes_ = self.estimator_.classes_
        return self

    def _frame(self, X, reset=False):
        """X as a DataFrame; with ``reset`` (fit), record ``n_features_in_`` and the names."""
        if reset and hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        # scikit-learn's messages for sparse, 1-d, empty input and repeated column names; the
        # values stay as they are
        check_array(X, dtype=None, ensure_all_finite=False, estimator=self)
        if isinstance(X, pd.DataFrame):
            if reset:
                self.n_features_in_ = X.shape[1]
                if all(isinstance(c, str) for c in X.columns):
                    self.feature_names_in_ = np.asarray(X.columns, dtype=object)
            return X
        if self.modalities is not None:
            raise ValueError(
                "ModalitySelectionClassifier needs X as a pandas DataFrame with column names "
                f"when 'modalities' is given (they select the columns); got {type(X).__name__}."
            )
        array = np.asarray(X)
        if reset:
            self.n_features_in_ = array.shape[1]
        return pd.DataFrame(array)

    def _modalities(self, X):
        """Modality -> columns of X, from ``modalities`` or the column prefixes."""
        spec = self.modalities
        if spec is not None:
            if not isinstance(spec, dict) or not spec:
                raise InputError(
                    "The 'modalities' parameter of ModalitySelectionClassifier must be a "
                    f"non-empty dict of name -> list of column prefixes; got {spec!r}."
                )
            if ALL_ARM in spec:
                raise InputError(
                    f"The 'modalities' parameter of ModalitySelectionClassifier cannot name a "
                    f"modality {ALL_ARM!r}: that is the arm with every modality."
                )
            for name, prefixes in spec.items():
                if isinstance(prefixes, str) or not list(prefixes):
                    raise InputError(
                        f"modalities[{name!r}] must be a non-empty list of column prefixes; "
                        f"got {prefixes!r}."
                    )
        if not all(isinstance(c, str) for c in X.columns):
            return {"all": list(X.columns)} if spec is None else self._bad_names(X)
        return modality_columns(list(X.columns), spec, minimum=1, where="X")

    def _bad_names(self, X):
        raise ValueError(
            "ModalitySelectionClassifier needs string column names in X when 'modalities' is "
            f"given; got {list(X.columns)[:5]}."
        )

    def _inner_folds(self, X, y):
        if isinstance(self.cv, (int, np.integer)):
            smallest = int(np.unique(y, return_counts=True)[1].min())
            if self.cv < 2 or smallest < self.cv:
                raise ValueError(
                    f"The 'cv' parameter of ModalitySelectionClassifier must be an int from 2 "
                    f"to the size of the smallest class ({smallest}); got {self.cv}."
                )
            splitter = StratifiedKFold(self.cv, shuffle=True, random_state=self.random_state)
        else:
            splitter = check_cv(self.cv, y, classifier=True)
        return list(splitter.split(X, y))

    def _inner_scores(self, base, arms, X, y):
        """Arm -> its scores on the shared inner folds (training rows only)."""
        folds = self._inner_folds(X, y)
        return {
            arm: cross_val_score(
                arm_estimator(base, cols),
                X[cols],
                y,
                cv=folds,
                scoring=self.scoring,
                n_jobs=self.n_jobs,
                error_score="raise",
            )
            for arm, cols in arms.items()
        }

    def _arm_rows(self, X):
        check_is_fitted(self, "estimator_")
        X = self._frame(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but ModalitySelectionClassifier is expecting "
                f"{self.n_features_in_} features as input."
            )
        missing = [c for c in self.columns_ if c not in X.columns]
        if missing:
            raise ValueError(f"Columns missing at predict time: {missing[:5]}.")
        return X[self.columns_]

    def predict(self, X):
        """Class of each row, by the chosen arm's estimator."""
        rows = self._arm_rows(X)
        return self.estimator_.predict(rows)

    def predict_proba(self, X):
        """Class probabilities of shape (n_samples, n_classes), by the chosen arm's estimator."""
        rows = self._arm_rows(X)
        return self.estimator_.predict_proba(rows)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """Decision function of the chosen arm's estimator."""
        rows = self._arm_rows(X)
        return self.estimator_.decision_function(rows)


def choose_arm(scores):
    """The arm kept by the paired one-standard-error rule (see ModalitySelectionClassifier).

    Parameters
    ----------
    scores : dict of str to ndarray
        Arm -> its scores on the shared inner folds; must hold ``"all"``.

    Examples
    --------
    >>> choose_arm({"clin": np.array([.80, .70, .75]), "all": np.array([.70, .65, .70])})
    'clin'
    >>> choose_arm({"clin": np.array([.80, .60, .75]), "all": np.array([.70, .65, .70])})
    'all'
    """
    full = np.asarray(scores[ALL_ARM], dtype=float)
    best, best_mean = ALL_ARM, -np.inf
    for arm, s in scores.items():
        if arm == ALL_ARM:
            continue
        mean, se = _paired(np.asarray(s, dtype=float), full)
        if mean > se and np.mean(s) > best_mean:
            best, best_mean = arm, float(np.mean(s))
    return best


def _paired(scores, full):
    """Mean and standard error of the paired fold differences ``scores - full``."""
    d = scores - full
    se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else np.inf
    return float(d.mean()), float(se)


def _results_table(scores, arms, chosen):
    """``cv_results_``: one entry per arm, as scikit-learn's searches write theirs."""
    names = list(scores)
    matrix = np.array([scores[a] for a in names], dtype=float)
    paired = [
        _paired(matrix[i], np.asarray(scores[ALL_ARM], dtype=float)) for i in range(len(names))
    ]
    out = {
        "arm": np.array(names, dtype=object),
        "n_columns": np.array([len(arms[a]) for a in names]),
    }
    for k in range(matrix.shape[1]):
        out[f"split{k}_score"] = matrix[:, k]
    out["mean_score"] = matrix.mean(axis=1)
    out["std_score"] = matrix.std(axis=1)
    out["mean_difference_vs_all"] = np.array([m for m, _ in paired])
    out["se_difference_vs_all"] = np.array([s for _, s in paired])
    out["chosen"] = np.array([a == chosen for a in names])
    return out
