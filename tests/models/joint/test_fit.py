"""Joint model of quality and survival: recovery, two-stage attenuation, protocol, options."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sustain
from sustain.data.simulate import DEFAULT_QUALITY
from sustain.errors import FitError, SpecError
from sustain.models.bayes.parameterization import information_ratio
from sustain.models.joint import JointResults, fit_joint, fit_two_stage
from sustain.models.joint.model import centred_levels, joint_priors
from sustain.models.joint.terms import build_joint_terms

# Truth of the simulation: better agencies (higher latent quality) exit less, and quality
# rises with age within agencies.
ASSOCIATION = -0.15
AGE_TREND = 0.4
N_AGENCIES = 300  # enough for ~80 exits; the benchmark uses 1,200
SIM_SEED = 2
# Recovery is checked against 90% posterior intervals (the criterion).
INTERVAL_ALPHA = 0.10
# "Visibly attenuated": the two-stage estimate is at most this share of the truth.
ATTENUATION_MAX = 0.7
# Posterior sampling: short chains, enough for means and 90% intervals of the main terms.
DRAWS, TUNE, CHAINS = 400, 400, 2
# Short chains: R-hat of the terms of interest stays below this (the intercept, traded off
# against the district effects, mixes more slowly and is not checked here).
RHAT_MAX = 1.05
MAIN_TERMS = ("association", "age", "hhi", "hazard:hhi", "sd(1|agency_id)", "sigma")
QUALITY = (
    "quality ~ hhi + gov_share + share_directed_commission + share_single_source"
    " + share_subdistrict + age + (1 | district)"
)
HAZARD = "exit ~ hhi + gov_share + log_revenue"


@pytest.fixture(scope="module")
def simulation():
    coefs = {**DEFAULT_QUALITY, "age": AGE_TREND}
    return sustain.simulate(
        seed=SIM_SEED, n_agencies=N_AGENCIES, association=ASSOCIATION, quality_coefs=coefs
    )


@pytest.fixture(scope="module")
def panel(simulation):
    return sustain.build_panel(simulation.data)


@pytest.fixture(scope="module")
def jm(panel):
    return fit_joint(
        panel, quality=QUALITY, hazard=HAZARD, draws=DRAWS, tune=TUNE, chains=CHAINS, random_seed=1
    )


def _inside(result, term, truth):
    low, high = result.conf_int(INTERVAL_ALPHA).loc[term]
    return low < truth < high


# --------------------------------------------------------------------------- recovery


def test_association_recovered(jm):
    assert _inside(jm, "association", ASSOCIATION), jm.conf_int(INTERVAL_ALPHA).loc["association"]


def test_quality_trend_recovered(jm):
    assert _inside(jm, "age", AGE_TREND), jm.conf_int(INTERVAL_ALPHA).loc["age"]


def test_quality_and_hazard_coefficients_recovered(jm, simulation):
    truth = simulation.truth
    for term in ("hhi", "gov_share", "share_directed_commission"):
        assert _inside(jm, term, truth.quality[term]), term
    assert _inside(jm, "hazard:log_revenue", truth.hazard["log_revenue"])
    assert _inside(jm, "sd(1|agency_id)", truth.sd_agency)


def test_two_stage_is_attenuated(jm, panel):
    two = fit_two_stage(panel, QUALITY, HAZARD)
    naive = float(two.params["quality"])
    low, high = two.conf_int(INTERVAL_ALPHA).loc["quality"]
    assert ASSOCIATION < naive < 0
    assert abs(naive) < ATTENUATION_MAX * abs(ASSOCIATION)
    assert not low < ASSOCIATION < high  # the truth is outside the naive interval
    assert abs(naive) < abs(float(jm.params["association"]))


def test_agency_effects_track_the_truth(jm, simulation):
    effects = jm.idata.posterior["r(1|agency_id)"].mean(("chain", "draw")).to_series()
    truth = simulation.latent.set_index("agency_id")["agency_effect"].reindex(effects.index)
    assert np.corrcoef(effects, truth)[0, 1] > 0.9


# --------------------------------------------------------------------------- protocol


def test_names_do_not_collide(jm):
    names = list(jm.params.index)
    assert len(names) == len(set(names))
    for name in (
        "Intercept",
        "hhi",
        "age",
        "hazard:Intercept",
        "hazard:hhi",
        "association",
        "sigma",
        "sd(1|agency_id)",
        "sd(1|district)",
    ):
        assert name in names
    assert jm.duration_terms == tuple(n for n in names if n.startswith("hazard:age[bs"))
    assert len(jm.duration_terms) == 4  # spline_df
    assert jm.hazard_terms[:2] == ("hazard:Intercept", "hazard:hhi")
    assert "association" not in jm.quality_terms and "Intercept" in jm.quality_terms


def test_posterior_contents(jm, panel):
    post = jm.idata.posterior
    assert "association" in post and post["r(1|agency_id)"].dims == ("chain", "draw", "agency_id")
    assert post.sizes["chain"] == CHAINS and post.sizes["draw"] == DRAWS
    assert not [v for v in post.data_vars if str(v).startswith(("raw(", "z("))]
    assert set(jm.idata.observed_data.data_vars) == {"quality", "exit"}
    n_quality, n_hazard = int(jm.info.stats["n_quality"]), int(jm.info.stats["n_hazard"])
    assert n_quality == panel["quality"].notna().sum()
    assert n_hazard == len(panel) and n_quality < n_hazard  # years without a score count
    assert jm.idata.log_likelihood["exit"].shape == (CHAINS, DRAWS, n_hazard)


def test_result_protocol(jm):
    assert isinstance(jm, JointResults) and jm.inference == "bayesian"
    assert (jm.bse > 0).all()
    ci = jm.conf_int()
    assert (ci["lower"] < jm.params).all() and (jm.params < ci["upper"]).all()
    tidy = jm.tidy()
    assert list(tidy["term"]) == list(jm.params.index)
    main = tidy.set_index("term").loc[list(MAIN_TERMS), "rhat"]
    assert main.max() < RHAT_MAX, main
    assert jm.info.estimator == "joint" and jm.nobs == int(jm.info.stats["n_hazard"])
    text = str(jm.summary())
    assert "association" in text and "hazard:hhi" in text
    assert jm.priors["parameter"].iloc[-1] == "association"


@pytest.mark.filterwarnings("ignore:regression_table:UserWarning")  # short chains are flagged
def test_diagnose_table_and_loo(jm):
    import arviz as az

    diagnosis = sustain.diagnose(jm)
    assert "association" in " ".join(map(str, diagnosis.table.index))
    table = sustain.regression_table([jm], format="markdown")
    assert "ssociation" in table and "bs1" not in table  # duration terms are hidden
    loo = az.loo(jm.idata, var_name="exit")
    assert np.isfinite(loo.elpd)


def test_save_and_load(jm, tmp_path):
    path = jm.save(tmp_path / "joint.nc")
    back = sustain.load_result(path)
    assert isinstance(back, JointResults)
    pd.testing.assert_series_equal(back.params, jm.params)
    assert back.hazard_formula == HAZARD and back.quality_formula == QUALITY
    assert back.prior_set == jm.prior_set and back.n_centred == jm.n_centred
    assert back.duration_terms == jm.duration_terms


# --------------------------------------------------------------------------- pieces


def test_terms_share_one_agency_index(panel):
    thinned = panel.copy()
    agencies = thinned.index.get_level_values("agency_id")
    silent = agencies.isin(agencies.unique()[:5])
    thinned.loc[silent, "quality"] = np.nan
    terms = build_joint_terms(thinned, "quality ~ hhi", "exit ~ hhi", "agency_id")
    assert terms.n_agencies == panel.index.get_level_values("agency_id").nunique()
    counts = terms.quality_counts()
    assert (counts == 0).sum() >= 5
    centred = centred_levels(terms, "auto")["agency_id"]
    assert not centred[counts == 0].any() and centred[counts >= 3].all()


def test_duration_dummies(panel):
    terms = build_joint_terms(
        panel, "quality ~ hhi", "exit ~ hhi", "agency_id", duration_form="dummies"
    )
    assert terms.duration_terms and all(t.startswith("age[") for t in terms.duration_terms)
    assert terms.hazard.X.shape[1] == 2 + len(terms.duration_terms)


def test_information_ratio_separates_informative_agencies():
    rng = np.random.default_rng(0)
    agency = np.repeat(np.arange(40), np.tile([1, 10], 20))
    y = rng.normal(0, 2, 40)[agency] + rng.normal(0, 4, len(agency))
    ratio = information_ratio(y, np.ones((len(y), 1)), agency, 41)
    assert np.median(ratio[1::2][:20]) > 1 > np.median(ratio[0::2][:20]) and ratio[40] == 0


def test_priors_and_overrides(panel):
    terms = build_joint_terms(panel, "quality ~ hhi", "exit ~ hhi", "agency_id", duration=None)
    defaults = joint_priors(terms, "cloglog")
    scale = 2.5 / float(np.std(terms.quality.y))
    assert str(defaults["association"]) == f"normal(0, {scale:.4g})"
    custom = joint_priors(
        terms, "cloglog", {"association": "normal(0, 1)", "hazard:b": "normal(0, 5)"}
    )
    assert (
        str(custom["association"]) == "normal(0, 1)" and str(custom["hazard:hhi"]) == "normal(0, 5)"
    )
    assert str(custom["hhi"]) == str(defaults["hhi"])
    with pytest.raises(SpecError, match="does not have"):
        joint_priors(terms, "cloglog", {"hazard:nothing": "normal(0, 1)"})
    with pytest.raises(SpecError, match="support"):
        joint_priors(terms, "cloglog", {"sigma": "normal(0, 1)"})


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"quality": "quality ~ hhi + (1 | agency_id)"}, SpecError, "built in"),
        ({"quality": "quality ~ hhi + (hhi | district)"}, SpecError, "random intercepts"),
        ({"hazard": "quality ~ hhi"}, SpecError, "different responses"),
        ({"link": "probit"}, SpecError, "link"),
        ({"parameterization": "sideways"}, SpecError, "parameterization"),
        ({"random_seed": -1}, SpecError, "random_seed"),
        ({"group": "nothing"}, SpecError, "nothing"),
    ],
)
def test_bad_options(panel, kwargs, error, message):
    options = {
        "quality": "quality ~ hhi",
        "hazard": "exit ~ hhi",
        "draws": 10,
        "tune": 10,
        "chains": 1,
        "random_seed": 1,
        **kwargs,
    }
    with pytest.raises(error, match=message):
        fit_joint(panel, **options)


def test_no_exits_is_a_fit_error(panel):
    with pytest.raises(FitError, match="exits"):
        build_joint_terms(panel.assign(exit=0), "quality ~ hhi", "exit ~ hhi", "agency_id")


def test_two_stage_rejects_group_terms(panel):
    with pytest.raises(SpecError, match="group terms"):
        fit_two_stage(panel, "quality ~ hhi", "exit ~ hhi + (1 | district)")


def test_spec_format_knows_the_joint_model():
    from sustain.pipeline.spec import parse_spec

    model = {
        "name": "joint",
        "kind": "joint",
        "quality": "quality ~ hhi",
        "hazard": "exit ~ hhi",
        "link": "logit",
        "parameterization": "centred",
        "draws": 200,
    }
    spec = parse_spec({"data": {"builtin": "example"}, "models": [model]})
    assert spec.models[0].options["parameterization"] == "centred"
    with pytest.raises(SpecError, match="parameterization"):
        parse_spec(
            {"data": {"builtin": "example"}, "models": [{**model, "parameterization": "sideways"}]}
        )
