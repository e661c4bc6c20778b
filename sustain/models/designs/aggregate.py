"""Aggregations of group-time effects, their influence functions, bands and the pre-trend test.

The aggregations are those of R's did ``aggte``: ``simple`` (post-treatment cells weighted by
cohort size), ``group`` (the average over a cohort's post-treatment periods, then over cohorts),
``dynamic`` (event time ``e = t - g``, cohorts weighted by size) and ``calendar`` (period
``t``). When weights are cohort shares estimated from the data, the influence function gains
the weights' own term, as in ``did:::wif``. Covariances are the cluster sums of the influence
functions from the shared kernel (:func:`sustain.inference.covariance.cluster_meat`); the
uniform bands use a multiplier bootstrap with Rademacher weights drawn per cluster.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from sustain._typing import FloatArray, IntArray
from sustain.inference.covariance import cluster_meat, cluster_sums

#: Below this the standard error of a parameter counts as zero (a reference cell).
ZERO_SE = 1e-12


@dataclass(frozen=True, slots=True)
class Aggregated:
    """Aggregated effects with influence functions.

    Attributes
    ----------
    levels : list of float
        The cohort, event time or period of each effect (empty for ``simple``).
    estimates : FloatArray, shape (m,)
    influence : FloatArray, shape (n_units, m)
    overall : float
        The aggregation's overall effect.
    overall_influence : FloatArray, shape (n_units,)
    """

    levels: list[float]
    estimates: FloatArray
    influence: FloatArray
    overall: float
    overall_influence: FloatArray


def cohort_shares(cohort: IntArray) -> dict[int, float]:
    """Share of all units in each cohort (R did's ``pg``, never-treated units in the base).

    Examples
    --------
    >>> cohort_shares(np.array([0, 0, 3, 4]))
    {3: 0.25, 4: 0.25}
    """
    n = len(cohort)
    return {int(g): float(np.sum(cohort == g) / n) for g in np.unique(cohort) if g > 0}


def weighted(
    cells: pd.DataFrame, influence: FloatArray, idx: IntArray, cohort: IntArray
) -> tuple[float, FloatArray]:
    """Cohort-size weighted average of cells ``idx`` with its influence function (+ weights').

    Examples
    --------
    >>> cells = pd.DataFrame({"g": [2.0, 3.0], "estimate": [1.0, 3.0]})
    >>> est, psi = weighted(cells, np.zeros((4, 2)), np.array([0, 1]), np.array([0, 2, 3, 3]))
    >>> round(est, 6)
    2.333333
    """
    shares = cohort_shares(cohort)
    g = cells["g"].to_numpy()[idx]
    pg = np.array([shares.get(int(v), 0.0) for v in g])
    att = cells["estimate"].to_numpy()[idx]
    total = pg.sum()
    w = pg / total
    member = (cohort[:, None] == g[None, :]).astype(float)
    if1 = (member - pg) / total
    if2 = np.sum(member - pg, axis=1)[:, None] * (pg / total**2)[None, :]
    psi = influence[:, idx] @ w + (if1 - if2) @ att
    return float(w @ att), psi


def aggregate(
    kind: str,
    cells: pd.DataFrame,
    influence: FloatArray,
    cohort: IntArray,
    window: tuple[float, float] | None = None,
) -> Aggregated:
    """One of R did's aggregations (see the module docstring).

    ``window`` restricts the event times of ``dynamic`` (``min_e``, ``max_e`` in R).

    Examples
    --------
    >>> cells = pd.DataFrame({"g": [2.0, 2.0], "t": [2.0, 3.0], "estimate": [1.0, 3.0],
    ...                       "post": [True, True], "reference": [False, False]})
    >>> agg = aggregate("group", cells, np.zeros((3, 2)), np.array([0, 2, 2]))
    >>> agg.levels, agg.estimates.tolist(), agg.overall
    ([2.0], [2.0], 2.0)
    """
    g, t = cells["g"].to_numpy(), cells["t"].to_numpy()
    post = cells["post"].to_numpy(dtype=bool)
    if kind == "simple":
        est, psi = weighted(cells, influence, np.flatnonzero(post), cohort)
        return Aggregated([], np.array([]), np.zeros((len(cohort), 0)), est, psi)
    if kind == "group":
        levels = sorted(float(v) for v in set(g[post]))
        parts = [np.flatnonzero(post & (g == v)) for v in levels]
        estimates = np.array([cells["estimate"].to_numpy()[p].mean() for p in parts])
        infl = np.column_stack([influence[:, p].mean(axis=1) for p in parts])
        shares = cohort_shares(cohort)
        pg = np.array([shares[int(v)] for v in levels])
        overall = float(estimates @ pg / pg.sum())
        return Aggregated(levels, estimates, infl, overall, infl @ (pg / pg.sum()))
    if kind == "dynamic":
        e = t - g
        lo, hi = window if window is not None else (-np.inf, np.inf)
        levels = sorted(v for v in set(e) if lo <= v <= hi)
        groups = [np.flatnonzero(e == v) for v in levels]
    else:  # calendar
        levels = sorted(set(t[post]))
        groups = [np.flatnonzero(post & (t == v)) for v in levels]
    pairs = [weighted(cells, influence, idx, cohort) for idx in groups]
    estimates = np.array([p[0] for p in pairs])
    infl = np.column_stack([p[1] for p in pairs]) if pairs else np.zeros((len(cohort), 0))
    use = np.array([v >= 0 for v in levels]) if kind == "dynamic" else np.ones(len(levels), bool)
    overall = float(estimates[use].mean()) if use.any() else float("nan")
    overall_psi = infl[:, use].mean(axis=1) if use.any() else np.zeros(len(cohort))
    return Aggregated([float(v) for v in levels], estimates, infl, overall, overall_psi)


def influence_covariance(influence: FloatArray, clusters: IntArray) -> FloatArray:
    """Covariance of estimates from their influence functions: ``sum_c s_c s_c' / n**2``.

    Examples
    --------
    >>> influence_covariance(np.array([[1.0], [-1.0]]), np.array([0, 1])).tolist()
    [[0.5]]
    """
    n = influence.shape[0]
    if influence.shape[1] == 0:
        return np.zeros((0, 0))
    return np.asarray(cluster_meat(influence / n, clusters), dtype=np.float64)


def uniform_critical_value(
    influence: FloatArray,
    clusters: IntArray,
    se: FloatArray,
    alpha: float,
    reps: int,
    random_seed: int | None,
) -> float:
    """Critical value of a uniform (sup-t) band from a multiplier bootstrap.

    Rademacher weights are drawn per cluster (``reps`` draws, seeded); the statistic is the
    largest ``|b_k| / se_k`` over the parameters with a positive standard error, as in R
    did's ``mboot`` (which standardises by a bootstrap interquartile-range scale instead of the
    analytic standard error).

    Examples
    --------
    >>> psi = np.random.default_rng(0).normal(size=(200, 3))
    >>> se = np.sqrt(np.diag(influence_covariance(psi, np.arange(200))))
    >>> 1.96 < uniform_critical_value(psi, np.arange(200), se, 0.05, 999, 1) < 2.8
    True
    """
    keep = np.isfinite(se) & (se > ZERO_SE)
    if not keep.any():
        return float("nan")
    sums = cluster_sums(influence[:, keep] / influence.shape[0], clusters)
    rng = np.random.default_rng(random_seed)
    signs = rng.choice(np.array([-1.0, 1.0]), size=(reps, sums.shape[0]))
    draws = signs @ sums
    return float(np.quantile(np.max(np.abs(draws) / se[keep], axis=1), 1 - alpha))


def wald_test(estimates: FloatArray, cov: FloatArray) -> pd.Series:
    """Wald test that all ``estimates`` are zero: ``stat``, ``df``, ``pvalue``.

    Uses the pseudo-inverse (degrees of freedom = the rank of ``cov``), as a joint test of
    pre-treatment effects must when some are linear combinations of others.

    Examples
    --------
    >>> wald_test(np.array([1.0, 1.0]), np.eye(2)).round(4).tolist()
    [2.0, 2.0, 0.3679]
    """
    if len(estimates) == 0:
        return pd.Series({"stat": np.nan, "df": 0.0, "pvalue": np.nan})
    rank = int(np.linalg.matrix_rank(cov))
    stat = float(estimates @ np.linalg.pinv(cov) @ estimates)
    pvalue = float(stats.chi2.sf(stat, rank)) if rank else float("nan")
    return pd.Series({"stat": stat, "df": float(rank), "pvalue": pvalue})
