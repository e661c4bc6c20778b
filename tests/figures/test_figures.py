"""Tests of the publication figures: drawn numbers, labels, errors and PNG/PDF output."""

from __future__ import annotations

import csv
import io
import struct
import warnings

import arviz as az
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from support.hand_results import LABELS, bayes_result, cox_result, fe_result, hazard_result

import sustain
from sustain.diagnostics.headline import headline_problems
from sustain.errors import SpecError
from sustain.figures.prediction import inverse_link, predict_band
from sustain.results import BayesianResults, FrequentistResults, ModelInfo

# Curves are computed in floating point from the same formulas: only round-off differs.
NUMERIC_TOL = 1e-9
# A 4,000-draw posterior summary of a linear prediction agrees with its closed form to about
# 3 Monte Carlo standard errors (sd / sqrt(4000) ~ 1.6% of the posterior sd).
MONTE_CARLO_TOL = 0.05
# For a symmetric (normal) posterior the HDI and the equal-tailed interval coincide up to the
# sampling noise of their end points in 4,000 draws.
HDI_ETI_TOL = 0.03
PNG_DPI = 200
METRES_PER_INCH = 0.0254


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def png_dpi(path) -> float:
    """Horizontal resolution recorded in a PNG's pHYs chunk."""
    data = path.read_bytes()
    at = data.index(b"pHYs")
    per_metre = struct.unpack(">I", data[at + 4 : at + 8])[0]
    return per_metre * METRES_PER_INCH


def small_frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 200
    frame = pd.DataFrame(
        {
            "hhi": rng.uniform(0.2, 1.0, n),
            "gov_share": rng.uniform(0, 1, n),
            "tier": rng.choice(["district", "subdistrict"], n),
        }
    )
    frame["quality"] = 80 - 5 * frame["hhi"] + rng.normal(0, 2, n)
    frame["exit"] = (rng.uniform(size=n) < 0.05).astype(int)
    return frame


# ---------------------------------------------------------------- coef_plot


def test_coef_plot_draws_estimates_and_intervals():
    fe, bm = fe_result(), bayes_result()
    fig = sustain.coef_plot([fe, bm], ["hhi", "gov_share"], labels=LABELS)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "Funding concentration (HHI)",
        "Government share",
    ]
    assert ax.get_xlabel() == "Coefficient (95% interval)"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "(1) Two-way FE",
        "(2) Bayesian multilevel",
    ]
    markers = [line for line in ax.get_lines() if line.get_linestyle() == "None"]
    assert np.allclose(markers[0].get_xdata(), fe.params[["hhi", "gov_share"]], atol=NUMERIC_TOL)
    assert np.allclose(markers[1].get_xdata(), bm.params[["hhi", "gov_share"]], atol=NUMERIC_TOL)
    bars = ax.collections[0].get_segments()
    ci = fe.conf_int().loc["hhi"]
    assert np.allclose(sorted(p[0] for p in bars[0]), ci.to_numpy(), atol=NUMERIC_TOL)


def test_coef_plot_of_ratios_uses_a_log_axis():
    fig = sustain.coef_plot([hazard_result(), cox_result()], ["hhi"], exponentiate=True)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_xlabel().startswith("Hazard ratio (95% interval")
    markers = [line for line in ax.get_lines() if line.get_linestyle() == "None"]
    assert np.isclose(markers[0].get_xdata()[0], np.exp(0.91))
    assert [line.get_xdata()[0] for line in ax.get_lines() if line.get_linestyle() == "--"] == [1.0]


def test_coef_plot_errors():
    with pytest.raises(SpecError, match="no hazard/odds-ratio scale"):
        sustain.coef_plot([fe_result(), cox_result()], exponentiate=True)
    with pytest.raises(SpecError, match="terms not in any model"):
        sustain.coef_plot(fe_result(), ["nope"])
    with pytest.raises(SpecError, match="item 1 is a DataFrame"):
        sustain.coef_plot([pd.DataFrame()])


# ---------------------------------------------------------------- forest_plot


def test_forest_plot_intervals_and_failed_model_marks():
    good, bad = bayes_result(), bayes_result(fail=True)
    fig = sustain.forest_plot([good, bad], labels=LABELS)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "Funding concentration (HHI)",
        "Government share",
        "Residual SD (σ)",
        "SD(intercept | District)",
    ]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["(1) Bayesian multilevel", "(2) Bayesian multilevel †"]
    assert any("failed convergence" in t.get_text() for t in fig.texts)
    outer = ax.collections[0].get_segments()[0]
    ci = good.conf_int().loc["hhi"]
    assert np.allclose([outer[0][0], outer[1][0]], ci.to_numpy(), atol=NUMERIC_TOL)
    inner = ax.collections[1].get_segments()[0]
    half = good.conf_int(0.5).loc["hhi"]
    assert np.allclose([inner[0][0], inner[1][0]], half.to_numpy(), atol=NUMERIC_TOL)


def test_forest_plot_refuses_frequentist_results():
    with pytest.raises(SpecError, match="not Bayesian"):
        sustain.forest_plot([bayes_result(), fe_result()])
    with pytest.raises(SpecError, match="inner"):
        sustain.forest_plot(bayes_result(), inner=0.99)


# ---------------------------------------------------------------- prediction_plot


def test_linear_prediction_is_the_delta_method_band():
    frame = small_frame()
    p = pd.Series({"Intercept": 80.0, "hhi": -5.0, "gov_share": 1.0})
    cov = pd.DataFrame(
        [[1.0, -0.5, 0.1], [-0.5, 0.8, 0.0], [0.1, 0.0, 0.3]], index=p.index, columns=p.index
    )
    info = ModelInfo("OLS", "pooled", "quality", "quality ~ hhi + gov_share", len(frame))
    band = predict_band(FrequentistResults(p, cov, info), frame, "hhi", points=5)
    X = np.column_stack([np.ones(5), band.x, np.full(5, frame["gov_share"].mean())])
    se = np.sqrt(np.einsum("ij,jk,ik->i", X, cov.to_numpy(), X))
    assert np.allclose(band.fit, X @ p.to_numpy(), atol=NUMERIC_TOL)
    assert np.allclose(band.upper - band.fit, stats.norm.ppf(0.975) * se, atol=NUMERIC_TOL)
    assert band.x[0] == frame["hhi"].min() and band.x[-1] == frame["hhi"].max()


def test_hazard_prediction_maps_the_interval_through_the_link():
    frame = small_frame()
    p = pd.Series({"Intercept": -3.0, "hhi": 1.2})
    cov = pd.DataFrame(np.diag([0.09, 0.16]), index=p.index, columns=p.index)
    for link in ("cloglog", "logit"):
        info = ModelInfo("Hazard", "hazard", "exit", "exit ~ hhi", len(frame), link=link)
        band = predict_band(FrequentistResults(p, cov, info), frame, "hhi", points=4)
        X = np.column_stack([np.ones(4), band.x])
        fit = X @ p.to_numpy()
        low = fit - stats.norm.ppf(0.975) * np.sqrt(np.einsum("ij,jk,ik->i", X, cov, X))
        assert np.allclose(band.fit, inverse_link(fit, link), atol=NUMERIC_TOL)
        assert np.allclose(band.lower, inverse_link(low, link), atol=NUMERIC_TOL)
        assert np.all((band.lower > 0) & (band.upper < 1) & (band.lower < band.fit))
    assert np.isclose(inverse_link(np.array([0.0]), "cloglog")[0], 1 - np.exp(-1))


def test_fixed_effects_prediction_is_centred_on_the_mean_outcome():
    frame = small_frame()
    p = pd.Series({"hhi": -5.0})
    cov = pd.DataFrame([[0.25]], index=["hhi"], columns=["hhi"])
    info = ModelInfo("FE", "within", "quality", "quality ~ hhi", len(frame), effects=("g",))
    band = predict_band(FrequentistResults(p, cov, info), frame, "hhi", points=3)
    expected = frame["quality"].mean() - 5.0 * (band.x - frame["hhi"].mean())
    assert np.allclose(band.fit, expected, atol=NUMERIC_TOL)


def test_bayesian_prediction_summarises_posterior_draws():
    frame = small_frame()
    rng = np.random.default_rng(11)
    post = {
        "Intercept": rng.normal(80, 0.5, (4, 1000)),
        "hhi": rng.normal(-5, 0.8, (4, 1000)),
        "sigma": np.abs(rng.normal(2, 0.1, (4, 1000))),
    }
    info = ModelInfo("Bayes", "bayes", "quality", "quality ~ hhi + (1 | tier)", len(frame))
    result = BayesianResults(az.from_dict({"posterior": post}), tuple(post), info)
    band = predict_band(result, frame, "hhi", points=3)
    draws = post["Intercept"].reshape(-1)[:, None] + post["hhi"].reshape(-1)[:, None] * band.x
    assert np.allclose(band.fit, draws.mean(axis=0), atol=NUMERIC_TOL)
    assert np.allclose(band.lower, np.quantile(draws, 0.025, axis=0), atol=NUMERIC_TOL)
    closed_sd = np.sqrt(0.5**2 + (0.8 * band.x) ** 2)
    assert np.allclose((band.upper - band.lower) / (2 * 1.96 * closed_sd), 1, atol=MONTE_CARLO_TOL)
    hdi = predict_band(result, frame, "hhi", points=3, interval="hdi")
    expected = np.array([az.hdi(draws[:, j], prob=0.95) for j in range(3)])
    assert np.allclose(np.c_[hdi.lower, hdi.upper], expected, atol=NUMERIC_TOL)
    width_ratio = (hdi.upper - hdi.lower) / (band.upper - band.lower)
    assert np.allclose(width_ratio, 1, atol=HDI_ETI_TOL)


def test_prediction_plot_labels_and_errors():
    frame = small_frame()
    p = pd.Series({"Intercept": 80.0, "hhi": -5.0})
    cov = pd.DataFrame(np.diag([1.0, 0.5]), index=p.index, columns=p.index)
    linear = FrequentistResults(p, cov, ModelInfo("OLS", "pooled", "quality", "quality ~ hhi", 9))
    fig = sustain.prediction_plot(linear, frame)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Funding concentration (HHI, 0–1)"
    assert ax.get_ylabel() == "Predicted service quality (evaluation score, 0–100)"
    hazard = FrequentistResults(
        p, cov, ModelInfo("Hazard", "hazard", "exit", "exit ~ hhi", 9, link="cloglog")
    )
    with pytest.raises(SpecError, match="different quantities"):
        sustain.prediction_plot([linear, hazard], frame)
    with pytest.raises(SpecError, match="'gov_share' is not a variable"):
        sustain.prediction_plot(linear, frame, x="gov_share")


# ---------------------------------------------------------------- km_plot


def test_km_plot_from_a_result_and_from_the_panel(example_panel):
    km = sustain.kaplan_meier(example_panel, by="main_tier")
    fig = sustain.km_plot(km)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Agency age (years)"
    assert ax.get_ylabel() == "Share of agencies still operating"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == km.groups
    first = km.table[km.table["group"] == km.groups[0]]
    assert np.allclose(ax.get_lines()[0].get_ydata()[1:], first["survival"], atol=NUMERIC_TOL)
    assert ax.get_lines()[0].get_ydata()[0] == 1.0
    from_panel = sustain.km_plot(example_panel, by="main_tier").axes[0]
    assert np.allclose(from_panel.get_lines()[0].get_ydata(), ax.get_lines()[0].get_ydata())
    with pytest.raises(SpecError, match="refit kaplan_meier"):
        sustain.km_plot(km, by="district")
    with pytest.raises(SpecError, match="kaplan_meier result or a panel"):
        sustain.km_plot(fe_result())


# ---------------------------------------------------------------- saving


def test_figures_are_saved_as_png_and_reproducible_pdf(tmp_path):
    sustain.coef_plot(fe_result(), path=tmp_path / "coef.png")
    assert {p.name for p in tmp_path.iterdir()} == {"coef.png", "coef.pdf"}
    assert round(png_dpi(tmp_path / "coef.png")) == PNG_DPI
    first = (tmp_path / "coef.pdf").read_bytes()
    sustain.coef_plot(fe_result(), path=tmp_path / "coef")
    assert (tmp_path / "coef.pdf").read_bytes() == first
    assert b"CreationDate" not in first
    sustain.forest_plot(bayes_result(), path=tmp_path / "forest", formats=["pdf"])
    assert (tmp_path / "forest.pdf").exists() and not (tmp_path / "forest.png").exists()


def test_figures_of_real_fits(example_panel, tmp_path):
    fe = sustain.fit_fe(
        example_panel,
        "quality ~ hhi + gov_share",
        effects=("agency_id", "year"),
        cluster="agency_id",
    )
    hz = sustain.fit_hazard(
        example_panel, "exit ~ hhi + log_revenue", link="cloglog", duration="age"
    )
    fig = sustain.prediction_plot(hz, example_panel, "hhi", path=tmp_path / "hazard")
    line = fig.axes[0].get_lines()[0].get_ydata()
    assert np.all((line > 0) & (line < 0.2)) and np.all(np.diff(line) > 0) == (hz.params["hhi"] > 0)
    assert fig.axes[0].get_ylabel() == "Annual exit hazard"
    fig = sustain.prediction_plot(fe, example_panel, "hhi")
    quality = example_panel.loc[example_panel[["hhi", "gov_share"]].notna().all(axis=1), "quality"]
    assert quality.min() < fig.axes[0].get_lines()[0].get_ydata().mean() < quality.max()
    sustain.coef_plot([fe, hz], path=tmp_path / "coef")
    assert (tmp_path / "hazard.png").exists() and (tmp_path / "coef.pdf").exists()


@pytest.mark.slow
@pytest.mark.bayes
def test_real_bayesian_fit_in_table_and_figures(example_panel, tmp_path):
    districts = sorted(example_panel["district"].unique())[:6]
    sub = example_panel[example_panel["district"].isin(districts)]
    bm = sustain.fit_bayes(
        sub,
        "quality ~ hhi + (1 | district)",
        draws=250,
        tune=250,
        chains=2,
        random_seed=3,
        prior_predictive=False,
        posterior_predictive=False,
        log_likelihood=False,
    )
    failed = headline_problems(bm.info.stats)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = sustain.regression_table(bm, "csv")
    assert any("failed convergence" in str(w.message) for w in caught) == bool(failed)
    rows = {r[0]: r[1:] for r in csv.reader(io.StringIO(table)) if r and r[0]}
    assert abs(float(rows["Funding concentration (HHI)"][0]) - bm.params["hhi"]) < 0.0005
    assert rows["Districts"] == ["6"] and rows["Max R-hat"] == [f"{bm.info.stats['rhat_max']:.3f}"]
    fig = sustain.forest_plot(bm, path=tmp_path / "forest")
    ticks = [t.get_text().rstrip(" †") for t in fig.axes[0].get_yticklabels()]
    assert ticks[0] == "Funding concentration (HHI)" and "SD(intercept | District)" in ticks
    band = predict_band(bm, sub, "hhi", points=5)
    draws = bm.draws("Intercept")[:, None] + bm.draws("hhi")[:, None] * band.x
    assert np.allclose(band.fit, draws.mean(axis=0), atol=NUMERIC_TOL)
    sustain.prediction_plot(bm, sub, "hhi", path=tmp_path / "pred")
    assert (tmp_path / "forest.png").exists() and (tmp_path / "pred.pdf").exists()
