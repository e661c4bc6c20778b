"""Prior draws, linear predictors, pointwise log-likelihood and predictive draws, in numpy.

These run after sampling on the stored draws, for the full and the collapsed models alike, so
no second model needs compiling: the linear predictor of every draw is rebuilt from the
population-level coefficients and the group effects ``r(coef|factor)``, and the family's
log-density and simulator (:mod:`sustain.models.bayes.families`) do the rest. Work is done
chain by chain, in blocks of draws (:data:`BLOCK_BYTES`), to bound memory and time (a chain of
1,000 draws of 10,000 rows is 80 MB per array).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from sustain._typing import FloatArray
from sustain.models.bayes.families import FamilySpec
from sustain.models.bayes.model import CENTRED_INTERCEPT, cholesky_rows, cpc_pairs
from sustain.models.bayes.priors import PriorSet
from sustain.models.bayes.terms import INTERCEPT, ModelTerms

#: Bytes of one (draws x rows) temporary of :func:`pointwise`: draws are processed in blocks of
#: this size. Whole-chain temporaries (75 MB for 1,000 draws of 9,400 rows) are mapped and
#: unmapped by the C allocator at every numpy operation, and the worker threads then spend
#: most of their time in the kernel faulting pages in again. Measured on the 9,400-row hazard
#: (4 chains x 1,000 draws, 2 threads, in ``fit_bayes``): whole chains 0.7-1.4 s, blocks of
#: 4 MiB 0.85 s (still 157,000 page faults), 1 MiB 0.32-0.45 s, 256 KiB 0.7-0.9 s (numpy's
#: per-call overhead). The results do not depend on the size: the linear predictor is summed
#: elementwise in a fixed order (:func:`linear_predictor`), the densities are elementwise, and
#: random variates are drawn block after block from each chain's stream, consuming it as one
#: call for the whole chain would (numpy's Generator draws element after element, C order).
BLOCK_BYTES = 2**20


def linear_predictor(terms: ModelTerms, draws: Mapping[str, FloatArray]) -> FloatArray:
    """``eta`` of every draw, shape (S, n), from draws keyed by parameter name.

    ``draws[term]`` has shape (S,) for population-level terms and (S, n_levels) for group
    effects ``r(coef|factor)``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sustain.models.bayes.terms import build_terms
    >>> t = build_terms(pd.DataFrame({"y": [1.0, 2, 4], "x": [0.0, 1, 2], "g": list("aab")}),
    ...                 "y ~ x + (1 | g)")
    >>> d = {"Intercept": np.array([1.0]), "x": np.array([2.0]), "r(1|g)": np.array([[0.5, -1]])}
    >>> linear_predictor(t, d).tolist()
    [[1.5, 3.5, 4.0]]
    """
    # Column after column, elementwise, not one BLAS product: BLAS rounds a product of one
    # draw (gemv) differently from one of several (gemm), so eta would depend on how draws
    # are grouped into blocks (:func:`pointwise`) and on the BLAS build.
    eta: FloatArray | None = None
    for j, name in enumerate(terms.x_names):
        term = np.multiply.outer(np.asarray(draws[name], dtype=np.float64), terms.X[:, j])
        eta = term if eta is None else np.add(eta, term, out=eta)
    if eta is None:  # no population-level term
        first = next(iter(draws.values()))
        eta = np.zeros((np.shape(first)[0], terms.nobs))
    for g in terms.groups:
        for j, coef in enumerate(g.coefs):
            effect = np.asarray(draws[g.effect_name(coef)])[:, g.index]
            eta += effect if coef == "1" else effect * g.Z[:, j]
    return eta


def _scale_draws(family: FamilySpec, draws: Mapping[str, FloatArray]) -> dict[str, FloatArray]:
    return {name: np.asarray(draws[name])[:, None] for name in family.scale_params}


def pointwise(
    terms: ModelTerms,
    family: FamilySpec,
    posterior: Any,
    rng: np.random.Generator,
    log_likelihood: bool = True,
    predictive: bool = True,
) -> tuple[FloatArray | None, FloatArray | None]:
    """Pointwise log-likelihood and posterior predictive draws, each (chains, draws, n).

    ``posterior`` is the ``posterior`` group of a result's ``idata`` as an xarray Dataset
    (``idata["posterior"].to_dataset()``). Chains are processed in parallel threads (numpy
    releases the GIL in its loops), each with its own random stream spawned from ``rng``, so
    the draws do not depend on the number of threads or their timing.
    """
    names = list(terms.x_names) + list(family.scale_params)
    names += [g.effect_name(c) for g in terms.groups for c in g.coefs]
    n_chain, n_draw = posterior.sizes["chain"], posterior.sizes["draw"]
    shape = (n_chain, n_draw, terms.nobs)
    ll = np.empty(shape) if log_likelihood else None
    rep = np.empty(shape) if predictive else None
    streams = rng.spawn(n_chain)

    block = max(1, BLOCK_BYTES // (8 * max(terms.nobs, 1)))

    def one_chain(c: int) -> None:
        chain = {n: np.asarray(posterior[n].isel(chain=c)) for n in names}
        for start in range(0, n_draw, block):
            draws = {n: v[start : start + block] for n, v in chain.items()}
            eta = linear_predictor(terms, draws)
            scale = _scale_draws(family, draws)
            if ll is not None:
                ll[c, start : start + block] = family.log_prob(terms.y, eta, scale, terms.trials)
            if rep is not None:  # a block's variates follow the last block's in the stream
                rep[c, start : start + block] = family.simulate(
                    streams[c], eta, scale, terms.trials
                )

    workers = max(1, min(n_chain, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one_chain, range(n_chain)))  # list(): re-raises a worker's exception
    return ll, rep


def prior_draws(
    terms: ModelTerms,
    priors: PriorSet,
    family: FamilySpec,
    rng: np.random.Generator,
    n: int,
) -> dict[str, FloatArray]:
    """``n`` draws of every parameter from the prior, including group effects.

    Returns arrays of shape (n,) for scalars and (n, n_levels) for group effects.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sustain.models.bayes.terms import build_terms
    >>> from sustain.models.bayes.priors import default_priors
    >>> from sustain.models.bayes.families import family_spec
    >>> t = build_terms(pd.DataFrame({"y": [1.0, 2, 4], "x": [0.0, 1, 2], "g": list("aab")}),
    ...                 "y ~ x + (1 | g)")
    >>> d = prior_draws(t, default_priors(t, "gaussian", "identity"), family_spec("gaussian"),
    ...                 np.random.default_rng(0), 10)
    >>> d["r(1|g)"].shape, d["Intercept"].shape
    ((10, 2), (10,))
    """
    out: dict[str, FloatArray] = {}
    for name in terms.slope_names:
        out[name] = priors[name].draw(rng, n)
    if terms.has_intercept:
        centred = priors[INTERCEPT].draw(rng, n)
        out[CENTRED_INTERCEPT] = centred
        slopes = terms.slope_matrix()
        shift = np.zeros(n)
        for j, name in enumerate(terms.slope_names):
            shift += out[name] * slopes[:, j].mean()
        out[INTERCEPT] = centred - shift
    for name in family.scale_params:
        out[name] = priors[name].draw(rng, n)
    for g in terms.groups:
        sds = np.column_stack([priors[g.sd_name(c)].draw(rng, n) for c in g.coefs])
        for j, coef in enumerate(g.coefs):
            out[g.sd_name(coef)] = sds[:, j]
        z = rng.standard_normal((n, g.n_levels, g.k))
        if g.k > 1 and g.correlated:
            corr = _lkj_draws(g.k, priors[g.lkj_name].kwargs["eta"], n, rng)
            z = np.einsum("slk,smk->slm", z, np.linalg.cholesky(corr))
            for i in range(g.k):
                for j in range(i + 1, g.k):
                    out[g.cor_name(g.coefs[i], g.coefs[j])] = corr[:, i, j]
        for j, coef in enumerate(g.coefs):
            out[g.effect_name(coef)] = z[:, :, j] * sds[:, j, None]
    return out


def _lkj_draws(k: int, eta: float, n: int, rng: np.random.Generator) -> FloatArray:
    """LKJ(eta) correlation matrices, shape (n, k, k), by the C-vine construction."""
    pairs, betas = cpc_pairs(k, eta)
    cpc = {pair: 2.0 * rng.beta(b, b, n) - 1.0 for pair, b in zip(pairs, betas, strict=True)}
    rows = cholesky_rows(cpc, k, np.sqrt, np.zeros(n))
    chol = np.stack(
        [np.stack([np.broadcast_to(v, (n,)) for v in row], axis=-1) for row in rows], axis=-2
    )
    return np.einsum("nij,nkj->nik", chol, chol)


def prior_predictive(
    terms: ModelTerms,
    family: FamilySpec,
    draws: Mapping[str, FloatArray],
    rng: np.random.Generator,
) -> FloatArray:
    """Responses simulated from prior parameter draws, shape (n_draws, n)."""
    eta = linear_predictor(terms, draws)
    return family.simulate(rng, eta, _scale_draws(family, draws), terms.trials)
