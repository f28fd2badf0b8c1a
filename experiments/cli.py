"""The ``graphboost`` command line: fit, predict, explain, embed, tune, benchmark and demo.

Each subcommand parses its arguments and calls :mod:`experiments.workflows` (or the runner,
tuning and demo built on it). Every subcommand reads a cohort table (CSV, TSV, Parquet or Excel),
takes the label column and the columns to exclude, and writes its results into a folder or file
that it refuses to overwrite unless ``--overwrite`` is given (a model folder is only ever replaced
by a model folder). Errors are printed as one line, ``graphboost: error: ...``, with exit status
2; ``--debug`` shows the full traceback instead. Warnings are printed as one-line notes,
``graphboost: note: ...``.

Examples
--------
::

    graphboost demo --output demo-output
    graphboost fit --data cohort.csv --label outcome --id-column patient_id --output model --cv 5
    graphboost predict --model model --data new_patients.csv --output predictions.csv
    graphboost explain --model model --data new_patients.csv --output explanations.csv
    graphboost benchmark --config duke-tnbc --output runs/tnbc
    graphboost benchmark --config duke-pcr --ablation --output runs/ablation-duke-pcr
    graphboost benchmark --suite design --n-jobs 2 --output runs/design
    graphboost tune --data cohort.csv --label outcome --storage sqlite:///study.db --n-trials 50
    graphboost tune --data cohort.csv --label outcome --n-trials 50 --output tuned --cv 5
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import pandas as pd

from . import workflows
from ._ablation import run_ablation
from ._data import BLOCK_COMPONENTS, InputError, dataset_from_cohort
from ._demo import run_demo
from ._model_extras import check_cv_folds
from ._modelfolder import check_replaceable
from ._report import format_ablation
from ._runner import format_table, load_config, run_benchmark
from ._suite import SUITES, run_suite
from ._tuning import (
    HEARTBEAT_INTERVAL,
    open_storage,
    redact,
    run_search,
    tune_report,
    tuning_record,
)

PROG = "graphboost"


class _Parser(argparse.ArgumentParser):
    """argparse with the project's one-line error format (usage errors included)."""

    def error(self, message):
        raise InputError(message)


def _param(text):
    """``KEY=VALUE`` with a JSON value (falls back to the raw string)."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    try:
        value = json.loads(value)
    except json.JSONDecodeError:
        pass
    if isinstance(value, list):
        value = tuple(value)
    return key.strip(), value


def _group(text):
    """``NAME=col1,col2,...`` or ``NAME=prefix*``."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected NAME=COL1,COL2,... got {text!r}")
    name, cols = text.split("=", 1)
    return name.strip(), [c.strip() for c in cols.split(",") if c.strip()]


def _split_list(values):
    return [c.strip() for v in values for c in v.split(",") if c.strip()]


def _add_on_error(p):
    p.add_argument(
        "--on-error",
        choices=["raise", "skip"],
        default="raise",
        help="an unreadable scan stops the run (raise) or is skipped: that patient then has "
        "no scan (skip)",
    )


def _add_cohort_args(p):
    p.add_argument("--data", required=True, help="cohort table: .csv, .tsv, .parquet or .xlsx")
    p.add_argument("--label", required=True, help="label column")
    p.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="COLS",
        help="column(s) not to use as features (repeat or comma-separate): dates, leakage",
    )
    p.add_argument("--id-column", help="patient ID column (read as text, kept in outputs)")
    p.add_argument(
        "--group",
        action="append",
        type=_group,
        default=[],
        metavar="NAME=COLS",
        help="a named block of columns that defines one candidate graph; a trailing * matches "
        "a prefix (e.g. lab=crp_*)",
    )
    p.add_argument("--scans", help="folder of scans named <patient id>.<ext>, embedded and joined")
    p.add_argument(
        "--scan-shape",
        type=int,
        default=64,
        help="scans are resampled to SCAN_SHAPE^3 before embedding (default 64)",
    )
    p.add_argument(
        "--scan-pretrain-seconds",
        type=float,
        default=workflows.PRETRAIN_SECONDS,
        metavar="S",
        help="before embedding, the scan encoder is pretrained self-supervised on the scans "
        "(masked reconstruction, no label) for about S seconds and saved with the model "
        f"(default {workflows.PRETRAIN_SECONDS:g}; 0: a seeded random encoder, as before)",
    )
    p.add_argument(
        "--block-components",
        type=int,
        default=BLOCK_COMPONENTS,
        metavar="N",
        help="an embedding block (e.g. the scans) with more than N columns is reduced to its "
        f"first N principal components inside each training fold (default {BLOCK_COMPONENTS}; "
        "0 keeps it whole)",
    )
    _add_on_error(p)
    p.add_argument(
        "--param",
        action="append",
        type=_param,
        default=[],
        metavar="KEY=VALUE",
        help="GraphBoostClassifier parameter (JSON value), e.g. n_estimators=30",
    )
    p.add_argument("--seed", type=int, default=0)


def _add_fit(sub):
    p = sub.add_parser("fit", help="fit GraphBoostClassifier on a cohort and save a model folder")
    _add_cohort_args(p)
    p.add_argument("--output", required=True, help="model folder to write")
    p.add_argument(
        "--cv",
        type=int,
        default=0,
        metavar="K",
        help="also report K-fold cross-validated AUROC against logistic regression (and keep "
        "the out-of-fold predictions that calibrate `predict --alpha`)",
    )
    p.add_argument(
        "--calibration",
        metavar="METHOD",
        help="recalibrate the probabilities: sigmoid or isotonic (scikit-learn's "
        "CalibratedClassifierCV: the mean of 10 copies of the model, each with its map fitted on "
        "the inner fold it did not see)",
    )
    p.add_argument(
        "--threshold-target",
        metavar="TARGET:VALUE",
        help="record a decision threshold chosen on the out-of-fold risks (needs --cv): "
        "sensitivity:0.9, specificity:0.8 or net-benefit:0.2 (treating at a 20%% risk)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace a model folder")


def _add_predict(sub):
    for name, help_, out in (
        ("predict", "predict class probabilities with a saved model", "predictions CSV"),
        ("explain", "per-patient contributions and most similar patients", "explanations CSV"),
    ):
        p = sub.add_parser(name, help=help_)
        p.add_argument("--model", required=True, help="model folder written by `graphboost fit`")
        p.add_argument("--data", required=True, help="cohort table of the patients")
        p.add_argument("--scans", help="folder of scans (when the model used them)")
        _add_on_error(p)
        p.add_argument(
            "--invalid-values",
            choices=["raise", "missing"],
            default="raise",
            help="a value that is not a number in a numeric column ('fifty' in age) stops the "
            "run (raise) or is treated as missing, noted and flagged in the output (missing)",
        )
        p.add_argument("--output", required=True, help=f"{out} to write")
        p.add_argument("--overwrite", action="store_true")
        if name == "explain":
            p.add_argument("--n-neighbors", type=int, default=5, help="similar patients shown")
        else:
            p.add_argument(
                "--alpha",
                type=float,
                help="add the conformal prediction set at this error rate (0.1: the set holds "
                "the true class for 90%% of patients) and flag sets of both classes",
            )
            p.add_argument(
                "--typicality",
                action="store_true",
                help="add the training neighbors, their label agreement and a flag for "
                "patients unlike any training patient",
            )


def _add_embed(sub):
    p = sub.add_parser("embed", help="embed a folder of 3D scans with a CNN encoder")
    p.add_argument("--scans", required=True, help="folder of NIfTI / DICOM / .npy volumes")
    p.add_argument("--output", required=True, help="embeddings CSV to write (one row per scan)")
    p.add_argument("--encoder", default=None, help="encoder name (see features.VolumeEmbedder)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument(
        "--cache-dir", help="on-disk cache: a rerun reads it, an interrupted run resumes"
    )
    p.add_argument("--shape", type=int, default=64, help="volumes are resampled to SHAPE^3")
    _add_on_error(p)
    p.add_argument("--overwrite", action="store_true")


def _add_tune(sub):
    p = sub.add_parser(
        "tune",
        help="Optuna search over GraphBoostClassifier's parameters (nested CV, pruning)",
        description="Optuna search with a nested-CV objective and a MedianPruner fed with the "
        "per-round AUROC of the inner validation folds. The study lives in --storage "
        "(SQLite by default, so a killed search resumes; a PostgreSQL URL lets several "
        "workers on several machines share it). Watch it live with optuna-dashboard: "
        "`optuna-dashboard sqlite:///graphboost-study.db`.",
    )
    _add_cohort_args(p)
    p.add_argument(
        "--storage",
        default="sqlite:///graphboost-study.db",
        help="Optuna storage URL (sqlite:///file.db or postgresql://user:pw@host/db)",
    )
    p.add_argument("--study-name", default="graphboost")
    p.add_argument("--n-trials", type=int, default=50, help="new trials in this run (all workers)")
    p.add_argument(
        "--n-workers",
        type=int,
        default=1,
        help="worker processes sharing the study (use a PostgreSQL storage for more "
        "than one: SQLite locks under concurrent writers)",
    )
    p.add_argument("--timeout", type=float, default=None, help="seconds per worker")
    p.add_argument(
        "--heartbeat",
        type=int,
        default=HEARTBEAT_INTERVAL,
        metavar="SECONDS",
        help="a running trial's heartbeat; the trial of a killed worker (silent for twice as "
        f"long) is failed and its parameters run again (default {HEARTBEAT_INTERVAL})",
    )
    p.add_argument("--inner-splits", type=int, default=3, help="folds of the inner CV")
    p.add_argument("--output", help="model folder for the refitted best trial (skip if absent)")
    p.add_argument(
        "--cv",
        type=int,
        default=0,
        metavar="K",
        help="with --output: also report K-fold cross-validated AUROC of the refitted best trial "
        "against logistic regression (optimistic: the search chose the parameters on the same "
        "patients, as the model card says)",
    )
    p.add_argument("--overwrite", action="store_true")


def _add_benchmark(sub):
    p = sub.add_parser(
        "benchmark", help="run a benchmark config or a suite of tasks (repeated CV, all baselines)"
    )
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--config", help="TOML config path or a shipped name (duke-tnbc, ...)")
    which.add_argument(
        "--suite",
        choices=sorted(SUITES),
        help="every task of a suite (design: 6 public cohorts and 3 Duke tasks, 5 x 5 CV): one "
        "table, mean ranks, the Friedman test and a critical-difference figure",
    )
    p.add_argument("--tasks", help="with --suite: a subset of its tasks (comma-separated)")
    p.add_argument(
        "--quick",
        action="store_true",
        help="with --suite: 5 folds x 1 repeat and 200 bootstrap resamples, for iteration",
    )
    p.add_argument("--output", help="results folder (default runs/<name>-<timestamp>)")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--repeats", type=int, help="override [cv] n_repeats")
    p.add_argument("--folds", type=int, help="override [cv] n_splits")
    p.add_argument("--methods", help="override the methods (comma-separated)")
    p.add_argument("--bootstrap", type=int, help="override [metrics] n_bootstrap")
    p.add_argument(
        "--n-jobs",
        type=int,
        help="folds fitted at once (joblib processes, one thread each); the results do not "
        "depend on it",
    )
    p.add_argument(
        "--calibration",
        metavar="METHOD",
        help="add recalibrated twins (sigmoid or isotonic) of the [calibration] methods "
        "(default graphboost): override [calibration] method",
    )
    p.add_argument("--alpha", type=float, help="override [metrics] conformal_alpha")
    p.add_argument(
        "--ablation",
        action="store_true",
        help="with --config: modality ablation instead of the benchmark: each method "
        "([ablation] methods, default graphboost and logistic) on each modality alone and on "
        "all of them, same folds, with paired bootstrap CIs of each modality minus all",
    )
    p.add_argument(
        "--modality",
        action="append",
        type=_group,
        default=[],
        metavar="NAME=PREFIXES",
        help="a modality: the columns whose names start with one of the comma-separated "
        "prefixes (repeat; overrides [ablation] modalities), e.g. clinical=clin:,age "
        "imaging=img:. Default: one per column prefix (text before the first ':'; columns "
        "without one are 'clinical')",
    )


def _add_demo(sub):
    p = sub.add_parser(
        "demo", help="end-to-end run on the synthetic cohort shipped with graphboost"
    )
    p.add_argument("--output", default="demo-output", help="folder for the model and the report")
    p.add_argument("--n-patients", type=int, default=120)
    p.add_argument(
        "--pretrain-seconds",
        type=float,
        default=45,
        help="time budget of the self-supervised pretraining of the scan encoder",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--overwrite", action="store_true")


def build_parser():
    """The argument parser (exposed for the documentation and the tests)."""
    parser = _Parser(
        prog=PROG,
        description="Patient-similarity graph boosting: fit, predict, explain and benchmark "
        "from the command line.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for add in (_add_fit, _add_predict, _add_embed, _add_tune, _add_benchmark, _add_demo):
        add(sub)
    return parser


# --------------------------------------------------------------------------- helpers
def _note(message):
    print(f"{PROG}: note: {' '.join(str(message).split())}", file=sys.stderr)


def _check_new_file(path, overwrite):
    path = Path(path)
    if path.exists() and not overwrite:
        raise InputError(f"Output file '{path}' already exists; pass --overwrite to replace it.")
    if not path.parent.is_dir():
        raise InputError(f"Output folder '{path.parent}' does not exist.")
    return path


def _write_csv_atomic(df, path):
    tmp = path.with_name(f".{path.name}.partial")
    try:
        df.to_csv(tmp, index=False)
        tmp.replace(path)
    except BaseException:  # a full disk or an interrupt: no half-written file is left
        tmp.unlink(missing_ok=True)
        raise


def _write_skipped(out, skipped):
    """List skipped scans by file name in ``<output stem>.skipped_scans.csv`` beside ``out``."""
    listing = out.with_name(f"{out.stem}.{workflows.SKIPPED_SCANS}")
    if not skipped:
        listing.unlink(missing_ok=True)  # a list left by an earlier run would mislead
        return
    _write_csv_atomic(pd.DataFrame({"file": skipped}), listing)
    _note(f"{len(skipped)} scan(s) could not be read and were skipped; listed in {listing}.")


def _load_cohort(args):
    return workflows.load_cohort(
        args.data,
        label=args.label,
        id_column=args.id_column,
        exclude=_split_list(args.exclude),
        scans=args.scans,
        scan_shape=args.scan_shape,
        on_error=args.on_error,
        scan_pretrain_seconds=args.scan_pretrain_seconds,
    )


def _print_cv(cv, k):
    calib = cv.clinical.calibration if cv.clinical is not None else None
    for r in cv.table.itertuples():
        slope = ""
        if calib is not None:
            c = calib.set_index("method").loc[r.method]
            slope = f"; calibration slope {c.slope:.2f} ({c.slope_low:.2f}-{c.slope_high:.2f})"
        print(
            f"  {k}-fold CV AUROC {workflows._cv_name(r.method)}: {r.auroc:.3f} "
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
        "source": Path(args.data).name,
        "progress": sys.stderr.isatty(),
    }


# --------------------------------------------------------------------------- commands
def cmd_fit(args):
    check_replaceable(args.output, args.overwrite)  # before any work
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
    if (fitted.path / workflows.SKIPPED_SCANS).is_file():
        _note(f"Skipped scans are listed in {fitted.path / workflows.SKIPPED_SCANS}.")
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
    """Check ``--output`` first, then compute the frame, write it atomically, print a line."""
    out = _check_new_file(args.output, args.overwrite)
    frame = compute()
    _write_csv_atomic(frame, out)
    print(message.format(n=len(frame), out=out))
    _write_skipped(out, frame.attrs.get("skipped_scans", []))
    return frame


def cmd_predict(args):
    """``predict`` (a row per patient) and ``explain`` (a row per patient and graph)."""
    kwargs = {"scans": args.scans, "on_error": args.on_error}
    kwargs["invalid_values"] = args.invalid_values
    if args.command == "explain":
        kwargs["n_neighbors"] = args.n_neighbors
        run, message = workflows.explain, "Explanations ({n} rows) written to {out}."
    else:
        kwargs.update(alpha=args.alpha, typicality=args.typicality)
        run, message = workflows.predict, "Predictions for {n} patients written to {out}."
    frame = _write_table(args, lambda: run(args.model, args.data, **kwargs), message)
    if args.command == "explain":
        shares = frame.attrs.get("mean_modality_shares", {})
        parts = ", ".join(f"{m} {v:.3f}" for m, v in shares.items())
        print(f"Mean share of the score by modality: {parts}.")
    return 0


def cmd_embed(args):
    kwargs = {"encoder": args.encoder, "device": args.device, "cache_dir": args.cache_dir}
    kwargs.update(shape=args.shape, on_error=args.on_error)

    def compute():
        emb = workflows.embed_scans(args.scans, **kwargs).reset_index()
        emb.attrs["skipped_scans"] = [Path(s).name for s in emb.attrs.get("skipped", [])]
        return emb

    _write_table(args, compute, "Embeddings of {n} scans written to {out}.")
    return 0


def _run_suite(args):
    """``benchmark --suite``: every task of the suite, one results folder."""
    res = run_suite(
        args.suite,
        tasks=_split_list([args.tasks]) if args.tasks else None,
        methods=_split_list([args.methods]) if args.methods else None,
        n_splits=args.folds or 5,
        n_repeats=args.repeats or (1 if args.quick else 5),
        n_bootstrap=args.bootstrap if args.bootstrap is not None else (200 if args.quick else 1000),
        n_jobs=args.n_jobs,
        output=args.output or f"runs/suite-{args.suite}-{{timestamp}}",
        overwrite=args.overwrite,
        progress=sys.stderr.isatty(),
    )
    print((res.output / "suite.md").read_text())
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


def cmd_benchmark(args):
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
    """The tune options that need no data, checked before the search."""
    check_cv_folds(args.cv, "--cv")
    if args.cv and not args.output:
        raise InputError(
            f"--cv {args.cv} cross-validates the refitted best trial, so it needs --output DIR "
            "(the model folder to write); got --cv without --output."
        )
    if args.output:
        check_replaceable(args.output, args.overwrite)
    open_storage(args.storage, args.heartbeat)  # unreachable: an error before anything is read


def cmd_tune(args):
    _check_tune_args(args)  # before any work
    cohort = _load_cohort(args)
    result = run_search(
        dataset_from_cohort(
            cohort, Path(args.data).name, dict(args.group), block_components=args.block_components
        ),
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
    )
    print(
        f"Study {args.study_name!r} in {redact(args.storage)}: {result.n_complete} complete and "
        f"{result.n_pruned} pruned trials ({result.n_new} new)."
    )
    if result.best_params is None:
        raise InputError("No trial completed; nothing to refit.")
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
        return COMMANDS[args.command](args)


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


if __name__ == "__main__":
    sys.exit(main())
