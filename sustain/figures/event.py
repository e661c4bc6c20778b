"""Event-study plots: effects by event time with uniform bands, several estimators side by side.

Each estimator's event-time effects (``.event`` of :func:`sustain.fit_event_study`) are drawn as
points with their bands, dodged horizontally so that Callaway-Sant'Anna, Sun-Abraham and the
classic TWFE estimates can be compared at each event time; the reference period is marked
and a dashed line separates pre- from post-treatment periods.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from sustain._typing import PathLikeStr
from sustain.errors import SpecError
from sustain.figures.style import ImageFormat, figure_style, finish, series_style
from sustain.presentation.language import Language, check_language, translate

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

ESTIMATOR_LABELS = {
    "callaway_santanna": "Callaway-Sant'Anna",
    "sun_abraham": "Sun-Abraham",
    "twfe": "Two-way FE",
}
DODGE = 0.12


def event_plot(
    results: Any,
    *,
    truth: Mapping[float, float] | None = None,
    language: Language = "en",
    ylabel: str | None = None,
    title: str | None = None,
    path: PathLikeStr | None = None,
    formats: Sequence[ImageFormat] = ("png", "pdf"),
) -> Figure:
    """Event-time effects of one or several event studies, side by side.

    Parameters
    ----------
    results : EventStudyResults or sequence or mapping of them
        A mapping's keys label the series; otherwise the estimator names do.
    truth : mapping of float to float, optional
        Known effects by event time (simulations), drawn as a line.
    language : {"en", "zh"}
    ylabel : str, optional
        Default: "Effect on <outcome>".
    title, path, formats
        As in :func:`sustain.coef_plot`.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd, sustain
    >>> from pathlib import Path
    >>> mpdta = pd.read_csv(Path("tests/references/designs/mpdta.csv")).set_index(
    ...     ["countyreal", "year"])  # doctest: +SKIP
    >>> fig = sustain.event_plot([sustain.fit_event_study(mpdta, "lemp", "first.treat"),
    ...     sustain.fit_event_study(mpdta, "lemp", "first.treat", estimator="twfe")])
    ... # doctest: +SKIP
    """
    import matplotlib.pyplot as plt

    series = _series(results)
    language = check_language(language)
    with figure_style(language):
        fig, ax = plt.subplots(figsize=(6.0, 3.8))
        offsets = (np.arange(len(series)) - (len(series) - 1) / 2) * DODGE
        for i, ((label, res), shift) in enumerate(zip(series.items(), offsets, strict=True)):
            event = res.event
            style = series_style(i)
            x = event["event_time"].to_numpy(float) + shift
            y = event["estimate"].to_numpy(float)
            lower = y - event["lower"].to_numpy(float)
            upper = event["upper"].to_numpy(float) - y
            ax.errorbar(x, y, yerr=np.vstack([lower, upper]), fmt=style.get("marker", "o"),
                        color=style["color"], capsize=2, label=translate(label, language),
                        markersize=4)  # fmt: skip
        if truth:
            keys = sorted(truth)
            ax.plot(keys, [truth[k] for k in keys], color="black", linewidth=1,
                    label=translate("Truth", language))  # fmt: skip
        ax.axhline(0.0, color="grey", linewidth=0.8)
        ax.axvline(-0.5, color="grey", linewidth=0.8, linestyle="--")
        ax.set_xlabel(translate("Periods since first treatment", language))
        first = next(iter(series.values()))
        ax.set_ylabel(ylabel or f"{translate('Effect on', language)} {first.info.depvar}")
        ax.legend(loc="upper left", fontsize="small")
        if title:
            ax.set_title(title)
        fig.tight_layout()
    return finish(fig, path, formats)


def _series(results: Any) -> dict[str, Any]:
    if isinstance(results, Mapping):
        out = dict(results)
    elif hasattr(results, "event"):
        out = {ESTIMATOR_LABELS.get(results.estimator, results.estimator): results}
    elif isinstance(results, Sequence):
        out = {ESTIMATOR_LABELS.get(r.estimator, r.estimator): r for r in results}
    else:
        raise SpecError(f"event_plot takes event-study results, got {type(results).__name__}")
    if not out or not all(hasattr(r, "event") for r in out.values()):
        raise SpecError("event_plot takes results of sustain.fit_event_study")
    return out
