"""``fit_bayes``: formula -> arrays -> priors -> PyMC model -> NUTS -> DataTree -> result."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sustain._threads import one_blas_thread
from sustain.errors import SpecError
from sustain.limits import check_bound
from sustain.models.bayes import collapsed as coll
from sustain.models.bayes.collapsed_model import (
    MIXING_PREFIX,
    build_collapsed_model,
    fixed_scale_draws,
)
from sustain.models.bayes.families import FamilySpec, family_spec
from sustain.models.bayes.kernel_spec import collapsed_native, glmm_native, kernel_kind
from sustain.models.bayes.model import (
    CENTRED_INTERCEPT,
    build_full_model,
    check_unique_factors,
    reported_terms,
    stored_names,
)
from sustain.models.bayes.parameterization import centred_levels, describe, resolve_forms
from sustain.models.bayes.predictive import pointwise, prior_draws, prior_predictive
from sustain.models.bayes.priors import Prior, PriorSet, resolve_priors
from sustain.models.bayes.progress import SamplingProgress, show_progress
from sustain.models.bayes.results import BayesResults
from sustain.models.bayes.sampling import (
    SamplerSettings,
    resolve_sampler,
    sample_posterior,
)
from sustain.models.bayes.terms import INTERCEPT, ModelTerms, build_terms, data_hash
from sustain.results import ModelInfo


@dataclass(frozen=True)
class Seeds:
    """Independent seeds derived from one ``random_seed``.

    Examples
    --------
    >>> Seeds.from_seed(1) == Seeds.from_seed(1)
    True
    """

    sampler: int
    effects: int
    prior: int
    posterior_predictive: int

    @classmethod
    def from_seed(cls, seed: int) -> Seeds:
        """Spawn the seeds of one fit from ``seed`` with :class:`numpy.random.SeedSequence`."""
        children = np.random.SeedSequence(seed).spawn(4)
        return cls(*(int(c.generate_state(1, np.uint32)[0]) for c in children))


def fit_bayes(
    data: pd.DataFrame,
    formula: str,
    family: str = "gaussian",
    *,
    link: str | None = None,
    priors: Mapping[str, str | Prior] | None = None,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    random_seed: int | None = None,
    sampler: str = "auto",
    trials: str | int | None = None,
    collapse: bool | str = "auto",
    parameterization: str | Mapping[str, str] = "auto",
    target_accept: float | None = None,
    cores: int | None = None,
    prior_predictive: bool = True,
    posterior_predictive: bool = True,
    log_likelihood: bool = True,
    progressbar: bool | None = None,
    progress: Callable[[SamplingProgress], None] | None = None,
    reference: str | None = None,
) -> BayesResults:
    """Fit a Bayesian hierarchical regression written as an lme4/brms-style formula.

    Parameters
    ----------
    data : DataFrame
        One row per observation (named index levels may be used as variables).
    formula : str
        ``"y ~ x + C(tier) + (1 | district/agency_id) + (x | tier)"``: population-level
        terms through formulaic, group terms ``(1 | g)``, nested ``(1 | a/b)``, crossed
        ``(1 | a) + (1 | b)``, varying slopes ``(x | g)`` (correlated) or ``(x || g)``.
    family : {"gaussian", "student_t", "bernoulli", "binomial", "poisson", "categorical"}
        ``"categorical"``: a multinomial logit with one equation per category against
        ``reference``, random intercepts per equation (competing risks of exit; see
        :mod:`sustain.models.bayes.categorical`).
    link : str, optional
        ``"logit"`` (default) or ``"cloglog"`` for bernoulli and binomial; families with one
        link take it by default.
    priors : mapping, optional
        Overrides of the default priors by parameter (``"hhi"``, ``"sigma"``,
        ``"sd(1|district)"``, ``"cor(tier)"``) or class (``"b"``, ``"sd"``, ``"cor"``), e.g.
        ``{"hhi": "normal(0, 2)"}``. See ``result.priors`` for the table used.
    draws, tune, chains : int
        Posterior draws and warm-up iterations per chain; number of chains.
    random_seed : int, optional
        Makes the whole result reproducible (sampler, exact group-effect draws, predictive
        draws). ``None`` draws a fresh seed, recorded in ``result.random_seed``.
    sampler : {"auto", "nutpie", "pymc", "numpyro"}
        ``"auto"`` is nutpie when installed (fastest here), else PyMC's NUTS.
    trials : str or int, optional
        Binomial number of trials: a column name or one number for all rows.
    collapse : {"auto", True, False}
        Integrate the group effects of a Gaussian model out analytically and draw them exactly
        afterwards (see ``docs/models/bayes.md``): possible when one group term is a random
        intercept alone, e.g. ``(1 | agency_id)``, and the other group effects have at most
        300 columns (levels x varying coefficients). ``"auto"`` does so whenever the model
        allows it; ``True`` raises when it does not; ``False`` always samples the full model.
    parameterization : {"auto", "centred", "non_centred"} or mapping
        Form of the group effects in the full model (families other than gaussian, or
        ``collapse=False``): one form for every grouping factor, or ``{factor: form}`` (others
        ``"auto"``). ``"auto"`` centres the levels whose own data pin their effect down
        (information ratio >= 1 at a lower 95% bound of the between-level variance and, for
        discrete responses, at least 5 events; see
        :mod:`sustain.models.bayes.parameterization`) and leaves the rest non-centred.
        ``"noncentred"`` is accepted for ``"non_centred"``.
    target_accept : float, optional
        NUTS target acceptance rate (raise towards 0.95 if there are divergences).
    cores : int, optional
        Chains run in parallel (default: ``min(chains, CPU count)``).
    prior_predictive, posterior_predictive, log_likelihood : bool
        Store prior draws with simulated responses, posterior predictive responses and the
        pointwise log-likelihood (for LOO/WAIC) in ``result.idata``.
    progressbar : bool, optional
        Show a one-line bar on standard error while compiling and sampling: chains,
        iterations done, divergences so far and an ETA. ``None`` (default): when standard
        error is a terminal. ``False`` is silent.
    progress : callable, optional
        Called about twice a second with a
        :class:`~sustain.models.bayes.progress.SamplingProgress` (phase, iterations done and
        to do, divergences, ETA) while the model compiles and samples, e.g. to log progress
        from a pipeline (nutpie only).
    reference : str, optional
        ``family="categorical"``: the reference category of the response (default: the
        first in sorted order).

    Returns
    -------
    BayesResults

    Raises
    ------
    SpecError
        Invalid formula, option, prior or response for the family.
    FitError
        No usable rows, rank-deficient design, or the sampler failed.

    Examples
    --------
    >>> import numpy as np, pandas as pd, sustain
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"x": rng.normal(size=80), "g": np.repeat(list("abcdefgh"), 10)})
    >>> df["y"] = 2 + df["x"] + np.repeat(rng.normal(0, 1, 8), 10) + rng.normal(size=80)
    >>> bm = sustain.fit_bayes(df, "y ~ x + (1 | g)", draws=300, tune=300, chains=2,
    ...                        random_seed=1)
    >>> bool(abs(bm.params["x"] - 1) < 0.3), bm.idata.posterior["r(1|g)"].dims
    (True, ('chain', 'draw', 'g'))
    """
    check_sampling_bounds(draws, tune, chains, random_seed, cores, target_accept)
    seed = check_seed(random_seed)
    settings = sampler_settings(
        sampler, draws, tune, chains, seed, cores, target_accept, progressbar, progress
    )
    if family == "categorical":  # a model of its own: one linear predictor per category
        from sustain.models.bayes.categorical import fit_categorical

        with one_blas_thread():
            return fit_categorical(
                data,
                formula,
                reference=reference,
                priors=priors,
                settings=settings,
                seed=seed,
                log_likelihood=log_likelihood,
            )
    fam = family_spec(family, link)
    with one_blas_thread():
        return _fit(
            data,
            formula,
            fam,
            settings,
            seed,
            priors,
            trials,
            collapse,
            parameterization,
            (prior_predictive, posterior_predictive, log_likelihood),
        )


def _fit(
    data: pd.DataFrame,
    formula: str,
    fam: FamilySpec,
    settings: SamplerSettings,
    seed: int,
    priors: Mapping[str, str | Prior] | None,
    trials: str | int | None,
    collapse: bool | str,
    parameterization: str | Mapping[str, str],
    stored: tuple[bool, bool, bool],
) -> BayesResults:
    terms = build_terms(data, formula, trials)
    check_unique_factors(terms.groups)
    fam.check_response(terms.y, terms.trials, terms.response)
    prior_set = resolve_priors(terms, fam.name, fam.link, priors)
    resolve_forms(terms, parameterization)  # refuse bad values whichever path runs
    plan = _collapse_plan(terms, fam, collapse)
    kind = kernel_kind(terms, fam, plan) if settings.sampler == "nutpie" else None
    if kind is not None:  # compile (or load) the kernel while the model is built
        from sustain.models.bayes.kernel import compile_in_background

        compile_in_background(kind)
    if plan is not None:
        idata = _sample_collapsed(terms, prior_set, fam, plan, settings, seed)
        note = "Group effects integrated out analytically, then drawn exactly."
    else:
        centred = centred_levels(terms, fam, parameterization)
        model = build_full_model(terms, prior_set, fam, centred)
        key = (*_full_key(terms, prior_set, fam), tuple(c.tobytes() for c in centred))
        kernel = None
        if settings.sampler == "nutpie":  # else PyMC's own NUTS evaluates its own graph
            kernel = glmm_native(model, terms, prior_set, fam, centred)
        idata = sample_posterior(model, settings, stored_names(model), key, kernel)
        note = describe(terms.groups, centred) if terms.groups else ""
    _add_groups(idata, terms, prior_set, fam, seed, *stored)
    return _result(idata, terms, prior_set, fam, settings, seed, plan is not None, trials, note)


def check_seed(random_seed: int | None) -> int:
    """The model's seed: ``random_seed`` checked, or a fresh one drawn when it is ``None``.

    Examples
    --------
    >>> check_seed(7)
    7
    """
    if random_seed is None:
        return int(np.random.SeedSequence().generate_state(1, np.uint32)[0])
    if isinstance(random_seed, bool) or not isinstance(random_seed, int | np.integer):
        raise SpecError(f"random_seed must be an integer, not {random_seed!r}")
    if random_seed < 0:
        raise SpecError(f"random_seed must be >= 0, not {random_seed}")
    return int(random_seed)


def check_sampling_bounds(
    draws: object,
    tune: object,
    chains: object,
    random_seed: object,
    cores: object = None,
    target_accept: object = None,
) -> None:
    """Check the sampling options against :data:`sustain.limits.OPTION_BOUNDS`.

    Runs before anything is built or compiled, so ``draws=1e12`` or ``chains=0`` fail at once
    with a :class:`~sustain.errors.SpecError` that states the bound.

    Examples
    --------
    >>> check_sampling_bounds(1000, 1000, 4, 1)
    >>> check_sampling_bounds(10**12, 1000, 4, 1)
    Traceback (most recent call last):
    ...
    sustain.errors.SpecError: draws = 1000000000000 is out of bounds: draws must be between 1 and 100000
    """
    options = {
        "draws": draws,
        "tune": tune,
        "chains": chains,
        "random_seed": random_seed,
        "cores": cores,
        "target_accept": target_accept,
    }
    for name, value in options.items():
        if isinstance(value, np.integer | np.floating):
            value = value.item()  # numpy scalars are checked as the numbers they hold
        check_bound(name, value)


def sampler_settings(
    sampler: str,
    draws: int,
    tune: int,
    chains: int,
    seed: int,
    cores: int | None,
    target_accept: float | None,
    progressbar: bool | None = False,
    progress: Callable[[SamplingProgress], None] | None = None,
) -> SamplerSettings:
    """NUTS settings with the sampler resolved and the sampler's seed derived from ``seed``.

    Examples
    --------
    >>> sampler_settings("pymc", 500, 500, 2, 1, None, None).draws
    500
    """
    sampler_seed = Seeds.from_seed(seed).sampler
    return SamplerSettings(
        resolve_sampler(sampler),
        draws,
        tune,
        chains,
        sampler_seed,
        cores,
        target_accept,
        show_progress(progressbar),
        progress,
    )


def _collapse_plan(
    terms: ModelTerms, fam: FamilySpec, collapse: bool | str
) -> coll.CollapsePlan | None:
    if not (collapse is True or collapse is False or collapse == "auto"):
        raise SpecError(f"collapse must be 'auto', True or False, not {collapse!r}")
    if collapse is False:
        return None
    obstacle = coll.collapse_obstacle(terms, fam)
    if obstacle is not None and collapse is True:
        raise SpecError(
            f"collapse=True needs a gaussian model with a random intercept alone, e.g. "
            f"(1 | agency_id), and at most {coll.MAX_COLUMNS} columns of other group effects: "
            f"{obstacle}"
        )
    return coll.collapse_plan(terms, fam)


def _full_key(terms: ModelTerms, priors: PriorSet, fam: FamilySpec) -> tuple[Any, ...]:
    return ("full", fam.name, fam.link, priors.to_json(), data_hash(terms))


def _sample_collapsed(
    terms: ModelTerms,
    priors: PriorSet,
    fam: FamilySpec,
    plan: coll.CollapsePlan,
    settings: SamplerSettings,
    seed: int,
) -> Any:
    stats = coll.collapsed_stats(terms, plan, priors)
    model = build_collapsed_model(terms, priors, fam, stats)
    shapes = tuple(np.shape(v) for v in coll.data_values(stats).values())
    layout = (plan.big.name, tuple((g.name, g.coefs, g.correlated) for g in plan.others))
    key = ("collapsed", fam.name, priors.to_json(), terms.x_names, stats.n_obs, shapes, layout)
    kernel = collapsed_native(model, stats, priors) if settings.sampler == "nutpie" else None
    idata = sample_posterior(model, settings, stored_names(model), key, kernel)
    post = idata["posterior"].to_dataset()  # a Dataset: DataTree nodes take no (dims, values)
    n_chain, n_draw = post.sizes["chain"], post.sizes["draw"]
    n = n_chain * n_draw

    def flat(name: str) -> np.ndarray:
        values = np.asarray(post[name])
        return values.reshape(n, *values.shape[2:])

    mixing = {v: flat(v) for v in list(post.data_vars) if v.startswith(MIXING_PREFIX)}
    scales = fixed_scale_draws(plan.fixed, priors, mixing, n)
    for g in plan.others:
        sds = np.column_stack([flat(g.sd_name(c)) for c in g.coefs])
        cpc = flat(f"cpc({g.name})") if g.k > 1 and g.correlated else None
        scales.append(coll.scale_factors(sds, cpc))
    rng = np.random.default_rng(Seeds.from_seed(seed).effects)
    beta, u = coll.draw_coefficients(stats, flat("sigma"), flat(plan.big.sd_name("1")), scales, rng)
    draws = coll.effects_by_name(plan, beta, u)
    if terms.has_intercept:
        slopes = [draws[name] for name in terms.slope_names]
        shift = np.column_stack(slopes) @ stats.x_center if slopes else 0.0
        draws[INTERCEPT] = draws[CENTRED_INTERCEPT] - shift
    for name in (*plan.fixed, *([INTERCEPT] if terms.has_intercept else [])):
        post[name] = (("chain", "draw"), draws[name].reshape(n_chain, n_draw))
    for g in terms.groups:
        for coef in g.coefs:
            values = draws[g.effect_name(coef)].reshape(n_chain, n_draw, g.n_levels)
            post[g.effect_name(coef)] = (("chain", "draw", g.name), values)
        post.coords[g.name] = list(g.levels)
    idata["posterior"] = post.drop_vars(list(mixing))
    return idata


def _add_groups(
    idata: Any,
    terms: ModelTerms,
    priors: PriorSet,
    fam: FamilySpec,
    seed: int,
    prior_pred: bool,
    post_pred: bool,
    log_lik: bool,
) -> None:
    import xarray as xr

    obs_dim = f"{terms.response}_dim_0"
    idata["observed_data"] = xr.Dataset({terms.response: ((obs_dim,), terms.y)})
    seeds = Seeds.from_seed(seed)
    ll, rep = pointwise(
        terms,
        fam,
        idata["posterior"].to_dataset(),
        np.random.default_rng(seeds.posterior_predictive),
        log_likelihood=log_lik,
        predictive=post_pred,
    )
    dims = ("chain", "draw", obs_dim)
    coords = sample_coords(idata)
    if ll is not None:
        idata["log_likelihood"] = xr.Dataset({terms.response: (dims, ll)}, coords=coords)
    if rep is not None:
        idata["posterior_predictive"] = xr.Dataset({terms.response: (dims, rep)}, coords=coords)
    if prior_pred:
        n = idata["posterior"].sizes["draw"]
        rng = np.random.default_rng(seeds.prior)
        draws = prior_draws(terms, priors, fam, rng, n)
        y = prior_predictive(terms, fam, draws, rng)
        prior_coords = {"chain": [0], "draw": np.arange(n)}
        idata["prior"] = xr.Dataset(
            {k: _prior_var(terms, k, v) for k, v in draws.items()},
            coords={**prior_coords, **{g.name: list(g.levels) for g in terms.groups}},
        )
        idata["prior_predictive"] = xr.Dataset(
            {terms.response: (dims, y[None])}, coords=prior_coords
        )


def sample_coords(idata: Any) -> dict[str, np.ndarray]:
    """The posterior's ``chain`` and ``draw`` coordinates, for groups built from its draws.

    Examples
    --------
    >>> import arviz as az, numpy as np
    >>> idata = az.from_dict({"posterior": {"x": np.zeros((2, 3))}})
    >>> {k: v.tolist() for k, v in sample_coords(idata).items()}
    {'chain': [0, 1], 'draw': [0, 1, 2]}
    """
    post = idata["posterior"]
    return {dim: np.asarray(post[dim].values) for dim in ("chain", "draw")}


def _prior_var(terms: ModelTerms, name: str, values: np.ndarray) -> Any:
    for g in terms.groups:
        if name in {g.effect_name(c) for c in g.coefs}:
            return (("chain", "draw", g.name), values[None])
    return (("chain", "draw"), values[None])


def headline_diagnostics(idata: Any, names: tuple[str, ...]) -> dict[str, float]:
    """Max R-hat, min bulk ESS over ``names`` and the number of divergences (``info.stats``).

    Examples
    --------
    >>> import arviz as az, numpy as np
    >>> rng = np.random.default_rng(0)
    >>> idata = az.from_dict({"posterior": {"x": rng.normal(size=(2, 200))},
    ...                       "sample_stats": {"diverging": np.zeros((2, 200), bool)}})
    >>> d = headline_diagnostics(idata, ("x",))
    >>> bool(d["rhat_max"] < 1.02), d["divergences"]
    (True, 0.0)
    """
    import arviz as az

    post = idata["posterior"].to_dataset()[list(names)]
    rhat = az.rhat(post)
    ess = az.ess(post, method="bulk")
    return {
        "rhat_max": float(max(float(rhat[n]) for n in names)),
        "ess_bulk_min": float(min(float(ess[n]) for n in names)),
        "divergences": float(int(idata.sample_stats["diverging"].sum())),
    }


def _result(
    idata: Any,
    terms: ModelTerms,
    priors: PriorSet,
    fam: FamilySpec,
    settings: SamplerSettings,
    seed: int,
    collapsed: bool,
    trials: str | int | None,
    note: str = "",
) -> BayesResults:
    names = reported_terms(terms, fam)
    stats = headline_diagnostics(idata, names)
    stats.update(draws=float(settings.draws), chains=float(settings.chains))
    notes = [
        f"Sampler: {settings.sampler}, {settings.chains} chains x {settings.draws} draws "
        f"after {settings.tune} warm-up, seed {seed}."
    ]
    if note:
        notes.append(note)
    if stats["divergences"] > 0:
        notes.append(f"{int(stats['divergences'])} divergent transitions: raise target_accept.")
    label = (
        fam.name if fam.name in ("gaussian", "student_t", "poisson") else f"{fam.name}, {fam.link}"
    )
    info = ModelInfo(
        model=f"Bayesian hierarchical ({label})",
        estimator="bayes",
        depvar=terms.response,
        formula=terms.formula,
        nobs=terms.nobs,
        groups={g.name: g.n_levels for g in terms.groups},
        cov_type="posterior",
        stats=stats,
        link=fam.link,
        exp_name=_exp_name(fam),
        notes=tuple(notes),
    )
    result = BayesResults(
        idata=idata,
        terms=names,
        info=info,
        formula=terms.formula,
        family=fam.name,
        link=fam.link,
        prior_set=priors,
        data_hash=data_hash(terms),
        sampler=settings.sampler,
        collapsed=collapsed,
        random_seed=seed,
        trials=trials,
    )
    result.stamp()
    return result


def _exp_name(fam: FamilySpec) -> str | None:
    if fam.name in ("bernoulli", "binomial"):
        return "HR" if fam.link == "cloglog" else "OR"
    return "IRR" if fam.name == "poisson" else None


__all__ = ["INTERCEPT", "SamplingProgress", "Seeds", "fit_bayes"]
