"""Size of the wild cluster bootstrap with 11 clusters: a Monte Carlo study.

Data like the study's quality model: agencies nested in 11 districts of unequal size (10 to 50
agencies), 8 years, agency and year effects, and district-year shocks in both the regressor
and the error, so that observations are correlated within districts and the regressor's
variation is mostly between district-years. The regressor has **no effect**. Each replication
fits the two-way FE model clustered by district and tests ``hhi = 0`` at 5% with

* the plain cluster-robust t test of the fit (``fit.pvalues``),
* the restricted wild cluster bootstrap with Rademacher weights (all 2**11 sign vectors),
* the same with Webb weights (999 random draws).

A test of the right size rejects in about 5% of the replications; with 500 replications the
Monte Carlo standard error of a rejection rate near 5% is about 1 percentage point.

    .venv/bin/python benchmarks/wild_size.py [--reps 500] [--seed 2024]

About two minutes on two cores. ``tests/inference/test_wild_size.py`` runs a smaller version.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

import sustain

#: Agencies per district: unequal, as Guangzhou's districts are.
DISTRICT_SIZES = np.array([10, 12, 15, 18, 20, 24, 28, 32, 36, 42, 50])
N_YEARS = 8
LEVEL = 0.05


def make_panel(rng: np.random.Generator) -> pd.DataFrame:
    """One simulated panel under the null (``hhi`` has no effect on ``quality``)."""
    n_districts = len(DISTRICT_SIZES)
    district = np.repeat(np.arange(n_districts), DISTRICT_SIZES)
    n_agencies = len(district)
    agency = np.repeat(np.arange(n_agencies), N_YEARS)
    year = np.tile(np.arange(N_YEARS), n_agencies)
    d = district[agency]
    shock_x = rng.normal(size=(n_districts, N_YEARS))[d, year]
    shock_u = rng.normal(size=(n_districts, N_YEARS))[d, year]
    hhi = shock_x + 0.5 * rng.normal(size=len(agency)) + 0.5 * rng.normal(size=n_agencies)[agency]
    quality = shock_u + rng.normal(size=len(agency)) + rng.normal(size=n_agencies)[agency]
    index = pd.MultiIndex.from_arrays([agency, 2012 + year], names=["agency_id", "year"])
    return pd.DataFrame({"quality": quality, "hhi": hhi, "district": d}, index=index)


def replicate(rng: np.random.Generator, seed: int) -> tuple[float, float, float]:
    """p-values of the three tests on one simulated panel."""
    panel = make_panel(rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # fit_fe's note on 11 clusters
        fe = sustain.fit_fe(panel, "quality ~ hhi", cluster="district")
    rademacher = sustain.wild_bootstrap(fe, "hhi", reps=9999)
    webb = sustain.wild_bootstrap(fe, "hhi", weights="webb", reps=999, random_seed=seed)
    return float(fe.pvalues["hhi"]), rademacher.pvalue, webb.pvalue


def rejection_rates(reps: int, seed: int) -> dict[str, float]:
    """Share of replications rejecting at 5%, by test."""
    rng = np.random.default_rng(seed)
    seeds = np.random.SeedSequence(seed).generate_state(reps)
    pvalues = np.array([replicate(rng, int(s)) for s in seeds])
    rates = (pvalues < LEVEL).mean(axis=0)
    return {
        "cluster-robust t": float(rates[0]),
        "wild (Rademacher, enumerated)": float(rates[1]),
        "wild (Webb, 999 draws)": float(rates[2]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=500)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()
    start = time.perf_counter()
    rates = rejection_rates(args.reps, args.seed)
    seconds = time.perf_counter() - start
    se = np.sqrt(LEVEL * (1 - LEVEL) / args.reps)
    print(
        f"{args.reps} replications, 11 districts ({DISTRICT_SIZES.min()}-{DISTRICT_SIZES.max()} "
        f"agencies), {N_YEARS} years, no true effect; nominal level {LEVEL:.0%} "
        f"(Monte Carlo se {se:.1%}); {seconds:.0f} s"
    )
    for name, rate in rates.items():
        print(f"  {name:<32} rejects {rate:6.1%}")


if __name__ == "__main__":
    main()
