"""``python notebooks/run_notebooks.py`` on tiny temporary notebooks (one kernel per test)."""

from __future__ import annotations

import pytest

nbformat = pytest.importorskip("nbformat", reason="pip install 'graphboost[notebooks]'")
pytest.importorskip("nbclient", reason="pip install 'graphboost[notebooks]'")

from run_notebooks import (  # noqa: E402
    NotebookRunError,
    format_seconds,
    main,
    readme_table,
    run_notebook,
)

FIGURE = "import matplotlib.pyplot as plt\nplt.plot([0, 1], [1, 0])\nplt.show()"


def _write(folder, name, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Tiny\n\n**Question it answers:** does it run?")]
    nb.cells += [nbformat.v4.new_code_cell(source) for source in sources]
    path = folder / name
    nbformat.write(nb, path)
    return path


@pytest.mark.slow
def test_run_notebook_saves_outputs_and_the_run(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHBOOST_NOTEBOOK_SMALL", "1")  # the runner removes it: full size
    code = 'import os\nprint("small:", os.environ.get("GRAPHBOOST_NOTEBOOK_SMALL"))'
    path = _write(tmp_path, "tiny.ipynb", code, FIGURE)
    _write(tmp_path, "other.ipynb", "1 + 1")  # never run: its README row says so
    path.chmod(0o644)
    assert main([str(path)]) == 0
    assert path.stat().st_mode & 0o777 == 0o644  # not the temporary file's private mode
    nb = nbformat.read(path, as_version=4)
    first, figure = nb.cells[1], nb.cells[2]
    assert [first.execution_count, figure.execution_count] == [1, 2]
    assert first.outputs[0].text == "small: None\n"
    assert any("image/png" in out.get("data", {}) for out in figure.outputs)
    run = nb.metadata.graphboost.run
    assert run.seconds > 0 and run.small is False and run.date.endswith("+00:00")
    assert set(run.versions) == {"python", "torch", "sklearn", "graphboost"}
    readme = (tmp_path / "README.md").read_text()
    assert readme_table(tmp_path) in readme
    assert (
        f"| [`tiny.ipynb`](tiny.ipynb) | Does it run? | {format_seconds(run.seconds)} |" in readme
    )
    assert "| [`other.ipynb`](other.ipynb) | Does it run? | not run |" in readme


@pytest.mark.slow
def test_a_failing_cell_names_the_notebook_and_leaves_it_unchanged(tmp_path, capsys):
    path = _write(tmp_path, "broken.ipynb", "x = 1", 'raise ValueError("bad input 42")')
    before = path.read_bytes()
    with pytest.raises(NotebookRunError, match=r"(?s)broken\.ipynb: a cell failed.*bad input 42"):
        run_notebook(path)
    assert path.read_bytes() == before
    assert main([str(path)]) == 1
    assert "FAILED broken.ipynb: a cell failed" in capsys.readouterr().err
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.ipynb"]  # no temporary left


@pytest.mark.slow
def test_a_cell_past_the_timeout_fails_the_notebook(tmp_path):
    path = _write(tmp_path, "stuck.ipynb", "import time\ntime.sleep(60)")
    before = path.read_bytes()
    with pytest.raises(NotebookRunError, match=r"stuck\.ipynb: a cell failed"):
        run_notebook(path, cell_timeout=2)
    assert path.read_bytes() == before


@pytest.mark.slow
def test_outputs_over_the_size_limit_are_not_written(tmp_path):
    path = _write(tmp_path, "big.ipynb", FIGURE)
    before = path.read_bytes()
    with pytest.raises(NotebookRunError, match=r"big\.ipynb: with its outputs .* over the limit"):
        run_notebook(path, max_total_bytes=len(before) + 100)
    assert path.read_bytes() == before


def test_a_wrong_path_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match=r"'.*nope\.ipynb' does not exist .* notebooks are"):
        run_notebook(tmp_path / "nope.ipynb")
    (tmp_path / "notes.txt").write_text("")
    with pytest.raises(FileNotFoundError, match=r"not an \.ipynb file"):
        run_notebook(tmp_path / "notes.txt")
    with pytest.raises(SystemExit) as exit_info:  # before running any notebook
        main([str(tmp_path / "nope.ipynb")])
    assert exit_info.value.code == 2
    assert "nope.ipynb' does not exist" in capsys.readouterr().err


def test_format_seconds():
    assert format_seconds(0) == "0 s"
    assert format_seconds(59.6) == "1 min 00 s"
    assert format_seconds(3725) == "62 min 05 s"
