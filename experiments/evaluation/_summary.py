"""Summary tables of a cross-validation: bootstrap CIs, paired differences, fold wins."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._base import markdown_table
from ..clinical._metrics import (
    METRICS,
    bootstrap_metrics,
    delong_test,
    paired_bootstrap,
)
from ..methods._modalities import ALL_ARM, _arm_preprocessor, default_modalities, modality_columns  # noqa: F401 (re-exported: tests and callers import them from here)
from ..methods._pipelines import (
    BASELINES,
)


def summary_table(y, results, n_bootstrap, seed):
    """One row per method: every metric with its bootstrap 95% CI, fold AUROC and fit time."""
    rows = []
    for name, res in results.items():
        cis = bootstrap_metrics(y, res.probas, n_bootstrap=n_bootstrap, random_state=seed)
        row = {"method": name}
        for m in METRICS:
            est, lo, hi = cis[m]
            row[m] = est
            row[f"{m}_low"] = lo
            row[f"{m}_high"] = hi
        folds = [s for _, _, s in res.fold_scores]
        row["fold_auroc_mean"] = float(np.nanmean(folds))
        row["fold_auroc_sd"] = float(np.nanstd(folds))
        row["fit_seconds_per_fold"] = float(np.mean(res.fit_seconds))
        rows.append(row)
    return pd.DataFrame(rows)


def fold_wins(res, other):
    """Folds (same test patients) where ``res`` has the higher AUROC than ``other``, and the
    number of folds both scored (a fold without both classes has no AUROC)."""
    mine = {(r, f): s for r, f, s in res.fold_scores}
    both = [(mine[r, f], s) for r, f, s in other.fold_scores]
    both = [(a, b) for a, b in both if np.isfinite(a) and np.isfinite(b)]
    return sum(a > b for a, b in both), len(both)


def _paired_difference(y, res, other, n_bootstrap, seed):
    """``res`` minus ``other`` (same folds): paired bootstrap of the AUROC and folds won."""
    pb = paired_bootstrap(
        y, res.probas, other.probas, "auroc", n_bootstrap=n_bootstrap, random_state=seed
    )
    won, _ = fold_wins(res, other)
    return {
        "metric": "auroc",
        "paired_bootstrap": pb,
        "folds_won": f"{won} / {len(res.fold_scores)}",
    }


def _compare(y, results, table, n_bootstrap, seed):
    """GraphBoostClassifier against the best baseline by mean AUROC."""
    if "graphboost" not in results:
        return None
    base = table[table.method.isin(BASELINES)]
    if base.empty:
        return None
    best = base.sort_values("auroc", ascending=False).iloc[0].method
    gb, bl = results["graphboost"], results[best]
    out = {"baseline": best, **_paired_difference(y, gb, bl, n_bootstrap, seed)}
    if y.max() == 1:
        pa = np.mean([p[:, 1] for p in gb.probas], axis=0)
        pb = np.mean([p[:, 1] for p in bl.probas], axis=0)
        out["delong_repeat_averaged"] = delong_test(y, pa, pb)
    out["folds_won"] = out.pop("folds_won")  # last, as run.json always had it
    return out


def graphboost_variants(methods):
    """The run's graphboost variants: names starting with ``"graphboost"`` but ``"graphboost"``
    itself and the recalibrated twins (``"<method>+<calibration>"``, reported on their own).

    Examples
    --------
    >>> graphboost_variants(["logistic", "graphboost", "graphboost_modalities",
    ...                      "graphboost+sigmoid"])
    ['graphboost_modalities']
    """
    return [m for m in methods if m.startswith("graphboost") and m != "graphboost" and "+" not in m]


def _compare_variants(y, results, n_bootstrap, seed):
    """Each graphboost variant minus ``graphboost`` (same folds); empty without ``graphboost``."""
    if "graphboost" not in results:
        return {}
    gb = results["graphboost"]
    return {
        name: _paired_difference(y, results[name], gb, n_bootstrap, seed)
        for name in graphboost_variants(results)
    }


def format_table(table):
    """The printable Markdown results table (estimate and 95% CI per metric)."""
    shown = pd.DataFrame({"method": table.method})
    for m in METRICS:
        shown[m.upper() if m != "brier" else "Brier"] = [
            f"{r[m]:.3f} ({r[m + '_low']:.3f}-{r[m + '_high']:.3f})" for _, r in table.iterrows()
        ]
    shown["fold AUROC mean (SD)"] = [
        f"{r.fold_auroc_mean:.3f} ({r.fold_auroc_sd:.3f})" for _, r in table.iterrows()
    ]
    shown["fit s/fold"] = [f"{v:.2f}" for v in table.fit_seconds_per_fold]
    return markdown_table(shown)


# --------------------------------------------------------------------------- modality ablation
def modality_share_summary(res):
    """Mean share of the score from each modality over the out-of-fold patients.

    Parameters
    ----------
    res : MethodResult
        With ``shares`` recorded (a GraphBoostClassifier run with ``column_modality``).

    Returns
    -------
    summary : pandas.DataFrame or None
        ``modality``, ``mean_share`` (mean over every out-of-fold patient of every repeat: the
        mean over repeats of the mean over the patients), ``fold_sd``, ``fold_min``,
        ``fold_max`` (over the folds' means); ``None`` when nothing was recorded.
    folds : pandas.DataFrame or None
        ``repeat``, ``fold``, ``n_patients`` and one column per modality: the fold's mean share.
    """
    if not res.shares:
        return None, None
    means = pd.DataFrame([s for *_, s in res.shares]).fillna(0.0)
    n = np.array([k for _, _, k, _ in res.shares], dtype=float)
    summary = pd.DataFrame(
        {
            "modality": means.columns,
            "mean_share": (means.mul(n, axis=0).sum() / n.sum()).to_numpy(),
            "fold_sd": means.std(ddof=0).to_numpy(),
            "fold_min": means.min().to_numpy(),
            "fold_max": means.max().to_numpy(),
        }
    )
    keys = pd.DataFrame(
        [(r, f, k) for r, f, k, _ in res.shares], columns=["repeat", "fold", "n_patients"]
    )
    return summary, pd.concat([keys, means], axis=1)
