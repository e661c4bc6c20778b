"""The hand-written GLMM kernel (:mod:`sustain.models.bayes.kernel`) against PyMC's own graph.

For a matrix of models -- every family and link the kernel covers, with and without an
intercept, slopes, one, two and nested grouping factors, uncorrelated ``(x || g)`` and
correlated ``(x | g)`` varying slopes, group effects non-centred, centred and mixed, and every
scalar prior on coefficients, group sds and ``sigma`` -- the kernel's gradient equals PyMC's
``dlogp`` and its log-density differences between positions equal PyMC's. Then: what it does
not cover gives ``None``; extreme and non-finite positions are rejected (code 3), never fatal;
and a fit with the kernel agrees with a fit through the PyTensor graph and is reproducible.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sustain
import sustain.models.bayes.fit as fit_module
from sustain.models.bayes.families import family_spec
from sustain.models.bayes.kernel_spec import glmm_native, positions
from sustain.models.bayes.model import build_full_model
from sustain.models.bayes.priors import resolve_priors
from sustain.models.bayes.terms import build_terms

#: Gradients agree to this relative error (scaled by the largest gradient entry): both sides
#: are exact float64 formulas, summed in different orders (the kernel uses four running sums);
#: measured agreement is about 1e-14 relative.
GRAD_RTOL = 1e-9
#: Log-density differences between two positions agree to this relative error of the larger
#: log-density: the same exact formulas summed in a different order. Absolute log-densities are
#: *not* compared this tightly: PyMC folds the normalising constants of its priors at compile
#: time and they differ from the exact values by about 1e-8 (see ``LOGP_ABS_ATOL``), so only
#: differences, in which every constant cancels, are compared at this precision.
LOGP_DIFF_RTOL = 1e-11
#: Absolute log-densities agree to this: far above PyMC's constant folding (measured 6.5e-8),
#: far below any missing normalising constant (log 2 of a half distribution = 0.69).
LOGP_ABS_ATOL = 1e-5
#: Random positions per model, drawn N(0, POSITION_SD^2) in every unconstrained coordinate.
N_POSITIONS = 4
POSITION_SD = 0.8
#: Posterior means of two runs agree within this many Monte Carlo standard errors of their
#: difference, sd * sqrt(1 / ESS_a + 1 / ESS_b) (bulk ESS of each run): a two-sided 4-sigma
#: band, false alarm rate about 6e-5 per parameter. The runs share a seed, so their errors are
#: if anything positively correlated, and treating them as independent is conservative.
MC_ERRORS = 4.0
#: Unconstrained coordinates far outside any posterior: exp(700) is still finite, its square
#: is not.
EXTREMES = (-700.0, -50.0, 50.0, 700.0)
#: Number of rows of the simulated data of the equivalence tests.
N_ROWS = 64


def simulated_data(seed: int = 11, n: int = N_ROWS) -> pd.DataFrame:
    """Small data with a response of every family; ``n_trials`` varies by row."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "w": rng.normal(size=n),
            "g": rng.choice(list("abcde"), n),
            "h": rng.choice(list("pqr"), n),
        }
    )
    g_effect = dict(zip("abcde", rng.normal(0, 0.5, 5), strict=True))
    eta = 0.3 * df["x"] - 0.2 * df["w"] + df["g"].map(g_effect)
    df["y"] = 1.0 + eta + rng.normal(size=n)
    df["e"] = (rng.random(n) < 1.0 - np.exp(-np.exp(eta - 1.0))).astype(float)
    df["n_trials"] = rng.integers(1, 7, n).astype(float)
    df["k"] = rng.binomial(df["n_trials"].astype(int), 1.0 / (1.0 + np.exp(-eta))).astype(float)
    df["k3"] = rng.binomial(3, 0.4, n).astype(float)
    df["c"] = rng.poisson(np.exp(0.5 + eta)).astype(float)
    return df


# (formula, family, link, trials, centred form per factor or None, prior overrides)
# Forms: None (every level non-centred), "all" (every level centred), "mixed" (even levels).
# Across the matrix every coefficient prior (normal, student_t, cauchy) sits on an intercept
# and on a slope, and every scale prior on a group sd (centred and non-centred) and on sigma.
MODELS = [
    pytest.param(
        "y ~ x + w + (1 | g)",
        "gaussian",
        "identity",
        None,
        None,
        {
            "Intercept": "normal(1, 3)",
            "b": "student_t(4, 0.5, 2)",
            "sd": "half_normal(0, 1.5)",
            "sigma": "half_cauchy(0, 2)",
        },
        id="gaussian-slopes-noncentred",
    ),
    pytest.param(
        "y ~ x + (1 | g) + (1 | h)",
        "gaussian",
        "identity",
        None,
        ("all", "all"),
        {
            "Intercept": "cauchy(0, 2)",
            "x": "cauchy(1, 0.5)",
            "sd(1|g)": "exponential(1.5)",
            "sd(1|h)": "gamma(2, 3)",
            "sigma": "half_student_t(5, 0, 1)",
        },
        id="gaussian-two-factors-centred",
    ),
    pytest.param(
        "y ~ 0 + x + w + (1 | g)",
        "gaussian",
        "identity",
        None,
        ("mixed",),
        {"sd": "half_student_t(3, 0, 1)", "sigma": "exponential(1)"},
        id="gaussian-no-intercept-mixed",
    ),
    pytest.param(
        "y ~ 1 + (x || g)",
        "gaussian",
        "identity",
        None,
        ("mixed",),
        {"sigma": "gamma(3, 2)"},
        id="gaussian-intercept-only-uncorrelated-slope",
    ),
    pytest.param(
        "y ~ x + (x || g) + (1 | h)",
        "gaussian",
        "identity",
        None,
        ("mixed", "all"),
        {"sd(x|g)": "half_cauchy(0, 1)", "sd(1|g)": "gamma(2, 2)"},
        id="gaussian-uncorrelated-slope-two-factors",
    ),
    pytest.param(
        "y ~ x + (1 | h/g)",
        "gaussian",
        "identity",
        None,
        (None, "mixed"),
        None,
        id="gaussian-nested-default-priors",
    ),
    pytest.param(
        "y ~ x + w", "gaussian", "identity", None, None, None, id="gaussian-no-group-terms"
    ),
    pytest.param(
        "e ~ x + (1 | g)", "bernoulli", "logit", None, None, None, id="bernoulli-logit-defaults"
    ),
    pytest.param(
        "e ~ 0 + x + w + (1 | g) + (1 | h)",
        "bernoulli",
        "logit",
        None,
        ("mixed", None),
        {"b": "cauchy(0, 2.5)", "sd": "gamma(2, 2)"},
        id="bernoulli-logit-no-intercept-two-factors",
    ),
    pytest.param(
        "e ~ x + w + (1 | g)",
        "bernoulli",
        "cloglog",
        None,
        ("all",),
        {"Intercept": "normal(-1, 2)", "sd": "half_student_t(3, 0, 1)"},
        id="bernoulli-cloglog-centred",
    ),
    pytest.param(
        "e ~ x + (x || g) + (1 | h)",
        "bernoulli",
        "cloglog",
        None,
        ("mixed", "mixed"),
        {"b": "student_t(3, 0, 1)", "sd": "exponential(2)"},
        id="bernoulli-cloglog-uncorrelated-slope-mixed",
    ),
    pytest.param(
        "k ~ x + (1 | g)",
        "binomial",
        "logit",
        "n_trials",
        None,
        {"sd": "half_cauchy(0, 1)"},
        id="binomial-logit-trials-column",
    ),
    pytest.param(
        "k ~ 0 + x + (1 | g) + (1 | h)",
        "binomial",
        "logit",
        "n_trials",
        ("all", "mixed"),
        {"x": "normal(0, 1)", "sd(1|h)": "half_normal(0, 0.7)"},
        id="binomial-logit-no-intercept-two-factors",
    ),
    pytest.param(
        "k ~ x + w + (x || g)",
        "binomial",
        "cloglog",
        "n_trials",
        ("mixed",),
        {"Intercept": "student_t(5, 0, 1)", "sd": "gamma(3, 4)"},
        id="binomial-cloglog-uncorrelated-slope",
    ),
    pytest.param(
        "k3 ~ x + (1 | g)",
        "binomial",
        "cloglog",
        3,
        None,
        {"b": "cauchy(0, 1)", "sd": "exponential(3)"},
        id="binomial-cloglog-fixed-trials",
    ),
    pytest.param(
        "c ~ x + (1 | g)",
        "poisson",
        "log",
        None,
        None,
        {"Intercept": "cauchy(1, 1)", "sd": "half_normal(0, 0.5)"},
        id="poisson-noncentred",
    ),
    pytest.param(
        "c ~ 0 + x + w + (x || g) + (1 | h)",
        "poisson",
        "log",
        None,
        ("mixed", "all"),
        {"b": "student_t(3, 0, 0.5)", "sd": "half_student_t(4, 0, 1)"},
        id="poisson-no-intercept-uncorrelated-slope",
    ),
    pytest.param(
        "c ~ 1 + (1 | g)",
        "poisson",
        "log",
        None,
        ("all",),
        {"sd": "exponential(3)"},
        id="poisson-intercept-only-centred",
    ),
    pytest.param(
        "y ~ x + (x | g)",
        "gaussian",
        "identity",
        None,
        ("mixed",),
        {"cor": "lkj(3)", "sd": "half_normal(0, 2)"},
        id="gaussian-correlated-slope-mixed",
    ),
    pytest.param(
        "e ~ x + (x | g)",
        "bernoulli",
        "cloglog",
        None,
        ("all",),
        None,
        id="bernoulli-cloglog-correlated-slope-centred",
    ),
]


def centred_masks(terms, forms):
    """One boolean array per grouping factor from the forms of :data:`MODELS`."""
    if forms is None:
        return None
    masks = []
    for g, form in zip(terms.groups, forms, strict=True):
        if form is None:
            masks.append(None)
        elif form == "all":
            masks.append(np.ones(g.n_levels, dtype=bool))
        else:
            masks.append(np.arange(g.n_levels) % 2 == 0)
    return masks


def full_model(formula, family, link, trials, forms, priors, df=None):
    """The PyMC model of :func:`.build_full_model` and its kernel (or ``None``)."""
    df = simulated_data() if df is None else df
    terms = build_terms(df, formula, trials)
    fam = family_spec(family, link)
    prior_set = resolve_priors(terms, family, link, priors)
    centred = centred_masks(terms, forms)
    model = build_full_model(terms, prior_set, fam, centred)
    return model, glmm_native(model, terms, prior_set, fam, centred)


def unflatten(model, x: np.ndarray) -> dict[str, np.ndarray]:
    """The point (value variable -> array) of the flat position ``x`` (``free_RVs`` order)."""
    start = model.initial_point()
    point, offset = {}, 0
    for rv in model.free_RVs:
        name = model.rvs_to_values[rv].name
        shape = np.shape(start[name])
        size = int(np.prod(shape))
        point[name] = x[offset : offset + size].reshape(shape)
        offset += size
    assert offset == x.shape[0]
    return point


def pymc_logp_dlogp(model):
    """PyMC's log-density and gradient in one compiled function.

    The same graphs as ``model.compile_logp()`` and ``model.compile_dlogp()`` (both call
    ``compile_fn`` on ``model.logp()``/``model.dlogp()`` with the Jacobian), compiled once
    instead of twice: the C compilation is most of this file's run time.
    """
    return model.compile_fn([model.logp(), model.dlogp()], inputs=model.value_vars)


@pytest.mark.bayes
@pytest.mark.parametrize(("formula", "family", "link", "trials", "forms", "priors"), MODELS)
def test_kernel_equals_pymc(formula, family, link, trials, forms, priors) -> None:
    model, native = full_model(formula, family, link, trials, forms, priors)
    assert native is not None, "the kernel should cover this model"
    n_dim = int(native.meta[0])
    assert n_dim == sum(size for _, size in positions(model).values())
    reference = pymc_logp_dlogp(model)
    rng = np.random.default_rng(2)
    x0 = rng.normal(0.0, POSITION_SD, n_dim)
    k0, _, code = native.evaluate(x0)
    p0, _ = reference(unflatten(model, x0))
    assert code == 0
    assert abs(k0 - float(p0)) < LOGP_ABS_ATOL, (k0, float(p0))
    for _ in range(N_POSITIONS):
        x = rng.normal(0.0, POSITION_SD, n_dim)
        k, grad, code = native.evaluate(x)
        p, dlogp = reference(unflatten(model, x))
        assert code == 0
        scale = max(1.0, float(np.max(np.abs(dlogp))))
        np.testing.assert_allclose(grad, dlogp, rtol=0.0, atol=GRAD_RTOL * scale)
        # PyMC's constants differ from the exact ones by about 1e-8 (folded at compile time):
        # compare differences between positions, in which every constant cancels.
        size = max(1.0, abs(k), abs(k0))
        assert abs((k - k0) - (float(p) - float(p0))) < LOGP_DIFF_RTOL * size, (k - k0, p - p0)
