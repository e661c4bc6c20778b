"""``fit_event_study``: heterogeneity-robust event studies next to the classic TWFE one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from sustain.errors import SpecError
from sustain.models.designs import aggregate as agg
from sustain.models.designs.callaway import group_time_effects
from sustain.models.designs.frame import EventData, event_data
from sustain.models.designs.regression import (
    RegressionCells,
    linear_aggregate,
    sun_abraham,
    twfe,
)
from sustain.models.designs.results import (
    EVENT_COLUMNS,
    CoefficientPieces,
    EventStudyResults,
    InfluencePieces,
    aggregate_coefficients,
    aggregate_influence,
    overall_series,
    summarise,
)
from sustain.options import (
    BasePeriod,
    ControlGroup,
    EventStudyEstimator,
    EventStudyMethod,
    check_choice,
)
from sustain.results import ModelInfo

#: Default seed of the multiplier bootstrap: the same call always gives the same bands.
DEFAULT_SEED = 20210101
MODEL_NAMES = {
    "callaway_santanna": "Event study (Callaway-Sant'Anna)",
    "sun_abraham": "Event study (Sun-Abraham)",
    "twfe": "Event study (two-way FE)",
}


def fit_event_study(
    frame: pd.DataFrame,
    outcome: str,
    cohort: str,
    estimator: EventStudyEstimator = "callaway_santanna",
    control: ControlGroup = "never_treated",
    window: tuple[int, int] | None = None,
    cluster: str | None = None,
    covariates: Sequence[str] | None = None,
    base_period: BasePeriod = "varying",
    method: EventStudyMethod | None = None,
    alpha: float = 0.05,
    reps: int = 999,
    random_seed: int | None = DEFAULT_SEED,
) -> EventStudyResults:
    """Event study of a staggered change: group-time, event-time and overall effects.

    Parameters
    ----------
    frame : DataFrame
        Indexed by (entity, time) with integer periods (the agency-year panel works).
    outcome : str
        Outcome column.
    cohort : str
        First treated period of each unit (constant within a unit); 0 or missing for units
        never treated in the data. :func:`sustain.first_year` builds it from a condition.
    estimator : {"callaway_santanna", "sun_abraham", "twfe"}
        Callaway and Sant'Anna (2021) group-time ATTs (R did), the Sun and Abraham (2021)
        interaction-weighted estimator (fixest ``sunab``), or the classic two-way FE event
        study, which is biased when effects differ across cohorts or over time.
    control : {"never_treated", "not_yet_treated"}
        Comparison units. For Sun-Abraham, ``"not_yet_treated"`` uses the last-treated cohort
        before its treatment (its own alternative); ``twfe`` uses every untreated observation.
    window : (int, int), optional
        Event times reported (and, for ``twfe``, where endpoints are binned).
    cluster : str, optional
        A column constant within units whose levels are the clusters; default: the unit.
    covariates : sequence of str, optional
        Callaway-Sant'Anna only: covariates for conditional parallel trends, taken at each
        comparison's base period.
    base_period : {"varying", "universal"}
        Base period of pre-treatment cells (R did's option; ``"varying"`` is its default).
    method : {"reg", "dr"}, optional
        Outcome regression or doubly robust 2x2 estimator (default ``"dr"`` with covariates,
        ``"reg"`` without, where the two coincide).
    alpha : float
        1 - level of intervals and bands.
    reps : int
        Multiplier-bootstrap (Callaway-Sant'Anna) or simulation (regressions) draws for the
        uniform bands.
    random_seed : int or None
        Seed of those draws.

    Returns
    -------
    EventStudyResults
        ``.group_time``, ``.event``, ``.att``, ``.pretrend``, ``.aggregate(kind)``.

    Raises
    ------
    SpecError
        Bad options or columns.
    DataError
        Cohorts that change within a unit, duplicate rows.
    FitError
        Nothing estimable (no treated or no control units).

    Notes
    -----
    ``ATT(g, t) = E[Y_t(g) - Y_t(0) | G = g]``, identified under parallel trends and no
    anticipation; see ``docs/models/event-study.md``.

    Examples
    --------
    >>> import sustain
    >>> panel = sustain.build_panel(sustain.datasets.example()).dropna(subset=["quality"])
    >>> panel["first_dc"] = sustain.first_year(panel, "share_directed_commission > 0")
    >>> es = sustain.fit_event_study(panel, "quality", cohort="first_dc",
    ...                              control="not_yet_treated", window=(-2, 2))
    >>> es.event["event_time"].tolist()
    [-2.0, -1.0, 0.0, 1.0, 2.0]
    """
    estimator = check_choice("estimator", estimator, EventStudyEstimator)  # type: ignore[assignment]
    control = check_choice("control", control, ControlGroup)  # type: ignore[assignment]
    base_period = check_choice("base_period", base_period, BasePeriod)  # type: ignore[assignment]
    covs = tuple(covariates or ())
    how = check_choice("method", method or ("dr" if covs else "reg"), EventStudyMethod)
    _check_options(estimator, window, alpha, reps, covs)
    data = event_data(frame, outcome, cohort, cluster, covs)
    span = (float(window[0]), float(window[1])) if window is not None else None
    ctx = _Context(
        entity=str(frame.index.names[0]),
        time=str(frame.index.names[1]),
        outcome=outcome,
        cohort=cohort,
        cluster=cluster,
        alpha=alpha,
        reps=int(reps),
        seed=random_seed,
        span=span,
    )
    if estimator == "callaway_santanna":
        return _callaway(data, control, base_period, how, covs, ctx)
    cells = sun_abraham(data, control) if estimator == "sun_abraham" else twfe(data, window)
    return _regression(estimator, data, cells, ctx)


def _check_options(
    estimator: str, window: tuple[int, int] | None, alpha: float, reps: int, covs: tuple[str, ...]
) -> None:
    if window is not None and (len(window) != 2 or window[0] > -1 or window[1] < 0):
        raise SpecError(f"window must be (lo, hi) with lo <= -1 and hi >= 0, got {window!r}")
    if not 0 < alpha < 1:
        raise SpecError(f"alpha must lie in (0, 1), got {alpha!r}")
    if not isinstance(reps, int | np.integer) or reps < 99:
        raise SpecError(f"reps must be an integer >= 99, got {reps!r}")
    if covs and estimator != "callaway_santanna":
        raise SpecError("covariates are supported by the callaway_santanna estimator only")


@dataclass(frozen=True, slots=True)
class _Context:
    """Names and inference options shared by the estimator branches."""

    entity: str
    time: str
    outcome: str
    cohort: str
    cluster: str | None
    alpha: float
    reps: int
    seed: int | None
    span: tuple[float, float] | None


def _info(
    estimator: str, data: EventData, ctx: _Context, notes: tuple[str, ...], pretrend: pd.Series
) -> ModelInfo:
    groups = {ctx.entity: data.n_units}
    if ctx.cluster is not None and ctx.cluster != ctx.entity:
        groups[ctx.cluster] = int(data.clusters.max()) + 1
    first, last = data.periods[0], data.periods[-1]
    treated = int(((data.cohort > first) & (data.cohort <= last)).sum())
    return ModelInfo(
        model=MODEL_NAMES[estimator],
        estimator="event_study",
        depvar=ctx.outcome,
        formula=f"{ctx.outcome} ~ event time of {ctx.cohort}",
        nobs=int(np.isfinite(data.Y).sum()),
        groups=groups,
        effects=(ctx.entity, ctx.time) if estimator != "callaway_santanna" else (),
        cov_type="clustered",
        cluster=(ctx.cluster or ctx.entity,),
        stats={
            "n_treated_units": treated,
            "n_never_treated": int((data.cohort == 0).sum()),
            "pretrend_p": float(pretrend["pvalue"]),
        },
        notes=notes,
    )


def _event_frame(table: pd.DataFrame, reference: set[float]) -> pd.DataFrame:
    out = table.rename(columns={"level": "event_time"})
    out["reference"] = out["event_time"].isin(reference)
    return out[EVENT_COLUMNS]


def _callaway(
    data: EventData,
    control: str,
    base_period: str,
    how: str,
    covs: tuple[str, ...],
    ctx: _Context,
) -> EventStudyResults:
    gt = group_time_effects(data, control, base_period, how, covs)
    pieces = InfluencePieces(gt.cells, gt.influence, data.cohort, data.clusters, ctx.reps, ctx.seed)
    cov = agg.influence_covariance(gt.influence, data.clusters)
    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    crit = agg.uniform_critical_value(
        gt.influence, data.clusters, se, ctx.alpha, ctx.reps, ctx.seed
    )
    table = summarise(list(range(len(gt.cells))), gt.cells["estimate"].to_numpy(), cov, crit)
    group_time = gt.cells[["g", "t"]].assign(
        **{c: table[c].to_numpy() for c in ("estimate", "se", "lower", "upper")},
        base=gt.cells["base"],
        n_treated=gt.cells["n_treated"],
        n_control=gt.cells["n_control"],
    )
    dynamic = aggregate_influence(pieces, "dynamic", ctx.alpha, ctx.span)
    ref_cells = gt.cells[gt.cells["reference"]]
    reference = {float(v) for v in ref_cells["t"] - ref_cells["g"]}
    simple = aggregate_influence(pieces, "simple", ctx.alpha, None).overall
    pre = (~gt.cells["post"] & ~gt.cells["reference"]).to_numpy()
    pretrend = agg.wald_test(gt.cells["estimate"].to_numpy()[pre], cov[np.ix_(pre, pre)])
    info = _info("callaway_santanna", data, ctx, gt.notes, pretrend)
    event = _event_frame(dynamic.table, reference)
    return EventStudyResults(
        "callaway_santanna", group_time, event, simple, pretrend, info, ctx.alpha, ctx.span, pieces
    )


def _regression(
    estimator: str, data: EventData, cells: RegressionCells, ctx: _Context
) -> EventStudyResults:
    pieces = CoefficientPieces(cells.cells, cells.cov, ctx.reps, ctx.seed)
    estimated = aggregate_coefficients(pieces, "dynamic", ctx.alpha, ctx.span).table
    pre = (estimated["level"] < -1).to_numpy()
    cov = _event_cov(pieces, ctx.span)
    pretrend = agg.wald_test(estimated["estimate"].to_numpy()[pre], cov[np.ix_(pre, pre)])
    table = estimated
    if not (table["level"] == -1.0).any():
        ref = pd.DataFrame({"level": [-1.0], "estimate": [0.0]})
        table = pd.concat([table, ref], ignore_index=True).sort_values("level", ignore_index=True)
    z = float(stats.norm.ppf(1 - ctx.alpha / 2))
    if estimator == "twfe" and cells.static is not None:
        att = overall_series(cells.static[0], cells.static[1] ** 2, ctx.alpha)
        group_time = pd.DataFrame(columns=["g", "t", "estimate", "se", "lower", "upper"])
    else:
        att = aggregate_coefficients(pieces, "simple", ctx.alpha, None).overall
        se = np.sqrt(np.clip(np.diag(cells.cov), 0, None))
        estimate = cells.cells["estimate"]
        group_time = cells.cells[["g", "t", "estimate"]].assign(
            se=se, lower=estimate - z * se, upper=estimate + z * se
        )
    info = _info(estimator, data, ctx, cells.notes, pretrend)
    event = _event_frame(table, {-1.0})
    return EventStudyResults(
        estimator, group_time, event, att, pretrend, info, ctx.alpha, ctx.span, pieces
    )


def _event_cov(pieces: CoefficientPieces, span: tuple[float, float] | None) -> np.ndarray:
    cells = pieces.cells
    inside = cells["e"].between(*span).to_numpy() if span is not None else np.ones(len(cells), bool)
    _, W, _ = linear_aggregate(cells[inside], "dynamic")
    return np.asarray(W @ pieces.cov[np.ix_(inside, inside)] @ W.T)
