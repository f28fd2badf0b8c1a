"""Load: one large batch, many single patients and chunks of any size give the same probabilities.

Prediction is inductive (a new patient links only to training patients), so a patient's score
must not depend on who else is in the call. ``benchmarks/benchmark_load.py`` runs the same check
at 100,000 patients and prints both throughputs and the peak memory.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import make_pipeline

from features import ClinicalPreprocessor
from graphboost import GraphBoostClassifier


def _patients(rng, n):
    table = pd.DataFrame(
        {
            "age": rng.normal(60, 10, n).round(),
            "lab_a": rng.lognormal(size=n),
            "lab_b": rng.normal(size=n),
            "site": rng.choice(["a", "b", "c"], n),
            "smoker": rng.integers(0, 2, n),
        }
    )
    table.loc[rng.random(n) < 0.1, "lab_a"] = np.nan
    return table


@pytest.fixture(scope="module")
def model_and_patients():
    rng = np.random.default_rng(0)
    train = _patients(rng, 300)
    y = (train.lab_b + 0.03 * (train.age - 60) + rng.normal(size=300) > 0).astype(int)
    clf = GraphBoostClassifier(
        n_estimators=15,
        n_neighbors=(5, 15),
        threshold_quantiles=(0.05,),
        feature_groups={"labs": ["lab_a", "lab_b"]},
        device="cpu",
        random_state=0,
    )
    model = make_pipeline(ClinicalPreprocessor(), clf).set_output(transform="pandas")
    return model.fit(train, y), _patients(rng, 2_000)


@pytest.fixture(scope="module")
def scored(model_and_patients):
    """The 2,000 new patients in one call, the first 60 one call each, all in chunks of 317."""
    model, new = model_and_patients
    batch = model.predict_proba(new)
    singles = np.vstack([model.predict_proba(new.iloc[[i]]) for i in range(60)])
    chunks = np.vstack([model.predict_proba(new.iloc[i : i + 317]) for i in range(0, 2_000, 317)])
    return batch, singles, chunks


def test_single_patients_and_chunks_score_bit_for_bit_as_in_one_batch(scored):
    """Regression: the init's BLAS product rounded differently for 1 row and for many (1 ulp)."""
    batch, singles, chunks = scored
    assert np.isfinite(batch).all()
    np.testing.assert_array_equal(singles, batch[:60])
    np.testing.assert_array_equal(chunks, batch)


def test_an_array_after_a_fit_on_a_table_is_read_in_the_fitted_column_order(model_and_patients):
    """Found by the load test: np.array_split hands the pipeline arrays, which raised KeyError."""
    model, new = model_and_patients
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        from_array = model[0].transform(new.head(20).to_numpy())
    np.testing.assert_array_equal(from_array.to_numpy(), model[0].transform(new.head(20)))
