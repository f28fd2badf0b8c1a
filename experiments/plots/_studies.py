"""Searches and suites: Optuna histories, parameter importances, critical-difference diagrams."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ._common import _axes, _finish


# ------------------------------------------------------------------------------ Optuna
def _completed(study):
    trials = [t for t in study.trials if t.state.name == "COMPLETE" and t.value is not None]
    if not trials:
        raise ValueError(f"Study {study.study_name!r} has no complete trial to plot.")
    return trials


def plot_optimization_history(study, ax=None, metric="inner-CV AUROC"):
    """Objective value of each complete trial and the best so far.

    Parameters
    ----------
    study : optuna.Study
        A maximising study.
    ax : matplotlib Axes, optional
    metric : str
        Name of the objective, for the axis label.

    Returns
    -------
    matplotlib Axes
    """
    trials = _completed(study)
    numbers = np.array([t.number for t in trials])
    values = np.array([t.value for t in trials])
    pruned = [t.number for t in study.trials if t.state.name == "PRUNED"]
    ax = _axes(ax)
    ax.scatter(numbers, values, s=18, label="complete trial")
    ax.step(numbers, np.maximum.accumulate(values), where="post", c="#d62728", label="best so far")
    if pruned:
        lo = np.nanmin(values)
        ax.scatter(
            pruned,
            [lo] * len(pruned),
            marker="x",
            c="grey",
            label=f"pruned trial ({len(pruned)}, drawn at the lowest value)",
        )
    title = f"Optimization history of study {study.study_name!r}"
    return _finish(ax, "Trial number", metric, title, legend_loc="best")


def plot_param_importances(study, ax=None, random_state=0):
    """Horizontal bars of Optuna's parameter importances (fANOVA) over complete trials.

    Parameters
    ----------
    study : optuna.Study
    ax : matplotlib Axes, optional
    random_state : int, default=0
        Seed of the importance evaluator.

    Returns
    -------
    matplotlib Axes
    """
    import optuna

    trials = _completed(study)
    if len(trials) < 2:
        raise ValueError(
            f"Parameter importances need at least 2 complete trials; study "
            f"{study.study_name!r} has {len(trials)}."
        )
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=random_state)
    imp = optuna.importance.get_param_importances(study, evaluator=evaluator)
    names, values = list(imp)[::-1], [100.0 * v for v in list(imp.values())[::-1]]
    ax = _axes(ax, figsize=(6, 0.35 * max(len(names), 1) + 1.5))
    ax.barh(names, values, color="#1f77b4")
    return _finish(
        ax,
        "Importance (% of the objective's variance explained, fANOVA)",
        "Hyper-parameter",
        f"Parameter importances, {len(trials)} complete trials",
    )


def _cd_groups(ranks, critical_difference):
    """Maximal runs ``(first, last)`` of sorted mean ranks spanning less than the CD.

    Methods of one run do not differ significantly (Nemenyi); runs of one method are left out.

    Examples
    --------
    >>> _cd_groups([1.0, 2.0, 3.0, 4.0], 1.5)
    [(0, 1), (1, 2), (2, 3)]
    >>> _cd_groups([1.0, 2.0, 3.0, 4.0], 2.5)
    [(0, 2), (1, 3)]
    """
    groups, reach = [], -1
    for i in range(len(ranks)):
        j = i
        while j + 1 < len(ranks) and ranks[j + 1] - ranks[i] < critical_difference:
            j += 1
        if j > i and j > reach:  # not inside the previous run
            groups.append((i, j))
            reach = j
    return groups


def plot_critical_difference(mean_ranks, critical_difference, ax=None, title=None):
    """Critical-difference diagram of mean ranks over tasks (Demsar 2006).

    The axis shows mean ranks (1 = best, on the left); the better half of the methods is named on
    the left, the other half on the right. The bar labeled CD has the length of the critical
    difference; a thick line joins methods whose mean ranks differ by less than it (not
    significantly different by the Nemenyi test).

    Parameters
    ----------
    mean_ranks : Mapping of str to float
        Mean rank of each method (two or more).
    critical_difference : float
        Nemenyi's critical difference of mean ranks (``experiments.critical_difference``).
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib Axes

    References
    ----------
    J. Demsar, "Statistical comparisons of classifiers over multiple data sets", Journal of
    Machine Learning Research 7:1-30 (2006), Figures 1 and 2.

    Examples
    --------
    >>> ax = plot_critical_difference({"a": 1.4, "b": 2.1, "c": 2.5, "d": 4.0}, 1.25)
    >>> ax.get_title()
    'Critical difference diagram'
    """
    if not isinstance(mean_ranks, Mapping) or len(mean_ranks) < 2:
        raise ValueError("mean_ranks must be a dict of two or more method names -> mean rank.")
    if not np.isfinite(critical_difference) or critical_difference <= 0:
        raise ValueError(f"critical_difference must be positive; got {critical_difference!r}.")
    names = sorted(mean_ranks, key=lambda n: (mean_ranks[n], n))
    ranks = np.array([float(mean_ranks[n]) for n in names])
    k, half = len(names), (len(names) + 1) // 2
    ax = _axes(ax, figsize=(8, 1.6 + 0.3 * half))
    hi = max(k, int(np.ceil(ranks.max())))
    _draw_rank_axis(ax, hi, critical_difference)
    for i, (name, rank) in enumerate(zip(names, ranks, strict=True)):
        left = i < half
        y = -0.45 - 0.3 * (i if left else k - 1 - i)
        end = 0.5 if left else hi + 0.5
        ax.plot([rank, rank, end], [0, y, y], color="black", lw=0.8)
        label, ha = f"{name} ({rank:.2f})", "right" if left else "left"
        ax.text(end + (-0.05 if left else 0.05), y, label, fontsize=8, ha=ha, va="center")
    for j, (a, b) in enumerate(_cd_groups(ranks, critical_difference)):
        y = -0.15 - 0.08 * j
        ax.plot([ranks[a] - 0.03, ranks[b] + 0.03], [y, y], color="black", lw=3)
    ax.set_xlim(1 - 0.55 * hi, hi + 0.55 * hi)
    ax.set_ylim(-0.6 - 0.3 * half, 1.1)
    ax.axis("off")
    ax.set_title(title or "Critical difference diagram")
    return ax


def _draw_rank_axis(ax, hi, critical_difference):
    """The rank axis (1 to ``hi``) with its ticks, and the CD bar above it."""
    ax.plot([1, hi], [0, 0], color="black", lw=1)
    for t in range(1, hi + 1):
        ax.plot([t, t], [0, 0.08], color="black", lw=1)
        ax.text(t, 0.12, str(t), ha="center", va="bottom", fontsize=8)
    cd_y = 0.7
    ax.plot([1, 1 + critical_difference], [cd_y, cd_y], color="black", lw=1.5)
    ax.plot([1, 1], [cd_y - 0.06, cd_y + 0.06], color="black", lw=1)
    ax.plot([1 + critical_difference] * 2, [cd_y - 0.06, cd_y + 0.06], color="black", lw=1)
    label = f"CD = {critical_difference:.2f}"
    ax.text(1 + critical_difference / 2, cd_y + 0.08, label, ha="center", va="bottom", fontsize=8)
