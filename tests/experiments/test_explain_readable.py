"""Explanations a clinician can read (issue 20, point 19): each source of the score in words with
the table's values, the change of risk in percentage points, the start named, similar patients
by ID where the model folder keeps them and by training row otherwise."""

import re

import numpy as np
import pandas as pd
import pytest

from experiments import workflows
from experiments.cli import main
from experiments.clinical import explanation_text, explanation_words
from features import ClinicalPreprocessor
from graphboost import GraphBoostClassifier

FAST = {"n_estimators": 8, "conv": "vote", "n_neighbors": 10}


def _table(n=160, seed=0):
    """Risk in a band of age (a neighbor graph sees it, a line does not) and with a family
    history written yes / no."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "pid": [f"ID{i:04d}" for i in range(n)],
            "age": rng.normal(60, 9, n).round(),
            "family_history": rng.choice(["yes", "no"], n, p=[0.3, 0.7]),
            "crp": rng.gamma(2.0, 2.0, n).round(1),
        }
    )
    band = (df.age > 55) & (df.age < 65)
    risk = 0.1 + 0.55 * band + 0.3 * (df.family_history == "yes")
    df["y"] = (rng.random(n) < risk).astype(int)
    return df


@pytest.fixture(scope="module")
def model():
    df = _table()
    X = df.drop(columns=["pid", "y"]).set_index(df.pid.rename(None))
    pre = ClinicalPreprocessor().set_output(transform="pandas")
    Xt = pre.fit_transform(X)
    clf = GraphBoostClassifier(random_state=0, **FAST).fit(Xt, df.y.to_numpy())
    return df, X, pre, Xt, clf


def test_a_numeric_graph_in_words_with_its_range_in_the_table_units(model):
    df, _, pre, Xt, clf = model
    assert "age" in {s.name for s in clf.selected_graphs_}
    words = explanation_words(clf.explain(Xt.iloc[:20]), pre)
    rows = words[(words.graph == "age") & (words.tie_group_size == 0)]
    assert not rows.empty
    pattern = r"the (\d+) training patients closest in age \((\d+) to (\d+)\): (\d+) of \1 had"
    for row in rows.itertuples():
        size, low, high, had = map(int, re.fullmatch(pattern + " the outcome", row.text).groups())
        inside = (df.age >= low) & (df.age <= high)  # years, as in the table
        assert size == row.neighborhood_size == inside.sum() >= 10
        assert had == df.y[inside].sum()


def test_a_tie_group_is_described_by_its_count_and_outcome_rate(model):
    df, X, pre, Xt, clf = model
    graph = next(s.name for s in clf.selected_graphs_ if s.name.startswith("family_history="))
    category = graph.partition("=")[2]  # one-hot: "yes" or "no"
    words = explanation_words(clf.explain(Xt.iloc[:20]), pre)
    rows = words[words.graph == graph]
    assert not rows.empty
    for row in rows.itertuples():
        has = X.loc[row.patient, "family_history"] == category
        group = df.family_history.eq(category).to_numpy() == has
        shared = f"family_history = {category}" if has else f"family_history other than {category}"
        rate = f"{df.y[group].mean():.0%}"
        assert row.text == f"{group.sum()} training patients share {shared}; {rate} had the outcome"
        assert row.neighbors == [] and row.similar_patients == ""  # never "the first rows"


def test_a_binary_column_is_named_by_its_level():
    """A binary column coded 1 / 2 in the table is 0 / 1 for the model: the words give 2."""
    X = pd.DataFrame({"stage": [1, 2, 2, 1, 2, 2], "age": [50.0, 61, 70, 45, 58, 66]})
    pre = ClinicalPreprocessor().set_output(transform="pandas").fit(X)
    row = {"patient": 0, "step": 1, "graph": "stage", "rule": "GraphSpec(knn on 'stage')"}
    row.update(log_odds=0.1, risk_after=0.5, neighborhood_size=4, neighbor_outcome_rate=0.25)
    row.update(tie_group_size=4, value=1.0, value_low=1.0, value_high=1.0, neighbors=[])
    words = explanation_words(pd.DataFrame([row]), pre)
    assert words.text[0] == "4 training patients share stage = 2; 25% had the outcome"
    row.update(graph="age", tie_group_size=0, value_low=-1.0, value_high=1.0, rule="knn")
    scaler = pre.column_transformer_.named_transformers_["numeric"][-1]
    low, high = scaler.mean_[0] - scaler.scale_[0], scaler.mean_[0] + scaler.scale_[0]
    text = explanation_words(pd.DataFrame([row]), pre).text[0]
    span = f"({low:.1f} to {high:.1f})"
    assert text == f"the 4 training patients closest in age {span}: 1 of 4 had the outcome"


def test_the_start_is_named_and_the_points_add_up_to_the_risk(model):
    _, X, pre, Xt, clf = model
    patient = X.index[7]
    words = explanation_words(clf.explain(Xt.iloc[5:9]), pre, outcome="y = 1")
    assert (words.loc[words.step == 0, "text"] == "linear model (all columns)").all()
    text = explanation_text(words, patient)
    risk = clf.predict_proba(Xt.loc[[patient]])[0, 1]
    assert text.startswith(f"Patient {patient}: risk of y = 1 is {risk:.1%}")
    start = float(re.search(r"start: linear model \(all columns\): ([\d.]+)%", text).group(1))
    points = [float(p) for p in re.findall(r"([+-][\d.]+) points \(log-odds [+-][\d.]+\)", text)]
    assert len(points) == len(clf.explain(Xt.loc[[patient]])) - 1
    assert start + sum(points) == pytest.approx(100 * risk, abs=0.05 * (len(points) + 1))
    assert "training rows" in text


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_patients_by_index_label_and_a_clear_error_for_an_unknown_one(model):
    _, X, pre, Xt, clf = model
    expl = clf.explain(Xt.iloc[[3, 1]])
    assert list(pd.unique(expl.patient)) == [X.index[3], X.index[1]]
    assert explanation_text(expl, X.index[1], preprocessor=pre).startswith(f"Patient {X.index[1]}")
    with pytest.raises(ValueError, match="No patient str of that value among the 2 patients"):
        explanation_text(expl, "nobody")
    positions = clf.explain(Xt.iloc[[3, 1]].to_numpy())
    assert explanation_text(positions, 1).startswith("Patient 1:")


def test_similar_patients_by_row_number_or_by_id_when_the_folder_keeps_them(tmp_path):
    df = _table(n=80, seed=1)
    df.to_csv(tmp_path / "t.csv", index=False)
    cohort = workflows.load_cohort(tmp_path / "t.csv", label="y", id_column="pid")
    plain = workflows.fit_model_folder(cohort, tmp_path / "plain", params=FAST)
    kept = workflows.fit_model_folder(cohort, tmp_path / "kept", params=FAST, cv=2, keep_ids=True)
    new = df.iloc[:5]
    by_row = workflows.explain(plain.path, new)
    by_id = workflows.explain(kept.path, new)
    assert by_row.attrs["patients_named_by"] == "row" and by_id.attrs["patients_named_by"] == "ID"
    listed = by_row[by_row.neighbors.str.len() > 0]
    assert not listed.empty
    for row in listed.itertuples():
        assert row.similar_patients == "; ".join(f"row {i}" for i in row.neighbors)
    for row in by_id[by_id.neighbors.str.len() > 0].itertuples():
        assert row.similar_patients == "; ".join(df.pid.iloc[row.neighbors])
    text = explanation_text(by_id, "ID0002")
    assert text.startswith("Patient ID0002: risk of y = 1 is ") and "training rows" not in text
    assert "most similar (IDs): ID" in explanation_text(by_id)
    assert "most similar (training rows): " in explanation_text(by_row)


def test_the_command_line_writes_the_explanations_in_words(tmp_path, capsys):
    df = _table(n=80, seed=2)
    df.to_csv(tmp_path / "t.csv", index=False)
    fit = ["fit", "--data", str(tmp_path / "t.csv"), "--label", "y", "--id-column", "pid"]
    assert main([*fit, "--param", "n_estimators=5", "--output", str(tmp_path / "m")]) == 0
    argv = ["explain", "--model", str(tmp_path / "m"), "--data", str(tmp_path / "t.csv")]
    assert main([*argv, "--output", str(tmp_path / "e.csv")]) == 0
    out = capsys.readouterr().out
    readable = tmp_path / "e.readable.txt"
    assert f"Explanations in words written to {readable}." in out
    text = readable.read_text()
    assert text.count("Patient ID") == len(df)
    assert text.count("start: linear model (all columns): ") == len(df)
    table = pd.read_csv(tmp_path / "e.csv")
    assert {"text", "similar_patients", "risk_change_pp", "log_odds"} <= set(table.columns)
    # the text file is never replaced without --overwrite, and checked before any work
    (tmp_path / "e.csv").unlink()
    assert main([*argv, "--output", str(tmp_path / "e.csv")]) == 2
    assert "e.readable.txt' already exists; pass --overwrite" in capsys.readouterr().err
    assert not (tmp_path / "e.csv").exists()
    # a name whose readable file the file system cannot hold: refused before any work
    long = tmp_path / f"{'e' * 235}.csv"
    assert main([*argv, "--output", str(long)]) == 2
    assert "Choose a shorter name" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.readable.txt", "m", "t.csv"]
