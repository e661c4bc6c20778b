"""A small version of benchmarks/wild_size.py: size of the wild bootstrap with 11 clusters.

The benchmark's 500 replications give rejection rates of 10.4% (cluster-robust t), 5.2% and
5.2% (wild, Rademacher and Webb) at 5%; here 120 replications of the same design check that
the bootstrap stays near 5% while the plain test rejects more often.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "wild_size.py"
REPS = 120
# With 120 replications the Monte Carlo sd of a 5% rate is 2.0 points: a test of the right
# size lands in [0.5%, 10.5%] with probability above 0.99 (binomial). The seed is fixed, so the
# test is deterministic; the band is what a different seed could give.
WILD_BAND = (0.005, 0.105)


@pytest.fixture(scope="module")
def size_benchmark():
    spec = importlib.util.spec_from_file_location("wild_size_benchmark", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["wild_size_benchmark"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_wild_bootstrap_keeps_its_size_where_the_t_test_does_not(size_benchmark):
    rates = size_benchmark.rejection_rates(REPS, seed=7)
    plain = rates["cluster-robust t"]
    for name in ("wild (Rademacher, enumerated)", "wild (Webb, 999 draws)"):
        assert WILD_BAND[0] <= rates[name] <= WILD_BAND[1], (name, rates)
        assert plain > rates[name], rates
