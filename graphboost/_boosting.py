"""GraphBoostClassifier: SAMME boosting of weak learners on automatically chosen graphs.

This module holds the estimator's parameters, its input checks and the boosting loop; the
candidate graphs are in :mod:`graphboost._candidates`, the weight of the boosted score in
:mod:`graphboost._boost_scale` and prediction in :mod:`graphboost._predict`.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    check_random_state,
    validate_data,
)

from ._block_guard import guard_blocks, used_columns
from ._boost_scale import (
    AUTO_SCALES,
    BOOST_SCALES,
    ValidationLosses,
    boost_offset,
    guard_scale,
    left_out_scores,
    stratified_split,
    training_scale_scores,
)
from ._candidates import GRAPH_CONSTRAINTS, candidate_graphs, check_neighbors, resolve_groups
from ._device import resolve_device
from ._init_model import INIT_SCORINGS, make_init
from ._persistence import read_model
from ._predict import BoostedPrediction
from ._samme import reweight, samme_weight
from ._screen import CandidateScreen
from ._validation import check_choice, check_finite, format_names
from ._weak import WEAK_LEARNERS, GraphWeakLearner

# Parameters the estimator hands to its GNN weak learners under the same name.
_GNN_PARAMS = (
    "hidden_channels",
    "num_layers",
    "dropout",
    "max_epochs",
    "weight_decay",
    "patience",
    "validation_fraction",
    "max_degree",
    "device",
)


class GraphBoostClassifier(BoostedPrediction, ClassifierMixin, BaseEstimator):
    """Boosted weak learners over automatically chosen patient-similarity graphs.

    Every input column, and every named block of columns in ``feature_groups``, is a candidate
    edge feature: it defines a graph linking similar patients. Each boosting round scores every
    remaining candidate graph cheaply against the current sample weights (the weighted
    leave-self-out neighbor vote), trains the weak learner (``conv``) on the best
    ``n_screen`` graphs, keeps the one with the lowest weighted error and reweights the patients
    (SAMME). The boosted score is added, on the log-odds scale, to an ``init`` model (an L2
    logistic regression by default), so the graphs correct a strong linear model rather than
    replace it.

    The boosted score is fitted apart from the init model, so where both see the same strong
    columns it counts their evidence twice. ``boost_scale="auto"`` weighs it against the init
    score after the boosting: the scale (0, 0.25 or 0.5) with the highest training AUROC of the
    init model's out-of-fold score plus the scaled leave-self-out boosted score. The graphs are
    dropped (scale 0) where they add no ranking to the linear model even on the training
    patients. The leave-self-out score still saw the labels when each round chose its graph
    among many candidates, which makes it optimistic (a training AUROC of 0.92-0.98 against
    0.55-0.69 held out on the Duke tasks), so the rule never gives the graphs more than half.
    ``boost_scale="guarded"`` (the default) then keeps that scale only where the whole fit,
    refitted in inner folds, beats chance on held-out patients: on labels without signal the
    model is its linear start alone.

    Prediction is inductive: a new patient is linked only to training patients, by the rule of
    each selected graph, and its prediction never depends on the other rows passed with it.

    Parameters
    ----------
    n_estimators : int, default=50
        Most boosting rounds.
    learning_rate : float, default=0.1
        Shrinkage of each round's weight.
    conv : {"vote", "appnp", "gat", "gcn", "sage"}, default="vote"
        Weak learner: the weighted neighbor vote (label propagation, no parameters), or a GNN
        with that convolution (APPNP is AdaMedGraph's).
    n_neighbors : int or tuple of int, default=(10, 20)
        Neighborhood sizes of the k-nearest-neighbor candidate graphs; each must be smaller
        than the number of training patients.
    threshold_quantiles : tuple of float, default=()
        Quantiles of the pairwise differences of a column that set ``tau`` for AdaMedGraph's
        threshold rule (``|x_i - x_j| <= tau``); empty for kNN graphs only.
    feature_groups : dict of str to list, default=None
        Named blocks of columns, each one candidate graph: a list of column names (when ``X`` is
        a DataFrame) or indices, or a callable taking the DataFrame and returning names (such as
        :func:`sklearn.compose.make_column_selector`). When ``X`` also has a column named
        ``"<group>:missing"`` (as :class:`features.Cohort` writes it), patients with a 1 there
        lack the block: they are not linked through its graph, and are predicted by the others.
    metric : {"euclidean", "cosine"}, default="euclidean"
        Distance between patients on a block (the block is standardized first).
    n_screen : int, default=3
        GNNs trained per round, on the best-screened graphs. Unused with ``conv="vote"``, whose
        screening score is its error.
    reuse_features : bool, default=True
        Whether a selected candidate may be selected again in a later round.
    init : "logistic", None or classifier, default="logistic"
        The starting score: ``"logistic"`` is a standardized L2 logistic regression with C chosen
        by inner 3-fold CV (scored by ``init_scoring``); None is the class prior; a classifier
        with ``predict_proba`` is cloned and fitted on the training patients (such a model
        cannot be saved).
    init_scoring : {"roc_auc", "neg_log_loss"}, default="roc_auc"
        How ``init="logistic"`` scores each C in its inner CV. AUROC (one-vs-rest for more than
        two classes) ignores the scale of the scores, so the chosen model is then recalibrated
        on its out-of-fold scores (Platt scaling: one slope, new intercepts), which keeps the
        init score calibrated next to the boosted one. Log-loss picks stronger
        regularization and a calibrated scale itself (the former default).
    boost_scale : {"guarded", "auto"} or float, default="guarded"
        Weight of the boosted score added to the init score. With ``early_stopping`` both names
        choose it in ``BOOST_SCALES`` (0, 0.25, 0.5, 1) by the validation log-loss. Otherwise
        ``"auto"`` chooses it in ``AUTO_SCALES`` (0, 0.25, 0.5) by the training AUROC of the
        init model's out-of-fold score (from its inner CV, no refit; 3 refits for a classifier
        ``init``) plus the scaled score of the rounds, each patient left out of its own
        neighbor vote; among ties the smallest scale wins. That score is optimistic: on pima,
        gbsg and ad_data with their labels permuted (20 seeds each), it gave the graphs a
        positive scale in 20 of 20 fits on each.

        ``"guarded"`` (the default) makes the same choice, then guards it out of fold: the
        whole fit (init and boosting) is refitted on the training part of 5 stratified inner
        folds, and the chosen scale is kept only when the held-out AUROC of the init plus the
        scaled boosted score beats chance by a one-sided t-test of the 5 fold values at level
        0.01 (:func:`graphboost._boost_scale.guard_scale`); otherwise the scale is 0 and the
        model is the init model alone. A class with fewer than 5 patients, or an inner fit
        that fails, gives 0; ``boost_scale_guard_`` holds the figures. It costs 5 more fits on
        80% of the patients where the training side chose a positive scale: 4.4-5.6 times the
        CPU time of an ``"auto"`` fit (median 5.0). On permuted labels (pima, gbsg, ad_data, 40
        seeds each, see the docs' results page) it gave the graphs scale 0 in at least 18 of
        every 20 fits. On real labels (8 cohorts, 5-fold x 3 CV with the same folds) it kept
        the graphs wherever the model ranks patients better than chance with some certainty,
        at a mean cost of 0.0005 AUROC against ``"auto"``, most of it on the smallest cohorts
        (indo_rct, Duke ``pcr``). A rule that also asked the graphs to beat the init alone by
        one standard error of the paired inner-fold differences cost 0.002 on average and
        0.011 on indo_rct: 5 inner folds measure a gain of 0.01 too poorly to decide on it.
        Figures from ``benchmarks/noise_guard.py``.

        A number fixes the scale (1.0 was the former default). With ``init=None`` the scale
        changes no ranking and both names keep 1.
    block_guard : bool, default=False
        Let each block of ``feature_groups`` enter the model only when it earns its place out of
        fold. A block reaches the model through its columns in the init model, each of its
        columns as a candidate graph and the block's own graph; on the same 5 stratified inner
        folds the whole fit (init, boosting, the choice of ``boost_scale_``; ``"guarded"`` runs
        as ``"auto"`` inside) is refitted with every block and without each one, with the same
        seed, and a block is kept when the mean paired held-out AUROC gain exceeds one standard
        error of that mean (``block_guard_`` holds the figures). A dropped block, its columns and
        its ``"<block>:missing"`` indicator are not read at all: the model is exactly the model
        fitted without those columns (same predictions; with an int ``random_state`` the same
        random draws). A class with fewer than 5 patients, or an inner fit that fails, drops
        every block; a block that is every column is kept. It costs ``5 * (n_blocks + 1)`` more
        fits on 80% of the patients. The scans path of ``experiments.workflows`` (and
        ``graphboost fit``) turns it on for a cohort with feature groups.
    early_stopping : bool, default=False
        Choose the number of rounds (and, with ``boost_scale`` a name, the scale of the boosted
        score) on a stratified internal validation split (``validation_fraction``) by log-loss,
        then refit on all patients with that many rounds. A scale of 0 keeps the init model
        alone: the graphs must earn their place.
    validation_fraction : float, default=0.2
        Share of the training patients held out for early stopping (rounds, and GNN epochs).
    n_iter_no_change : int, default=10
        Rounds without improvement of the validation log-loss before boosting stops.
    hidden_channels : int, default=16
        Hidden width of the GNN learners.
    num_layers : int, default=2
        Layers of the GNN learners.
    dropout : float, default=0.0
        Dropout of the GNN learners.
    max_epochs : int, default=100
        Most epochs per GNN learner.
    gnn_lr : float, default=0.01
        Adam step size of the GNN learners (their ``lr``).
    weight_decay : float, default=5e-4
        L2 penalty of the GNN learners.
    patience : int, default=10
        Epochs without improvement before a GNN learner stops.
    max_degree : int, default=32
        Most neighbors per patient in a threshold graph handed to a GNN.
    device : {"auto", "cpu", "cuda"}, "cuda:N" or torch.device, default="auto"
        Where GNN learners train; ``"auto"`` picks CUDA when present (see
        :func:`~graphboost.resolve_device`).
    random_state : int, RandomState instance or None, default=None
        Seed of everything random in ``fit``; a fixed seed makes ``fit`` deterministic on CPU.
    verbose : int, default=0
        Print one line per round when positive.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_classes_ : int
        Number of classes.
    n_features_in_ : int
        Number of input columns.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when ``X`` was a DataFrame with string column names.
    feature_groups_ : dict of str to list of int
        The resolved blocks, as column indices.
    init_ : object
        The fitted starting model; its ``estimator_`` is the scikit-learn model behind it.
    estimators_ : list of GraphWeakLearner
        The weak learner of each round.
    estimator_weights_ : ndarray of shape (n_rounds,)
        SAMME weight of each round.
    estimator_errors_ : ndarray of shape (n_rounds,)
        Weighted training error of each round's learner.
    selected_graphs_ : list of GraphSpec
        The graph of each round: which column or block, which rule, which parameters.
    feature_importances_ : ndarray of shape (n_features_in_,)
        Share of the total round weight of the graphs built on each column (a block's weight is
        split evenly over its columns).
    n_candidates_ : int
        Number of candidate graphs screened each round.
    skipped_features_ : list of str
        Constant columns, left out of the candidates.
    validation_scores_ : ndarray of shape (n_rounds + 1, n_scales) or None
        With ``early_stopping``, the validation log-loss after the init model and after each
        round (rows), for each scale of the boosted score (columns: ``BOOST_SCALES`` with
        ``boost_scale="auto"``, else the one fixed scale), each with the per-class intercept
        that fits the validation patients best (as the fitted model's ``boost_offset_`` does
        on the training patients).
    boost_scale_ : float
        Weight of the boosted score added to the init score: ``boost_scale``, or the scale it
        chose.
    boost_offset_ : ndarray of shape (n_classes,)
        Per-class intercept of the scaled boosted score, fitted after ``boost_scale_`` so that
        the whole score is calibrated again: the weighted log-loss of the training patients'
        out-of-fold init score plus their leave-self-out boosted score (zeros when
        ``boost_scale_`` is 0). SAMME votes lean to the larger class, so without it the boosted
        score lowers every risk on an imbalanced cohort. Each round carries the share of it
        that its weight has of the rounds' total, in ``staged_*`` and in ``explain``.
    boost_scale_guard_ : dict or None
        With ``boost_scale="guarded"`` and no early stopping, where the training side chose a
        positive scale: the out-of-fold guard's figures (``training_scale``, the held-out
        AUROC of each inner fold for the init alone, ``fold_auroc_start``, and at the training
        scale, ``fold_auroc_boosted``; ``gain``, ``gain_se``, ``auroc_se``, the t-test's
        ``chance_p``, ``kept``, and a ``reason`` where the guard could not run). None
        otherwise.
    block_guard_ : dict or None
        With ``block_guard=True`` and feature groups, per block: ``kept``; the held-out AUROC of
        each inner fold with every block, ``fold_auroc_with``, and without this one,
        ``fold_auroc_without``; ``gain`` and ``gain_se`` (mean paired difference and its standard
        error) and ``margin_se``; or a ``reason`` where it could not compare. None otherwise.
    columns_used_ : ndarray of int or None
        The input columns the model reads (those of the blocks the guard dropped left out);
        None when it reads every column.
    device_ : str
        Device the GNN learners used.

    See Also
    --------
    GraphWeakLearner : The weak learner on one graph.
    sklearn.ensemble.AdaBoostClassifier : SAMME boosting of any classifier.

    References
    ----------
    .. [1] Lian et al., "AdaMedGraph: Adaboosting Graph Neural Networks for Personalized Medicine",
       ML4H 2023.
    .. [2] Zhu, Zou, Rosset and Hastie, "Multi-class AdaBoost", Statistics and its Interface, 2009.

    Notes
    -----
    The boosting follows scikit-learn's ``BaseWeightBoosting``: ``fit`` validates the input, then
    :meth:`_fit_boosting` fits the init model and calls :meth:`_boost` once per round. With
    ``early_stopping`` that loop runs first on the training part of a stratified split, stopped
    by the validation log-loss (as ``GradientBoostingClassifier._fit_stages`` is stopped by its
    monitor), then on all patients for the chosen number of rounds. The candidate graphs come
    from :mod:`graphboost._candidates`, the choice of ``boost_scale_`` from
    :mod:`graphboost._boost_scale`, and the prediction methods from :mod:`graphboost._predict`.

    Examples
    --------
    >>> import numpy as np
    >>> from graphboost import GraphBoostClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(120, 4))
    >>> y = (np.sin(3 * X[:, 0]) > 0).astype(int)
    >>> clf = GraphBoostClassifier(n_estimators=10, random_state=0).fit(X, y)
    >>> clf.selected_graphs_[0].name
    'x0'
    >>> clf.predict_proba(X[:2]).shape
    (2, 2)
    """

    _parameter_constraints = {
        **GRAPH_CONSTRAINTS,
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "conv": [StrOptions(set(WEAK_LEARNERS))],
        "n_screen": [Interval(Integral, 1, None, closed="left")],
        "init": [StrOptions({"logistic"}), None, HasMethods(["fit", "predict_proba"])],
        "init_scoring": [StrOptions(set(INIT_SCORINGS))],
        "boost_scale": [StrOptions({"auto", "guarded"}), Interval(Real, 0, None, closed="left")],
        "block_guard": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "hidden_channels": [Interval(Integral, 1, None, closed="left")],
        "num_layers": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "gnn_lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "patience": [Interval(Integral, 1, None, closed="left")],
        "max_degree": [Interval(Integral, 1, None, closed="left")],
        "device": [str, torch.device],  # the value is checked by resolve_device
    }

    def __init__(
        self,
        *,
        n_estimators=50,
        learning_rate=0.1,
        conv="vote",
        n_neighbors=(10, 20),
        threshold_quantiles=(),
        feature_groups=None,
        metric="euclidean",
        n_screen=3,
        reuse_features=True,
        init="logistic",
        init_scoring="roc_auc",
        boost_scale="guarded",
        block_guard=False,
        early_stopping=False,
        validation_fraction=0.2,
        n_iter_no_change=10,
        hidden_channels=16,
        num_layers=2,
        dropout=0.0,
        max_epochs=100,
        gnn_lr=0.01,
        weight_decay=5e-4,
        patience=10,
        max_degree=32,
        device="auto",
        random_state=None,
        verbose=0,
    ):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.conv = conv
        self.n_neighbors = n_neighbors
        self.threshold_quantiles = threshold_quantiles
        self.feature_groups = feature_groups
        self.metric = metric
        self.n_screen = n_screen
        self.reuse_features = reuse_features
        self.init = init
        self.init_scoring = init_scoring
        self.boost_scale = boost_scale
        self.block_guard = block_guard
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.hidden_channels = hidden_channels
        self.num_layers = num_layers
        self.dropout = dropout
        self.max_epochs = max_epochs
        self.gnn_lr = gnn_lr
        self.weight_decay = weight_decay
        self.patience = patience
        self.max_degree = max_degree
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags

    # -- fit ---------------------------------------------------------------------------------
    def fit(self, X, y, sample_weight=None):
        """Fit the init model, then boost graph learners on the training patients.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training patients: numeric, no missing values.
        y : array-like of shape (n_samples,)
            Labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Initial patient weights; uniform when None.

        Returns
        -------
        self : GraphBoostClassifier
        """
        X, y_codes, sample_weight = self._validate_fit_data(X, y, sample_weight)
        rng = check_random_state(self.random_state)
        self._drop_blocks(None)
        if self.block_guard and self.feature_groups_:
            seed = self._block_guard_seed(rng)
            self._drop_blocks(guard_blocks(self, X, y_codes, sample_weight, seed))
        n_rounds = self._fit_resolved(X, y_codes, sample_weight, rng)
        # A block's "<group>:missing" column is constant whenever every patient has the block:
        # expected, so it is skipped without a word.
        indicators = {f"{group}:missing" for group in self.feature_groups_}
        unexpected = [name for name in self.skipped_features_ if name not in indicators]
        if unexpected:
            warnings.warn(
                f"Constant columns skipped as candidate edge features: {format_names(unexpected)}.",
                UserWarning,
                stacklevel=2,
            )
        if not self.estimators_ and n_rounds > 0:
            warnings.warn(
                "No candidate graph beat chance in the first round; the model is the init "
                "model alone.",
                UserWarning,
                stacklevel=2,
            )
        self.feature_importances_ = self._importances()
        return self

    def _fit_resolved(self, X, y_codes, sample_weight, rng):
        """Early stopping, boosting and the choice of ``boost_scale_`` on validated data, with
        the blocks the guard kept; the number of rounds asked for."""
        n_rounds, self.validation_scores_ = self.n_estimators, None
        chosen = isinstance(self.boost_scale, str)
        self.boost_scale_ = 1.0 if chosen else float(self.boost_scale)
        self.boost_scale_guard_ = None
        if self.early_stopping:
            n_rounds = self._early_stopping(X, y_codes, sample_weight, rng)
        self._fit_boosting(X, y_codes, sample_weight, n_rounds, rng)
        scores = None  # the left-out training scores, computed once for the scale and intercept
        if chosen and not self.early_stopping:
            scores = self._choose_scale(X, y_codes, sample_weight, rng)
        self.boost_offset_ = boost_offset(self, X, y_codes, sample_weight, scores)
        return n_rounds

    def _block_guard_seed(self, rng):
        """Seed of the block guard. With an int ``random_state`` it is derived from it and the
        fit's own generator is left untouched, so a model that dropped a block draws the same
        numbers as the model fitted without it."""
        if isinstance(self.random_state, Integral):
            return int(np.random.SeedSequence([int(self.random_state), 19]).generate_state(1)[0])
        return rng.randint(2**31 - 1)

    def _drop_blocks(self, figures):
        """Set ``block_guard_`` to ``figures`` and ``columns_used_`` to the columns of the model
        without the blocks the guard did not keep (None: every column)."""
        self.block_guard_ = figures
        dropped = [g for g, f in (figures or {}).items() if not f["kept"]]
        self.columns_used_ = used_columns(self._column_names(), self.feature_groups_, dropped)

    def _active_groups(self):
        """The resolved blocks the model uses: those the block guard kept (all without it)."""
        figures = getattr(self, "block_guard_", None) or {}
        return {
            g: idx for g, idx in self.feature_groups_.items() if figures.get(g, {}).get("kept", 1)
        }

    def _validate_fit_data(self, X, y, sample_weight):
        """Check the parameters and the data; set the attributes that describe the input."""
        owner = type(self).__name__
        check_choice(self.conv, "conv", WEAK_LEARNERS, owner)
        self._validate_params()
        frame = X if hasattr(X, "columns") else None
        X, y = validate_data(self, X, y, ensure_all_finite=False, dtype=np.float64)
        check_finite(X, getattr(self, "feature_names_in_", None), owner)
        check_classification_targets(y)
        classes, y_codes = np.unique(y, return_inverse=True)
        if classes.shape[0] < 2:
            raise ValueError(
                f"{owner} needs at least 2 classes in y; got 1 class: {classes.tolist()}."
            )
        self.classes_ = classes
        self.n_classes_ = classes.shape[0]
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )
        self._check_neighbors(X.shape[0])
        self.device_ = str(resolve_device(self.device)) if self.conv != "vote" else "cpu"
        self.feature_groups_ = self._resolve_groups(frame)
        return X, y_codes, sample_weight

    def _early_stopping(self, X, y_codes, sample_weight, rng):
        """Choose the number of rounds and ``boost_scale_`` on a stratified validation split."""
        val = stratified_split(
            y_codes, self.classes_, self.validation_fraction, rng, type(self).__name__
        )
        scales = BOOST_SCALES if isinstance(self.boost_scale, str) else (self.boost_scale_,)
        losses = ValidationLosses(X[val], y_codes[val], self.n_iter_no_change, scales)
        train = ~val
        self._fit_boosting(
            X[train], y_codes[train], sample_weight[train], self.n_estimators, rng, losses
        )
        self.validation_scores_ = scores = losses.scores()
        # Fewest rounds, then smallest scale, among the ties of the lowest validation loss.
        n_rounds, scale = np.unravel_index(np.argmin(scores), scores.shape)
        if isinstance(self.boost_scale, str):
            self.boost_scale_ = float(scales[scale]) if n_rounds else 0.0
        return int(n_rounds)

    def _choose_scale(self, X, y_codes, sample_weight, rng):
        """``boost_scale_`` without early stopping: the training-side choice, then, with
        ``boost_scale="guarded"``, the out-of-fold guard's decision between it and 0. Returns
        the left-out training scores it weighed (``_boost_scale.left_out_scores``)."""
        scores = left_out_scores(self, X, y_codes, sample_weight)
        aurocs = self._scale_scores(X, y_codes, sample_weight, scores)
        if aurocs is None:
            return scores
        self.boost_scale_ = float(AUTO_SCALES[int(np.argmax(aurocs))])
        if self.boost_scale == "guarded" and self.boost_scale_ > 0:
            self.boost_scale_, self.boost_scale_guard_ = guard_scale(
                self, X, y_codes, sample_weight, self.boost_scale_, rng.randint(2**31 - 1)
            )
        return scores

    def _scale_scores(self, X, y_codes, sample_weight, scores=None):
        """Training AUROC of each scale of ``AUTO_SCALES``; see
        :func:`graphboost._boost_scale.training_scale_scores`."""
        return training_scale_scores(self, X, y_codes, sample_weight, scores)

    def _fit_boosting(self, X, y_codes, sample_weight, n_rounds, rng, monitor=None):
        """SAMME: fit the init model, then call :meth:`_boost` for at most ``n_rounds`` rounds.

        ``monitor`` (early stopping) sees each new round and may stop the loop, as the monitor
        of scikit-learn's gradient boosting does.
        """
        columns = getattr(self, "columns_used_", None)
        X_init = X if columns is None else X[:, columns]
        self.init_ = make_init(self.init, self.init_scoring).fit(
            X_init,
            y_codes,
            self.n_classes_,
            sample_weight,
            rng.randint(2**31 - 1),
            type(self).__name__,
        )
        self.init_.columns_ = columns
        candidates, self.skipped_features_ = self._candidates(X)
        screen = CandidateScreen(X, candidates)
        self.n_candidates_ = len(screen)
        self.estimators_, weights, errors = [], [], []
        if monitor is not None:
            monitor.start(self.init_)
        sample_weight = sample_weight / sample_weight.sum()
        for iboost in range(n_rounds):
            result = self._boost(iboost, X, y_codes, sample_weight, rng, screen)
            if result is None:
                break
            sample_weight, estimator_weight, estimator_error = result
            weights.append(estimator_weight)
            errors.append(estimator_error)
            if monitor is not None and monitor(self.estimators_[-1], estimator_weight):
                break
            if estimator_error <= 0:
                break  # a perfect round: nothing is left to reweight
        self.estimator_weights_ = np.asarray(weights, dtype=np.float64)
        self.estimator_errors_ = np.asarray(errors, dtype=np.float64)
        self.selected_graphs_ = [learner.graph_spec_ for learner in self.estimators_]

    def _boost(self, iboost, X, y_codes, sample_weight, random_state, screen):
        """One SAMME round: keep the best learner of the screened candidates, reweight.

        Returns
        -------
        result : (sample_weight, estimator_weight, estimator_error) or None
            The new weights (summing to 1), the round's weight and its weighted error; None
            when no candidate is left or none beats chance (the boosting stops).
        """
        best = self._best_learner(X, y_codes, sample_weight, random_state, screen)
        if best is None:
            return None
        learner, estimator_error, i = best
        if estimator_error >= 1.0 - 1.0 / self.n_classes_:
            return None  # no candidate beats chance
        estimator_weight = samme_weight(estimator_error, self.n_classes_, self.learning_rate)
        self.estimators_.append(learner)
        if self.verbose:
            print(f"round {iboost + 1}: {screen.specs[i]} error={estimator_error:.4f}")
        if not self.reuse_features:
            screen.retire(i)
        if estimator_error <= 0:
            return sample_weight, estimator_weight, estimator_error
        incorrect = learner.train_predictions_ != y_codes
        return (
            reweight(sample_weight, estimator_weight, incorrect),
            estimator_weight,
            estimator_error,
        )

    def _best_learner(self, X, y_codes, sample_weight, random_state, screen):
        """Train the weak learner on the best-screened candidates; (learner, error, index)."""
        if not screen.active.any():
            return None
        screened = screen.errors(sample_weight, y_codes, self.n_classes_)
        width = 1 if self.conv == "vote" else self.n_screen
        best = None
        for i in np.argsort(screened, kind="stable")[:width]:
            if not np.isfinite(screened[i]):
                continue
            learner = self._learner(random_state.randint(2**31 - 1))
            learner._fit_graph(screen.graph(i, X), X, self.classes_, y_codes, sample_weight)
            wrong = learner.train_predictions_ != y_codes
            error = float(sample_weight @ wrong / sample_weight.sum())
            if best is None or error < best[1]:
                best = (learner, error, i)
        return best

    def _learner(self, seed):
        params = {name: getattr(self, name) for name in _GNN_PARAMS}
        return GraphWeakLearner(conv=self.conv, lr=self.gnn_lr, random_state=seed, **params)

    # -- candidates --------------------------------------------------------------------------
    def _check_neighbors(self, n_samples):
        check_neighbors(self.n_neighbors, self.threshold_quantiles, n_samples)

    def _column_names(self):
        if hasattr(self, "feature_names_in_"):
            return [str(c) for c in self.feature_names_in_]
        return [f"x{i}" for i in range(self.n_features_in_)]

    def _resolve_groups(self, frame):
        """``feature_groups`` as column indices; callables are called on the DataFrame."""
        return resolve_groups(self.feature_groups, frame, self._column_names())

    def _candidates(self, X):
        """Candidate graphs of every non-constant column, then of every block; constant names."""
        return candidate_graphs(
            X,
            self._column_names(),
            self.n_neighbors,
            self.threshold_quantiles,
            self._active_groups(),
            self.metric,
            getattr(self, "columns_used_", None),
        )

    def _importances(self):
        names = self._column_names()
        lookup = {name: i for i, name in enumerate(names)}
        importances = np.zeros(self.n_features_in_)
        for spec, weight in zip(self.selected_graphs_, self.estimator_weights_, strict=True):
            idx = [lookup[c] for c in spec.columns]
            importances[idx] += weight / len(idx)
        total = importances.sum()
        return importances / total if total > 0 else importances


def load(path):
    """Read a :class:`GraphBoostClassifier` folder; :func:`graphboost.load` reads any model."""
    return read_model(path, GraphBoostClassifier)
