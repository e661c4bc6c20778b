"""The problems report: one builder for every table of violations, notes and drops.

Every problem names the file, the row as the user sees it there, the column (the user's own
header when the data came through a mapping), the rule and the raw value, with a severity:

* ``error``: the row breaks the data contract; strict reading raises, lenient reading drops it.
* ``note``: something was repaired or decided without doubt and the row is kept (whitespace,
  case, a built-in Chinese word, thousands separators, a unit read from the header, an empty
  row or a notes row skipped), or a contract-year was left out by rule (after the agency closed
  or after ``observed_until``), with the amount not counted.
* ``dropped``: lenient reading only; a row without a violation of its own, dropped because its
  agency's row is invalid.

While validating, problems of one table are kept by row position (``pos``) with a ``drop``
flag; :func:`finish_problems` turns them into the report.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sustain._typing import IntArray
from sustain.errors import PROBLEM_COLUMNS, problem_rows

SEVERITIES = ("error", "note", "dropped")
#: Columns of ``Dataset.problems``: the standard ones plus ``severity``.
REPORT_COLUMNS = [*PROBLEM_COLUMNS, "severity"]
#: Rows listed when a value's problems are summarised.
FIRST_ROWS = 5


def problem_frame(
    file: str,
    row: Any,
    column: Any,
    rule: Any,
    value: Any,
    severity: Any = "error",
    pos: Any = -1,
    drop: Any = None,
) -> pd.DataFrame:
    """Build problems rows; array arguments give one row each, scalars are broadcast.

    ``pos`` (the 0-based position in the table, -1 for file-level problems) and ``drop``
    (whether the row leaves the data; default: errors and cascaded drops) are kept while
    validating and removed from the final report.

    Examples
    --------
    >>> problem_frame("a.csv", [2, 5], "amount", "amount must be > 0", ["0", "-1"]).shape
    (2, 8)
    """
    rows = np.atleast_1d(np.asarray(row, dtype=object))
    n = len(rows)
    sev = _broadcast(severity, n)
    frame = problem_rows(
        file, rows, _broadcast(column, n), _broadcast(rule, n), _broadcast(value, n)
    )
    frame["row"] = pd.array(rows, dtype="Int64")
    frame["severity"] = sev
    frame["pos"] = np.broadcast_to(np.asarray(pos, dtype=np.int64), (n,)).copy()
    frame["drop"] = _drop_flags(drop, sev, n)
    return frame


def issue_frame(
    pos: Any, column: Any, rule: Any, value: Any, severity: Any = "error", drop: Any = None
) -> pd.DataFrame:
    """Problems of one table by row position, before rows and file are known.

    Examples
    --------
    >>> issue_frame([3], "tier", "tier must be one of ...", "x")[["pos", "drop"]].values.tolist()
    [[3, True]]
    """
    position = np.asarray(pos, dtype=np.int64).reshape(-1)
    n = len(position)
    sev = _broadcast(severity, n)
    return pd.DataFrame(
        {
            "pos": position,
            "column": _broadcast(column, n),
            "rule": _broadcast(rule, n),
            "severity": sev,
            "value": _broadcast(value, n),
            "drop": _drop_flags(drop, sev, n),
        }
    )


def _broadcast(x: Any, n: int) -> Any:
    if isinstance(x, pd.Series | np.ndarray | list | tuple):
        return np.asarray(x, dtype=object)
    return np.full(n, x, dtype=object)


def _drop_flags(drop: Any, severity: np.ndarray, n: int) -> np.ndarray:
    if drop is None:
        return np.isin(severity, ("error", "dropped"))
    return np.broadcast_to(np.asarray(drop, dtype=bool), (n,)).copy()


def finish_problems(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate problem parts, sort by file then row (file-level first), drop the helpers.

    Examples
    --------
    >>> p = finish_problems([problem_frame("b.csv", [3], "x", "r", "v"),
    ...                      problem_frame("a.csv", [9], "x", "r", "v")])
    >>> p["file"].tolist(), list(p.columns) == REPORT_COLUMNS
    (['a.csv', 'b.csv'], True)
    """
    parts = [p for p in parts if len(p)]
    if not parts:
        return empty_report()
    out = pd.concat(parts, ignore_index=True)
    out = out.sort_values(["file", "row"], kind="stable", na_position="first")
    return out.reset_index(drop=True)[REPORT_COLUMNS]


def empty_report() -> pd.DataFrame:
    """An empty problems report with the standard columns.

    Examples
    --------
    >>> list(empty_report().columns)
    ['file', 'row', 'column', 'rule', 'value', 'severity']
    """
    return problem_frame("", [], None, "", "")[REPORT_COLUMNS]


def flags(issues: pd.DataFrame, n: int, column: str = "drop") -> np.ndarray:
    """Rows (by position) of a table whose issues set ``column`` (``drop`` by default).

    Examples
    --------
    >>> flags(issue_frame([1], "x", "r", "v"), 3).tolist()
    [False, True, False]
    """
    flagged = np.zeros(n, dtype=bool)
    if len(issues):
        mask = issues[column].to_numpy(dtype=bool)
        flagged[issues["pos"].to_numpy(dtype=np.int64)[mask]] = True
    return flagged


def errors_at(issues: pd.DataFrame, n: int) -> np.ndarray:
    """Rows (by position) with at least one ``error``.

    Examples
    --------
    >>> errors_at(issue_frame([0], "x", "r", "v", "note"), 2).tolist()
    [False, False]
    """
    flagged = np.zeros(n, dtype=bool)
    if len(issues):
        pos: IntArray = issues.loc[issues["severity"] == "error", "pos"].to_numpy(np.int64)
        flagged[pos] = True
    return flagged


def problems_table(problems: pd.DataFrame, max_rows: int | None = None) -> str:
    """The problems table as left-aligned plain text, as ``sustain validate`` prints it.

    The rule, often the longest text, comes last so that the other columns stay readable.

    Examples
    --------
    >>> p = finish_problems([problem_frame("contracts.csv", [2], "tier",
    ...     "tier normalised to 'district'", "district ", "note")])
    >>> print(problems_table(p))
    file          row column severity value     rule
    contracts.csv 2   tier   note     district  tier normalised to 'district'
    """
    shown = problems if max_rows is None else problems.head(max_rows)
    order = ["file", "row", "column", "severity", "value", "rule"]
    shown = shown[[c for c in order if c in shown.columns]]
    text = shown.astype(object).where(shown.notna(), "").astype(str)
    text = text.replace("\n", " ", regex=True)  # one line per problem
    widths = {c: max([_width(c), *(_width(v) for v in text[c])]) for c in text.columns}
    lines = [" ".join(_pad(c, widths[c]) for c in text.columns).rstrip()]
    for row in text.itertuples(index=False):  # display only: at most max_rows lines
        cells = (_pad(v, widths[c]) for c, v in zip(text.columns, row, strict=True))
        lines.append(" ".join(cells).rstrip())
    if len(problems) > len(shown):
        lines.append(f"... {len(problems) - len(shown)} more row(s) not shown")
    return "\n".join(lines)


def _width(text: str) -> int:
    """Display width in a terminal: CJK characters take two columns."""
    return sum(2 if ord(ch) >= 0x1100 and _wide(ch) else 1 for ch in text)


def _wide(ch: str) -> bool:
    import unicodedata

    return unicodedata.east_asian_width(ch) in ("W", "F")


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def summarise(problems: pd.DataFrame) -> pd.DataFrame:
    """One row per distinct (file, column, severity, rule, value): count and first rows.

    Examples
    --------
    >>> p = finish_problems([problem_frame("c.csv", [2, 3, 7], "tier", "unknown", "框架")])
    >>> summarise(p)[["count", "rows"]].values.tolist()
    [[3, '2, 3, 7']]
    """
    cols = ["file", "column", "severity", "rule", "value"]
    if problems.empty:
        return pd.DataFrame(columns=[*cols, "count", "rows", "first_row"])
    keyed = problems.assign(
        **{c: problems[c].astype(object).where(problems[c].notna(), "") for c in cols}
    )
    groups = keyed.groupby(cols, sort=False, dropna=False)["row"]
    out = groups.agg(count="size", first_row="first").reset_index()
    out["rows"] = groups.agg(_first_rows).to_numpy()
    return out


def _first_rows(rows: pd.Series) -> str:
    shown = [str(r) for r in rows.dropna().head(FIRST_ROWS)]
    more = len(rows.dropna()) - len(shown)
    return ", ".join(shown) + (f", ... ({more} more)" if more > 0 else "")


def dropped_summary(problems: pd.DataFrame) -> pd.DataFrame:
    """Rows left out while reading, by file and reason: what ``sustain validate`` reports.

    Counts the distinct rows with an ``error`` or ``dropped`` problem (left out in lenient
    mode) and the contract-years noted as left out (after ``observed_until`` or after the agency
    closed), per reason; the reason is the rule without its row-specific details.

    Examples
    --------
    >>> p = finish_problems([problem_frame("c.csv", [2, 3], "amount", "amount must be > 0",
    ...                                    "0")])
    >>> dropped_summary(p).to_dict("records")
    [{'file': 'c.csv', 'rule': 'amount must be > 0', 'rows': 2}]
    """
    cols = ["file", "rule", "rows"]
    if problems.empty:
        return pd.DataFrame(columns=cols)
    rule = problems["rule"].astype(str)
    left_out = rule.str.contains("not counted", regex=False)
    mask = problems["severity"].isin(("error", "dropped")) | left_out
    sub = problems[mask & problems["row"].notna()]
    if sub.empty:
        return pd.DataFrame(columns=cols)
    reason = sub["rule"].astype(str).str.replace(r" \(.*$", "", regex=True)
    reason = reason.str.replace(
        r"^year \d+ is after observed_until.*", "after observed_until", regex=True
    )
    reason = reason.str.replace(
        r"^year \d+ of the term is after the agency closed.*",
        "term years after the agency closed",
        regex=True,
    )
    keyed = sub.assign(rule=reason)[["file", "rule", "row"]].drop_duplicates()
    counted = keyed.groupby(["file", "rule"], sort=False).size()
    return counted.rename("rows").reset_index()


def left_out_lines(problems: pd.DataFrame) -> list[str]:
    """Lines saying how many rows were left out and why (``panel``, ``validate``, ``run``).

    Examples
    --------
    >>> p = finish_problems([problem_frame("c.csv", [2, 3], "amount", "amount must be > 0",
    ...                                    "0")])
    >>> left_out_lines(p)
    ['left out of c.csv: 2 row(s): amount must be > 0 (2)']
    """
    summary = dropped_summary(problems)
    lines = []
    for file, part in summary.groupby("file", sort=False):
        reasons = "; ".join(f"{r} ({n:,})" for r, n in zip(part["rule"], part["rows"], strict=True))
        lines.append(f"left out of {file}: {int(part['rows'].sum()):,} row(s): {reasons}")
    return lines
