"""Multi-year contracts: reading term dates and splitting a total over fiscal years.

A ledger often records a contract once, with its start date, its end date and its total over
the whole term (a three-year family-service-centre contract of 600 万元). The panel needs one
row per fiscal year. China's fiscal year is the calendar year, so a term is split over the
calendar years it touches, pro rata by days (the default), by calendar months, or equally.

Amounts are split in whole cents by the largest-remainder method: each year first gets the
floor of its exact share, and the cents left over go to the years with the largest fractional
parts (the earlier year on a tie). The years of a contract therefore sum to its total to the
cent, and every year's amount is within one cent of its exact share. Everything is vectorised
over contracts; nothing loops in Python per row.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import numpy as np
import pandas as pd

from sustain._typing import BoolArray, IntArray

Split: TypeAlias = Literal["days", "months", "equal"]
Role: TypeAlias = Literal["start", "end"]

#: Excel's day zero for serial dates (the 1900 system, after its leap-year bug).
_EXCEL_EPOCH = np.datetime64("1899-12-30", "D")
#: Serial numbers accepted as Excel dates: 1954-10-03 to 2119-01-30.
_EXCEL_SERIALS = (20_000, 80_000)
_SEP = r"\s*[-/.年]\s*"
_DAY = re.compile(rf"^(\d{{4}}){_SEP}(\d{{1,2}})\s*[-/.月]\s*(\d{{1,2}})\s*日?(?:[ T].*)?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_MONTH = re.compile(rf"^(\d{{4}}){_SEP}(\d{{1,2}})\s*月?$")
_YEAR = re.compile(r"^(\d{4})\s*年?$")


@dataclass(frozen=True)
class ParsedDates:
    """Dates read from cells, one per cell.

    Attributes
    ----------
    dates : ndarray of datetime64[D]
        The date, ``NaT`` where missing or unreadable.
    missing : ndarray of bool
        The cell is empty.
    invalid : ndarray of bool
        The cell has a value that is not a date.
    partial : ndarray of bool
        Only a year or a year and month was given (the term starts on the first day or ends on
        the last day of that period).

    Examples
    --------
    >>> p = parse_dates(pd.Series(["2019-07", "x"]), "end")
    >>> str(p.dates[0]), bool(p.partial[0]), bool(p.invalid[1])
    ('2019-07-31', True, True)
    """

    dates: np.ndarray
    missing: BoolArray
    invalid: BoolArray
    partial: BoolArray


def parse_dates(cells: pd.Series, role: Role) -> ParsedDates:
    """Read term dates from text, spreadsheet dates or Excel serial numbers.

    Accepted: ``2019-07-01``, ``2019/7/1``, ``2019.07.01``, ``2019年7月1日``, ``20190701``,
    optionally followed by a time; a month (``2019-07``, ``2019年7月``) or a year (``2019``,
    ``2019年``), which is the first day of the period for a ``"start"`` and the last day for an
    ``"end"``; date and datetime values; and, in numeric cells only, Excel serial dates.
    Full-width digits are read as digits. Each distinct value is parsed once.

    Parameters
    ----------
    cells : Series
        The raw cells of the start or end column.
    role : {"start", "end"}
        Which end of the term the column holds (decides how a month or a year is read).

    Returns
    -------
    ParsedDates

    Examples
    --------
    >>> p = parse_dates(pd.Series(["2019年7月1日", "2021/6/30", "", "2022"]), "start")
    >>> [str(d) for d in p.dates]
    ['2019-07-01', '2021-06-30', 'NaT', '2022-01-01']
    >>> p.missing.tolist()
    [False, False, True, False]
    """
    codes, uniques = pd.factorize(cells.astype(object), use_na_sentinel=True)
    parsed = [_parse_one(v, role) for v in uniques]  # distinct values only
    dates = np.array([p[0] for p in parsed] + [np.datetime64("NaT", "D")], dtype="datetime64[D]")
    kind = np.array([p[1] for p in parsed] + ["missing"], dtype=object)
    take = np.where(codes < 0, len(uniques), codes)
    kinds = kind[take]
    return ParsedDates(
        dates=dates[take],
        missing=kinds == "missing",
        invalid=kinds == "invalid",
        partial=kinds == "partial",
    )


def _parse_one(value: Any, role: Role) -> tuple[np.datetime64, str]:
    nat = np.datetime64("NaT", "D")
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return nat, "missing"
    if isinstance(value, dt.datetime | dt.date | pd.Timestamp | np.datetime64):
        return np.datetime64(pd.Timestamp(value).date(), "D"), "date"
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        return _from_number(float(value), role)
    text = unicodedata.normalize("NFKC", str(value)).strip()
    if text in ("", "-", "—", "/"):
        return nat, "missing"
    return _from_text(text, role)


def _from_number(x: float, role: Role) -> tuple[np.datetime64, str]:
    if x.is_integer() and 19_000_101 <= x <= 21_001_231:  # 20190701 stored as a number
        return _from_text(str(int(x)), role)
    if x.is_integer() and 1900 <= x <= 2100:  # a year
        return _from_text(str(int(x)), role)
    if _EXCEL_SERIALS[0] <= x <= _EXCEL_SERIALS[1]:
        return _EXCEL_EPOCH + np.timedelta64(int(x), "D"), "date"
    return np.datetime64("NaT", "D"), "invalid"


def _from_text(text: str, role: Role) -> tuple[np.datetime64, str]:
    for pattern, kind in ((_DAY, "date"), (_COMPACT, "date"), (_MONTH, "partial")):
        match = pattern.match(text)
        if match:
            year, month = int(match.group(1)), int(match.group(2))
            if kind == "partial":
                day = 1 if role == "start" else _month_length(year, month)
            else:
                day = int(match.group(3))
            return _make_date(year, month, day, kind)
    match = _YEAR.match(text)
    if match:
        year = int(match.group(1))
        return _make_date(
            year, 1 if role == "start" else 12, 1 if role == "start" else 31, "partial"
        )
    try:  # ISO text with a time zone or other forms pandas reads unambiguously
        stamp = pd.Timestamp(text)
    except (ValueError, TypeError):
        return np.datetime64("NaT", "D"), "invalid"
    if pd.isna(stamp):
        return np.datetime64("NaT", "D"), "invalid"
    return np.datetime64(stamp.date(), "D"), "date"


def _month_length(year: int, month: int) -> int:
    if not 1 <= month <= 12:
        return 0
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    return (nxt - dt.timedelta(days=1)).day


def _make_date(year: int, month: int, day: int, kind: str) -> tuple[np.datetime64, str]:
    try:
        return np.datetime64(dt.date(year, month, day), "D"), kind
    except ValueError:  # 2019-02-30, month 13
        return np.datetime64("NaT", "D"), "invalid"


@dataclass(frozen=True)
class TermSplit:
    """Contract-years from a term split (arrays of equal length, ordered by contract, year).

    Attributes
    ----------
    origin : ndarray of int
        Position of the contract each row comes from.
    year : ndarray of int
        Fiscal (calendar) year.
    cents : ndarray of int
        The year's amount in cents.
    last : ndarray of bool
        The row is the last year of its contract's term.
    weight : ndarray of float
        The year's exact share of the contract (days, months or equal parts over the total).

    Examples
    --------
    >>> s = split_terms(np.array(["2019-07-01"], "datetime64[D]"),
    ...                 np.array(["2020-06-30"], "datetime64[D]"), np.array([100_00]))
    >>> s.year.tolist(), s.cents.tolist()
    ([2019, 2020], [5027, 4973])
    """

    origin: IntArray
    year: IntArray
    cents: IntArray
    last: BoolArray
    weight: np.ndarray


def split_terms(
    start: np.ndarray, end: np.ndarray, total_cents: IntArray, split: Split = "days"
) -> TermSplit:
    """Split contract totals over the fiscal years of their terms, exactly to the cent.

    Parameters
    ----------
    start, end : ndarray of datetime64[D]
        First and last day of each term (inclusive); ``end >= start`` for every contract.
    total_cents : ndarray of int
        Each contract's total in cents (non-negative).
    split : {"days", "months", "equal"}
        Pro rata by days of the term in each year; by calendar months touched (a month that
        the term only partly covers counts whole); or equal parts per calendar year touched.

    Returns
    -------
    TermSplit

    Notes
    -----
    With weights :math:`w_{cy}` (summing to one over the years :math:`y` of contract
    :math:`c`) and total :math:`T_c` cents, year :math:`y` gets
    :math:`\\lfloor w_{cy} T_c \\rfloor` cents plus one cent for each of the
    :math:`T_c - \\sum_y \\lfloor w_{cy} T_c \\rfloor` years with the largest remainders.

    Examples
    --------
    >>> start = np.array(["2013-07-01", "2014-01-01"], "datetime64[D]")
    >>> end = np.array(["2016-06-30", "2014-12-31"], "datetime64[D]")
    >>> s = split_terms(start, end, np.array([600_000_000, 455_000_00]))
    >>> s.year.tolist()
    [2013, 2014, 2015, 2016, 2014]
    >>> s.cents[:4].sum() == 600_000_000, s.cents[4]
    (np.True_, np.int64(45500000))
    """
    start = np.asarray(start, dtype="datetime64[D]")
    end = np.asarray(end, dtype="datetime64[D]")
    total = np.asarray(total_cents, dtype=np.int64)
    if np.any(end < start):
        raise ValueError("every term must end on or after its start")
    first = start.astype("datetime64[Y]").astype(np.int64) + 1970
    final = end.astype("datetime64[Y]").astype(np.int64) + 1970
    n_years = final - first + 1
    origin = np.repeat(np.arange(len(start)), n_years)
    offset = np.arange(len(origin)) - np.repeat(np.cumsum(n_years) - n_years, n_years)
    year = first[origin] + offset
    share = _shares(start, end, origin, year, split)
    weight = share / np.bincount(origin, weights=share, minlength=len(start))[origin]
    cents = _largest_remainder(origin, weight, total)
    last = year == final[origin]
    return TermSplit(origin, year, cents, last, weight)


def _shares(
    start: np.ndarray, end: np.ndarray, origin: IntArray, year: IntArray, split: Split
) -> np.ndarray:
    if split == "equal":
        return np.ones(len(origin))
    if split == "months":
        first_month = _month_index(start)[origin]
        last_month = _month_index(end)[origin]
        lo = np.maximum(first_month, year * 12)
        hi = np.minimum(last_month, year * 12 + 11)
        return (hi - lo + 1).astype(np.float64)
    jan1 = (year - 1970).astype("datetime64[Y]").astype("datetime64[D]")
    dec31 = (year - 1970 + 1).astype("datetime64[Y]").astype("datetime64[D]") - np.timedelta64(
        1, "D"
    )
    lo = np.maximum(start[origin], jan1)
    hi = np.minimum(end[origin], dec31)
    return ((hi - lo).astype(np.int64) + 1).astype(np.float64)


def _month_index(dates: np.ndarray) -> IntArray:
    months = dates.astype("datetime64[M]").astype(np.int64)  # months since 1970-01
    return months + 1970 * 12


def _largest_remainder(origin: IntArray, weight: np.ndarray, total: IntArray) -> IntArray:
    exact = weight * total[origin].astype(np.float64)
    base = np.floor(exact).astype(np.int64)
    # exact shares of huge totals lose float precision; the floors are then repaired so that no
    # year is negative and the leftover is what the totals need
    base = np.maximum(base, 0)
    left = total - np.bincount(origin, weights=base, minlength=len(total)).astype(np.int64)
    frac = exact - base
    # rank remainders within each contract: largest first, earlier year on ties (stable sort)
    order = np.lexsort((np.arange(len(origin)), -frac, origin))
    start_of = np.cumsum(np.bincount(origin, minlength=len(total))) - np.bincount(
        origin, minlength=len(total)
    )
    rank = np.empty(len(origin), dtype=np.int64)
    rank[order] = np.arange(len(origin)) - start_of[origin[order]]
    n = np.bincount(origin, minlength=len(total))[origin]
    extra = left[origin]
    # leftover beyond one cent per year (float rounding of very large totals) goes to the
    # largest-remainder year too; negative leftovers take cents back from it
    bonus = (rank < np.minimum(extra, n)).astype(np.int64)
    spill = np.where(rank == 0, extra - np.minimum(extra, n), 0)
    spill = np.where((rank == 0) & (extra < 0), extra, spill)
    bonus = np.where(extra < 0, 0, bonus)
    return base + bonus + spill
