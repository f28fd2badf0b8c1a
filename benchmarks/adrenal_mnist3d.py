"""AdrenalMNIST3D: cross-fitted supervised CNN block, shape features and both, official split.

Steps (all printed):

1. load the official train / val / test splits (1,188 / 98 / 298 volumes, 64^3);
2. hand-made shape features of every volume (``features.shape_features``, cached as CSV);
3. the volumes (binary masks) resampled to ``--size`` voxels per edge (MONAI; ``--intensity``:
   the signed distance map of each mask, or min-max scaling or z-scoring);
4. the encoders' start: none (random initialization) or, with ``--pretrain-epochs`` > 0,
   self-supervised pretraining (``--objective``: masked reconstruction or SimCLR) on the train
   + val volumes only (no label, no test volume); ``--compare-pretraining`` runs all three
   starts (none, mae, simclr) with the same split, seeds and settings;
5. for each seed (and start): ``features.SupervisedVolumeEmbedder`` fitted on the train split
   (``--cv`` cross-fitted encoders: out-of-fold logits for the train patients; the val and test
   patients get the mean of the fold encoders and, with ``--inference both``, the encoder
   refitted on the whole train split too); then the AUROC of the logit alone on val
   (``learned, val``: the figure to choose a recipe by) and on test (``learned``), and on test
   of ``GraphBoostClassifier`` on the shape features (``shape``) and on the shape features plus
   the learned block (``shape+learned``), the number of boosting rounds chosen on val;
6. with ``--unsupervised``: the 256-d embeddings of a random-init encoder, in full or reduced by
   ``features.BlockPCA`` inside the training split, as a block beside the shape features.

Defaults depend on the device: on a GPU 64^3, 5 folds, 30 epochs, mean and refit inference; on a
CPU 32^3, 3 folds, 25 epochs, mean inference; on both 12 epochs of SimCLR pretraining, no
early-stopping split (chosen on val and on the out-of-fold AUROC of the training patients, see
``PROFILES``) and the learned block is the mean logit over each volume's 8 flips
(``--test-time-flips``). An option given on the command line wins over both.

The last line printed is one JSON object: the mean test AUROCs over the seeds keyed ``learned``,
``shape`` and ``shape+learned`` (with ``--compare-pretraining``: those of the start with the best
mean ``learned, val``, named in ``start``; every start's figures under ``pretraining``), then the
figures of every seed, the wall times and the settings.

Usage::

    python benchmarks/adrenal_mnist3d.py [--device cuda] [--seeds 0,1,2]
    # CPU defaults: ~4 min of pretraining (cached), then ~5 min per seed with one thread
    # the pretraining comparison (none / mae / simclr; ~8 min of pretraining, ~15 min per seed):
    python benchmarks/adrenal_mnist3d.py --compare-pretraining --seeds 0,1
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _scripts import parse_script_args
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import RepeatedStratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import features

SPLITS = ("train", "val", "test")
STARTS = ("none", "mae", "simclr")

# Defaults of the options given as None below, by device type. "cuda": the full recipe; "cpu":
# what a shared 2-core CPU runs in about 5 minutes per seed and start (one thread).
PROFILES = {
    # measured on one H200, 3 seeds (README): learned, val / out-of-fold train / test
    "cuda": {
        "size": 64,
        "cv": 5,
        "max_epochs": 30,
        "patience": 10,
        # SimCLR start: val 0.828 vs 0.819 without pretraining (out-of-fold 0.807 vs 0.815,
        # test 0.897 vs 0.888)
        "pretrain_epochs": 12,
        "objective": "simclr",
        "inference": "both",
        "test_time_flips": "on",
        # no early-stopping split: val 0.819 vs 0.798, out-of-fold 0.815 vs 0.785 (no pretraining)
        "validation_fraction": 0.0,
    },
    "cpu": {
        "size": 32,
        "cv": 3,
        "max_epochs": 25,
        "patience": 8,
        # chosen on val AUROC of the learned block (2 seeds): SimCLR start 0.821, none 0.786,
        # masked reconstruction 0.795; test 0.873, 0.863 and 0.839 (README)
        "pretrain_epochs": 12,
        "objective": "simclr",
        "inference": "mean",
        # the mean logit of the 8 flips (3 seeds): val 0.828 vs 0.826, test 0.889 vs 0.876
        "test_time_flips": "on",
        # no early-stopping split, all 25 epochs (3 seeds): val 0.825 vs 0.828, out-of-fold
        # train (1,188 patients) 0.825 vs 0.776: no fold encoder kept at an early, untrained epoch
        "validation_fraction": 0.0,
    },
}

OPTIONS = {
    "--size": (None, "voxels per edge of the CNN input (GPU 64, CPU 32)"),
    "--channels": ("16,32,64,128", "widths of the small 3D CNN, comma-separated"),
    "--intensity": (
        "distance",
        "what the CNN sees: the masks' signed distance maps (computed at 64^3, then resized), or "
        "the masks min-max scaled or z-scored",
        ("distance", "minmax", "mri"),
    ),
    "--cv": (None, "cross-fitting folds of the supervised embedder (GPU 5, CPU 3)"),
    "--cv-repeats": (
        1,
        "repeats of the cross-fitting folds (each training patient's block value is the mean "
        "of that many encoders; new patients get the mean of cv x repeats)",
    ),
    "--max-epochs": (None, "most training epochs of each encoder (GPU 30, CPU 25)"),
    "--patience": (
        None,
        "epochs without a lower validation loss before an encoder stops (GPU 10, CPU 8)",
    ),
    "--validation-fraction": (
        None,
        "share of each encoder's training patients held out for early stopping (0: none, all "
        "epochs run; GPU and CPU 0)",
    ),
    "--lr": (1e-3, "AdamW learning rate"),
    "--batch-size": (32, "training batch size"),
    "--augment": (1.0, "strength of the random views (0: flips only)"),
    "--test-time-flips": (
        None,
        "the learned block is the mean of the logits of each volume's 8 flips (8x inference; "
        "GPU and CPU on)",
        ("on", "off"),
    ),
    "--inference": (
        None,
        "new patients: mean of the fold encoders, refit, or both measured (GPU both, CPU mean)",
        ("mean", "refit", "both"),
    ),
    "--seeds": ("0,1,2", "seeds of the embedder and of GraphBoostClassifier, comma-separated"),
    "--pretrain-epochs": (
        None,
        "self-supervised pretraining epochs on train + val (0: none; GPU and CPU 12)",
    ),
    "--objective": (None, "self-supervised objective (GPU and CPU simclr)", ("mae", "simclr")),
    "--compare-pretraining": (
        False,
        "run every start (none, mae, simclr) with the same seeds and settings; one table",
    ),
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


def resolve_options(args):
    """Fill the options left unset (None) from :data:`PROFILES` of the device's type.

    Examples
    --------
    >>> args = parse_script_args(__doc__, OPTIONS, ["--device", "cpu", "--cv", "4"])
    >>> args = resolve_options(args)
    >>> args.size, args.cv, args.inference
    (32, 4, 'mean')
    """
    from graphboost import resolve_device

    profile = PROFILES["cuda" if resolve_device(args.device).type == "cuda" else "cpu"]
    for name, default in profile.items():
        value = getattr(args, name)
        setattr(args, name, default if value is None else type(default)(value))
    if args.compare_pretraining and args.pretrain_epochs < 1:
        raise ValueError(
            "--compare-pretraining needs --pretrain-epochs >= 1 (the mae and simclr starts are "
            f"pretrained for that many epochs); got {args.pretrain_epochs}."
        )
    return args


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


def _volumes(ds, size: int, intensity: str = "minmax") -> dict[str, pd.DataFrame]:
    """Every split's volumes resampled to ``size``^3 and scaled (``intensity``): a "scan"
    column."""
    t0 = time.perf_counter()
    pre = features.VolumePreprocessor(shape=size, orientation=None, intensity=intensity)
    out = {}
    for split in SPLITS:
        X, _ = ds.split(split)
        out[split] = pd.DataFrame({"scan": [pre(v) for v in X]})
    print(f"volumes resampled to {size}^3, {intensity}: {time.perf_counter() - t0:.0f} s")
    return out


def _pretrained_weights(volumes, args, cache, encoder_kwargs, objective) -> tuple[str, float]:
    """Self-supervised encoder weights pretrained on train + val (reused when cached), and the
    seconds the pretraining took (read from the JSON beside cached weights)."""
    weights = cache / (
        f"ssl_{objective}_{args.size}_{args.channels.replace(',', '-')}_{args.intensity}"
        f"_e{args.pretrain_epochs}.pt"
    )
    record = weights.with_suffix(".json")
    if weights.is_file() and record.is_file():
        seconds = float(json.loads(record.read_text())["seconds"])
        print(f"pretrained encoder ({objective}): reusing {weights}")
        return str(weights), seconds
    unlabeled = np.stack([*volumes["train"]["scan"], *volumes["val"]["scan"]])  # never test
    res = features.pretrain_encoder(
        unlabeled,
        encoder_kwargs=encoder_kwargs,
        objective=objective,
        epochs=args.pretrain_epochs,
        batch_size=16,
        patch_size=max(2, args.size // 8),
        device=args.device,
        random_state=0,
        verbose=True,
    )
    res.save(weights)
    record.write_text(json.dumps({"seconds": res.seconds, "history": res.history}) + "\n")
    print(
        f"pretraining ({objective}, {res.n_volumes} volumes at {args.size}^3, "
        f"{len(res.history)} epochs): {res.seconds:.0f} s"
    )
    return str(weights), res.seconds


def _cross_fitting(args, seed):
    """``--cv`` folds, repeated ``--cv-repeats`` times (stratified, seeded by ``seed``)."""
    if args.cv_repeats == 1:
        return args.cv
    return RepeatedStratifiedKFold(n_splits=args.cv, n_repeats=args.cv_repeats, random_state=seed)


def _embedder(args, seed, weights, encoder_kwargs) -> features.SupervisedVolumeEmbedder:
    return features.SupervisedVolumeEmbedder(
        prefix="learned",
        encoder_kwargs=encoder_kwargs,
        pretrained=weights,
        # the volumes are resampled and scaled already (step 3)
        preprocessor=features.VolumePreprocessor(shape=None, orientation=None, intensity=None),
        cv=_cross_fitting(args, seed),
        inference="refit" if args.inference in ("refit", "both") else "mean",
        max_epochs=args.max_epochs,
        patience=args.patience,
        validation_fraction=args.validation_fraction,
        lr=args.lr,
        batch_size=args.batch_size,
        augment=args.augment,
        test_time_flips=args.test_time_flips == "on",
        add_indicator=False,
        device=args.device,
        random_state=seed,
        verbose=True,
    )


def _learned_blocks(volumes, ys, args, seed, weights, encoder_kwargs) -> tuple[dict, dict]:
    """Inference mode -> split -> the learned block (out-of-fold on train), and the training
    record (seconds, best epoch of each encoder)."""
    t0 = time.perf_counter()
    emb = _embedder(args, seed, weights, encoder_kwargs)
    train = emb.fit_transform(volumes["train"], ys["train"])
    modes = ("mean", "refit") if args.inference == "both" else (args.inference,)
    blocks = {}
    for mode in modes:
        emb.set_params(inference=mode)
        blocks[mode] = {"train": train}
        blocks[mode].update({s: emb.transform(volumes[s]) for s in ("val", "test")})
    record = {
        "train_s": round(time.perf_counter() - t0, 1),
        "best_epochs": [h["best_epoch"] + 1 for h in emb.history_],
        "epochs_run": [len(h["train_loss"]) for h in emb.history_],
    }
    print(
        f"seed {seed}: encoders trained in {record['train_s']:.0f} s, best epochs "
        f"{record['best_epochs']} of {record['epochs_run']}"
    )
    return blocks, record


def _shape_result(shape, ys, args, seed) -> float:
    """Test AUROC of GraphBoostClassifier on the shape features (rounds chosen on val)."""
    groups = {"shape": list(shape["train"].columns)}
    return fit_graphboost(shape, ys, groups, args.n_estimators, random_state=seed)["test_auc"]


def _learned_results(shape, blocks, ys, args, seed) -> dict[str, float]:
    """AUROCs of one seed: learned alone (val and test), shape + learned (per inference)."""
    out = {}
    for mode, block in blocks.items():
        suffix = "" if mode == _default_mode(args) else f" ({mode})"
        out["learned" + suffix] = roc_auc_score(ys["test"], block["test"]["learned:logit"])
        out["learned, val" + suffix] = roc_auc_score(ys["val"], block["val"]["learned:logit"])
        out["learned, out-of-fold train" + suffix] = roc_auc_score(
            ys["train"], block["train"]["learned:logit"]
        )
        joined = {s: pd.concat([shape[s], block[s]], axis=1) for s in SPLITS}
        groups = {"shape": list(shape["train"].columns), "learned": ["learned:logit"]}
        both = fit_graphboost(joined, ys, groups, args.n_estimators, random_state=seed)
        out["shape+learned" + suffix] = both["test_auc"]
        lr = fit_logistic(joined, ys)
        out["shape+learned, logistic regression" + suffix] = lr["test_auc"]
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
            pca = features.BlockPCA(block="emb", n_components=n_components)
            block = {"train": pca.fit_transform(raw["train"])}
            block.update({s: pca.transform(raw[s]) for s in ("val", "test")})
            name = f"shape+random PCA-{pca.n_components_}"
        joined = {s: pd.concat([shape[s], block[s]], axis=1) for s in SPLITS}
        groups = {"shape": list(shape["train"].columns), "emb": list(block["train"].columns)}
        out[name] = fit_graphboost(joined, ys, groups, args.n_estimators)["test_auc"]
    print("unsupervised blocks: " + ", ".join(f"{k} {v:.3f}" for k, v in out.items()))
    return out


SETTINGS = (
    "size",
    "channels",
    "intensity",
    "cv",
    "cv_repeats",
    "max_epochs",
    "patience",
    "validation_fraction",
    "lr",
    "batch_size",
    "augment",
    "test_time_flips",
    "inference",
    "pretrain_epochs",
    "objective",
    "n_estimators",
    "device",
)


def _summary(per_seed: list[dict], records: list[dict]) -> dict:
    """Means over the seeds of every figure, their standard deviations and per-seed values."""
    first = ["learned", "shape", "shape+learned", "learned, val"]
    keys = first + [k for k in per_seed[0] if k not in first]
    summary = {k: float(np.mean([r[k] for r in per_seed])) for k in keys}
    summary["sd"] = {k: float(np.std([r[k] for r in per_seed])) for k in keys}
    summary["per_seed"] = {k: [round(r[k], 4) for r in per_seed] for k in keys}
    summary["training"] = records
    return summary


def _table(results: dict[str, dict], seeds: list[int]) -> pd.DataFrame:
    """Rows start x (seed..., mean): learned on val and test, shape, shape + learned, seconds."""
    columns = ["learned, val", "learned", "shape", "shape+learned"]
    rows = []
    for start, res in results.items():
        for i, seed in enumerate(seeds):
            row = {c: res["per_seed"][c][i] for c in columns}
            row["train s"] = res["training"][i]["train_s"]
            rows.append({"start": start, "seed": str(seed), **row})
        mean = {c: round(res[c], 4) for c in columns}
        mean["train s"] = round(float(np.mean([r["train_s"] for r in res["training"]])), 1)
        rows.append({"start": start, "seed": "mean", **mean})
    return pd.DataFrame(rows).set_index(["start", "seed"])


def _run_seeds(shape, volumes, ys, args, starts, encoder_kwargs) -> dict[str, dict]:
    """Every start's per-seed results (seeds outer, so a stopped run has whole seeds)."""
    seeds = [int(s) for s in args.seeds.split(",")]
    weights, pretrain_s = {"none": None}, {"none": 0.0}
    for start in starts:
        if start != "none":
            weights[start], pretrain_s[start] = _pretrained_weights(
                volumes, args, args.cache, encoder_kwargs, start
            )
    per_seed = {s: [] for s in starts}
    records = {s: [] for s in starts}
    for seed in seeds:
        shape_auc = _shape_result(shape, ys, args, seed)
        for start in starts:
            blocks, record = _learned_blocks(
                volumes, ys, args, seed, weights[start], encoder_kwargs
            )
            out = {"shape": shape_auc, **_learned_results(shape, blocks, ys, args, seed)}
            print(
                f"start {start}, seed {seed}: " + ", ".join(f"{k} {v:.3f}" for k, v in out.items())
            )
            per_seed[start].append(out)
            records[start].append(record)
    results = {}
    for start in starts:
        results[start] = _summary(per_seed[start], records[start])
        results[start]["pretrain_s"] = round(pretrain_s[start], 3)
    return results


def main(argv=None) -> dict:
    """Run the comparison; print and return the summary (the last line printed is its JSON)."""
    args = resolve_options(parse_script_args(__doc__, OPTIONS, argv))
    import torch

    torch.set_num_threads(args.threads)  # this script's own process
    t0 = time.perf_counter()
    args.cache = Path(args.cache_dir)
    args.cache.mkdir(parents=True, exist_ok=True)
    ds = features.load_adrenalmnist3d(size=64)
    ys = {s: ds.split(s)[1] for s in SPLITS}
    n_total = sum(len(v) for v in ys.values())
    print(f"AdrenalMNIST3D: train {len(ys['train'])}, val {len(ys['val'])}, test {len(ys['test'])}")
    shape = _shape_without_constants(ds, args.cache, n_total)
    volumes = _volumes(ds, args.size, args.intensity)
    encoder_kwargs = {"channels": tuple(int(c) for c in args.channels.split(","))}
    if args.compare_pretraining:
        starts = list(STARTS)
    else:
        starts = [args.objective if args.pretrain_epochs > 0 else "none"]
    results = _run_seeds(shape, volumes, ys, args, starts, encoder_kwargs)
    # the start reported under the top-level keys: chosen on val, never on test
    chosen = max(starts, key=lambda s: results[s]["learned, val"])
    seeds = [int(s) for s in args.seeds.split(",")]
    if len(starts) > 1:
        print("pretraining comparison (AUROC; choose on 'learned, val', report test):")
        table = _table(results, seeds)
        print(
            table.to_string(formatters={"train s": "{:.0f}".format}, float_format="{:.3f}".format)
        )
    summary = {**results[chosen], "start": chosen, "seeds": seeds}
    if len(starts) > 1:
        summary["pretraining"] = results
    if args.unsupervised:
        summary.update(_unsupervised(shape, volumes, ys, args, encoder_kwargs))
    summary["wall_s"] = round(time.perf_counter() - t0, 1)
    summary["settings"] = {k: getattr(args, k) for k in SETTINGS}
    line = json.dumps(summary)
    if args.json:
        Path(args.json).write_text(line + "\n")
    print(line)
    return summary


if __name__ == "__main__":
    main()
