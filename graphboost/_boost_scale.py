"""The weight of the boosted score against the init score (``boost_scale="auto"``).

With ``early_stopping=True`` the scale is chosen with the number of rounds on the validation
split, by the monitor :class:`ValidationLosses`. Without it, :func:`training_scale_scores`
scores each scale of ``AUTO_SCALES`` on the training patients.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from ._samme import log_loss, samme_codes, softmax
from ._validation import check_class_counts
from ._weak import _stratified_mask

#: Scales of the boosted score tried against the init score by ``early_stopping=True``
#: (``boost_scale="auto"``), on the validation split.
BOOST_SCALES = (0.0, 0.25, 0.5, 1.0)
#: Scales tried by ``boost_scale="auto"`` without early stopping, on the training patients. The
#: leave-self-out boosted score of the training patients is optimistic where many candidate
#: graphs compete, so that rule never weighs the boosted score above one half.
AUTO_SCALES = (0.0, 0.25, 0.5)


class ValidationLosses:
    """Early-stopping monitor: validation log-loss after the init model and after each round.

    Each row holds the loss at every scale in ``scales`` of the boosted score; calling the
    monitor with a new round says whether ``n_iter_no_change`` rounds passed without
    improvement of the best row.
    """

    def __init__(self, X_val, y_val, n_iter_no_change, scales):
        self.X_val = X_val
        self.y_val = y_val
        self.n_iter_no_change = n_iter_no_change
        self.scales = scales

    def start(self, init):
        self.init_logits = init.log_proba(self.X_val)
        self.boost = np.zeros_like(self.init_logits)
        self.rows = [self._losses()]

    def __call__(self, learner, estimator_weight):
        n_classes = self.init_logits.shape[1]
        codes = learner._predict_codes(self.X_val)
        self.boost = self.boost + estimator_weight * samme_codes(codes, n_classes)
        self.rows.append(self._losses())
        best_round = int(np.argmin(np.min(self.rows, axis=1)))
        return len(self.rows) - 1 - best_round >= self.n_iter_no_change

    def _losses(self):
        return [log_loss(self.init_logits + s * self.boost, self.y_val) for s in self.scales]

    def scores(self):
        return np.asarray(self.rows)


def training_scale_scores(model, X, y_codes, sample_weight):
    """Training AUROC of the out-of-fold init score plus each scale of ``AUTO_SCALES`` times
    the leave-self-out boosted score of the fitted ``model``; None when there is nothing to
    weigh.

    The boosted score of a training patient sums, over the rounds, the learner's vote without
    the patient itself (``train_predictions_``).
    """
    if not model.estimators_:
        return None
    init = model.init_.cross_val_log_proba(X, y_codes, sample_weight)
    if init is None:
        return None
    boost = np.zeros_like(init)
    for learner, weight in zip(model.estimators_, model.estimator_weights_, strict=True):
        boost += weight * samme_codes(learner.train_predictions_, model.n_classes_)
    return np.array([auroc(y_codes, init + s * boost, sample_weight) for s in AUTO_SCALES])


def auroc(y_codes, logits, sample_weight):
    """Weighted AUROC of class scores (one-vs-rest macro average for more than two classes)."""
    if logits.shape[1] == 2:
        return roc_auc_score(y_codes, logits[:, 1] - logits[:, 0], sample_weight=sample_weight)
    return roc_auc_score(
        y_codes,
        softmax(logits),
        multi_class="ovr",
        labels=np.arange(logits.shape[1]),
        sample_weight=sample_weight,
    )


def stratified_split(y_codes, classes, fraction, rng, owner):
    """Validation mask of the stratified split of ``early_stopping``; each class needs 2."""
    check_class_counts(
        np.bincount(y_codes, minlength=len(classes)),
        classes,
        2,
        "the internal stratified validation split of early_stopping=True",
        owner,
    )
    return _stratified_mask(y_codes, fraction, rng)
