"""GraphBoostClassifier: SAMME boosting of weak learners on automatically chosen graphs."""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    check_random_state,
    validate_data,
)

from ._device import resolve_device
from ._graphs import GraphSpec, threshold_from_differences
from ._init_model import make_init
from ._neighbourhoods import CandidateScreen, block_indicator, fit_graph
from ._validation import check_choice, check_class_counts, check_finite, format_names
from ._weak import WEAK_LEARNERS, GraphWeakLearner, _stratified_mask

#: Scales of the boosted score tried against the init score when ``early_stopping=True``.
BOOST_SCALES = (0.0, 0.25, 0.5, 1.0)

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


class GraphBoostClassifier(ClassifierMixin, BaseEstimator):
    """Boosted weak learners over automatically chosen patient-similarity graphs.

    Every input column, and every named block of columns in ``feature_groups``, is a candidate
    edge feature: it defines a graph linking similar patients. Each boosting round scores every
    remaining candidate graph cheaply against the current sample weights (the weighted
    leave-self-out neighbour vote), trains the weak learner (``conv``) on the best
    ``n_screen`` graphs, keeps the one with the lowest weighted error and reweights the patients
    (SAMME). The boosted score is added, on the log-odds scale, to an ``init`` model (an L2
    logistic regression by default), so the graphs correct a strong linear model rather than
    replace it.

    Prediction is inductive: a new patient is linked only to training patients, by the rule of
    each selected graph, and its prediction never depends on the other rows passed with it.

    Parameters
    ----------
    n_estimators : int, default=50
        Most boosting rounds.
    learning_rate : float, default=0.1
        Shrinkage of each round's weight.
    conv : {"vote", "appnp", "gat", "gcn", "sage"}, default="vote"
        Weak learner: the weighted neighbour vote (label propagation, no parameters), or a GNN
        with that convolution (APPNP is AdaMedGraph's).
    n_neighbors : int or tuple of int, default=(10, 20)
        Neighbourhood sizes of the k-nearest-neighbour candidate graphs; each must be smaller
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
        Distance between patients on a block (the block is standardised first).
    n_screen : int, default=3
        GNNs trained per round, on the best-screened graphs. Unused with ``conv="vote"``, whose
        screening score is its error.
    reuse_features : bool, default=True
        Whether a selected candidate may be selected again in a later round.
    init : "logistic", None or classifier, default="logistic"
        The starting score: ``"logistic"`` is a standardised L2 logistic regression with C chosen
        by inner 3-fold CV; None is the class prior; a classifier with ``predict_proba`` is
        cloned and fitted on the training patients (such a model cannot be saved).
    early_stopping : bool, default=False
        Choose the number of rounds, and the scale of the boosted score against the init score
        (0, 0.25, 0.5 or 1), on a stratified internal validation split
        (``validation_fraction``) by log-loss, then refit on all patients with that many rounds.
        A scale of 0 keeps the init model alone: the graphs must earn their place.
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
    gnn_learning_rate : float, default=0.01
        Adam step size of the GNN learners.
    weight_decay : float, default=5e-4
        L2 penalty of the GNN learners.
    patience : int, default=10
        Epochs without improvement before a GNN learner stops.
    max_degree : int, default=32
        Most neighbours per patient in a threshold graph handed to a GNN.
    device : {"auto", "cpu", "cuda"}, default="auto"
        Where GNN learners train; ``"auto"`` picks CUDA when present.
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
    validation_scores_ : ndarray of shape (n_rounds + 1, 4) or None
        With ``early_stopping``, the validation log-loss after the init model and after each
        round (rows), for each scale of the boosted score (columns, see ``BOOST_SCALES``).
    boost_scale_ : float
        Weight of the boosted score added to the init score: 1.0, or the scale chosen by
        ``early_stopping``.
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
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "conv": [StrOptions(set(WEAK_LEARNERS))],
        "n_neighbors": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "threshold_quantiles": ["array-like"],
        "feature_groups": [dict, None],
        "metric": [StrOptions({"euclidean", "cosine"})],
        "n_screen": [Interval(Integral, 1, None, closed="left")],
        "reuse_features": ["boolean"],
        "init": [StrOptions({"logistic"}), None, HasMethods(["fit", "predict_proba"])],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "hidden_channels": [Interval(Integral, 1, None, closed="left")],
        "num_layers": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "gnn_learning_rate": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "patience": [Interval(Integral, 1, None, closed="left")],
        "max_degree": [Interval(Integral, 1, None, closed="left")],
        "device": [StrOptions({"auto", "cpu", "cuda"})],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
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
        early_stopping=False,
        validation_fraction=0.2,
        n_iter_no_change=10,
        hidden_channels=16,
        num_layers=2,
        dropout=0.0,
        max_epochs=100,
        gnn_learning_rate=0.01,
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
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.hidden_channels = hidden_channels
        self.num_layers = num_layers
        self.dropout = dropout
        self.max_epochs = max_epochs
        self.gnn_learning_rate = gnn_learning_rate
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
        n_samples = X.shape[0]
        self._check_neighbours(n_samples)
        self.device_ = str(resolve_device(self.device)) if self.conv != "vote" else "cpu"
        self.feature_groups_ = self._resolve_groups(frame)
        rng = check_random_state(self.random_state)

        self.validation_scores_ = None
        self.boost_scale_ = 1.0
        n_rounds = self.n_estimators
        if self.early_stopping:
            val = _stratified_split(y_codes, classes, self.validation_fraction, rng, owner)
            tr = ~val
            scores = self._boost(
                X[tr], y_codes[tr], sample_weight[tr], n_rounds, rng, (X[val], y_codes[val])
            )
            self.validation_scores_ = scores
            # Fewest rounds, then smallest scale, among the ties of the lowest validation loss.
            n_rounds, scale = np.unravel_index(np.argmin(scores), scores.shape)
            self.boost_scale_ = float(BOOST_SCALES[scale]) if n_rounds else 0.0
        self._boost(X, y_codes, sample_weight, int(n_rounds), rng, None)
        return self

    def _check_neighbours(self, n_samples):
        ks = np.atleast_1d(np.asarray(self.n_neighbors))
        if ks.size == 0 or not np.issubdtype(ks.dtype, np.integer) or (ks < 1).any():
            raise ValueError(
                "The 'n_neighbors' parameter of GraphBoostClassifier must be a positive int or "
                f"a non-empty sequence of positive ints; got {self.n_neighbors!r}."
            )
        too_big = ks[ks >= n_samples]
        if too_big.size:
            raise ValueError(
                f"n_neighbors={int(too_big[0])} must be smaller than the number of training "
                f"patients (n_samples={n_samples}): each patient needs that many neighbours "
                "other than itself."
            )
        qs = np.asarray(self.threshold_quantiles, dtype=np.float64).ravel()
        if ((qs <= 0) | (qs >= 1)).any():
            raise ValueError(
                "The 'threshold_quantiles' parameter of GraphBoostClassifier must hold numbers "
                f"in (0, 1); got {self.threshold_quantiles!r}."
            )

    def _column_names(self):
        if hasattr(self, "feature_names_in_"):
            return [str(c) for c in self.feature_names_in_]
        return [f"x{i}" for i in range(self.n_features_in_)]

    def _resolve_groups(self, frame):
        names = self._column_names()
        lookup = {name: i for i, name in enumerate(names)}
        groups = {}
        for group, members in (self.feature_groups or {}).items():
            if callable(members):
                if frame is None:
                    raise ValueError(
                        f"feature_groups[{group!r}] is a callable, which needs X as a DataFrame; "
                        "got an array."
                    )
                members = members(frame)
            members = list(members)
            if not members:
                raise ValueError(f"feature_groups[{group!r}] names no column.")
            indices, missing = [], []
            for m in members:
                if isinstance(m, Integral) and not isinstance(m, bool):
                    if 0 <= m < len(names):
                        indices.append(int(m))
                    else:
                        missing.append(m)
                elif str(m) in lookup:
                    indices.append(lookup[str(m)])
                else:
                    missing.append(m)
            if missing:
                raise ValueError(
                    f"feature_groups[{group!r}] names columns not in X: {format_names(missing)}."
                )
            groups[str(group)] = indices
        return groups

    def _candidates(self, X):
        """Candidate graphs of every non-constant column and every block."""
        names = self._column_names()
        ks = sorted({int(k) for k in np.atleast_1d(self.n_neighbors)})
        quantiles = [float(q) for q in np.asarray(self.threshold_quantiles).ravel()]
        constant = np.ptp(X, axis=0) == 0
        column_specs = []
        for j in np.flatnonzero(~constant):
            name = names[j]
            specs = [GraphSpec(name, (name,), "knn", n_neighbors=k) for k in ks]
            for q in quantiles:
                tau = threshold_from_differences(X[:, j], q, random_state=j)
                specs.append(GraphSpec(name, (name,), "threshold", quantile=q, threshold=tau))
            column_specs.append((int(j), specs))
        block_specs = []
        for group, indices in self.feature_groups_.items():
            cols = tuple(names[i] for i in indices)
            specs = [GraphSpec(group, cols, "knn", n_neighbors=k, metric=self.metric) for k in ks]
            indicator = block_indicator(specs[0], names)
            if indicator is not None:
                n_present = int((X[:, indicator] < 0.5).sum())
                if max(ks) >= n_present:
                    raise ValueError(
                        f"n_neighbors={max(ks)} must be smaller than the number of training "
                        f"patients having block {group!r} ({n_present}, by column "
                        f"'{group}:missing')."
                    )
            block_specs.append((indices, indicator, specs))
        return column_specs, block_specs, [names[j] for j in np.flatnonzero(constant)]

    def _learner(self, seed):
        params = {name: getattr(self, name) for name in _GNN_PARAMS}
        return GraphWeakLearner(
            conv=self.conv, learning_rate=self.gnn_learning_rate, random_state=seed, **params
        )

    def _boost(self, X, y_codes, sample_weight, n_rounds, rng, validation):
        """Fit the init model and run SAMME for at most ``n_rounds`` rounds.

        With ``validation=(X_val, y_val)`` returns the validation log-loss after each round
        (index 0 is the init model alone) and stops after ``n_iter_no_change`` rounds without
        improvement; otherwise stores the fitted model on ``self``.
        """
        owner = type(self).__name__
        n_classes = self.n_classes_
        init = make_init(self.init).fit(
            X, y_codes, n_classes, sample_weight, rng.randint(2**31 - 1), owner
        )
        column_specs, block_specs, constant = self._candidates(X)
        if validation is None:
            self.skipped_features_ = constant
            if constant:
                warnings.warn(
                    f"Constant columns skipped as candidate edge features: "
                    f"{format_names(constant)}.",
                    UserWarning,
                    stacklevel=3,
                )
        screen = CandidateScreen(X, column_specs, block_specs)
        columns_of = {}
        for j, specs in column_specs:
            for spec in specs:
                columns_of[spec] = [j]
        indicator_of = {}
        for indices, indicator, specs in block_specs:
            for spec in specs:
                columns_of[spec] = list(indices)
                indicator_of[spec] = indicator
        active = np.ones(len(screen), dtype=bool)
        graphs, learners, weights, errors, specs = {}, [], [], [], []
        w = sample_weight / sample_weight.sum()
        if validation is not None:
            X_val, y_val = validation
            val_init = init.log_proba(X_val)
            val_boost = np.zeros_like(val_init)
            val_scores = [_scaled_losses(val_init, val_boost, y_val)]
        for round_ in range(n_rounds):
            if len(screen) == 0 or not active.any():
                break
            screened = screen.errors(w, y_codes, n_classes, active)
            width = 1 if self.conv == "vote" else self.n_screen
            order = np.argsort(screened, kind="stable")[:width]
            best = None
            for i in order:
                if not np.isfinite(screened[i]):
                    continue
                spec = screen.specs[i]
                if spec not in graphs:
                    graphs[spec] = fit_graph(spec, X, columns_of[spec], indicator_of.get(spec))
                learner = self._learner(rng.randint(2**31 - 1))
                learner._fit_graph(graphs[spec], X, self.classes_, y_codes, w)
                error = float(w @ (learner.train_predictions_ != y_codes) / w.sum())
                if best is None or error < best[1]:
                    best = (learner, error, i)
            if best is None:
                break
            learner, error, i = best
            if error >= 1.0 - 1.0 / n_classes:
                break  # no candidate beats chance
            if error <= 0:
                weight = 1.0
            else:
                weight = self.learning_rate * (
                    np.log((1.0 - error) / error) + np.log(n_classes - 1.0)
                )
            learners.append(learner)
            weights.append(weight)
            errors.append(error)
            specs.append(screen.specs[i])
            if self.verbose:
                print(f"round {round_ + 1}: {screen.specs[i]} error={error:.4f}")
            if not self.reuse_features:
                chosen = screen.specs[i].columns
                active &= np.array([s.columns != chosen for s in screen.specs])
            if validation is not None:
                codes = learner._predict_codes(X_val)
                val_boost = val_boost + weight * _samme_codes(codes, n_classes)
                val_scores.append(_scaled_losses(val_init, val_boost, y_val))
                best_round = int(np.argmin(np.min(val_scores, axis=1)))
                if len(val_scores) - 1 - best_round >= self.n_iter_no_change:
                    break
            if error <= 0:
                break
            incorrect = learner.train_predictions_ != y_codes
            w = w * np.exp(weight * incorrect)
            w /= w.sum()
        if validation is not None:
            return np.asarray(val_scores)
        if not learners and n_rounds > 0:
            warnings.warn(
                "No candidate graph beat chance in the first round; the model is the init "
                "model alone.",
                UserWarning,
                stacklevel=3,
            )
        self.init_ = init
        self.estimators_ = learners
        self.estimator_weights_ = np.asarray(weights, dtype=np.float64)
        self.estimator_errors_ = np.asarray(errors, dtype=np.float64)
        self.selected_graphs_ = specs
        self.n_candidates_ = len(screen)
        self.feature_importances_ = self._importances()
        return None

    def _importances(self):
        names = self._column_names()
        lookup = {name: i for i, name in enumerate(names)}
        importances = np.zeros(self.n_features_in_)
        for spec, weight in zip(self.selected_graphs_, self.estimator_weights_, strict=True):
            idx = [lookup[c] for c in spec.columns]
            importances[idx] += weight / len(idx)
        total = importances.sum()
        return importances / total if total > 0 else importances

    # -- prediction --------------------------------------------------------------------------
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
            logits = logits + self.boost_scale_ * weight * _samme_codes(codes, self.n_classes_)
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
        return _softmax(self._logits(self._validate_predict(X)))

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
            yield _softmax(logits)

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
            contributions of a patient sum to its decision function), ``neighbours`` (positions
            of the most similar training patients, nearest first) and ``neighbour_labels``.
        """
        from ._explain import explain

        return explain(self, self._validate_predict(X), n_neighbors)

    def save(self, path):
        """Save the fitted model to the folder ``path`` in a safe format (JSON and tensors).

        The model holds the training values of the columns its graphs use, and the labels,
        because new patients are linked to the training patients.

        Parameters
        ----------
        path : str or path-like
            Folder to create; an existing non-empty folder is an error.
        """
        from ._persistence import save

        save(self, path)


def _samme_codes(codes, n_classes):
    """Per-class score of one round's prediction, on the log-probability scale.

    SAMME codes a prediction of class k as 1 for k and -1/(K-1) for the others; the
    exponential-loss solution makes log p_k = (K-1)/K * sum of weighted codes (Zhu et al. 2009),
    so that for two classes the log-odds is the sum of the signed round weights.
    """
    g = np.full((codes.shape[0], n_classes), -1.0 / (n_classes - 1))
    g[np.arange(codes.shape[0]), codes] = 1.0
    return g * (n_classes - 1) / n_classes


def _scaled_losses(init_logits, boost, y_codes):
    """Log-loss of the init score plus each candidate scale of the boosted score."""
    return [_log_loss(init_logits + scale * boost, y_codes) for scale in BOOST_SCALES]


def _softmax(logits):
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _log_loss(logits, y_codes):
    z = logits - logits.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(y_codes.shape[0]), y_codes].mean())


def _stratified_split(y_codes, classes, fraction, rng, owner):
    check_class_counts(
        np.bincount(y_codes, minlength=len(classes)),
        classes,
        2,
        "the internal stratified validation split of early_stopping=True",
        owner,
    )
    return _stratified_mask(y_codes, fraction, rng)
