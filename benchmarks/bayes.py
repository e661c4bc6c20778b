"""Benchmark: ``sustain.fit_bayes`` against the same model written plainly in PyMC.

Run from the repository root::

    .venv/bin/python benchmarks/bayes.py                     # 1,500 agencies (default)
    .venv/bin/python benchmarks/bayes.py --agencies 400 --sides sustain baseline_centred

The model is the quality model ``quality ~ hhi + gov_share + (1 | district/agency_id)`` on the
agency-year panel of ``sustain.simulate(seed=SEED, n_agencies=N)``, restricted to rows with a
quality score. Each side runs in its own fresh Python process (imports are not timed; the time
is model building + compilation + sampling + everything ``fit_bayes`` adds afterwards):

* ``sustain``: ``fit_bayes`` with its defaults (4 chains x 1,000 draws after 1,000 warm-up,
  ``sampler="auto"``);
* ``sustain_pymc``: ``fit_bayes`` with ``sampler="pymc"`` (to choose the ``"auto"`` default);
* ``baseline_centred``: the model as a PyMC user writes it (centred hierarchical intercepts as
  in PyMC's radon example: district intercepts around the global intercept, agency intercepts
  around their district's) sampled with ``pm.sample()`` defaults;
* ``baseline_noncentred``: the same with non-centred intercepts, also with ``pm.sample()``.

Both baselines use the same priors as sustain's defaults (printed), so only parameterisation
and sampler differ. Printed per side: wall time, min bulk ESS over (Intercept, hhi, gov_share,
sigma, both sds), ESS per second, divergences, chains x draws, and the ratio of sustain's
ESS/s to each baseline's. Target: sustain >= 10x the centred baseline with no divergences.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np

SEED = 2024
FORMULA = "quality ~ hhi + gov_share + (1 | district/agency_id)"
REPORTED = ["Intercept", "hhi", "gov_share", "sigma", "sd(1|district)", "sd(1|district:agency_id)"]


def quality_frame(n_agencies: int, seed: int = SEED):
    """The benchmark data: panel rows with a quality score, agency_id and year as columns."""
    import sustain

    sim = sustain.simulate(seed=seed, n_agencies=n_agencies)
    panel = sustain.build_panel(sim.data)
    return panel.dropna(subset=["quality", "hhi", "gov_share"]).reset_index()


def run_sustain(df, sampler: str) -> dict:
    import arviz as az

    import sustain

    start = time.perf_counter()
    bm = sustain.fit_bayes(df, FORMULA, random_seed=1, sampler=sampler)
    wall = time.perf_counter() - start
    ess = az.ess(bm.idata.posterior[REPORTED], method="bulk")
    return {
        "wall": wall,
        "ess": {n: float(ess[n]) for n in REPORTED},
        "divergences": int(bm.idata.sample_stats["diverging"].sum()),
        "chains": int(bm.idata.posterior.sizes["chain"]),
        "draws": int(bm.idata.posterior.sizes["draw"]),
        "rhat_max": float(bm.info.stats["rhat_max"]),
        "priors": bm.priors.to_dict("records"),
        "params": {n: float(bm.params[n]) for n in REPORTED},
    }


def _priors(df) -> dict:
    """sustain's default priors for this model, to give the baselines the same ones."""
    from sustain.models.bayes.priors import default_priors
    from sustain.models.bayes.terms import build_terms

    terms = build_terms(df, FORMULA)
    return {e.parameter: e.prior for e in default_priors(terms, "gaussian", "identity").entries}


def run_baseline(df, centred: bool) -> dict:
    import arviz as az
    import pymc as pm

    start = time.perf_counter()
    priors = _priors(df)
    agency, agencies = _codes(df["agency_id"])
    district, districts = _codes(df["district"])
    district_of_agency = np.zeros(len(agencies), dtype=int)
    district_of_agency[agency] = district
    y = df["quality"].to_numpy()
    with pm.Model(coords={"district": districts, "agency": agencies}):
        intercept = priors["Intercept"].to_pymc("Intercept")
        b_hhi = priors["hhi"].to_pymc("hhi")
        b_gov = priors["gov_share"].to_pymc("gov_share")
        sd_d = priors["sd(1|district)"].to_pymc("sd(1|district)")
        sd_a = priors["sd(1|district:agency_id)"].to_pymc("sd(1|district:agency_id)")
        sigma = priors["sigma"].to_pymc("sigma")
        if centred:
            a_d = pm.Normal("a_district", intercept, sd_d, dims="district")
            a_a = pm.Normal("a_agency", a_d[district_of_agency], sd_a, dims="agency")
        else:
            z_d = pm.Normal("z_district", 0, 1, dims="district")
            z_a = pm.Normal("z_agency", 0, 1, dims="agency")
            a_a = intercept + (z_d * sd_d)[district_of_agency] + z_a * sd_a
        mu = a_a[agency] + b_hhi * df["hhi"].to_numpy() + b_gov * df["gov_share"].to_numpy()
        pm.Normal("quality", mu, sigma, observed=y)
        idata = pm.sample(progressbar=False)
    wall = time.perf_counter() - start
    ess = az.ess(idata.posterior[REPORTED], method="bulk")
    rhat = az.rhat(idata.posterior[REPORTED])
    return {
        "wall": wall,
        "ess": {n: float(ess[n]) for n in REPORTED},
        "divergences": int(idata.sample_stats["diverging"].sum()),
        "chains": int(idata.posterior.sizes["chain"]),
        "draws": int(idata.posterior.sizes["draw"]),
        "rhat_max": float(max(float(rhat[n]) for n in REPORTED)),
        "params": {n: float(idata.posterior[n].mean()) for n in REPORTED},
    }


def _codes(values):
    import pandas as pd

    codes, uniques = pd.factorize(values.astype(str), sort=True)
    return codes, list(uniques)


def child(side: str, n_agencies: int) -> None:
    import pymc  # noqa: F401  (imported before timing, as for every side)

    import sustain.models.bayes  # noqa: F401

    df = quality_frame(n_agencies)
    if side == "sustain":
        out = run_sustain(df, "auto")
    elif side == "sustain_pymc":
        out = run_sustain(df, "pymc")
    elif side == "sustain_nutpie":
        out = run_sustain(df, "nutpie")
    else:
        out = run_baseline(df, centred=side == "baseline_centred")
    out.update(side=side, nobs=len(df), agencies=int(df["agency_id"].nunique()))
    print("RESULT " + json.dumps(out))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agencies", type=int, default=1500)
    parser.add_argument(
        "--sides",
        nargs="+",
        default=["sustain", "sustain_pymc", "baseline_centred", "baseline_noncentred"],
    )
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.agencies)
        return 0
    results = []
    for side in args.sides:
        cmd = [sys.executable, __file__, "--child", side, "--agencies", str(args.agencies)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode != 0 or not lines:
            print(f"{side}: failed\n{proc.stderr[-3000:]}")
            return 1
        results.append(json.loads(lines[-1][len("RESULT ") :]))
    report(results)
    return 0


def report(results: list[dict]) -> None:
    first = results[0]
    print(f"data: {first['nobs']:,} agency-years with quality, {first['agencies']:,} agencies")
    print(f"model: {FORMULA}")
    if "priors" in first:
        print("priors: " + "; ".join(f"{p['parameter']} ~ {p['prior']}" for p in first["priors"]))
    header = f"{'side':<22}{'chains x draws':>15}{'wall s':>9}{'min ESS':>9}{'ESS/s':>9}"
    print(header + f"{'div':>6}{'R-hat':>7}  min-ESS parameter")
    for r in results:
        ess_min = min(r["ess"].values())
        r["ess_per_s"] = ess_min / r["wall"]
        worst = min(r["ess"], key=r["ess"].get)
        print(
            f"{r['side']:<22}{r['chains']:>7} x {r['draws']:<5}{r['wall']:>9.1f}{ess_min:>9.0f}"
            f"{r['ess_per_s']:>9.2f}{r['divergences']:>6}{r['rhat_max']:>7.3f}  {worst}"
        )
    ours = [r for r in results if r["side"].startswith("sustain")]
    base = [r for r in results if r["side"].startswith("baseline")]
    for o in ours:
        for b in base:
            ratio = o["ess_per_s"] / b["ess_per_s"]
            print(f"ratio {o['side']} / {b['side']}: {ratio:.1f}x")
    print("posterior means:")
    for r in results:
        print(f"  {r['side']:<22}" + "  ".join(f"{k}={v:.3f}" for k, v in r["params"].items()))


if __name__ == "__main__":
    sys.exit(main())
