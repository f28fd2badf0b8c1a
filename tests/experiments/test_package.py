import subprocess
import sys


def test_import_is_quiet_and_lazy():
    code = (
        "import sys, experiments, experiments.cli; "
        "print(sorted(m for m in ('optuna', 'torch', 'xgboost', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]" and out.stderr == ""


def test_public_api_is_exported():
    import experiments

    for name in experiments.__all__:
        assert hasattr(experiments, name), name
    assert "graphboost" in experiments.METHODS and "gcn" in experiments.METHODS
