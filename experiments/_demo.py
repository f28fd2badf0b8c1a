"""``graphboost demo``: the README's main command, end to end on the shipped synthetic cohort.

Steps: write the synthetic cohort (NIfTI scans with lesions + a clinical CSV) -> self-supervised
pretraining of a small 3D CNN on the scans (no label used) -> one embedding per scan -> clinical
table and embeddings joined by patient ID (``features.Cohort``; a patient without a scan is
marked in ``"mri:missing"``) -> :func:`experiments.workflows.fit_model_folder`: 5-fold
cross-validated AUROC of GraphBoostClassifier against logistic regression (preprocessing inside
the folds), then the model refitted on all patients and saved with a report. Runs on CPU in a
few minutes.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ._base import InputError, RunFolder
from .evaluation._dataset import BLOCK_COMPONENTS, block_indicators, read_cohort
from .workflows import CrossValidation, fit_model_folder

DEMO_PARAMS = {"n_estimators": 30, "learning_rate": 0.1, "conv": "vote"}
_SHAPE = 32
_BLOCK = "mri"


@dataclass
class DemoResult:
    """What :func:`run_demo` returns: the folder written and the cross-validation."""

    path: Path
    cv: CrossValidation


class _Steps:
    """Timed progress lines (``[  12.3 s] message``), or silence."""

    def __init__(self, verbose):
        self.verbose = verbose
        self.t0 = time.perf_counter()

    @property
    def seconds(self):
        return time.perf_counter() - self.t0

    def __call__(self, message):
        if self.verbose:
            print(f"[{self.seconds:6.1f} s] {message}", flush=True)


def _imaging():
    try:
        import features
        from features import pretrain_encoder  # noqa: F401  (needs the imaging extra)
    except ImportError as exc:
        raise InputError(
            f"The demo needs the imaging extra: pip install 'graphboost[imaging]' ({exc})"
        ) from exc
    return features


def _embed_scans(features, syn, out, pretrain_seconds, seed, step):
    """Pretrain the small CNN on the scans (no labels), then embed them; (embeddings, seconds)."""
    ids = list(syn.scan_paths)
    paths = [syn.scan_paths[i] for i in ids]
    pre = features.VolumePreprocessor(shape=_SHAPE)
    step(f"self-supervised pretraining of a small 3D CNN on {len(paths)} scans (no labels)")
    result = features.pretrain_encoder(
        paths,
        encoder="small",
        objective="mae",
        epochs=8,
        preprocessor=pre,
        device="cpu",
        max_seconds=pretrain_seconds,
        random_state=seed,
        verbose=step.verbose,
    )
    weights = result.save(out / "encoder.pt")
    step(f"embedding the scans (pretraining took {result.seconds:.0f} s)")
    embedder = features.VolumeEmbedder(
        encoder="small",
        pretrained=weights,
        preprocessor=pre,
        device="cpu",
        output="pandas",
        prefix="e",
        random_state=seed,
        verbose=step.verbose,
    )
    emb = pd.DataFrame(embedder.fit().transform(paths, ids=ids))
    emb.index = pd.Index(ids, name=syn.id_column)
    emb.to_csv(out / "embeddings.csv")
    return emb, result.seconds


def _joined_table(cohort, syn):
    """The table a saved demo model predicts from: ID, every feature column, label."""
    frame = block_indicators(cohort)
    frame.insert(0, syn.id_column, cohort.patient_ids.to_numpy())
    frame[syn.label_column] = cohort.y.to_numpy()
    return frame.reset_index(drop=True)


def _report(syn, cohort, fitted, n_scans, pretrain_s, seed, seconds):
    counts = cohort.y.value_counts().sort_index()
    n_emb = len(cohort.feature_groups[_BLOCK])
    table = [
        f"| {name} | {r.auroc:.3f} ({r.auroc_low:.3f}-{r.auroc_high:.3f}) | {r.auprc:.3f} | "
        f"{r.brier:.3f} |"
        for name, r in zip(
            ["GraphBoostClassifier", "logistic regression"],
            fitted.cv.table.itertuples(),
            strict=True,
        )
    ]
    top = pd.Series([g.name for g in fitted.model[-1].selected_graphs_]).value_counts().head(8)
    params = ", ".join(f"{k}={v!r}" for k, v in DEMO_PARAMS.items())
    return "\n".join(
        [
            "# graphboost demo",
            "",
            f"Synthetic cohort (`features.make_synthetic_cohort`, seed {seed}): "
            f"{len(cohort.y)} patients ({counts.iloc[0]} negative, {counts.iloc[1]} positive), "
            f"{n_scans} NIfTI scans of {_SHAPE}^3 voxels, {len(syn.missing_scans)} patients "
            f"without a scan, clinical columns {', '.join(syn.clinical_columns)}.",
            "",
            f"1. Small 3D CNN pretrained self-supervised (masked-volume reconstruction, no "
            f"labels) for {pretrain_s:.0f} s; one {n_emb}-dimensional embedding per scan "
            "(`embeddings.csv`).",
            "2. Clinical table and embeddings joined by patient ID (`features.Cohort`); the "
            f"embedding block enters as its first {BLOCK_COMPONENTS} principal components, "
            "fitted inside each training fold, and is one candidate graph "
            f"(`{_BLOCK}`), every column is another; a patient without a scan is marked in "
            f"`{_BLOCK}:missing` and linked through no imaging graph.",
            "3. 5-fold stratified cross-validation, preprocessing (imputation, scaling, "
            "one-hot) fitted inside each training fold:",
            "",
            "| method | AUROC (95% CI) | AUPRC | Brier |",
            "|---|---|---|---|",
            *table,
            "",
            f"4. GraphBoostClassifier({params}) refitted on all patients and saved to `model/`; "
            "it takes the joined table `cohort_with_embeddings.csv` (`graphboost predict "
            "--model model --data cohort_with_embeddings.csv --output predictions.csv`). "
            "Graphs selected most often:",
            "",
            *[f"   - `{name}`: {n} rounds" for name, n in top.items()],
            "",
            f"Total time {seconds:.0f} s.",
            "",
        ]
    )


def run_demo(
    output, *, n_patients=120, pretrain_seconds=45, random_state=0, overwrite=False, verbose=True
):
    """Run the demo into the folder ``output``.

    Parameters
    ----------
    output : str or Path
        Folder to write (refused when it exists and is not empty, unless ``overwrite``).
    n_patients : int, default=120
        At least 30 (5-fold cross-validation).
    pretrain_seconds : float, default=45
        Time budget of the self-supervised pretraining of the scan encoder.
    random_state : int, default=0
    overwrite : bool, default=False
    verbose : bool, default=True
        Print one timed line per step.

    Returns
    -------
    DemoResult
    """
    features = _imaging()
    if n_patients < 30:
        raise InputError(f"n_patients must be at least 30 for 5-fold CV; got {n_patients}.")
    folder = RunFolder(output, overwrite=overwrite)
    step = _Steps(verbose)
    with folder:
        out = folder.staging
        step(f"writing a synthetic cohort of {n_patients} patients (scans {_SHAPE}^3)")
        syn = features.make_synthetic_cohort(
            out / "data", n_patients=n_patients, shape=(_SHAPE,) * 3, random_state=random_state
        )
        emb, pretrain_s = _embed_scans(features, syn, out, pretrain_seconds, random_state, step)
        cohort = read_cohort(
            syn.clinical_path,
            label=syn.label_column,
            id_column=syn.id_column,
            blocks={_BLOCK: emb},
        )
        _joined_table(cohort, syn).to_csv(out / "cohort_with_embeddings.csv", index=False)
        step(f"cohort: {cohort!r}; fitting and 5-fold CV")
        fitted = fit_model_folder(
            cohort,
            out / "model",
            params=DEMO_PARAMS,
            cv=5,
            random_state=random_state,
            source=syn.clinical_path.name,
        )
        report = _report(syn, cohort, fitted, len(emb), pretrain_s, random_state, step.seconds)
        (out / "report.md").write_text(report)
        run = {"seed": random_state, "n_patients": n_patients, "params": DEMO_PARAMS}
        (out / "run.json").write_text(json.dumps({**run, "seconds": step.seconds}, indent=2))
    return DemoResult(folder.path, fitted.cv)
