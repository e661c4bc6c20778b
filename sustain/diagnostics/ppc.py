"""Prior and posterior predictive checks: simulated data sets against the observed ones.

Densities, empirical CDFs, dot plots (``arviz_plots.plot_ppc_dist``) or, for 0/1 outcomes, the
distribution of the simulated mean against the observed mean with its Bayesian p-value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import xarray as xr

from sustain._typing import PathLikeStr
from sustain.diagnostics.checks import group as group_dataset
from sustain.diagnostics.checks import to_inference_data
from sustain.diagnostics.plotting import figure_of, finish_figure, house_style, inches, target
from sustain.errors import SpecError
from sustain.figures.style import ImageFormat
from sustain.options import PpcKind, PredictiveGroup, check_choice

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# Colours of the predictive checks: simulated data sets and the observed data.
PREDICTIVE_COLOUR = "C0"
OBSERVED_COLOUR = "black"
# How each predictive-check kind is drawn by arviz_plots.plot_ppc_dist.
PPC_DIST_KIND = {"kde": "kde", "cumulative": "ecdf", "scatter": "dot"}


def ppc_plot(
    result: Any,
    group: PredictiveGroup = "posterior",
    kind: PpcKind | None = None,
    var_names: Sequence[str] | None = None,
    num_pp_samples: int = 100,
    random_seed: int = 0,
    path: PathLikeStr | None = None,
    formats: Sequence[ImageFormat] = ("png", "pdf"),
) -> Figure:
    """Prior or posterior predictive check: simulated data sets against the observed one.

    Parameters
    ----------
    result : Bayesian result or xarray.DataTree
        Needs a ``posterior_predictive`` (or ``prior_predictive``) group and ``observed_data``.
    group : {"posterior", "prior"}
    kind : {"kde", "cumulative", "scatter", "mean"}, optional
        Densities, empirical CDFs, a dot plot of the simulated values, or the distribution of
        the simulated mean against the observed mean (best for a bernoulli outcome such as
        ``exit``). Default: ``"mean"`` when every observed variable is 0/1 (a density of
        binary draws says nothing, and is undefined when a simulated data set is constant),
        else ``"kde"``.
    var_names : sequence of str, optional
        Observed variables to plot; default all.
    num_pp_samples : int
        Simulated data sets drawn (randomly, with ``random_seed``); the mean check uses all.
    random_seed : int
        Seed of that subsample.
    path : path, optional
        Save as ``<path>.png`` and ``<path>.pdf`` and close the figure.
    formats : sequence of {"png", "pdf"}

    Examples
    --------
    >>> import arviz as az, matplotlib.pyplot as plt
    >>> fig = ppc_plot(az.load_arviz_data("non_centered_eight"), num_pp_samples=20)
    >>> fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()
    ('obs', 'density')
    >>> plt.close(fig)
    """
    check_choice("group", group, PredictiveGroup)
    idata = to_inference_data(result)
    kind = kind or default_ppc_kind(idata, var_names)
    check_choice("kind", kind, PpcKind)
    _require_predictive(idata, group, kind)
    predictive = f"{group}_predictive"
    observed = cast(xr.Dataset, group_dataset(idata, "observed_data"))
    simulated = cast(xr.Dataset, group_dataset(idata, predictive))
    names = list(var_names) if var_names else [str(v) for v in simulated.data_vars]
    missing = [n for n in names if n not in simulated or n not in observed]
    if missing:
        raise SpecError(f"ppc_plot: {missing} are not in both {predictive} and observed_data")
    with house_style():
        if kind == "mean":
            fig, axes = _mean_check(simulated[names], observed[names], predictive)
        else:
            draws = _subsample(simulated[names], num_pp_samples, random_seed)
            fig, axes = _distribution_check(draws, observed[names], predictive, kind)
        ylabel = {"kde": "density", "cumulative": "cumulative probability", "mean": "density"}
        for name, ax in zip(names, axes, strict=True):
            ax.set_title("")
            ax.set_ylabel(ylabel.get(kind, ""))
            ax.set_xlabel(f"mean of {name}" if kind == "mean" else name)
        fig.set_layout_engine("constrained")
    return finish_figure(fig, f"{group.capitalize()} predictive check", path, formats)


def _subsample(simulated: xr.Dataset, n: int, seed: int) -> xr.Dataset:
    """``n`` simulated data sets chosen at random (all of them when there are fewer)."""
    stacked = simulated.stack(_sample=("chain", "draw"))
    size = stacked.sizes["_sample"]
    pick = np.sort(np.random.default_rng(seed).choice(size, size=min(n, size), replace=False))
    picked = stacked.isel(_sample=pick).drop_vars(["_sample", "chain", "draw"])
    return picked.rename({"_sample": "draw"}).expand_dims(chain=1).transpose("chain", "draw", ...)


def _distribution_check(
    draws: xr.Dataset, observed: xr.Dataset, predictive: str, kind: str
) -> tuple[Figure, list[Axes]]:
    import arviz as az
    from matplotlib.lines import Line2D

    n = int(draws.sizes["draw"])
    visuals: dict[str, Any] = {
        "predictive_dist": {"color": PREDICTIVE_COLOUR},
        "observed_dist": {"color": OBSERVED_COLOUR},  # shown in prior checks too
    }
    if kind == "cumulative":
        visuals["remove_axis"] = False  # keep the probability scale
    pc = az.plot_ppc_dist(
        xr.DataTree.from_dict({predictive: draws, "observed_data": observed}),
        group=predictive,
        kind=PPC_DIST_KIND[kind],
        num_samples=n,
        backend="matplotlib",
        visuals=visuals,
        figure_kwargs=inches(3.5 + 3.5 * min(len(draws.data_vars), 2), 3.6),
    )
    axes = [target(pc, str(name)) for name in draws.data_vars]
    label = predictive.replace("_", " ").capitalize()
    dots = kind == "scatter"
    handles = [
        Line2D([], [], color=colour, alpha=alpha, marker="o" if dots else "None")
        for colour, alpha in ((PREDICTIVE_COLOUR, 0.5), (OBSERVED_COLOUR, 1.0))
    ]
    for handle in handles:
        handle.set_linestyle("" if dots else "-")
    for ax in axes:
        ax.legend(handles, [f"{label} ({n} data sets)", "Observed"], loc="best", frameon=False)
    return figure_of(pc), axes


def _mean_check(
    simulated: xr.Dataset, observed: xr.Dataset, predictive: str
) -> tuple[Figure, list[Axes]]:
    import arviz as az
    from matplotlib.lines import Line2D

    sample = [d for d in simulated.dims if d not in ("chain", "draw")]
    means = simulated.mean(sample).to_array()
    constant = bool(np.nanmax(means.values) == np.nanmin(means.values))
    pc = az.plot_ppc_tstat(
        xr.DataTree.from_dict({predictive: simulated, "observed_data": observed}),
        group=predictive,
        t_stat="mean",
        kind="hist",
        # all simulated means equal (e.g. no event in any simulated data set): ArviZ's bin rule
        # breaks down (zero width); fixed bins still draw the single bar
        stats={"dist": {"bins": 20}} if constant else None,
        visuals={"observed_tstat": {"color": "black"}},  # shown in prior checks too
        backend="matplotlib",
        figure_kwargs=inches(3.5 + 3.5 * min(len(simulated.data_vars), 2), 3.6),
    )
    axes = [target(pc, str(name)) for name in simulated.data_vars]
    n = int(simulated.sizes["chain"] * simulated.sizes["draw"])
    handles = [Line2D([], [], color="C0"), Line2D([], [], color="black", marker="o", ls="")]
    for name, ax in zip(simulated.data_vars, axes, strict=True):
        p = bayesian_p_value(simulated[name], observed[name])
        labels = [f"Simulated means ({n} data sets)", f"Observed mean (p = {p:.2f})"]
        ax.legend(handles, labels, loc="best", frameon=False)
    return figure_of(pc), axes


def bayesian_p_value(simulated: xr.DataArray, observed: xr.DataArray) -> float:
    """Posterior predictive p-value of the mean: the share of simulated means >= the observed.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> sim = xr.DataArray(np.arange(8.0).reshape(1, 4, 2), dims=("chain", "draw", "obs"))
    >>> bayesian_p_value(sim, xr.DataArray([2.0, 3.0], dims="obs"))  # means 0.5, 2.5, 4.5, 6.5
    0.75
    """
    means = simulated.mean([d for d in simulated.dims if d not in ("chain", "draw")])
    return float((np.asarray(means) >= float(observed.mean())).mean())


def _require_predictive(idata: Any, group: str, kind: str) -> None:
    name = f"{group}_predictive"
    if name not in idata.children:
        raise SpecError(
            f"no {name} draws in the result; refit with {group} predictive sampling switched on "
            f"(or add them with pymc.sample_{group}_predictive)"
        )
    if "observed_data" not in idata.children:
        raise SpecError(f"ppc_plot compares {name} draws with the data: observed_data is missing")


def default_ppc_kind(idata: Any, var_names: Sequence[str] | None = None) -> PpcKind:
    """``"mean"`` when every observed variable is binary (0/1), else ``"kde"``.

    Examples
    --------
    >>> import arviz as az
    >>> default_ppc_kind(az.load_arviz_data("non_centered_eight"))
    'kde'
    """
    observed = group_dataset(idata, "observed_data")
    if observed is None:
        return "kde"
    names = list(var_names) if var_names else list(observed.data_vars)
    values = [np.asarray(observed[name]).ravel() for name in names if name in observed]
    binary = bool(values) and all(np.isin(v[~np.isnan(v)], (0, 1)).all() for v in values)
    return "mean" if binary else "kde"
