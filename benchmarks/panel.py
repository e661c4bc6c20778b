"""Benchmark: ``sustain.build_panel`` on millions of contract rows against plain pandas.

Run from the repository root::

    .venv/bin/python benchmarks/panel.py                  # 5 million contracts (default)
    .venv/bin/python benchmarks/panel.py --contracts 500000 --agencies 5000

Each implementation runs in its own fresh Python process, which first builds the same synthetic
data set (numpy only, fixed seed: ~50,000 agencies, ~2,000 funders, 2012-2023, one revenue row
per ten contracts) and then builds the panel (once, or ``--repeat`` times). Printed per
implementation: wall time of the first build (and the best one when repeated), the process's
peak resident memory during the builds, and the resident memory of the data alone before them.
The straightforward version is a pandas group-by/merge/pivot implementation written the obvious
way; its process also runs ``build_panel`` afterwards and checks that both give the same numbers.

Peak memory is the kernel's high-water mark (``VmHWM``), reset after the data are built by
writing 5 to ``/proc/self/clear_refs`` (Linux); elsewhere it falls back to ``ru_maxrss``, which
then includes building the data.

Targets on the 2-core development machine: under 10 s and 4 GiB, and faster than the
straightforward version.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from sustain.data.dataset import Dataset
from sustain.data.panel import build_panel
from sustain.options import CONTRACT_TYPES, TIERS

TYPE_PROBABILITIES = [0.35, 0.1, 0.1, 0.1, 0.05, 0.15, 0.15]
TIER_PROBABILITIES = [0.1, 0.3, 0.6]
SOURCES = ["foundation", "donation", "fee", "enterprise"]
DISTRICTS = ["Yuexiu", "Haizhu", "Liwan", "Tianhe", "Baiyun", "Huangpu", "Panyu", "Huadu"]
# Both implementations sum the same numbers in different orders, so they agree to rounding:
# differences are compared relative to max(|value|, 1), i.e. relative for amounts and absolute
# for shares, which can be near 0 (hhi_norm of almost equal shares).
COMPARE_TOL = 1e-9


def make_dataset(
    n_contracts: int = 5_000_000,
    n_agencies: int = 50_000,
    n_funders: int = 2_000,
    years: tuple[int, int] = (2012, 2023),
    seed: int = 0,
) -> Dataset:
    """A large synthetic data set following the input data contract, built with numpy.

    Agencies are founded 1995 to the year before the last, 30% close; contracts fall on the
    agency-years at risk with gamma-distributed weights (some agency-years get none); each
    agency mostly buys from funders near its "home" funder; one revenue row per ten contracts,
    5% of them zero.
    """
    rng = np.random.default_rng(seed)
    first, last = years
    founded = rng.integers(1995, last, n_agencies)
    start = np.maximum(founded, first)
    closes = rng.random(n_agencies) < 0.3
    closed = start + rng.integers(0, last + 3 - start + 1)
    end = np.where(closes, np.minimum(closed, last), last)
    row_agency = np.repeat(np.arange(n_agencies), end - start + 1)
    row_year = start[row_agency] + _offsets(end - start + 1)
    weight = np.cumsum(rng.gamma(0.7, size=len(row_agency)))
    pick = np.searchsorted(weight / weight[-1], rng.random(n_contracts))
    ids = np.array([f"A{i:06d}" for i in range(n_agencies)], dtype=object)
    agency, year = row_agency[pick], row_year[pick]
    funder = rng.integers(0, n_funders, n_agencies)[agency] + rng.geometric(0.5, n_contracts) - 1
    funder %= n_funders
    funder_tier = rng.choice(len(TIERS), n_funders, p=TIER_PROBABILITIES)
    contracts = pd.DataFrame(
        {
            "contract_id": np.char.add("C", np.arange(n_contracts).astype(str)).astype(object),
            "agency_id": ids[agency],
            "year": year,
            "funder": np.array([f"funder_{i:04d}" for i in range(n_funders)], dtype=object)[funder],
            "tier": np.array(TIERS, dtype=object)[funder_tier[funder]],
            "contract_type": np.array(CONTRACT_TYPES, dtype=object)[
                rng.choice(len(CONTRACT_TYPES), n_contracts, p=TYPE_PROBABILITIES)
            ],
            "amount": np.round(np.exp(rng.normal(12, 1, n_contracts)), 2),
            "score": np.where(
                rng.random(n_contracts) < 0.8,
                np.clip(rng.normal(85, 5, n_contracts), 0, 100).round(1),
                np.nan,
            ),
        }
    )
    n_revenue = n_contracts // 10
    at = rng.integers(0, len(row_agency), n_revenue)
    revenue = pd.DataFrame(
        {
            "agency_id": ids[row_agency[at]],
            "year": row_year[at],
            "source": np.array(SOURCES, dtype=object)[rng.integers(0, len(SOURCES), n_revenue)],
            "amount": np.where(
                rng.random(n_revenue) < 0.05, 0.0, np.round(np.exp(rng.normal(10, 1, n_revenue)), 2)
            ),
        }
    )
    agencies = pd.DataFrame(
        {
            "agency_id": ids,
            "founded": founded,
            "district": np.array(DISTRICTS, dtype=object)[
                rng.integers(0, len(DISTRICTS), n_agencies)
            ],
            "closed": pd.Series(closed).astype("Int64").where(closes),
        }
    )
    return Dataset(agencies=agencies, contracts=contracts, revenue=revenue, source="benchmark")


def _offsets(counts: np.ndarray) -> np.ndarray:
    """0, 1, ..., counts[i] - 1 for each i, concatenated."""
    return np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)


def straightforward_panel(dataset: Dataset) -> pd.DataFrame:
    """The panel's measures the obvious pandas way: group-bys, pivots and merges on strings.

    Written for comparison only (same definitions as ``build_panel``, no lags or windows).
    """
    contracts, revenue, agencies = dataset.contracts, dataset.revenue, dataset.agencies
    keys = ["agency_id", "year"]
    first, last = dataset.years
    rows = _at_risk_rows(agencies, first, last)

    gov = contracts.groupby(keys).agg(revenue_gov=("amount", "sum"), n_contracts=("amount", "size"))
    nongov = revenue.groupby(keys).agg(revenue_nongov=("amount", "sum"))
    payers = pd.concat(
        [
            contracts[[*keys, "amount"]].assign(payer="gov:" + contracts["funder"]),
            revenue[[*keys, "amount"]].assign(payer="rev:" + revenue["source"]),
        ]
    )
    by_payer = payers.groupby([*keys, "payer"])["amount"].sum()
    by_payer = by_payer[by_payer > 0]
    share = by_payer / by_payer.groupby(level=keys).transform("sum")
    concentration = pd.DataFrame(
        {
            "n_funders": share.groupby(level=keys).size(),
            "hhi": (share**2).groupby(level=keys).sum(),
            "entropy": -(share * np.log(share)).groupby(level=keys).sum(),
            "top_share": share.groupby(level=keys).max(),
        }
    )
    by_type = contracts.pivot_table(
        index=keys, columns="contract_type", values="amount", aggfunc="sum", fill_value=0.0
    ).reindex(columns=list(CONTRACT_TYPES), fill_value=0.0)
    by_tier = contracts.pivot_table(
        index=keys, columns="tier", values="amount", aggfunc="sum", fill_value=0.0
    ).reindex(columns=list(TIERS), fill_value=0.0)
    scored = contracts[contracts["score"].notna()]
    quality = (
        (scored["score"] * scored["amount"]).groupby([scored[k] for k in keys]).sum()
        / scored.groupby(keys)["amount"].sum()
    ).rename("quality")

    panel = rows.join([gov, nongov, concentration], how="left")
    panel = panel.join(by_type.add_prefix("share_"), how="left").join(
        by_tier.add_prefix("share_"), how="left"
    )
    panel = panel.join(quality, how="left")
    return _finish_straightforward(panel)


def _at_risk_rows(agencies: pd.DataFrame, first: int, last: int) -> pd.DataFrame:
    a = agencies.assign(
        start=agencies["founded"].clip(lower=first),
        end=agencies["closed"].fillna(last).clip(upper=last).astype(int),
    )
    a = a[a["end"] >= a["start"]]
    a = a.loc[a.index.repeat(a["end"] - a["start"] + 1)]
    a["year"] = a["start"] + a.groupby("agency_id").cumcount()
    a["age"] = a["year"] - a["founded"]
    a["exit"] = (a["year"] == a["closed"]).fillna(False).astype(int)
    return a.set_index(["agency_id", "year"]).sort_index()[["age", "exit"]]


def _finish_straightforward(panel: pd.DataFrame) -> pd.DataFrame:
    for col in ["revenue_gov", "revenue_nongov", "n_contracts", "n_funders"]:
        panel[col] = panel[col].fillna(0)
    panel["revenue_total"] = panel["revenue_gov"] + panel["revenue_nongov"]
    has = panel["revenue_total"] > 0
    panel["gov_share"] = (panel["revenue_gov"] / panel["revenue_total"]).where(has)
    n = panel["n_funders"]
    panel["hhi_norm"] = ((panel["hhi"] - 1 / n) / (1 - 1 / n)).where(n > 1, 1.0).where(has)
    for level in [*CONTRACT_TYPES, *TIERS]:
        panel[f"share_{level}"] = (panel[f"share_{level}"] / panel["revenue_gov"]).where(
            panel["revenue_gov"] > 0
        )
    tiers = panel[[f"share_{t}" for t in TIERS]]
    panel["main_tier"] = tiers.fillna(-1).to_numpy().argmax(axis=1)
    panel["main_tier"] = np.array(TIERS, dtype=object)[panel["main_tier"]]
    panel["main_tier"] = panel["main_tier"].where(panel["revenue_gov"] > 0, None)
    panel["log_revenue"] = np.log(panel["revenue_total"].where(has))
    return panel


def compare(fast: pd.DataFrame, slow: pd.DataFrame) -> float:
    """Largest difference ``|a - b| / max(|b|, 1)`` over the shared columns; raises if too big."""
    columns = [c for c in slow.columns if c in fast.columns]
    if not fast.index.equals(slow.index):
        raise AssertionError("the two panels have different rows")
    worst = 0.0
    for col in columns:
        a, b = fast[col], slow[col]
        if not (pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b)):
            if not a.fillna("").astype(str).equals(b.fillna("").astype(str)):
                raise AssertionError(f"column {col} differs")
            continue
        x, y = a.to_numpy(np.float64), b.to_numpy(np.float64)
        if not np.array_equal(np.isnan(x), np.isnan(y)):
            raise AssertionError(f"column {col}: missing values differ")
        ok = ~np.isnan(x)
        rel = np.abs(x[ok] - y[ok]) / np.maximum(np.abs(y[ok]), 1.0)
        worst = max(worst, float(rel.max()) if len(rel) else 0.0)
    if worst > COMPARE_TOL:
        raise AssertionError(f"largest difference {worst:.3g} exceeds {COMPARE_TOL}")
    return worst


def _resident_mib(field: str) -> float | None:
    """``VmRSS`` or ``VmHWM`` of this process in MiB (Linux), else None."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def run_one(which: str, size: dict[str, int]) -> dict[str, object]:
    """Build the data, then time one implementation; the measurements as a dict."""
    data = make_dataset(size["contracts"], size["agencies"], size["funders"], seed=size["seed"])
    baseline = _resident_mib("VmRSS")
    reset = _reset_peak()
    build = build_panel if which == "build_panel" else straightforward_panel
    times = []
    for _ in range(size["repeat"]):
        t0 = time.perf_counter()
        panel = build(data)
        times.append(time.perf_counter() - t0)
    peak = _resident_mib("VmHWM") if reset else None
    if peak is None:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out: dict[str, object] = {
        "which": which,
        "seconds": times[0],
        "best_seconds": min(times),
        "peak_mib": peak,
        "data_mib": baseline,
        "rows": len(panel),
        "peak_reset": reset,
    }
    if which == "straightforward":
        out["max_diff"] = compare(build_panel(data), panel)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contracts", type=int, default=5_000_000)
    parser.add_argument("--agencies", type=int, default=50_000)
    parser.add_argument("--funders", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--repeat", type=int, default=1, help="builds per implementation (first and best shown)"
    )
    parser.add_argument(
        "--child", choices=["build_panel", "straightforward"], help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    size = {k: getattr(args, k) for k in ("contracts", "agencies", "funders", "seed", "repeat")}
    if args.child:
        print(json.dumps(run_one(args.child, size)))
        return 0
    results = {}
    for which in ("build_panel", "straightforward"):
        cmd = [sys.executable, __file__, "--child", which]
        cmd += [f"--{k}={v}" for k, v in size.items()]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            return done.returncode
        results[which] = json.loads(done.stdout.strip().splitlines()[-1])
    _report(size, results)
    return 0


def _report(size: dict[str, int], results: dict[str, dict[str, object]]) -> None:
    print(
        f"{size['contracts']:,} contracts, {size['agencies']:,} agencies, "
        f"{size['funders']:,} funders -> {results['build_panel']['rows']:,} agency-years"
    )
    for which, r in results.items():
        best = (
            f" (best of {size['repeat']}: {r['best_seconds']:.2f} s)" if size["repeat"] > 1 else ""
        )
        print(
            f"  {which:16s} {r['seconds']:7.2f} s{best}   peak {r['peak_mib']:8.0f} MiB   "
            f"(data alone {r['data_mib']:.0f} MiB)"
        )
    fast, slow = results["build_panel"]["seconds"], results["straightforward"]["seconds"]
    assert isinstance(fast, float) and isinstance(slow, float)
    print(
        f"  speed-up {slow / fast:.1f}x; same numbers (largest difference "
        f"{results['straightforward']['max_diff']:.2g} of max(|value|, 1))"
    )


if __name__ == "__main__":
    sys.exit(main())
