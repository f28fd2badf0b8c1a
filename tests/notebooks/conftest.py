"""The notebook runner (``python notebooks/run_notebooks.py``) lives beside the notebooks, outside
the installed packages; its tests import it from that folder."""

import sys
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
if str(NOTEBOOKS) not in sys.path:
    sys.path.insert(0, str(NOTEBOOKS))
