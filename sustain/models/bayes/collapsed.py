"""Gaussian models with nested random intercepts, with the group effects integrated out.

For ``y = X beta + u_1[j1(i)] + ... + u_L[jL(i)] + e`` with ``e ~ N(0, sigma^2)``,
``u_l ~ N(0, tau_l^2)`` and every level-``l`` group inside exactly one level-``l+1`` group
(agency within district; a single factor is the case ``L = 1``), the marginal likelihood
``p(y | beta, sigma, tau)`` has a closed form computed level by level from the bottom:

* observations -> finest groups ``j`` (``n_j`` rows, residual mean ``m_j``, within sum of
  squares ``W_j``): ``sum_j [-(n_j - 1)/2 log(2 pi sigma^2) - W_j / (2 sigma^2) - log(n_j)/2]``,
  and ``m_j`` is a pseudo-observation of the group's shift with variance
  ``s_j^2 = sigma^2 / n_j + tau_1^2``;
* pseudo-observations ``m_c`` with variances ``s_c^2`` -> parent group ``g``: with
  ``w_c = 1/s_c^2``, ``W_g = sum w_c`` and ``mhat_g = sum w_c m_c / W_g`` the children
  contribute ``sum_c [-log(2 pi s_c^2)/2 - w_c (m_c - mhat_g)^2 / 2] + log(2 pi / W_g)/2``,
  and ``mhat_g`` is the parent's pseudo-observation with variance ``1/W_g + tau^2``;
* the top level's pseudo-observations are ``N(0, s^2)``.

Each step is the exact Gaussian integral of one shift (compound symmetry / Woodbury), so the
sampler explores only ``(beta, sigma, tau)`` -- a handful of parameters with an O(number of
groups) gradient, because the within-group part needs only the cross-products
``sum (y - ybar_j)^2``, ``sum (x - xbar_j)(y - ybar_j)`` and ``sum (x - xbar_j)(x - xbar_j)'``.

The group effects are then drawn from their exact conditional posterior
``p(u | beta, sigma, tau, y)`` for every posterior draw, top-down: given the sum ``c_g`` of
its ancestors' effects, ``u_g ~ N(W_g (mhat_g - c_g) / P_g, 1 / P_g)`` with
``P_g = 1/tau_g^2 + W_g``. Because ``p(theta, u | y) = p(theta | y) p(u | theta, y)``, the
pairs ``(theta, u)`` are draws from the same joint posterior as the full model's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from sustain._typing import FloatArray, IntArray
from sustain.models.bayes.families import FamilySpec
from sustain.models.bayes.model import CENTRED_INTERCEPT, scale_params
from sustain.models.bayes.priors import PriorSet
from sustain.models.bayes.terms import INTERCEPT, GroupFactor, ModelTerms

DATA_PREFIX = "data:"


@dataclass(frozen=True)
class NestedStats:
    """Sufficient statistics of a Gaussian model with nested random intercepts.

    Attributes
    ----------
    factors : tuple of GroupFactor
        Grouping factors from the finest (level 0) to the coarsest.
    parents : tuple of ndarray of int
        ``parents[l][j]`` is the level-``l+1`` group holding level-``l`` group ``j``
        (``len(parents) == len(factors) - 1``).
    counts : ndarray, shape (J,)
        Observations per finest group.
    ybar : ndarray, shape (J,)
        Response mean per finest group.
    xbar : ndarray, shape (J, p)
        Per-group means of the slope columns (centred at their overall means when the model
        has an intercept).
    syy, sxy, sxx : float, ndarray (p,), ndarray (p, p)
        Within-group cross-products of response and slope columns.
    x_center : ndarray, shape (p,)
        Overall means subtracted from the slope columns (zeros without an intercept).
    n_obs : int
        Number of observations.

    Examples
    --------
    >>> import pandas as pd
    >>> from sustain.models.bayes.terms import build_terms
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 5, 8, 13], "x": [0.0, 1, 0, 1, 2, 2],
    ...                    "a": list("ppppqq"), "b": list("uuvvww")})
    >>> st = nested_stats(build_terms(df, "y ~ x + (1 | a/b)"))
    >>> st.counts.tolist(), st.parents[0].tolist()
    ([2.0, 2.0, 2.0], [0, 0, 1])
    """

    factors: tuple[GroupFactor, ...]
    parents: tuple[IntArray, ...]
    counts: FloatArray
    ybar: FloatArray
    xbar: FloatArray
    syy: float
    sxy: FloatArray
    sxx: FloatArray
    x_center: FloatArray
    n_obs: int


def nested_order(terms: ModelTerms, family: FamilySpec) -> tuple[GroupFactor, ...] | None:
    """Factors from finest to coarsest when the model can be collapsed, else ``None``.

    Collapsible: gaussian family, at least one group term, every group term a random
    intercept, and the factors nested in the data (each level of a finer factor lies inside
    one level of the next coarser one), as ``(1 | district/agency_id)`` or
    ``(1 | district) + (1 | agency_id)`` with agency identifiers unique across districts.

    Examples
    --------
    >>> import pandas as pd
    >>> from sustain.models.bayes.terms import build_terms
    >>> from sustain.models.bayes.families import family_spec
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4], "a": list("ppqq"), "b": list("uvuv")})
    >>> nested_order(build_terms(df, "y ~ (1 | a) + (1 | b)"), family_spec("gaussian")) is None
    True
    """
    if family.name != "gaussian" or not terms.groups:
        return None
    if not all(g.intercept_only for g in terms.groups):
        return None
    order = tuple(sorted(terms.groups, key=lambda g: -g.n_levels))
    for fine, coarse in zip(order[:-1], order[1:], strict=True):
        if _parent_map(fine, coarse) is None:
            return None
    return order


def _parent_map(fine: GroupFactor, coarse: GroupFactor) -> IntArray | None:
    parent = np.full(fine.n_levels, -1, dtype=np.int64)
    parent[fine.index] = coarse.index
    if np.any(parent[fine.index] != coarse.index):
        return None
    return parent


def nested_stats(terms: ModelTerms, order: tuple[GroupFactor, ...] | None = None) -> NestedStats:
    """Compute :class:`NestedStats` (``order`` from :func:`nested_order`, finest first)."""
    factors = order or tuple(sorted(terms.groups, key=lambda g: -g.n_levels))
    parents = []
    for fine, coarse in zip(factors[:-1], factors[1:], strict=True):
        parent = _parent_map(fine, coarse)
        if parent is None:
            raise ValueError(f"{fine.name!r} is not nested in {coarse.name!r}")
        parents.append(parent)
    idx = factors[0].index
    slopes = terms.slope_matrix()
    center = slopes.mean(axis=0) if terms.has_intercept else np.zeros(slopes.shape[1])
    xc = slopes - center
    counts = np.bincount(idx, minlength=factors[0].n_levels).astype(np.float64)
    ybar = np.bincount(idx, terms.y, minlength=len(counts)) / counts
    xbar = np.zeros((len(counts), xc.shape[1]))
    for k in range(xc.shape[1]):
        xbar[:, k] = np.bincount(idx, xc[:, k], minlength=len(counts)) / counts
    yw = terms.y - ybar[idx]
    xw = xc - xbar[idx]
    return NestedStats(
        factors=factors,
        parents=tuple(parents),
        counts=counts,
        ybar=ybar,
        xbar=xbar,
        syy=float(yw @ yw),
        sxy=xw.T @ yw,
        sxx=xw.T @ xw,
        x_center=center,
        n_obs=terms.nobs,
    )


def marginal_loglik(
    alpha: Any, beta: Any, sigma: Any, taus: list[Any], data: dict[str, Any], parents: list[Any]
) -> Any:
    """Marginal log-likelihood (group effects integrated out) as a PyTensor expression.

    ``data`` holds ``counts``, ``ybar``, ``xbar``, ``syy``, ``sxy``, ``sxx`` and ``n_obs``
    (tensors or arrays); ``taus`` are the group sds from finest to coarsest and ``parents``
    the index arrays linking consecutive levels. ``beta`` may be ``None`` (no slopes).
    """
    import pytensor.tensor as pt

    two_pi = 2.0 * np.pi
    s2 = sigma**2
    counts = data["counts"]
    n_groups = counts.shape[0]
    within = data["syy"]
    mean = data["ybar"] - alpha
    if beta is not None:
        within = within - 2.0 * pt.dot(beta, data["sxy"]) + pt.dot(beta, pt.dot(data["sxx"], beta))
        mean = mean - pt.dot(data["xbar"], beta)
    ll = (
        -0.5 * (data["n_obs"] - n_groups) * pt.log(two_pi * s2)
        - within / (2.0 * s2)
        - 0.5 * pt.sum(pt.log(counts))
    )
    var = s2 / counts + taus[0] ** 2
    for tau, parent, size in zip(taus[1:], parents, data["n_parent"], strict=True):
        w = 1.0 / var
        weight = pt.zeros(size)[parent].inc(w)
        mhat = pt.zeros(size)[parent].inc(w * mean) / weight
        ll = ll + (
            -0.5 * pt.sum(pt.log(two_pi * var))
            - 0.5 * pt.sum(w * (mean - mhat[parent]) ** 2)
            + 0.5 * pt.sum(pt.log(two_pi / weight))
        )
        mean, var = mhat, 1.0 / weight + tau**2
    return ll - 0.5 * pt.sum(pt.log(two_pi * var) + mean**2 / var)


def build_collapsed_model(
    terms: ModelTerms, priors: PriorSet, family: FamilySpec, stats: NestedStats
) -> Any:
    """PyMC model of ``(Intercept, slopes, sigma, sd(1|g)...)`` with the marginal likelihood.

    The data enter as ``pm.Data`` containers named ``data:<statistic>``, so a compiled model
    can be reused on other data of the same shape (:func:`data_values`).

    Examples
    --------
    >>> import pandas as pd
    >>> from sustain.models.bayes.terms import build_terms
    >>> from sustain.models.bayes.priors import default_priors
    >>> from sustain.models.bayes.families import family_spec
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 5, 8, 13], "x": [0.0, 1, 0, 1, 2, 2],
    ...                    "g": list("uuvvww")})
    >>> t = build_terms(df, "y ~ x + (1 | g)")
    >>> m = build_collapsed_model(t, default_priors(t, "gaussian", "identity"),
    ...                           family_spec("gaussian"), nested_stats(t))
    >>> sorted(v.name for v in m.free_RVs)
    ['Intercept_centred', 'sd(1|g)', 'sigma', 'x']
    """
    import pymc as pm
    import pytensor.tensor as pt

    with pm.Model() as model:
        data = {k: pm.Data(DATA_PREFIX + k, v) for k, v in data_values(stats).items()}
        parents = [data.pop(f"parent{level}") for level in range(len(stats.parents))]
        data["n_obs"] = stats.n_obs
        data["n_parent"] = [f.n_levels for f in stats.factors[1:]]
        b = [priors[n].to_pymc(n) for n in terms.slope_names]
        beta = pt.stack(b) if b else None
        if terms.has_intercept:
            alpha = priors[INTERCEPT].to_pymc(CENTRED_INTERCEPT)
            shift = pt.dot(stats.x_center, beta) if beta is not None else 0.0
            pm.Deterministic(INTERCEPT, alpha - shift)
        else:
            alpha = 0.0
        sigma = scale_params(family, priors)["sigma"]
        taus = [priors[f.sd_name("1")].to_pymc(f.sd_name("1")) for f in stats.factors]
        pm.Potential("marginal_loglik", marginal_loglik(alpha, beta, sigma, taus, data, parents))
    return model


def data_values(stats: NestedStats) -> dict[str, np.ndarray]:
    """The arrays the collapsed model reads, keyed without the ``data:`` prefix."""
    out: dict[str, np.ndarray] = {
        "counts": stats.counts,
        "ybar": stats.ybar,
        "xbar": stats.xbar,
        "syy": np.asarray(stats.syy),
        "sxy": stats.sxy,
        "sxx": stats.sxx,
    }
    for level, parent in enumerate(stats.parents):
        out[f"parent{level}"] = parent
    return out


def draw_group_effects(
    stats: NestedStats,
    alpha: FloatArray,
    beta: FloatArray,
    sigma: FloatArray,
    taus: list[FloatArray],
    rng: np.random.Generator,
) -> list[FloatArray]:
    """Exact draws of the group effects given each posterior draw of the parameters.

    Parameters
    ----------
    stats : NestedStats
    alpha : ndarray, shape (S,)
        Centred intercept (zeros without an intercept).
    beta : ndarray, shape (S, p)
    sigma : ndarray, shape (S,)
    taus : list of ndarray, shape (S,) each
        Group sds, finest level first.
    rng : Generator

    Returns
    -------
    list of ndarray
        Effects of each level, shape (S, n_levels), finest first.
    """
    mean = stats.ybar[None, :] - alpha[:, None] - beta @ stats.xbar.T
    weight = stats.counts[None, :] / (sigma[:, None] ** 2)
    summaries = [(mean, weight)]
    var = 1.0 / weight + taus[0][:, None] ** 2
    for parent, tau, coarse in zip(stats.parents, taus[1:], stats.factors[1:], strict=True):
        onehot = _onehot(parent, coarse.n_levels)
        w = 1.0 / var
        weight = np.asarray((onehot.T @ w.T).T)
        mean = np.asarray((onehot.T @ (w * mean).T).T) / weight
        summaries.append((mean, weight))
        var = 1.0 / weight + tau[:, None] ** 2
    effects: list[FloatArray] = [np.empty(0)] * len(taus)
    above = np.zeros_like(summaries[-1][0])
    for level in range(len(taus) - 1, -1, -1):
        mhat, w = summaries[level]
        precision = 1.0 / taus[level][:, None] ** 2 + w
        mu = w * (mhat - above) / precision
        effects[level] = mu + rng.standard_normal(mu.shape) / np.sqrt(precision)
        if level > 0:
            parent = stats.parents[level - 1]
            above = (above + effects[level])[:, parent]
    return effects


def _onehot(parent: IntArray, n_parent: int) -> Any:
    n = len(parent)
    return sparse.csr_matrix((np.ones(n), (np.arange(n), parent)), shape=(n, n_parent))
