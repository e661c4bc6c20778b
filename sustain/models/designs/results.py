"""The result of an event study: group-time effects, event-time effects, the overall ATT.

:class:`EventStudyResults` follows the result protocol (``params``, ``bse``, ``nobs``,
``conf_int()``, ``summary()``, ``tidy()``): its terms are the event-time effects
``event[-3]``, ..., ``event[3]`` (reference periods left out) and the overall ``ATT``. It keeps
arrays to recompute aggregations (influence functions, or coefficients and their covariance),
never the user's frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

import numpy as np
import pandas as pd
from scipy import stats

from sustain._typing import FloatArray, IntArray
from sustain.errors import SpecError
from sustain.models.designs import aggregate as agg
from sustain.models.designs.regression import linear_aggregate
from sustain.options import Aggregation, check_choice
from sustain.results import TIDY_COLUMNS, ModelInfo, Results, Summary

EVENT_COLUMNS = ["event_time", "estimate", "se", "lower", "upper", "reference"]


def event_term(e: float) -> str:
    """Term name of an event-time effect.

    Examples
    --------
    >>> event_term(-2.0), event_term(0.0)
    ('event[-2]', 'event[0]')
    """
    return f"event[{int(e)}]"


@dataclass(frozen=True, slots=True)
class InfluencePieces:
    """Callaway-Sant'Anna: group-time cells and their influence functions (n_units x cells)."""

    cells: pd.DataFrame
    influence: FloatArray
    cohort: IntArray
    clusters: IntArray
    reps: int
    random_seed: int | None


@dataclass(frozen=True, slots=True)
class CoefficientPieces:
    """Regression estimators: cell coefficients (with ``n``) and their covariance."""

    cells: pd.DataFrame
    cov: FloatArray
    reps: int
    random_seed: int | None


@dataclass(frozen=True)
class EventAggregation:
    """One aggregation of an event study.

    Attributes
    ----------
    kind : str
        ``"simple"``, ``"group"``, ``"dynamic"`` or ``"calendar"``.
    table : DataFrame
        ``level`` (cohort, event time or period), ``estimate``, ``se``, ``lower``, ``upper``
        (a uniform band over the table's rows).
    overall : Series
        ``estimate``, ``se``, ``lower``, ``upper`` (pointwise interval).
    """

    kind: str
    table: pd.DataFrame
    overall: pd.Series


def summarise(
    levels: list[float], estimates: FloatArray, cov: FloatArray, crit: float
) -> pd.DataFrame:
    """Estimates with standard errors and a band of half-width ``crit * se``.

    Examples
    --------
    >>> summarise([0.0], np.array([1.0]), np.array([[0.25]]), 2.0).round(2).values.tolist()
    [[0.0, 1.0, 0.5, 0.0, 2.0]]
    """
    se = np.sqrt(np.clip(np.diag(cov), 0, None)) if len(levels) else np.array([])
    se = np.where(se > agg.ZERO_SE, se, np.nan)
    return pd.DataFrame(
        {
            "level": levels,
            "estimate": estimates,
            "se": se,
            "lower": estimates - crit * se,
            "upper": estimates + crit * se,
        }
    )


def overall_series(estimate: float, variance: float, alpha: float) -> pd.Series:
    """An overall effect with its pointwise interval.

    Examples
    --------
    >>> overall_series(1.0, 0.25, 0.05).round(3).tolist()
    [1.0, 0.5, 0.02, 1.98]
    """
    se = float(np.sqrt(max(variance, 0.0)))
    z = float(stats.norm.ppf(1 - alpha / 2))
    return pd.Series(
        {"estimate": estimate, "se": se, "lower": estimate - z * se, "upper": estimate + z * se}
    )


def simulated_critical_value(
    cov: FloatArray, alpha: float, reps: int, random_seed: int | None
) -> float:
    """Sup-t critical value from normal draws with covariance ``cov`` (regression estimators).

    Examples
    --------
    >>> 1.9 < simulated_critical_value(np.eye(1), 0.05, 20000, 1) < 2.0
    True
    """
    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    keep = se > agg.ZERO_SE
    if not keep.any():
        return float("nan")
    sub = cov[np.ix_(keep, keep)]
    draws = np.random.default_rng(random_seed).multivariate_normal(
        np.zeros(int(keep.sum())), sub, size=reps, method="eigh"
    )
    return float(np.quantile(np.max(np.abs(draws) / se[keep], axis=1), 1 - alpha))


def aggregate_influence(
    pieces: InfluencePieces, kind: str, alpha: float, window: tuple[float, float] | None
) -> EventAggregation:
    """An aggregation of Callaway-Sant'Anna group-time effects (R did's ``aggte``)."""
    out = agg.aggregate(kind, pieces.cells, pieces.influence, pieces.cohort, window)
    cov = agg.influence_covariance(out.influence, pieces.clusters)
    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    crit = agg.uniform_critical_value(
        out.influence, pieces.clusters, se, alpha, pieces.reps, pieces.random_seed
    )
    table = summarise(out.levels, out.estimates, cov, crit)
    variance = agg.influence_covariance(out.overall_influence[:, None], pieces.clusters)[0, 0]
    return EventAggregation(kind, table, overall_series(out.overall, variance, alpha))


def aggregate_coefficients(
    pieces: CoefficientPieces, kind: str, alpha: float, window: tuple[float, float] | None
) -> EventAggregation:
    """An aggregation of regression cell coefficients weighted by observations (fixest)."""
    cells = pieces.cells
    if kind == "dynamic" and window is not None:
        inside = cells["e"].between(*window).to_numpy()
    else:
        inside = np.ones(len(cells), bool)
    levels, W, overall = linear_aggregate(cells[inside], kind)
    beta, V = cells["estimate"].to_numpy()[inside], pieces.cov[np.ix_(inside, inside)]
    cov = W @ V @ W.T
    crit = (
        simulated_critical_value(cov, alpha, pieces.reps, pieces.random_seed)
        if len(levels)
        else np.nan
    )
    table = summarise(levels, W @ beta, cov, crit)
    return EventAggregation(
        kind, table, overall_series(float(overall @ beta), float(overall @ V @ overall), alpha)
    )


@dataclass(frozen=True, eq=False)
class EventStudyResults(Results):
    """A fitted event study of a staggered change.

    Attributes
    ----------
    estimator : str
        ``"callaway_santanna"``, ``"sun_abraham"`` or ``"twfe"``.
    group_time : DataFrame
        Cohort-by-period effects: ``g``, ``t``, ``estimate``, ``se``, ``lower``, ``upper``
        (uniform band) and, for Callaway-Sant'Anna, ``base``, ``n_treated``, ``n_control``
        (empty for ``twfe``, which pools cohorts).
    event : DataFrame
        ``event_time``, ``estimate``, ``se``, ``lower``, ``upper`` (uniform band over the
        window), ``reference`` (the normalised period, 0 by construction).
    att : Series
        The overall effect (``estimate``, ``se``, ``lower``, ``upper``): R did's ``simple``
        aggregation for Callaway-Sant'Anna, the observation-weighted average of post-treatment
        cells for Sun-Abraham, the static TWFE coefficient for ``twfe``.
    pretrend : Series
        Wald test that every pre-treatment effect is zero: ``stat``, ``df``, ``pvalue``.
    info : ModelInfo
    alpha : float
    window : tuple of float or None

    Examples
    --------
    >>> import sustain
    >>> from sustain.data.simulate import simulate
    >>> panel = sustain.build_panel(sustain.datasets.example()).dropna(subset=["quality"])
    >>> panel["first_tender"] = sustain.first_year(panel, "share_directed_commission > 0")
    >>> es = sustain.fit_event_study(panel, "quality", cohort="first_tender",
    ...                              control="not_yet_treated", window=(-3, 3))
    >>> list(es.event.columns[:5])
    ['event_time', 'estimate', 'se', 'lower', 'upper']
    """

    estimator: str
    group_time: pd.DataFrame
    event: pd.DataFrame
    att: pd.Series
    pretrend: pd.Series
    info: ModelInfo
    alpha: float = 0.05
    window: tuple[float, float] | None = None
    pieces: InfluencePieces | CoefficientPieces | None = field(default=None, repr=False)

    inference: ClassVar[Literal["frequentist", "bayesian"]] = "frequentist"

    def _rows(self) -> pd.DataFrame:
        event = self.event[~self.event["reference"].astype(bool)]
        terms = [event_term(e) for e in event["event_time"]]
        rows = pd.DataFrame(
            {"estimate": event["estimate"].to_numpy(), "se": event["se"].to_numpy()}, index=terms
        )
        rows.loc["ATT"] = [self.att["estimate"], self.att["se"]]
        return rows

    @property
    def params(self) -> pd.Series:
        return self._rows()["estimate"].rename("params")

    @property
    def bse(self) -> pd.Series:
        return self._rows()["se"].rename("bse")

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Pointwise Wald intervals (``lower``, ``upper``) of the event-time effects and ATT."""
        z = float(stats.norm.ppf(1 - alpha / 2))
        rows = self._rows()
        return pd.DataFrame(
            {"lower": rows["estimate"] - z * rows["se"], "upper": rows["estimate"] + z * rows["se"]}
        )

    def tidy(self, alpha: float = 0.05, exponentiate: bool = False) -> pd.DataFrame:
        """One row per event time and the ATT (``exponentiate`` is meaningless and refused)."""
        if exponentiate:
            raise SpecError(
                "event-study effects are differences in the outcome; nothing to exponentiate"
            )
        rows, ci = self._rows(), self.conf_int(alpha)
        z = rows["estimate"] / rows["se"]
        out = pd.DataFrame(
            {
                "term": rows.index,
                "estimate": rows["estimate"].to_numpy(),
                "std_error": rows["se"].to_numpy(),
                "statistic": z.to_numpy(),
                "p_value": 2 * stats.norm.sf(np.abs(z.to_numpy())),
                "conf_low": ci["lower"].to_numpy(),
                "conf_high": ci["upper"].to_numpy(),
            }
        )
        return out[TIDY_COLUMNS]

    def aggregate(self, kind: Aggregation = "dynamic") -> EventAggregation:
        """Aggregate the cohort-by-period effects: ``"simple"``, ``"group"``, ``"dynamic"``
        or ``"calendar"`` (R did's ``aggte`` types).

        ``twfe`` pools cohorts in its regression, so only ``"dynamic"`` and ``"simple"`` exist.
        """
        kind = check_choice("kind", kind, Aggregation)  # type: ignore[assignment]
        if isinstance(self.pieces, InfluencePieces):
            return aggregate_influence(self.pieces, kind, self.alpha, self.window)
        if self.pieces is None:
            raise SpecError(
                "aggregate() needs the fitted arrays, which a saved and loaded event study does "
                "not keep (it keeps .group_time, .event, .att and .pretrend): fit it again"
            )
        if self.estimator == "twfe" and kind in ("group", "calendar"):
            raise SpecError(f"the {self.estimator} event study has no {kind!r} aggregation")
        return aggregate_coefficients(self.pieces, kind, self.alpha, self.window)

    def summary(self, alpha: float = 0.05) -> Summary:
        table = self.tidy(alpha).set_index("term")
        table.columns = ["coef", "std err", "z", "P>|z|", "[lower", "upper]"]
        notes = [*self.info.notes]
        if np.isfinite(self.pretrend["pvalue"]):
            notes.append(
                f"Pre-trend Wald test: chi2({int(self.pretrend['df'])}) = "
                f"{self.pretrend['stat']:.3f}, p = {self.pretrend['pvalue']:.4f}."
            )
        return Summary(self.info.model + " results", self._header(), table, notes)
