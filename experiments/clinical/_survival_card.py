"""``MODEL_CARD.md`` of a survival model folder (GraphBoostSurvivalAnalysis; TRIPOD+AI items).

The survival twin of :func:`experiments.clinical.model_card`: intended use, data (patients,
events, follow-up), model, internal validation on out-of-fold predictions (Harrell's and Uno's
C, the time-dependent AUC at each horizon, the integrated Brier score, the calibration at the
largest horizon: observed Kaplan-Meier against predicted risk by fifth of predicted risk, the
calibration slope and O/E), the selected graphs, privacy and limitations.
"""

from __future__ import annotations

import datetime

from ._model_card import _columns_line, privacy_lines

_METRIC_NAMES = {
    "harrell_c": "Harrell's C",
    "uno_c": "Uno's C",
    "td_auc": "mean time-dependent AUC",
    "integrated_brier": "integrated Brier score",
}


def _t(value):
    return f"{value:g}"


def _intended_use(spec):
    event, time = spec["event_column"], spec["time_column"]
    horizons = ", ".join(_t(h) for h in spec["horizons"])
    return [
        "## Intended use",
        "",
        f"- Estimates, for a patient like those of the development cohort, the risk of the "
        f"event `{event}` over time (`{time}`, in the unit of that column): a risk score (log "
        "relative hazard; higher means an earlier event) and the probability of being "
        "event-free at chosen horizons (`graphboost predict --horizon T`; the card's "
        f"horizons: {horizons}).",
        "- For research and clinical decision support by a clinician who sees the patient; not a "
        "certified medical device, and not validated outside the development cohort: validate "
        "it externally before any clinical use.",
        f"- Horizons are limited to the training follow-up (up to {_t(spec['follow_up']['last'])}"
        "): the model knows nothing after it, so a later horizon is refused.",
        "",
    ]


_PRIVACY = {
    "cv_columns": "the follow-up time, the event and the out-of-fold risks",
    "values": "the model (`estimator/`) holds the training patients' values of the columns its "
    "graphs use and their follow-up times and events (a new patient is linked to training "
    "patients, and its explanation shows how they fared); `preprocessor.json` holds each "
    "column's imputation and scaling figures and the categories of each text column; "
    "`cohort.json` the first and last follow-up times and the percentiles (0 to 100) of the "
    "training risk scores.",
}


def _data(source, spec, identifiers, cv):
    n, events = spec["n_patients"], spec["n_events"]
    groups = spec["feature_groups"]
    blocks = ", ".join(f"`{k}` ({len(v)} columns)" for k, v in groups.items()) or "none"
    follow = spec["follow_up"]
    return [
        "## Data",
        "",
        f"- Source: `{source}`; participants: {n} patients, {events} events "
        f"({events / n:.1%}), {n - events} censored.",
        f"- Outcome: time `{spec['time_column']}` (from {_t(follow['first'])} to "
        f"{_t(follow['last'])}) and event `{spec['event_column']}` (1: the event at that time, "
        "0: censored then). Censored patients are kept.",
        f"- Predictors: {len(spec['feature_columns'])} columns: "
        f"{_columns_line(spec['feature_columns'])}.",
        f"- Blocks of columns (one candidate graph each): {blocks}.",
        "- Missing data: imputed by `features.ClinicalPreprocessor` (fitted on the training "
        "patients only: inside each fold for validation), with a `<column>:missing` indicator "
        "where values were missing.",
        *privacy_lines(identifiers, cv, **_PRIVACY),
        "",
    ]


def _search_line(t):
    return (
        f"- Hyperparameters: chosen by an Optuna search (study `{t['study']}`, TPE sampler, "
        f"median pruning; {t['n_complete']} complete trials), each trial scored by its mean "
        f"Harrell's C over an inner {t['inner_splits']}-fold cross-validation stratified on the "
        f"event on these patients; those above are the best trial's (number {t['best_trial']}, "
        f"inner-CV Harrell's C {t['inner_c']:.3f}), refitted on all patients."
    )


def _methods(spec, model, tuning=None):
    params = spec["params"] or {}
    shown = ", ".join(f"`{k}={v!r}`" for k, v in params.items()) or "the defaults"
    alpha = getattr(model, "alpha_", None)
    start = f" (penalty {alpha:.3g}, chosen by inner CV)" if alpha is not None else ""
    return [
        "## Model",
        "",
        "- `features.ClinicalPreprocessor` (imputation, scaling, one-hot encoding) and "
        f"`graphboost.GraphBoostSurvivalAnalysis` with {shown}; seed {spec['random_state']}.",
        f"- The risk score is a ridge Cox model's linear predictor{start} plus "
        f"{model.boost_scale_:g} times a boosted score of {len(model.selected_graphs_)} rounds "
        "(Newton steps of the Cox partial likelihood, each a neighbor average on one "
        "patient-similarity graph); the weight of the boosted score is chosen out of fold (0: "
        "the model is the ridge Cox model). Survival: Breslow's baseline hazard.",
        *([_search_line(tuning)] if tuning else []),
        "",
    ]


def _metric_table(cv, names):
    lines = [
        "| model | Harrell's C (95% CI) | Uno's C | mean time-dependent AUC | integrated Brier | "
        "fold-mean Harrell's C |",
        "|---|---|---|---|---|---|",
    ]
    for method in cv.risks:
        m = cv.metrics.loc[method]
        c = m.loc["harrell_c"]
        folds = sum(cv.fold_c[method]) / len(cv.fold_c[method])
        lines.append(
            f"| {names.get(method, method)} | {c.estimate:.3f} ({c.low:.3f}-{c.high:.3f}) | "
            f"{_ci(m, 'uno_c')} | {_ci(m, 'td_auc')} | {_ci(m, 'integrated_brier')} | "
            f"{folds:.3f} |"
        )
    return lines


def _ci(m, metric):
    if metric not in m.index:
        return "-"
    r = m.loc[metric]
    return f"{r.estimate:.3f} ({r.low:.3f}-{r.high:.3f})"


def _auc_table(cv, names):
    horizons = list(cv.td_auc.columns)
    lines = [
        "| model | " + " | ".join(f"AUC at {_t(h)}" for h in horizons) + " |",
        "|---" * (len(horizons) + 1) + "|",
    ]
    for method, row in cv.td_auc.iterrows():
        cells = " | ".join(f"{v:.3f}" for v in row)
        lines.append(f"| {names.get(method, method)} | {cells} |")
    return lines


def _calibration(cv, names):
    h = _t(cv.calibration_horizon)
    lines = [
        f"Calibration at {h} (observed: one minus the Kaplan-Meier survival of each fifth of "
        "patients by predicted risk; slope: the coefficient of log(-log S) in a Cox model on the "
        "out-of-fold predictions, 1 is ideal, below 1 the risks are too extreme; O/E: observed "
        "over mean predicted risk, 1 is ideal):",
        "",
        "| model | slope | O/E | predicted vs observed risk by fifth |",
        "|---|---|---|---|",
    ]
    for method, cal in cv.calibration.items():
        groups = "; ".join(
            f"{r['predicted risk']:.0%} vs {r['observed risk']:.0%}"
            for _, r in cal["table"].iterrows()
        )
        lines.append(
            f"| {names.get(method, method)} | {cal['slope']:.2f} | "
            f"{cal['observed_expected']:.2f} | {groups} |"
        )
    return lines


def _validation(cv, names, tuning=None):
    if cv is None:
        return [
            "## Validation",
            "",
            "- **Not validated**: the model was fitted without cross-validation, so this card "
            "holds no performance estimate. Fit with `--cv K` to estimate it.",
            "",
        ]
    return [
        "## Validation (internal)",
        "",
        f"- Scheme: {cv.n_splits}-fold cross-validation stratified on the event (seed "
        f"{cv.random_state}); every fitted step (preprocessing, penalty, boosting, baseline "
        "hazard) inside the training folds. The figures are on the pooled out-of-fold "
        "predictions, with 95% CIs from a bootstrap over patients stratified on the event; the "
        "censoring weights of Uno's C, the AUC and the Brier score are the cohort's. Uno's C is "
        f"truncated at {_t(cv.calibration_horizon)}; the integrated Brier score runs over the "
        "10th to 80th percentile of the follow-up. A ridge Cox model (scikit-survival, its "
        "penalty by inner CV) is the comparator. The pooled figures compare risks across "
        "folds; the fold-mean Harrell's C beside them compares patients within a fold only.",
        *(
            [
                "- **Optimistic**: the hyperparameters were chosen by the Optuna search on "
                "these same patients, so the figures below are optimistic; an unbiased "
                "estimate needs the search repeated inside every outer fold or an external "
                "cohort."
            ]
            if tuning
            else []
        ),
        "",
        *_metric_table(cv, names),
        "",
        *_auc_table(cv, names),
        "",
        *_calibration(cv, names),
        "",
    ]


def _graphs(model):
    rounds = {}
    for g in model.selected_graphs_:
        name = getattr(g, "name", str(g))
        rounds[name] = rounds.get(name, 0) + 1
    lines = [
        "## Selected graphs (the model's specification)",
        "",
        "| graph | rounds |",
        "|---|---|",
    ]
    lines += [f"| {k} | {v} |" for k, v in sorted(rounds.items(), key=lambda kv: -kv[1])[:20]]
    return [*lines, ""]


def _limitations(spec, cv):
    lines = [
        "## Limitations",
        "",
        "- Internal validation on one cohort only: performance in other hospitals or "
        "populations, and after the training period, is unknown.",
        f"- {spec['n_patients']} patients and {spec['n_events']} events: the confidence "
        "intervals are wide and the selected graphs may change with other patients.",
        "- Censoring is assumed independent of the risk given the predictors; competing events "
        "coded 0 are treated as censored.",
        "- Fairness: performance was not evaluated within subgroups (sex, age, ethnicity, "
        "site); do so before use.",
    ]
    if cv is None:
        lines.append("- No cross-validation was run: the performance of this model is unknown.")
    return [*lines, ""]


def survival_model_card(
    *, source, spec, model, cv=None, names=None, identifiers=None, version=None, tuning=None
):
    """The Markdown model card of a survival model folder.

    Parameters
    ----------
    source : str
        The cohort's name (e.g. the table's file name).
    spec : dict
        The folder's ``cohort.json`` (``task`` ``"survival"``).
    model : graphboost.GraphBoostSurvivalAnalysis
        The fitted model.
    cv : experiments.workflows.SurvivalCrossValidation, optional
        Its out-of-fold evaluation (None: not validated).
    names : dict, optional
        Display names of the ``cv`` methods.
    identifiers : dict of str to str, optional
        Files of the folder that name patients, with what they hold.
    version : str, optional
    tuning : dict, optional
        The Optuna search that chose the parameters (``study``, ``n_complete``,
        ``inner_splits``, ``best_trial``, ``inner_c``): reported under *Model*, and the
        validation figures called optimistic.

    Returns
    -------
    str
    """
    today = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
    lines = [
        f"# Model card: GraphBoostSurvivalAnalysis for time to `{spec['event_column']}`",
        "",
        f"Generated by `graphboost {'fit' if tuning is None else 'tune'} --time --event` "
        f"(graphboost {version or 'unknown'}) on {today}. It follows the items of TRIPOD+AI "
        "(Collins et al., BMJ 2024;385:e078378) that apply to one model developed and "
        "internally validated on one cohort.",
        "",
        *_intended_use(spec),
        *_data(source, spec, identifiers, cv),
        *_methods(spec, model, tuning),
        *_validation(cv, names or {}, tuning),
        *_graphs(model),
        *_limitations(spec, cv),
    ]
    return "\n".join(lines)
