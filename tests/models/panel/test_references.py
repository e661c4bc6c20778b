"""sustain.fit_fe against published and independently computed reference results.

References (tests/references/fe/, see its README.md):
* plm_reference.csv: R 4.2.2 / plm 2.6-2 on Grunfeld (10 firms) and Wooldridge's WAGEPAN,
  every estimator, with the script plm_reference.R and its raw log plm_reference.log;
* published.py: Stata's xtreg, fe (and quoted xtreg, re) on Grunfeld; Wooldridge's
  Example 14.4 (Table 14.2) on WAGEPAN, as printed.

Degrees-of-freedom conventions are matched explicitly: sustain reports Stata's small-sample
covariances, and each plm covariance that differs (HC0/HC1 sandwiches without Stata's factors)
is converted with the exact factor named in ``variance_factor``.
"""

from __future__ import annotations

import runpy
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sustain

# Both programs solve the same least-squares problems in double precision; the largest
# relative difference observed is 3e-13 (RE intercept), so 1e-9 only allows for rounding.
COEF_RTOL = 1e-9
SE_RTOL = 1e-9
# phtest and sustain.hausman invert the same 2 x 2 covariance difference.
HAUSMAN_RTOL = 1e-8

REFERENCES = Path(__file__).resolve().parents[2] / "references" / "fe"
PUBLISHED = runpy.run_path(str(REFERENCES / "published.py"))
GRUNFELD = "invest ~ value + capital"
WAGE_RE = "lwage ~ educ + black + hisp + exper + expersq + married + union + C(year)"
WAGE_FE = "lwage ~ expersq + married + union + C(year)"


@pytest.fixture(scope="module")
def grunfeld() -> pd.DataFrame:
    import statsmodels.api as sm

    data = sm.datasets.grunfeld.load_pandas().data
    data = data[data["firm"] != "American Steel"].copy()
    data["year"] = data["year"].astype(int)
    return data.set_index(["firm", "year"])


@pytest.fixture(scope="module")
def grunfeld_stata(grunfeld: pd.DataFrame) -> pd.DataFrame:
    """Grunfeld as Stata's grunfeld.dta stores it: invest, mvalue, kstock in float (single
    precision). Without this, Stata's _cons differs from the double-precision fit in the
    7th significant digit (-58.74393 printed, -58.743939 in double)."""
    stored = grunfeld.copy()
    for column in ("invest", "value", "capital"):
        stored[column] = stored[column].astype(np.float32).astype(float)
    return stored


@pytest.fixture(scope="module")
def wagepan() -> pd.DataFrame:
    from linearmodels.datasets import wage_panel

    return wage_panel.load().set_index(["nr", "year"])


@pytest.fixture(scope="module")
def plm() -> pd.DataFrame:
    return pd.read_csv(REFERENCES / "plm_reference.csv", keep_default_na=False)


def fit(data: pd.DataFrame, formula: str, **kwargs: object) -> sustain.models.panel.fit.FEResults:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # collinear regressors are dropped with a warning
        return sustain.fit_fe(data, formula, **kwargs)


# ------------------------------------------------------------------- variance conventions


def stata_cluster(r: object, counted_effects: int) -> float:
    """Stata/linearmodels CR1 over plm's HC0 cluster sandwich: G/(G-1) (N-1)/(N-d-k)."""
    n, k, g = r.nobs, len(r.params), r.n_clusters
    return g / (g - 1) * (n - 1) / (n - counted_effects - k)


def nested_cluster(r: object) -> float:
    """One effect nested in the clusters is not counted (linearmodels' auto_df)."""
    return stata_cluster(r, 0)


def counted_cluster(r: object) -> float:
    """Two absorbed effects are always counted in the degrees of freedom."""
    return stata_cluster(r, r.n_absorbed)


def hc1_cluster(r: object) -> float:
    """plm's HC1 is HC0 times N/(N-k)."""
    return nested_cluster(r) * (r.nobs - len(r.params)) / r.nobs


def heteroskedastic(r: object) -> float:
    """White and Driscoll-Kraay HC0 sandwiches versus sustain's N/(N-d-k) scaling."""
    return r.nobs / (r.nobs - r.n_absorbed - len(r.params))


def same(r: object) -> float:
    return 1.0


@dataclass(frozen=True)
class Case:
    id: str
    data: str
    formula: str
    options: dict
    variance_factor: Callable[[object], float] = same


CASES = [
    Case("grunfeld_within", "grunfeld", GRUNFELD, {"effects": "firm"}),
    Case(
        "grunfeld_within_cluster_hc0",
        "grunfeld",
        GRUNFELD,
        {"effects": "firm", "cluster": "firm"},
        nested_cluster,
    ),
    Case(
        "grunfeld_within_cluster_hc1",
        "grunfeld",
        GRUNFELD,
        {"effects": "firm", "cluster": "firm"},
        hc1_cluster,
    ),
    Case(
        "grunfeld_within_white_hc0",
        "grunfeld",
        GRUNFELD,
        {"effects": "firm", "cov_type": "robust"},
        heteroskedastic,
    ),
    Case(
        "grunfeld_within_scc_hc0",
        "grunfeld",
        GRUNFELD,
        {"effects": "firm", "cov_type": "driscoll_kraay", "bandwidth": 2},
        heteroskedastic,
    ),
    Case("grunfeld_twoway", "grunfeld", GRUNFELD, {}),
    Case("grunfeld_twoway_cluster_hc0", "grunfeld", GRUNFELD, {"cluster": "firm"}, counted_cluster),
    Case("grunfeld_random", "grunfeld", GRUNFELD, {"estimator": "random"}),
    Case("grunfeld_between", "grunfeld", GRUNFELD, {"estimator": "between"}),
    Case("grunfeld_fd", "grunfeld", GRUNFELD, {"estimator": "first_difference"}),
    Case("grunfeld_pooled", "grunfeld", GRUNFELD, {"estimator": "pooled"}),
    Case(
        "grunfeld_pooled_cluster_hc0",
        "grunfeld",
        GRUNFELD,
        {"estimator": "pooled", "cluster": "firm"},
        nested_cluster,
    ),
    Case("wagepan_pooled", "wagepan", WAGE_RE, {"estimator": "pooled"}),
    Case("wagepan_random", "wagepan", WAGE_RE, {"estimator": "random"}),
    Case("wagepan_within", "wagepan", WAGE_FE, {"effects": "nr"}),
    Case(
        "wagepan_within_cluster_hc0",
        "wagepan",
        WAGE_FE,
        {"effects": "nr", "cluster": "nr"},
        nested_cluster,
    ),
    Case("wagepan_twoway", "wagepan", "lwage ~ expersq + married + union", {}),
    Case(
        "wagepan_twoway_cluster_hc0",
        "wagepan",
        "lwage ~ expersq + married + union",
        {"cluster": "nr"},
        counted_cluster,
    ),
]


def plm_term(term: str) -> str:
    """R's coefficient names in formulaic's spelling."""
    if term == "(Intercept)":
        return "Intercept"
    if term.startswith("factor(year)"):
        return f"C(year)[T.{term.removeprefix('factor(year)')}]"
    return term


# every case through linearmodels; the within cases also through the fast path
RUNS = [(c, False) for c in CASES] + [
    (c, True) for c in CASES if c.options.get("estimator", "within") == "within"
]


@pytest.mark.parametrize(
    ("case", "fast"), RUNS, ids=[f"{c.id}-{'fast' if f else 'linearmodels'}" for c, f in RUNS]
)
def test_against_plm(
    case: Case, fast: bool, request: pytest.FixtureRequest, plm: pd.DataFrame
) -> None:
    data = request.getfixturevalue(case.data)
    result = fit(data, case.formula, fast=fast, **case.options)
    ref = plm[plm["case"] == case.id]
    terms = [plm_term(t) for t in ref["term"]]
    assert sorted(terms) == sorted(result.params.index)
    np.testing.assert_allclose(
        result.params[terms], ref["estimate"].astype(float), rtol=COEF_RTOL, atol=1e-14
    )
    factor = case.variance_factor(result)
    np.testing.assert_allclose(
        result.bse[terms], ref["std_error"].astype(float) * np.sqrt(factor), rtol=SE_RTOL
    )


def test_hausman_against_plm_phtest(grunfeld: pd.DataFrame, plm: pd.DataFrame) -> None:
    ref = plm[plm["case"] == "grunfeld_hausman"].set_index("term")["estimate"].astype(float)
    fe = fit(grunfeld, GRUNFELD, effects="firm")
    re = fit(grunfeld, GRUNFELD, estimator="random")
    h = sustain.hausman(fe, re)
    assert h.df == int(ref["df"])
    np.testing.assert_allclose(h.statistic, ref["statistic"], rtol=HAUSMAN_RTOL)
    np.testing.assert_allclose(h.pvalue, ref["p_value"], rtol=HAUSMAN_RTOL)
    assert not h.generalized_inverse


# ------------------------------------------------------------------- published output


def printed_tolerance(text: str) -> float:
    """Half a unit in the last printed decimal place."""
    decimals = len(text.split(".")[1]) if "." in text else 0
    return 0.5 * 10.0**-decimals


def assert_printed(actual: float, text: str) -> None:
    assert abs(actual - float(text)) <= printed_tolerance(text) * (1 + 1e-9), (actual, text)


def test_stata_xtreg_fe_grunfeld(grunfeld_stata: pd.DataFrame) -> None:
    ref = PUBLISHED["STATA_XTREG_FE_GRUNFELD"]
    result = fit(grunfeld_stata, "invest ~ 1 + value + capital", effects="firm")
    for term, text in ref["params"].items():
        assert_printed(result.params[term], text)
    for term, text in ref["bse"].items():
        assert_printed(result.bse[term], text)
    assert_printed(result.rsquared_within, ref["r2"]["r2_within"])
    assert_printed(result.rsquared_between, ref["r2"]["r2_between"])
    assert_printed(result.rsquared_overall, ref["r2"]["r2_overall"])
    assert result.df_resid == ref["df_resid"]


@pytest.mark.parametrize("fast", [False, True])
def test_stata_fe_r2_without_constant(grunfeld_stata: pd.DataFrame, fast: bool) -> None:
    """Stata's R² do not depend on _cons; both paths give them."""
    ref = PUBLISHED["STATA_XTREG_FE_GRUNFELD"]["r2"]
    result = fit(grunfeld_stata, GRUNFELD, effects="firm", fast=fast)
    assert_printed(result.rsquared_within, ref["r2_within"])
    assert_printed(result.rsquared_between, ref["r2_between"])
    assert_printed(result.rsquared_overall, ref["r2_overall"])


def test_stata_xtreg_re_grunfeld(grunfeld_stata: pd.DataFrame) -> None:
    ref = PUBLISHED["STATA_XTREG_RE_GRUNFELD"]
    result = fit(grunfeld_stata, GRUNFELD, estimator="random")
    for term, text in ref["bse"].items():
        assert_printed(result.bse[term], text)
    for name, text in ref["stats"].items():
        assert_printed(result.info.stats[name], text)


@pytest.mark.parametrize("model", ["pooled", "random", "within"])
def test_wooldridge_example_14_4(wagepan: pd.DataFrame, model: str) -> None:
    ref = PUBLISHED["WOOLDRIDGE_EXAMPLE_14_4"]
    if model == "within":
        result = fit(wagepan, WAGE_FE, effects="nr")
    else:
        result = fit(wagepan, WAGE_RE, estimator=model)
    for term, text in ref["params"][model].items():
        assert_printed(result.params[term], text)
    for term, text in ref["bse"][model].items():
        assert_printed(result.bse[term], text)
