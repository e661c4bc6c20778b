"""Competing risks of exit: the multinomial discrete-time hazard and the cause-specific Cox model.

References: the multinomial hazard against an independent statsmodels ``MNLogit`` fit (its own
formula interface and its own cluster-robust covariance) on the same person-period rows built
by hand; the cause-specific Cox model against ``fit_cox`` on a 0/1 indicator of the cause.
Recovery: simulated competing causes with known, different effects of HHI.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

import sustain
from sustain.data.simulate import simulate
from sustain.errors import SpecError
from sustain.models.survival.competing import cause_outcomes, competing_duration_bands

# Both sides run Newton to convergence on the same likelihood (statsmodels' default tolerance
# 1e-8 on the step); estimates agree to far better than this.
PARAMS_TOL = 1e-6
# statsmodels' cluster covariance (use_correction=True: G/(G-1) (n-1)/(n-k)) is the same
# formula as the shared kernel's r_vcovcl convention; they differ by rounding only.
SE_TOL = 1e-6
# Recovery uses 99% intervals: four coefficients are checked at one fixed seed.
RECOVERY_ALPHA = 0.01
RECOVERY_SEED = 2
RECOVERY_AGENCIES = 3000  # about 1,600 exits: 1,400 closures and 200 mergers
TRUE_CAUSES = {
    "closed": {"Intercept": -4.0, "hhi": 1.5},
    "merged": {"Intercept": -3.5, "hhi": -2.0},
}


@pytest.fixture(scope="module")
def panel():
    return sustain.build_panel(sustain.datasets.example())


@pytest.fixture(scope="module")
def competing(panel):
    return sustain.fit_hazard(
        panel, "exit ~ hhi + gov_share", competing="exit_reason", duration=None
    )


def person_period_rows(panel: pd.DataFrame) -> pd.DataFrame:
    """The at-risk agency-years with a 0..J outcome, built without sustain's helpers."""
    rows = panel.reset_index()
    rows = rows.sort_values(["agency_id", "year"])
    before = rows.groupby("agency_id")["exit"].cumsum() - rows["exit"]
    rows = rows[before == 0].dropna(subset=["hhi", "gov_share"])
    causes = sorted(rows.loc[rows["exit"] == 1, "exit_reason"].unique())
    code = {c: i + 1 for i, c in enumerate(causes)}
    rows["outcome"] = np.where(rows["exit"] == 1, rows["exit_reason"].map(code), 0)
    return rows.assign(outcome=rows["outcome"].astype(int)).reset_index(drop=True)


def test_multinomial_hazard_matches_statsmodels_mnlogit(panel, competing):
    rows = person_period_rows(panel)
    groups = pd.factorize(rows["agency_id"])[0]
    ref = smf.mnlogit("outcome ~ hhi + gov_share", rows).fit(
        method="newton", disp=False, cov_type="cluster", cov_kwds={"groups": groups}
    )
    assert competing.nobs == len(rows)
    for j, cause in enumerate(competing.causes):
        ours = competing.equation(cause)
        theirs = ref.params.iloc[:, j]
        np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), atol=PARAMS_TOL)
        names = [f"{cause}:{t}" for t in ours.index]
        np.testing.assert_allclose(
            competing.bse[names].to_numpy(), ref.bse.iloc[:, j].to_numpy(), rtol=SE_TOL
        )
    assert competing.info.stats["loglik"] == pytest.approx(ref.llf, abs=PARAMS_TOL)


def test_params_are_indexed_cause_term_and_predictions_sum_to_one(competing, panel):
    assert all(":" in t for t in competing.params.index)
    assert competing.info.exp_name == "RRR"
    rows = panel.dropna(subset=["hhi", "gov_share"]).head(5).assign(Intercept=1.0)
    prob = competing.predict(rows)
    assert list(prob.columns) == ["stay", *competing.causes]
    np.testing.assert_allclose(prob.sum(axis=1), 1.0)
    tidy = competing.tidy()
    assert len(tidy) == len(competing.causes) * 3


def test_duration_bands_give_every_cause_exits(panel):
    cr = sustain.fit_hazard(panel, "exit ~ hhi", competing="exit_reason", duration="age")
    rows = person_period_rows(panel)
    for band in cr.duration_bands:
        inside = rows[(rows["age"] >= band[0]) & (rows["age"] <= band[1])]
        assert set(inside["outcome"]) == set(range(len(cr.causes) + 1))


def test_blank_reasons_form_an_unknown_cause():
    outcome, causes, n_unknown = cause_outcomes(
        np.array([1, 0, 1]), pd.Series(["merged", None, None])
    )
    assert causes == ("merged", "unknown") and n_unknown == 1
    assert outcome.tolist() == [1, 0, 2]
    with pytest.raises(sustain.errors.FitError):
        competing_duration_bands(np.array([0.0, 1.0]), np.array([1, 0]), 2)


def test_competing_risks_need_the_multinomial_logit(panel):
    with pytest.raises(SpecError, match="multinomial logit"):
        sustain.fit_hazard(panel, "exit ~ hhi", competing="exit_reason", link="cloglog")


def test_cause_specific_cox_equals_cox_on_the_cause_indicator(panel):
    spells = sustain.to_spells(panel)
    assert spells.loc[spells["event"] == 0, "exit_reason"].isna().all()
    merged = sustain.fit_cox(
        spells, "hhi + gov_share", event="exit_reason", cause="merged", cluster="agency_id"
    )
    indicator = spells.assign(merged=(spells["exit_reason"] == "merged").astype(int))
    ref = sustain.fit_cox(indicator, "hhi + gov_share", event="merged", cluster="agency_id")
    pd.testing.assert_series_equal(merged.params, ref.params)
    pd.testing.assert_series_equal(merged.bse, ref.bse)
    assert merged.info.stats["n_events"] == int(panel["exit_merged"].sum())
    with pytest.raises(SpecError, match="does not occur"):
        sustain.fit_cox(spells, "hhi", event="exit_reason", cause="exploded")


@pytest.fixture(scope="module")
def recovered():
    sim = simulate(seed=RECOVERY_SEED, n_agencies=RECOVERY_AGENCIES, cause_coefs=TRUE_CAUSES)
    panel = sustain.build_panel(sim.data)
    return sim, sustain.fit_hazard(panel, "exit ~ hhi", competing="exit_reason", duration="age")


def test_simulated_causes_have_known_different_effects(recovered):
    sim, cr = recovered
    assert sim.truth.link == "mlogit" and sim.truth.causes == TRUE_CAUSES
    assert {"hazard_closed", "hazard_merged"} <= set(sim.latent_years.columns)
    ci = cr.conf_int(RECOVERY_ALPHA)
    for cause, coefs in TRUE_CAUSES.items():
        lower, upper = ci.loc[f"{cause}:hhi"]
        assert lower < coefs["hhi"] < upper, (cause, lower, upper)
    # the two causes respond to funding concentration in opposite directions
    assert cr.params["closed:hhi"] > 0 > cr.params["merged:hhi"]


def test_reasons_given_exit_leave_the_other_columns_alone():
    with_reasons = simulate(seed=4, n_agencies=60)
    without = simulate(seed=4, n_agencies=60, reason_coefs={})
    assert without.data.agencies["exit_reason"].isna().all()
    pd.testing.assert_frame_equal(
        with_reasons.data.agencies.drop(columns="exit_reason"),
        without.data.agencies.drop(columns="exit_reason"),
    )
    pd.testing.assert_frame_equal(with_reasons.data.contracts, without.data.contracts)
    closed = with_reasons.data.agencies["closed"].notna()
    assert (with_reasons.data.agencies["exit_reason"].notna() == closed).all()
    with pytest.raises(SpecError, match="reference reason"):
        simulate(seed=1, n_agencies=5, reason_coefs={"closed": {"hhi": 1.0}})


def test_regression_table_shows_one_column_per_cause(panel, competing):
    hazard = sustain.fit_hazard(panel, "exit ~ hhi + gov_share", duration=None)
    text = sustain.regression_table([hazard, competing], format="csv")
    depvars, titles = text.splitlines()[:2]
    # one spanning header for the causes' columns, the causes as their titles (as mlogit)
    assert depvars.split(",")[2:] == ["Exit reason"] * len(competing.causes)
    assert titles.split(",")[2:] == list(competing.causes)
    renamed = sustain.regression_table([competing], format="csv", model_names=list("ABCD"))
    depvars = renamed.splitlines()[0]  # titles replaced: the cause stays in the header
    assert all(f"exit_reason = {cause}" in depvars for cause in competing.causes)
    cells = pd.read_csv(__import__("io").StringIO(text))
    assert cells.shape[1] == 2 + len(competing.causes)
