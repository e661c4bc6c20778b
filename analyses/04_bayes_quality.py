"""Table 2 (Bayesian column): a hierarchical model of service quality.

Agencies are nested in districts (varying intercepts by district and by agency within
district) and the slope of lagged funding concentration varies by the agency-year's main
purchasing tier:

    quality ~ hhi_lag1 + gov_share_lag1 + contract-type and tier shares
              + (1 | district/agency_id) + (0 + hhi_lag1 | main_tier)

The fit is saved as models/bayes_quality.nc; the diagnostics report (R-hat, bulk and tail
ESS, MCSE, divergences, tree depth, E-BFMI, rank, forest, energy and posterior predictive
plots) goes to diagnostics/bayes_quality/, the priors to diagnostics/bayes_quality/priors.csv,
the posterior summary to tables/bayes_quality.csv and a forest plot of the posterior to
figures/fig5_bayes_quality.*. The verdict of the diagnostics is printed and kept in the report
whether it passes or not.

Run: ``python analyses/04_bayes_quality.py`` (``--quick`` for the reduced test configuration).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import _common as c

import sustain

NAME = "bayes_quality"
FORMULA = c.formula(
    "quality", c.QUALITY_TERMS, "(1 | district/agency_id) + (0 + hhi_lag1 | main_tier)"
)
# The default prior of a slope's group-level sd is scaled to the data (2.5 sd(y) / sd(x), about
# 60 quality points per unit of HHI); with three tiers the data cannot rule such values out,
# so the slope sd gets a prior that keeps tier differences within a few points per unit HHI.
PRIORS = {"sd(hhi_lag1|main_tier)": "half_normal(0, 2)"}


def fit(cfg: c.Config, panel: Any) -> Any:
    """Fit the hierarchical quality model (seed derived from the study's seed)."""
    return sustain.fit_bayes(
        panel.reset_index(),
        FORMULA,
        family="gaussian",
        priors=PRIORS,
        target_accept=0.95,
        random_seed=cfg.model_seed(NAME),
        **cfg.sampling(draws=1000, tune=1000, chains=2),
    )


def main(cfg: c.Config | None = None) -> list[Path]:
    """Fit, diagnose and save the hierarchical quality model."""
    cfg = cfg or c.Config()
    progress = c.progress()
    rd = c.results(cfg)
    with progress.step("04 panel"):
        panel = c.build_panel(cfg)
    with progress.step(f"04 sampling {NAME}"):
        result = fit(cfg, panel)
    written = c.save_fit(rd, NAME, result)
    with progress.step(f"04 diagnostics of {NAME}"):
        paths, ok = c.diagnose_fit(rd, NAME, result)
        written += paths
        target = rd.path("figures", "fig5_bayes_quality")
        sustain.forest_plot(result, path=target)
        written += [target.with_suffix(".png"), target.with_suffix(".pdf")]
    progress.say(f"04 diagnostics of {NAME}: {'all checks passed' if ok else 'FAILED'}")
    c.record(cfg, "04_bayes_quality", written, {NAME: cfg.model_seed(NAME)})
    return written


if __name__ == "__main__":
    main(c.config(description=__doc__))
