"""Clinical tables: reading, preprocessing and the patient cohort.

The tables wing of :mod:`features`. It imports nothing from the other wings: the imaging
and dataset code stays out of table work.

Functions
---------
read_table
    Read a CSV, Excel or Parquet table with its patient IDs as text.
load_preprocessor
    Load a saved :class:`ClinicalPreprocessor` (JSON, checked).

Classes
-------
ClinicalPreprocessor
    Impute, scale and one-hot encode a clinical table (a scikit-learn transformer).
BlockPCA
    Replace one block of columns by its principal components, fitted in ``fit``.
Cohort
    Patients, their label and their feature blocks, aligned by patient ID.
Task
    A prediction task: features, outcome, feature groups and patient IDs (what loaders return).
UnseenCategoryWarning
    A category not seen in ``fit`` met at transform time.
"""

from ._block_pca import BlockPCA
from ._clinical import ClinicalPreprocessor, UnseenCategoryWarning, load_preprocessor
from ._cohort import Cohort
from ._table import read_table
from ._task import Task

__all__ = [
    "BlockPCA",
    "ClinicalPreprocessor",
    "Cohort",
    "Task",
    "UnseenCategoryWarning",
    "load_preprocessor",
    "read_table",
]
