"""Checks of the input frames every panel step relies on, each failure a problems table.

A missing column, a missing value or a non-integer year raises :class:`~sustain.DataError`
whose problems name the file, the row (the frame's index label: the row as read), the column
and the rule, built by :func:`sustain.errors.problem_rows` like every other problems table.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from sustain._typing import BoolArray, IntArray
from sustain.errors import DataError, problem_rows


def require_columns(frame: pd.DataFrame, columns: Sequence[str], file: str) -> None:
    """Raise :class:`~sustain.DataError` naming every column of ``columns`` missing in ``frame``.

    Examples
    --------
    >>> import pandas as pd
    >>> require_columns(pd.DataFrame({"a": [1]}), ["a"], "agencies")
    >>> try:
    ...     require_columns(pd.DataFrame({"a": [1]}), ["a", "b"], "agencies")
    ... except DataError as err:
    ...     print(err.problems[["file", "column"]].to_dict("records"))
    [{'file': 'agencies', 'column': 'b'}]
    """
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(problem_rows(file, None, missing, "required column is missing"))


def row_problems(
    frame: pd.DataFrame, bad: BoolArray, file: str, column: str, rule: str
) -> pd.DataFrame:
    """The problems table (``file``, ``row``, ``column``, ``rule``, ``value``) of flagged rows.

    ``row`` is the frame's index label of each offending row.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> f = pd.DataFrame({"amount": [5.0, -1.0]})
    >>> p = row_problems(f, np.array([False, True]), "contracts", "amount", "amount must be > 0")
    >>> p.to_dict("records")
    [{'file': 'contracts', 'row': 1, 'column': 'amount', 'rule': 'amount must be > 0', 'value': '-1.0'}]
    """
    rows = np.flatnonzero(bad)
    values = frame[column].iloc[rows].astype(str).to_numpy()
    return problem_rows(file, frame.index[rows].to_numpy(), column, rule, values)


def require_present(frame: pd.DataFrame, column: str, file: str) -> None:
    """Raise :class:`~sustain.DataError` naming the rows where ``frame[column]`` is missing.

    Examples
    --------
    >>> import pandas as pd
    >>> require_present(pd.DataFrame({"agency_id": ["a"]}), "agency_id", "contracts")
    """
    bad = frame[column].isna().to_numpy()
    if bad.any():
        raise DataError(row_problems(frame, bad, file, column, f"{column} is required"))


def integer_column(frame: pd.DataFrame, column: str, file: str) -> IntArray:
    """The whole-number values of ``frame[column]`` as int64; DataError naming bad rows.

    Examples
    --------
    >>> import pandas as pd
    >>> integer_column(pd.DataFrame({"year": [2015, 2016.0]}), "year", "contracts").tolist()
    [2015, 2016]
    """
    values = frame[column]
    if isinstance(values.dtype, np.dtype) and values.dtype.kind in "iu":  # nothing to check
        return values.to_numpy(dtype=np.int64)
    number = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(number) | (number % 1 != 0)
    if bad.any():
        rule = f"{column} must be an integer"
        raise DataError(row_problems(frame, bad, file, column, rule))
    return number.astype(np.int64)
