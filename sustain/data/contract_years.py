"""From the contracts as recorded to contract-years: units, terms and the observed window.

Three steps that a ledger needs before its rows are contract-years in yuan:

1. :func:`apply_units`: amounts kept in 万元 (or 千元, 亿元) are converted to yuan.
2. :func:`expand_terms`: a contract recorded once with its term and its total becomes one row
   per fiscal year of the term (:func:`sustain.data.terms.split_terms`), the score in every
   year or only in the last one.
3. :func:`window_notes`: contract-years after ``observed_until`` and, for terms, after the
   agency closed are left out with a note stating the amount not counted.

Problems are by row position of the frame they are about (:func:`~sustain.data.problems.
issue_frame`); after :func:`expand_terms` positions refer to the contract-year frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sustain._typing import BoolArray, IntArray
from sustain.data.cells import display_values
from sustain.data.contract import TERM_END, TERM_START, TableOptions
from sustain.data.problems import errors_at, issue_frame
from sustain.data.terms import parse_dates, split_terms
from sustain.data.vocabulary import UNIT_WORDS

#: Largest amount, in yuan, whose cents fit exactly in the term split (int64 cents, float64
#: shares with headroom): 10^13 yuan is ten trillion, beyond any contract.
MAX_SPLIT_YUAN = 1e13


def apply_units(frame: pd.DataFrame, options: TableOptions) -> pd.DataFrame:
    """Amount columns converted to yuan.

    Examples
    --------
    >>> f = pd.DataFrame({"amount": [600.0, 45.5]})
    >>> apply_units(f, TableOptions(units={"amount": 10_000.0}))["amount"].tolist()
    [6000000.0, 455000.0]
    """
    scaled = {c: frame[c] * factor for c, factor in options.units.items() if factor != 1.0}
    if not scaled:
        return frame
    out = frame.copy()
    for column, values in scaled.items():
        if column in out.columns:
            out[column] = values.round(6)  # 45.5 万元 is 455000 yuan, not 455000.00000000006
    return out


@dataclass(frozen=True)
class Expanded:
    """Contract-years made from contracts with terms.

    Attributes
    ----------
    frame : DataFrame
        One row per contract-year (rows that could not be expanded stay one row, year NaN).
    origin : ndarray of int
        Position, in the contracts as recorded, of each row.
    issues : DataFrame
        Problems by position in ``frame``: the recorded rows' problems (at their first year)
        and the term's own.
    term_rows : ndarray of bool
        Rows that are years of a split term.

    Examples
    --------
    >>> Expanded(pd.DataFrame(), np.arange(0), issue_frame([], "", "", ""),
    ...          np.zeros(0, bool)).frame.empty
    True
    """

    frame: pd.DataFrame
    origin: IntArray
    issues: pd.DataFrame
    term_rows: BoolArray


def expand_terms(
    frame: pd.DataFrame, issues: pd.DataFrame, options: TableOptions, raw: pd.DataFrame
) -> Expanded:
    """Split each contract's total over the fiscal years of its term.

    Parameters
    ----------
    frame : DataFrame
        Parsed contracts (amounts in yuan) with the raw ``term_start`` and ``term_end`` cells.
    issues : DataFrame
        Problems of the parsed contracts by position.
    options : TableOptions
        With ``term`` set.
    raw : DataFrame
        The cells as read (for the values shown in problems).

    Returns
    -------
    Expanded

    Examples
    --------
    >>> from sustain.data.mapping import TermMapping
    >>> f = pd.DataFrame({"contract_id": ["P1"], "amount": [6_000_000.0], "score": [88.5],
    ...                   "term_start": ["2013-07-01"], "term_end": ["2016-06-30"]})
    >>> out = expand_terms(f, issue_frame([], "", "", ""),
    ...                    TableOptions(term=TermMapping("s", "e")), f)
    >>> out.frame[["year", "amount"]].values.tolist()
    [[2013.0, 1007299.27], [2014.0, 1998175.18], [2015.0, 1998175.18], [2016.0, 996350.37]]
    """
    assert options.term is not None
    start = parse_dates(frame[TERM_START], "start")
    end = parse_dates(frame[TERM_END], "end")
    term_issues = [
        _date_issues(start, TERM_START, "start", raw),
        _date_issues(end, TERM_END, "end", raw),
    ]
    backwards = ~np.isnat(start.dates) & ~np.isnat(end.dates) & (end.dates < start.dates)
    pos = np.flatnonzero(backwards)
    term_issues.append(
        issue_frame(
            pos, TERM_END, "the term ends before it starts", display_values(raw[TERM_END].iloc[pos])
        )
    )
    amount = frame["amount"].to_numpy(np.float64)
    huge = np.abs(amount) > MAX_SPLIT_YUAN
    pos = np.flatnonzero(huge & ~np.isnan(amount))
    term_issues.append(
        issue_frame(
            pos,
            "amount",
            f"amount above {MAX_SPLIT_YUAN:.0e} yuan cannot be split over a term",
            display_values(raw["amount"].iloc[pos]),
        )
    )
    all_issues = pd.concat([issues, *term_issues], ignore_index=True)
    ok = ~errors_at(all_issues, len(frame)) & ~np.isnat(start.dates) & ~np.isnat(end.dates)
    ok &= np.isfinite(amount)
    keep = np.flatnonzero(ok)
    split = split_terms(
        start.dates[keep],
        end.dates[keep],
        np.round(amount[keep] * 100).astype(np.int64),
        options.term.split,
    )
    return _assemble(frame, all_issues, keep, split, start.dates, end.dates, options)


def _date_issues(parsed: object, column: str, role: str, raw: pd.DataFrame) -> pd.DataFrame:
    from sustain.data.terms import ParsedDates

    assert isinstance(parsed, ParsedDates)
    missing = np.flatnonzero(parsed.missing)
    invalid = np.flatnonzero(parsed.invalid)
    values = raw[column]
    parts = [
        issue_frame(missing, column, f"the term's {role} date is required", ""),
        issue_frame(
            invalid,
            column,
            f"the term's {role} must be a date (e.g. 2019-07-01 or 2019年7月1日)",
            display_values(values.iloc[invalid]),
        ),
    ]
    partial = np.flatnonzero(parsed.partial)
    if len(partial):  # one note per distinct value, at its first row
        shown = display_values(values.iloc[partial])
        _, first = np.unique(shown, return_index=True)
        first = np.sort(first)
        day = "first" if role == "start" else "last"
        rules = [
            f"the term's {role} '{shown[i]}' read as {parsed.dates[partial[i]]}, its {day} day"
            for i in first
        ]
        parts.append(issue_frame(partial[first], column, rules, shown[first], "note"))
    return pd.concat(parts, ignore_index=True)


def _assemble(
    frame: pd.DataFrame,
    issues: pd.DataFrame,
    keep: IntArray,
    split: object,
    start: np.ndarray,
    end: np.ndarray,
    options: TableOptions,
) -> Expanded:
    from sustain.data.terms import TermSplit

    assert isinstance(split, TermSplit)
    n = len(frame)
    copies = np.ones(n, dtype=np.int64)
    copies[keep] = np.bincount(split.origin, minlength=len(keep))
    origin = np.repeat(np.arange(n), copies)
    first_row = np.cumsum(copies) - copies
    term_rows = np.zeros(len(origin), dtype=bool)
    expanded_at = (
        np.concatenate(
            [first_row[k] + np.arange(c) for k, c in zip(keep, copies[keep], strict=True)]
        )
        if len(keep)
        else np.zeros(0, np.int64)
    )
    term_rows[expanded_at] = True
    out = frame.iloc[origin].reset_index(drop=True)
    year = np.full(len(origin), np.nan)
    year[expanded_at] = split.year
    amount = out["amount"].to_numpy(np.float64, copy=True)
    amount[expanded_at] = split.cents / 100.0
    out["year"] = year
    out["amount"] = amount
    if "score" in out.columns and options.score_years == "last":
        score = out["score"].to_numpy(np.float64, copy=True)
        score[expanded_at[~split.last]] = np.nan
        out["score"] = score
    out[TERM_START] = pd.Series(start[origin], dtype="datetime64[s]")
    out[TERM_END] = pd.Series(end[origin], dtype="datetime64[s]")
    moved = issues.assign(pos=first_row[issues["pos"].to_numpy(np.int64)])
    return Expanded(out, origin, moved, term_rows)


def default_observed_until(
    frame: pd.DataFrame, term: bool, revenue_years: pd.Series | None = None
) -> int | None:
    """The default of ``observed_until``: the last year in which a contract starts or for
    which revenue is recorded.

    With terms, a contract's years after its start year are not evidence that those years were
    observed (a three-year contract signed in 2023 runs to 2026); a year of recorded revenue is.

    Examples
    --------
    >>> default_observed_until(pd.DataFrame({"year": [2015.0, 2019.0, np.nan]}), term=False)
    2019
    """
    if term:
        starts = pd.Series(parse_dates(frame[TERM_START], "start").dates).dt.year
    else:
        starts = frame["year"]
    years = [starts.dropna()]
    if revenue_years is not None:
        years.append(revenue_years.dropna())
    found = pd.concat(years)
    return int(found.max()) if len(found) else None


def window_notes(
    frame: pd.DataFrame,
    observed_until: int | None,
    closed: np.ndarray | None = None,
    term_rows: BoolArray | None = None,
    unit: str = "yuan",
) -> pd.DataFrame:
    """Contract-years (or revenue rows) left out: after ``observed_until``; for terms, after
    the agency closed. Each is a note that is dropped, with the amount not counted.

    Examples
    --------
    >>> f = pd.DataFrame({"year": [2022.0, 2024.0], "amount": [10.0, 2500.5]})
    >>> window_notes(f, 2023)[["pos", "rule"]].values.tolist()
    [[1, 'year 2024 is after observed_until (2023): row left out, 2,500.50 yuan not counted']]
    """
    year = frame["year"].to_numpy(np.float64)
    amount = frame["amount"].to_numpy(np.float64)
    parts = []
    if observed_until is not None:
        with np.errstate(invalid="ignore"):
            after = np.flatnonzero(year > observed_until)
        terms = term_rows[after] if term_rows is not None else np.zeros(len(after), dtype=bool)
        rules = [
            f"year {int(y)} is after observed_until ({observed_until}): "
            f"{'contract-year' if t else 'row'} left out, {_money(a)} {unit} not counted"
            for y, a, t in zip(year[after], amount[after], terms, strict=True)
        ]
        parts.append(
            issue_frame(
                after, "year", rules, year[after].astype(np.int64).astype(str), "note", True
            )
        )
    else:
        after = np.zeros(0, np.int64)
    if closed is not None and term_rows is not None:
        with np.errstate(invalid="ignore"):
            late = term_rows & (year > closed)
        late[after] = False
        pos = np.flatnonzero(late)
        rules = [
            f"year {int(y)} of the term is after the agency closed ({int(c)}): contract-year "
            f"left out, {_money(a)} {unit} not counted"
            for y, c, a in zip(year[pos], closed[pos], amount[pos], strict=True)
        ]
        parts.append(
            issue_frame(pos, "year", rules, year[pos].astype(np.int64).astype(str), "note", True)
        )
    if not parts:
        return issue_frame(np.zeros(0, np.int64), "year", "", "")
    return pd.concat(parts, ignore_index=True)


def _money(x: float) -> str:
    return f"{x:,.2f}"


def unit_word(unit: str) -> str:
    """The Chinese word of a unit, for messages.

    Examples
    --------
    >>> unit_word("wan")
    '万元'
    """
    return UNIT_WORDS.get(unit, unit)
