"""The categorical family: a hierarchical multinomial logit (competing risks of exit, Bayesian).

For an outcome with a reference category (``stay``) and ``K`` others (the causes of exit),

.. math:: P(y_i = k) = \\frac{\\exp(\\eta_{ik})}{1 + \\sum_j \\exp(\\eta_{ij})},\\qquad
          \\eta_{ik} = \\alpha_k + x_i'\\beta_k + \\sum_g r_{g,k}[j_g(i)],\\quad
          r_{g,k} = \\mathrm{sd}_{g,k}\\, z_{g,k},\\ z \\sim N(0, 1),

one equation per category with its own coefficients and its own (non-centred) random
intercepts per grouping factor, so that a hierarchical discrete-time hazard can separate the
causes of exit (``fit_bayes(panel, "outcome ~ hhi + (1 | district)", family="categorical",
reference="stay")``). Parameters are named ``"<category>:<term>"`` (``merged:hhi``,
``merged:sd(1|district)``). Group terms are random intercepts (nested ones included);
varying slopes are refused. Priors follow the logit defaults of
:mod:`sustain.models.bayes.priors` per equation, the intercept located at the category's log
odds against the reference.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from sustain._typing import FloatArray
from sustain.errors import SpecError
from sustain.models.bayes.priors import Prior, PriorEntry, PriorSet, default_priors, parse_prior
from sustain.models.bayes.results import BayesResults
from sustain.models.bayes.terms import INTERCEPT, ModelTerms, build_terms, data_hash
from sustain.results import ModelInfo


@dataclass(frozen=True, eq=False)
class CategoricalBayesResults(BayesResults):
    """A fitted hierarchical multinomial logit (``family="categorical"``).

    Attributes
    ----------
    categories : tuple of str
        The non-reference categories, in the order of the equations.
    reference : str
        The reference category (its linear predictor is 0).

    Examples
    --------
    >>> CategoricalBayesResults.__mro__[1].__name__
    'BayesResults'
    """

    categories: tuple[str, ...] = ()
    reference: str = ""

    def equation(self, category: str) -> pd.Series:
        """Posterior means of one category's population-level terms."""
        prefix = f"{category}:"
        params = self.params
        keep = [t for t in params.index if t.startswith(prefix) and "sd(" not in t]
        return params[keep].rename(lambda t: t[len(prefix) :])


def outcome_codes(
    values: pd.Series, reference: str | None
) -> tuple[np.ndarray, tuple[str, ...], str]:
    """Integer codes of a categorical response: 0 for the reference, 1.. for the others.

    Examples
    --------
    >>> codes, cats, ref = outcome_codes(pd.Series(["stay", "merged", "closed"]), "stay")
    >>> codes.tolist(), cats, ref
    ([0.0, 2.0, 1.0], ('closed', 'merged'), 'stay')
    """
    present = values.dropna().astype(str)
    labels = sorted(set(present))
    if len(labels) < 2:
        raise SpecError("family='categorical' needs a response with at least two categories")
    ref = labels[0] if reference is None else str(reference)
    if ref not in labels:
        raise SpecError(f"reference={reference!r} is not a category of the response: {labels}")
    others = tuple(c for c in labels if c != ref)
    lookup = {ref: 0.0, **{c: float(i + 1) for i, c in enumerate(others)}}
    codes = values.astype("object").map(lambda v: lookup.get(str(v)) if pd.notna(v) else np.nan)
    return codes.to_numpy(dtype=float), others, ref


def categorical_priors(
    terms: ModelTerms, categories: tuple[str, ...], overrides: Mapping[str, str | Prior] | None
) -> PriorSet:
    """Logit default priors for every equation, named ``"<category>:<parameter>"``.

    Overrides are keyed by the full name (``"merged:hhi"``), a parameter of every equation
    (``"hhi"``, ``"sd(1|district)"``) or a class (``"Intercept"``, ``"b"``, ``"sd"``).

    Examples
    --------
    >>> df = pd.DataFrame({"y": [0.0, 1, 2, 0, 0, 1], "x": [0.1, 0.5, 0.9, 0.2, 0.3, 0.7]})
    >>> ps = categorical_priors(build_terms(df, "y ~ x"), ("a", "b"), {"b": "normal(0, 1)"})
    >>> ps.table()["parameter"].tolist()[:2], str(ps["b:x"])
    (['a:Intercept', 'a:x'], 'normal(0, 1)')
    """
    template = default_priors(terms, "bernoulli", "logit")
    counts = np.bincount(terms.y.astype(int), minlength=len(categories) + 1).astype(float)
    given = {k: parse_prior(v) for k, v in (overrides or {}).items()}
    entries = []
    for j, category in enumerate(categories):
        for entry in template.entries:
            prior = entry.prior
            if entry.parameter == INTERCEPT:
                loc = float(np.log(max(counts[j + 1], 0.5) / max(counts[0], 0.5)))
                prior = Prior("student_t", (3.0, round(loc, 3), 2.5))
            name = f"{category}:{entry.parameter}"
            source = "default"
            for key in (name, entry.parameter, entry.cls):
                if key in given:
                    prior, source = given[key], "user"
                    break
            entries.append(PriorEntry(name, entry.cls, prior, source))
    known = {e.parameter for e in entries} | {e.parameter for e in template.entries}
    unknown = [k for k in given if k not in known and k not in {e.cls for e in template.entries}]
    if unknown:
        raise SpecError(f"priors name unknown parameters {unknown}; see result.priors")
    return PriorSet(tuple(entries))


def build_categorical_model(
    terms: ModelTerms, priors: PriorSet, categories: tuple[str, ...]
) -> tuple[Any, list[str]]:
    """The PyMC model and the names of the variables to keep."""
    import pymc as pm
    import pytensor.tensor as pt

    slopes = terms.slope_matrix()
    xbar = slopes.mean(axis=0) if slopes.shape[1] else np.zeros(0)
    centred = slopes - xbar
    keep: list[str] = []
    with pm.Model(coords={g.name: list(g.levels) for g in terms.groups}) as model:
        etas = [pt.zeros(terms.nobs)]
        for category in categories:
            eta, names = _equation(terms, priors, category, centred, xbar)
            etas.append(eta)
            keep += names
        eta_all = pt.stack(etas, axis=1)
        y = terms.y.astype(np.int64)
        chosen = eta_all[np.arange(terms.nobs), y]
        pm.Potential(f"loglik:{terms.response}", (chosen - pt.logsumexp(eta_all, axis=1)).sum())
    return model, keep


def _equation(
    terms: ModelTerms,
    priors: PriorSet,
    category: str,
    centred: FloatArray,
    xbar: FloatArray,
) -> tuple[Any, list[str]]:
    import pymc as pm
    import pytensor.tensor as pt

    names = [f"{category}:{n}" for n in terms.slope_names]
    beta = [priors[n].to_pymc(n) for n in names]
    eta: Any = pt.zeros(terms.nobs)
    kept = list(names)
    if beta:
        eta = eta + pt.dot(centred, pt.stack(beta))
    if terms.has_intercept:
        alpha_c = priors[f"{category}:{INTERCEPT}"].to_pymc(f"{category}:Intercept_centred")
        shift = pt.dot(xbar, pt.stack(beta)) if beta else 0.0
        pm.Deterministic(f"{category}:{INTERCEPT}", alpha_c - shift)
        eta = eta + alpha_c
        kept.insert(0, f"{category}:{INTERCEPT}")
    for g in terms.groups:
        sd_name = f"{category}:{g.sd_name('1')}"
        sd = priors[sd_name].to_pymc(sd_name)
        z = pm.Normal(f"z({category}|{g.name})", 0.0, 1.0, dims=g.name)
        r = pm.Deterministic(f"{category}:{g.effect_name('1')}", z * sd, dims=g.name)
        eta = eta + r[g.index]
        kept += [sd_name, f"{category}:{g.effect_name('1')}"]
    return eta, kept


def pointwise_log_likelihood(
    terms: ModelTerms, posterior: Any, categories: tuple[str, ...]
) -> FloatArray:
    """Log-likelihood of each row under each draw, shape (chains, draws, n), chain by chain."""
    n_chain, n_draw = posterior.sizes["chain"], posterior.sizes["draw"]
    out = np.empty((n_chain, n_draw, terms.nobs))
    y = terms.y.astype(np.int64)
    for c in range(n_chain):
        eta = np.zeros((n_draw, terms.nobs, len(categories) + 1))
        for k, category in enumerate(categories, start=1):
            eta[:, :, k] = _eta_draws(terms, posterior, category, c)
        chosen = np.take_along_axis(eta, y[None, :, None], axis=2)[:, :, 0]
        out[c] = chosen - special.logsumexp(eta, axis=2)
    return out


def _eta_draws(terms: ModelTerms, posterior: Any, category: str, chain: int) -> FloatArray:
    def draws(name: str) -> FloatArray:
        return np.asarray(posterior[f"{category}:{name}"])[chain]

    eta = np.zeros((posterior.sizes["draw"], terms.nobs))
    if terms.has_intercept:
        eta += draws(INTERCEPT)[:, None]
    slopes = terms.slope_matrix()
    for j, name in enumerate(terms.slope_names):
        eta += draws(name)[:, None] * slopes[:, j][None, :]
    for g in terms.groups:
        eta += draws(g.effect_name("1"))[:, g.index]
    return eta


def fit_categorical(
    data: pd.DataFrame,
    formula: str,
    *,
    reference: str | None,
    priors: Mapping[str, str | Prior] | None,
    settings: Any,
    seed: int,
    log_likelihood: bool,
) -> CategoricalBayesResults:
    """The ``family="categorical"`` branch of :func:`sustain.fit_bayes` (see its parameters).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"x": rng.normal(size=300)})
    >>> df["y"] = np.where(rng.random(300) < 0.2, "a", np.where(rng.random(300) < 0.2, "b", "c"))
    >>> from sustain.models.bayes.fit import sampler_settings
    >>> res = fit_categorical(df, "y ~ x", reference="c", priors=None,
    ...                       settings=sampler_settings("pymc", 200, 200, 2, 1, 1, None), seed=1,
    ...                       log_likelihood=False)
    >>> res.terms
    ('a:Intercept', 'a:x', 'b:Intercept', 'b:x')
    """
    from sustain.models.bayes.fit import headline_diagnostics
    from sustain.models.bayes.sampling import sample_posterior
    from sustain.models.survival.spells import as_columns

    frame = as_columns(data)
    response = formula.split("~", 1)[0].strip()
    if response not in frame.columns:
        raise SpecError(f"formula {formula!r}: response {response!r} not found")
    codes, categories, ref = outcome_codes(frame[response], reference)
    terms = build_terms(frame.assign(**{response: codes}), formula)
    if any(g.k > 1 or g.coefs != ("1",) for g in terms.groups):
        raise SpecError("family='categorical' takes random intercepts (1 | g) only")
    prior_set = categorical_priors(terms, categories, priors)
    model, keep = build_categorical_model(terms, prior_set, categories)
    key = ("categorical", prior_set.to_json(), data_hash(terms), categories)
    idata = sample_posterior(model, settings, keep, key)
    if log_likelihood:
        import xarray as xr

        ll = pointwise_log_likelihood(terms, idata["posterior"].to_dataset(), categories)
        dims = ("chain", "draw", f"{response}_dim_0")
        coords = {d: np.asarray(idata["posterior"][d].values) for d in ("chain", "draw")}
        idata["log_likelihood"] = xr.Dataset({response: (dims, ll)}, coords=coords)
    names = tuple(n for n in keep if not any(n.endswith(g.effect_name("1")) for g in terms.groups))
    stats = headline_diagnostics(idata, names)
    info = ModelInfo(
        model="Bayesian hierarchical (categorical)",
        estimator="bayes",
        depvar=f"{response} (reference {ref})",
        formula=formula,
        nobs=terms.nobs,
        groups={g.name: g.n_levels for g in terms.groups},
        cov_type="posterior",
        stats=stats,
        link="mlogit",
        exp_name="RRR",
        notes=(
            f"Sampler: {settings.sampler}, {settings.chains} chains x {settings.draws} draws "
            f"after {settings.tune} warm-up, seed {seed}.",
            f"Multinomial logit against {ref!r}; coefficients are log relative risk ratios.",
        ),
    )
    result = CategoricalBayesResults(
        idata=idata,
        terms=names,
        info=info,
        formula=formula,
        family="categorical",
        link="logit",
        prior_set=prior_set,
        data_hash=data_hash(terms),
        sampler=settings.sampler,
        random_seed=seed,
        categories=categories,
        reference=ref,
    )
    result.stamp()
    return result
