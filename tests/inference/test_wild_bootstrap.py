"""wild_bootstrap: agreement with the fit, with refitting, determinism, intervals, errors."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest

import sustain
from sustain.errors import SpecError
from sustain.inference.score_bootstrap import restricted_fit
from sustain.inference.weights import enumerate_weights
from sustain.inference.wild_linear import crossed_effect, linear_blocks, projected
from sustain.models.panel import absorb

# The bootstrap t statistic at v = 1 and the fit's own t statistic take different algebraic
# routes (cluster-level blocks vs. linearmodels/sustain's covariance): ~1e-13 relative.
T_RTOL = 1e-9
# Refitting a bootstrap sample (absorbing the effects again, iteratively for two effects)
# reproduces the building blocks' t statistics to the absorb tolerance, far below 1e-7.
REFIT_RTOL = 1e-7
# The interval ends are found by bisection to 1e-6 standard errors (CI_RTOL); a null 1e-4
# standard errors inside or outside an end is on the right side of it.
CI_PROBE = 1e-4


def _quiet_fit(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # few clusters: the point of these tests
        return sustain.fit_fe(*args, **kwargs)


@pytest.fixture(scope="module")
def quality(example_panel):
    return example_panel.dropna(subset=["quality", "hhi", "gov_share"])


def small_panel(n_districts: int = 4, agencies: int = 24, years: int = 5, seed: int = 3):
    rng = np.random.default_rng(seed)
    agency = np.repeat(np.arange(agencies), years)
    year = np.tile(np.arange(years), agencies)
    district = (np.arange(agencies) % n_districts)[agency]
    frame = pd.DataFrame(
        {"hhi": rng.uniform(size=len(agency)) + rng.normal(size=(n_districts, years))[district, year],
         "gov_share": rng.uniform(size=len(agency)), "district": district},
        index=pd.MultiIndex.from_arrays([agency, 2015 + year], names=["agency_id", "year"]),
    )  # fmt: skip
    frame["quality"] = 0.2 * frame.hhi + frame.gov_share + rng.normal(size=len(frame))
    return frame


@pytest.mark.parametrize(
    ("estimator", "effects"),
    [("within", ("agency_id", "year")), ("within", ("agency_id",)), ("random", None),
     ("pooled", None), ("first_difference", None), ("between", None)],
)  # fmt: skip
def test_t_statistic_is_the_fits_own(quality, estimator, effects):
    options = {"effects": effects} if effects else {}
    fe = _quiet_fit(quality, "quality ~ hhi + gov_share", estimator=estimator,
                    cluster="district", **options)  # fmt: skip
    wb = sustain.wild_bootstrap(fe, "gov_share", reps=999, random_seed=1, interval=False)
    assert wb.t_stat == pytest.approx(fe.tvalues["gov_share"], rel=T_RTOL)
    assert wb.estimate == pytest.approx(fe.params["gov_share"], rel=T_RTOL)
    assert wb.cluster == "district" and wb.n_clusters == 11


def test_another_cluster_uses_that_clusterings_covariance(quality):
    fe = _quiet_fit(quality, "quality ~ hhi + gov_share", cluster="agency_id")
    wb = sustain.wild_bootstrap(fe, "hhi", cluster="district", reps=9999)
    by_district = fe.with_cov_type("clustered", cluster="district")
    assert wb.t_stat == pytest.approx(by_district.tvalues["hhi"], rel=T_RTOL)


def test_every_sign_vector_reproduces_a_refit():
    """The building blocks give what refitting every bootstrap sample would give."""
    panel = small_panel()
    fe = _quiet_fit(panel, "quality ~ hhi + gov_share", cluster="district")
    wb = sustain.wild_bootstrap(fe, "hhi", reps=9999)
    assert wb.enumerated and wb.reps == 2**4
    restricted = _quiet_fit(panel.assign(y0=panel.quality), "y0 ~ gov_share", cluster="district")
    u = restricted.pieces.resid
    fitted = panel["quality"].to_numpy() - u  # includes the effects and the null beta = 0
    codes = pd.factorize(panel["district"])[0]
    refits = []
    for signs in itertools.product([-1.0, 1.0], repeat=4):
        sample = panel.assign(quality=fitted + u * np.asarray(signs)[codes])
        star = _quiet_fit(sample, "quality ~ hhi + gov_share", cluster="district")
        refits.append(star.tvalues["hhi"])
    np.testing.assert_allclose(np.sort(wb.t_draws), np.sort(refits), rtol=REFIT_RTOL, atol=1e-12)


def test_crossed_effect_shortcut_equals_the_projection():
    panel = small_panel(n_districts=5)
    fe = _quiet_fit(panel, "quality ~ hhi + gov_share", cluster="district")
    pieces = fe.pieces
    codes = pd.factorize(panel["district"])[0]
    agency, year = (np.asarray(pieces.absorbed[k]) for k in ("agency_id", "year"))
    effects = [absorb.effect_from_codes("a", agency), absorb.effect_from_codes("t", year)]
    args = (pieces.X, pieces.y, pieces.resid, codes, 0, 1.0)
    fast = linear_blocks(*args, correction=crossed_effect(year, int(year.max()) + 1, agency))
    slow = linear_blocks(*args, correction=projected(lambda Z: absorb.absorb(Z, effects).values))
    for name in ("numer0", "numer1", "spread0", "spread1"):
        np.testing.assert_allclose(getattr(fast, name), getattr(slow, name), atol=1e-10)


def test_enumeration_is_exact_and_needs_no_seed(quality):
    fe = _quiet_fit(quality, "quality ~ hhi + gov_share", cluster="district")
    first = sustain.wild_bootstrap(fe, "hhi", reps=9999, random_seed=1)
    second = sustain.wild_bootstrap(fe, "hhi", reps=2048, random_seed=99)
    assert first.enumerated and first.reps == 2048 and first.random_seed is None
    assert first.t_draws.tobytes() == second.t_draws.tobytes()
    assert (first.pvalue, first.conf_int) == (second.pvalue, second.conf_int)
    fewer = sustain.wild_bootstrap(fe, "hhi", reps=2047, random_seed=1)
    assert not fewer.enumerated and fewer.reps == 2047


def test_random_draws_follow_the_seed(quality):
    fe = _quiet_fit(quality, "quality ~ hhi + gov_share", cluster="district")
    a = sustain.wild_bootstrap(fe, "gov_share", weights="webb", reps=999, random_seed=5)
    b = sustain.wild_bootstrap(fe, "gov_share", weights="webb", reps=999, random_seed=5)
    c = sustain.wild_bootstrap(fe, "gov_share", weights="webb", reps=999, random_seed=6)
    assert a.t_draws.tobytes() == b.t_draws.tobytes() and a.conf_int == b.conf_int
    assert a.t_draws.tobytes() != c.t_draws.tobytes()
    unseeded = sustain.wild_bootstrap(fe, "gov_share", weights="webb", reps=99)
    assert isinstance(unseeded.random_seed, int)  # a fresh seed, recorded


def test_webb_weights_enumerate_with_few_clusters():
    panel = small_panel(n_districts=4)
    fe = _quiet_fit(panel, "quality ~ hhi + gov_share", cluster="district")
    wb = sustain.wild_bootstrap(fe, "hhi", weights="webb", reps=9999)
    assert wb.enumerated and wb.reps == 6**4
    assert enumerate_weights("webb", 4).shape == (4, 6**4)


def test_interval_inverts_the_test(quality):
    fe = _quiet_fit(quality, "quality ~ hhi + gov_share", cluster="district")
    wb = sustain.wild_bootstrap(fe, "gov_share", reps=9999)
    lower, upper = wb.conf_int
    assert lower < wb.estimate < upper
    se = wb.estimate / wb.t_stat
    for end, inward in ((lower, 1.0), (upper, -1.0)):
        inside = sustain.wild_bootstrap(fe, "gov_share", null=end + inward * CI_PROBE * se)
        outside = sustain.wild_bootstrap(fe, "gov_share", null=end - inward * CI_PROBE * se)
        assert inside.pvalue > wb.alpha >= outside.pvalue


def test_unrestricted_bootstrap_and_no_interval(quality):
    fe = _quiet_fit(quality, "quality ~ hhi + gov_share", cluster="district")
    wb = sustain.wild_bootstrap(fe, "hhi", impose_null=False, interval=False)
    assert not wb.impose_null and np.isnan(wb.conf_int).all()
    assert "unrestricted" in wb.describe() and "Wild cluster bootstrap" in str(wb)


def test_hazard_score_bootstrap(example_panel):
    hz = sustain.fit_hazard(example_panel, "exit ~ hhi + log_revenue", duration="age",
                            cluster="district")  # fmt: skip
    unrestricted = sustain.wild_bootstrap(hz, "hhi", impose_null=False)
    assert unrestricted.t_stat == pytest.approx(hz.tvalues["hhi"], rel=T_RTOL)
    assert unrestricted.method == "score" and unrestricted.enumerated
    restricted = sustain.wild_bootstrap(hz, "hhi", interval=False)
    # the statistic is the cluster-robust score statistic at the restricted fit, written out
    pieces = hz.pieces
    column = list(hz.params.index).index("hhi")
    fit = restricted_fit(pieces.X, pieces.y, pieces.link, column, 0.0)
    assert fit.params[column] == 0.0
    others = np.delete(fit.scores.sum(axis=0), column)
    assert np.abs(others).max() < 1e-6  # first-order conditions of the restricted model
    codes = pd.factorize(hz.pieces.frame.groups["district"].codes)[0]
    c = np.bincount(codes, weights=fit.scores @ fit.bread[:, column])
    share = np.bincount(codes) / len(codes)
    n, k = pieces.X.shape
    factor = 11 / 10 * (n - 1) / (n - k)
    expected = c.sum() / np.sqrt(factor * np.sum((c - share * c.sum()) ** 2))
    assert restricted.t_stat == pytest.approx(expected, rel=T_RTOL)
    for v in enumerate_weights("rademacher", 11)[:, [3, 700, 1500]].T:
        numer = c @ v
        star = numer / np.sqrt(factor * np.sum((c * v - share * numer) ** 2))
        assert np.min(np.abs(restricted.t_draws - star)) < T_RTOL * abs(star)


def test_hazard_interval_brackets_the_estimate(example_panel):
    hz = sustain.fit_hazard(example_panel, "exit ~ hhi + log_revenue", duration="age",
                            cluster="district")  # fmt: skip
    wb = sustain.wild_bootstrap(hz, "log_revenue", weights="webb", reps=999, random_seed=3)
    assert wb.conf_int[0] < wb.estimate < wb.conf_int[1]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"term": "nope"}, "not a coefficient"), ({"cluster": "quality"}, "cannot cluster on"),
     ({"weights": "mammen"}, "weights='mammen'"), ({"reps": 0}, "reps = 0 is out of bounds"),
     ({"alpha": 1.5}, "alpha"), ({"cluster": ["district", "year"]}, "one variable")],
)  # fmt: skip
def test_bad_options_are_refused(quality, kwargs, message):
    fe = _quiet_fit(quality, "quality ~ hhi + gov_share", cluster="district")
    options = {"term": "hhi", **kwargs}
    with pytest.raises(SpecError, match=message):
        sustain.wild_bootstrap(fe, **options)


def test_results_that_cannot_be_bootstrapped(quality, tmp_path):
    unclustered = _quiet_fit(quality, "quality ~ hhi + gov_share")
    with pytest.raises(SpecError, match="not clustered"):
        sustain.wild_bootstrap(unclustered, "hhi")
    two_way = _quiet_fit(quality, "quality ~ hhi + gov_share", cluster=["agency_id", "year"])
    with pytest.raises(SpecError, match="clustered two-way"):
        sustain.wild_bootstrap(two_way, "hhi")
    constant = _quiet_fit(quality, "quality ~ 1 + hhi + gov_share", cluster="district")
    with pytest.raises(SpecError, match="constant of a within fit"):
        sustain.wild_bootstrap(constant, "Intercept")
    from sustain.persistence import save_result

    loaded = sustain.load_result(save_result(unclustered, tmp_path / "fe.nc"))
    with pytest.raises(SpecError, match="keeps no regression"):
        sustain.wild_bootstrap(loaded, "hhi", cluster="district")


def test_within_constant_does_not_change_the_slopes_test(quality):
    plain = _quiet_fit(quality, "quality ~ hhi + gov_share", cluster="district")
    constant = _quiet_fit(quality, "quality ~ 1 + hhi + gov_share", cluster="district")
    a = sustain.wild_bootstrap(plain, "hhi", interval=False)
    b = sustain.wild_bootstrap(constant, "hhi", interval=False)
    np.testing.assert_allclose(a.t_draws * a.t_stat / b.t_stat, b.t_draws, rtol=1e-8)
    assert a.pvalue == b.pvalue


def test_restricted_fit_matches_statsmodels_with_an_offset(example_panel):
    import statsmodels.api as sm
    from statsmodels.genmod.families import links

    hz = sustain.fit_hazard(example_panel, "exit ~ hhi + log_revenue", duration="age")
    X, y = hz.pieces.X, hz.pieces.y.astype(float)
    column = list(hz.params.index).index("log_revenue")
    ours = restricted_fit(X, hz.pieces.y, "cloglog", column, -0.3)
    family = sm.families.Binomial(link=links.CLogLog())
    offset = -0.3 * X[:, column]
    glm = sm.GLM(y, np.delete(X, column, axis=1), family=family, offset=offset).fit(tol=1e-13)
    np.testing.assert_allclose(np.delete(ours.params, column), glm.params, rtol=1e-6)
    full = sm.GLM(y, X, family=family)
    np.testing.assert_allclose(ours.scores, full.score_obs(ours.params), rtol=1e-9, atol=1e-12)
    information = -full.hessian(ours.params, observed=False)
    np.testing.assert_allclose(ours.bread, np.linalg.inv(information), rtol=1e-8)
