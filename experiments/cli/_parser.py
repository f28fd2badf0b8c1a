"""The argument parser of the ``graphboost`` command: subcommands and their options."""

from __future__ import annotations

import argparse
import json

from .. import workflows
from .._base import InputError
from ..benchmark._external import EXTERNAL_PAIRS
from ..benchmark._suite import SUITES
from ..evaluation._dataset import BLOCK_COMPONENTS
from ..tuning._search import (
    HEARTBEAT_INTERVAL,
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
    name, cols = name.strip(), [c.strip() for c in cols.split(",") if c.strip()]
    if not name or not cols:
        raise argparse.ArgumentTypeError(f"expected NAME=COL1,COL2,... got {text!r}")
    return name, cols


class _AppendNamed(argparse.Action):
    """Append a ``(name, columns)`` pair of :func:`_group`; a name given twice is an error (a
    dict of the pairs would keep only the last)."""

    def __call__(self, parser, namespace, values, option_string=None):
        items = list(getattr(namespace, self.dest, None) or [])
        name, _ = values
        if name in dict(items):
            raise InputError(
                f"{option_string} {name!r} is given twice; give each {option_string} its own "
                "name, or all the columns of one in one comma-separated list."
            )
        setattr(namespace, self.dest, [*items, values])


def _split_list(values):
    return [c.strip() for v in values for c in v.split(",") if c.strip()]


def cohort_options(args):
    """The options of ``--data`` and ``--scans`` that every cohort reader takes (label aside)."""
    return {
        "id_column": args.id_column,
        "exclude": _split_list(args.exclude),
        "scans": args.scans,
        "scan_shape": args.scan_shape,
        "on_error": args.on_error,
        "scan_pretrain_seconds": args.scan_pretrain_seconds,
        "scan_pretrain_epochs": args.scan_pretrain_epochs,
        "scan_embedder": args.scan_embedder,
        "progress": not args.quiet,
        "decimal": args.decimal,
    }


def _add_on_error(p):
    p.add_argument(
        "--on-error",
        choices=["raise", "skip"],
        default="raise",
        help="an unreadable scan stops the run (raise) or is skipped: that patient then has "
        "no scan (skip)",
    )


def _add_quiet(p):
    p.add_argument(
        "--quiet", action="store_true", help="no progress bars (pretraining, embedding, folds)"
    )


def _add_param(p, help_text):
    """``--param KEY=VALUE``, repeatable, JSON values (:func:`_param`)."""
    p.add_argument(
        "--param", action="append", type=_param, default=[], metavar="KEY=VALUE", help=help_text
    )


def _add_cohort_args(p):
    p.add_argument("--data", required=True, help="cohort table: .csv, .tsv, .parquet or .xlsx")
    p.add_argument(
        "--label", help="label column (a class per patient; or --time and --event instead)"
    )
    p.add_argument(
        "--time",
        metavar="COL",
        help="with --event, instead of --label: the follow-up time column of a censored "
        "outcome (time to the event or to the last follow-up, > 0): fits "
        "GraphBoostSurvivalAnalysis",
    )
    p.add_argument(
        "--event",
        metavar="COL",
        help="with --time: the event column (1: the event happened at that time, 0: censored)",
    )
    p.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="COLS",
        help="column(s) not to use as features (repeat or comma-separate): dates, leakage",
    )
    p.add_argument(
        "--decimal",
        default=".",
        choices=[".", ","],
        help="the decimal mark of the table's numbers (default .; --decimal , reads 56,8 as 56.8)",
    )
    p.add_argument(
        "--id-column",
        help="patient ID column (read as text; named in the predict and explain outputs, and "
        "in a model folder only with --keep-ids)",
    )
    p.add_argument(
        "--group",
        action=_AppendNamed,
        type=_group,
        default=[],
        metavar="NAME=COLS",
        help="a named block of columns that defines one candidate graph; a trailing * matches "
        "a prefix (e.g. lab=crp_*)",
    )
    p.add_argument("--scans", help="folder of scans named <patient id>.<ext>, embedded and joined")
    p.add_argument(
        "--scan-embedder",
        choices=list(workflows.SCAN_EMBEDDERS),
        default=workflows.DEFAULT_SCAN_EMBEDDER,
        help="what the scans become: self-supervised, a 256-d embedding by an encoder "
        "pretrained on the scans without labels, reduced to 8 components in the fold; or "
        "supervised, the logit of a 3D CNN trained on the label, cross-fitted inside the "
        "training patients only (32^3, 3 folds x 25 epochs on a CPU; 64^3, 5 folds x 30 "
        f"epochs on a GPU). Default {workflows.DEFAULT_SCAN_EMBEDDER}",
    )
    p.add_argument(
        "--scan-shape",
        type=int,
        default=None,
        help="scans are resampled to SCAN_SHAPE^3 before embedding (default 64; with "
        "--scan-embedder supervised 32 on a CPU, 64 on a GPU)",
    )
    p.add_argument(
        "--scan-pretrain-epochs",
        type=int,
        default=None,
        metavar="N",
        help="before embedding, the scan encoder is pretrained self-supervised on the scans "
        "(no label) for N epochs: masked reconstruction, saved with the model (default "
        f"{workflows.PRETRAIN_EPOCHS}); with --scan-embedder supervised, SimCLR, the start of "
        "its encoders (default 12). 0: a seeded random encoder. A fixed number: the same "
        "command and seed give the same model on any machine",
    )
    p.add_argument(
        "--scan-pretrain-seconds",
        type=float,
        default=workflows.PRETRAIN_SECONDS,
        metavar="S",
        help="an upper time limit of the pretraining (default none); if it stops the "
        "pretraining early, a note and the model card say so (the model then depends on the "
        "machine's speed)",
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
    _add_quiet(p)
    _add_param(p, "GraphBoostClassifier parameter (JSON value), e.g. n_estimators=30")
    p.add_argument("--seed", type=int, default=0)


def _add_fit(sub):
    p = sub.add_parser(
        "fit",
        help="fit GraphBoostClassifier (--label) or GraphBoostSurvivalAnalysis (--time and "
        "--event) on a cohort and save a model folder",
    )
    _add_cohort_args(p)
    p.add_argument("--output", required=True, help="model folder to write")
    p.add_argument(
        "--cv",
        type=int,
        default=0,
        metavar="K",
        help="also report K-fold cross-validated AUROC against logistic regression (and keep "
        "the out-of-fold predictions that calibrate `predict --alpha`); with --time and "
        "--event: Harrell's and Uno's C, time-dependent AUC, integrated Brier score and "
        "calibration against a ridge Cox model",
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
    _add_keep_ids(p)
    _add_horizon(
        p,
        "with --time and --event: a time at which the model card reports the time-dependent "
        "AUC (repeat for several; the calibration is read at the largest; default the "
        "quartiles of the follow-up times)",
    )


def _add_horizon(p, help_):
    p.add_argument("--horizon", action="append", type=float, default=[], metavar="T", help=help_)


def _add_keep_ids(p):
    p.add_argument(
        "--keep-ids",
        action="store_true",
        help="with --cv: write each patient's ID (--id-column) in cv_predictions.csv; by "
        "default the model folder holds no ID and names patients by their row in the table",
    )


def _add_predict(sub):
    for name, help_, out in (
        (
            "predict",
            "predict class probabilities (or, for a survival model, the risk and the survival "
            "at --horizon times) with a saved model",
            "predictions CSV",
        ),
        ("explain", "per-patient contributions and most similar patients", "explanations CSV"),
    ):
        p = sub.add_parser(name, help=help_)
        p.add_argument("--model", required=True, help="model folder written by `graphboost fit`")
        p.add_argument("--data", required=True, help="cohort table of the patients")
        p.add_argument("--scans", help="folder of scans (when the model used them)")
        _add_on_error(p)
        _add_quiet(p)
        p.add_argument(
            "--invalid-values",
            choices=["raise", "missing"],
            default="raise",
            help="a value that is not a number in a numeric column ('fifty' in age) stops the "
            "run (raise) or is treated as missing, noted and flagged in the output (missing)",
        )
        p.add_argument(
            "--decimal",
            default=".",
            choices=[".", ","],
            help="the decimal mark of the table's numbers (default .; , reads 56,8 as 56.8)",
        )
        p.add_argument("--output", required=True, help=f"{out} to write")
        p.add_argument("--overwrite", action="store_true")
        if name == "explain":
            p.add_argument("--n-neighbors", type=int, default=5, help="similar patients shown")
            _add_horizon(
                p,
                "a survival model: the time at which survival is read (the neighbors' "
                "Kaplan-Meier beside the cohort's; default the largest horizon of the card)",
            )
        else:
            _add_horizon(
                p,
                "a survival model: write the survival probability at T (survival_at_T; repeat "
                "for several, each up to the end of the training follow-up; default the "
                "card's horizons)",
            )
        if name == "predict":
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
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="embed on a Dask cluster: the address of its scheduler (tcp://host:8786, from "
        "`dask scheduler`); each worker embeds chunks of scans on its own device, the scans "
        "and --cache-dir at the same paths on every worker (the distributed extra)",
    )
    _add_on_error(p)
    _add_quiet(p)
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
    p.add_argument(
        "--study-name",
        default="graphboost",
        help="the study in --storage (default graphboost); a rerun with the same name resumes "
        "it. A study records what it was created for (the data, label, fixed --param, "
        "--inner-splits, --seed) and refuses another search: name a new study for another "
        "table or other parameters",
    )
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
    _add_keep_ids(p)
    p.add_argument("--overwrite", action="store_true")


def _add_benchmark(sub):
    p = sub.add_parser(
        "benchmark", help="run a benchmark config or a suite of tasks (repeated CV, all baselines)"
    )
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--config", help="TOML config path or a shipped name (duke-tnbc, ...)")
    which.add_argument(
        "--suite",
        choices=sorted([*SUITES, "survival"]),
        help="every task of a suite (design: 6 public cohorts and 3 Duke tasks, 5 x 5 CV, AUROC; "
        "survival: 7 censored-outcome tasks, Harrell's C): one table, mean ranks, the Friedman "
        "test and a critical-difference figure",
    )
    which.add_argument(
        "--external",
        metavar="DEV:VAL",
        help="external validation of survival models: fit on DEV, validate on VAL "
        f"({', '.join(EXTERNAL_PAIRS)}): the published Cox models, then ridge Cox, random "
        "survival forest, gradient-boosted Cox and GraphBoostSurvivalAnalysis on the shared "
        "columns; Harrell's C with CIs, Uno's AUC and calibration at 5 years (--methods and "
        "--bootstrap apply)",
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
        "--max-patients",
        type=int,
        metavar="N",
        help="with --suite survival: cut larger tasks to N patients (stratified on the event, "
        "seeded; the report says which), as the documented suite runs do with 1000",
    )
    _add_param(
        p,
        "with --suite or --external: a parameter (JSON value) of the graphboost method "
        "(GraphBoostClassifier in a classification suite, GraphBoostSurvivalAnalysis in the "
        "survival suite and --external), e.g. interaction_depth=3",
    )
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
        action=_AppendNamed,
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
