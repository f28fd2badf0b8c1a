"""``MODEL_CARD.md`` of a model folder, written from the fit (TRIPOD+AI items that apply).

TRIPOD+AI (Collins et al., BMJ 2024;385:e078378) lists what a report of a prediction model must
say. A model folder is one model developed and internally validated on one cohort, so its card
covers the items that the fit itself knows: intended use, data source and participants,
outcome, predictors, sample size, missing data, analytical methods (preprocessing, model,
hyperparameters, recalibration, class imbalance), model output, internal validation
(discrimination, calibration, clinical utility), the model's specification (selected graphs),
uncertainty and limitations. What the fit cannot know (ethics approval, funding, patient
involvement, how the cohort was recruited) is left to the people who publish the model.
"""

from __future__ import annotations

import datetime

from ._block_report import block_guard_lines
from ._decision import beats_both, useful_range

_MAX_COLUMNS = 40  # predictor names listed in the card; cohort.json lists every one

_NESTED = (
    "An unbiased estimate needs nested cross-validation (the search repeated inside every outer "
    "training fold, as `experiments.TunedGraphBoostClassifier` does: on your own cohort, "
    "`graphboost benchmark --config <your config> --methods graphboost,graphboost-tuned` "
    "cross-validates the `graphboost-tuned` method beside the defaults on the same folds) or an "
    "external cohort."
)


def _intended_use(spec, counts, positive):
    label = spec["label"]
    return [
        "## Intended use",
        "",
        f"- Estimates, for a patient like those of the development cohort, the probability of "
        f"each class of `{label}`"
        + (f" (the risk of `{label}` = `{positive}`)" if positive is not None else "")
        + ", from the predictors listed under *Data*.",
        "- For research and clinical decision support by a clinician who sees the patient; not a "
        "certified medical device, and not validated outside the development cohort: validate "
        "it externally before any clinical use.",
        "- Output per patient (`graphboost predict`): a probability per class, the most likely "
        "class, the class at the recorded threshold (when one was chosen), a conformal "
        "prediction set at a chosen error rate (`--alpha`) and how typical the patient is "
        "(`--typicality`).",
        "",
    ]


def _columns_line(columns):
    shown = ", ".join(f"`{c}`" for c in columns[:_MAX_COLUMNS])
    more = len(columns) - _MAX_COLUMNS
    return shown + (f" and {more} more (every name in `cohort.json`)" if more > 0 else "")


_CLASSIFIER_CV_COLUMNS = "the label and the out-of-fold probabilities"
_CLASSIFIER_VALUES = (
    "the model (`estimator/`) holds the training patients' values of the columns its graphs use "
    "and their labels (a new patient is linked to training patients); `preprocessor.json` holds "
    "each column's imputation and scaling figures and the categories of each text column."
)


def privacy_lines(identifiers, cv, *, cv_columns=_CLASSIFIER_CV_COLUMNS, values=_CLASSIFIER_VALUES):
    """What in the folder names or describes a patient: IDs only where the fit was asked to
    keep them (``identifiers``: file -> what it holds), rows of the training table otherwise.
    ``cv_columns`` says what ``cv_predictions.csv`` holds beside the row, ``values`` which patient
    values the model keeps (the survival card words both for times and events)."""
    if identifiers:
        held = "; ".join(f"`{name}`: {what}" for name, what in identifiers.items())
        lines = [
            f"- Patient identifiers: {held}. No other file of this folder names a patient; "
            "handle the folder as personal data."
        ]
    else:
        lines = ["- Patient identifiers: none in this folder."]
    if cv is not None and "cv_predictions.csv" not in (identifiers or {}):
        lines.append(
            "- `cv_predictions.csv` names each patient by the row in the training table (column "
            f"`row`, counted from 0 at the first row below the header), with {cv_columns}; "
            "`graphboost fit --keep-ids` writes the IDs instead."
        )
    lines.append(f"- Patient values: {values}")
    return lines


def _data(source, spec, counts, identifiers=None, cv=None):
    n = sum(counts)
    balance = ", ".join(
        f"`{c}`: {k} ({k / n:.1%})" for c, k in zip(spec["classes"], counts, strict=True)
    )
    groups = spec["feature_groups"]
    blocks = ", ".join(f"`{k}` ({len(v)} columns)" for k, v in groups.items()) or "none"
    return [
        "## Data",
        "",
        f"- Source: `{source}`; participants: {n} patients with a label.",
        f"- Outcome: `{spec['label']}`; classes and balance: {balance}.",
        f"- Predictors: {len(spec['feature_columns'])} columns: "
        f"{_columns_line(spec['feature_columns'])}.",
        f"- Blocks of columns (one candidate graph each): {blocks}.",
        "- Missing data: imputed by `features.ClinicalPreprocessor` (fitted on the training "
        "patients only: inside each fold for validation), with a `<column>:missing` indicator "
        "where values were missing; a patient lacking a block is linked through none of its "
        "graphs.",
        *privacy_lines(identifiers, cv),
        "",
    ]


def _search_line(tuning):
    """The Optuna search that chose the hyperparameters (TRIPOD+AI item 12c)."""
    t = tuning
    return (
        f"- Hyperparameters: chosen by an Optuna search (study `{t['study']}`, TPE sampler, "
        f"median pruning; {t['n_complete']} complete trials), each trial scored by its mean "
        f"AUROC over an inner stratified {t['inner_splits']}-fold cross-validation on these "
        "patients. The parameters above are those of the best trial (number "
        f"{t['best_trial']}, inner-CV AUROC {t['inner_auroc']:.3f}), refitted on all patients."
    )


def _supervised_scan_lines(scans):
    """The supervised scan block: its recipe, its cross-fitting and its encoders' start."""
    recipe, record = scans.get("recipe") or {}, scans.get("pretraining")
    folds = recipe.get("cv", "K")
    start = "a seeded random start (no pretraining)"
    if record:
        start = (
            f"a {record['objective']} start pretrained on {record['n_scans']} scans for "
            f"{record['epochs']} epochs (no label)"
        )
    flips = ", test-time flips" if recipe.get("test_time_flips") else ""
    return [
        f"- Scans: resampled to {scans['shape']}^3; the block `{scans['block']}:logit` is the "
        "logit of a small 3D CNN fine-tuned on the training labels "
        f"(`features.SupervisedVolumeEmbedder`, {folds} folds x {recipe.get('max_epochs')} "
        f"epochs{flips}, {recipe.get('device_type', 'cpu')} recipe; {start}), cross-fitted: "
        "each training patient's value comes from the fold encoder that never saw its label, "
        f"and a new patient's is the mean of the {folds} fold encoders (`{scans['supervised']}/`). "
        "In a cross-validation it is refitted inside every training fold."
    ]


def _scan_encoder_lines(scans):
    """The scan encoder's self-supervised pretraining: the epochs run (issue 20, item 28)."""
    if (scans or {}).get("embedder") == "supervised":
        return _supervised_scan_lines(scans)
    record = (scans or {}).get("pretraining")
    if not record:
        return []
    run, planned = record["epochs"], record.get("epochs_planned", record["epochs"])
    line = (
        f"- Scans: embedded at {scans['shape']}^3 by a small 3D CNN pretrained self-supervised "
        f"(masked reconstruction, no label) on {record['n_scans']} scans for {run} epochs"
    )
    if record.get("stopped_by_time"):
        line += (
            f" of the {planned} asked: its time limit ({record['seconds_limit']:g} s) stopped it, "
            "so the encoder and this model depend on the speed of the machine that fitted it"
        )
    return [line + "."]


def _methods(spec, recalibration, tuning=None):
    params = spec["params"] or {}
    shown = ", ".join(f"`{k}={v!r}`" for k, v in params.items()) or "the defaults"
    lines = [
        "## Model",
        "",
        "- `features.ClinicalPreprocessor` (imputation, scaling, one-hot encoding) and "
        f"`graphboost.GraphBoostClassifier` with {shown}; seed {spec['random_state']}.",
        "- Class imbalance: no resampling or reweighting; the probabilities are kept as risks "
        "and a decision threshold is chosen for a stated target (below) instead of 0.5.",
    ]
    if tuning is not None:
        lines.insert(3, _search_line(tuning))
    lines += _scan_encoder_lines(spec.get("scans"))
    if recalibration is not None:
        k, method = recalibration["inner_splits"], recalibration["method"]
        lines.append(
            f"- Recalibration ({method}, scikit-learn's `CalibratedClassifierCV`): the reported "
            f"probability is the mean of {k} copies of the model, each fitted on {k - 1}/{k} of "
            f"the patients with its {method} map fitted on the remaining fold "
            "(`calibration/`); explanations and typicality describe the model fitted on all "
            "patients (`estimator/`)."
        )
    return [*lines, ""]


def _performance_table(cv, names):
    lines = [
        "| model | AUROC (95% CI) | AUPRC | Brier | calibration slope (95% CI) | "
        "calibration intercept (95% CI) |",
        "|---|---|---|---|---|---|",
    ]
    calib = None if cv.clinical is None else cv.clinical.calibration
    for _, r in cv.table.iterrows():
        slope = intercept = "-"
        if calib is not None:
            c = calib.set_index("method").loc[r.method]
            slope = f"{c.slope:.2f} ({c.slope_low:.2f} to {c.slope_high:.2f})"
            intercept = f"{c.intercept:.2f} ({c.intercept_low:.2f} to {c.intercept_high:.2f})"
        lines.append(
            f"| {names(r.method)} | {r.auroc:.3f} ({r.auroc_low:.3f}-{r.auroc_high:.3f}) | "
            f"{r.auprc:.3f} | {r.brier:.3f} | {slope} | {intercept} |"
        )
    return lines


def _decision_summary(cv, saved):
    if cv.clinical is None or saved not in cv.clinical.decision:
        return []
    curve = cv.clinical.decision[saved]
    span = useful_range(curve)
    at = curve.set_index(curve.threshold.round(2))
    nb = ", ".join(
        f"{t:.0%}: {at.loc[t, 'model']:.3f} (treat all {at.loc[t, 'treat_all']:.3f})"
        for t in (0.1, 0.2, 0.3)
    )
    where = "at no threshold" if span is None else f"from {span[0]:.2f} to {span[1]:.2f}"
    share = beats_both(curve).mean()
    return [
        f"- Decision curve (Vickers & Elkin 2006): the model's net benefit beats treating all "
        f"and treating none {where} (longest run of risk thresholds; {share:.0%} of the "
        f"thresholds 0.01-0.80). Net benefit at {nb}.",
    ]


def _conformal_summary(cv, saved):
    if cv.clinical is None:
        return []
    row = cv.clinical.conformal.set_index("method").loc[saved]
    per_class = ", ".join(f"`{c}`: {row[f'coverage_{k}']:.3f}" for k, c in enumerate(cv.classes))
    return [
        f"- Conformal prediction sets at alpha = {cv.clinical.alpha:g}: coverage on held-out "
        f"folds {row.coverage:.3f} (nominal {1 - cv.clinical.alpha:.0%}; per class {per_class}); "
        f"{row.share_uncertain:.1%} of the sets hold more than one class.",
    ]


def _threshold_summary(threshold):
    if threshold is None:
        return []
    t = threshold
    return [
        f"- Decision threshold for the target {t['target']} {t['value']:g}, chosen on the "
        f"out-of-fold risks: {t['threshold']:.4f}. There: sensitivity {t['sensitivity']:.3f}, "
        f"specificity {t['specificity']:.3f}, PPV {t['ppv']:.3f}, NPV {t['npv']:.3f}, "
        f"{t['share_positive']:.1%} of the patients above it.",
    ]


def _not_validated(tuning):
    if tuning is None:
        note = (
            "- **Not validated**: the model was fitted without cross-validation, so this card "
            "holds no performance estimate. Fit with `--cv K` to estimate it."
        )
    else:
        t = tuning
        note = (
            "- **Not validated**: the best trial was refitted without cross-validation, so this "
            f"card holds no performance estimate. The search's best inner {t['inner_splits']}-"
            f"fold CV AUROC, {t['inner_auroc']:.3f}, is an optimistic figure, not an estimate: "
            f"it is the highest of {t['n_complete']} trials scored on these same patients. "
            "`graphboost tune --cv K` also cross-validates the refitted model (still "
            f"optimistic). {_NESTED}"
        )
    return ["## Validation", "", note, ""]


def _optimism(tuning):
    if tuning is None:
        return []
    return [
        "- **Optimistic**: the hyperparameters were chosen by the Optuna search on these same "
        "patients, so the cross-validated figures below are optimistic (the patients of every "
        f"test fold also scored the trials). {_NESTED}",
    ]


def _validation(cv, saved, threshold, names, tuning=None):
    if cv is None:
        return _not_validated(tuning)
    return [
        "## Validation (internal)",
        "",
        f"- Scheme: stratified {cv.n_splits}-fold cross-validation (seed {cv.random_state}); "
        "every fitted step (preprocessing, model, recalibration) inside the training folds; "
        "the figures below are on the out-of-fold predictions, with stratified bootstrap 95% "
        "CIs over patients. Logistic regression (L2, C by inner CV) is the comparator.",
        *_optimism(tuning),
        "",
        *_performance_table(cv, names),
        "",
        *_decision_summary(cv, saved),
        *_threshold_summary(threshold),
        *_conformal_summary(cv, saved),
        "",
    ]


def _graphs(clf):
    rounds, weight = {}, {}
    for g, w in zip(clf.selected_graphs_, clf.estimator_weights_, strict=False):
        name = getattr(g, "name", str(g))
        rounds[name] = rounds.get(name, 0) + 1
        weight[name] = weight.get(name, 0.0) + float(w)
    order = sorted(rounds, key=lambda k: -weight[k])
    lines = [
        "## Selected graphs (the model's specification)",
        "",
        f"The score is an L2 logistic regression plus {len(clf.selected_graphs_)} boosting "
        "rounds, each a neighbor vote on one patient-similarity graph (full detail: "
        "`estimator/`, `report.md`).",
        "",
        "| graph | rounds | total weight |",
        "|---|---|---|",
    ]
    lines += [f"| {k} | {rounds[k]} | {weight[k]:.3f} |" for k in order[:20]]
    if len(order) > 20:
        lines.append(f"| ... {len(order) - 20} more | | |")
    return [*lines, ""]


def _limitations(counts, cv, tuning=None):
    lines = [
        "## Limitations",
        "",
        "- Internal validation on one cohort only: performance in other hospitals, scanners "
        "or populations is unknown.",
        f"- {sum(counts)} patients, {min(counts)} in the smallest class: the confidence "
        "intervals are wide and the selected graphs may change with other patients.",
        "- Fairness: performance was not evaluated within subgroups (sex, age, ethnicity, "
        "site); do so before use.",
        "- The conformal coverage and the typicality flags assume new patients come from the "
        "same population as the training patients; a patient flagged `unlike_training` is "
        "outside what the model has seen.",
        "- Calibration can drift with time and setting: monitor observed against predicted "
        "risks, and recalibrate or refit when they part.",
    ]
    if cv is None:
        lines.append("- No cross-validation was run: the performance of this model is unknown.")
    if tuning is not None:
        lines.append(
            "- The hyperparameters were searched on the development patients: every "
            "performance figure of this card is optimistic."
        )
    return [*lines, ""]


def model_card(
    *,
    source,
    spec,
    counts,
    clf,
    cv=None,
    saved="graphboost",
    recalibration=None,
    threshold=None,
    names=str,
    version=None,
    tuning=None,
    identifiers=None,
):
    """The Markdown model card of a fitted model folder.

    Parameters
    ----------
    source : str
        The cohort's name (e.g. the table's file name).
    spec : dict
        The folder's ``cohort.json`` content.
    counts : list of int
        Patients per class, in the order of ``spec["classes"]``.
    clf : graphboost.GraphBoostClassifier
        The fitted model.
    cv : workflows.CrossValidation, optional
        Its out-of-fold evaluation (``None``: not validated).
    saved : str, default="graphboost"
        The row of ``cv`` that is the saved model (``"graphboost+sigmoid"`` when recalibrated).
    recalibration : dict, optional
        ``{"method", "inner_splits"}`` when the probabilities are recalibrated.
    threshold : dict, optional
        :func:`experiments.clinical._decision.choose_threshold`'s record.
    names : callable, default=str
        Display name of a ``cv`` method.
    version : str, optional
        graphboost's version.
    tuning : dict, optional
        The Optuna search that chose the parameters
        (:func:`experiments.tuning._search.tuning_record`: ``study``, ``n_complete``,
        ``inner_splits``, ``best_trial``, ``inner_auroc``). The card then says so in *Model*,
        and *Validation* calls its figures optimistic (the same patients chose the parameters).
    identifiers : dict of str to str, optional
        The files of the folder that name patients (by ID), each with what it holds; the card
        says so, and that no other file does. Empty or ``None``: no file names a patient by ID
        (``cv_predictions.csv`` then names them by their row in the training table).

    Returns
    -------
    str
    """
    positive = spec["classes"][1] if len(spec["classes"]) == 2 else None
    today = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
    lines = [
        f"# Model card: GraphBoostClassifier for `{spec['label']}`",
        "",
        f"Generated by `graphboost {'fit' if tuning is None else 'tune'}` (graphboost "
        f"{version or 'unknown'}) on {today}. It "
        "follows the items of TRIPOD+AI (Collins et al., BMJ 2024;385:e078378) that apply to "
        "one model developed and internally validated on one cohort.",
        "",
        *_intended_use(spec, counts, positive),
        *_data(source, spec, counts, identifiers, cv),
        *_methods(spec, recalibration, tuning),
        *_validation(cv, saved, threshold, names, tuning),
        *_graphs(clf),
        *block_guard_lines(clf),
        *_limitations(counts, cv, tuning),
    ]
    return "\n".join(lines)
