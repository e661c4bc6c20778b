"""The collapsed Gaussian model: marginal log-likelihood in PyTensor and its PyMC model.

With the notation of :mod:`sustain.models.bayes.collapsed` (big factor ``A`` integrated out
level by level; the coefficients ``beta = mu + Lambda v``, ``v ~ N(0, I)``, population-level
terms first, then the other group effects; ``r = y - Z mu``),

.. math::

    \\log p(y \\mid \\theta) = -\\tfrac12\\big[n \\log 2\\pi + \\log|V| + \\log|A|
        + r'V^{-1}r - (\\Lambda'q)'A^{-1}(\\Lambda'q)\\big],

    A = I + \\Lambda' Z'V^{-1}Z \\Lambda, \\qquad q = Z'V^{-1}r,

the Woodbury form of ``log N(y; Z mu, V + Z Lambda Lambda' Z')`` written with the relative
covariance factor ``Lambda`` (as lme4 does) rather than the prior precision, so a group sd
near zero makes ``A`` tend to the identity instead of making a precision blow up. ``log|V|``,
``r'V^-1 r``, ``Z'V^-1 Z`` and ``q`` come from the count-class statistics; ``A`` is factored by
Cholesky. ``Lambda`` is block diagonal: ``s_j / sqrt(lambda_j)`` for population-level
coefficient ``j`` (``lambda_j = 1`` under a normal prior, ``~ Gamma(nu/2, nu/2)`` under a
Student-t or Cauchy prior) and ``I ⊗ D_f L_f`` for group factor ``f`` (``D_f`` its sds, ``L_f``
the Cholesky factor of its LKJ correlation matrix).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from sustain.models.bayes.collapsed import CollapsedStats, data_values, prior_key
from sustain.models.bayes.families import FamilySpec
from sustain.models.bayes.model import CENTRED_INTERCEPT, factor_scales, scale_params
from sustain.models.bayes.priors import Prior, PriorSet
from sustain.models.bayes.terms import INTERCEPT, ModelTerms

DATA_PREFIX = "data:"
#: Name prefix of the scale-mixture variables of Student-t and Cauchy priors (not stored).
MIXING_PREFIX = "mix("


def scale_tensor_columns(
    X: Any, scales: list[Any], layout: tuple[tuple[int, int, int], ...]
) -> Any:
    """``X Lambda`` for a PyTensor matrix ``X`` (r, m); ``scales[f]`` is ``B_f`` (k_f, k_f)."""
    import pytensor.tensor as pt

    parts = []
    for (offset, n_levels, k), B in zip(layout, scales, strict=True):
        block = X[:, offset : offset + n_levels * k]
        if k == 1:
            parts.append(block * B[0, 0])
        else:
            cube = block.reshape((X.shape[0], n_levels, k))
            parts.append(pt.dot(cube, B).reshape((X.shape[0], n_levels * k)))
    return pt.concatenate(parts, axis=1)


def marginal_loglik(
    sigma: Any,
    tau: Any,
    scales: list[Any],
    data: Mapping[str, Any],
    layout: tuple[tuple[int, int, int], ...],
    n_obs: int,
) -> Any:
    """Marginal log-likelihood (every coefficient integrated out) as a PyTensor expression.

    Parameters
    ----------
    sigma, tau : tensor scalars
        Residual sd and sd of the big factor's intercepts.
    scales : list of tensor (k_f, k_f)
        Scale matrix of every block of ``layout``.
    data : mapping
        The arrays of :func:`sustain.models.bayes.collapsed.data_values` (tensors or arrays).
    layout : tuple
        ``(offset, n_levels, k)`` of every block (``CollapsePlan.layout``).
    n_obs : int
    """
    import pytensor.tensor as pt
    from pytensor.tensor.linalg import cholesky, solve_triangular

    s2, t2 = sigma**2, tau**2
    n, size = data["class_n"], data["class_size"]
    c = t2 / (s2 + n * t2)
    logdet = n_obs * pt.log(s2) + pt.sum(size * pt.log1p(n * t2 / s2))
    quad = (data["rr"] - pt.sum(c * data["crr"])) / s2
    if layout:
        M = (data["zz"] - pt.tensordot(c, data["czz"], axes=1)) / s2
        q = (data["zr"] - pt.dot(c, data["czr"])) / s2
        ML = scale_tensor_columns(M, scales, layout)
        m = sum(n_levels * k for _, n_levels, k in layout)
        A = scale_tensor_columns(ML.T, scales, layout) + pt.eye(m)
        lq = scale_tensor_columns(q[None, :], scales, layout)[0]
        L = cholesky(A, lower=True)
        logdet = logdet + 2.0 * pt.sum(pt.log(pt.diag(L)))
        v = solve_triangular(L, lq, lower=True)
        quad = quad - pt.dot(v, v)
    return -0.5 * (n_obs * np.log(2.0 * np.pi) + logdet + quad)


def coefficient_scale(prior: Prior, name: str) -> Any:
    """Prior sd of a population-level coefficient given its mixing variable.

    ``normal(mu, s)`` gives ``s``; ``student_t(nu, mu, s)`` and ``cauchy(mu, s)`` (``nu = 1``)
    give ``s / sqrt(lambda)`` with ``lambda = mix(name) ~ Gamma(nu/2, nu/2)`` added to the
    current model: integrating ``lambda`` out of ``N(mu, s^2 / lambda)`` gives the prior back.
    """
    import pymc as pm
    import pytensor.tensor as pt

    args = prior.kwargs
    if prior.dist == "normal":
        return pt.as_tensor(args["sigma"])
    nu = args["nu"] if prior.dist == "student_t" else 1.0
    mixing = pm.Gamma(f"{MIXING_PREFIX}{name})", alpha=nu / 2.0, beta=nu / 2.0)
    return args["sigma"] / pt.sqrt(mixing)


def build_collapsed_model(
    terms: ModelTerms, priors: PriorSet, family: FamilySpec, stats: CollapsedStats
) -> Any:
    """PyMC model of the scales only: ``sigma``, the sds (and correlations), mixing variables.

    The statistics enter as ``pm.Data`` containers named ``data:<statistic>``, so a compiled
    model serves other data whose statistics have the same shapes.

    Examples
    --------
    >>> import pandas as pd
    >>> from sustain.models.bayes.terms import build_terms
    >>> from sustain.models.bayes.priors import default_priors
    >>> from sustain.models.bayes.families import family_spec
    >>> from sustain.models.bayes.collapsed import collapse_plan, collapsed_stats
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 5, 8, 13], "x": [0.0, 1, 0, 1, 2, 2],
    ...                    "g": list("uuvvww"), "t": list("pqpqpq")})
    >>> t = build_terms(df, "y ~ x + (1 | g) + (x | t)")
    >>> fam, ps = family_spec("gaussian"), default_priors(t, "gaussian", "identity")
    >>> m = build_collapsed_model(t, ps, fam, collapsed_stats(t, collapse_plan(t, fam), ps))
    >>> sorted(v.name for v in m.free_RVs)
    ['cpc(t)', 'mix(Intercept)', 'sd(1|g)', 'sd(1|t)', 'sd(x|t)', 'sigma']
    """
    import pymc as pm
    import pytensor.tensor as pt

    plan = stats.plan
    with pm.Model() as model:
        data = {k: pm.Data(DATA_PREFIX + k, v) for k, v in data_values(stats).items()}
        scales = [
            pt.reshape(coefficient_scale(priors[prior_key(plan, n)], prior_key(plan, n)), (1, 1))
            for n in plan.fixed
        ]
        sigma = scale_params(family, priors)["sigma"]
        tau = priors[plan.big.sd_name("1")].to_pymc(plan.big.sd_name("1"))
        for g in plan.others:
            sds, chol = factor_scales(g, priors)
            sd = pt.stack(sds)
            scales.append(sd[:, None] * chol if chol is not None else pt.diag(sd))
        loglik = marginal_loglik(sigma, tau, scales, data, plan.layout, stats.n_obs)
        pm.Potential("marginal_loglik", loglik)
    return model


def fixed_scale_draws(
    plan_fixed: tuple[str, ...], priors: PriorSet, posterior: Mapping[str, np.ndarray], n: int
) -> list[np.ndarray]:
    """Per-draw scale matrices (n, 1, 1) of the population-level coefficients.

    ``posterior`` maps ``mix(<name>)`` to flattened draws for Student-t and Cauchy priors.
    """
    out = []
    for name in plan_fixed:
        key = INTERCEPT if name == CENTRED_INTERCEPT else name
        prior = priors[key]
        scale = np.full(n, prior.kwargs["sigma"])
        if prior.dist != "normal":
            scale = scale / np.sqrt(np.asarray(posterior[f"{MIXING_PREFIX}{key})"]))
        out.append(scale.reshape(n, 1, 1))
    return out
