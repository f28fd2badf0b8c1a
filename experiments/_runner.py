"""The benchmark runner: configs, repeated (or group-aware) CV, metrics and a results folder."""

from __future__ import annotations

import copy
import time
import tomllib
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import LeaveOneGroupOut, RepeatedStratifiedKFold
from sklearn.preprocessing import LabelEncoder

from ._data import DATASETS, Dataset, InputError, check_labels, load_dataset
from ._methods import BASELINES, PREPROCESSORS, check_methods, final_estimator, make_pipeline
from ._metrics import METRICS, bootstrap_metrics, compute_metrics, delong_test, paired_bootstrap
from ._report import (
    RunFolder,
    markdown_table,
    package_versions,
    plot_boosting_curve,
    plot_calibration,
    plot_roc,
    write_json,
)

CONFIG_DIR = Path(__file__).parent / "configs"

_TOP_KEYS = {
    "name",
    "methods",
    "preprocessor",
    "seed",
    "n_jobs",
    "dataset",
    "cv",
    "metrics",
    "params",
}
_CV_KEYS = {"n_splits", "n_repeats"}
_METRIC_KEYS = {"n_bootstrap"}


def default_config():
    """A complete config with every default filled in."""
    return {
        "name": "benchmark",
        "methods": [
            "logistic",
            "random_forest",
            "hist_gradient_boosting",
            "xgboost",
            "adaboost",
            "gcn",
            "graphboost",
        ],
        "preprocessor": "auto",
        "seed": 0,
        "n_jobs": 1,
        "dataset": {},
        "cv": {"n_splits": 5, "n_repeats": 5},
        "metrics": {"n_bootstrap": 1000},
        "params": {},
    }


def load_config(source):
    """Read and check a benchmark config: a TOML path, a name in ``experiments/configs``, or a dict.

    Parameters
    ----------
    source : str, Path or dict
        ``"duke-tnbc"`` finds ``experiments/configs/duke-tnbc.toml``.

    Returns
    -------
    dict
        The config with defaults filled in.

    Raises
    ------
    InputError
        Unknown keys, methods, dataset kinds or preprocessors (each listing the choices), bad
        fold numbers, or a file that is not valid TOML.
    """
    if isinstance(source, dict):
        raw = copy.deepcopy(source)
        where = "config"
    else:
        path = Path(source)
        if not path.suffix and not path.exists():
            path = CONFIG_DIR / f"{source}.toml"
        if not path.is_file():
            shipped = sorted(p.stem for p in CONFIG_DIR.glob("*.toml"))
            raise InputError(f"Config file not found: '{source}'. Shipped configs: {shipped}.")
        try:
            raw = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"Config '{path}' is not valid TOML: {exc}") from exc
        where = f"config '{path}'"
    unknown = sorted(set(raw) - _TOP_KEYS)
    if unknown:
        raise InputError(f"Unknown key(s) {unknown} in {where}; allowed: {sorted(_TOP_KEYS)}.")
    cfg = default_config()
    for key, value in raw.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **value}
        else:
            cfg[key] = value
    bad = sorted(set(cfg["cv"]) - _CV_KEYS)
    if bad:
        raise InputError(f"Unknown key(s) {bad} in [cv]; allowed: {sorted(_CV_KEYS)}.")
    bad = sorted(set(cfg["metrics"]) - _METRIC_KEYS)
    if bad:
        raise InputError(f"Unknown key(s) {bad} in [metrics]; allowed: {sorted(_METRIC_KEYS)}.")
    check_methods(cfg["methods"])
    unknown_params = sorted(set(cfg["params"]) - set(cfg["methods"]))
    if unknown_params:
        raise InputError(
            f"[params] names method(s) {unknown_params} that are not in methods={cfg['methods']}."
        )
    if cfg["preprocessor"] not in PREPROCESSORS:
        raise InputError(
            f"Unknown preprocessor {cfg['preprocessor']!r}; choose from {list(PREPROCESSORS)}."
        )
    kind = cfg["dataset"].get("kind")
    if kind not in DATASETS:
        raise InputError(
            f"Unknown dataset kind {kind!r} in {where}; choose one of {list(DATASETS)}."
        )
    for key in ("n_splits", "n_repeats"):
        v = cfg["cv"][key]
        if not isinstance(v, int) or v < (2 if key == "n_splits" else 1):
            raise InputError(
                f"[cv] {key} must be an integer >= {2 if key == 'n_splits' else 1}; got {v!r}."
            )
    return cfg


@dataclass
class MethodResult:
    """Out-of-fold predictions and diagnostics of one method."""

    name: str
    probas: list  # one (n_samples, n_classes) array per repeat
    fold_scores: list = field(default_factory=list)  # (repeat, fold, auroc)
    fit_seconds: list = field(default_factory=list)
    selected: Counter = field(default_factory=Counter)  # graph name -> folds where selected
    staged: list = field(default_factory=list)  # per fold: list of AUROC per round


@dataclass
class BenchmarkResult:
    """What :func:`run_benchmark` returns."""

    config: dict
    table: pd.DataFrame
    comparison: dict | None
    methods: dict
    output: Path | None


def _splits(ds, y, cfg):
    seed = int(cfg["seed"])
    if ds.groups is not None:
        logo = LeaveOneGroupOut()
        return [list(logo.split(ds.X, y, ds.groups))], "leave-one-group-out"
    n_splits, n_repeats = cfg["cv"]["n_splits"], cfg["cv"]["n_repeats"]
    rskf = RepeatedStratifiedKFold(n_splits=n_splits, n_repeats=n_repeats, random_state=seed)
    all_splits = list(rskf.split(ds.X, y))
    return [all_splits[r * n_splits : (r + 1) * n_splits] for r in range(n_repeats)], (
        f"repeated stratified {n_splits}-fold CV x {n_repeats}"
    )


def _align_proba(model, proba, n_classes):
    """Columns of ``predict_proba`` placed by encoded class (a fold may miss a class)."""
    classes = np.asarray(getattr(model, "classes_", np.arange(proba.shape[1]))).astype(int)
    out = np.zeros((proba.shape[0], n_classes))
    out[:, classes] = proba
    return out


def _graph_name(g):
    return str(getattr(g, "name", g))


def _progress(total, desc, enabled):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=not enabled, leave=False)


def run_method(name, ds, y, splits, cfg, progress=True):
    """Cross-validate one method; every fitted step lives inside the training folds."""
    n_classes = int(y.max()) + 1
    params = cfg["params"].get(name, {})
    pipe = make_pipeline(
        name,
        params,
        ds.feature_groups,
        random_state=int(cfg["seed"]),
        preprocessor=cfg["preprocessor"],
        n_jobs=int(cfg.get("n_jobs", 1)),
    )
    res = MethodResult(name, probas=[])
    total = sum(len(s) for s in splits)
    from threadpoolctl import threadpool_limits

    # BLAS/OpenMP threads follow n_jobs: oversubscribed OpenMP pools (HistGradientBoosting)
    # slow down by orders of magnitude on a busy machine.
    with (
        threadpool_limits(limits=int(cfg.get("n_jobs", 1))),
        _progress(total, name, progress) as bar,
    ):
        for r, folds in enumerate(splits):
            oof = np.full((y.size, n_classes), np.nan)
            for f, (tr, te) in enumerate(folds):
                model = clone(pipe)
                t0 = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", category=UserWarning)
                    model.fit(ds.X.iloc[tr], y[tr])
                res.fit_seconds.append(time.perf_counter() - t0)
                est = final_estimator(model)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", category=UserWarning)
                    proba = _align_proba(est, model.predict_proba(ds.X.iloc[te]), n_classes)
                oof[te] = proba
                if np.unique(y[te]).size == n_classes:
                    res.fold_scores.append((r, f, compute_metrics(y[te], proba)["auroc"]))
                else:
                    res.fold_scores.append((r, f, np.nan))
                if hasattr(est, "selected_graphs_"):
                    res.selected.update({_graph_name(g) for g in est.selected_graphs_})
                if hasattr(est, "staged_predict_proba") and name == "graphboost":
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", category=UserWarning)
                        Xt = model[:-1].transform(ds.X.iloc[te])
                    curve = []
                    for p in est.staged_predict_proba(Xt):
                        p = _align_proba(est, np.asarray(p), n_classes)
                        curve.append(compute_metrics(y[te], p)["auroc"])
                    res.staged.append(curve)
                bar.update(1)
            res.probas.append(oof)
    return res


def _summary_table(y, results, n_bootstrap, seed):
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


def _compare(y, results, table, n_bootstrap, seed):
    """GraphBoostClassifier against the best baseline by mean AUROC."""
    if "graphboost" not in results:
        return None
    base = table[table.method.isin(BASELINES)]
    if base.empty:
        return None
    best = base.sort_values("auroc", ascending=False).iloc[0].method
    gb, bl = results["graphboost"], results[best]
    out = {"baseline": best, "metric": "auroc"}
    out["paired_bootstrap"] = paired_bootstrap(
        y, gb.probas, bl.probas, "auroc", n_bootstrap=n_bootstrap, random_state=seed
    )
    if y.max() == 1:
        pa = np.mean([p[:, 1] for p in gb.probas], axis=0)
        pb = np.mean([p[:, 1] for p in bl.probas], axis=0)
        out["delong_repeat_averaged"] = delong_test(y, pa, pb)
    a = {(r, f): s for r, f, s in gb.fold_scores}
    b = {(r, f): s for r, f, s in bl.fold_scores}
    won = sum(1 for k in a if np.isfinite(a[k]) and np.isfinite(b[k]) and a[k] > b[k])
    out["folds_won"] = f"{won} / {len(a)}"
    return out


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
    ds = dataset if dataset is not None else load_dataset(cfg["dataset"], cfg["cv"]["n_splits"])
    if not isinstance(ds, Dataset):
        raise TypeError("dataset must be an experiments Dataset.")
    enc = LabelEncoder().fit(ds.y)
    y = enc.transform(ds.y)
    if ds.groups is None:
        check_labels(ds.y, cfg["cv"]["n_splits"], what=f"the label of {ds.name}")
    splits, scheme = _splits(ds, y, cfg)
    t0 = time.time()
    results = {}
    for name in cfg["methods"]:
        results[name] = run_method(name, ds, y, splits, cfg, progress=progress)
    n_boot = int(cfg["metrics"]["n_bootstrap"])
    table = _summary_table(y, results, n_boot, int(cfg["seed"]))
    comparison = _compare(y, results, table, n_boot, int(cfg["seed"]))
    meta = {
        "config": cfg,
        "dataset": {
            "name": ds.name,
            "n_patients": int(y.size),
            "n_features": int(ds.X.shape[1]),
            "classes": [str(c) for c in enc.classes_],
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
        "wall_seconds": time.time() - t0,
        "comparison": comparison,
    }
    if folder is not None:
        with folder:
            _write_outputs(folder.staging, ds, y, enc, results, table, comparison, meta, scheme)
    return BenchmarkResult(cfg, table, comparison, results, folder.path if folder else None)


def _write_outputs(out, ds, y, enc, results, table, comparison, meta, scheme):
    table.to_csv(out / "results.csv", index=False)
    lines = [
        f"# Benchmark: {meta['config']['name']}",
        "",
        f"Dataset `{ds.name}`: {y.size} patients, {ds.X.shape[1]} feature columns, classes "
        f"{dict(zip(meta['dataset']['classes'], meta['dataset']['class_counts'], strict=True))}.",
        f"Evaluation: {scheme}; every preprocessing step fitted inside the training folds. "
        "Each metric is the mean over repeats of the pooled out-of-fold predictions, with a "
        f"stratified bootstrap 95% CI over patients ({meta['config']['metrics']['n_bootstrap']} "
        "resamples). F1 and MCC at threshold 0.5.",
        "",
        format_table(table),
        "",
    ]
    if comparison:
        pb = comparison["paired_bootstrap"]
        lines += [
            f"GraphBoostClassifier vs the best baseline ({comparison['baseline']}): "
            "AUROC difference "
            f"{pb['delta']:+.3f} (paired bootstrap 95% CI {pb['low']:+.3f} to {pb['high']:+.3f}, "
            f"p = {pb['p_value']:.3f}); folds won {comparison['folds_won']}.",
        ]
        if "delong_repeat_averaged" in comparison:
            d = comparison["delong_repeat_averaged"]
            lines.append(
                f"DeLong test on the repeat-averaged probabilities: z = {d['z']:.2f}, "
                f"p = {d['p_value']:.3f}."
            )
        lines.append("")
    if ds.groups is not None:
        lines += ["## Per held-out group (AUROC)", ""]
        rows = []
        splits_groups = sorted(set(ds.groups.tolist()))
        for name, res in results.items():
            row = {"method": name}
            for (_, _f, s), g in zip(res.fold_scores, splits_groups, strict=False):
                row[g] = s
            rows.append(row)
        lines += [markdown_table(pd.DataFrame(rows)), ""]
    gb = results.get("graphboost")
    if gb is not None and gb.selected:
        n_folds = len(gb.fit_seconds)
        sel = pd.DataFrame(
            [(k, v, v / n_folds) for k, v in gb.selected.most_common()],
            columns=["graph", "folds_selected", "share_of_folds"],
        )
        sel.to_csv(out / "selected_graphs.csv", index=False)
        lines += [
            "## Edge features selected across folds (top 20)",
            "",
            markdown_table(sel.head(20)),
            "",
        ]
    if gb is not None and gb.staged:
        width = max(len(c) for c in gb.staged)
        curve = np.full((len(gb.staged), width), np.nan)
        for i, c in enumerate(gb.staged):
            curve[i, : len(c)] = c
            curve[i, len(c) :] = (
                c[-1] if c else np.nan
            )  # a model that stopped early keeps its score
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
        lines += ["Boosting curve: `boosting_curve.png` / `boosting_curve.csv`.", ""]
    if y.max() == 1:
        probas = {n: r.probas for n, r in results.items()}
        plot_roc(out / "roc.png", y, probas, f"ROC, {ds.name} (out-of-fold)")
        plot_calibration(
            out / "calibration.png", y, probas, f"Calibration, {ds.name} (out-of-fold)"
        )
        lines += ["Plots: `roc.png`, `calibration.png`.", ""]
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
    (out / "results.md").write_text("\n".join(lines))
    write_json(out / "run.json", meta)
