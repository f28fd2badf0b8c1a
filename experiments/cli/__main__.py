"""``python -m experiments.cli``: the ``graphboost`` command."""

import sys

from . import main

sys.exit(main())
