"""Table 2 (frequentist part): service quality on lagged funding, contract types and tiers.

Models (saved in results/analyses/models/):

* ``fe_quality``    two-way (agency, year) fixed effects, errors clustered by agency
* ``fe_district``   the same fit with errors clustered by district (a new result, no refit)
* ``fe_dk``         the same fit with Driscoll-Kraay errors (cross-sectional dependence)
* ``re_quality``    random effects, errors clustered by agency
* ``fe_hausman``, ``re_hausman``  one-way FE and RE with conventional errors, for the
  classical Hausman test

Agencies sit in only 11 districts, so district-clustered tests over-reject; the district model
is tested again with the restricted wild cluster bootstrap (Webb weights, 9,999 draws; and
Rademacher weights, all 2,048 sign vectors), whose p-values and intervals go into
tables/table2b_quality_wild.* and, next to the plain cluster-robust ones,
tables/wild_district.csv (``models/fe_district_wild.csv`` holds every bootstrap).

Writes tables/table2_quality_fe.* (the four FE/RE columns), tables/hausman.txt/.csv and
figures/fig2_quality_fe.* (coefficients with 95% intervals).

Run: ``python analyses/02_quality_fe.py`` (``--quick`` for the reduced test configuration).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import _common as c
import pandas as pd

import sustain
from sustain.pipeline.inference import wild_seed, write_wild

FORMULA = c.formula("quality", c.QUALITY_TERMS)
NAMES = ["Two-way FE", "FE, district clusters", "FE, Driscoll-Kraay", "Random effects"]
#: Coefficients of the district-clustered model tested by the wild cluster bootstrap.
WILD_TERMS = ("hhi_lag1", "gov_share_lag1", "share_single_source", "share_directed_commission")
WILD_REPS = 9999


def fit(panel: Any) -> dict[str, Any]:
    """Fit the quality models of Table 2 on the panel."""
    fe = sustain.fit_fe(panel, FORMULA, effects=("agency_id", "year"), cluster="agency_id")
    return {
        "fe_quality": fe,
        "fe_district": fe.with_cov_type("clustered", cluster="district"),
        "fe_dk": fe.with_cov_type("driscoll_kraay"),
        "re_quality": sustain.fit_fe(panel, FORMULA, estimator="random", cluster="agency_id"),
        "fe_hausman": sustain.fit_fe(panel, FORMULA, effects=("agency_id",), cov_type="unadjusted"),
        "re_hausman": sustain.fit_fe(panel, FORMULA, estimator="random", cov_type="unadjusted"),
    }


def wild(fe_district: Any, seed: int) -> tuple[list[Any], pd.DataFrame]:
    """Wild cluster bootstraps of the district model; a table comparing them with the
    plain cluster-robust tests."""
    webb = [
        sustain.wild_bootstrap(fe_district, t, weights="webb", reps=WILD_REPS, random_seed=seed)
        for t in WILD_TERMS
    ]
    rademacher = [sustain.wild_bootstrap(fe_district, t, reps=WILD_REPS) for t in WILD_TERMS]
    ci = fe_district.conf_int()
    rows = [
        {
            "term": w.term,
            "estimate": w.estimate,
            "t": w.t_stat,
            "p_cluster_robust": float(fe_district.pvalues[w.term]),
            "p_wild_webb": w.pvalue,
            "p_wild_rademacher": r.pvalue,
            "ci_cluster_robust": f"[{ci.loc[w.term, 'lower']:.3f}, {ci.loc[w.term, 'upper']:.3f}]",
            "ci_wild_webb": f"[{w.conf_int[0]:.3f}, {w.conf_int[1]:.3f}]",
        }
        for w, r in zip(webb, rademacher, strict=True)
    ]
    return webb, pd.DataFrame(rows)


def main(cfg: c.Config | None = None) -> list[Path]:
    """Fit, save and tabulate the fixed- and random-effects quality models."""
    cfg = cfg or c.Config()
    progress = c.progress()
    rd = c.results(cfg)
    with progress.step("02 panel"):
        panel = c.build_panel(cfg)
    with progress.step("02 fixed and random effects"):
        fits = fit(panel)
    written: list[Path] = []
    for name, result in fits.items():
        written += c.save_fit(rd, name, result)
    columns = [fits[n] for n in ("fe_quality", "fe_district", "fe_dk", "re_quality")]
    with progress.step("02 table, Hausman test and figure"):
        written += c.write_tables(
            rd,
            "table2_quality_fe",
            lambda **kw: sustain.regression_table(
                columns,
                model_names=NAMES,
                caption="Funding concentration, contract types and service quality",
                **kw,
            ),
        )
        test = sustain.hausman(fits["fe_hausman"], fits["re_hausman"])
        written.append(rd.write_text("tables", "hausman.txt", f"{test}\n"))
        written.append(
            rd.write_text("tables", "hausman.csv", test.table.to_csv(float_format="%.10g"))
        )
        target = rd.path("figures", "fig2_quality_fe")
        sustain.coef_plot(
            [fits["fe_quality"], fits["re_quality"]],
            model_names=["Two-way FE", "Random effects"],
            path=target,
        )
        written += [target.with_suffix(".png"), target.with_suffix(".pdf")]
    with progress.step("02 wild cluster bootstrap by district"):
        seed = wild_seed(cfg.seed, "fe_district", {})  # as `sustain run` derives it
        written += _wild_outputs(rd, fits["fe_district"], seed)
    progress.say(f"02 Hausman chi2({test.df}) = {test.statistic:.2f}, p = {test.pvalue:.3f}")
    c.record(cfg, "02_quality_fe", written)
    return written


def _wild_outputs(rd: Any, fe_district: Any, seed: int) -> list[Path]:
    boots, comparison = wild(fe_district, seed)
    written = write_wild(rd, "fe_district", boots)
    written.append(
        rd.write_text(
            "tables", "wild_district.csv", comparison.to_csv(index=False, float_format="%.6g")
        )
    )
    written += c.write_tables(
        rd,
        "table2b_quality_wild",
        lambda **kw: sustain.regression_table(
            fe_district,
            inference="wild",
            bootstrap=boots,
            statistic="ci",
            model_names=["Two-way FE, district clusters"],
            caption="Service quality with 11 district clusters: wild cluster bootstrap",
            **kw,
        ),
    )
    return written


if __name__ == "__main__":
    main(c.config(description=__doc__))
