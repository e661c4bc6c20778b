"""Kaplan–Meier survival curves by group (e.g. main purchasing tier), with confidence bands.

Takes the result of :func:`sustain.kaplan_meier` or, for convenience, the panel itself (the
curves are then estimated with :func:`sustain.kaplan_meier`, delayed entry included). Each
group is a step curve starting at survival 1 with its pointwise band shaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from sustain._typing import PathLikeStr
from sustain.errors import SpecError
from sustain.figures.style import (
    BAND_ALPHA,
    ImageFormat,
    figure_style,
    finish,
    group_label,
    series_style,
)
from sustain.presentation.labels import LabelSource, load_labels, term_label
from sustain.presentation.language import Language, check_language, translate

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

TIME_LABELS = {"age": "Agency age (years)", "calendar": "Year", "given": "Time"}


def _as_km(km: Any, by: str | None, time_scale: str, alpha: float) -> Any:
    if isinstance(km, pd.DataFrame):
        from sustain.models.survival import kaplan_meier

        return kaplan_meier(km, by=by, time_scale=time_scale, alpha=alpha)  # type: ignore[arg-type]
    if not hasattr(km, "table") or not hasattr(km, "time_scale"):
        raise SpecError(
            f"km_plot takes a sustain.kaplan_meier result or a panel, got {type(km).__name__}"
        )
    if by is not None and by != km.by:
        raise SpecError(f"km_plot: by={by!r} but the curves are by {km.by!r}; refit kaplan_meier")
    return km


def step_curve(rows: pd.DataFrame, origin: float) -> pd.DataFrame:
    """A group's curve with the survival-1 start at ``origin`` prepended (for step plots).

    Examples
    --------
    >>> rows = pd.DataFrame({"time": [2.0, 5.0], "survival": [0.9, 0.7],
    ...                      "lower": [0.8, 0.5], "upper": [0.95, 0.85]})
    >>> step_curve(rows, 0.0)["survival"].tolist()
    [1.0, 0.9, 0.7]
    """
    start = pd.DataFrame({"time": [origin], "survival": [1.0], "lower": [1.0], "upper": [1.0]})
    return pd.concat([start, rows[["time", "survival", "lower", "upper"]]], ignore_index=True)


def km_plot(
    km: Any,
    by: str | None = None,
    *,
    time_scale: str = "age",
    alpha: float = 0.05,
    labels: LabelSource = None,
    language: Language = "en",
    bands: bool = True,
    title: str | None = None,
    path: PathLikeStr | None = None,
    formats: Sequence[ImageFormat] = ("png", "pdf"),
) -> Figure:
    """Kaplan–Meier curves with confidence bands, one per group.

    Parameters
    ----------
    km : KaplanMeierResults or DataFrame
        A :func:`sustain.kaplan_meier` result, or the panel (then ``by``, ``time_scale``
        and ``alpha`` are passed to :func:`sustain.kaplan_meier`).
    by : str, optional
        Grouping column, e.g. ``"main_tier"``; must match the result's when one is given.
    time_scale : {"age", "calendar"}
        Time axis when a panel is given.
    alpha : float
        Bands have confidence ``1 - alpha`` when a panel is given.
    labels : mapping, path, "en" or "zh", optional
        Variable labels (legend title).
    language : {"en", "zh"}
        Language of the axis titles, legend and default labels.
    bands : bool
        Shade the pointwise confidence bands.
    title, path, formats
        As in :func:`coef_plot`.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"stop": [1.0, 2, 3, 4, 5, 6], "event": [1, 0, 1, 1, 0, 1],
    ...                       "tier": ["a", "a", "a", "b", "b", "b"]})
    >>> from sustain.models.survival import kaplan_meier
    >>> fig = km_plot(kaplan_meier(frame, by="tier", stop="stop", event="event"))
    >>> fig.axes[0].get_ylabel()
    'Share of agencies still operating'
    """
    import matplotlib.pyplot as plt

    result = _as_km(km, by, time_scale, alpha)
    table = result.table
    groups = list(dict.fromkeys(table["group"].astype(str)))
    origin = 0.0 if result.time_scale != "calendar" else float(table["time"].min()) - 1.0
    language = check_language(language)
    names = load_labels(labels, language)
    with figure_style(language):
        fig, ax = plt.subplots(figsize=(5.5, 3.8))
        for i, group in enumerate(groups):
            curve = step_curve(table[table["group"].astype(str) == group], origin)
            style = series_style(i)
            color = style["color"]
            label = group_label(group, language) if result.by else "All agencies"
            ax.step(
                curve["time"],
                curve["survival"],
                where="post",
                color=color,
                linestyle=style["linestyle"],
                label=translate(label, language),
            )
            if bands:
                ax.fill_between(
                    curve["time"],
                    curve["lower"],
                    curve["upper"],
                    step="post",
                    color=color,
                    alpha=BAND_ALPHA,
                    linewidth=0,
                )
        ax.set_xlabel(translate(TIME_LABELS.get(result.time_scale, "Time"), language))
        ax.set_ylabel(translate("Share of agencies still operating", language))
        ax.set_ylim(0.0, 1.02)
        ax.grid(axis="y")
        parts = [term_label(result.by, names)] if result.by else []
        band = f"{100 * (1 - result.alpha):g}% " + ("置信带" if language == "zh" else "bands")
        parts += [band] if bands else []
        ax.legend(
            loc="lower left",
            title=("，" if language == "zh" else ", ").join(parts) or None,
            ncol=1 if len(groups) <= 7 else 2,
        )
        if title:
            ax.set_title(title)
        fig.tight_layout()
    return finish(fig, path, formats)
