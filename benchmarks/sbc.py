"""Simulation-based calibration (Talts et al. 2018) of fit_bayes on the quality model.

Run from the repository root::

    .venv/bin/python benchmarks/sbc.py                 # 100 replications (a few minutes)
    .venv/bin/python benchmarks/sbc.py --reps 20 --out /tmp/sbc.png

One fixed design -- ``quality ~ hhi + gov_share + (1 | district/agency_id)`` with 40 agencies
in 8 districts observed 4 times each (160 rows) -- and fixed priors. Each replication draws the
parameters from the prior (the same numpy prior draws that ``fit_bayes`` stores as
``idata.prior``), simulates quality from them, fits the model (the collapsed Gaussian path:
group effects integrated out, then drawn exactly) and records the rank of each true value among
100 thinned posterior draws. If the posterior is computed correctly the ranks are uniform on
0..100; the script prints a chi-square test of uniformity over 10 bins per parameter and saves
rank histograms (``docs/models/img/bayes_sbc.png`` by default).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

FORMULA = "quality ~ hhi + gov_share + (1 | district/agency_id)"
PRIORS = {
    "Intercept": "normal(80, 5)",
    "b": "normal(0, 5)",
    "sigma": "half_normal(0, 3)",
    "sd": "half_normal(0, 3)",
}
PARAMS = ["Intercept", "hhi", "gov_share", "sigma", "sd(1|district)", "sd(1|district:agency_id)"]
EFFECT = "r(1|district:agency_id)"
N_RANK = 100  # thinned posterior draws per replication: ranks lie in 0..N_RANK
BINS = 10


def design(seed: int = 0) -> pd.DataFrame:
    """The fixed design: 8 districts x 5 agencies x 4 years, hhi and gov_share in [0, 1]."""
    rng = np.random.default_rng(seed)
    agency = np.repeat(np.arange(40), 4)
    return pd.DataFrame(
        {
            "agency_id": [f"A{i:02d}" for i in agency],
            "district": [f"D{i // 5}" for i in agency],
            "hhi": rng.uniform(0.2, 1.0, len(agency)),
            "gov_share": rng.uniform(0.3, 1.0, len(agency)),
            "quality": 0.0,
        }
    )


def replicate(df: pd.DataFrame, rep: int) -> dict[str, float]:
    """Ranks of the true values of one replication (plus one agency effect)."""
    import sustain
    from sustain.models.bayes.families import family_spec
    from sustain.models.bayes.predictive import prior_draws, prior_predictive
    from sustain.models.bayes.priors import resolve_priors
    from sustain.models.bayes.terms import build_terms

    terms = build_terms(df, FORMULA)
    fam = family_spec("gaussian")
    priors = resolve_priors(terms, "gaussian", "identity", PRIORS)
    rng = np.random.default_rng([rep, 2018])
    truth = prior_draws(terms, priors, fam, rng, 1)
    data = df.assign(quality=prior_predictive(terms, fam, truth, rng)[0])
    fit = sustain.fit_bayes(
        data,
        FORMULA,
        priors=PRIORS,
        draws=500,
        tune=500,
        chains=2,
        random_seed=rep,
        prior_predictive=False,
        posterior_predictive=False,
        log_likelihood=False,
    )
    step = fit.draws("hhi").size // N_RANK
    ranks = {p: int((fit.draws(p)[::step][:N_RANK] < truth[p][0]).sum()) for p in PARAMS}
    effect = np.asarray(fit.idata.posterior[EFFECT]).reshape(-1, terms.groups[1].n_levels)
    ranks[EFFECT + "[0]"] = int((effect[::step, 0][:N_RANK] < truth[EFFECT][0, 0]).sum())
    ranks["divergences"] = fit.info.stats["divergences"]
    return ranks


def uniformity(ranks: pd.Series) -> float:
    """Chi-square p-value of ranks (0..N_RANK) being uniform over BINS equal bins."""
    counts = np.histogram(ranks, bins=BINS, range=(0, N_RANK + 1))[0]
    return float(stats.chisquare(counts).pvalue)


def plot(table: pd.DataFrame, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [c for c in table.columns if c != "divergences"]
    fig, axes = plt.subplots(2, 4, figsize=(12, 5.5), sharey=True)
    expected = len(table) / BINS
    band = stats.binom(len(table), 1 / BINS).ppf([0.005, 0.995])
    for ax, name in zip(axes.ravel(), names, strict=False):
        ax.axhspan(band[0], band[1], color="0.9")
        ax.axhline(expected, color="0.5", lw=0.8)
        ax.hist(table[name], bins=BINS, range=(0, N_RANK + 1), color="#3b6ea5", edgecolor="white")
        ax.set_title(f"{name}\nchi-square p = {uniformity(table[name]):.2f}", fontsize=9)
    for ax in axes.ravel()[len(names) :]:
        ax.axis("off")
    fig.suptitle(f"SBC rank histograms, {len(table)} replications (grey: 99% band per bin)")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=100)
    parser.add_argument("--out", type=Path, default=Path("docs/models/img/bayes_sbc.png"))
    args = parser.parse_args()
    df = design()
    start = time.perf_counter()
    rows = []
    for rep in range(args.reps):
        rows.append(replicate(df, rep))
        if rep == 0:
            print(f"first replication (compiles the model): {time.perf_counter() - start:.1f} s")
    wall = time.perf_counter() - start
    table = pd.DataFrame(rows)
    print(f"{args.reps} replications in {wall:.0f} s ({wall / args.reps:.1f} s each)")
    print(f"divergent transitions in total: {int(table['divergences'].sum())}")
    print(f"{'parameter':<30}{'mean rank':>10}{'chi-square p':>14}")
    for name in [c for c in table.columns if c != "divergences"]:
        print(f"{name:<30}{table[name].mean():>10.1f}{uniformity(table[name]):>14.3f}")
    plot(table, args.out)
    print(f"rank histograms written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
