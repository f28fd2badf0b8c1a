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

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import features

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


def _embed_block(ds, embedder, name) -> dict[str, pd.DataFrame]:
    embedder.set_params(prefix=name, output="pandas").fit()
    out = {}
    for split in SPLITS:
        X, _ = ds.split(split)
        out[split] = embedder.transform(list(X))
        out[split].index = range(len(X))
    return out


def _scores(y, p) -> tuple[float, float]:
    return roc_auc_score(y, p), accuracy_score(y, (p >= 0.5).astype(int))


def fit_logistic(blocks, ys, Cs=(0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)):
    """Standardised logistic regression on train, C chosen by val AUROC."""
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


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pretrain-epochs", type=int, default=4)
    parser.add_argument("--pretrain-size", type=int, default=64)
    parser.add_argument("--objective", choices=("mae", "simclr"), default="mae")
    parser.add_argument("--channels", default="16,32,64,128")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--cache-dir", default="results/adrenal_mnist3d")
    parser.add_argument("--n-estimators", type=int, default=60)
    parser.add_argument(
        "--fine-tune-epochs",
        type=int,
        default=3,
        help="supervised fine-tuning of the SSL encoder on the train split (0: skip)",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    cache = Path(args.cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    channels = tuple(int(c) for c in args.channels.split(","))
    ds = features.load_adrenalmnist3d(size=64)
    ys = {s: ds.split(s)[1] for s in SPLITS}
    n_total = sum(len(v) for v in ys.values())
    print(
        f"AdrenalMNIST3D 64^3: train {len(ys['train'])}, val {len(ys['val'])}, "
        f"test {len(ys['test'])} ({n_total} volumes)"
    )

    t0 = time.perf_counter()
    shape = _shape_block(ds, cache)
    print(
        f"shape features: {shape['train'].shape[1]} per volume, "
        f"{time.perf_counter() - t0:.1f} s for {n_total} volumes"
    )

    pre = features.VolumePreprocessor(
        shape=args.pretrain_size, orientation=None, intensity="minmax"
    )
    enc_kw = {"channels": channels}
    weights = cache / (
        f"ssl_{args.objective}_{args.pretrain_size}_{args.channels.replace(',', '-')}"
        f"_e{args.pretrain_epochs}_s{args.seed}.pt"
    )
    if weights.is_file():
        print(f"pretrained encoder: reusing {weights}")
    else:
        unlabeled = np.concatenate([ds.X_train, ds.X_val])  # never the test volumes
        side = args.pretrain_size
        arrays = np.empty((len(unlabeled), 1, side, side, side), dtype=np.float32)
        for i, v in enumerate(unlabeled):
            arrays[i] = pre(v)
        res = features.pretrain_encoder(
            arrays,
            encoder_kwargs=enc_kw,
            objective=args.objective,
            epochs=args.pretrain_epochs,
            batch_size=16,
            patch_size=max(2, args.pretrain_size // 8),
            random_state=args.seed,
            verbose=True,
        )
        res.save(weights)
        print(
            f"pretraining ({args.objective}, {res.n_volumes} volumes at "
            f"{args.pretrain_size}^3, {len(res.history)} epochs): {res.seconds:.0f} s, "
            f"loss {res.history[0]:.4f} -> {res.history[-1]:.4f}"
        )

    common = dict(
        encoder_kwargs=enc_kw,
        preprocessor=pre,
        batch_size=32,
        cache_dir=cache / "embeddings",
        random_state=args.seed,
    )
    t0 = time.perf_counter()
    ssl = _embed_block(ds, features.VolumeEmbedder(pretrained=weights, **common), "ssl")
    rand = _embed_block(ds, features.VolumeEmbedder(**common), "rand")
    print(f"embeddings of {n_total} volumes x 2 encoders: {time.perf_counter() - t0:.1f} s")
    tuned = None
    if args.fine_tune_epochs > 0:
        # Supervised fine-tuning sees the train split only (labels of val / test never used).
        t0 = time.perf_counter()
        tuner = features.VolumeEmbedder(
            pretrained=weights,
            fine_tune_epochs=args.fine_tune_epochs,
            prefix="tuned",
            output="pandas",
            **common,
        )
        tuner.fit(list(ds.X_train), ys["train"])
        tuned = {}
        for split in SPLITS:
            tuned[split] = tuner.transform(list(ds.split(split)[0]))
            tuned[split].index = range(len(tuned[split]))
        print(
            f"fine-tuning on the train split ({args.fine_tune_epochs} epochs) + embedding: "
            f"{time.perf_counter() - t0:.0f} s"
        )
    constant = [c for c in shape["train"].columns if shape["train"][c].nunique() == 1]
    if constant:
        print(f"shape features constant on train (binary masks), dropped: {constant}")
        shape = {s: shape[s].drop(columns=constant) for s in SPLITS}

    def join(*parts):
        return {s: pd.concat([p[s] for p in parts], axis=1) for s in SPLITS}

    results = {}
    print("\nlogistic regression (standardised, C chosen on val), official test split:")
    for name, blocks in [
        ("random-init CNN embeddings", rand),
        ("SSL-pretrained CNN embeddings", ssl),
        ("shape features", shape),
        ("shape features + SSL embeddings", join(shape, ssl)),
    ] + (
        []
        if tuned is None
        else [
            ("SSL + fine-tuned (train) embeddings", tuned),
            ("shape features + fine-tuned embeddings", join(shape, tuned)),
        ]
    ):
        r = fit_logistic(blocks, ys)
        results[f"LR: {name}"] = r
        print(
            f"  {name:40s} test AUROC {r['test_auc']:.3f}  ACC {r['test_acc']:.3f}  "
            f"(val AUROC {r['val_auc']:.3f}, C={r['C']})"
        )

    print("\nGraphBoostClassifier (fit on train, rounds chosen on val), official test split:")
    both = join(shape, ssl)
    for name, blocks, groups in [
        ("shape features", shape, {"shape": list(shape["train"].columns)}),
        (
            "shape features + SSL embeddings",
            both,
            {"shape": list(shape["train"].columns), "ssl": list(ssl["train"].columns)},
        ),
    ] + (
        []
        if tuned is None
        else [
            (
                "shape features + fine-tuned embeddings",
                join(shape, tuned),
                {"shape": list(shape["train"].columns), "tuned": list(tuned["train"].columns)},
            )
        ]
    ):
        r = fit_graphboost(
            blocks, ys, groups, n_estimators=args.n_estimators, random_state=args.seed
        )
        results[f"GraphBoost: {name}"] = r
        print(
            f"  {name:40s} test AUROC {r['test_auc']:.3f}  ACC {r['test_acc']:.3f}  "
            f"(rounds {r['rounds']}, val AUROC {r['val_auc']:.3f}; all "
            f"{args.n_estimators} rounds: AUROC {r['all_rounds_test_auc']:.3f} "
            f"ACC {r['all_rounds_test_acc']:.3f}; fit {r['fit_s']:.0f} s; "
            f"first graphs {r['first_graphs']})"
        )
    print("\nreference (MedMNIST v2 paper, test AUROC): 3D ResNet-50 0.828, ResNet-18 + 3D 0.863")
    return results


if __name__ == "__main__":
    main()
