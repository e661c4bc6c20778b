"""Coefficient plot: estimates and intervals of several models, term by term.

Each term gets a row; each model a colour and marker, dodged vertically within the row.
Frequentist models show the estimate with its Wald confidence interval, Bayesian models the
posterior mean with an equal-tailed or highest-density credible interval. With
``exponentiate=True`` hazard and odds ratios are drawn on a log axis around 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sustain._typing import PathLikeStr
from sustain.errors import SpecError
from sustain.figures.style import ImageFormat, figure_style, finish, series_style
from sustain.options import IntervalKind
from sustain.presentation.labels import LabelSource, load_labels, term_label
from sustain.presentation.language import Language, check_language, translate
from sustain.presentation.terms import exp_name, is_variance_term

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

DODGE = 0.6  # share of a row's height taken by the dodged models


def as_results(results: Any, what: str) -> list[Any]:
    """A list of fitted results from one result or a sequence (clear error otherwise).

    Examples
    --------
    >>> as_results([], "coef_plot")
    Traceback (most recent call last):
    ...
    sustain.errors.SpecError: coef_plot needs at least one fitted result
    """
    items = [results] if hasattr(results, "info") else list(results)
    if not items:
        raise SpecError(f"{what} needs at least one fitted result")
    for i, item in enumerate(items, 1):
        if not hasattr(item, "info") or not hasattr(item, "tidy"):
            raise SpecError(
                f"{what} takes fitted sustain results; item {i} is a {type(item).__name__}"
            )
    return items


def legend_names(
    results: Sequence[Any], names: Sequence[str] | None, language: str = "en"
) -> list[str]:
    """Legend names: ``(i) model`` (in ``language``) unless given.

    Examples
    --------
    >>> legend_names([1, 2], ["FE", "Bayes"])
    ['FE', 'Bayes']
    """
    if names is None:
        return [
            f"({i}) {translate(r.info.model, language)}"  # type: ignore[arg-type]
            for i, r in enumerate(results, 1)
        ]
    if len(names) != len(results):
        raise SpecError(f"model_names has {len(names)} entries for {len(results)} models")
    return [str(n) for n in names]


def interval_frame(
    result: Any, alpha: float, interval: IntervalKind, exponentiate: bool
) -> pd.DataFrame:
    """Estimate and interval of every term of one result (columns term, estimate, low, high).

    Bayesian intervals are of the requested kind; exponentiated estimates keep scale and
    group-level terms on their own scale.
    """
    if result.inference == "bayesian":
        tidy = result.tidy(alpha, exponentiate=exponentiate, kind=interval)
        if exponentiate:
            plain = result.tidy(alpha, kind=interval).set_index("term")
            variance = tidy["term"].map(is_variance_term).to_numpy()
            cols = ["estimate", "conf_low", "conf_high"]
            tidy.loc[variance, cols] = plain.loc[tidy["term"][variance], cols].to_numpy()
    else:
        tidy = result.tidy(alpha, exponentiate=exponentiate)
    return pd.DataFrame(
        {
            "term": tidy["term"].astype(str),
            "estimate": tidy["estimate"].to_numpy(float),
            "low": tidy["conf_low"].to_numpy(float),
            "high": tidy["conf_high"].to_numpy(float),
        }
    )


def default_terms(results: Sequence[Any]) -> list[str]:
    """Terms worth plotting: every coefficient except intercepts and duration terms."""
    out: list[str] = []
    for result in results:
        hidden = set(getattr(result, "duration_terms", ()))
        for term in result.params.index:
            if term != "Intercept" and term not in hidden and not is_variance_term(term):
                out += [term] if term not in out else []
    return out


def log_axis(ax: Any) -> None:
    """Logarithmic x axis labelled with plain numbers (0.5, 1, 2, 5, ...)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def top_legend(ax: Any, n_series: int) -> None:
    """Legend in one row above the axes (only when there is more than one series)."""
    if n_series > 1:
        ax.legend(
            loc="lower left",
            bbox_to_anchor=(0.0, 1.01),
            ncols=min(n_series, 3),
            borderaxespad=0.2,
            handletextpad=0.3,
            columnspacing=1.2,
        )


def _flags(results: Sequence[Any], exponentiate: bool) -> list[bool]:
    if not exponentiate:
        return [False] * len(results)
    lacking = [f"({i}) {r.info.model}" for i, r in enumerate(results, 1) if not exp_name(r.info)]
    if lacking:
        raise SpecError(
            f"exponentiate=True but {', '.join(lacking)} have no hazard/odds-ratio scale; "
            "plot ratio models and linear models separately"
        )
    return [True] * len(results)


def _draw(ax: Any, frames: list[pd.DataFrame], names: list[str], terms: list[str]) -> None:
    k = len(frames)
    offsets = np.linspace(-DODGE / 2, DODGE / 2, k) if k > 1 else np.zeros(1)
    for i, (frame, name) in enumerate(zip(frames, names, strict=True)):
        rows = frame.set_index("term").reindex(terms)
        y = np.arange(len(terms)) + offsets[i]
        ok = rows["estimate"].notna().to_numpy()
        est = rows["estimate"].to_numpy(float)[ok]
        err = np.vstack(
            [est - rows["low"].to_numpy(float)[ok], rows["high"].to_numpy(float)[ok] - est]
        )
        style = series_style(i)
        ax.errorbar(
            est,
            y[ok],
            xerr=err,
            fmt=style["marker"],
            color=style["color"],
            markersize=4.5,
            elinewidth=1.2,
            capsize=0,
            label=name,
        )


def coef_plot(
    results: Any,
    terms: Sequence[str] | None = None,
    *,
    labels: LabelSource = None,
    language: Language = "en",
    rename: Mapping[str, str] | None = None,
    model_names: Sequence[str] | None = None,
    exponentiate: bool = False,
    alpha: float = 0.05,
    interval: IntervalKind = "eti",
    title: str | None = None,
    path: PathLikeStr | None = None,
    formats: Sequence[ImageFormat] = ("png", "pdf"),
) -> Figure:
    """Coefficient plot of several models (frequentist and Bayesian) side by side.

    Parameters
    ----------
    results : result or sequence of results
    terms : sequence of str, optional
        Terms to show, top to bottom (default: every coefficient except intercepts,
        duration terms and scale or group-level parameters).
    labels : mapping, path, "en" or "zh", optional
        Variable labels (see :func:`sustain.tables.load_labels`).
    language : {"en", "zh"}
        Language of the axis title, model names and default labels.
    rename : mapping, optional
        ``{term: label}`` for individual terms.
    model_names : sequence of str, optional
        Legend entries (default ``(1) <model>``).
    exponentiate : bool
        Plot hazard/odds ratios on a log axis (every model must have a ratio scale).
    alpha : float
        Intervals have mass ``1 - alpha``.
    interval : {"eti", "hdi"}
        Bayesian interval kind.
    title : str, optional
    path : path, optional
        Save as PNG and PDF there (and close the figure).
    formats : sequence of {"png", "pdf"}

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> from sustain.results import FrequentistResults, ModelInfo
    >>> p = pd.Series({"hhi": -2.0, "gov_share": 1.0})
    >>> cov = pd.DataFrame([[0.64, 0], [0, 0.25]], index=p.index, columns=p.index)
    >>> info = ModelInfo("Two-way FE", "within", "quality", "quality ~ hhi + gov_share", 800)
    >>> fig = coef_plot(FrequentistResults(p, cov, info))
    >>> fig.axes[0].get_xlabel()
    'Coefficient (95% interval)'
    """
    import matplotlib.pyplot as plt

    language = check_language(language)
    items = as_results(results, "coef_plot")
    names = legend_names(items, model_names, language)
    if not 0 < alpha < 1:
        raise SpecError(f"alpha={alpha!r} must lie between 0 and 1")
    flags = _flags(items, exponentiate)
    frames = [interval_frame(r, alpha, interval, f) for r, f in zip(items, flags, strict=True)]
    shown = list(terms) if terms is not None else default_terms(items)
    known = {t for f in frames for t in f["term"]}
    missing = [t for t in shown if t not in known]
    if missing or not shown:
        raise SpecError(f"coef_plot: terms not in any model: {missing or 'none to show'}")
    names_map, rename = load_labels(labels, language), dict(rename or {})
    with figure_style(language):
        fig, ax = plt.subplots(figsize=(6.0, 1.0 + 0.45 * len(shown) * max(1, len(items) / 2)))
        _draw(ax, frames, names, shown)
        ax.axvline(1.0 if exponentiate else 0.0, color="#666666", linewidth=0.8, linestyle="--")
        ax.set_yticks(range(len(shown)), [rename.get(t) or term_label(t, names_map) for t in shown])
        ax.set_ylim(len(shown) - 0.5, -0.5)
        pct = f"{100 * (1 - alpha):g}%"
        if exponentiate:
            log_axis(ax)
            kinds = {exp_name(r.info) for r in items}
            what = {"HR": "Hazard ratio", "OR": "Odds ratio"}.get(next(iter(kinds)) or "", "")
            what = what if len(kinds) == 1 and what else "Hazard or odds ratio"
            if language == "zh":
                ax.set_xlabel(f"{translate(what, language)}（{pct} 区间，对数刻度）")
            else:
                ax.set_xlabel(f"{what} ({pct} interval, log scale)")
        else:
            ax.set_xlabel(translate(f"Coefficient ({pct} interval)", language))
        top_legend(ax, len(items))
        if title:
            ax.set_title(title, loc="left", pad=24 if len(items) > 1 else 6)
        fig.tight_layout()
    return finish(fig, path, formats)
