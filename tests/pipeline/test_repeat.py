"""Determinism (issue 11, item 13): one spec, five runs, byte-identical outputs.

The example spec (``sustain.pipeline.example_spec_path()``) with short chains and without
diagnostic plots runs five times: three times in this process and twice as ``sustain run`` in
fresh processes (so nothing held in this process -- compiled models, imported state -- can make
the runs agree). Every file of every run has the SHA-256 of the first run's, the manifest
aside, whose only difference may be its ``created`` field. (That a first compilation on an
empty cache gives the same numbers as code loaded from the cache -- the cause of the
differences seen before, see ``sustain.models.bayes.compiled`` -- is checked by
``tests/models/bayes/test_engine.py::test_correlated_slope_with_fresh_caches``.)

While at it, the fresh runs check the progress of ``sustain run``: while a Bayesian model is
fitted, progress lines come at most ``MAX_SILENCE`` seconds apart.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import sustain
from sustain.pipeline import manifest as mf
from sustain.pipeline import run_spec

#: Draws and warm-up per chain of the two Bayesian models: short, this test compares files.
DRAWS = 150
#: Runs in this process and in fresh processes (five in all).
IN_PROCESS_RUNS = 3
FRESH_RUNS = 2
#: A fresh run takes about half a minute (imports, compiled models loaded from the disk cache).
RUN_TIMEOUT = 900
#: ``sustain run`` must print a line at least every ten seconds while sampling.
MAX_SILENCE = 10.0
LINE = re.compile(r"^\[\s*(\d+\.\d)s\] (.*)$")

# short chains fail the convergence checks; the tables say so, which is not this test's subject
pytestmark = pytest.mark.filterwarnings(
    "ignore:regression_table.*failed convergence diagnostics:UserWarning"
)


def reduced_spec(folder: Path) -> Path:
    """The example spec with DRAWS draws and warm-up and no diagnostic plots (which take half
    of a run), written into ``folder``."""
    text = sustain.pipeline.example_spec_path().read_text(encoding="utf-8")
    text = re.sub(r"(?m)^draws = \d+$", f"draws = {DRAWS}", text)
    text = re.sub(r"(?m)^tune = \d+$", f"tune = {DRAWS}", text)
    assert text.count(f"draws = {DRAWS}") == 2
    assert text.count("plots = true") == 1
    text = text.replace("plots = true", "plots = false")
    path = folder / "spec.toml"
    path.write_text(text, encoding="utf-8")
    return path


def digests(folder: Path) -> dict[str, str]:
    """SHA-256 of every file (the manifest without its ``created`` field)."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(folder).as_posix()
        data = path.read_bytes()
        if rel == "manifest.json":
            data = json.dumps(mf.comparable(json.loads(data)), sort_keys=True).encode()
        out[rel] = hashlib.sha256(data).hexdigest()
    return out


def silences(stdout: str, model: str) -> list[float]:
    """Gaps between consecutive progress lines while ``model`` is being fitted."""
    times, inside = [], False
    for line in stdout.splitlines():
        match = LINE.match(line)
        if not match:
            continue
        t, text = float(match.group(1)), match.group(2)
        if text.startswith(f"model {model} (bayes) ..."):
            inside = True
        if inside:
            times.append(t)
        if text.startswith(f"model {model} (bayes) done"):
            break
    return [b - a for a, b in zip(times, times[1:], strict=False)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, str]], list[str]]:
    folder = tmp_path_factory.mktemp("repeat")
    spec = reduced_spec(folder)
    results = []
    for i in range(IN_PROCESS_RUNS):
        results.append(digests(run_spec(spec, out=folder / f"in{i}", quiet=True).folder))
    outputs = []
    for i in range(FRESH_RUNS):
        env = {**os.environ, "MPLBACKEND": "Agg"}
        out = folder / f"fresh{i}"
        done = subprocess.run(
            [sys.executable, "-m", "sustain.cli", "run", str(spec), "--out", str(out)],
            capture_output=True,
            text=True,
            env=env,
            timeout=RUN_TIMEOUT,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        results.append(digests(out))
        outputs.append(done.stdout)
    return results, outputs


@pytest.mark.slow
@pytest.mark.bayes
def test_five_runs_are_byte_identical(runs) -> None:
    results, _ = runs
    first = results[0]
    assert any(rel.endswith(".nc") for rel in first)
    assert any(rel.startswith("diagnostics/") for rel in first)
    for other in results[1:]:
        assert set(other) == set(first)
        differing = sorted(rel for rel in first if other[rel] != first[rel])
        assert differing == []


@pytest.mark.slow
@pytest.mark.bayes
def test_sustain_run_prints_progress_while_sampling(runs) -> None:
    _, outputs = runs
    for stdout in outputs:
        for model in ("bayes_quality", "bayes_hazard"):
            gaps = silences(stdout, model)
            assert len(gaps) >= 2, stdout
            assert max(gaps) <= MAX_SILENCE, (model, gaps)
        assert "iterations" in stdout and "divergence" in stdout


BLAS_SPEC = """
[data]
builtin = "example"

[[models]]
name = "hazard"
kind = "hazard"
formula = "exit ~ hhi + gov_share + log_revenue + share_single_source"
link = "cloglog"
duration = "age"

[[tables]]
name = "ame_by_tier"
kind = "margins"
model = "hazard"
by = "main_tier"
formats = ["csv"]
"""


def test_outputs_do_not_depend_on_the_blas_threads(tmp_path: Path) -> None:
    """The same spec gives the same bytes whether the process was limited to one BLAS thread or
    not (the hazard's IRLS and clustered covariance differed in their last bits with two OpenBLAS
    threads: seen as a margins table differing between runs in and out of the test process)."""
    from threadpoolctl import threadpool_limits

    spec = tmp_path / "spec.toml"
    spec.write_text(BLAS_SPEC, encoding="utf-8")
    free = digests(run_spec(spec, out=tmp_path / "free", quiet=True).folder)
    with threadpool_limits(limits=1):
        pinned = digests(run_spec(spec, out=tmp_path / "pinned", quiet=True).folder)
    assert free == pinned


def test_overlapping_blocks_restore_the_threads() -> None:
    """Blocks opened and closed by several threads in any order leave the process's BLAS
    threads as they were (threadpool_limits alone can leave them at one for good)."""
    import threading

    from threadpoolctl import threadpool_info

    from sustain._threads import one_blas_thread

    before = [lib["num_threads"] for lib in threadpool_info()]
    barrier = threading.Barrier(4)

    def work(i: int) -> None:
        barrier.wait()
        for _ in range(50):
            with one_blas_thread():
                assert all(lib["num_threads"] == 1 for lib in threadpool_info())

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [lib["num_threads"] for lib in threadpool_info()] == before
