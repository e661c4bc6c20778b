"""The data contract of the three input tables, and a table as read before it is checked.

:data:`SPECS` lists the columns of ``agencies``, ``contracts`` and ``revenue`` with their kinds
and rules, :data:`KEYS` the columns whose combination must be unique. :class:`RawTable` is a
table as a reader found it (cells, the row numbers the user sees, the user's own headers) and
:class:`TableOptions` says how its cells are read (value maps, units, terms), as an import
mapping or the defaults decide.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import pandas as pd

from sustain._typing import IntArray
from sustain.data.cells import ColumnSpec, Kind, Reading
from sustain.data.mapping import ScoreYears, TermMapping
from sustain.data.vocabulary import VOCABULARIES
from sustain.options import CONTRACT_TYPES, TIERS

TABLES = ("agencies", "contracts", "revenue")
REQUIRED_TABLES = ("agencies", "contracts")
#: Internal names of a term's start and end columns while reading.
TERM_START, TERM_END = "term_start", "term_end"


def _optional(name: str, kind: Kind, **kw: Any) -> ColumnSpec:
    return ColumnSpec(name, kind, required=False, nonnull=False, **kw)


SPECS: dict[str, tuple[ColumnSpec, ...]] = {
    "agencies": (
        ColumnSpec("agency_id", "id"),
        ColumnSpec("founded", "year"),
        ColumnSpec("district", "text"),
        _optional("closed", "year"),
        _optional("origin", "text"),
        _optional("exit_reason", "category"),  # free categories, lower-cased
        _optional("name", "text"),
    ),
    "contracts": (
        ColumnSpec("contract_id", "id"),
        ColumnSpec("agency_id", "id"),
        ColumnSpec("year", "year"),
        ColumnSpec("funder", "text"),
        ColumnSpec("tier", "category", choices=TIERS),
        ColumnSpec("contract_type", "category", choices=CONTRACT_TYPES),
        ColumnSpec("amount", "amount", lower=0.0, lower_strict=True),
        _optional("service", "text"),
        _optional("score", "score", lower=0.0, upper=100.0),
    ),
    "revenue": (
        ColumnSpec("agency_id", "id"),
        ColumnSpec("year", "year"),
        ColumnSpec("source", "text"),
        ColumnSpec("amount", "amount", lower=0.0),
    ),
}
#: Columns whose combination must be unique in each table.
KEYS: dict[str, tuple[str, ...]] = {
    "agencies": ("agency_id",),
    "contracts": ("contract_id", "year"),
    "revenue": ("agency_id", "year", "source"),  # DESIGN: one row per agency, year and source
}


def specs_of(name: str, options: TableOptions | None = None) -> tuple[ColumnSpec, ...]:
    """The column specs of a table; with a term, ``year`` comes from the dates, not a column.

    Examples
    --------
    >>> [s.name for s in specs_of("revenue")]
    ['agency_id', 'year', 'source', 'amount']
    """
    specs = SPECS[name]
    if options is not None and options.term is not None:
        specs = tuple(s for s in specs if s.name != "year")
    return specs


@dataclass(frozen=True)
class TableOptions:
    """How the cells of one table are read (from an import mapping, or the defaults).

    Attributes
    ----------
    readings : mapping of str to Reading
        Per standard column: extra missing tokens, value map, built-in vocabulary.
    na_values : tuple of str
        Extra missing tokens of every column.
    units : mapping of str to float
        Yuan per unit of each amount column (1 for yuan).
    unit_labels : mapping of str to str
        The unit of each converted amount column, for messages (``"wan"``).
    term : TermMapping or None
        Contracts recorded once per term (start and end dates, total over the term).
    score_years : {"all", "last"}
        Years of a term that carry the contract's score.

    Examples
    --------
    >>> TableOptions.default("contracts").reading("tier").vocabulary["街道"]
    'subdistrict'
    """

    readings: Mapping[str, Reading] = field(default_factory=dict)
    na_values: tuple[str, ...] = ()
    units: Mapping[str, float] = field(default_factory=dict)
    unit_labels: Mapping[str, str] = field(default_factory=dict)
    term: TermMapping | None = None
    score_years: ScoreYears = "all"

    def reading(self, column: str) -> Reading:
        """The :class:`Reading` of ``column`` (built-in vocabulary and table-wide tokens)."""
        found = self.readings.get(column)
        if found is not None:
            return found
        return Reading(self.na_values, {}, VOCABULARIES.get(column, {}))

    @classmethod
    def default(cls, name: str) -> TableOptions:
        """Options of a table read without a mapping: the built-in vocabulary only."""
        readings = {
            s.name: Reading((), {}, VOCABULARIES.get(s.name, {}))
            for s in SPECS[name]
            if s.name in VOCABULARIES
        }
        return cls(readings=MappingProxyType(readings))


@dataclass(frozen=True)
class RawTable:
    """One table as found, before validation.

    Attributes
    ----------
    frame : DataFrame
        The cells as read (text for CSV, typed values for Parquet, Excel and Stata), with the
        columns of a mapping already renamed to their standard names.
    file : str
        The name shown in problems (``contracts.csv``; the table name for in-memory frames).
    rows : ndarray of int
        The row number the user sees for each row of ``frame``.
    header_row : int or None
        Row number of the column names (1 for CSV and Excel), ``None`` if there is none.
    problems : DataFrame or None
        Problems found while reading (e.g. CSV lines with too many fields, not in ``frame``).
    labels : mapping of str to str
        Standard column name -> the user's own header, for problems (empty without a mapping).
    options : TableOptions or None
        How cells are read; ``None`` for the defaults.
    sheets : tuple of (str, tuple of str)
        For a workbook read at its first worksheet: the other worksheets and the words of
        their first rows (to name the sheet that holds the table when the first does not).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> t = RawTable(pd.DataFrame({"a": ["x"]}), "a.csv", np.array([2]), header_row=1)
    >>> int(t.rows[0])
    2
    """

    frame: pd.DataFrame
    file: str
    rows: IntArray
    header_row: int | None = None
    problems: pd.DataFrame | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    options: TableOptions | None = None
    sheets: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def table_options(self, name: str) -> TableOptions:
        """The options of this table, or the defaults of table ``name``."""
        return self.options if self.options is not None else TableOptions.default(name)
