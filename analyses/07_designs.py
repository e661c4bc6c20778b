"""Table 4 and Figures 5-6: how agencies leave, and what the first open tender does to quality.

* Competing risks of exit: the discrete-time competing-risks model (multinomial logit on the
  agency-years at risk, one equation per exit reason against staying, age-band dummies, errors
  clustered by agency) next to the all-causes hazard: tables/table4_competing.*; the
  cumulative incidence of each reason by age, with delayed entry (Aalen-Johansen), by main
  purchasing tier: figures/fig5_cif_tier.*, tables/cif_tier.csv, and Gray's test between tiers:
  tables/gray_tier.csv.
* Event study of an agency's first open tender on service quality: Callaway-Sant'Anna
  (not-yet-treated controls), Sun-Abraham (never-treated controls: its not-yet-treated
  alternative, the last-treated cohort, has a single agency here) and the classic two-way FE
  event study side by side:
  tables/table5_event_study.*, tables/event_study_*.csv, figures/fig6_event_study.*.

Run: ``python analyses/07_designs.py`` (``--quick`` for the reduced test configuration).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import _common as c

import sustain

HAZARD = "exit ~ hhi + gov_share + log_revenue"
COHORT = "first_tender_year"
TREATMENT = "share_open_tender > 0"
WINDOW = (-4, 5)
ESTIMATORS = {
    "callaway_santanna": "not_yet_treated",
    "sun_abraham": "never_treated",
    "twfe": "not_yet_treated",  # twfe compares with every untreated observation anyway
}


def fit_competing(panel: Any) -> dict[str, Any]:
    """The all-causes hazard and the competing-risks model (same terms)."""
    return {
        "hazard_logit": sustain.fit_hazard(panel, HAZARD, link="logit", duration="age"),
        "competing": sustain.fit_hazard(panel, HAZARD, competing="exit_reason", duration="age"),
    }


def event_studies(panel: Any) -> dict[str, Any]:
    """Event studies of the first open tender on quality, one per estimator."""
    frame = panel.assign(**{COHORT: sustain.first_year(panel, TREATMENT)})
    frame = frame.dropna(subset=["quality"])
    return {
        name: sustain.fit_event_study(
            frame,
            "quality",
            cohort=COHORT,
            estimator=name,
            control=control,
            window=WINDOW,
            cluster="agency_id",
        )
        for name, control in ESTIMATORS.items()
    }


def main(cfg: c.Config | None = None) -> list[Path]:
    """Competing-risks table and curves, event-study table and figure."""
    cfg = cfg or c.Config()
    progress = c.progress()
    rd = c.results(cfg)
    with progress.step("07 panel"):
        panel = c.build_panel(cfg)
    written: list[Path] = []
    with progress.step("07 competing risks"):
        fits = fit_competing(panel)
        written += c.write_tables(
            rd,
            "table4_competing",
            lambda **kw: sustain.regression_table(
                list(fits.values()),
                caption="Funding and the ways agencies leave (log odds against staying)",
                **kw,
            ),
        )
        ci = sustain.cumulative_incidence(panel, cause="exit_reason", by="main_tier")
        written.append(rd.write_text("tables", "cif_tier.csv", ci.tidy().to_csv(index=False)))
        gray = sustain.gray_test(panel, by="main_tier")
        written.append(rd.write_text("tables", "gray_tier.csv", gray.to_csv()))
        target = rd.path("figures", "fig5_cif_tier")
        sustain.cif_plot(ci, path=target)
        written += [target.with_suffix(".png"), target.with_suffix(".pdf")]
    with progress.step("07 event study of the first open tender"):
        studies = event_studies(panel)
        for name, result in studies.items():
            csv = result.event.to_csv(index=False)
            written.append(rd.write_text("tables", f"event_study_{name}.csv", csv))
        written += c.write_tables(
            rd,
            "table5_event_study",
            lambda **kw: sustain.regression_table(
                list(studies.values()),
                caption="Service quality around an agency's first open tender",
                **kw,
            ),
        )
        target = rd.path("figures", "fig6_event_study")
        sustain.event_plot(list(studies.values()), path=target)
        written += [target.with_suffix(".png"), target.with_suffix(".pdf")]
    c.record(cfg, "07_designs", written)
    return written


if __name__ == "__main__":
    main(c.config(description=__doc__))
