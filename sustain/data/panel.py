"""The agency-year panel: one row per agency and year at risk, with the funding measures.

:func:`build_panel` turns a :class:`~sustain.data.dataset.Dataset` into the frame every model
of sustain takes: indexed (``agency_id``, ``year``), sorted, carrying the agency's attributes,
``age``, ``exit``, ``left_truncated``, ``entry_age``, every column of
:data:`~sustain.data.measures.MEASURE_COLUMNS` and, on request, lags. Definitions and choices
are documented in ``docs/measures.md``.

Everything is vectorised: an agency's rows are consecutive, so the row of a contract is the
arithmetic ``first_row[agency] + year - first_year[agency]`` rather than a join, and the
measures are computed straight onto the panel's rows by
:func:`~sustain.data.measures.measures_by_group`, so that years without contracts or revenue
get zero totals without a reindex.

Reading :func:`build_panel` top-down takes three steps, each in one module:
:func:`~sustain.data.panel_rows.lay_out` checks the inputs and numbers the agency-years
(:mod:`sustain.data.panel_rows`, with the frame checks of :mod:`sustain.data.frame_checks`);
:func:`~sustain.data.measures.measures_by_group` computes the measures on those rows; the rest
of this module assembles the frame (life columns, exit causes, lags, the window) and checks that
no amount was lost or counted twice.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TypeAlias

import numpy as np
import pandas as pd

from sustain._atomic import atomic_path
from sustain._typing import BoolArray, IntArray, PathLikeStr
from sustain.data.dataset import Dataset
from sustain.data.frame_checks import integer_column
from sustain.data.measures import MEASURE_COLUMNS, measures_by_group
from sustain.data.panel_rows import (
    DERIVED_COLUMNS,
    ENTITY,
    TIME,
    lay_out,
)
from sustain.errors import DataError, SpecError, problem_rows

LagSpec: TypeAlias = str | Iterable[str] | Mapping[str, int | Iterable[int]] | None

# Conservation is checked to half a cent; for totals so large that half a cent is below a few
# float64 rounding steps (above ~1e12 currency units), to 16 units in the last place instead.
_HALF_CENT = 0.005
_ULPS = 16 * np.finfo(np.float64).eps


class ConservationError(RuntimeError):
    """Internal error: the panel's totals differ from the input amounts.

    Raised by :func:`build_panel` when the sum of ``revenue_gov`` (or ``revenue_nongov``, or
    ``n_contracts``) over the panel differs from the contracts (or revenue rows) of the panel's
    years. It signals a bug in sustain, never bad input: please report it.
    """


def build_panel(
    dataset: Dataset,
    lags: LagSpec = (),
    first_year: int | None = None,
    last_year: int | None = None,
) -> pd.DataFrame:
    """Build the agency-year panel with every funding measure.

    Parameters
    ----------
    dataset : Dataset
        Agencies, contracts and (possibly empty) non-government revenue.
    lags : str, sequence of str or mapping of str to int or sequence of int, optional
        Columns to lag within agency: a name or names (lag 1), or ``{column: [1, 2]}``.
        Lag ``k`` of ``x`` is the column ``x_lag{k}``; it is defined only when the agency has
        a row for ``year - k``. Lags are taken before the panel is trimmed to the window, so the
        first window year uses the year before when the data has it.
    first_year, last_year : int, optional
        The window; default: the first and last year with contracts or revenue
        (``Dataset.years``). It must lie within those years.

    Returns
    -------
    DataFrame
        Indexed by (``agency_id``, ``year``), sorted, one row per agency and year at risk in
        the window (from ``max(founded, first_year)`` to ``min(closed, last_year)``), with the
        agency's columns, ``age``, ``exit``, ``left_truncated``, ``entry_age``, the columns of
        ``MEASURE_COLUMNS`` and the lags.

    Raises
    ------
    DataError
        When a required column is missing, agency ids repeat, a contract or revenue row names
        an unknown agency or a year outside the agency's founded-closed span, or values break
        the rules checked by :func:`~sustain.data.measures.measures_by_group`.
    SpecError
        When the window is empty or outside the data, or a lag is invalid.
    ConservationError
        Internal error: totals are not conserved (a bug; never expected).

    Notes
    -----
    ``age = year - founded``; ``exit = 1`` in the year the agency closed when that year is in
    the window, else 0; with an ``exit_reason`` column, ``exit_<reason>`` is 1 in that year for
    the agency's reason (:func:`exit_cause_column` names it); ``left_truncated`` marks agencies founded before ``first_year`` (their
    first row has ``age > 0``: delayed entry in survival models); ``entry_age`` is the age at
    the agency's first row, ``max(founded, first_year) - founded``. Agency-years without
    contracts or revenue have zero totals and counts and missing ratios.

    Examples
    --------
    >>> import pandas as pd
    >>> from sustain.data.dataset import Dataset
    >>> agencies = pd.DataFrame({"agency_id": ["a", "b"], "founded": [2010, 2016],
    ...                          "district": ["Tianhe", "Yuexiu"],
    ...                          "closed": pd.array([2017, None], dtype="Int64")})
    >>> contracts = pd.DataFrame({"contract_id": ["c1", "c2", "c3"], "agency_id": ["a", "a", "b"],
    ...                           "year": [2015, 2017, 2017], "funder": ["s1", "s1", "bureau"],
    ...                           "tier": ["subdistrict", "subdistrict", "district"],
    ...                           "contract_type": ["open_tender"] * 3,
    ...                           "amount": [100.0, 120.0, 80.0]})
    >>> panel = build_panel(Dataset(agencies, contracts), lags=["revenue_gov"])
    >>> panel[["age", "exit", "revenue_gov", "revenue_gov_lag1"]]  # doctest: +NORMALIZE_WHITESPACE
                    age  exit  revenue_gov  revenue_gov_lag1
    agency_id year
    a         2015    5     0        100.0               NaN
              2016    6     0          0.0             100.0
              2017    7     1        120.0               0.0
    b         2016    0     0          0.0               NaN
              2017    1     0         80.0               0.0
    """
    lag_spec = normalise_lags(lags)
    layout = lay_out(dataset, first_year, last_year)
    agencies, row_agency, row_year = layout.agencies, layout.row_agency, layout.row_year
    check_lag_columns(lag_spec, [*agencies.columns[1:], *DERIVED_COLUMNS, *MEASURE_COLUMNS])
    contracts, revenue = dataset.contracts, dataset.revenue
    measures = measures_by_group(
        contracts, revenue, layout.contract_row, layout.revenue_row, len(row_agency)
    )
    window = layout.window
    frame = pd.DataFrame(
        {
            **{c: agencies[c].array.take(row_agency) for c in agencies.columns[1:]},
            **(
                life := _life_columns(
                    layout.founded, layout.closed, row_agency, row_year, window[0]
                )
            ),
            **exit_cause_columns(agencies, row_agency, life["exit"]),
            **measures,
        },
        index=_panel_index(agencies[ENTITY], row_agency, row_year),
    )
    frame = add_lags(frame, lag_spec)
    in_window = (row_year >= window[0]) & (row_year <= window[1])
    panel = frame if in_window.all() else _trim(frame, in_window)
    check_conservation(panel, contracts, revenue, window)
    return panel


def exit_cause_column(reason: str) -> str:
    """Panel column of the exit indicator of one exit reason: ``exit_<reason>``.

    Characters that cannot appear in a formula term become ``_``.

    Examples
    --------
    >>> exit_cause_column("merged"), exit_cause_column("lost contracts"), exit_cause_column("合并")
    ('exit_merged', 'exit_lost_contracts', 'exit_合并')
    """
    slug = re.sub(r"\W+", "_", str(reason)).strip("_")
    return f"exit_{slug or 'other'}"


def exit_cause_columns(
    agencies: pd.DataFrame, row_agency: IntArray, exit_flag: IntArray
) -> dict[str, IntArray]:
    """0/1 indicators ``exit_<reason>`` (1 in the year the agency left for that reason).

    Without an ``exit_reason`` column (or with no reason given) there are none. An exit
    whose reason is blank has ``exit = 1`` and every indicator 0.

    Examples
    --------
    >>> agencies = pd.DataFrame({"exit_reason": ["merged", None, "closed"]})
    >>> out = exit_cause_columns(agencies, np.array([0, 0, 1, 2]), np.array([0, 1, 0, 1]))
    >>> {k: v.tolist() for k, v in out.items()}
    {'exit_closed': [0, 0, 0, 1], 'exit_merged': [0, 1, 0, 0]}
    """
    if "exit_reason" not in agencies.columns:
        return {}
    reason = agencies["exit_reason"].to_numpy(dtype=object, na_value=None)[row_agency]
    known = sorted({str(r) for r in reason if r is not None})
    columns: dict[str, IntArray] = {}
    for value in known:
        name = exit_cause_column(value)
        if name in columns:
            raise DataError(
                problem_rows(
                    "agencies",
                    None,
                    "exit_reason",
                    f"exit reasons that differ only in punctuation share the column {name}",
                )
            )
        columns[name] = ((reason == value) & (exit_flag == 1)).astype(np.int64)
    return columns


def normalise_lags(lags: LagSpec) -> dict[str, tuple[int, ...]]:
    """Turn any accepted form of ``lags`` into ``{column: (k1, k2, ...)}`` with sorted orders.

    Examples
    --------
    >>> normalise_lags("hhi")
    {'hhi': (1,)}
    >>> normalise_lags({"hhi": [2, 1], "gov_share": 1})
    {'hhi': (1, 2), 'gov_share': (1,)}
    """
    if lags is None:
        return {}
    if isinstance(lags, str):
        return {lags: (1,)}
    if isinstance(lags, Mapping):
        return {_lag_column(c): _lag_orders(c, k) for c, k in lags.items()}
    if not isinstance(lags, Iterable):
        raise SpecError(f"lags must be column names or a mapping, got {lags!r}")
    return {_lag_column(c): (1,) for c in lags}


def check_lag_columns(lags: Mapping[str, Iterable[int]], columns: Iterable[str]) -> None:
    """Raise :class:`~sustain.SpecError` naming lag columns that are not in ``columns``.

    Examples
    --------
    >>> check_lag_columns({"hhi": (1,)}, ["hhi", "gov_share"])
    >>> try:
    ...     check_lag_columns({"hhh": (1,)}, ["hhi"])
    ... except SpecError as err:
    ...     print(err)
    cannot lag unknown column(s) 'hhh'; available: 'hhi'
    """
    available = list(columns)
    unknown = [c for c in lags if c not in available]
    if unknown:
        raise SpecError(
            f"cannot lag unknown column(s) {', '.join(map(repr, unknown))}; "
            f"available: {', '.join(map(repr, available))}"
        )


def add_lags(panel: pd.DataFrame, lags: LagSpec) -> pd.DataFrame:
    """Return ``panel`` with lagged copies of columns, taken within entity over exact years.

    Parameters
    ----------
    panel : DataFrame
        Indexed by (entity, time) with integer times and unique index entries; rows may be in
        any order and years may have gaps.
    lags : str, sequence of str or mapping of str to int or sequence of int
        As in :func:`build_panel`.

    Returns
    -------
    DataFrame
        A new frame with the columns ``<column>_lag<k>``: the entity's value in ``time - k``,
        missing when the entity has no row for ``time - k``. Integer and boolean columns become
        floats (to hold the missing values); other types keep their dtype.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.MultiIndex.from_tuples([("a", 2015), ("a", 2016), ("a", 2018), ("b", 2016)],
    ...                                 names=["agency_id", "year"])
    >>> add_lags(pd.DataFrame({"x": [1, 2, 3, 4]}, index=idx), {"x": [1, 2]})
    ... # doctest: +NORMALIZE_WHITESPACE
                    x  x_lag1  x_lag2
    agency_id year
    a         2015  1     NaN     NaN
              2016  2     1.0     NaN
              2018  3     NaN     2.0
    b         2016  4     NaN     NaN
    """
    spec = normalise_lags(lags)
    if not spec:
        return panel
    check_lag_columns(spec, panel.columns)
    names = [f"{c}_lag{k}" for c, orders in spec.items() for k in orders]
    clash = [n for n in names if n in panel.columns]
    if clash:
        raise SpecError(f"lag column(s) {', '.join(map(repr, clash))} already exist in the panel")
    entity, time = _entity_time_codes(panel.index)
    span = int(time.max()) + 1 if len(time) else 1  # times are offsets 0 .. span - 1
    key = pd.Index(entity * span + time)
    lagged = {}
    for column, orders in spec.items():
        values = panel[column]
        for k in orders:
            source = np.where(time - k >= 0, key.get_indexer(entity * span + time - k), -1)
            lagged[f"{column}_lag{k}"] = _take_with_missing(values, source)
    return pd.concat([panel, pd.DataFrame(lagged, index=panel.index)], axis=1)


def check_conservation(
    panel: pd.DataFrame,
    contracts: pd.DataFrame,
    revenue: pd.DataFrame,
    window: tuple[int, int],
) -> None:
    """Raise :class:`ConservationError` unless the panel's totals equal the input amounts.

    Compares, to half a cent, the sum of ``revenue_gov`` over the panel with the sum of the
    contract amounts whose year lies in ``window`` (and likewise ``revenue_nongov`` with the
    revenue rows), and the sum of ``n_contracts`` with the number of those contracts. Sums use
    :func:`math.fsum` (exactly rounded), so the order of summation cannot matter. Every
    contract lies in an agency-year at risk (:func:`build_panel` checks this first), so the
    contracts of the window are exactly those of the panel's agency-years.

    Examples
    --------
    >>> import pandas as pd
    >>> panel = pd.DataFrame({"revenue_gov": [5.0], "revenue_nongov": [0.0],
    ...                       "n_contracts": [1]})
    >>> c = pd.DataFrame({"year": [2015], "amount": [5.0]})
    >>> r = pd.DataFrame({"year": pd.Series([], dtype=int), "amount": pd.Series([], dtype=float)})
    >>> check_conservation(panel, c, r, (2015, 2015))
    """
    for frame, column in ((contracts, "revenue_gov"), (revenue, "revenue_nongov")):
        year = integer_column(frame, TIME, "")
        in_window = (year >= window[0]) & (year <= window[1])
        expected = math.fsum(frame["amount"].to_numpy(dtype=np.float64)[in_window])
        got = math.fsum(panel[column].to_numpy(dtype=np.float64))
        if not abs(got - expected) <= max(_HALF_CENT, _ULPS * abs(expected)):
            raise ConservationError(
                f"internal error: {column} sums to {got!r} over the panel but the input "
                f"amounts of {window[0]}-{window[1]} sum to {expected!r}; please report this"
            )
        if column == "revenue_gov" and int(panel["n_contracts"].sum()) != int(in_window.sum()):
            raise ConservationError(
                f"internal error: the panel counts {int(panel['n_contracts'].sum())} contracts "
                f"but {int(in_window.sum())} lie in {window[0]}-{window[1]}; please report this"
            )


def write_panel(panel: pd.DataFrame, path: PathLikeStr) -> Path:
    """Write the panel to ``.parquet`` or ``.csv`` atomically and return the path.

    The index (``agency_id``, ``year``) is written as columns. An interrupted write never
    leaves a partial file behind.

    Examples
    --------
    >>> import tempfile, pathlib, pandas as pd
    >>> idx = pd.MultiIndex.from_tuples([("a", 2015)], names=["agency_id", "year"])
    >>> out = write_panel(pd.DataFrame({"hhi": [1.0]}, index=idx),
    ...                   pathlib.Path(tempfile.mkdtemp()) / "panel.csv")
    >>> out.read_text().splitlines()
    ['agency_id,year,hhi', 'a,2015,1.0']
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise SpecError(f"cannot write a panel to {target.name!r}: use .parquet or .csv")
    with atomic_path(target) as tmp:
        if suffix == ".parquet":
            panel.to_parquet(tmp)
        else:
            panel.to_csv(tmp, encoding="utf-8")
    return target


def _lag_column(column: object) -> str:
    if not isinstance(column, str):
        raise SpecError(f"lag columns must be names (str), got {column!r}")
    return column


def _lag_orders(column: str, orders: int | Iterable[int]) -> tuple[int, ...]:
    values = [orders] if not isinstance(orders, Iterable) else list(orders)
    if not values or any(
        isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1 for k in values
    ):
        raise SpecError(f"lag orders of {column!r} must be positive integers, got {orders!r}")
    return tuple(sorted({int(k) for k in values}))


def _life_columns(
    founded: IntArray, closed: np.ndarray, row_agency: IntArray, row_year: IntArray, start: int
) -> dict[str, np.ndarray]:
    """Age, exit, left truncation and entry age of every row (``start``: window start)."""
    born = founded[row_agency]
    return {
        "age": row_year - born,
        "exit": (row_year == closed[row_agency]).astype(np.int64),
        "left_truncated": born < start,
        "entry_age": np.maximum(born, start) - born,
    }


def _panel_index(ids: pd.Series, row_agency: IntArray, row_year: IntArray) -> pd.MultiIndex:
    y0 = int(row_year.min()) if len(row_year) else 0
    years = np.arange(y0, int(row_year.max()) + 1 if len(row_year) else y0, dtype=np.int64)
    return pd.MultiIndex(
        levels=[pd.Index(ids.to_numpy()), pd.Index(years)],
        codes=[row_agency, row_year - y0],
        names=[ENTITY, TIME],
        verify_integrity=False,
    ).remove_unused_levels()


def _trim(frame: pd.DataFrame, keep: BoolArray) -> pd.DataFrame:
    trimmed = frame.loc[keep]
    trimmed.index = trimmed.index.remove_unused_levels()
    return trimmed


def _entity_time_codes(index: pd.Index) -> tuple[IntArray, IntArray]:
    if not isinstance(index, pd.MultiIndex) or index.nlevels != 2:
        raise SpecError("lags need a frame indexed by (entity, time)")
    if not index.is_unique:
        raise SpecError("lags need unique (entity, time) index entries")
    entity = pd.factorize(index.get_level_values(0))[0].astype(np.int64)
    try:
        time = np.asarray(index.get_level_values(1), dtype=np.int64)
    except (TypeError, ValueError):
        raise SpecError("lags need integer times (years) in the second index level") from None
    return entity, time - (time.min() if len(time) else 0)


def _take_with_missing(
    values: pd.Series, source: IntArray
) -> np.ndarray | pd.api.extensions.ExtensionArray:
    """``values`` at positions ``source``; missing where ``source`` is -1."""
    array = values.array
    if isinstance(array, pd.arrays.NumpyExtensionArray):
        raw = array.to_numpy()
        if raw.dtype.kind in "biu":
            raw = raw.astype(np.float64)
        return pd.api.extensions.take(raw, source, allow_fill=True)
    return array.take(source, allow_fill=True)
