"""Golden-file tests: fixed, hand-built results rendered in every text format.

The results below are built by hand (not fitted), so the expected files in ``tests/golden/``
only change when the rendering changes. To accept an intended change, regenerate them with
``SUSTAIN_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_tables_golden.py`` and review the diff.
The builders are also used by test_tables.py, test_docx.py and test_latex_compile.py.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import pytest

import sustain
from sustain.results import BayesianResults, FrequentistResults, ModelInfo

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("SUSTAIN_UPDATE_GOLDEN") == "1"
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


def regression(fmt: str, **kwargs) -> str:
    options = {
        "labels": LABELS,
        "exponentiate": [False, True, True, False],
        "caption": "Funding concentration, quality and exit",
        "notes": "Hand-built results for the golden-file tests.",
    }
    options.update(kwargs)
    return sustain.regression_table(golden_models(), fmt, **options)


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


CASES = {
    "regression.tex": lambda: regression("latex", latex_label="tab:golden"),
    "regression.md": lambda: regression("markdown"),
    "regression.html": lambda: regression("html"),
    "regression.csv": lambda: regression("csv"),
    "regression_ci_hdi.md": lambda: regression(
        "markdown", statistic="ci", interval="hdi", exponentiate=False, stars=(0.05, 0.01)
    ),
    "describe.tex": lambda: sustain.describe(describe_frame(), format="latex", labels=LABELS),
    "describe_by.md": lambda: sustain.describe(
        describe_frame(), ["hhi", "quality"], by="main_tier", format="markdown", labels=LABELS
    ),
    "correlation.csv": lambda: sustain.correlation_table(
        describe_frame(), ["hhi", "gov_share", "quality"], "csv", labels=LABELS, stars=(0.1,)
    ),
    "correlation.html": lambda: sustain.correlation_table(
        describe_frame(), ["hhi", "gov_share", "quality"], "html", labels=LABELS
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # golden fixtures converge: no warning expected
        text = str(CASES[name]())
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"{name} differs from its golden file; see the module docstring"


@pytest.mark.parametrize("name", sorted(CASES))
def test_output_carries_no_timestamp_or_path(name):
    text = str(CASES[name]())
    assert not re.search(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}", text)
    assert str(Path.home()) not in text and "/tmp" not in text and "/work" not in text


@pytest.mark.parametrize("fmt", ["latex", "markdown", "html", "csv"])
def test_same_inputs_give_identical_output(fmt):
    first = regression(fmt)
    second = regression(fmt)
    assert first.encode("utf-8") == second.encode("utf-8")
