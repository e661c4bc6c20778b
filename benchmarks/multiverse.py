"""Benchmark: multiverse speed-up from 1 to 2 workers (local processes and a Dask LocalCluster).

A 64-specification multiverse (4 funding measures x lag 0/1 x FE/RE x 2 clustering levels x
2 samples) of quality on a simulated panel of ``--agencies`` agencies is run with each backend
and worker count, ``--repeat`` times (interleaved); the best wall time of each configuration,
the speed-up over one worker and the parallel efficiency are printed, and the tables of all
runs are checked to be identical (the result does not depend on the backend or the worker
count).
Worker start-up (spawning Python, importing sustain, shipping the panel) is included.

    .venv/bin/python benchmarks/multiverse.py [--agencies 100000] [--repeat 2]
        [--backends processes dask] [--workers 1 2]

The machine this runs on has 2 cores; run it when nothing else is busy.
"""

from __future__ import annotations

import argparse
import os
import time

import pandas as pd

import sustain
from sustain.multiverse import multiverse

BASE = {
    "kind": "fe",
    "formula": "quality ~ {measure} + log_revenue + age",
    "effects": ["agency_id", "year"],
}
CHOICES = {
    "measure": ["hhi", "hhi_norm", "entropy", "gov_share"],
    "lag": [0, 1],
    "estimator": ["fe", "re"],
    "cluster": ["agency_id", "district"],
    "sample": ["all", "no_left_truncated"],
}


def run(panel: pd.DataFrame, backend: str, workers: int) -> tuple[float, pd.DataFrame]:
    start = time.perf_counter()
    mv = multiverse(BASE, CHOICES, data=panel, backend=backend, n_workers=workers)  # type: ignore[arg-type]
    seconds = time.perf_counter() - start
    failed = mv.stats()["n_failed"]
    if failed:
        raise RuntimeError(f"{failed} specifications failed:\n{mv.failures}")
    return seconds, mv.table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agencies", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--backends", nargs="+", default=["processes", "dask"])
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    args = parser.parse_args()
    panel = sustain.build_panel(sustain.simulate(seed=args.seed, n_agencies=args.agencies).data)
    print(
        f"panel: {len(panel):,} agency-years, {args.agencies:,} agencies; "
        f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}"
    )
    reference = None
    times: dict[tuple[str, int], list[float]] = {}
    for _ in range(args.repeat):  # interleaved, so that load from others hits all alike
        for backend in args.backends:
            for workers in args.workers:
                load = os.getloadavg()[0]
                seconds, table = run(panel, backend, workers)
                times.setdefault((backend, workers), []).append(seconds)
                if reference is None:
                    reference = table
                pd.testing.assert_frame_equal(table, reference)
                print(
                    f"{backend:9s} {workers} worker(s): {seconds:6.1f}s "
                    f"(load average before: {load:.2f})",
                    flush=True,
                )
    rows = [
        {"backend": b, "workers": w, "best_s": min(t), "all_s": " ".join(f"{x:.1f}" for x in t)}
        for (b, w), t in times.items()
    ]
    out = pd.DataFrame(rows)
    one = out[out["workers"] == 1].set_index("backend")["best_s"]
    out["speedup"] = [
        one.get(b, float("nan")) / s for b, s in zip(out["backend"], out["best_s"], strict=True)
    ]
    out["efficiency"] = out["speedup"] / out["workers"]
    print(out.round(2).to_string(index=False))
    print(
        f"{len(reference) if reference is not None else 0} specifications; "
        "tables identical across backends and worker counts"
    )


if __name__ == "__main__":
    main()
