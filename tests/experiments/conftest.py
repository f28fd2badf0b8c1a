"""Tiny synthetic cohorts for the experiments tests (written to tmp_path, never to the repo)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def make_cohort(n=48, seed=0):
    """A clinical-looking table whose label depends on x1 (and a little on age)."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "pid": [f"P{i:03d}" for i in range(n)],
            "age": rng.normal(60, 10, n).round(1),
            "x1": rng.normal(size=n),
            "x2": rng.normal(size=n),
            "site": rng.choice(["A", "B"], n),
            "grade": rng.choice(["low", "high"], n),
        }
    )
    df.loc[::7, "x2"] = np.nan
    score = df.x1 + 0.02 * (df.age - 60) + 0.4 * rng.normal(size=n)
    df["y"] = (score > np.median(score)).astype(int)
    return df


@pytest.fixture(scope="session")
def cohort_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("cohort") / "cohort.csv"
    make_cohort().to_csv(path, index=False)
    return path


@pytest.fixture
def cohort_df():
    return make_cohort()
