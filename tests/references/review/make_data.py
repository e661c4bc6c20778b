"""Write the synthetic data sets of the review tests (``tests/models/test_adversarial_references.py``).

Run from the repository root: ``.venv/bin/python tests/references/review/make_data.py``.
Every data set is drawn from ``numpy.random.default_rng`` with a fixed seed, so the CSV files in
``data/`` are reproducible; R (``review.R``) and the tests read the same files.

* ``fe_panel.csv``: an unbalanced agency-year panel for ``fit_fe`` (60 agencies in 6
  districts, 2012-2021): four agencies observed once (singletons), the others with random gaps;
  ``tier_fixed`` never changes within an agency, ``main_tier`` changes for about 30% of the
  rows; heteroskedastic errors; weights ``w``; 8 missing ``gov_share`` and 7 missing ``hhi``.
* ``hausman_panel.csv``: a balanced panel (30 agencies x 5 years) on which the difference of
  the fixed- and random-effects covariances is not positive definite.
* ``hazard_panel.csv``: an agency-year panel for the survival models (220 agencies founded
  2004-2019, observed 2012-2021: agencies founded before 2012 are left-truncated), exits drawn
  from a cloglog hazard; six exited agencies carry 12 corrupt rows after their exit (three
  with a second "exit") that every survival model must drop.
* ``disconnected_panel.csv``: 16 agencies, eight observed 2012-2015 and eight 2016-2019, so
  that agency and year effects form two unconnected groups (one more redundant dummy).
* ``separation.csv``: right-censored data in which ``sep`` equals the event indicator (a
  covariate that perfectly predicts the event).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).parent / "data"
TIERS = ["municipal", "district", "subdistrict"]


def fe_panel(seed: int = 20240611) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    years = np.arange(2012, 2022)
    rows = []
    for a in range(60):
        if a < 4:
            observed = [int(rng.choice(years))]
        else:
            observed = [int(y) for y in years if rng.uniform() > 0.25] or [2012, 2013, 2014]
        alpha = rng.normal()
        for y in observed:
            rows.append(
                dict(
                    agency_id=f"A{a:03d}",
                    year=y,
                    district=f"D{a % 6}",
                    alpha=alpha,
                    tier_fixed=TIERS[a % 3],
                )
            )
    df = pd.DataFrame(rows)
    n = len(df)
    df["hhi"] = rng.uniform(0.2, 1, n) + 0.3 * df["alpha"]
    df["gov_share"] = rng.uniform(0, 1, n)
    switch = rng.uniform(size=n) < 0.3
    df["main_tier"] = np.where(switch, rng.choice(TIERS, n), df["tier_fixed"])
    trend = (df["year"] - 2012) * 0.2
    noise = rng.normal(0, 1 + df["gov_share"], n)
    df["quality"] = 70 + 5 * df["hhi"] - 3 * df["gov_share"] + 2 * df["alpha"] + trend + noise
    df["w"] = rng.uniform(0.5, 2, n)
    missing = rng.choice(n, 15, replace=False)
    df.loc[missing[:8], "gov_share"] = np.nan
    df.loc[missing[8:], "hhi"] = np.nan
    return df.drop(columns="alpha")


def hausman_panel(seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n, t = 30, 5
    agency = np.repeat([f"A{i:02d}" for i in range(n)], t)
    year = np.tile(np.arange(2015, 2015 + t), n)
    a = np.repeat(rng.normal(size=n), t)
    x1 = rng.normal(size=n * t) + 0.3 * a
    x2 = np.repeat(rng.normal(size=n), t) + 0.2 * rng.normal(size=n * t)
    y = x1 + x2 + a + rng.normal(size=n * t)
    return pd.DataFrame({"agency_id": agency, "year": year, "x1": x1, "x2": x2, "y": y})


def hazard_panel(seed: int = 77) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    districts = ["Liwan", "Yuexiu", "Haizhu", "Tianhe", "Baiyun"]
    rows = []
    for a in range(220):
        founded = int(rng.integers(2004, 2020))
        district = districts[a % 5]
        frailty = rng.normal(0, 0.3)
        for y in range(max(founded, 2012), 2022):
            age = y - founded
            hhi = float(np.clip(rng.beta(2, 3) + 0.1 * (a % 3), 0, 1))
            log_revenue = float(rng.normal(13, 1))
            eta = (
                -3.2
                + 1.2 * hhi
                - 0.25 * (log_revenue - 13)
                + 0.05 * age
                + 0.3 * (district == "Baiyun")
                + frailty
            )
            exit_ = int(rng.uniform() < 1 - np.exp(-np.exp(eta)))
            rows.append(
                dict(
                    agency_id=f"H{a:03d}",
                    year=y,
                    founded=founded,
                    district=district,
                    age=age,
                    hhi=round(hhi, 6),
                    log_revenue=round(log_revenue, 6),
                    exit=exit_,
                )
            )
            if exit_:
                break
    clean = pd.DataFrame(rows)
    corrupt = []
    for k, agency in enumerate(clean.loc[clean["exit"] == 1, "agency_id"].unique()[:6]):
        last = clean[clean["agency_id"] == agency].iloc[-1]
        for j in (1, 2):
            if last["year"] + j <= 2021:
                row = last.to_dict()
                row.update(year=int(last["year"] + j), age=int(last["age"] + j), hhi=0.99)
                row.update(log_revenue=9.0, exit=int(k % 2 == 0 and j == 2))
                corrupt.append(row)
    out = pd.concat([clean, pd.DataFrame(corrupt)], ignore_index=True)
    return out.sort_values(["agency_id", "year"], kind="stable").reset_index(drop=True)


def disconnected_panel(seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [
        {"agency_id": f"A{a:02d}", "year": y, "x": rng.normal()}
        for a in range(16)
        for y in (range(2012, 2016) if a < 8 else range(2016, 2020))
    ]
    df = pd.DataFrame(rows)
    df["y"] = 2 * df["x"] + rng.normal(size=len(df))
    return df


def separation(seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 60
    df = pd.DataFrame(
        {
            "id": np.arange(n),
            "start": 0.0,
            "stop": rng.integers(1, 10, n).astype(float),
            "x": rng.normal(size=n),
        }
    )
    df["event"] = (rng.uniform(size=n) < 0.5).astype(int)
    df["sep"] = df["event"]
    return df


def main() -> None:
    OUT.mkdir(exist_ok=True)
    fe_panel().to_csv(OUT / "fe_panel.csv", index=False)
    hausman_panel().to_csv(OUT / "hausman_panel.csv", index=False)
    hazard_panel().to_csv(OUT / "hazard_panel.csv", index=False)
    disconnected_panel().to_csv(OUT / "disconnected_panel.csv", index=False)
    separation().to_csv(OUT / "separation.csv", index=False)


if __name__ == "__main__":
    main()
