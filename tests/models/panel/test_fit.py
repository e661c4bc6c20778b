"""sustain.fit_fe and sustain.hausman: equivalences, recovery, collinearity, options, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import sustain
from sustain.errors import DataError, FitError, SpecError
from sustain.models.panel.fit import FEResults
from sustain.results import FrequentistResults, ModelInfo

# Within and dummy-variable least squares are the same projection computed two ways
# (numpy lstsq on 60 dummies vs absorbing); differences are rounding.
LSDV_RTOL = 1e-9
# Refits of the same model (with_cov_type, shuffled rows) repeat the same arithmetic up to
# summation order.
SAME_RTOL = 1e-10
SEED = 20240611


def make_panel(n_entities: int = 60, n_periods: int = 8, seed: int = SEED) -> pd.DataFrame:
    """Unbalanced agency-year panel with a district column and a time-invariant tier."""
    rng = np.random.default_rng(seed)
    idx = pd.MultiIndex.from_product(
        [[f"A{i:03d}" for i in range(n_entities)], range(2012, 2012 + n_periods)],
        names=["agency_id", "year"],
    )
    df = pd.DataFrame(index=idx)
    agency = np.repeat(np.arange(n_entities), n_periods)
    year = np.tile(np.arange(n_periods), n_entities)
    alpha = rng.normal(size=n_entities)[agency]
    df["district"] = np.array(["Yuexiu", "Haizhu", "Tianhe", "Baiyun"])[agency % 4]
    df["subdistrict_tier"] = (agency % 3 == 0).astype(float)  # constant within agency
    df["hhi"] = rng.uniform(0.2, 1.0, len(df)) + 0.2 * alpha
    df["gov_share"] = rng.uniform(0.3, 1.0, len(df))
    df["weight"] = rng.uniform(0.5, 2.0, len(df))
    df["quality"] = (
        80 - 6 * df["hhi"] - 5 * df["gov_share"] + 3 * alpha + 0.5 * year + rng.normal(size=len(df))
    )
    keep = rng.uniform(size=len(df)) > 0.15  # unbalanced
    return df[keep]


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return make_panel()


def lsdv(panel: pd.DataFrame, formula: str, **fit_kwargs: object) -> object:
    import statsmodels.formula.api as smf

    flat = panel.reset_index()
    return smf.ols(formula, flat).fit(**fit_kwargs)


# --------------------------------------------------------------------------- equivalences


@pytest.mark.parametrize("fast", [False, True])
def test_two_way_within_equals_lsdv(panel: pd.DataFrame, fast: bool) -> None:
    fe = sustain.fit_fe(panel, "quality ~ hhi + gov_share", fast=fast)
    ols = lsdv(panel, "quality ~ hhi + gov_share + C(agency_id) + C(year)")
    for term in ("hhi", "gov_share"):
        np.testing.assert_allclose(fe.params[term], ols.params[term], rtol=LSDV_RTOL)
        # same residual degrees of freedom: N - (agencies + years - 1) - 2
        np.testing.assert_allclose(fe.bse[term], ols.bse[term], rtol=LSDV_RTOL)
    assert fe.df_resid == ols.df_resid


def test_one_way_within_clustered_equals_lsdv(panel: pd.DataFrame) -> None:
    fe = sustain.fit_fe(
        panel, "quality ~ hhi + gov_share", effects="agency_id", cluster="agency_id"
    )
    groups = pd.factorize(panel.index.get_level_values("agency_id"))[0]
    ols = lsdv(
        panel,
        "quality ~ hhi + gov_share + C(agency_id)",
        cov_type="cluster",
        cov_kwds={"groups": groups},
    )
    # statsmodels' CR1 uses N - K with K counting the agency dummies; Stata's xtreg (and
    # sustain) do not count effects nested in the clusters: rescale by the ratio of dofs.
    n, k_lsdv, k_fe = len(panel), len(ols.params), 2
    factor = (n - k_lsdv) / (n - k_fe)
    for term in ("hhi", "gov_share"):
        np.testing.assert_allclose(fe.params[term], ols.params[term], rtol=LSDV_RTOL)
        np.testing.assert_allclose(fe.bse[term], ols.bse[term] * np.sqrt(factor), rtol=LSDV_RTOL)


def test_weighted_within_equals_weighted_lsdv(panel: pd.DataFrame) -> None:
    import statsmodels.formula.api as smf

    fe = sustain.fit_fe(panel, "quality ~ hhi + gov_share", effects="agency_id", weights="weight")
    flat = panel.reset_index()
    wls = smf.wls("quality ~ hhi + gov_share + C(agency_id)", flat, weights=flat["weight"]).fit()
    np.testing.assert_allclose(fe.params, wls.params[["hhi", "gov_share"]], rtol=LSDV_RTOL)
    np.testing.assert_allclose(fe.bse, wls.bse[["hhi", "gov_share"]], rtol=LSDV_RTOL)


def test_absorbed_column_effect_equals_dummies(panel: pd.DataFrame) -> None:
    """An effect named by a column (district x year) is absorbed like dummies would be.

    The dummy design is rank-deficient (agency and district-year dummies overlap), so the
    reference is LAPACK's minimum-norm least squares (``numpy.linalg.lstsq``, SVD with a
    machine-precision cut-off): the slopes are identified although the dummies are not.
    statsmodels 0.15's ``OLS`` is not used here: its pseudo-inverse cut-off on this
    near-singular design moves the slopes by 4e-5 relative.
    """
    df = panel.assign(
        district_year=lambda d: d["district"] + d.index.get_level_values("year").astype(str)
    )
    fe = sustain.fit_fe(df, "quality ~ hhi + gov_share", effects=("agency_id", "district_year"))
    flat = df.reset_index()
    dummies = pd.get_dummies(flat[["agency_id", "district_year"]].astype(str)).to_numpy(float)
    X = np.column_stack([flat[["hhi", "gov_share"]].to_numpy(), dummies])
    y = flat["quality"].to_numpy()
    rows = ~np.isnan(y) & ~np.isnan(X).any(axis=1)
    slopes = np.linalg.lstsq(X[rows], y[rows], rcond=None)[0][:2]
    np.testing.assert_allclose(fe.params, slopes, rtol=LSDV_RTOL)
    assert fe.info.effects == ("agency_id", "district_year")


def test_three_effects_use_fast_path_and_equal_dummies(panel: pd.DataFrame) -> None:
    df = panel.assign(size=lambda d: (d["weight"] > 1).astype(int))
    fe = sustain.fit_fe(df, "quality ~ hhi + gov_share", effects=("agency_id", "year", "size"))
    ols = lsdv(df, "quality ~ hhi + gov_share + C(agency_id) + C(year) + C(size)")
    assert fe.backend == "sustain"
    np.testing.assert_allclose(fe.params, ols.params[["hhi", "gov_share"]], rtol=LSDV_RTOL)
    np.testing.assert_allclose(fe.bse, ols.bse[["hhi", "gov_share"]], rtol=LSDV_RTOL)
    assert fe.info.model == "3-way FE"


def test_row_order_does_not_matter(panel: pd.DataFrame) -> None:
    shuffled = panel.sample(frac=1.0, random_state=np.random.default_rng(3))
    a = sustain.fit_fe(panel, "quality ~ hhi + gov_share", cluster=("agency_id", "year"))
    b = sustain.fit_fe(shuffled, "quality ~ hhi + gov_share", cluster=("agency_id", "year"))
    np.testing.assert_allclose(a.params, b.params, rtol=SAME_RTOL)
    np.testing.assert_allclose(a.bse, b.bse, rtol=SAME_RTOL)


# --------------------------------------------------------------------------- recovery


@pytest.mark.slow
def test_quality_fe_recovers_simulated_truth() -> None:
    """Two-way FE on sustain.simulate data covers the true funding effects."""
    sim = sustain.simulate(seed=11, n_agencies=800)
    panel = sustain.build_panel(sim.data)
    terms = [k for k in sim.truth.quality if k != "Intercept"]
    fe = sustain.fit_fe(panel, "quality ~ " + " + ".join(terms), cluster="agency_id")
    ci = fe.conf_int()
    for term in ("hhi", "gov_share"):
        truth = sim.truth.quality[term]
        assert ci.loc[term, "lower"] <= truth <= ci.loc[term, "upper"], (term, truth, ci.loc[term])
    assert fe.nobs == panel["quality"].notna().sum()


# --------------------------------------------------------------------------- collinearity


def test_time_invariant_regressor_is_dropped_with_a_note(panel: pd.DataFrame) -> None:
    with pytest.warns(UserWarning, match="subdistrict_tier"):
        fe = sustain.fit_fe(panel, "quality ~ hhi + subdistrict_tier", effects="agency_id")
    assert list(fe.params.index) == ["hhi"]
    assert any("subdistrict_tier" in n and "absorbed" in n for n in fe.info.notes)
    assert "subdistrict_tier" in str(fe)


def test_collinear_regressors_drop_the_later_one(panel: pd.DataFrame) -> None:
    df = panel.assign(hhi2=lambda d: 2 * d["hhi"] + d["gov_share"])
    with pytest.warns(UserWarning, match="hhi2: collinear"):
        fe = sustain.fit_fe(df, "quality ~ hhi + gov_share + hhi2")
    assert list(fe.params.index) == ["hhi", "gov_share"]


def test_first_difference_drops_time_invariant_regressor(panel: pd.DataFrame) -> None:
    with pytest.warns(UserWarning, match="subdistrict_tier"):
        fd = sustain.fit_fe(panel, "quality ~ hhi + subdistrict_tier", estimator="first_difference")
    assert list(fd.params.index) == ["hhi"]


def test_nothing_left_is_a_fit_error(panel: pd.DataFrame) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(FitError, match="nothing left to estimate.*subdistrict_tier"):
            sustain.fit_fe(panel, "quality ~ subdistrict_tier", effects="agency_id")


# --------------------------------------------------------------------------- results


def test_result_protocol(panel: pd.DataFrame) -> None:
    fe = sustain.fit_fe(panel, "quality ~ hhi + gov_share", cluster="agency_id")
    assert isinstance(fe, FEResults)
    assert list(fe.params.index) == ["hhi", "gov_share"]
    assert (fe.bse > 0).all()
    ci = fe.conf_int()
    assert (ci["lower"] < fe.params).all() and (fe.params < ci["upper"]).all()
    tidy = fe.tidy()
    assert list(tidy["term"]) == ["hhi", "gov_share"]
    np.testing.assert_allclose(tidy["std_error"], fe.bse)
    text = str(fe.summary())
    assert "agency_id FE" in text and "year FE" in text and "Yes" in text
    assert fe.info.effects == ("agency_id", "year")
    assert fe.info.cluster == ("agency_id",) and fe.info.cov_type == "clustered"
    assert fe.n_clusters == panel.index.get_level_values(0).nunique()
    n_agencies = panel.index.get_level_values(0).nunique()
    n_years = panel.index.get_level_values(1).nunique()
    assert fe.n_absorbed == n_agencies + n_years - 1
    assert 0 < fe.rsquared_within < 1 and 0 < fe.rsquared_overall < 1
    assert fe.nobs == len(panel)
    assert "<div" in fe._repr_html_()


def test_with_cov_type_returns_a_new_result(panel: pd.DataFrame) -> None:
    fe = sustain.fit_fe(panel, "quality ~ hhi + gov_share")
    clustered = fe.with_cov_type("clustered", cluster="district")
    direct = sustain.fit_fe(panel, "quality ~ hhi + gov_share", cluster="district")
    assert fe.info.cov_type == "unadjusted" and fe.n_clusters is None
    assert clustered.info.cluster == ("district",) and clustered.n_clusters == 4
    np.testing.assert_allclose(clustered.bse, direct.bse, rtol=SAME_RTOL)
    np.testing.assert_allclose(clustered.params, fe.params, rtol=SAME_RTOL)
    dk = fe.with_cov_type("driscoll_kraay", bandwidth=1)
    assert dk.info.cov_type == "driscoll_kraay"
    assert not np.allclose(dk.bse, fe.bse)


def test_missing_values_use_complete_cases(panel: pd.DataFrame) -> None:
    df = panel.copy()
    df.iloc[:7, df.columns.get_loc("hhi")] = np.nan
    df.iloc[5:12, df.columns.get_loc("district")] = None
    fe = sustain.fit_fe(df, "quality ~ hhi + gov_share", cluster="district")
    expected = df["hhi"].notna() & df["district"].notna()
    assert fe.nobs == int(expected.sum())
    ref = sustain.fit_fe(df[expected], "quality ~ hhi + gov_share", cluster="district")
    np.testing.assert_allclose(fe.params, ref.params, rtol=SAME_RTOL)


@pytest.mark.parametrize("estimator", ["random", "between", "pooled", "first_difference"])
def test_other_estimators_carry_their_labels(panel: pd.DataFrame, estimator: str) -> None:
    r = sustain.fit_fe(panel, "quality ~ hhi + gov_share", estimator=estimator)
    assert r.info.estimator == estimator and r.info.effects == ()
    assert ("Intercept" in r.params.index) == (estimator != "first_difference")
    assert r.n_absorbed == 0


def test_two_way_clustering_by_agency_and_district(panel: pd.DataFrame) -> None:
    fe = sustain.fit_fe(
        panel, "quality ~ hhi + gov_share", effects="year", cluster=("agency_id", "district")
    )
    assert fe.info.cluster == ("agency_id", "district")
    assert fe.n_clusters == 4  # the smaller count governs


# --------------------------------------------------------------------------- Hausman


def hausman_panel(correlation: float, seed: int = SEED) -> pd.DataFrame:
    """y = 2 x + a_i + e with x = z + correlation * a_i (100 agencies x 6 years)."""
    rng = np.random.default_rng(seed)
    idx = pd.MultiIndex.from_product([range(100), range(6)], names=["agency_id", "year"])
    a = np.repeat(rng.normal(size=100), 6)
    x = rng.normal(size=600) + correlation * a
    return pd.DataFrame({"x": x, "y": 2 * x + a + rng.normal(size=600)}, index=idx)


@pytest.mark.parametrize(("correlation", "rejects"), [(0.8, True), (0.0, False)])
def test_hausman_detects_correlated_effects(correlation: float, rejects: bool) -> None:
    df = hausman_panel(correlation)
    fe = sustain.fit_fe(df, "y ~ x", effects="agency_id")
    re = sustain.fit_fe(df, "y ~ x", estimator="random")
    h = sustain.hausman(fe, re)
    assert h.terms == ("x",) and h.df == 1 and not h.generalized_inverse
    assert (h.pvalue < 0.001) == rejects
    assert "Hausman" in str(h) and "chi2(1)" in str(h)
    np.testing.assert_allclose(h.table.loc["x", "difference"], fe.params["x"] - re.params["x"])


def _result(params: list[float], variances: list[float]) -> FrequentistResults:
    terms = ["hhi", "gov_share"]
    info = ModelInfo(model="m", estimator="within", depvar="quality", formula="", nobs=100)
    cov = pd.DataFrame(np.diag(variances), index=terms, columns=terms)
    return FrequentistResults(pd.Series(params, index=terms), cov, info)


def test_hausman_generalized_inverse_when_not_positive_definite() -> None:
    fe = _result([1.0, 2.0], [2.0, 1.0])
    re = _result([0.5, 1.5], [1.0, 1.0])  # V_FE - V_RE = diag(1, 0): singular
    h = sustain.hausman(fe, re)
    assert h.generalized_inverse and h.df == 1
    np.testing.assert_allclose(h.statistic, 0.25, rtol=SAME_RTOL)
    assert "generalized inverse" in " ".join(h.notes)
    with pytest.raises(FitError, match="no positive eigenvalue"):
        sustain.hausman(fe, _result([0.5, 1.5], [3.0, 3.0]))


def test_hausman_needs_shared_terms(panel: pd.DataFrame) -> None:
    a = sustain.fit_fe(panel, "quality ~ hhi", effects="agency_id")
    b = sustain.fit_fe(panel, "quality ~ gov_share", estimator="random")
    with pytest.raises(SpecError, match="share no coefficients"):
        sustain.hausman(a, b)


# --------------------------------------------------------------------------- errors


def test_frame_must_be_indexed_by_entity_and_time(panel: pd.DataFrame) -> None:
    with pytest.raises(SpecError, match=r"indexed \(entity, time\)"):
        sustain.fit_fe(panel.reset_index(), "quality ~ hhi")


def test_duplicate_rows_are_a_data_error(panel: pd.DataFrame) -> None:
    df = pd.concat([panel, panel.iloc[:2]])
    with pytest.raises(DataError, match="must appear once") as info:
        sustain.fit_fe(df, "quality ~ hhi")
    assert len(info.value.problems) == 4


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"estimator": "gmm"}, "estimator='gmm' is not one of"),
        ({"cov_type": "hac"}, "cov_type='hac' is not one of"),
        ({"cluster": "agency_id", "cov_type": "robust"}, "needs cov_type='clustered'"),
        ({"cluster": ("agency_id", "year", "district")}, "one or two variables"),
        ({"bandwidth": 2}, "only used with cov_type='driscoll_kraay'"),
        ({"estimator": "random", "effects": "agency_id"}, "only the within estimator absorbs"),
        ({"effects": ()}, "needs at least one effect"),
        ({"weights": "weight", "fast": True}, "does not take weights"),
        ({"estimator": "pooled", "fast": True}, "only for the within estimator"),
        ({"cluster": "region"}, "region, not found in the data"),
    ],
)
def test_bad_options_raise_spec_error(panel: pd.DataFrame, kwargs: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        sustain.fit_fe(panel, "quality ~ hhi", **kwargs)


def test_unknown_variable_and_fd_constant(panel: pd.DataFrame) -> None:
    with pytest.raises(SpecError, match="hhii.*did you mean 'hhi'"):
        sustain.fit_fe(panel, "quality ~ hhii")
    with pytest.raises(SpecError, match="first differences remove the constant"):
        sustain.fit_fe(panel, "quality ~ 1 + hhi", estimator="first_difference")


def test_non_positive_weights_are_a_data_error(panel: pd.DataFrame) -> None:
    df = panel.assign(weight=lambda d: d["weight"].where(d["weight"] > 0.6, 0.0))
    with pytest.raises(DataError, match="weights must be > 0"):
        sustain.fit_fe(df, "quality ~ hhi", effects="agency_id", weights="weight")
