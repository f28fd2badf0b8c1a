"""The survival path of ``graphboost fit``, ``predict`` and ``explain`` (``--time`` and
``--event`` instead of ``--label``; ``--horizon`` times)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .._base import InputError
from ..workflows._survival_data import load_survival_cohort_table
from ..workflows._survival_fit import CV_NAMES, fit_survival_model_folder
from ..workflows._survival_predict import explain_survival, is_survival_model, predict_survival
from ._outputs import check_folder_output
from ._parser import cohort_options

_CLASSIFIER_ONLY = {
    "calibration": "--calibration",
    "threshold_target": "--threshold-target",
}


def check_outcome_options(args):
    """``--label``, or ``--time`` with ``--event``: one outcome, given whole.

    Returns True for a survival outcome.
    """
    survival = args.time is not None or args.event is not None
    if survival and args.label is not None:
        raise InputError(
            "Give either --label (a class per patient) or --time and --event (a censored "
            "time), not both."
        )
    if survival and (args.time is None or args.event is None):
        given, missing = ("--time", "--event") if args.time is not None else ("--event", "--time")
        raise InputError(
            f"{given} needs {missing}: a censored outcome is a follow-up time column and an "
            "event column (1: the event, 0: censored)."
        )
    if not survival and args.label is None:
        raise InputError(
            f"{args.command} needs the outcome: --label COL (a class per patient), or --time COL "
            "and --event COL (a censored time)."
        )
    if not survival and getattr(args, "horizon", None):
        raise InputError("--horizon goes with a survival outcome (--time and --event).")
    return survival


def _load(args):
    return load_survival_cohort_table(
        args.data, time=args.time, event=args.event, **cohort_options(args)
    )


def cmd_fit_survival(args):
    """``fit --time --event``: GraphBoostSurvivalAnalysis in a model folder, with its card."""
    for name, option in _CLASSIFIER_ONLY.items():
        if getattr(args, name, None):
            raise InputError(f"{option} goes with a classifier (--label), not with --time/--event.")
    check_folder_output(args.output, args.overwrite)  # before any work
    fitted = fit_survival_model_folder(
        _load(args),
        args.output,
        params=dict(args.param),
        groups=dict(args.group),
        cv=args.cv,
        horizons=args.horizon or None,
        random_state=args.seed,
        scan_shape=args.scan_shape,
        block_components=args.block_components,
        overwrite=args.overwrite,
        source=Path(args.data).name,
        keep_ids=args.keep_ids,
    )
    model = fitted.model[-1]
    print(
        f"Survival model written to {fitted.path} ({len(model.selected_graphs_)} rounds, "
        f"boosted score weight {model.boost_scale_:g}); model card: MODEL_CARD.md."
    )
    if fitted.cv is not None:
        _print_cv(fitted.cv, args.cv)
    return 0


def _print_cv(cv, k):
    h = f"{cv.calibration_horizon:g}"
    for method in cv.risks:
        m = cv.metrics.loc[method]
        c = m.loc["harrell_c"]
        auc = ", ".join(f"{v:.3f} at {t:g}" for t, v in cv.td_auc.loc[method].items())
        cal = cv.calibration[method]
        print(
            f"  {k}-fold CV {CV_NAMES[method]}: Harrell's C {c.estimate:.3f} "
            f"(95% CI {c.low:.3f}-{c.high:.3f}), Uno's C {m.loc['uno_c'].estimate:.3f}, "
            f"AUC {auc}, integrated Brier {m.loc['integrated_brier'].estimate:.3f}; "
            f"calibration at {h}: slope {cal['slope']:.2f}, O/E {cal['observed_expected']:.2f}"
        )


def is_survival_run(args, folder):
    """Whether the loaded model folder of ``predict``/``explain`` holds a survival model (its
    classifier-only options refused); for a classifier, ``--horizon`` is refused."""
    if not is_survival_model(folder):
        if args.horizon:
            raise InputError(
                f"--horizon goes with a survival model; '{args.model}' holds a classifier "
                f"(label {folder.spec.get('label')!r})."
            )
        return False
    for option in ("alpha", "typicality"):
        if getattr(args, option, None):
            raise InputError(
                f"--{option} goes with a classifier; '{args.model}' holds a survival model "
                "(use --horizon for its survival probabilities)."
            )
    if args.command == "explain" and len(args.horizon) > 1:
        raise InputError("explain reads survival at one --horizon; give it once.")
    return True


def survival_runner(args, folder):
    """``(compute, message)`` of ``predict``/``explain`` on a survival model folder."""
    data = args.data
    if args.decimal != ".":
        from features import read_table

        data = read_table(args.data, id_column=folder.spec["id_column"], decimal=args.decimal)
    kwargs = {"scans": args.scans, "on_error": args.on_error, "progress": not args.quiet}
    kwargs["invalid_values"] = args.invalid_values
    if args.command == "explain":
        horizon = args.horizon[0] if args.horizon else None
        kwargs.update(horizon=horizon, n_neighbors=args.n_neighbors)
        return (
            lambda: explain_survival(folder, data, **kwargs),
            "Explanations ({n} rows) written to {out}.",
        )
    return (
        lambda: predict_survival(folder, data, horizons=args.horizon or None, **kwargs),
        "Predictions (risk and survival) for {n} patients written to {out}.",
    )


def survival_text(frame):
    """Every patient's survival explanation in words."""
    from ..clinical._survival_explanations import survival_explanation_text

    return survival_explanation_text(frame)


def _check_survival_tune_args(args):
    """The options of ``tune --time --event`` that need no data (nothing written)."""
    from ..modelfolder._extras import check_cv_folds
    from ..tuning._checks import check_search_options
    from ..tuning._search import check_storage_url, open_storage
    from ..tuning._survival_search import check_fixed_survival_params

    if args.n_workers != 1:
        raise InputError(
            f"--n-workers {args.n_workers}: a survival search runs in one worker process for "
            "now; give --n-workers 1 (or run several `graphboost tune` on one --storage)."
        )
    check_search_options(args.n_trials, 1, args.inner_splits, args.timeout, cli=True)
    check_fixed_survival_params(dict(args.param))
    check_cv_folds(args.cv, "--cv")
    if args.cv and not args.output:
        raise InputError(
            f"--cv {args.cv} cross-validates the refitted best trial, so it needs --output DIR; "
            "got --cv without --output."
        )
    if args.output:
        check_folder_output(args.output, args.overwrite)
    if not check_storage_url(args.storage):  # a SQLite file is created only once all is checked
        open_storage(args.storage, args.heartbeat)


def cmd_tune_survival(args):
    """``tune --time --event``: Optuna search of GraphBoostSurvivalAnalysis (Harrell's C out of
    fold), and with ``--output`` the best trial refitted in a survival model folder."""
    from ..evaluation._dataset import dataset_from_cohort
    from ..tuning._search import redact
    from ..tuning._survival_search import check_survival_search_data, run_survival_search

    _check_survival_tune_args(args)  # before any work
    cohort = _load(args)
    ds = dataset_from_cohort(
        cohort,
        Path(args.data).name,
        dict(args.group),
        block_components=args.block_components,
        target=cohort.survival,
    )
    check_survival_search_data(ds.y, args.inner_splits, cli=True)  # before the storage opens
    result = run_survival_search(
        ds,
        args.storage,
        study_name=args.study_name,
        n_trials=args.n_trials,
        timeout=args.timeout,
        inner_splits=args.inner_splits,
        fixed=dict(args.param),
        random_state=args.seed,
        progress=sys.stderr.isatty(),
        heartbeat_interval=args.heartbeat,
    )
    print(
        f"Study {args.study_name!r} in {redact(args.storage)}: {result.n_complete} complete and "
        f"{result.n_pruned} pruned trials ({result.n_new} new)."
    )
    failed = f"{result.n_failed} trial(s) of this run failed: {result.describe_failures()}"
    if result.best_params is None:
        raise InputError(
            f"No trial completed; nothing to refit. {failed if result.n_failed else ''}"
        )
    if result.n_failed:
        print(f"graphboost: note: {failed}.", file=sys.stderr)
    best = result.study.best_trial
    params = json.dumps(
        {k: list(v) if isinstance(v, tuple) else v for k, v in result.best_params.items()}
    )
    print(f"Best inner-CV Harrell's C {best.value:.3f} (trial {best.number}): {params}")
    if not args.output:
        print("Pass --output DIR to refit the best trial on all patients and save the model.")
        return 0
    tuning = {
        "study": str(args.study_name),
        "n_complete": int(result.n_complete),
        "inner_splits": int(args.inner_splits),
        "best_trial": int(best.number),
        "inner_c": float(best.value),
    }
    fitted = fit_survival_model_folder(
        cohort,
        args.output,
        params=result.best_params,
        groups=dict(args.group),
        cv=args.cv,
        random_state=args.seed,
        scan_shape=args.scan_shape,
        block_components=args.block_components,
        overwrite=args.overwrite,
        source=Path(args.data).name,
        keep_ids=args.keep_ids,
        tuning=tuning,
    )
    print(
        f"Best trial refitted on all {len(ds.y)} patients; survival model written to "
        f"{fitted.path}; model card: MODEL_CARD.md."
    )
    if fitted.cv is not None:
        _print_cv(fitted.cv, args.cv)
        print("  (optimistic: the search chose the parameters on these same patients)")
    return 0
