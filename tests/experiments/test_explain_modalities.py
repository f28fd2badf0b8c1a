"""workflows.explain: each source's modality and the share of the score per modality (issue 10)."""

import warnings

import numpy as np
import pandas as pd
import pytest

from experiments import workflows
from experiments.evaluation._dataset import read_cohort
from graphboost import modality_shares

FAST = {"n_estimators": 8, "conv": "vote", "n_neighbors": 5}


def _cohort_table(carrier, n=120, seed=0):
    """Clinical columns and a 4-column 'mri' block; the label follows bands of one column of
    ``carrier`` (invisible to a linear model, plain to a neighbor graph)."""
    rng = np.random.default_rng(seed)
    table = pd.DataFrame(
        {
            "pid": [f"P{i:03d}" for i in range(n)],
            "age": rng.normal(60, 10, n).round(1),
            "x1": rng.uniform(-2, 2, n),
            "site": rng.choice(["A", "B"], n),
        }
    )
    emb = pd.DataFrame(rng.uniform(-2, 2, (n, 4)), columns=[f"e{i}" for i in range(4)])
    emb.index = table.pid
    signal = table.x1.to_numpy() if carrier == "clinical" else emb.e0.to_numpy()
    table["y"] = (np.sin(2.5 * signal) > 0).astype(int)
    return table, emb


@pytest.fixture(scope="module", params=["mri", "clinical"])
def explained(request, tmp_path_factory):
    table, emb = _cohort_table(request.param)
    cohort = read_cohort(table, label="y", id_column="pid", blocks={"mri": emb})
    out = tmp_path_factory.mktemp("modalities") / "model"
    fit = workflows.fit_model_folder(cohort, out, params=FAST)
    new = table.head(30).drop(columns="y")
    new = new.assign(**{f"mri:e{i}": emb[f"e{i}"].head(30).to_numpy() for i in range(4)})
    new["mri:missing"] = 0.0
    return request.param, workflows.explain(fit.path, new, n_neighbors=2)


def test_each_row_names_its_modality(explained):
    _, expl = explained
    assert list(expl.columns[:4]) == ["pid", "patient", "graph", "modality"]
    expected = expl.graph.map(
        lambda g: "init" if g == "init" else "mri" if g.startswith("mri") else "clinical"
    )
    pd.testing.assert_series_equal(expl.modality, expected, check_names=False)


def test_shares_match_the_rows_and_follow_the_label(explained):
    carrier, expl = explained
    shares = pd.DataFrame(expl.attrs["modality_shares"]).rename_axis("pid")
    assert shares.index.name == "pid" and shares.index.tolist() == [f"P{i:03d}" for i in range(30)]
    # By hand from the rows: |contribution| summed per modality over the patient's total.
    size = expl.contribution.abs().groupby([expl.pid, expl.modality]).sum().unstack(fill_value=0)
    by_hand = size.div(size.sum(axis=1), axis=0)
    pd.testing.assert_frame_equal(
        shares, by_hand[shares.columns], check_names=False, check_index_type=False
    )
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)
    mean = expl.attrs["mean_modality_shares"]
    assert list(mean) == list(shares.columns) and next(iter(mean)) == "init"
    np.testing.assert_allclose(list(mean.values()), shares.mean().to_numpy())
    other = {"mri": "clinical", "clinical": "mri"}[carrier]
    assert mean[carrier] > 0.5 and mean[carrier] > 3 * mean.get(other, 0.0)
    assert expl.attrs["skipped_scans"] == []
    # Plain dicts in attrs: two explanations can be joined.
    assert len(pd.concat([expl, expl])) == 2 * len(expl)


def test_default_rule_on_a_synthetic_cohort_with_a_scan_block(tmp_path):
    """Real names of the Cohort path: plain clinical columns, one-hot 'c=v', 'c:missing', and a
    scan embedding block 'scans:<k>' with its 'scans:missing' indicator."""
    from features import make_synthetic_cohort

    syn = make_synthetic_cohort(tmp_path, n_patients=40, shape=(8, 8, 8), random_state=0)
    table = syn.read_clinical()
    rng = np.random.default_rng(0)
    emb = pd.DataFrame(rng.normal(size=(40, 6)), index=table.patient_id.astype(str))
    emb = emb.drop(index=emb.index[:4])  # patients without a scan
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Patient IDs do not match")
        cohort = read_cohort(
            table, label="label", id_column="patient_id", blocks={workflows.SCANS_BLOCK: emb}
        )
    fit = workflows.fit_model_folder(cohort, tmp_path / "model", params=FAST)
    model = fit.model[-1]
    names = [str(c) for c in model.feature_names_in_]
    assert "scans:missing" in names and any("=" in c for c in names)
    assert any(c.endswith(":missing") and not c.startswith("scans") for c in names)
    frame = pd.DataFrame({"patient": 0, "graph": ["init", "scans", *names], "contribution": 1.0})
    frame.attrs["feature_groups"] = {
        g: [names[i] for i in idx] for g, idx in model.feature_groups_.items()
    }
    got = modality_shares(frame).attrs["modality_of"]
    assert got.pop("init") == "init" and got.pop("scans") == "scans"
    assert got == {c: "scans" if c.startswith("scans:") else "clinical" for c in names}


@pytest.mark.filterwarnings("ignore:Values not seen in fit")
def test_default_rule_on_duke_names(duke_dir):
    """Every column of Duke pcr after ClinicalPreprocessor is 'clinical' or 'imaging'."""
    from features import ClinicalPreprocessor, load_duke

    duke = load_duke("pcr", duke_dir)
    names = ClinicalPreprocessor().set_output(transform="pandas").fit_transform(duke.X).columns
    frame = pd.DataFrame({"patient": 0, "graph": ["init", *names], "contribution": 1.0})
    got = modality_shares(frame).attrs["modality_of"]
    imaging = {c: "imaging" for c in names if c.startswith("img:")}
    assert len(imaging) >= 529
    assert got == {"init": "init", **{c: imaging.get(c, "clinical") for c in names}}
