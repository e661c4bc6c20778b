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
from pytensor.scalar.basic import autocast_float_as

import sustain
import sustain.models.bayes.fit as fit_module
from sustain.models.bayes.families import family_spec
from sustain.models.bayes.kernel import glmm_cfunc
from sustain.models.bayes.kernel_spec import glmm_native, positions
from sustain.models.bayes.model import build_full_model
from sustain.models.bayes.priors import resolve_priors
from sustain.models.bayes.terms import build_terms

#: Gradients agree to this relative error (of the largest gradient entry). The PyMC reference
#: is built with Python floats kept in float64 (:func:`exact_constants`), so both sides are the
#: same float64 formulas summed in different orders (the kernel keeps four running sums):
#: measured at most 2e-15 at this file's positions, 2e-14 at positions three times as far.
GRAD_RTOL = 1e-12
#: Log-density differences between two positions agree to this relative error of the larger
#: log-density (measured 2e-15). Only differences are compared this tightly: PyMC's constants
#: differ from the exact ones (see ``LOGP_ABS_ATOL``) and cancel in a difference.
LOGP_DIFF_RTOL = 1e-12
#: Absolute log-densities agree to this. Even with float64 constants PyMC computes ``log(2)``
#: of the half-Cauchy and half-Student-t densities from an integer constant in float32 (1.9e-9
#: off, measured once per such prior); a missing normalising constant would be ~0.1 or more.
LOGP_ABS_ATOL = 1e-7
#: PyMC's own graph, built as ``fit_bayes`` builds it, agrees only to about float32 precision:
#: PyTensor makes a Python float that float32 represents exactly (1.5, 2.5, 3.0) a float32
#: constant and folds arithmetic on it in float32 (``Exponential(1.5)`` has rate
#: ``1 / float32(1 / 1.5)``: 3e-8 off). Float32's unit roundoff is 6e-8.
FLOAT32_RTOL = 1e-7
#: Absolute log-densities of that default graph agree to this (measured 1.5e-7: several
#: float32-rounded constants).
FLOAT32_ABS_ATOL = 1e-5
#: Random positions per model, drawn N(0, POSITION_SD^2) in every unconstrained coordinate, plus
#: a first one all differences are taken from. Not much further out: at twice this spread the
#: PyMC reference's bernoulli cloglog likelihood already loses non-event rows to cancellation
#: in one model of the matrix (13% off; see
#: :func:`test_pymc_bernoulli_cloglog_graph_cancels_non_events`).
N_POSITIONS = 4
POSITION_SD = 1.0
#: Posterior means of two runs agree within this many Monte Carlo standard errors of their
#: difference, sqrt(sd_a^2 / ESS_a + sd_b^2 / ESS_b) (posterior sd and bulk ESS of each run):
#: a two-sided 4-sigma band, false alarm rate about 6e-5 per parameter. The runs share a
#: seed, so their errors are if anything positively correlated, and treating them as
#: independent is conservative.
MC_ERRORS = 4.0
#: Unconstrained coordinates far outside any posterior: exp(700) is still finite, its square
#: is not.
EXTREMES = (-700.0, -50.0, 50.0, 700.0)
#: Agreement of the kernel with an exact numpy log-density of a one-parameter model, where
#: the only differences are the summation order of 64 rows (values up to 1e26).
EXACT_RTOL = 1e-13
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
        "y ~ x + w",
        "gaussian",
        "identity",
        None,
        None,
        {"b": "normal(0, 1)", "sigma": "half_normal(0, 2)"},
        id="gaussian-no-group-terms",
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
    """One boolean array (or ``None``) per grouping factor from the forms of :data:`MODELS`."""
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


def exact_constants():
    """Build PyTensor graphs with Python floats as float64 constants (see ``FLOAT32_RTOL``).

    Only the dtype of literal constants changes; the model's structure, variables and
    transforms are those ``fit_bayes`` builds.
    """
    return autocast_float_as("float64")


def unflatten(model, x: np.ndarray) -> dict[str, np.ndarray]:
    """The point (value variable -> array) of the flat position ``x`` (``free_RVs`` order)."""
    start = model.initial_point()
    point, offset = {}, 0
    for rv in model.free_RVs:
        name = model.rvs_to_values[rv].name
        shape = np.shape(start[name])
        size = int(np.prod(shape))
        point[name] = x[offset : offset + size].reshape(shape).copy()
        offset += size
    assert offset == x.shape[0]
    return point


def pymc_logp_dlogp(model):
    """PyMC's log-density and gradient in one compiled function.

    The graphs of ``model.compile_logp()`` and ``model.compile_dlogp()`` (both compile
    ``model.logp()`` / ``model.dlogp()``, Jacobian included, with the value variables as
    inputs), compiled once instead of twice: C compilation is most of this file's run time.
    """
    return model.compile_fn([model.logp(), model.dlogp()], inputs=model.value_vars)


def assert_matches(native, model, reference, rng, grad_rtol, diff_rtol, abs_atol) -> None:
    """Kernel and PyMC agree at random positions: gradients, log-density differences and
    (loosely) log-densities."""
    n_dim = int(native.meta[0])
    x0 = rng.normal(0.0, POSITION_SD, n_dim)
    k0, _, code = native.evaluate(x0)
    p0 = float(reference(unflatten(model, x0))[0])
    assert code == 0
    assert abs(k0 - p0) < abs_atol, (k0, p0)
    for _ in range(N_POSITIONS):
        x = rng.normal(0.0, POSITION_SD, n_dim)
        k, grad, code = native.evaluate(x)
        p, dlogp = reference(unflatten(model, x))
        assert code == 0
        scale = max(1.0, float(np.max(np.abs(dlogp))))
        np.testing.assert_allclose(grad, dlogp, rtol=0.0, atol=grad_rtol * scale)
        # PyMC's log-density constants differ from the exact ones (by about 1e-8 with its
        # default float32 constants, 2e-9 per half-Cauchy/half-Student-t prior without):
        # compare differences between positions, in which every constant cancels.
        size = max(1.0, abs(k), abs(k0))
        assert abs((k - k0) - (float(p) - p0)) < diff_rtol * size, (k - k0, float(p) - p0)


@pytest.mark.bayes
@pytest.mark.parametrize(("formula", "family", "link", "trials", "forms", "priors"), MODELS)
def test_kernel_equals_pymc(formula, family, link, trials, forms, priors) -> None:
    with exact_constants():
        model, native = full_model(formula, family, link, trials, forms, priors)
        reference = pymc_logp_dlogp(model)
    assert native is not None, "the kernel should cover this model"
    offsets = positions(model)
    assert int(native.meta[0]) == sum(size for _, size in offsets.values())
    assert list(offsets) == [rv.name for rv in model.free_RVs]
    rng = np.random.default_rng(2)
    assert_matches(native, model, reference, rng, GRAD_RTOL, LOGP_DIFF_RTOL, LOGP_ABS_ATOL)


@pytest.mark.bayes
def test_kernel_equals_pymc_default_graph_to_float32_precision() -> None:
    """Against the graph ``fit_bayes`` samples without the kernel (float32 literal constants):
    exponential and gamma sds, centred, Student-t intercept with a float32-exact scale."""
    model, native = full_model(*MODELS[1].values)
    assert native is not None
    reference = pymc_logp_dlogp(model)
    rng = np.random.default_rng(3)
    assert_matches(native, model, reference, rng, FLOAT32_RTOL, FLOAT32_RTOL, FLOAT32_ABS_ATOL)


def test_student_t_family_is_not_covered() -> None:
    for formula in ("y ~ x + (1 | g)", "y ~ x"):
        _, native = full_model(formula, "student_t", "identity", None, None, None)
        assert native is None


def test_correlated_slopes_are_covered_by_the_lkj_entry() -> None:
    """``(x | g)`` (LKJ) is evaluated by its own entry point (since commit 7d0dc34), ``(x || g)``
    by the plain one; their agreement with PyMC is in :data:`MODELS`."""
    _, correlated = full_model("y ~ x + (x | g)", "gaussian", "identity", None, None, None)
    _, plain = full_model("y ~ x + (x || g)", "gaussian", "identity", None, None, None)
    assert correlated is not None and plain is not None
    assert correlated.cfunc is glmm_cfunc(correlated=True)
    assert plain.cfunc is glmm_cfunc(correlated=False)


def test_a_variable_the_description_misses_gives_none() -> None:
    """A free variable that no block accounts for makes the kernel refuse the model."""
    import pymc as pm

    df = simulated_data()
    terms = build_terms(df, "y ~ x + (1 | g)")
    fam = family_spec("gaussian")
    prior_set = resolve_priors(terms, "gaussian", "identity", None)
    model = build_full_model(terms, prior_set, fam)
    assert glmm_native(model, terms, prior_set, fam) is not None
    with model:
        pm.Normal("extra", 0.0, 1.0)
    assert glmm_native(model, terms, prior_set, fam) is None


@pytest.mark.parametrize(("built", "described"), [(None, "all"), ("all", None), ("mixed", None)])
def test_centred_masks_other_than_the_models_give_none(built, described) -> None:
    """The kernel is described with other centred levels than the model has: refused."""
    df = simulated_data()
    terms = build_terms(df, "e ~ x + (1 | g)")
    fam = family_spec("bernoulli", "cloglog")
    prior_set = resolve_priors(terms, "bernoulli", "cloglog", None)
    model = build_full_model(terms, prior_set, fam, centred_masks(terms, (built,)))
    assert glmm_native(model, terms, prior_set, fam, centred_masks(terms, (described,))) is None


#: One model per family and link (and the correlated entry) for the robustness tests.
ROBUSTNESS = [
    p
    for p in MODELS
    if p.id
    in {
        "gaussian-two-factors-centred",
        "bernoulli-logit-no-intercept-two-factors",
        "bernoulli-cloglog-uncorrelated-slope-mixed",
        "binomial-logit-trials-column",
        "binomial-cloglog-uncorrelated-slope",
        "poisson-no-intercept-uncorrelated-slope",
        "gaussian-correlated-slope-mixed",
        "bernoulli-cloglog-correlated-slope-centred",
    }
]


@pytest.mark.parametrize(("formula", "family", "link", "trials", "forms", "priors"), ROBUSTNESS)
def test_extreme_positions_are_rejected_not_fatal(
    formula, family, link, trials, forms, priors
) -> None:
    _, native = full_model(formula, family, link, trials, forms, priors)
    assert native is not None
    n_dim = int(native.meta[0])
    rng = np.random.default_rng(0)
    points = [np.full(n_dim, v) for v in (*EXTREMES, np.inf, -np.inf, np.nan)]
    points += [rng.choice(EXTREMES, n_dim) for _ in range(40)]
    points += [np.where(rng.random(n_dim) < 0.3, np.nan, rng.normal(size=n_dim))]
    codes = []
    for x in points:
        logp, grad, code = native.evaluate(x)
        assert code in (0, 3), code
        if code == 0:
            assert np.isfinite(logp) and np.all(np.isfinite(grad))
        codes.append(code)
    assert codes[4:7] == [3, 3, 3]  # +inf, -inf, nan everywhere
    assert codes[-1] == 3  # a few nan coordinates
    assert 3 in codes[:4]  # some overflow (a finite value is fine where nothing overflows)
    # the kernel still works after all that, and refuses a position of the wrong length
    assert native.evaluate(np.zeros(n_dim))[2] == 0
    assert native.evaluate(np.zeros(n_dim + 1))[2] == -1


def test_kernel_equals_numpy_log_density_far_in_the_tails() -> None:
    """A one-slope bernoulli cloglog model against its log-density and gradient written in
    numpy (no PyMC), also where ``exp(eta)`` reaches 1e26 on event and non-event rows."""
    from scipy import stats

    df = simulated_data()
    terms = build_terms(df, "e ~ 0 + x")
    fam = family_spec("bernoulli", "cloglog")
    prior_set = resolve_priors(terms, "bernoulli", "cloglog", {"x": "normal(0.5, 2)"})
    native = glmm_native(build_full_model(terms, prior_set, fam), terms, prior_set, fam)
    assert native is not None
    x_col, y = terms.X[:, 0], terms.y
    for b in (-3.0, 0.7, 5.0, 25.0):
        eta = b * x_col
        mu = np.exp(eta)
        exact = stats.norm.logpdf(b, 0.5, 2.0) + fam.log_prob(y, eta, {}).sum()
        with np.errstate(over="ignore"):
            score = np.where(y > 0, mu / np.expm1(mu), -mu)
        exact_grad = -(b - 0.5) / 4.0 + np.dot(score, x_col)
        logp, grad, code = native.evaluate(np.array([b]))
        assert code == 0
        assert abs(logp - exact) <= EXACT_RTOL * max(1.0, abs(exact)), (b, logp, exact)
        assert abs(grad[0] - exact_grad) <= EXACT_RTOL * max(1.0, abs(exact_grad)), b


@pytest.mark.bayes
def test_pymc_bernoulli_cloglog_graph_keeps_non_events() -> None:
    """The PyTensor likelihood the kernel is compared with, at one event row with eta = 40
    and one non-event row with eta = 0: exactly ``log1mexp(-e^40) - 1 = -1`` (it gave 0 when
    it summed mu over all rows and subtracted the event rows' mu)."""
    fam = family_spec("bernoulli", "cloglog")
    y, eta = np.array([1.0, 0.0]), np.array([40.0, 0.0])
    assert float(fam.log_prob(y, eta, {}).sum()) == -1.0
    assert float(fam.total_log_density(eta, y, {}).eval()) == -1.0


# ----------------------------------------------------------------------------- end to end
#: Fit settings of the end-to-end tests.
FIT_OPTIONS = {
    "family": "bernoulli",
    "link": "cloglog",
    "draws": 200,
    "tune": 200,
    "chains": 2,
    "random_seed": 20261204,
    "progressbar": False,
    "prior_predictive": False,
    "posterior_predictive": False,
    "log_likelihood": False,
}
HAZARD = "exit ~ x + (1 | g)"


def simulated_hazard(seed: int = 5, n_groups: int = 8, per_group: int = 60) -> pd.DataFrame:
    """A discrete-time hazard: cloglog exits, a slope of 0.5 and group effects of sd 0.5."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_groups), per_group)
    x = rng.normal(size=g.size)
    eta = -2.0 + 0.5 * x + rng.normal(0.0, 0.5, n_groups)[g]
    exit_ = rng.random(g.size) < -np.expm1(-np.exp(eta))
    return pd.DataFrame({"exit": exit_.astype(float), "x": x, "g": [f"g{i}" for i in g]})


def fit_recording_kernel(data: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> tuple:
    """``fit_bayes`` on ``data``, and the kernel it handed to the sampler (or ``None``)."""
    seen = []
    original = fit_module.sample_posterior

    def spy(*args, **kwargs):
        kernel = kwargs.get("kernel", args[4] if len(args) > 4 else None)
        seen.append(kernel)
        return original(*args, **kwargs)

    monkeypatch.setattr(fit_module, "sample_posterior", spy)
    result = sustain.fit_bayes(data, HAZARD, **FIT_OPTIONS)
    assert len(seen) == 1
    return result, seen[0]


@pytest.fixture(scope="module")
def hazard_fits():
    """Two fits with the kernel and one through the PyTensor graph (kernel disabled)."""
    data = simulated_hazard()
    with pytest.MonkeyPatch.context() as mp:
        first, kernel = fit_recording_kernel(data, mp)
        again, _ = fit_recording_kernel(data, mp)
        mp.setattr(fit_module, "glmm_native", lambda *args, **kwargs: None)
        graph, no_kernel = fit_recording_kernel(data, mp)
    assert kernel is not None and no_kernel is None
    return first, again, graph


@pytest.mark.slow
@pytest.mark.bayes
def test_fit_with_kernel_agrees_with_pytensor_graph(hazard_fits) -> None:
    import arviz as az

    with_kernel, _, graph = hazard_fits
    for name in ("Intercept", "x", "sd(1|g)"):
        a, b = with_kernel.idata.posterior[name], graph.idata.posterior[name]
        ess_a, ess_b = (float(az.ess(v.values, method="bulk")) for v in (a, b))
        mc_error = np.sqrt(float(a.var()) / ess_a + float(b.var()) / ess_b)
        gap = abs(float(a.mean()) - float(b.mean()))
        assert gap < MC_ERRORS * mc_error, (name, gap, mc_error, ess_a, ess_b)


@pytest.mark.slow
@pytest.mark.bayes
def test_fit_with_kernel_is_reproducible(hazard_fits) -> None:
    first, again, _ = hazard_fits
    post, post_again = first.idata.posterior, again.idata.posterior
    assert set(post.data_vars) == set(post_again.data_vars)
    for name in post.data_vars:
        np.testing.assert_array_equal(post[name].values, post_again[name].values)
