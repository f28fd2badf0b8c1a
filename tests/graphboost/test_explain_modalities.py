"""graphboost.modality_shares / modality_contributions: the score split by modality (issue 10)."""

import numpy as np
import pandas as pd
import pytest

from graphboost import GraphBoostClassifier, modality_contributions, modality_shares

from .conftest import similarity_cohort


def _two_modalities(carrier):
    """Clinical columns (no prefix) and 'scan:' columns; only ``carrier``'s 'signal' column
    carries the label, in bands invisible to the linear init model."""
    X, y = similarity_cohort(n=200, n_noise=6, seed=0)
    names = {c: f"scan:{c}" for c in ["noise0", "noise1", "noise2"]}
    names["signal"] = "scan:signal" if carrier == "scan" else "signal"
    return X.rename(columns=names), y


@pytest.fixture(scope="module", params=["scan", "clinical"])
def fitted(request):
    X, y = _two_modalities(request.param)
    clf = GraphBoostClassifier(n_estimators=15, random_state=0).fit(X, y)
    return request.param, clf, X.iloc[:40], clf.explain(X.iloc[:40], n_neighbors=2)


def test_shares_go_to_the_modality_that_carries_the_label(fitted):
    carrier, _, _, explanation = fitted
    shares = modality_shares(explanation)
    other = {"scan": "clinical", "clinical": "scan"}[carrier]
    assert shares.columns[0] == "init" and carrier in shares.columns
    mean = shares.mean()
    assert mean[carrier] > 0.5
    assert mean[carrier] > 3 * mean.get(other, 0.0)
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)
    assert (shares.to_numpy() >= 0).all()
    assert shares.index.tolist() == list(range(40)) and shares.index.name == "patient"
    assert shares.attrs["modality_of"]["init"] == "init"


def test_signed_contributions_sum_to_the_decision_function(fitted):
    _, clf, X, explanation = fitted
    parts = modality_contributions(explanation)
    assert parts.columns[0] == "init"
    np.testing.assert_allclose(parts.sum(axis=1), clf.decision_function(X))


def test_shares_equal_a_hand_computation():
    rows = [
        (0, "init", -1.0),
        (0, "age", 0.5),
        (0, "clin:PR", -0.25),
        (0, "img:WashinRate_map_Energy_tissue_T1", 2.0),
        (0, "img:Peak_PE_tumor", -0.25),
        (1, "init", 0.0),
        (1, "age", 0.0),
        (1, "clin:PR", 0.0),
        (1, "img:WashinRate_map_Energy_tissue_T1", 0.0),
        (1, "img:Peak_PE_tumor", 0.0),
        (2, "init", 3.0),
        (2, "age", 0.0),
        (2, "clin:PR", 1.0),
        (2, "img:WashinRate_map_Energy_tissue_T1", 0.0),
        (2, "img:Peak_PE_tumor", 0.0),
    ]
    explanation = pd.DataFrame(rows, columns=["patient", "graph", "contribution"])
    shares = modality_shares(explanation)
    assert shares.columns.tolist() == ["init", "clinical", "imaging"]
    # patient 0: |init| 1, clinical 0.5 + 0.25, imaging 2 + 0.25; total 4
    np.testing.assert_allclose(shares.loc[0], [1 / 4, 0.75 / 4, 2.25 / 4])
    assert shares.loc[1].isna().all()  # every contribution is 0: no share to give
    np.testing.assert_allclose(shares.loc[2], [0.75, 0.25, 0.0])
    parts = modality_contributions(explanation)
    np.testing.assert_allclose(parts.loc[0], [-1.0, 0.25, 1.75])
    np.testing.assert_allclose(parts.loc[1], 0.0)


def _names(graphs, feature_groups=None, rules=None):
    explanation = pd.DataFrame(
        {"patient": 0, "graph": graphs, "contribution": 1.0, "rule": rules or "knn"}
    )
    if feature_groups is not None:
        explanation.attrs["feature_groups"] = feature_groups
    return modality_shares(explanation).attrs["modality_of"]


def test_default_rule_on_duke_names():
    """Names as features.load_duke + ClinicalPreprocessor write them (no feature_groups)."""
    graphs = [
        "init",
        "age",
        "age:missing",
        "clin:PR",
        "clin:PR:missing",
        "clin:Mol Subtype=2",
        "clin:Staging(Tumor Size)# [T]:missing",
        "img:WashinRate_map_Energy_tissue_T1",
        "img:F1_DT_POSTCON (T11=0.05,T12=0.5)",
    ]
    assert _names(graphs) == {
        "init": "init",
        "age": "clinical",
        "age:missing": "clinical",
        "clin:PR": "clinical",
        "clin:PR:missing": "clinical",
        "clin:Mol Subtype=2": "clinical",
        "clin:Staging(Tumor Size)# [T]:missing": "clinical",
        "img:WashinRate_map_Energy_tissue_T1": "imaging",
        "img:F1_DT_POSTCON (T11=0.05,T12=0.5)": "imaging",
    }


def test_default_rule_with_blocks():
    """Duke's 'clinical'/'imaging' blocks, a Cohort scan block and its indicator, a user block
    of plain columns, and a one-hot category holding ':'."""
    groups = {
        "clinical": ["age", "clin:PR"],
        "imaging": ["img:Peak_PE_tumor"],
        "scan": ["scan:logit"],
        "lab": ["crp", "wbc", "site=a:b"],
    }
    graphs = ["clinical", "imaging", "scan", "scan:missing", "scan:logit", "lab", "crp"]
    graphs += ["crp:missing", "site=a:b", "bmi", "time=10:30", "mri:e0"]
    assert _names(graphs, groups) == {
        "clinical": "clinical",
        "imaging": "imaging",
        "scan": "scan",
        "scan:missing": "scan",
        "scan:logit": "scan",
        "lab": "lab",
        "crp": "lab",
        "crp:missing": "lab",
        "site=a:b": "lab",
        "bmi": "clinical",
        "time=10:30": "clinical",
        "mri:e0": "mri",
    }


def test_a_block_is_recognized_from_its_rule_when_the_frame_was_read_back(tmp_path):
    """Without attrs (a CSV read back), a block is known by the 'metric=' of its rule."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=120)
    block = ["emb:0", "emb:1", "emb:2"]  # as features.Cohort names a block's columns
    X = pd.DataFrame(y[:, None] * 2 + rng.normal(size=(120, 3)), columns=block)
    X["age"] = rng.normal(size=120)
    groups = {"emb": block}
    clf = GraphBoostClassifier(n_estimators=4, feature_groups=groups, random_state=0).fit(X, y)
    assert "emb" in {s.name for s in clf.selected_graphs_}
    explanation = clf.explain(X.iloc[:5])
    assert explanation.attrs["feature_groups"] == groups
    explanation.drop(columns=["neighbors", "neighbor_labels"]).to_csv(tmp_path / "e.csv")
    read_back = pd.read_csv(tmp_path / "e.csv")
    for frame in (explanation, read_back):
        assert modality_shares(frame).attrs["modality_of"]["emb"] == "emb"
    # A block named by a plain column name is only known from the model's feature_groups.
    assert _names(["emb"]) == {"emb": "clinical"}
    pd.testing.assert_frame_equal(
        modality_shares(read_back), modality_shares(explanation), check_names=False
    )


def test_modality_of_as_a_dict_or_a_callable():
    graphs = ["init", "age", "scan:logit", "scan:missing", "scan:logit:z", "img:x"]
    by_dict = _names_with(graphs, {"scan": "MRI", "scan:logit:": "MRI logit", "age": "demo"})
    assert _names_with(["scan", "scanner"], {"scan:": "MRI"}) == {
        "scan": "MRI",
        "scanner": "clinical",
    }
    assert by_dict == {
        "init": "init",
        "age": "demo",
        "scan:logit": "MRI logit",
        "scan:missing": "MRI",
        "scan:logit:z": "MRI logit",
        "img:x": "imaging",  # not in the dict: the default rule
    }
    assert _names_with(graphs, lambda g: g[:3]) == {g: g[:3] for g in graphs}


def _names_with(graphs, modality_of):
    explanation = pd.DataFrame({"patient": 0, "graph": graphs, "contribution": 1.0})
    return modality_shares(explanation, modality_of).attrs["modality_of"]


def test_errors():
    good = pd.DataFrame({"patient": [0, 0], "graph": ["init", "age"], "contribution": [1.0, 2.0]})
    with pytest.raises(TypeError, match="'explanation' parameter of modality_shares must be a"):
        modality_shares(good.to_numpy())
    with pytest.raises(ValueError, match=r"lacks the columns \['contribution'\]"):
        modality_shares(good.drop(columns="contribution"))
    with pytest.raises(ValueError, match=r"'contribution' column .* must be numeric; got dtype"):
        modality_shares(good.assign(contribution=["a", "b"]))
    with pytest.raises(TypeError, match="'modality_of' parameter of modality_shares must be None"):
        modality_shares(good, modality_of=3)
    with pytest.raises(TypeError, match=r"modality of graph 'age' .* non-empty string; got None"):
        modality_shares(good, modality_of=lambda g: None if g == "age" else g)
    with pytest.raises(TypeError, match="'modality_of' parameter of modality_contributions"):
        modality_contributions(good, modality_of=["age"])
