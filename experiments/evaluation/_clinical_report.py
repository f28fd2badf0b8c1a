"""What a clinician asks of a benchmark run: calibration, net benefit and per-patient sets.

The benchmark runner calls these on the out-of-fold predictions it already has, so they cost no
extra fit, except the recalibrated twins of :func:`recalibrated_estimators` (a method whose
pipeline is wrapped in ``CalibratedClassifierCV`` inside each training fold, named
``"<method>+<calibration method>"``, e.g. ``"graphboost+sigmoid"``) that show the before/after
of recalibration.

Config (TOML)::

    [calibration]          # optional: recalibrated twins
    method = "sigmoid"     # or "isotonic"
    methods = ["graphboost"]   # default: graphboost if run, else every method
    inner_splits = 10      # inner folds
    ensemble = true        # mean of inner_splits (model, map) pairs; false: one model, one map

    [metrics]
    conformal_alpha = 0.1  # error rate of the conformal prediction sets (90% coverage)
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .._base import InputError, format_ci
from ..clinical._calibration import (
    DEFAULT_INNER_SPLITS,
    calibration_summary,
    check_calibration_method,
    check_inner_splits,
    recalibrated,
)
from ..clinical._conformal import check_alpha, conformal_coverage
from ..clinical._decision import beats_both, mean_decision_curve, useful_range

CALIBRATION_KEYS = {"ensemble", "method", "methods", "inner_splits"}
"""Keys of a config's ``[calibration]`` table."""

DECISION_THRESHOLDS = (0.1, 0.2, 0.3, 0.5)
"""Risk thresholds whose net benefit the report tabulates."""


def check_calibration_config(table, methods):
    """The ``[calibration]`` table checked, with defaults: ``{}`` when no method is set.

    Examples
    --------
    >>> check_calibration_config({"method": "sigmoid"}, ["logistic", "graphboost"])
    {'method': 'sigmoid', 'methods': ['graphboost'], 'inner_splits': 10, 'ensemble': True}
    """
    unknown = sorted(set(table) - CALIBRATION_KEYS)
    if unknown:
        raise InputError(
            f"Unknown key(s) {unknown} in [calibration]; allowed: {sorted(CALIBRATION_KEYS)}."
        )
    if table.get("method") is None:
        return {}
    method = check_calibration_method(table["method"])
    default = ["graphboost"] if "graphboost" in methods else list(methods)
    chosen = list(table.get("methods", default))
    stray = [m for m in chosen if m not in methods]
    if stray or not chosen:
        raise InputError(
            f"[calibration] methods must name methods of the run {list(methods)}; got {chosen}."
        )
    inner = table.get("inner_splits", DEFAULT_INNER_SPLITS)
    inner = check_inner_splits(inner, "[calibration] inner_splits")
    ensemble = table.get("ensemble", True)
    if not isinstance(ensemble, bool):
        raise InputError(f"[calibration] ensemble must be true or false; got {ensemble!r}.")
    return {"method": method, "methods": chosen, "inner_splits": inner, "ensemble": ensemble}


def recalibrated_estimators(cfg, dataset, make_pipeline):
    """``{"<method>+<calibration>": CalibratedClassifierCV(pipeline)}`` for the config's twins.

    ``make_pipeline(name, params, feature_groups, random_state=..., preprocessor=...)`` builds
    the method's own pipeline (the runner's), which the twin wraps.
    """
    calib = cfg.get("calibration") or {}
    if not calib:
        return {}
    seed = int(cfg["seed"])
    twins = {}
    for name in calib["methods"]:
        pipe = make_pipeline(
            name,
            cfg["params"].get(name, {}),
            dataset.feature_groups,
            random_state=seed,
            preprocessor=dataset.preprocessor,
        )
        kwargs = {"inner_splits": calib["inner_splits"], "ensemble": calib["ensemble"]}
        twins[f"{name}+{calib['method']}"] = recalibrated(
            pipe, calib["method"], random_state=seed, **kwargs
        )
    return twins


@dataclass
class ClinicalResults:
    """Calibration, conformal coverage and decision curves of every method of a run.

    Attributes
    ----------
    calibration : pandas.DataFrame or None
        One row per method (binary tasks): slope and intercept with CIs, Brier and its
        decomposition.
    conformal : pandas.DataFrame
        One row per method: empirical coverage of the conformal sets on held-out folds.
    decision : dict of str to pandas.DataFrame
        Method -> decision curve (mean over repeats); empty for multi-class tasks.
    alpha : float
    """

    calibration: pd.DataFrame | None
    conformal: pd.DataFrame
    decision: dict
    alpha: float

    def to_dict(self):
        """JSON-safe summary for ``run.json``."""
        out = {"alpha": self.alpha, "conformal": self.conformal.to_dict(orient="records")}
        if self.calibration is not None:
            out["calibration"] = self.calibration.to_dict(orient="records")
        out["decision_useful_range"] = {n: useful_range(c) for n, c in self.decision.items()}
        return out


def clinical_results(y, results, splits, n_bootstrap=1000, seed=0, alpha=0.1):
    """Compute :class:`ClinicalResults` from the runner's out-of-fold predictions.

    Parameters
    ----------
    y : ndarray
        Labels encoded 0..K-1.
    results : dict of str to MethodResult
    splits : list of list of (train, test)
        The folds the predictions came from (``make_splits``).
    n_bootstrap, seed : int
        Resamples and seed of the calibration CIs.
    alpha : float, default=0.1
        Error rate of the conformal sets.

    Returns
    -------
    ClinicalResults
    """
    alpha = check_alpha(alpha)
    conformal = pd.DataFrame(
        [
            {"method": n, **conformal_coverage(y, r.probas, splits, alpha)}
            for n, r in results.items()
        ]
    )
    if y.max() != 1:
        return ClinicalResults(None, conformal, {}, alpha)
    calibration = pd.DataFrame(
        [
            {"method": n, **calibration_summary(y, r.probas, n_bootstrap, random_state=seed)}
            for n, r in results.items()
        ]
    )
    decision = {n: mean_decision_curve(y, r.probas) for n, r in results.items()}
    return ClinicalResults(calibration, conformal, decision, alpha)


def _ci(row, name):
    return format_ci(row[name], row[name + "_low"], row[name + "_high"], "{:.2f}")


def calibration_lines(calibration, config=None):
    """Markdown section of the calibration table."""
    shown = pd.DataFrame(
        {
            "method": calibration.method,
            "slope (95% CI)": [_ci(r, "slope") for _, r in calibration.iterrows()],
            "intercept (95% CI)": [_ci(r, "intercept") for _, r in calibration.iterrows()],
            "Brier": calibration.brier.map("{:.3f}".format),
            "reliability": calibration.reliability.map("{:.4f}".format),
            "resolution": calibration.resolution.map("{:.4f}".format),
            "uncertainty": calibration.uncertainty.map("{:.4f}".format),
        }
    )
    from .._base import markdown_table

    lines = [
        "## Calibration (out-of-fold risks)",
        "",
        "Calibration slope: `b` of `logit P(y=1) = a + b logit(p)` (1 is ideal; below 1 the "
        "risks are too extreme). Intercept (calibration-in-the-large): `a` with the slope fixed "
        "at 1 (0 is ideal; below 0 the risks are too high on average). Van Calster et al., BMC "
        "Medicine 2019. Brier = reliability - resolution + uncertainty (Murphy; deciles of "
        "risk). Mean over repeats, stratified bootstrap 95% CI over patients.",
        "",
        markdown_table(shown),
        "",
    ]
    if config:
        twins = ", ".join(f"`{m}+{config['method']}`" for m in config["methods"])
        k = config["inner_splits"]
        how = (
            f"the mean of {k} (model, map) pairs, each model fitted on {k - 1} inner folds and "
            "its map on the remaining one"
            if config["ensemble"]
            else f"one model and one map fitted on its {k}-fold inner out-of-fold scores"
        )
        lines += [
            f"Recalibrated ({config['method']}): {twins}: scikit-learn's `CalibratedClassifierCV` "
            f"inside each training fold, {how}; compare with the same method's row without "
            "recalibration.",
            "",
        ]
    return lines


def decision_lines(decision):
    """Markdown section of the decision curves: net benefit at a few thresholds."""
    from .._base import markdown_table

    rows = []
    for name, curve in decision.items():
        row = {"method": name}
        at = curve.set_index(curve.threshold.round(2))
        for t in DECISION_THRESHOLDS:
            row[f"NB at {t:.0%}"] = f"{at.loc[t, 'model']:.3f}"
        span = useful_range(curve)
        useful = "never" if span is None else f"{span[0]:.2f}-{span[1]:.2f}"
        row["beats both: longest run"] = useful
        row["beats both: share of thresholds"] = f"{beats_both(curve).mean():.0%}"
        rows.append(row)
    first = next(iter(decision.values()))
    at = first.set_index(first.threshold.round(2))
    row = {"method": "treat all"}
    row.update({f"NB at {t:.0%}": f"{at.loc[t, 'treat_all']:.3f}" for t in DECISION_THRESHOLDS})
    rows.append({**row, "beats both: longest run": "-", "beats both: share of thresholds": "-"})
    return [
        "## Decision curve (Vickers & Elkin 2006)",
        "",
        "Net benefit `TP/n - FP/n * pt/(1-pt)` of treating the patients whose out-of-fold risk is "
        "at least the threshold `pt` (mean over repeats); treat-none is 0. Where it beats both "
        "treat-all and treat-none: the longest run of thresholds (of 0.01-0.80), and the share of "
        "thresholds. `decision_curve.png`, `decision_curve.csv`.",
        "",
        markdown_table(pd.DataFrame(rows)),
        "",
    ]


def conformal_lines(conformal, alpha):
    """Markdown section of the conformal coverage table."""
    from .._base import markdown_table

    classes = [c for c in conformal.columns if c.startswith("coverage_")]
    shown = pd.DataFrame({"method": conformal.method})
    shown["coverage"] = conformal.coverage.map("{:.3f}".format)
    for c in classes:
        shown[f"class {c.split('_', 1)[1]}"] = conformal[c].map("{:.3f}".format)
    shown["mean set size"] = conformal.set_size.map("{:.2f}".format)
    shown["sets of 2+ classes"] = conformal.share_uncertain.map("{:.1%}".format)
    shown["empty sets"] = conformal.share_empty.map("{:.1%}".format)
    return [
        f"## Conformal prediction sets (alpha = {alpha:g}, nominal coverage {1 - alpha:.0%})",
        "",
        "Class-conditional (Mondrian) conformal sets (crepes), checked on held-out folds: each "
        "fold's sets calibrated on the out-of-fold predictions of its training patients. "
        "Coverage: share of patients whose set holds their class (per class: within it).",
        "",
        markdown_table(shown),
        "",
    ]


def write_clinical(out, ds, y, results, clinical, calibration=None):
    """Write ``calibration.csv``, ``conformal.csv``, ``decision_curve.csv``/``.png``; the lines."""
    from ..plots._files import plot_decision_curve

    clinical.conformal.to_csv(out / "conformal.csv", index=False)
    lines = []
    if clinical.calibration is not None:
        clinical.calibration.to_csv(out / "calibration.csv", index=False)
        lines += calibration_lines(clinical.calibration, calibration)
    if clinical.decision:
        curves = pd.concat(
            [c.assign(method=n) for n, c in clinical.decision.items()], ignore_index=True
        )
        curves.to_csv(out / "decision_curve.csv", index=False)
        probas = {n: r.probas for n, r in results.items()}
        plot_decision_curve(out / "decision_curve.png", y, probas, f"Decision curve, {ds.name}")
        lines += decision_lines(clinical.decision)
    return lines + conformal_lines(clinical.conformal, clinical.alpha)
