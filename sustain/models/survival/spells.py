"""Agency-year panel to counting-process spells ``(start, stop]`` for survival models.

Also holds the input checks shared by the survival models: index levels as columns, event
indicators that must be 0/1, and the guard that drops rows after an agency's first exit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sustain._typing import BoolArray
from sustain.errors import DataError, FitError, SpecError, problem_rows
from sustain.options import TimeScale, check_choice

SPELL_COLUMNS = ("start", "stop", "event")


def as_columns(data: pd.DataFrame) -> pd.DataFrame:
    """``data`` with named index levels turned into columns and a fresh ``RangeIndex``.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"x": [1]}, index=pd.MultiIndex.from_tuples([("a", 2015)],
    ...                   names=["agency_id", "year"]))
    >>> list(as_columns(df).columns)
    ['agency_id', 'year', 'x']
    """
    if not isinstance(data, pd.DataFrame):
        raise SpecError(f"expected a pandas DataFrame, got {type(data).__name__}")
    levels = [n for n in data.index.names if n is not None and n not in data.columns]
    frame = data.reset_index(level=levels) if levels else data
    return frame.reset_index(drop=True)


def data_error(column: str, rule: str, rows: Iterable[Any], values: Iterable[Any]) -> DataError:
    """A :class:`~sustain.errors.DataError` for model input (file ``"data"``, 0-based rows).

    Examples
    --------
    >>> err = data_error("exit", "must be 0 or 1", [4], [2])
    >>> str(err).splitlines()[1]
    "  data, row 4, column 'exit': must be 0 or 1 (value: '2')"
    """
    return DataError(problem_rows("data", list(rows), column, rule, [str(v) for v in values]))


def event_indicator(values: pd.Series, column: str) -> BoolArray:
    """Check that an event column holds only 0/1 (or booleans) and return it as booleans.

    Raises
    ------
    DataError
        Naming the rows with missing or other values.

    Examples
    --------
    >>> import pandas as pd
    >>> event_indicator(pd.Series([0, 1, 1.0]), "exit").tolist()
    [False, True, True]
    """
    numeric = pd.to_numeric(values, errors="coerce")
    bad = ~numeric.isin([0, 1]).to_numpy()
    if bad.any():
        positions = np.flatnonzero(bad)
        raise data_error(
            column, "event indicator must be 0 or 1", positions[:50], values.iloc[positions[:50]]
        )
    return numeric.to_numpy() == 1


def at_risk_rows(frame: pd.DataFrame, entity: str, time: str, event: str) -> BoolArray:
    """Rows at risk: every row of an entity up to and including its first event.

    Rows dated after an entity's first event (data after an exit) are marked ``False``.
    ``frame`` needs a ``RangeIndex``-like positional order; the result is aligned with it.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"id": ["a", "a", "a", "b"], "year": [1, 2, 3, 1],
    ...                    "exit": [0, 1, 0, 0]})
    >>> at_risk_rows(df, "id", "year", "exit").tolist()
    [True, True, False, True]
    """
    exits = event_indicator(frame[event], event).astype(np.int64)  # errors name input rows
    codes = pd.factorize(frame[entity])[0]
    order = np.lexsort((frame[time].to_numpy(), codes))
    sorted_exits = pd.Series(exits[order])
    before = sorted_exits.groupby(codes[order]).cumsum() - sorted_exits
    keep = np.empty(len(frame), dtype=bool)
    keep[order] = before.to_numpy() == 0
    return keep


def _check_unique(frame: pd.DataFrame, entity: str, time: str) -> None:
    duplicated = frame.duplicated([entity, time], keep=False).to_numpy()
    if duplicated.any():
        rows = np.flatnonzero(duplicated)[:50]
        raise data_error(
            f"{entity}, {time}",
            "each entity may have only one row per time",
            rows,
            frame.iloc[rows][[entity, time]].astype(str).agg(" ".join, axis=1),
        )


def _age(frame: pd.DataFrame, time: str) -> pd.Series:
    if "age" in frame.columns:
        return pd.to_numeric(frame["age"], errors="coerce")
    if "founded" in frame.columns:
        return frame[time] - pd.to_numeric(frame["founded"], errors="coerce")
    raise SpecError("time_scale='age' needs an 'age' column (or 'founded') in the panel")


def to_spells(
    panel: pd.DataFrame,
    time_scale: TimeScale = "age",
    covariates: Sequence[str] | None = None,
    *,
    entity: str = "agency_id",
    time: str = "year",
    event: str = "exit",
    origin: int | None = None,
) -> pd.DataFrame:
    """Convert the agency-year panel into counting-process spells ``(start, stop]``.

    Each agency-year at risk becomes one interval of length one year whose ``event`` is the
    panel's exit indicator. Rows after an agency's first exit are dropped. A carried
    ``exit_reason`` column keeps the reason only in the row of the exit (blank elsewhere), so
    that ``fit_cox(spells, ..., event="exit_reason", cause=...)`` reads it as the event.

    Parameters
    ----------
    panel : DataFrame
        Agency-year panel, indexed (``entity``, ``time``) or holding them as columns.
    time_scale : {"age", "calendar"}
        ``"age"``: the interval of a row is ``(age, age + 1]``, so agencies founded before the
        data window (left-truncated) enter the risk set late, at their first observed age.
        ``"calendar"``: ``(year - origin, year - origin + 1]`` with ``origin`` the first year
        of the panel (the window start), so agencies founded during the window enter when they
        are founded.
    covariates : sequence of str, optional
        Panel columns to carry along; by default every column.
    entity, time : str
        Agency identifier and calendar year (index levels or columns).
    event : str
        Exit indicator (0/1) of the panel; returned as ``event``.
    origin : int, optional
        Calendar year at which calendar time is 0 (default: the earliest year in the panel).

    Returns
    -------
    DataFrame
        Columns ``entity``, ``time``, ``start``, ``stop``, ``event`` and the covariates,
        sorted by entity and time, with a ``RangeIndex``.

    Examples
    --------
    >>> import pandas as pd
    >>> panel = pd.DataFrame({"agency_id": ["a", "a", "b"], "year": [2012, 2013, 2013],
    ...                       "age": [5, 6, 0], "exit": [0, 1, 0], "hhi": [0.5, 0.6, 1.0]})
    >>> to_spells(panel, "age", ["hhi"])[["agency_id", "start", "stop", "event", "hhi"]]
      agency_id  start  stop  event  hhi
    0         a      5     6      0  0.5
    1         a      6     7      1  0.6
    2         b      0     1      0  1.0
    >>> to_spells(panel, "calendar")[["start", "stop"]].to_numpy().tolist()
    [[0, 1], [1, 2], [1, 2]]
    """
    try:
        check_choice("time_scale", time_scale, TimeScale)
    except ValueError as exc:
        raise SpecError(str(exc)) from exc
    frame = as_columns(panel)
    missing = [c for c in (entity, time, event, *(covariates or ())) if c not in frame.columns]
    if missing:
        raise SpecError(f"to_spells: column(s) {', '.join(missing)} not found in the panel")
    _check_unique(frame, entity, time)
    frame = frame.loc[at_risk_rows(frame, entity, time, event)]
    frame = frame.sort_values([entity, time], kind="stable").reset_index(drop=True)
    if time_scale == "age":
        start = _age(frame, time)
    else:
        start = frame[time] - (frame[time].min() if origin is None else origin)
    if start.isna().any():
        rows = np.flatnonzero(start.isna().to_numpy())[:50]
        raise data_error("age", "age (or founded) is missing", rows, ["<NA>"] * len(rows))
    carried = [c for c in (covariates if covariates is not None else frame.columns)]
    carried = [c for c in carried if c not in (entity, time, event, *SPELL_COLUMNS)]
    out = pd.DataFrame({entity: frame[entity], time: frame[time]})
    out["start"], out["stop"] = start.to_numpy(), start.to_numpy() + 1
    out["event"] = event_indicator(frame[event], event).astype(np.int64)
    carried_frame = frame[carried]
    if "exit_reason" in carried_frame.columns:  # the reason of the row's exit, if it ends in one
        reason = carried_frame["exit_reason"].where(out["event"].to_numpy() == 1)
        carried_frame = carried_frame.assign(exit_reason=reason)
    return pd.concat([out, carried_frame], axis=1)


def check_full_rank(X: pd.DataFrame, model: str) -> None:
    """Raise :class:`~sustain.errors.FitError` naming design columns that are collinear.

    Columns are scaled to unit length, then a pivoted QR decomposition finds the columns that
    are (numerically) linear combinations of the others; constant columns count as such when
    the model has no intercept to absorb them (Cox models).

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"a": [1.0, 2, 3], "b": [2.0, 4, 6], "c": [0.0, 1, 0]})
    >>> check_full_rank(X, "test")
    Traceback (most recent call last):
    ...
    sustain.errors.FitError: test: the design is rank deficient; b is collinear with the other terms (drop it or check the data)
    """
    from scipy.linalg import qr

    values = X.to_numpy(dtype=float)
    norms = np.linalg.norm(values, axis=0)
    zero = norms == 0
    scaled = values[:, ~zero] / norms[~zero]
    dependent = list(X.columns[zero])
    if scaled.shape[1]:
        # pivoted QR of the small triangular factor instead of the tall matrix: X = QR, so R
        # has X's column dependencies, and pivoting a p x p matrix is cheap (LAPACK's geqp3 on
        # a long panel is not)
        square = np.linalg.qr(scaled, mode="r")
        _, r, pivot = qr(square, mode="economic", pivoting=True)
        diag = np.abs(np.diag(r))
        tol = max(scaled.shape) * np.finfo(float).eps * (diag[0] if len(diag) else 0.0) * 1e3
        rank = int(np.sum(diag > tol))
        dependent += list(X.columns[~zero][pivot[rank:]])
    if dependent:
        names = ", ".join(map(str, dependent))
        verb = "is" if len(dependent) == 1 else "are"
        raise FitError(
            f"{model}: the design is rank deficient; {names} {verb} collinear with the other "
            "terms (drop it or check the data)"
        )
