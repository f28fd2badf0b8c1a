"""The block guard (``GraphBoostClassifier(block_guard=True)``) on the cohorts with scans.

Each cohort goes through the scans path (``experiments.workflows.load_cohort(..., scans=...)``:
the encoder pretrained self-supervised on the cohort's scans, the block reduced to 8 principal
components inside each training fold), then repeated stratified K-fold CV, the same folds for
every arm, each arm the ``experiments.make_pipeline("graphboost")`` of the scans path:

- ``table``: the table alone (the block's columns and indicator left out);
- ``block``: the table and the block, no guard (the former default);
- ``block+guard``: the same with ``block_guard=True``.

Cohorts (``--cohorts``):

- ``demo-shuffled``: the demo cohort (``make_synthetic_cohort``, 120 patients, 32^3 scans,
  ``DEMO_PARAMS``) with its embeddings permuted across the patients that have a scan (same
  values, no link to the label);
- ``demo``: the same cohort, its real embeddings;
- ``adrenal``: AdrenalMNIST3D's 1,188 training patients, the non-constant shape features as the
  table, the 64^3 masks as the scans folder, 60 vote rounds;
- ``texture``: a synthetic cohort whose label sits only in the lesion texture
  (``lesion_signal="texture"``, 200 patients, 24^3 scans);
- ``texture-supervised``: the same cohort with the clinical columns and the shape features of the
  lesion masks as the table (the ``shape`` group) and, as the block, the logit of a
  ``features.SupervisedVolumeEmbedder`` cross-fitted inside each training fold (the recipe of
  ``tests/features/test_supervised_texture.py``: 3 folds x 30 epochs, no augmentation but flips),
  fitted once per fold and shared by the two arms with the block.

Printed: per cohort and arm the mean fold AUROC, each arm's paired difference to ``table`` and
``block+guard`` to ``block`` with 95% bootstrap CIs over the folds, how often the guard kept the
block, and the fit seconds. The last line is one JSON object of every figure.

Usage::

    python benchmarks/block_guard.py --cohorts demo-shuffled --repeats 10
    python benchmarks/block_guard.py --cohorts adrenal --repeats 2
"""

from __future__ import annotations

import json
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from _scripts import parse_script_args
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import RepeatedStratifiedKFold

import features
from experiments import make_pipeline
from experiments.evaluation import dataset_from_cohort, read_cohort
from experiments.workflows import load_cohort

OPTIONS = {
    "--cohorts": ("demo-shuffled,texture,adrenal", "comma-separated cohorts"),
    "--repeats": (0, "repeats of the 5-fold CV (0: 10 for demo cohorts, 2 for the others)"),
    "--folds": (5, "folds per repeat"),
    "--n-texture": (200, "patients of the texture cohort"),
    "--adrenal-patients": (0, "subsample AdrenalMNIST3D's train split (0: all 1,188)"),
    "--bootstrap": (2000, "bootstrap resamples of the CIs"),
    "--work-dir": ("", "folder for the scans written (default: a temporary one)"),
    "--json": ("", "also write the JSON summary to this file"),
    "--skip-folds": (0, "leave out the first folds of the repeated CV (resume a run; same folds)"),
    "--records": ("", "JSON-lines file of every fold (AUROC per arm, guard figures), as it runs"),
}
ARMS = ("table", "block", "block+guard")
SKIP = [0]  # --skip-folds
BLOCK = "scans"
DEMO_PARAMS = {"n_estimators": 30, "learning_rate": 0.1, "conv": "vote"}
ADRENAL_PARAMS = {"n_estimators": 60, "conv": "vote"}


def synthetic_cohort(work, name, n_patients, size, signal, shuffle):
    """A synthetic cohort through the scans path; with ``shuffle`` its block is permuted."""
    syn = features.make_synthetic_cohort(
        work / name, n_patients=n_patients, shape=(size,) * 3, random_state=0, lesion_signal=signal
    )
    cached = work / name / "embeddings.csv"
    if cached.is_file():  # the block of an earlier run (same seed, same scans)
        emb = pd.read_csv(cached, index_col=0, dtype={0: str})
    else:
        cohort = load_cohort(
            syn.clinical_path,
            label=syn.label_column,
            id_column=syn.id_column,
            scans=syn.scans_dir,
            scan_shape=size,
            progress=False,
        )
        emb = _block_frame(cohort, syn.id_column)
        emb.to_csv(cached)
    if shuffle:  # same values, rows permuted across the patients that have a scan
        rng = np.random.default_rng(0)
        emb = pd.DataFrame(emb.to_numpy()[rng.permutation(len(emb))], emb.index, emb.columns)
    blocks = {BLOCK: emb}
    return read_cohort(
        syn.clinical_path, label=syn.label_column, id_column=syn.id_column, blocks=blocks
    )


def _block_frame(cohort, id_column):
    """The block of the patients that have it, its columns without the ``"scans:"`` prefix."""
    columns = cohort.feature_groups[BLOCK]
    indicator = cohort.missing_indicators.get(BLOCK)
    has = cohort.X[indicator] == 0 if indicator else pd.Series(True, index=cohort.X.index)
    emb = cohort.X.loc[has, columns].astype(float)
    emb.index = pd.Index([str(i) for i in emb.index], name=id_column)
    emb.columns = [c.split(":", 1)[1] for c in columns]
    return emb


def adrenal_cohort(work, n_patients):
    """AdrenalMNIST3D's train split: shape features as the table, the masks as scans."""
    ds = features.load_adrenalmnist3d(size=64)
    volumes, y = ds.split("train")
    ids = [f"a{i:04d}" for i in range(len(y))]
    if n_patients:
        keep = np.random.default_rng(0).permutation(len(y))[:n_patients]
        volumes, y, ids = volumes[np.sort(keep)], y[np.sort(keep)], [ids[i] for i in np.sort(keep)]
    shape = pd.DataFrame([features.shape_features(v) for v in volumes]).add_prefix("shape_")
    shape = shape.loc[:, shape.nunique() > 1]
    scans = work / "adrenal_scans"
    scans.mkdir(parents=True, exist_ok=True)
    for pid, volume in zip(ids, volumes, strict=True):
        np.save(scans / f"{pid}.npy", np.asarray(volume, dtype=np.float32))
    table = shape.assign(patient_id=ids, label=np.asarray(y).ravel())
    cached = work / "adrenal_embeddings.csv"
    if cached.is_file():
        emb = pd.read_csv(cached, index_col=0, dtype={0: str})
        return read_cohort(table, label="label", id_column="patient_id", blocks={BLOCK: emb})
    cohort = load_cohort(table, label="label", id_column="patient_id", scans=scans, progress=False)
    _block_frame(cohort, "patient_id").to_csv(cached)
    return cohort


def table_only(cohort):
    """The cohort without its block (same patients, same order)."""
    X = cohort.X.drop(columns=[*cohort.feature_groups[BLOCK], *_indicator(cohort)])
    return features.Cohort(X.assign(label=cohort.y), None, id_column=None, label="label")


def _indicator(cohort):
    name = cohort.missing_indicators.get(BLOCK)
    return [name] if name else []


def _mask_shapes(syn):
    import nibabel as nib

    rows = {
        pid: features.shape_features(np.asarray(nib.load(syn.masks_dir / f"{pid}.nii.gz").dataobj))
        for pid in syn.scan_paths
    }
    shapes = pd.DataFrame.from_dict(rows, orient="index")
    return shapes.loc[:, shapes.nunique() > 1]


def run_texture_supervised(work, args, n_folds, repeats, records=None):
    """The ``texture-supervised`` arms (see the module docstring), same folds."""
    from sklearn.pipeline import make_pipeline as sk_pipeline

    from graphboost import GraphBoostClassifier

    syn = features.make_synthetic_cohort(
        work / "texture_sup", n_patients=args.n_texture, shape=(24,) * 3, lesion_signal="texture"
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Patient IDs do not match across sources")
        cohort = features.Cohort(syn.read_clinical(), {"shape": _mask_shapes(syn)}, label="label")
    scans = pd.Series({pid: str(p) for pid, p in syn.scan_paths.items()}, name="scan")
    X, y = cohort.X.join(scans), cohort.y.to_numpy()
    shape = cohort.feature_groups["shape"]
    folds = RepeatedStratifiedKFold(n_splits=n_folds, n_repeats=repeats, random_state=0)
    aurocs = {arm: [] for arm in ARMS}
    seconds = {arm: 0.0 for arm in ARMS}
    kept, figures = [], []
    for i, (train, test) in enumerate(folds.split(X, y)):
        embedder = features.SupervisedVolumeEmbedder(
            encoder_kwargs={"channels": (4, 8, 8, 16)},
            preprocessor=features.VolumePreprocessor(shape=24, intensity="mri"),
            cv=3,
            max_epochs=30,
            validation_fraction=0.0,
            augment=0.0,
            batch_size=16,
            device="cpu",
            random_state=i,
        )
        block = embedder.block_columns()
        Z_train = embedder.fit_transform(X.iloc[train], y[train])
        Z_test = embedder.transform(X.iloc[test])
        for arm in ARMS:
            groups = {"shape": shape} if arm == "table" else {"shape": shape, "scan": block}
            clf = GraphBoostClassifier(
                **DEMO_PARAMS,
                feature_groups=groups,
                block_guard=arm == "block+guard",
                random_state=i,
            )
            if arm == "table":
                pre = cohort.make_preprocessor()
                Xtr, Xte = X.iloc[train].drop(columns="scan"), X.iloc[test].drop(columns="scan")
            else:
                pre = cohort.make_preprocessor(
                    numeric=block, binary=["scan:missing"], skip_indicator=block
                )
                Xtr, Xte = Z_train, Z_test
            pipe = sk_pipeline(pre, clf).set_output(transform="pandas")
            t0 = time.process_time()
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Constant columns skipped")
                pipe.fit(Xtr, y[train])
            seconds[arm] += time.process_time() - t0
            aurocs[arm].append(roc_auc_score(y[test], pipe.predict_proba(Xte)[:, 1]))
            if arm == "block+guard":
                guard = pipe[-1].block_guard_["scan"]
                kept.append(bool(guard["kept"]))
                figures.append({g: pipe[-1].block_guard_[g] for g in ("shape", "scan")})
        print(f"  fold {i + 1}: " + ", ".join(f"{a} {aurocs[a][-1]:.3f}" for a in ARMS), flush=True)
        if records:
            row = {"fold": i, **{a: aurocs[a][-1] for a in ARMS}, "guard": figures[-1]}
            with open(records, "a") as f:
                f.write(json.dumps(row) + "\n")
    return {arm: np.asarray(v) for arm, v in aurocs.items()}, kept, seconds, figures


def run_cohort(cohort, params, n_folds, repeats, records=None):
    """Per-fold AUROC of each arm on the same folds; guard decisions and fit seconds."""
    with_block = dataset_from_cohort(cohort, "with")
    without = dataset_from_cohort(table_only(cohort), "without")
    y = pd.factorize(with_block.y, sort=True)[0]
    folds = RepeatedStratifiedKFold(n_splits=n_folds, n_repeats=repeats, random_state=0)
    aurocs = {arm: [] for arm in ARMS}
    seconds = {arm: 0.0 for arm in ARMS}
    kept, figures = [], []
    for i, (train, test) in enumerate(folds.split(with_block.X, y)):
        if i < SKIP[0]:
            continue
        for arm in ARMS:
            ds = without if arm == "table" else with_block
            arm_params = {**params, "block_guard": arm == "block+guard"}
            pipe = make_pipeline("graphboost", arm_params, ds.feature_groups, i, 1, ds.preprocessor)
            t0 = time.process_time()
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Constant columns skipped")
                pipe.fit(ds.X.iloc[train], y[train])
            seconds[arm] += time.process_time() - t0
            aurocs[arm].append(roc_auc_score(y[test], pipe.predict_proba(ds.X.iloc[test])[:, 1]))
            if arm == "block+guard":
                guard = pipe[-1].block_guard_[BLOCK]
                kept.append(bool(guard["kept"]))
                figures.append({k: guard.get(k) for k in ("kept", "gain", "gain_se", "reason")})
        print(f"  fold {i + 1}: " + ", ".join(f"{a} {aurocs[a][-1]:.3f}" for a in ARMS), flush=True)
        if records:
            row = {"fold": i, **{a: aurocs[a][-1] for a in ARMS}, "guard": figures[-1]}
            with open(records, "a") as f:
                f.write(json.dumps(row) + "\n")
    return {arm: np.asarray(v) for arm, v in aurocs.items()}, kept, seconds, figures


def bootstrap_ci(diffs, n_boot, rng):
    means = rng.choice(diffs, size=(n_boot, len(diffs)), replace=True).mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def summarize(name, aurocs, kept, seconds, n_boot):
    rng = np.random.default_rng(0)
    out = {"folds": len(kept), "kept": int(sum(kept)), "cpu_s": seconds}
    for arm in ARMS:
        out[arm] = float(aurocs[arm].mean())
    for arm, ref in (("block", "table"), ("block+guard", "table"), ("block+guard", "block")):
        diff = aurocs[arm] - aurocs[ref]
        low, high = bootstrap_ci(diff, n_boot, rng)
        out[f"{arm} - {ref}"] = {"mean": float(diff.mean()), "low": low, "high": high}
    print(f"{name}: " + ", ".join(f"{a} {out[a]:.3f}" for a in ARMS))
    for key in ("block - table", "block+guard - table", "block+guard - block"):
        d = out[key]
        print(f"  {key}: {d['mean']:+.4f} (95% CI {d['low']:+.4f} to {d['high']:+.4f})")
    print(f"  guard kept the block in {out['kept']} of {out['folds']} folds")
    ratio = seconds["block+guard"] / max(seconds["block"], 1e-9)
    print("  CPU s: " + ", ".join(f"{a} {seconds[a]:.0f}" for a in ARMS) + f" (x{ratio:.1f})")
    return out


def load(name, work, args):
    if name in ("demo", "demo-shuffled"):
        cohort = synthetic_cohort(work, "demo", 120, 32, "morphology", name == "demo-shuffled")
        return cohort, DEMO_PARAMS, args.repeats or 10
    if name == "texture":
        cohort = synthetic_cohort(work, "texture", args.n_texture, 24, "texture", False)
        return cohort, DEMO_PARAMS, args.repeats or 2
    if name == "adrenal":
        return adrenal_cohort(work, args.adrenal_patients), ADRENAL_PARAMS, args.repeats or 2
    raise SystemExit(f"unknown cohort {name!r}; choose from demo, demo-shuffled, texture, adrenal")


def main(argv=None):
    args = parse_script_args(__doc__, OPTIONS, argv)
    SKIP[0] = args.skip_folds
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="block_guard_"))
    summary = {}
    for name in [c for c in args.cohorts.split(",") if c]:
        t0 = time.perf_counter()
        records = args.records and f"{args.records}.{name}.jsonl"
        if name == "texture-supervised":
            repeats = args.repeats or 1
            result = run_texture_supervised(work, args, args.folds, repeats, records)
            summary[name] = summarize(name, *result[:3], args.bootstrap)
            summary[name].update(repeats=repeats, guard=result[3])
            continue
        cohort, params, repeats = load(name, work, args)
        print(
            f"{name}: {cohort!r}, {args.folds}-fold x {repeats}, {time.perf_counter() - t0:.0f} s"
        )
        aurocs, kept, seconds, figures = run_cohort(cohort, params, args.folds, repeats, records)
        summary[name] = summarize(name, aurocs, kept, seconds, args.bootstrap)
        summary[name]["repeats"] = repeats
        summary[name]["guard"] = figures
        summary[name]["wall_s"] = round(time.perf_counter() - t0, 1)
    line = json.dumps(summary)
    if args.json:
        Path(args.json).write_text(line + "\n")
    print(line)
    return summary


if __name__ == "__main__":
    main()
