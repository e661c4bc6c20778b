"""The combined paper tables: frequentist and Bayesian models side by side.

Tables are rebuilt from the saved fits in results/analyses/models/ (``sustain.load_result``),
never by refitting; a fit that is missing is produced first by running the script that
makes it, so this script also runs alone.

* tables/table2_quality.*    two-way FE, random effects, Bayesian hierarchical (Table 2)
* tables/table3_survival.*   cloglog hazard, Cox, Bayesian hazard, as hazard ratios (Table 3)
* figures/fig6_quality_models.*, figures/fig7_hazard_ratios.*  the same as coefficient plots

Run: ``python analyses/06_tables.py`` (``--quick`` for the reduced test configuration).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import _common as c

import sustain

# model name -> script that fits it
SOURCES = {
    "fe_quality": "02_quality_fe",
    "re_quality": "02_quality_fe",
    "bayes_quality": "04_bayes_quality",
    "hazard_cloglog": "03_survival",
    "cox": "03_survival",
    "bayes_hazard": "05_bayes_hazard",
}
QUALITY = {
    "fe_quality": "Two-way FE",
    "re_quality": "Random effects",
    "bayes_quality": "Bayesian hierarchical",
}
SURVIVAL = {"hazard_cloglog": "Hazard (cloglog)", "cox": "Cox", "bayes_hazard": "Bayesian hazard"}
NOTES = (
    "Bayesian columns: posterior means with 95% equal-tailed credible intervals; "
    "diagnostics in diagnostics/<model>/."
)
SURVIVAL_NOTE = (
    "Duration dependence: age-band dummies (1), B-spline of age (3), baseline hazard (2); "
    "not shown."
)


def duration_terms(results: list[Any]) -> list[str]:
    """Age-band dummies (``age[...]``) and age splines (``bs(age, ...)``) of hazard models.

    A saved fit is reloaded as a generic result that no longer knows which of its terms
    describe duration dependence, so they are named here to keep them out of the table.
    """
    return sorted({t for r in results for t in r.params.index if t.startswith(("age[", "bs(age"))})


def fits(cfg: c.Config) -> dict[str, Any]:
    """Every saved fit the tables need, running the producing scripts for missing ones."""
    rd = c.results(cfg)
    missing = sorted({SOURCES[n] for n in SOURCES if c.load_fit(rd, n) is None})
    for script in missing:
        c.load_script(script).main(cfg)
    loaded = {name: c.load_fit(rd, name) for name in SOURCES}
    return {name: fit for name, fit in loaded.items() if fit is not None}


def main(cfg: c.Config | None = None) -> list[Path]:
    """Write Tables 2 and 3 and their coefficient plots from the saved fits."""
    cfg = cfg or c.Config()
    progress = c.progress()
    rd = c.results(cfg)
    with progress.step("06 loading saved fits"):
        saved = fits(cfg)
    written: list[Path] = []
    with progress.step("06 tables"):
        quality = [saved[m] for m in QUALITY]
        survival = [saved[m] for m in SURVIVAL]
        written += c.write_tables(
            rd,
            "table2_quality",
            partial(
                sustain.regression_table,
                quality,
                model_names=list(QUALITY.values()),
                notes=[NOTES],
            ),
        )
        written += c.write_tables(
            rd,
            "table3_survival",
            partial(
                sustain.regression_table,
                survival,
                model_names=list(SURVIVAL.values()),
                exponentiate=True,
                drop=duration_terms(survival),
                notes=[NOTES, SURVIVAL_NOTE],
            ),
        )
    with progress.step("06 figures"):
        for name, models, exponentiate in (
            ("fig6_quality_models", QUALITY, False),
            ("fig7_hazard_ratios", SURVIVAL, True),
        ):
            target = rd.path("figures", name)
            terms = c.HAZARD_TERMS if exponentiate else c.QUALITY_TERMS
            sustain.coef_plot(
                [saved[m] for m in models],
                terms=list(terms),
                model_names=list(models.values()),
                exponentiate=exponentiate,
                path=target,
            )
            written += [target.with_suffix(".png"), target.with_suffix(".pdf")]
    c.record(cfg, "06_tables", written)
    return written


if __name__ == "__main__":
    main(c.config(description=__doc__))
