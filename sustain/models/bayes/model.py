"""The full PyMC model of a hierarchical formula, for every family.

The linear predictor is

.. math::

    \\eta_i = \\alpha_c + (x_i - \\bar x)^\\top \\beta + \\sum_g z_{gi}^\\top r_{g, j_g(i)}

with the population-level slopes centred at their means (the sampled intercept
``Intercept_centred`` is the linear predictor at the mean of the predictors, as in brms; the
reported ``Intercept`` is ``Intercept_centred - xbar' beta``). Group effects are non-centred
by default: ``r(1|g) = sd(1|g) * z(1|g)`` with ``z ~ N(0, 1)``; correlated varying
coefficients use ``r_g = (z_g L') * sd_g`` with ``L`` the Cholesky factor of an LKJ-distributed
correlation matrix ``cor(g)``, built from its canonical partial correlations ``cpc(g)`` (as Stan
does), so no matrix decomposition enters the gradient. Levels whose own data pin their effect
down are better sampled centred (``r ~ N(0, sd)``, or ``MvNormal(0, D L L' D)``); which levels
are centred is chosen in :mod:`sustain.models.bayes.parameterization`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from sustain._typing import BoolArray
from sustain.models.bayes.families import FamilySpec
from sustain.models.bayes.priors import PriorSet
from sustain.models.bayes.terms import INTERCEPT, GroupFactor, ModelTerms

CENTRED_INTERCEPT = "Intercept_centred"
#: Name prefix of the raw centred pieces of partly centred group effects (not stored).
CENTRED_PREFIX = "centred("


def coords_of(terms: ModelTerms) -> dict[str, list[str]]:
    """PyMC coordinates: the levels of every grouping factor and its varying coefficients.

    Examples
    --------
    >>> import pandas as pd
    >>> from sustain.models.bayes.terms import build_terms
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4], "x": [0.0, 1, 0, 1], "g": list("aabb")})
    >>> coords_of(build_terms(df, "y ~ x + (x | g)"))
    {'g': ['a', 'b'], 'g__coef': ['1', 'x']}
    """
    coords: dict[str, list[str]] = {}
    for g in terms.groups:
        coords[g.name] = list(g.levels)
        if g.k > 1:
            coords[coef_dim(g)] = list(g.coefs)
    return coords


def coef_dim(g: GroupFactor) -> str:
    """Name of the dimension of a factor's varying coefficients."""
    return f"{g.name}__coef"


def population_part(terms: ModelTerms, priors: PriorSet) -> Any:
    """Population-level linear predictor; adds the slopes and intercept to the current model.

    Returns a PyTensor expression of shape (n,) (or a scalar for an intercept-only model).
    """
    import pymc as pm
    import pytensor.tensor as pt

    slopes = terms.slope_matrix()
    names = terms.slope_names
    b = [priors[name].to_pymc(name) for name in names]
    beta = pt.stack(b) if b else None
    if not terms.has_intercept:
        return pt.dot(slopes, beta) if beta is not None else pt.zeros(terms.nobs)
    alpha_c = priors[INTERCEPT].to_pymc(CENTRED_INTERCEPT)
    if beta is None:
        pm.Deterministic(INTERCEPT, alpha_c)
        return alpha_c + pt.zeros(terms.nobs)
    xbar = slopes.mean(axis=0)
    pm.Deterministic(INTERCEPT, alpha_c - pt.dot(xbar, beta))
    return alpha_c + pt.dot(slopes - xbar, beta)


def group_part(g: GroupFactor, priors: PriorSet, centred: BoolArray | None = None) -> Any:
    """Group effects of one factor; returns their contribution to ``eta``.

    ``centred`` marks the levels whose effects are sampled in the centred form
    (``r ~ Normal(0, sd)``, or ``MvNormal(0, D L L' D)`` for correlated coefficients); the
    others, and all levels when ``centred`` is ``None``, are non-centred (``r = sd * z``).
    See :mod:`sustain.models.bayes.parameterization` for how ``"auto"`` chooses.
    """
    sds, chol = factor_scales(g, priors)
    mask = np.zeros(g.n_levels, dtype=bool) if centred is None else np.asarray(centred, bool)
    if chol is not None:
        effects = _correlated_effects(g, sds, chol, mask)
    else:
        effects = [_mixed_effects(g, coef, sd, mask) for coef, sd in zip(g.coefs, sds, strict=True)]
    total: Any = 0.0
    for j, (coef, r) in enumerate(zip(g.coefs, effects, strict=True)):
        per_row = r[g.index]
        total = total + (per_row if coef == "1" else per_row * g.Z[:, j])
    return total


def factor_scales(g: GroupFactor, priors: PriorSet) -> tuple[list[Any], Any]:
    """Create the sds (and for correlated coefficients the LKJ correlation) of one factor.

    Returns the list of ``sd(coef|g)`` variables and the Cholesky factor ``L`` of the
    correlation matrix (``None`` for a single or uncorrelated coefficients); the covariance
    of a level's effects is ``D L L' D`` with ``D = diag(sd)``. Adds ``cpc(g)`` and the
    deterministic correlations ``cor(a,b|g)`` to the current model.
    """
    import pymc as pm
    import pytensor.tensor as pt

    sds = [priors[g.sd_name(c)].to_pymc(g.sd_name(c)) for c in g.coefs]
    if not (g.k > 1 and g.correlated):
        return sds, None
    pairs, betas = cpc_pairs(g.k, priors[g.lkj_name].kwargs["eta"])
    raw = pm.Beta(f"cpc({g.name})", alpha=betas, beta=betas, shape=len(pairs))
    cpc = {pair: 2.0 * raw[m] - 1.0 for m, pair in enumerate(pairs)}
    chol = pt.stack([pt.stack(row) for row in cholesky_rows(cpc, g.k, pt.sqrt, 0.0)])
    corr = pt.dot(chol, chol.T)
    for i in range(g.k):
        for j in range(i + 1, g.k):
            pm.Deterministic(g.cor_name(g.coefs[i], g.coefs[j]), corr[i, j])
    return sds, chol


def _mixed_effects(g: GroupFactor, coef: str, sd: Any, centred: BoolArray) -> Any:
    """``r(coef|g)``: centred levels ``N(0, sd)``, the others ``sd * z`` with ``z ~ N(0, 1)``."""
    import pymc as pm

    name = g.effect_name(coef)
    if centred.all():
        return pm.Normal(name, 0.0, sd, dims=g.name)
    if not centred.any():
        z = pm.Normal(f"z({coef}|{g.name})", 0.0, 1.0, dims=g.name)
        return pm.Deterministic(name, z * sd, dims=g.name)
    n_c = int(centred.sum())
    pieces = [
        pm.Normal(f"{CENTRED_PREFIX}{coef}|{g.name})", 0.0, sd, shape=n_c),
        sd * pm.Normal(f"z({coef}|{g.name})", 0.0, 1.0, shape=g.n_levels - n_c),
    ]
    return pm.Deterministic(name, _interleave(pieces, centred), dims=g.name)


def _interleave(pieces: list[Any], centred: BoolArray) -> Any:
    """Put the centred rows (first piece) and non-centred rows (second) back in level order."""
    import pytensor.tensor as pt

    order = np.concatenate([np.flatnonzero(centred), np.flatnonzero(~centred)])
    return pt.concatenate(pieces, axis=0)[np.argsort(order, kind="stable")]


def _correlated_effects(g: GroupFactor, sds: list[Any], chol: Any, centred: BoolArray) -> list[Any]:
    import pymc as pm
    import pytensor.tensor as pt

    scale = pt.stack(sds)[:, None] * chol  # D L: lower-triangular Cholesky factor of the cov
    n_c = int(centred.sum())
    pieces = []
    if n_c:
        mu = np.zeros(g.k)
        pieces.append(pm.MvNormal(f"{CENTRED_PREFIX}{g.name})", mu, chol=scale, shape=(n_c, g.k)))
    if n_c < g.n_levels:
        if n_c:
            z = pm.Normal(f"z({g.name})", 0.0, 1.0, shape=(g.n_levels - n_c, g.k))
        else:
            z = pm.Normal(f"z({g.name})", 0.0, 1.0, dims=(g.name, coef_dim(g)))
        pieces.append(pt.dot(z, scale.T))
    u = _interleave(pieces, centred) if len(pieces) > 1 else pieces[0]
    return [pm.Deterministic(g.effect_name(c), u[:, j], dims=g.name) for j, c in enumerate(g.coefs)]


def cpc_pairs(k: int, eta: float) -> tuple[list[tuple[int, int]], np.ndarray]:
    """Canonical partial correlations of an LKJ(eta) ``k x k`` correlation matrix.

    In the C-vine construction of Lewandowski, Kurowicka and Joe (2009), the partial
    correlation of variables ``j < i`` given variables ``0 .. j-1`` is independently
    ``2 * Beta(b_j, b_j) - 1`` with ``b_j = eta + (k - 2 - j) / 2``, and the matrix built
    from them by :func:`cholesky_rows` is LKJ(eta)-distributed.

    Returns the pairs ``(j, i)`` and their Beta parameters.

    Examples
    --------
    >>> cpc_pairs(3, 2.0)
    ([(0, 1), (0, 2), (1, 2)], array([2.5, 2.5, 2. ]))
    """
    pairs = [(j, i) for j in range(k - 1) for i in range(j + 1, k)]
    return pairs, np.array([eta + (k - 2 - j) / 2 for j, _ in pairs])


def cholesky_rows(
    cpc: Mapping[tuple[int, int], Any], k: int, sqrt: Callable[[Any], Any], zero: Any
) -> list[list[Any]]:
    """Rows of the Cholesky factor of the correlation matrix with partial correlations ``cpc``.

    ``L[i][j] = cpc[j, i] * sqrt(1 - sum_{m<j} L[i][m]^2)`` below the diagonal and
    ``L[i][i] = sqrt(1 - sum_{m<i} L[i][m]^2)``; works on numbers, numpy arrays (vectorised
    over draws) and PyTensor scalars alike -- no matrix decomposition is needed.

    Examples
    --------
    >>> import numpy as np
    >>> L = np.array(cholesky_rows({(0, 1): 0.6}, 2, np.sqrt, 0.0))
    >>> (L @ L.T).round(6).tolist()
    [[1.0, 0.6], [0.6, 1.0]]
    """
    rows: list[list[Any]] = []
    for i in range(k):
        row: list[Any] = []
        rest: Any = 1.0
        for j in range(i):
            value = cpc[(j, i)] * sqrt(rest)
            row.append(value)
            rest = rest - value**2
        row.append(sqrt(rest))
        row.extend([zero] * (k - i - 1))
        rows.append(row)
    return rows


def scale_params(family: FamilySpec, priors: PriorSet) -> dict[str, Any]:
    """Create the family's scale parameters (``sigma``, ``nu``) in the current model."""
    return {name: priors[name].to_pymc(name) for name in family.scale_params}


def build_full_model(
    terms: ModelTerms,
    priors: PriorSet,
    family: FamilySpec,
    centred: Sequence[BoolArray | None] | None = None,
) -> Any:
    """The full PyMC model of ``terms`` (any family, any group structure).

    ``centred`` holds, for each entry of ``terms.groups``, the levels sampled centred
    (``None``: every group effect non-centred).

    Examples
    --------
    >>> import pandas as pd
    >>> from sustain.models.bayes.terms import build_terms
    >>> from sustain.models.bayes.priors import default_priors
    >>> from sustain.models.bayes.families import family_spec
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4, 6], "x": [0.0, 1, 0, 1, 2], "g": list("aabbb")})
    >>> t = build_terms(df, "y ~ x + (1 | g)")
    >>> m = build_full_model(t, default_priors(t, "gaussian", "identity"),
    ...                      family_spec("gaussian"))
    >>> sorted(v.name for v in m.free_RVs)
    ['Intercept_centred', 'sd(1|g)', 'sigma', 'x', 'z(1|g)']
    """
    import pymc as pm

    with pm.Model(coords=coords_of(terms)) as model:
        eta = population_part(terms, priors)
        forms = centred if centred is not None else [None] * len(terms.groups)
        for g, mask in zip(terms.groups, forms, strict=True):
            eta = eta + group_part(g, priors, mask)
        params = scale_params(family, priors)
        family.likelihood(terms.response, eta, terms.y, params, terms.trials)
    return model


def stored_names(model: Any) -> list[str]:
    """Variables worth keeping in the posterior: all but the raw pieces of group effects."""
    names = [v.name for v in model.free_RVs] + [d.name for d in model.deterministics]
    return [n for n in names if not n.startswith(("z(", CENTRED_PREFIX))]


def reported_terms(terms: ModelTerms, family: FamilySpec) -> tuple[str, ...]:
    """Scalar parameters a table reports: population terms, then scale, sd and cor parameters.

    Examples
    --------
    >>> import pandas as pd
    >>> from sustain.models.bayes.terms import build_terms
    >>> from sustain.models.bayes.families import family_spec
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4], "x": [0.0, 1, 0, 1], "g": list("aabb")})
    >>> reported_terms(build_terms(df, "y ~ x + (x | g)"), family_spec("gaussian"))
    ('Intercept', 'x', 'sigma', 'sd(1|g)', 'sd(x|g)', 'cor(1,x|g)')
    """
    out = list(terms.x_names) + list(family.scale_params)
    for g in terms.groups:
        out += [g.sd_name(c) for c in g.coefs]
        if g.k > 1 and g.correlated:
            out += [g.cor_name(a, b) for i, a in enumerate(g.coefs) for b in g.coefs[i + 1 :]]
    return tuple(out)


def check_unique_factors(groups: tuple[GroupFactor, ...]) -> None:
    """Refuse two group terms that would vary the same coefficient of the same factor."""
    from sustain.errors import SpecError

    seen: set[tuple[str, str]] = set()
    correlated: set[str] = set()
    for g in groups:
        for c in g.coefs:
            if (g.name, c) in seen:
                raise SpecError(f"coefficient {c!r} varies by {g.name!r} in two group terms")
            seen.add((g.name, c))
        if g.k > 1 and g.correlated:
            if g.name in correlated:
                raise SpecError(f"{g.name!r} has two correlated group terms; merge them")
            correlated.add(g.name)
