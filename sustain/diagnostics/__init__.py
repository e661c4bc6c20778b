"""Posterior diagnostics, diagnostic plots and model comparison for Bayesian results.

``sustain.diagnose(result)`` checks convergence and sampler health against stated thresholds,
``sustain.compare([m1, m2])`` ranks models by PSIS-LOO (with WAIC alongside) and
``sustain.ppc_plot(result)`` draws prior or posterior predictive checks. Every function takes
any result with an ``.idata`` attribute or a bare ArviZ ``DataTree`` (``xarray.DataTree``, which
replaced ``arviz.InferenceData`` in ArviZ 1).
"""

from __future__ import annotations

from sustain.diagnostics.compare import Comparison, ParetoKWarning, WAICWarning, compare
from sustain.diagnostics.plots import (
    energy_plot,
    posterior_forest_plot,
    save_diagnostic_plots,
    trace_plot,
)
from sustain.diagnostics.ppc import ppc_plot
from sustain.diagnostics.report import Diagnosis, Thresholds, diagnose

__all__ = [
    "Comparison",
    "Diagnosis",
    "ParetoKWarning",
    "Thresholds",
    "WAICWarning",
    "compare",
    "diagnose",
    "energy_plot",
    "posterior_forest_plot",
    "ppc_plot",
    "save_diagnostic_plots",
    "trace_plot",
]
