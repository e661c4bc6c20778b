"""Independent review of the frequentist models: adversarial data checked against R.

Every reference number comes from R (plm 2.6-2, sandwich 3.0-2, survival 3.5-3, R 4.2.2) run
on the synthetic data in ``tests/references/review/data`` by ``tests/references/review/review.R``
(its raw output is ``review.log``; provenance in the README there), or from an exact identity.
The data are built to break things: an unbalanced panel with gaps, singletons, missing values,
weights and a tier that never changes within an agency; six districts (few clusters); a
survival panel with left-truncated agencies, rows after an exit and intervals that start at
other agencies' exit times; a covariate that perfectly predicts the event.
"""

from __future__ import annotations

import dataclasses
import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import sustain
from sustain.errors import DataError, FitError
from sustain.models.panel.fit import FEW_CLUSTERS

REVIEW = Path(__file__).resolve().parents[1] / "references" / "review"
REF = json.loads((REVIEW / "review.json").read_text())

# Least squares on both sides (QR in R, SVD least squares in numpy): only rounding differs,
# observed below 1e-11 relative.
LINEAR_RTOL = 1e-8
# R's glm is run with epsilon = 1e-14, statsmodels' IRLS stops at its default deviance change
# (1e-8): the cloglog fits agree to about 2e-8 relative, the logit fits to 1e-12.
GLM_RTOL = 1e-6
# coxph stops at a relative log-likelihood change of 1e-9, sustain at 1e-10; on these data both
# reach the optimum and agree to 1e-14, the margin covers the stopping rules.
COX_RTOL = 1e-8
# Log likelihoods are sums over hundreds of terms; absolute agreement to rounding.
LOGLIK_ATOL = 1e-6
# Kaplan-Meier curves, Greenwood variances and bands are closed forms: rounding only.
KM_ATOL = 1e-10
# The same quantity computed two ways in double precision.
IDENTITY_RTOL = 1e-10
# Under separation coxph and sustain stop the infinite coefficient at different values (21.1,
# 23.1); the finite one is at its limit in both here (1e-16 apart) but in general depends on
# where each stops.
SEPARATION_ATOL = 1e-4

FORMULA = "quality ~ hhi + gov_share"
TERMS = ["hhi", "gov_share"]


def data(name: str) -> pd.DataFrame:
    return pd.read_csv(REVIEW / "data" / f"{name}.csv")


def array(values: object) -> np.ndarray:
    return np.atleast_1d(np.array(values, dtype=float))


def r_term(name: str, bands: list[str] | None = None) -> str:
    """R's coefficient name in sustain's spelling (formulaic's treatment contrasts)."""
    if name == "(Intercept)":
        return "Intercept"
    factor = re.fullmatch(r"factor\((\w+)\)(\w+)", name)
    if factor:
        return f"C({factor[1]})[T.{factor[2]}]"
    band = re.fullmatch(r"band(\d+)", name)
    if band and bands is not None:
        return bands[int(band[1]) - 1]
    spline = re.fullmatch(r"bs\(age, df = 4\)(\d)", name)
    if spline:
        return f"age[bs{spline[1]}]"
    return name


def reference(case: str, bands: list[str] | None = None) -> pd.DataFrame:
    ref = REF[case]
    terms = [r_term(t, bands) for t in np.atleast_1d(ref["terms"])]
    return pd.DataFrame(
        {"estimate": array(ref["estimate"]), "std_error": array(ref["std_error"])}, index=terms
    )


def quiet(function, *args, **kwargs):
    """Call a fit whose expected warnings (few clusters, dropped terms) are tested elsewhere."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


@pytest.fixture(scope="module")
def fe_panel() -> pd.DataFrame:
    return data("fe_panel").set_index(["agency_id", "year"])


@pytest.fixture(scope="module")
def hazard_panel() -> pd.DataFrame:
    return data("hazard_panel").set_index(["agency_id", "year"])


# =========================================================================== fixed effects


@pytest.mark.parametrize("fast", [False, True])
def test_two_way_fe_on_unbalanced_panel_with_gaps_singletons_and_missing_values(
    fe_panel: pd.DataFrame, fast: bool
) -> None:
    ref = reference("fe_twoway")
    fe = sustain.fit_fe(fe_panel, FORMULA, fast=fast)
    np.testing.assert_allclose(fe.params[TERMS], ref["estimate"], rtol=LINEAR_RTOL)
    np.testing.assert_allclose(fe.bse[TERMS], ref["std_error"], rtol=LINEAR_RTOL)
    # 436 rows, 15 with a missing regressor: plm's complete cases
    complete = fe_panel[["quality", "hhi", "gov_share"]].notna().all(axis=1).sum()
    assert fe.nobs == REF["fe_twoway"]["nobs"] == complete == 421
    assert fe.df_resid == REF["fe_twoway"]["df_resid"] == 421 - 60 - 9 - 2
    assert fe.n_absorbed == 60 + 10 - 1


def test_singletons_are_kept_and_cost_nothing_but_their_own_effect(fe_panel: pd.DataFrame) -> None:
    """A one-row agency is fitted exactly by its own effect (residual 0, one df used)."""
    sizes = fe_panel.groupby(level="agency_id").size()
    singletons = sizes.index[sizes == 1]
    assert len(singletons) == 4
    rest = fe_panel.drop(index=singletons, level="agency_id")
    with_them = sustain.fit_fe(fe_panel, FORMULA)
    without = sustain.fit_fe(rest, FORMULA)
    np.testing.assert_allclose(with_them.params, without.params, rtol=IDENTITY_RTOL)
    np.testing.assert_allclose(with_them.bse, without.bse, rtol=IDENTITY_RTOL)
    assert with_them.nobs == without.nobs + 4
    assert with_them.n_absorbed == without.n_absorbed + 4
    assert with_them.df_resid == without.df_resid


CLUSTER_CASES = {
    "fe_twoway_cluster_agency": "agency_id",
    "fe_twoway_cluster_district": "district",
    "fe_twoway_cluster_agency_year": ("agency_id", "year"),
}


@pytest.mark.parametrize("fast", [False, True])
@pytest.mark.parametrize("case", sorted(CLUSTER_CASES))
def test_clustered_errors_match_vcovcl_on_least_squares_with_dummies(
    fe_panel: pd.DataFrame, case: str, fast: bool
) -> None:
    """Stata's small-sample factor G/(G-1) (n-1)/(n-d-k) is vcovCL's HC1 on the LSDV fit."""
    ref = reference(case)
    fe = quiet(sustain.fit_fe, fe_panel, FORMULA, cluster=CLUSTER_CASES[case], fast=fast)
    np.testing.assert_allclose(fe.params[TERMS], ref["estimate"], rtol=LINEAR_RTOL)
    np.testing.assert_allclose(fe.bse[TERMS], ref["std_error"], rtol=LINEAR_RTOL)


def test_few_clusters_warn_and_leave_a_note(fe_panel: pd.DataFrame) -> None:
    with pytest.warns(UserWarning, match="Only 6 clusters of district"):
        by_district = sustain.fit_fe(fe_panel, FORMULA, cluster="district")
    assert by_district.n_clusters == 6 < FEW_CLUSTERS
    assert any("Only 6 clusters of district" in note for note in by_district.info.notes)
    with pytest.warns(UserWarning, match="Only 10 clusters of year"):
        two_way = sustain.fit_fe(fe_panel, FORMULA, cluster=("agency_id", "year"))
    assert two_way.n_clusters == 10
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 60 agencies: no warning
        by_agency = sustain.fit_fe(fe_panel, FORMULA, cluster="agency_id")
    assert by_agency.info.notes == ()


@pytest.mark.parametrize("fast", [False, True])
@pytest.mark.parametrize(
    ("case", "effects"), [("fe_oneway_scc", "agency_id"), ("fe_twoway_scc", None)]
)
def test_driscoll_kraay_matches_plm_vcovscc(
    fe_panel: pd.DataFrame, case: str, effects: str | None, fast: bool
) -> None:
    """plm's vcovSCC(type = "HC0", maxlag = 2) times sustain's n/(n-d-k)."""
    ref = reference(case)
    n, d, k = REF[case]["nobs"], REF[case]["n_absorbed"], 2
    fe = sustain.fit_fe(fe_panel, FORMULA, effects=effects, cov_type="driscoll_kraay", fast=fast)
    np.testing.assert_allclose(fe.params[TERMS], ref["estimate"], rtol=LINEAR_RTOL)
    scaled = ref["std_error"] * np.sqrt(n / (n - d - k))
    np.testing.assert_allclose(fe.bse[TERMS], scaled, rtol=LINEAR_RTOL)


@pytest.mark.parametrize(
    ("case", "cluster"), [("fe_twoway_weighted", None), ("fe_twoway_weighted_cluster", "agency_id")]
)
def test_weighted_two_way_fe_matches_weighted_least_squares_with_dummies(
    fe_panel: pd.DataFrame, case: str, cluster: str | None
) -> None:
    ref = reference(case)
    fe = sustain.fit_fe(fe_panel, FORMULA, weights="w", cluster=cluster)
    np.testing.assert_allclose(fe.params[TERMS], ref["estimate"], rtol=LINEAR_RTOL)
    np.testing.assert_allclose(fe.bse[TERMS], ref["std_error"], rtol=LINEAR_RTOL)
    assert fe.nobs == 421


@pytest.mark.parametrize("fast", [False, True])
def test_categorical_tier_under_agency_fe(fe_panel: pd.DataFrame, fast: bool) -> None:
    """A tier that changes within agencies is estimated as R's LSDV; a constant one is dropped."""
    ref = reference("fe_oneway_main_tier")
    fe = sustain.fit_fe(fe_panel, "quality ~ hhi + C(main_tier)", effects="agency_id", fast=fast)
    np.testing.assert_allclose(fe.params[ref.index], ref["estimate"], rtol=LINEAR_RTOL)
    np.testing.assert_allclose(fe.bse[ref.index], ref["std_error"], rtol=LINEAR_RTOL)
    # rows missing only gov_share (not in this formula) are kept
    assert fe.nobs == REF["fe_oneway_main_tier"]["nobs"] == 429
    with pytest.warns(UserWarning, match=r"Dropped C\(tier_fixed\)\[T\.municipal\]"):
        absorbed = sustain.fit_fe(
            fe_panel, "quality ~ hhi + C(tier_fixed)", effects="agency_id", fast=fast
        )
    plain = sustain.fit_fe(fe_panel, "quality ~ hhi", effects="agency_id", fast=fast)
    assert list(absorbed.params.index) == ["hhi"]
    assert "absorbed by the agency_id effects" in absorbed.info.notes[0]
    np.testing.assert_allclose(absorbed.params, plain.params, rtol=IDENTITY_RTOL)
    np.testing.assert_allclose(absorbed.bse, plain.bse, rtol=IDENTITY_RTOL)


@pytest.mark.parametrize("fast", [False, True])
@pytest.mark.parametrize(
    ("case", "cluster"),
    [("fe_agency_district_year", None), ("fe_agency_district_year_cluster", "agency_id")],
)
def test_agency_with_district_year_effects_count_redundant_dummies_once(
    fe_panel: pd.DataFrame, case: str, cluster: str | None, fast: bool
) -> None:
    """Regression: agencies are nested in districts, so agency and district x year dummies
    have one redundant dummy per district (6), not one in all. sustain counted 119 absorbed
    degrees of freedom (linearmodels' rule) instead of their rank, 114: residual df 300
    instead of R's 305 and standard errors 0.8% too large."""
    ref = reference(case)
    df = fe_panel.assign(
        district_year=lambda d: d["district"] + d.index.get_level_values("year").astype(str)
    )
    fe = sustain.fit_fe(
        df, FORMULA, effects=("agency_id", "district_year"), cluster=cluster, fast=fast
    )
    np.testing.assert_allclose(fe.params[TERMS], ref["estimate"], rtol=LINEAR_RTOL)
    np.testing.assert_allclose(fe.bse[TERMS], ref["std_error"], rtol=LINEAR_RTOL)
    assert fe.df_resid == REF["fe_agency_district_year"]["df_resid"] == 305
    assert fe.n_absorbed == REF["fe_agency_district_year"]["rank"] - 2 == 114


@pytest.mark.parametrize("fast", [False, True])
def test_two_way_fe_on_a_disconnected_panel_counts_the_rank(fast: bool) -> None:
    """Regression: two groups of agencies observed in disjoint years leave one more year
    dummy redundant; plm (and sustain before) used 40 residual df, R's lm 41."""
    ref, extra = reference("fe_disconnected"), REF["fe_disconnected"]
    df = data("disconnected_panel").set_index(["agency_id", "year"])
    fe = sustain.fit_fe(df, "y ~ x", fast=fast)
    np.testing.assert_allclose(fe.params, ref["estimate"], rtol=LINEAR_RTOL)
    np.testing.assert_allclose(fe.bse, ref["std_error"], rtol=LINEAR_RTOL)
    assert fe.df_resid == extra["df_resid"] == extra["plm_df_resid"] + 1 == 41


def test_random_effects_on_unbalanced_panel_are_statas_xtreg_re(fe_panel: pd.DataFrame) -> None:
    """Variance components of Stata's default (harmonic mean of T_i), written out in R.

    plm's ``random.method = "swar"`` uses Baltagi and Chang's unbalanced-panel formula (Stata's
    ``xtreg, re sa``) instead; review.json keeps its numbers (hhi 8.954 against 9.155 here).
    """
    ref = reference("fe_random_stata")
    re_ = sustain.fit_fe(fe_panel, FORMULA, estimator="random")
    np.testing.assert_allclose(re_.params[ref.index], ref["estimate"], rtol=LINEAR_RTOL)
    np.testing.assert_allclose(re_.bse[ref.index], ref["std_error"], rtol=LINEAR_RTOL)
    np.testing.assert_allclose(
        re_.info.stats["sigma_u"], REF["fe_random_stata"]["sigma_u"], rtol=LINEAR_RTOL
    )
    np.testing.assert_allclose(
        re_.info.stats["sigma_e"], REF["fe_random_stata"]["sigma_e"], rtol=LINEAR_RTOL
    )


def test_first_differences_never_span_a_gap(fe_panel: pd.DataFrame) -> None:
    ref = reference("fe_first_difference")
    fd = sustain.fit_fe(fe_panel, FORMULA, estimator="first_difference")
    np.testing.assert_allclose(fd.params[TERMS], ref["estimate"], rtol=LINEAR_RTOL)
    np.testing.assert_allclose(fd.bse[TERMS], ref["std_error"], rtol=LINEAR_RTOL)
    assert fd.nobs == REF["fe_first_difference"]["nobs"] == 280


def test_first_differences_drop_a_regressor_that_changes_only_across_gaps() -> None:
    """Regression: the collinearity check differenced across gaps, linearmodels does not.

    ``z`` steps up only across each agency's missing year, so every first difference that
    linearmodels uses has dz = 0. sustain used to pass it on and fail with linearmodels'
    "Singular matrix"; it must be dropped with a note naming it.
    """
    rng = np.random.default_rng(0)
    rows = [
        {"agency_id": a, "year": y, "x": rng.normal(), "z": float(y > 2014 + a % 3)}
        for a in range(20)
        for y in range(2012, 2019)
        if y != 2014 + a % 3
    ]
    df = pd.DataFrame(rows).set_index(["agency_id", "year"])
    df["y"] = df["x"] + df["z"] + rng.normal(size=len(df))
    with pytest.warns(UserWarning, match="Dropped z: absorbed by first_difference"):
        fd = sustain.fit_fe(df, "y ~ x + z", estimator="first_difference")
    only_x = sustain.fit_fe(df, "y ~ x", estimator="first_difference")
    assert list(fd.params.index) == ["x"] and fd.nobs == 20 * 4
    np.testing.assert_allclose(fd.params, only_x.params, rtol=IDENTITY_RTOL)


def test_hausman_with_an_indefinite_covariance_difference_matches_phtest() -> None:
    """Regression: the degrees of freedom were the count of positive eigenvalues (1) although
    the statistic inverted both; they are now the rank of the Moore-Penrose inverse (2), as
    plm's phtest (which reports the absolute value of the negative statistic)."""
    ref = REF["hausman_indefinite"]
    df = data("hausman_panel").set_index(["agency_id", "year"])
    fe = sustain.fit_fe(df, "y ~ x1 + x2", effects="agency_id")
    re_ = sustain.fit_fe(df, "y ~ x1 + x2", estimator="random")
    np.testing.assert_allclose(fe.params, array(ref["fe"]), rtol=LINEAR_RTOL)
    np.testing.assert_allclose(re_.params[["x1", "x2"]], array(ref["re"]), rtol=LINEAR_RTOL)
    h = sustain.hausman(fe, re_)
    assert h.generalized_inverse and h.df == ref["df"] == 2
    np.testing.assert_allclose(abs(h.statistic), ref["statistic"], rtol=LINEAR_RTOL)
    assert h.statistic < 0 and h.pvalue == stats.chi2.sf(h.statistic, 2) == 1.0
    assert any("negative" in note for note in h.notes)
    diagonal = (fe.cov - re_.cov.loc[["x1", "x2"], ["x1", "x2"]]).to_numpy().diagonal()
    assert diagonal[0] < 0 < diagonal[1]  # x1 has no standard error of the difference
    assert np.isnan(h.table.loc["x1", "se_difference"])
    np.testing.assert_allclose(h.table.loc["x2", "se_difference"], np.sqrt(diagonal[1]))
    assert "chi2(2)" in str(h)


def test_hausman_gives_no_standard_error_for_a_negative_variance_difference(
    fe_panel: pd.DataFrame,
) -> None:
    """Regression: a negative diagonal of V_FE - V_RE was shown as a standard error of 0."""
    fe = sustain.fit_fe(fe_panel, FORMULA, effects="agency_id")
    re_ = sustain.fit_fe(fe_panel, FORMULA, estimator="random")
    h = sustain.hausman(fe, re_)
    variance = fe.cov.loc["gov_share", "gov_share"] - re_.cov.loc["gov_share", "gov_share"]
    assert variance < 0 and np.isnan(h.table.loc["gov_share", "se_difference"])
    assert h.table.loc["hhi", "se_difference"] > 0 and h.df == 2


# =========================================================================== discrete-time hazard


@pytest.mark.parametrize("link", ["cloglog", "logit"])
def test_hazard_with_age_dummies_and_districts_matches_glm(
    hazard_panel: pd.DataFrame, link: str
) -> None:
    case = f"hazard_dummies_{link}"
    bands = list(REF[case]["bands"])
    ref = reference(case, bands)
    model_se = pd.Series(array(REF[case]["model_se"]), index=ref.index)
    formula = "exit ~ hhi + log_revenue + C(district)"
    hz = sustain.fit_hazard(hazard_panel, formula, link=link)
    assert list(hz.params.index) == list(ref.index)
    assert hz.duration_terms == tuple(bands[1:])  # age[0] is the reference, ages 15-17 merged
    np.testing.assert_allclose(hz.params, ref["estimate"], rtol=GLM_RTOL)
    np.testing.assert_allclose(hz.bse, ref["std_error"], rtol=GLM_RTOL)  # vcovCL HC1 by agency
    unclustered = sustain.fit_hazard(hazard_panel, formula, link=link, cluster=None)
    np.testing.assert_allclose(unclustered.bse, model_se, rtol=GLM_RTOL)
    np.testing.assert_allclose(hz.info.stats["loglik"], REF[case]["loglik"], atol=LOGLIK_ATOL)
    assert hz.nobs == REF[case]["nobs"] == 1190
    assert hz.info.stats["n_events"] == REF[case]["n_events"]


def test_hazard_spline_matches_glm_with_the_same_b_spline(hazard_panel: pd.DataFrame) -> None:
    ref = reference("hazard_spline_cloglog")
    hz = sustain.fit_hazard(hazard_panel, "exit ~ hhi + log_revenue", duration_form="spline")
    np.testing.assert_allclose(hz.params[ref.index], ref["estimate"], rtol=GLM_RTOL)
    np.testing.assert_allclose(hz.bse[ref.index], ref["std_error"], rtol=GLM_RTOL)
    loglik = REF["hazard_spline_cloglog"]["loglik"]
    np.testing.assert_allclose(hz.info.stats["loglik"], loglik, atol=LOGLIK_ATOL)


def test_hazard_without_duration_and_model_based_errors(hazard_panel: pd.DataFrame) -> None:
    ref = reference("hazard_none_logit_model_se")
    hz = sustain.fit_hazard(
        hazard_panel, "exit ~ hhi + log_revenue", link="logit", duration=None, cluster=None
    )
    np.testing.assert_allclose(hz.params, ref["estimate"], rtol=GLM_RTOL)
    np.testing.assert_allclose(hz.bse, ref["std_error"], rtol=GLM_RTOL)
    assert hz.info.cov_type == "unadjusted" and hz.info.exp_name == "OR"


def test_rows_after_an_exit_never_enter(hazard_panel: pd.DataFrame) -> None:
    """12 corrupt rows after six agencies' exits (three with a second exit) are dropped."""
    frame = hazard_panel.reset_index()
    before = frame.groupby("agency_id")["exit"].transform(lambda e: e.cumsum() - e)
    clean = frame[before == 0].set_index(["agency_id", "year"])
    assert len(hazard_panel) - len(clean) == 12
    dirty_fit = sustain.fit_hazard(hazard_panel, "exit ~ hhi + log_revenue")
    clean_fit = sustain.fit_hazard(clean, "exit ~ hhi + log_revenue")
    np.testing.assert_allclose(dirty_fit.params, clean_fit.params, rtol=IDENTITY_RTOL)
    np.testing.assert_allclose(dirty_fit.bse, clean_fit.bse, rtol=IDENTITY_RTOL)
    assert dirty_fit.nobs == clean_fit.nobs == 1190
    assert "12 rows after an agency's first exit were dropped." in dirty_fit.info.notes
    spells = sustain.to_spells(hazard_panel)
    assert len(spells) == 1190 and spells.groupby("agency_id")["event"].sum().max() == 1


def test_left_truncated_agencies_enter_at_their_observed_age(hazard_panel: pd.DataFrame) -> None:
    frame = hazard_panel.reset_index()
    first = frame.groupby("agency_id").first()
    truncated = first[first["founded"] < 2012]
    assert len(truncated) > 100 and (truncated["age"] > 0).all()
    spells = sustain.to_spells(hazard_panel, "age").groupby("agency_id").first()
    np.testing.assert_array_equal(spells.loc[truncated.index, "start"], truncated["age"])
    hz = sustain.fit_hazard(hazard_panel, "exit ~ hhi")
    assert hz.nobs == 1190  # no row is invented for the years before 2012


# =========================================================================== spells and Cox


@pytest.mark.parametrize("time_scale", ["age", "calendar"])
def test_to_spells_matches_spells_built_in_r(hazard_panel: pd.DataFrame, time_scale: str) -> None:
    expected = data(f"spells_{time_scale}")
    spells = sustain.to_spells(hazard_panel, time_scale, ["hhi", "log_revenue", "district"])
    columns = ["agency_id", "year", "start", "stop", "event"]
    pd.testing.assert_frame_equal(
        spells[columns].reset_index(drop=True), expected[columns], check_dtype=False
    )


@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("time_scale", ["age", "calendar"])
def test_cox_strata_and_cluster_on_spells_with_ties_at_entry(time_scale: str, ties: str) -> None:
    """Yearly intervals: over a thousand rows start exactly at another agency's exit time."""
    spells = data(f"spells_{time_scale}")
    starts_at_event = spells["start"].isin(spells.loc[spells["event"] == 1, "stop"]).sum()
    assert starts_at_event > 1000
    case = f"cox_{time_scale}_{ties}_strata_cluster"
    ref, extra = reference(case), REF[case]
    cox = sustain.fit_cox(
        spells, "hhi + log_revenue", ties=ties, strata="district", cluster="agency_id"
    )
    np.testing.assert_allclose(cox.params, ref["estimate"], rtol=COX_RTOL)
    np.testing.assert_allclose(cox.bse, ref["std_error"], rtol=COX_RTOL)
    np.testing.assert_allclose(cox.naive_bse, array(extra["naive_se"]), rtol=COX_RTOL)
    np.testing.assert_allclose(cox.info.stats["loglik"], extra["loglik"], atol=LOGLIK_ATOL)
    np.testing.assert_allclose(
        cox.info.stats["loglik_null"], extra["loglik_null"], atol=LOGLIK_ATOL
    )
    assert cox.nobs == extra["nobs"] and cox.info.stats["n_events"] == extra["n_events"]


def test_cox_with_district_dummies_and_cluster() -> None:
    ref = reference("cox_calendar_efron_district_cluster")
    cox = sustain.fit_cox(
        data("spells_calendar"), "hhi + log_revenue + C(district)", cluster="agency_id"
    )
    np.testing.assert_allclose(cox.params[ref.index], ref["estimate"], rtol=COX_RTOL)
    np.testing.assert_allclose(cox.bse[ref.index], ref["std_error"], rtol=COX_RTOL)


def test_an_interval_starting_at_an_event_time_is_not_in_that_risk_set() -> None:
    """Partial likelihood by hand: B enters at 2, the time of A's event, so it is not at risk."""
    df = pd.DataFrame(
        {
            "start": [0.0, 2.0, 0.0, 0.0, 1.0],
            "stop": [2.0, 3.0, 4.0, 3.0, 4.0],
            "event": [1, 1, 0, 1, 1],
            "x": [1.0, 0.0, 0.5, -1.0, 2.0],
        }
    )
    cox = sustain.fit_cox(df, "x", ties="breslow")
    b = float(cox.params["x"])
    r = np.exp(b * df["x"].to_numpy())
    # t=2: A, C, D, E at risk (B starts at 2); t=3: B, D die with C, E at risk; t=4: C, E
    loglik = (
        b * 1.0
        - np.log(r[[0, 2, 3, 4]].sum())
        + b * (0.0 - 1.0)
        - 2 * np.log(r[[1, 2, 3, 4]].sum())
        + b * 2.0
        - np.log(r[[2, 4]].sum())
    )
    np.testing.assert_allclose(cox.info.stats["loglik"], loglik, rtol=IDENTITY_RTOL)


def test_efron_equals_breslow_without_ties() -> None:
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"stop": rng.exponential(size=80), "x": rng.normal(size=80)})
    df["event"] = (rng.uniform(size=80) < 0.7).astype(int)
    efron = sustain.fit_cox(df, "x", start=None)
    breslow = sustain.fit_cox(df, "x", start=None, ties="breslow")
    np.testing.assert_allclose(efron.params, breslow.params, rtol=IDENTITY_RTOL)
    np.testing.assert_allclose(efron.bse, breslow.bse, rtol=IDENTITY_RTOL)


def test_a_covariate_that_predicts_the_event_perfectly_warns() -> None:
    ref = REF["cox_separation"]
    with pytest.warns(RuntimeWarning, match="coefficient\\(s\\) of sep; they may be infinite"):
        cox = sustain.fit_cox(data("separation"), "x + sep")
    np.testing.assert_allclose(cox.info.stats["loglik"], ref["loglik"], atol=LOGLIK_ATOL)
    np.testing.assert_allclose(cox.info.stats["loglik_null"], ref["loglik_null"], atol=LOGLIK_ATOL)
    np.testing.assert_allclose(cox.params["x"], ref["estimate"][0], atol=SEPARATION_ATOL)
    assert cox.params["sep"] > 15 and cox.bse["sep"] > 1000  # R stops at 21.06
    assert any("infinite" in note for note in cox.info.notes)


@pytest.mark.parametrize(
    ("start", "stop", "error", "message"),
    [
        (5.0, 5.0, DataError, r"row 3, column 'stop': stop must be greater than start"),
        (6.0, 5.0, DataError, r"row 3, column 'stop': stop must be greater than start"),
        (5.0 - 1e-12, 5.0, FitError, r"empty once times closer than"),
    ],
    ids=["zero-length", "start-after-stop", "tied-to-zero-length"],
)
def test_empty_intervals_are_errors(start: float, stop: float, error: type, message: str) -> None:
    df = data("separation")
    df.loc[3, ["start", "stop"]] = [start, stop]
    with pytest.raises(error, match=message):
        sustain.fit_cox(df, "x")


# =========================================================================== Kaplan-Meier

KM_CALLS = {
    "km_age_district_loglog": dict(by="district", time_scale="age", conf_type="log-log"),
    "km_calendar_all_log": dict(by=None, time_scale="calendar", conf_type="log"),
    "km_age_all_plain": dict(by=None, time_scale="age", conf_type="plain"),
}


@pytest.mark.parametrize("case", sorted(KM_CALLS))
def test_kaplan_meier_with_delayed_entry_matches_survfit(
    hazard_panel: pd.DataFrame, case: str
) -> None:
    ref = REF[case]
    km = sustain.kaplan_meier(hazard_panel, **KM_CALLS[case])
    table = km.table
    assert table["group"].tolist() == [str(g) for g in np.atleast_1d(ref["group"])]
    np.testing.assert_array_equal(table["time"], array(ref["time"]))
    np.testing.assert_array_equal(table["at_risk"], array(ref["n_risk"]))
    np.testing.assert_array_equal(table["events"], array(ref["n_event"]))
    np.testing.assert_allclose(table["survival"], array(ref["surv"]), rtol=0, atol=KM_ATOL)
    # R's std.err is of the cumulative hazard; sustain's is of S
    se = array(ref["std_err"]) * array(ref["surv"])
    np.testing.assert_allclose(table["std_error"], se, rtol=0, atol=KM_ATOL)
    for column in ("lower", "upper"):
        expected = array(ref[column])
        np.testing.assert_array_equal(np.isnan(table[column]), np.isnan(expected))
        np.testing.assert_allclose(table[column], expected, rtol=0, atol=KM_ATOL)
    for ours, theirs in [
        ("median", "median"),
        ("lower", "median_lower"),
        ("upper", "median_upper"),
    ]:
        np.testing.assert_allclose(km.median[ours], array(ref[theirs]), rtol=0, atol=KM_ATOL)


# =========================================================================== result protocol


@pytest.fixture(scope="module")
def results(fe_panel: pd.DataFrame, hazard_panel: pd.DataFrame) -> dict[str, object]:
    spells = sustain.to_spells(hazard_panel, "age", ["hhi", "log_revenue", "district"])
    fits = {
        "within_linearmodels": lambda: sustain.fit_fe(fe_panel, FORMULA, cluster="agency_id"),
        "within_fast": lambda: sustain.fit_fe(fe_panel, FORMULA, cluster="agency_id", fast=True),
        "random": lambda: sustain.fit_fe(fe_panel, FORMULA, estimator="random"),
        "first_difference": lambda: sustain.fit_fe(fe_panel, FORMULA, estimator="first_difference"),
        "between": lambda: sustain.fit_fe(fe_panel, FORMULA, estimator="between"),
        "pooled": lambda: sustain.fit_fe(fe_panel, FORMULA, estimator="pooled"),
        "hazard": lambda: sustain.fit_hazard(hazard_panel, "exit ~ hhi + C(district)"),
        "cox": lambda: sustain.fit_cox(spells, "hhi + log_revenue", cluster="agency_id"),
    }
    return {name: fit() for name, fit in fits.items()}


PROTOCOL_CASES = [
    "within_linearmodels",
    "within_fast",
    "random",
    "first_difference",
    "between",
    "pooled",
    "hazard",
    "cox",
]


@pytest.mark.parametrize("name", PROTOCOL_CASES)
def test_every_result_follows_the_protocol(results: dict[str, object], name: str) -> None:
    res = results[name]
    params, bse = res.params, res.bse
    assert isinstance(params, pd.Series) and isinstance(bse, pd.Series)
    assert list(params.index) == list(bse.index) and (bse > 0).all()
    assert isinstance(res.nobs, int) and res.nobs > 0
    ci = res.conf_int(alpha=0.1)
    assert list(ci.columns) == ["lower", "upper"] and list(ci.index) == list(params.index)
    q = stats.norm.ppf(0.95) if res.df_resid is None else stats.t.ppf(0.95, res.df_resid)
    np.testing.assert_allclose(ci["upper"] - params, q * bse, rtol=IDENTITY_RTOL)
    tidy = res.tidy(alpha=0.1, exponentiate=True)
    np.testing.assert_allclose(tidy["estimate"], np.exp(params), rtol=IDENTITY_RTOL)
    np.testing.assert_allclose(tidy["conf_low"], np.exp(ci["lower"]), rtol=IDENTITY_RTOL)
    np.testing.assert_allclose(tidy["conf_high"], np.exp(ci["upper"]), rtol=IDENTITY_RTOL)
    np.testing.assert_allclose(tidy["std_error"], bse, rtol=IDENTITY_RTOL)
    text = str(res.summary())
    assert f"{res.nobs:,}" in text and all(term in text for term in params.index)
    assert res._repr_html_().startswith("<div")


@pytest.mark.parametrize("name", PROTOCOL_CASES)
def test_results_are_frozen(results: dict[str, object], name: str) -> None:
    res = results[name]
    before = res.params.copy()
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.info = None  # type: ignore[misc]
    params, bse = res.params, res.bse
    params.iloc[0] = bse.iloc[0] = 1e9  # copies: the result keeps its estimates
    pd.testing.assert_series_equal(res.params, before)


def test_survival_results_report_hazard_ratios(results: dict[str, object]) -> None:
    for name in ("hazard", "cox"):
        res = results[name]
        assert res.info.exp_name == "HR" and "HR" in str(res.summary())
    hr = results["cox"].hazard_ratios()
    ci = results["cox"].conf_int()
    np.testing.assert_allclose(hr["lower"], np.exp(ci["lower"]), rtol=IDENTITY_RTOL)
    assert (hr["lower"] < hr["HR"]).all() and (hr["HR"] < hr["upper"]).all()


def test_kaplan_meier_and_hausman_results(hazard_panel: pd.DataFrame) -> None:
    km = sustain.kaplan_meier(hazard_panel, by="district")
    assert km.nobs == 1190 and km.groups == sorted(km.groups)
    copy = km.tidy()
    copy.loc[:, "survival"] = 0.0
    assert km.table["survival"].max() == 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        km.by = None  # type: ignore[misc]
    assert "Kaplan-Meier survival" in str(km) and "Baiyun" in str(km)
    df = data("hausman_panel").set_index(["agency_id", "year"])
    h = sustain.hausman(
        sustain.fit_fe(df, "y ~ x1 + x2", effects="agency_id"),
        sustain.fit_fe(df, "y ~ x1 + x2", estimator="random"),
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        h.df = 1  # type: ignore[misc]
    assert "Hausman test" in str(h) and "x1" in str(h)
