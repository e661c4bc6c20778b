"""Turn one fitted result into the cells of its table column.

Frequentist columns show the coefficient with significance stars and, beneath it, the standard
error, the t/z statistic or the confidence interval. Bayesian columns show the posterior mean
and a credible interval (equal-tailed or highest-density) and never carry stars: a p-value
threshold has no meaning for a posterior. Hazard and odds ratios are exponentiated from the
log scale, intervals included (computed on the log scale, then exponentiated).

The numbers are computed by pure functions (:func:`significance_stars`, :func:`format_number`,
:func:`frequentist_cells`, :func:`bayesian_cells`, :func:`sustain.diagnostics.headline.headline_problems`);
:func:`build_column` only reads the result through the protocol of :mod:`sustain.results`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from sustain.diagnostics.headline import headline_problems, headline_stats
from sustain.options import IntervalKind
from sustain.presentation.terms import duration_form, exp_name, is_variance_term
from sustain.tables.table import Cell

Statistic = Literal["se", "t", "ci"]

# Convergence thresholds of Vehtari et al. (2021), the ones sustain.diagnose uses by default.


@dataclass(frozen=True)
class ColumnOptions:
    """How to present the cells of every column (validated by :func:`regression_table`).

    Attributes
    ----------
    statistic : {"se", "t", "ci"}
        What frequentist columns show beneath the estimate.
    stars : tuple of float
        P-value thresholds, largest first; one star per threshold the p-value is below.
    alpha : float
        ``1 - alpha`` is the mass of confidence and credible intervals.
    interval : {"eti", "hdi"}
        Kind of Bayesian credible interval.
    digits : int
        Decimal places of estimates.
    show_duration : bool
        Show the duration-dependence terms of discrete-time hazard models (by default they
        are hidden and summarised by a *Duration dependence* row).
    """

    statistic: Statistic = "se"
    stars: tuple[float, ...] = (0.1, 0.05, 0.01)
    alpha: float = 0.05
    interval: IntervalKind = "eti"
    digits: int = 3
    show_duration: bool = False


@dataclass(frozen=True)
class ModelColumn:
    """Everything one result contributes to a regression table.

    Attributes
    ----------
    title, depvar : str
        Model label and dependent variable (not yet relabelled).
    inference : {"frequentist", "bayesian"}
    scale : str
        ``"Coef."``, ``"HR"``, ``"OR"`` or ``"Mean"`` (what the estimate row holds).
    cells : mapping
        ``term -> (estimate cell, detail cell)`` in the model's term order.
    effects, cluster : tuple of str
        Absorbed fixed effects and clustering variables.
    cov_type : str
    groups : mapping
        Distinct units per grouping variable.
    nobs : int
    stats : mapping
        Fit statistics (for Bayesian models including ``rhat_max``, ``ess_bulk_min`` and
        ``divergences``).
    problems : tuple of str
        Failed convergence checks, empty when the model passed.
    z_statistic : bool
        Whether frequentist inference uses the normal (z) rather than the t distribution.
    duration : str
        ``"Dummies"`` or ``"Spline"`` when hidden duration terms stand behind the estimates,
        else ``""``.
    """

    title: str
    depvar: str
    inference: str
    scale: str
    cells: Mapping[str, tuple[Cell, Cell]]
    effects: tuple[str, ...]
    cluster: tuple[str, ...]
    cov_type: str
    groups: Mapping[str, int]
    nobs: int
    stats: Mapping[str, float]
    problems: tuple[str, ...] = ()
    z_statistic: bool = False
    duration: str = ""


def significance_stars(p: float, thresholds: Sequence[float]) -> str:
    """One star for each threshold the p-value lies below (missing p: no stars).

    Examples
    --------
    >>> significance_stars(0.03, (0.1, 0.05, 0.01))
    '**'
    >>> significance_stars(0.2, (0.1, 0.05, 0.01)), significance_stars(float("nan"), (0.1,))
    ('', '')
    """
    if p is None or not np.isfinite(p):
        return ""
    return "*" * sum(p < t for t in thresholds)


def format_number(value: float, digits: int) -> str:
    """Fixed decimals; values too small to show that way use two significant digits.

    Missing values give an empty string; the sign is a plain hyphen-minus (renderers
    typeset it).

    Examples
    --------
    >>> format_number(-0.51234, 3), format_number(0.0000123, 3), format_number(float("nan"), 3)
    ('-0.512', '1.2e-05', '')
    """
    if value is None or not np.isfinite(value):
        return ""
    if value != 0 and abs(value) < 0.5 * 10.0**-digits:
        return f"{value:.1e}"
    text = f"{value:.{digits}f}"
    return "0." + "0" * digits if text == "-0." + "0" * digits else text


def format_interval(low: float, high: float, digits: int) -> str:
    """``[low, high]`` with :func:`format_number`.

    Examples
    --------
    >>> format_interval(-0.1, 0.25, 2)
    '[-0.10, 0.25]'
    """
    return f"[{format_number(low, digits)}, {format_number(high, digits)}]"


def frequentist_cells(
    tidy: pd.DataFrame, options: ColumnOptions, exponentiated: bool = False
) -> dict[str, tuple[Cell, Cell]]:
    """Estimate (with stars) and detail cells of a frequentist tidy frame.

    ``tidy`` has the columns of :meth:`sustain.results.FrequentistResults.tidy`, already
    exponentiated when ``exponentiated``; then the detail line is the exponentiated interval
    unless the t statistic is asked for (a standard error on the ratio scale would mislead).

    Examples
    --------
    >>> tidy = pd.DataFrame({"term": ["hhi"], "estimate": [-0.5], "std_error": [0.2],
    ...     "statistic": [-2.5], "p_value": [0.012], "conf_low": [-0.9], "conf_high": [-0.1]})
    >>> frequentist_cells(tidy, ColumnOptions())["hhi"]
    (Cell(text='-0.500', sup='**'), Cell(text='(0.200)', sup=''))
    """
    d = options.digits
    out: dict[str, tuple[Cell, Cell]] = {}
    for row in tidy.itertuples(index=False):
        stars = significance_stars(float(row.p_value), options.stars)
        estimate = Cell(format_number(float(row.estimate), d), stars)
        if options.statistic == "t":
            detail = f"({format_number(float(row.statistic), 2)})"
        elif options.statistic == "ci" or exponentiated:
            detail = format_interval(float(row.conf_low), float(row.conf_high), d)
        else:
            detail = f"({format_number(float(row.std_error), d)})"
        out[str(row.term)] = (estimate, Cell(detail))
    return out


def bayesian_cells(tidy: pd.DataFrame, digits: int) -> dict[str, tuple[Cell, Cell]]:
    """Posterior mean and ``[lower, upper]`` credible interval cells; never stars.

    Examples
    --------
    >>> tidy = pd.DataFrame({"term": ["hhi"], "estimate": [-0.5], "conf_low": [-0.9],
    ...                      "conf_high": [-0.1]})
    >>> bayesian_cells(tidy, 2)["hhi"]
    (Cell(text='-0.50', sup=''), Cell(text='[-0.90, -0.10]', sup=''))
    """
    return {
        str(row.term): (
            Cell(format_number(float(row.estimate), digits)),
            Cell(format_interval(float(row.conf_low), float(row.conf_high), digits)),
        )
        for row in tidy.itertuples(index=False)
    }


def _diagnose_problems(result: Any) -> tuple[str, ...]:
    """Verdict of ``sustain.diagnose`` for fits whose statistics lack convergence numbers.

    Fitters record ``rhat_max`` and ``ess_bulk_min`` in ``info.stats``; a result without them
    (e.g. built by hand from draws) is checked over all its posterior variables.
    """
    recorded = result.info.stats
    if "rhat_max" in recorded and "ess_bulk_min" in recorded:
        return ()
    try:
        from sustain.diagnostics import diagnose
    except ImportError:  # diagnostics not installed: the summary statistics decide alone
        return ()
    verdict = diagnose(result)
    return () if verdict.ok else (f"sustain.diagnose failed: {', '.join(verdict.failed)}",)


def build_column(result: Any, options: ColumnOptions, exponentiate: bool) -> ModelColumn:
    """Cells, statistics and diagnostics of one result.

    Parameters
    ----------
    result : sustain.results.Results
        A frequentist or Bayesian result following sustain's result protocol.
    options : ColumnOptions
    exponentiate : bool
        Show exponentiated coefficients (hazard or odds ratios) for this model.

    Examples
    --------
    >>> from sustain.results import FrequentistResults, ModelInfo
    >>> p = pd.Series({"hhi": 0.4})
    >>> cov = pd.DataFrame([[0.01]], index=["hhi"], columns=["hhi"])
    >>> info = ModelInfo("Hazard", "hazard", "exit", "exit ~ hhi", 100, link="cloglog")
    >>> col = build_column(FrequentistResults(p, cov, info), ColumnOptions(), exponentiate=True)
    >>> col.scale, col.cells["hhi"][0]
    ('HR', Cell(text='1.492', sup='***'))
    """
    info = result.info
    scale = exp_name(info) if exponentiate else None
    if result.inference == "bayesian":
        tidy = result.tidy(options.alpha, kind=options.interval)
        if exponentiate:
            tidy = _exponentiate_coefficients(
                tidy, result.tidy(options.alpha, True, options.interval)
            )
        cells = bayesian_cells(tidy, options.digits)
        stats = headline_stats(result, tidy)
        problems = headline_problems(stats) + _diagnose_problems(result)
    else:
        tidy = result.tidy(options.alpha, exponentiate=exponentiate)
        cells = frequentist_cells(tidy, options, exponentiated=exponentiate)
        stats = {str(k): float(v) for k, v in info.stats.items() if _numeric(v)}
        problems = ()
    hidden = () if options.show_duration else tuple(getattr(result, "duration_terms", ()))
    if exponentiate:  # exp(intercept) is a baseline rate, not a ratio: left out like Stata's eform
        hidden += ("Intercept",)
    cells = {t: c for t, c in cells.items() if t not in hidden}
    if info.estimator == "within":  # the within R² is the one that matters; R² repeats it
        stats.pop("r2", None)
    return ModelColumn(
        title=str(info.model),
        depvar=str(info.depvar),
        inference=str(result.inference),
        scale=scale or ("Mean" if result.inference == "bayesian" else "Coef."),
        cells=cells,
        effects=tuple(info.effects),
        cluster=tuple(info.cluster),
        cov_type=str(info.cov_type),
        groups=dict(info.groups),
        nobs=int(result.nobs),
        stats=stats,
        problems=problems,
        z_statistic=getattr(result, "df_resid", 0) is None,
        duration=duration_form([t for t in hidden if t != "Intercept"]),
    )


def _exponentiate_coefficients(plain: pd.DataFrame, exp: pd.DataFrame) -> pd.DataFrame:
    """Exponentiated rows for coefficients, plain rows for scale and group-level terms."""
    keep_plain = plain["term"].map(is_variance_term).to_numpy()
    out = exp.copy()
    cols = ["estimate", "conf_low", "conf_high"]
    out.loc[keep_plain, cols] = plain.loc[keep_plain, cols].to_numpy()
    return out


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
