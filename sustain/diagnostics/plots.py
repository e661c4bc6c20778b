"""Diagnostic plots: trace/rank, energy, forest by chain, and prior/posterior predictive checks.

Each function takes a Bayesian result (anything with ``.idata``) or an ``arviz.InferenceData``,
draws with ArviZ's matplotlib backend in one house style, and returns the matplotlib
``Figure``. With ``path=`` the figure is also written as PNG and PDF (atomically, without
timestamps in the files) and closed, so that scripts do not accumulate open figures.
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
from sustain.diagnostics.checks import choice, element_labels, find_stat, to_inference_data
from sustain.errors import SpecError
from sustain.options import PpcKind, PredictiveGroup

if TYPE_CHECKING:  # pragma: no cover
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


@contextlib.contextmanager
def house_style() -> Iterator[None]:
    """Apply the diagnostic plot style (and silence matplotlib 3.11 deprecations in ArviZ).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> with house_style():
    ...     plt.rcParams["pdf.fonttype"]
    42
    """
    import matplotlib.pyplot as plt

    with plt.rc_context(cast(Any, STYLE)), warnings.catch_warnings():
        # ArviZ 0.23 passes alias_mapping dicts that matplotlib 3.11 deprecates; harmless
        warnings.filterwarnings("ignore", message=".*alias_mapping.*")
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
    if path is not None:
        save_figure(fig, path, formats)
        plt.close(fig)
    return fig


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
    post = idata.posterior
    names = [t for t in (terms or []) if t in post] or [str(v) for v in post.data_vars]
    small = [n for n in names if _n_elements(post[n]) <= MAX_DEFAULT_ELEMENTS]
    return small or names[:1]


def plot_dataset(posterior: xr.Dataset, names: Sequence[str]) -> xr.Dataset:
    """Posterior variables and single elements (``theta[Choate]``) gathered for plotting.

    Examples
    --------
    >>> import arviz as az
    >>> post = az.load_arviz_data("centered_eight").posterior
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
    """Per-chain densities with rank histograms (``kind="rank"``) or trace lines (``"trace"``).

    Parameters
    ----------
    result : Bayesian result or arviz.InferenceData
    var_names : sequence of str, optional
        Posterior variables or single elements such as ``"r(1|district)[Haizhu]"``; default:
        the model's terms (see :func:`default_plot_names`).
    kind : {"rank", "trace"}
        Right-hand panels: rank bar histograms per chain (uniform when chains mix) or draws
        against iteration.
    path : path, optional
        Save as ``<path>.png`` and ``<path>.pdf`` and close the figure.
    formats : sequence of {"png", "pdf"}

    Examples
    --------
    >>> import arviz as az, matplotlib.pyplot as plt
    >>> fig = trace_plot(az.load_arviz_data("non_centered_eight"), ["mu", "tau"])
    >>> fig.axes[1].get_xlabel()
    'Rank (all chains)'
    >>> plt.close(fig)
    """
    import arviz as az

    choice("kind", kind, TraceKind)
    idata = to_inference_data(result)
    names = list(var_names) if var_names else default_plot_names(idata, _terms(result))
    data = plot_dataset(idata.posterior, names)
    with house_style():
        groups: dict[str, Any] = {"posterior": data}
        if "sample_stats" in idata.groups():  # divergences are marked on the x-axis
            groups["sample_stats"] = idata.sample_stats
        axes = az.plot_trace(
            az.InferenceData(**groups),
            kind="rank_bars" if kind == "rank" else "trace",
            compact=True,
            figsize=(10, 1.9 * len(names) + 0.8),
            backend_kwargs={"layout": "constrained"},
        )
        axes = np.atleast_2d(axes)
        for ax in axes[:, 0]:
            ax.set_ylabel("density")
        axes[-1, 0].set_xlabel("value")
        if kind == "trace":
            axes[-1, 1].set_xlabel("iteration")
        fig = axes[0, 0].figure
    title = "Rank plots by chain" if kind == "rank" else "Trace plots"
    return finish_figure(fig, title, path, formats)


def energy_plot(
    result: Any,
    path: PathLikeStr | None = None,
    formats: Sequence[ImageFormat] = ("png", "pdf"),
) -> Figure:
    """Marginal energy versus energy transition distribution, with E-BFMI per chain.

    When the transition density is much narrower than the marginal one, momentum resampling
    cannot move the sampler through the whole posterior (low E-BFMI).

    Examples
    --------
    >>> import arviz as az, matplotlib.pyplot as plt
    >>> fig = energy_plot(az.load_arviz_data("centered_eight"))
    >>> fig.axes[0].get_xlabel()
    'energy (centred)'
    >>> plt.close(fig)
    """
    import arviz as az

    idata = to_inference_data(result)
    stats = idata.sample_stats if "sample_stats" in idata.groups() else None
    if find_stat(stats, "energy") is None:
        raise SpecError("energy_plot needs sample_stats 'energy'; the sampler did not record it")
    with house_style():
        ax = az.plot_energy(idata, figsize=(7, 4.5), backend_kwargs={"layout": "constrained"})
        ax.set_xlabel("energy (centred)")
        ax.set_ylabel("density")
        fig = ax.figure
    return finish_figure(fig, "Energy: marginal vs transition", path, formats)


def posterior_forest_plot(
    result: Any,
    var_names: Sequence[str] | None = None,
    hdi_prob: float = 0.95,
    path: PathLikeStr | None = None,
    formats: Sequence[ImageFormat] = ("png", "pdf"),
) -> Figure:
    """Highest-density intervals of every chain side by side, with R-hat and bulk ESS columns.

    Chains that agree give overlapping intervals; a chain off on its own shows up at once.

    Examples
    --------
    >>> import arviz as az, matplotlib.pyplot as plt
    >>> fig = posterior_forest_plot(az.load_arviz_data("non_centered_eight"), ["mu", "tau"])
    >>> [ax.get_title() for ax in fig.axes]
    ['95.0% HDI', 'ess', 'r_hat']
    >>> plt.close(fig)
    """
    import arviz as az

    if not 0 < hdi_prob < 1:
        raise SpecError(f"hdi_prob must lie in (0, 1), got {hdi_prob}")
    idata = to_inference_data(result)
    names = list(var_names) if var_names else default_plot_names(idata, _terms(result))
    data = plot_dataset(idata.posterior, names)
    rows = sum(_n_elements(data[n]) for n in data.data_vars) * int(data.sizes["chain"])
    with house_style():
        axes = az.plot_forest(
            data,
            combined=False,
            hdi_prob=hdi_prob,
            r_hat=True,
            ess=True,
            figsize=(9, 1.2 + 0.12 * rows),
            backend_kwargs={"layout": "constrained"},
        )
        axes[0].set_xlabel("parameter value")
        fig = axes[0].figure
    return finish_figure(fig, "Posterior intervals by chain", path, formats)


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
    result : Bayesian result or arviz.InferenceData
        Needs a ``posterior_predictive`` (or ``prior_predictive``) group and ``observed_data``.
    group : {"posterior", "prior"}
    kind : {"kde", "cumulative", "scatter", "mean"}, optional
        Densities (histograms for integer outcomes), empirical CDFs, draws as points, or the
        distribution of the simulated mean against the observed mean (best for a bernoulli
        outcome such as ``exit``). Default: ``"mean"`` when every observed variable is 0/1
        (a density of binary draws says nothing and ArviZ cannot draw it when a simulated
        data set is constant), else ``"kde"``.
    var_names : sequence of str, optional
        Observed variables to plot; default all.
    num_pp_samples : int
        Simulated data sets drawn (randomly, with ``random_seed``).
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
    import arviz as az

    choice("group", group, PredictiveGroup)
    idata = to_inference_data(result)
    kind = kind or default_ppc_kind(idata, var_names)
    choice("kind", kind, PpcKind)
    _require_predictive(idata, group, kind)
    with house_style():
        if kind == "mean":
            axes = az.plot_bpv(
                idata, kind="t_stat", t_stat="mean", group=group, var_names=var_names
            )
        else:
            axes = az.plot_ppc(
                idata,
                kind=kind,
                group=group,
                var_names=var_names,
                observed=True,  # ArviZ hides the data in prior checks; show it in both
                num_pp_samples=num_pp_samples,
                random_seed=random_seed,
            )
        axes = np.atleast_1d(axes).ravel()
        ylabel = {"kde": "density", "cumulative": "cumulative probability", "mean": "density"}
        for ax in axes:
            ax.set_ylabel(ylabel.get(kind, ""))
            if kind == "mean":
                ax.set_xlabel(f"mean of {ax.get_title() or 'the outcome'}")
        fig = axes[0].figure
        fig.set_layout_engine("constrained")
    return finish_figure(fig, f"{group.capitalize()} predictive check", path, formats)


def _require_predictive(idata: Any, group: str, kind: str) -> None:
    name = f"{group}_predictive"
    if name not in idata.groups():
        raise SpecError(
            f"no {name} draws in the result; refit with {group} predictive sampling switched on "
            f"(or add them with pymc.sample_{group}_predictive)"
        )
    if "observed_data" not in idata.groups():
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
    observed = idata.get("observed_data") if hasattr(idata, "get") else None
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
    if find_stat(idata.get("sample_stats"), "energy") is not None:
        written["energy"] = _save(energy_plot(idata), out / "energy", formats)
    groups: tuple[tuple[PredictiveGroup, str], ...] = (("posterior", "ppc"), ("prior", "prior_ppc"))
    for group, name in groups:
        if f"{group}_predictive" in idata.groups():
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
