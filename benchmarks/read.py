"""Benchmark: reading and validating large inputs, against a straightforward pandas reader.

Run from the repository root::

    .venv/bin/python benchmarks/read.py                       # 5 M Parquet rows, 3 M CSV rows
    .venv/bin/python benchmarks/read.py --contracts 1000000 --csv-contracts 500000

Two cases (issue "Real records in", item 6), each timed in a fresh Python process so that
imports and caches count as a user would see them:

* ``parquet``: ``read_dataset`` + ``build_panel`` on ~5 million contract rows in Parquet
  (target: under 10 s and 4 GiB on the 2-core machine);
* ``csv``: ``read_dataset`` on ~3 million contract rows in one CSV file (target: under 10 s).

The comparison reads the same files the obvious pandas way (``read_parquet``/``read_csv``,
``to_numeric`` with coercion, ``isin`` for categories and known agencies, a merge for the
founded..closed rule, ``duplicated`` for keys) and checks the same rules, without row numbers,
notes or a problems report, so it is a lower bound of what a hand-written check costs. Peak
memory is the process's high-water mark (``ru_maxrss``).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from panel import make_dataset

from sustain.options import CONTRACT_TYPES, TIERS

TARGET_SECONDS = 10.0
TARGET_GIB = 4.0


def write_inputs(folder: Path, n_contracts: int, csv_contracts: int) -> None:
    """The benchmark's files (once per size): Parquet tables and a CSV copy of the contracts."""
    marker = folder / f"written-{n_contracts}-{csv_contracts}"
    if marker.exists():
        return
    data = make_dataset(n_contracts=n_contracts, n_agencies=max(1000, n_contracts // 100))
    revenue = data.revenue.groupby(["agency_id", "year", "source"], as_index=False)["amount"].sum()
    parquet, csv = folder / "parquet", folder / "csv"
    parquet.mkdir(parents=True, exist_ok=True)
    csv.mkdir(parents=True, exist_ok=True)
    data.agencies.to_parquet(parquet / "agencies.parquet", index=False)
    data.contracts.to_parquet(parquet / "contracts.parquet", index=False)
    revenue.to_parquet(parquet / "revenue.parquet", index=False)
    data.agencies.to_csv(csv / "agencies.csv", index=False)
    data.contracts.head(csv_contracts).to_csv(csv / "contracts.csv", index=False)
    marker.touch()


def run_sustain(folder: Path, panel: bool) -> dict[str, float]:
    import sustain

    start = time.perf_counter()
    data = sustain.read_dataset(folder)
    read = time.perf_counter() - start
    built = 0.0
    if panel:
        start = time.perf_counter()
        sustain.build_panel(data)
        built = time.perf_counter() - start
    return {"read": read, "panel": built, "rows": float(len(data.contracts))}


def run_pandas(folder: Path, panel: bool) -> dict[str, float]:
    """The straightforward reader: the same rules, the obvious pandas way."""
    start = time.perf_counter()
    suffix = ".parquet" if (folder / "contracts.parquet").exists() else ".csv"
    read = pd.read_parquet if suffix == ".parquet" else (lambda p: pd.read_csv(p, dtype=str))
    agencies = read(folder / f"agencies{suffix}")
    contracts = read(folder / f"contracts{suffix}")
    for col in ("contract_id", "agency_id", "funder", "tier", "contract_type"):
        contracts[col] = contracts[col].astype(str).str.strip()
    contracts["tier"] = contracts["tier"].str.lower()
    contracts["contract_type"] = contracts["contract_type"].str.lower()
    contracts["year"] = pd.to_numeric(contracts["year"], errors="coerce")
    contracts["amount"] = pd.to_numeric(contracts["amount"], errors="coerce")
    contracts["score"] = pd.to_numeric(contracts.get("score"), errors="coerce")
    bad = contracts["amount"].isna() | (contracts["amount"] <= 0) | contracts["year"].isna()
    bad |= ~contracts["tier"].isin(TIERS) | ~contracts["contract_type"].isin(CONTRACT_TYPES)
    bad |= contracts["score"].lt(0) | contracts["score"].gt(100)
    bad |= contracts.duplicated(["contract_id", "year"], keep=False)
    agencies["founded"] = pd.to_numeric(agencies["founded"], errors="coerce")
    agencies["closed"] = pd.to_numeric(agencies["closed"], errors="coerce")
    merged = contracts[["agency_id", "year"]].merge(
        agencies[["agency_id", "founded", "closed"]], on="agency_id", how="left"
    )
    bad |= (merged["founded"].isna() | (merged["year"] < merged["founded"])).to_numpy()
    bad |= (merged["year"] > merged["closed"]).to_numpy()
    n_bad = int(bad.sum())
    if n_bad:
        raise AssertionError(f"the benchmark data should be valid; {n_bad} rows broke a rule")
    return {"read": time.perf_counter() - start, "panel": 0.0, "rows": float(len(contracts))}


def child(args: argparse.Namespace) -> None:
    folder = Path(args.folder)
    fn = run_sustain if args.implementation == "sustain" else run_pandas
    out = fn(folder, panel=args.panel)
    out["peak_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(json.dumps(out))


def measure(folder: Path, implementation: str, panel: bool) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", implementation, "--folder", str(folder)]
    if panel:
        cmd.append("--panel")
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process"] = time.perf_counter() - start
    return dict(result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contracts", type=int, default=5_000_000)
    parser.add_argument("--csv-contracts", type=int, default=3_000_000)
    parser.add_argument("--work", default="/tmp/sustain-bench-read")
    parser.add_argument("--child", choices=["sustain", "pandas"])
    parser.add_argument("--folder")
    parser.add_argument("--panel", action="store_true")
    args = parser.parse_args()
    if args.child:
        args.implementation = args.child
        child(args)
        return
    work = Path(args.work)
    write_inputs(work, args.contracts, args.csv_contracts)
    print(f"inputs in {work}: {args.contracts:,} Parquet contract rows, {args.csv_contracts:,} CSV")
    for case, folder, panel in (("parquet", work / "parquet", True), ("csv", work / "csv", False)):
        ours = measure(folder, "sustain", panel)
        theirs = measure(folder, "pandas", panel)
        total = ours["read"] + ours["panel"]
        verdict = "met" if total < TARGET_SECONDS and ours["peak_gib"] < TARGET_GIB else "MISSED"
        print(
            f"{case:8s} sustain: read {ours['read']:.1f} s"
            + (f" + panel {ours['panel']:.1f} s" if panel else "")
            + f" = {total:.1f} s, peak {ours['peak_gib']:.2f} GiB (target < {TARGET_SECONDS:g} s,"
            f" < {TARGET_GIB:g} GiB: {verdict}); process {ours['process']:.1f} s"
        )
        print(
            f"{'':8s} straightforward pandas checks: {theirs['read']:.1f} s, peak "
            f"{theirs['peak_gib']:.2f} GiB -> sustain's read is "
            f"{theirs['read'] / ours['read']:.2f}x the speed (with row numbers, notes and a report)"
        )


if __name__ == "__main__":
    main()
