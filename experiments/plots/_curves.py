"""Curves of out-of-fold predictions: ROC, calibration, decision curves, boosting rounds."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ._common import _axes, _finish, _plt


# ------------------------------------------------------------------------------ curves
def _positive_scores(p, n):
    """Scores of the positive class: (n,), (n, 2) or a list of (n, 2) repeats (averaged)."""
    if isinstance(p, list | tuple):
        p = np.mean([np.asarray(q, dtype=np.float64) for q in p], axis=0)
    p = np.asarray(p, dtype=np.float64)
    if p.ndim == 2:
        if p.shape[1] != 2:
            raise ValueError(
                f"ROC and calibration curves need binary probabilities (n, 2); got {p.shape}."
            )
        p = p[:, 1]
    if p.shape != (n,):
        raise ValueError(f"Probabilities must have one row per patient ({n}); got {p.shape}.")
    return p


def _method_scores(y, probas_by_method):
    """Labels as an array and each method's positive-class scores (checked)."""
    if not isinstance(probas_by_method, Mapping) or not probas_by_method:
        raise ValueError(
            "probas_by_method must be a non-empty dict of method name -> probabilities."
        )
    y = np.asarray(y)
    return y, {name: _positive_scores(p, y.shape[0]) for name, p in probas_by_method.items()}


def _method_curves(y, probas_by_method, ax, draw, diagonal):
    """``draw(ax, name, y, scores)`` for each method, then the dashed diagonal ``y = x``."""
    y, scores = _method_scores(y, probas_by_method)
    ax = _axes(ax, figsize=(5.5, 5))
    for name, s in scores.items():
        draw(ax, name, y, s)
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=0.8, label=diagonal)
    return ax


def plot_roc_curves(y, probas_by_method, ax=None, title="ROC curves (out-of-fold)"):
    """ROC curve of each method, its AUROC in the legend.

    Parameters
    ----------
    y : array-like of shape (n,)
        Binary labels (0/1).
    probas_by_method : dict
        Method -> positive-class scores (n,), probabilities (n, 2), or a list of (n, 2) arrays
        (one per CV repeat; averaged).
    ax : matplotlib Axes, optional
    title : str

    Returns
    -------
    matplotlib Axes
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    def draw(ax, name, y, s):
        fpr, tpr, _ = roc_curve(y, s)
        ax.plot(fpr, tpr, lw=1.2, label=f"{name} (AUROC {roc_auc_score(y, s):.3f})")

    ax = _method_curves(y, probas_by_method, ax, draw, diagonal="chance")
    xlabel, ylabel = "False positive rate (1 - specificity)", "True positive rate (sensitivity)"
    return _finish(ax, xlabel, ylabel, title, legend_loc="lower right")


def plot_calibration_curves(
    y, probas_by_method, ax=None, n_bins=10, title="Calibration (out-of-fold, quantile bins)"
):
    """Reliability diagram of each method (quantile bins), with Wilson 95% bands.

    Parameters
    ----------
    y : array-like of shape (n,)
    probas_by_method : dict
        As in :func:`plot_roc_curves`.
    ax : matplotlib Axes, optional
    n_bins : int, default=10
    title : str

    Returns
    -------
    matplotlib Axes

    See Also
    --------
    experiments.calibration_curve_bands : The points and bands drawn.
    """
    from ..clinical._calibration import calibration_curve_bands

    def draw(ax, name, y, s):
        curve = calibration_curve_bands(y, s, n_bins=n_bins)
        line = ax.plot(curve.mean_predicted, curve.observed, marker="o", ms=3, lw=1, label=name)
        color = line[0].get_color()
        ax.fill_between(curve.mean_predicted, curve.low, curve.high, color=color, alpha=0.12)

    ax = _method_curves(y, probas_by_method, ax, draw, diagonal="perfect calibration")
    xlabel, ylabel = "Mean predicted probability", "Observed fraction of positives (95% CI)"
    return _finish(ax, xlabel, ylabel, title, legend_loc="upper left")


def plot_calibration_panels(
    y, probas_by_method, n_bins=10, ncols=4, title="Calibration (out-of-fold, quantile bins)"
):
    """One reliability diagram per method, with its Wilson 95% band, on shared axes.

    Easier to read than :func:`plot_calibration_curves` when many methods overlap.

    Parameters
    ----------
    y : array-like of shape (n,)
    probas_by_method : dict
        As in :func:`plot_roc_curves`.
    n_bins : int, default=10
    ncols : int, default=4
        Panels per row.
    title : str

    Returns
    -------
    matplotlib Figure

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([0, 1] * 20)
    >>> p = np.linspace(0.1, 0.9, 40)
    >>> len(plot_calibration_panels(y, {"a": p, "b": 1 - p}).axes)
    2
    """
    y, scores = _method_scores(y, probas_by_method)
    ncols = min(ncols, len(scores))
    nrows = -(-len(scores) // ncols)
    fig, axes = _plt().subplots(
        nrows, ncols, figsize=(3.3 * ncols, 3.3 * nrows), sharex=True, sharey=True, squeeze=False
    )
    for ax, (name, s) in zip(axes.flat, scores.items(), strict=False):
        plot_calibration_curves(y, {name: s}, ax=ax, n_bins=n_bins, title=name)
        ax.get_legend().remove()
        ax.set_xlabel("Mean predicted risk")
        ax.set_ylabel("Observed share (95% CI)")
        ax.label_outer()
    for ax in axes.flat[len(scores) :]:
        ax.remove()
    fig.suptitle(title)
    return fig


def plot_decision_curves(
    y, probas_by_method, ax=None, thresholds=None, title="Decision curve (out-of-fold)"
):
    """Net benefit of each method against treating all and treating none (Vickers & Elkin 2006).

    Parameters
    ----------
    y : array-like of shape (n,)
        Binary labels (0/1).
    probas_by_method : dict
        Method -> probabilities (n, 2) or a list of (n, 2) arrays (one per CV repeat: the
        net benefit is averaged over the repeats).
    ax : matplotlib Axes, optional
    thresholds : array-like, optional
        Risk thresholds; default 1% to 80%.
    title : str

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.1, 0.9]])
    >>> plot_decision_curves([0, 0, 1, 1], {"model": p}).get_ylabel()
    'Net benefit'
    """
    from ..clinical._decision import mean_decision_curve

    if not isinstance(probas_by_method, Mapping) or not probas_by_method:
        raise ValueError(
            "probas_by_method must be a non-empty dict of method name -> probabilities."
        )
    ax = _axes(ax, figsize=(6, 4.5))
    curve = None
    for name, p in probas_by_method.items():
        curve = mean_decision_curve(y, p, thresholds)
        ax.plot(curve.threshold, curve.model, lw=1.2, label=name)
    ax.plot(curve.threshold, curve.treat_all, c="black", lw=1.5, ls=":", label="treat all")
    ax.axhline(0.0, c="black", lw=0.8, ls="--", label="treat none")
    prevalence = float(np.mean(np.asarray(y) == 1))
    top = max(prevalence, 0.05)
    ax.set_ylim(-0.3 * top, 1.1 * top)  # treat-all falls far below 0: show where it crosses
    xlabel = "Risk threshold (treat if the predicted risk is at least this)"
    return _finish(ax, xlabel, "Net benefit", title, legend_loc="upper right")


def plot_boosting_curve(
    curves, ax=None, reference=None, title="Test AUROC after each boosting round", first_round=0
):
    """AUROC after each boosting round (mean and spread over folds).

    Parameters
    ----------
    curves : array-like of shape (n_folds, n_stages) or list of lists
        AUROC at each stage, per fold (shorter curves keep their last value), e.g. from
        ``GraphBoostClassifier.staged_predict_proba``, whose first stage is the init model alone.
    ax : matplotlib Axes, optional
    reference : tuple of (str, float), optional
        A horizontal line, e.g. ``("logistic regression", 0.645)``.
    title : str
    first_round : int, default=0
        Round number of the first stage: 0 when the curve starts with the init model alone (as
        ``staged_predict_proba`` does), 1 when it starts after the first round.

    Returns
    -------
    matplotlib Axes
    """
    rows = [list(c) for c in curves] if not isinstance(curves, np.ndarray) else curves.tolist()
    rows = [r for r in rows if len(r)]
    if not rows:
        raise ValueError("curves is empty: no fold has a boosting round.")
    width = max(len(r) for r in rows)
    arr = np.array([r + [r[-1]] * (width - len(r)) for r in rows], dtype=np.float64)
    rounds = np.arange(first_round, first_round + width)
    mean, sd = np.nanmean(arr, axis=0), np.nanstd(arr, axis=0)
    ax = _axes(ax)
    label = "mean over folds" if arr.shape[0] > 1 else "AUROC"
    ax.plot(rounds, mean, marker="." if width < 30 else None, label=label)
    if arr.shape[0] > 1:
        ax.fill_between(rounds, mean - sd, mean + sd, alpha=0.2, label="+/- 1 SD over folds")
    if reference is not None:
        ax.axhline(reference[1], ls="--", c="grey", label=f"{reference[0]} ({reference[1]:.3f})")
    xlabel = "Boosting round" + (" (0: the init model alone)" if first_round == 0 else "")
    return _finish(ax, xlabel, "AUROC", title, legend_loc="best")


def plot_reference_comparison(
    ours, references, ax=None, metric="AUROC", title="Our results beside the published figures"
):
    """Dot plot of our estimates (with 95% CIs) beside published reference figures.

    Parameters
    ----------
    ours : dict
        Label -> estimate, or ``(estimate, low, high)``.
    references : dict
        Label -> published figure, or ``(estimate, low, high)``.
    ax : matplotlib Axes, optional
    metric : str, default="AUROC"
    title : str

    Returns
    -------
    matplotlib Axes
    """
    rows = [(k, v, "ours") for k, v in dict(ours).items()]
    rows += [(k, v, "published") for k, v in dict(references).items()]
    if not rows:
        raise ValueError("Nothing to compare: ours and references are both empty.")
    ax = _axes(ax, figsize=(7, 0.35 * len(rows) + 1.5))
    colors = {"ours": "#d62728", "published": "#7f7f7f"}
    seen = set()
    for i, (_name, value, kind) in enumerate(rows[::-1]):
        est, lo, hi = (value, None, None) if np.isscalar(value) else tuple(value)
        label = None if kind in seen else ("this run" if kind == "ours" else "reference figure")
        seen.add(kind)
        if lo is not None:
            ax.errorbar(
                est,
                i,
                xerr=[[est - lo], [hi - est]],
                fmt="o",
                color=colors[kind],
                capsize=3,
                label=label,
            )
        else:
            ax.plot(est, i, "D" if kind == "published" else "o", color=colors[kind], label=label)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([r[0] for r in rows[::-1]], fontsize=7)
    ax.axvline(0.5, ls=":", c="grey", lw=0.8)
    ax.set_xlabel(f"{metric} (dots; bars: 95% CI where known)")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="best")
    return ax
