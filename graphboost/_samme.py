"""SAMME arithmetic (Zhu et al., 2009), as scikit-learn's ``AdaBoostClassifier`` computes it.

A leaf module: the estimator, the explanations and the persistence all use it, and it imports
nothing of graphboost.
"""

from __future__ import annotations

import numpy as np


def samme_codes(codes, n_classes):
    """Per-class score of one round's prediction, on the log-probability scale.

    SAMME codes a prediction of class k as 1 for k and -1/(K-1) for the others; the
    exponential-loss solution makes log p_k = (K-1)/K * sum of weighted codes (Zhu et al. 2009),
    so that for two classes the log-odds is the sum of the signed round weights.

    Parameters
    ----------
    codes : ndarray of shape (n_samples,)
        Predicted class codes, in ``range(n_classes)``.
    n_classes : int
        Number of classes K, at least 2.

    Returns
    -------
    scores : ndarray of shape (n_samples, n_classes)
    """
    g = np.full((codes.shape[0], n_classes), -1.0 / (n_classes - 1))
    g[np.arange(codes.shape[0]), codes] = 1.0
    return g * (n_classes - 1) / n_classes


def samme_weight(error, n_classes, learning_rate):
    """Weight of a round with weighted training error ``error`` (scikit-learn's formula).

    ``learning_rate * (log((1 - error) / error) + log(K - 1))``; a perfect round (``error <= 0``)
    gets weight 1, as in scikit-learn, and ends the boosting.
    """
    if error <= 0:
        return 1.0
    return learning_rate * (np.log((1.0 - error) / error) + np.log(n_classes - 1.0))


def reweight(sample_weight, estimator_weight, incorrect):
    """SAMME update: multiply the weights of misclassified patients, then normalize to sum 1."""
    sample_weight = sample_weight * np.exp(estimator_weight * incorrect)
    sample_weight /= sample_weight.sum()
    return sample_weight


def softmax(logits):
    """Row-wise softmax of an array of shape (n_samples, n_classes)."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def log_softmax(logits):
    """Row-wise log of :func:`softmax`, computed stably."""
    z = logits - logits.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def log_loss(logits, y_codes):
    """Mean negative log-likelihood of the class codes ``y_codes`` under ``softmax(logits)``."""
    log_p = log_softmax(logits)
    return float(-log_p[np.arange(y_codes.shape[0]), y_codes].mean())


def weighted_log_loss(logits, onehot, weights):
    """Weighted negative log-likelihood of the one-hot classes ``onehot`` under
    ``softmax(logits)`` (``weights`` summing to 1), and its gradient with respect to the
    logits, shape (n_samples, n_classes): what the recalibrations fit by L-BFGS."""
    log_p = log_softmax(logits)
    loss = -float(np.sum(weights[:, None] * onehot * log_p))
    return loss, weights[:, None] * (np.exp(log_p) - onehot)
