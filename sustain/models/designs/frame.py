"""Event-study input: an (entity, time) frame turned into unit-by-period arrays, and cohorts.

A staggered design has one row per unit and period; the *cohort* of a unit is the first period
in which it is treated (0 or missing: never treated within the data). :func:`event_data`
checks the frame and lays the outcome out as a units x periods matrix with missing cells where
a unit is not observed, which is what the estimators of :mod:`sustain.models.designs` need.
:func:`first_year` builds a cohort column from a condition on the panel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sustain._typing import FloatArray, IntArray
from sustain.errors import SpecError
from sustain.models.survival.spells import as_columns, data_error


@dataclass(frozen=True, slots=True)
class EventData:
    """A staggered-adoption panel as arrays.

    Attributes
    ----------
    units : ndarray, shape (n,)
        Unit identifiers, sorted.
    periods : IntArray, shape (T,)
        Sorted distinct periods.
    Y : FloatArray, shape (n, T)
        Outcome; NaN where the unit is not observed (or the outcome is missing).
    cohort : IntArray, shape (n,)
        First treated period, 0 for never-treated units.
    clusters : IntArray, shape (n,)
        Cluster code of each unit (its own code without clustering by a coarser variable).
    covariates : dict of str to FloatArray, shape (n, T)
        Covariates by period (NaN where unobserved).

    Examples
    --------
    >>> frame = pd.DataFrame({"id": [1, 1, 2, 2], "t": [1, 2, 1, 2], "y": [0.0, 1, 0, 0],
    ...                       "g": [2, 2, 0, 0]}).set_index(["id", "t"])
    >>> d = event_data(frame, "y", "g")
    >>> d.Y.tolist(), d.cohort.tolist()
    ([[0.0, 1.0], [0.0, 0.0]], [2, 0])
    """

    units: np.ndarray
    periods: IntArray
    Y: FloatArray
    cohort: IntArray
    clusters: IntArray
    covariates: dict[str, FloatArray]

    @property
    def n_units(self) -> int:
        """Number of units."""
        return len(self.units)


def event_data(
    frame: pd.DataFrame,
    outcome: str,
    cohort: str,
    cluster: str | None = None,
    covariates: Sequence[str] | None = None,
) -> EventData:
    """Check an (entity, time)-indexed frame and lay it out as unit x period arrays.

    Parameters
    ----------
    frame : DataFrame
        Indexed by (entity, time) with integer times; ``outcome``, ``cohort`` and the other
        columns named are columns (or index levels).
    outcome, cohort : str
        Outcome column and the first treated period (0 or missing: never treated). The cohort
        must be constant within a unit.
    cluster : str, optional
        Column constant within units whose levels are the clusters (default: the unit).
    covariates : sequence of str, optional
        Covariate columns.

    Raises
    ------
    SpecError
        Not indexed by (entity, time), unknown columns, non-integer periods.
    DataError
        Cohorts or clusters that change within a unit; duplicate (entity, time) rows.
    """
    entity, time = _index_names(frame)
    columns = as_columns(frame)
    needed = [outcome, cohort, *(covariates or ()), *([cluster] if cluster else [])]
    missing = [c for c in needed if c not in columns.columns]
    if missing:
        raise SpecError(f"fit_event_study: column(s) {', '.join(missing)} not found")
    duplicated = columns.duplicated([entity, time]).to_numpy()
    if duplicated.any():
        rows = np.flatnonzero(duplicated)[:50]
        raise data_error(f"{entity}, {time}", "one row per unit and period", rows, rows)
    periods_raw = pd.to_numeric(columns[time], errors="coerce")
    if periods_raw.isna().any() or (periods_raw % 1 != 0).any():
        raise SpecError(f"fit_event_study: the time index {time!r} must hold integer periods")
    unit_codes, units = pd.factorize(columns[entity], sort=True)
    periods, period_codes = np.unique(periods_raw.to_numpy(np.int64), return_inverse=True)
    shape = (len(units), len(periods))
    g = _unit_constant(columns, cohort, unit_codes, len(units))
    g = np.where(np.isnan(g), 0, g).astype(np.int64)
    clusters = np.arange(len(units), dtype=np.int64)
    if cluster is not None and cluster != entity:
        labels = _unit_constant(columns, cluster, unit_codes, len(units), numeric=False)
        clusters = pd.factorize(labels)[0].astype(np.int64)
    return EventData(
        units=np.asarray(units),
        periods=periods.astype(np.int64),
        Y=_matrix(columns[outcome], unit_codes, period_codes, shape),
        cohort=g,
        clusters=clusters,
        covariates={
            c: _matrix(columns[c], unit_codes, period_codes, shape) for c in covariates or ()
        },
    )


def first_year(
    panel: pd.DataFrame, condition: str, *, entity: str | None = None, time: str | None = None
) -> pd.Series:
    """First period in which ``condition`` holds for each unit, repeated on its rows (0: never).

    Parameters
    ----------
    panel : DataFrame
        Indexed by (entity, time), e.g. the agency-year panel.
    condition : str
        A boolean expression of the panel's columns, evaluated by :meth:`DataFrame.eval`,
        e.g. ``"share_open_tender > 0"``. Missing values count as false.
    entity, time : str, optional
        Index levels (default: the first and second).

    Returns
    -------
    Series of int
        Aligned with ``panel``'s rows: the unit's cohort, the first treated period, or 0.

    Notes
    -----
    A unit whose condition already holds in its first observed period gets that period as its
    cohort: it has no untreated period in the data, so the estimators cannot use it as a
    treated unit (Callaway-Sant'Anna drops such cells; see ``docs/models/event-study.md``).
    The condition is not required to stay true (staggered adoption treats the first time as
    the event; later reversals are ignored).

    Examples
    --------
    >>> import sustain
    >>> panel = sustain.build_panel(sustain.datasets.example())
    >>> cohort = sustain.first_year(panel, "share_open_tender > 0")
    >>> cohort.name, bool((cohort >= 0).all())
    ('first_year', True)
    """
    entity, time = _index_names(panel, entity, time)
    try:
        flag = panel.eval(condition)
    except Exception as exc:  # pandas raises many types for a bad expression
        raise SpecError(f"first_year: cannot evaluate {condition!r}: {exc}") from exc
    if not isinstance(flag, pd.Series) or len(flag) != len(panel):
        raise SpecError(f"first_year: {condition!r} is not a condition on the rows")
    flag = flag.fillna(False).astype(bool)
    years = pd.Series(panel.index.get_level_values(time), index=panel.index)
    first = years.where(flag).groupby(level=entity).transform("min")
    return first.fillna(0).astype(np.int64).rename("first_year")


def _index_names(
    frame: pd.DataFrame, entity: str | None = None, time: str | None = None
) -> tuple[str, str]:
    if not isinstance(frame, pd.DataFrame):
        raise SpecError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    index = frame.index
    if not isinstance(index, pd.MultiIndex) or index.nlevels != 2:
        raise SpecError("an event study needs a frame indexed by (entity, time)")
    names = [str(n) for n in index.names]
    return entity or names[0], time or names[1]


def _unit_constant(
    columns: pd.DataFrame, name: str, codes: IntArray, n: int, numeric: bool = True
) -> np.ndarray:
    """The value of a column that must be constant within units, one per unit."""
    values = pd.to_numeric(columns[name], errors="coerce") if numeric else columns[name]
    if numeric and (columns[name].notna() & values.isna()).any():
        rows = np.flatnonzero((columns[name].notna() & values.isna()).to_numpy())[:50]
        raise data_error(
            name, f"{name} must be a period (a number)", rows, columns[name].iloc[rows]
        )
    distinct = values.groupby(codes).nunique(dropna=False)
    bad_units = distinct.index[distinct.to_numpy() > 1]
    if len(bad_units):
        rows = np.flatnonzero(np.isin(codes, bad_units))[:50]
        rule = f"{name} must be constant within a unit"
        raise data_error(name, rule, rows, values.iloc[rows])
    first = values.groupby(codes).first()
    out = first.reindex(range(n)).to_numpy(dtype=np.float64 if numeric else object)
    return out


def _matrix(
    values: pd.Series, unit_codes: IntArray, period_codes: IntArray, shape: tuple[int, int]
) -> FloatArray:
    out = np.full(shape, np.nan)
    out[unit_codes, period_codes] = pd.to_numeric(values, errors="coerce").to_numpy(np.float64)
    return out
