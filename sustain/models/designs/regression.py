"""Regression event studies with two-way fixed effects: Sun-Abraham and the classic TWFE.

Both regress the outcome on unit and period effects (absorbed with
:func:`sustain.models.panel.absorb.absorb`) and event-time indicators, with standard errors
clustered by unit (or a coarser variable) from the shared kernel of
:mod:`sustain.inference.covariance` (``stata`` convention: ``G/(G-1) (n-1)/(n-k)`` with the
period effects counted in ``k`` and the unit effects nested in the clusters, as fixest's
default).

* ``sun_abraham``: the interaction-weighted estimator of Sun and Abraham (2021): one
  coefficient per cohort and relative period (reference ``e = -1``; never-treated units, or the
  last-treated cohort before its treatment, as controls), averaged over cohorts with weights
  equal to each cohort's share of the observations at that relative period (fixest ``sunab``).
* ``twfe``: the classic dynamic specification with one indicator per relative period pooled
  over cohorts (endpoints binned at the window), and the static TWFE coefficient of a
  treated-after indicator as its overall effect. Under staggered adoption with effects that
  differ by cohort or grow over time these are weighted averages with possibly negative
  weights (Goodman-Bacon 2021; Sun and Abraham 2021): shown for comparison only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sustain._typing import FloatArray, IntArray
from sustain.errors import FitError
from sustain.inference.covariance import cluster_covariance
from sustain.models.designs.frame import EventData
from sustain.models.panel.absorb import absorb, collinear, effect_from_codes, within_ols


@dataclass(frozen=True, slots=True)
class RegressionCells:
    """Coefficients of an event-study regression, one per cell.

    Attributes
    ----------
    cells : DataFrame
        ``g`` (cohort; NaN for pooled TWFE indicators), ``e`` (relative period), ``t``,
        ``estimate``, ``n`` (observations in the cell).
    cov : FloatArray, shape (m, m)
        Clustered covariance of the estimates.
    static : tuple of (float, float) or None
        Static TWFE coefficient and standard error (``twfe`` only).
    notes : tuple of str
    """

    cells: pd.DataFrame
    cov: FloatArray
    static: tuple[float, float] | None
    notes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Long:
    y: FloatArray
    unit: IntArray
    period: IntArray
    time: IntArray
    cohort: IntArray
    clusters: IntArray


def _long(data: EventData) -> tuple[_Long, list[str]]:
    """Observed unit-periods, without treated units that have no untreated observed period
    (treated in or before the first period, or first seen after their treatment began): their
    event-time indicators would be collinear with their unit effects."""
    notes = []
    last = data.periods[-1]
    cohort = np.where(data.cohort > last, 0, data.cohort)
    observed = np.isfinite(data.Y)
    first_seen = np.where(observed.any(axis=1), data.periods[np.argmax(observed, axis=1)], last + 1)
    no_pre = (cohort > 0) & (first_seen >= cohort)
    if no_pre.any():
        notes.append(
            f"{int(no_pre.sum())} treated unit(s) without an observed untreated period were "
            "dropped."
        )
    unit, period = np.nonzero(observed & ~no_pre[:, None])
    return (
        _Long(
            y=data.Y[unit, period],
            unit=unit,
            period=period,
            time=data.periods[period],
            cohort=cohort[unit],
            clusters=data.clusters[unit],
        ),
        notes,
    )


def _fit(
    rows: _Long, X: FloatArray, names: list[str]
) -> tuple[FloatArray, FloatArray, np.ndarray, list[str]]:
    """Two-way FE least squares with clustered covariance.

    Indicators that the effects absorb, or that depend on others (cells too thin to separate
    from the unit and period effects), are dropped, as fixest does, and named in a note.
    Returns the estimates and covariance of the kept columns, their mask and the notes.
    """
    if X.shape[1] == 0:
        raise FitError("fit_event_study: no event-time indicators to estimate")
    unit = effect_from_codes("unit", pd.factorize(rows.unit)[0].astype(np.int64))
    period = effect_from_codes("period", pd.factorize(rows.period)[0].astype(np.int64))
    transformed = absorb(np.column_stack([rows.y, X]), [unit, period]).values
    absorbed, dependent = collinear(transformed[:, 1:], X)
    keep = np.ones(X.shape[1], dtype=bool)
    keep[absorbed + dependent] = False
    notes = []
    if not keep.all():
        dropped = [names[j] for j in np.flatnonzero(~keep)]
        notes.append(f"Collinear with the unit and period effects, dropped: {', '.join(dropped)}.")
    if not keep.any():
        raise FitError("fit_event_study: every event-time indicator is collinear")
    fit = within_ols(transformed[:, 0], transformed[:, 1:][:, keep])
    bread = np.linalg.inv(fit.X.T @ fit.X)
    scores = fit.X * fit.resid[:, None]
    codes = pd.factorize(rows.clusters)[0].astype(np.int64)
    cov = cluster_covariance(bread, scores, codes, "stata", absorbed_df=period.n_levels - 1)
    return fit.params, cov, keep, notes


def sun_abraham(data: EventData, control: str) -> RegressionCells:
    """Cohort x relative-period coefficients of the Sun-Abraham regression.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> cohort = np.repeat([0, 3, 4], 20)
    >>> periods = np.arange(1, 6)
    >>> Y = rng.normal(size=(60, 5)) + 2.0 * (periods >= cohort[:, None]) * (cohort[:, None] > 0)
    >>> d = EventData(np.arange(60), periods, Y, cohort, np.arange(60), {})
    >>> out = sun_abraham(d, "never_treated")
    >>> bool(np.allclose(out.cells.query("e >= 0")["estimate"], 2.0, atol=0.8))
    True
    """
    rows, notes = _long(data)
    if control == "not_yet_treated" or not (rows.cohort == 0).any():
        rows, note = _last_cohort_as_control(rows)
        notes.append(note)
    e = rows.time - rows.cohort
    treated = rows.cohort > 0
    keys = sorted({(int(g), int(v)) for g, v in zip(rows.cohort[treated], e[treated], strict=True)})
    keys = [k for k in keys if k[1] != -1]
    columns = [((rows.cohort == g) & (e == v)).astype(float) for g, v in keys]
    names = [f"g{g}:e{v}" for g, v in keys]
    X = np.column_stack(columns) if columns else np.zeros((len(rows.y), 0))
    params, cov, kept, fit_notes = _fit(rows, X, names)
    keys = [k for k, flag in zip(keys, kept, strict=True) if flag]
    cells = pd.DataFrame(
        {
            "g": [float(g) for g, _ in keys],
            "e": [float(v) for _, v in keys],
            "t": [float(g + v) for g, v in keys],
            "estimate": params,
            "n": [int(c.sum()) for c, flag in zip(columns, kept, strict=True) if flag],
        }
    )
    return RegressionCells(cells, cov, None, tuple(notes + fit_notes))


def _last_cohort_as_control(rows: _Long) -> tuple[_Long, str]:
    last = int(rows.cohort.max())
    if last == 0:
        raise FitError("fit_event_study: no treated units")
    keep = rows.time < last
    rows = _Long(
        y=rows.y[keep],
        unit=rows.unit[keep],
        period=rows.period[keep],
        time=rows.time[keep],
        cohort=np.where(rows.cohort[keep] == last, 0, rows.cohort[keep]),
        clusters=rows.clusters[keep],
    )
    return rows, f"The last-treated cohort ({last}) is the control; periods from {last} on dropped."


def twfe(data: EventData, window: tuple[int, int] | None) -> RegressionCells:
    """The classic dynamic two-way FE event study and the static TWFE coefficient.

    Relative periods outside ``window`` are binned into its endpoints; ``e = -1`` is the
    reference.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> cohort = np.repeat([0, 3], 30)
    >>> periods = np.arange(1, 6)
    >>> Y = rng.normal(size=(60, 5)) + 1.0 * (periods >= cohort[:, None]) * (cohort[:, None] > 0)
    >>> out = twfe(EventData(np.arange(60), periods, Y, cohort, np.arange(60), {}), None)
    >>> bool(abs(out.static[0] - 1.0) < 3 * out.static[1])
    True
    """
    rows, notes = _long(data)
    treated = rows.cohort > 0
    e = np.where(treated, rows.time - rows.cohort, 0)
    if window is not None:
        e = np.clip(e, window[0], window[1])
        notes.append(f"Relative periods outside {window[0]}..{window[1]} are binned at the ends.")
    levels = sorted({int(v) for v in e[treated]} - {-1})
    columns = [(treated & (e == v)).astype(float) for v in levels]
    X = np.column_stack(columns) if columns else np.zeros((len(rows.y), 0))
    params, cov, kept, fit_notes = _fit(rows, X, [f"e{v}" for v in levels])
    post = (treated & (rows.time >= rows.cohort)).astype(float)[:, None]
    static, static_cov, _, _ = _fit(rows, post, ["post"])
    cells = pd.DataFrame(
        {
            "g": np.nan,
            "e": [float(v) for v, flag in zip(levels, kept, strict=True) if flag],
            "t": np.nan,
            "estimate": params,
            "n": [int(c.sum()) for c, flag in zip(columns, kept, strict=True) if flag],
        }
    )
    static_pair = (float(static[0]), float(np.sqrt(static_cov[0, 0])))
    return RegressionCells(cells, cov, static_pair, tuple(notes + fit_notes))


def linear_aggregate(cells: pd.DataFrame, kind: str) -> tuple[list[float], FloatArray, FloatArray]:
    """Weights turning cell coefficients into an aggregation (cells weighted by ``n``).

    Returns the levels, a weight matrix (levels x cells) and the overall weight vector.

    Examples
    --------
    >>> cells = pd.DataFrame({"g": [3.0, 4.0], "e": [0.0, 0.0], "t": [3.0, 4.0],
    ...                       "estimate": [1.0, 2.0], "n": [10, 30]})
    >>> levels, W, overall = linear_aggregate(cells, "dynamic")
    >>> levels, W.tolist(), overall.tolist()
    ([0.0], [[0.25, 0.75]], [0.25, 0.75])
    """
    n = cells["n"].to_numpy(float)
    post = cells["e"].to_numpy() >= 0
    key = {"dynamic": "e", "group": "g", "calendar": "t"}.get(kind)
    overall = np.where(post, n, 0.0) / np.sum(n[post]) if post.any() else np.zeros(len(n))
    if key is None:  # simple
        return [], np.zeros((0, len(n))), overall
    values = cells[key].to_numpy()
    mask_all = np.ones(len(n), bool) if kind == "dynamic" else post
    levels = sorted(float(v) for v in set(values[mask_all]) if np.isfinite(v))
    W = np.zeros((len(levels), len(n)))
    for i, v in enumerate(levels):
        members = mask_all & (values == v)
        W[i, members] = n[members] / n[members].sum()
    return levels, W, overall
