"""Modality ablation: each method on each modality alone and on all of them, on the same folds.

``graphboost benchmark --config duke-pcr --ablation`` runs :func:`run_ablation`; the config and the
cross-validation are the runner's (:mod:`experiments.evaluation._cv`), the modalities are column
prefixes (:mod:`experiments.methods._modalities`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.preprocessing import LabelEncoder

from .._base import RunFolder, write_json
from ..clinical._metrics import paired_bootstrap
from ..evaluation._cv import make_splits, run_method
from ..evaluation._summary import fold_wins, modality_share_summary, summary_table
from ..methods._modalities import ALL_ARM, _arm_preprocessor, default_modalities, modality_columns
from ..methods._registry import make_pipeline
from ._config import ablation_methods, load_config
from ._report import ablation_lines, dataset_lines
from ._runner import _append_shares, _dataset, _run_meta


def modality_pipeline(name, columns, params=None, feature_groups=None, random_state=0, **kw):
    """The pipeline of method ``name`` restricted to the source ``columns`` (one ablation arm).

    Its first step, ``"select"``, is a :class:`~sklearn.compose.ColumnTransformer` that passes
    ``columns`` through and drops every other column, so the preprocessor and the model are
    fitted on that modality alone, inside each training fold like any pipeline of the runner.
    Feature groups keep their columns among ``columns`` (a group left empty is dropped); the
    preprocessor's column lists are cut to ``columns`` as well.

    Parameters
    ----------
    name : str
        One of :data:`experiments.METHODS`.
    columns : list of str
        Source columns of the arm.
    params, feature_groups, random_state
        As for :func:`experiments.make_pipeline`.
    **kw
        ``n_jobs`` and ``preprocessor``, as for :func:`experiments.make_pipeline`.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``"select"``, ``"preprocess"``, (``"to_array"``), ``"model"``.

    Examples
    --------
    >>> pipe = modality_pipeline("logistic", ["clin:age", "clin:grade"])
    >>> [step for step, _ in pipe.steps]
    ['select', 'preprocess', 'model']
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    keep = set(columns)
    groups = {k: [c for c in v if c in keep] for k, v in (feature_groups or {}).items()}
    kw["preprocessor"] = _arm_preprocessor(kw.get("preprocessor"), columns)
    pipe = make_pipeline(name, params, {k: v for k, v in groups.items() if v}, random_state, **kw)
    select = ColumnTransformer(
        [("modality", "passthrough", list(columns))],
        remainder="drop",
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")
    return Pipeline([("select", select), *pipe.steps])


@dataclass
class AblationResult:
    """What :func:`run_ablation` returns.

    Attributes
    ----------
    config : dict
    modalities : dict of str to list of str
        Modality -> its source columns.
    table : pandas.DataFrame
        One row per method and arm (see :func:`ablation_table`).
    methods : dict of (str, str) to MethodResult
        Out-of-fold predictions of each (method, arm).
    shares : pandas.DataFrame or None
        Mean share of GraphBoostClassifier's score from each modality (arm ``"all"``).
    output : Path or None
    """

    config: dict
    modalities: dict
    table: pd.DataFrame
    methods: dict
    shares: pd.DataFrame | None
    output: Path | None


def _versus_all(y, res, full, n_bootstrap, seed):
    """An arm minus the arm with every modality: paired bootstrap and folds won."""
    pb = paired_bootstrap(y, res.probas, full.probas, "auroc", n_bootstrap, random_state=seed)
    won, n_folds = fold_wins(res, full)
    return {
        "delta_vs_all": pb["delta"],
        "delta_low": pb["low"],
        "delta_high": pb["high"],
        "p_value": pb["p_value"],
        "folds_won": won,
        "n_folds": n_folds,
    }


def ablation_table(y, results, arms, n_bootstrap=1000, seed=0):
    """One row per method and arm: metrics with bootstrap 95% CIs, and each single-modality arm
    minus the arm ``"all"`` of the same method.

    Parameters
    ----------
    y : ndarray
        Labels encoded 0..K-1.
    results : dict of (str, str) to MethodResult
        (method, arm) -> out-of-fold predictions, every arm on the same folds; each method has
        the arm :data:`ALL_ARM`.
    arms : dict of str to list of str
        Arm -> its source columns.
    n_bootstrap, seed : int
        Stratified bootstrap resamples over patients, and their seed.

    Returns
    -------
    pandas.DataFrame
        ``method``, ``arm``, ``n_columns``, each metric with ``_low`` / ``_high``,
        ``fold_auroc_mean`` / ``_sd``, and for the single-modality arms ``delta_vs_all`` (AUROC
        of the arm minus that of ``"all"``, mean over repeats), ``delta_low`` / ``delta_high``
        (paired stratified bootstrap 95% CI: both arms scored on the same resampled patients),
        ``p_value``, ``folds_won`` (folds where the arm's AUROC is higher) of ``n_folds``.
    """
    rows = []
    for (method, arm), res in results.items():
        row = {"method": method, "arm": arm, "n_columns": len(arms[arm])}
        row.update(summary_table(y, {arm: res}, n_bootstrap, seed).iloc[0].drop("method"))
        if arm != ALL_ARM:
            row.update(_versus_all(y, res, results[method, ALL_ARM], n_bootstrap, seed))
        rows.append(row)
    table = pd.DataFrame(rows)
    for col in ("delta_vs_all", "delta_low", "delta_high", "p_value", "folds_won", "n_folds"):
        if col not in table:
            table[col] = np.nan
    return table


# Over 60 lines only through its numpydoc docstring (34 lines of code).
def run_ablation(config, output=None, overwrite=False, progress=True, dataset=None):
    """Modality ablation: each method on each modality alone and on all of them, same folds.

    The modalities come from the config's ``[ablation] modalities`` (name -> column prefixes),
    else one per column prefix (:func:`default_modalities`). For each method of
    ``[ablation] methods`` (default graphboost and logistic) and each arm (every modality
    alone, then ``"all"``: every modality together), the pipeline's first step keeps the
    arm's source columns (:func:`modality_pipeline`), so the preprocessor and the model are
    fitted on them alone inside each training fold. Every arm uses the same folds and the same
    patients, so each single modality minus ``"all"`` is a paired difference: paired
    stratified bootstrap 95% CI over patients and the share of folds won.
    GraphBoostClassifier's arm ``"all"`` also records the mean share of its score from each
    modality (:func:`fold_modality_shares`).

    Parameters
    ----------
    config : str, Path or dict
        See :func:`load_config`; ``[cv]``, ``[metrics] n_bootstrap``, ``[params]``, ``seed``
        and ``n_jobs`` apply. ``[calibration]`` does not (no recalibrated twins).
    output : str or Path, optional
        Results folder (``results.md`` with the section "Modality ablation", ``ablation.csv``,
        ``fold_scores.csv``, ``modality_shares.csv``, ``run.json``), written as by
        :func:`run_benchmark`.
    overwrite : bool, default=False
    progress : bool, default=True
    dataset : Dataset, optional
        Use this dataset instead of loading ``config["dataset"]``.

    Returns
    -------
    AblationResult

    Raises
    ------
    InputError
        A modality matching no column (naming it and its prefixes), a column in two
        modalities, fewer than two modalities, or the errors of :func:`load_config`.

    Examples
    --------
    >>> res = run_ablation("duke-pcr", output="runs/ablation-duke-pcr")  # doctest: +SKIP
    >>> print(res.table[["method", "arm", "auroc", "delta_vs_all"]])  # doctest: +SKIP
    """
    cfg = load_config(config)
    folder = RunFolder(output, overwrite=overwrite) if output is not None else None
    ds = _dataset(cfg, dataset)
    modalities = modality_columns(ds.X.columns, cfg["ablation"].get("modalities"), where=ds.name)
    column_modality = {c: m for m, cols in modalities.items() for c in cols}
    arms = {**modalities, ALL_ARM: [c for c in ds.X.columns if c in column_modality]}
    t0, seed = time.time(), int(cfg["seed"])
    y = LabelEncoder().fit_transform(ds.y)
    splits, scheme = make_splits(ds, y, cfg["cv"]["n_splits"], cfg["cv"]["n_repeats"], seed)
    results = {}
    for method in ablation_methods(cfg):
        for arm, columns in arms.items():
            pipe = modality_pipeline(
                method,
                columns,
                cfg["params"].get(method, {}),
                ds.feature_groups,
                seed,
                preprocessor=ds.preprocessor,
            )
            shares_by = column_modality if arm == ALL_ARM else None
            results[method, arm] = run_method(
                f"{method} [{arm}]", pipe, ds.X, y, splits, progress, cfg["n_jobs"], shares_by
            )
    table = ablation_table(y, results, arms, int(cfg["metrics"]["n_bootstrap"]), seed)
    gb = results.get(("graphboost", ALL_ARM))
    shares, share_folds = modality_share_summary(gb) if gb else (None, None)
    meta = _run_meta(cfg, ds, y, scheme, None, time.time() - t0)
    meta["ablation"] = _ablation_meta(cfg, modalities, table, shares)
    if folder is not None:
        with folder:
            _write_ablation(folder.staging, ds, y, results, table, (shares, share_folds), meta)
    path = folder.path if folder else None
    return AblationResult(cfg, modalities, table, results, shares, path)


def _ablation_meta(cfg, modalities, table, shares):
    """What ``run.json`` records of an ablation: modalities, methods, the table, the shares."""
    spec = cfg["ablation"].get("modalities") or default_modalities(
        [c for cols in modalities.values() for c in cols]
    )
    return {
        "methods": sorted(set(table.method), key=list(table.method).index),
        "modalities": {
            m: {"prefixes": list(spec[m]), "n_columns": len(cols)} for m, cols in modalities.items()
        },
        "table": table.to_dict(orient="records"),
        "modality_shares": None if shares is None else shares.to_dict(orient="records"),
    }


def _write_ablation(out, ds, y, results, table, shares, meta):
    """The results folder of :func:`run_ablation`."""
    table.to_csv(out / "ablation.csv", index=False)
    folds = pd.DataFrame(
        [
            (m, a, r, f, s, t)
            for (m, a), res in results.items()
            for (r, f, s), t in zip(res.fold_scores, res.fit_seconds, strict=True)
        ],
        columns=["method", "arm", "repeat", "fold", "auroc", "fit_seconds"],
    )
    folds.to_csv(out / "fold_scores.csv", index=False)
    lines = [
        f"# Modality ablation: {meta['config']['name']}",
        "",
        *dataset_lines(ds, y, meta),
        *ablation_lines(table, meta["ablation"]["modalities"], meta["config"]),
    ]
    (out / "results.md").write_text("\n".join(lines))
    write_json(out / "run.json", meta)
    _append_shares(out, shares, f"arm `{ALL_ARM}`")
