"""Table 1 and Figure 1: who the agencies are and how their funding changed, by purchasing tier.

Writes (in results/analyses/):

* tables/table1_descriptives.*   N, mean, SD, min, max of the analysed variables
* tables/table1b_by_tier.*       the same by the agency-year's main purchasing tier
* tables/correlations.*          correlations of the funding measures (stars at 5% and 1%)
* tables/trends_by_tier.csv/.md  yearly means by tier of funding and contract-type measures
* figures/fig1_funding_trends.*  concentration, government share, number of funders, revenue
* figures/fig1b_contract_types.* shares of open tender, directed commission, single source

Run: ``python analyses/01_describe.py`` (``--quick`` for the reduced test configuration).
"""

from __future__ import annotations

from pathlib import Path

import _common as c

import sustain
from sustain.pipeline.trends import trend_plot, trend_table

DESCRIBED = [
    "quality",
    "hhi",
    "gov_share",
    "n_funders",
    "log_revenue",
    "share_open_tender",
    "share_single_source",
    "share_directed_commission",
    "share_subdistrict",
    "share_district",
    "age",
    "exit",
]
BY_TIER = ["quality", "hhi", "gov_share", "share_directed_commission", "exit"]
CORRELATED = ["quality", "hhi", "gov_share", "n_funders", "log_revenue"]
FUNDING_TRENDS = ["hhi", "gov_share", "n_funders", "log_revenue"]
CONTRACT_TRENDS = ["share_open_tender", "share_directed_commission", "share_single_source"]


def main(cfg: c.Config | None = None) -> list[Path]:
    """Write the descriptive tables and trend figures; return the files written."""
    cfg = cfg or c.Config()
    progress = c.progress()
    rd = c.results(cfg)
    with progress.step("01 panel"):
        panel = c.build_panel(cfg)
    written: list[Path] = []
    with progress.step("01 descriptive tables"):
        written += c.write_tables(
            rd,
            "table1_descriptives",
            lambda **kw: sustain.describe(
                panel, DESCRIBED, caption="Descriptive statistics, agency-years 2013-2023", **kw
            ),
        )
        written += c.write_tables(
            rd,
            "table1b_by_tier",
            lambda **kw: sustain.describe(panel, BY_TIER, by="main_tier", **kw),
        )
        written += c.write_tables(
            rd,
            "correlations",
            lambda **kw: sustain.correlation_table(panel, CORRELATED, stars=(0.05, 0.01), **kw),
        )
        columns = FUNDING_TRENDS + CONTRACT_TRENDS
        for fmt, suffix in (("csv", "csv"), ("markdown", "md")):
            text = trend_table(panel, columns, by="main_tier", format=fmt)
            written.append(rd.write_text("tables", f"trends_by_tier.{suffix}", text))
    with progress.step("01 trend figures"):
        for name, columns in (
            ("fig1_funding_trends", FUNDING_TRENDS),
            ("fig1b_contract_types", CONTRACT_TRENDS),
        ):
            target = rd.path("figures", name)
            trend_plot(panel, columns, by="main_tier", path=target)
            written += [target.with_suffix(".png"), target.with_suffix(".pdf")]
    c.record(cfg, "01_describe", written)
    return written


if __name__ == "__main__":
    main(c.config(description=__doc__))
