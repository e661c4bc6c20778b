"""fit_bayes(family="categorical"): the hierarchical competing-risks hazard.

One real fit per model, shared across the module (few draws, fixed seeds). Without group terms
and with weakly informative priors the posterior means are close to the maximum-likelihood
multinomial logit (fit_hazard(competing=...)); with district intercepts the names follow the
contract (``<cause>:sd(1|district)``) and the truth of the simulation is covered.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sustain
from sustain.data.simulate import simulate
from sustain.errors import SpecError

TRUE_CAUSES = {
    "closed": {"Intercept": -4.0, "hhi": 1.5},
    "merged": {"Intercept": -3.5, "hhi": -2.0},
}
SEED = 3
AGENCIES = 1500
DRAWS = dict(draws=300, tune=300, chains=2, random_seed=1)
# With about 800 exits the likelihood dominates the normal(0, 2.5/sd(x)) priors; posterior
# means and maximum-likelihood estimates then differ by a small fraction of a standard error
# plus Monte Carlo error (300 x 2 draws): a quarter of the ML standard error is ample.
ML_AGREEMENT_SE = 0.25
RECOVERY_ALPHA = 0.01


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    panel = sustain.build_panel(
        simulate(seed=SEED, n_agencies=AGENCIES, cause_coefs=TRUE_CAUSES).data
    )
    out = panel.reset_index()
    out["outcome"] = np.where(out["exit"] == 1, out["exit_reason"], "stay")
    return out


@pytest.fixture(scope="module")
def flat(rows):
    return sustain.fit_bayes(rows, "outcome ~ hhi", family="categorical", reference="stay", **DRAWS)


@pytest.fixture(scope="module")
def grouped(rows):
    return sustain.fit_bayes(
        rows, "outcome ~ hhi + (1 | district)", family="categorical", reference="stay", **DRAWS
    )


def test_posterior_means_agree_with_the_multinomial_logit(rows, flat):
    ml = sustain.fit_hazard(
        rows.set_index(["agency_id", "year"]), "exit ~ hhi", competing="exit_reason", duration=None
    )
    assert flat.categories == ml.causes and flat.reference == "stay"
    for term in ml.params.index:
        gap = abs(flat.params[term] - ml.params[term])
        assert gap < ML_AGREEMENT_SE * ml.bse[term], (term, gap, ml.bse[term])


def test_group_effects_are_named_by_cause_and_cover_the_truth(grouped):
    assert "closed:sd(1|district)" in grouped.params.index
    assert "merged:r(1|district)" in grouped.idata.posterior
    ci = grouped.conf_int(RECOVERY_ALPHA)
    for cause, coefs in TRUE_CAUSES.items():
        lower, upper = ci.loc[f"{cause}:hhi"]
        assert lower < coefs["hhi"] < upper
    assert grouped.info.stats["rhat_max"] < 1.05
    assert "log_likelihood" in grouped.idata.children
    assert grouped.priors["parameter"].str.startswith(("closed:", "merged:")).all()


def test_saved_categorical_results_load_back(flat, tmp_path):
    path = sustain.persistence.save_result(flat, tmp_path / "cat.nc")
    back = sustain.load_result(path)
    assert type(back).__name__ == "CategoricalBayesResults"
    assert back.categories == flat.categories
    pd.testing.assert_series_equal(back.params, flat.params)


def test_categorical_options_are_checked(rows):
    with pytest.raises(SpecError, match="reference"):
        sustain.fit_bayes(rows, "outcome ~ hhi", family="categorical", reference="nope", **DRAWS)
    with pytest.raises(SpecError, match="random intercepts"):
        sustain.fit_bayes(rows, "outcome ~ hhi + (hhi | district)", family="categorical", **DRAWS)
