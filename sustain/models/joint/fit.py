"""``fit_joint``: a Bayesian shared-parameter joint model of service quality and exit.

Quality is only observed while an agency survives, and agencies with poor services are more
likely to exit. Fitting quality and exit separately therefore biases both: the quality trend
of survivors is not the trend of agencies, and plugging observed (noisy) quality into a hazard
model attenuates its effect. The joint model fits both at once and links them through the
agency's latent quality effect ``u_i``, which enters the exit hazard multiplied by the
``association`` parameter. Model, priors and names: :mod:`sustain.models.joint.model`;
documentation: ``docs/models/joint.md``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sustain._threads import one_blas_thread
from sustain.errors import SpecError
from sustain.models.bayes.families import FamilySpec, family_spec
from sustain.models.bayes.fit import (
    check_sampling_bounds,
    check_seed,
    headline_diagnostics,
    sample_coords,
    sampler_settings,
)
from sustain.models.bayes.priors import Prior, PriorSet
from sustain.models.bayes.progress import SamplingProgress
from sustain.models.bayes.sampling import SamplerSettings, sample_posterior
from sustain.models.bayes.terms import data_hash as terms_hash
from sustain.models.joint.model import (
    Parameterization,
    build_joint_model,
    centred_levels,
    draw_names,
    hazard_eta,
    joint_priors,
    quality_mu,
    reported_terms,
    stored_names,
)
from sustain.models.joint.results import JointResults
from sustain.models.joint.terms import HAZARD_PREFIX, JointTerms, build_joint_terms
from sustain.models.joint.two_stage import fit_two_stage
from sustain.options import DurationForm, Link, Sampler
from sustain.results import ModelInfo

__all__ = ["JointResults", "fit_joint", "fit_two_stage"]


def fit_joint(
    panel: pd.DataFrame,
    quality: str,
    hazard: str,
    group: str = "agency_id",
    *,
    link: Link = "cloglog",
    duration: str | None = "age",
    duration_form: DurationForm = "spline",
    spline_df: int = 4,
    time: str = "year",
    priors: Mapping[str, str | Prior] | None = None,
    parameterization: Parameterization = "auto",
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    random_seed: int | None = None,
    sampler: Sampler = "auto",
    target_accept: float | None = None,
    cores: int | None = None,
    log_likelihood: bool = True,
    progressbar: bool | None = None,
    progress: Callable[[SamplingProgress], None] | None = None,
) -> JointResults:
    """Fit the shared-parameter joint model of quality and exit.

    Parameters
    ----------
    panel : DataFrame
        Agency-year panel (:func:`sustain.build_panel`); index levels may be used.
    quality : str
        Quality sub-model, e.g. ``"quality ~ hhi + age + (1 | district)"``. The agency
        intercept is added (and shared); other random intercepts ``(1 | g)`` are allowed.
    hazard : str
        Exit sub-model, e.g. ``"exit ~ hhi + log_revenue"``; the response is 0/1. Its terms are
        named ``hazard:<term>``.
    group : str
        Agency identifier (default ``"agency_id"``).
    link : {"cloglog", "logit"}
        Link of the discrete-time hazard.
    duration : str or None
        Duration column of the hazard (``"age"``); ``None`` for none.
    duration_form : {"spline", "dummies"}
        Cubic B-spline with ``spline_df`` columns, or age-band dummies as in
        :func:`sustain.fit_hazard`.
    spline_df : int
    time : str
        Calendar time, to drop rows after an agency's first exit.
    priors : mapping, optional
        Overrides by parameter (``"association"``, ``"hazard:hhi"``, ``"sd(1|agency_id)"``)
        or class (``"b"``, ``"sd"``, ``"hazard:b"``, ...); see ``result.priors``.
    parameterization : {"auto", "centred", "non_centred"}
        Form of the agency effects. ``"auto"`` centres the effects of agencies whose own
        scores dominate their prior (several scores each) and leaves the rest non-centred.
    draws, tune, chains, random_seed, sampler, target_accept, cores
        As in :func:`sustain.fit_bayes` (nutpie by default).
    log_likelihood : bool
        Store the pointwise log-likelihood of both sub-models (for LOO/WAIC per part).
    progressbar, progress
        Progress bar and progress callback, as in :func:`sustain.fit_bayes`.

    Returns
    -------
    JointResults

    Raises
    ------
    SpecError
        Bad formulas, options or priors.
    FitError
        No usable rows or exits, rank-deficient designs, or the sampler failed.

    Notes
    -----
    .. math::

        q_{it} &= \\beta_0 + x_{it}'\\beta + u_i + v_{d(i)} + e_{it},
        \\quad e_{it} \\sim N(0, \\sigma^2) \\\\
        g(h_{it}) &= \\gamma_0 + w_{it}'\\gamma + f(a_{it}) + \\alpha\\, u_i,
        \\quad u_i \\sim N(0, \\tau^2)

    with ``g`` the cloglog or logit link, ``f`` the duration dependence and ``alpha`` the
    ``association``. Quality enters on rows where it is observed; the hazard on every row at
    risk, including years without a score. See ``docs/models/joint.md``.

    Examples
    --------
    >>> import sustain
    >>> sim = sustain.simulate(seed=3, n_agencies=150, association=-0.2)
    >>> panel = sustain.build_panel(sim.data)
    >>> jm = sustain.fit_joint(panel, quality="quality ~ hhi", hazard="exit ~ hhi",
    ...                        draws=200, tune=300, chains=2, random_seed=1)
    >>> "association" in jm.idata.posterior and "hazard:hhi" in jm.params.index
    True
    """
    check_sampling_bounds(draws, tune, chains, random_seed, cores, target_accept)
    seed = check_seed(random_seed)
    settings = sampler_settings(
        sampler, draws, tune, chains, seed, cores, target_accept, progressbar, progress
    )
    link_name = _link(link)
    terms = build_joint_terms(
        panel,
        quality,
        hazard,
        group,
        duration=duration,
        duration_form=duration_form,
        spline_df=spline_df,
        time=time,
    )
    family = family_spec("bernoulli", link_name)
    prior_set = joint_priors(terms, link_name, priors)
    centred = centred_levels(terms, parameterization)
    model = build_joint_model(terms, prior_set, family, centred)
    layout = tuple((k, v.tobytes()) for k, v in centred.items())
    key = ("joint", link_name, prior_set.to_json(), joint_hash(terms), layout)
    with one_blas_thread():  # reruns byte-identical: see sustain.models.bayes.sampling
        idata = sample_posterior(model, settings, stored_names(model), key)
        _add_groups(idata, terms, family, log_likelihood)
    options = _Options(link_name, parameterization, duration, duration_form, seed)
    return _result(idata, terms, prior_set, settings, options, centred[terms.group])


def _link(link: str) -> str:
    if link not in ("cloglog", "logit"):
        raise SpecError(f"link={link!r} is not one of 'cloglog', 'logit'")
    return link


def joint_hash(terms: JointTerms) -> str:
    """SHA-256 of the arrays of both sub-models and the agency index.

    Examples
    --------
    >>> import sustain
    >>> panel = sustain.build_panel(sustain.datasets.example())
    >>> t = build_joint_terms(panel, "quality ~ hhi", "exit ~ hhi", "agency_id")
    >>> len(joint_hash(t))
    64
    """
    h = hashlib.sha256()
    h.update(terms_hash(terms.quality).encode())
    h.update(terms_hash(terms.hazard).encode())
    h.update("\x1f".join(terms.levels).encode())
    h.update(terms.quality_agency.tobytes())
    h.update(terms.hazard_agency.tobytes())
    return h.hexdigest()


def _add_groups(idata: Any, terms: JointTerms, family: FamilySpec, log_lik: bool) -> None:
    """Observed data and (optionally) the pointwise log-likelihood of both sub-models."""
    import xarray as xr

    q, h = terms.quality, terms.hazard
    q_dim, h_dim = f"{q.response}_dim_0", f"{h.response}_dim_0"
    idata["observed_data"] = xr.Dataset({q.response: ((q_dim,), q.y), h.response: ((h_dim,), h.y)})
    if not log_lik:
        return
    post = idata["posterior"].to_dataset()
    n_chain, n_draw = post.sizes["chain"], post.sizes["draw"]
    ll_q = np.empty((n_chain, n_draw, q.nobs))
    ll_h = np.empty((n_chain, n_draw, h.nobs))
    gaussian = family_spec("gaussian")
    for c in range(n_chain):  # one chain at a time bounds memory
        draws = {n: np.asarray(post[n].isel(chain=c)) for n in draw_names(terms)}
        sigma = {"sigma": draws["sigma"][:, None]}
        ll_q[c] = gaussian.log_prob(q.y, quality_mu(terms, draws), sigma)
        ll_h[c] = family.log_prob(h.y, hazard_eta(terms, draws), {})
    idata["log_likelihood"] = xr.Dataset(
        {
            q.response: (("chain", "draw", q_dim), ll_q),
            h.response: (("chain", "draw", h_dim), ll_h),
        },
        coords=sample_coords(idata),
    )


@dataclass(frozen=True)
class _Options:
    """Options of a fit that the result records."""

    link: str
    parameterization: str
    duration: str | None
    duration_form: str
    seed: int


def _result(
    idata: Any,
    terms: JointTerms,
    priors: PriorSet,
    settings: SamplerSettings,
    options: _Options,
    centred: np.ndarray,
) -> JointResults:
    names = reported_terms(terms)
    stats = headline_diagnostics(idata, names)
    stats.update(
        n_quality=float(terms.quality.nobs),
        n_hazard=float(terms.hazard.nobs),
        n_events=float(terms.hazard.y.sum()),
        draws=float(settings.draws),
        chains=float(settings.chains),
    )
    info = ModelInfo(
        model=f"Joint quality-survival ({options.link})",
        estimator="joint",
        depvar=f"{terms.quality.response}, {terms.hazard.response}",
        formula=f"{terms.quality.formula}; {terms.hazard.formula}",
        nobs=len(terms.quality.rows.union(terms.hazard.rows)),
        groups={
            terms.group: terms.n_agencies,
            **{g.name: g.n_levels for g in terms.quality.groups},
        },
        cov_type="posterior",
        stats=stats,
        link=options.link,
        notes=_notes(settings, options, stats, int(centred.sum()), terms.n_agencies),
    )
    result = JointResults(
        idata=idata,
        terms=names,
        info=info,
        quality_formula=terms.quality.formula,
        hazard_formula=terms.hazard.formula,
        group=terms.group,
        link=options.link,
        duration=options.duration,
        duration_form=options.duration_form,
        duration_terms=tuple(HAZARD_PREFIX + t for t in terms.duration_terms),
        prior_set=priors,
        parameterization=options.parameterization,
        n_centred=int(centred.sum()),
        data_hash=joint_hash(terms),
        sampler=settings.sampler,
        random_seed=options.seed,
    )
    result.stamp()
    return result


def _notes(
    settings: SamplerSettings,
    options: _Options,
    stats: Mapping[str, float],
    n_centred: int,
    n_agencies: int,
) -> tuple[str, ...]:
    notes = [
        f"Sampler: {settings.sampler}, {settings.chains} chains x {settings.draws} draws after "
        f"{settings.tune} warm-up, seed {options.seed}.",
        f"Agency effects: {n_centred} of {n_agencies} centred "
        f"(parameterization={options.parameterization!r}).",
        "Hazard terms carry the prefix 'hazard:'; 'association' multiplies the agency's "
        "quality effect in the hazard.",
    ]
    if stats["divergences"] > 0:
        notes.append(f"{int(stats['divergences'])} divergent transitions: raise target_accept.")
    return tuple(notes)
