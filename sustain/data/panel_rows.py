"""Which agency-years the panel has, and the panel row of every contract and revenue row.

The first step of :func:`sustain.build_panel`: the agencies are checked (required columns,
unique ids, integer founding and closing years), each agency's years at risk are expanded into
rows, and every contract and revenue row is placed on its agency-year, or reported by file,
row and column when it has none (unknown agency, year outside the agency's life). The
measures (:mod:`sustain.data.measures`) are then computed on these row numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sustain._typing import FloatArray, IntArray
from sustain.data.dataset import Dataset
from sustain.data.frame_checks import integer_column, require_columns, row_problems
from sustain.data.measures import (
    CONTRACT_MEASURE_INPUTS,
    MEASURE_COLUMNS,
    REVENUE_MEASURE_INPUTS,
)
from sustain.errors import DataError, SpecError, problem_rows

ENTITY = "agency_id"
TIME = "year"
AGENCY_REQUIRED = ["agency_id", "founded", "district"]
DERIVED_COLUMNS = ["age", "exit", "left_truncated", "entry_age"]


@dataclass(frozen=True)
class PanelLayout:
    """The panel's rows before any measure: agencies, rows and where each input row lands.

    Attributes
    ----------
    agencies : DataFrame
        The checked agencies, sorted by id (the id first).
    founded, closed : ndarray
        Founding years (int64) and closing years (float64, NaN while open) per agency.
    row_agency, row_year : ndarray of int64
        Position of the agency and the year of every panel row (all years at risk in the
        years of the data; the window is cut afterwards, so lags can reach before it).
    contract_row, revenue_row : ndarray of int64
        Panel row of every contract and revenue row.
    window : tuple of int
        First and last year of the panel.
    """

    agencies: pd.DataFrame
    founded: IntArray
    closed: FloatArray
    row_agency: IntArray
    row_year: IntArray
    contract_row: IntArray
    revenue_row: IntArray
    window: tuple[int, int]


def lay_out(dataset: Dataset, first_year: int | None, last_year: int | None) -> PanelLayout:
    """Check the inputs and number the panel's agency-years (see :class:`PanelLayout`).

    Examples
    --------
    >>> import sustain
    >>> layout = lay_out(sustain.datasets.example(), None, None)
    >>> int(layout.row_year.min()) == layout.window[0], len(layout.contract_row) > 0
    (True, True)
    """
    agencies = checked_agencies(dataset.agencies)
    contracts, revenue = dataset.contracts, dataset.revenue
    require_columns(contracts, CONTRACT_MEASURE_INPUTS, "contracts")
    require_columns(revenue, REVENUE_MEASURE_INPUTS, "revenue")
    years = data_years(dataset)
    window = panel_window(years, first_year, last_year)
    founded, closed = agency_years(agencies)
    start, end = at_risk_span(founded, closed, *years)
    row_agency, row_year = expand_spans(start, end)
    rows = PanelRows(agencies[ENTITY], start, end)
    return PanelLayout(
        agencies,
        founded,
        closed,
        row_agency,
        row_year,
        rows.locate(contracts, "contracts"),
        rows.locate(revenue, "revenue"),
        window,
    )


def at_risk_span(
    founded: IntArray, closed: np.ndarray, first_year: int, last_year: int
) -> tuple[IntArray, IntArray]:
    """First and last year at risk of each agency within a window.

    Parameters
    ----------
    founded : ndarray of int64
        Founding years, shape ``(n_agencies,)``.
    closed : ndarray of float64
        Closing years, NaN for agencies still open; shape ``(n_agencies,)``.
    first_year, last_year : int
        The window.

    Returns
    -------
    start, end : ndarray of int64
        ``max(founded, first_year)`` and ``min(closed, last_year)``; an agency with
        ``end < start`` has no year at risk.

    Examples
    --------
    >>> import numpy as np
    >>> at_risk_span(np.array([2008, 2016]), np.array([2014.0, np.nan]), 2012, 2020)
    (array([2012, 2016]), array([2014, 2020]))
    """
    start = np.maximum(founded, first_year).astype(np.int64)
    end = np.where(np.isnan(closed), last_year, np.minimum(closed, last_year)).astype(np.int64)
    return start, end


def expand_spans(start: IntArray, end: IntArray) -> tuple[IntArray, IntArray]:
    """One row per entity and year of ``[start, end]``: the entity's position and the year.

    Entities with ``end < start`` get no rows; rows come entity by entity, years ascending.

    Examples
    --------
    >>> import numpy as np
    >>> expand_spans(np.array([2015, 2019, 2016]), np.array([2016, 2018, 2016]))
    (array([0, 0, 2]), array([2015, 2016, 2016]))
    """
    n_years = np.maximum(end - start + 1, 0)
    entity = np.repeat(np.arange(len(start), dtype=np.int64), n_years)
    first = np.cumsum(n_years) - n_years
    offset = np.arange(len(entity), dtype=np.int64) - np.repeat(first, n_years)
    return entity, start[entity] + offset


class PanelRows:
    """Where each agency's rows start in the panel, and the years they cover."""

    def __init__(self, ids: pd.Series, start: IntArray, end: IntArray):
        n_years = np.maximum(end - start + 1, 0)
        self.index = pd.Index(ids)
        self.start, self.end, self.first_row = start, end, np.cumsum(n_years) - n_years

    def locate(self, frame: pd.DataFrame, file: str) -> IntArray:
        """The panel row of every row of ``frame``; DataError for rows that have none."""
        codes, uniques = pd.factorize(frame[ENTITY])
        known = self.index.get_indexer(uniques)
        agency = np.where(codes >= 0, known[codes] if len(known) else codes, -1)
        if (agency < 0).any():
            bad = agency < 0
            rule = "agency_id must exist in agencies"
            raise DataError(row_problems(frame, bad, file, ENTITY, rule))
        year = integer_column(frame, TIME, file)
        outside = (year < self.start[agency]) | (year > self.end[agency])
        if outside.any():
            rule = "year must lie between the agency's founded and closed years"
            raise DataError(row_problems(frame, outside, file, TIME, rule))
        return self.first_row[agency] + year - self.start[agency]


def checked_agencies(agencies: pd.DataFrame) -> pd.DataFrame:
    """The agencies sorted by id, the id first; DataError for a missing column, a reserved
    column name or an id that is missing or repeated."""
    require_columns(agencies, AGENCY_REQUIRED, "agencies")
    reserved = [c for c in agencies.columns if c in (TIME, *DERIVED_COLUMNS, *MEASURE_COLUMNS)]
    if reserved:
        rule = "column name is reserved for the panel"
        raise DataError(problem_rows("agencies", None, reserved, rule))
    ids = agencies[ENTITY]
    bad = (ids.isna() | ids.duplicated(keep=False)).to_numpy()
    if bad.any():
        raise DataError(row_problems(agencies, bad, "agencies", ENTITY, "agency_id must be unique"))
    front = [ENTITY, *[c for c in agencies.columns if c != ENTITY]]
    return agencies[front].sort_values(ENTITY, kind="stable")


def agency_years(agencies: pd.DataFrame) -> tuple[IntArray, FloatArray]:
    """Founding years (int64) and closing years (float64, NaN while open)."""
    founded = integer_column(agencies, "founded", "agencies")
    if "closed" not in agencies:
        return founded, np.full(len(agencies), np.nan)
    closed = pd.to_numeric(agencies["closed"], errors="coerce")
    number = closed.to_numpy(np.float64, na_value=np.nan)
    bad = (closed.isna() & agencies["closed"].notna()).to_numpy() | (number % 1 > 0)
    if bad.any():
        rule = "closed must be an integer year or blank"
        raise DataError(row_problems(agencies, bad, "agencies", "closed", rule))
    return founded, number


def data_years(dataset: Dataset) -> tuple[int, int]:
    try:
        return dataset.years
    except ValueError:
        rule = "the data set has no contracts or revenue"
        raise DataError(problem_rows("contracts", None, None, rule)) from None


def panel_window(data: tuple[int, int], first: int | None, last: int | None) -> tuple[int, int]:
    lo = data[0] if first is None else int(first)
    hi = data[1] if last is None else int(last)
    if lo > hi:
        raise SpecError(f"first_year={lo} is after last_year={hi}")
    if lo < data[0] or hi > data[1]:
        raise SpecError(
            f"the window {lo}-{hi} reaches outside the years of the data ({data[0]}-{data[1]}); "
            "agency-years there are unobserved, not zero"
        )
    return lo, hi
