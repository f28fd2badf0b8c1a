"""AdrenalMNIST3D: cross-fitted supervised CNN block, shape features and both, official split.

Steps (all printed):

1. load the official train / val / test splits (1,188 / 98 / 298 volumes, 64^3);
2. hand-made shape features of every volume (``features.shape_features``, cached as CSV);
3. the volumes resampled to ``--size`` voxels per edge (MONAI, min-max intensities);
4. optionally (``--pretrain-epochs`` > 0) self-supervised pretraining of the encoder on the train
   + val volumes only (no label, no test volume): the starting weights of every encoder;
5. for each seed: ``features.SupervisedVolumeEmbedder`` fitted on the train split (``--cv``
   cross-fitted encoders: out-of-fold logits for the train patients; the val and test patients
   get the mean of the fold encoders and, with ``--inference both``, the encoder refitted on the
   whole train split too); then on the test split: the AUROC of the logit alone (``learned``),
   of ``GraphBoostClassifier`` on the shape features (``shape``) and on the shape features plus
   the learned block (``shape+learned``), the number of boosting rounds chosen on val;
6. with ``--unsupervised``: the 256-d embeddings of a random-init encoder, in full or reduced by
   ``features.BlockPCA`` inside the training split, as a block beside the shape features.

The last line printed is one JSON object: the mean test AUROCs over the seeds keyed ``learned``,
``shape`` and ``shape+learned``, then the figures of every seed and the settings.

Usage::

    python -m experiments.adrenal_mnist3d [--size 64] [--cv 5] [--seeds 0,1,2] [--device cuda]
    # what fits a shared 2-core CPU (20 minutes with one thread, 3 seeds, mean and refit):
    python -m experiments.adrenal_mnist3d --size 32 --cv 3 --max-epochs 15 --patience 15
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import features

from ._scripts import parse_script_args

SPLITS = ("train", "val", "test")

OPTIONS = {
    "--size": (64, "voxels per edge of the CNN input"),
    "--channels": ("16,32,64,128", "widths of the small 3D CNN, comma-separated"),
    "--cv": (5, "cross-fitting folds of the supervised embedder"),
    "--max-epochs": (30, "most training epochs of each encoder"),
    "--patience": (10, "epochs without a lower validation loss before an encoder stops"),
    "--lr": (1e-3, "AdamW learning rate"),
    "--batch-size": (32, "training batch size"),
    "--augment": (1.0, "strength of the random views (0: flips only)"),
    "--inference": (
        "both",
        "new patients: mean of the fold encoders, refit, or both measured",
        ("mean", "refit", "both"),
    ),
    "--seeds": ("0,1,2", "seeds of the embedder and of GraphBoostClassifier, comma-separated"),
    "--pretrain-epochs": (0, "self-supervised pretraining epochs on train + val (0: none)"),
    "--objective": ("mae", "self-supervised objective", ("mae", "simclr")),
    "--unsupervised": (
        False,
        "also measure the 256-d random-init embeddings, full and PCA-reduced",
    ),
    "--n-estimators": (60, "most boosting rounds"),
    "--device": ("auto", "torch device of the encoders"),
    "--threads": (1, "torch intra-op threads of this process"),
    "--cache-dir": ("results/adrenal_mnist3d", "folder of the shape features and encoder weights"),
    "--json": (None, "also write the final JSON object to this file"),
}


def _shape_block(ds, cache: Path | None = None) -> dict[str, pd.DataFrame]:
    """Shape features of every volume; cached as CSV next to the embeddings (keyed by file)."""
    st = ds.path.stat()
    files = {
        s: None if cache is None else cache / f"shape_{ds.size}_{st.st_size}_{s}.csv"
        for s in SPLITS
    }
    out = {}
    for split in SPLITS:
        f = files[split]
        if f is not None and f.is_file():
            out[split] = pd.read_csv(f)
            continue
        X, _ = ds.split(split)
        rows = [features.shape_features(v) for v in X]
        out[split] = pd.DataFrame(rows).add_prefix("shape:")
        if f is not None:
            out[split].to_csv(f, index=False)
    return out


def _shape_without_constants(ds, cache, n_total) -> dict[str, pd.DataFrame]:
    t0 = time.perf_counter()
    shape = _shape_block(ds, cache)
    print(
        f"shape features: {shape['train'].shape[1]} per volume, "
        f"{time.perf_counter() - t0:.1f} s for {n_total} volumes"
    )
    constant = [c for c in shape["train"].columns if shape["train"][c].nunique() == 1]
    if constant:
        print(f"shape features constant on train (binary masks), dropped: {constant}")
        shape = {s: shape[s].drop(columns=constant) for s in SPLITS}
    return shape


def _scores(y, p) -> tuple[float, float]:
    return roc_auc_score(y, p), accuracy_score(y, (p >= 0.5).astype(int))


def fit_logistic(blocks, ys, Cs=(0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)):
    """Standardized logistic regression on train, C chosen by val AUROC."""
    best = None
    for C in Cs:
        model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=5000))
        model.fit(blocks["train"], ys["train"])
        val = roc_auc_score(ys["val"], model.predict_proba(blocks["val"])[:, 1])
        if best is None or val > best[0]:
            best = (val, C, model)
    val, C, model = best
    test_auc, test_acc = _scores(ys["test"], model.predict_proba(blocks["test"])[:, 1])
    return {"C": C, "val_auc": val, "test_auc": test_auc, "test_acc": test_acc}


def fit_graphboost(blocks, ys, groups, n_estimators=60, random_state=0):
    """GraphBoostClassifier on train; the number of rounds is chosen by val AUROC."""
    from graphboost import GraphBoostClassifier

    clf = GraphBoostClassifier(
        n_estimators=n_estimators,
        learning_rate=0.1,
        conv="vote",
        n_neighbors=(10, 20),
        feature_groups=groups,
        random_state=random_state,
    )
    t0 = time.perf_counter()
    clf.fit(blocks["train"], ys["train"])
    fit_s = time.perf_counter() - t0
    # staged_predict_proba yields the init model first, then the model after each round
    val_curve = [roc_auc_score(ys["val"], p[:, 1]) for p in clf.staged_predict_proba(blocks["val"])]
    rounds = int(np.argmax(val_curve))  # 0 = the init model alone
    p_test = list(clf.staged_predict_proba(blocks["test"]))[rounds][:, 1]
    test_auc, test_acc = _scores(ys["test"], p_test)
    graphs = [g.name for g in clf.selected_graphs_[: max(rounds, 1)]]
    return {
        "rounds": rounds,
        "val_auc": val_curve[rounds],
        "test_auc": test_auc,
        "test_acc": test_acc,
        "fit_s": fit_s,
        "first_graphs": graphs[:5],
    }


def _volumes(ds, size: int) -> dict[str, pd.DataFrame]:
    """Every split's volumes resampled to ``size``^3, min-max scaled: a "scan" column."""
    t0 = time.perf_counter()
    pre = features.VolumePreprocessor(shape=size, orientation=None, intensity="minmax")
    out = {}
    for split in SPLITS:
        X, _ = ds.split(split)
        out[split] = pd.DataFrame({"scan": [pre(v) for v in X]})
    print(f"volumes resampled to {size}^3: {time.perf_counter() - t0:.0f} s")
    return out


def _pretrained_weights(volumes, args, cache, encoder_kwargs) -> Path:
    """Self-supervised encoder weights, pretrained on train + val (reused when cached)."""
    weights = cache / (
        f"ssl_{args.objective}_{args.size}_{args.channels.replace(',', '-')}"
        f"_e{args.pretrain_epochs}.pt"
    )
    if weights.is_file():
        print(f"pretrained encoder: reusing {weights}")
        return weights
    unlabeled = np.stack([*volumes["train"]["scan"], *volumes["val"]["scan"]])  # never test
    res = features.pretrain_encoder(
        unlabeled,
        encoder_kwargs=encoder_kwargs,
        objective=args.objective,
        epochs=args.pretrain_epochs,
        batch_size=16,
        patch_size=max(2, args.size // 8),
        device=args.device,
        random_state=0,
        verbose=True,
    )
    res.save(weights)
    print(
        f"pretraining ({args.objective}, {res.n_volumes} volumes at {args.size}^3, "
        f"{len(res.history)} epochs): {res.seconds:.0f} s"
    )
    return weights


def _embedder(args, seed, weights, encoder_kwargs) -> features.SupervisedVolumeEmbedder:
    return features.SupervisedVolumeEmbedder(
        prefix="learned",
        encoder_kwargs=encoder_kwargs,
        pretrained=weights,
        # the volumes are resampled and scaled already (step 3)
        preprocessor=features.VolumePreprocessor(shape=None, orientation=None, intensity=None),
        cv=args.cv,
        inference="refit" if args.inference in ("refit", "both") else "mean",
        max_epochs=args.max_epochs,
        patience=args.patience,
        lr=args.lr,
        batch_size=args.batch_size,
        augment=args.augment,
        add_indicator=False,
        device=args.device,
        random_state=seed,
        verbose=True,
    )


def _learned_blocks(volumes, ys, args, seed, weights, encoder_kwargs) -> dict[str, dict]:
    """Inference mode -> split -> the learned block (out-of-fold on train)."""
    t0 = time.perf_counter()
    emb = _embedder(args, seed, weights, encoder_kwargs)
    train = emb.fit_transform(volumes["train"], ys["train"])
    modes = ("mean", "refit") if args.inference == "both" else (args.inference,)
    blocks = {}
    for mode in modes:
        emb.set_params(inference=mode)
        blocks[mode] = {"train": train}
        blocks[mode].update({s: emb.transform(volumes[s]) for s in ("val", "test")})
    epochs = [h["best_epoch"] + 1 for h in emb.history_]
    print(
        f"seed {seed}: encoders trained in {time.perf_counter() - t0:.0f} s, best epochs {epochs}"
    )
    return blocks


def _seed_results(shape, blocks, ys, args, seed) -> dict[str, float]:
    """Test AUROCs of one seed: learned alone, shape, shape + learned (per inference mode)."""
    out = {}
    shape_fit = fit_graphboost(
        shape, ys, {"shape": list(shape["train"].columns)}, args.n_estimators, random_state=seed
    )
    out["shape"] = shape_fit["test_auc"]
    for mode, block in blocks.items():
        suffix = "" if mode == _default_mode(args) else f" ({mode})"
        out["learned" + suffix] = roc_auc_score(ys["test"], block["test"]["learned:logit"])
        out["learned, out-of-fold train" + suffix] = roc_auc_score(
            ys["train"], block["train"]["learned:logit"]
        )
        joined = {s: pd.concat([shape[s], block[s]], axis=1) for s in SPLITS}
        groups = {"shape": list(shape["train"].columns), "learned": ["learned:logit"]}
        both = fit_graphboost(joined, ys, groups, args.n_estimators, random_state=seed)
        out["shape+learned" + suffix] = both["test_auc"]
        lr = fit_logistic(joined, ys)
        out["shape+learned, logistic regression" + suffix] = lr["test_auc"]
    print(f"seed {seed}: " + ", ".join(f"{k} {v:.3f}" for k, v in out.items()))
    return out


def _default_mode(args) -> str:
    """The inference whose figures are reported under the plain keys."""
    return "mean" if args.inference == "both" else args.inference


def _unsupervised(shape, volumes, ys, args, encoder_kwargs) -> dict[str, float]:
    """Random-init 256-d embeddings beside the shape features: full block vs BlockPCA inside
    the training split (GraphBoostClassifier, test AUROC)."""
    emb = features.VolumeEmbedder(
        encoder_kwargs=encoder_kwargs,
        preprocessor=features.VolumePreprocessor(shape=None, orientation=None, intensity=None),
        output="pandas",
        prefix="emb",
        device=args.device,
    ).fit()
    raw = {s: emb.transform(list(volumes[s]["scan"])).reset_index(drop=True) for s in SPLITS}
    out = {}
    for n_components in (None, 8, "auto"):
        if n_components is None:
            block, name = raw, "shape+random 256-d"
        else:
            pca = features.BlockPCA(block="emb", n_components=n_components, random_state=0)
            block = {"train": pca.fit_transform(raw["train"])}
            block.update({s: pca.transform(raw[s]) for s in ("val", "test")})
            name = f"shape+random PCA-{pca.n_components_}"
        joined = {s: pd.concat([shape[s], block[s]], axis=1) for s in SPLITS}
        groups = {"shape": list(shape["train"].columns), "emb": list(block["train"].columns)}
        out[name] = fit_graphboost(joined, ys, groups, args.n_estimators)["test_auc"]
    print("unsupervised blocks: " + ", ".join(f"{k} {v:.3f}" for k, v in out.items()))
    return out


def _summary(per_seed: list[dict], seeds, args, extra) -> dict:
    first = ["learned", "shape", "shape+learned"]
    keys = first + [k for k in per_seed[0] if k not in first]
    summary = {k: float(np.mean([r[k] for r in per_seed])) for k in keys}
    summary["sd"] = {k: float(np.std([r[k] for r in per_seed])) for k in keys}
    summary["per_seed"] = {k: [round(r[k], 4) for r in per_seed] for k in keys}
    summary["seeds"] = seeds
    summary.update(extra)
    summary["settings"] = {
        k: getattr(args, k.replace("-", "_"))
        for k in (
            "size",
            "channels",
            "cv",
            "max_epochs",
            "patience",
            "lr",
            "batch_size",
            "augment",
            "inference",
            "pretrain_epochs",
            "objective",
            "n_estimators",
        )
    }
    return summary


def main(argv=None) -> dict:
    """Run the comparison; print and return the summary (the last line printed is its JSON)."""
    args = parse_script_args(__doc__, OPTIONS, argv)
    import torch

    torch.set_num_threads(args.threads)  # this script's own process
    cache = Path(args.cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    ds = features.load_adrenalmnist3d(size=64)
    ys = {s: ds.split(s)[1] for s in SPLITS}
    n_total = sum(len(v) for v in ys.values())
    print(f"AdrenalMNIST3D: train {len(ys['train'])}, val {len(ys['val'])}, test {len(ys['test'])}")
    shape = _shape_without_constants(ds, cache, n_total)
    volumes = _volumes(ds, args.size)
    encoder_kwargs = {"channels": tuple(int(c) for c in args.channels.split(","))}
    weights = None
    if args.pretrain_epochs > 0:
        weights = str(_pretrained_weights(volumes, args, cache, encoder_kwargs))
    seeds = [int(s) for s in args.seeds.split(",")]
    per_seed = []
    for seed in seeds:
        blocks = _learned_blocks(volumes, ys, args, seed, weights, encoder_kwargs)
        per_seed.append(_seed_results(shape, blocks, ys, args, seed))
    extra = _unsupervised(shape, volumes, ys, args, encoder_kwargs) if args.unsupervised else {}
    summary = _summary(per_seed, seeds, args, extra)
    line = json.dumps(summary)
    if args.json:
        Path(args.json).write_text(line + "\n")
    print(line)
    return summary


if __name__ == "__main__":
    main()
