"""``wild_bootstrap``: wild cluster bootstrap tests and intervals for few clusters.

Guangzhou has eleven districts. A model clustered by district has eleven clusters, and
cluster-robust t tests over-reject badly with so few (Cameron, Gelbach and Miller 2008;
MacKinnon and Webb 2018). The restricted wild cluster bootstrap (WCR) fixes the size: it
imposes the null, perturbs each cluster's restricted residuals by one weight, and compares the
fit's t statistic with the t statistics of the bootstrap samples. Linear panel fits are
bootstrapped on cluster-level building blocks (:mod:`sustain.inference.wild_linear`), hazard
fits by the score bootstrap (:mod:`sustain.inference.score_bootstrap`). The confidence
interval collects the nulls the test does not reject (test inversion).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sustain._typing import FloatArray, IntArray
from sustain.errors import SpecError
from sustain.inference.covariance import small_sample_factor
from sustain.inference.score_bootstrap import (
    restricted_fit,
    score_blocks,
    score_statistic,
)
from sustain.inference.weights import (
    WeightKind,
    can_enumerate,
    draw_weights,
    enumerate_weights,
)
from sustain.inference.wild_linear import (
    Correction,
    LinearBlocks,
    check_identified,
    crossed_effect,
    draw_statistics,
    linear_blocks,
    projected,
)
from sustain.limits import check_bound
from sustain.options import check_choice
from sustain.results import ModelInfo, Summary, SummaryMixin

#: Bootstrap and sample t statistics closer than this (relative to |t|) are ties and do not
#: count as more extreme: with every sign vector enumerated, v = 1 reproduces the sample itself
#: (t* = t exactly in exact arithmetic; two algebraic routes differ by ~1e-13 in floating point).
TIE_RTOL = 1e-8
#: The interval search stops when the bracket is narrower than this share of the standard error.
CI_RTOL = 1e-6
#: An interval end further than this many standard errors from the estimate is reported as
#: infinite (with few clusters and Rademacher weights the test may never reject).
CI_MAX_SE = 1e4
#: A crossed absorbed effect (years) with at most this many levels is handled in closed form
#: (a dense levels x levels matrix); more levels go through the general projection.
CROSSED_MAX_LEVELS = 5_000
#: The weight distributions ``weights=`` accepts.
WEIGHT_CHOICES = WeightKind


@dataclass(frozen=True, eq=False)
class WildBootstrapResult(SummaryMixin):
    """A wild cluster bootstrap test of one coefficient.

    Attributes
    ----------
    term : str
        The coefficient tested.
    estimate : float
        Its estimate.
    null : float
        The value under the null hypothesis.
    t_stat : float
        The test statistic: the fit's cluster-robust t statistic (linear fits, or the
        unrestricted score bootstrap), or the cluster-robust score statistic at the
        restricted estimate (restricted score bootstrap).
    pvalue : float
        Share of bootstrap t statistics more extreme than ``t_stat`` (two-sided).
    conf_int : tuple of float
        ``(lower, upper)``: the nulls not rejected at level ``alpha``; infinite ends when the
        test cannot reject that far out.
    alpha : float
        Level of the interval.
    reps : int
        Bootstrap samples used (``support**G`` when ``enumerated``).
    enumerated : bool
        Whether every weight vector was used once (the p-value is then exact and needs no
        seed).
    weights : str
        ``"rademacher"`` or ``"webb"``.
    impose_null : bool
        Restricted (WCR) or unrestricted (WCU) bootstrap.
    cluster : str
        Bootstrap cluster variable.
    n_clusters : int
        Number of clusters.
    method : str
        ``"wild cluster"`` (linear fits) or ``"score"`` (hazard fits).
    random_seed : int or None
        Seed of the weights (``None`` when enumerated).
    model : ModelInfo
        Description of the fit that was tested (tables match results to models by it).
    t_draws : ndarray
        Bootstrap t statistics under the null, one per sample.

    Examples
    --------
    >>> import sustain
    >>> panel = sustain.build_panel(sustain.datasets.example()).dropna(subset=["quality"])
    >>> fe = sustain.fit_fe(panel, "quality ~ hhi + gov_share", cluster="agency_id")
    >>> wb = sustain.wild_bootstrap(fe, "hhi", cluster="district", reps=9999)
    >>> wb.enumerated, wb.reps, wb.n_clusters, wb.random_seed
    (True, 2048, 11, None)
    >>> t = fe.with_cov_type("clustered", cluster="district").tvalues["hhi"]
    >>> bool(round(wb.t_stat, 8) == round(t, 8))  # the fit's own t statistic
    True
    """

    term: str
    estimate: float
    null: float
    t_stat: float
    pvalue: float
    conf_int: tuple[float, float]
    alpha: float
    reps: int
    enumerated: bool
    weights: str
    impose_null: bool
    cluster: str
    n_clusters: int
    method: str
    random_seed: int | None
    model: ModelInfo
    t_draws: FloatArray = field(repr=False, default_factory=lambda: np.zeros(0))

    def describe(self) -> str:
        """One line naming the bootstrap: kind, weights, samples and clusters.

        Examples
        --------
        >>> from sustain.results import ModelInfo
        >>> info = ModelInfo("FE", "within", "y", "y ~ x", 10)
        >>> r = WildBootstrapResult("x", 1.0, 0.0, 2.0, 0.04, (0.1, 1.9), 0.05, 2048, True,
        ...                         "rademacher", True, "district", 11, "wild cluster", None, info)
        >>> r.describe()
        'restricted wild cluster bootstrap (Rademacher weights, all 2,048 sign vectors, 11 clusters of district)'
        """
        kind = "restricted" if self.impose_null else "unrestricted"
        what = "sign vectors" if self.weights == "rademacher" else "weight vectors"
        draws = f"all {self.reps:,} {what}" if self.enumerated else f"{self.reps:,} draws"
        return (
            f"{kind} {self.method} bootstrap ({self.weights.capitalize()} weights, {draws}, "
            f"{self.n_clusters} clusters of {self.cluster})"
        )

    def summary(self) -> Summary:
        """Printable summary: the test, the interval and how they were computed."""
        pct = f"{100 * (1 - self.alpha):g}%"
        table = pd.DataFrame(
            {
                "estimate": [self.estimate],
                "null": [self.null],
                "t": [self.t_stat],
                "p (bootstrap)": [self.pvalue],
                f"{pct} lower": [self.conf_int[0]],
                f"{pct} upper": [self.conf_int[1]],
            },
            index=pd.Index([self.term], name="term"),
        )
        header = [
            ("Model", self.model.model),
            ("Dependent variable", self.model.depvar),
            ("Bootstrap", self.describe()),
            ("Seed", "none (enumerated)" if self.random_seed is None else str(self.random_seed)),
        ]
        return Summary("Wild cluster bootstrap", header, table)


def wild_bootstrap(
    result: Any,
    term: str,
    cluster: str | None = None,
    weights: WeightKind = "rademacher",
    reps: int = 9999,
    impose_null: bool = True,
    random_seed: int | None = None,
    *,
    null: float = 0.0,
    alpha: float = 0.05,
    interval: bool = True,
) -> WildBootstrapResult:
    """Wild cluster bootstrap p-value and confidence interval of one coefficient.

    Parameters
    ----------
    result : FEResults or HazardResults
        A :func:`sustain.fit_fe` fit (within with absorbed effects, random effects, first
        differences, between or pooled: the transformed regression the fit keeps is
        bootstrapped) or a :func:`sustain.fit_hazard` fit (score bootstrap).
    term : str
        The coefficient to test, e.g. ``"hhi"``.
    cluster : str, optional
        Bootstrap (and variance) cluster variable: an index level or a non-float column of the
        fitted data (``"district"``). Default: the fit's own cluster variable.
    weights : {"rademacher", "webb"}
        Rademacher (:math:`\\pm 1`) or Webb's six-point weights (better with under about 12
        clusters, where Rademacher has few distinct sign vectors).
    reps : int
        Bootstrap samples. When the weights have at most ``reps`` distinct vectors
        (:math:`2^G` for Rademacher, :math:`6^G` for Webb) every vector is used once instead
        and the p-value is exact (``enumerated=True``).
    impose_null : bool
        Restricted bootstrap (WCR, recommended) or unrestricted (WCU).
    random_seed : int, optional
        Seed of the random weights (not needed when enumerated). ``None`` draws a fresh seed,
        recorded in the result.
    null : float
        Value of the coefficient under the null hypothesis.
    alpha : float
        The confidence interval has level ``1 - alpha``.
    interval : bool
        Compute the confidence interval (``False`` leaves it ``(nan, nan)``: simulations that
        need only the p-value; hazard intervals refit the restricted model at every trial
        null).

    Returns
    -------
    WildBootstrapResult
        ``.pvalue``, ``.conf_int`` (lower, upper), ``.t_stat``, ``.reps``, ``.enumerated``.

    Raises
    ------
    SpecError
        Unknown term or cluster, bad options, a result that keeps no regression (loaded from
        a file), a weighted within fit whose effects cross the clusters.

    Notes
    -----
    The t statistic uses the fit's own small-sample factor :math:`\\kappa` (for ``fit_fe``,
    :math:`\\frac{G}{G-1}\\frac{n-1}{n-k-d}`), so with the fit's cluster variable ``t_stat``
    equals the fit's t statistic. Bootstrap samples never refit the model: see
    ``docs/inference.md`` for the equations.

    Examples
    --------
    >>> import sustain
    >>> panel = sustain.build_panel(sustain.datasets.example()).dropna(subset=["quality"])
    >>> fe = sustain.fit_fe(panel, "quality ~ hhi + gov_share", cluster="agency_id")
    >>> wb = sustain.wild_bootstrap(fe, "gov_share", cluster="district", weights="webb",
    ...                             reps=999, random_seed=7)
    >>> wb.enumerated, wb.reps, wb.weights
    (False, 999, 'webb')
    >>> bool(wb.conf_int[0] < wb.estimate < wb.conf_int[1])
    True
    """
    kind = _check_options(weights, reps, random_seed, alpha, null, impose_null)
    pieces = getattr(result, "pieces", None)
    names = [str(t) for t in getattr(result, "params", pd.Series(dtype=float)).index]
    if term not in names:
        raise SpecError(f"wild_bootstrap: {term!r} is not a coefficient of the fit ({names})")
    cluster = _cluster_name(result, cluster)
    from sustain.models.panel.pieces import RegressionPieces
    from sustain.models.survival.hazard import HazardPieces

    if isinstance(pieces, RegressionPieces):
        codes = _group_codes(pieces.groups, cluster, pieces.estimator)
        method = "wild cluster"
    elif isinstance(pieces, HazardPieces):
        groups = dict(pieces.frame.groups) if pieces.frame is not None else {}
        codes = _group_codes({**groups, **pieces.clusters}, cluster, "hazard")
        method = "score"
    else:
        raise SpecError(
            "wild_bootstrap takes a fit_fe or fit_hazard result fitted in this session (a result "
            "loaded from a file, a weighted random-effects, first-difference or between fit, "
            f"or a {type(result).__name__} keeps no regression to bootstrap)"
        )
    V, enumerated, seed = _weights(kind, int(codes.max()) + 1, int(reps), random_seed)
    if method == "score":
        test = _score_test(result, pieces, term, codes, impose_null, V)
    else:
        test = _linear_test(pieces, term, codes, impose_null, V)
    t_stat, draws = test.statistic(null), test.draws(null)
    return WildBootstrapResult(
        term=term,
        estimate=test.estimate,
        null=float(null),
        t_stat=t_stat,
        pvalue=pvalue(t_stat, draws),
        conf_int=(
            invert(test.pvalue, test.estimate, test.se, alpha)
            if interval
            else (float("nan"), float("nan"))
        ),
        alpha=float(alpha),
        reps=int(V.shape[1]),
        enumerated=enumerated,
        weights=kind,
        impose_null=bool(impose_null),
        cluster=cluster,
        n_clusters=int(codes.max()) + 1,
        method=method,
        random_seed=seed,
        model=result.info,
        t_draws=draws,
    )


def _check_options(
    weights: str, reps: Any, seed: Any, alpha: Any, null: Any, impose_null: Any
) -> WeightKind:
    check_bound("reps", reps)
    check_bound("random_seed", seed)
    kind = check_choice("weights", weights, WEIGHT_CHOICES)
    if not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise SpecError(f"alpha={alpha!r} must lie between 0 and 1")
    if not isinstance(null, int | float) or not np.isfinite(null):
        raise SpecError(f"null={null!r} must be a finite number")
    if not isinstance(impose_null, bool):
        raise SpecError(f"impose_null={impose_null!r} must be true or false")
    return kind  # type: ignore[return-value]


def _cluster_name(result: Any, cluster: str | None) -> str:
    if cluster is not None:
        if not isinstance(cluster, str):
            raise SpecError(
                "wild_bootstrap clusters by one variable: give cluster= as one name (two-way "
                "clustering has no wild cluster bootstrap here)"
            )
        return cluster
    own = tuple(result.info.cluster)
    if len(own) == 1:
        return str(own[0])
    if not own:
        raise SpecError(
            "wild_bootstrap: the fit is not clustered; give the cluster variable, e.g. "
            "cluster='district'"
        )
    raise SpecError(
        f"wild_bootstrap: the fit is clustered two-way ({', '.join(own)}); give one cluster "
        "variable for the bootstrap"
    )


def _weights(
    kind: WeightKind, n_clusters: int, reps: int, seed: int | None
) -> tuple[FloatArray, bool, int | None]:
    if n_clusters < 2:
        raise SpecError("wild_bootstrap needs at least two clusters")
    if can_enumerate(kind, n_clusters, reps):
        return enumerate_weights(kind, n_clusters), True, None
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1, np.uint32)[0])
    return draw_weights(kind, n_clusters, reps, np.random.default_rng(seed)), False, int(seed)


def pvalue(t_stat: float, draws: FloatArray) -> float:
    """Two-sided bootstrap p-value: share of draws with :math:`|t^*| > |t|` (ties excluded).

    Examples
    --------
    >>> pvalue(2.0, np.array([-3.0, -1.0, 0.5, 2.0, 2.5]))
    0.4
    """
    threshold = abs(t_stat) * (1 + TIE_RTOL)
    return float(np.mean(np.abs(draws) > threshold)) if len(draws) else float("nan")


def invert(
    pvalue_at: Callable[[float], float], estimate: float, scale: float, alpha: float
) -> tuple[float, float]:
    """Confidence interval by test inversion: the nulls whose p-value exceeds ``alpha``.

    Each end is found by doubling a step (in units of ``scale``) outward from ``estimate``
    until the p-value falls to ``alpha`` or below, then bisecting to ``CI_RTOL * scale``.

    Examples
    --------
    >>> from scipy import stats
    >>> lo, hi = invert(lambda b: 2 * stats.norm.sf(abs(b - 1.0) / 0.5), 1.0, 0.5, 0.05)
    >>> round(lo, 4), round(hi, 4)
    (0.02, 1.98)
    """
    ends = []
    for direction in (-1.0, 1.0):
        inside, step = estimate, scale
        outside = estimate + direction * step
        while pvalue_at(outside) > alpha:
            inside, step = outside, step * 2
            if step > CI_MAX_SE * scale:
                outside = float("nan")
                break
            outside = estimate + direction * step
        if not np.isfinite(outside):
            ends.append(direction * float("inf"))
            continue
        while abs(outside - inside) > CI_RTOL * scale:
            middle = (inside + outside) / 2
            if pvalue_at(middle) > alpha:
                inside = middle
            else:
                outside = middle
        ends.append((inside + outside) / 2)
    return float(ends[0]), float(ends[1])


@dataclass(frozen=True)
class _Test:
    """One coefficient's test, as functions of the null value, with the weights fixed."""

    estimate: float
    se: float
    statistic: Callable[[float], float]
    draws: Callable[[float], FloatArray]

    def pvalue(self, beta0: float) -> float:
        """Bootstrap p-value of the null ``beta_j = beta0``."""
        return pvalue(self.statistic(beta0), self.draws(beta0))


def _linear_test(
    pieces: Any, term: str, codes: IntArray, impose_null: bool, V: FloatArray
) -> _Test:
    """The WCR/WCU test of a linear panel fit (see :mod:`sustain.inference.wild_linear`)."""
    names = list(pieces.names)
    X, y = pieces.X, pieces.y
    if pieces.estimator == "within" and "Intercept" in names:
        if term == "Intercept":
            raise SpecError("wild_bootstrap: the constant of a within fit cannot be tested")
        # the constant of a within fit is the mean of the effects: test the slopes on M_D X
        keep = [i for i, n in enumerate(names) if n != "Intercept"]
        X, y = X[:, keep] - X[:, keep].mean(axis=0), y - y.mean()
        names = [names[i] for i in keep]
    factor = _linear_factor(pieces, codes)
    correction = _absorbed_correction(pieces, codes)
    blocks = linear_blocks(
        X, y, pieces.resid, codes, names.index(term), factor, impose_null, correction
    )
    check_identified(blocks, term)
    stats = draw_statistics(blocks, V)
    return _Test(
        estimate=blocks.estimate,
        se=blocks.se,
        statistic=lambda beta0: (blocks.estimate - beta0) / blocks.se,
        draws=stats.t_stats,
    )


def _group_codes(groups: Any, cluster: str, estimator: str) -> IntArray:
    if cluster not in groups:
        kept = ", ".join(sorted(groups))
        raise SpecError(
            f"wild_bootstrap: cannot cluster on {cluster!r} (a {estimator} fit keeps these "
            f"groupings: {kept})"
        )
    values = groups[cluster]
    codes = getattr(values, "codes", values)
    return np.asarray(pd.factorize(np.asarray(codes))[0], dtype=np.int64)


def _linear_factor(pieces: Any, codes: IntArray) -> float:
    """The small-sample factor of the fit's clustered covariance, for these clusters."""
    from sustain.models.panel.pieces import clustered_absorbed_df

    n, k = pieces.X.shape
    extra_df = clustered_absorbed_df(pieces, codes)
    n_groups = int(codes.max()) + 1
    if pieces.estimator == "between":  # linearmodels' between: no G/(G-1)(n-1)/n part
        return float(n / (n - k - extra_df))
    return small_sample_factor("stata", n, k, n_groups, extra_df)


def _absorbed_correction(pieces: Any, codes: IntArray) -> Correction | None:
    """How the absorbed effects that cross the clusters enter the bootstrap (``None``: all
    nested). One crossed effect with few levels (years), alone or beside one nested effect
    (agencies), has a closed form; anything else goes through the projection."""
    from sustain.models.panel import absorb
    from sustain.models.panel.pieces import nested_in

    if pieces.estimator != "within" or not pieces.absorbed:
        return None
    effects = {n: np.asarray(c, dtype=np.int64) for n, c in pieces.absorbed.items()}
    crossed = [n for n, c in effects.items() if not nested_in(c, codes)]
    if not crossed:
        return None
    if pieces.weighted:
        raise SpecError(
            "wild_bootstrap: a weighted within fit whose absorbed effects are not nested in "
            "the bootstrap clusters is not supported; cluster on a variable the effects nest in"
        )
    nested = [n for n in effects if n not in crossed]
    small = len(crossed) == 1 and int(effects[crossed[0]].max()) + 1 <= CROSSED_MAX_LEVELS
    if small and len(nested) <= 1:
        levels = int(effects[crossed[0]].max()) + 1
        return crossed_effect(effects[crossed[0]], levels, effects[nested[0]] if nested else None)
    blocks = [absorb.effect_from_codes(name, c) for name, c in effects.items()]
    return projected(lambda Z: absorb.absorb(Z, blocks).values)


def _score_test(
    result: Any, pieces: Any, term: str, codes: IntArray, impose_null: bool, V: FloatArray
) -> _Test:
    """The score bootstrap of a hazard fit (see :mod:`sustain.inference.score_bootstrap`)."""
    column = [str(t) for t in result.params.index].index(term)
    n, k = pieces.X.shape
    factor = small_sample_factor("r_vcovcl", n, k, int(codes.max()) + 1)
    estimate = float(result.params.iloc[column])
    unrestricted = score_blocks(pieces.scores, pieces.bread, codes, column, factor, estimate)
    check_identified(unrestricted, term)
    if not impose_null:
        fixed = draw_statistics(unrestricted, V).t_stats(0.0)
        return _Test(
            estimate=estimate,
            se=unrestricted.se,
            statistic=lambda beta0: (estimate - beta0) / unrestricted.se,
            draws=lambda beta0: fixed,
        )
    start = [np.asarray(result.params, dtype=np.float64)]
    store: dict[float, LinearBlocks] = {}

    def blocks_at(beta0: float) -> LinearBlocks:
        """The restricted fit's blocks at one null (the last few kept: statistic and draws
        ask for the same null in turn)."""
        key = float(beta0)
        if key not in store:
            fit = restricted_fit(pieces.X, pieces.y, pieces.link, column, key, start[0])
            start[0] = fit.params  # warm start for the next null of the interval search
            store.clear()
            store[key] = score_blocks(fit.scores, fit.bread, codes, column, factor, estimate)
        return store[key]

    return _Test(
        estimate=estimate,
        se=unrestricted.se,
        statistic=lambda beta0: score_statistic(blocks_at(beta0)),
        draws=lambda beta0: draw_statistics(blocks_at(beta0), V).t_stats(0.0),
    )
