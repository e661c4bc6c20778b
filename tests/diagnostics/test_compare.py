"""Tests of ``sustain.compare``: LOO prefers the right model, Pareto k is counted and warned about.

Three tiny PyMC regressions share one module-scoped set of fits (2 chains x 300 draws, fixed
seeds, pointwise log-likelihood stored): ``good`` (y ~ x, the true model), ``bad`` (intercept
only) and ``outlier`` (y ~ x on the same data with one observation moved 20 residual sds away,
which makes that observation's importance ratios heavy-tailed).
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import arviz as az
import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import sustain
from sustain.diagnostics import Comparison, ParetoKWarning, WAICWarning, compare
from sustain.diagnostics.compare import pareto_counts
from sustain.errors import SpecError
from sustain.results import BayesianResults, ModelInfo

# Our ELPD numbers are ArviZ's own on the same draws.
ARVIZ_RTOL = 1e-9
# WAIC (computed by sustain since ArviZ 1 dropped it) against a pure-Python loop: only
# summation order differs.
WAIC_RTOL = 1e-9
DRAWS, TUNE, CHAINS, SEED = 300, 300, 2, 7
N_OBS = 40
# The true slope is 2 with residual sd 0.5; dropping x costs about 1.5 nats per observation,
# so the good model must win by many standard errors, not just by noise.
MIN_SE_MARGIN = 4.0


def _data():
    rng = np.random.default_rng(SEED)
    x = rng.normal(size=N_OBS)
    y = 1.0 + 2.0 * x + rng.normal(0, 0.5, size=N_OBS)
    return x, y


def _fit(x, y, slope=True):
    import pymc as pm

    with pm.Model():
        a = pm.Normal("Intercept", 0, 5)
        mu = a + pm.Normal("x", 0, 5) * x if slope else a
        pm.Normal("y", mu, pm.HalfNormal("sigma", 2), observed=y)
        idata = pm.sample(
            draws=DRAWS,
            tune=TUNE,
            chains=CHAINS,
            cores=1,
            random_seed=SEED,
            progressbar=False,
            compute_convergence_checks=False,
        )
        return pm.compute_log_likelihood(idata, progressbar=False)


@pytest.fixture(scope="module")
def fits():
    x, y = _data()
    y_out = y.copy()
    y_out[0] += 10.0  # 20 residual sds
    return {"good": _fit(x, y), "bad": _fit(x, y, slope=False), "outlier": _fit(x, y_out)}


@pytest.fixture(scope="module")
def comparison(fits):
    return compare({"good": fits["good"], "bad": fits["bad"]})


def _quiet_compare(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ParetoKWarning)
        warnings.simplefilter("ignore", WAICWarning)
        return compare(*args, **kwargs)


def test_loo_prefers_the_true_model(comparison):
    table = comparison.table
    assert comparison.best == "good"
    assert list(table.index) == ["good", "bad"]
    diff, dse = table.loc["bad", "elpd_diff"], table.loc["bad", "dse"]
    assert diff > MIN_SE_MARGIN * dse
    assert table["weight"].sum() == pytest.approx(1.0)
    assert table.loc["good", "weight"] > 0.99
    for col in ("rank", "elpd_loo", "p_loo", "elpd_diff", "weight", "se", "dse"):
        assert col in table.columns


def test_waic_alongside_agrees(comparison):
    waic = comparison.waic_table
    assert list(waic.index) == ["good", "bad"]
    assert "elpd_waic" in waic.columns
    loo = comparison.loo_table
    np.testing.assert_allclose(waic["elpd_waic"], loo["elpd_loo"], rtol=0.05)


def test_numbers_are_arviz(fits, comparison):
    for name in ("good", "bad"):
        ref = az.loo(fits[name])
        got = comparison.loo_table.loc[name]
        assert got["elpd_loo"] == pytest.approx(ref.elpd, rel=ARVIZ_RTOL)
        assert got["se"] == pytest.approx(ref.se, rel=ARVIZ_RTOL)
        assert got["p_loo"] == pytest.approx(ref.p, rel=ARVIZ_RTOL)
    # ArviZ 1's table with its columns renamed and elpd_diff's sign turned (best minus model)
    ref_table = az.compare({"good": fits["good"], "bad": fits["bad"]}, round_to="none")
    ours = comparison.loo_table.rename(columns={"elpd_loo": "elpd", "p_loo": "p"})
    ours["elpd_diff"] = -ours["elpd_diff"]
    pd.testing.assert_frame_equal(ours[ref_table.columns], ref_table, rtol=ARVIZ_RTOL)
    assert list(comparison.loo_table.columns[:9]) == [
        "rank",
        "elpd_loo",
        "p_loo",
        "elpd_diff",
        "weight",
        "se",
        "dse",
        "warning",
        "scale",
    ]
    assert (comparison.loo_table["elpd_diff"] >= 0).all()


def _waic_by_hand(log_lik):
    """WAIC written out draw by draw and observation by observation (Vehtari et al. 2017)."""
    draws = np.asarray(log_lik.transpose("chain", "draw", ...)).reshape(-1, log_lik.shape[-1])
    s = draws.shape[0]
    elpd_i, p_i = [], []
    for column in draws.T:
        m = column.max()
        lppd = m + math.log(sum(math.exp(v - m) for v in column) / s)
        mean = sum(column) / s
        var = sum((v - mean) ** 2 for v in column) / (s - 1)
        elpd_i.append(lppd - var)
        p_i.append(var)
    n = len(elpd_i)
    mean_i = sum(elpd_i) / n
    se = math.sqrt(n * sum((e - mean_i) ** 2 for e in elpd_i) / n)
    return sum(elpd_i), se, sum(p_i)


def test_waic_matches_a_hand_computation(fits, comparison):
    """ArviZ 1 dropped WAIC; sustain's own must be the textbook formula."""
    for name in ("good", "bad"):
        elpd, se, p = _waic_by_hand(fits[name].log_likelihood["y"])
        row = comparison.waic_table.loc[name]
        assert row["elpd_waic"] == pytest.approx(elpd, rel=WAIC_RTOL)
        assert row["se"] == pytest.approx(se, rel=WAIC_RTOL)
        assert row["p_waic"] == pytest.approx(p, rel=WAIC_RTOL)
        pointwise = np.asarray(comparison.waic[name].elpd_i)
        assert pointwise.shape == (N_OBS,)
        assert pointwise.sum() == pytest.approx(elpd, rel=WAIC_RTOL)


def test_ic_waic_ranks_by_waic(fits):
    c = compare([fits["good"], fits["bad"]], names=["good", "bad"], ic="waic")
    assert c.ic == "waic"
    assert "elpd_waic" in c.table.columns and c.best == "good"
    assert "WAIC" in str(c)


def test_pareto_k_warning_names_the_model(fits):
    with (
        pytest.warns(
            ParetoKWarning, match=r"PSIS-LOO of outlier: 1 observation with Pareto k > 0.7"
        ),
        pytest.warns(WAICWarning, match="WAIC of outlier"),
    ):
        c = compare({"good": fits["good"], "outlier": fits["outlier"]})
    k = c.pareto_k
    assert k.loc["outlier", "n_above_threshold"] == 1
    assert k.loc["outlier", "max_k"] > 0.7
    assert k.loc["good", "n_above_threshold"] == 0
    assert int(np.argmax(np.asarray(c.loo["outlier"].pareto_k))) == 0  # the moved observation
    assert any("student_t" in w for w in c.warnings)
    assert "Pareto k > 0.7" in str(c)


def test_pareto_k_counts_add_up(fits, comparison):
    k = comparison.pareto_k
    assert list(k.columns) == [
        "n_obs",
        "good",
        "ok",
        "bad",
        "very_bad",
        "max_k",
        "n_above_threshold",
    ]
    bins = k[["good", "ok", "bad", "very_bad"]].sum(axis=1)
    assert (bins == N_OBS).all() and (k["n_obs"] == N_OBS).all()


def test_no_warning_for_well_behaved_models(fits):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ParetoKWarning)
        c = compare({"good": fits["good"], "bad": fits["bad"]})
    assert c.warnings == ()


def test_threshold_is_an_argument(fits):
    max_k = _quiet_compare({"good": fits["good"], "outlier": fits["outlier"]}).pareto_k
    high = float(max_k.loc["outlier", "max_k"]) + 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("error", ParetoKWarning)
        warnings.simplefilter("ignore", WAICWarning)
        c = compare({"good": fits["good"], "outlier": fits["outlier"]}, k_threshold=high)
    assert c.pareto_k.loc["outlier", "n_above_threshold"] == 0


@given(arrays(np.float64, st.integers(1, 50), elements=st.floats(-1, 3)), st.floats(0.5, 1.5))
def test_pareto_counts_partition(k, threshold):
    counts = pareto_counts(k, threshold)
    assert counts["good"] + counts["ok"] + counts["bad"] + counts["very_bad"] == len(k)
    assert counts["n_above_threshold"] == int((k > threshold).sum())
    assert counts["max_k"] == pytest.approx(float(k.max()))


# --- names and inputs -------------------------------------------------------------------------


def _wrap(idata, formula):
    info = ModelInfo(model="Bayes", estimator="bayes", depvar="y", formula=formula, nobs=N_OBS)
    return BayesianResults(idata, ("Intercept",), info)


def test_names_from_results_and_fallback(fits):
    results = [_wrap(fits["good"], "y ~ x"), _wrap(fits["bad"], "y ~ 1")]
    c = sustain.compare(results)
    assert c.names == ("y ~ x", "y ~ 1") and c.best == "y ~ x"
    same = [_wrap(fits["good"], "y ~ x"), _wrap(fits["bad"], "y ~ x")]
    assert compare(same).names == ("model1", "model2")
    assert compare([fits["good"], fits["bad"]]).names == ("model1", "model2")
    renamed = compare({"a": fits["good"], "b": fits["bad"]}, names=["slope", "flat"])
    assert renamed.best == "slope"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"names": ["a", "a"]}, "distinct"),
        ({"names": ["a"]}, "1 names for 2 models"),
        ({"ic": "aic"}, "ic='aic'"),
        ({"method": "average"}, "method="),
        ({"k_threshold": 0}, "k_threshold"),
        ({"var_name": "z"}, "no log-likelihood 'z'"),
    ],
)
def test_bad_arguments_raise(fits, kwargs, match):
    with pytest.raises(SpecError, match=match):
        compare([fits["good"], fits["bad"]], **kwargs)


def test_bad_models_raise(fits):
    with pytest.raises(SpecError, match="at least two"):
        compare([fits["good"]])
    no_ll = az.from_dict({"posterior": {"mu": np.zeros((2, 10))}})
    with pytest.raises(SpecError, match="no log_likelihood group"):
        compare([fits["good"], no_ll])
    fewer = fits["bad"].copy()
    fewer["log_likelihood"] = fewer["log_likelihood"].to_dataset().isel(y_dim_0=slice(0, 30))
    with pytest.raises(SpecError, match="same observations"):
        compare([fits["good"], fewer])
    with pytest.raises(SpecError, match="expected a Bayesian result"):
        compare([fits["good"], "not a model"])


def test_several_log_likelihoods_need_var_name(fits):
    def joint(idata):
        two = idata.copy()
        log_lik = two["log_likelihood"].to_dataset()
        two["log_likelihood"] = log_lik.assign(exit=log_lik["y"] * 0.5)
        return two

    models = [joint(fits["good"]), joint(fits["bad"])]
    with pytest.raises(SpecError, match="several log-likelihood variables"):
        compare(models)
    c = compare(models, names=["good", "bad"], var_name="y")
    assert c.best == "good"


# --- the result object ---------------------------------------------------------------------------


def test_comparison_is_frozen_and_copies(comparison):
    assert isinstance(comparison, Comparison)
    with pytest.raises(dataclasses.FrozenInstanceError):
        comparison.ic = "waic"  # type: ignore[misc]
    table = comparison.table
    table.loc[:, "weight"] = 0.0
    assert comparison.table["weight"].sum() == pytest.approx(1.0)
    with pytest.raises(TypeError):
        comparison.loo["x"] = None  # type: ignore[index]


def test_summary_in_words(comparison):
    text = str(comparison)
    assert "Model comparison (PSIS-LOO)" in text
    assert "good has the highest expected log predictive density" in text
    assert "bad is worse by" in text and "a clear difference" in text
    assert comparison._repr_html_().startswith("<div")
    frame = comparison.to_frame()
    assert {"elpd_loo", "max_k", "n_above_threshold"} <= set(frame.columns)


def test_close_models_are_called_indistinguishable():
    c = _quiet_compare(
        {"c": az.load_arviz_data("centered_eight"), "nc": az.load_arviz_data("non_centered_eight")}
    )
    assert "within two standard errors" in " ".join(c.messages)


def test_save(comparison, tmp_path):
    paths = comparison.save(tmp_path)
    assert set(paths) == {"loo", "waic", "pareto_k", "summary"}
    loo = pd.read_csv(paths["loo"], index_col=0)
    assert list(loo.index) == ["good", "bad"]
    assert "good has the highest" in paths["summary"].read_text(encoding="utf-8")
