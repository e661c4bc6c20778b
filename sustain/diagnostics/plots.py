"""Diagnostic plots: trace/rank, energy and forest by chain; all of them into a folder.

Each function takes a Bayesian result (anything with ``.idata``) or an ArviZ ``DataTree``,
draws with ArviZ's plotting library (``arviz_plots``, matplotlib backend) in sustain's figure
style, and returns the matplotlib ``Figure``. With ``path=`` the figure is also written as PNG
and PDF (atomically, without timestamps in the files) and closed, so that scripts do not
accumulate open figures. Predictive checks are in :mod:`sustain.diagnostics.ppc`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import numpy as np
import xarray as xr

from sustain._typing import PathLikeStr
from sustain.diagnostics.checks import element_labels, find_stat, to_inference_data
from sustain.diagnostics.checks import group as group_dataset
from sustain.diagnostics.plotting import (
    figure_of,
    finish_figure,
    house_style,
    inches,
    save_figure,
    target,
)
from sustain.diagnostics.ppc import ppc_plot
from sustain.errors import SpecError
from sustain.figures.style import ImageFormat
from sustain.options import PredictiveGroup, check_choice

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from sustain.diagnostics.report import Diagnosis

TraceKind: TypeAlias = Literal["rank", "trace"]

# Variables with more elements than this are left out of default plots (e.g. agency effects).
MAX_DEFAULT_ELEMENTS = 30
# Worst failing elements added to the trace plot by Diagnosis.plot.
MAX_FAILING_TRACES = 6


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

    check_choice("kind", kind, TraceKind)
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
            figure_kwargs=inches(10, 1.9 * len(names) + 0.8),
        )
        for name in names:
            left, right = target(pc, name, column="dist"), target(pc, name, column=column)
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
            figure_kwargs=inches(8, 3.6),
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
            figure_kwargs={**inches(9, 1.2 + 0.12 * rows), "width_ratios": [1.2, 3, 1, 1]},
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


def _terms(result: Any) -> list[str]:
    return [str(t) for t in getattr(result, "terms", ())]


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
