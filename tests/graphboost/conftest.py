"""Small synthetic cohorts shared by the estimator tests."""

import json

import numpy as np
import pandas as pd
import pytest


def similarity_cohort(n=200, n_noise=12, seed=0):
    """Label carried by the neighborhoods of one column ('signal') among noise columns.

    The label alternates along 'signal' (bands), so it is invisible to a linear model but
    plain to a neighbor graph on that column.
    """
    rng = np.random.default_rng(seed)
    signal = rng.uniform(-2, 2, size=n)
    y = (np.sin(2.5 * signal) > 0).astype(int)
    flip = rng.uniform(size=n) < 0.1
    y[flip] = 1 - y[flip]
    X = pd.DataFrame(rng.normal(size=(n, n_noise)), columns=[f"noise{i}" for i in range(n_noise)])
    X.insert(3, "signal", signal)
    return X, y


@pytest.fixture(scope="module")
def cohort():
    return similarity_cohort()


@pytest.fixture(scope="module")
def small_cohort():
    X, y = similarity_cohort(n=60, n_noise=4, seed=1)
    return X, y


def rewrite_model_json(folder, edit):
    """Apply ``edit`` to the ``model.json`` of a saved model folder and sign the new file in
    ``manifest.json``, as a folder written by an earlier version of the library would be."""
    from graphboost._persistence import _sha256

    meta = json.loads((folder / "model.json").read_text())
    edit(meta)
    (folder / "model.json").write_text(json.dumps(meta, indent=1))
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["sha256"]["model.json"] = _sha256(folder / "model.json")
    (folder / "manifest.json").write_text(json.dumps(manifest))
