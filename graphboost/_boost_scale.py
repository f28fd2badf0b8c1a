"""The weight of the boosted score against the init score (``boost_scale="auto"`` or
``"guarded"``).

With ``early_stopping=True`` the scale is chosen with the number of rounds on the validation
split, by the monitor :class:`ValidationLosses`. Without it, :func:`training_scale_scores`
scores each scale of ``AUTO_SCALES`` on the training patients; with ``boost_scale="guarded"``,
:func:`guard_scale` then keeps the chosen scale only when cross-fitted whole fits show, out of
fold, that the boosted score earns its place (else the scale is 0).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.stats import ttest_1samp
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.validation import check_random_state

from ._samme import log_loss, samme_codes, softmax, weighted_log_loss
from ._validation import check_class_counts
from ._weak import _stratified_mask

#: Scales of the boosted score tried against the init score by ``early_stopping=True``
#: (``boost_scale="auto"``), on the validation split.
BOOST_SCALES = (0.0, 0.25, 0.5, 1.0)
#: Scales tried by ``boost_scale="auto"`` without early stopping, on the training patients. The
#: leave-self-out boosted score of the training patients is optimistic where many candidate
#: graphs compete, so that rule never weighs the boosted score above one half.
AUTO_SCALES = (0.0, 0.25, 0.5)
#: Inner folds of the out-of-fold guard (:func:`guard_scale`).
GUARD_SPLITS = 5
#: Level of the guard's one-sided t-test of the inner folds' held-out AUROC against chance.
GUARD_ALPHA = 0.01


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
        # Each scale with its own intercept (as the fitted model gets one, ``boost_offset``):
        # SAMME votes shift every patient's log-odds toward the larger class, and scored
        # without it a scale would be judged by that shift, which favours the smaller scales.
        losses = []
        for s in self.scales:
            logits = self.init_logits + s * self.boost
            losses.append(log_loss(logits + fit_offset(logits, self.y_val), self.y_val))
        return losses

    def scores(self):
        return np.asarray(self.rows)


def left_out_scores(model, X, y_codes, sample_weight):
    """The training patients' out-of-fold init score (None for a constant start, whose score
    ranks nobody) and their boosted score at scale 1, each patient left out of its own votes
    (``train_predictions_``); None when the model has no rounds."""
    if not model.estimators_:
        return None
    return model.init_.cross_val_log_proba(X, y_codes, sample_weight), _left_out_boost(model)


def training_scale_scores(model, X, y_codes, sample_weight, scores=None):
    """Training AUROC of the out-of-fold init score plus each scale of ``AUTO_SCALES`` times
    the leave-self-out boosted score of the fitted ``model``; None when there is nothing to
    weigh. ``scores`` are :func:`left_out_scores`, computed here when not given.
    """
    init, boost = scores or left_out_scores(model, X, y_codes, sample_weight) or (None, None)
    if init is None:
        return None
    return np.array([auroc(y_codes, init + s * boost, sample_weight) for s in AUTO_SCALES])


def boost_offset(model, X, y_codes, sample_weight, scores=None):
    """Per-class intercept of the scaled boosted score that calibrates the whole score.

    SAMME votes are not centred: on an imbalanced cohort most rounds vote for the larger class,
    and the scaled sum shifts every patient's log-odds the same way (on indo_rct, 13% positive,
    by about -1 at scale 0.5: a mean predicted risk of 6%). The intercept ``b`` minimises the
    weighted log-loss of the training patients' out-of-fold init score plus ``boost_scale_``
    times their leave-self-out boosted score plus ``b`` (``b[0] = 0``); the init model is
    calibrated on its own, so the sum is again. Rankings within one model do not move (binary),
    but models whose scales differ (folds of a cross-validation, a guard that drops the graphs
    in some of them) then score patients on one scale. ``scores`` are
    :func:`left_out_scores`, computed here when not given.

    Returns
    -------
    offset : ndarray of shape (n_classes,)
        Zeros where the model has no rounds or a boosted scale of 0.
    """
    if not model.estimators_ or model.boost_scale_ == 0:
        return np.zeros(model.n_classes_)
    init, boost = scores or left_out_scores(model, X, y_codes, sample_weight)
    if init is None:  # a constant start: its training score is its out-of-fold score
        init = model.init_.log_proba(X)
    return fit_offset(init + model.boost_scale_ * boost, y_codes, sample_weight)


def fit_offset(logits, y_codes, sample_weight=None):
    """The per-class intercept ``b`` (``b[0] = 0``) that minimises the (weighted) log-loss of
    ``softmax(logits + b)`` for the classes ``y_codes``; shape (n_classes,)."""
    n_classes = logits.shape[1]
    weights = np.ones(y_codes.shape[0]) if sample_weight is None else sample_weight
    weights = weights / weights.sum()
    onehot = np.eye(n_classes)[y_codes]

    def loss(b):
        value, residual = weighted_log_loss(logits + np.r_[0.0, b], onehot, weights)
        return value, residual.sum(axis=0)[1:]

    found = minimize(loss, np.zeros(n_classes - 1), jac=True, method="L-BFGS-B")
    return np.r_[0.0, found.x]


def _left_out_boost(model):
    """The training patients' boosted score (scale 1), each left out of its own votes."""
    boost = 0.0
    for learner, weight in zip(model.estimators_, model.estimator_weights_, strict=True):
        boost = boost + weight * samme_codes(learner.train_predictions_, model.n_classes_)
    return boost


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


def guard_scale(model, X, y_codes, sample_weight, scale, seed):
    """Keep the training-side ``scale`` of the fitted ``model``, or drop the graphs (0).

    The whole fit (init model and boosting, with the model's parameters and resolved blocks) is
    refitted on the training part of each of ``GUARD_SPLITS`` stratified inner folds, and its
    held-out patients are scored by the init alone (scale 0) and by the init plus ``scale``
    times the boosted score. ``scale`` is kept when that AUROC beats chance: a one-sided t-test
    of its ``GUARD_SPLITS`` inner-fold values against 0.5 at level ``GUARD_ALPHA`` (with 5 folds,
    the mean above 0.5 by more than 3.75 standard errors of the fold values). The spread of the
    fold values is the real spread of a cross-fitted score on labels without signal, which the
    Mann-Whitney null variance of one pooled AUROC is not: neighbors in different folds vote on
    each other's labels, and on permuted pima and ad_data labels the pooled AUROC spread about
    1.4 times its null standard error. A test of the paired inner-fold gain over the init alone
    (one standard error) was tried first and cost real signal where the graphs help (mean
    -0.002 AUROC over eight cohorts, indo_rct -0.011): 5 inner folds measure a gain of 0.01 too
    poorly to decide on it; its figures are still recorded. Only the choice between 0 and
    ``scale`` is made out of fold.

    Parameters
    ----------
    model : GraphBoostClassifier
        The fitted model; its attributes are not changed.
    X, y_codes, sample_weight : ndarray
        The training patients, as ``fit`` validated them.
    scale : float
        The training-side choice (positive).
    seed : int
        Seed of the inner folds and of the inner fits.

    Returns
    -------
    scale : float
        ``scale`` or 0.0.
    figures : dict
        ``training_scale``; ``fold_auroc_start`` and ``fold_auroc_boosted`` (one per inner fold),
        ``gain`` and ``gain_se`` (their mean paired difference and its standard error),
        ``auroc_se`` and ``chance_p`` (the t-test's p-value); ``kept``; and ``reason`` when the
        inner folds were too small to fit (scale 0).
    """
    figures = {"training_scale": float(scale), "kept": False}
    counts = np.bincount(y_codes, minlength=model.n_classes_)
    if counts.min() < GUARD_SPLITS:
        figures["reason"] = f"a class has fewer than {GUARD_SPLITS} patients"
        return 0.0, figures
    try:
        start, boosted = _inner_aurocs(model, X, y_codes, sample_weight, scale, seed)
    except ValueError as err:  # an inner training part too small for the model's settings
        figures["reason"] = f"an inner fit failed: {err}"
        return 0.0, figures
    gain = boosted - start
    chance_p = guard_chance_p(boosted)
    figures.update(
        fold_auroc_start=start.tolist(),
        fold_auroc_boosted=boosted.tolist(),
        gain=float(gain.mean()),
        gain_se=_standard_error(gain),
        auroc_se=_standard_error(boosted),
        chance_p=chance_p,
        kept=bool(chance_p < GUARD_ALPHA),  # nan (all folds equal) keeps nothing
    )
    return (float(scale) if figures["kept"] else 0.0), figures


def guard_chance_p(fold_aurocs):
    """One-sided p-value of the t-test of the inner folds' held-out AUROCs against 0.5 (the
    guard keeps the graphs below ``GUARD_ALPHA``; nan when all folds are equal)."""
    return float(ttest_1samp(fold_aurocs, 0.5, alternative="greater").pvalue)


def _inner_aurocs(model, X, y_codes, sample_weight, scale, seed):
    """Held-out AUROC of the init, and of the init plus ``scale`` times the boosted score, of
    the whole fit refitted on each inner training part."""
    rng = check_random_state(seed)
    folds = StratifiedKFold(GUARD_SPLITS, shuffle=True, random_state=rng.randint(2**31 - 1))
    start, boosted = [], []
    for train, test in folds.split(X, y_codes):
        inner = _inner_copy(model)
        inner._fit_boosting(X[train], y_codes[train], sample_weight[train], model.n_estimators, rng)
        init = inner.init_.log_proba(X[test])
        boost = inner._logits(X[test]) - init
        start.append(auroc(y_codes[test], init, sample_weight[test]))
        boosted.append(auroc(y_codes[test], init + scale * boost, sample_weight[test]))
    return np.asarray(start), np.asarray(boosted)


def _inner_copy(model):
    """An unfitted copy of ``model`` that knows what ``fit`` resolved (classes, blocks, names),
    with the boosted score at scale 1, ready for ``_fit_boosting``."""
    inner = clone(model).set_params(verbose=0)
    for name in ("classes_", "n_classes_", "n_features_in_", "feature_groups_", "device_"):
        setattr(inner, name, getattr(model, name))
    if hasattr(model, "feature_names_in_"):
        inner.feature_names_in_ = model.feature_names_in_
    inner._drop_blocks(getattr(model, "block_guard_", None))  # the blocks the guard kept
    inner.boost_scale_ = 1.0
    inner.boost_offset_ = np.zeros(model.n_classes_)  # AUROC of one fold: no calibration
    return inner


def _standard_error(values):
    return float(np.std(values, ddof=1) / np.sqrt(len(values)))
