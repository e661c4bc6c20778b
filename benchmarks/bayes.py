"""Benchmark: ``sustain.fit_bayes`` against the same model written plainly in PyMC.

Run from the repository root::

    .venv/bin/python benchmarks/bayes.py                     # both cases, 1,500 agencies
    .venv/bin/python benchmarks/bayes.py --case nested --agencies 400 --sides sustain baseline_centred
    .venv/bin/python benchmarks/bayes.py --case parameterization --agencies 400

Case ``nested`` is the quality model ``quality ~ hhi + gov_share + (1 | district/agency_id)``;
case ``hazard`` the discrete-time cloglog hazard ``exit ~ hhi + log_revenue + (1 | district)``
(about 9,400 agency-years at risk);
case ``slope`` adds a correlated varying slope of hhi over the agencies' main purchasing tier,
``quality ~ hhi + gov_share + (1 | district/agency_id) + (hhi | main_tier)`` (the generalised
collapse: agency intercepts integrated out level by level, district and tier effects jointly).
All on the agency-year panel of ``sustain.simulate(seed=SEED, n_agencies=N,
first_year=FIRST_YEAR)`` (1,500 agencies in 11 districts: about 9,100 agency-years with a
quality score, like the hidden-world data of issue 12), restricted to rows with the model's
variables. Each side runs in its own fresh Python process (imports are not timed; the time
is model building + compilation + sampling + everything ``fit_bayes`` adds afterwards):

* ``sustain``: ``fit_bayes`` with its defaults (4 chains x 1,000 draws after 1,000 warm-up,
  ``sampler="auto"``), compiled models on disk from earlier runs (a first run fills the cache);
  the CPU time (user + system) of the process over the wall time of the sampling call alone is
  reported as ``cpu/wall`` (4 chains on 2 cores: up to 2.0);
* ``sustain_cold``: the same with fresh, empty PyTensor and numba cache folders (the first fit
  of a new model structure on an installation made by ``make install``, which compiled the
  structure-independent kernels: :mod:`sustain.models.bayes.kernel_store`);
* ``sustain_scratch``: empty caches and no kernels from the installation either (the very
  first fit after ``pip install``: the kernel is compiled in the fit);
* ``sustain_pymc``: ``fit_bayes`` with ``sampler="pymc"`` (to choose the ``"auto"`` default);
* ``baseline_centred``: the model as a PyMC user writes it (centred hierarchical intercepts as
  in PyMC's radon example: district intercepts around the global intercept, agency intercepts
  around their district's) sampled with ``pm.sample()`` defaults and PyMC's own NUTS
  (``nuts_sampler="pymc"``: PyMC 6 would otherwise pick nutpie when it is installed);
* ``baseline_noncentred``: the same with non-centred intercepts, also with ``pm.sample()``.

For ``slope`` the baselines add ``r_tier ~ MvNormal(0, D L L' D)`` with
``pm.LKJCholeskyCov`` with the same LKJ and sd priors (centred for ``baseline_centred``,
``z L' D`` for ``baseline_noncentred``). Both baselines use the same priors as sustain's
defaults (printed), so only parameterisation, collapse and sampler differ.

Case ``parameterization`` measures the full (not collapsed) model's per-factor parameterisation
on the example panel: ESS/s of ``parameterization="auto"`` against ``"non_centred"`` for the
bernoulli cloglog hazard ``exit ~ hhi + gov_share + log_revenue + age + (1 | district)`` and
for the Gaussian quality model with ``collapse=False``. Printed per side: wall time, min bulk ESS over (Intercept, hhi, gov_share,
sigma, both sds), ESS per second, divergences, chains x draws, and the ratio of sustain's
ESS/s to each baseline's. Target: sustain >= 10x the centred baseline with no divergences.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

SEED = 2024
FIRST_YEAR = 2015
FORMULAS = {
    "nested": "quality ~ hhi + gov_share + (1 | district/agency_id)",
    "slope": "quality ~ hhi + gov_share + (1 | district/agency_id) + (hhi | main_tier)",
    "hazard": "exit ~ hhi + log_revenue + (1 | district)",
}
HAZARD_REPORTED = ["Intercept", "hhi", "log_revenue", "sd(1|district)"]
REPORTED = ["Intercept", "hhi", "gov_share", "sigma", "sd(1|district)", "sd(1|district:agency_id)"]
SLOPE_REPORTED = ["sd(1|main_tier)", "sd(hhi|main_tier)", "cor(1,hhi|main_tier)"]
#: (label, family, link, formula) of the parameterization case, on the example panel.
PARAM_MODELS = [
    (
        "hazard",
        "bernoulli",
        "cloglog",
        "exit ~ hhi + gov_share + log_revenue + age + (1 | district)",
    ),
    ("quality", "gaussian", None, "quality ~ hhi + gov_share + (1 | district/agency_id)"),
]


def reported(case: str) -> list[str]:
    """Parameters whose smallest bulk ESS is reported."""
    if case == "hazard":
        return HAZARD_REPORTED
    return REPORTED + (SLOPE_REPORTED if case == "slope" else [])


def quality_frame(n_agencies: int, seed: int = SEED, case: str = "nested"):
    """The benchmark data: panel rows with the model's variables, agency_id and year as columns."""
    import sustain

    sim = sustain.simulate(seed=seed, n_agencies=n_agencies, first_year=FIRST_YEAR)
    panel = sustain.build_panel(sim.data)
    needed = ["exit", "hhi", "log_revenue"] if case == "hazard" else ["quality", "hhi", "gov_share"]
    return panel.dropna(subset=needed).reset_index()


class SamplingClock:
    """Wall and CPU (user + system, all threads) time spent inside ``nutpie.sample``.

    On Linux it also polls ``/proc/self/task/*/schedstat`` of nutpie's worker threads: a
    worker's CPU time plus its run-queue wait (runnable, but the cores were busy) over the
    sampling wall time says how much of the time it could have run. Near 1 for every worker
    means no lock or GIL held the chains back, whatever the load of the machine.
    """

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0
        self.runnable: list[float] = []

    def install(self) -> None:
        import os
        import threading

        import nutpie

        real = nutpie.sample

        def timed(*args, **kwargs):
            seen: dict[str, tuple[float, float]] = {}
            stop = threading.Event()
            poller = threading.Thread(target=_poll_workers, args=(seen, stop), daemon=True)
            t0, c0 = time.perf_counter(), os.times()
            poller.start()
            try:
                return real(*args, **kwargs)
            finally:
                c1 = os.times()
                wall = time.perf_counter() - t0
                stop.set()
                poller.join()
                self.wall += wall
                self.cpu += (c1.user + c1.system) - (c0.user + c0.system)
                self.runnable = [
                    (cpu + wait) / wall for cpu, wait in seen.values() if cpu > 0.01 * wall
                ]

        nutpie.sample = timed


def _poll_workers(seen: dict, stop) -> None:
    import glob

    while not stop.is_set():
        for task in glob.glob("/proc/self/task/*"):
            try:
                with open(f"{task}/comm") as handle:
                    if not handle.read().startswith("nutpie-worker"):
                        continue
                with open(f"{task}/schedstat") as handle:
                    cpu, wait, _ = (int(v) for v in handle.read().split())
            except (OSError, ValueError):
                continue
            seen[task] = (cpu / 1e9, wait / 1e9)
        time.sleep(0.02)


def run_sustain(df, sampler: str, case: str) -> dict:
    import arviz as az

    import sustain

    names = reported(case)
    clock = SamplingClock()
    clock.install()
    family = {"family": "bernoulli", "link": "cloglog"} if case == "hazard" else {}
    start = time.perf_counter()
    bm = sustain.fit_bayes(
        df, FORMULAS[case], random_seed=1, sampler=sampler, progressbar=False, **family
    )
    wall = time.perf_counter() - start
    ess = az.ess(bm.idata.posterior.to_dataset()[names], method="bulk")
    return {
        "wall": wall,
        "ess": {n: float(ess[n]) for n in names},
        "divergences": int(bm.idata.sample_stats["diverging"].sum()),
        "chains": int(bm.idata.posterior.sizes["chain"]),
        "draws": int(bm.idata.posterior.sizes["draw"]),
        "rhat_max": float(bm.info.stats["rhat_max"]),
        "priors": bm.priors.to_dict("records"),
        "params": {n: float(bm.params[n]) for n in names},
        "collapsed": bool(bm.collapsed),
        "sampling_wall": clock.wall,
        "sampling_cpu": clock.cpu,
        "runnable": clock.runnable,
    }


def _priors(df, case: str) -> dict:
    """sustain's default priors for this model, to give the baselines the same ones."""
    from sustain.models.bayes.priors import default_priors
    from sustain.models.bayes.terms import build_terms

    terms = build_terms(df, FORMULAS[case])
    family, link = ("bernoulli", "cloglog") if case == "hazard" else ("gaussian", "identity")
    return {e.parameter: e.prior for e in default_priors(terms, family, link).entries}


def run_baseline(df, centred: bool, case: str) -> dict:
    import pymc as pm

    names = reported(case)
    start = time.perf_counter()
    priors = _priors(df, case)
    if case == "hazard":
        idata = _hazard_baseline(df, priors, centred)
        return _baseline_result(idata, names, time.perf_counter() - start)
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
        hhi = df["hhi"].to_numpy()
        mu = a_a[agency] + b_hhi * hhi + b_gov * df["gov_share"].to_numpy()
        if case == "slope":
            mu = mu + _tier_part(df, priors, centred, hhi)
        pm.Normal("quality", mu, sigma, observed=y)
        # PyMC's own NUTS, as before PyMC 6 (which picks nutpie when it is installed)
        idata = pm.sample(progressbar=False, nuts_sampler="pymc")
    return _baseline_result(idata, names, time.perf_counter() - start)


def _hazard_baseline(df, priors: dict, centred: bool):
    """The cloglog hazard as a PyMC user writes it: Bernoulli with p = 1 - exp(-exp(eta))."""
    import pymc as pm

    district, districts = _codes(df["district"])
    with pm.Model(coords={"district": districts}):
        intercept = priors["Intercept"].to_pymc("Intercept")
        b_hhi = priors["hhi"].to_pymc("hhi")
        b_rev = priors["log_revenue"].to_pymc("log_revenue")
        sd_d = priors["sd(1|district)"].to_pymc("sd(1|district)")
        if centred:
            a_d = pm.Normal("a_district", intercept, sd_d, dims="district")
        else:
            a_d = intercept + pm.Normal("z_district", 0, 1, dims="district") * sd_d
        eta = a_d[district] + b_hhi * df["hhi"].to_numpy() + b_rev * df["log_revenue"].to_numpy()
        p = 1 - pm.math.exp(-pm.math.exp(eta))
        pm.Bernoulli("exit", p=p, observed=df["exit"].to_numpy())
        return pm.sample(progressbar=False, nuts_sampler="pymc")


def _baseline_result(idata, names: list[str], wall: float) -> dict:
    import arviz as az

    post = idata.posterior.to_dataset()
    ess = az.ess(post[names], method="bulk")
    rhat = az.rhat(post[names])
    return {
        "wall": wall,
        "ess": {n: float(ess[n]) for n in names},
        "divergences": int(idata.sample_stats["diverging"].sum()),
        "chains": int(idata.posterior.sizes["chain"]),
        "draws": int(idata.posterior.sizes["draw"]),
        "rhat_max": float(max(float(rhat[n]) for n in names)),
        "params": {n: float(idata.posterior[n].mean()) for n in names},
    }


def _tier_part(df, priors: dict, centred: bool, hhi):
    """Correlated tier intercepts and hhi slopes as a PyMC user writes them (LKJCholeskyCov)."""
    import pymc as pm
    import pytensor.tensor as pt

    tier, tiers = _codes(df["main_tier"])
    sd_1 = priors["sd(1|main_tier)"]
    sd_x = priors["sd(hhi|main_tier)"]
    # same half-Student-t sd priors as sustain's, one per coefficient
    sd_dist = pm.HalfStudentT.dist(
        nu=3, sigma=np.array([sd_1.kwargs["sigma"], sd_x.kwargs["sigma"]]), shape=2
    )
    eta = priors["cor(main_tier)"].kwargs["eta"]
    chol, corr, sds = pm.LKJCholeskyCov("chol_tier", n=2, eta=eta, sd_dist=sd_dist)
    pm.Deterministic("sd(1|main_tier)", sds[0])
    pm.Deterministic("sd(hhi|main_tier)", sds[1])
    pm.Deterministic("cor(1,hhi|main_tier)", corr[0, 1])
    if centred:
        r = pm.MvNormal("r_tier", np.zeros(2), chol=chol, shape=(len(tiers), 2))
    else:
        z = pm.Normal("z_tier", 0.0, 1.0, shape=(len(tiers), 2))
        r = pt.dot(z, chol.T)
    return r[tier, 0] + r[tier, 1] * hhi


def _codes(values):
    import pandas as pd

    codes, uniques = pd.factorize(values.astype(str), sort=True)
    return codes, list(uniques)


def child(side: str, n_agencies: int, case: str) -> None:
    start = time.perf_counter()
    import arviz  # noqa: F401  (imported before timing, as for every side: nutpie imports it)
    import nutpie  # noqa: F401
    import pymc  # noqa: F401

    import sustain.models.bayes  # noqa: F401

    imports = time.perf_counter() - start
    if case == "parameterization":
        print("RESULT " + json.dumps(run_parameterization(side)))
        return
    df = quality_frame(n_agencies, case=case)
    if side in ("sustain", "sustain_cold", "sustain_scratch"):
        out = run_sustain(df, "auto", case)
    elif side == "sustain_pymc":
        out = run_sustain(df, "pymc", case)
    elif side == "sustain_nutpie":
        out = run_sustain(df, "nutpie", case)
    else:
        out = run_baseline(df, centred=side == "baseline_centred", case=case)
    out.update(
        side=side,
        nobs=len(df),
        agencies=int(df["agency_id"].nunique()),
        case=case,
        imports=imports,
    )
    print("RESULT " + json.dumps(out))


def run_parameterization(side: str) -> dict:
    """One model of PARAM_MODELS (``side`` = "label:form") on the example panel, not collapsed."""
    import arviz as az

    import sustain

    label, form = side.split(":")
    _, family, link, formula = next(m for m in PARAM_MODELS if m[0] == label)
    panel = sustain.build_panel(sustain.datasets.example()).reset_index()
    start = time.perf_counter()
    bm = sustain.fit_bayes(
        panel,
        formula,
        family=family,
        link=link,
        collapse=False,
        parameterization=form,
        random_seed=1,
    )
    wall = time.perf_counter() - start
    names = [n for n in bm.terms if n in bm.idata.posterior]
    ess = az.ess(bm.idata.posterior.to_dataset()[names], method="bulk")
    return {
        "side": side,
        "wall": wall,
        "ess": {n: float(ess[n]) for n in names},
        "divergences": int(bm.idata.sample_stats["diverging"].sum()),
        "chains": int(bm.idata.posterior.sizes["chain"]),
        "draws": int(bm.idata.posterior.sizes["draw"]),
        "rhat_max": float(bm.info.stats["rhat_max"]),
        "nobs": bm.nobs,
        "note": [n for n in bm.info.notes if n.startswith("Group effects centred")],
        "params": {n: float(bm.params[n]) for n in names[:4]},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agencies", type=int, default=1500)
    parser.add_argument(
        "--case",
        nargs="+",
        default=["nested", "hazard"],
        choices=["nested", "slope", "hazard", "parameterization"],
    )
    parser.add_argument("--sides", nargs="+", default=None)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.agencies, args.case[0])
        return 0
    for case in args.case:
        if run_case(case, args.sides or default_sides(case), args.agencies) != 0:
            return 1
    return 0


def default_sides(case: str) -> list[str]:
    if case == "parameterization":
        return [f"{m[0]}:{form}" for m in PARAM_MODELS for form in ("auto", "non_centred")]
    return [
        "sustain_scratch",
        "sustain_cold",
        "sustain",
        "baseline_centred",
        "baseline_noncentred",
    ]


def run_case(case: str, sides: list[str], n_agencies: int) -> int:
    print(f"=== case {case}")
    results = []
    for side in sides:
        cmd = [sys.executable, __file__, "--child", side, "--agencies", str(n_agencies)]
        cmd += ["--case", case]
        with tempfile.TemporaryDirectory() as caches:
            env = dict(os.environ)
            if side in ("sustain_cold", "sustain_scratch"):  # fresh, empty compilation caches
                env["PYTENSOR_FLAGS"] = f"base_compiledir={caches}/pytensor"
                env["NUMBA_CACHE_DIR"] = f"{caches}/numba"
            if side == "sustain_scratch":  # and not the kernels compiled at installation
                env["SUSTAIN_NO_KERNEL_STORE"] = "1"
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode != 0 or not lines:
            print(f"{side}: failed\n{proc.stderr[-3000:]}")
            return 1
        results.append(json.loads(lines[-1][len("RESULT ") :]))
    if case == "parameterization":
        report_parameterization(results)
    else:
        report(results, case)
    return 0


def report_parameterization(results: list[dict]) -> None:
    print("example panel, collapse=False; min bulk ESS over population-level terms and sds")
    print(f"{'side':<22}{'wall s':>9}{'min ESS':>9}{'ESS/s':>9}{'div':>6}{'R-hat':>7}  centred")
    for r in results:
        r["ess_per_s"] = min(r["ess"].values()) / r["wall"]
        print(
            f"{r['side']:<22}{r['wall']:>9.1f}{min(r['ess'].values()):>9.0f}"
            f"{r['ess_per_s']:>9.2f}{r['divergences']:>6}{r['rhat_max']:>7.3f}  {r['note']}"
        )
    for label, *_ in PARAM_MODELS:
        pair = {r["side"].split(":")[1]: r for r in results if r["side"].startswith(label + ":")}
        if {"auto", "non_centred"} <= set(pair):
            ratio = pair["auto"]["ess_per_s"] / pair["non_centred"]["ess_per_s"]
            print(f"ratio {label} auto / non_centred: {ratio:.2f}x")


def report(results: list[dict], case: str) -> None:
    first = results[0]
    rows = "agency-years at risk" if case == "hazard" else "agency-years with quality"
    print(f"data: {first['nobs']:,} {rows}, {first['agencies']:,} agencies")
    print(f"model: {FORMULAS[case]}")
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
    for r in ours:
        if r.get("sampling_wall"):
            print(
                f"{r['side']}: sampling {r['sampling_wall']:.1f} s wall, "
                f"{r['sampling_cpu']:.1f} s CPU (user+system): cpu/wall "
                f"{r['sampling_cpu'] / r['sampling_wall']:.2f} on {os.cpu_count()} cores; "
                f"imports {r['imports']:.1f} s, fit {r['wall']:.1f} s"
            )
            shares = ", ".join(f"{x:.2f}" for x in r.get("runnable", []))
            print(f"  workers running or runnable (cpu + run-queue wait) / wall: {shares}")
    load = os.getloadavg()
    print(f"load average after the case: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print("posterior means:")
    for r in results:
        print(f"  {r['side']:<22}" + "  ".join(f"{k}={v:.3f}" for k, v in r["params"].items()))


if __name__ == "__main__":
    sys.exit(main())
