"""``sustain.compare``: rank Bayesian models by PSIS-LOO, with Pareto-k checks and WAIC alongside.

Both criteria estimate the expected log pointwise predictive density (ELPD) for new data from
the pointwise log-likelihood stored in each result's ``idata.log_likelihood``. ArviZ computes
PSIS-LOO and the comparison table (``az.loo``, ``az.compare``); ArviZ 1 no longer has WAIC, so
:func:`waic` computes it here from the pointwise log-likelihood. This module checks that the
models are comparable, counts Pareto k values per model, turns ArviZ's generic warnings into
ones that name the model, and returns a frozen :class:`Comparison`.
"""

from __future__ import annotations

import textwrap
import types
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from sustain._atomic import write_text
from sustain._typing import PathLikeStr
from sustain.diagnostics.checks import to_inference_data
from sustain.errors import SpecError
from sustain.options import InformationCriterion, WeightMethod, check_choice
from sustain.results import Summary, SummaryMixin

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from sustain.figures.style import ImageFormat

PARETO_COLUMNS = ["n_obs", "good", "ok", "bad", "very_bad", "max_k", "n_above_threshold"]
# Columns of the comparison tables, first the ones sustain has always had, then ArviZ 1's extras.
TABLE_COLUMNS = ["rank", "elpd", "p", "elpd_diff", "weight", "se", "dse", "warning", "scale"]
EXTRA_COLUMNS = ["p_worse", "diag_diff", "diag_elpd"]
# WAIC's variance check: a pointwise posterior variance of the log density above this makes
# WAIC unreliable (Vehtari, Gelman and Gabry 2017, section 2.2).
WAIC_VARIANCE_LIMIT = 0.4
# An ELPD difference smaller than this many standard errors does not separate two models.
DISTINGUISHABLE_SE = 2.0


class ParetoKWarning(UserWarning):
    """PSIS-LOO is unreliable for some observations (Pareto k above the threshold)."""


class WAICWarning(UserWarning):
    """WAIC may be unreliable (posterior variance of a log predictive density above 0.4)."""


@dataclass(frozen=True, eq=False)
class Comparison(SummaryMixin):
    """The result of :func:`sustain.compare`.

    Attributes
    ----------
    ic : {"loo", "waic"}
        Criterion that ranks the models in :attr:`table`.
    names : tuple of str
        Model names, in the order given.
    loo_table, waic_table : DataFrame
        Comparison tables, best model first: ``rank``, ``elpd_loo``/``elpd_waic``,
        ``p_loo``/``p_waic``, ``elpd_diff`` (how much lower the model's ELPD is than the best
        model's, so >= 0), ``weight``, ``se``, ``dse`` (standard error of ``elpd_diff``),
        ``warning``, ``scale`` (``"log"``), then ArviZ's ``p_worse`` (probability that the model
        predicts worse than the best), ``diag_diff`` and ``diag_elpd``.
    pareto_k : DataFrame
        Per model: observations, counts of k in (-inf, 0.5] ``good``, (0.5, threshold] ``ok``,
        (threshold, 1] ``bad``, (1, inf) ``very_bad``, ``max_k`` and ``n_above_threshold``.
    loo, waic : Mapping[str, arviz_stats.ELPDData]
        Pointwise results per model (``.elpd``, ``.se``, ``.p``, ``.elpd_i``, ``.warning``;
        ``loo[name].pareto_k``).
    k_threshold : float
        Pareto k above which an observation's LOO estimate is flagged.
    method : str
        Weighting method of ``weight`` (``"stacking"`` by default).
    warnings : tuple of str
        The warnings that were issued.

    Examples
    --------
    >>> import arviz as az, sustain
    >>> c = sustain.compare({"centred": az.load_arviz_data("centered_eight"),
    ...                      "non-centred": az.load_arviz_data("non_centered_eight")})
    >>> list(c.table.index)
    ['non-centred', 'centred']
    >>> c.pareto_k.loc["centred", "n_obs"]
    np.int64(8)
    """

    ic: str
    names: tuple[str, ...]
    loo_table: pd.DataFrame = field(repr=False)
    waic_table: pd.DataFrame = field(repr=False)
    pareto_k: pd.DataFrame = field(repr=False)
    loo: Mapping[str, Any] = field(repr=False)
    waic: Mapping[str, Any] = field(repr=False)
    k_threshold: float = 0.7
    method: str = "stacking"
    warnings: tuple[str, ...] = ()

    @property
    def table(self) -> pd.DataFrame:
        """The comparison table of the chosen criterion, best model first (a copy)."""
        return (self.loo_table if self.ic == "loo" else self.waic_table).copy()

    @property
    def best(self) -> str:
        """Name of the model with the highest ELPD under the chosen criterion."""
        return str(self.table.index[0])

    @property
    def messages(self) -> tuple[str, ...]:
        """The comparison in sentences, followed by the warnings."""
        return (*_ranking_sentences(self.table, self.ic), *self.warnings)

    def to_frame(self) -> pd.DataFrame:
        """The comparison table with the Pareto k counts joined on (one row per model)."""
        return self.table.join(self.pareto_k)

    def summary(self) -> Summary:
        """Printable comparison: the ranking table, then what it means and any warnings."""
        criterion = "PSIS-LOO" if self.ic == "loo" else "WAIC"
        header = [
            ("Criterion", criterion),
            ("Weights", self.method),
            ("Best model", self.best),
            ("Observations", f"{int(self.pareto_k['n_obs'].iloc[0]):,}"),
        ]
        elpd = f"elpd_{self.ic}"
        cols = ["rank", elpd, f"p_{self.ic}", "elpd_diff", "dse", "se", "weight"]
        table = self.table[cols].join(self.pareto_k[["max_k", "n_above_threshold"]])
        table = table.rename(columns={"n_above_threshold": f"k > {self.k_threshold:g}"})
        notes = [
            "\n".join(textwrap.wrap(m, 96, subsequent_indent="  ", break_on_hyphens=False))
            for m in self.messages
        ]
        return Summary(f"Model comparison ({criterion})", header, table, notes)

    def save(self, out_dir: PathLikeStr) -> dict[str, Path]:
        """Write ``loo.csv``, ``waic.csv``, ``pareto_k.csv`` and ``summary.txt`` atomically.

        Examples
        --------
        >>> import tempfile, arviz as az, sustain
        >>> c = sustain.compare([az.load_arviz_data("centered_eight"),
        ...                      az.load_arviz_data("non_centered_eight")], names=["c", "nc"])
        >>> sorted(c.save(tempfile.mkdtemp()))
        ['loo', 'pareto_k', 'summary', 'waic']
        """
        out = Path(out_dir)
        return {
            "loo": write_text(out / "loo.csv", self.loo_table.to_csv()),
            "waic": write_text(out / "waic.csv", self.waic_table.to_csv()),
            "pareto_k": write_text(out / "pareto_k.csv", self.pareto_k.to_csv()),
            "summary": write_text(out / "summary.txt", str(self) + "\n"),
        }

    def plot(
        self, path: PathLikeStr | None = None, formats: Sequence[ImageFormat] = ("png", "pdf")
    ) -> Figure:
        """ELPD of each model with its standard error and the difference to the best model.

        Examples
        --------
        >>> import arviz as az, matplotlib.pyplot as plt, sustain
        >>> c = sustain.compare([az.load_arviz_data("centered_eight"),
        ...                      az.load_arviz_data("non_centered_eight")], names=["c", "nc"])
        >>> fig = c.plot()
        >>> fig.axes[0].get_xlabel()
        'ELPD (log score)'
        >>> plt.close(fig)
        """
        import arviz as az

        from sustain.diagnostics.plotting import figure_of, finish_figure, house_style

        table = self.table.rename(columns={f"elpd_{self.ic}": "elpd"})
        with house_style():
            pc = az.plot_compare(
                table[["elpd", "se"]],
                relative_scale=False,  # each model's ELPD +- se; the best model's as a band
                rotated=False,  # models down the side (best at the top), ELPD along the bottom
                backend="matplotlib",
                visuals={"ref_band": True, "title": False},
                figure_kwargs={
                    "figsize": (7, 1.2 + 0.6 * len(self.names)),
                    "figsize_units": "inches",
                },
            )
            fig = figure_of(pc)
            ax = fig.axes[0]
            ax.set_xlabel("ELPD (log score)")
            ax.margins(y=0.3)
            fig.set_layout_engine("constrained")
        title = f"Model comparison ({'PSIS-LOO' if self.ic == 'loo' else 'WAIC'})"
        return finish_figure(fig, title, path, formats)


def _ranking_sentences(table: pd.DataFrame, ic: str) -> list[str]:
    best = table.index[0]
    lines = [f"{best} has the highest expected log predictive density ({ic.upper()})."]
    for name, row in table.iloc[1:].iterrows():
        diff, dse = float(row["elpd_diff"]), float(row["dse"])
        ratio = diff / dse if dse > 0 else float("inf")
        verdict = (
            "a clear difference"
            if ratio > DISTINGUISHABLE_SE
            else "within two standard errors, so the data do not clearly separate the models"
        )
        lines.append(f"{name} is worse by {diff:.1f} (se of the difference {dse:.1f}): {verdict}.")
    return lines


def compare(
    models: Sequence[Any] | Mapping[str, Any],
    names: Sequence[str] | None = None,
    ic: InformationCriterion = "loo",
    *,
    method: WeightMethod = "stacking",
    var_name: str | None = None,
    k_threshold: float = 0.7,
) -> Comparison:
    """Compare Bayesian models fitted to the same observations by PSIS-LOO (and WAIC).

    Parameters
    ----------
    models : sequence of results or DataTrees, or mapping name -> result
        At least two models; each needs a ``log_likelihood`` group (pointwise, same
        observations in every model).
    names : sequence of str, optional
        Model names (default: the mapping's keys, else each result's formula when these are
        distinct, else ``model1``, ``model2``, ...).
    ic : {"loo", "waic"}, default "loo"
        Criterion that ranks the models in ``.table``; the other is computed alongside.
    method : {"stacking", "BB-pseudo-BMA", "pseudo-BMA"}, default "stacking"
        How model weights are computed (Yao et al. 2018).
    var_name : str, optional
        Log-likelihood variable to use when a model has several (e.g. a joint model).
    k_threshold : float, default 0.7
        Pareto k above which a :class:`ParetoKWarning` is issued.

    Returns
    -------
    Comparison

    Notes
    -----
    ``elpd_loo = sum_i log p(y_i | y_-i)`` is estimated by Pareto-smoothed importance sampling
    (Vehtari, Gelman and Gabry 2017). The shape k of the Pareto tail fitted to each
    observation's importance ratios tells whether the estimate can be trusted: k <= 0.5 good,
    0.5 < k <= 0.7 still fine, k > 0.7 unreliable (the observation is highly influential; the
    posterior without it differs too much), k > 1 the variance of the estimate is infinite.
    WAIC ``= sum_i log E[p(y_i | theta)] - sum_i Var[log p(y_i | theta)]`` is asymptotically
    equal but less robust (see :func:`waic`). ELPDs are on the log score scale (larger is
    better); ``elpd_diff`` is the best model's ELPD minus this model's (ArviZ 1 reports the
    negative) and ``dse`` its standard error.

    Examples
    --------
    >>> import arviz as az, sustain
    >>> c = sustain.compare([az.load_arviz_data("centered_eight"),
    ...                      az.load_arviz_data("non_centered_eight")], names=["c", "nc"])
    >>> c.best, c.table.columns[:3].tolist()
    ('nc', ['rank', 'elpd_loo', 'p_loo'])
    """
    check_choice("ic", ic, InformationCriterion)
    check_choice("method", method, WeightMethod)
    if not k_threshold > 0:
        raise SpecError(f"k_threshold must be positive, got {k_threshold!r}")
    labels, results = _named_models(models, names)
    idatas = {n: to_inference_data(r) for n, r in zip(labels, results, strict=True)}
    _check_comparable(idatas, var_name)
    loo, waics, messages = _criteria(idatas, var_name, k_threshold)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # already reported per model above
        loo_table = az_compare(loo, "loo", method)
        waic_table = az_compare(waics, "waic", method)
    return Comparison(
        ic=ic,
        names=tuple(labels),
        loo_table=loo_table,
        waic_table=waic_table,
        pareto_k=pd.DataFrame(
            [pareto_counts(np.asarray(loo[n].pareto_k), k_threshold) for n in labels],
            index=pd.Index(labels, name="model"),
            columns=PARETO_COLUMNS,
        ),
        loo=types.MappingProxyType(loo),
        waic=types.MappingProxyType(waics),
        k_threshold=float(k_threshold),
        method=method,
        warnings=tuple(messages),
    )


def az_compare(
    elpd: Mapping[str, Any], ic: InformationCriterion, method: WeightMethod
) -> pd.DataFrame:
    """ArviZ's comparison table from precomputed pointwise ELPD results, in sustain's columns.

    ``az.compare`` ranks by the ELPD it is given (PSIS-LOO, or :func:`waic` wrapped in an
    ``ELPDData``) and computes weights, ``elpd_diff`` and ``dse`` from the pointwise values.
    Its ``elpd`` and ``p`` become ``elpd_<ic>`` and ``p_<ic>``, ``elpd_diff`` keeps sustain's
    sign (best minus model, >= 0), and ``warning`` and ``scale`` are added.
    """
    import arviz as az

    table = az.compare(dict(elpd), method=method, round_to="none")
    table["elpd_diff"] = 0.0 - table["elpd_diff"]  # 0.0 - x: the best model gets 0.0, not -0.0
    table["warning"] = [bool(elpd[str(name)].warning) for name in table.index]
    table["scale"] = [str(elpd[str(name)].scale) for name in table.index]
    table = table[TABLE_COLUMNS + [c for c in EXTRA_COLUMNS if c in table.columns]]
    return table.rename(columns={"elpd": f"elpd_{ic}", "p": f"p_{ic}"})


@dataclass(frozen=True, slots=True)
class WAIC:
    """The widely applicable information criterion of one model, pointwise and summed.

    Attributes
    ----------
    elpd : float
        ``sum_i elpd_i``.
    se : float
        ``sqrt(n * var(elpd_i))``, the standard error of ``elpd``.
    p : float
        Effective number of parameters, ``sum_i p_i``.
    elpd_i, p_i : ndarray, shape (n,)
        Pointwise ELPD and effective number of parameters.
    n_samples : int
        Posterior draws (chains x draws).
    warning : bool
        Whether some ``p_i`` exceeds ``WAIC_VARIANCE_LIMIT`` (WAIC may be unreliable).
    """

    elpd: float
    se: float
    p: float
    elpd_i: np.ndarray
    p_i: np.ndarray
    n_samples: int
    warning: bool


def waic(log_lik: np.ndarray) -> WAIC:
    """WAIC from the pointwise log-likelihood, shape (chains, draws, n) or (draws, n).

    Written here because ArviZ 1 (arviz-stats) removed ``az.waic``; the definition is that of
    Vehtari, Gelman and Gabry (2017) and R's ``loo::waic``.

    Notes
    -----
    With ``S`` draws ``theta_s`` and ``l_is = log p(y_i | theta_s)``:
    ``lppd_i = log((1/S) sum_s exp(l_is))``, ``p_i = var_s(l_is)`` (sample variance, divisor
    ``S - 1``; ArviZ 0.x divided by ``S``, a relative difference of ``1/(S - 1)`` in ``p``),
    ``elpd_i = lppd_i - p_i``, ``elpd = sum_i elpd_i``, ``se = sqrt(n var_i(elpd_i))`` (divisor
    ``n``, as for LOO) and ``p = sum_i p_i``.

    Examples
    --------
    >>> ll = np.log(np.array([[0.2, 0.5], [0.4, 0.5]]))  # 2 draws, 2 observations
    >>> w = waic(ll)
    >>> lppd = np.log([0.3, 0.5]); p_i = np.array([np.log(2) ** 2 / 2, 0.0])
    >>> bool(np.allclose(w.elpd_i, lppd - p_i)), round(w.p, 6), w.warning
    (True, 0.240227, False)
    """
    from scipy.special import logsumexp

    values = np.asarray(log_lik, dtype=float)
    draws = values.reshape(-1, values.shape[-1]) if values.ndim > 1 else values[:, None]
    n_samples, n = draws.shape
    lppd_i = logsumexp(draws, axis=0) - np.log(n_samples)
    p_i = draws.var(axis=0, ddof=1)
    elpd_i = lppd_i - p_i
    return WAIC(
        elpd=float(elpd_i.sum()),
        se=float(np.sqrt(n * elpd_i.var())),
        p=float(p_i.sum()),
        elpd_i=elpd_i,
        p_i=p_i,
        n_samples=int(n_samples),
        warning=bool((p_i > WAIC_VARIANCE_LIMIT).any()),
    )


def _waic_elpd(idata: Any, var: str) -> Any:
    """:func:`waic` of one log-likelihood variable as ArviZ's ``ELPDData`` (for ``az.compare``)."""
    import xarray as xr
    from arviz_stats.utils import ELPDData

    da = idata["log_likelihood"][var]
    obs_dims = [d for d in da.dims if d not in ("chain", "draw")]
    values = np.asarray(da.transpose("chain", "draw", *obs_dims))
    result = waic(values.reshape(values.shape[0] * values.shape[1], -1))
    shape = tuple(da.sizes[d] for d in obs_dims)
    coords = {d: da.coords[d] for d in obs_dims if d in da.coords}
    return ELPDData(
        elpd=result.elpd,
        se=result.se,
        p=result.p,
        n_samples=result.n_samples,
        n_data_points=int(np.prod(shape, dtype=int)),
        scale="log",
        warning=result.warning,
        good_k=cast(float, None),  # no Pareto k for WAIC (ArviZ's k-fold results do the same)
        elpd_i=xr.DataArray(result.elpd_i.reshape(shape), dims=obs_dims, coords=coords),
    )


def pareto_counts(k: np.ndarray, threshold: float = 0.7) -> dict[str, float]:
    """Count Pareto k values in the usual bins.

    Bins: ``good`` k <= 0.5, ``ok`` 0.5 < k <= threshold, ``bad`` threshold < k <= 1,
    ``very_bad`` k > 1 (Vehtari, Gelman and Gabry 2017).

    Examples
    --------
    >>> pareto_counts(np.array([0.1, 0.6, 0.8, 1.2]))
    {'n_obs': 4, 'good': 1, 'ok': 1, 'bad': 1, 'very_bad': 1, 'max_k': 1.2, 'n_above_threshold': 2}
    """
    k = np.asarray(k, dtype=float).reshape(-1)
    low = min(0.5, threshold)
    return {
        "n_obs": int(k.size),
        "good": int((k <= low).sum()),
        "ok": int(((k > low) & (k <= threshold)).sum()),
        "bad": int(((k > threshold) & (k <= 1)).sum()),
        "very_bad": int((k > max(1.0, threshold)).sum()),
        "max_k": float(np.nanmax(k)) if k.size else float("nan"),
        "n_above_threshold": int((k > threshold).sum()),
    }


def _named_models(
    models: Sequence[Any] | Mapping[str, Any], names: Sequence[str] | None
) -> tuple[list[str], list[Any]]:
    if isinstance(models, Mapping):
        labels, results = [str(k) for k in models], list(models.values())
        if names is not None:
            labels = [str(n) for n in names]
    else:
        results = list(models)
        labels = [str(n) for n in names] if names is not None else _default_names(results)
    if len(results) < 2:
        raise SpecError(f"compare needs at least two models, got {len(results)}")
    if len(labels) != len(results):
        raise SpecError(f"got {len(labels)} names for {len(results)} models")
    if len(set(labels)) != len(labels):
        raise SpecError(f"model names must be distinct, got {labels}")
    return labels, results


def _default_names(results: Sequence[Any]) -> list[str]:
    formulas = [getattr(getattr(r, "info", None), "formula", "") for r in results]
    if all(formulas) and len(set(formulas)) == len(formulas):
        return [str(f) for f in formulas]
    return [f"model{i + 1}" for i in range(len(results))]


def _log_lik_var(idata: Any, name: str, var_name: str | None) -> str:
    if "log_likelihood" not in idata.children:
        raise SpecError(
            f"model {name!r} has no log_likelihood group; refit storing the pointwise "
            "log-likelihood (PyMC: pymc.compute_log_likelihood(idata))"
        )
    available = [str(v) for v in idata["log_likelihood"].data_vars]
    if var_name is not None:
        if var_name not in available:
            raise SpecError(f"model {name!r} has no log-likelihood {var_name!r}: {available}")
        return var_name
    if len(available) != 1:
        raise SpecError(
            f"model {name!r} has several log-likelihood variables {available}; choose one "
            "with var_name="
        )
    return available[0]


def _check_comparable(idatas: Mapping[str, Any], var_name: str | None) -> None:
    sizes = {}
    for name, idata in idatas.items():
        var = _log_lik_var(idata, name, var_name)
        da = idata["log_likelihood"][var]
        sizes[name] = int(np.prod([da.sizes[d] for d in da.dims if d not in ("chain", "draw")]))
    if len(set(sizes.values())) > 1:
        raise SpecError(
            "models must be fitted to the same observations to be compared; pointwise "
            f"log-likelihood sizes differ: {sizes}"
        )


def _criteria(
    idatas: Mapping[str, Any], var_name: str | None, k_threshold: float
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    import arviz as az

    loo, waics, messages = {}, {}, []
    for name, idata in idatas.items():
        var = _log_lik_var(idata, name, var_name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # re-issued below, naming the model
            loo[name] = az.loo(idata, pointwise=True, var_name=var)
            waics[name] = _waic_elpd(idata, var)
        counts = pareto_counts(np.asarray(loo[name].pareto_k), k_threshold)
        if counts["n_above_threshold"]:
            messages.append(_pareto_message(name, counts, k_threshold))
            warnings.warn(messages[-1], ParetoKWarning, stacklevel=3)
        if bool(waics[name].warning):
            messages.append(
                f"WAIC of {name}: the posterior variance of the log predictive density exceeds "
                f"{WAIC_VARIANCE_LIMIT:g} for some observations, so WAIC may be unreliable; "
                "prefer PSIS-LOO."
            )
            warnings.warn(messages[-1], WAICWarning, stacklevel=3)
    return loo, waics, messages


def _pareto_message(name: str, counts: Mapping[str, float], threshold: float) -> str:
    n = int(counts["n_above_threshold"])
    obs = "observation" if n == 1 else "observations"
    return (
        f"PSIS-LOO of {name}: {n} {obs} with Pareto k > {threshold:g} (max {counts['max_k']:.2f}); "
        "the LOO estimate is unreliable for them. They are highly influential: check them for "
        "outliers, consider a more robust model (e.g. family='student_t'), or use K-fold "
        "cross-validation."
    )
