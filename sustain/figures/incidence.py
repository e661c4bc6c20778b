"""Cumulative incidence of competing causes of exit: stacked by cause, or one panel per cause.

Takes the result of :func:`sustain.cumulative_incidence` or the panel itself (the curves are then
estimated with delayed entry). ``layout="stacked"`` stacks the causes' curves of one group so
that their top is the share of agencies that have left (``1 - KM``); ``layout="panels"`` draws
one panel per cause with a curve and band per group.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from sustain._typing import PathLikeStr
from sustain.errors import SpecError
from sustain.figures.style import BAND_ALPHA, ImageFormat, figure_style, finish, series_style
from sustain.presentation.language import Language, check_language, translate

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

TIME_LABELS = {"age": "Agency age (years)", "calendar": "Year", "given": "Time"}


def _as_incidence(result: Any, cause: str, by: str | None) -> Any:
    if isinstance(result, pd.DataFrame):
        from sustain.models.survival import cumulative_incidence

        return cumulative_incidence(result, cause=cause, by=by)
    if not hasattr(result, "table") or not hasattr(result, "causes"):
        raise SpecError(
            "cif_plot takes a sustain.cumulative_incidence result or a panel, "
            f"got {type(result).__name__}"
        )
    return result


def _steps(rows: pd.DataFrame, column: str) -> tuple[list[float], list[float]]:
    return [0.0, *rows["time"].tolist()], [0.0, *rows[column].fillna(0.0).tolist()]


def cif_plot(
    result: Any,
    *,
    cause: str = "exit_reason",
    by: str | None = None,
    layout: Literal["stacked", "panels"] = "panels",
    group: str | None = None,
    language: Language = "en",
    bands: bool = True,
    title: str | None = None,
    path: PathLikeStr | None = None,
    formats: Sequence[ImageFormat] = ("png", "pdf"),
) -> Figure:
    """Cumulative incidence curves of each cause of exit.

    Parameters
    ----------
    result : CumulativeIncidenceResults or DataFrame
        A :func:`sustain.cumulative_incidence` result, or the panel (then ``cause`` and ``by``
        are passed on).
    layout : {"panels", "stacked"}
        One panel per cause with a curve per group, or the causes stacked (one group:
        ``group``, default the first).
    group : str, optional
        The group drawn by ``layout="stacked"``.
    language : {"en", "zh"}
        Language of the axis titles.
    bands : bool
        Shade the pointwise bands (``panels`` only).
    title, path, formats
        As in :func:`sustain.coef_plot`.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import sustain
    >>> panel = sustain.build_panel(sustain.datasets.example())
    >>> fig = sustain.cif_plot(sustain.cumulative_incidence(panel, cause="exit_reason"))
    >>> len(fig.axes)
    4
    """
    import matplotlib.pyplot as plt

    if layout not in ("stacked", "panels"):
        raise SpecError(f"layout={layout!r} is not one of 'stacked', 'panels'")
    ci = _as_incidence(result, cause, by)
    language = check_language(language)
    table = ci.table
    groups = list(dict.fromkeys(table["group"]))
    xlabel = translate(TIME_LABELS.get(ci.time_scale, "Time"), language)
    with figure_style(language):
        if layout == "stacked":
            chosen = group or groups[0]
            if chosen not in groups:
                raise SpecError(f"group {chosen!r} not found; groups are {groups}")
            fig, ax = plt.subplots(figsize=(5.5, 3.8))
            rows = table[table["group"] == chosen]
            pieces = [_steps(rows[rows["cause"] == c], "estimate") for c in ci.causes]
            x = pieces[0][0]
            ax.stackplot(
                x,
                *[p[1] for p in pieces],
                labels=list(ci.causes),
                step="post",
                colors=[series_style(i)["color"] for i in range(len(pieces))],
                alpha=0.8,
            )
            ax.set_xlabel(xlabel)
            ax.set_ylabel(translate("Share of agencies that have left", language))
            ax.legend(loc="upper left", title=None if chosen == "all" else chosen)
            axes = [ax]
        else:
            n = len(ci.causes)
            fig, grid = plt.subplots(1, n, figsize=(2.6 * n + 0.6, 3.4), sharey=True, squeeze=False)
            axes = list(grid[0])
            for ax, name in zip(axes, ci.causes, strict=True):
                for i, label in enumerate(groups):
                    rows = table[(table["cause"] == name) & (table["group"] == label)]
                    style = series_style(i)
                    x, y = _steps(rows, "estimate")
                    ax.step(x, y, where="post", color=style["color"],
                            linestyle=style["linestyle"], label=label)  # fmt: skip
                    if bands:
                        _, lo = _steps(rows, "lower")
                        _, hi = _steps(rows, "upper")
                        ax.fill_between(x, lo, hi, step="post", color=style["color"],
                                        alpha=BAND_ALPHA, linewidth=0)  # fmt: skip
                ax.set_title(name)
                ax.set_xlabel(xlabel)
                ax.grid(axis="y")
            axes[0].set_ylabel(translate("Cumulative incidence", language))
            if ci.by:
                axes[-1].legend(loc="upper left", title=ci.by)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
    return finish(fig, path, formats)
