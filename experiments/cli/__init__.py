"""The ``graphboost`` command line: fit, predict, explain, embed, tune, benchmark and demo.

Each subcommand parses its arguments and calls :mod:`experiments.workflows` (or the runner,
tuning and demo built on it). Every subcommand reads a cohort table (CSV, TSV, Parquet or Excel),
takes the label column (or, for a censored outcome, ``--time`` and ``--event``) and the columns to
exclude, and writes its results into a folder or file
that it refuses to overwrite unless ``--overwrite`` is given (a model folder is only ever replaced
by a model folder, and by one run at a time); ``predict``, ``explain`` and ``embed`` never write
over their input nor into a model folder, and every name a command writes is checked before any
work. Errors are printed as one line, ``graphboost: error: ...``, with exit status
2; ``--debug`` shows the full traceback instead. Warnings are printed as one-line notes,
``graphboost: note: ...``.

Examples
--------
::

    graphboost demo --output demo-output
    graphboost fit --data cohort.csv --label outcome --id-column patient_id --output model --cv 5
    graphboost predict --model model --data new_patients.csv --output predictions.csv
    graphboost explain --model model --data new_patients.csv --output explanations.csv
    graphboost fit --data gbsg.csv --time rfstime --event status --output surv --cv 5
    graphboost predict --model surv --data new_patients.csv --horizon 1826 --output risk.csv
    graphboost benchmark --config duke-tnbc --output runs/tnbc
    graphboost benchmark --config duke-pcr --ablation --output runs/ablation-duke-pcr
    graphboost benchmark --suite design --n-jobs 2 --output runs/design
    graphboost tune --data cohort.csv --label outcome --storage sqlite:///study.db --n-trials 50
    graphboost tune --data cohort.csv --label outcome --n-trials 50 --output tuned --cv 5
"""

from ._commands import main
from ._parser import build_parser

__all__ = ["build_parser", "main"]
