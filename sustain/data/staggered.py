"""Simulated staggered adoption with effects that differ by cohort and grow with exposure.

The design of the event-study recovery test and benchmark (``benchmarks/designs.py``): units
adopt a change in one of several periods (or never); the effect of the change grows with the
years since adoption at a cohort-specific rate, so the classic two-way FE event study is
biased (Goodman-Bacon 2021; Sun and Abraham 2021) while heterogeneity-robust estimators are
not. The true event-time effects (cohorts weighted by their size, as
:func:`sustain.fit_event_study` aggregates them) come with the data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Cohorts (first treated period; 0 = never) and their shares of the units.
DEFAULT_COHORTS: dict[int, float] = {0: 0.3, 4: 0.25, 6: 0.25, 8: 0.2}
#: Effect per period of exposure by cohort: early adopters gain more.
DEFAULT_SLOPES: dict[int, float] = {4: 1.0, 6: 0.5, 8: 0.25}


@dataclass(frozen=True)
class StaggeredSimulation:
    """A simulated staggered adoption.

    Attributes
    ----------
    frame : DataFrame
        Indexed (``unit``, ``period``): ``y`` and ``cohort``.
    truth : Series
        True effect by event time ``e >= 0`` (cohorts observed at ``e``, weighted by size).
    simple_att : float
        True average of the post-treatment cell effects weighted by cohort size (R did's
        ``simple`` aggregation, what ``fit_event_study(...).att`` estimates).
    population_truth : Series
        As ``truth`` with the cohorts weighted by their probabilities instead of their shares
        in this sample.
    population_att : float
        As ``simple_att`` with the cohorts' probabilities.

    Notes
    -----
    ``truth`` and ``simple_att`` condition on the cohort sizes drawn; the population versions
    do not. Callaway and Sant'Anna's standard errors of aggregated effects (R did's, and
    sustain's) include the uncertainty of the estimated cohort shares, so they target the
    population versions: against the sample versions their intervals over-cover. The
    Sun-Abraham and TWFE aggregations treat the shares as fixed (as fixest does) and target
    the sample versions.
    """

    frame: pd.DataFrame
    truth: pd.Series
    simple_att: float
    population_truth: pd.Series
    population_att: float


def simulate_staggered(
    seed: int,
    n_units: int = 1200,
    n_periods: int = 10,
    cohorts: Mapping[int, float] | None = None,
    slopes: Mapping[int, float] | None = None,
) -> StaggeredSimulation:
    """Simulate ``y_it = a_i + 0.2 t + tau_it + e_it`` with staggered adoption.

    ``tau_it = (t - g + 1) * slope_g`` from the unit's cohort ``g`` on, 0 before and for
    never-treated units; ``a_i ~ N(0.3 [treated], 1)`` (treated units differ in level, which
    the designs difference out), ``e_it ~ N(0, 1)``.

    Examples
    --------
    >>> sim = simulate_staggered(seed=1, n_units=100)
    >>> sim.frame.index.names, round(float(sim.truth.loc[0]), 3) > 0
    (FrozenList(['unit', 'period']), True)
    """
    cohorts = dict(DEFAULT_COHORTS if cohorts is None else cohorts)
    slopes = dict(DEFAULT_SLOPES if slopes is None else slopes)
    rng = np.random.default_rng(seed)
    periods = np.arange(1, n_periods + 1)
    labels = np.array(list(cohorts))
    g = rng.choice(labels, size=n_units, p=np.array(list(cohorts.values())))
    slope = np.array([slopes.get(int(v), 0.0) for v in g])
    e = periods[None, :] - g[:, None]
    tau = np.where((g[:, None] > 0) & (e >= 0), (e + 1) * slope[:, None], 0.0)
    level = rng.normal(0.0, 1.0, n_units) + 0.3 * (g > 0)
    y = level[:, None] + 0.2 * periods[None, :] + tau + rng.normal(0.0, 1.0, (n_units, n_periods))
    frame = pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n_units), n_periods),
            "period": np.tile(periods, n_units),
            "y": y.ravel(),
            "cohort": np.repeat(g, n_periods),
        }
    ).set_index(["unit", "period"])
    share = {int(c): float(np.mean(g == c)) for c in labels if c > 0}
    truth, simple = _effects(share, slopes, n_periods)
    population = {int(c): float(p) for c, p in cohorts.items() if c > 0}
    population_truth, population_att = _effects(population, slopes, n_periods)
    return StaggeredSimulation(frame, truth, simple, population_truth, population_att)


def _effects(
    share: Mapping[int, float], slopes: Mapping[int, float], n_periods: int
) -> tuple[pd.Series, float]:
    """Event-time effects and the simple ATT with the cohorts weighted by ``share``."""
    truth = {}
    for k in range(n_periods):
        present = {c: s for c, s in share.items() if c + k <= n_periods}
        if present:
            total = sum(present.values())
            truth[k] = sum(s / total * (k + 1) * slopes.get(c, 0.0) for c, s in present.items())
    cells = [(c, k) for c in share for k in range(n_periods - c + 1)]
    weights = np.array([share[c] for c, _ in cells])
    effects = np.array([(k + 1) * slopes.get(c, 0.0) for c, k in cells])
    simple = float(weights @ effects / weights.sum())
    return pd.Series(truth, name="truth").rename_axis("event_time"), simple
