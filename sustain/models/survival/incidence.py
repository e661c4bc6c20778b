"""Cumulative incidence of competing causes of exit: Aalen-Johansen with delayed entry.

With ``n_j`` agencies at risk (``start < t_j <= stop``) and ``d_kj`` exits for cause ``k`` at
``t_j``, the probability of having exited for cause ``k`` by ``t`` is

.. math:: F_k(t) = \\sum_{t_j \\le t} S(t_{j-1}) \\frac{d_{kj}}{n_j}, \\qquad
          S(t) = \\prod_{t_j \\le t} \\Big(1 - \\frac{\\sum_k d_{kj}}{n_j}\\Big),

the Aalen-Johansen estimator of a competing-risks process (R ``survfit`` on a multi-state
``Surv(start, stop, cause)``). Standard errors are the infinitesimal jackknife, with the
influence of the rows of one agency summed (R's default with ``id=``), and bands are R's
(``log`` by default). Hand-written because lifelines' ``AalenJohansenFitter`` has no delayed
entry and statsmodels and scikit-survival have no clustered variance; it is checked against both
R and lifelines (``tests/references/designs/``).

Gray's (1988) K-sample test compares the cumulative incidence of one cause between groups.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from sustain._typing import FloatArray, IntArray
from sustain.errors import SpecError
from sustain.inference.covariance import cluster_sums
from sustain.models.survival.competing import cause_outcomes
from sustain.models.survival.kaplan_meier import confidence_band
from sustain.models.survival.spells import as_columns, to_spells
from sustain.options import IncidenceConfType, TimeScale, check_choice
from sustain.results import SaveMixin, Summary, SummaryMixin

TABLE_COLUMNS = ["cause", "group", "time", "estimate", "lower", "upper", "std_error", "at_risk"]


@dataclass(frozen=True, slots=True)
class IncidenceCurves:
    """Aalen-Johansen estimates of every cause at the distinct stop times.

    Attributes
    ----------
    time, at_risk : FloatArray, shape (m,)
    events : FloatArray, shape (m, J)
        Exits of each cause at each time.
    survival : FloatArray, shape (m,)
        Probability of no exit yet (any cause).
    incidence : FloatArray, shape (m, J)
        Cumulative incidence of each cause.
    std_error : FloatArray, shape (m, J)
        Infinitesimal-jackknife standard errors of ``incidence``.
    """

    time: FloatArray
    at_risk: FloatArray
    events: FloatArray
    survival: FloatArray
    incidence: FloatArray
    std_error: FloatArray


def aalen_johansen(
    start: FloatArray, stop: FloatArray, outcome: IntArray, n_causes: int, clusters: IntArray
) -> IncidenceCurves:
    """Aalen-Johansen cumulative incidence with infinitesimal-jackknife errors.

    Parameters
    ----------
    start, stop : FloatArray, shape (n,)
        Each row is at risk on ``(start, stop]``.
    outcome : IntArray, shape (n,)
        0 if the row ends without an exit, ``k`` if it ends in an exit for cause ``k``.
    n_causes : int
    clusters : IntArray, shape (n,)
        Rows of one subject (their influences are summed before squaring).

    Examples
    --------
    >>> c = aalen_johansen(np.zeros(4), np.array([1.0, 2, 2, 3]), np.array([1, 2, 0, 1]), 2,
    ...                    np.arange(4))
    >>> c.incidence.round(3).tolist()
    [[0.25, 0.0], [0.25, 0.25], [0.75, 0.25]]
    """
    time = np.unique(stop)
    Y = (start[:, None] < time[None, :]) & (stop[:, None] >= time[None, :])
    at_end = stop[:, None] == time[None, :]
    at_risk = Y.sum(axis=0).astype(float)
    dN = [(at_end & (outcome == k)[:, None]).astype(float) for k in range(1, n_causes + 1)]
    events = np.column_stack([d.sum(axis=0) for d in dN])
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard = np.where(at_risk[:, None] > 0, events / at_risk[:, None], 0.0)  # (m, J)
        total = hazard.sum(axis=1)
        survival = np.cumprod(1 - total)
        s_minus = np.concatenate([[1.0], survival[:-1]])
        incidence = np.cumsum(s_minus[:, None] * hazard, axis=0)
        # influence of each row on each cause's hazard increment, then on S and F
        safe_n = np.where(at_risk > 0, at_risk, 1.0)
        A = [(d - Y * h[None, :]) / safe_n[None, :] for d, h in zip(dN, hazard.T, strict=True)]
        A_total = np.sum(A, axis=0)
        survivors = np.where(total < 1, 1 - total, 1.0)
        dlog_s = -np.cumsum(A_total / survivors[None, :], axis=1)
    dlog_s_minus = np.concatenate([np.zeros((len(start), 1)), dlog_s[:, :-1]], axis=1)
    std_error = np.empty_like(incidence)
    for k in range(n_causes):
        dF = np.cumsum(s_minus[None, :] * (dlog_s_minus * hazard[:, k][None, :] + A[k]), axis=1)
        sums = cluster_sums(dF, clusters)
        std_error[:, k] = np.sqrt(np.sum(sums**2, axis=0))
    return IncidenceCurves(time, at_risk, events, survival, incidence, std_error)


@dataclass(frozen=True, eq=False)
class CumulativeIncidenceResults(SaveMixin, SummaryMixin):
    """Cumulative incidence curves of competing causes, by group.

    Attributes
    ----------
    table : DataFrame
        ``cause``, ``group`` (``"all"`` without ``by``), ``time``, ``estimate``, ``lower``,
        ``upper``, ``std_error``, ``at_risk``; one row per cause, group and distinct time.
    causes : tuple of str
    by : str or None
    time_scale : str
    alpha : float
    conf_type : str
    nobs : int
        Rows (agency-years or intervals) used.

    Examples
    --------
    >>> import sustain
    >>> panel = sustain.build_panel(sustain.datasets.example())
    >>> ci = sustain.cumulative_incidence(panel, cause="exit_reason")
    >>> list(ci.table.columns[:6])
    ['cause', 'group', 'time', 'estimate', 'lower', 'upper']
    """

    table: pd.DataFrame
    causes: tuple[str, ...]
    by: str | None
    time_scale: str
    alpha: float
    conf_type: str
    nobs: int

    @property
    def groups(self) -> list[str]:
        """Group labels in order."""
        return list(dict.fromkeys(self.table["group"]))

    def tidy(self) -> pd.DataFrame:
        """The curve table (a copy)."""
        return self.table.copy()

    def at(self, time: float) -> pd.DataFrame:
        """Cumulative incidence of every cause and group at ``time`` (step function)."""
        rows = self.table[self.table["time"] <= time]
        last = rows.groupby(["cause", "group"], sort=False).tail(1)
        return last.set_index(["cause", "group"])[["estimate", "lower", "upper"]]

    def summary(self) -> Summary:
        """Final cumulative incidence by cause and group."""
        final = self.table.groupby(["cause", "group"], sort=False).tail(1)
        table = final.set_index(["cause", "group"])[["time", "estimate", "lower", "upper"]]
        header = [
            ("Time scale", self.time_scale),
            ("Groups", self.by or "none"),
            ("Band", f"{100 * (1 - self.alpha):g}% {self.conf_type}"),
        ]
        return Summary("Cumulative incidence (Aalen-Johansen)", header, table)


def cumulative_incidence(
    data: pd.DataFrame,
    cause: str = "exit_reason",
    by: str | None = None,
    time_scale: TimeScale = "age",
    alpha: float = 0.05,
    conf_type: IncidenceConfType = "log",
    *,
    start: str | None = None,
    stop: str | None = None,
    entity: str = "agency_id",
    time: str = "year",
) -> CumulativeIncidenceResults:
    """Aalen-Johansen cumulative incidence of each cause of exit, with delayed entry and bands.

    Parameters
    ----------
    data : DataFrame
        The agency-year panel (default; turned into spells by :func:`sustain.to_spells`, so an
        exit at age ``a`` is counted at time ``a + 1``, as in :func:`sustain.kaplan_meier`), or a
        counting-process frame when ``stop`` is given.
    cause : str
        Column of exit reasons: in a panel, the agency's reason (the exit year comes from
        ``exit``); in a counting-process frame, the reason on rows that end in an exit and
        blank elsewhere. Exits with a blank reason in a panel form the cause ``"unknown"``.
    by : str, optional
        Column defining groups (one set of curves each).
    time_scale : {"age", "calendar"}
        Time axis for a panel.
    alpha : float
        Bands have confidence ``1 - alpha``.
    conf_type : {"log", "log-log", "plain"}
        Transformation of the pointwise bands (R ``survfit``'s ``conf.type``; ``log`` is its
        default for multi-state curves).
    start, stop : str, optional
        Columns of a counting-process frame (``start`` defaults to 0).
    entity, time : str
        Panel identifiers; ``entity`` also clusters the standard errors.

    Returns
    -------
    CumulativeIncidenceResults

    Notes
    -----
    The curves estimate the probability of having left for each cause by age ``t``, for an
    agency at risk at the start; with delayed entry the early risk sets hold only the
    agencies observed then. Independent censoring is assumed; the other causes are not
    censoring here but competing events (``1 - KM`` of one cause would overstate it).

    Examples
    --------
    >>> import sustain
    >>> panel = sustain.build_panel(sustain.datasets.example())
    >>> ci = sustain.cumulative_incidence(panel, cause="exit_reason", by="main_tier")
    >>> sorted(ci.causes)
    ['closed', 'deregistered', 'lost_contracts', 'merged']
    """
    conf = check_choice("conf_type", conf_type, IncidenceConfType)
    if not 0 < alpha < 1:
        raise SpecError(f"alpha must lie in (0, 1), got {alpha!r}")
    frame, start_col, stop_col = _rows(data, cause, by, time_scale, start, stop, entity, time)
    outcome, causes, _ = cause_outcomes(frame[cause].notna().to_numpy(), frame[cause])
    if not causes:
        raise SpecError(f"cumulative_incidence: no exits with a reason in {cause!r}")
    parts = []
    for label, mask in _groups(frame, by):
        rows = frame.loc[mask]
        curves = aalen_johansen(
            rows[start_col].to_numpy(float),
            rows[stop_col].to_numpy(float),
            outcome[mask],
            len(causes),
            pd.factorize(rows[entity])[0] if entity in rows else np.arange(len(rows)),
        )
        parts.append(_table(label, causes, curves, alpha, conf))
    scale = time_scale if stop is None else "given"
    table = pd.concat(parts, ignore_index=True)[TABLE_COLUMNS]
    return CumulativeIncidenceResults(table, causes, by, scale, alpha, conf, len(frame))


def _rows(
    data: pd.DataFrame,
    cause: str,
    by: str | None,
    time_scale: TimeScale,
    start: str | None,
    stop: str | None,
    entity: str,
    time: str,
) -> tuple[pd.DataFrame, str, str]:
    if stop is None:
        frame = as_columns(data)
        if cause not in frame.columns:
            raise SpecError(f"cumulative_incidence: column {cause!r} not found")
        carried = [c for c in dict.fromkeys([cause, *([by] if by else [])])]
        spells = to_spells(data, time_scale, carried, entity=entity, time=time)
        reason = spells[cause].astype("object")
        exits = spells["event"] == 1
        # to_spells keeps exit_reason only on exit rows; any other column is masked here
        spells[cause] = reason.where(exits, None).where(~(exits & reason.isna()), "unknown")
        return spells, "start", "stop"
    frame = as_columns(data)
    needed = [c for c in (start, stop, cause, by) if c is not None]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise SpecError(f"cumulative_incidence: column(s) {', '.join(missing)} not found")
    if start is None:
        frame = frame.assign(_start=0.0)
        start = "_start"
    if (frame[stop].to_numpy(float) <= frame[start].to_numpy(float)).any():
        raise SpecError(f"cumulative_incidence: {stop} must be greater than {start} in every row")
    return frame, start, stop


def _groups(frame: pd.DataFrame, by: str | None) -> list[tuple[str, np.ndarray]]:
    if by is None:
        return [("all", np.ones(len(frame), dtype=bool))]
    values = frame[by]
    if values.isna().any():
        raise SpecError(f"cumulative_incidence: the grouping column {by!r} has missing values")
    distinct = sorted(pd.unique(values), key=str)
    return [(str(v), (values == v).to_numpy()) for v in distinct]


def _table(
    label: str, causes: tuple[str, ...], curves: IncidenceCurves, alpha: float, conf: str
) -> pd.DataFrame:
    parts = []
    for k, name in enumerate(causes):
        estimate, se = curves.incidence[:, k], curves.std_error[:, k]
        with np.errstate(divide="ignore", invalid="ignore"):
            lower, upper = confidence_band(estimate, se / estimate, alpha, conf)
        parts.append(
            pd.DataFrame(
                {
                    "cause": name,
                    "group": label,
                    "time": curves.time,
                    "estimate": estimate,
                    "lower": lower,
                    "upper": upper,
                    "std_error": se,
                    "at_risk": curves.at_risk.astype(np.int64),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def gray_test(
    data: pd.DataFrame,
    by: str,
    cause: str = "exit_reason",
    time_scale: TimeScale = "age",
    *,
    start: str | None = None,
    stop: str | None = None,
    entity: str = "agency_id",
    time: str = "year",
) -> pd.DataFrame:
    """Gray's (1988) test that a cause's cumulative incidence is the same in every group.

    Parameters are those of :func:`cumulative_incidence`; ``by`` is required.

    Returns
    -------
    DataFrame
        Indexed by cause: ``stat``, ``df`` (groups - 1), ``pvalue`` (chi-square).

    Notes
    -----
    The score compares, at each exit time, the observed exits for the cause in each group with
    those expected under a common subdistribution hazard, over the "subdistribution risk set"
    ``n_g (1 - F_g(t-)) / S_g(t-)`` (weight ``rho = 0``); the variance is Gray's. With
    counting-process rows the risk sets count the rows at risk (delayed entry); the test was
    derived for right-censored data, and agrees with R ``cmprsk::cuminc`` there.

    Examples
    --------
    >>> import sustain
    >>> panel = sustain.build_panel(sustain.datasets.example())
    >>> sustain.gray_test(panel, by="main_tier").columns.tolist()
    ['stat', 'df', 'pvalue']
    """
    frame, start_col, stop_col = _rows(data, cause, by, time_scale, start, stop, entity, time)
    outcome, causes, _ = cause_outcomes(frame[cause].notna().to_numpy(), frame[cause])
    codes, _ = pd.factorize(frame[by], sort=True)
    out = {}
    for k, name in enumerate(causes):
        m = np.where(outcome == k + 1, 1, np.where(outcome > 0, 2, 0))
        score, var = gray_score(
            frame[start_col].to_numpy(float), frame[stop_col].to_numpy(float), m, codes
        )
        df = len(score)
        stat = float(score @ np.linalg.pinv(var) @ score) if df else float("nan")
        out[name] = {"stat": stat, "df": float(df), "pvalue": float(stats.chi2.sf(stat, df))}
    return pd.DataFrame(out).T[["stat", "df", "pvalue"]]


@dataclass(frozen=True, slots=True)
class _GrayStep:
    """Quantities of one exit time that the variance of Gray's score accumulates."""

    live: np.ndarray
    n_safe: FloatArray
    s_safe: FloatArray
    skm: FloatArray
    f: float
    tr: float
    n1: float
    n2: float
    d2: FloatArray
    at_risk: FloatArray
    a: FloatArray
    c: FloatArray


def _gray_variance_step(
    st: _GrayStep, v_sum: FloatArray, v2: FloatArray, v3: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Add one exit time's terms to the pieces of the variance (Gray 1988, section 2)."""
    G = len(st.live)
    skmm = st.s_safe
    if st.n1 > 0:
        t4 = np.where(st.skm > 0, 1 - (1 - st.f) / np.where(st.skm > 0, st.skm, 1), 1.0)
        ties = np.where(st.tr * skmm > 1, 1 - (st.n1 - 1) / (st.tr * skmm - 1), 1.0)
        t5 = ties if st.n1 > 1 else np.ones(G)
        t3 = np.where(st.live, t5 * skmm * st.n1 / (st.tr * st.n_safe), 0.0)
        v3 = v3 + t4 * t4 * t3
        t1 = st.a[: G - 1, :] - t4[None, :] * st.c[: G - 1, :]
        v2 = v2 + t1 * (t4 * t3)[None, :]
        v_sum = v_sum + (t1 * t3[None, :]) @ t1.T
    if st.n2 > 0:
        other = st.live & (st.skm > 0) & (st.d2 > 0)
        t4 = np.where(other, (1 - st.f) / np.where(st.skm > 0, st.skm, 1), 0.0)
        ties = np.where(
            st.d2 > 1, 1 - (st.d2 - 1) / np.where(st.at_risk > 1, st.at_risk - 1, 1), 1.0
        )
        t3 = np.where(other, ties * skmm**2 * st.d2 / st.n_safe**2, 0.0)
        v3 = v3 + t4 * t4 * t3
        t1 = t4[None, :] * st.c[: G - 1, :]
        v2 = v2 - t1 * (t4 * t3)[None, :]
        v_sum = v_sum + (t1 * t3[None, :]) @ t1.T
    return v_sum, v2, v3


def gray_score(
    start: FloatArray, stop: FloatArray, m: IntArray, group: IntArray
) -> tuple[FloatArray, FloatArray]:
    """Gray's score for groups ``0 .. G-2`` and its variance (``rho = 0``).

    ``m`` is 1 for an exit from the cause of interest, 2 from another cause, 0 otherwise.
    Implemented from Gray (1988, Ann. Statist. 16:1141) section 2, as R ``cmprsk``'s
    ``crstm`` computes it, with risk sets ``start < t <= stop``.

    Examples
    --------
    >>> s, v = gray_score(np.zeros(6), np.array([1.0, 2, 3, 1, 2, 3]),
    ...                   np.array([1, 0, 2, 1, 1, 0]), np.array([0, 0, 0, 1, 1, 1]))
    >>> s.shape, v.shape
    ((1,), (1, 1))
    """
    n_groups = int(group.max()) + 1
    times = np.unique(stop[m > 0])
    G = n_groups
    f1m, skmm = np.zeros(G), np.ones(G)  # left limits of F_g and S_g
    fm = 0.0  # left limit of the pooled subdistribution
    score = np.zeros(G - 1)
    c = np.zeros((G, G))
    v_sum, v2, v3 = np.zeros((G - 1, G - 1)), np.zeros((G - 1, G)), np.zeros(G)
    for t in times:
        at_risk = np.bincount(group[(start < t) & (stop >= t)], minlength=G).astype(float)
        ends = stop == t
        d1 = np.bincount(group[ends & (m == 1)], minlength=G).astype(float)
        d2 = np.bincount(group[ends & (m == 2)], minlength=G).astype(float)
        # a group whose curve reached 0 (possible with delayed entry) drops out of the test
        live = (at_risk > 0) & (skmm > 0)
        if not live.any():
            continue
        n_safe, s_safe = np.where(live, at_risk, 1.0), np.where(live, skmm, 1.0)
        skm = np.where(live, skmm * (at_risk - d1 - d2) / n_safe, skmm)
        f1 = np.where(live, f1m + skmm * d1 / n_safe, f1m)
        h = np.where(live, at_risk / s_safe, 0.0)  # n_g / S_g(t-)
        tr = h.sum()
        n1, n2 = d1[live].sum(), d2[live].sum()
        f = fm + n1 / tr
        a = np.where(live[:, None] & live[None, :], -np.outer(h, h) / tr, 0.0)
        np.fill_diagonal(a, np.where(live, h * (1 - h / tr), 0.0))
        c += a * n1 / (tr * (1 - fm))
        subdist = np.where(live, at_risk * (1 - f1m) / s_safe, 0.0)  # subdistribution risk set
        score += (np.where(live, d1, 0.0) - n1 * subdist / subdist.sum())[: G - 1]
        step = _GrayStep(live, n_safe, s_safe, skm, f, tr, n1, n2, d2, at_risk, a, c)
        v_sum, v2, v3 = _gray_variance_step(step, v_sum, v2, v3)
        fm, f1m, skmm = f, f1, skm
    cg = c[: G - 1, :]
    var = v_sum + (cg * v3[None, :]) @ cg.T + cg @ v2.T + v2 @ cg.T
    return score, var
