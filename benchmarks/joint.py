"""Benchmark: the joint model recovers the association and the quality trend; naive fits do not.

On data simulated with a known association between an agency's latent quality and its exit
hazard (``sustain.simulate(association=...)``) and a known quality trend in age, each
replication fits

* the joint model (``sustain.fit_joint``),
* the two-stage baseline (observed quality as a covariate of the discrete-time hazard,
  ``sustain.models.joint.fit_two_stage``),
* a quality-only Bayesian hierarchical model (``sustain.fit_bayes`` with agency and district
  intercepts) and pooled OLS of quality, for the trend,

and prints estimates with 90% intervals. With ``--compare`` the first replication also fits
the joint model with centred, non-centred and automatic agency effects and prints the bulk ESS
per second of the main parameters (the measurement behind the default). The figure for
``docs/models/joint.md`` is written to ``--out`` (PNG and PDF).

    .venv/bin/python benchmarks/joint.py [--agencies 1200] [--reps 3] [--draws 1000]
        [--tune 1000] [--chains 4] [--compare] [--out docs/img/joint_recovery]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import sustain
from sustain.data.simulate import DEFAULT_QUALITY
from sustain.models.joint import fit_joint, fit_two_stage

ASSOCIATION = -0.15
AGE_TREND = 0.4
ALPHA = 0.10  # 90% intervals
QUALITY = (
    "quality ~ hhi + gov_share + share_directed_commission + share_single_source"
    " + share_subdistrict + age + (1 | district)"
)
HAZARD = "exit ~ hhi + gov_share + log_revenue"
MAIN = ["association", "age", "hhi", "hazard:hhi", "sd(1|agency_id)", "sigma"]


def simulate(seed: int, agencies: int) -> pd.DataFrame:
    coefs = {**DEFAULT_QUALITY, "age": AGE_TREND}
    sim = sustain.simulate(
        seed=seed, n_agencies=agencies, association=ASSOCIATION, quality_coefs=coefs
    )
    return sustain.build_panel(sim.data)


def row(rep: int, method: str, term: str, result: Any, name: str, seconds: float) -> dict[str, Any]:
    low, high = result.conf_int(ALPHA).loc[name]
    truth = ASSOCIATION if term == "association" else AGE_TREND
    return {
        "rep": rep,
        "method": method,
        "term": term,
        "estimate": float(result.params[name]),
        "lower": float(low),
        "upper": float(high),
        "covers": bool(low < truth < high),
        "seconds": seconds,
    }


def timed(fn: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def replication(rep: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    panel = simulate(rep, args.agencies)
    jm, t_joint = timed(
        lambda: fit_joint(
            panel,
            quality=QUALITY,
            hazard=HAZARD,
            draws=args.draws,
            tune=args.tune,
            chains=args.chains,
            random_seed=rep,
            log_likelihood=False,
        )
    )
    stats = jm.info.stats
    print(
        f"rep {rep}: {len(panel):,} agency-years, {int(stats['n_events'])} exits; joint fit "
        f"{t_joint:.0f}s, max R-hat {stats['rhat_max']:.3f}, min bulk ESS "
        f"{stats['ess_bulk_min']:.0f}, divergences {int(stats['divergences'])}"
    )
    two, t_two = timed(lambda: fit_two_stage(panel, QUALITY, HAZARD))
    flat = panel.reset_index()
    mixed_formula = QUALITY.replace("(1 | district)", "(1 | district/agency_id)")
    mixed, t_mixed = timed(
        lambda: sustain.fit_bayes(
            flat,
            mixed_formula,
            draws=args.draws,
            tune=args.tune,
            chains=args.chains,
            random_seed=rep,
            prior_predictive=False,
            posterior_predictive=False,
            log_likelihood=False,
        )
    )
    pooled_formula = QUALITY.replace(" + (1 | district)", "")
    pooled, t_pooled = timed(
        lambda: sustain.fit_fe(panel, pooled_formula, estimator="pooled", cluster="agency_id")
    )
    return [
        row(rep, "joint", "association", jm, "association", t_joint),
        row(rep, "two-stage", "association", two, "quality", t_two),
        row(rep, "joint", "age", jm, "age", t_joint),
        row(rep, "quality only (hierarchical)", "age", mixed, "age", t_mixed),
        row(rep, "quality only (pooled OLS)", "age", pooled, "age", t_pooled),
    ]


def compare_parameterizations(args: argparse.Namespace) -> pd.DataFrame:
    """Bulk ESS per second of the main parameters under each parameterisation (fit twice:
    the first fit compiles, the second is timed)."""
    import arviz as az

    panel = simulate(1, args.agencies)
    out = []
    for form in ("centred", "non_centred", "auto"):

        def fit(form: str = form) -> Any:
            return fit_joint(
                panel,
                quality=QUALITY,
                hazard=HAZARD,
                draws=args.draws,
                tune=args.tune,
                chains=args.chains,
                random_seed=1,
                parameterization=form,
                log_likelihood=False,
            )

        fit()
        jm, seconds = timed(fit)
        ess = az.ess(jm.idata.posterior.to_dataset()[list(MAIN)])
        worst = min(float(ess[n]) for n in MAIN)
        out.append(
            {
                "parameterization": form,
                "centred agencies": jm.n_centred,
                "seconds": round(seconds, 1),
                "min ESS (main terms)": round(worst),
                "ESS/s": round(worst / seconds, 1),
                "max R-hat": round(float(jm.info.stats["rhat_max"]), 3),
                "divergences": int(jm.info.stats["divergences"]),
            }
        )
    return pd.DataFrame(out)


def figure(table: pd.DataFrame, out: Path) -> list[Path]:
    import matplotlib.pyplot as plt

    from sustain.figures.style import PALETTE, figure_style, save_figure

    panels = [
        ("association", ASSOCIATION, "Association (log hazard per quality point)"),
        ("age", AGE_TREND, "Quality trend (points per year of age)"),
    ]
    with figure_style():
        fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.4))
        for ax, (term, truth, title) in zip(axes, panels, strict=True):
            part = table[table["term"] == term]
            methods = list(dict.fromkeys(part["method"]))
            for i, method in enumerate(methods):
                sub = part[part["method"] == method].reset_index(drop=True)
                y = i + np.linspace(-0.2, 0.2, len(sub)) if len(sub) > 1 else np.array([i])
                ax.errorbar(
                    sub["estimate"],
                    y,
                    xerr=[sub["estimate"] - sub["lower"], sub["upper"] - sub["estimate"]],
                    fmt="o",
                    color=PALETTE[i],
                    markersize=4,
                    capsize=2,
                    linewidth=1,
                )
            ax.axvline(truth, color="black", linestyle="--", linewidth=0.9, label="truth")
            ax.set_yticks(range(len(methods)), methods)
            ax.set_ylim(len(methods) - 0.4, -0.9)
            ax.set_title(title)
            ax.legend(loc="upper right", frameon=True)
        fig.text(
            0.01,
            0.01,
            "Points: posterior means / estimates with 90% intervals, one per simulated data set.",
            fontsize=7,
        )
        fig.tight_layout(rect=(0, 0.04, 1, 1))
        paths = save_figure(fig, out)
        plt.close(fig)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agencies", type=int, default=1200)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--compare", action="store_true")
    parser.add_argument("--out", default="docs/img/joint_recovery")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    rows = [r for rep in range(1, args.reps + 1) for r in replication(rep, args)]
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 140, "display.max_columns", 20):
        print(table.round(4).to_string(index=False))
        summary = table.groupby(["term", "method"], sort=False).agg(
            mean_estimate=("estimate", "mean"),
            coverage=("covers", "mean"),
            seconds=("seconds", "mean"),
        )
        print(summary.round(4))
    if args.compare:
        print(compare_parameterizations(args).to_string(index=False))
    for path in figure(table, Path(args.out)):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
