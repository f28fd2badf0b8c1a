"""The ``graphboost`` command line: fit, predict, explain, embed, tune, benchmark and demo.

Every subcommand reads a cohort table (CSV, TSV, Parquet or Excel), takes the label column and the
columns to exclude, and writes its results into a folder or file that it refuses to overwrite unless
``--overwrite`` is given. Errors are printed as one line, ``graphboost: error: ...``, with exit
status 2; ``--debug`` shows the full traceback instead.

Examples
--------
::

    graphboost demo --output demo-output
    graphboost fit --data cohort.csv --label outcome --exclude patient_id --id-column patient_id \\
        --output model --cv 5
    graphboost predict --model model --data new_patients.csv --output predictions.csv
    graphboost explain --model model --data new_patients.csv --output explanations.csv
    graphboost benchmark --config duke-tnbc --output runs/tnbc
    graphboost tune --data cohort.csv --label outcome --storage sqlite:///study.db --n-trials 50
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

from ._data import InputError

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


def _add_cohort_args(p, label_required=True):
    p.add_argument("--data", required=True, help="cohort table: .csv, .tsv, .parquet or .xlsx")
    p.add_argument("--label", required=label_required, help="label column")
    p.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="COLS",
        help="column(s) not to use as features (repeat or comma-separate): IDs, dates, leakage",
    )
    p.add_argument("--id-column", help="patient ID column (kept in outputs, never a feature)")
    p.add_argument(
        "--group",
        action="append",
        type=_group,
        default=[],
        metavar="NAME=COLS",
        help="a named block of columns that defines one candidate graph; a trailing * matches "
        "a prefix (e.g. mri=emb_*)",
    )
    p.add_argument("--scans", help="folder of scans named <patient id>.<ext>, embedded and joined")
    p.add_argument(
        "--scan-shape",
        type=int,
        default=64,
        help="scans are resampled to SCAN_SHAPE^3 before embedding (default 64)",
    )


def build_parser():
    """The argument parser (exposed for the documentation and the tests)."""
    parser = _Parser(
        prog=PROG,
        description="Patient-similarity graph boosting: fit, predict, explain and benchmark "
        "from the command line.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("fit", help="fit GraphBoostClassifier on a cohort and save a model folder")
    _add_cohort_args(p)
    p.add_argument("--output", required=True, help="model folder to write")
    p.add_argument(
        "--param",
        action="append",
        type=_param,
        default=[],
        metavar="KEY=VALUE",
        help="GraphBoostClassifier parameter (JSON value), e.g. n_estimators=30",
    )
    p.add_argument(
        "--cv",
        type=int,
        default=0,
        metavar="K",
        help="also report K-fold cross-validated AUROC against logistic regression",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--overwrite", action="store_true")

    p = sub.add_parser("predict", help="predict class probabilities with a saved model")
    p.add_argument("--model", required=True, help="model folder written by `graphboost fit`")
    p.add_argument("--data", required=True, help="cohort table of the patients to predict")
    p.add_argument("--scans", help="folder of scans (when the model used them)")
    p.add_argument("--output", required=True, help="predictions CSV to write")
    p.add_argument("--overwrite", action="store_true")

    p = sub.add_parser("explain", help="per-patient contributions and most similar patients")
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--scans")
    p.add_argument("--output", required=True, help="explanations CSV to write")
    p.add_argument("--n-neighbors", type=int, default=5, help="similar training patients shown")
    p.add_argument("--overwrite", action="store_true")

    p = sub.add_parser("embed", help="embed a folder of 3D scans with a CNN encoder")
    p.add_argument("--scans", required=True, help="folder of NIfTI / DICOM / .npy volumes")
    p.add_argument("--output", required=True, help="embeddings CSV to write (one row per scan)")
    p.add_argument("--encoder", default=None, help="encoder name (see features.VolumeEmbedder)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument(
        "--cache-dir", help="on-disk cache: a rerun reads it, an interrupted run resumes"
    )
    p.add_argument("--shape", type=int, default=64, help="volumes are resampled to SHAPE^3")
    p.add_argument("--overwrite", action="store_true")

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
    p.add_argument("--inner-splits", type=int, default=3, help="folds of the inner CV")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--param",
        action="append",
        type=_param,
        default=[],
        metavar="KEY=VALUE",
        help="fixed GraphBoostClassifier parameter (not searched)",
    )
    p.add_argument("--output", help="model folder for the refitted best trial (skip if absent)")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)

    p = sub.add_parser("benchmark", help="run a benchmark config (repeated CV, all baselines)")
    p.add_argument(
        "--config",
        required=True,
        help="TOML config path or a shipped name (duke-tnbc, duke-pcr, ...)",
    )
    p.add_argument("--output", help="results folder (default runs/<name>-<timestamp>)")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--repeats", type=int, help="override [cv] n_repeats")
    p.add_argument("--folds", type=int, help="override [cv] n_splits")
    p.add_argument("--methods", help="override the methods (comma-separated)")
    p.add_argument("--bootstrap", type=int, help="override [metrics] n_bootstrap")
    p.add_argument("--n-jobs", type=int, help="threads for the baselines that use them")

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
    return parser


def _split_list(values):
    out = []
    for v in values:
        out += [c.strip() for c in v.split(",") if c.strip()]
    return out


def _check_new_file(path, overwrite):
    path = Path(path)
    if path.exists() and not overwrite:
        raise InputError(f"Output file '{path}' already exists; pass --overwrite to replace it.")
    if not path.parent.exists():
        raise InputError(f"Output folder '{path.parent}' does not exist.")
    return path


def _write_csv_atomic(df, path):
    tmp = path.with_name(f".{path.name}.partial")
    df.to_csv(tmp, index=False)
    tmp.replace(path)


# --------------------------------------------------------------------------- cohort reading
def load_cohort(args, need_label=True):
    """Read ``--data`` (+ ``--scans``) into (frame, feature columns, label series, groups)."""
    from ._data import read_table

    df = read_table(args.data)
    exclude = _split_list(args.exclude)
    if args.id_column:
        if args.id_column not in df.columns:
            raise InputError(f"ID column {args.id_column!r} not found in '{args.data}'.")
        if df[args.id_column].duplicated().any():
            dup = df[args.id_column][df[args.id_column].duplicated()].iloc[0]
            raise InputError(f"Duplicate patient ID in {args.id_column!r}: {dup!r}.")
        exclude.append(args.id_column)
    groups = {}
    if args.scans:
        df, scan_cols = _join_scans(df, args.scans, args.id_column, args.scan_shape)
        groups["scans"] = scan_cols
    if need_label:
        if args.label not in df.columns:
            cols = ", ".join(map(str, df.columns[:8]))
            raise InputError(
                f"Label column {args.label!r} not found in '{args.data}'; columns: {cols}"
                + (", ..." if df.shape[1] > 8 else "")
                + "."
            )
    missing = [c for c in exclude if c not in df.columns]
    if missing:
        raise InputError(f"--exclude names columns not in '{args.data}': {missing[:5]}.")
    drop = set(exclude) | ({args.label} if args.label else set())
    feature_cols = [c for c in df.columns if c not in drop]
    if not feature_cols:
        raise InputError(
            f"No feature columns left in '{args.data}' after excluding {sorted(drop)}."
        )
    for name, cols in args.group:
        if len(cols) == 1 and cols[0].endswith("*"):
            prefix = cols[0][:-1]
            cols = [c for c in feature_cols if str(c).startswith(prefix)]
        bad = [c for c in cols if c not in feature_cols]
        if bad or not cols:
            raise InputError(f"--group {name!r} names columns that are not features: {bad[:5]}.")
        groups[name] = cols
    return df, feature_cols, groups


def _join_scans(df, scans, id_column, shape=64):
    """Embed ``scans`` and join the embeddings to the table by patient ID."""
    from ._scans import embed_folder

    if not id_column:
        raise InputError("--scans needs --id-column to match scan files to patients.")
    emb = embed_folder(scans, shape=shape)
    ids = df[id_column].astype(str)
    absent = sorted(set(ids) - set(emb.index))
    extra = sorted(set(emb.index) - set(ids))
    if extra:
        print(
            f"{PROG}: note: {len(extra)} scan(s) have no row in the table; ignored.",
            file=sys.stderr,
        )
    if absent:
        print(
            f"{PROG}: note: {len(absent)} patient(s) have no scan; their scan features are "
            "imputed and flagged missing.",
            file=sys.stderr,
        )
    joined = emb.reindex(ids.to_numpy())
    joined.index = df.index
    return df.join(joined), list(emb.columns)


def _encode_label(y, n_splits=None):
    from ._data import check_labels

    check_labels(y, n_splits or 2, what="the label")


# --------------------------------------------------------------------------- fit
def _fit_report(args, clf, n, classes, counts, cv_rows, groups, elapsed):
    lines = [
        "# graphboost model report",
        "",
        f"- Cohort: `{Path(args.data).name}`, {n} patients, label `{args.label}`, classes "
        + ", ".join(f"{c}: {k}" for c, k in zip(classes, counts, strict=True)),
        f"- Feature groups (one candidate graph each): "
        f"{', '.join(f'{k} ({len(v)} columns)' for k, v in groups.items()) or 'none'}",
        f"- Fit time: {elapsed:.1f} s; rounds kept: {len(clf.selected_graphs_)}",
        "",
        "## Selected graphs (rounds in order)",
        "",
        "| round | graph | weight |",
        "|---|---|---|",
    ]
    for i, (g, w) in enumerate(zip(clf.selected_graphs_, clf.estimator_weights_, strict=False)):
        lines.append(f"| {i + 1} | {getattr(g, 'name', g)} | {w:.3f} |")
    if cv_rows:
        lines += [
            "",
            "## Cross-validated performance (preprocessing inside the folds)",
            "",
            "| method | AUROC (95% CI) | AUPRC | Brier |",
            "|---|---|---|---|",
        ]
        for name, m in cv_rows.items():
            lines.append(
                f"| {name} | {m['auroc'][0]:.3f} ({m['auroc'][1]:.3f}-{m['auroc'][2]:.3f}) "
                f"| {m['auprc'][0]:.3f} | {m['brier'][0]:.3f} |"
            )
    lines.append("")
    return "\n".join(lines)


def _cross_validate(X, y_enc, groups, params, k, seed, progress=True):
    """K-fold CV of GraphBoostClassifier and logistic regression on the same folds."""
    import numpy as np
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold

    from ._methods import make_pipeline
    from ._metrics import bootstrap_metrics

    pipes = {
        "GraphBoostClassifier": make_pipeline("graphboost", params, groups, seed, "table"),
        "logistic regression": make_pipeline("logistic", None, None, seed, "table"),
    }
    n_classes = int(y_enc.max()) + 1
    folds = list(StratifiedKFold(k, shuffle=True, random_state=seed).split(X, y_enc))
    oof = {n: np.zeros((y_enc.size, n_classes)) for n in pipes}
    from tqdm.auto import tqdm

    with tqdm(total=k * len(pipes), desc="cross-validation", disable=not progress) as bar:
        for tr, te in folds:
            for name, pipe in pipes.items():
                model = clone(pipe).fit(X.iloc[tr], y_enc[tr])
                oof[name][te] = model.predict_proba(X.iloc[te])
                bar.update(1)
    rows = {
        n: bootstrap_metrics(y_enc, [p], n_bootstrap=500, random_state=seed) for n, p in oof.items()
    }
    return rows, oof


def fit_model_folder(
    args, df, feature_cols, groups, params, output, seed, cv=0, progress=True, extra_report=""
):
    """Fit preprocessing + GraphBoostClassifier on the cohort and write the model folder."""
    import numpy as np
    import pandas as pd
    from sklearn.preprocessing import LabelEncoder

    from ._modelfolder import build_estimator, resolve_groups, save_model_folder
    from ._preprocess import TablePreprocessor
    from ._report import RunFolder

    folder = RunFolder(output, overwrite=args.overwrite)
    y = df[args.label]
    if y.isna().any():
        raise InputError(f"Label column {args.label!r} has {int(y.isna().sum())} missing values.")
    _encode_label(y, max(cv, 2))
    enc = LabelEncoder().fit(y.astype(str) if y.dtype == object else y)
    y_enc = enc.transform(y.astype(str) if y.dtype == object else y)
    X = df[feature_cols]
    pre = TablePreprocessor().fit(X)
    Xt = pre.transform(X)
    resolved = resolve_groups(groups, Xt)
    clf = build_estimator(params, resolved, seed)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        clf.fit(Xt, y_enc)
    elapsed = time.perf_counter() - t0
    cv_rows, oof = {}, None
    if cv:
        cv_rows, oof = _cross_validate(X, y_enc, groups, params, cv, seed, progress)
    classes = [str(c) for c in enc.classes_]
    report = (
        _fit_report(
            args, clf, len(y_enc), classes, np.bincount(y_enc).tolist(), cv_rows, resolved, elapsed
        )
        + extra_report
    )
    cohort = {
        "label": args.label,
        "id_column": args.id_column,
        "feature_columns": [str(c) for c in feature_cols],
        "feature_groups": {k: [str(c) for c in v] for k, v in groups.items()},
        "classes": classes,
        "params": {k: v for k, v in params.items()},
        "seed": seed,
        "scans": bool(getattr(args, "scans", None)),
        "scan_shape": getattr(args, "scan_shape", None) if getattr(args, "scans", None) else None,
    }
    with folder:
        save_model_folder(folder.staging, clf, pre, cohort, report)
        if oof is not None:
            frame = pd.DataFrame({"label": enc.classes_[y_enc]})
            if args.id_column:
                frame.insert(0, args.id_column, df[args.id_column].to_numpy())
            for name, p in oof.items():
                key = "graphboost" if name.startswith("Graph") else "logistic"
                for k, c in enumerate(classes):
                    frame[f"{key}_proba_{c}"] = p[:, k]
            frame.to_csv(folder.staging / "cv_predictions.csv", index=False)
    return folder.path, clf, cv_rows


def cmd_fit(args):
    df, feature_cols, groups = load_cohort(args)
    path, clf, cv_rows = fit_model_folder(
        args, df, feature_cols, groups, dict(args.param), args.output, args.seed, cv=args.cv
    )
    print(f"Model written to {path} ({len(clf.selected_graphs_)} rounds).")
    for name, m in cv_rows.items():
        lo, hi = m["auroc"][1], m["auroc"][2]
        print(f"  {args.cv}-fold CV AUROC {name}: {m['auroc'][0]:.3f} (95% CI {lo:.3f}-{hi:.3f})")
    return 0


# --------------------------------------------------------------------------- predict / explain
def _load_for_prediction(args):
    from ._data import read_table
    from ._modelfolder import LoadedModel

    model = LoadedModel(args.model)
    df = read_table(args.data)
    if model.meta.get("scans"):
        if not args.scans:
            raise InputError("This model was fitted with scans; pass --scans for the new patients.")
        df, _ = _join_scans(
            df, args.scans, model.meta.get("id_column"), model.meta.get("scan_shape") or 64
        )
    return model, df


def cmd_predict(args):
    out = _check_new_file(args.output, args.overwrite)
    model, df = _load_for_prediction(args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", category=UserWarning)
        pred = model.predict_frame(df)
    for msg in dict.fromkeys(str(w.message) for w in caught if "not seen in fit" in str(w.message)):
        print(f"{PROG}: note: {msg}", file=sys.stderr)
    _write_csv_atomic(pred, out)
    print(f"Predictions for {len(pred)} patients written to {out}.")
    return 0


def cmd_explain(args):
    out = _check_new_file(args.output, args.overwrite)
    model, df = _load_for_prediction(args)
    Xt = model.features(df)
    expl = model.clf.explain(Xt, n_neighbors=args.n_neighbors)
    idc = model.meta.get("id_column")
    if idc and idc in df.columns and "patient" in expl.columns:
        ids = df[idc].to_numpy()
        try:
            expl.insert(0, idc, ids[expl["patient"].to_numpy().astype(int)])
        except (ValueError, IndexError):
            pass
    _write_csv_atomic(expl, out)
    print(f"Explanations ({len(expl)} rows) written to {out}.")
    return 0


# --------------------------------------------------------------------------- embed
def cmd_embed(args):
    from ._scans import embed_folder

    out = _check_new_file(args.output, args.overwrite)
    emb = embed_folder(
        args.scans,
        encoder=args.encoder,
        device=args.device,
        cache_dir=args.cache_dir,
        shape=args.shape,
    )
    frame = emb.reset_index()
    _write_csv_atomic(frame, out)
    print(f"{len(frame)} scans embedded ({emb.shape[1]} dimensions) into {out}.")
    return 0


# --------------------------------------------------------------------------- benchmark
def cmd_benchmark(args):
    from ._runner import format_table, load_config, run_benchmark

    cfg = load_config(args.config)
    if args.repeats is not None:
        cfg["cv"]["n_repeats"] = args.repeats
    if args.folds is not None:
        cfg["cv"]["n_splits"] = args.folds
    if args.methods:
        cfg["methods"] = _split_list([args.methods])
        cfg["params"] = {k: v for k, v in cfg["params"].items() if k in cfg["methods"]}
    if args.bootstrap is not None:
        cfg["metrics"]["n_bootstrap"] = args.bootstrap
    if args.n_jobs is not None:
        cfg["n_jobs"] = args.n_jobs
    cfg = load_config(cfg)  # re-check after the overrides
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
    print(f"Results in {res.output}")
    return 0


# --------------------------------------------------------------------------- tune
def cmd_tune(args):
    from ._tuning import run_tune_command

    return run_tune_command(args)


# --------------------------------------------------------------------------- demo
def cmd_demo(args):
    from ._demo import run_demo

    return run_demo(args)


COMMANDS = {
    "fit": cmd_fit,
    "predict": cmd_predict,
    "explain": cmd_explain,
    "embed": cmd_embed,
    "tune": cmd_tune,
    "benchmark": cmd_benchmark,
    "demo": cmd_demo,
}


def main(argv=None):
    """Entry point of the ``graphboost`` console script; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
        args.argv = argv
        return COMMANDS[args.command](args)
    except (InputError, FileNotFoundError, ValueError, ImportError, OSError) as exc:
        if debug:
            raise
        message = " ".join(str(exc).split())
        print(f"{PROG}: error: {message}", file=sys.stderr)
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
