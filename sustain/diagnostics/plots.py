"""Diagnostic plots: trace/rank, energy, forest by chain, and prior/posterior predictive checks.

Each function takes a Bayesian result (anything with ``.idata``) or an ArviZ ``DataTree``,
draws with ArviZ's plotting library (``arviz_plots``, matplotlib backend) in one house style,
and returns the matplotlib ``Figure``. With ``path=`` the figure is also written as PNG and PDF
(atomically, without timestamps in the files) and closed, so that scripts do not accumulate
open figures.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, cast

import numpy as np
import xarray as xr

from sustain._typing import PathLikeStr
from sustain.diagnostics.checks import (
    choice,
    element_labels,
    find_stat,
    to_inference_data,
)
from sustain.diagnostics.checks import group as group_dataset
from sustain.errors import SpecError
from sustain.options import PpcKind, PredictiveGroup

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from sustain.diagnostics.report import Diagnosis

ImageFormat: TypeAlias = Literal["png", "pdf"]
TraceKind: TypeAlias = Literal["rank", "trace"]

# One look for every diagnostic figure.
STYLE: dict[str, Any] = {
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "figure.titlesize": 12,
    "figure.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "pdf.fonttype": 42,  # embed TrueType fonts: text stays editable in the PDF
}
# Variables with more elements than this are left out of default plots (e.g. agency effects).
MAX_DEFAULT_ELEMENTS = 30
# Worst failing elements added to the trace plot by Diagnosis.plot.
MAX_FAILING_TRACES = 6
# Colours of the predictive checks: simulated data sets and the observed data.
PREDICTIVE_COLOUR = "C0"
OBSERVED_COLOUR = "black"
# How each predictive-check kind is drawn by arviz_plots.plot_ppc_dist.
PPC_DIST_KIND = {"kde": "kde", "cumulative": "ecdf", "scatter": "dot"}
# arviz_plots' advice for binary outcomes and prior checks: sustain shows the data on purpose
# and draws the event-rate check for 0/1 outcomes, so these are not news to the user.
ARVIZ_PLOT_ADVICE = (".*look binary.*", ".*look discrete.*", ".*always uses the `observed_data`.*")


@contextlib.contextmanager
def house_style() -> Iterator[None]:
    """Apply the diagnostic plot style (and quiet arviz_plots' generic plot advice).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> with house_style():
    ...     plt.rcParams["pdf.fonttype"]
    42
    """
    import matplotlib.pyplot as plt

    with plt.rc_context(cast(Any, STYLE)), warnings.catch_warnings():
        for message in ARVIZ_PLOT_ADVICE:
            warnings.filterwarnings("ignore", message=message, category=UserWarning)
        yield


def save_figure(
    fig: Figure, path: PathLikeStr, formats: Sequence[ImageFormat] = ("png", "pdf")
) -> list[Path]:
    """Write ``fig`` as PNG and/or PDF in the diagnostic style (see :func:`sustain.figures.save_figure`).

    Examples
    --------
    >>> import tempfile, pathlib, matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> [p.name for p in save_figure(fig, pathlib.Path(tempfile.mkdtemp()) / "energy.png")]
    ['energy.png', 'energy.pdf']
    >>> plt.close(fig)
    """
    from sustain.figures.style import save_figure as save_styled

    return save_styled(fig, path, formats, style=house_style)


def finish_figure(
    fig: Figure, title: str, path: PathLikeStr | None, formats: Sequence[ImageFormat]
) -> Figure:
    """Give ``fig`` its title; with ``path``, save it (PNG/PDF) and close it.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig, _ = plt.subplots()
    >>> finish_figure(fig, "Energy", None, ["png"]).get_suptitle()
    'Energy'
    >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    fig.suptitle(title)
    # lay the figure out once and freeze it: a constrained layout is recomputed on every save
    # and moves ArviZ 1's figures a little the first time, so the first file saved would
    # differ from later ones
    with house_style():
        fig.draw_without_rendering()
    fig.set_layout_engine("none")
    if path is not None:
        save_figure(fig, path, formats)
        plt.close(fig)
    return fig


def figure_of(plot_collection: Any) -> Figure:
    """The matplotlib figure an ``arviz_plots`` function drew (its ``PlotCollection``).

    Examples
    --------
    >>> import arviz as az, matplotlib.pyplot as plt
    >>> pc = az.plot_energy(az.load_arviz_data("centered_eight"), backend="matplotlib")
    >>> type(figure_of(pc)).__name__
    'Figure'
    >>> plt.close(figure_of(pc))
    """
    return cast("Figure", plot_collection.viz["figure"].item())


def _target(plot_collection: Any, var: str, **sel: str) -> Axes:
    """The axes on which ``arviz_plots`` drew ``var`` (in the column ``sel``, if any)."""
    plots = plot_collection.viz["plot"][var]
    return cast("Axes", (plots.sel(sel) if sel else plots).item())


def _inches(width: float, height: float) -> dict[str, Any]:
    return {"figsize": (width, height), "figsize_units": "inches"}


def _n_elements(da: xr.DataArray) -> int:
    return int(np.prod([da.sizes[d] for d in da.dims if d not in ("chain", "draw")], dtype=int))


def default_plot_names(idata: Any, terms: Sequence[str] | None = None) -> list[str]:
    """Variables plotted when none are named: the model's terms, or small posterior variables.

    Variables with more than ``MAX_DEFAULT_ELEMENTS`` elements (agency effects, say) are left
    out so the figures stay legible; name them explicitly to plot them.

    Examples
    --------
    >>> import arviz as az
    >>> default_plot_names(az.load_arviz_data("centered_eight"))
    ['mu', 'theta', 'tau']
    """
    post = idata["posterior"]
    names = [t for t in (terms or []) if t in post] or [str(v) for v in post.data_vars]
    small = [n for n in names if _n_elements(post[n]) <= MAX_DEFAULT_ELEMENTS]
    return small or names[:1]


def plot_dataset(posterior: xr.Dataset, names: Sequence[str]) -> xr.Dataset:
    """Posterior variables and single elements (``theta[Choate]``) gathered for plotting.

    Examples
    --------
    >>> import arviz as az
    >>> post = az.load_arviz_data("centered_eight").posterior.to_dataset()
    >>> list(plot_dataset(post, ["mu", "theta[Choate]"]).data_vars)
    ['mu', 'theta[Choate]']
    """
    out: dict[str, xr.DataArray] = {}
    for name in names:
        if name in posterior:
            out[name] = posterior[name]
            continue
        var = name.split("[", 1)[0]
        if var not in posterior or name not in (labels := element_labels(posterior[var])):
            raise SpecError(f"{name!r} is neither a posterior variable nor one of its elements")
        da = posterior[var]
        flat = da.stack(_element=[d for d in da.dims if d not in ("chain", "draw")])
        out[name] = flat.isel(_element=labels.index(name)).drop_vars(
            [c for c in flat.coords if c not in ("chain", "draw")]
        )
    return xr.Dataset(out)


def trace_plot(
    result: Any,
    var_names: Sequence[str] | None = None,
    kind: TraceKind = "rank",
    path: PathLikeStr | None = None,
    formats: Sequence[ImageFormat] = ("png", "pdf"),
) -> Figure:
    """Per-chain densities with rank plots (``kind="rank"``) or trace lines (``"trace"``).

    Parameters
    ----------
    result : Bayesian result or xarray.DataTree
    var_names : sequence of str, optional
        Posterior variables or single elements such as ``"r(1|district)[Haizhu]"``; default:
        the model's terms (see :func:`default_plot_names`).
    kind : {"rank", "trace"}
        Right-hand panels: each chain's fractional ranks (among all chains' draws) as the
        difference between their empirical CDF and the uniform one, with a simultaneous 99%
        envelope (``arviz_plots.plot_rank_dist``; chains that mix stay inside it), or draws
        against iteration (``plot_trace_dist``). Divergent transitions are marked when the
        sampler recorded them.
    path : path, optional
        Save as ``<path>.png`` and ``<path>.pdf`` and close the figure.
    formats : sequence of {"png", "pdf"}

    Examples
    --------
    >>> import arviz as az, matplotlib.pyplot as plt
    >>> fig = trace_plot(az.load_arviz_data("non_centered_eight"), ["mu", "tau"])
    >>> [ax.get_title() for ax in fig.axes], fig.axes[3].get_xlabel()
    (['mu', 'mu', 'tau', 'tau'], 'Fractional rank (all chains)')
    >>> plt.close(fig)
    """
    import arviz as az

    choice("kind", kind, TraceKind)
    idata = to_inference_data(result)
    names = list(var_names) if var_names else default_plot_names(idata, _terms(result))
    groups = {"posterior": plot_dataset(idata["posterior"].to_dataset(), names)}
    stats = group_dataset(idata, "sample_stats")
    if stats is not None and "diverging" in stats:  # divergences are marked on the x-axis
        groups["sample_stats"] = stats[["diverging"]]
    plot = az.plot_rank_dist if kind == "rank" else az.plot_trace_dist
    column = "rank" if kind == "rank" else "trace"
    with house_style():
        pc = plot(
            xr.DataTree.from_dict(groups),
            compact=True,
            backend="matplotlib",
            figure_kwargs=_inches(10, 1.9 * len(names) + 0.8),
        )
        for name in names:
            left, right = _target(pc, name, column="dist"), _target(pc, name, column=column)
            left.set_title(name)
            right.set_title(name)
            left.set_xlabel("")
            right.set_xlabel("")
            left.set_ylabel("density")
            right.set_ylabel("ECDF difference" if kind == "rank" else "value")
        left.set_xlabel("value")
        right.set_xlabel("Fractional rank (all chains)" if kind == "rank" else "iteration")
        fig = figure_of(pc)
        fig.set_layout_engine("constrained")
    title = "Rank plots by chain" if kind == "rank" else "Trace plots"
    return finish_figure(fig, title, path, formats)


def energy_plot(
    result: Any,
    path: PathLikeStr | None = None,
    formats: Sequence[ImageFormat] = ("png", "pdf"),
) -> Figure:
    """Marginal energy versus energy transition distribution, with E-BFMI per chain.

    When the transition density is much narrower than the marginal one, momentum resampling
    cannot move the sampler through the whole posterior (low E-BFMI, left panel, with the
    usual limit of 0.3 dashed).

    Examples
    --------
    >>> import arviz as az, matplotlib.pyplot as plt
    >>> fig = energy_plot(az.load_arviz_data("centered_eight"))
    >>> [ax.get_xlabel() for ax in fig.axes]
    ['E-BFMI', 'energy (centred)']
    >>> plt.close(fig)
    """
    import arviz as az

    idata = to_inference_data(result)
    stats = group_dataset(idata, "sample_stats")
    energy = find_stat(stats, "energy")
    if energy is None:
        raise SpecError("energy_plot needs sample_stats 'energy'; the sampler did not record it")
    with house_style():
        pc = az.plot_energy(
            xr.DataTree.from_dict({"sample_stats": xr.Dataset({"energy": energy})}),
            backend="matplotlib",
            figure_kwargs=_inches(8, 3.6),
        )
        fig = figure_of(pc)
        bfmi, dist = fig.axes
        bfmi.set_title("E-BFMI by chain")
        bfmi.set_xlabel("E-BFMI")
        bfmi.set_ylabel("chain")
        bfmi.set_yticks(range(int(energy.sizes["chain"])))
        dist.set_xlabel("energy (centred)")
        dist.set_ylabel("density")
        names = {"marginal": "Marginal energy", "transition": "Energy transition"}
        for legend in list(fig.legends):  # ArviZ's figure legend, moved into the panel
            labels = [names.get(t.get_text(), t.get_text()) for t in legend.get_texts()]
            handles = [h for h in legend.legend_handles if h is not None]
            dist.legend(handles, labels, loc="upper right", frameon=False)
            legend.remove()
        fig.set_layout_engine("constrained")
    return finish_figure(fig, "Energy: marginal vs transition", path, formats)


def posterior_forest_plot(
    result: Any,
    var_names: Sequence[str] | None = None,
    hdi_prob: float = 0.95,
    path: PathLikeStr | None = None,
    formats: Sequence[ImageFormat] = ("png", "pdf"),
) -> Figure:
    """Highest-density intervals of every chain side by side, with bulk ESS and R-hat columns.

    Chains that agree give overlapping intervals; a chain off on its own shows up at once.
    Each row shows the 50% (thick) and ``hdi_prob`` (thin) intervals and the posterior mean of
    one chain (``arviz_plots.plot_forest``); the two right-hand columns show each
    parameter's bulk ESS and rank-normalised R-hat over all chains.

    Examples
    --------
    >>> import arviz as az, matplotlib.pyplot as plt
    >>> fig = posterior_forest_plot(az.load_arviz_data("non_centered_eight"), ["mu", "tau"])
    >>> [ax.get_title() for ax in fig.axes]
    ['', '95% HDI by chain', 'bulk ESS', 'R-hat']
    >>> plt.close(fig)
    """
    import arviz as az

    if not 0 < hdi_prob < 1:
        raise SpecError(f"hdi_prob must lie in (0, 1), got {hdi_prob}")
    idata = to_inference_data(result)
    names = list(var_names) if var_names else default_plot_names(idata, _terms(result))
    data = plot_dataset(idata["posterior"].to_dataset(), names)
    rows = sum(_n_elements(data[n]) for n in data.data_vars) * int(data.sizes["chain"])
    columns = ["labels", "forest", "ess", "r_hat"]
    with house_style():
        pc = az.plot_forest(
            xr.DataTree.from_dict(
                {"posterior": data.expand_dims(column=columns).assign_coords(column=columns)}
            ),
            combined=False,
            ci_kind="hdi",
            ci_probs=(min(0.5, hdi_prob / 2), hdi_prob),
            point_estimate="mean",
            backend="matplotlib",
            figure_kwargs={**_inches(9, 1.2 + 0.12 * rows), "width_ratios": [1.2, 3, 1, 1]},
        )
        _convergence_columns(pc, data)
        forest = pc.get_target(None, {"column": "forest"})
        forest.set_title(f"{100 * hdi_prob:g}% HDI by chain")
        forest.set_xlabel("parameter value")
        fig = figure_of(pc)
    return finish_figure(fig, "Posterior intervals by chain", path, formats)


def _convergence_columns(pc: Any, data: xr.Dataset) -> None:
    """Bulk ESS and R-hat of each element, level with its chains' intervals.

    Dashed lines mark :func:`sustain.diagnose`'s default limits (bulk ESS 400, R-hat 1.01).
    """
    import arviz as az

    from sustain.diagnostics.report import Thresholds

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # constant elements: NaN, not plotted
        values = {"ess": az.ess(data, method="bulk"), "r_hat": az.rhat(data)}
    centre = pc.get_aes_as_dataset("y").mean("chain")  # y of each element's middle chain
    titles = {"ess": "bulk ESS", "r_hat": "R-hat"}
    for column, stat in values.items():
        ax = pc.get_target(None, {"column": column})
        for name in data.data_vars:
            y, x = xr.broadcast(centre[name], stat[name])
            ax.scatter(np.ravel(x.values), np.ravel(y.values), s=14, color="C0", zorder=3)
        ax.set_title(titles[column])
        ax.tick_params(axis="y", left=False, labelleft=False)
        ax.spines["left"].set_visible(False)
        ax.margins(x=0.15)
    limits = Thresholds()
    line = {"color": "#999999", "linewidth": 0.8, "linestyle": "--"}
    pc.get_target(None, {"column": "ess"}).axvline(limits.ess_min, **line)
    pc.get_target(None, {"column": "r_hat"}).axvline(limits.rhat_max, **line)


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
    choice("group", group, PredictiveGroup)
    idata = to_inference_data(result)
    kind = kind or default_ppc_kind(idata, var_names)
    choice("kind", kind, PpcKind)
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
        figure_kwargs=_inches(3.5 + 3.5 * min(len(draws.data_vars), 2), 3.6),
    )
    axes = [_target(pc, str(name)) for name in draws.data_vars]
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
        figure_kwargs=_inches(3.5 + 3.5 * min(len(simulated.data_vars), 2), 3.6),
    )
    axes = [_target(pc, str(name)) for name in simulated.data_vars]
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


def _terms(result: Any) -> list[str]:
    return [str(t) for t in getattr(result, "terms", ())]


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


def save_diagnostic_plots(
    diagnosis: Diagnosis,
    out_dir: PathLikeStr,
    formats: Sequence[ImageFormat] = ("png", "pdf"),
) -> dict[str, list[Path]]:
    """Save every diagnostic plot a diagnosis can draw into ``out_dir``.

    Writes ``rank`` (model terms plus the worst failing elements), ``forest``, ``energy`` (when
    the sampler recorded energy), ``ppc`` (posterior predictive, when drawn) and ``prior_ppc``
    (prior predictive, when drawn), each as PNG and PDF.

    Examples
    --------
    >>> import tempfile, arviz as az, sustain
    >>> dg = sustain.diagnose(az.load_arviz_data("centered_eight"))
    >>> sorted(save_diagnostic_plots(dg, tempfile.mkdtemp(), formats=["png"]))
    ['energy', 'forest', 'ppc', 'prior_ppc', 'rank']
    """
    out = Path(out_dir)
    idata = diagnosis.idata
    names = default_plot_names(idata, diagnosis.terms)
    written = {
        "rank": _save(
            trace_plot(idata, names + worst_elements(diagnosis, names)), out / "rank", formats
        ),
        "forest": _save(posterior_forest_plot(idata, names), out / "forest", formats),
    }
    if find_stat(group_dataset(idata, "sample_stats"), "energy") is not None:
        written["energy"] = _save(energy_plot(idata), out / "energy", formats)
    groups: tuple[tuple[PredictiveGroup, str], ...] = (("posterior", "ppc"), ("prior", "prior_ppc"))
    for group, name in groups:
        if f"{group}_predictive" in idata.children:
            written[name] = _save(ppc_plot(idata, group=group), out / name, formats)
    return written


def _save(fig: Figure, path: Path, formats: Sequence[ImageFormat]) -> list[Path]:
    import matplotlib.pyplot as plt

    try:
        return save_figure(fig, path, formats)
    finally:
        plt.close(fig)


def worst_elements(diagnosis: Diagnosis, plotted: Sequence[str]) -> list[str]:
    """Labels of the worst failing elements not already covered by a plotted variable.

    Worst first: highest R-hat, then lowest bulk ESS; at most ``MAX_FAILING_TRACES``.

    Examples
    --------
    >>> import arviz as az, sustain
    >>> dg = sustain.diagnose(az.load_arviz_data("centered_eight"))
    >>> worst_elements(dg, ["mu"])[:2]
    ['tau', 'theta[Hotchkiss]']
    """
    table = diagnosis.parameters
    bad = table[~table["ok"] & ~table["variable"].isin(plotted)]
    bad = bad.sort_values(["rhat", "ess_bulk"], ascending=[False, True])
    return [str(label) for label in bad.index[:MAX_FAILING_TRACES]]
