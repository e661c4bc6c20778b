"""Priors, parameterisation and the PyMC model of the joint quality-survival model.

The model (see ``docs/models/joint.md``)::

    quality_it ~ Normal(a + x_it'b + u_i + v_d(i), sigma)          on rows with quality
    link P(exit_it = 1) = a_h + w_it'g + f(age_it) + association * u_i   on at-risk rows
    u_i ~ Normal(0, sd(1|agency_id))

Default priors are those of :func:`sustain.fit_bayes` for each sub-model (the hazard's with
the ``hazard:`` prefix); the association gets ``normal(0, 2.5 / s_q)`` with ``s_q`` the
standard deviation of observed quality, i.e. brms' default slope prior for a predictor on the
scale of quality (the agency effect ``u_i`` is measured in quality points and its spread is at
most that of quality).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeAlias

import numpy as np

from sustain._typing import BoolArray, FloatArray
from sustain.models.bayes.families import FamilySpec
from sustain.models.bayes.model import CENTRED_INTERCEPT
from sustain.models.bayes.parameterization import centred_intercepts, check_form
from sustain.models.bayes.priors import (
    CLASS_SUPPORT,
    Prior,
    PriorEntry,
    PriorSet,
    default_priors,
)
from sustain.models.bayes.priors import apply_overrides as apply_prior_overrides
from sustain.models.bayes.terms import INTERCEPT, ModelTerms
from sustain.models.joint.terms import HAZARD_PREFIX, JointTerms

Parameterization: TypeAlias = Literal["auto", "centred", "non_centred"]
ASSOCIATION = "association"
#: Name prefix of the raw (unscaled or centred) pieces of the agency effect; not stored.
RAW_PREFIX = "raw("


def joint_priors(
    terms: JointTerms, link: str, overrides: Mapping[str, str | Prior] | None = None
) -> PriorSet:
    """Default priors of both sub-models and the association, with user overrides.

    Keys of ``overrides`` are parameter names (``"hhi"``, ``"hazard:hhi"``, ``"association"``,
    ``"sd(1|agency_id)"``) or classes (``"b"``, ``"sd"``, ``"sigma"``, ``"Intercept"`` for the
    quality part; ``"hazard:b"``, ``"hazard:sd"``, ``"hazard:Intercept"`` for the hazard part);
    a parameter key beats a class key.

    Raises
    ------
    SpecError
        Unknown keys (the message lists the valid ones) or priors of the wrong support.

    Examples
    --------
    >>> import sustain
    >>> from sustain.models.joint.terms import build_joint_terms
    >>> panel = sustain.build_panel(sustain.datasets.example())
    >>> t = build_joint_terms(panel, "quality ~ hhi", "exit ~ hhi", "agency_id", duration=None)
    >>> table = joint_priors(t, "cloglog").table()
    >>> table["parameter"].tolist()
    ['Intercept', 'hhi', 'sigma', 'sd(1|agency_id)', 'hazard:Intercept', 'hazard:hhi', 'association']
    """
    quality = default_priors(terms.agency_sd_prior_terms, "gaussian", "identity").entries
    hazard = [
        PriorEntry(HAZARD_PREFIX + e.parameter, HAZARD_PREFIX + e.cls, e.prior, e.source)
        for e in default_priors(terms.hazard, "bernoulli", link).entries
    ]
    scale = float(f"{2.5 / _sd(terms.quality.y):.4g}")
    association = PriorEntry(ASSOCIATION, ASSOCIATION, Prior("normal", (0.0, scale)))
    return apply_overrides(PriorSet((*quality, *hazard, association)), overrides)


def _sd(y: FloatArray) -> float:
    s = float(np.std(y))
    return s if s > 0 else 1.0


def apply_overrides(defaults: PriorSet, overrides: Mapping[str, str | Prior] | None) -> PriorSet:
    """Replace default priors by user priors keyed by parameter or class.

    Examples
    --------
    >>> ps = PriorSet((PriorEntry("hazard:x", "hazard:b", Prior("normal", (0.0, 1.0))),))
    >>> str(apply_overrides(ps, {"hazard:b": "normal(0, 3)"})["hazard:x"])
    'normal(0, 3)'
    """
    return apply_prior_overrides(defaults, overrides, _support)


def _support(cls: str) -> str:
    """The support priors of a (possibly ``hazard:``-prefixed) class need."""
    return CLASS_SUPPORT.get(cls.removeprefix(HAZARD_PREFIX), "real")


# --------------------------------------------------------------------------- parameterisation


def centred_levels(terms: JointTerms, parameterization: str) -> dict[str, BoolArray]:
    """Which random intercepts of the quality part are sampled centred, by grouping factor.

    Keys are the agency identifier and every quality group term's factor; values mark the
    levels sampled in the centred form (the rest are non-centred, ``sd * z``). ``"auto"``
    centres a level when its own scores dominate the prior on its effect -- then the centred
    form has no funnel -- and leaves levels with few or no scores non-centred, by the rule
    fit_bayes uses (:func:`sustain.models.bayes.parameterization.centred_intercepts`).
    Hazard group terms are always non-centred.

    Examples
    --------
    >>> import sustain
    >>> from sustain.models.joint.terms import build_joint_terms
    >>> panel = sustain.build_panel(sustain.datasets.example())
    >>> t = build_joint_terms(panel, "quality ~ hhi + (1 | district)", "exit ~ hhi", "agency_id")
    >>> {k: int(v.sum()) for k, v in centred_levels(t, "non_centred").items()}
    {'agency_id': 0, 'district': 0}
    >>> bool(centred_levels(t, "auto")["district"].all())
    True
    """
    form = check_form(parameterization)
    q = terms.quality
    factors = [(terms.group, terms.quality_agency, terms.n_agencies)]
    factors += [(g.name, g.index, g.n_levels) for g in q.groups]
    out: dict[str, BoolArray] = {}
    for name, index, n_levels in factors:
        out[name] = centred_intercepts(q.y, q.X, index, n_levels, form)
    return out


# --------------------------------------------------------------------------- model


def coords_of(terms: JointTerms) -> dict[str, list[str]]:
    """Coordinates: agencies, the quality groups and the (prefixed) hazard groups."""
    coords = {terms.group: list(terms.levels)}
    for g in terms.quality.groups:
        coords[g.name] = list(g.levels)
    for g in terms.hazard.groups:
        coords[HAZARD_PREFIX + g.name] = list(g.levels)
    return coords


def build_joint_model(
    terms: JointTerms,
    priors: PriorSet,
    hazard_family: FamilySpec,
    centred: Mapping[str, BoolArray],
) -> Any:
    """The PyMC model of the joint quality-survival model.

    Examples
    --------
    >>> import sustain
    >>> from sustain.models.bayes.families import family_spec
    >>> from sustain.models.joint.terms import build_joint_terms
    >>> panel = sustain.build_panel(sustain.datasets.example())
    >>> t = build_joint_terms(panel, "quality ~ hhi", "exit ~ hhi", "agency_id", duration=None)
    >>> m = build_joint_model(t, joint_priors(t, "cloglog"), family_spec("bernoulli", "cloglog"),
    ...                       centred_levels(t, "auto"))
    >>> [v.name for v in m.observed_RVs], [p.name for p in m.potentials]
    (['quality'], ['loglik:exit'])
    """
    import pymc as pm

    with pm.Model(coords=coords_of(terms)) as model:
        u = _intercepts(terms.group, priors, centred[terms.group])
        mu = population(terms.quality, priors, "") + u[terms.quality_agency]
        for g in terms.quality.groups:
            mu = mu + _intercepts(g.name, priors, centred[g.name])[g.index]
        sigma = priors["sigma"].to_pymc("sigma")
        pm.Normal(terms.quality.response, mu=mu, sigma=sigma, observed=terms.quality.y)
        association = priors[ASSOCIATION].to_pymc(ASSOCIATION)
        eta = population(terms.hazard, priors, HAZARD_PREFIX)
        eta = eta + association * u[terms.hazard_agency]
        for g in terms.hazard.groups:
            eta = eta + _hazard_group(g.name, g.index, priors)
        hazard_family.likelihood(terms.hazard.response, eta, terms.hazard.y, {})
    return model


def population(terms: ModelTerms, priors: PriorSet, prefix: str) -> Any:
    """Population-level linear predictor with centred slopes, parameters named ``prefix+term``.

    As in :func:`sustain.models.bayes.model.population_part`, the sampled intercept is the
    linear predictor at the mean of the predictors and ``prefix + "Intercept"`` is derived.
    """
    import pymc as pm
    import pytensor.tensor as pt

    slopes = terms.slope_matrix()
    b = [priors[prefix + n].to_pymc(prefix + n) for n in terms.slope_names]
    beta = pt.stack(b) if b else None
    if not terms.has_intercept:
        return pt.dot(slopes, beta) if beta is not None else pt.zeros(terms.nobs)
    alpha = priors[prefix + INTERCEPT].to_pymc(prefix + CENTRED_INTERCEPT)
    if beta is None:
        pm.Deterministic(prefix + INTERCEPT, alpha)
        return alpha + pt.zeros(terms.nobs)
    xbar = slopes.mean(axis=0)
    pm.Deterministic(prefix + INTERCEPT, alpha - pt.dot(xbar, beta))
    return alpha + pt.dot(slopes - xbar, beta)


def _intercepts(group: str, priors: PriorSet, centred: BoolArray) -> Any:
    """``r(1|group)`` with its ``sd(1|group)``: centred levels where ``centred``, else ``sd * z``."""
    import pymc as pm
    import pytensor.tensor as pt

    sd = priors[f"sd(1|{group})"].to_pymc(f"sd(1|{group})")
    index_c = np.flatnonzero(centred)
    index_n = np.flatnonzero(~centred)
    parts = []
    if index_c.size:
        parts.append(pm.Normal(f"{RAW_PREFIX}centred|{group})", 0.0, sd, shape=index_c.size))
    if index_n.size:
        z = pm.Normal(f"{RAW_PREFIX}z|{group})", 0.0, 1.0, shape=index_n.size)
        parts.append(sd * z)
    order = np.argsort(np.concatenate([index_c, index_n]), kind="stable")
    effects = pt.concatenate(parts)[order] if len(parts) > 1 else parts[0]
    return pm.Deterministic(f"r(1|{group})", effects, dims=group)


def _hazard_group(name: str, index: np.ndarray, priors: PriorSet) -> Any:
    """Non-centred random intercepts of a hazard group term, named ``hazard:...``."""
    import pymc as pm

    dim = HAZARD_PREFIX + name
    sd = priors[f"{HAZARD_PREFIX}sd(1|{name})"].to_pymc(f"{HAZARD_PREFIX}sd(1|{name})")
    z = pm.Normal(f"{RAW_PREFIX}z|{dim})", 0.0, 1.0, dims=dim)
    effects = pm.Deterministic(f"{HAZARD_PREFIX}r(1|{name})", sd * z, dims=dim)
    return effects[index]


def stored_names(model: Any) -> list[str]:
    """Posterior variables to keep: everything but raw pieces and standard-normal ``z``'s."""
    names = [v.name for v in model.free_RVs] + [d.name for d in model.deterministics]
    return [n for n in names if not n.startswith((RAW_PREFIX, "z("))]


def reported_terms(terms: JointTerms) -> tuple[str, ...]:
    """Scalar parameters a table reports, in order.

    Quality terms, hazard terms (prefixed), ``association``, ``sigma``, the agency sd, the
    quality group sds and the hazard group sds.
    """
    out: list[str] = [*terms.quality.x_names]
    out += [HAZARD_PREFIX + n for n in terms.hazard.x_names]
    out += [ASSOCIATION, "sigma", f"sd(1|{terms.group})"]
    out += [g.sd_name("1") for g in terms.quality.groups]
    out += [f"{HAZARD_PREFIX}sd(1|{g.name})" for g in terms.hazard.groups]
    return tuple(out)


def hazard_eta(terms: JointTerms, draws: Mapping[str, FloatArray]) -> FloatArray:
    """Hazard linear predictor of every draw, shape (S, n_hazard), from stored draws."""
    beta = np.column_stack([draws[HAZARD_PREFIX + n] for n in terms.hazard.x_names])
    eta = beta @ terms.hazard.X.T
    eta += draws[ASSOCIATION][:, None] * draws[f"r(1|{terms.group})"][:, terms.hazard_agency]
    for g in terms.hazard.groups:
        eta += draws[f"{HAZARD_PREFIX}r(1|{g.name})"][:, g.index]
    return eta


def quality_mu(terms: JointTerms, draws: Mapping[str, FloatArray]) -> FloatArray:
    """Mean quality of every draw, shape (S, n_quality), from stored draws."""
    beta = np.column_stack([draws[n] for n in terms.quality.x_names])
    mu = beta @ terms.quality.X.T + draws[f"r(1|{terms.group})"][:, terms.quality_agency]
    for g in terms.quality.groups:
        mu += draws[g.effect_name("1")][:, g.index]
    return mu


def draw_names(terms: JointTerms) -> Sequence[str]:
    """Posterior variables :func:`hazard_eta` and :func:`quality_mu` read."""
    names = [*terms.quality.x_names, *(HAZARD_PREFIX + n for n in terms.hazard.x_names)]
    names += [ASSOCIATION, "sigma", f"r(1|{terms.group})"]
    names += [g.effect_name("1") for g in terms.quality.groups]
    names += [f"{HAZARD_PREFIX}r(1|{g.name})" for g in terms.hazard.groups]
    return names
