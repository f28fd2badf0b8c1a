"""``graphboost demo``: the README's main command, end to end on the shipped synthetic cohort.

Steps: write the synthetic cohort (NIfTI scans with lesions + a clinical CSV) -> self-supervised
pretraining of a small 3D CNN on the scans (no label used) -> one embedding per scan -> clinical
table and embeddings joined by patient ID (``features.Cohort``) -> 5-fold cross-validated AUROC of
GraphBoostClassifier against logistic regression (preprocessing inside the folds) -> the model
refitted on all patients and saved with a report. Runs on CPU in a few minutes.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from types import SimpleNamespace

from ._data import InputError

DEMO_PARAMS = {"n_estimators": 30, "learning_rate": 0.1, "conv": "vote"}
_SHAPE = 32


def _step(msg, t0):
    print(f"[{time.perf_counter() - t0:6.1f} s] {msg}", flush=True)


def run_demo(args):
    """Run the demo into ``args.output`` (refuses a non-empty folder unless ``--overwrite``)."""
    import numpy as np
    import pandas as pd

    try:
        from features import (
            Cohort,
            VolumeEmbedder,
            VolumePreprocessor,
            make_synthetic_cohort,
            pretrain_encoder,
        )
    except ImportError as exc:
        raise InputError(
            f"The demo needs the imaging extra: pip install 'graphboost[imaging]' ({exc})"
        ) from exc
    from ._report import RunFolder, write_json

    if args.n_patients < 30:
        raise InputError(f"--n-patients must be at least 30 for 5-fold CV; got {args.n_patients}.")
    folder = RunFolder(args.output, overwrite=args.overwrite)
    t0 = time.perf_counter()
    with folder:
        out = folder.staging
        _step(f"writing a synthetic cohort of {args.n_patients} patients (scans {_SHAPE}^3)", t0)
        syn = make_synthetic_cohort(
            out / "data",
            n_patients=args.n_patients,
            shape=(_SHAPE,) * 3,
            random_state=args.seed,
        )
        ids = list(syn.scan_paths)
        paths = [syn.scan_paths[i] for i in ids]
        pre = VolumePreprocessor(shape=_SHAPE)
        _step(
            f"self-supervised pretraining of a small 3D CNN on {len(paths)} scans (no labels)", t0
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=UserWarning)
            result = pretrain_encoder(
                paths,
                encoder="small",
                objective="mae",
                epochs=8,
                preprocessor=pre,
                device="cpu",
                max_seconds=args.pretrain_seconds,
                random_state=args.seed,
                verbose=True,
            )
        weights = result.save(out / "encoder.pt")
        _step(f"embedding the scans (pretraining took {result.seconds:.0f} s)", t0)
        embedder = VolumeEmbedder(
            encoder="small",
            pretrained=weights,
            preprocessor=pre,
            device="cpu",
            output="pandas",
            prefix="e",
            random_state=args.seed,
            verbose=True,
        )
        emb = embedder.fit().transform(paths, ids=ids)
        emb = pd.DataFrame(emb)
        emb.index = ids
        emb.to_csv(out / "embeddings.csv", index_label=syn.id_column)
        clinical = (
            syn.read_clinical() if hasattr(syn, "read_clinical") else pd.read_csv(syn.clinical_path)
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=UserWarning)
            cohort = Cohort(clinical, {"mri": emb}, id_column=syn.id_column, label=syn.label_column)
        df = cohort.X.copy()
        df.insert(0, syn.id_column, df.index.astype(str))
        df[syn.label_column] = cohort.y.to_numpy()
        df = df.reset_index(drop=True)
        df.to_csv(out / "cohort_with_embeddings.csv", index=False)
        feature_cols = list(cohort.X.columns)
        groups = {k: v for k, v in cohort.feature_groups.items() if k != "clinical"}
        _step(
            f"cohort: {len(df)} patients, {len(feature_cols)} features "
            f"({len(groups.get('mri', []))} from the scans); fitting and 5-fold CV",
            t0,
        )
        fit_args = SimpleNamespace(
            data=str(syn.clinical_path),
            label=syn.label_column,
            id_column=syn.id_column,
            overwrite=False,
            scans=None,
        )
        from .cli import fit_model_folder

        _, clf, cv_rows = fit_model_folder(
            fit_args,
            df,
            feature_cols,
            groups,
            DEMO_PARAMS,
            out / "model",
            args.seed,
            cv=5,
        )
        gb, lr = cv_rows["GraphBoostClassifier"], cv_rows["logistic regression"]
        counts = np.bincount(cohort.y.astype(int).to_numpy())
        top = (
            pd.Series([getattr(g, "name", str(g)) for g in clf.selected_graphs_])
            .value_counts()
            .head(8)
        )
        elapsed = time.perf_counter() - t0
        report = [
            "# graphboost demo",
            "",
            f"Synthetic cohort (`features.make_synthetic_cohort`, seed {args.seed}): "
            f"{len(df)} patients ({counts[0]} negative, {counts[1]} positive), "
            f"{len(paths)} NIfTI scans of {_SHAPE}^3 voxels, "
            f"{len(syn.missing_scans)} patients without a scan, "
            f"clinical columns {', '.join(syn.clinical_columns)}.",
            "",
            f"1. Small 3D CNN pretrained self-supervised (masked-volume reconstruction, no "
            f"labels) for {result.seconds:.0f} s; one {emb.shape[1]}-dimensional embedding "
            "per scan (`embeddings.csv`).",
            "2. Clinical table and embeddings joined by patient ID (`features.Cohort`); the "
            "embedding block is one candidate graph (`mri`), every column is another.",
            "3. 5-fold stratified cross-validation, preprocessing (imputation, scaling, "
            "one-hot) fitted inside each training fold:",
            "",
            "| method | AUROC (95% CI) | AUPRC | Brier |",
            "|---|---|---|---|",
        ]
        for name, m in cv_rows.items():
            report.append(
                f"| {name} | {m['auroc'][0]:.3f} ({m['auroc'][1]:.3f}-{m['auroc'][2]:.3f}) | "
                f"{m['auprc'][0]:.3f} | {m['brier'][0]:.3f} |"
            )
        report += [
            "",
            f"4. GraphBoostClassifier({', '.join(f'{k}={v!r}' for k, v in DEMO_PARAMS.items())})"
            " refitted on all patients and saved to `model/`; it takes the joined table "
            "`cohort_with_embeddings.csv` (`graphboost predict --model model --data "
            "cohort_with_embeddings.csv --output predictions.csv`). Graphs selected most often:",
            "",
            *[f"   - `{name}`: {n} rounds" for name, n in top.items()],
            "",
            f"Total time {elapsed:.0f} s.",
            "",
        ]
        (out / "report.md").write_text("\n".join(report))
        write_json(
            out / "run.json",
            {
                "seed": args.seed,
                "n_patients": args.n_patients,
                "params": DEMO_PARAMS,
                "seconds": elapsed,
            },
        )
    print(
        f"Cross-validated AUROC: GraphBoostClassifier {gb['auroc'][0]:.3f} "
        f"(95% CI {gb['auroc'][1]:.3f}-{gb['auroc'][2]:.3f}), logistic regression "
        f"{lr['auroc'][0]:.3f} ({lr['auroc'][1]:.3f}-{lr['auroc'][2]:.3f})."
    )
    print(f"Model and report in {folder.path} (read {Path(folder.path) / 'report.md'}).")
    return 0
