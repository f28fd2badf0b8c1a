"""save_supervised_embedder / load_supervised_embedder: JSON and state dicts, no pickle."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

pytest.importorskip("monai")

from features import (
    SupervisedVolumeEmbedder,
    VolumePreprocessor,
    load_supervised_embedder,
    save_supervised_embedder,
)


@pytest.fixture(scope="module")
def fitted():
    """An embedder with 2 fold encoders and a refitted one, on 16 tiny scans (one missing)."""
    rng = np.random.default_rng(0)
    y = np.array([0, 1] * 8)
    scans = [rng.random((8, 8, 8)).astype(np.float32) + label for label in y]
    scans[3] = None
    X = pd.DataFrame({"age": rng.normal(60, 10, 16), "scan": scans})
    emb = SupervisedVolumeEmbedder(
        encoder_kwargs={"channels": (4, 4, 8, 8)},
        preprocessor=VolumePreprocessor(shape=8, orientation=None),
        cv=2,
        inference="refit",
        max_epochs=2,
        batch_size=4,
        test_time_flips=True,
        device="cpu",
    )
    emb.fit_transform(X, y)
    return emb, X


def test_a_saved_embedder_gives_the_same_block_when_loaded(fitted, tmp_path):
    emb, X = fitted
    folder = save_supervised_embedder(emb, tmp_path / "emb")
    assert sorted(p.name for p in folder.iterdir()) == [
        "embedder.json",
        "fold_0.pt",
        "fold_1.pt",
        "refit.pt",
    ]
    again = load_supervised_embedder(folder)
    for inference in ("mean", "refit"):
        expected = emb.set_params(inference=inference).transform(X)
        got = again.set_params(inference=inference).transform(X)
        pd.testing.assert_frame_equal(got, expected)
    assert np.isnan(got.loc[3, "scan:logit"]) and got.loc[3, "scan:missing"] == 1.0
    assert again.classes_.tolist() == [0, 1] and again.n_channels_ == 1
    assert again.get_params()["test_time_flips"] is True
    assert again.preprocessor.shape == 8 and again.preprocessor.orientation is None
    # the weights are plain tensors: torch's safe loader reads them
    state = torch.load(folder / "fold_0.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())


def test_altered_weights_or_parameters_are_refused(fitted, tmp_path):
    emb, _ = fitted
    folder = save_supervised_embedder(emb, tmp_path / "emb")
    weights = folder / "fold_1.pt"
    state = torch.load(weights, weights_only=True)
    state[next(iter(state))] += 1.0
    torch.save(state, weights)
    with pytest.raises(ValueError, match=r"fold_1.pt' does not match its SHA-256"):
        load_supervised_embedder(folder)
    folder = save_supervised_embedder(emb, tmp_path / "emb2")
    manifest = folder / "embedder.json"
    doc = json.loads(manifest.read_text())
    doc["payload"]["params"]["max_epochs"] = 3
    manifest.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="does not match its SHA-256 checksum"):
        load_supervised_embedder(folder)


def test_an_unfitted_embedder_is_not_saved(tmp_path):
    with pytest.raises(ValueError, match="Only a fitted SupervisedVolumeEmbedder can be saved"):
        save_supervised_embedder(SupervisedVolumeEmbedder(), tmp_path / "emb")
