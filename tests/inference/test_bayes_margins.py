"""Bayesian margins and predictions: within Monte Carlo error of the frequentist ones on a large
simulated sample; group effects of fitted groups, a new group or none."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sustain
from sustain.errors import SpecError
from sustain.inference.contrasts import inverse_link

pytestmark = [pytest.mark.slow, pytest.mark.bayes]

N = 20_000
DRAWS, CHAINS = 500, 2
# The posterior mean of an effect is a Monte Carlo estimate with MCSE = sd / sqrt(ESS). NUTS
# on these well-conditioned models gives an ESS above a quarter of the draws, so sd /
# sqrt(draws * chains / 4) bounds the MCSE; four of them make a false alarm a 1-in-15,000
# event. With 20,000 rows and weakly informative priors the posterior mean and the MLE differ
# by about sd / sqrt(n), which is negligible against that.
MC_SDS = 4.0
ESS_SHARE = 0.25
# Posterior sd and delta-method se estimate the same sampling spread; with 1,000 draws the sd
# itself is known to a few percent.
SD_RTOL = 0.15


def _sample(formula, data, family, **kwargs):
    return sustain.fit_bayes(data, formula, family=family, draws=DRAWS, tune=DRAWS, chains=CHAINS,
                             random_seed=11, **kwargs)  # fmt: skip


@pytest.fixture(scope="module")
def big():
    rng = np.random.default_rng(8)
    df = pd.DataFrame({"agency_id": np.arange(N), "year": 2020, "hhi": rng.uniform(size=N),
                       "gov_share": rng.uniform(size=N),
                       "district": rng.integers(0, 11, N).astype(str)})  # fmt: skip
    eta = -1.0 + 1.2 * df.hhi - 0.8 * df.gov_share
    df["exit"] = (rng.random(N) < inverse_link(eta.to_numpy(), "logit")).astype(int)
    df["quality"] = 70 + 3 * df.hhi - 2 * df.gov_share + rng.normal(0, 4, N)
    df["n_contracts"] = rng.poisson(np.exp(0.5 + 0.6 * df.hhi - 0.4 * df.gov_share))
    return df


def _agree(bayes: pd.DataFrame, freq: pd.DataFrame) -> None:
    for term in freq.index:
        sd = bayes.loc[term, "se"]
        mcse = sd / np.sqrt(ESS_SHARE * DRAWS * CHAINS)
        assert abs(bayes.loc[term, "estimate"] - freq.loc[term, "estimate"]) <= MC_SDS * mcse
        assert sd == pytest.approx(freq.loc[term, "se"], rel=SD_RTOL)


def test_bernoulli_margins_match_the_logit_hazard(big):
    bm = _sample("exit ~ hhi + gov_share", big, "bernoulli")
    hz = sustain.fit_hazard(big, "exit ~ hhi + gov_share", link="logit", duration=None,
                            cluster=None)  # fmt: skip
    _agree(sustain.margins(bm, data=big).set_index("term"), sustain.margins(hz).set_index("term"))


def test_gaussian_margins_match_pooled_least_squares(big):
    bm = _sample("quality ~ hhi + gov_share", big, "gaussian")
    ols = sustain.fit_fe(big.set_index(["agency_id", "year"]), "quality ~ hhi + gov_share",
                         estimator="pooled")  # fmt: skip
    _agree(sustain.margins(bm, data=big).set_index("term"), sustain.margins(ols).set_index("term"))


def test_poisson_margins_match_statsmodels(big):
    import statsmodels.api as sm

    bm = _sample("n_contracts ~ hhi + gov_share", big, "poisson")
    X = sm.add_constant(big[["hhi", "gov_share"]])
    ref = sm.Poisson(big["n_contracts"], X).fit(disp=0).get_margeff(at="overall")
    freq = pd.DataFrame({"estimate": ref.margeff, "se": ref.margeff_se}, index=["hhi", "gov_share"])
    _agree(sustain.margins(bm, data=big).set_index("term"), freq)


@pytest.fixture(scope="module")
def grouped():
    rng = np.random.default_rng(9)
    n = 3000
    df = pd.DataFrame({"hhi": rng.uniform(size=n), "district": rng.integers(0, 8, n).astype(str)})
    effect = dict(zip(map(str, range(8)), rng.normal(0, 0.8, 8), strict=True))
    eta = -1 + 1.0 * df.hhi + df.district.map(effect)
    df["exit"] = (rng.random(n) < inverse_link(eta.to_numpy(), "logit")).astype(int)
    return df, _sample("exit ~ hhi + (1 | district)", df, "bernoulli")


def test_group_effects_as_chosen(grouped):
    df, bm = grouped
    fitted = sustain.margins(bm, data=df, groups="fitted")
    new = sustain.margins(bm, data=df, groups="new", random_seed=3)
    none = sustain.margins(bm, data=df, groups="none")
    assert new["se"].iloc[0] > fitted["se"].iloc[0]  # a new district adds its own uncertainty
    beta = np.column_stack([bm.draws("Intercept"), bm.draws("hhi")])
    hhi = df["hhi"].to_numpy()
    slope = inverse_link(beta[:, :1] + beta[:, 1:] * hhi, "logit")
    manual = np.mean(slope * (1 - slope) * beta[:, 1:], axis=1)  # logistic derivative
    assert none["estimate"].iloc[0] == pytest.approx(manual.mean(), rel=1e-6)
    again = sustain.margins(bm, data=df, groups="new", random_seed=3)
    assert again.to_csv() == new.to_csv()


def test_predictions_for_known_and_unseen_groups(grouped):
    df, bm = grouped
    profiles = pd.DataFrame({"hhi": [0.5, 0.5], "district": ["3", "new district"]})
    pred = sustain.predict(bm, profiles, data=df)
    width = pred["upper"] - pred["lower"]
    assert width.iloc[1] > width.iloc[0]  # an unseen district gets a new group's draw
    effect = bm.idata.posterior["r(1|district)"].sel(district="3").to_numpy().ravel()
    eta = bm.draws("Intercept") + 0.5 * bm.draws("hhi") + effect
    assert pred["estimate"].iloc[0] == pytest.approx(inverse_link(eta, "logit").mean(), rel=1e-10)


def test_the_fitted_data_are_checked(grouped):
    df, bm = grouped
    with pytest.raises(SpecError, match="need data="):
        sustain.margins(bm)
    with pytest.raises(SpecError, match="differ from the data"):
        sustain.margins(bm, data=df.iloc[::-1])


def test_margins_table_of_a_bayesian_fit(grouped):
    df, bm = grouped
    text = sustain.regression_table(bm, "markdown", margins=True, data=df)
    me = sustain.margins(bm, data=df)
    assert f"{me['estimate'].iloc[0]:.3f}" in text
    assert "posterior mean and interval of the effect" in text
