"""End to end: ``sustain run`` on a small spec, reruns, the manifest and interrupted writes."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

import sustain
from sustain import cli
from sustain._atomic import write_text
from sustain.pipeline import load_spec, run_spec
from sustain.pipeline import manifest as mf
from sustain.pipeline.outputs import TABLE_SUFFIX
from sustain.pipeline.preflight import check_spec
from sustain.pipeline.results_dir import SECTIONS, ResultsDir
from sustain.pipeline.run import load_data, make_panel, model_frames
from sustain.pipeline.spec import derive_seed

SMALL_AGENCIES = 90  # enough exits for hazard and Cox models, fits in well under a second
SMALL_SEED = 3
BAYES_DRAWS = 150  # a short posterior: this test checks files and reruns, not inference
RERUN_TIMEOUT = 600  # seconds for the rerun in a fresh process (it takes about 30)

pytestmark = pytest.mark.filterwarnings(
    "ignore:regression_table.*failed convergence diagnostics:UserWarning"
)

SPEC = """
[run]
name = "small"
seed = 77

[data]
path = "data"

[panel]
lags = {{ hhi = 1 }}

[[sample]]
column = "year"
op = ">="
value = 2013

[[models]]
name = "fe"
kind = "fe"
formula = "quality ~ hhi_lag1 + gov_share + share_directed_commission"
cluster = "agency_id"

[[models]]
name = "fe1"
kind = "fe"
formula = "quality ~ hhi_lag1 + gov_share + share_directed_commission"
effects = ["agency_id"]
cov_type = "unadjusted"

[[models]]
name = "re"
kind = "fe"
formula = "quality ~ hhi_lag1 + gov_share + share_directed_commission"
estimator = "random"
cov_type = "unadjusted"

[[models]]
name = "hz"
kind = "hazard"
formula = "exit ~ hhi + log_revenue"
link = "cloglog"

[[models]]
name = "cox"
kind = "cox"
formula = "hhi + log_revenue"
cluster = "agency_id"
{bayes}
[diagnostics]
formats = ["png"]

[[tables]]
name = "desc"
kind = "describe"
columns = ["quality", "hhi", "gov_share"]
formats = ["markdown", "csv"]

[[tables]]
name = "quality"
kind = "regression"
models = [{quality_models}]
formats = ["latex", "markdown", "html", "csv", "docx"]

[[tables]]
name = "survival"
kind = "regression"
models = ["hz", "cox"]
exponentiate = true
formats = ["markdown"]

[[tables]]
name = "hausman"
kind = "hausman"
fe = "fe1"
re = "re"

[[tables]]
name = "trend"
kind = "trend"
columns = ["hhi"]

[[figures]]
name = "km"
kind = "km"
by = "main_tier"
formats = ["png"]

[[figures]]
name = "coef"
kind = "coef"
models = ["fe", "re"]
formats = ["png", "pdf"]
"""
BAYES = """
[[models]]
name = "bq"
kind = "bayes"
formula = "quality ~ hhi_lag1 + (1 | district)"
draws = {draws}
tune = {draws}
chains = 2
"""


def make_spec(folder: Path, bayes: bool = False, name: str = "spec.toml") -> Path:
    text = SPEC.format(
        bayes=BAYES.format(draws=BAYES_DRAWS) if bayes else "",
        quality_models='"fe", "re", "bq"' if bayes else '"fe", "re"',
    )
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("project")
    sim = sustain.simulate(seed=SMALL_SEED, n_agencies=SMALL_AGENCIES)
    sustain.datasets.write_csv(sim.data, folder / "data")
    return folder


@pytest.fixture(scope="module")
def two_runs(project: Path) -> tuple[Path, Path, dict[str, bytes]]:
    """The Bayesian spec run twice into the same folder; the first run's files are kept.

    The second run is ``sustain run`` in a fresh process, as a reviewer would rerun it, so
    nothing cached in this process (compiled models) can make the two runs agree.
    """
    spec = make_spec(project, bayes=True)
    first = run_spec(spec, quiet=True)
    snapshot = {
        p.relative_to(first.folder).as_posix(): p.read_bytes()
        for p in first.folder.rglob("*")
        if p.is_file()
    }
    env = {**os.environ, "MPLBACKEND": "Agg"}
    done = subprocess.run(
        [sys.executable, "-m", "sustain.cli", "run", str(spec)],
        capture_output=True,
        text=True,
        env=env,
        timeout=RERUN_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return spec, first.folder, snapshot


def declared_outputs(spec_path: Path) -> list[str]:
    raw = tomllib.loads(spec_path.read_text())
    paths = []
    for model in raw["models"]:
        paths += [f"models/{model['name']}.nc", f"models/{model['name']}.txt"]
        if model["kind"] == "bayes":
            for name in ("summary.txt", "checks.csv", "parameters.csv", "rank.png"):
                paths.append(f"diagnostics/{model['name']}/{name}")
    for table in raw["tables"]:
        if table["kind"] == "hausman":
            paths += [f"tables/{table['name']}.{s}" for s in ("txt", "csv")]
            continue
        default = ["csv", "markdown"] if table["kind"] == "trend" else ["latex"]
        for fmt in table.get("formats", default):
            paths.append(f"tables/{table['name']}.{TABLE_SUFFIX[fmt]}")
    for figure in raw["figures"]:
        paths += [f"figures/{figure['name']}.{fmt}" for fmt in figure["formats"]]
    return paths


@pytest.mark.slow
@pytest.mark.bayes
def test_every_declared_output_exists(two_runs: tuple[Path, Path, dict[str, bytes]]) -> None:
    spec, folder, _ = two_runs
    for section in SECTIONS:
        assert (folder / section).is_dir()
    for rel in declared_outputs(spec):
        assert (folder / rel).is_file() and (folder / rel).stat().st_size > 0, rel
    assert not [p for p in folder.rglob(".*") if p.is_file()], "temporary files left behind"


@pytest.mark.slow
@pytest.mark.bayes
def test_manifest_is_complete(two_runs: tuple[Path, Path, dict[str, bytes]]) -> None:
    spec, folder, _ = two_runs
    manifest = json.loads((folder / "manifest.json").read_text())
    assert set(mf.MANIFEST_KEYS) <= set(manifest)
    data = spec.parent / "data"
    expected = {
        f"data/{name}": hashlib.sha256((data / name).read_bytes()).hexdigest()
        for name in ("agencies.csv", "contracts.csv", "revenue.csv")
    }
    assert {k: v["sha256"] for k, v in manifest["inputs"].items()} == expected
    assert manifest["spec"] == tomllib.loads(spec.read_text())
    assert manifest["spec_sha256"] == hashlib.sha256(spec.read_bytes()).hexdigest()
    assert manifest["seeds"] == {"seed": 77, "models": {"bq": derive_seed(77, "bq")}}
    for package in ("python", "sustain", "numpy", "pandas", "pymc", "arviz", "linearmodels"):
        assert manifest["versions"][package], package
    assert manifest["git"] is None  # the temporary project is not a git checkout
    for rel, digest in manifest["outputs"].items():
        assert hashlib.sha256((folder / rel).read_bytes()).hexdigest() == digest
    assert set(manifest["outputs"]) >= set(declared_outputs(spec))
    assert manifest["panel"]["agencies"] > 0 and "bq" in manifest["diagnostics_ok"]


@pytest.mark.slow
@pytest.mark.bayes
def test_rerun_is_byte_identical(two_runs: tuple[Path, Path, dict[str, bytes]]) -> None:
    _, folder, first = two_runs
    second = {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }
    assert set(second) == set(first)
    tables = [rel for rel in first if rel.startswith("tables/")]
    assert len(tables) >= 10
    for rel in tables:
        assert second[rel] == first[rel], rel
    old = mf.comparable(json.loads(first["manifest.json"]))
    new = mf.comparable(json.loads(second["manifest.json"]))
    assert old == new
    assert second["manifest.json"].count(b"\n") == first["manifest.json"].count(b"\n")
    differing = [rel for rel in first if first[rel] != second[rel]]
    assert differing == ["manifest.json"]


@pytest.mark.slow
@pytest.mark.bayes
def test_tables_rebuild_from_saved_models(two_runs: tuple[Path, Path, dict[str, bytes]]) -> None:
    _, folder, _ = two_runs
    saved = [sustain.load_result(folder / "models" / f"{m}.nc") for m in ("fe", "re", "bq")]
    rebuilt = sustain.regression_table(saved, format="markdown")
    assert rebuilt.rstrip("\n") == (folder / "tables" / "quality.md").read_text().rstrip("\n")


def test_run_without_bayes_and_stale_files_removed(project: Path, tmp_path: Path) -> None:
    spec = make_spec(project, name="freq.toml")
    out = tmp_path / "run"
    first = run_spec(spec, out=out, quiet=True)
    assert (out / "tables" / "trend.csv").is_file()
    assert first.diagnostics_ok == {}
    assert first.manifest["seeds"] == {"seed": 77, "models": {}}
    reduced = spec.read_text().replace('[[tables]]\nname = "trend"', '[[tables]]\nname = "trend2"')
    spec.write_text(reduced)
    run_spec(spec, out=out, quiet=True)
    assert not (out / "tables" / "trend.csv").exists()
    assert (out / "tables" / "trend2.csv").is_file()


def test_interrupted_rerun_leaves_complete_files(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = make_spec(project, name="interrupt.toml")
    out = tmp_path / "run"
    run_spec(spec, out=out, quiet=True)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    import sustain._atomic as atomic

    calls = {"n": 0}
    real_replace = atomic.os.replace

    def replace_then_die(src: str, dst: str) -> None:
        calls["n"] += 1
        if calls["n"] == 15:  # in the middle of writing tables
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", replace_then_die)
    with pytest.raises(KeyboardInterrupt):
        run_spec(spec, out=out, quiet=True)
    after = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before  # nothing half-written, no temporary files, manifest untouched


def test_atomic_write_never_leaves_half_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rd = ResultsDir.create(tmp_path / "r")
    target = rd.write_text("tables", "t.md", "old complete table\n")

    def write_half(self: Path, text: str, encoding: str | None = None) -> int:
        with open(self, "w", encoding=encoding) as handle:
            handle.write(text[: len(text) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "write_text", write_half)
    with pytest.raises(KeyboardInterrupt):
        rd.write_text("tables", "t.md", "a new table that is much longer than the old one\n")
    monkeypatch.undo()
    assert target.read_text() == "old complete table\n"
    assert [p.name for p in target.parent.iterdir()] == ["t.md"]
    with pytest.raises(KeyboardInterrupt), monkeypatch.context() as m:
        m.setattr(Path, "write_text", write_half)
        write_text(tmp_path / "new.md", "never complete")
    assert not (tmp_path / "new.md").exists()


def test_cli_run_reports_spec_errors(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = make_spec(project, name="bad.toml")
    spec.write_text(
        spec.read_text().replace(
            'formula = "exit ~ hhi + log_revenue"',
            "formula = \"exit ~ hhi + __import__('os').system('echo pwned')\"",
        )
    )
    status = cli.main(["run", str(spec), "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert status == 1
    assert "models.hz.formula" in captured.err and "pwned" not in captured.out
    assert not (tmp_path / "out").exists()


def test_cli_run_writes_results(project: Path, tmp_path: Path) -> None:
    spec = make_spec(project, name="cli.toml")
    assert cli.main(["run", str(spec), "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "manifest.json").is_file()


def test_example_spec_passes_checks_on_example_data() -> None:
    spec = load_spec(sustain.pipeline.example_spec_path())
    data, inputs = load_data(spec)
    panel = make_panel(spec, data)
    check_spec(spec, panel, model_frames(spec, panel))
    assert sorted(p.name for p in inputs.values()) == [
        "agencies.csv",
        "contracts.csv",
        "revenue.csv",
    ]


def test_git_state_in_a_checkout(tmp_path: Path) -> None:
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "a.txt").write_text("x")
    subprocess.run([*git, "-C", str(tmp_path), "add", "a.txt"], check=True)
    subprocess.run([*git, "-C", str(tmp_path), "commit", "-q", "-m", "c"], check=True)
    state = mf.git_state(tmp_path)
    assert state is not None and len(state["commit"]) == 40 and state["dirty"] is False
    (tmp_path / "untracked.txt").write_text("y")
    assert mf.git_state(tmp_path)["dirty"] is False  # untracked files (results) do not count
    (tmp_path / "a.txt").write_text("changed")
    assert mf.git_state(tmp_path)["dirty"] is True
