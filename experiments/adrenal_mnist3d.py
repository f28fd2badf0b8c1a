"""AdrenalMNIST3D: 3D embeddings + shape features -> GraphBoostClassifier, official splits.

Steps (all printed):

1. load the official train / val / test splits (1,188 / 98 / 298 volumes, 64^3);
2. hand-made shape features of every volume (``features.shape_features``);
3. self-supervised pretraining of the small 3D CNN on the train + val volumes only (no label,
   no test volume), at ``--pretrain-size`` voxels per edge; the random-init encoder with the same
   architecture and seed is the control;
4. embeddings of all 1,584 volumes with ``features.VolumeEmbedder`` (on-disk cache), and with
   the SSL encoder fine-tuned (supervised) on the train split only;
5. logistic regression (C chosen on val) on each block, and ``GraphBoostClassifier`` fitted on
   the train split with the number of rounds chosen on val; test AUROC and accuracy.

Usage::

    python -m experiments.adrenal_mnist3d [--pretrain-epochs 4] [--pretrain-size 64] [--threads 1]
"""

from __future__ import annotations

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


def _embed_block(ds, embedder, name, y_train=None) -> dict[str, pd.DataFrame]:
    """Embeddings of every split; ``y_train`` fine-tunes the encoder on the train split first."""
    embedder.set_params(prefix=name, output="pandas")
    if y_train is None:
        embedder.fit()
    else:
        embedder.fit(list(ds.X_train), y_train)
    out = {}
    for split in SPLITS:
        X, _ = ds.split(split)
        out[split] = embedder.transform(list(X))
        out[split].index = range(len(X))
    return out


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
    p_full = clf.predict_proba(blocks["test"])[:, 1]
    test_auc, test_acc = _scores(ys["test"], p_test)
    full_auc, full_acc = _scores(ys["test"], p_full)
    graphs = [g.name for g in clf.selected_graphs_[: max(rounds, 1)]]
    return {
        "rounds": rounds,
        "val_auc": val_curve[rounds],
        "test_auc": test_auc,
        "test_acc": test_acc,
        "all_rounds_test_auc": full_auc,
        "all_rounds_test_acc": full_acc,
        "fit_s": fit_s,
        "first_graphs": graphs[:5],
    }


OPTIONS = {
    "--pretrain-epochs": (4, "self-supervised pretraining epochs"),
    "--pretrain-size": (64, "voxels per edge of the pretraining (and embedding) input"),
    "--objective": ("mae", "self-supervised objective", ("mae", "simclr")),
    "--channels": ("16,32,64,128", "widths of the small 3D CNN, comma-separated"),
    "--threads": (1, "torch intra-op threads of this process"),
    "--cache-dir": ("results/adrenal_mnist3d", "folder of the encoder, embeddings and shapes"),
    "--n-estimators": (60, "most boosting rounds"),
    "--fine-tune-epochs": (3, "supervised fine-tuning of the SSL encoder on train (0: skip)"),
    "--seed": (0, "random seed"),
}


def _pretrained_weights(ds, args, cache, pre, encoder_kwargs) -> Path:
    """Self-supervised encoder weights, pretrained on train + val (reused when cached)."""
    weights = cache / (
        f"ssl_{args.objective}_{args.pretrain_size}_{args.channels.replace(',', '-')}"
        f"_e{args.pretrain_epochs}_s{args.seed}.pt"
    )
    if weights.is_file():
        print(f"pretrained encoder: reusing {weights}")
        return weights
    unlabeled = np.concatenate([ds.X_train, ds.X_val])  # never the test volumes
    side = args.pretrain_size
    arrays = np.empty((len(unlabeled), 1, side, side, side), dtype=np.float32)
    for i, v in enumerate(unlabeled):
        arrays[i] = pre(v)
    res = features.pretrain_encoder(
        arrays,
        encoder_kwargs=encoder_kwargs,
        objective=args.objective,
        epochs=args.pretrain_epochs,
        batch_size=16,
        patch_size=max(2, side // 8),
        random_state=args.seed,
        verbose=True,
    )
    res.save(weights)
    print(
        f"pretraining ({args.objective}, {res.n_volumes} volumes at {side}^3, "
        f"{len(res.history)} epochs): {res.seconds:.0f} s, "
        f"loss {res.history[0]:.4f} -> {res.history[-1]:.4f}"
    )
    return weights


def _embedding_blocks(ds, ys, args, weights, common) -> dict[str, dict[str, pd.DataFrame]]:
    """SSL, random-init and (with ``--fine-tune-epochs``) fine-tuned embeddings of every split."""
    t0 = time.perf_counter()
    blocks = {
        "ssl": _embed_block(ds, features.VolumeEmbedder(pretrained=weights, **common), "ssl"),
        "rand": _embed_block(ds, features.VolumeEmbedder(**common), "rand"),
    }
    print(
        f"embeddings of {sum(map(len, ys.values()))} volumes x 2 encoders: "
        f"{time.perf_counter() - t0:.1f} s"
    )
    if args.fine_tune_epochs > 0:
        # Supervised fine-tuning sees the train split only (labels of val / test never used).
        t0 = time.perf_counter()
        tuner = features.VolumeEmbedder(
            pretrained=weights, fine_tune_epochs=args.fine_tune_epochs, **common
        )
        blocks["tuned"] = _embed_block(ds, tuner, "tuned", y_train=ys["train"])
        print(
            f"fine-tuning on the train split ({args.fine_tune_epochs} epochs) + embedding: "
            f"{time.perf_counter() - t0:.0f} s"
        )
    return blocks


def _join(*parts) -> dict[str, pd.DataFrame]:
    return {s: pd.concat([p[s] for p in parts], axis=1) for s in SPLITS}


def _report_logistic(blocks, shape, ys) -> dict:
    print("\nlogistic regression (standardized, C chosen on val), official test split:")
    sets = {
        "random-init CNN embeddings": blocks["rand"],
        "SSL-pretrained CNN embeddings": blocks["ssl"],
        "shape features": shape,
        "shape features + SSL embeddings": _join(shape, blocks["ssl"]),
    }
    if "tuned" in blocks:
        sets["SSL + fine-tuned (train) embeddings"] = blocks["tuned"]
        sets["shape features + fine-tuned embeddings"] = _join(shape, blocks["tuned"])
    results = {}
    for name, data in sets.items():
        r = results[f"LR: {name}"] = fit_logistic(data, ys)
        print(
            f"  {name:40s} test AUROC {r['test_auc']:.3f}  ACC {r['test_acc']:.3f}  "
            f"(val AUROC {r['val_auc']:.3f}, C={r['C']})"
        )
    return results


def _report_graphboost(blocks, shape, ys, n_estimators, seed) -> dict:
    print("\nGraphBoostClassifier (fit on train, rounds chosen on val), official test split:")
    sets = {
        "shape features": {"shape": shape},
        "shape features + SSL embeddings": {"shape": shape, "ssl": blocks["ssl"]},
    }
    if "tuned" in blocks:
        sets["shape features + fine-tuned embeddings"] = {"shape": shape, "tuned": blocks["tuned"]}
    results = {}
    for name, parts in sets.items():
        groups = {g: list(part["train"].columns) for g, part in parts.items()}
        r = fit_graphboost(_join(*parts.values()), ys, groups, n_estimators, random_state=seed)
        results[f"GraphBoost: {name}"] = r
        print(
            f"  {name:40s} test AUROC {r['test_auc']:.3f}  ACC {r['test_acc']:.3f}  "
            f"(rounds {r['rounds']}, val AUROC {r['val_auc']:.3f}; all "
            f"{n_estimators} rounds: AUROC {r['all_rounds_test_auc']:.3f} "
            f"ACC {r['all_rounds_test_acc']:.3f}; fit {r['fit_s']:.0f} s; "
            f"first graphs {r['first_graphs']})"
        )
    return results


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


def main(argv=None) -> dict:
    """Run the whole comparison; returns the figures of every model (also printed)."""
    args = parse_script_args(__doc__, OPTIONS, argv)
    import torch

    torch.set_num_threads(args.threads)  # this script's own process
    cache = Path(args.cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    ds = features.load_adrenalmnist3d(size=64)
    ys = {s: ds.split(s)[1] for s in SPLITS}
    n_total = sum(len(v) for v in ys.values())
    print(
        f"AdrenalMNIST3D 64^3: train {len(ys['train'])}, val {len(ys['val'])}, "
        f"test {len(ys['test'])} ({n_total} volumes)"
    )
    shape = _shape_without_constants(ds, cache, n_total)
    pre = features.VolumePreprocessor(
        shape=args.pretrain_size, orientation=None, intensity="minmax"
    )
    encoder_kwargs = {"channels": tuple(int(c) for c in args.channels.split(","))}
    weights = _pretrained_weights(ds, args, cache, pre, encoder_kwargs)
    common = dict(
        encoder_kwargs=encoder_kwargs,
        preprocessor=pre,
        batch_size=32,
        cache_dir=cache / "embeddings",
        random_state=args.seed,
    )
    blocks = _embedding_blocks(ds, ys, args, weights, common)
    results = _report_logistic(blocks, shape, ys)
    results |= _report_graphboost(blocks, shape, ys, args.n_estimators, args.seed)
    print("\nreference (MedMNIST v2 paper, test AUROC): 3D ResNet-50 0.828, ResNet-18 + 3D 0.863")
    return results


if __name__ == "__main__":
    main()
