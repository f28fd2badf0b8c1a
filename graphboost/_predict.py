"""Prediction from a fitted :class:`~graphboost.GraphBoostClassifier`: the init score plus the
scaled boosted score, after each round or after all of them, and the explanation and saving of
the fitted model.

:class:`BoostedPrediction` holds the public prediction methods; the estimator inherits them and
fits the attributes they read (``init_``, ``estimators_``, ``estimator_weights_``,
``boost_scale_``, ``classes_``, ``n_classes_``).
"""

from __future__ import annotations

import numpy as np
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
        for learner, weight in zip(self.estimators_, self.estimator_weights_, strict=True):
            codes = learner._predict_codes(X)
            logits = logits + self.boost_scale_ * weight * samme_codes(codes, self.n_classes_)
            yield logits

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
        """Why each patient got its score: the part of each selected graph, and the similar
        training patients behind it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Patients to explain.
        n_neighbors : int, default=5
            Most similar training patients listed per graph.

        Returns
        -------
        explanation : pandas.DataFrame
            One row per patient and source of the score: ``patient`` (row position in ``X``),
            ``graph`` (``"init"`` for the starting model, else the selected feature or block),
            ``rule``, ``rounds`` (rounds that used this graph), ``contribution`` (to the log-odds
            of ``classes_[1]`` for binary problems, else to the score of the predicted class; the
            contributions of a patient sum to its decision function), ``neighbors`` (positions
            of the most similar training patients, nearest first) and ``neighbor_labels``.
            ``explanation.attrs["feature_groups"]`` holds the blocks (name -> column names).

        See Also
        --------
        graphboost.modality_shares : the share of each patient's score per modality (the init
            model, the clinical columns, an imaging block...).
        graphboost.modality_contributions : the signed part of the score per modality.
        """
        return explain(self, self._validate_predict(X), n_neighbors)

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
