"""Tests of ``sustain.diagnose``: numbers agree with ArviZ, checks judge, words explain.

Data: ArviZ's bundled eight-schools posteriors (``centered_eight`` has divergences, low ESS and
low E-BFMI; ``non_centered_eight`` is healthy; arviz-base 1.x ships the PyMC 5.20 runs of both,
with 19 divergences in ``centered_eight`` where ArviZ 0.x's copy had 48), hand-built InferenceData for sampler-statistic
names, and one tiny PyMC fit and one tiny nutpie fit (module-scoped) for the real samplers'
``sample_stats``.
"""

from __future__ import annotations

import dataclasses
import os

import arviz as az
import numpy as np
import pandas as pd
import pytest

import sustain
from sustain.diagnostics import Diagnosis, diagnose
from sustain.diagnostics import checks as ck
from sustain.errors import SpecError
from sustain.results import BayesianResults, FrequentistResults, ModelInfo

# Our statistics are ArviZ's own on the same draws; only summation order may differ.
ARVIZ_RTOL = 1e-9
# Sampling of the tiny PyMC/nutpie models: short runs, fixed seeds.
DRAWS, TUNE, CHAINS, SEED = 300, 300, 2, 20240601
# Split R-hat from 2 chains x 300 draws scatters around 1 by about +-0.02 even for a perfect
# sampler, so the default 1.01 is too tight to assert on a short run; 1.05 still catches
# chains that disagree.
SHORT_RUN_RHAT = 1.05


@pytest.fixture(scope="module")
def centered():
    return az.load_arviz_data("centered_eight")


@pytest.fixture(scope="module")
def non_centered():
    return az.load_arviz_data("non_centered_eight")


@pytest.fixture(scope="module")
def bad(centered):
    return diagnose(centered)


def _tiny_model():
    import pymc as pm

    rng = np.random.default_rng(SEED)
    x = rng.normal(size=60)
    y = 1.0 + 0.5 * x + rng.normal(0, 0.3, size=60)
    with pm.Model() as model:
        a = pm.Normal("Intercept", 0, 5)
        b = pm.Normal("x", 0, 5)
        s = pm.HalfNormal("sigma", 1)
        pm.Deterministic("slope_copy", b)
        pm.Normal("y", a + b * x, s, observed=y)
    return model


@pytest.fixture(scope="module")
def pymc_idata():
    import pymc as pm

    with _tiny_model():
        return pm.sample(
            draws=DRAWS,
            tune=TUNE,
            chains=CHAINS,
            cores=1,
            random_seed=SEED,
            progressbar=False,
            compute_convergence_checks=False,
            nuts_sampler="pymc",  # PyMC 6 picks nutpie when it is installed
        )


@pytest.fixture(scope="module")
def nutpie_idata():
    import nutpie

    compiled = nutpie.compile_pymc_model(_tiny_model())
    return nutpie.sample(
        compiled, draws=DRAWS, tune=TUNE, chains=CHAINS, seed=SEED, progress_bar=False
    )


def _posterior(n_chains=4, n_draws=200, seed=0, **extra):
    rng = np.random.default_rng(seed)
    post = {"mu": rng.normal(size=(n_chains, n_draws))}
    post.update(extra)
    return post


# --- centred eight schools: diagnose must fail and say why -------------------------------


def test_centered_eight_fails_with_reasons(bad, centered):
    assert bad.ok is False and isinstance(bad.ok, bool)
    assert {"bulk ESS", "tail ESS", "divergences", "E-BFMI"} <= set(bad.failed)
    n_div = int(centered.sample_stats["diverging"].sum())
    checks = bad.checks.set_index("name")
    assert checks.loc["divergences", "value"] == n_div == 19
    assert checks.loc["divergences", "passed"] is False
    text = str(bad.summary())
    assert "19 divergent transitions after tuning" in text
    assert "target_accept=0.95" in text and "non-centred" in text
    assert "E-BFMI" in text and "tau" in text  # tau is the worst-mixing parameter
    assert "FAILED" in text


def test_centered_eight_worst_parameter_named(bad):
    checks = bad.checks.set_index("name")
    ess = bad.table["ess_bulk"]
    assert checks.loc["bulk ESS", "value"] == pytest.approx(ess.min(), rel=ARVIZ_RTOL)
    assert str(ess.idxmin()) in checks.loc["bulk ESS", "message"]
    assert "draw more samples" in checks.loc["bulk ESS", "advice"]


def test_non_centered_eight_passes(non_centered):
    dg = diagnose(non_centered)
    assert dg.ok is True
    assert dg.failed == ()
    assert dg.checks["passed"].tolist() == [True] * 7
    assert "All checks passed" in dg.messages[0]
    assert dg.checks["advice"].eq("").all()


def test_checks_have_documented_columns_and_defaults(bad):
    frame = bad.checks
    assert list(frame.columns) == [
        "name",
        "value",
        "threshold",
        "rule",
        "passed",
        "message",
        "advice",
    ]
    expected = {
        "R-hat": (1.01, "<="),
        "bulk ESS": (400, ">="),
        "tail ESS": (400, ">="),
        "MCSE/sd": (0.1, "<="),
        "divergences": (0, "<="),
        "tree depth": (0.01, "<="),
        "E-BFMI": (0.3, ">="),
    }
    got = {r.name: (r.threshold, r.rule) for r in frame.itertuples()}
    assert got == expected
    pd.testing.assert_frame_equal(bad.to_frame(), frame)


# --- the numbers are ArviZ's ------------------------------------------------------------


def test_parameter_table_matches_arviz_summary(centered):
    dg = diagnose(centered)
    # sustain's tail ESS is at the 5% and 95% quantiles; ArviZ 1's summary takes the quantiles
    # p and 1 - p from rcParams["stats.ci_prob"] (0.89 by default)
    with az.rc_context({"stats.ci_prob": 0.95}):
        ref = az.summary(centered, round_to="none")
    table = dg.table
    assert list(table.index) == list(ref.index)
    for ours, theirs in [
        ("mean", "mean"),
        ("sd", "sd"),
        ("mcse_mean", "mcse_mean"),
        ("mcse_sd", "mcse_sd"),
        ("ess_bulk", "ess_bulk"),
        ("ess_tail", "ess_tail"),
        ("rhat", "r_hat"),
    ]:
        np.testing.assert_allclose(table[ours], ref[theirs], rtol=ARVIZ_RTOL, err_msg=ours)


def test_rhat_is_rank_normalised(centered):
    dg = diagnose(centered, var_names=["tau"])
    expected = float(az.rhat(centered, var_names=["tau"], method="rank")["tau"])
    assert dg.table.loc["tau", "rhat"] == pytest.approx(expected, rel=ARVIZ_RTOL)
    assert dg.stats["rhat_max"] == pytest.approx(expected, rel=ARVIZ_RTOL)


def test_ebfmi_matches_arviz(centered, bad):
    expected = float(az.bfmi(centered)["energy"].min())
    assert bad.stats["ebfmi_min"] == pytest.approx(expected, rel=ARVIZ_RTOL)
    assert (
        "E-BFMI of chain 0 is 0.29 < 0.3" in bad.checks.set_index("name").loc["E-BFMI", "message"]
    )


def test_table_flags_per_parameter(bad):
    table = bad.table
    for flag, column, limit, op in [
        ("rhat_ok", "rhat", 1.01, np.less_equal),
        ("ess_bulk_ok", "ess_bulk", 400, np.greater_equal),
        ("ess_tail_ok", "ess_tail", 400, np.greater_equal),
    ]:
        assert table[flag].tolist() == op(table[column], limit).tolist()
    flags = ["rhat_ok", "ess_bulk_ok", "ess_tail_ok", "mcse_ok"]
    assert table["ok"].tolist() == table[flags].all(axis=1).tolist()


# --- thresholds are arguments ------------------------------------------------------------


def test_thresholds_change_verdicts(centered):
    lenient = diagnose(centered, rhat_max=1.1, ess_min=30, max_divergences=100, ebfmi_min=0.2)
    assert lenient.ok is True
    assert lenient.thresholds.rhat_max == 1.1 and lenient.thresholds.ess_applied == 30
    strict = diagnose(az.load_arviz_data("non_centered_eight"), ess_min=5000)
    assert strict.failed == ("bulk ESS", "tail ESS")


def test_ess_scaling_only_when_asked():
    idata = az.from_dict({"posterior": _posterior(n_chains=2, n_draws=300)})
    assert diagnose(idata).thresholds.ess_applied == 400
    chains = diagnose(idata, ess_scale="chains").thresholds
    assert chains.ess_applied == 200 and chains.ess_min == 400
    assert diagnose(idata, ess_scale="draws").thresholds.ess_applied == 60
    msg = diagnose(idata, ess_min=10_000, ess_scale="chains").checks.loc[1, "advice"]
    assert "scaled by chains" in msg


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rhat_max": 0.99},
        {"ess_min": 0},
        {"ess_min": "many"},
        {"max_divergences": -1},
        {"ebfmi_min": -0.1},
        {"ess_scale": "always"},
        {"treedepth_max_fraction": -0.5},
    ],
)
def test_bad_thresholds_raise(non_centered, kwargs):
    with pytest.raises(SpecError):
        diagnose(non_centered, **kwargs)


# --- which parameters ----------------------------------------------------------------------


def test_deterministic_copies_are_dropped_and_var_names_select():
    rng = np.random.default_rng(1)
    b = rng.normal(size=(2, 100))
    # nutpie < 0.16 and ArviZ 0.x files also hold unconstrained copies such as s_log__
    post = {"b": b, "b_copy": b.copy(), "s": np.exp(b), "s_log__": b + 0.5}
    idata = az.from_dict({"posterior": post})
    assert diagnose(idata).var_names == ("b", "s")
    assert diagnose(idata, var_names=["b_copy"]).var_names == ("b_copy",)
    assert diagnose(idata, var_names=["~s", "~s_log__"]).var_names == ("b", "b_copy")
    with pytest.raises(SpecError, match="not in the posterior"):
        diagnose(idata, var_names=["nope"])
    with pytest.raises(SpecError, match="no posterior variable"):
        diagnose(idata, var_names=["~b", "~b_copy", "~s", "~s_log__"])


def test_one_row_per_scalar_element_with_labels():
    rng = np.random.default_rng(2)
    idata = az.from_dict(
        {
            "posterior": {
                "r(1|district)": rng.normal(size=(2, 100, 2)),
                "beta": rng.normal(size=(2, 100, 2, 2)),
            }
        },
        coords={"district": ["Haizhu", "Tianhe"], "row": ["a", "b"], "col": [0, 1]},
        dims={"r(1|district)": ["district"], "beta": ["row", "col"]},
    )
    labels = diagnose(idata).table.index.tolist()
    assert labels == [
        "r(1|district)[Haizhu]",
        "r(1|district)[Tianhe]",
        "beta[a, 0]",
        "beta[a, 1]",
        "beta[b, 0]",
        "beta[b, 1]",
    ]
    # element order follows the array (C order)
    table = diagnose(idata).table
    expected = idata.posterior["beta"].mean(("chain", "draw")).values.reshape(-1)
    np.testing.assert_allclose(table.loc[labels[2:], "mean"], expected, rtol=ARVIZ_RTOL)


def test_constant_element_is_not_judged():
    post = _posterior(constant=np.ones((4, 200)))
    dg = diagnose(az.from_dict({"posterior": post}))
    assert pd.isna(dg.table.loc["constant", "rhat_ok"])
    assert bool(dg.table.loc["constant", "ok"]) is True
    assert dg.checks.set_index("name").loc["R-hat", "passed"] is True


def test_stuck_chain_gives_infinite_rhat_and_fails():
    draws = np.random.default_rng(3).normal(size=(2, 200))
    draws[1] = 5.0  # second chain never moves
    dg = diagnose(az.from_dict({"posterior": {"mu": draws}}))
    assert "R-hat" in dg.failed


# --- sampler statistics under each sampler's names ------------------------------------------


def test_missing_sampler_stats_are_not_available():
    dg = diagnose(az.from_dict({"posterior": _posterior()}))
    checks = dg.checks.set_index("name")
    for name in ("divergences", "tree depth", "E-BFMI"):
        assert checks.loc[name, "passed"] is None
        assert np.isnan(checks.loc[name, "value"])
        assert "not available" in checks.loc[name, "message"]
    assert dg.ok is True  # unavailable checks do not fail
    assert any(m.startswith("Not checked: divergences") for m in dg.messages)
    assert "n/a" in str(dg)


def test_nutpie_style_stat_names():
    shape = (2, 200)
    rng = np.random.default_rng(4)
    flag = np.zeros(shape, dtype=bool)
    flag[0, :10] = True  # 5% of chain 0
    stats = {
        "diverging": np.zeros(shape, dtype=bool),
        "depth": np.full(shape, 3, dtype=np.uint64),
        "maxdepth_reached": flag,
        "energy": rng.normal(size=shape),
        "tuning": np.zeros(shape, dtype=bool),
    }
    dg = diagnose(az.from_dict({"posterior": _posterior(2), "sample_stats": stats}))
    tree = dg.checks.set_index("name").loc["tree depth"]
    assert tree["value"] == pytest.approx(0.05)
    assert tree["passed"] is False
    assert "10 of 400 draws hit the maximum tree depth (the sampler's flag)" in tree["message"]
    assert "max_treedepth" in tree["advice"]
    # a threshold of 5% per chain (PyMC's) lets it pass
    assert diagnose(dg.idata, treedepth_max_fraction=0.05).ok is True


def test_depth_without_flag_uses_max_treedepth():
    depth = np.full((2, 100), 4)
    depth[1, :3] = 10
    stats = {"tree_depth": depth, "diverging": np.zeros((2, 100), dtype=bool)}
    idata = az.from_dict({"posterior": _posterior(2, 100), "sample_stats": stats})
    tree = diagnose(idata).checks.set_index("name").loc["tree depth"]
    assert tree["value"] == pytest.approx(0.03) and "depth >= 10" in tree["message"]
    assert (
        diagnose(idata, max_treedepth=12).checks.set_index("name").loc["tree depth", "value"] == 0
    )


def test_tuning_draws_are_excluded_from_divergences():
    div = np.zeros((2, 100), dtype=bool)
    tuning = np.zeros((2, 100), dtype=bool)
    div[0, :5] = True
    tuning[0, :5] = True  # the divergences happened while tuning
    div[1, 50] = True
    stats = {"diverging": div, "tuning": tuning}
    dg = diagnose(az.from_dict({"posterior": _posterior(2, 100), "sample_stats": stats}))
    checks = dg.checks.set_index("name")
    assert checks.loc["divergences", "value"] == 1
    assert checks.loc["divergences", "message"].startswith("1 divergent transition after tuning")


def _assert_healthy_short_run(dg):
    checks = dg.checks.set_index("name")
    assert checks.loc["R-hat", "value"] <= SHORT_RUN_RHAT
    for name in ("divergences", "tree depth", "E-BFMI"):
        assert checks.loc[name, "passed"] is True, checks.loc[name, "message"]
    assert checks.loc["divergences", "value"] == 0
    assert "sampler's flag" in checks.loc["tree depth", "message"]


def test_real_pymc_sampler_stats(pymc_idata):
    assert "reached_max_treedepth" in pymc_idata.sample_stats.data_vars
    dg = diagnose(pymc_idata, ess_scale="chains")
    assert dg.var_names == ("Intercept", "x", "sigma")  # slope_copy is a deterministic copy
    _assert_healthy_short_run(dg)


def test_real_nutpie_sampler_stats(nutpie_idata):
    assert {"maxdepth_reached", "depth"} <= set(nutpie_idata.sample_stats.data_vars)
    dg = diagnose(nutpie_idata, ess_scale="chains")
    assert dg.var_names == ("Intercept", "x", "sigma")  # no slope_copy
    _assert_healthy_short_run(dg)


# --- inputs, result protocol, persistence ---------------------------------------------------


def test_accepts_bayesian_results_duck_typed(centered):
    info = ModelInfo(
        model="Bayes", estimator="bayes", depvar="obs", formula="obs ~ (1 | school)", nobs=8
    )
    result = BayesianResults(centered, ("mu", "tau"), info)
    dg = sustain.diagnose(result)
    assert dg.label == "Bayes: obs ~ (1 | school)"
    assert dg.terms == ("mu", "tau")
    assert dg.var_names == ("mu", "theta", "tau")

    class Anything:
        idata = centered

    assert diagnose(Anything()).ok is False


def test_rejects_non_bayesian_input():
    info = ModelInfo(model="OLS", estimator="pooled", depvar="y", formula="y ~ x", nobs=5)
    fr = FrequentistResults(pd.Series({"x": 1.0}), pd.DataFrame([[1.0]], ["x"], ["x"]), info)
    with pytest.raises(SpecError, match="FrequentistResults"):
        diagnose(fr)
    with pytest.raises(SpecError, match="no posterior"):
        diagnose(az.from_dict({"prior": {"mu": np.zeros((1, 10))}}))


def test_diagnosis_is_frozen(bad):
    with pytest.raises(dataclasses.FrozenInstanceError):
        bad.label = "other"  # type: ignore[misc]
    table = bad.table
    table.loc[:, "rhat"] = 0.0
    assert (bad.table["rhat"] > 0).all()
    assert isinstance(bad, Diagnosis)


def test_summary_text_and_html(bad):
    text = str(bad)
    assert text == bad.summary().as_text()
    assert "Posterior diagnostics" in text and "4 chains x 500 draws" in text
    for name in ("R-hat", "bulk ESS", "tail ESS", "MCSE/sd", "divergences", "tree depth", "E-BFMI"):
        assert name in text
    html = bad._repr_html_()
    assert html.startswith("<div") and "divergent transitions" in html


def test_save_writes_table_checks_and_summary(bad, tmp_path):
    paths = bad.save(tmp_path / "diag")
    assert set(paths) == {"parameters", "checks", "summary"}
    table = pd.read_csv(paths["parameters"], index_col="parameter")
    np.testing.assert_allclose(table["rhat"], bad.table["rhat"], rtol=ARVIZ_RTOL)
    assert pd.read_csv(paths["checks"])["name"].tolist() == bad.checks["name"].tolist()
    assert "19 divergent transitions" in paths["summary"].read_text(encoding="utf-8")
    assert not [p for p in os.listdir(tmp_path / "diag") if p.startswith(".")]  # no temp files


def test_element_labels_pure():
    import xarray as xr

    da = xr.DataArray(np.zeros((1, 3, 2)), dims=("chain", "draw", "k"), name="w")
    assert ck.element_labels(da) == ["w[0]", "w[1]"]


# --- integration with sustain.fit_bayes ---------------------------------------------------------


@pytest.fixture(scope="module")
def fitted_bayes():
    rng = np.random.default_rng(SEED)
    district = np.repeat(np.arange(6), 12)
    x = rng.normal(size=district.size)
    y = 1.0 + 0.5 * x + rng.normal(0, 0.7, 6)[district] + rng.normal(0, 1, district.size)
    df = pd.DataFrame({"y": y, "x": x, "district": [f"d{i}" for i in district]})
    return sustain.fit_bayes(
        df, "y ~ x + (1 | district)", draws=DRAWS, tune=TUNE, chains=CHAINS, random_seed=SEED
    )


@pytest.mark.slow
@pytest.mark.bayes
def test_diagnose_fit_bayes_result(fitted_bayes, tmp_path):
    dg = sustain.diagnose(fitted_bayes, ess_scale="chains")
    assert isinstance(dg.ok, bool)
    assert dg.label.endswith("y ~ x + (1 | district)")
    assert dg.terms == tuple(fitted_bayes.terms)
    labels = set(dg.table.index)
    assert {"x", "sigma", "sd(1|district)", "r(1|district)[d0]"} <= labels
    assert not any(v.endswith("__") for v in dg.var_names)
    checks = dg.checks.set_index("name")
    assert checks["passed"].notna().all()  # the sampler recorded every statistic
    assert checks.loc["R-hat", "value"] <= SHORT_RUN_RHAT
    assert checks.loc["divergences", "value"] == 0
    written = dg.plot(tmp_path, formats=["png"])
    assert {"rank", "forest", "energy", "ppc", "prior_ppc"} <= set(written)
    assert all(p.stat().st_size > 0 for paths in written.values() for p in paths)
