"""Table 3 (frequentist part) and Figures 3-4: which agencies close, and when.

* Kaplan-Meier survival by main purchasing tier, on the age scale with delayed entry for
  agencies founded before the data begin (figures/fig3_km_tier.*, tables/km_tier.csv and
  tables/km_median.csv)
* discrete-time hazards (complementary log-log and logit, age-band dummies, errors clustered
  by agency): ``hazard_cloglog``, ``hazard_logit``
* Cox proportional hazards with time-varying covariates on counting-process spells
  (start, stop], Efron ties, robust errors by agency: ``cox``

Writes tables/table3_survival_freq.* (hazard ratios), tables/table3b_hazard_ame.* (average
marginal effects of both hazards on the annual exit probability, each row at its own age),
tables/hazard_ame_by_tier.csv (the cloglog model's effects within each main purchasing tier)
and figures/fig4_hazard_hhi.* (the predicted annual exit hazard over funding concentration).

Run: ``python analyses/03_survival.py`` (``--quick`` for the reduced test configuration).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import _common as c

import sustain

HAZARD = c.formula("exit", c.HAZARD_TERMS)
COX = c.formula("", c.HAZARD_TERMS)
NAMES = ["Hazard (cloglog)", "Hazard (logit)", "Cox"]


def fit(panel: Any) -> dict[str, Any]:
    """Fit the survival models of Table 3 on the panel."""
    spells = sustain.to_spells(panel, time_scale="age")
    return {
        "hazard_cloglog": sustain.fit_hazard(panel, HAZARD, link="cloglog", duration="age"),
        "hazard_logit": sustain.fit_hazard(panel, HAZARD, link="logit", duration="age"),
        "cox": sustain.fit_cox(spells, COX, cluster="agency_id"),
    }


def main(cfg: c.Config | None = None) -> list[Path]:
    """Kaplan-Meier curves, hazard and Cox models, their table and figures."""
    cfg = cfg or c.Config()
    progress = c.progress()
    rd = c.results(cfg)
    with progress.step("03 panel"):
        panel = c.build_panel(cfg)
    written: list[Path] = []
    with progress.step("03 Kaplan-Meier by tier"):
        km = sustain.kaplan_meier(panel, by="main_tier", time_scale="age")
        written.append(rd.write_text("tables", "km_tier.csv", km.tidy().to_csv(index=False)))
        written.append(rd.write_text("tables", "km_median.csv", km.median.to_csv()))
        target = rd.path("figures", "fig3_km_tier")
        sustain.km_plot(km, path=target)
        written += [target.with_suffix(".png"), target.with_suffix(".pdf")]
    with progress.step("03 hazard and Cox models"):
        fits = fit(panel)
    for name, result in fits.items():
        written += c.save_fit(rd, name, result)
    with progress.step("03 table and prediction figure"):
        written += c.write_tables(
            rd,
            "table3_survival_freq",
            lambda **kw: sustain.regression_table(
                list(fits.values()),
                model_names=NAMES,
                exponentiate=True,
                caption="Funding and agency exit (hazard and odds ratios)",
                **kw,
            ),
        )
        written += c.write_tables(
            rd,
            "table3b_hazard_ame",
            lambda **kw: sustain.regression_table(
                [fits["hazard_cloglog"], fits["hazard_logit"]],
                model_names=NAMES[:2],
                margins=True,
                digits=4,
                caption="Funding and the annual exit probability (average marginal effects)",
                **kw,
            ),
        )
        by_tier = sustain.margins(fits["hazard_cloglog"], by="main_tier")
        written.append(
            rd.write_text(
                "tables", "hazard_ame_by_tier.csv", by_tier.to_csv(index=False, float_format="%.6g")
            )
        )
        target = rd.path("figures", "fig4_hazard_hhi")
        sustain.prediction_plot([fits["hazard_cloglog"]], panel, x="hhi", path=target)
        written += [target.with_suffix(".png"), target.with_suffix(".pdf")]
    c.record(cfg, "03_survival", written)
    return written


if __name__ == "__main__":
    main(c.config(description=__doc__))
