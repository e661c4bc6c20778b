"""The collapsed Gaussian path: exact marginal likelihood, exact conditional draws, real fits.

Every coefficient of a Gaussian model with one intercept-only grouping factor -- crossed and
nested intercepts, varying slopes with LKJ correlations, population-level terms under normal,
Student-t or Cauchy priors -- is integrated out (sustain/models/bayes/collapsed*.py); these
tests compare the closed forms with dense multivariate-normal algebra and the sampled
posterior with the full model's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import sustain
from sustain.errors import SpecError
from sustain.models.bayes import collapsed as coll
from sustain.models.bayes.collapsed_model import marginal_loglik
from sustain.models.bayes.families import family_spec
from sustain.models.bayes.priors import resolve_priors
from sustain.models.bayes.terms import build_terms

# Closed forms evaluated in float64 agree with dense algebra to rounding error (relative).
EXACT = 1e-9
# Sums of centred columns are zero up to rounding, which depends on the order of summation.
ROUNDING_ATOL = 1e-10
# 40,000 exact conditional draws: means within 5 Monte Carlo standard errors of the dense
# posterior mean (about 1 in 1.7 million per coordinate by chance), covariances within 0.02
# absolute (their Monte Carlo sd is about 0.005 on these O(0.1-1) entries).
N_DRAWS = 40_000
DRAWS_MEAN_SE = 5.0
DRAWS_COV_TOL = 0.02
# Collapsed vs full model: posterior means agree within this many Monte Carlo standard errors
# of their difference (MCSEs from bulk ESS; 4.5 allows for the ~25 compared quantities).
MCSE_MULTIPLE = 4.5
# The paper's quality model must pass sustain.diagnose's default checks.
RHAT_MAX = 1.01
ESS_MIN = 400

GAUSSIAN = family_spec("gaussian")
FORMULAS = [
    "y ~ x + (1 | a) + (1 | year)",  # crossed intercepts
    "y ~ x + (1 | d/a)",  # nested: a within d
    "y ~ x + z + (1 | a) + (x | t)",  # correlated varying slope
    "y ~ x + (1 | a) + (1 + x || t) + (1 | year)",  # uncorrelated slopes and crossed years
    "y ~ 0 + x + (1 | a) + (1 | t)",  # no intercept
    "y ~ 1 + (1 | a)",  # the big factor alone
]
PRIORS = {"x": "student_t(4, 0.5, 2)", "z": "cauchy(0, 1)"}


def small_frame(seed: int = 1, n: int = 60) -> pd.DataFrame:
    """Unbalanced crossed and nested factors with random responses."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 12, n)
    return pd.DataFrame(
        {
            "y": rng.normal(size=n),
            "x": rng.normal(size=n),
            "z": rng.normal(size=n),
            "a": [f"A{i}" for i in a],
            "d": [f"D{i % 3}" for i in a],
            "t": rng.integers(0, 3, n).astype(str),
            "year": rng.integers(0, 4, n).astype(str),
        }
    )


def random_theta(plan: coll.CollapsePlan, priors, rng: np.random.Generator):
    """sigma, tau and the scale matrix of every block of the plan, drawn at random."""
    scales = []
    for name in plan.fixed:
        prior = priors[coll.prior_key(plan, name)]
        mixing = 1.0 if prior.dist == "normal" else rng.gamma(2.0, 0.5)
        scales.append(np.array([[prior.kwargs["sigma"] / np.sqrt(mixing)]]))
    for g in plan.others:
        sds = rng.uniform(0.3, 1.5, (1, g.k))
        cpc = rng.uniform(0.1, 0.9, (1, g.k * (g.k - 1) // 2)) if g.k > 1 and g.correlated else None
        scales.append(coll.scale_factors(sds, cpc)[0])
    return 0.9, 0.7, scales


def dense_prior(plan: coll.CollapsePlan, stats: coll.CollapsedStats, tau, scales):
    """Prior mean and covariance of (beta, u_big) as dense arrays."""
    m, n_big = plan.n_columns, plan.big.n_levels
    cov = np.zeros((m + n_big, m + n_big))
    for (offset, n_levels, k), B in zip(plan.layout, scales, strict=True):
        for level in range(n_levels):
            block = slice(offset + level * k, offset + (level + 1) * k)
            cov[block, block] = B @ B.T
    cov[m:, m:] = tau**2 * np.eye(n_big)
    mean = np.zeros(m + n_big)
    mean[: len(stats.mu)] = stats.mu
    return mean, cov


def dense_design(terms, plan):
    """[Z, Z_big], shape (n, m + n_big)."""
    Z = coll.coefficient_matrix(terms, plan).toarray()
    return np.column_stack([Z, np.eye(plan.big.n_levels)[plan.big.index]])


def setup(formula: str, seed: int = 1):
    terms = build_terms(small_frame(seed), formula)
    priors = resolve_priors(
        terms, "gaussian", "identity", {k: v for k, v in PRIORS.items() if k in terms.x_names}
    )
    plan = coll.collapse_plan(terms, GAUSSIAN)
    return terms, priors, plan, coll.collapsed_stats(terms, plan, priors)


# ----------------------------------------------------------------------------- plans


def test_every_design_with_an_intercept_factor_collapses():
    df = small_frame()
    plans = [coll.collapse_plan(build_terms(df, f), GAUSSIAN) for f in FORMULAS]
    assert all(p is not None for p in plans)
    assert [p.big.name for p in plans] == ["a", "d:a", "a", "a", "a", "a"]
    slope_plan = plans[2]
    assert slope_plan.fixed == ("Intercept_centred", "x", "z")
    assert slope_plan.offsets == (3,) and slope_plan.n_columns == 3 + 3 * 2


def test_what_cannot_be_collapsed_says_why():
    df = small_frame()
    slopes_only = build_terms(df, "y ~ x + (x | a)")
    assert "random intercept alone" in coll.collapse_obstacle(slopes_only, GAUSSIAN)
    binary = build_terms(df.assign(y=(df["y"] > 0).astype(int)), "y ~ x + (1 | a)")
    assert "not gaussian" in coll.collapse_obstacle(binary, family_spec("bernoulli"))
    wide = build_terms(df, "y ~ x + (1 | year) + (x | a)")
    assert coll.collapse_plan(wide, GAUSSIAN, max_columns=10) is None
    assert "more than 10" in coll.collapse_obstacle(wide, GAUSSIAN, max_columns=10)
    with pytest.raises(SpecError, match="random intercept alone"):
        sustain.fit_bayes(df, "y ~ x + (x | a)", collapse=True)


def test_statistics_do_not_depend_on_row_order():
    df = small_frame()
    formula = "y ~ x + z + (1 | a) + (x | t)"
    terms = build_terms(df, formula)
    priors = resolve_priors(terms, "gaussian", "identity", None)
    first = coll.collapsed_stats(terms, coll.collapse_plan(terms, GAUSSIAN), priors)
    shuffled = build_terms(df.sample(frac=1.0, random_state=3), formula)
    second = coll.collapsed_stats(shuffled, coll.collapse_plan(shuffled, GAUSSIAN), priors)
    for name in ("zr", "zz", "class_n", "class_size", "crr", "czr", "czz"):
        np.testing.assert_allclose(
            getattr(first, name), getattr(second, name), rtol=EXACT, atol=ROUNDING_ATOL
        )


# ----------------------------------------------------------------------------- algebra


@pytest.mark.parametrize("formula", FORMULAS)
def test_marginal_loglik_equals_dense_multivariate_normal(formula):
    import pytensor.tensor as pt

    terms, priors, plan, st = setup(formula)
    sigma, tau, scales = random_theta(plan, priors, np.random.default_rng(7))
    data = {k: pt.as_tensor(v) for k, v in coll.data_values(st).items()}
    value = marginal_loglik(
        pt.as_tensor(sigma),
        pt.as_tensor(tau),
        [pt.as_tensor(B) for B in scales],
        data,
        plan.layout,
        st.n_obs,
    ).eval()
    mean, prior_cov = dense_prior(plan, st, tau, scales)
    W = dense_design(terms, plan)
    cov = sigma**2 * np.eye(terms.nobs) + W @ prior_cov @ W.T
    expected = stats.multivariate_normal(W @ mean, cov).logpdf(terms.y)
    assert float(value) == pytest.approx(expected, rel=EXACT)


@pytest.mark.parametrize("formula", [FORMULAS[1], FORMULAS[2], FORMULAS[3]])
def test_draws_follow_the_dense_conditional_posterior(formula):
    terms, priors, plan, st = setup(formula, seed=2)
    sigma, tau, scales = random_theta(plan, priors, np.random.default_rng(8))
    beta, u = coll.draw_coefficients(
        st,
        np.full(N_DRAWS, sigma),
        np.full(N_DRAWS, tau),
        [np.broadcast_to(B, (N_DRAWS, *B.shape)) for B in scales],
        np.random.default_rng(9),
    )
    got = np.column_stack([beta, u])
    mean0, prior_cov = dense_prior(plan, st, tau, scales)
    W = dense_design(terms, plan)
    precision = np.linalg.inv(prior_cov) + W.T @ W / sigma**2
    post_cov = np.linalg.inv(precision)
    post_mean = post_cov @ (np.linalg.solve(prior_cov, mean0) + W.T @ terms.y / sigma**2)
    se = np.sqrt(np.diag(post_cov) / N_DRAWS)
    assert np.all(np.abs(got.mean(0) - post_mean) < DRAWS_MEAN_SE * se)
    np.testing.assert_allclose(np.cov(got.T), post_cov, atol=DRAWS_COV_TOL)


def test_named_draws_keep_levels_and_coefficients_apart():
    terms, priors, plan, st = setup("y ~ x + z + (1 | a) + (x | t)")
    beta = np.arange(plan.n_columns, dtype=float)[None, :]
    named = coll.effects_by_name(plan, beta, np.zeros((1, plan.big.n_levels)))
    # t has 3 levels x (1, x): columns 3..8 hold (level 0: 1, x), (level 1: 1, x), ...
    assert named["r(1|t)"].tolist() == [[3.0, 5.0, 7.0]]
    assert named["r(x|t)"].tolist() == [[4.0, 6.0, 8.0]]
    assert named["x"].tolist() == [1.0] and named["r(1|a)"].shape == (1, 12)


# ----------------------------------------------------------------------------- fits


def slope_frame(seed: int = 5) -> pd.DataFrame:
    """40 agencies x 6 rows with a varying slope of x over 8 tiers."""
    rng = np.random.default_rng(seed)
    agency = np.repeat(np.arange(40), 6)
    tier = rng.integers(0, 8, len(agency))
    x = rng.normal(size=len(agency))
    slope = 0.5 + rng.normal(0, 0.4, 8)[tier]
    y = 1 + slope * x + rng.normal(0, 0.5, 8)[tier] + rng.normal(0, 1, 40)[agency]
    y = y + rng.normal(0, 1, len(agency))
    return pd.DataFrame({"y": y, "x": x, "agency": agency.astype(str), "tier": tier.astype(str)})


SLOPE_FORMULA = "y ~ x + (1 | agency) + (x | tier)"
SLOPE_FIT = {"draws": 1000, "tune": 1000, "chains": 2, "random_seed": 3}


@pytest.fixture(scope="module")
def slope_fits():
    df = slope_frame()
    collapsed = sustain.fit_bayes(df, SLOPE_FORMULA, **SLOPE_FIT)
    full = sustain.fit_bayes(df, SLOPE_FORMULA, collapse=False, target_accept=0.95, **SLOPE_FIT)
    return collapsed, full


@pytest.mark.bayes
@pytest.mark.slow
def test_collapsed_slope_model_has_the_full_models_posterior(slope_fits):
    import arviz as az

    collapsed, full = slope_fits
    assert collapsed.collapsed and not full.collapsed
    assert set(full.idata.posterior.data_vars) == set(collapsed.idata.posterior.data_vars)
    names = [*collapsed.terms, "r(1|tier)", "r(x|tier)", "r(1|agency)"]
    for name in names:
        a = np.asarray(collapsed.idata.posterior[name])
        b = np.asarray(full.idata.posterior[name])
        a, b = a.reshape(*a.shape[:2], -1), b.reshape(*b.shape[:2], -1)
        for k in range(min(a.shape[-1], 8)):
            mcse = np.hypot(az.mcse(a[:, :, k]), az.mcse(b[:, :, k]))
            diff = abs(a[:, :, k].mean() - b[:, :, k].mean())
            assert diff < MCSE_MULTIPLE * mcse, (name, k, diff, mcse)


@pytest.mark.bayes
@pytest.mark.slow
def test_collapsed_fit_has_the_full_result_contract(slope_fits):
    collapsed, _ = slope_fits
    post = collapsed.idata.posterior
    assert post["r(x|tier)"].dims == ("chain", "draw", "tier")
    assert post["r(1|agency)"].sizes["agency"] == 40
    assert not any(str(v).startswith("mix(") for v in post.data_vars)
    assert "Intercept_centred" in post and "cpc(tier)" in post
    assert collapsed.info.stats["divergences"] == 0
    assert any("integrated out" in note for note in collapsed.info.notes)


@pytest.fixture(scope="module")
def paper_panel(example_data):
    return sustain.build_panel(example_data, lags={"hhi": 1, "gov_share": 1}).reset_index()


PAPER_FORMULA = (
    "quality ~ hhi_lag1 + gov_share_lag1 + share_single_source + share_directed_commission"
    " + share_competitive_negotiation + share_subdistrict + share_district"
    " + (1 | district/agency_id) + (hhi_lag1 | main_tier)"
)


@pytest.mark.bayes
@pytest.mark.slow
def test_paper_quality_model_passes_diagnostics_with_defaults(paper_panel):
    bm = sustain.fit_bayes(paper_panel, PAPER_FORMULA, family="gaussian", random_seed=1)
    post = bm.idata.posterior
    assert bm.collapsed and (post.sizes["chain"], post.sizes["draw"]) == (4, 1000)
    assert post["r(hhi_lag1|main_tier)"].dims == ("chain", "draw", "main_tier")
    report = sustain.diagnose(bm)
    assert report.ok, report.summary()
    assert bm.info.stats["rhat_max"] <= RHAT_MAX and bm.info.stats["ess_bulk_min"] >= ESS_MIN
