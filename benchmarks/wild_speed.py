"""Benchmark: wild cluster bootstrap of a two-way FE fit on 2 million agency-years, 11 clusters.

The quality model of the study on a panel the size of a province: agency and year effects
absorbed, standard errors clustered by district (11 clusters). Times ``sustain.wild_bootstrap``
(restricted, Rademacher weights: all 2**11 = 2,048 sign vectors; Webb weights: 9,999 draws)
and what a researcher would otherwise do in Python:

* **pyfixest's demeaning + wildboottest** (0.3, the Python port of the fast algorithm):
  wildboottest cannot absorb effects, so they are projected out first (pyfixest's numba
  alternating projections, ``pyfixest.estimation.demean``) and wildboottest runs on the
  demeaned arrays; the year effects are not nested in the districts, so its answer is then only
  approximate (the p-value is printed next to the exact one);
* **wildboottest with dummies** (pyfixest's ``Feols.wildboottest`` one-hot encodes the
  effects): not feasible here, the design would be 2 million x 200,000 dense;
* **refitting**: the textbook bootstrap, ``fit_fe`` on each bootstrap sample; a few refits are
  timed and the time of 2,048 (9,999) extrapolated.

    .venv/bin/python benchmarks/wild_speed.py [--rows 2000000] [--seed 1] [--refits 3]

Needs about 3 GB of memory and two minutes; not part of CI.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

import sustain

N_DISTRICTS = 11
N_YEARS = 10
REPS = 9999


def make_panel(rows: int, seed: int) -> pd.DataFrame:
    """A balanced agency-year panel: agencies nested in 11 districts, district-year shocks in
    the regressor and in the error (independent ones: ``hhi`` has no effect)."""
    rng = np.random.default_rng(seed)
    n_agencies = rows // N_YEARS
    agency = np.repeat(np.arange(n_agencies), N_YEARS)
    year = np.tile(np.arange(2012, 2012 + N_YEARS), n_agencies)
    district = rng.integers(0, N_DISTRICTS, n_agencies)[agency]
    cell = (district, year - 2012)
    hhi = rng.uniform(size=len(agency)) + 0.3 * rng.normal(size=(N_DISTRICTS, N_YEARS))[cell]
    gov_share = rng.uniform(size=len(agency))
    shock = rng.normal(size=(N_DISTRICTS, N_YEARS))[cell]  # no effect of hhi: the null holds
    quality = 70 - 2.0 * gov_share + shock + rng.normal(size=len(agency))
    labels = np.array([f"district_{d:02d}" for d in range(N_DISTRICTS)])
    index = pd.MultiIndex.from_arrays([agency, year], names=["agency_id", "year"])
    return pd.DataFrame(
        {"quality": quality, "hhi": hhi, "gov_share": gov_share, "district": labels[district]},
        index=index,
    )


def timed(func, *args, **kwargs):
    start = time.perf_counter()
    out = func(*args, **kwargs)
    return out, time.perf_counter() - start


def wildboottest_on_demeaned(fe, codes: np.ndarray, weights: str) -> tuple[float, float]:
    """wildboottest's WildboottestCL on the fit's within-transformed arrays: (p-value, seconds)."""
    from wildboottest.wildboottest import WildboottestCL

    X, y = fe.pieces.X, fe.pieces.y
    R = np.zeros(X.shape[1])
    R[0] = 1.0

    def run() -> float:
        boot = WildboottestCL(X=X, Y=y, cluster=codes, R=R, B=REPS, seed=1, parallel=False)
        boot.get_scores(bootstrap_type="11", impose_null=True)
        with warnings.catch_warnings():
            # its notice that 2**G < B switches on full enumeration
            warnings.simplefilter("ignore", UserWarning)
            boot.get_weights(weights_type=weights)
        boot.get_numer()
        boot.get_denom()
        boot.get_tboot()
        boot.get_vcov()
        boot.get_tstat()
        boot.get_pvalue(pval_type="two-tailed")
        return float(boot.pvalue)

    run()  # numba compiles its kernel on the first call: time the second
    return timed(run)


def demean_seconds(panel: pd.DataFrame) -> float:
    """Seconds pyfixest needs to project agency and year effects out of (y, hhi, gov_share)."""
    from pyfixest.estimation import demean

    block = panel[["quality", "hhi", "gov_share"]].to_numpy(dtype=np.float64)
    effects = np.column_stack(
        [pd.factorize(panel.index.get_level_values(level))[0] for level in (0, 1)]
    ).astype(np.uint64)
    weights = np.ones(len(panel))
    demean(block[:1000], effects[:1000], weights[:1000])  # numba compiles on the first call
    return timed(demean, block, effects, weights, 1e-8)[1]


def refit_seconds(panel: pd.DataFrame, fe, refits: int) -> float:
    """Seconds per restricted bootstrap sample when each sample is refitted with fit_fe."""
    rng = np.random.default_rng(0)
    district = pd.factorize(panel["district"])[0]
    restricted = sustain.fit_fe(panel, "quality ~ gov_share", cluster="district")
    fitted = panel["quality"].to_numpy() - restricted.pieces.resid  # within residuals only
    start = time.perf_counter()
    for _ in range(refits):
        signs = rng.choice([-1.0, 1.0], N_DISTRICTS)[district]
        sample = panel.assign(quality=fitted + restricted.pieces.resid * signs)
        sustain.fit_fe(sample, "quality ~ hhi + gov_share", cluster="district")
    return (time.perf_counter() - start) / refits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--refits", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore", UserWarning)  # fit_fe's note on 11 clusters, by design
    panel = make_panel(args.rows, args.seed)
    fe, fit_time = timed(
        sustain.fit_fe, panel, "quality ~ hhi + gov_share", cluster="district", fast=True
    )
    print(f"panel: {len(panel):,} agency-years, {N_DISTRICTS} districts; fit_fe {fit_time:.2f} s")
    codes = pd.factorize(panel["district"])[0]
    rows = []
    for weights in ("rademacher", "webb"):
        sustain.wild_bootstrap(fe, "hhi", weights=weights, reps=REPS, random_seed=1)  # warm-up
        wb, seconds = timed(
            sustain.wild_bootstrap, fe, "hhi", weights=weights, reps=REPS, random_seed=1
        )
        p_wbt, wbt_seconds = wildboottest_on_demeaned(fe, codes, weights)
        rows.append((weights, wb, seconds, p_wbt, wbt_seconds))
    per_refit = refit_seconds(panel, fe, args.refits)
    demeaning = demean_seconds(panel)
    print(f"\n{'weights':<11}{'samples':>9}{'sustain s':>11}{'p':>9}"
          f"{'demean+wildboottest s':>23}{'ratio':>7}{'p (approx.)':>13}"
          f"{'refit s (extrap.)':>19}{'ratio':>9}")  # fmt: skip
    for weights, wb, seconds, p_wbt, wbt_seconds in rows:
        refit_total = per_refit * wb.reps
        other = demeaning + wbt_seconds
        print(
            f"{weights:<11}{wb.reps:>9,}{seconds:>11.2f}{wb.pvalue:>9.4f}"
            f"{f'{demeaning:.2f}+{wbt_seconds:.2f}':>23}{other / seconds:>7.1f}{p_wbt:>13.4f}"
            f"{refit_total:>19,.0f}{refit_total / seconds:>9,.0f}"
        )
    dense_gb = len(panel) * (panel.index.get_level_values(0).nunique() + N_YEARS) * 8 / 1e9
    print(
        f"\nwildboottest with the effects as dummies (pyfixest's Feols.wildboottest): "
        f"a dense {len(panel):,} x {panel.index.get_level_values(0).nunique() + N_YEARS:,} "
        f"design, {dense_gb:,.0f} GB: not feasible.\n"
        f"wildboottest on demeaned arrays ignores that the year effects cross the districts: "
        f"its p-value (approx.) differs from the exact one.\n"
        f"ratio = other method's seconds / sustain's seconds.\n"
        f"refit: {per_refit:.2f} s per fit_fe on a bootstrap sample ({args.refits} timed)."
    )


if __name__ == "__main__":
    main()
