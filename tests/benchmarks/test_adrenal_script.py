"""Options of ``python benchmarks/adrenal_mnist3d.py`` and of the GPU check script."""

import json
from pathlib import Path

import numpy as np
import pytest

import features
from tests.features.test_adrenal import _fake_adrenal


def test_options_by_device_and_errors():
    from adrenal_mnist3d import OPTIONS, PROFILES, parse_script_args, resolve_options

    args = resolve_options(parse_script_args("x", OPTIONS, ["--device", "cpu"]))
    assert {k: getattr(args, k) for k in PROFILES["cpu"]} == PROFILES["cpu"]
    args = resolve_options(parse_script_args("x", OPTIONS, ["--device", "cpu", "--size", "64"]))
    assert args.size == 64 and isinstance(args.size, int)
    assert args.pretrain_epochs == 12 and args.objective == "simclr"  # the start chosen on val
    assert args.test_time_flips == "on"
    argv = ["--device", "cpu", "--test-time-flips", "off"]
    assert resolve_options(parse_script_args("x", OPTIONS, argv)).test_time_flips == "off"
    argv = ["--device", "cpu", "--compare-pretraining", "--pretrain-epochs", "0"]
    with pytest.raises(ValueError, match="--compare-pretraining needs --pretrain-epochs >= 1"):
        resolve_options(parse_script_args("x", OPTIONS, argv))
    assert args.intensity == "distance"  # signed distance maps of the masks


def test_gpu_check_script_is_bash_and_its_variants_parse():
    """benchmarks/gpu_embedding_check.sh runs once per lent device: its syntax and the options
    of every AdrenalMNIST3D variant it starts are checked here, on the CPU."""
    import re
    import shutil
    import subprocess
    from pathlib import Path

    from adrenal_mnist3d import OPTIONS, parse_script_args

    script = Path(__file__).parents[2] / "benchmarks" / "gpu_embedding_check.sh"
    if shutil.which("bash") is not None:
        subprocess.run(["bash", "-n", str(script)], check=True)
    variants = dict(re.findall(r'^\s+\[(\w+)\]="([^"]*)"$', script.read_text(), re.MULTILINE))
    assert set(variants) == {"profile", "minmax", "nopretrain"}
    for options in variants.values():
        parse_script_args("x", OPTIONS, ["--device", "cuda", "--seeds", "0", *options.split()])


@pytest.mark.slow
def test_compare_pretraining_same_seeds_no_test_volume_and_weights_loaded(tmp_path, monkeypatch):
    """--compare-pretraining: pretraining sees train + val volumes only; every supervised
    encoder of the mae / simclr starts is loaded with exactly the saved pretrained weights and
    the none start loads nothing; one JSON with the three starts."""
    import adrenal_mnist3d as script
    import torch

    import features.imaging._supervised as supervised

    ds = _fake_adrenal(tmp_path)
    monkeypatch.setattr(features, "load_adrenalmnist3d", lambda size: ds)
    seen, loaded = [], []
    real_pretrain, real_load = features.pretrain_encoder, supervised.load_encoder_weights

    def spy_pretrain(X, **kw):
        seen.append((kw["objective"], np.asarray(X)))
        return real_pretrain(X, **kw)

    def spy_load(encoder, state, **kw):
        out = real_load(encoder, state, **kw)
        saved = torch.load(state, weights_only=True)
        for name, value in encoder.state_dict().items():
            torch.testing.assert_close(value, saved[name])
        loaded.append(Path(state).name)
        return out

    monkeypatch.setattr(features, "pretrain_encoder", spy_pretrain)
    monkeypatch.setattr(supervised, "load_encoder_weights", spy_load)
    argv = ["--compare-pretraining", "--device", "cpu", "--size", "8", "--channels", "4,4,8,8"]
    argv += ["--cv", "2", "--max-epochs", "2", "--patience", "2", "--batch-size", "8"]
    argv += ["--pretrain-epochs", "1", "--seeds", "0,1", "--n-estimators", "3"]
    argv += ["--cache-dir", str(tmp_path / "cache"), "--json", str(tmp_path / "out.json")]
    summary = script.main(argv)

    pre = features.VolumePreprocessor(shape=8, orientation=None, intensity="minmax")
    test = np.stack([pre(v) for v in ds.X_test])
    assert [objective for objective, _ in seen] == ["mae", "simclr"]
    for _, X in seen:
        assert len(X) == len(ds.y_train) + len(ds.y_val)
        flat = X.reshape(len(X), -1)
        assert not any((flat == t.reshape(1, -1)).all(1).any() for t in test)
    # 2 fold encoders x 2 seeds per pretrained start; the none start loads nothing
    assert sorted(name.split("_")[1] for name in loaded) == ["mae"] * 4 + ["simclr"] * 4

    assert json.loads((tmp_path / "out.json").read_text()) == summary
    starts = summary["pretraining"]
    assert set(starts) == {"none", "mae", "simclr"} and summary["start"] in starts
    best_val = max(starts, key=lambda s: starts[s]["learned, val"])
    assert summary["start"] == best_val
    for key in ("learned", "shape", "shape+learned"):
        assert summary[key] == starts[summary["start"]][key]
    for res in starts.values():
        assert len(res["per_seed"]["learned"]) == 2 and len(res["training"]) == 2
        assert res["per_seed"]["shape"] == starts["none"]["per_seed"]["shape"]  # same seeds
    assert starts["none"]["pretrain_s"] == 0 < starts["mae"]["pretrain_s"]
    # different starts give different encoders: the learned figures are not all equal
    assert len({tuple(r["per_seed"]["learned, out-of-fold train"]) for r in starts.values()}) > 1
