"""The GLMM kernel (:mod:`sustain.models.bayes.kernel`, :mod:`kernel_lkj`) against PyMC.

For every family and link the kernel covers, intercepts, slopes, nested and crossed factors,
uncorrelated and correlated varying coefficients (LKJ), centred, non-centred and mixed group
effects and each scalar prior: gradients equal those of PyMC's own log-density of the same
model and log-density differences between positions agree. Then: what it does not cover
returns ``None`` (and the PyTensor graph is used), extreme positions are rejected rather than
fatal, and a fit with the kernel agrees with a fit through the PyTensor graph.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from support.kernels import assert_matches_pymc, assert_rejects_extremes, assert_same_mean

import sustain
import sustain.models.bayes.fit as fit_module
from sustain.models.bayes.families import family_spec
from sustain.models.bayes.kernel_spec import glmm_native
from sustain.models.bayes.model import build_full_model
from sustain.models.bayes.priors import resolve_priors
from sustain.models.bayes.terms import build_terms

MIXED = np.array([True, False, True, False, False])

# (formula, family, link, centred masks per factor, prior overrides)
MODELS = [
    ("y ~ x + w + (1 | g)", "gaussian", "identity", None, {"b": "student_t(3, 0, 2)"}),
    ("y ~ x + (1 | g) + (1 | h)", "gaussian", "identity", [MIXED, None], None),
    ("e ~ x + (1 | g)", "bernoulli", "cloglog", [np.ones(5, bool)], {"sd": "exponential(2)"}),
    ("e ~ x + w + (1 | g)", "bernoulli", "logit", None, {"Intercept": "cauchy(0, 3)"}),
    ("c ~ x + (1 | g) + (0 + x | h)", "poisson", "log", None, {"sd": "gamma(2, 2)"}),
    ("k ~ x + (1 | g)", "binomial", "cloglog", None, {"sd": "half_cauchy(0, 1)"}),
    ("k ~ 0 + x + (1 | g)", "binomial", "logit", None, None),
    ("y ~ 1 + (x || g)", "gaussian", "identity", None, {"sigma": "half_normal(0, 2)"}),
    ("y ~ x", "gaussian", "identity", None, None),
    ("y ~ x + (x | g)", "gaussian", "identity", None, None),
    ("y ~ x + (x | g)", "gaussian", "identity", [np.ones(5, bool)], None),
    ("y ~ x + (x | g)", "gaussian", "identity", [MIXED], {"cor": "lkj(4)"}),
    ("e ~ x + (x + w | g) + (1 | h)", "bernoulli", "logit", [MIXED, None], None),
    ("y ~ 1 + (0 + x + w | g)", "gaussian", "identity", None, None),
]


def data(seed: int = 0, n: int = 80) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "w": rng.normal(size=n),
            "g": rng.choice(list("abcde"), n),
            "h": rng.choice(list("pqr"), n),
        }
    )
    df["y"] = df["x"] + rng.normal(size=n)
    df["e"] = (rng.random(n) < 0.3).astype(float)
    df["c"] = rng.poisson(2.0, n).astype(float)
    df["k"] = rng.binomial(5, 0.4, n).astype(float)
    return df


def full_model(formula, family, link, centred, priors, df=None):
    df = data() if df is None else df
    terms = build_terms(df, formula, 5 if family == "binomial" else None)
    fam = family_spec(family, link)
    ps = resolve_priors(terms, family, link, priors)
    model = build_full_model(terms, ps, fam, centred)
    return model, glmm_native(model, terms, ps, fam, centred)


@pytest.mark.bayes
@pytest.mark.parametrize(("formula", "family", "link", "centred", "priors"), MODELS)
def test_kernel_equals_pymc(formula, family, link, centred, priors) -> None:
    model, native = full_model(formula, family, link, centred, priors)
    assert native is not None
    assert_matches_pymc(model, native, seed=2)


@pytest.mark.bayes
def test_student_t_family_is_not_covered() -> None:
    _, native = full_model("y ~ x + (1 | g)", "student_t", "identity", None, None)
    assert native is None


@pytest.mark.bayes
@pytest.mark.parametrize("index", [2, 4, 11, 12])
def test_extreme_positions_are_rejected_not_fatal(index: int) -> None:
    _, native = full_model(*MODELS[index])
    assert native is not None
    assert_rejects_extremes(native)


@pytest.mark.slow
@pytest.mark.bayes
def test_fit_with_kernel_agrees_with_pytensor_graph(monkeypatch: pytest.MonkeyPatch) -> None:
    df = data(seed=4, n=600)
    options = {"draws": 400, "tune": 400, "chains": 2, "random_seed": 7, "progressbar": False}
    formula = "e ~ x + (1 | g)"
    fit = {"family": "bernoulli", "link": "cloglog"}
    with_kernel = sustain.fit_bayes(df, formula, **fit, **options)
    again = sustain.fit_bayes(df, formula, **fit, **options)
    monkeypatch.setattr(fit_module, "glmm_native", lambda *args, **kwargs: None)
    graph = sustain.fit_bayes(df, formula, **fit, **options)
    post = with_kernel.idata.posterior
    for name in ("Intercept", "x", "sd(1|g)"):
        np.testing.assert_array_equal(post[name].values, again.idata.posterior[name].values)
        assert_same_mean(post[name], graph.idata.posterior[name], name)
