"""sustain.fit_hazard: independent GLM fits, the exit guard, duration terms, errors, recovery."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.genmod.families import links

import sustain
from sustain.errors import DataError, FitError, SpecError
from sustain.models.survival.hazard import duration_bands, duration_dummies

# Same likelihood maximised by statsmodels' IRLS directly; both converge to ~1e-8.
GLM_TOL = 1e-6
# Adding rows after exit must not change anything: the guard removes them exactly.
GUARD_TOL = 1e-10
COVARIATES = ["hhi", "gov_share", "log_revenue"]


@pytest.fixture(scope="module")
def panel():
    return sustain.build_panel(sustain.simulate(seed=2, n_agencies=400).data)


def independent_glm(panel: pd.DataFrame, link: str, cluster: bool):
    """The same model built by hand: intercept, covariates and one dummy per age but the first."""
    frame = panel.reset_index()
    ages = pd.get_dummies(frame["age"], prefix="age", dtype=float).iloc[:, 1:]
    X = sm.add_constant(pd.concat([frame[COVARIATES], ages], axis=1))
    family = sm.families.Binomial(link=links.CLogLog() if link == "cloglog" else links.Logit())
    model = sm.GLM(frame["exit"].astype(float), X, family=family)
    if cluster:
        groups = pd.factorize(frame["agency_id"])[0]
        return model.fit(cov_type="cluster", cov_kwds={"groups": groups}, tol=1e-12)
    return model.fit(tol=1e-12)


@pytest.mark.parametrize("link", ["cloglog", "logit"])
def test_matches_an_independent_statsmodels_glm(panel, link):
    # every age has exits in this panel, so each age gets its own dummy
    ages_with_exits = panel.groupby("age")["exit"].sum()
    assert (ages_with_exits > 0).all()
    res = sustain.fit_hazard(panel, "exit ~ hhi + gov_share + log_revenue", link=link, cluster=None)
    ref = independent_glm(panel, link, cluster=False)
    assert len(res.duration_terms) == panel["age"].nunique() - 1
    np.testing.assert_allclose(res.params.to_numpy(), ref.params.to_numpy(), atol=GLM_TOL)
    np.testing.assert_allclose(res.bse.to_numpy(), ref.bse.to_numpy(), atol=GLM_TOL)
    assert res.info.stats["loglik"] == pytest.approx(ref.llf, abs=GLM_TOL)
    assert res.info.exp_name == ("HR" if link == "cloglog" else "OR")


def test_logit_clustered_errors_match_statsmodels(panel):
    """For the canonical logit link observed and expected information coincide, so the
    clustered sandwich equals statsmodels' own (for cloglog see the R reference test)."""
    res = sustain.fit_hazard(panel, "exit ~ hhi + gov_share + log_revenue", link="logit")
    ref = independent_glm(panel, "logit", cluster=True)
    np.testing.assert_allclose(res.bse.to_numpy(), ref.bse.to_numpy(), atol=GLM_TOL)
    assert res.info.cov_type == "clustered" and res.info.cluster == ("agency_id",)


def test_rows_after_exit_never_enter(panel):
    base = sustain.fit_hazard(panel, "exit ~ hhi + log_revenue")
    exited = panel[panel["exit"] == 1].head(5)
    ghosts = exited.reset_index()
    ghosts["year"] += 1
    ghosts["age"] += 1
    ghosts["exit"] = [0, 1, 0, 0, 1]
    padded = pd.concat([panel, ghosts.set_index(["agency_id", "year"])]).sample(
        frac=1.0, random_state=np.random.default_rng(1)
    )
    res = sustain.fit_hazard(padded, "exit ~ hhi + log_revenue")
    np.testing.assert_allclose(res.params.to_numpy(), base.params.to_numpy(), atol=GUARD_TOL)
    np.testing.assert_allclose(res.bse.to_numpy(), base.bse.to_numpy(), atol=GUARD_TOL)
    assert res.nobs == base.nobs == len(panel)
    assert any("5 rows after an agency's first exit" in n for n in res.info.notes)


def test_left_truncated_agencies_enter_at_their_observed_age(panel):
    res = sustain.fit_hazard(panel, "exit ~ hhi", duration="age")
    first_ages = panel.groupby("agency_id")["age"].min()
    assert (first_ages > 0).sum() > 50  # agencies founded before the window
    # every panel row is used once, at its own age: the same rows as the spells on the age scale
    spells = sustain.to_spells(panel, "age")
    assert res.nobs == len(spells)
    design = res.pieces.X
    dummies = design[:, [res.params.index.get_loc(t) for t in res.duration_terms]]
    assert dummies.sum() == (panel["age"] > panel["age"].min()).sum()


def test_sparse_ages_are_merged_into_bands(panel):
    sparse = panel.copy()
    sparse.loc[sparse["age"].isin([3, 4, 5]) | (sparse["age"] >= 11), "exit"] = 0
    res = sustain.fit_hazard(sparse, "exit ~ hhi + log_revenue", duration="age")
    assert "age[3-6]" in res.duration_terms  # empty ages join the next age with exits
    assert res.duration_terms[-1] == f"age[10-{int(panel['age'].max())}]"
    assert any("merged into bands" in n for n in res.info.notes)
    assert np.isfinite(res.bse).all()
    for low, high in res.duration_bands:
        band = sparse[(sparse["age"] >= low) & (sparse["age"] <= high)]
        assert band["exit"].sum() >= 1


def test_duration_bands_rule():
    age = np.array([0, 0, 1, 1, 2, 2, 3, 3, 4, 5])
    exit_ = np.array([0, 0, 0, 1, 1, 0, 0, 0, 1, 0], bool)
    assert duration_bands(age, exit_) == [(0.0, 1.0), (2.0, 2.0), (3.0, 5.0)]
    assert duration_bands(age, exit_, min_events=2) == [(0.0, 5.0)]
    dummies = duration_dummies(pd.Series(age, name="age"), [(0, 1), (2, 2), (3, 5)], False)
    assert list(dummies.columns) == ["age[0-1]", "age[2]", "age[3-5]"]
    assert (dummies.sum(axis=1) == 1).all()
    with pytest.raises(FitError, match="too few"):
        duration_bands(age, np.zeros(10, bool))


def test_spline_and_no_duration(panel):
    spline = sustain.fit_hazard(panel, "exit ~ hhi", duration_form="spline", spline_df=5)
    assert spline.duration_terms == tuple(f"age[bs{i}]" for i in range(1, 6))
    assert spline.covariate_terms == ("hhi",)
    none = sustain.fit_hazard(panel, "exit ~ hhi", duration=None)
    assert none.duration_terms == () and list(none.params.index) == ["Intercept", "hhi"]
    dummies = sustain.fit_hazard(panel, "exit ~ hhi")
    # duration dependence improves the fit over none; spline and dummies are close
    assert none.info.stats["loglik"] < spline.info.stats["loglik"]
    assert spline.params["hhi"] == pytest.approx(dummies.params["hhi"], abs=dummies.bse["hhi"])


def test_district_terms_and_separation_note(panel):
    quiet = panel.copy()
    silent = sorted(quiet["district"].unique())[1]  # not the reference level
    quiet.loc[quiet["district"] == silent, "exit"] = 0
    res = sustain.fit_hazard(quiet, "exit ~ hhi + C(district)")
    assert any(t.startswith("C(district)[T.") for t in res.covariate_terms)
    assert f"No exits where C(district)[T.{silent}] = 1: its coefficient is not identified." in (
        res.info.notes
    )


def test_result_protocol(panel):
    res = sustain.fit_hazard(panel, "exit ~ hhi + log_revenue")
    tidy = res.tidy(exponentiate=True).set_index("term")
    np.testing.assert_allclose(tidy["estimate"], np.exp(res.params))
    np.testing.assert_allclose(tidy["conf_low"], np.exp(res.conf_int()["lower"]))
    assert res.nobs == len(panel) and res.df_resid is None
    assert res.info.groups == {"agency_id": panel.index.get_level_values(0).nunique()}
    assert res.info.stats["n_events"] == int(panel["exit"].sum())
    assert set(res.info.stats) >= {"n_events", "loglik", "aic"}
    assert res.covariate_terms == ("hhi", "log_revenue")
    assert "Reference duration band: age[0]." in res.info.notes
    assert "Hazard (cloglog)" in str(res) and "HR" in str(res)


def test_columns_instead_of_index(panel):
    a = sustain.fit_hazard(panel, "exit ~ hhi")
    b = sustain.fit_hazard(panel.reset_index(), "exit ~ hhi")
    np.testing.assert_allclose(a.params.to_numpy(), b.params.to_numpy(), atol=GUARD_TOL)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (dict(link="probit"), SpecError, "link='probit'"),
        (dict(duration_form="steps"), SpecError, "duration_form"),
        (dict(duration_form="spline", spline_df=2), SpecError, "spline_df"),
        (dict(min_events=0), SpecError, "min_events"),
        (dict(formula="exit ~ hhi + (1 | district)"), SpecError, "fit_bayes"),
        (dict(formula="exit ~ hhii"), SpecError, "did you mean 'hhi'"),
        (dict(formula="hhi ~ gov_share"), DataError, "must be 0 or 1"),
        (dict(formula="exit ~ hhi + I(2 * hhi)"), FitError, "collinear"),
        (dict(duration="tenure"), SpecError, "tenure"),
    ],
)
def test_bad_input_gets_clear_errors(panel, kwargs, error, message):
    kwargs = dict(kwargs)
    formula = kwargs.pop("formula", "exit ~ hhi")
    with pytest.raises(error, match=message):
        sustain.fit_hazard(panel, formula, **kwargs)


def test_no_exits_is_a_fit_error(panel):
    with pytest.raises(FitError, match="0 exits"):
        sustain.fit_hazard(panel.assign(exit=0), "exit ~ hhi", duration=None)


@pytest.fixture(scope="module")
def big_simulation():
    sim = sustain.simulate(seed=1, n_agencies=4000)
    return sim, sustain.build_panel(sim.data)


@pytest.mark.slow
@pytest.mark.parametrize("form", ["dummies", "spline"])
def test_recovers_funding_effects(big_simulation, form):
    """The DGP is a cloglog hazard with district effects and smooth age dependence."""
    sim, panel = big_simulation
    res = sustain.fit_hazard(
        panel,
        "exit ~ hhi + gov_share + log_revenue + C(district)",
        link="cloglog",
        duration="age",
        duration_form=form,
    )
    ci = res.conf_int()
    for term in ("hhi", "gov_share"):
        truth = sim.truth.hazard[term]
        assert ci.loc[term, "lower"] < truth < ci.loc[term, "upper"], (term, res.params[term])
    assert res.info.stats["n_events"] > 800
