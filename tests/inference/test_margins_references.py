"""Margins against statsmodels' get_margeff (logit) and numerical differentiation (cloglog).

References in tests/references/inference/margins.json (see the README there): statsmodels
0.15's ``LogitResults.get_margeff`` for average marginal effects and effects at the means;
numdifftools' derivatives of the mean predicted probability of a cloglog GLM (with a log
transform, an interaction and a categorical term) and of its AME in the coefficients.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sustain

HERE = Path(__file__).resolve().parents[1] / "references" / "inference"
REF = json.loads((HERE / "margins.json").read_text())

# Effects: sustain differentiates with a central difference of step 1e-4 sd (truncation error
# ~1e-9 relative); statsmodels differentiates analytically and numdifftools extrapolates, so
# estimates agree to ~1e-9. Standard errors: both sides' gradients agree to ~1e-8 (statsmodels
# differentiates its derivative numerically), hence 1e-6.
ESTIMATE_RTOL = 1e-7
SE_RTOL = 1e-6
# statsmodels' Logit and sustain's GLM converge to the same estimates within their tolerances.
PARAM_RTOL = 1e-8


@pytest.fixture(scope="module")
def rows():
    return pd.read_csv(HERE / REF["logit"]["data"])


@pytest.mark.parametrize("kind", ["average", "at_means"])
def test_logit_margins_match_get_margeff(rows, kind):
    fit = sustain.fit_hazard(
        rows, "exit_logit ~ hhi + gov_share + big", link="logit", duration=None, cluster=None
    )
    me = sustain.margins(fit, kind=kind).set_index("term")
    ref = REF["logit"][kind]
    assert me.loc["big", "contrast"] == "1 - 0"  # a 0/1 variable: a discrete change
    np.testing.assert_allclose(me.loc[ref["term"], "estimate"], ref["estimate"], rtol=ESTIMATE_RTOL)
    np.testing.assert_allclose(me.loc[ref["term"], "se"], ref["se"], rtol=SE_RTOL)


def test_cloglog_margins_match_numerical_differentiation(rows):
    ref = REF["cloglog"]
    fit = sustain.fit_hazard(
        rows, "exit_cloglog ~ hhi * gov_share + np.log(revenue) + C(tier)", link="cloglog",
        duration=None, cluster="district",
    )  # fmt: skip
    order = ["Intercept", "hhi", "gov_share", "np.log(revenue)", "C(tier)[T.municipal]",
             "C(tier)[T.subdistrict]", "hhi:gov_share"]  # fmt: skip
    np.testing.assert_allclose(fit.params[order], ref["params"], rtol=PARAM_RTOL)
    np.testing.assert_allclose(fit.cov.loc[order, order], ref["cov"], rtol=PARAM_RTOL)
    me = sustain.margins(fit).set_index("term")
    assert list(me.index) == ["hhi", "gov_share", "revenue", "tier[T.municipal]",
                              "tier[T.subdistrict]"]  # fmt: skip
    np.testing.assert_allclose(me.loc[ref["term"], "estimate"], ref["estimate"], rtol=ESTIMATE_RTOL)
    np.testing.assert_allclose(me.loc[ref["term"], "se"], ref["se"], rtol=SE_RTOL)


def test_live_statsmodels_agrees(rows):
    """The same comparison against the installed statsmodels (not only the stored numbers)."""
    import statsmodels.api as sm

    X = sm.add_constant(rows[["hhi", "gov_share", "big"]].astype(float))
    logit = sm.Logit(rows.exit_logit.astype(float), X).fit(disp=0, tol=1e-12)
    ref = logit.get_margeff(at="overall", method="dydx", dummy=True)
    fit = sustain.fit_hazard(
        rows, "exit_logit ~ hhi + gov_share + big", link="logit", duration=None, cluster=None
    )
    me = sustain.margins(fit)
    np.testing.assert_allclose(me["estimate"], ref.margeff, rtol=ESTIMATE_RTOL)
    np.testing.assert_allclose(me["se"], ref.margeff_se, rtol=SE_RTOL)
