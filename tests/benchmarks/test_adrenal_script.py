"""Options of ``python benchmarks/adrenal_mnist3d.py`` and of the GPU check script."""

import pytest


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
