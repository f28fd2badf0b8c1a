"""The research scripts in ``benchmarks/`` are run as ``python benchmarks/<name>.py``, outside the
installed packages; their tests import them from that folder."""

import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))
