"""Prediction from a fitted :class:`~graphboost.GraphBoostClassifier`: the init score plus the
scaled boosted score, after each round or after all of them, and the explanation and saving of
the fitted model.

:class:`BoostedPrediction` holds the public prediction methods; the estimator inherits them and
fits the attributes they read (``init_``, ``estimators_``, ``estimator_weights_``,
``boost_scale_``, ``classes_``, ``n_classes_``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted, validate_data

from ._explain import explain
from ._persistence import write_model
from ._samme import samme_codes, softmax
from ._validation import check_finite


class BoostedPrediction:
    """Prediction methods of a fitted boosted model (mixin of
    :class:`~graphboost.GraphBoostClassifier`)."""

    def _validate_predict(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite=False, dtype=np.float64)
        check_finite(X, getattr(self, "feature_names_in_", None), type(self).__name__)
        return X

    def _staged_logits(self, X):
        logits = self.init_.log_proba(X)
        yield logits
        rounds = zip(self.estimators_, self.estimator_weights_, self._round_offsets(), strict=True)
        for learner, weight, offset in rounds:
            codes = learner._predict_codes(X)
            vote = self.boost_scale_ * weight * samme_codes(codes, self.n_classes_)
            logits = logits + vote + offset
            yield logits

    def _round_offsets(self):
        """Each round's share of ``boost_offset_``, by its share of the rounds' total weight:
        an array of shape (n_rounds, n_classes) whose rows sum to ``boost_offset_``."""
        weights = self.estimator_weights_
        total = weights.sum()
        if not total:
            return np.zeros((weights.size, self.n_classes_))
        return np.outer(weights / total, self.boost_offset_)

    def _logits(self, X):
        *_, logits = self._staged_logits(X)
        return logits

    def _decision(self, logits):
        if self.n_classes_ == 2:
            return logits[:, 1] - logits[:, 0]
        return logits

    def decision_function(self, X):
        """Score of each class on the log-probability scale (binary: the log-odds).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        score : ndarray of shape (n_samples,) or (n_samples, n_classes)
            For binary problems, the log-odds of ``classes_[1]``.
        """
        return self._decision(self._logits(self._validate_predict(X)))

    def staged_decision_function(self, X):
        """Decision function after the init model and after each round.

        Yields
        ------
        score : ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        X = self._validate_predict(X)
        for logits in self._staged_logits(X):
            yield self._decision(logits)

    def predict_proba(self, X):
        """Class probabilities of new patients; columns follow ``classes_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        return softmax(self._logits(self._validate_predict(X)))

    def staged_predict_proba(self, X):
        """Class probabilities after the init model and after each boosting round.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Yields
        ------
        proba : ndarray of shape (n_samples, n_classes)
        """
        X = self._validate_predict(X)
        for logits in self._staged_logits(X):
            yield softmax(logits)

    def predict(self, X):
        """Predicted class of new patients.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        logits = self._logits(self._validate_predict(X))
        return self.classes_[np.argmax(logits, axis=1)]

    def explain(self, X, n_neighbors=5):
        """Why each patient got its score: the part of the start and of each selected graph,
        the risk before and after adding it, and the similar training patients behind it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Patients to explain. A DataFrame's index names them (its labels must be unique).
        n_neighbors : int, default=5
            Most similar training patients listed per graph.

        Returns
        -------
        explanation : pandas.DataFrame
            One row per patient and source of the score, in the order the score is built: the
            start (``step`` 0), then each selected graph (``step`` 1, 2... in the order of the
            first round that used it). Columns:

            - ``patient``: the patient's label in ``X``'s index (a DataFrame), else its
              position in ``X``;
            - ``step``, ``graph`` (``"init"`` for the start, else the selected column or block),
              ``source`` (the source in a short phrase: ``"linear model (all columns)"`` for
              the default start, ``"age: 10 nearest"`` for a graph), ``rule`` (the graph's
              :class:`GraphSpec`, or the init model's kind), ``rounds`` (rounds that used it);
            - ``log_odds``: what the source adds to the log-odds of ``classes_[1]`` (binary;
              with more classes, to the score of the predicted class); a patient's values sum
              to its decision function. ``contribution`` is the same number, under its former
              name;
            - ``risk_before``, ``risk_after``: the predicted probability of ``classes_[1]``
              (with more classes, of the predicted class) before and after adding the source,
              and ``risk_change_pp``, their difference in percentage points. The start has no
              ``risk_before``; its ``risk_after`` plus the graphs' ``risk_change_pp`` / 100 is
              the predicted risk. (The points of a graph depend on the order of the sources,
              the log-odds do not.);
            - ``neighborhood_size``: the training patients linked to the patient in the graph
              (a column graph keeps every patient tied at the edge of its neighborhood: a binary
              column links a patient to everyone sharing its value; a patient lacking a block
              has none), ``neighbor_outcome_rate``: the share of them with the outcome
              (``classes_[1]``; with more classes, the predicted class), ``tie_group_size``:
              for a column graph whose neighbors all share one value, their number (else 0);
            - ``value``, ``value_low``, ``value_high``: the patient's value of a column graph's
              column and the range of its neighbors' values, as the model sees them (after any
              preprocessing; NaN for the start and blocks);
            - ``neighbors``: positions in the training data of the most similar training
              patients, nearest first (none from a tie group larger than ``n_neighbors``:
              all its members are equally similar), and ``neighbor_labels``, their labels.

            ``explanation.attrs["feature_groups"]`` holds the blocks (name -> column names),
            ``attrs["outcome"]`` the class whose risk is given (binary; else ``None``).

        Raises
        ------
        ValueError
            When ``X`` is a DataFrame whose index repeats a label, or ``n_neighbors`` is not a
            positive integer.

        See Also
        --------
        graphboost.modality_shares : the share of each patient's score per modality (the init
            model, the clinical columns, an imaging block...).
        graphboost.modality_contributions : the signed part of the score per modality.
        experiments.clinical.explanation_words : the sources in words, with the column values
            before preprocessing and the patients' IDs.
        """
        patients = X.index if isinstance(X, pd.DataFrame) else None
        return explain(self, self._validate_predict(X), n_neighbors, patients)

    def save(self, path):
        """Save the fitted model to the folder ``path`` in a safe format (JSON and tensors).

        The model holds the training values of the columns its graphs use, and the labels,
        because new patients are linked to the training patients. Read it back with
        :func:`graphboost.load`.

        Parameters
        ----------
        path : str or path-like
            Folder to create; an existing non-empty folder is an error.
        """
        write_model(self, path)
