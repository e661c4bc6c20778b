"""Pointwise log-likelihood and predictive draws do not depend on how draws are blocked.

``pointwise`` works through each chain in blocks of draws (``BLOCK_BYTES``) on parallel
threads; the results must be the same bits whatever the block size: one draw per block, a
last block of one draw (where a BLAS product would switch from gemm to gemv and round
differently), or the whole chain at once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from sustain.models.bayes import predictive
from sustain.models.bayes.families import family_spec
from sustain.models.bayes.terms import build_terms

FAMILIES = [
    ("gaussian", None),
    ("student_t", None),
    ("poisson", None),
    ("bernoulli", "logit"),
    ("bernoulli", "cloglog"),
    ("binomial", "logit"),
]
N_ROWS, N_CHAINS, N_DRAWS = 60, 3, 7


def problem(family: str):
    rng = np.random.default_rng(4)
    df = pd.DataFrame(
        {
            "x": rng.normal(size=N_ROWS),
            "w": rng.normal(size=N_ROWS),
            "g": rng.choice(list("abcde"), N_ROWS),
            "n": rng.integers(1, 6, N_ROWS),
        }
    )
    if family in ("gaussian", "student_t"):
        df["y"] = rng.normal(size=N_ROWS)
    elif family == "poisson":
        df["y"] = rng.poisson(2.0, N_ROWS)
    elif family == "bernoulli":
        df["y"] = rng.integers(0, 2, N_ROWS)
    else:
        df["y"] = rng.binomial(df["n"], 0.4)
    terms = build_terms(df, "y ~ x + w + (x | g)", "n" if family == "binomial" else None)
    return terms, posterior(terms, family_spec(family).scale_params, rng)


def posterior(terms, scale_params, rng) -> xr.Dataset:
    shape = (N_CHAINS, N_DRAWS)
    data = {n: (("chain", "draw"), rng.normal(0, 0.5, shape)) for n in terms.x_names}
    for name in scale_params:
        data[name] = (("chain", "draw"), rng.uniform(1.0, 4.0, shape))
    for g in terms.groups:
        for coef in g.coefs:
            values = rng.normal(0, 0.5, (*shape, g.n_levels))
            data[g.effect_name(coef)] = (("chain", "draw", g.name), values)
    return xr.Dataset(data)


@pytest.mark.parametrize(("family", "link"), FAMILIES)
def test_pointwise_is_the_same_whatever_the_block_size(family, link, monkeypatch) -> None:
    terms, post = problem(family)
    fam = family_spec(family, link)
    results = {}
    # one draw per block; 3 draws (the last block holds one); the whole chain
    for draws_per_block in (1, 3, N_DRAWS):
        monkeypatch.setattr(predictive, "BLOCK_BYTES", 8 * N_ROWS * draws_per_block)
        rng = np.random.default_rng(11)
        results[draws_per_block] = predictive.pointwise(terms, fam, post, rng)
    whole_ll, whole_rep = results[N_DRAWS]
    for size, (ll, rep) in results.items():
        assert ll.tobytes() == whole_ll.tobytes(), size
        assert rep.tobytes() == whole_rep.tobytes(), size
    assert np.isfinite(whole_ll).all() and whole_ll.shape == (N_CHAINS, N_DRAWS, N_ROWS)


def test_linear_predictor_matches_a_direct_sum() -> None:
    terms, post = problem("gaussian")
    draws = {n: post[n].isel(chain=0).values for n in post.data_vars}
    eta = predictive.linear_predictor(terms, draws)
    (g,) = terms.groups
    for s in range(N_DRAWS):
        beta = np.array([draws[n][s] for n in terms.x_names])
        want = terms.X @ beta
        for j, coef in enumerate(g.coefs):
            want = want + draws[g.effect_name(coef)][s][g.index] * g.Z[:, j]
        np.testing.assert_allclose(eta[s], want, rtol=1e-14, atol=1e-14)
