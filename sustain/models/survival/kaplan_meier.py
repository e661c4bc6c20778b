"""Kaplan-Meier survival curves with delayed entry, by group, with confidence bands.

Works on the agency-year panel (converted to ``(start, stop]`` spells by
:func:`sustain.to_spells`, so left-truncated agencies enter the risk set at their first
observed age) or on any counting-process frame. The estimator, Greenwood variance, the
``log``, ``log-log`` and ``plain`` bands and the median rule follow R's ``survival::survfit``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from sustain._typing import BoolArray, FloatArray
from sustain.errors import SpecError
from sustain.models.survival.spells import as_columns, event_indicator, to_spells
from sustain.options import SurvivalConfType, TimeScale, choices
from sustain.results import SaveMixin, Summary, SummaryMixin

CONF_TYPES: tuple[str, ...] = choices(SurvivalConfType)
TABLE_COLUMNS = ["group", "time", "at_risk", "events", "survival", "std_error", "lower", "upper"]
# R's quantile.survfit tolerance for "survival equals the probability exactly"
_QUANTILE_TOL = float(np.sqrt(np.finfo(float).eps))


@dataclass(frozen=True, slots=True)
class Curve:
    """One Kaplan-Meier curve evaluated at the distinct exit times of its rows.

    Attributes
    ----------
    time, at_risk, events : arrays, shape (m,)
        Distinct stop times, rows at risk (``start < t <= stop``) and events at each.
    survival : FloatArray, shape (m,)
        ``prod_{t_j <= t} (1 - d_j / n_j)``.
    se_log : FloatArray, shape (m,)
        Greenwood standard error of ``log S(t)``: ``sqrt(sum d_j / (n_j (n_j - d_j)))``.
    """

    time: FloatArray
    at_risk: FloatArray
    events: FloatArray
    survival: FloatArray
    se_log: FloatArray


def km_curve(start: FloatArray, stop: FloatArray, event: BoolArray) -> Curve:
    """Kaplan-Meier estimate from ``(start, stop]`` rows (delayed entry allowed).

    Examples
    --------
    >>> import numpy as np
    >>> c = km_curve(np.zeros(4), np.array([1.0, 2, 2, 3]), np.array([1, 1, 0, 1], bool))
    >>> c.at_risk.tolist(), c.survival.round(4).tolist()
    ([4.0, 3.0, 1.0], [0.75, 0.5, 0.0])
    """
    time = np.unique(stop)
    stop_sorted, start_sorted = np.sort(stop), np.sort(start)
    # at risk at t: rows with stop >= t minus rows with start >= t (those start later)
    at_risk = (
        (len(stop) - np.searchsorted(stop_sorted, time, side="left"))
        - (len(start) - np.searchsorted(start_sorted, time, side="left"))
    ).astype(np.float64)
    events = np.bincount(np.searchsorted(time, stop[event]), minlength=len(time)).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard = np.where(at_risk > 0, events / at_risk, 0.0)
        greenwood = np.where(events > 0, events / (at_risk * (at_risk - events)), 0.0)
    return Curve(time, at_risk, events, np.cumprod(1 - hazard), np.sqrt(np.cumsum(greenwood)))


def confidence_band(
    survival: FloatArray, se_log: FloatArray, alpha: float, conf_type: str
) -> tuple[FloatArray, FloatArray]:
    """Pointwise confidence limits of a survival curve, as R's ``survfit`` computes them.

    Notes
    -----
    With ``z`` the normal quantile and ``s = se(log S)``: ``log`` gives ``S exp(-+z s)``
    (upper capped at 1); ``log-log`` gives ``S^exp(+-z s / log S)``, i.e. the interval for
    ``log(-log S)`` transformed back; ``plain`` gives ``S -+ z S s`` clipped to [0, 1].
    Limits are missing where they are undefined (``S = 0``, or ``S = 1`` for ``log-log``).

    Examples
    --------
    >>> import numpy as np
    >>> lo, hi = confidence_band(np.array([0.5]), np.array([0.2]), 0.05, "log")
    >>> round(float(lo[0]), 4), round(float(hi[0]), 4)
    (0.3379, 0.74)
    """
    z = float(stats.norm.ppf(1 - alpha / 2))
    p = np.asarray(survival, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if conf_type == "plain":
            half = z * se_log * p
            return np.maximum(p - half, 0.0), np.minimum(p + half, 1.0)
        if conf_type == "log":
            x = np.where(p == 0, np.nan, p)
            return x * np.exp(-z * se_log), np.minimum(x * np.exp(z * se_log), 1.0)
        x = np.where((p == 0) | (p == 1), np.nan, p)
        scaled = z * se_log / np.log(x)
        log_minus_log = np.log(-np.log(x))
        return np.exp(-np.exp(log_minus_log - scaled)), np.exp(-np.exp(log_minus_log + scaled))


def survival_quantile(time: FloatArray, survival: FloatArray, prob: float = 0.5) -> float:
    """Time at which the curve falls to ``1 - prob`` (the median for 0.5), by R's rule.

    The first time with ``S(t) <= 1 - prob``; if the curve equals ``1 - prob`` exactly on a
    flat stretch, the midpoint of that stretch (R's ``quantile.survfit``). Missing (NaN) when
    the curve never gets there.

    Examples
    --------
    >>> import numpy as np
    >>> survival_quantile(np.array([1.0, 2, 3, 4]), np.array([0.75, 0.5, 0.5, 0.25]))
    3.0
    """
    keep = ~np.isnan(survival)
    x = np.concatenate([[0.0], np.asarray(time, float)[keep]])
    y = np.concatenate([[0.0], 1 - np.asarray(survival, float)[keep]])
    if y.max() < prob:
        return float("nan")
    x_last = x[-1]
    _, first = np.unique(y, return_index=True)
    first = np.sort(first)
    x, y = x[first], y[first]
    reached = np.flatnonzero(y >= prob - _QUANTILE_TOL)
    beyond = np.flatnonzero(y >= prob + _QUANTILE_TOL)
    if not len(reached):
        return float("nan")
    if abs(prob - y[-1]) < _QUANTILE_TOL:
        return float((x[reached[0]] + x_last) / 2)
    if not len(beyond):
        return float("nan")
    return float((x[reached[0]] + x[beyond[0]]) / 2)


@dataclass(frozen=True, eq=False)
class KaplanMeierResults(SaveMixin, SummaryMixin):
    """Kaplan-Meier curves by group.

    Attributes
    ----------
    table : DataFrame
        One row per group and distinct exit time: ``group``, ``time``, ``at_risk``,
        ``events``, ``survival``, ``std_error`` (Greenwood, of S), ``lower``, ``upper``.
    median : DataFrame
        Per group (index): ``rows``, ``events``, ``median`` and its confidence limits
        ``lower`` and ``upper`` (where the bands cross 0.5); missing when not reached.
    by : str or None
        Grouping column.
    time_scale : str
        ``"age"``, ``"calendar"`` or ``"given"`` (a start/stop frame was supplied).
    alpha : float
        1 - confidence level of the bands.
    conf_type : str
        Band transformation.

    Examples
    --------
    >>> import sustain
    >>> panel = sustain.build_panel(sustain.datasets.example())
    >>> km = sustain.kaplan_meier(panel, by="main_tier")
    >>> list(km.tidy().columns)
    ['group', 'time', 'at_risk', 'events', 'survival', 'std_error', 'lower', 'upper']
    """

    table: pd.DataFrame
    median: pd.DataFrame
    by: str | None
    time_scale: str
    alpha: float
    conf_type: str

    @property
    def nobs(self) -> int:
        """Rows (agency-years or intervals) used."""
        return int(self.median["rows"].sum())

    @property
    def groups(self) -> list[str]:
        """Group labels in order."""
        return [str(g) for g in self.median.index]

    def tidy(self) -> pd.DataFrame:
        """The curve table (a copy)."""
        return self.table.copy()

    def survival_at(self, times: FloatArray | list[float], group: str = "all") -> pd.Series:
        """Survival of one group at arbitrary times (step function, 1 before the first exit)."""
        rows = self.table[self.table["group"] == group]
        if rows.empty:
            raise SpecError(f"group {group!r} not found; groups are {self.groups}")
        t = np.asarray(times, float)
        position = np.searchsorted(rows["time"].to_numpy(), t, side="right") - 1
        values = np.where(position >= 0, rows["survival"].to_numpy()[position.clip(0)], 1.0)
        return pd.Series(values, index=t, name="survival")

    def summary(self) -> Summary:
        """Median survival by group."""
        level = f"{100 * (1 - self.alpha):g}%"
        header = [
            ("Time scale", self.time_scale),
            ("Groups", self.by or "none"),
            ("Band", f"{level} {self.conf_type}"),
        ]
        return Summary("Kaplan-Meier survival", header, self.median)


def kaplan_meier(
    data: pd.DataFrame,
    by: str | None = None,
    time_scale: TimeScale = "age",
    alpha: float = 0.05,
    conf_type: SurvivalConfType = "log-log",
    *,
    start: str | None = None,
    stop: str | None = None,
    event: str | None = None,
    entity: str = "agency_id",
    time: str = "year",
) -> KaplanMeierResults:
    """Kaplan-Meier survival curves with confidence bands, allowing delayed entry.

    Parameters
    ----------
    data : DataFrame
        The agency-year panel (default), or a counting-process frame when ``stop`` is given.
    by : str, optional
        Column defining groups (one curve each); ``None`` gives one curve labelled ``"all"``.
        A panel column that changes over time puts each agency-year in the group of that
        year (the Simon-Makuch extension); time-constant attributes are the usual choice.
    time_scale : {"age", "calendar"}
        Time axis for a panel (see :func:`sustain.to_spells`): on the age scale
        left-truncated agencies enter at their first observed age.
    alpha : float
        Bands have confidence ``1 - alpha``.
    conf_type : {"log-log", "log", "plain"}
        Transformation for the pointwise bands (R's ``conf.type``).
    start, stop, event : str, optional
        Columns of a counting-process frame. If ``stop`` is given ``data`` is used as is
        (``start`` defaults to 0, ``event`` to ``"event"``); otherwise ``data`` is a panel and
        ``event`` defaults to ``"exit"``.
    entity, time : str
        Panel identifiers (panel input only).

    Returns
    -------
    KaplanMeierResults

    Notes
    -----
    ``S(t) = prod_{t_j <= t} (1 - d_j / n_j)`` with ``n_j`` the rows at risk
    (``start < t_j <= stop``) and ``d_j`` the events at ``t_j``; Greenwood's variance
    ``Var(log S(t)) = sum d_j / (n_j (n_j - d_j))``. With delayed entry the risk set at early
    times holds only the agencies observed then, so the curve is conditional on surviving to
    entry and can be unstable where few agencies are at risk.

    Examples
    --------
    >>> import sustain
    >>> panel = sustain.build_panel(sustain.datasets.example())
    >>> km = sustain.kaplan_meier(panel)
    >>> km.groups, bool(km.table["survival"].is_monotonic_decreasing)
    (['all'], True)
    """
    if conf_type not in CONF_TYPES:
        raise SpecError(f"conf_type={conf_type!r} is not one of {', '.join(CONF_TYPES)}")
    if not 0 < alpha < 1:
        raise SpecError(f"alpha must lie in (0, 1), got {alpha!r}")
    frame, start_col, stop_col, event_col = _spells(
        data, by, time_scale, start, stop, event, entity, time
    )
    tables, medians = [], []
    for label, mask in _groups(frame, by):
        rows = frame.loc[mask]
        curve = km_curve(
            rows[start_col].to_numpy(float),
            rows[stop_col].to_numpy(float),
            event_indicator(rows[event_col], event_col),
        )
        table, median = _group_outputs(label, curve, alpha, conf_type, len(rows))
        tables.append(table)
        medians.append(median)
    scale = time_scale if stop is None else "given"
    return KaplanMeierResults(
        table=pd.concat(tables, ignore_index=True)[TABLE_COLUMNS],
        median=pd.DataFrame(medians).set_index("group"),
        by=by,
        time_scale=scale,
        alpha=alpha,
        conf_type=conf_type,
    )


def _spells(
    data: pd.DataFrame,
    by: str | None,
    time_scale: TimeScale,
    start: str | None,
    stop: str | None,
    event: str | None,
    entity: str,
    time: str,
) -> tuple[pd.DataFrame, str, str, str]:
    """The rows to estimate from, with names of their start, stop and event columns."""
    if stop is None:
        spells = to_spells(
            data, time_scale, [by] if by else [], entity=entity, time=time, event=event or "exit"
        )
        return spells, "start", "stop", "event"
    frame = as_columns(data)
    event = event or "event"
    needed = [c for c in (start, stop, event, by) if c is not None]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise SpecError(f"kaplan_meier: column(s) {', '.join(missing)} not found in the data")
    frame = frame.dropna(subset=[c for c in (start, stop, event) if c is not None])
    if start is None:
        frame = frame.assign(_start=0.0)
        start = "_start"
    if (frame[stop].to_numpy(float) <= frame[start].to_numpy(float)).any():
        raise SpecError(f"kaplan_meier: {stop} must be greater than {start} in every row")
    return frame, start, stop, event


def _groups(frame: pd.DataFrame, by: str | None) -> list[tuple[str, BoolArray]]:
    """Group labels (sorted by value) with the mask of their rows."""
    if by is None:
        return [("all", np.ones(len(frame), dtype=bool))]
    values = frame[by]
    if values.isna().any():
        raise SpecError(
            f"kaplan_meier: the grouping column {by!r} has missing values in "
            f"{int(values.isna().sum())} rows; fill or drop them first"
        )
    distinct = list(pd.unique(values))
    try:
        distinct = sorted(distinct)
    except TypeError:
        distinct = sorted(distinct, key=str)
    return [(str(v), (values == v).to_numpy()) for v in distinct]


def _group_outputs(
    label: str, curve: Curve, alpha: float, conf_type: str, n_rows: int
) -> tuple[pd.DataFrame, dict[str, object]]:
    lower, upper = confidence_band(curve.survival, curve.se_log, alpha, conf_type)
    with np.errstate(invalid="ignore"):  # S = 0 with an infinite log-scale SE: NaN, as in R
        std_error = curve.survival * curve.se_log
    table = pd.DataFrame(
        {
            "group": label,
            "time": curve.time,
            "at_risk": curve.at_risk.astype(np.int64),
            "events": curve.events.astype(np.int64),
            "survival": curve.survival,
            "std_error": std_error,
            "lower": lower,
            "upper": upper,
        }
    )
    median = {
        "group": label,
        "rows": n_rows,
        "events": int(curve.events.sum()),
        "median": survival_quantile(curve.time, curve.survival),
        "lower": survival_quantile(curve.time, lower),
        "upper": survival_quantile(curve.time, upper),
    }
    return table, median
