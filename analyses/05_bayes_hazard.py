"""Table 3 (Bayesian column): a hierarchical discrete-time hazard of agency exit.

A Bernoulli model with the complementary log-log link for the annual exit indicator, so its
coefficients are log hazard ratios of the underlying continuous-time hazard (as in the
frequentist ``hazard_cloglog`` of 03_survival.py), with a smooth duration dependence on age
(B-spline) and varying intercepts by district:

    exit ~ hhi + gov_share + log_revenue + contract-type shares + bs(age, df=3) + (1 | district)

Saved as models/bayes_hazard.nc, with its diagnostics report in diagnostics/bayes_hazard/,
the priors in diagnostics/bayes_hazard/priors.csv and the posterior summary in
tables/bayes_hazard.csv.

Run: ``python analyses/05_bayes_hazard.py`` (``--quick`` for the reduced test configuration).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import _common as c

import sustain

NAME = "bayes_hazard"
FORMULA = c.formula("exit", c.HAZARD_TERMS, "bs(age, df=3) + (1 | district)")


def fit(cfg: c.Config, panel: Any) -> Any:
    """Fit the hierarchical hazard model (seed derived from the study's seed)."""
    return sustain.fit_bayes(
        panel.reset_index(),
        FORMULA,
        family="bernoulli",
        link="cloglog",
        target_accept=0.95,
        random_seed=cfg.model_seed(NAME),
        **cfg.sampling(draws=1000, tune=1000, chains=2),
    )


def main(cfg: c.Config | None = None) -> list[Path]:
    """Fit, diagnose and save the hierarchical hazard model."""
    cfg = cfg or c.Config()
    progress = c.progress()
    rd = c.results(cfg)
    with progress.step("05 panel"):
        panel = c.build_panel(cfg)
    with progress.step(f"05 sampling {NAME}"):
        result = fit(cfg, panel)
    written = c.save_fit(rd, NAME, result)
    with progress.step(f"05 diagnostics of {NAME}"):
        paths, ok = c.diagnose_fit(rd, NAME, result)
        written += paths
    progress.say(f"05 diagnostics of {NAME}: {'all checks passed' if ok else 'FAILED'}")
    c.record(cfg, "05_bayes_hazard", written, {NAME: cfg.model_seed(NAME)})
    return written


if __name__ == "__main__":
    main(c.config(description=__doc__))
