"""Gaussian models with one large random-intercept factor: sufficient statistics and exact draws.

A Gaussian model ``y = X b + Z_A u_A + Z_w w + e`` with ``e ~ N(0, sigma^2 I)``, one large
intercept-only grouping factor ``A`` (``u_A ~ N(0, tau^2 I)``, every row in exactly one level)
and a modest number of other group effects ``w ~ N(0, G)`` -- crossed or nested random
intercepts, varying slopes, correlated or not -- is Gaussian in every coefficient once each
population-level prior is written as a normal scale mixture: ``normal(mu, s)`` is
``N(mu, s^2)``, ``student_t(nu, mu, s)`` is ``N(mu, s^2 / lambda)`` with
``lambda ~ Gamma(nu/2, nu/2)`` and ``cauchy`` the case ``nu = 1``. The coefficients
``beta = (b, w)`` (``m`` columns of ``Z = [X, Z_w]``, prior ``N(mu, Lambda Lambda')``) and
``u_A`` are then integrated out exactly (:mod:`sustain.models.bayes.collapsed_model`) and NUTS
explores only the scales ``theta = (sigma, tau, G, lambda)``.

Integrating ``u_A`` gives the block-diagonal ``V = sigma^2 I + tau^2 Z_A Z_A'``, whose block of
level ``a`` (``n_a`` rows) has ``V_a^-1 = (I - c_a 11') / sigma^2`` with
``c_a = tau^2 / (sigma^2 + n_a tau^2)``, so for any two vectors
``p' V^-1 q = (p'q - sum_a c_a P_a Q_a) / sigma^2`` with ``P_a``, ``Q_a`` their sums over level
``a``. ``c_a`` depends on the level only through ``n_a``: grouping the levels of ``A`` by their
number of rows (a *count class*), every quadratic form the likelihood needs is a combination of
parameter-free cross-products of ``r = y - X mu`` and ``Z`` -- ``r'r``, ``Z'r``, ``Z'Z`` and
their count-class sums of products of level sums -- computed once here
(:class:`CollapsedStats`). A log-density evaluation then costs ``O(C m^2 + m^3)`` for ``C``
count classes, whatever the number of rows or levels.

After sampling, :func:`draw_group_effects` draws, for every posterior draw, ``beta | theta, y``
and then ``u_A | beta, theta, y`` exactly; since ``p(theta, beta, u | y) = p(theta | y)
p(beta | theta, y) p(u | beta, theta, y)`` the triples are draws from the joint posterior of
the full model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from sustain._typing import FloatArray, IntArray
from sustain.models.bayes.families import FamilySpec
from sustain.models.bayes.model import CENTRED_INTERCEPT, cholesky_rows
from sustain.models.bayes.priors import PriorSet
from sustain.models.bayes.terms import INTERCEPT, GroupFactor, ModelTerms

#: Largest number of integrated coefficient columns ``m`` (population-level terms plus the
#: group effects other than the big factor's) the collapsed path accepts: each log-density
#: evaluation factors an ``m x m`` matrix (``m = 300`` costs a few milliseconds).
MAX_COLUMNS = 300
#: Draws processed at once when drawing the coefficients: bounds memory to about this many
#: floats per array.
DRAW_BLOCK_FLOATS = 4_000_000


@dataclass(frozen=True)
class CollapsePlan:
    """Which factor is integrated out level by level and how the other coefficients are laid out.

    Attributes
    ----------
    big : GroupFactor
        The intercept-only factor with the most levels (``A``).
    fixed : tuple of str
        Population-level coefficients of the centred design: ``Intercept_centred`` (when the
        model has an intercept), then the slopes; they are the first columns of ``beta``.
    others : tuple of GroupFactor
        Every other group term's factor, in formula order.
    offsets : tuple of int
        First column of each factor of ``others`` in ``beta``; factor ``f`` occupies columns
        ``offset + level * k_f + coefficient``.
    n_columns : int
        ``m``, the length of ``beta``.

    Examples
    --------
    >>> import pandas as pd
    >>> from sustain.models.bayes.terms import build_terms
    >>> from sustain.models.bayes.families import family_spec
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4, 5, 7], "x": [0.0, 1, 0, 1, 2, 2],
    ...                    "a": list("uuvvww"), "t": list("pqpqpq")})
    >>> plan = collapse_plan(build_terms(df, "y ~ x + (1 | a) + (x | t)"), family_spec("gaussian"))
    >>> plan.big.name, plan.fixed, [g.name for g in plan.others], plan.offsets, plan.n_columns
    ('a', ('Intercept_centred', 'x'), ['t'], (2,), 6)
    """

    big: GroupFactor
    fixed: tuple[str, ...]
    others: tuple[GroupFactor, ...]
    offsets: tuple[int, ...]
    n_columns: int

    @property
    def layout(self) -> tuple[tuple[int, int, int], ...]:
        """``(offset, n_levels, k)`` of every block of ``beta`` with its own scale matrix.

        One block of one column per population-level coefficient, then one per factor of
        :attr:`others`.
        """
        fixed = tuple((j, 1, 1) for j in range(len(self.fixed)))
        groups = tuple((o, g.n_levels, g.k) for o, g in zip(self.offsets, self.others, strict=True))
        return fixed + groups


def collapse_obstacle(
    terms: ModelTerms, family: FamilySpec, max_columns: int = MAX_COLUMNS
) -> str | None:
    """Why the model cannot be collapsed, or ``None`` when it can.

    Examples
    --------
    >>> import pandas as pd
    >>> from sustain.models.bayes.terms import build_terms
    >>> from sustain.models.bayes.families import family_spec
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4], "x": [0.0, 1, 0, 1], "g": list("aabb")})
    >>> collapse_obstacle(build_terms(df, "y ~ x + (x | g)"), family_spec("gaussian"))
    'no group term is a random intercept alone, e.g. (1 | agency_id)'
    """
    if family.name != "gaussian":
        return f"family={family.name!r} is not gaussian"
    if not terms.groups:
        return "the formula has no group terms"
    if not any(g.intercept_only for g in terms.groups):
        return "no group term is a random intercept alone, e.g. (1 | agency_id)"
    plan = _plan(terms)
    if plan.n_columns > max_columns:
        return (
            f"the population-level terms and the group effects other than "
            f"{plan.big.effect_name('1')} have {plan.n_columns} columns, more than {max_columns}"
        )
    return None


def collapse_plan(
    terms: ModelTerms, family: FamilySpec, max_columns: int = MAX_COLUMNS
) -> CollapsePlan | None:
    """The :class:`CollapsePlan` of a collapsible model, else ``None``.

    Collapsible: gaussian family, at least one random intercept alone (``(1 | g)``), and at
    most ``max_columns`` population-level terms and other group-effect columns. The
    intercept-only factor with the most levels is integrated out level by level, everything
    else jointly.
    """
    if collapse_obstacle(terms, family, max_columns) is not None:
        return None
    return _plan(terms)


def _plan(terms: ModelTerms) -> CollapsePlan:
    candidates = [g for g in terms.groups if g.intercept_only]
    big = max(candidates, key=lambda g: g.n_levels)  # first of the largest, in formula order
    fixed = ((CENTRED_INTERCEPT,) if terms.has_intercept else ()) + terms.slope_names
    others = tuple(g for g in terms.groups if g is not big)
    sizes = [g.n_levels * g.k for g in others]
    offsets = tuple(len(fixed) + int(o) for o in np.cumsum([0, *sizes])[:-1])
    return CollapsePlan(big, fixed, others, offsets, len(fixed) + int(sum(sizes)))


def prior_key(plan: CollapsePlan, name: str) -> str:
    """The prior-table entry of a coefficient of ``plan.fixed`` (``Intercept`` for the centred
    intercept)."""
    return INTERCEPT if name == CENTRED_INTERCEPT else name


def prior_means(plan: CollapsePlan, priors: PriorSet) -> FloatArray:
    """Prior locations ``mu`` of the population-level coefficients (normal, t or Cauchy)."""
    return np.array([priors[prior_key(plan, n)].kwargs["mu"] for n in plan.fixed], dtype=float)


def centred_design(terms: ModelTerms) -> tuple[FloatArray, FloatArray]:
    """``[1, slopes - mean]`` (or the slopes alone without an intercept) and the means."""
    slopes = terms.slope_matrix()
    if not terms.has_intercept:
        return slopes, np.zeros(slopes.shape[1])
    center = slopes.mean(axis=0)
    return np.column_stack([np.ones(terms.nobs), slopes - center]), center


def coefficient_matrix(terms: ModelTerms, plan: CollapsePlan) -> sparse.csr_matrix:
    """``Z = [X, Z_w]``, shape (n, m): the values multiplying each column of ``beta``.

    Examples
    --------
    >>> import pandas as pd
    >>> from sustain.models.bayes.terms import build_terms
    >>> from sustain.models.bayes.families import family_spec
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4], "x": [0.5, 1, 2, 3], "a": list("uuvv"),
    ...                    "t": list("pqpq")})
    >>> t = build_terms(df, "y ~ x + (1 | a) + (x | t)")
    >>> Z = coefficient_matrix(t, collapse_plan(t, family_spec("gaussian")))
    >>> Z.toarray()[0].tolist()
    [1.0, -1.125, 1.0, 0.5, 0.0, 0.0]
    """
    n = terms.nobs
    X, _ = centred_design(terms)
    rows, cols, values = [], [], []
    for j in range(X.shape[1]):
        rows.append(np.arange(n))
        cols.append(np.full(n, j))
        values.append(X[:, j])
    for offset, g in zip(plan.offsets, plan.others, strict=True):
        for j in range(g.k):
            rows.append(np.arange(n))
            cols.append(offset + g.index * g.k + j)
            values.append(g.Z[:, j])
    if not rows:
        return sparse.csr_matrix((n, 0))
    return sparse.csr_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n, plan.n_columns),
    )


@dataclass(frozen=True)
class CollapsedStats:
    """Sufficient statistics of a collapsible Gaussian model.

    ``r = y - X mu`` is the response minus the prior mean of the population-level part and
    ``Z = [X, Z_w]`` (:func:`coefficient_matrix`); sums ``S`` are over the rows of one level of
    the big factor; ``C`` is the number of count classes (distinct ``n_a``).

    Attributes
    ----------
    plan : CollapsePlan
    x_center : ndarray, shape (p,)
        Means subtracted from the slope columns (zeros without an intercept).
    mu : ndarray, shape (len(plan.fixed),)
        Prior means of the population-level coefficients.
    n_obs : int
    counts : ndarray, shape (n_A,)
        Rows per level of the big factor.
    rr : float
        ``r'r``.
    zr, zz : ndarray, shapes (m,), (m, m)
        ``Z'r``, ``Z'Z``.
    sum_r, sum_z : ndarray, shapes (n_A,), (n_A, m)
        Per-level sums of ``r`` and ``Z``.
    class_n, class_size : ndarray, shape (C,)
        Rows per level in each class and the number of levels in it.
    crr, czr, czz : ndarray, shapes (C,), (C, m), (C, m, m)
        Class sums of ``S_r^2``, ``S_z S_r`` and ``S_z S_z'``.

    Examples
    --------
    >>> import pandas as pd
    >>> from sustain.models.bayes.terms import build_terms
    >>> from sustain.models.bayes.families import family_spec
    >>> from sustain.models.bayes.priors import default_priors
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 5, 8, 13], "x": [0.0, 1, 0, 1, 2, 2],
    ...                    "a": list("ppppqq"), "b": list("uuvvvw")})
    >>> t = build_terms(df, "y ~ x + (1 | a/b)")
    >>> plan = collapse_plan(t, family_spec("gaussian"))
    >>> st = collapsed_stats(t, plan, default_priors(t, "gaussian", "identity"))
    >>> st.plan.big.name, st.counts.tolist(), st.class_n.tolist(), st.class_size.tolist()
    ('a:b', [2.0, 2.0, 1.0, 1.0], [1.0, 2.0], [2.0, 2.0])
    """

    plan: CollapsePlan
    x_center: FloatArray
    mu: FloatArray
    n_obs: int
    counts: FloatArray
    rr: float
    zr: FloatArray
    zz: FloatArray
    sum_r: FloatArray
    sum_z: FloatArray
    class_n: FloatArray
    class_size: FloatArray
    crr: FloatArray
    czr: FloatArray
    czz: FloatArray


def collapsed_stats(terms: ModelTerms, plan: CollapsePlan, priors: PriorSet) -> CollapsedStats:
    """Compute the :class:`CollapsedStats` of ``terms`` (one pass over the rows)."""
    X, center = centred_design(terms)
    mu = prior_means(plan, priors)
    r = terms.y - X @ mu
    Z = coefficient_matrix(terms, plan)
    n_big, m = plan.big.n_levels, plan.n_columns
    A = _onehot(plan.big.index, n_big)
    counts = np.asarray(A.sum(axis=0)).ravel()
    sum_r = np.asarray(A.T @ r).ravel()
    sum_z = np.asarray((A.T @ Z).toarray()).reshape(n_big, m)
    class_n, level_class = np.unique(counts, return_inverse=True)
    classes = [np.flatnonzero(level_class == c) for c in range(len(class_n))]
    return CollapsedStats(
        plan=plan,
        x_center=center,
        mu=mu,
        n_obs=terms.nobs,
        counts=counts,
        rr=float(r @ r),
        zr=np.asarray(Z.T @ r).ravel(),
        zz=np.asarray((Z.T @ Z).toarray()).reshape(m, m),
        sum_r=sum_r,
        sum_z=sum_z,
        class_n=class_n.astype(np.float64),
        class_size=np.array([len(sel) for sel in classes], dtype=np.float64),
        crr=np.array([sum_r[sel] @ sum_r[sel] for sel in classes]),
        czr=np.stack([sum_z[sel].T @ sum_r[sel] for sel in classes]),
        czz=np.stack([sum_z[sel].T @ sum_z[sel] for sel in classes]),
    )


def _onehot(index: IntArray, n_levels: int) -> sparse.csr_matrix:
    n = len(index)
    return sparse.csr_matrix((np.ones(n), (np.arange(n), index)), shape=(n, n_levels))


def data_values(stats: CollapsedStats) -> dict[str, np.ndarray]:
    """The arrays the collapsed log-density reads (none has a row or level dimension)."""
    names = ("rr", "zr", "zz", "class_n", "class_size", "crr", "czr", "czz")
    return {name: np.asarray(getattr(stats, name), dtype=np.float64) for name in names}


# --------------------------------------------------------------------------- exact draws


def scale_factors(sds: FloatArray, cpc: FloatArray | None) -> FloatArray:
    """``B = D L`` of every draw, shape (S, k, k): ``G``'s block of one level is ``B B'``.

    ``sds`` has shape (S, k); ``cpc`` holds the draws of the factor's ``cpc(g)`` variable
    (Beta on (0, 1), shape (S, k(k-1)/2)) or ``None`` for uncorrelated coefficients.

    Examples
    --------
    >>> B = scale_factors(np.array([[2.0, 3.0]]), np.array([[0.8]]))  # correlation 0.6
    >>> (B[0] @ B[0].T).round(6).tolist()
    [[4.0, 3.6], [3.6, 9.0]]
    """
    n_draws, k = sds.shape
    if cpc is None:
        return np.einsum("sk,kj->skj", sds, np.eye(k))
    pairs = [(j, i) for j in range(k - 1) for i in range(j + 1, k)]
    partial = {pair: 2.0 * cpc[:, m] - 1.0 for m, pair in enumerate(pairs)}
    rows = cholesky_rows(partial, k, np.sqrt, np.zeros(n_draws))
    chol = np.stack([np.stack([np.broadcast_to(v, (n_draws,)) for v in r], -1) for r in rows], -2)
    return np.asarray(sds[:, :, None] * chol)


def scale_columns(
    X: FloatArray, scales: list[FloatArray], layout: tuple[tuple[int, int, int], ...]
) -> FloatArray:
    """``X Lambda`` for a stack of matrices ``X`` (S, r, m), with ``Lambda`` block diagonal.

    ``Lambda`` holds, for block ``f`` of ``layout``, one copy of ``scales[f][s]`` per level
    (``Lambda_f = I ⊗ B_f``), so the prior covariance of ``beta`` is ``Lambda Lambda'``.
    """
    n_draws, n_rows, _ = X.shape
    parts = []
    for (offset, n_levels, k), B in zip(layout, scales, strict=True):
        block = X[:, :, offset : offset + n_levels * k].reshape(n_draws, n_rows, n_levels, k)
        parts.append(np.einsum("srlk,skj->srlj", block, B).reshape(n_draws, n_rows, -1))
    return np.concatenate(parts, axis=2) if parts else X


def draw_coefficients(
    stats: CollapsedStats,
    sigma: FloatArray,
    tau: FloatArray,
    scales: list[FloatArray],
    rng: np.random.Generator,
) -> tuple[FloatArray, FloatArray]:
    """Exact draws of ``beta`` and ``u_A`` given each posterior draw of the scales.

    Parameters
    ----------
    stats : CollapsedStats
    sigma, tau : ndarray, shape (S,)
        Residual sd and the sd of the big factor's intercepts.
    scales : list of ndarray, shape (S, k_f, k_f) each
        The scale matrix of every block of ``stats.plan.layout``: ``[[s_j / sqrt(lambda_j)]]``
        for population-level coefficients, ``B_f = D_f L_f`` (:func:`scale_factors`) for
        group factors.
    rng : Generator

    Returns
    -------
    beta : ndarray, shape (S, m)
        Population-level coefficients (prior mean added back) and other group effects.
    u : ndarray, shape (S, n_A)
        Effects of the big factor.

    Notes
    -----
    With ``beta = mu + Lambda v``, ``v | theta, y ~ N(A^-1 Lambda'q, A^-1)`` where
    ``A = I + Lambda' Z'V^-1 Z Lambda`` and ``q = Z'V^-1 r``; then for every level ``a`` of the
    big factor ``u_a | beta, theta, y ~ N(E_a / (sigma^2 P_a), 1 / P_a)`` with
    ``P_a = 1/tau^2 + n_a/sigma^2`` and ``E_a`` the level's sum of ``y - Z beta``.
    """
    n_draws, m = len(sigma), stats.plan.n_columns
    step = max(1, min(n_draws, DRAW_BLOCK_FLOATS // max(m * m, stats.plan.big.n_levels, 1)))
    dev = np.zeros((n_draws, m))
    u = np.zeros((n_draws, stats.plan.big.n_levels))
    for start in range(0, n_draws, step):
        s = slice(start, start + step)
        if m:
            dev[s] = _draw_deviation(stats, sigma[s], tau[s], [B[s] for B in scales], rng)
        u[s] = _draw_big(stats, sigma[s], tau[s], dev[s], rng)
    beta = dev.copy()
    beta[:, : len(stats.mu)] += stats.mu
    return beta, u


def _draw_deviation(
    stats: CollapsedStats,
    sigma: FloatArray,
    tau: FloatArray,
    scales: list[FloatArray],
    rng: np.random.Generator,
) -> FloatArray:
    """``beta - mu`` given the scales, shape (S, m)."""
    layout = stats.plan.layout
    t2 = tau[:, None] ** 2
    c = t2 / (sigma[:, None] ** 2 + stats.class_n[None, :] * t2)
    s2 = sigma**2
    M = (stats.zz[None] - np.einsum("sc,cij->sij", c, stats.czz)) / s2[:, None, None]
    q = (stats.zr[None] - c @ stats.czr) / s2[:, None]
    ML = scale_columns(M, scales, layout)
    A = scale_columns(np.swapaxes(ML, 1, 2), scales, layout) + np.eye(len(stats.zr))
    lq = scale_columns(q[:, None, :], scales, layout)[:, 0, :]
    chol = np.linalg.cholesky(A)
    mean = np.linalg.solve(A, lq[:, :, None])[:, :, 0]
    noise = np.linalg.solve(np.swapaxes(chol, 1, 2), rng.standard_normal(lq.shape)[:, :, None])
    v = mean + noise[:, :, 0]
    transposed = [np.swapaxes(B, 1, 2) for B in scales]
    return scale_columns(v[:, None, :], transposed, layout)[:, 0, :]


def _draw_big(
    stats: CollapsedStats,
    sigma: FloatArray,
    tau: FloatArray,
    dev: FloatArray,
    rng: np.random.Generator,
) -> FloatArray:
    s2 = sigma[:, None] ** 2
    resid = stats.sum_r[None] - dev @ stats.sum_z.T
    with np.errstate(divide="ignore"):
        precision = 1.0 / tau[:, None] ** 2 + stats.counts[None] / s2
    mean = resid / s2 / precision
    return np.asarray(mean + rng.standard_normal(mean.shape) / np.sqrt(precision))


def effects_by_name(plan: CollapsePlan, beta: FloatArray, u: FloatArray) -> dict[str, FloatArray]:
    """Split the draws into named arrays: population coefficients (S,) and ``r(coef|g)``
    (S, n_levels) for every factor, the big one included."""
    out = {name: beta[:, j] for j, name in enumerate(plan.fixed)}
    out[plan.big.effect_name("1")] = u
    for offset, g in zip(plan.offsets, plan.others, strict=True):
        for j, coef in enumerate(g.coefs):
            out[g.effect_name(coef)] = beta[:, offset + np.arange(g.n_levels) * g.k + j]
    return out
