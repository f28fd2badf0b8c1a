"""Shared fixtures: the real-data folder (skipped with a reason when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from features import shared_data_dir


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared data folder (GRAPHBOOST_DATA_DIR or <repo>/../shared/data); skips if absent."""
    try:
        return shared_data_dir()
    except FileNotFoundError as err:
        pytest.skip(f"real data not available: {err}")


@pytest.fixture(scope="session")
def duke_dir(data_dir: Path) -> Path:
    """The Duke breast MRI folder; skips if absent."""
    folder = data_dir / "duke-breast-mri"
    if not folder.is_dir():
        pytest.skip(f"real data not available: {folder} does not exist")
    return folder
