"""Centred or non-centred group effects: the shared "auto" rule and the partly centred model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import sustain
from sustain.errors import SpecError
from sustain.models.bayes.families import family_spec
from sustain.models.bayes.model import build_full_model, stored_names
from sustain.models.bayes.parameterization import (
    MIN_EVENTS,
    centred_intercepts,
    centred_levels,
    level_information,
    resolve_forms,
)
from sustain.models.bayes.priors import default_priors
from sustain.models.bayes.terms import build_terms

# Centred vs non-centred fits of one model: posterior means agree within this many Monte Carlo
# standard errors of their difference (MCSEs from bulk ESS; 4.5 keeps the chance that one of
# the ~25 compared quantities fails by chance below 1e-3 with fixed seeds).
MCSE_MULTIPLE = 4.5

GAUSSIAN = family_spec("gaussian")
CLOGLOG = family_spec("bernoulli", "cloglog")
FIT = {"draws": 600, "tune": 600, "chains": 2, "random_seed": 21}


@pytest.fixture(scope="module")
def panel(example_panel):
    return example_panel.reset_index()


# ----------------------------------------------------------------------------- the rule


def test_auto_centres_agencies_with_many_scores(panel):
    # about 8 quality scores per agency: the agency effects are pinned down by their own data
    terms = build_terms(panel, "quality ~ hhi + gov_share + (1 | district) + (1 | agency_id)")
    district, agency = centred_levels(terms, GAUSSIAN)
    assert district.all() and agency.mean() > 0.95
    (info,) = level_information(terms, GAUSSIAN)[1]
    assert info.detectable and np.median(info.ratio[info.ratio > 0]) > 5


def test_auto_leaves_sparse_factors_non_centred(panel):
    # at most one exit per agency: no agency effect is pinned down by its own rows
    terms = build_terms(panel, "exit ~ hhi + gov_share + log_revenue + age + (1 | agency_id)")
    (agency,) = centred_levels(terms, CLOGLOG)
    assert not agency.any()
    (district,) = centred_levels(
        build_terms(panel, "exit ~ hhi + gov_share + log_revenue + age + (1 | district)"), CLOGLOG
    )
    # about ten exits per district and no detectable between-district variance
    assert not district.any()


def test_discrete_levels_need_enough_events():
    rng = np.random.default_rng(3)
    g = np.repeat(np.arange(30), 40)
    eta = -1.0 + np.repeat(rng.normal(0, 1.5, 30), 40)
    e = (rng.random(len(g)) < 1 / (1 + np.exp(-eta))).astype(int)
    e[g == 0] = 0  # one level with no events at all
    df = pd.DataFrame({"g": [f"G{i:02d}" for i in g], "e": e})
    terms = build_terms(df, "e ~ 1 + (1 | g)")
    (centred,) = centred_levels(terms, family_spec("bernoulli"))
    events = df.groupby("g")["e"].agg(lambda e: min(e.sum(), len(e) - e.sum())).to_numpy()
    assert not centred[events < MIN_EVENTS].any()
    assert centred[events >= 3 * MIN_EVENTS].mean() > 0.5


def exact_anova_frame(n_levels: int, f_statistic: float, rows: int = 50) -> pd.DataFrame:
    """Levels of ``rows`` rows, within variance exactly 1, level means giving this F exactly."""
    noise = np.random.default_rng(4).normal(size=(n_levels, rows))
    noise -= noise.mean(axis=1, keepdims=True)
    noise /= np.sqrt((noise**2).sum() / (n_levels * (rows - 1)))
    means = np.linspace(-1.0, 1.0, n_levels)
    means *= np.sqrt(f_statistic / rows / np.var(means, ddof=1))
    y = (means[:, None] + noise).ravel()
    return pd.DataFrame({"g": np.repeat([f"L{i:02d}" for i in range(n_levels)], rows), "y": y})


def test_undetectable_variance_centres_nothing():
    # 4 levels, F = 2.2: the point ratio n tau^2 / sigma^2 = F - 1 = 1.2 passes, but F is below
    # the 95% quantile of chi2(3) / 3 (2.6), so tau = 0 cannot be ruled out (the funnel)
    terms = build_terms(exact_anova_frame(4, 2.2), "y ~ 1 + (1 | g)")
    (info,) = level_information(terms, GAUSSIAN)[0]
    assert info.f_statistic == pytest.approx(2.2) and np.all(info.ratio > 1)
    assert not info.detectable and not centred_levels(terms, GAUSSIAN)[0].any()


def test_ratio_uses_a_lower_bound_of_the_variance():
    # 11 levels (like the districts): F = 2.5 is detectable (95% quantile of chi2(10) / 10 is
    # 1.83) and the point ratio is 1.5, but at the lower bound it is 1.5 (2.5 - 1.83) / 1.5
    crit = stats.chi2.ppf(0.95, 10) / 10
    for f_stat, centred in [(2.5, False), (3.5, True)]:
        terms = build_terms(exact_anova_frame(11, f_stat), "y ~ 1 + (1 | g)")
        (info,) = level_information(terms, GAUSSIAN)[0]
        assert info.detectable and np.allclose(info.ratio, f_stat - 1)
        np.testing.assert_allclose(info.lower_ratio(), f_stat - crit)
        assert centred_levels(terms, GAUSSIAN)[0].all() == centred
        assert centred_levels(terms, GAUSSIAN)[0].any() == centred


def test_shared_intercept_rule_is_the_one_fit_bayes_uses(panel):
    terms = build_terms(panel, "quality ~ hhi + (1 | agency_id)")
    g = terms.groups[0]
    shared = centred_intercepts(terms.y, terms.X, g.index, g.n_levels)
    np.testing.assert_array_equal(shared, centred_levels(terms, GAUSSIAN)[0])
    assert not centred_intercepts(terms.y, terms.X, g.index, g.n_levels, "noncentred").any()
    assert centred_intercepts(terms.y, terms.X, g.index, g.n_levels, "centred").all()


# ----------------------------------------------------------------------------- options


def test_forms_per_factor(panel):
    terms = build_terms(panel, "quality ~ hhi + (1 | district) + (1 | agency_id)")
    assert resolve_forms(terms, {"agency_id": "non_centred"}) == ["auto", "non_centred"]
    district, agency = centred_levels(terms, GAUSSIAN, {"district": "centred", "agency_id": "auto"})
    assert district.all() and agency.mean() > 0.95
    district, agency = centred_levels(terms, GAUSSIAN, {"agency_id": "noncentred"})
    assert district.all() and not agency.any()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("centered", "'centered' is not one of"),
        ({"agency_id": "partial"}, "'partial' for 'agency_id'"),
        ({"agency": "centred"}, "'agency', which is not a grouping factor"),
        (["centred"], "must be 'auto', 'centred', 'non_centred' or a mapping"),
    ],
)
def test_bad_parameterization_is_refused(value, message):
    df = pd.DataFrame({"y": np.arange(8.0), "agency_id": list("aabbccdd")})
    with pytest.raises(SpecError, match=message):
        sustain.fit_bayes(df, "y ~ 1 + (1 | agency_id)", parameterization=value, draws=10)


# ----------------------------------------------------------------------------- the model


def mixed_frame(seed: int = 6) -> pd.DataFrame:
    """12 levels of g with 30 rows each and 12 with 1 row; a varying slope of x over g.

    Information ratios: about 30 x 0.36 and 30 x 0.25 for the big levels (centred), 0.36 and
    0.25 x^2 for the single rows (non-centred).
    """
    rng = np.random.default_rng(seed)
    sizes = np.r_[np.full(12, 30), np.full(12, 1)]
    g = np.repeat(np.arange(24), sizes)
    x = rng.normal(size=len(g))
    u, v = rng.normal(0, 0.6, 24), rng.normal(0, 0.5, 24)
    y = 1 + (0.5 + v[g]) * x + u[g] + rng.normal(0, 1, len(g))
    return pd.DataFrame({"y": y, "x": x, "g": [f"G{i:02d}" for i in g]})


def test_partly_centred_model_keeps_names_dims_and_level_order():
    df = mixed_frame()
    terms = build_terms(df, "y ~ x + (x | g)")
    (mask,) = centred_levels(terms, GAUSSIAN)
    assert mask[:12].all() and not mask[12:].any()  # the big levels only
    model = build_full_model(terms, default_priors(terms, "gaussian", "identity"), GAUSSIAN, [mask])
    assert model.named_vars_to_dims["r(x|g)"] == ("g",)
    assert not any(n.startswith(("z(", "centred(")) for n in stored_names(model))
    point = model.initial_point()
    point = {k: np.full_like(v, 0.3) for k, v in point.items()}
    centred_raw = next(k for k in point if k.startswith("centred("))
    point[centred_raw] = np.arange(point[centred_raw].size, dtype=float).reshape(12, 2)
    (r_of_values,) = model.replace_rvs_by_values([model["r(1|g)"]])
    fn = model.compile_fn(r_of_values, inputs=model.value_vars, on_unused_input="ignore")
    r = fn(point)
    # the centred rows come back at the positions of the centred levels, in order
    np.testing.assert_allclose(r[:12], np.arange(0, 24, 2.0))


@pytest.fixture(scope="module")
def mixed_fits():
    df = mixed_frame()
    formula = "y ~ x + (x | g)"
    auto = sustain.fit_bayes(df, formula, collapse=False, **FIT)
    non = sustain.fit_bayes(df, formula, parameterization="non_centred", target_accept=0.95, **FIT)
    return auto, non


@pytest.mark.bayes
@pytest.mark.slow
def test_centred_and_non_centred_models_give_the_same_posterior(mixed_fits):
    import arviz as az

    auto, non = mixed_fits
    assert any("g 12 of 24 levels" in note for note in auto.info.notes)
    assert any("g 0 of 24 levels" in note for note in non.info.notes)
    assert set(auto.idata.posterior.data_vars) == set(non.idata.posterior.data_vars)
    names = [*auto.terms, "r(1|g)", "r(x|g)"]
    for name in names:
        a, b = np.asarray(auto.idata.posterior[name]), np.asarray(non.idata.posterior[name])
        a, b = a.reshape(*a.shape[:2], -1), b.reshape(*b.shape[:2], -1)
        for k in [*range(min(a.shape[-1], 3)), *range(12, min(a.shape[-1], 15))]:
            mcse = np.hypot(az.mcse(a[:, :, k]), az.mcse(b[:, :, k]))
            diff = abs(a[:, :, k].mean() - b[:, :, k].mean())
            assert diff < MCSE_MULTIPLE * mcse, (name, k, diff, mcse)
