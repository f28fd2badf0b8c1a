"""Execute the analysis notebooks at full size and keep their outputs (``make notebooks``).

``python notebooks/run_notebooks.py [NOTEBOOK ...]`` runs each notebook (all of
``notebooks/*.ipynb`` in order when none is named) top to bottom in a fresh kernel with nbclient,
at full size (``GRAPHBOOST_NOTEBOOK_SMALL`` is removed from the kernel's environment), and writes
it back in place with its outputs. The run is recorded in the notebook's metadata under
``metadata["graphboost"]["run"]`` (wall time, date, library versions), and the table of
``notebooks/README.md`` is regenerated from the metadata of every notebook, so running a subset
keeps the other rows.

A notebook whose cell raises is not written: the error names the notebook and the cell, and the
file on disk stays as it was. The notebooks must stay under :data:`MAX_TOTAL_BYTES` together
(figures are PNG at :data:`FIGURE_DPI` dpi), else the run fails before writing.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from importlib import metadata as importlib_metadata
from pathlib import Path

__all__ = [
    "FIGURE_DPI",
    "MAX_TOTAL_BYTES",
    "NOTEBOOK_DIR",
    "NotebookRunError",
    "format_seconds",
    "main",
    "readme_table",
    "run_notebook",
    "write_readme",
]

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
MAX_TOTAL_BYTES = 10 * 1024 * 1024  # all notebooks/*.ipynb together
FIGURE_DPI = 80  # inline PNG figures: readable on a screen, small in the repository
SMALL_SWITCH = "GRAPHBOOST_NOTEBOOK_SMALL"
_VERSIONED = {"torch": "torch", "sklearn": "scikit-learn", "graphboost": "graphboost"}
_QUESTION = re.compile(r"\*\*Question it answers:\*\*\s*(.+?)(?:\n\s*\n|\Z)", re.S)
_README_HEAD = """# Notebooks

Each notebook is committed executed at full size, with its tables and figures, so that it can be
read without running it. `make notebooks` runs all five again (in a fresh kernel each, in place);
`python notebooks/run_notebooks.py notebooks/<name>.ipynb` runs some of them. A run records its
wall time, date and library versions in the notebook's metadata (`metadata.graphboost.run`), and
this table is rewritten from the metadata of every notebook after each run (this file is
generated: edit `notebooks/run_notebooks.py` instead).

The test suite runs every notebook in small mode (`GRAPHBOOST_NOTEBOOK_SMALL=1`, an in-memory
copy: `tests/notebooks/test_notebooks.py`) and checks, without running them, that the committed
outputs are the full-size ones (`tests/notebooks/test_committed_outputs.py`).

"""


class NotebookRunError(RuntimeError):
    """A notebook could not be run: a cell raised, or the outputs would be too large."""


def format_seconds(seconds):
    """Write a duration as minutes and seconds.

    Parameters
    ----------
    seconds : float
        The duration in seconds.

    Returns
    -------
    str
        For example ``"12 min 05 s"``, or ``"42 s"`` under a minute.

    Examples
    --------
    >>> format_seconds(725.4), format_seconds(42.2)
    ('12 min 05 s', '42 s')
    """
    minutes, secs = divmod(round(float(seconds)), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def _versions():
    versions = {"python": platform.python_version()}
    for key, dist in _VERSIONED.items():
        try:
            versions[key] = importlib_metadata.version(dist)
        except importlib_metadata.PackageNotFoundError:
            versions[key] = "not installed"
    return versions


def _kernel_env(mpl_dir):
    """The kernel's environment: full size, inline PNG figures at FIGURE_DPI."""
    env = dict(os.environ)
    env.pop(SMALL_SWITCH, None)
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    rc = Path(mpl_dir) / "matplotlibrc"
    rc.write_text(f"figure.dpi: {FIGURE_DPI}\nsavefig.dpi: {FIGURE_DPI}\n")
    env["MATPLOTLIBRC"] = str(rc)
    return env


def _check_path(path):
    path = Path(path)
    if path.suffix != ".ipynb" or not path.is_file():
        found = sorted(p.name for p in NOTEBOOK_DIR.glob("*.ipynb"))
        raise FileNotFoundError(
            f"The notebook {str(path)!r} does not exist or is not an .ipynb file; "
            f"the notebooks are {found} in {NOTEBOOK_DIR}."
        )
    return path


def run_notebook(path, *, cell_timeout=None, max_total_bytes=MAX_TOTAL_BYTES):
    """Execute one notebook at full size in a fresh kernel and save it with its outputs.

    Parameters
    ----------
    path : str or Path
        The ``.ipynb`` file; it is rewritten in place only when every cell ran.
    cell_timeout : float, optional
        Seconds one cell may run (default: no limit).
    max_total_bytes : int, default=MAX_TOTAL_BYTES
        The most bytes the ``*.ipynb`` files of the notebook's folder may hold together, this
        notebook with its new outputs included.

    Returns
    -------
    dict
        The run record also stored in ``metadata["graphboost"]["run"]``: ``seconds``,
        ``date`` (UTC, ISO 8601), ``versions`` (python, torch, sklearn, graphboost), ``small``
        (always False) and ``machine``.

    Raises
    ------
    FileNotFoundError
        When ``path`` is not an existing ``.ipynb`` file.
    NotebookRunError
        When a cell raises, runs past ``cell_timeout`` or kills the kernel (the message names
        the notebook and holds the cell's error) or the notebooks would exceed
        ``max_total_bytes``; the file on disk is then unchanged.
    ImportError
        When nbclient or nbformat is missing (``pip install 'graphboost[notebooks]'``).

    Examples
    --------
    >>> record = run_notebook("notebooks/01_quickstart.ipynb")  # doctest: +SKIP
    >>> format_seconds(record["seconds"])  # doctest: +SKIP
    '6 min 12 s'
    """
    try:
        import nbformat
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    except ImportError as err:
        raise ImportError(f"{err}; pip install 'graphboost[notebooks]'") from err

    path = _check_path(path)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=cell_timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent.resolve())}},
    )
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="graphboost-mpl-") as mpl_dir:
        try:
            client.execute(env=_kernel_env(mpl_dir))
        except (CellExecutionError, CellTimeoutError, DeadKernelError) as err:
            raise NotebookRunError(
                f"{path.name}: a cell failed; file left unchanged.\n{err}"
            ) from err
    record = {
        "seconds": round(time.perf_counter() - start, 1),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "versions": _versions(),
        "small": False,
        "machine": f"{os.cpu_count()} CPU cores, {platform.machine()}, OMP_NUM_THREADS="
        + os.environ.get("OMP_NUM_THREADS", "unset"),
    }
    nb.metadata.setdefault("graphboost", {})["run"] = record
    _write_checked(nb, path, max_total_bytes)
    return record


def _write_checked(nb, path, max_total_bytes):
    """Write ``nb`` to a temporary file beside ``path``, check the size, then replace ``path``."""
    import nbformat

    fd, tmp = tempfile.mkstemp(suffix=".ipynb.tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        nbformat.write(nb, tmp)
        shutil.copymode(path, tmp)  # mkstemp makes the file private: keep the notebook's mode
        others = sum(p.stat().st_size for p in path.parent.glob("*.ipynb") if p.name != path.name)
        total = others + tmp.stat().st_size
        if total > max_total_bytes:
            raise NotebookRunError(
                f"{path.name}: with its outputs ({tmp.stat().st_size / 1e6:.1f} MB) the notebooks "
                f"would hold {total / 1e6:.1f} MB, over the limit of {max_total_bytes / 1e6:.1f} "
                "MB; file left unchanged. Make the figures smaller or fewer."
            )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _question(nb):
    """The notebook's 'Question it answers' sentence, from its first markdown cell."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            match = _QUESTION.search(cell.source)
            if match:
                text = " ".join(match.group(1).split())
                return text[:1].upper() + text[1:]
    return ""


def _sections(nb):
    """The notebook's section headings (its ``##`` and ``###`` markdown lines)."""
    lines = (line for c in nb.cells if c.cell_type == "markdown" for line in c.source.splitlines())
    return [line.lstrip("#").strip() for line in lines if re.match(r"#{2,3} ", line)]


def readme_table(folder=NOTEBOOK_DIR):
    """The markdown table of the notebooks in a folder, from their run metadata.

    Parameters
    ----------
    folder : str or Path, default=NOTEBOOK_DIR
        The folder of the ``*.ipynb`` files.

    Returns
    -------
    str
        One row per notebook (sorted by name): its link, the question it answers (from its first
        markdown cell), the run time, date, library versions and machine of its last full-size
        run ("not run" when it has none).

    Examples
    --------
    >>> print(readme_table().splitlines()[0])
    | Notebook | Question it answers | Run time | Date (UTC) | Versions | Machine |
    """
    import nbformat

    rows = [
        "| Notebook | Question it answers | Run time | Date (UTC) | Versions | Machine |",
        "|---|---|---|---|---|---|",
    ]
    for path in sorted(Path(folder).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        run = nb.metadata.get("graphboost", {}).get("run")
        if run:
            versions = ", ".join(f"{k} {v}" for k, v in run["versions"].items())
            cells = [format_seconds(run["seconds"]), run["date"][:16].replace("T", " "), versions]
            cells.append(run.get("machine", ""))
        else:
            cells = ["not run", "", "", ""]
        rows.append(
            f"| [`{path.name}`]({path.name}) | {_question(nb)} | " + " | ".join(cells) + " |"
        )
    return "\n".join(rows) + "\n"


def write_readme(folder=NOTEBOOK_DIR):
    """Rewrite ``README.md`` of the notebook folder from the notebooks' run metadata.

    Parameters
    ----------
    folder : str or Path, default=NOTEBOOK_DIR
        The folder of the ``*.ipynb`` files; its ``README.md`` is replaced.

    Returns
    -------
    Path
        The README written.

    Examples
    --------
    >>> write_readme()  # doctest: +SKIP
    PosixPath('.../notebooks/README.md')
    """
    import nbformat

    shows = ["", "## What each notebook shows", ""]
    for path in sorted(Path(folder).glob("*.ipynb")):
        sections = _sections(nbformat.read(path, as_version=4))
        shows.append(f"- [`{path.name}`]({path.name}): " + "; ".join(sections) + ".")
    readme = Path(folder) / "README.md"
    readme.write_text(_README_HEAD + readme_table(folder) + "\n".join(shows) + "\n")
    return readme


def main(argv=None):
    """Run the notebooks named on the command line (all of them by default).

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default: the command line): notebook paths and ``--cell-timeout``.

    Returns
    -------
    int
        0 when every notebook ran, 1 otherwise (each failure is printed to stderr with the
        notebook's name and its error).

    Examples
    --------
    >>> main(["notebooks/01_quickstart.ipynb"])  # doctest: +SKIP
    01_quickstart.ipynb: 6 min 12 s
    0
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    parser.add_argument("--cell-timeout", type=float, default=None, help="seconds per cell")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(NOTEBOOK_DIR.glob("*.ipynb"))
    for path in paths:  # a wrong path fails before hours of running the others
        try:
            _check_path(path)
        except FileNotFoundError as err:
            parser.error(str(err))
    failed = []
    for path in paths:
        print(f"{path.name}: running ...", flush=True)
        try:
            record = run_notebook(path, cell_timeout=args.cell_timeout)
        except NotebookRunError as err:
            print(f"FAILED {err}", file=sys.stderr, flush=True)
            failed.append(path.name)
            continue
        write_readme(path.parent)
        print(f"{path.name}: {format_seconds(record['seconds'])}", flush=True)
    if failed:
        print(f"{len(failed)} notebook(s) failed: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
