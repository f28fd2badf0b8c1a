"""Text of a benchmark report: the dataset, the ablation and the modality shares."""

from __future__ import annotations

import numpy as np

from .._base import format_ci, markdown_table


# --------------------------------------------------------------------------- report sections
def dataset_lines(ds, y, meta):
    """The report's opening: dataset, classes and the evaluation scheme."""
    counts = dict(zip(meta["dataset"]["classes"], meta["dataset"]["class_counts"], strict=True))
    return [
        f"Dataset `{ds.name}`: {y.size} patients, {ds.X.shape[1]} feature columns, classes "
        f"{counts}.",
        f"Evaluation: {meta['scheme']}; every preprocessing step fitted inside the training "
        "folds. Each metric is the mean over repeats of the pooled out-of-fold predictions, with "
        f"a stratified bootstrap 95% CI over patients ({meta['config']['metrics']['n_bootstrap']} "
        "resamples). F1 and MCC at threshold 0.5.",
        "",
    ]


def format_ablation(table):
    """The Markdown table of a modality ablation (one row per method and arm).

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`experiments.benchmark._ablation.ablation_table`.

    Returns
    -------
    str
    """
    import pandas as pd

    won = [
        "-" if not np.isfinite(r.n_folds) else f"{int(r.folds_won)} / {int(r.n_folds)}"
        for r in table.itertuples()
    ]
    shown = pd.DataFrame(
        {
            "method": table.method,
            "arm": table.arm,
            "columns": table.n_columns,
            "AUROC (95% CI)": [
                format_ci(r.auroc, r.auroc_low, r.auroc_high) for r in table.itertuples()
            ],
            "fold AUROC mean (SD)": [
                f"{r.fold_auroc_mean:.3f} ({r.fold_auroc_sd:.3f})" for r in table.itertuples()
            ],
            "arm - all: AUROC (95% CI)": [
                format_ci(r.delta_vs_all, r.delta_low, r.delta_high, "{:+.3f}")
                for r in table.itertuples()
            ],
            "p": ["-" if not np.isfinite(v) else f"{v:.3f}" for v in table.p_value],
            "folds won": won,
        }
    )
    return markdown_table(shown)


def ablation_lines(table, modalities, config):
    """The section "Modality ablation" of ``results.md``."""
    described = "; ".join(
        f"`{name}`: {spec['n_columns']} columns (prefixes "
        + ", ".join(f"`{p}`" if p else "none (no `:` in the name)" for p in spec["prefixes"])
        + ")"
        for name, spec in modalities.items()
    )
    n_boot = config["metrics"]["n_bootstrap"]
    return [
        "## Modality ablation",
        "",
        f"Modalities: {described}. Arm `all`: every modality together. Each arm's pipeline "
        "starts by keeping the arm's source columns, so the preprocessor and the model are "
        "fitted on them alone, inside each training fold; every arm uses the same folds.",
        "",
        format_ablation(table),
        "",
        "`arm - all`: AUROC of the modality alone minus AUROC of every modality together (mean "
        "over repeats of the pooled out-of-fold AUROC), with a paired stratified bootstrap 95% "
        f"CI over patients (both arms scored on the same resampled patients, {n_boot} "
        "resamples) and its two-sided p-value. Folds won: folds (same test patients) where "
        "the modality alone has the higher AUROC.",
        "",
    ]


def modality_share_lines(summary, method="graphboost", where=None):
    """The section "Modality contributions" of ``results.md``."""
    shown = summary.rename(
        columns={
            "mean_share": "mean share",
            "fold_sd": "fold SD",
            "fold_min": "fold min",
            "fold_max": "fold max",
        }
    )
    scope = f" ({where})" if where else ""
    return [
        "## Modality contributions",
        "",
        f"Share of the {method} score from each modality{scope}: each fold's fitted model "
        "explains its test patients (`explain(..., n_neighbors=1)` on the preprocessed test "
        "rows) and `graphboost.modality_shares` gives each patient's share of the absolute "
        "contributions from the graphs on each modality's columns (`init`: the starting "
        "linear model on every column). Mean over every out-of-fold patient of every repeat; "
        "SD, min and max over the folds' means.",
        "",
        markdown_table(shown),
        "",
    ]


def modality_arm_lines(results):
    """The section "Modalities chosen inside the folds" of ``results.md``.

    Parameters
    ----------
    results : dict of str to MethodResult
        Methods whose ``arms`` (modality arm -> folds that chose it) are empty are left out.

    Returns
    -------
    list of str
        No lines when no method chose arms.

    Examples
    --------
    >>> from collections import Counter
    >>> from types import SimpleNamespace
    >>> res = SimpleNamespace(arms=Counter({"all": 3, "clinical": 1}), fit_seconds=[0.1] * 4)
    >>> print("\\n".join(modality_arm_lines({"graphboost_modalities": res})[4:]))
    | method | arm | folds |
    |---|---|---|
    | graphboost_modalities | all | 3 / 4 |
    | graphboost_modalities | clinical | 1 / 4 |
    <BLANKLINE>
    """
    import pandas as pd

    rows = [
        (name, arm, f"{k} / {len(res.fit_seconds)}")
        for name, res in results.items()
        for arm, k in res.arms.most_common()
    ]
    if not rows:
        return []
    return [
        "## Modalities chosen inside the folds",
        "",
        "The arm (one modality alone, or `all`: every modality) each fold's model chose by inner "
        "cross-validation on its training rows, and in how many of the folds.",
        "",
        markdown_table(pd.DataFrame(rows, columns=["method", "arm", "folds"])),
        "",
    ]
