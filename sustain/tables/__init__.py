"""Publication tables: regression tables, descriptive statistics and correlations.

Every table is rendered as LaTeX (booktabs + threeparttable), Markdown, HTML, CSV or Word
from one format-independent :class:`~sustain.tables.table.Table`; see ``docs/tables.md``.

Examples
--------
>>> import sustain.tables
>>> sorted(n for n in sustain.tables.__all__)
['correlation_table', 'describe', 'load_labels', 'regression_table']
"""

from __future__ import annotations

from sustain.presentation.labels import load_labels
from sustain.tables.describe import correlation_table, describe
from sustain.tables.regression import regression_table

__all__ = ["correlation_table", "describe", "load_labels", "regression_table"]
