"""Results folders are written all at once, under a lock, inside the spec's folder; specs are
bounded before any work.

Kill tests run ``sustain run`` in a subprocess and SIGKILL it when a given progress line
appears (never after a sleep), then check that the previous results are byte for byte as they
were, and that the next run cleans up and succeeds.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sustain.errors import SpecError
from sustain.pipeline import load_spec, run_spec
from sustain.pipeline.transaction import acquire_lock, lock_path

KILL_TIMEOUT = 300  # seconds for a killed run to reach its progress line on a busy machine

SPEC = """
[run]
name = "study"
seed = 5

[data]
builtin = "example"

[[models]]
name = "fe"
kind = "fe"
formula = "quality ~ hhi + gov_share"
cluster = "agency_id"

[[models]]
name = "re"
kind = "fe"
formula = "quality ~ hhi + gov_share"
estimator = "random"

[[models]]
name = "hz"
kind = "hazard"
formula = "exit ~ hhi + log_revenue"
link = "{link}"

[[tables]]
name = "t2"
kind = "regression"
models = ["fe", "re", "hz"]
formats = ["latex", "markdown", "html", "csv"]

[[tables]]
name = "t1"
kind = "describe"
columns = ["hhi", "gov_share", "quality"]
formats = ["markdown", "csv"]

[[figures]]
name = "f1"
kind = "coef"
models = ["fe", "re"]
formats = ["png"]
"""


def hashes(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def study(tmp_path: Path) -> Path:
    (tmp_path / "spec.toml").write_text(SPEC.format(link="cloglog"), encoding="utf-8")
    run_spec(tmp_path / "spec.toml", quiet=True)
    return tmp_path


def _run_and_kill(spec: Path, line: str) -> str:
    """Start ``sustain run`` and SIGKILL it when a progress line containing ``line`` appears."""
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sustain.cli", "run", str(spec)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    seen = []
    assert proc.stdout is not None
    try:
        for out in proc.stdout:
            seen.append(out)
            if line in out:
                proc.send_signal(signal.SIGKILL)
                break
        proc.wait(timeout=KILL_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert any(line in s for s in seen), f"never saw {line!r}: {''.join(seen)[-2000:]}"
    assert proc.returncode == -signal.SIGKILL, "".join(seen)[-2000:]
    return "".join(seen)


@pytest.mark.slow
@pytest.mark.parametrize(
    "moment",
    [
        "reading data and building the panel ...",
        "model re",
        "table t2",
        "figure f1",
    ],
)
def test_a_killed_run_leaves_the_previous_results_as_they_were(study, moment):
    target = study / "results" / "study"
    before = hashes(target)
    assert "manifest.json" in before and len(before) > 10
    (study / "spec.toml").write_text(SPEC.format(link="logit"), encoding="utf-8")  # new numbers
    _run_and_kill(study / "spec.toml", moment)
    assert hashes(target) == before  # not one file replaced under the old manifest
    assert lock_path(target).exists()  # the killed run's lock is left behind
    rerun = subprocess.run(
        [sys.executable, "-m", "sustain.cli", "run", str(study / "spec.toml")],
        capture_output=True, text=True, env={**os.environ, "MPLBACKEND": "Agg"}, check=False,
    )  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr
    assert "taking over the stale lock of process" in rerun.stdout
    after = hashes(target)
    assert after != before and set(after) == set(before)
    leftovers = [p.name for p in (study / "results").iterdir() if p.name != "study"]
    assert leftovers == [], leftovers  # no staging folder, no lock, no hidden temp files


def test_a_second_run_into_the_same_folder_is_refused_with_the_holder(study):
    target = study / "results" / "study"
    before = hashes(target)
    lock = acquire_lock(target)  # this process holds the folder, as a running run would
    try:
        done = subprocess.run(
            [sys.executable, "-m", "sustain.cli", "run", str(study / "spec.toml")],
            capture_output=True, text=True, env={**os.environ, "MPLBACKEND": "Agg"}, check=False,
        )  # fmt: skip
    finally:
        lock.unlink()
    assert done.returncode == 1
    assert f"is being written by process {os.getpid()} on " in done.stderr
    assert hashes(target) == before


def test_a_stale_lock_of_a_dead_process_is_taken_over(study, capsys):
    target = study / "results" / "study"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    lock_path(target).write_text(
        f'{{"pid": {int(dead.stdout)}, "host": "{os.uname().nodename}", '
        '"started": "2026-01-01T00:00:00Z", "process_start": 1}',
        encoding="utf-8",
    )
    run_spec(study / "spec.toml")
    assert f"taking over the stale lock of process {int(dead.stdout)}" in capsys.readouterr().out
    assert not lock_path(target).exists()


def test_a_failed_run_leaves_the_previous_results(study, monkeypatch):
    target = study / "results" / "study"
    before = hashes(target)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("sustain.pipeline.run.mf.write_manifest", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        run_spec(study / "spec.toml", quiet=True)
    assert hashes(target) == before
    assert sorted(p.name for p in (study / "results").iterdir()) == ["study"]


def test_stale_files_of_an_earlier_run_are_gone(study):
    target = study / "results" / "study"
    text = (study / "spec.toml").read_text().replace('formats = ["png"]', 'formats = ["pdf"]')
    (study / "spec.toml").write_text(text)
    run_spec(study / "spec.toml", quiet=True)
    names = set(hashes(target))
    assert "figures/f1.pdf" in names and "figures/f1.png" not in names


# ---------------------------------------------------------------- paths


@pytest.mark.parametrize("results", ["../../etc", "/tmp/elsewhere", "~/results"])
def test_a_spec_cannot_write_outside_its_folder(tmp_path, results):
    text = SPEC.format(link="cloglog").replace("seed = 5", f'seed = 5\nresults = "{results}"')
    (tmp_path / "spec.toml").write_text(text)
    with pytest.raises(SpecError, match="points outside the spec's folder"):
        load_spec(tmp_path / "spec.toml")


def test_out_names_any_folder_explicitly(tmp_path):
    text = SPEC.format(link="cloglog").replace("seed = 5", 'seed = 5\nresults = "../../etc"')
    (tmp_path / "spec.toml").write_text(text)
    out = tmp_path / "chosen"
    run = run_spec(tmp_path / "spec.toml", out=out, quiet=True)
    assert run.folder == out and (out / "manifest.json").exists()


def test_symbolic_link_results_folders_are_refused(tmp_path):
    (tmp_path / "spec.toml").write_text(SPEC.format(link="cloglog"))
    (tmp_path / "results").mkdir()
    (tmp_path / "real").mkdir()
    (tmp_path / "results" / "study").symlink_to(tmp_path / "real")
    with pytest.raises(SpecError, match="is a symbolic link .*will not follow links"):
        run_spec(tmp_path / "spec.toml", quiet=True)
    (tmp_path / "results" / "study").unlink()
    (tmp_path / "results" / "study").symlink_to(tmp_path / "missing")
    with pytest.raises(SpecError, match="is a symbolic link"):
        run_spec(tmp_path / "spec.toml", quiet=True)
    assert not (tmp_path / "missing").exists() and list((tmp_path / "real").iterdir()) == []


# ---------------------------------------------------------------- bounded specs


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("draws = -5", "draws = -5 is out of bounds: draws must be between 1 and 100000"),
        ("draws = 1000000000000", "draws = 1000000000000 is out of bounds"),
        ("chains = 0", "chains = 0 is out of bounds: chains must be between 1 and 64"),
        ("chains = 1000", "chains = 1000 is out of bounds"),
        ("random_seed = -1", "random_seed = -1 is out of bounds"),
        ("tune = -1", "tune = -1 is out of bounds"),
    ],
)
def test_sampler_options_are_bounded_before_anything_runs(tmp_path, option, message):
    text = SPEC.format(link="cloglog") + textwrap.dedent(f"""
        [[models]]
        name = "bq"
        kind = "bayes"
        formula = "quality ~ hhi + (1 | district)"
        {option}
        """)
    (tmp_path / "spec.toml").write_text(text)
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run_spec(tmp_path / "spec.toml", quiet=True)
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("quality ~ I(hhi + 0 * 10**10**10)", "a power's exponent must be a number"),
        ("quality ~ I(hhi**100)", "powers above 10 are not allowed"),
        ("quality ~ poly(hhi, 100000)", r"poly\(degree=100000\) is out of bounds: at most 10"),
        ("quality ~ bs(hhi, df=1000000)", r"bs\(df=1000000\) is out of bounds: at most 50"),
        ("quality ~ I(hhi * 1e20)", "the number 1e\\+20 is larger than 1e\\+09"),
    ],
)
def test_formulas_are_bounded_before_anything_runs(tmp_path, formula, message):
    text = SPEC.format(link="cloglog").replace("quality ~ hhi + gov_share", formula, 1)
    (tmp_path / "spec.toml").write_text(text)
    with pytest.raises(SpecError, match=message):
        load_spec(tmp_path / "spec.toml")


def test_multiverse_size_is_bounded():
    from sustain.multiverse.grid import check_choices

    with pytest.raises(SpecError, match="expand to 16,000 specifications"):
        check_choices({"a": list(range(40)), "b": list(range(20)), "c": list(range(20))})
