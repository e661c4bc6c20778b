"""Tests of sustain.simulate: determinism, the world's structure, validity and known truth."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sustain
from sustain.data import _world as world
from sustain.data.measures import agency_year_measures
from sustain.data.simulate import COVARIATES, DEFAULT_HAZARD, DEFAULT_QUALITY, simulate
from sustain.errors import SpecError

# Recovery tests use 99% intervals: with six quality and four hazard coefficients checked at
# fixed seeds, a 95% interval would miss one truth in about 40% of seeds by chance alone.
RECOVERY_ALPHA = 0.01
# Generous bounds on facts the world is calibrated to reproduce (docs/simulation.md); each is a
# loose range around the value measured at n = 1500, so only a broken generator fails.
OPEN_TENDER_SHARE = (0.55, 0.75)  # most contracts are openly tendered
MIN_NONCOMPETITIVE_SHARE = 0.03  # directed commission and single source each present
FSC_MEDIAN_AMOUNT = (1.9e6, 2.3e6)  # family-service centres cost about 2 million a year
EXIT_RATE = (0.015, 0.06)  # annual exit rates of a few percent
MAX_CLIPPED_SHARE = 0.01  # scores rarely hit the 0/100 bounds
MIN_WITHIN_SD = 0.05  # hhi and gov_share vary within agencies (FE can identify them)
UNSCORED_SHARE = (0.03, 0.09)  # about 6% of contract-years have no evaluation score
# The requirement: simulate(seed=1, n_agencies=1500) well under 5 s on a shared 2-core machine.
MAX_SECONDS_1500 = 5.0


@pytest.fixture(scope="module")
def sim():
    """A medium simulation shared by the structural tests."""
    return simulate(seed=11, n_agencies=1500)


@pytest.fixture(scope="module")
def measures(sim):
    """Funding measures and latent values of the medium simulation, one row per agency-year."""
    m = agency_year_measures(sim.data.contracts, sim.data.revenue)
    return m.join(sim.latent_years, how="inner")


def _frames(s):
    d = s.data
    return [d.agencies, d.contracts, d.revenue, s.latent, s.latent_years]


def test_same_seed_gives_identical_data():
    a, b = simulate(seed=5, n_agencies=80), simulate(seed=5, n_agencies=80)
    for left, right in zip(_frames(a), _frames(b), strict=True):
        pd.testing.assert_frame_equal(left, right)
    assert a.truth == b.truth


def test_different_seeds_give_different_data():
    a, b = simulate(seed=5, n_agencies=80), simulate(seed=6, n_agencies=80)
    assert not a.data.contracts["amount"].equals(b.data.contracts["amount"])
    assert not a.data.agencies["founded"].equals(b.data.agencies["founded"])


def test_geography_and_window(sim):
    agencies, contracts = sim.data.agencies, sim.data.contracts
    assert sorted(agencies["district"].unique()) == sorted(world.district_names())
    assert len(world.DISTRICTS) == 11
    streets = contracts.loc[contracts["funder"].str.endswith("Street Office"), "funder"]
    assert streets.nunique() == 171
    assert (contracts["tier"] == "subdistrict").sum() == len(streets)
    assert (agencies["founded"].min(), agencies["founded"].max()) == (2008, 2018)
    assert sim.data.years == (2012, 2023)
    assert agencies["agency_id"].is_unique and len(agencies) == 1500


def test_procurement_mix(sim):
    share = sim.data.contracts["contract_type"].value_counts(normalize=True)
    assert OPEN_TENDER_SHARE[0] < share["open_tender"] < OPEN_TENDER_SHARE[1]
    assert share["directed_commission"] > MIN_NONCOMPETITIVE_SHARE
    assert share["single_source"] > MIN_NONCOMPETITIVE_SHARE
    assert set(share.index) == set(sustain.options.CONTRACT_TYPES)
    assert share["open_tender"] == share.max()


def test_amount_scale_and_rounding(sim):
    c, r = sim.data.contracts, sim.data.revenue
    fsc = c.loc[(c["tier"] == "subdistrict") & (c["amount"] > 1e6), "amount"]
    assert FSC_MEDIAN_AMOUNT[0] < fsc.median() < FSC_MEDIAN_AMOUNT[1]
    assert c.loc[c["tier"] != "subdistrict", "amount"].median() < 1e6
    for amount in (c["amount"], r["amount"]):
        assert (amount > 0).all()
        np.testing.assert_array_equal(amount.to_numpy(), np.rint(amount * 100) / 100)
    assert set(r["source"]) == set(world.SOURCES)


def test_scores_in_range_and_partly_missing(sim):
    score = sim.data.contracts["score"]
    assert UNSCORED_SHARE[0] < score.isna().mean() < UNSCORED_SHARE[1]
    s = score.dropna()
    assert s.between(0, 100).all()
    np.testing.assert_array_equal(s.to_numpy(), np.rint(s * 10) / 10)
    assert sim.clipped_share < MAX_CLIPPED_SHARE


def test_years_respect_founding_and_closure(sim):
    a = sim.data.agencies.set_index("agency_id")
    for table in (sim.data.contracts, sim.data.revenue):
        founded = a["founded"].reindex(table["agency_id"]).to_numpy()
        closed = a["closed"].reindex(table["agency_id"]).fillna(9999).to_numpy(dtype=int)
        year = table["year"].to_numpy()
        assert (year >= founded).all() and (year <= closed).all()
    assert not sim.data.contracts.duplicated(["contract_id", "year"]).any()


def test_every_year_at_risk_has_contracts(sim, measures):
    a = sim.data.agencies
    last = a["closed"].fillna(2023).astype(int)
    expected = (last - np.maximum(a["founded"], 2012) + 1).sum()
    assert len(measures) == len(sim.latent_years) == expected
    assert measures["revenue_gov"].gt(0).all()
    exits = sim.latent_years.groupby(level="agency_id")["exit"].sum()
    assert exits.sum() == a["closed"].notna().sum() and exits.max() == 1


def test_exit_rates_and_within_variation(measures):
    assert EXIT_RATE[0] < measures["exit"].mean() < EXIT_RATE[1]
    by_year = measures.groupby(level="year")["exit"].mean()
    assert (by_year < 2 * EXIT_RATE[1]).all()
    g = measures.index.get_level_values("agency_id")
    within = measures[["hhi", "gov_share"]] - measures[["hhi", "gov_share"]].groupby(g).transform(
        "mean"
    )
    assert (within.std() > MIN_WITHIN_SD).all()


def test_names_are_unicode_and_gb18030_encodable(sim):
    names = sim.data.agencies["name"]
    assert names.str.startswith("广州市").all() and names.is_unique
    for name in names:
        name.encode("gb18030")


def test_latent_frame(sim):
    latent = sim.latent
    assert list(latent["agency_id"]) == list(sim.data.agencies["agency_id"])
    assert {"agency_effect", "district_effect", "district_hazard_effect"} <= set(latent)
    assert latent.groupby("district")["district_effect"].nunique().eq(1).all()
    assert abs(latent["agency_effect"].std() - sim.truth.sd_agency) < 0.5


def test_latent_quality_is_the_mean_of_scores(measures):
    # quality = amount-weighted mean of (latent quality + contract noise), so it scatters around
    # the latent value with at most the contract noise sd (2); clipping is rare.
    gap = measures["quality"] - measures["latent_quality"]
    assert abs(gap.mean()) < 0.05
    assert gap.std() < 2.1


def test_truth_keys_are_panel_columns(sim):
    assert set(sim.truth.quality) == set(DEFAULT_QUALITY)
    assert set(sim.truth.hazard) == set(DEFAULT_HAZARD)
    assert sim.truth.link == "cloglog" and sim.truth.association == 0.0
    assert set(sim.truth.quality) - {"Intercept"} <= set(COVARIATES)


def test_build_panel_carries_the_truth_columns(sim, measures):
    panel = sustain.build_panel(sim.data)
    assert len(panel) == len(sim.latent_years)
    assert {*sim.truth.quality, *sim.truth.hazard} - {"Intercept"} <= set(panel.columns)
    aligned = panel.reindex(measures.index)
    for column in ("hhi", "gov_share", "log_revenue", "share_subdistrict", "quality"):
        np.testing.assert_allclose(aligned[column], measures[column], rtol=1e-12)
    np.testing.assert_array_equal(aligned["exit"], measures["exit"])


def test_strict_validation_passes(sim):
    data = sustain.validate(sim.data.agencies, sim.data.contracts, sim.data.revenue)
    errors = data.problems
    if "severity" in errors:
        errors = errors[errors["severity"] == "error"]
    assert errors.empty
    assert len(data.contracts) == len(sim.data.contracts)


def test_fixed_effects_recover_quality_truth():
    s = simulate(seed=21, n_agencies=300)
    panel = sustain.build_panel(s.data).dropna(subset=["quality"]).reset_index()
    terms = [k for k in s.truth.quality if k != "Intercept"]
    dummies = pd.get_dummies(panel["agency_id"], dtype=float)
    fit = sm.OLS(panel["quality"], pd.concat([panel[terms], dummies], axis=1)).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(panel["agency_id"])[0]}
    )
    ci = fit.conf_int(RECOVERY_ALPHA).loc[terms]
    truth = pd.Series(s.truth.quality)[terms]
    assert ((ci[0] < truth) & (truth < ci[1])).all(), pd.concat([ci, truth], axis=1)


def test_cloglog_hazard_recovers_exit_truth():
    s = simulate(seed=22, n_agencies=3000)
    panel = sustain.build_panel(s.data)
    terms = [k for k in s.truth.hazard if k != "Intercept"]
    latent = s.latent.set_index("agency_id")
    agency = panel.index.get_level_values("agency_id")
    offset = s.truth.age_effect(panel["age"].to_numpy())
    offset = offset + latent["district_hazard_effect"].reindex(agency).to_numpy()
    family = sm.families.Binomial(link=sm.families.links.CLogLog())
    x = sm.add_constant(panel[terms]).rename(columns={"const": "Intercept"})
    fit = sm.GLM(panel["exit"], x, family=family, offset=offset).fit()
    ci = fit.conf_int(RECOVERY_ALPHA)
    truth = pd.Series(s.truth.hazard)[x.columns]
    assert ((ci[0] < truth) & (truth < ci[1])).all(), pd.concat([ci, truth], axis=1)


def test_association_makes_low_quality_agencies_exit_more():
    base = simulate(seed=31, n_agencies=2000)
    linked = simulate(seed=31, n_agencies=2000, association=-0.4)
    pd.testing.assert_frame_equal(base.latent, linked.latent)
    low = (base.latent["agency_effect"] < -base.truth.sd_agency).to_numpy()
    high = (base.latent["agency_effect"] > base.truth.sd_agency).to_numpy()
    closed0 = base.data.agencies["closed"].notna().to_numpy()
    closed1 = linked.data.agencies["closed"].notna().to_numpy()
    assert closed1[low].mean() > closed0[low].mean() + 0.2
    assert closed1[high].mean() < closed0[high].mean()
    assert linked.truth.association == -0.4
    # Same draws otherwise: the latent quality of the years both keep is identical.
    both = base.latent_years.index.intersection(linked.latent_years.index)
    np.testing.assert_array_equal(
        base.latent_years.loc[both, "latent_quality"],
        linked.latent_years.loc[both, "latent_quality"],
    )


def test_custom_coefficients_replace_defaults():
    s = simulate(seed=2, n_agencies=40, quality_coefs={"hhi": -10.0}, hazard_coefs={"age": 0.1})
    assert s.truth.quality == {"Intercept": DEFAULT_QUALITY["Intercept"], "hhi": -10.0}
    assert s.truth.hazard == {"Intercept": DEFAULT_HAZARD["Intercept"], "age": 0.1}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_agencies": 0}, "n_agencies"),
        ({"n_agencies": 2.5}, "n_agencies"),
        ({"seed": -1}, "seed"),
        ({"first_year": 2024}, "first_year"),
        ({"founded": (2010, 2030)}, "founded"),
        ({"sigma": -1.0}, "sigma"),
        ({"association": float("nan")}, "association"),
        ({"quality_coefs": {"hhii": 1.0}}, "hhii"),
        ({"hazard_coefs": {"hhi": float("inf")}}, "hazard_coefs"),
    ],
)
def test_bad_arguments_raise_spec_error(kwargs, message):
    args = {"seed": 1, "n_agencies": 10, **kwargs}
    with pytest.raises(SpecError, match=message):
        simulate(**args)


def test_other_windows():
    s = simulate(seed=4, n_agencies=60, first_year=2015, last_year=2018)
    assert s.data.years == (2015, 2018)
    assert s.data.agencies["founded"].between(2011, 2018).all()


def test_speed_at_1500_agencies():
    start = time.perf_counter()
    simulate(seed=1, n_agencies=1500)
    assert time.perf_counter() - start < MAX_SECONDS_1500


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 40))
def test_invariants_hold_for_any_seed(seed, n):
    s = simulate(seed=seed, n_agencies=n)
    c = s.data.contracts
    assert len(s.data.agencies) == n
    assert (c["amount"] > 0).all() and c["score"].dropna().between(0, 100).all()
    assert not c.duplicated(["contract_id", "year"]).any()
    assert set(c["agency_id"]) <= set(s.data.agencies["agency_id"])
    m = agency_year_measures(c, s.data.revenue)
    assert len(m) == len(s.latent_years)
    np.testing.assert_allclose(m["revenue_gov"].sum(), c["amount"].sum(), rtol=1e-12)
