"""Exceptions raised by sustain."""

from __future__ import annotations

from typing import Any

import pandas as pd

PROBLEM_COLUMNS = ["file", "row", "column", "rule", "value"]


def problem_rows(file: Any, row: Any, column: Any, rule: Any, value: Any = "") -> pd.DataFrame:
    """The one builder of problems tables (``file``, ``row``, ``column``, ``rule``, ``value``).

    Array-like arguments give one row each; scalars are broadcast. Validation adds its
    ``severity`` (:func:`sustain.data.problems.problem_frame` builds on this).

    Examples
    --------
    >>> problem_rows("contracts", [3, 7], "amount", "amount must be > 0", ["0", "-1"]).shape
    (2, 5)
    >>> problem_rows("agencies", None, ["a", "b"], "required column is missing")["column"].tolist()
    ['a', 'b']
    """
    import numpy as np

    lengths = [len(x) for x in (file, row, column, rule, value) if _is_array(x)]
    n = lengths[0] if lengths else 1
    data = {}
    for name, x in zip(PROBLEM_COLUMNS, (file, row, column, rule, value), strict=True):
        data[name] = np.asarray(x, dtype=object) if _is_array(x) else np.full(n, x, dtype=object)
    frame = pd.DataFrame(data)
    frame["row"] = pd.array(frame["row"].to_numpy(), dtype="Int64") if n else frame["row"]
    return frame


def _is_array(x: Any) -> bool:
    import numpy as np

    return isinstance(x, list | tuple | np.ndarray | pd.Series | pd.Index)


class DataError(ValueError):
    """Input data break the data contract.

    The message names the file, row, column and rule of the first violations; ``problems``
    holds every violation found (columns ``file``, ``row``, ``column``, ``rule``, ``value``).

    Examples
    --------
    >>> import pandas as pd
    >>> problems = pd.DataFrame([{"file": "contracts.csv", "row": 3, "column": "amount",
    ...                           "rule": "amount must be > 0", "value": "-5"}])
    >>> err = DataError(problems)
    >>> err.problems.shape[0]
    1
    """

    def __init__(self, problems: pd.DataFrame, message: str | None = None) -> None:
        self.problems = problems.reset_index(drop=True)
        super().__init__(message or format_problems(self.problems))


class DataWarning(UserWarning):
    """Input data look suspicious (units, encodings, the observed window) but are read.

    Examples
    --------
    >>> issubclass(DataWarning, UserWarning)
    True
    """


class SpecError(ValueError):
    """An analysis specification, formula or model option is invalid (raised before fitting)."""


class FitError(RuntimeError):
    """A model could not be fitted (singular design, no events, no variation, ...)."""


def format_problems(problems: pd.DataFrame, limit: int = 20) -> str:
    """Render a problems table as a readable multi-line message.

    Problems that repeat (same file, column, rule and value, e.g. one unknown category in
    1,148 cells) are written once, with their count and first rows.

    Parameters
    ----------
    problems : DataFrame
        Columns ``file``, ``row``, ``column``, ``rule``, ``value``.
    limit : int
        How many distinct problems to spell out; the rest are counted.

    Examples
    --------
    >>> import pandas as pd
    >>> p = pd.DataFrame([{"file": "a.csv", "row": 2, "column": "x", "rule": "required",
    ...                    "value": ""}])
    >>> print(format_problems(p))
    1 problem in the input data:
      a.csv, row 2, column 'x': required (value: '')
    >>> p = pd.DataFrame({"file": "c.csv", "row": [2, 3, 9], "column": "tier",
    ...                   "rule": "tier must be one of ...", "value": "框架"})
    >>> print(format_problems(p))
    3 problems in the input data:
      c.csv, 3 rows (2, 3, 9), column 'tier': tier must be one of ... (value: '框架')
    """
    n = len(problems)
    lines = [f"{n} problem{'s' if n != 1 else ''} in the input data:"]
    groups = _grouped(problems)
    for rec in groups[:limit]:
        lines.append(_format_one(rec))
    if len(groups) > limit:
        rest = sum(int(g["count"]) for g in groups[limit:])
        lines.append(f"  ... and {rest} more (see the .problems table)")
    return "\n".join(lines)


def _grouped(problems: pd.DataFrame) -> list[dict[str, Any]]:
    keys = [c for c in ("file", "column", "rule", "value") if c in problems.columns]
    if problems.empty or not keys:
        return [dict(rec, count=1, rows=[rec.get("row")]) for rec in problems.to_dict("records")]
    labels = problems[keys].astype(object).where(problems[keys].notna(), "").astype(str)
    codes = labels.apply(tuple, axis=1) if len(keys) > 1 else labels[keys[0]]
    order = pd.factorize(codes)[0]
    rows = problems["row"] if "row" in problems.columns else pd.Series(None, index=problems.index)
    out: list[dict[str, Any]] = []
    first = {}
    for i, code in enumerate(order):  # one pass; messages are for people, not millions of rows
        if code not in first:
            first[code] = len(out)
            rec = problems.iloc[i].to_dict()
            out.append(dict(rec, count=0, rows=[]))
        group = out[first[code]]
        group["count"] += 1
        if len(group["rows"]) < _ROWS_SHOWN:
            group["rows"].append(rows.iloc[i])
    return out


_ROWS_SHOWN = 5


def _format_one(rec: dict[str, Any]) -> str:
    where = f"  {rec.get('file', '?')}"
    rows = [r for r in rec.get("rows", [rec.get("row")]) if not _missing(r)]
    count = int(rec.get("count", 1))
    if count > 1 and rows:
        listed = ", ".join(str(r) for r in rows) + (", ..." if count > len(rows) else "")
        where += f", {count:,} rows ({listed})"
    elif rows:
        where += f", row {rows[0]}"
    col = rec.get("column")
    if col and not _missing(col):
        where += f", column {col!r}"
    return f"{where}: {rec.get('rule', '')} (value: {str(rec.get('value', ''))!r})"


def _missing(x: Any) -> bool:
    return x is None or (not isinstance(x, str) and bool(pd.isna(x)))
