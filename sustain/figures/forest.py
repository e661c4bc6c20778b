"""Posterior forest plot: mean, inner (50%) and outer (95%) intervals of each parameter.

Only Bayesian results are accepted. Several models are dodged within each parameter's row.
Parameters whose R-hat exceeds 1.01 or whose bulk ESS is below 400 get a dagger after
their label, and so does (in the legend) a model that fails the convergence checks of
regression tables; a footnote explains, so a failed fit is never shown without a warning.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sustain._typing import PathLikeStr
from sustain.diagnostics.headline import (
    ESS_BULK_MIN,
    RHAT_MAX,
    headline_problems,
    headline_stats,
)
from sustain.errors import SpecError
from sustain.figures.coef import DODGE, as_results, legend_names, top_legend
from sustain.figures.style import ImageFormat, figure_style, finish, series_style
from sustain.options import IntervalKind
from sustain.presentation.labels import LabelSource, load_labels, term_label
from sustain.presentation.language import Language, check_language

FAILED_NOTE = (
    f"† failed convergence checks: R-hat > {RHAT_MAX:g}, bulk ESS < {ESS_BULK_MIN:.0f} "
    "or divergent transitions"
)
FAILED_NOTE_ZH = (
    f"† 未通过收敛诊断：R-hat > {RHAT_MAX:g}、bulk ESS < {ESS_BULK_MIN:.0f} 或存在发散转移"
)

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure


def forest_frame(result: Any, alpha: float, inner: float, interval: IntervalKind) -> pd.DataFrame:
    """Per term: posterior mean, inner and outer interval bounds and a convergence flag.

    ``inner`` and ``1 - alpha`` are the masses of the inner and outer intervals.
    """
    tidy = result.tidy(alpha, kind=interval).set_index("term")
    inner_ci = result.conf_int(1 - inner, kind=interval)
    return pd.DataFrame(
        {
            "mean": tidy["estimate"].astype(float),
            "outer_low": tidy["conf_low"].astype(float),
            "outer_high": tidy["conf_high"].astype(float),
            "inner_low": inner_ci["lower"].reindex(tidy.index).astype(float),
            "inner_high": inner_ci["upper"].reindex(tidy.index).astype(float),
            "flagged": (tidy["rhat"] > RHAT_MAX) | (tidy["ess_bulk"] < ESS_BULK_MIN),
        },
        index=tidy.index,
    )


def model_problems(result: Any, alpha: float, interval: IntervalKind) -> tuple[str, ...]:
    """Failed convergence checks of a whole model (the rule regression tables use)."""
    return headline_problems(headline_stats(result, result.tidy(alpha, kind=interval)))


def _draw(ax: Any, frames: list[pd.DataFrame], names: list[str], terms: list[str]) -> None:
    k = len(frames)
    offsets = np.linspace(-DODGE / 2, DODGE / 2, k) if k > 1 else np.zeros(1)
    for i, (frame, name) in enumerate(zip(frames, names, strict=True)):
        rows = frame.reindex(terms)
        ok = rows["mean"].notna().to_numpy()
        y = (np.arange(len(terms)) + offsets[i])[ok]
        rows = rows[ok]
        style = series_style(i)
        ax.hlines(y, rows["outer_low"], rows["outer_high"], color=style["color"], linewidth=1.0)
        ax.hlines(y, rows["inner_low"], rows["inner_high"], color=style["color"], linewidth=3.2)
        ax.plot(
            rows["mean"],
            y,
            linestyle="none",
            marker=style["marker"],
            markersize=5,
            markerfacecolor="white",
            markeredgecolor=style["color"],
            label=name,
        )


def forest_plot(
    results: Any,
    terms: Sequence[str] | None = None,
    *,
    labels: LabelSource = None,
    language: Language = "en",
    rename: Mapping[str, str] | None = None,
    model_names: Sequence[str] | None = None,
    alpha: float = 0.05,
    inner: float = 0.5,
    interval: IntervalKind = "eti",
    title: str | None = None,
    path: PathLikeStr | None = None,
    formats: Sequence[ImageFormat] = ("png", "pdf"),
) -> Figure:
    """Forest plot of posterior summaries of one or more Bayesian results.

    Parameters
    ----------
    results : Bayesian result or sequence of them
    terms : sequence of str, optional
        Parameters to show, top to bottom (default: every reported parameter except the
        intercept, whose scale would squash the others).
    labels, language, rename, model_names, title, path, formats
        As in :func:`coef_plot`.
    alpha : float
        The outer (thin) interval has mass ``1 - alpha``.
    inner : float
        Mass of the inner (thick) interval.
    interval : {"eti", "hdi"}

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import arviz as az, numpy as np
    >>> from sustain.results import BayesianResults, ModelInfo
    >>> rng = np.random.default_rng(1)
    >>> post = {"hhi": rng.normal(-3, 1, (4, 500)), "sigma": rng.normal(8, 0.2, (4, 500))}
    >>> info = ModelInfo("Bayes", "bayes", "quality", "quality ~ hhi", 300)
    >>> fig = forest_plot(BayesianResults(az.from_dict({"posterior": post}), tuple(post), info))
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ['Funding concentration (HHI)', 'Residual SD (σ)']
    """
    import matplotlib.pyplot as plt

    language = check_language(language)
    items = as_results(results, "forest_plot")
    not_bayes = [f"({i})" for i, r in enumerate(items, 1) if r.inference != "bayesian"]
    if not_bayes:
        raise SpecError(
            f"forest_plot shows posteriors; result {', '.join(not_bayes)} is not Bayesian "
            "(use coef_plot)"
        )
    if not (0 < alpha < 1 and 0 < inner < 1 - alpha):
        raise SpecError(f"need 0 < inner ({inner}) < 1 - alpha ({1 - alpha})")
    frames = [forest_frame(r, alpha, inner, interval) for r in items]
    default = [t for r in items for t in r.terms if t != "Intercept"]
    shown = list(terms) if terms is not None else list(dict.fromkeys(default))
    missing = [t for t in shown if not any(t in f.index for f in frames)]
    if missing or not shown:
        raise SpecError(f"forest_plot: parameters not in any model: {missing or 'none to show'}")
    names_map, rename = load_labels(labels, language), dict(rename or {})
    flagged = {t for f in frames for t in f.index[f["flagged"]]}
    ticks = [(rename.get(t) or term_label(t, names_map)) + (" †" * (t in flagged)) for t in shown]
    failed = [bool(model_problems(r, alpha, interval)) for r in items]
    names = [
        n + " †" * bad
        for n, bad in zip(legend_names(items, model_names, language), failed, strict=True)
    ]
    if language == "zh":
        kind = "等尾" if interval == "eti" else "最高密度"
        xlabel = f"后验均值及 {100 * inner:g}% 与 {100 * (1 - alpha):g}% {kind}区间"
    else:
        kind = "equal-tailed" if interval == "eti" else "highest-density"
        xlabel = f"Posterior mean with {100 * inner:g}% and {100 * (1 - alpha):g}% {kind} intervals"
    with figure_style(language):
        fig, ax = plt.subplots(figsize=(6.0, 1.0 + 0.45 * len(shown) * max(1, len(items) / 2)))
        _draw(ax, frames, names, shown)
        ax.axvline(0.0, color="#666666", linewidth=0.8, linestyle="--")
        ax.set_yticks(range(len(shown)), ticks)
        ax.set_ylim(len(shown) - 0.5, -0.5)
        ax.set_xlabel(xlabel)
        top_legend(ax, len(items))
        note = bool(flagged) or any(failed)
        if note:
            text = FAILED_NOTE_ZH if language == "zh" else FAILED_NOTE
            fig.text(0.01, 0.005, text, fontsize=7, ha="left", va="bottom")
        if title:
            ax.set_title(title, loc="left", pad=24 if len(items) > 1 else 6)
        fig.tight_layout(rect=(0, 0.04 if note else 0, 1, 1))
    return finish(fig, path, formats)
