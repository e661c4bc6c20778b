"""Tests of the diagnostic plots: right elements on the figure, valid PNG/PDF files, no leaks.

Data: ArviZ's bundled eight-schools posteriors, which carry every group a plot needs
(posterior, sample_stats with energy, prior and posterior predictive, observed data).
"""

from __future__ import annotations

import arviz as az
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr

import sustain
from sustain.diagnostics import (
    diagnose,
    energy_plot,
    posterior_forest_plot,
    ppc_plot,
    trace_plot,
)
from sustain.diagnostics.plots import (
    default_plot_names,
    plot_dataset,
    save_figure,
    worst_elements,
)
from sustain.errors import SpecError

matplotlib.use("Agg")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PDF_MAGIC = b"%PDF"
# A legible figure of one panel at 150 dpi is tens of kB; anything under this is blank or broken.
MIN_FILE_BYTES = 5_000


@pytest.fixture(scope="module")
def centered():
    return az.load_arviz_data("centered_eight")


@pytest.fixture(autouse=True)
def _no_figure_leaks():
    before = set(plt.get_fignums())
    yield
    leaked = set(plt.get_fignums()) - before
    plt.close("all")
    assert not leaked, "a test left figures open"


def _assert_image_files(paths):
    assert [p.suffix for p in paths] == [".png", ".pdf"]
    for p in paths:
        data = p.read_bytes()
        assert len(data) > MIN_FILE_BYTES, p
        assert data.startswith(PNG_MAGIC if p.suffix == ".png" else PDF_MAGIC), p


def _saved(stem):
    return [stem.parent / f"{stem.name}.png", stem.parent / f"{stem.name}.pdf"]


def test_rank_plot_elements_and_files(centered, tmp_path):
    fig = trace_plot(centered, ["mu", "tau"], path=tmp_path / "rank")
    assert fig.get_suptitle() == "Rank plots by chain"
    assert [ax.get_title() for ax in fig.axes] == ["mu", "mu", "tau", "tau"]
    assert fig.axes[0].get_ylabel() == "density"
    assert fig.axes[2].get_xlabel() == "value"
    assert fig.axes[3].get_xlabel() == "Fractional rank (all chains)"
    assert fig.number not in plt.get_fignums()  # saved figures are closed
    _assert_image_files(_saved(tmp_path / "rank"))


def test_trace_kind_and_single_elements(centered):
    fig = trace_plot(centered, ["theta[Choate]", "tau"], kind="trace")
    assert fig.get_suptitle() == "Trace plots"
    assert fig.axes[0].get_title() == "theta[Choate]"
    assert fig.axes[-1].get_xlabel() == "iteration"
    # one line per chain in the trace panel of the element
    assert len(fig.axes[1].get_lines()) >= centered.posterior.sizes["chain"]
    plt.close(fig)
    with pytest.raises(SpecError, match="kind="):
        trace_plot(centered, ["mu"], kind="wiggle")
    with pytest.raises(SpecError, match="neither a posterior variable"):
        trace_plot(centered, ["theta[Nowhere]"])


def test_energy_plot(centered, tmp_path):
    fig = energy_plot(centered, path=tmp_path / "energy.png")
    bfmi, ax = fig.axes
    assert fig.get_suptitle() == "Energy: marginal vs transition"
    assert ax.get_xlabel() == "energy (centred)"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["Marginal energy", "Energy transition"]
    assert bfmi.get_title() == "E-BFMI by chain" and bfmi.get_xlabel() == "E-BFMI"
    # one point per chain, at the chain's E-BFMI
    points = bfmi.collections[0].get_offsets()
    expected = az.bfmi(centered)["energy"].values
    np.testing.assert_allclose(sorted(np.asarray(points)[:, 0]), sorted(expected))
    _assert_image_files(_saved(tmp_path / "energy"))
    no_energy = az.from_dict({"posterior": {"mu": np.zeros((2, 10))}})
    with pytest.raises(SpecError, match="energy"):
        energy_plot(no_energy)


def test_forest_plot(centered, tmp_path):
    fig = posterior_forest_plot(centered, path=tmp_path / "forest")
    assert fig.get_suptitle() == "Posterior intervals by chain"
    assert [ax.get_title() for ax in fig.axes] == ["", "95% HDI by chain", "bulk ESS", "R-hat"]
    assert fig.axes[1].get_xlabel() == "parameter value"
    labels = [t.get_text() for t in fig.axes[0].texts]  # ArviZ 1 writes labels in a column
    assert {"mu", "tau", "theta", "Choate"} <= set(labels)
    # one point per parameter in the ESS and R-hat columns (1 + 8 + 1 elements)
    assert [
        len(np.concatenate([c.get_offsets() for c in ax.collections])) for ax in fig.axes[2:]
    ] == [10, 10]
    _assert_image_files(_saved(tmp_path / "forest"))
    with pytest.raises(SpecError, match="hdi_prob"):
        posterior_forest_plot(centered, hdi_prob=1.5)


@pytest.mark.parametrize(
    ("group", "kind", "title", "ylabel"),
    [
        ("posterior", "kde", "Posterior predictive check", "density"),
        ("posterior", "cumulative", "Posterior predictive check", "cumulative probability"),
        ("posterior", "scatter", "Posterior predictive check", ""),
        ("posterior", "mean", "Posterior predictive check", "density"),
        ("prior", "kde", "Prior predictive check", "density"),
    ],
)
def test_ppc_plot(centered, tmp_path, group, kind, title, ylabel):
    fig = sustain.ppc_plot(
        centered, group=group, kind=kind, num_pp_samples=30, path=tmp_path / "ppc"
    )
    ax = fig.axes[0]
    assert fig.get_suptitle() == title
    assert ax.get_ylabel() == ylabel
    assert ax.get_xlabel() == ("mean of obs" if kind == "mean" else "obs")
    if kind in ("kde", "cumulative"):
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert "Observed" in legend
        assert any("predictive" in t for t in legend)
    _assert_image_files(_saved(tmp_path / "ppc"))


def test_ppc_plot_needs_predictive_and_observed_draws(centered):
    bare = az.from_dict({"posterior": {"mu": np.zeros((2, 10))}})
    with pytest.raises(SpecError, match="no posterior_predictive draws"):
        ppc_plot(bare)
    no_observed = xr.DataTree.from_dict(
        {
            "posterior": centered.posterior.to_dataset(),
            "posterior_predictive": centered.posterior_predictive.to_dataset(),
        }
    )
    with pytest.raises(SpecError, match="observed_data is missing"):
        ppc_plot(no_observed)
    with pytest.raises(SpecError, match="group="):
        ppc_plot(centered, group="likelihood")
    with pytest.raises(SpecError, match="kind="):
        ppc_plot(centered, kind="violin")


def test_diagnosis_plot_saves_everything(centered, tmp_path):
    written = diagnose(centered).plot(tmp_path)
    assert set(written) == {"rank", "forest", "energy", "ppc", "prior_ppc"}
    for paths in written.values():
        _assert_image_files(paths)


def test_diagnosis_plot_skips_what_is_missing(tmp_path):
    rng = np.random.default_rng(5)
    idata = az.from_dict({"posterior": {"mu": rng.normal(size=(2, 100))}})
    written = diagnose(idata).plot(tmp_path, formats=["png"])
    assert set(written) == {"rank", "forest"}
    assert [p.name for p in written["rank"]] == ["rank.png"]


def test_failing_elements_join_the_rank_plot(tmp_path):
    rng = np.random.default_rng(6)
    big = rng.normal(size=(2, 2000, 50))  # iid draws: long enough that only r[7] fails
    big[1, :, 7] += 5.0  # element 7: chains disagree
    idata = az.from_dict({"posterior": {"mu": rng.normal(size=(2, 2000)), "r": big}})
    dg = diagnose(idata)
    assert "R-hat" in dg.failed
    assert dg.table.index[~dg.table["ok"]].tolist() == ["r[7]"]
    assert default_plot_names(idata, dg.terms) == ["mu"]  # 50 elements: left out by default
    assert worst_elements(dg, ["mu"]) == ["r[7]"]
    fig = trace_plot(idata, ["mu", "r[7]"])
    assert [ax.get_title() for ax in fig.axes[::2]] == ["mu", "r[7]"]
    plt.close(fig)
    assert set(dg.plot(tmp_path, formats=["png"])) == {"rank", "forest"}


def test_pdf_files_are_reproducible(centered, tmp_path):
    fig = energy_plot(centered)
    first = save_figure(fig, tmp_path / "a")
    second = save_figure(fig, tmp_path / "b")
    plt.close(fig)
    assert b"CreationDate" not in first[1].read_bytes()
    assert first[1].read_bytes() == second[1].read_bytes()
    with pytest.raises(SpecError, match="image format"):
        save_figure(fig, tmp_path / "c", formats=["svg"])  # type: ignore[list-item]


def test_comparison_plot(tmp_path):
    c = sustain.compare(
        {
            "c": az.load_arviz_data("centered_eight"),
            "nc": az.load_arviz_data("non_centered_eight"),
        }
    )
    fig = c.plot(tmp_path / "compare")
    assert fig.get_suptitle() == "Model comparison (PSIS-LOO)"
    assert fig.axes[0].get_xlabel() == "ELPD (log score)"
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert set(labels) >= {"c", "nc"}
    _assert_image_files(_saved(tmp_path / "compare"))


def test_plot_dataset_selects_elements(centered):
    ds = plot_dataset(centered.posterior.to_dataset(), ["theta[Deerfield]"])
    expected = centered.posterior["theta"].sel(school="Deerfield").values
    np.testing.assert_array_equal(ds["theta[Deerfield]"].values, expected)


def test_binary_outcome_defaults_to_the_mean_check_even_with_constant_draws(tmp_path):
    """A bernoulli outcome (exit) gets the event-rate check; all-zero simulated data sets
    (common for rare events) must not break the plot, as ArviZ's density plot does."""
    import arviz as az

    from sustain.diagnostics.ppc import default_ppc_kind, ppc_plot

    rng = np.random.default_rng(3)
    draws = (rng.random((2, 50, 40)) < 0.05).astype(int)
    draws[0, :5] = 0  # several simulated data sets without a single event
    idata = az.from_dict(
        {
            "posterior": {"Intercept": rng.normal(size=(2, 50))},
            "posterior_predictive": {"exit": draws},
            "prior_predictive": {"exit": np.zeros((1, 50, 40), dtype=int)},
            "observed_data": {"exit": (rng.random(40) < 0.05).astype(int)},
        }
    )
    assert default_ppc_kind(idata) == "mean"
    for group in ("posterior", "prior"):
        fig = ppc_plot(idata, group=group, path=tmp_path / group, formats=["png"])
        assert (tmp_path / f"{group}.png").stat().st_size > 1000
        assert fig.axes[0].get_xlabel().startswith("mean of")
