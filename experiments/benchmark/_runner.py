"""The benchmark runner: a config run end to end into a results folder (tables, plots, files)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .._base import RunFolder, markdown_table, package_versions, write_json
from ..evaluation._clinical_report import (
    clinical_results,
    recalibrated_estimators,
    write_clinical,
)
from ..evaluation._cv import cross_validate, make_splits
from ..evaluation._dataset import check_labels, load_dataset
from ..evaluation._summary import (
    _compare,
    _compare_variants,
    format_table,
    modality_share_summary,
    summary_table,
)
from ..methods._modalities import ALL_ARM, _arm_preprocessor, default_modalities, modality_columns  # noqa: F401 (re-exported: tests and callers import them from here)
from ..methods._registry import (
    make_pipeline,
)
from ..plots._files import plot_boosting_curve, plot_calibration, plot_roc
from ._config import load_config
from ._report import dataset_lines, modality_arm_lines, modality_share_lines


@dataclass
class BenchmarkResult:
    """What :func:`run_benchmark` returns."""

    config: dict
    table: pd.DataFrame
    comparison: dict | None
    methods: dict
    output: Path | None
    clinical: object = None  # ClinicalResults: calibration, conformal coverage, decision curves
    modality_shares: pd.DataFrame | None = None  # graphboost: mean share of the score per modality
    variants: dict = field(default_factory=dict)  # graphboost variant -> its paired comparison


# Over 60 lines only through its numpydoc docstring (37 lines of code).
def run_benchmark(config, output=None, overwrite=False, progress=True, dataset=None):
    """Run a benchmark config and (optionally) write its results folder.

    Parameters
    ----------
    config : str, Path or dict
        See :func:`load_config`.
    output : str or Path, optional
        Results folder. It must not exist (or be empty) unless ``overwrite``; ``{timestamp}`` in
        the path is replaced by the current time. Nothing is written until every method ran: the
        folder appears complete or not at all.
    overwrite : bool, default=False
    progress : bool, default=True
        tqdm progress bars per method.
    dataset : Dataset, optional
        Use this dataset instead of loading ``config["dataset"]``.

    Returns
    -------
    BenchmarkResult

    Examples
    --------
    >>> cfg = {"dataset": {"kind": "csv", "path": "cohort.csv", "label": "y"},
    ...        "methods": ["logistic", "graphboost"], "cv": {"n_splits": 5, "n_repeats": 5}}
    >>> res = run_benchmark(cfg, output="runs/{timestamp}")  # doctest: +SKIP
    >>> print(format_table(res.table))  # doctest: +SKIP
    """
    cfg = load_config(config)
    folder = RunFolder(output, overwrite=overwrite) if output is not None else None
    ds = _dataset(cfg, dataset)
    t0 = time.time()
    seed = int(cfg["seed"])
    modalities = modality_columns(
        ds.X.columns, cfg["ablation"].get("modalities"), minimum=1, where=ds.name
    )
    results, y, scheme = cross_validate(
        ds,
        cfg["methods"],
        params=cfg["params"],
        n_splits=cfg["cv"]["n_splits"],
        n_repeats=cfg["cv"]["n_repeats"],
        random_state=seed,
        n_jobs=int(cfg.get("n_jobs", 1)),
        progress=progress,
        estimators=recalibrated_estimators(cfg, ds, make_pipeline),
        column_modality={c: m for m, cols in modalities.items() for c in cols},
    )
    n_boot = int(cfg["metrics"]["n_bootstrap"])
    table = summary_table(y, results, n_boot, seed)
    comparison = _compare(y, results, table, n_boot, seed)
    variants = _compare_variants(y, results, n_boot, seed)
    splits, _ = make_splits(ds, y, cfg["cv"]["n_splits"], cfg["cv"]["n_repeats"], seed)
    alpha = cfg["metrics"]["conformal_alpha"]
    clinical = clinical_results(y, results, splits, n_boot, seed, alpha)
    meta = _run_meta(cfg, ds, y, scheme, comparison, time.time() - t0)
    meta["clinical"] = clinical.to_dict()
    shares = modality_share_summary(results["graphboost"]) if "graphboost" in results else None
    shares = shares or (None, None)
    meta["modality_shares"] = None if shares[0] is None else shares[0].to_dict("records")
    _arm_meta(meta, results, variants)
    if folder is not None:
        with folder:
            _write_outputs(folder.staging, ds, y, results, table, comparison, meta, clinical)
            _append_shares(folder.staging, shares)
    path = folder.path if folder else None
    return BenchmarkResult(cfg, table, comparison, results, path, clinical, shares[0], variants)


def _arm_meta(meta, results, variants):
    """``run.json``'s ``modality_arms`` (method -> arm -> folds) and ``variants`` (each
    graphboost variant minus graphboost), added only when the run has them."""
    arms = {name: dict(res.arms.most_common()) for name, res in results.items() if res.arms}
    if arms:
        meta["modality_arms"] = arms
    if variants:
        meta["variants"] = variants


def _dataset(cfg, dataset=None):
    """The config's dataset (or ``dataset``), its labels checked against the folds."""
    from features import Task

    ds = dataset if dataset is not None else load_dataset(cfg["dataset"], cfg["cv"]["n_splits"])
    if not isinstance(ds, Task):
        raise TypeError(f"dataset must be a features.Task; got {type(ds).__name__}.")
    if ds.groups is None:
        check_labels(ds.y, cfg["cv"]["n_splits"], what=f"the label of {ds.name}")
    return ds


def _run_meta(cfg, ds, y, scheme, comparison, seconds):
    """What ``run.json`` records: config, dataset summary, seeds, versions, time, comparison."""
    classes = np.unique(ds.y)
    return {
        "config": cfg,
        "dataset": {
            "name": ds.name,
            "n_patients": int(y.size),
            "n_features": int(ds.X.shape[1]),
            "classes": [str(c) for c in classes],
            "class_counts": np.bincount(y).tolist(),
            "feature_groups": {k: len(v) for k, v in ds.feature_groups.items()},
            "group_column": ds.group_column,
            "groups": None if ds.groups is None else sorted(set(ds.groups.tolist())),
        },
        "scheme": scheme,
        "seeds": {
            "cv": int(cfg["seed"]),
            "models": int(cfg["seed"]),
            "bootstrap": int(cfg["seed"]),
        },
        "versions": package_versions(),
        "wall_seconds": seconds,
        "comparison": comparison,
    }


def _difference_text(comparison):
    """A paired comparison (:func:`_paired_difference`) as one sentence of ``results.md``."""
    pb = comparison["paired_bootstrap"]
    return (
        f"AUROC difference {pb['delta']:+.3f} (paired bootstrap 95% CI {pb['low']:+.3f} to "
        f"{pb['high']:+.3f}, p = {pb['p_value']:.3f}); folds won {comparison['folds_won']}."
    )


def _variant_lines(variants):
    """One line per graphboost variant: the variant minus ``graphboost``."""
    if not variants:
        return []
    lines = [f"{name} vs graphboost: {_difference_text(c)}" for name, c in variants.items()]
    return [*lines, ""]


def _comparison_lines(comparison):
    if not comparison:
        return []
    lines = [
        f"GraphBoostClassifier vs the best baseline ({comparison['baseline']}): "
        + _difference_text(comparison)
    ]
    if "delong_repeat_averaged" in comparison:
        d = comparison["delong_repeat_averaged"]
        lines.append(
            f"DeLong test on the repeat-averaged probabilities: z = {d['z']:.2f}, "
            f"p = {d['p_value']:.3f}."
        )
    return [*lines, ""]


def _group_lines(ds, results):
    if ds.groups is None:
        return []
    names = sorted(set(ds.groups.tolist()))
    rows = []
    for name, res in results.items():
        scores = {g: s for (_, _f, s), g in zip(res.fold_scores, names, strict=False)}
        rows.append({"method": name, **scores})
    return ["## Per held-out group (AUROC)", "", markdown_table(pd.DataFrame(rows)), ""]


def _write_selected(out, gb):
    """``selected_graphs.csv``: how many folds selected each graph."""
    if gb is None or not gb.selected:
        return []
    n_folds = len(gb.fit_seconds)
    sel = pd.DataFrame(
        [(k, v, v / n_folds) for k, v in gb.selected.most_common()],
        columns=["graph", "folds_selected", "share_of_folds"],
    )
    sel.to_csv(out / "selected_graphs.csv", index=False)
    return ["## Edge features selected across folds (top 20)", "", markdown_table(sel.head(20)), ""]


def _write_curve(out, ds, gb, table, comparison):
    """``boosting_curve.csv`` / ``.png``: mean test-fold AUROC after each round."""
    if gb is None or not gb.staged:
        return []
    width = max(len(c) for c in gb.staged)
    curve = np.full((len(gb.staged), width), np.nan)
    for i, c in enumerate(gb.staged):
        curve[i, : len(c)] = c
        curve[i, len(c) :] = c[-1] if c else np.nan  # a model that stopped early keeps its score
    pd.DataFrame(
        {
            "round": np.arange(width),  # round 0 = the init model alone
            "auroc_mean": np.nanmean(curve, axis=0),
            "auroc_sd": np.nanstd(curve, axis=0),
        }
    ).to_csv(out / "boosting_curve.csv", index=False)
    ref = None
    if comparison:
        bl = comparison["baseline"]
        ref = (bl, float(table.set_index("method").loc[bl, "auroc"]))
    plot_boosting_curve(
        out / "boosting_curve.png", curve, f"Boosting curve, {ds.name}", reference=ref
    )
    return ["Boosting curve: `boosting_curve.png` / `boosting_curve.csv`.", ""]


def _write_plots(out, ds, y, results):
    """ROC and calibration plots of a binary task."""
    if y.max() != 1:
        return []
    probas = {n: r.probas for n, r in results.items()}
    plot_roc(out / "roc.png", y, probas, f"ROC, {ds.name} (out-of-fold)")
    plot_calibration(out / "calibration.png", y, probas, f"Calibration, {ds.name} (out-of-fold)")
    return ["Plots: `roc.png`, `calibration.png`.", ""]


def _write_predictions(out, y, results):
    """``oof_predictions.csv`` (per repeat and class) and ``fold_scores.csv``."""
    oof = {"row": np.arange(y.size), "label": y}
    for name, res in results.items():
        for r, p in enumerate(res.probas):
            for k in range(p.shape[1]):
                oof[f"{name}_r{r}_p{k}"] = p[:, k]
    pd.DataFrame(oof).to_csv(out / "oof_predictions.csv", index=False)
    folds = pd.DataFrame(
        [
            (n, r, f, s, t)
            for n, res in results.items()
            for (r, f, s), t in zip(res.fold_scores, res.fit_seconds, strict=True)
        ],
        columns=["method", "repeat", "fold", "auroc", "fit_seconds"],
    )
    folds.to_csv(out / "fold_scores.csv", index=False)


def _write_outputs(out, ds, y, results, table, comparison, meta, clinical=None):
    table.to_csv(out / "results.csv", index=False)
    lines = [
        f"# Benchmark: {meta['config']['name']}",
        "",
        *dataset_lines(ds, y, meta),
        format_table(table),
        "",
    ]
    gb = results.get("graphboost")
    lines += _comparison_lines(comparison) + _variant_lines(meta.get("variants"))
    lines += _group_lines(ds, results)
    lines += _write_selected(out, gb) + modality_arm_lines(results)
    lines += _write_curve(out, ds, gb, table, comparison)
    lines += _write_plots(out, ds, y, results)
    if clinical is not None:
        calibration = meta["config"]["calibration"]
        lines += write_clinical(out, ds, y, results, clinical, calibration)
    _write_predictions(out, y, results)
    (out / "results.md").write_text("\n".join(lines))
    write_json(out / "run.json", meta)


def _append_shares(out, shares, where=None):
    """``modality_shares.csv`` and the section "Modality contributions" of ``results.md``."""
    summary, per_fold = shares
    if summary is None:
        return
    per_fold.to_csv(out / "modality_shares.csv", index=False)
    lines = modality_share_lines(summary, "graphboost", where)
    with (out / "results.md").open("a") as md:
        md.write("\n" + "\n".join(lines))
