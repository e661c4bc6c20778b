"""Fixed, hand-built results (not fitted) shared by the table, figure and Word tests.

Built by hand so that the golden files of ``tests/tables/test_golden.py`` change only when the
rendering changes, never when an estimator does.
"""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd

from sustain.results import BayesianResults, FrequentistResults, ModelInfo

# Labels for every variable the fixtures use, so the golden files do not depend on the
# example codebook (which may be reworded).
LABELS = {
    "quality": "Service quality",
    "exit": "Exit",
    "hhi": "Funding concentration (HHI)",
    "gov_share": "Government share",
    "share_single_source": "Share single-source",
    "log_revenue": "Log revenue",
    "main_tier": "Main tier",
    "agency_id": "Agency",
    "district": "District",
    "age": "Age",
}
SEED = 20240611


def _frequentist(terms, estimates, ses, info, df_resid=None, **extra):
    params = pd.Series(estimates, index=terms, dtype=float)
    cov = pd.DataFrame(np.diag(np.square(ses)), index=terms, columns=terms)
    return FrequentistResults(params, cov, info, df_resid, **extra)


def fe_result() -> FrequentistResults:
    """A two-way fixed-effects fit of quality (t inference, clustered by agency)."""
    info = ModelInfo(
        "Two-way FE",
        "within",
        "quality",
        "quality ~ hhi + gov_share + share_single_source + log_revenue",
        2400,
        groups={"agency_id": 310, "year": 12},
        effects=("agency_id", "year"),
        cov_type="clustered",
        cluster=("agency_id",),
        stats={"r2_within": 0.0712, "r2": 0.0731, "loglik": -8123.456},
    )
    terms = ["hhi", "gov_share", "share_single_source", "log_revenue"]
    return _frequentist(terms, [-4.213, 2.5, -1.1, 0.84], [1.2, 1.6, 0.9, 0.31], info, 309)


def hazard_result() -> FrequentistResults:
    """A cloglog discrete-time hazard of exit (z inference) with two age-band terms."""
    info = ModelInfo(
        "Hazard (cloglog)",
        "hazard",
        "exit",
        "exit ~ hhi + log_revenue + C(main_tier)",
        2600,
        groups={"agency_id": 330},
        cov_type="clustered",
        cluster=("agency_id",),
        stats={"n_events": 41, "loglik": -410.2, "aic": 832.4},
        link="cloglog",
        exp_name="HR",
    )
    terms = ["Intercept", "hhi", "log_revenue", "C(main_tier)[T.subdistrict]", "age[1]", "age[2-4]"]
    estimates = [-3.2, 0.91, -0.35, 0.42, 0.3, 0.5]
    ses = [0.4, 0.3, 0.08, 0.25, 0.2, 0.2]
    result = _frequentist(terms, estimates, ses, info)
    return _with_duration(result, ("age[1]", "age[2-4]"))


def _with_duration(result: FrequentistResults, terms: tuple[str, ...]) -> FrequentistResults:
    from sustain.models.survival.hazard import HazardResults

    return HazardResults(result.params_, result.cov, result.info, None, duration_terms=terms)


def cox_result() -> FrequentistResults:
    """A Cox model of exit with unadjusted standard errors."""
    info = ModelInfo(
        "Cox PH",
        "cox",
        "exit",
        "hhi + gov_share",
        2600,
        cov_type="unadjusted",
        stats={"n_events": 41, "loglik": -201.9, "aic": 407.8},
        link="log",
        exp_name="HR",
    )
    return _frequentist(["hhi", "gov_share"], [0.88, -0.4], [0.31, 0.5], info)


def bayes_result(fail: bool = False, record_stats: bool = True) -> BayesianResults:
    """A Bayesian multilevel model of quality; ``fail`` records failed convergence."""
    rng = np.random.default_rng(SEED)
    shape = (4, 250)
    post = {
        "Intercept": rng.normal(70.0, 1.5, shape),
        "hhi": rng.normal(-3.9, 1.1, shape),
        "gov_share": rng.normal(2.2, 1.4, shape),
        "sigma": np.abs(rng.normal(8.1, 0.2, shape)),
        "sd(1|district)": np.abs(rng.normal(2.0, 0.6, shape)),
    }
    stats = {}
    if record_stats:
        stats = {
            "rhat_max": 1.03 if fail else 1.002,
            "ess_bulk_min": 310.0 if fail else 1450.0,
            "divergences": 2 if fail else 0,
        }
    info = ModelInfo(
        "Bayesian multilevel",
        "bayes",
        "quality",
        "quality ~ hhi + gov_share + (1 | district)",
        2400,
        groups={"district": 11},
        cov_type="posterior",
        stats=stats,
        link="identity",
    )
    return BayesianResults(az.from_dict({"posterior": post}), tuple(post), info)


def golden_models() -> list:
    return [fe_result(), hazard_result(), cox_result(), bayes_result()]


def describe_frame() -> pd.DataFrame:
    """A small fixed panel-like frame (index agency_id, year) for descriptive tables."""
    index = pd.MultiIndex.from_product(
        [["a1", "a2", "a3"], [2015, 2016]], names=["agency_id", "year"]
    )
    return pd.DataFrame(
        {
            "hhi": [0.5, 0.62, 1.0, 1.0, 0.34, np.nan],
            "gov_share": [0.9, 0.95, 1.0, 1.0, 0.6, 0.55],
            "quality": [81.5, 83.0, np.nan, 77.25, 88.0, 90.5],
            "main_tier": [
                "district",
                "district",
                "subdistrict",
                "subdistrict",
                "municipal",
                "district",
            ],
        },
        index=index,
    )
