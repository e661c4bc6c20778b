"""fit_bayes: formula -> structure, priors, families and real fits.

The collapsed algebra is tested against dense linear algebra in tests/models/bayes/test_collapsed.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import stats

import sustain
from sustain.errors import SpecError
from sustain.models.bayes import collapsed as coll
from sustain.models.bayes.families import family_spec
from sustain.models.bayes.model import build_full_model, check_unique_factors, reported_terms
from sustain.models.bayes.priors import default_priors, parse_prior, resolve_priors
from sustain.models.bayes.terms import build_terms, data_hash

# Exact formulas evaluated in float64 agree to rounding error.
EXACT = 1e-8
# PyMC's log-densities use slightly different (but equivalent) formulas than scipy's, e.g. a
# series for lgamma ratios in the Student-t: they agree to ~1e-8 relative, not to rounding.
PYMC_LOGP_RTOL = 1e-6
# In the far tails log(1 - 2e-24) is -2e-24 exactly but 0 after numpy's rounding of 1 - p: both
# are right to far better than this absolute tolerance.
TAIL_ATOL = 1e-15
# Kolmogorov-Smirnov p-value below which numpy prior draws are declared off-distribution; with
# fixed seeds a correct sampler passes deterministically, a wrong scale gives p ~ 0.
KS_P_MIN = 1e-3
# Collapsed vs full model: posterior means agree within this many Monte Carlo standard errors
# of their difference (MCSEs from bulk ESS; 4 allows for a handful of compared quantities).
MCSE_MULTIPLE = 4.0
# A recovered coefficient on 240 rows lies within this many posterior sds of the truth.
RECOVERY_SDS = 3.0

FIT = {"draws": 300, "tune": 300, "chains": 2, "random_seed": 11}


def small_nested(seed: int = 0, n_a: int = 6, n_b: int = 5, n_rows: int = 8) -> pd.DataFrame:
    """Rows nested in b nested in a: y = 1 + 0.5 x + u_a + v_b + e."""
    rng = np.random.default_rng(seed)
    a = np.repeat(np.arange(n_a), n_b * n_rows)
    b = np.repeat(np.arange(n_a * n_b), n_rows)
    u, v = rng.normal(0, 1.0, n_a), rng.normal(0, 0.7, n_a * n_b)
    x = rng.normal(size=len(a))
    y = 1 + 0.5 * x + u[a] + v[b] + rng.normal(0, 1, len(a))
    return pd.DataFrame(
        {"y": y, "x": x, "a": [f"A{i}" for i in a], "b": [f"B{i % n_b}" for i in b]}
    )


# ----------------------------------------------------------------------------- structure


def test_nested_term_expands_to_parent_and_child_factors():
    t = build_terms(small_nested(), "y ~ x + (1 | a/b)")
    assert [g.name for g in t.groups] == ["a", "a:b"]
    assert [g.n_levels for g in t.groups] == [6, 30]
    # the child level is labelled with its parent, so B0 of A0 and B0 of A1 differ
    assert t.groups[1].levels[:2] == ("A0:B0", "A0:B1")


def test_crossed_terms_collapse_over_the_largest_intercept_factor():
    df = small_nested()
    df["year"] = np.tile(np.arange(8), len(df) // 8)
    t = build_terms(df, "y ~ x + (1 | a) + (1 | year)")
    assert [g.name for g in t.groups] == ["a", "year"]
    plan = coll.collapse_plan(t, family_spec("gaussian"))
    assert plan is not None and plan.big.name == "year"
    assert [g.name for g in plan.others] == ["a"]


def test_nested_written_as_two_terms_is_collapsible():
    df = small_nested()
    df["b_id"] = df["a"] + df["b"]
    t = build_terms(df, "y ~ x + (1 | a) + (1 | b_id)")
    plan = coll.collapse_plan(t, family_spec("gaussian"))
    assert plan is not None and plan.big.name == "b_id"
    assert [g.name for g in plan.others] == ["a"]


def test_varying_slopes_and_categoricals():
    df = small_nested()
    df["tier"] = np.where(df["x"] > 0, "district", "municipal")
    t = build_terms(df, "y ~ x + C(tier) + (x | a) + (1 + x || b)")
    assert t.x_names == ("Intercept", "x", "C(tier)[T.municipal]")
    slopes, diag = t.groups
    assert slopes.coefs == ("1", "x") and slopes.correlated
    assert diag.coefs == ("1", "x") and not diag.correlated
    np.testing.assert_allclose(slopes.Z[:, 1], df["x"])
    fam = family_spec("gaussian")
    assert coll.collapse_plan(t, fam) is None
    names = reported_terms(t, fam)
    assert names[-5:] == ("sd(1|a)", "sd(x|a)", "cor(1,x|a)", "sd(1|b)", "sd(x|b)")


def test_missing_values_drop_rows_once_for_every_part():
    df = small_nested()
    df.loc[[0, 5], "x"] = np.nan
    df.loc[7, "a"] = None
    t = build_terms(df, "y ~ x + (1 | a/b)")
    assert t.nobs == len(df) - 3
    assert all(len(g.index) == t.nobs for g in t.groups)


def test_index_levels_are_usable_as_grouping_factors():
    df = small_nested().set_index(["a", "b"])
    t = build_terms(df, "y ~ x + (1 | a)")
    assert t.groups[0].n_levels == 6


@pytest.mark.parametrize(
    "formula, message",
    [
        ("y ~ x + (1 | nope)", "nope"),
        ("y ~ x + (1 | a) + (1 | a)", "two group terms"),
        ("y ~ x + (0 | a)", "varies nothing"),
        ("y ~ x + (1 | a/b) + __import__('os')", "not allowed"),
        ("y | trials(x) ~ x + (1 | a)", "trials='column'"),  # brms's addition syntax
    ],
)
def test_bad_formulas_raise_spec_errors(formula, message):
    with pytest.raises(SpecError, match=message):
        t = build_terms(small_nested(), formula)
        check_unique_factors(t.groups)


def test_data_hash_changes_with_the_data_only():
    df = small_nested()
    h = data_hash(build_terms(df, "y ~ x + (1 | a)"))
    assert h == data_hash(build_terms(df.copy(), "y ~ x + (1 | a)"))
    df.loc[0, "y"] += 1e-9
    assert h != data_hash(build_terms(df, "y ~ x + (1 | a)"))


# ----------------------------------------------------------------------------- priors


def test_prior_parser_accepts_brms_forms():
    assert str(parse_prior("half_normal(1)")) == "half_normal(0, 1)"
    assert str(parse_prior(" Half_Student_T(3, 0, 10) ")) == "half_student_t(3, 0, 10)"
    assert parse_prior("normal(-1.5e-1, 2)").args == (-0.15, 2.0)


@pytest.mark.parametrize(
    "text",
    ["normal(0)", "normal(0, -1)", "wishart(3)", "half_normal(1, 2)", "normal(0, x)", "exec()"],
)
def test_prior_parser_refuses_bad_text(text):
    with pytest.raises(SpecError):
        parse_prior(text)


def test_default_priors_scale_with_the_data():
    df = small_nested()
    base = default_priors(build_terms(df, "y ~ x + (1 | a)"), "gaussian", "identity")
    df10 = df.assign(y=df["y"] * 10, x=df["x"] * 100)
    scaled = default_priors(build_terms(df10, "y ~ x + (1 | a)"), "gaussian", "identity")
    b, s = base.table().set_index("parameter"), scaled.table().set_index("parameter")
    assert list(b.index) == ["Intercept", "x", "sigma", "sd(1|a)"]
    for name, factor in [("sigma", 10), ("sd(1|a)", 10), ("x", 0.1)]:
        ratio = (
            parse_prior(s.loc[name, "prior"]).args[-1] / parse_prior(b.loc[name, "prior"]).args[-1]
        )
        assert ratio == pytest.approx(factor, rel=1e-3)
    sy = np.std(df["y"])
    assert parse_prior(b.loc["x", "prior"]).args[1] == pytest.approx(
        2.5 * sy / np.std(df["x"]), rel=1e-3
    )


def test_default_priors_on_the_link_scale():
    df = small_nested().assign(e=lambda d: (d["y"] > 2).astype(int))
    t = build_terms(df, "e ~ x + (1 | a)")
    table = default_priors(t, "bernoulli", "cloglog").table().set_index("parameter")
    p = df["e"].mean()
    assert parse_prior(table.loc["Intercept", "prior"]).args[1] == pytest.approx(
        np.log(-np.log1p(-p)), abs=1e-3
    )
    assert table.loc["sd(1|a)", "prior"] == "half_normal(0, 1)"
    assert "sigma" not in table.index


def test_overrides_by_name_and_class():
    t = build_terms(small_nested(), "y ~ x + (1 | a/b)")
    ps = resolve_priors(
        t,
        "gaussian",
        "identity",
        {"x": "normal(0, 2)", "sd": "half_normal(0, 3)", "sd(1|a)": "exponential(1)"},
    )
    table = ps.table().set_index("parameter")
    assert table.loc["x", "prior"] == "normal(0, 2)"
    assert table.loc["sd(1|a)", "prior"] == "exponential(1)"  # name beats class
    assert table.loc["sd(1|a:b)", "prior"] == "half_normal(0, 3)"
    assert table.loc["sigma", "source"] == "default"
    assert set(table.loc[["x", "sd(1|a)", "sd(1|a:b)"], "source"]) == {"user"}


def test_overrides_are_checked():
    t = build_terms(small_nested(), "y ~ x + (1 | a)")
    with pytest.raises(SpecError, match="sd\\(1\\|a\\)"):
        resolve_priors(t, "gaussian", "identity", {"sd(1|district)": "half_normal(0, 1)"})
    with pytest.raises(SpecError, match="positive"):
        resolve_priors(t, "gaussian", "identity", {"sigma": "normal(0, 1)"})


@pytest.mark.parametrize(
    "text, reference",
    [
        ("normal(1, 2)", stats.norm(1, 2)),
        ("student_t(3, 1, 2)", stats.t(3, 1, 2)),
        ("half_normal(0, 2)", stats.halfnorm(0, 2)),
        ("half_student_t(3, 0, 2)", stats.t(3, 0, 2)),  # compared on |x| below
        ("half_cauchy(0, 2)", stats.halfcauchy(0, 2)),
        ("exponential(2)", stats.expon(scale=0.5)),
        ("gamma(2, 0.1)", stats.gamma(2, scale=10)),
        ("cauchy(0, 1)", stats.cauchy(0, 1)),
    ],
)
def test_prior_draws_and_pymc_densities_match_scipy(text, reference):
    import pymc as pm

    prior = parse_prior(text)
    x = prior.draw(np.random.default_rng(5), 4000)
    if prior.dist == "half_student_t":
        cdf = lambda v: 2 * reference.cdf(v) - 1  # noqa: E731 - folded t
        logpdf = lambda v: np.log(2) + reference.logpdf(v)  # noqa: E731
    else:
        cdf, logpdf = reference.cdf, reference.logpdf
    assert stats.kstest(x, cdf).pvalue > KS_P_MIN
    grid = np.abs(x[:5]) + 0.1
    np.testing.assert_allclose(
        pm.logp(prior.dist_(), grid).eval(), logpdf(grid), rtol=PYMC_LOGP_RTOL
    )


# ----------------------------------------------------------------------------- families


def _pymc_pointwise(fam, y, eta, params, trials=None):
    import pytensor.tensor as pt

    return fam.log_density(pt.as_tensor(eta), y, params, trials).eval()


@pytest.mark.parametrize(
    "family, link, y, scipy_logpdf",
    [
        ("gaussian", None, [0.3, -2.0, 5.0], lambda y, eta: stats.norm.logpdf(y, eta, 1.7)),
        ("student_t", None, [0.3, -2.0, 5.0], lambda y, eta: stats.t.logpdf(y, 4.0, eta, 1.7)),
        (
            "bernoulli",
            "logit",
            [1, 0, 1],
            lambda y, eta: stats.bernoulli.logpmf(y, 1 / (1 + np.exp(-eta))),
        ),
        (
            "bernoulli",
            "cloglog",
            [1, 0, 1],
            lambda y, eta: stats.bernoulli.logpmf(y, -np.expm1(-np.exp(eta))),
        ),
        (
            "binomial",
            "cloglog",
            [2, 0, 5],
            lambda y, eta: stats.binom.logpmf(y, 5, -np.expm1(-np.exp(eta))),
        ),
        (
            "binomial",
            "logit",
            [2, 0, 5],
            lambda y, eta: stats.binom.logpmf(y, 5, 1 / (1 + np.exp(-eta))),
        ),
        ("poisson", None, [0, 3, 7], lambda y, eta: stats.poisson.logpmf(y, np.exp(eta))),
    ],
)
def test_family_log_densities_match_scipy(family, link, y, scipy_logpdf):
    fam = family_spec(family, link)
    y = np.asarray(y, dtype=float)
    eta = np.array([-1.2, 0.4, 1.9])
    params = {"sigma": 1.7, "nu": 4.0}
    trials = np.full(3, 5.0) if family == "binomial" else None
    expected = scipy_logpdf(y, eta)
    pymc_values = _pymc_pointwise(fam, y, eta, params, trials)
    np.testing.assert_allclose(pymc_values, expected, rtol=PYMC_LOGP_RTOL)
    numpy_params = {k: np.asarray(v) for k, v in params.items()}
    np.testing.assert_allclose(fam.log_prob(y, eta, numpy_params, trials), expected, rtol=EXACT)


def test_cloglog_is_stable_in_the_tails():
    fam = family_spec("bernoulli", "cloglog")
    eta = np.array([-40.0, -40.0, 4.0, 4.0])
    y = np.array([1.0, 0.0, 1.0, 0.0])
    expected = [-40.0, -np.exp(-40.0), np.log(-np.expm1(-np.exp(4.0))), -np.exp(4.0)]
    np.testing.assert_allclose(fam.log_prob(y, eta, {}), expected, rtol=EXACT, atol=TAIL_ATOL)
    got = _pymc_pointwise(fam, y, eta, {})
    np.testing.assert_allclose(got, expected, rtol=PYMC_LOGP_RTOL, atol=TAIL_ATOL)


def test_family_simulators_have_the_right_means():
    rng = np.random.default_rng(2)
    eta = np.full(200_000, 0.3)
    for family, link, mean in [
        ("bernoulli", "cloglog", -np.expm1(-np.exp(0.3))),
        ("poisson", "log", np.exp(0.3)),
        ("gaussian", "identity", 0.3),
    ]:
        draws = family_spec(family, link).simulate(rng, eta, {"sigma": np.asarray(1.0)})
        assert draws.mean() == pytest.approx(mean, abs=0.01)


def test_family_options_and_responses_are_checked():
    with pytest.raises(SpecError, match="takes link"):
        family_spec("gaussian", "logit")
    with pytest.raises(SpecError, match="not one of"):
        family_spec("weibull")
    with pytest.raises(SpecError, match="0/1"):
        family_spec("bernoulli").check_response(np.array([0.0, 2.0]), None, "exit")
    with pytest.raises(SpecError, match="trials"):
        family_spec("binomial").check_response(np.array([0.0, 2.0]), None, "k")


# ----------------------------------------------------------------------------- fits


@pytest.fixture(scope="module")
def nested_df():
    return small_nested(seed=4)


@pytest.fixture(scope="module")
def collapsed_fit(nested_df):
    return sustain.fit_bayes(nested_df, "y ~ x + (1 | a/b)", **FIT)


@pytest.fixture(scope="module")
def full_fit(nested_df):
    return sustain.fit_bayes(
        nested_df,
        "y ~ x + (1 | a/b)",
        collapse=False,
        target_accept=0.95,
        **{**FIT, "draws": 600},
    )


@pytest.mark.bayes
@pytest.mark.slow
def test_result_contract(collapsed_fit):
    bm = collapsed_fit
    assert isinstance(bm, sustain.models.bayes.BayesResults)
    assert isinstance(bm.idata, xr.DataTree)  # ArviZ 1's container
    assert bm.collapsed and bm.sampler == "nutpie"
    assert list(bm.params.index) == ["Intercept", "x", "sigma", "sd(1|a)", "sd(1|a:b)"]
    assert bm.bse.index.equals(bm.params.index) and (bm.bse > 0).all()
    assert bm.nobs == 240 and bm.info.groups == {"a": 6, "a:b": 30}
    post = bm.idata.posterior
    assert post["r(1|a:b)"].dims == ("chain", "draw", "a:b") and post.sizes["a:b"] == 30
    assert set(bm.idata.children) >= {
        "posterior",
        "sample_stats",
        "log_likelihood",
        "observed_data",
        "prior",
        "prior_predictive",
        "posterior_predictive",
    }
    assert bm.idata.log_likelihood["y"].shape == (2, 300, 240)
    for group in ("log_likelihood", "posterior_predictive"):  # aligned with the posterior draws
        assert bm.idata[group]["chain"].values.tolist() == post["chain"].values.tolist()
        assert bm.idata[group]["draw"].values.tolist() == post["draw"].values.tolist()
    assert bm.idata.prior["r(1|a:b)"].dims == ("chain", "draw", "a:b")
    assert list(bm.idata.prior["a:b"].values) == list(post["a:b"].values)
    assert {"diverging", "energy", "depth", "n_steps"} <= set(bm.idata.sample_stats.data_vars)
    for key in ("rhat_max", "ess_bulk_min", "divergences"):
        assert key in bm.info.stats
    assert bm.info.stats["rhat_max"] < 1.05 and bm.info.stats["divergences"] == 0
    ci = bm.conf_int()
    assert (ci["lower"] < bm.params).all() and (bm.params < ci["upper"]).all()
    assert "sd(1|a:b)" in str(bm.summary()) and len(bm.tidy()) == 5
    assert abs(bm.params["x"] - 0.5) < RECOVERY_SDS * bm.bse["x"]


@pytest.mark.bayes
@pytest.mark.slow
def test_collapsed_and_full_models_give_the_same_posterior(collapsed_fit, full_fit):
    import arviz as az

    def draws(fit, name):
        values = np.asarray(fit.idata.posterior[name])
        return values.reshape(values.shape[0], values.shape[1], -1)

    names = ["Intercept", "x", "sigma", "sd(1|a)", "sd(1|a:b)", "r(1|a)"]
    for name in names:
        a, b = draws(collapsed_fit, name), draws(full_fit, name)
        for k in range(a.shape[-1]):
            mcse = np.hypot(az.mcse(a[:, :, k]), az.mcse(b[:, :, k]))
            diff = abs(a[:, :, k].mean() - b[:, :, k].mean())
            assert diff < MCSE_MULTIPLE * mcse, (name, k, diff, mcse)


@pytest.mark.bayes
@pytest.mark.slow
def test_same_seed_reproduces_byte_identical_summaries(nested_df, collapsed_fit):
    again = sustain.fit_bayes(nested_df, "y ~ x + (1 | a/b)", **FIT)
    assert str(again.summary()) == str(collapsed_fit.summary())
    np.testing.assert_array_equal(
        again.idata.posterior["r(1|a:b)"], collapsed_fit.idata.posterior["r(1|a:b)"]
    )
    np.testing.assert_array_equal(
        again.idata.posterior_predictive["y"], collapsed_fit.idata.posterior_predictive["y"]
    )
    other = sustain.fit_bayes(nested_df, "y ~ x + (1 | a/b)", **{**FIT, "random_seed": 12})
    assert not other.params.equals(collapsed_fit.params)


@pytest.mark.bayes
@pytest.mark.slow
def test_slopes_categoricals_and_student_t():
    df = small_nested(seed=6, n_a=12, n_b=2, n_rows=10)
    a = df["a"].str[1:].astype(int).to_numpy()
    df["y"] += np.random.default_rng(7).normal(0, 0.4, 12)[a] * df["x"]
    df["tier"] = np.where(df.index % 3 == 0, "district", "municipal")
    bm = sustain.fit_bayes(
        df, "y ~ x + C(tier) + (x | a)", family="student_t", priors={"nu": "gamma(2, 0.1)"}, **FIT
    )
    assert not bm.collapsed
    assert list(bm.params.index) == [
        "Intercept",
        "x",
        "C(tier)[T.municipal]",
        "sigma",
        "nu",
        "sd(1|a)",
        "sd(x|a)",
        "cor(1,x|a)",
    ]
    cor = bm.draws("cor(1,x|a)")
    assert np.all((cor > -1) & (cor < 1))
    assert bm.idata.posterior["r(x|a)"].dims == ("chain", "draw", "a")
    assert "cor(1,x|a)" in bm.idata.prior and bm.idata.prior_predictive["y"].shape[-1] == len(df)
    assert abs(bm.params["x"] - 0.5) < RECOVERY_SDS * bm.bse["x"]


@pytest.mark.bayes
@pytest.mark.slow
def test_binomial_and_poisson_fit():
    rng = np.random.default_rng(8)
    df = pd.DataFrame({"x": rng.normal(size=200), "g": np.repeat(np.arange(10), 20)})
    eta = -0.5 + 0.8 * df["x"] + np.repeat(rng.normal(0, 0.5, 10), 20)
    df["k"] = rng.binomial(6, 1 / (1 + np.exp(-eta)))
    df["n"] = 6
    df["c"] = rng.poisson(np.exp(eta))
    bin_fit = sustain.fit_bayes(df, "k ~ x + (1 | g)", family="binomial", trials="n", **FIT)
    poi_fit = sustain.fit_bayes(df, "c ~ x", family="poisson", **FIT)
    for fit, name in [(bin_fit, "k"), (poi_fit, "c")]:
        assert abs(fit.params["x"] - 0.8) < RECOVERY_SDS * fit.bse["x"]
        assert fit.info.stats["divergences"] == 0
        yrep = fit.idata.posterior_predictive[name].to_numpy()
        assert np.all(yrep == np.round(yrep)) and yrep.min() >= 0
    assert bin_fit.info.exp_name == "OR" and poi_fit.info.exp_name == "IRR"


def test_fit_bayes_rejects_bad_options():
    df = small_nested()
    with pytest.raises(SpecError, match="sampler"):
        sustain.fit_bayes(df, "y ~ x", sampler="stan")
    with pytest.raises(SpecError, match="collapse=True"):
        sustain.fit_bayes(df, "y ~ x + (x | a)", collapse=True)
    with pytest.raises(SpecError, match="draws"):
        sustain.fit_bayes(df, "y ~ x", draws=0)
    with pytest.raises(SpecError, match="random_seed"):
        sustain.fit_bayes(df, "y ~ x", random_seed=1.5)
    with pytest.raises(SpecError, match="0/1"):
        sustain.fit_bayes(df, "y ~ x", family="bernoulli")


def test_numpyro_without_jax_says_what_is_missing(monkeypatch):
    import importlib.util

    from sustain.models.bayes import sampling

    real = importlib.util.find_spec
    monkeypatch.setattr(
        sampling.importlib.util, "find_spec", lambda name: None if name == "jax" else real(name)
    )
    with pytest.raises(SpecError, match="JAX"):
        sampling.resolve_sampler("numpyro")


def test_full_model_names_follow_the_contract():
    t = build_terms(small_nested(), "y ~ x + (1 | a/b) + (0 + x | a)")
    fam = family_spec("gaussian")
    m = build_full_model(t, default_priors(t, "gaussian", "identity"), fam)
    names = {v.name for v in m.free_RVs} | {d.name for d in m.deterministics}
    assert {
        "Intercept",
        "x",
        "sigma",
        "sd(1|a)",
        "sd(1|a:b)",
        "sd(x|a)",
        "r(1|a:b)",
        "r(x|a)",
    } <= names
    assert m.named_vars_to_dims["r(1|a:b)"] == ("a:b",)


def test_lkj_construction_has_the_lkj_marginals():
    from sustain.models.bayes.predictive import _lkj_draws

    k, eta = 3, 2.0
    corr = _lkj_draws(k, eta, 4000, np.random.default_rng(9))
    np.testing.assert_allclose(np.diagonal(corr, axis1=1, axis2=2), 1.0, atol=EXACT)
    assert np.all(np.linalg.eigvalsh(corr) > 0)
    # every off-diagonal correlation of LKJ(eta) is 2 * Beta(eta - 1 + k/2, same) - 1
    marginal = stats.beta(eta - 1 + k / 2, eta - 1 + k / 2, loc=-1, scale=2)
    for i, j in [(0, 1), (0, 2), (1, 2)]:
        assert stats.kstest(corr[:, i, j], marginal.cdf).pvalue > KS_P_MIN
