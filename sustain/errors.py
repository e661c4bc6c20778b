"""Exceptions raised by sustain."""

from __future__ import annotations

from typing import Any

import pandas as pd

PROBLEM_COLUMNS = ["file", "row", "column", "rule", "value"]


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


class SpecError(ValueError):
    """An analysis specification, formula or model option is invalid (raised before fitting)."""


class FitError(RuntimeError):
    """A model could not be fitted (singular design, no events, no variation, ...)."""


def format_problems(problems: pd.DataFrame, limit: int = 20) -> str:
    """Render a problems table as a readable multi-line message.

    Parameters
    ----------
    problems : DataFrame
        Columns ``file``, ``row``, ``column``, ``rule``, ``value``.
    limit : int
        How many violations to spell out; the rest are counted.

    Examples
    --------
    >>> import pandas as pd
    >>> p = pd.DataFrame([{"file": "a.csv", "row": 2, "column": "x", "rule": "required",
    ...                    "value": ""}])
    >>> print(format_problems(p))
    1 problem in the input data:
      a.csv, row 2, column 'x': required (value: '')
    """
    n = len(problems)
    lines = [f"{n} problem{'s' if n != 1 else ''} in the input data:"]
    for rec in problems.head(limit).to_dict("records"):
        lines.append(_format_one(rec))
    if n > limit:
        lines.append(f"  ... and {n - limit} more (see the .problems table)")
    return "\n".join(lines)


def _format_one(rec: dict[str, Any]) -> str:
    where = f"  {rec.get('file', '?')}"
    row = rec.get("row")
    if row is not None and not (isinstance(row, float) and pd.isna(row)):
        where += f", row {row}"
    col = rec.get("column")
    if col:
        where += f", column {col!r}"
    return f"{where}: {rec.get('rule', '')} (value: {str(rec.get('value', ''))!r})"
