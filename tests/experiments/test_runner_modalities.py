"""The benchmark runner with graphboost variants: the modality arm each fold chose
(``graphboost_modalities``) and each variant compared with ``graphboost`` on the same folds."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from experiments import Dataset, ModalitySelectionClassifier, run_benchmark
from experiments.evaluation._cv import fit_fold

GB = {"n_estimators": 3, "conv": "vote", "n_neighbors": 5}
VARIANT_LINE = (
    r"graphboost_modalities vs graphboost: AUROC difference [+-]\d\.\d{3} \(paired bootstrap "
    r"95% CI [+-]\d\.\d{3} to [+-]\d\.\d{3}, p = \d\.\d{3}\); folds won \d / 2\."
)


def two_modalities(n=60, n_noise=20, seed=0):
    """Three informative clinical columns and ``n_noise`` imaging columns of noise."""
    rng = np.random.default_rng(seed)
    clin = rng.normal(size=(n, 3))
    img = rng.normal(size=(n, n_noise))
    y = (clin.sum(axis=1) + 0.3 * rng.normal(size=n) > 0).astype(int)
    columns = [f"clin:{k}" for k in range(3)] + [f"img:{k}" for k in range(n_noise)]
    return Dataset("toy", pd.DataFrame(np.hstack([clin, img]), columns=columns), y)


def _cfg(methods, **extra):
    return {
        "name": "toy",
        "dataset": {"kind": "csv"},
        "methods": methods,
        "cv": {"n_splits": 2, "n_repeats": 1},
        "metrics": {"n_bootstrap": 20},
        **extra,
    }


@pytest.fixture(scope="module")
def variant_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("variants") / "run"
    params = {"graphboost": GB, "graphboost_modalities": {**GB, "cv": 2}}
    cfg = _cfg(["logistic", "graphboost", "graphboost_modalities"], params=params)
    return run_benchmark(cfg, output=out, progress=False, dataset=two_modalities()), out


def test_fit_fold_records_the_chosen_arm():
    ds = two_modalities()
    train, test = np.arange(0, 60, 2), np.arange(1, 60, 2)
    selector = ModalitySelectionClassifier(LogisticRegression(), cv=2)
    fold = fit_fold("selector", selector, ds.X, ds.y, train, test, 2)
    assert fold.arm == selector.fit(ds.X.iloc[train], ds.y[train]).arm_
    assert fold.arm in {"clinical", "imaging", "all"}
    plain = fit_fold("logistic", LogisticRegression(), ds.X, ds.y, train, test, 2)
    assert plain.arm is None


def test_arms_are_counted_and_reported(variant_run):
    res, out = variant_run
    arms = res.methods["graphboost_modalities"].arms
    assert sum(arms.values()) == 2 and set(arms) <= {"clinical", "imaging", "all"}
    assert not res.methods["graphboost"].arms and not res.methods["logistic"].arms
    meta = json.loads((out / "run.json").read_text())
    assert meta["modality_arms"] == {"graphboost_modalities": dict(arms)}
    md = (out / "results.md").read_text()
    section = md.split("## Modalities chosen inside the folds\n")[1].split("\n## ")[0]
    rows = [line for line in section.splitlines() if line.startswith("| graphboost")]
    assert rows == [f"| graphboost_modalities | {arm} | {k} / 2 |" for arm, k in arms.items()]


def test_variant_is_compared_with_graphboost(variant_run):
    res, out = variant_run
    assert list(res.variants) == ["graphboost_modalities"]
    variant = res.variants["graphboost_modalities"]
    pb = variant["paired_bootstrap"]
    assert pb["low"] <= pb["delta"] <= pb["high"] and variant["folds_won"].endswith("/ 2")
    table = res.table.set_index("method").auroc
    assert pb["delta"] == pytest.approx(table["graphboost_modalities"] - table["graphboost"])
    md = (out / "results.md").read_text()
    (line,) = re.findall(VARIANT_LINE, md)
    assert f"AUROC difference {pb['delta']:+.3f} " in line
    assert f"folds won {variant['folds_won']}." in line
    assert "GraphBoostClassifier vs the best baseline (logistic)" in md  # still there
    meta = json.loads((out / "run.json").read_text())
    assert meta["variants"]["graphboost_modalities"]["folds_won"] == variant["folds_won"]


def test_normal_run_has_no_arm_or_variant_sections(tmp_path):
    """Regression guard: a run without graphboost variants writes its report as before; the
    recalibrated twin graphboost+sigmoid is not a variant."""
    cfg = _cfg(
        ["logistic", "graphboost"], params={"graphboost": GB}, calibration={"method": "sigmoid"}
    )
    res = run_benchmark(cfg, output=tmp_path / "run", progress=False, dataset=two_modalities())
    assert "graphboost+sigmoid" in res.methods and res.variants == {}
    assert all(not r.arms for r in res.methods.values())
    md = (tmp_path / "run" / "results.md").read_text()
    assert "Modalities chosen inside the folds" not in md and "vs graphboost:" not in md
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert "modality_arms" not in meta and "variants" not in meta


def test_variant_without_graphboost_is_not_compared():
    params = {"graphboost_modalities": {**GB, "cv": 2}}
    cfg = _cfg(["logistic", "graphboost_modalities"], params=params)
    res = run_benchmark(cfg, progress=False, dataset=two_modalities())
    assert res.variants == {} and res.comparison is None
    assert sum(res.methods["graphboost_modalities"].arms.values()) == 2
