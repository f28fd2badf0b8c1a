"""Which scan embedder for the scans path: the table alone, the self-supervised block, the
supervised block, on the same folds, each block guarded.

Every cohort with scans is loaded twice through the user's path (``experiments.workflows
.load_cohort``): with ``scan_embedder="self-supervised"`` (the encoder pretrained by masked
reconstruction on the cohort's scans, no label; the 256-d block reduced to 8 principal
components in the fold) and with ``scan_embedder="supervised"`` (the cross-fitted logit of
``features.SupervisedVolumeEmbedder`` with the CPU recipe ``workflows.SUPERVISED_RECIPES``: 32^3,
3 folds x 25 epochs, test-time flips, no early-stopping split, SimCLR start). Then repeated
stratified K-fold CV, the same folds for every arm, each arm a pipeline of the user's path:

- ``table``: GraphBoost on the table alone;
- ``self-supervised``: the table and the self-supervised block, ``block_guard=True``;
- ``supervised``: the table and the supervised block, refitted inside each training fold
  (``workflows.cohort_task`` / ``with_scan_step``), ``block_guard=True``.

Cohorts (``--cohorts``):

- ``demo``: the demo cohort (``make_synthetic_cohort``, 120 patients, 32^3 scans, lesion
  morphology), its clinical columns as the table;
- ``texture``: the synthetic cohort whose label sits only in the lesion texture
  (``lesion_signal="texture"``, ``--n-texture`` patients, 24^3 scans), its clinical columns;
- ``adrenal``: AdrenalMNIST3D's training split (``--adrenal-patients`` of the 1,188, a seeded
  subsample), the non-constant shape features as the table, the 64^3 masks as the scans.

The self-supervised block embeds the scans at their own size (32, 24 and 64: the sizes of the
earlier measurements of docs/results.md); the supervised one at the recipe's 32^3.

Printed per cohort: each arm's mean fold AUROC, the paired differences (supervised - table,
self-supervised - table, supervised - self-supervised) with 95% bootstrap CIs over the folds, how
often the guard kept each block, the AUROC of the supervised block alone on the held-out
patients with a scan, and CPU seconds. The last line is one JSON object of every figure.

Usage::

    python benchmarks/scan_embedders.py --cohorts demo --repeats 2 --records R
    python benchmarks/scan_embedders.py --cohorts adrenal --adrenal-patients 400 --repeats 1
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
from block_guard import ADRENAL_PARAMS, DEMO_PARAMS, bootstrap_ci
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import RepeatedStratifiedKFold

import features
from experiments import make_pipeline, workflows
from experiments.evaluation import dataset_from_cohort

OPTIONS = {
    "--cohorts": ("demo,texture,adrenal", "comma-separated cohorts"),
    "--repeats": (1, "repeats of the K-fold CV"),
    "--folds": (5, "folds per repeat"),
    "--n-texture": (200, "patients of the texture cohort"),
    "--adrenal-patients": (400, "subsample of AdrenalMNIST3D's 1,188 training patients (0: all)"),
    "--bootstrap": (2000, "bootstrap resamples of the CIs"),
    "--work-dir": ("", "folder for the cohorts written (default: a temporary one)"),
    "--json": ("", "also write the JSON summary to this file"),
    "--records": ("", "JSON-lines file of every fold (AUROC per arm, guard figures), as it runs"),
}
ARMS = ("table", "self-supervised", "supervised")
PAIRS = (("supervised", "table"), ("self-supervised", "table"), ("supervised", "self-supervised"))


def synthetic_table(work, name, n_patients, size, signal):
    """A synthetic cohort: its clinical table, the scans folder, the scans' size."""
    syn = features.make_synthetic_cohort(
        work / name,
        n_patients=n_patients,
        shape=(size,) * 3,
        random_state=0,
        lesion_signal=signal,
        write_masks=False,
    )
    return syn.read_clinical(), syn.scans_dir, size, DEMO_PARAMS


def adrenal_table(work, n_patients):
    """AdrenalMNIST3D's train split: the shape features as the table, the masks as scans."""
    ds = features.load_adrenalmnist3d(size=64)
    volumes, y = ds.split("train")
    ids = [f"a{i:04d}" for i in range(len(y))]
    if n_patients:
        keep = np.sort(np.random.default_rng(0).permutation(len(y))[:n_patients])
        volumes, y, ids = volumes[keep], np.asarray(y)[keep], [ids[i] for i in keep]
    shape = pd.DataFrame([features.shape_features(v) for v in volumes]).add_prefix("shape_")
    shape = shape.loc[:, shape.nunique() > 1]
    scans = work / f"adrenal_scans_{len(ids)}"
    scans.mkdir(parents=True, exist_ok=True)
    for pid, volume in zip(ids, volumes, strict=True):
        if not (scans / f"{pid}.npy").is_file():
            np.save(scans / f"{pid}.npy", np.asarray(volume, dtype=np.float32))
    table = shape.assign(patient_id=ids, label=np.asarray(y).ravel())
    return table, scans, 64, ADRENAL_PARAMS


def load_arms(table, scans, size):
    """The three tasks of a cohort (same patients, same rows) and the supervised step."""
    kw = {"label": "label", "id_column": "patient_id", "scans": scans, "progress": False}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Patient IDs do not match across sources")
        t0 = time.process_time()
        own = workflows.load_cohort(table, **kw, scan_embedder="self-supervised", scan_shape=size)
        t1 = time.process_time()
        sup = workflows.load_cohort(table, **kw, scan_embedder="supervised")
        t2 = time.process_time()
        plain = workflows.load_cohort(table, label="label", id_column="patient_id")
    tasks = {"table": dataset_from_cohort(plain, "table")}
    tasks["self-supervised"] = dataset_from_cohort(own, "self-supervised")
    tasks["supervised"], step = workflows.cohort_task(sup, "supervised")
    loading = {"self-supervised": t1 - t0, "supervised": t2 - t1}
    return tasks, step, loading, sup.scan_pretraining


def arm_pipeline(arm, task, step, params, seed):
    pipe = make_pipeline("graphboost", params, task.feature_groups, seed, 1, task.preprocessor)
    if arm == "supervised":
        return workflows.with_scan_step(clone(step).set_params(embedder__random_state=seed), pipe)
    return pipe


def run_cohort(tasks, step, params, n_folds, repeats, records=None):
    """Per-fold AUROC of each arm on the same folds, guard verdicts, CPU seconds."""
    y = pd.factorize(tasks["table"].y, sort=True)[0]
    folds = RepeatedStratifiedKFold(n_splits=n_folds, n_repeats=repeats, random_state=0)
    aurocs = {arm: [] for arm in ARMS}
    seconds = {arm: 0.0 for arm in ARMS}
    kept = {"self-supervised": [], "supervised": []}
    alone, guards = [], []
    guarded = {**params, "block_guard": True}
    for i, (train, test) in enumerate(folds.split(tasks["table"].X, y)):
        fold_guard = {}
        for arm in ARMS:
            task = tasks[arm]
            pipe = arm_pipeline(arm, task, step, guarded, i)
            t0 = time.process_time()
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Constant columns skipped")
                pipe.fit(task.X.iloc[train], y[train])
            seconds[arm] += time.process_time() - t0
            proba = pipe.predict_proba(task.X.iloc[test])[:, 1]
            aurocs[arm].append(roc_auc_score(y[test], proba))
            if arm != "table":
                figures = pipe[-1].block_guard_["scans"]
                kept[arm].append(bool(figures["kept"]))
                fold_guard[arm] = {k: figures.get(k) for k in ("kept", "gain", "gain_se")}
            if arm == "supervised":
                block = pipe.named_steps["scans"].transform(task.X.iloc[test])
                has = block["scans:missing"].to_numpy() == 0
                alone.append(roc_auc_score(y[test][has], block["scans:logit"].to_numpy()[has]))
        guards.append(fold_guard)
        print(
            f"  fold {i + 1}: "
            + ", ".join(f"{a} {aurocs[a][-1]:.3f}" for a in ARMS)
            + f"; supervised block alone {alone[-1]:.3f}; kept "
            + ", ".join(f"{a} {fold_guard[a]['kept']}" for a in fold_guard),
            flush=True,
        )
        if records:
            row = {"fold": i, **{a: aurocs[a][-1] for a in ARMS}, "alone": alone[-1]}
            with open(records, "a") as f:
                f.write(json.dumps({**row, "guard": fold_guard}) + "\n")
    aurocs = {arm: np.asarray(v) for arm, v in aurocs.items()}
    return aurocs, kept, seconds, alone, guards


def summarize(name, aurocs, kept, seconds, alone, n_boot):
    rng = np.random.default_rng(0)
    out = {arm: float(aurocs[arm].mean()) for arm in ARMS}
    out.update(folds=len(alone), cpu_s={a: round(s, 1) for a, s in seconds.items()})
    out["kept"] = {arm: int(sum(v)) for arm, v in kept.items()}
    out["supervised block alone"] = float(np.mean(alone))
    print(f"{name}: " + ", ".join(f"{a} {out[a]:.3f}" for a in ARMS))
    for arm, ref in PAIRS:
        diff = aurocs[arm] - aurocs[ref]
        low, high = bootstrap_ci(diff, n_boot, rng)
        out[f"{arm} - {ref}"] = {"mean": float(diff.mean()), "low": low, "high": high}
        print(f"  {arm} - {ref}: {diff.mean():+.4f} (95% CI {low:+.4f} to {high:+.4f})")
    print(
        f"  kept in {out['folds']} folds: self-supervised {out['kept']['self-supervised']}, "
        f"supervised {out['kept']['supervised']}; supervised block alone "
        f"{out['supervised block alone']:.3f}"
    )
    print("  CPU s: " + ", ".join(f"{a} {seconds[a]:.0f}" for a in ARMS))
    return out


def load(name, work, args):
    if name == "demo":
        return synthetic_table(work, "demo", 120, 32, "morphology")
    if name == "texture":
        return synthetic_table(work, "texture", args.n_texture, 24, "texture")
    if name == "adrenal":
        return adrenal_table(work, args.adrenal_patients)
    raise SystemExit(f"unknown cohort {name!r}; choose from demo, texture, adrenal")


def main(argv=None):
    args = parse_script_args(__doc__, OPTIONS, argv)
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="scan_embedders_"))
    summary = {}
    for name in [c for c in args.cohorts.split(",") if c]:
        t0 = time.perf_counter()
        table, scans, size, params = load(name, work, args)
        tasks, step, loading, start = load_arms(table, scans, size)
        print(
            f"{name}: {len(table)} patients, {args.folds}-fold x {args.repeats}; loading CPU s "
            + ", ".join(f"{k} {v:.0f}" for k, v in loading.items())
            + f"; supervised start {start and start['objective']} ({start and start['epochs']} "
            "epochs)",
            flush=True,
        )
        records = args.records and f"{args.records}.{name}.jsonl"
        result = run_cohort(tasks, step, params, args.folds, args.repeats, records)
        summary[name] = summarize(name, *result[:4], args.bootstrap)
        summary[name].update(
            repeats=args.repeats,
            guard=result[4],
            loading_cpu_s=loading,
            wall_s=round(time.perf_counter() - t0, 1),
            recipe={k: list(v) if isinstance(v, tuple) else v for k, v in step_recipe().items()},
        )
    line = json.dumps(summary)
    if args.json:
        Path(args.json).write_text(line + "\n")
    print(line)
    return summary


def step_recipe():
    """The recipe the supervised arm used (this machine's)."""
    return workflows.supervised_recipe()


if __name__ == "__main__":
    main()
