"""Publication figures: coefficient plots, Kaplan–Meier curves, predictions, forest plots.

All figures share one style (:mod:`sustain.figures.style`), label their axes with units and,
with ``path=``, are saved as PNG (200 dpi) and PDF atomically; see ``docs/figures.md``.

Examples
--------
>>> import sustain.figures
>>> sorted(sustain.figures.__all__)
['cif_plot', 'coef_plot', 'event_plot', 'forest_plot', 'km_plot', 'prediction_plot', 'save_figure']
"""

from __future__ import annotations

from sustain.figures.coef import coef_plot
from sustain.figures.event import event_plot
from sustain.figures.forest import forest_plot
from sustain.figures.incidence import cif_plot
from sustain.figures.km import km_plot
from sustain.figures.prediction import prediction_plot
from sustain.figures.style import save_figure

__all__ = [
    "cif_plot",
    "coef_plot",
    "event_plot",
    "forest_plot",
    "km_plot",
    "prediction_plot",
    "save_figure",
]
