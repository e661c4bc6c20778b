"""Pure functions behind :func:`sustain.diagnose`: per-parameter statistics and sampler checks.

The numbers come from ArviZ (``arviz_stats``: rank-normalised split R-hat, bulk and tail ESS,
MCSE of the mean and of the sd, E-BFMI); this module only selects the variables, flattens them to one row per scalar element, reads the sampler
statistics under whichever name the sampler used, and turns each statistic into a
:class:`Check` (value, threshold, pass/fail, message, advice).

Sampler statistic names differ between samplers:

====================  =========================  ====================  =================
statistic             PyMC NUTS                  nutpie                numpyro
====================  =========================  ====================  =================
divergent transition  ``diverging``              ``diverging``         ``diverging``
max tree depth hit    ``reached_max_treedepth``  ``maxdepth_reached``  (from tree depth)
tree depth            ``tree_depth``             ``depth``             ``tree_depth``
Hamiltonian energy    ``energy``                 ``energy``            ``energy``
====================  =========================  ====================  =================

A statistic the sampler did not record gives a check whose ``passed`` is ``None`` ("not
available") instead of an error.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from sustain.errors import SpecError
from sustain.options import EssScale, check_choice
from sustain.results import TAIL_ESS_PROBS

# Each sampler statistic and the names samplers store it under, in order of preference.
STAT_NAMES: dict[str, tuple[str, ...]] = {
    "diverging": ("diverging",),
    "treedepth_flag": ("reached_max_treedepth", "maxdepth_reached"),
    "tree_depth": ("tree_depth", "depth"),
    "energy": ("energy",),
    "tuning": ("tuning",),
}
# The reference run for ESS scaling: 4 chains of 1,000 draws (Stan's default run; ESS >= 400
# is Vehtari et al.'s 100 per chain for it).
REFERENCE_CHAINS = 4
REFERENCE_DRAWS = 1000

PARAMETER_COLUMNS = [
    "variable",
    "mean",
    "sd",
    "mcse_mean",
    "mcse_sd",
    "ess_bulk",
    "ess_tail",
    "rhat",
]

ADVICE = {
    "rhat": (
        "chains disagree; run longer (more tuning and draws), look for multimodality in the "
        "trace/rank plots, and if it persists reparameterise (non-centred group effects) or use "
        "stronger priors"
    ),
    "ess_bulk": (
        "draw more samples (more draws or chains); if ESS per draw is very low the sampler mixes "
        "slowly, so reparameterise (non-centred group effects, centred predictors) or raise "
        "target_accept"
    ),
    "ess_tail": (
        "the interval ends (5% and 95% quantiles) are estimated imprecisely; draw more samples, "
        "and if the tails are heavy or funnel-shaped use a non-centred parameterisation or "
        "stronger priors"
    ),
    "mcse": "the Monte Carlo error is large relative to the posterior sd; draw more samples",
    "divergences": (
        "the posterior has regions of high curvature the sampler cannot follow, so estimates may "
        "be biased; try target_accept=0.95 (or 0.99), a non-centred parameterisation of the "
        "group effects, or stronger priors on the group-level sds"
    ),
    "treedepth": (
        "trajectories were cut short, so sampling is slow (not biased); raise max_treedepth "
        "(e.g. 12), standardise predictors, or reparameterise strongly correlated parameters"
    ),
    "ebfmi": (
        "the sampler explores the energy distribution poorly (heavy tails or a funnel); "
        "reparameterise (non-centred group effects), use stronger priors on scale parameters, "
        "or tune longer"
    ),
}


@dataclass(frozen=True, slots=True)
class Check:
    """One diagnostic check: the statistic, its threshold and the verdict.

    Attributes
    ----------
    name : str
        Short name (``"R-hat"``, ``"bulk ESS"``, ``"divergences"``, ...).
    value : float
        The statistic (worst case over parameters or chains); NaN when not available.
    threshold : float
        The limit the statistic is compared with.
    rule : {"<=", ">="}
        The check passes when ``value rule threshold`` holds.
    passed : bool or None
        Verdict; ``None`` when the statistic is not available.
    message : str
        What was found, in words.
    advice : str
        What to try when the check fails (empty when it passes).

    Examples
    --------
    >>> c = Check("R-hat", 1.002, 1.01, "<=", True, "max R-hat is 1.002 <= 1.01", "")
    >>> c.passed
    True
    """

    name: str
    value: float
    threshold: float
    rule: Literal["<=", ">="]
    passed: bool | None
    message: str
    advice: str


def to_inference_data(result: Any) -> xr.DataTree:
    """Return the draws of a Bayesian result (anything with ``.idata``) or a DataTree itself.

    ArviZ 1 keeps draws in an :class:`xarray.DataTree` whose children are the groups
    (``posterior``, ``sample_stats``, ...); it replaces ArviZ 0.x's ``InferenceData``.

    Raises
    ------
    SpecError
        When ``result`` is neither a DataTree nor carries one in ``.idata``, or has no
        posterior group.

    Examples
    --------
    >>> import arviz as az
    >>> idata = az.load_arviz_data("centered_eight")
    >>> to_inference_data(idata) is idata
    True
    """
    idata = result if isinstance(result, xr.DataTree) else getattr(result, "idata", None)
    if not isinstance(idata, xr.DataTree):
        raise SpecError(
            "expected a Bayesian result with .idata (sustain.fit_bayes, sustain.fit_joint) or an "
            f"ArviZ DataTree (xarray.DataTree), got {type(result).__name__}"
        )
    if "posterior" not in idata.children:
        raise SpecError("the DataTree has no posterior group: nothing to diagnose")
    return idata


def group(idata: xr.DataTree, name: str) -> xr.Dataset | None:
    """The group ``name`` of ``idata`` as an :class:`xarray.Dataset`, or ``None`` if absent.

    Examples
    --------
    >>> import arviz as az
    >>> idata = az.load_arviz_data("centered_eight")
    >>> type(group(idata, "posterior")).__name__, group(idata, "warmup_posterior")
    ('Dataset', None)
    """
    node = idata.children.get(name)
    return None if node is None else node.to_dataset()


def posterior_names(posterior: xr.Dataset, var_names: Sequence[str] | None = None) -> list[str]:
    """Choose the posterior variables to check.

    Parameters
    ----------
    posterior : xarray.Dataset
        The posterior group (dims ``chain``, ``draw``, ...).
    var_names : sequence of str, optional
        Variables to check; a name starting with ``~`` excludes that variable. ``None`` (the
        default) checks every variable except copies: a variable whose draws equal those of a
        variable listed before it (a ``Deterministic`` that only renames), and PyMC's
        unconstrained value variables (names ending in ``__``, e.g. ``sigma_log__``, which
        nutpie stores next to ``sigma``).

    Returns
    -------
    list of str

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> a = np.random.default_rng(0).normal(size=(2, 50))
    >>> post = xr.Dataset({"a": (("chain", "draw"), a), "a_copy": (("chain", "draw"), a)})
    >>> posterior_names(post)
    ['a']
    >>> posterior_names(post, ["~a"])
    ['a_copy']
    """
    available = [str(v) for v in posterior.data_vars]
    if var_names is None:
        # PyMC names unconstrained copies of constrained variables "<name>_log__" etc.
        return drop_copies(posterior, [v for v in available if not v.endswith("__")])
    if isinstance(var_names, str):
        var_names = [var_names]
    excluded = {v[1:] for v in var_names if v.startswith("~")}
    included = [v for v in var_names if not v.startswith("~")]
    unknown = [v for v in [*included, *excluded] if v not in available]
    if unknown:
        raise SpecError(
            f"var_names {unknown} are not in the posterior; available: {', '.join(available)}"
        )
    chosen = [v for v in (included or available) if v not in excluded]
    if not chosen:
        raise SpecError("var_names leaves no posterior variable to check")
    return chosen


def drop_copies(posterior: xr.Dataset, names: Iterable[str]) -> list[str]:
    """Drop variables whose draws are an exact copy of a variable kept before them.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> x = np.arange(6.0).reshape(2, 3)
    >>> post = xr.Dataset({"b": (("chain", "draw"), x), "b2": (("chain", "draw"), x.copy())})
    >>> drop_copies(post, ["b", "b2"])
    ['b']
    """
    kept: list[str] = []
    for name in names:
        values = posterior[name].values
        if not any(
            posterior[k].shape == values.shape and np.array_equal(posterior[k].values, values)
            for k in kept
        ):
            kept.append(name)
    return kept


def element_labels(da: xr.DataArray) -> list[str]:
    """Labels of the scalar elements of a posterior variable, e.g. ``theta[Choate]``.

    Elements follow C order over the non-sample dims; labels use the coordinate values as ArviZ's
    ``summary`` does (``name[a, b]`` for two dims).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> da = xr.DataArray(np.zeros((1, 2, 2)), dims=("chain", "draw", "district"),
    ...                   coords={"district": ["Haizhu", "Tianhe"]}, name="r(1|district)")
    >>> element_labels(da)
    ['r(1|district)[Haizhu]', 'r(1|district)[Tianhe]']
    """
    dims = [d for d in da.dims if d not in ("chain", "draw")]
    name = str(da.name)
    if not dims:
        return [name]
    coords = [da.coords[d].values if d in da.coords else np.arange(da.sizes[d]) for d in dims]
    grid = np.meshgrid(*coords, indexing="ij")
    flat = [g.reshape(-1) for g in grid]
    return [f"{name}[{', '.join(str(c[i]) for c in flat)}]" for i in range(flat[0].size)]


def parameter_table(posterior: xr.Dataset, names: Sequence[str]) -> pd.DataFrame:
    """One row per scalar element: mean, sd, MCSE, bulk/tail ESS and rank-normalised R-hat.

    Parameters
    ----------
    posterior : xarray.Dataset
        The posterior group.
    names : sequence of str
        Variables to include.

    Returns
    -------
    DataFrame
        Indexed by element label (``parameter``) with columns ``variable``, ``mean``, ``sd``,
        ``mcse_mean``, ``mcse_sd``, ``ess_bulk``, ``ess_tail``, ``rhat``.

    Notes
    -----
    R-hat is the rank-normalised split R-hat of Vehtari et al. (2021), the maximum of the bulk
    and the folded (tail) statistic; bulk ESS is the ESS of the rank-normalised draws, tail ESS
    the smaller of the ESS of the 5% and 95% quantile indicators. MCSE of the mean is
    ``sd / sqrt(ESS_mean)``; MCSE of the sd is ``sqrt(Var(v) / (4 v))`` by the delta method,
    with ``v`` the posterior variance and ``Var(v)`` estimated from the mean-ESS of the squared
    centred draws. All are computed by ArviZ. Elements that are constant across all
    draws have undefined R-hat and ESS (NaN) and are not judged by the checks.

    Examples
    --------
    >>> import arviz as az
    >>> post = az.load_arviz_data("non_centered_eight").posterior.to_dataset()
    >>> parameter_table(post, ["mu", "theta"]).shape
    (9, 8)
    """
    import arviz as az

    sub = posterior[list(names)]
    with warnings.catch_warnings():
        # constant elements give 0/0 inside ArviZ; they are reported as NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        stats = {
            "mean": sub.mean(("chain", "draw")),
            "sd": sub.std(("chain", "draw"), ddof=1),
            "mcse_mean": az.mcse(sub, method="mean"),
            "mcse_sd": az.mcse(sub, method="sd"),
            "ess_bulk": az.ess(sub, method="bulk"),
            "ess_tail": az.ess(sub, method="tail", prob=TAIL_ESS_PROBS),
            "rhat": az.rhat(sub, method="rank"),
        }
    frames = []
    for name in names:
        labels = element_labels(sub[name])
        columns: dict[str, Any] = {"variable": [name] * len(labels)}
        for key, ds in stats.items():
            columns[key] = np.asarray(ds[name].transpose(*_element_dims(sub[name])), dtype=float)
            columns[key] = columns[key].reshape(-1)
        frames.append(pd.DataFrame(columns, index=pd.Index(labels, name="parameter")))
    return pd.concat(frames)[PARAMETER_COLUMNS]


def _element_dims(da: xr.DataArray) -> list[Hashable]:
    return [d for d in da.dims if d not in ("chain", "draw")]


def find_stat(sample_stats: xr.Dataset | None, key: str) -> xr.DataArray | None:
    """Return the sampler statistic ``key`` (see ``STAT_NAMES``) under whatever name it has.

    Draws flagged as tuning (nutpie's ``tuning``) are dropped.

    Examples
    --------
    >>> import arviz as az
    >>> stats = az.load_arviz_data("centered_eight").sample_stats.to_dataset()
    >>> find_stat(stats, "tree_depth").name, find_stat(stats, "treedepth_flag").name
    ('tree_depth', 'reached_max_treedepth')
    >>> find_stat(stats, "energy").name, find_stat(None, "energy") is None
    ('energy', True)
    """
    if sample_stats is None:
        return None
    for name in STAT_NAMES[key]:
        if name in sample_stats:
            da = sample_stats[name]
            if key != "tuning" and "tuning" in sample_stats:
                da = da.where(~sample_stats["tuning"].astype(bool))
            return da
    return None


def ess_threshold(ess_min: float, scale: EssScale, n_chains: int, n_draws: int) -> float:
    """The ESS threshold to apply, scaled for the run length only when asked.

    ``ess_min`` is meant for the reference run of 4 chains of 1,000 draws. ``scale="chains"``
    keeps Vehtari et al.'s rule of 100 per chain (``ess_min * n_chains / 4``); ``"draws"`` asks for
    the same efficiency (ESS per draw) as the reference run
    (``ess_min * n_chains * n_draws / 4000``); ``"none"`` applies ``ess_min`` as given.

    Examples
    --------
    >>> ess_threshold(400, "none", 2, 300), ess_threshold(400, "chains", 2, 300)
    (400.0, 200.0)
    >>> ess_threshold(400, "draws", 2, 300)
    60.0
    """
    if scale == "chains":
        return float(ess_min) * n_chains / REFERENCE_CHAINS
    if scale == "draws":
        return float(ess_min) * n_chains * n_draws / (REFERENCE_CHAINS * REFERENCE_DRAWS)
    check_choice("ess_scale", scale, EssScale)
    return float(ess_min)


def _fmt(value: float, spec: str = "g") -> str:
    return format(value, spec) if np.isfinite(value) else str(value)


def _not_available(name: str, threshold: float, rule: Literal["<=", ">="], why: str) -> Check:
    return Check(name, float("nan"), threshold, rule, None, f"{name}: not available ({why})", "")


def check_parameters(
    table: pd.DataFrame,
    column: str,
    name: str,
    threshold: float,
    rule: Literal["<=", ">="],
    advice: str,
    spec: str = ".3f",
) -> Check:
    """Judge one per-parameter statistic (worst case over the elements of ``table``).

    ``spec`` is the format of the statistic in the message (thresholds print with ``g``).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"rhat": [1.001, 1.03]}, index=["mu", "sd(1|district)"])
    >>> c = check_parameters(t, "rhat", "R-hat", 1.01, "<=", "run longer", ".2f")
    >>> c.passed, c.message
    (False, 'R-hat of sd(1|district) is 1.03 > 1.01')
    """
    values = table[column].astype(float)
    finite = values.dropna()  # NaN: constant element; +inf (stuck chains) stays and fails
    if finite.empty:
        return _not_available(name, threshold, rule, "no parameter varies across draws")
    worst = finite.idxmax() if rule == "<=" else finite.idxmin()
    value = float(finite[worst])
    bad = finite > threshold if rule == "<=" else finite < threshold
    flip = ">" if rule == "<=" else "<"
    if not bad.any():
        which = "max" if rule == "<=" else "min"
        msg = (
            f"{which} {name} is {_fmt(value, spec)} {rule} {threshold:g} ({len(finite)} parameters)"
        )
        return Check(name, value, threshold, rule, True, msg, "")
    if int(bad.sum()) == 1:
        msg = f"{name} of {worst} is {_fmt(value, spec)} {flip} {threshold:g}"
    else:
        msg = (
            f"{name} {flip} {threshold:g} for {int(bad.sum())} of {len(finite)} parameters "
            f"(worst {worst} = {_fmt(value, spec)})"
        )
    return Check(name, value, threshold, rule, False, msg, advice)


def mcse_ratio(table: pd.DataFrame) -> pd.Series:
    """Monte Carlo standard error of the mean as a fraction of the posterior sd.

    Examples
    --------
    >>> import pandas as pd
    >>> mcse_ratio(pd.DataFrame({"mcse_mean": [0.01], "sd": [0.5]}, index=["b"])).round(3).tolist()
    [0.02]
    """
    sd = table["sd"].astype(float).where(table["sd"] > 0)
    return (table["mcse_mean"].astype(float) / sd).rename("mcse_ratio")


def check_divergences(sample_stats: xr.Dataset | None, max_divergences: int) -> Check:
    """Count divergent transitions after tuning.

    Examples
    --------
    >>> import arviz as az
    >>> stats = az.load_arviz_data("centered_eight").sample_stats.to_dataset()
    >>> check_divergences(stats, 0).message
    '19 divergent transitions after tuning (0.9% of 2000 draws)'
    """
    name = "divergences"
    div = find_stat(sample_stats, "diverging")
    if div is None:
        return _not_available(name, max_divergences, "<=", "the sampler recorded no 'diverging'")
    flags = np.asarray(div.fillna(0), dtype=bool)
    n, total = int(flags.sum()), int(div.notnull().sum())
    passed = n <= max_divergences
    plural = "transition" if n == 1 else "transitions"
    msg = f"{n} divergent {plural} after tuning ({100 * n / max(total, 1):.1f}% of {total} draws)"
    return Check(
        name, float(n), max_divergences, "<=", passed, msg, "" if passed else ADVICE["divergences"]
    )


def check_treedepth(
    sample_stats: xr.Dataset | None, max_fraction: float, max_treedepth: int
) -> Check:
    """Fraction of draws that hit the maximum tree depth, worst chain.

    Uses the sampler's flag (``reached_max_treedepth``, ``maxdepth_reached``) when present,
    otherwise counts draws whose tree depth is at least ``max_treedepth``.

    Examples
    --------
    >>> import arviz as az
    >>> stats = az.load_arviz_data("centered_eight").sample_stats.to_dataset()
    >>> c = check_treedepth(stats, 0.01, 10)
    >>> c.passed, c.value
    (True, 0.0)
    """
    name = "tree depth"
    flag = find_stat(sample_stats, "treedepth_flag")
    how = "the sampler's flag"
    if flag is None:
        depth = find_stat(sample_stats, "tree_depth")
        if depth is None:
            return _not_available(name, max_fraction, "<=", "the sampler recorded no tree depth")
        flag = (depth >= max_treedepth).where(depth.notnull())
        how = f"depth >= {max_treedepth}"
    per_chain = np.atleast_1d(np.asarray(flag.astype(float).mean("draw")))
    worst = int(np.nanargmax(per_chain))
    value = float(per_chain[worst])
    hits = int(np.nansum(np.asarray(flag, dtype=float)))
    total = int(flag.notnull().sum())
    passed = value <= max_fraction
    msg = (
        f"{hits} of {total} draws hit the maximum tree depth ({how}); worst chain "
        f"{worst}: {100 * value:.1f}% (limit {100 * max_fraction:g}%)"
    )
    return Check(
        name, value, max_fraction, "<=", passed, msg, "" if passed else ADVICE["treedepth"]
    )


def check_ebfmi(idata: xr.DataTree, ebfmi_min: float) -> Check:
    """Energy Bayesian fraction of missing information, worst chain (ArviZ ``bfmi``).

    Notes
    -----
    ``E-BFMI = sum_n (E_n - E_{n-1})^2 / sum_n (E_n - mean(E))^2`` for the Hamiltonian energy
    ``E`` of one chain (Betancourt 2016); values below 0.3 mean the momentum resampling moves
    the energy too little to explore the posterior's tails.

    Examples
    --------
    >>> import arviz as az
    >>> c = check_ebfmi(az.load_arviz_data("centered_eight"), 0.3)
    >>> c.passed, round(c.value, 2)
    (False, 0.29)
    """
    name = "E-BFMI"
    energy = find_stat(group(idata, "sample_stats"), "energy")
    if energy is None:
        return _not_available(name, ebfmi_min, ">=", "the sampler recorded no 'energy'")
    chains = np.atleast_2d(np.asarray(energy.transpose("chain", ...).values, dtype=float))
    values = np.array([_bfmi(e[np.isfinite(e)]) for e in chains])
    worst = int(np.argmin(values))
    value = float(values[worst])
    low = [i for i, v in enumerate(values) if v < ebfmi_min]
    if not low:
        msg = f"min E-BFMI is {value:.2f} >= {ebfmi_min:g} ({len(values)} chains)"
        return Check(name, value, ebfmi_min, ">=", True, msg, "")
    if len(low) == 1:
        msg = f"E-BFMI of chain {worst} is {value:.2f} < {ebfmi_min:g}"
    else:
        msg = f"E-BFMI < {ebfmi_min:g} in {len(low)} of {len(values)} chains (lowest {value:.2f})"
    return Check(name, value, ebfmi_min, ">=", False, msg, ADVICE["ebfmi"])


def _bfmi(energy: np.ndarray) -> float:
    """ArviZ's E-BFMI of one chain's energy draws (finite values only)."""
    import arviz as az

    return float(np.asarray(az.bfmi(energy[None, :])).reshape(-1)[0])
