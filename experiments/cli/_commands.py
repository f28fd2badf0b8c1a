"""The subcommands of ``graphboost``: each reads its parsed arguments and calls the workflows."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

from .. import workflows
from .._base import InputError
from .._demo import run_demo
from ..benchmark._ablation import run_ablation
from ..benchmark._config import load_config
from ..benchmark._external import run_external_validation
from ..benchmark._report import format_ablation
from ..benchmark._runner import run_benchmark
from ..benchmark._suite import run_suite
from ..benchmark._survival_suite import run_survival_suite
from ..clinical._block_report import block_guard_summary
from ..evaluation._summary import format_table
from ..modelfolder._extras import check_cv_folds
from ..tuning._checks import check_fixed_params, check_search_data, check_search_options
from ..tuning._search import (
    check_storage_url,
    open_storage,
    redact,
    run_search,
    tune_report,
    tuning_record,
)
from ..tuning._survival_search import check_fixed_survival_params
from ..workflows._cv import _cv_name
from ._outputs import check_file_output, check_folder_output, write_csv_atomic, write_skipped
from ._parser import PROG, _split_list, build_parser, cohort_options
from ._survival import (
    check_outcome_options,
    cmd_fit_survival,
    cmd_tune_survival,
    is_survival_run,
    survival_runner,
    survival_text,
)


# --------------------------------------------------------------------------- helpers
def _note(message):
    print(f"{PROG}: note: {' '.join(str(message).split())}", file=sys.stderr)


def _load_cohort(args):
    return workflows.load_cohort(args.data, label=args.label, **cohort_options(args))


def _print_cv(cv, k):
    calib = cv.clinical.calibration if cv.clinical is not None else None
    for r in cv.table.itertuples():
        slope = ""
        if calib is not None:
            c = calib.set_index("method").loc[r.method]
            slope = f"; calibration slope {c.slope:.2f} ({c.slope_low:.2f}-{c.slope_high:.2f})"
        print(
            f"  {k}-fold CV AUROC {_cv_name(r.method)}: {r.auroc:.3f} "
            f"(95% CI {r.auroc_low:.3f}-{r.auroc_high:.3f}){slope}"
        )


def _folder_options(args):
    """The ``fit_model_folder`` options that ``fit`` and ``tune --output`` share."""
    return {
        "groups": dict(args.group),
        "cv": args.cv,
        "random_state": args.seed,
        "scan_shape": args.scan_shape,
        "block_components": args.block_components,
        "overwrite": args.overwrite,
        "keep_ids": args.keep_ids,
        "source": Path(args.data).name,
        "progress": sys.stderr.isatty() and not args.quiet,
    }


# --------------------------------------------------------------------------- commands
def cmd_fit(args):
    if check_outcome_options(args):  # --time and --event: GraphBoostSurvivalAnalysis
        return cmd_fit_survival(args)
    check_folder_output(args.output, args.overwrite)  # before any work
    fitted = workflows.fit_model_folder(
        _load_cohort(args),
        args.output,
        params=dict(args.param),
        calibration=args.calibration,
        threshold_target=args.threshold_target,
        **_folder_options(args),
    )
    rounds = len(fitted.model[-1].selected_graphs_)
    print(f"Model written to {fitted.path} ({rounds} rounds); model card: MODEL_CARD.md.")
    for line in block_guard_summary(fitted.model[-1]):
        print(f"  {line}")
    if (fitted.path / workflows.SKIPPED_SCANS).is_file():
        _note(f"Skipped scans are listed in {fitted.path / workflows.SKIPPED_SCANS}.")
    if (fitted.path / workflows.UNMATCHED_SCANS).is_file():
        _note(f"Unmatched patient IDs are listed in {fitted.path / workflows.UNMATCHED_SCANS}.")
    if fitted.cv is not None:
        _print_cv(fitted.cv, args.cv)
    if args.threshold_target:
        t = json.loads((fitted.path / "threshold.json").read_text())
        print(
            f"  Threshold {t['threshold']:.4f} for {args.threshold_target} (out-of-fold): "
            f"sensitivity {t['sensitivity']:.3f}, specificity {t['specificity']:.3f}"
        )
    return 0


def _write_table(args, compute, message):
    """Check ``--output`` first, then compute the frame, write it (and its list of skipped
    scans) atomically, and only then say so."""
    data = getattr(args, "data", None)
    out = check_file_output(
        args.output, args.overwrite, data=data, scans=args.scans, command=args.command
    )
    frame = compute()
    skipped = frame.attrs.get("skipped_scans", [])
    write_csv_atomic(frame, out)
    listing = write_skipped(out, skipped)
    print(message.format(n=len(frame), out=out))
    if listing is not None:
        _note(f"{len(skipped)} scan(s) could not be read and were skipped; listed in {listing}.")
    return frame


def _model_and_data(args, folder):
    """The model and the new patients' table; with ``--decimal ,`` the table is read here (the
    model folder names its ID column, read as text)."""
    if args.decimal == ".":
        return folder, args.data
    from features import read_table

    return folder, read_table(args.data, id_column=folder.spec["id_column"], decimal=args.decimal)


def cmd_predict(args):
    """``predict`` (a row per patient) and ``explain`` (a row per patient and graph)."""
    check_file_output(  # before any work, the model's loading included
        args.output, args.overwrite, data=args.data, scans=args.scans, command=args.command
    )
    readable = _readable_path(args) if args.command == "explain" else None
    folder = workflows.load_model_folder(args.model)
    if is_survival_run(args, folder):  # a survival model: risk and survival at --horizon
        return _predict_survival(args, folder, readable)
    kwargs = {"scans": args.scans, "on_error": args.on_error, "progress": not args.quiet}
    kwargs["invalid_values"] = args.invalid_values
    if args.command == "explain":
        kwargs["n_neighbors"] = args.n_neighbors
        run, message = workflows.explain, "Explanations ({n} rows) written to {out}."
    else:
        kwargs.update(alpha=args.alpha, typicality=args.typicality)
        run, message = workflows.predict, "Predictions for {n} patients written to {out}."
    frame = _write_table(args, lambda: run(*_model_and_data(args, folder), **kwargs), message)
    if args.command == "explain":
        _print_mean_shares(frame)
        _write_readable(frame, readable)
    return 0


def _predict_survival(args, folder, readable):
    """``predict`` and ``explain`` of a survival model folder (``readable``: the explanations'
    text file, checked)."""
    frame = _write_table(args, *survival_runner(args, folder))
    if readable is not None:
        _print_mean_shares(frame)
        _write_readable(frame, readable, survival_text)
    return 0


def _print_mean_shares(frame):
    shares = frame.attrs.get("mean_modality_shares", {})
    parts = ", ".join(f"{m} {v:.3f}" for m, v in shares.items())
    print(f"Mean share of the score by modality: {parts}.")


def _readable_path(args):
    """``explain``: the text file beside ``--output`` that puts each patient's explanation in
    words (``<output stem>.readable.txt``); never the input table, replaced only with
    ``--overwrite``."""
    out = Path(args.output)
    path = out.with_name(f"{out.stem}.readable.txt")
    if path.resolve() == Path(args.data).resolve():
        raise InputError(
            f"The readable explanations go to '{path}', the input table given by --data; "
            "explain never writes over its input. Give another --output name."
        )
    if path.exists() and not args.overwrite:
        raise InputError(f"Output file '{path}' already exists; pass --overwrite to replace it.")
    return path


def _write_readable(frame, path, text=None):
    """Every patient's explanation in words (``experiments.clinical.explanation_text``, or
    ``text`` of the frame)."""
    from ..clinical._explanations import explanation_text

    tmp = path.with_name(f".{path.name}.partial")
    try:
        tmp.write_text((text or explanation_text)(frame) + "\n", encoding="utf-8")
        tmp.replace(path)
    except BaseException:  # a full disk or an interrupt: no half-written file is left
        tmp.unlink(missing_ok=True)
        raise
    print(f"Explanations in words written to {path}.")


def cmd_embed(args):
    kwargs = {"encoder": args.encoder, "device": args.device, "cache_dir": args.cache_dir}
    kwargs.update(shape=args.shape, on_error=args.on_error, progress=not args.quiet)
    kwargs["scheduler"] = args.scheduler

    def compute():
        emb = workflows.embed_scans(args.scans, **kwargs).reset_index()
        emb.attrs["skipped_scans"] = [Path(s).name for s in emb.attrs.get("skipped", [])]
        return emb

    _write_table(args, compute, "Embeddings of {n} scans written to {out}.")
    return 0


def _graphboost_params(args, survival):
    """``--param KEY=VALUE`` of ``benchmark`` as the runners' ``params`` (for the graphboost
    method), checked against the estimator's parameters first; None when none was given."""
    if not args.param:
        return None
    fixed = dict(args.param)
    if survival:
        check_fixed_survival_params(fixed)
    else:
        check_fixed_params(fixed, option="--param")
    return {"graphboost": fixed}


def _run_suite(args):
    """``benchmark --suite``: every task of the suite, one results folder."""
    if args.suite == "survival":
        return _run_survival_suite(args)
    res = run_suite(
        args.suite,
        tasks=_split_list([args.tasks]) if args.tasks else None,
        methods=_split_list([args.methods]) if args.methods else None,
        n_splits=args.folds or 5,
        n_repeats=args.repeats or (1 if args.quick else 5),
        n_bootstrap=args.bootstrap if args.bootstrap is not None else (200 if args.quick else 1000),
        params=_graphboost_params(args, survival=False),
        n_jobs=args.n_jobs,
        output=args.output or f"runs/suite-{args.suite}-{{timestamp}}",
        overwrite=args.overwrite,
        progress=sys.stderr.isatty(),
    )
    print((res.output / "suite.md").read_text())
    print(f"Results in {res.output}")
    return 0


def _run_survival_suite(args):
    """``benchmark --suite survival``: the survival tasks, Harrell's C, ranks, one folder."""
    res = run_survival_suite(
        _split_list([args.tasks]) if args.tasks else None,
        _split_list([args.methods]) if args.methods else None,
        n_splits=args.folds or 5,
        n_repeats=args.repeats or (1 if args.quick else 5),
        n_bootstrap=args.bootstrap if args.bootstrap is not None else (200 if args.quick else 1000),
        params=_graphboost_params(args, survival=True),
        n_jobs=args.n_jobs or 1,
        max_patients=args.max_patients,
        output=args.output or "runs/suite-survival-{timestamp}",
        overwrite=args.overwrite,
    )
    print((res.output / "survival_suite.md").read_text())
    print(f"Results in {res.output}")
    return 0


def _clinical_overrides(cfg, args):
    """``--calibration`` and ``--alpha`` into the config; twins follow ``--methods``."""
    calibration = cfg["calibration"]
    if args.calibration is not None:
        calibration["method"] = args.calibration
    if args.methods and "methods" in calibration:
        kept = [m for m in calibration["methods"] if m in cfg["methods"]]
        if kept:
            calibration["methods"] = kept
        else:  # the default: graphboost if run, else every method
            del calibration["methods"]
    if args.alpha is not None:
        cfg["metrics"]["conformal_alpha"] = args.alpha


def _ablation_overrides(cfg, args):
    """``--modality`` into ``[ablation] modalities``; ``--methods`` into its methods."""
    ablation = cfg["ablation"]
    if args.modality:
        ablation["modalities"] = dict(args.modality)
    if args.methods and args.ablation:
        ablation["methods"] = list(cfg["methods"])
    elif args.methods and "methods" in ablation:
        kept = [m for m in ablation["methods"] if m in cfg["methods"]]
        if kept:
            ablation["methods"] = kept
        else:  # the default: graphboost and logistic if run, else every method
            del ablation["methods"]


def _print_shares(shares, where):
    if shares is not None:
        text = ", ".join(f"{r.modality} {r.mean_share:.3f}" for r in shares.itertuples())
        print(f"Mean share of the graphboost score{where}: {text}")


def _print_ablation(res):
    print(format_ablation(res.table))
    _print_shares(res.shares, " (arm all)")
    print(f"Results in {res.output}")
    return 0


_NOT_EXTERNAL = ("tasks", "quick", "repeats", "folds", "n_jobs", "calibration", "alpha")
_NOT_EXTERNAL += ("ablation", "modality")


def _run_external(args):
    """``benchmark --external DEV:VAL``: fit on one cohort, validate on the other, one folder."""
    given = [f"--{o.replace('_', '-')}" for o in _NOT_EXTERNAL if getattr(args, o)]
    if given:
        raise InputError(
            f"{', '.join(given)} does not go with --external, which takes --methods, "
            "--param, --bootstrap, --output and --overwrite."
        )
    res = run_external_validation(
        args.external,
        _split_list([args.methods]) if args.methods else None,
        params=_graphboost_params(args, survival=True),
        n_bootstrap=args.bootstrap if args.bootstrap is not None else 1000,
        output=args.output or f"runs/external-{args.external.replace(':', '-')}-{{timestamp}}",
        overwrite=args.overwrite,
    )
    print((res.output / "external.md").read_text())
    print(f"Results in {res.output}")
    return 0


def cmd_benchmark(args):
    if args.param and args.config:
        raise InputError(
            "--param goes with --suite or --external; a --config sets parameters in its "
            "[params] table."
        )
    if args.max_patients is not None and args.suite != "survival":
        raise InputError("--max-patients goes with --suite survival.")
    if args.external:
        return _run_external(args)
    if args.suite:
        if args.ablation or args.modality:
            raise InputError("--ablation and --modality go with --config, not with --suite.")
        return _run_suite(args)
    if args.tasks or args.quick:
        raise InputError("--tasks and --quick go with --suite, not with --config.")
    if args.ablation and args.calibration:
        raise InputError("--calibration goes with a benchmark, not with --ablation.")
    cfg = load_config(args.config)
    overrides = {"n_repeats": args.repeats, "n_splits": args.folds}
    cfg["cv"].update({k: v for k, v in overrides.items() if v is not None})
    if args.methods:
        cfg["methods"] = _split_list([args.methods])
        cfg["params"] = {k: v for k, v in cfg["params"].items() if k in cfg["methods"]}
    if args.bootstrap is not None:
        cfg["metrics"]["n_bootstrap"] = args.bootstrap
    if args.n_jobs is not None:
        cfg["n_jobs"] = args.n_jobs
    _clinical_overrides(cfg, args)
    _ablation_overrides(cfg, args)
    cfg = load_config(cfg)  # re-check after the overrides
    if args.ablation:
        output = args.output or f"runs/ablation-{cfg['name']}-{{timestamp}}"
        return _print_ablation(run_ablation(cfg, output=output, overwrite=args.overwrite))
    output = args.output or f"runs/{cfg['name']}-{{timestamp}}"
    res = run_benchmark(cfg, output=output, overwrite=args.overwrite)
    print(format_table(res.table))
    if res.comparison:
        pb = res.comparison["paired_bootstrap"]
        print(
            f"GraphBoostClassifier - {res.comparison['baseline']}: AUROC {pb['delta']:+.3f} "
            f"(95% CI {pb['low']:+.3f} to {pb['high']:+.3f}, p = {pb['p_value']:.3f}); "
            f"folds won {res.comparison['folds_won']}"
        )
    _print_shares(res.modality_shares, "")
    print(f"Results in {res.output}")
    return 0


def _check_tune_args(args):
    """The tune options that need no data, checked before the search (nothing written)."""
    check_search_options(
        args.n_trials, args.n_workers, args.inner_splits, args.timeout, dict(args.param), cli=True
    )
    check_cv_folds(args.cv, "--cv")
    if args.cv and not args.output:
        raise InputError(
            f"--cv {args.cv} cross-validates the refitted best trial, so it needs --output DIR "
            "(the model folder to write); got --cv without --output."
        )
    if args.output:
        check_folder_output(args.output, args.overwrite)
    if not check_storage_url(args.storage):  # a SQLite file is created only once all is checked
        open_storage(args.storage, args.heartbeat)  # unreachable: an error before any reading


def cmd_tune(args):
    if check_outcome_options(args):  # --time and --event: GraphBoostSurvivalAnalysis
        return cmd_tune_survival(args)
    _check_tune_args(args)  # before any work
    cohort = _load_cohort(args)
    dataset, front = workflows.cohort_task(
        cohort, Path(args.data).name, dict(args.group), args.block_components, args.seed
    )
    # before the storage is opened
    check_search_data(dataset.y, args.inner_splits, dict(args.param), cli=True)
    result = run_search(
        dataset,
        args.storage,
        study_name=args.study_name,
        n_trials=args.n_trials,
        n_workers=args.n_workers,
        timeout=args.timeout,
        inner_splits=args.inner_splits,
        fixed=dict(args.param),
        random_state=args.seed,
        progress=args.n_workers == 1 and sys.stderr.isatty(),
        heartbeat_interval=args.heartbeat,
        front=front,
    )
    print(
        f"Study {args.study_name!r} in {redact(args.storage)}: {result.n_complete} complete and "
        f"{result.n_pruned} pruned trials ({result.n_new} new)."
    )
    failed = f"{result.n_failed} trial(s) of this run failed: {result.describe_failures()}"
    if result.best_params is None:
        raise InputError(
            f"No trial completed; nothing to refit. {failed}."
            if result.n_failed
            else "No trial completed; nothing to refit."
        )
    if result.n_failed:
        _note(f"{failed}.")
    best = result.study.best_trial
    params = json.dumps(result.best_params)
    print(f"Best inner-CV AUROC {best.value:.3f} (trial {best.number}): {params}")
    if not args.output:
        print("Pass --output DIR to refit the best trial on all patients and save the model.")
        return 0
    return _refit_best(args, cohort, result)


def _refit_best(args, cohort, result):
    """``tune --output``: the best trial refitted on all patients (and ``--cv``) in a folder."""
    fitted = workflows.fit_model_folder(
        cohort,
        args.output,
        params=result.best_params,
        **_folder_options(args),
        report_extra=tune_report(result, args.storage, args.study_name, args.inner_splits),
        tuning=tuning_record(result, args.study_name, args.inner_splits),
    )
    print(
        f"Best trial refitted on all {len(cohort.y)} patients; model written to {fitted.path}; "
        "model card: MODEL_CARD.md."
    )
    if fitted.cv is not None:
        _print_cv(fitted.cv, args.cv)
        print("  (optimistic: the search chose the parameters on these same patients)")
    return 0


def cmd_demo(args):
    result = run_demo(
        args.output,
        n_patients=args.n_patients,
        pretrain_seconds=args.pretrain_seconds,
        random_state=args.seed,
        overwrite=args.overwrite,
    )
    gb, lr = (r for r in result.cv.table.itertuples())
    print(
        f"Cross-validated AUROC: GraphBoostClassifier {gb.auroc:.3f} "
        f"(95% CI {gb.auroc_low:.3f}-{gb.auroc_high:.3f}), logistic regression "
        f"{lr.auroc:.3f} ({lr.auroc_low:.3f}-{lr.auroc_high:.3f})."
    )
    print(f"Model and report in {result.path} (read {result.path / 'report.md'}).")
    return 0


COMMANDS = {
    "fit": cmd_fit,
    "predict": cmd_predict,
    "explain": cmd_predict,
    "embed": cmd_embed,
    "tune": cmd_tune,
    "benchmark": cmd_benchmark,
    "demo": cmd_demo,
}


def _run(argv):
    """Parse and run one command, warnings printed as one-line notes (filters unchanged)."""
    args = build_parser().parse_args(argv)
    with warnings.catch_warnings():
        warnings.showwarning = lambda message, *rest, **kw: _note(message)
        try:
            return COMMANDS[args.command](args)
        except workflows.ScanListError as exc:  # the file names go to a list, named once written
            raise exc.listed(getattr(args, "output", None)) from None


def main(argv=None):
    """Entry point of the ``graphboost`` console script; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    try:
        return _run(argv)
    except (InputError, FileNotFoundError, ValueError, ImportError, OSError) as exc:
        if debug:
            raise
        print(f"{PROG}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # an unexpected failure: still one line, the traceback on --debug
        if debug:
            raise
        message = " ".join(str(exc).split())
        print(
            f"{PROG}: error: unexpected {type(exc).__name__}: {message} "
            "(run with --debug for the traceback)",
            file=sys.stderr,
        )
        return 2
