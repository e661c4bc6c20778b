"""The result protocol shared by every model family.

Every fitted model returns a frozen result exposing ``.params``, ``.bse``, ``.nobs``,
``.conf_int()``, ``.summary()`` and ``.tidy()`` plus ``.info`` (a :class:`ModelInfo` that tables
read: estimator, absorbed effects, clustering, fit statistics). Frequentist results derive
standard errors, test statistics and intervals from a parameter covariance matrix; Bayesian
results derive them from posterior draws (see :mod:`sustain.models.bayes`).

Results never change after fitting: a different covariance estimator gives a new result
(``dataclasses.replace``), as statsmodels' ``get_robustcov_results`` does.
"""

from __future__ import annotations

import abc
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from scipy import stats

from sustain._typing import PathLikeStr

TIDY_COLUMNS = ["term", "estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high"]
#: Quantiles whose indicator ESS is the tail ESS (Vehtari et al. 2021, Stan, ArviZ 0.x). ArviZ 1
#: would otherwise take ``p`` and ``1 - p`` from its ``stats.ci_prob`` setting (0.89: the 11%
#: and 89% quantiles).
TAIL_ESS_PROBS = (0.05, 0.95)


@dataclass(frozen=True)
class ModelInfo:
    """What a table or report needs to know about a fitted model besides its coefficients.

    Attributes
    ----------
    model : str
        Short human label, e.g. ``"Two-way FE"``, ``"Hazard (cloglog)"``, ``"Cox PH"``.
    estimator : str
        Machine name: ``within``, ``random``, ``first_difference``, ``between``, ``pooled``,
        ``hazard``, ``cox``, ``bayes`` or ``joint``.
    depvar : str
        Dependent variable (for survival models the event indicator).
    formula : str
        The formula as the user wrote it.
    nobs : int
        Observations used in the fit.
    groups : Mapping[str, int]
        Number of distinct units per grouping variable, e.g. ``{"agency_id": 512}``.
    effects : tuple of str
        Absorbed fixed effects, e.g. ``("agency_id", "year")``; tables print indicator rows.
    cov_type : str
        Covariance estimator (``unadjusted``, ``robust``, ``clustered``, ``driscoll_kraay``)
        or ``"posterior"`` for Bayesian models.
    cluster : tuple of str
        Clustering variables, if any.
    stats : Mapping[str, float]
        Fit statistics such as ``r2_within``, ``r2_between``, ``r2_overall``, ``loglik``,
        ``aic``, ``bic``, ``n_events``, ``rhat_max``, ``ess_bulk_min``.
    link : str or None
        Link function for models whose coefficients may be exponentiated.
    exp_name : str or None
        Name of exponentiated coefficients (``"HR"``, ``"OR"``) or ``None`` if meaningless.
    notes : tuple of str
        Messages worth showing to the user (dropped collinear variables, warnings).

    Examples
    --------
    >>> info = ModelInfo(model="OLS", estimator="pooled", depvar="y", formula="y ~ x", nobs=10)
    >>> info.nobs
    10
    """

    model: str
    estimator: str
    depvar: str
    formula: str
    nobs: int
    groups: Mapping[str, int] = field(default_factory=dict)
    effects: tuple[str, ...] = ()
    cov_type: str = ""
    cluster: tuple[str, ...] = ()
    stats: Mapping[str, float] = field(default_factory=dict)
    link: str | None = None
    exp_name: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Summary:
    """A printable model summary: header items, a coefficient table and notes.

    ``str(summary)`` gives fixed-width text, ``summary.as_html()`` an HTML fragment (used by
    notebooks through ``_repr_html_``).

    Examples
    --------
    >>> import pandas as pd
    >>> s = Summary("OLS", [("Observations", "10")], pd.DataFrame({"estimate": [1.0]}, index=["x"]))
    >>> "Observations" in str(s)
    True
    """

    title: str
    header: Sequence[tuple[str, str]]
    table: pd.DataFrame
    notes: Sequence[str] = ()

    def as_text(self, digits: int = 4) -> str:
        """Fixed-width text rendering."""
        table = _format_numbers(self.table, digits)
        body = table.to_string()
        width = max(len(line) for line in body.splitlines()) if body else 40
        width = max(width, len(self.title), 40)
        rule = "=" * width
        lines = [self.title.center(width), rule]
        if self.header:
            key_width = max(len(k) for k, _ in self.header)
            lines += [f"{k:<{key_width}}  {v}" for k, v in self.header]
            lines.append("-" * width)
        lines.append(body)
        lines.append(rule)
        lines += list(self.notes)
        return "\n".join(lines)

    def as_html(self, digits: int = 4) -> str:
        """HTML fragment with a header table, the coefficient table and notes."""
        head = "".join(
            f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in self.header
        )
        table = _format_numbers(self.table, digits).to_html(border=0)
        notes = "".join(f"<p>{html.escape(n)}</p>" for n in self.notes)
        return (
            f"<div class='sustain-summary'><h4>{html.escape(self.title)}</h4>"
            f"<table>{head}</table>{table}{notes}</div>"
        )

    def __str__(self) -> str:
        return self.as_text()

    def _repr_html_(self) -> str:
        return self.as_html()


def _format_numbers(table: pd.DataFrame, digits: int) -> pd.DataFrame:
    out = table.copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].map(lambda v: "" if pd.isna(v) else f"{v:.{digits}f}")
    return out


class SummaryMixin(abc.ABC):
    """Give a result ``__str__`` and ``_repr_html_`` from its ``summary()``."""

    @abc.abstractmethod
    def summary(self) -> Summary:
        """The printable summary of the result."""

    def __str__(self) -> str:
        return self.summary().as_text()

    def _repr_html_(self) -> str:
        return self.summary().as_html()


class SaveMixin:
    """Give a result ``save(path)``: a NetCDF file that :func:`sustain.load_result` reads back."""

    def save(self, path: PathLikeStr) -> Path:
        """Write the result to ``path`` (NetCDF, conventionally ``.nc``) and return the path.

        The same result saved twice gives byte-identical files; see
        :func:`sustain.persistence.save_result` for what is kept.

        Examples
        --------
        >>> import tempfile, pathlib, sustain
        >>> km = sustain.kaplan_meier(sustain.build_panel(sustain.datasets.example()))
        >>> path = km.save(pathlib.Path(tempfile.mkdtemp()) / "km.nc")
        >>> sustain.load_result(path).table.equals(km.table)
        True
        """
        from sustain.persistence import save_result

        return save_result(self, path)


class Results(SaveMixin, SummaryMixin):
    """Abstract protocol of every fitted model (frequentist or Bayesian).

    Subclasses provide ``params``, ``bse``, ``nobs``, ``info``, ``conf_int`` and ``tidy``.
    """

    inference: ClassVar[Literal["frequentist", "bayesian"]]
    info: ModelInfo

    @property
    @abc.abstractmethod
    def params(self) -> pd.Series:
        """Point estimates by term."""

    @property
    @abc.abstractmethod
    def bse(self) -> pd.Series:
        """Standard errors (posterior standard deviations) by term."""

    @property
    def nobs(self) -> int:
        return int(self.info.nobs)

    @abc.abstractmethod
    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Intervals by term (confidence or credible)."""

    @abc.abstractmethod
    def tidy(self, alpha: float = 0.05, exponentiate: bool = False) -> pd.DataFrame:
        """One row per term: estimate, error, interval and test statistics."""

    def _header(self) -> list[tuple[str, str]]:
        info = self.info
        items = [("Model", info.model), ("Dependent variable", info.depvar)]
        items.append(("Observations", f"{info.nobs:,}"))
        items += [(f"Groups ({k})", f"{v:,}") for k, v in info.groups.items()]
        if info.effects:
            items.append(("Absorbed effects", ", ".join(info.effects)))
        if info.cov_type:
            cov = info.cov_type + (f" by {', '.join(info.cluster)}" if info.cluster else "")
            items.append(("Covariance", cov))
        items += [(k, _format_stat(v)) for k, v in info.stats.items()]
        return items


def _format_stat(value: float) -> str:
    if isinstance(value, int | np.integer) or (
        isinstance(value, float) and value.is_integer() and abs(value) >= 100
    ):
        return f"{int(value):,}"
    return f"{value:.4g}"


@dataclass(frozen=True, eq=False)
class FrequentistResults(Results):
    """A frequentist fit: point estimates and their covariance matrix.

    Parameters
    ----------
    params_ : Series
        Estimates indexed by term name.
    cov : DataFrame
        Parameter covariance, indexed and columned by term name.
    info : ModelInfo
        Model description for tables and summaries.
    df_resid : float or None
        Residual degrees of freedom for t-based inference; ``None`` uses the normal
        distribution (large-sample z statistics).
    pieces : object
        What the fit keeps to recompute without refitting (the transformed regression of a
        panel model, the design, scores and bread of a hazard model, the risk sets of a Cox
        model): arrays, never a copy of the user's data frame.

    Examples
    --------
    >>> import pandas as pd
    >>> p = pd.Series({"x": 2.0})
    >>> cov = pd.DataFrame([[0.25]], index=["x"], columns=["x"])
    >>> info = ModelInfo(model="OLS", estimator="pooled", depvar="y", formula="y ~ x", nobs=50)
    >>> r = FrequentistResults(p, cov, info)
    >>> float(r.bse["x"])
    0.5
    >>> r.conf_int().round(3).values.tolist()
    [[1.02, 2.98]]
    """

    params_: pd.Series
    cov: pd.DataFrame
    info: ModelInfo
    df_resid: float | None = None
    pieces: Any = field(default=None, repr=False)

    inference: ClassVar[Literal["frequentist", "bayesian"]] = "frequentist"

    @property
    def params(self) -> pd.Series:
        return self.params_.rename("params")

    @property
    def bse(self) -> pd.Series:
        return pd.Series(
            np.sqrt(np.diag(self.cov.to_numpy())), index=self.params_.index, name="bse"
        )

    @property
    def tvalues(self) -> pd.Series:
        return (self.params / self.bse).rename("tvalues")

    @property
    def pvalues(self) -> pd.Series:
        t = np.abs(self.tvalues.to_numpy())
        if self.df_resid is None:
            p = 2 * stats.norm.sf(t)
        else:
            p = 2 * stats.t.sf(t, self.df_resid)
        return pd.Series(p, index=self.params_.index, name="pvalues")

    def _critical(self, alpha: float) -> float:
        if self.df_resid is None:
            return float(stats.norm.ppf(1 - alpha / 2))
        return float(stats.t.ppf(1 - alpha / 2, self.df_resid))

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Wald confidence intervals with columns ``lower`` and ``upper``."""
        q = self._critical(alpha)
        return pd.DataFrame(
            {"lower": self.params - q * self.bse, "upper": self.params + q * self.bse},
            index=self.params_.index,
        )

    def tidy(self, alpha: float = 0.05, exponentiate: bool = False) -> pd.DataFrame:
        """One row per term: estimate, standard error, statistic, p-value and interval.

        With ``exponentiate=True`` the estimate and interval are exponentiated (interval
        computed on the coefficient scale, then exponentiated); the standard error stays on
        the coefficient scale.
        """
        ci = self.conf_int(alpha)
        out = pd.DataFrame(
            {
                "term": self.params_.index,
                "estimate": self.params.to_numpy(),
                "std_error": self.bse.to_numpy(),
                "statistic": self.tvalues.to_numpy(),
                "p_value": self.pvalues.to_numpy(),
                "conf_low": ci["lower"].to_numpy(),
                "conf_high": ci["upper"].to_numpy(),
            }
        )
        if exponentiate:
            for col in ("estimate", "conf_low", "conf_high"):
                out[col] = np.exp(out[col])
        return out

    def summary(self, alpha: float = 0.05) -> Summary:
        tidy = self.tidy(alpha).set_index("term")
        stat = "t" if self.df_resid is not None else "z"
        tidy.columns = ["coef", "std err", stat, "P>|" + stat + "|", "[lower", "upper]"]
        if self.info.exp_name:
            tidy.insert(1, self.info.exp_name, np.exp(tidy["coef"]))
        return Summary(self.info.model + " results", self._header(), tidy, self.info.notes)


@dataclass(frozen=True, eq=False)
class BayesianResults(Results):
    """A Bayesian fit summarised from posterior draws.

    ``params`` is the posterior mean and ``bse`` the posterior standard deviation of each
    reported scalar parameter (population-level terms first, then scale and group-level
    parameters); ``conf_int`` gives equal-tailed (default) or highest-density intervals.

    Parameters
    ----------
    idata : xarray.DataTree
        ArviZ's container of groups (ArviZ >= 1): ``idata.posterior`` and, when drawn,
        ``prior``, ``posterior_predictive``, ``log_likelihood`` and ``sample_stats``.
    terms : tuple of str
        Names of the scalar posterior variables to report, in order.
    info : ModelInfo
        Model description; ``stats`` may carry ``rhat_max`` and ``ess_bulk_min``.
    interval : {"eti", "hdi"}
        Default interval type of :meth:`conf_int`.

    Examples
    --------
    >>> import arviz as az, numpy as np
    >>> rng = np.random.default_rng(0)
    >>> idata = az.from_dict({"posterior": {"x": rng.normal(1, 0.1, (2, 500))}})
    >>> info = ModelInfo(model="Bayes", estimator="bayes", depvar="y", formula="y ~ x", nobs=20)
    >>> r = BayesianResults(idata, ("x",), info)
    >>> round(float(r.params["x"]), 1), round(float(r.bse["x"]), 1)
    (1.0, 0.1)
    """

    idata: Any
    terms: tuple[str, ...]
    info: ModelInfo
    interval: Literal["eti", "hdi"] = "eti"

    inference: ClassVar[Literal["frequentist", "bayesian"]] = "bayesian"

    def draws(self, term: str) -> np.ndarray:
        """Flattened posterior draws (chains x draws) of one scalar term."""
        return np.asarray(self.idata.posterior[term]).reshape(-1)

    @property
    def params(self) -> pd.Series:
        return pd.Series(
            [float(self.draws(t).mean()) for t in self.terms], index=list(self.terms), name="params"
        )

    @property
    def bse(self) -> pd.Series:
        return pd.Series(
            [float(self.draws(t).std(ddof=1)) for t in self.terms],
            index=list(self.terms),
            name="bse",
        )

    def conf_int(
        self, alpha: float = 0.05, kind: Literal["eti", "hdi"] | None = None
    ) -> pd.DataFrame:
        """Posterior credible intervals (``lower``, ``upper``) of mass ``1 - alpha``."""
        kind = kind or self.interval
        rows = []
        for t in self.terms:
            x = self.draws(t)
            if kind == "hdi":
                rows.append(_hdi(x, 1 - alpha))
            else:
                rows.append(tuple(np.quantile(x, [alpha / 2, 1 - alpha / 2])))
        return pd.DataFrame(rows, index=list(self.terms), columns=["lower", "upper"])

    def tidy(
        self,
        alpha: float = 0.05,
        exponentiate: bool = False,
        kind: Literal["eti", "hdi"] | None = None,
    ) -> pd.DataFrame:
        """One row per term: posterior mean, sd, interval, R-hat and bulk/tail ESS.

        With ``exponentiate=True`` the mean and interval are of ``exp(term)`` draws.
        """
        import arviz as az

        ci = self.conf_int(alpha, kind)
        post = self.idata["posterior"].to_dataset()[list(self.terms)]
        rhat = az.rhat(post)
        ess_bulk = az.ess(post, method="bulk")
        ess_tail = az.ess(post, method="tail", prob=TAIL_ESS_PROBS)
        out = pd.DataFrame(
            {
                "term": list(self.terms),
                "estimate": self.params.to_numpy(),
                "std_error": self.bse.to_numpy(),
                "statistic": np.nan,
                "p_value": np.nan,
                "conf_low": ci["lower"].to_numpy(),
                "conf_high": ci["upper"].to_numpy(),
                "rhat": [float(rhat[t]) for t in self.terms],
                "ess_bulk": [float(ess_bulk[t]) for t in self.terms],
                "ess_tail": [float(ess_tail[t]) for t in self.terms],
            }
        )
        if exponentiate:
            out["estimate"] = [float(np.exp(self.draws(t)).mean()) for t in self.terms]
            out["conf_low"] = np.exp(out["conf_low"])
            out["conf_high"] = np.exp(out["conf_high"])
        return out

    def summary(self, alpha: float = 0.05) -> Summary:
        tidy = self.tidy(alpha).set_index("term").drop(columns=["statistic", "p_value"])
        pct = f"{100 * (1 - alpha):g}%"
        tidy.columns = [
            "mean",
            "sd",
            f"{pct} lower",
            f"{pct} upper",
            "R-hat",
            "ESS bulk",
            "ESS tail",
        ]
        return Summary(self.info.model + " posterior", self._header(), tidy, self.info.notes)


def _hdi(x: np.ndarray, mass: float) -> tuple[float, float]:
    """Narrowest interval holding ``mass`` of the draws (unimodal posteriors)."""
    s = np.sort(x)
    n = len(s)
    k = max(int(np.floor(mass * n)), 1)
    widths = s[k:] - s[: n - k]
    i = int(np.argmin(widths))
    return float(s[i]), float(s[i + k])
