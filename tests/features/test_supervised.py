"""SupervisedVolumeEmbedder: cross-fitting without leakage, the pipeline, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import (
    KFold,
    RepeatedStratifiedKFold,
    StratifiedKFold,
    StratifiedShuffleSplit,
    cross_val_predict,
)
from sklearn.pipeline import make_pipeline

pytest.importorskip("monai")

from features import (
    ClinicalPreprocessor,
    SupervisedVolumeEmbedder,
    VolumePreprocessor,
    build_encoder,
    save_encoder,
)
from graphboost import GraphBoostClassifier

TINY = {"channels": (4, 4, 8, 8)}


def _embedder(**kw):
    params = dict(
        encoder_kwargs=TINY,
        preprocessor=VolumePreprocessor(shape=8, orientation=None, intensity="mri"),
        cv=3,
        max_epochs=4,
        batch_size=8,
        device="cpu",
        add_indicator=False,
    )
    params.update(kw)
    return SupervisedVolumeEmbedder(**params)


def _cohort(n=36, seed=0, signal=2.0, side=8):
    """Patients with an age column and an 8^3 scan whose bright blob grows with the label."""
    rng = np.random.default_rng(seed)
    y = np.array([0, 1] * (n // 2))
    scans = []
    for label in y:
        vol = rng.normal(size=(side, side, side)).astype(np.float32)
        r = 1 + label
        vol[4 - r : 4 + r, 4 - r : 4 + r, 4 - r : 4 + r] += signal
        scans.append(vol)
    ids = [f"p{i:03d}" for i in range(n)]
    X = pd.DataFrame({"age": rng.normal(60, 10, n), "scan": scans}, index=ids)
    return X, y


def _logit(model, volumes: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        out = model(torch.from_numpy(volumes)).numpy()
    return out[:, 1] - out[:, 0]


def _preprocessed(emb, X) -> np.ndarray:
    pre = emb.preprocessor
    return np.stack([pre(v) for v in X["scan"]])


@pytest.fixture(scope="module")
def fitted():
    X, y = _cohort()
    emb = _embedder()
    out = emb.fit_transform(X, y)
    return emb, X, y, out


def test_out_of_fold_rows_come_from_the_encoder_that_never_saw_them(fitted):
    emb, X, _, out = fitted
    assert list(out.columns) == ["age", "scan:logit"]
    assert out.index.equals(X.index)
    np.testing.assert_array_equal(out["age"], X["age"])
    assert len(emb.fold_models_) == len(emb.cv_folds_) == 3
    held_out_all = np.concatenate([held for _, held in emb.cv_folds_])
    np.testing.assert_array_equal(np.sort(held_out_all), np.arange(len(X)))
    volumes = _preprocessed(emb, X)
    for k, (trained, held_out) in enumerate(emb.cv_folds_):
        assert not set(trained) & set(held_out)
        assert len(trained) + len(held_out) == len(X)
        assert (emb.oof_fold_[held_out] == k).all()
        # the out-of-fold values are this fold encoder's outputs, and only its
        expected = _logit(emb.fold_models_[k], volumes[held_out])
        np.testing.assert_allclose(out["scan:logit"].to_numpy()[held_out], expected, atol=1e-5)


def test_labels_of_held_out_patients_do_not_reach_their_own_outputs():
    """Flipping the labels of one fold's patients leaves their out-of-fold values unchanged (the
    encoder that gives them never trained on them) and changes everyone else's."""
    X, y = _cohort()
    cv = KFold(3, shuffle=True, random_state=0)  # folds that do not depend on the labels
    base = _embedder(cv=cv).fit_transform(X, y)["scan:logit"].to_numpy()
    held_out = next(iter(cv.split(X)))[1]
    flipped = y.copy()
    flipped[held_out] = 1 - flipped[held_out]
    again = _embedder(cv=cv).fit_transform(X, flipped)["scan:logit"].to_numpy()
    np.testing.assert_array_equal(again[held_out], base[held_out])
    others = np.setdiff1d(np.arange(len(X)), held_out)
    assert not np.allclose(again[others], base[others])


@pytest.mark.filterwarnings("ignore:No candidate graph beat chance")
def test_permuted_labels_give_chance_auroc_through_the_whole_pipeline():
    """With labels unrelated to the scans, neither the out-of-fold block nor the pipeline
    (embedder, ClinicalPreprocessor, GraphBoostClassifier) scores above chance, while the
    in-sample outputs of the same encoder memorize the labels."""
    X, _ = _cohort(n=60, signal=0.0)
    y = np.random.default_rng(1).permutation(np.array([0, 1] * 30))
    emb = _embedder(max_epochs=12, validation_fraction=0.0, augment=None, lr=3e-3)
    oof = emb.fit_transform(X, y)["scan:logit"]
    in_sample = emb.transform(X)["scan:logit"]
    assert roc_auc_score(y, in_sample) > 0.85  # the encoders memorize their training labels
    assert abs(roc_auc_score(y, oof) - 0.5) < 0.2
    pipe = make_pipeline(
        clone(emb).set_params(max_epochs=6),
        ClinicalPreprocessor(numeric=["age", "scan:logit"]),
        GraphBoostClassifier(
            n_estimators=10, feature_groups={"scan": ["scan:logit"]}, random_state=0
        ),
    ).set_output(transform="pandas")
    outer = StratifiedKFold(3, shuffle=True, random_state=0)
    proba = cross_val_predict(pipe, X, y, cv=outer, method="predict_proba")[:, 1]
    assert abs(roc_auc_score(y, proba) - 0.5) < 0.2


def test_pipeline_with_missing_scans_and_new_patients():
    X, y = _cohort()
    X = X.astype({"scan": object})
    X.iloc[[0, 5], X.columns.get_loc("scan")] = None  # two patients without a scan
    emb = _embedder(add_indicator=True, prefix="ct")
    pipe = make_pipeline(
        emb,
        ClinicalPreprocessor(
            numeric=emb.block_columns(), binary=["ct:missing"], skip_indicator=emb.block_columns()
        ),
        GraphBoostClassifier(n_estimators=5, feature_groups={"ct": ["ct:logit"]}, random_state=0),
    ).set_output(transform="pandas")
    pipe.fit(X.iloc[:30], y[:30])
    fitted_emb = pipe[0]
    assert fitted_emb.oof_fold_[[0, 5]].tolist() == [-1, -1]
    assert sum(len(held) for _, held in fitted_emb.cv_folds_) == 28
    block = fitted_emb.transform(X.iloc[:8])
    assert block["ct:missing"].tolist() == [1, 0, 0, 0, 0, 1, 0, 0]
    assert (
        block["ct:logit"].isna().tolist() == [True, False, False, False, False, True] + [False] * 2
    )
    assert list(fitted_emb.get_feature_names_out()) == ["age", "ct:missing", "ct:logit"]
    proba = pipe.predict_proba(X.iloc[30:])
    assert proba.shape == (6, 2) and np.isfinite(proba).all()


def test_test_time_flips_average_the_eight_flips_and_ignore_a_flip_of_the_scan(fitted):
    emb, X, _, _ = fitted
    flipped = clone(emb).set_params(test_time_flips=True)
    flipped.__dict__.update({k: v for k, v in emb.__dict__.items() if k.endswith("_")})
    volumes = _preprocessed(emb, X)
    views = [np.flip(volumes, axis) for axis in ((), (2,), (3,), (4,), (2, 3), (2, 4), (3, 4))]
    views.append(np.flip(volumes, (2, 3, 4)))
    expected = np.mean(
        [np.mean([_logit(m, v.copy()) for v in views], axis=0) for m in emb.fold_models_], axis=0
    )
    out = flipped.transform(X)["scan:logit"].to_numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)
    assert not np.allclose(out, emb.transform(X)["scan:logit"].to_numpy())
    mirrored = X.assign(scan=[np.ascontiguousarray(v[::-1]) for v in X["scan"]])
    np.testing.assert_allclose(flipped.transform(mirrored)["scan:logit"], out, rtol=1e-4, atol=1e-5)


def test_repeated_cross_fitting_averages_the_encoders_that_held_each_patient_out():
    X, y = _cohort(n=24)
    emb = _embedder(cv=RepeatedStratifiedKFold(n_splits=3, n_repeats=2, random_state=0))
    out = emb.fit_transform(X, y)["scan:logit"].to_numpy()
    assert len(emb.fold_models_) == len(emb.cv_folds_) == 6
    volumes = _preprocessed(emb, X)
    for i in range(len(X)):
        held = [k for k, (trained, held_out) in enumerate(emb.cv_folds_) if i in held_out]
        assert len(held) == 2 and all(i not in emb.cv_folds_[k][0] for k in held)
        expected = np.mean([_logit(emb.fold_models_[k], volumes[i : i + 1]) for k in held])
        np.testing.assert_allclose(out[i], expected, atol=1e-5)
    every = np.mean([_logit(m, volumes[:3]) for m in emb.fold_models_], axis=0)
    np.testing.assert_allclose(emb.transform(X.iloc[:3])["scan:logit"], every, atol=1e-5)


def test_cv_that_never_holds_a_patient_out_is_an_error():
    X, y = _cohort(n=24)
    emb = _embedder(cv=StratifiedShuffleSplit(n_splits=1, test_size=0.25, random_state=0))
    with pytest.raises(ValueError, match=r"'cv' parameter .* every training patient at least"):
        emb.fit_transform(X, y)


def test_refit_inference_and_mean_inference():
    X, y = _cohort()
    refit = _embedder(inference="refit").fit(X, y)
    assert refit.model_ is not None and refit.fold_models_ == []
    assert [h["name"] for h in refit.history_] == ["refit"]
    volumes = _preprocessed(refit, X)
    np.testing.assert_allclose(
        refit.transform(X)["scan:logit"], _logit(refit.model_, volumes), atol=1e-5
    )
    both = _embedder(inference="refit")
    both.fit_transform(X, y)
    assert len(both.fold_models_) == 3 and both.model_ is not None
    assert [h["name"] for h in both.history_] == ["fold 0", "fold 1", "fold 2", "refit"]
    mean = _embedder().fit(X, y)
    expected = np.mean([_logit(m, volumes) for m in mean.fold_models_], axis=0)
    np.testing.assert_allclose(mean.transform(X)["scan:logit"], expected, atol=1e-5)
    assert mean.model_ is None
    # inference is read by transform: after fit_transform with "refit", both kinds are there
    expected = np.mean([_logit(m, volumes) for m in both.fold_models_], axis=0)
    both.set_params(inference="mean")
    np.testing.assert_allclose(both.transform(X)["scan:logit"], expected, atol=1e-5)
    with pytest.raises(ValueError, match=r"no encoder for inference='mean'"):
        refit.set_params(inference="mean").transform(X)


def test_deterministic_and_leaves_global_rng_alone(fitted):
    emb, X, y, out = fitted
    before = torch.random.get_rng_state()
    again = clone(emb).fit_transform(X, y)
    assert torch.equal(before, torch.random.get_rng_state())
    # Same seed, same draws; float32 convolutions may sum in another order when the process's
    # thread count differs between the two fits (pytest-xdist), hence a tolerance far below the
    # effect of another seed (checked next).
    pd.testing.assert_frame_equal(again, out, check_exact=False, rtol=0, atol=1e-4)
    other = clone(emb).set_params(random_state=1).fit_transform(X, y)
    assert not np.allclose(other["scan:logit"], out["scan:logit"], atol=1e-2)


def test_early_stopping_keeps_the_best_epoch():
    X, y = _cohort(n=40)
    emb = _embedder(max_epochs=6, patience=2, validation_fraction=0.25).fit(X, y)
    for record in emb.history_:
        losses = record["val_loss"]
        assert len(losses) == len(record["train_loss"]) >= 1
        assert record["best_epoch"] == int(np.argmin(losses))
        assert len(losses) <= 6 and len(losses) - 1 - record["best_epoch"] <= 2


def test_no_early_stop_before_min_epochs():
    """lr 0: the validation loss never improves after the first epoch, so patience 1 alone stops
    every encoder after 2 epochs; min_epochs (default: half of max_epochs) holds it longer."""
    X, y = _cohort(n=40)
    epochs_run = {}
    for min_epochs in (1, None, 5):
        emb = _embedder(max_epochs=8, patience=1, lr=0.0, min_epochs=min_epochs).fit(X, y)
        epochs_run[min_epochs] = {len(r["val_loss"]) for r in emb.history_}
        assert {r["best_epoch"] for r in emb.history_} == {0}
    assert epochs_run == {1: {2}, None: {4}, 5: {5}}


def test_starts_from_pretrained_weights(tmp_path):
    X, y = _cohort()
    start = build_encoder("small", **TINY)
    with torch.no_grad():
        for p in start.parameters():
            p.fill_(0.01)
    path = save_encoder(start, tmp_path / "ssl.pt")
    emb = _embedder(pretrained=str(path), lr=0.0, max_epochs=1).fit(X, y)  # lr 0: no update
    for model in emb.fold_models_:
        for name, value in model.encoder.state_dict().items():
            torch.testing.assert_close(value, start.state_dict()[name])
    with pytest.raises(FileNotFoundError, match="Checkpoint file not found"):
        _embedder(pretrained=str(tmp_path / "absent.pt")).fit(X, y)


def test_multiclass_gives_one_log_probability_per_class():
    X, _ = _cohort(n=36)
    y = np.array(["a", "b", "c"] * 12)
    out = _embedder().fit_transform(X, y)
    assert list(out.columns) == ["age", "scan:logit_0", "scan:logit_1", "scan:logit_2"]
    probabilities = np.exp(out[["scan:logit_0", "scan:logit_1", "scan:logit_2"]]).sum(axis=1)
    np.testing.assert_allclose(probabilities, 1.0, atol=1e-5)


def test_unreadable_scan_raises_or_is_skipped(tmp_path):
    X, y = _cohort()
    X = X.astype({"scan": object})
    X.iat[3, X.columns.get_loc("scan")] = str(tmp_path / "p003-secret.nii.gz")
    with pytest.raises(ValueError, match=r"Cannot use the scan in row 3 of column 'scan'") as err:
        _embedder().fit(X, y)
    assert "p003-secret" not in str(err.value)  # no patient identifier in messages
    emb = _embedder(on_error="skip", add_indicator=True)
    out = emb.fit_transform(X, y)
    assert emb.skipped_ == [3] and out["scan:missing"].iloc[3] == 1.0
    assert np.isnan(out["scan:logit"].iloc[3]) and emb.oof_fold_[3] == -1


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"inference": "avg"}, r"'inference' parameter of SupervisedVolumeEmbedder .*got 'avg'"),
        ({"max_epochs": 0}, r"'max_epochs' parameter .* integer >= 1; got 0"),
        ({"batch_size": 1}, r"'batch_size' parameter .* integer >= 2; got 1"),
        ({"min_epochs": 0}, r"'min_epochs' parameter .* None or an integer >= 1; got 0"),
        ({"validation_fraction": 1.0}, r"'validation_fraction' .* in \[0, 1\); got 1.0"),
        ({"augment": -1.0}, r"'augment' parameter .* None or >= 0; got -1.0"),
        ({"ema_decay": 1.0}, r"'ema_decay' parameter .* None or in \(0, 1\); got 1.0"),
        ({"prefix": "a:b"}, r"'prefix' parameter .* without ':'; got 'a:b'"),
        ({"test_time_flips": 8}, r"'test_time_flips' parameter .* True or False; got 8"),
        ({"on_error": "ignore"}, r"'on_error' parameter .*got 'ignore'"),
        ({"encoder": "vgg"}, r"'encoder' parameter .*got 'vgg'"),
    ],
)
def test_bad_parameters(params, match):
    X, y = _cohort(n=12)
    with pytest.raises(ValueError, match=match):
        _embedder(**params).fit(X, y)


def test_bad_inputs():
    X, y = _cohort(n=12)
    with pytest.raises(TypeError, match=r"needs X as a pandas DataFrame .*got ndarray"):
        _embedder().fit(np.zeros((12, 3)), y)
    with pytest.raises(ValueError, match=r"scan column 'image' .* is not a column of X"):
        _embedder(scan_column="image").fit(X, y)
    with pytest.raises(ValueError, match=r"fit_transform needs the labels y"):
        _embedder().fit_transform(X)
    with pytest.raises(ValueError, match=r"y must be 1-D with one label per row of X \(12\)"):
        _embedder().fit(X, y[:5])
    with pytest.raises(ValueError, match=r"at least 2 classes .*got \[1\]"):
        _embedder().fit(X, np.ones(12, dtype=int))
    with pytest.raises(ValueError, match=r"y has 1 missing label"):
        _embedder().fit(X, np.r_[y[:-1], np.nan])
    emb = _embedder(cv=2).fit(X, y)
    with pytest.raises(ValueError, match=r"Columns missing at transform time: \['age'\]"):
        emb.transform(X[["scan"]])
    odd = X.astype({"scan": object})
    odd.iat[0, odd.columns.get_loc("scan")] = np.zeros((6, 6, 6), dtype=np.float32)
    with pytest.raises(ValueError, match=r"different shapes .*VolumePreprocessor\(shape=...\)"):
        _embedder(preprocessor=VolumePreprocessor(shape=None, orientation=None)).fit(odd, y)


def test_fold_lacking_a_class_is_an_error():
    X, y = _cohort(n=12)
    y = np.array([0] * 10 + [1] * 2)
    cv = KFold(2)  # unshuffled: the second fold's training patients are all of class 0
    with pytest.raises(ValueError, match=r"training patients of fold 1 lack class\(es\) \[1\]"):
        _embedder(cv=cv).fit_transform(X, y)


def test_block_columns_and_sklearn_contract():
    emb = SupervisedVolumeEmbedder(prefix="mri")
    assert emb.block_columns() == ["mri:logit"]
    assert emb.block_columns(3) == ["mri:logit_0", "mri:logit_1", "mri:logit_2"]
    assert clone(emb).get_params()["prefix"] == "mri"
    with pytest.raises(TypeError):
        SupervisedVolumeEmbedder("scan")  # keyword-only


def test_random_views_strength_zero_flips_only():
    """Regression guard: with strength 0 the affine step is the identity (no resampling blur),
    so every view is the volume flipped along some axes, voxel for voxel."""
    from features.imaging._network import random_views

    x = torch.rand(6, 1, 6, 6, 6)
    views = random_views(x, torch.Generator().manual_seed(0), 0.0)
    flips = [(), (2,), (3,), (4,), (2, 3), (2, 4), (3, 4), (2, 3, 4)]
    for view, volume in zip(views, x, strict=True):
        assert any(torch.allclose(view, volume[None].flip(f)[0], atol=1e-5) for f in flips)
    strong = random_views(x, torch.Generator().manual_seed(0), 1.0)
    assert strong.shape == x.shape and not torch.allclose(strong, views)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_mixed_precision_training():
    X, y = _cohort(n=48, signal=3.0)  # on the CPU: in-sample AUROC 0.94 after 20 epochs
    before = torch.cuda.get_rng_state()
    emb = _embedder(device="cuda", max_epochs=20)
    out = emb.fit_transform(X, y)
    assert emb.device_.type == "cuda" and torch.equal(before, torch.cuda.get_rng_state())
    assert all(next(m.parameters()).device.type == "cpu" for m in emb.fold_models_)
    assert np.isfinite(out["scan:logit"]).all()
    assert roc_auc_score(y, emb.transform(X)["scan:logit"]) > 0.8


def test_multichannel_scans_set_the_encoder_channels():
    X, y = _cohort(n=24)
    two = X.assign(scan=[np.stack([v, -v]) for v in X["scan"]])  # (2, 8, 8, 8) per patient
    emb = _embedder(max_epochs=1, cv=2)
    out = emb.fit_transform(two, y)
    assert emb.n_channels_ == 2 and np.isfinite(out["scan:logit"]).all()
    with pytest.raises(ValueError, match=r"have 1 channel\(s\); this SupervisedVolumeEmbedder was"):
        emb.transform(X)
    wrong = _embedder(max_epochs=1, cv=2, encoder_kwargs={**TINY, "in_channels": 3})
    with pytest.raises(ValueError, match=r"is 3 but the preprocessed volumes have 2"):
        wrong.fit_transform(two, y)
