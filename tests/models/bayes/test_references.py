"""fit_bayes against REML on a public hierarchical data set (linearmodels' wage_panel).

With 545 men observed for 8 years and weakly informative priors, the posterior of a
varying-intercept Gaussian model is dominated by the likelihood, so its means must agree with
REML (statsmodels MixedLM, itself checked against lme4's numbers stored with their provenance
in tests/references/bayes/).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import sustain

REFERENCE = Path(__file__).resolve().parents[2] / "references" / "bayes" / "wage_panel_lmer.json"
FORMULA = "lwage ~ educ + black + hisp + exper + expersq + married + union + (1 | nr)"
# statsmodels' and lme4's REML optimisers stop at slightly different points: estimates agree to
# 1e-4 relative (absolute 1e-6 for coefficients near 0), variance components to 1e-3.
MIXEDLM_RTOL = 1e-4
MIXEDLM_ATOL = 1e-6
VARIANCE_RTOL = 1e-3
# Their standard errors of the fixed effects differ by up to 0.2% (lme4's vcov and statsmodels'
# Hessian-based covariance treat the estimated variance components differently).
SE_REF_RTOL = 5e-3
# The contract: posterior means within two posterior standard deviations of REML.
POSTERIOR_SDS = 2.0
# Posterior sds and REML standard errors differ by Monte Carlo error (about 2% at 2,000 draws)
# and because REML's ignore the uncertainty of the variance components (a few %).
SE_RTOL = 0.2
# Diagnostics of a well-mixing fit. sustain.diagnose checks R-hat <= 1.01 on all 556 quantities
# (545 group effects); with 2 x 500 draws even independent draws exceed it for one of them in
# ~37% of seeds (measured on i.i.d. normals, 40 replications), with 2 x 1,000 in none of 40.
RHAT_MAX = 1.01
ESS_MIN = 400
FIT = {"draws": 1000, "tune": 500, "chains": 2, "random_seed": 2024}


@pytest.fixture(scope="module")
def wage():
    from linearmodels.datasets import wage_panel

    return wage_panel.load()


@pytest.fixture(scope="module")
def reml(wage):
    import statsmodels.formula.api as smf

    fixed = FORMULA.split(" + (")[0]
    fit = smf.mixedlm(fixed, wage, groups=wage["nr"]).fit(reml=True)
    return {
        "params": fit.fe_params,
        "bse": fit.bse_fe,
        "sd_nr": float(np.sqrt(fit.cov_re.iloc[0, 0])),
        "sigma": float(np.sqrt(fit.scale)),
    }


@pytest.fixture(scope="module")
def posterior(wage):
    return sustain.fit_bayes(wage, FORMULA, **FIT)


def test_mixedlm_reproduces_lme4(reml):
    ref = json.loads(REFERENCE.read_text())
    for name, row in ref["fixed"].items():
        assert reml["params"][name] == pytest.approx(
            row["estimate"], rel=MIXEDLM_RTOL, abs=MIXEDLM_ATOL
        )
        assert reml["bse"][name] == pytest.approx(row["std_error"], rel=SE_REF_RTOL)
    assert reml["sd_nr"] == pytest.approx(ref["sd_nr"], rel=VARIANCE_RTOL)
    assert reml["sigma"] == pytest.approx(ref["sigma"], rel=VARIANCE_RTOL)


@pytest.mark.bayes
@pytest.mark.slow
def test_posterior_means_agree_with_reml(posterior, reml):
    bm = posterior
    assert bm.collapsed and bm.nobs == 4360 and bm.info.groups == {"nr": 545}
    for name, value in reml["params"].items():
        assert abs(bm.params[name] - value) < POSTERIOR_SDS * bm.bse[name], name
        # posterior sd and REML standard error describe the same uncertainty
        assert bm.bse[name] == pytest.approx(reml["bse"][name], rel=SE_RTOL), name
    assert abs(bm.params["sd(1|nr)"] - reml["sd_nr"]) < POSTERIOR_SDS * bm.bse["sd(1|nr)"]
    assert abs(bm.params["sigma"] - reml["sigma"]) < POSTERIOR_SDS * bm.bse["sigma"]


@pytest.mark.bayes
@pytest.mark.slow
def test_reference_fit_passes_diagnostics(posterior):
    stats = posterior.info.stats
    assert stats["rhat_max"] < RHAT_MAX
    assert stats["ess_bulk_min"] > ESS_MIN
    assert stats["divergences"] == 0
    report = sustain.diagnose(posterior)
    assert report.ok, report.summary()
