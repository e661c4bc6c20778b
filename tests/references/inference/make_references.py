"""Reference numbers for sustain's wild bootstrap and margins, from independent software.

Run from the repository root (writes next to this script):

    .venv/bin/python tests/references/inference/make_references.py

* ``data/*.csv``: the simulated data sets (numpy's default_rng with the seeds below);
* ``wildboottest.json``: p-values, t statistics and the bootstrap t statistics of
  ``wildboottest`` 0.3 (Fischer and Michuda's Python port of Roodman et al.'s fast algorithm),
  run on the full design (fixed effects as dummy columns, so nothing is projected out);
* ``margins.json``: statsmodels' ``LogitResults.get_margeff`` (AME and at-means, with their
  delta-method standard errors) for a logit, and, for a cloglog GLM with a log transform, an
  interaction and a categorical term, the AMEs by numerical differentiation with numdifftools
  (Richardson extrapolation) and their standard errors from numdifftools' gradient of the
  AME in the coefficients times statsmodels' clustered covariance.

Every number is written with 17 significant digits (``repr`` of a float).
"""

from __future__ import annotations

import json
import platform
import warnings
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"


def wild_panel(n_districts: int, agencies: int, years: int, seed: int) -> pd.DataFrame:
    """Agencies nested in districts, years crossing them, district-year shocks in the
    regressor and (independent ones) in the error; a small effect of ``hhi``."""
    rng = np.random.default_rng(seed)
    agency = np.repeat(np.arange(agencies), years)
    year = np.tile(np.arange(2015, 2015 + years), agencies)
    district = (np.arange(agencies) % n_districts)[agency]
    cell = (district, year - 2015)
    hhi = rng.uniform(size=len(agency)) + 0.5 * rng.normal(size=(n_districts, years))[cell]
    gov_share = rng.uniform(size=len(agency))
    quality = (
        60 + 0.15 * hhi - 2 * gov_share + rng.normal(size=(n_districts, years))[cell]
        + rng.normal(size=agencies)[agency] + rng.normal(size=len(agency))
    )  # fmt: skip
    return pd.DataFrame(
        {"agency_id": agency, "year": year, "district": district, "hhi": hhi,
         "gov_share": gov_share, "quality": quality}
    )  # fmt: skip


def hazard_rows(n: int, seed: int) -> pd.DataFrame:
    """One agency-year per agency: exits with a cloglog / logit probability."""
    rng = np.random.default_rng(seed)
    tier = rng.choice(["district", "municipal", "subdistrict"], n)
    frame = pd.DataFrame(
        {
            "agency_id": np.arange(n),
            "year": 2020,
            "district": rng.integers(0, 11, n),
            "hhi": rng.uniform(0.1, 1.0, n),
            "gov_share": rng.uniform(0, 1, n),
            "revenue": np.exp(rng.normal(13, 1, n)),
            "big": (rng.random(n) < 0.4).astype(int),
            "tier": tier,
        }
    )
    eta = (
        -2.5 + 1.0 * frame.hhi - 0.6 * frame.gov_share - 0.2 * (np.log(frame.revenue) - 13)
        + 0.8 * frame.hhi * frame.gov_share + 0.3 * frame.big + 0.4 * (tier == "municipal")
    )  # fmt: skip
    frame["exit_logit"] = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    frame["exit_cloglog"] = (rng.random(n) < 1 - np.exp(-np.exp(eta))).astype(int)
    return frame


def run_wildboottest(X, y, clusters, column, impose_null, weights, reps, seed=1):
    from wildboottest.wildboottest import WildboottestCL

    R = np.zeros(X.shape[1])
    R[column] = 1.0
    boot = WildboottestCL(X=X, Y=y, cluster=clusters, R=R, B=reps, seed=seed, parallel=False)
    boot.get_scores(bootstrap_type="11", impose_null=impose_null)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # its note that 2**G < B enumerates
        boot.get_weights(weights_type=weights)
    boot.get_numer()
    boot.get_denom()
    boot.get_tboot()
    boot.get_vcov()
    boot.get_tstat()
    boot.get_pvalue(pval_type="two-tailed")
    out = {
        "t_stat": float(np.ravel(boot.t_stat)[0]),
        "pvalue": float(boot.pvalue),
        "reps": int(boot.B),
        "full_enumeration": bool(boot.full_enumeration),
    }
    if boot.full_enumeration:  # every sign vector: the distribution itself is the reference
        out["t_boot"] = [float(t) for t in np.ravel(boot.t_boot)]
    return out


def wild_cases() -> dict:
    small = wild_panel(8, 48, 6, seed=11)
    small.to_csv(DATA / "wild_panel_8.csv", index=False)
    large = wild_panel(14, 140, 5, seed=12)
    large.to_csv(DATA / "wild_panel_14.csv", index=False)
    cases = {}
    for name, frame in (("pooled_8", small), ("pooled_14", large)):
        X = np.column_stack([np.ones(len(frame)), frame.hhi, frame.gov_share])
        y, g = frame.quality.to_numpy(), frame.district.to_numpy()
        enumerate_ = name.endswith("_8")
        for null in (True, False):
            for weights in ("rademacher",) if enumerate_ else ("rademacher", "webb"):
                key = f"{name}_{'wcr' if null else 'wcu'}_{weights}"
                cases[key] = {
                    "data": f"data/wild_panel_{name.split('_')[1]}.csv",
                    "sustain": {
                        "formula": "quality ~ hhi + gov_share",
                        "estimator": "pooled",
                        "cluster": "district",
                        "term": "hhi",
                        "impose_null": null,
                        "weights": weights,
                    },  # fmt: skip
                    "wildboottest": f"WildboottestCL(X=[1, hhi, gov_share], cluster=district, "
                    f"R=e_hhi, B=9999, seed=1), bootstrap_type='11', impose_null={null}, "
                    f"weights_type='{weights}'",
                    **run_wildboottest(X, y, g, 1, null, weights, 9999),
                }
    dummies = pd.get_dummies(small[["agency_id", "year"]].astype(str), drop_first=True)
    X = np.column_stack([np.ones(len(small)), small.hhi, small.gov_share, dummies.to_numpy(float)])
    for null in (True, False):
        cases[f"twoway_8_{'wcr' if null else 'wcu'}_rademacher"] = {
            "data": "data/wild_panel_8.csv",
            "sustain": {"formula": "quality ~ hhi + gov_share", "estimator": "within",
                        "effects": ["agency_id", "year"], "cluster": "district", "term": "hhi",
                        "impose_null": null, "weights": "rademacher"},  # fmt: skip
            "wildboottest": "WildboottestCL(X=[1, hhi, gov_share, agency and year dummies "
            f"(first dropped)], cluster=district, R=e_hhi, B=9999, seed=1), bootstrap_type='11', "
            f"impose_null={null}, weights_type='rademacher'",
            **run_wildboottest(X, small.quality.to_numpy(), small.district.to_numpy(), 1, null,
                               "rademacher", 9999),
        }  # fmt: skip
    return cases


def logit_margeff(frame: pd.DataFrame) -> dict:
    import statsmodels.api as sm

    X = sm.add_constant(frame[["hhi", "gov_share", "big"]].astype(float))
    fit = sm.Logit(frame.exit_logit.astype(float), X).fit(disp=0, tol=1e-12, maxiter=100)
    out = {}
    for at in ("overall", "mean"):
        me = fit.get_margeff(at=at, method="dydx", dummy=True)
        out[at] = {
            "term": ["hhi", "gov_share", "big"],
            "estimate": [float(v) for v in me.margeff],
            "se": [float(v) for v in me.margeff_se],
        }
    return {
        "data": "data/hazard_rows.csv",
        "statsmodels": "Logit(exit_logit, [1, hhi, gov_share, big]).fit(); "
        "get_margeff(at='overall' | 'mean', method='dydx', dummy=True)",
        "sustain": "fit_hazard(frame, 'exit_logit ~ hhi + gov_share + big', link='logit', "
        "duration=None, cluster=None); margins(fit, kind='average' | 'at_means')",
        "average": out["overall"],
        "at_means": out["mean"],
    }


def cloglog_numdiff(frame: pd.DataFrame) -> dict:
    """AMEs of a cloglog GLM by numerical differentiation (numdifftools), clustered SEs."""
    import numdifftools as nd
    import statsmodels.api as sm

    municipal = (frame.tier == "municipal").to_numpy(float)
    subdistrict = (frame.tier == "subdistrict").to_numpy(float)

    def design(hhi, gov, tier_m, tier_s):
        logrev = np.log(frame.revenue.to_numpy())
        return np.column_stack([np.ones(len(frame)), hhi, gov, logrev, tier_m, tier_s, hhi * gov])

    hhi, gov = frame.hhi.to_numpy(), frame.gov_share.to_numpy()
    X = design(hhi, gov, municipal, subdistrict)
    family = sm.families.Binomial(link=sm.families.links.CLogLog())
    glm = sm.GLM(frame.exit_cloglog.astype(float), X, family=family)
    fit = glm.fit(tol=1e-13, maxiter=200)
    beta = np.asarray(fit.params)
    # R's sandwich::vcovCL(type = "HC1") of a glm: bread (X'WX)^-1 from the expected
    # information (IRLS; statsmodels' own cov_type="cluster" would use the observed Hessian of
    # this non-canonical link), meat from the score contributions summed by district
    bread = np.asarray(fit.cov_params())
    scores = np.asarray(glm.score_obs(beta))
    groups = pd.factorize(frame.district)[0]
    sums = np.vstack([scores[groups == g].sum(axis=0) for g in range(groups.max() + 1)])
    n, k, n_groups = len(frame), X.shape[1], groups.max() + 1
    factor = n_groups / (n_groups - 1) * (n - 1) / (n - k)
    cov = factor * bread @ (sums.T @ sums) @ bread

    def mu(b, Xm):
        return -np.expm1(-np.exp(Xm @ b))

    def ame_numerical(name):
        def mean_mu(h):
            shifted = {"hhi": (hhi + h, gov), "gov_share": (hhi, gov + h)}[name]
            return mu(beta, design(*shifted, municipal, subdistrict)).mean()

        return float(nd.Derivative(mean_mu, n=1, order=4)(0.0))

    def ame_exact(b, name):  # analytic derivative of the hand-written design, for the SE
        eta = X @ b
        slope = {"hhi": b[1] + b[6] * gov, "gov_share": b[2] + b[6] * hhi}[name]
        return float(np.mean(np.exp(eta - np.exp(eta)) * slope))

    def tier_change(b, level):
        zeros = np.zeros(len(frame))
        high = design(
            hhi, gov, *((zeros + 1, zeros) if level == "municipal" else (zeros, zeros + 1))
        )
        return float(np.mean(mu(b, high) - mu(b, design(hhi, gov, zeros, zeros))))

    terms, estimates, ses = [], [], []
    for name in ("hhi", "gov_share"):
        gradient = nd.Gradient(lambda b, n=name: ame_exact(b, n))(beta)
        terms.append(name)
        estimates.append(ame_numerical(name))
        ses.append(float(np.sqrt(gradient @ cov @ gradient)))
    for level in ("municipal", "subdistrict"):
        gradient = nd.Gradient(lambda b, lv=level: tier_change(b, lv))(beta)
        terms.append(f"tier[T.{level}]")
        estimates.append(tier_change(beta, level))
        ses.append(float(np.sqrt(gradient @ cov @ gradient)))
    return {
        "data": "data/hazard_rows.csv",
        "statsmodels": "GLM(exit_cloglog, [1, hhi, gov_share, log(revenue), tier dummies, "
        "hhi*gov_share], Binomial(CLogLog())).fit(); covariance as R's vcovCL(type='HC1') by "
        "district: G/(G-1) (n-1)/(n-k) B (sum_g s_g s_g') B, B = cov_params(), s = score_obs",
        "numdifftools": "AME: Derivative(h -> mean mu(x(hhi + h)), n=1, order=4) at 0; SE: "
        "Gradient of the AME in the coefficients, sqrt(g' V g)",
        "sustain": "fit_hazard(frame, 'exit_cloglog ~ hhi * gov_share + np.log(revenue) + "
        "C(tier)', link='cloglog', duration=None, cluster='district'); margins(fit)",
        "params": [float(v) for v in beta],
        "cov": [[float(v) for v in row] for row in cov],
        "term": terms,
        "estimate": estimates,
        "se": ses,
    }


def main() -> None:
    DATA.mkdir(exist_ok=True)
    software = {
        "python": platform.python_version(),
        **{
            p: version(p)
            for p in ("numpy", "pandas", "statsmodels", "wildboottest", "numdifftools")
        },
    }
    wild = {"software": software, "cases": wild_cases()}
    (HERE / "wildboottest.json").write_text(json.dumps(wild, indent=1) + "\n")
    rows = hazard_rows(3000, seed=21)
    rows.to_csv(DATA / "hazard_rows.csv", index=False)
    margins = {"software": software, "logit": logit_margeff(rows), "cloglog": cloglog_numdiff(rows)}
    (HERE / "margins.json").write_text(json.dumps(margins, indent=1) + "\n")
    print(json.dumps(software))


if __name__ == "__main__":
    main()
