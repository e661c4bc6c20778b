"""The worked study in analyses/: every script imports, and the quick configuration runs."""

from __future__ import annotations

import importlib.util
import json
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

import sustain
from sustain.pipeline import load_spec

REPO = Path(__file__).resolve().parents[2]
ANALYSES = REPO / "analyses"
SCRIPTS = [
    "01_describe",
    "02_quality_fe",
    "03_survival",
    "04_bayes_quality",
    "05_bayes_hazard",
    "06_tables",
    "07_designs",
]


def load(name: str) -> ModuleType:
    if str(ANALYSES) not in sys.path:
        sys.path.insert(0, str(ANALYSES))
    spec = importlib.util.spec_from_file_location(f"analyses_{name}", ANALYSES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_imports_and_main_is_callable(name: str) -> None:
    module = load(name)
    assert callable(module.main)
    assert module.__doc__ and "Run: ``python analyses/" in module.__doc__
    assert 'if __name__ == "__main__":' in (ANALYSES / f"{name}.py").read_text()


def test_every_script_is_listed() -> None:
    on_disk = sorted(p.stem for p in ANALYSES.glob("[0-9][0-9]_*.py"))
    assert on_disk == SCRIPTS
    readme = (ANALYSES / "README.md").read_text()
    for name in SCRIPTS:
        assert f"{name}.py" in readme


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[Path]]]:
    common = load("_common")
    cfg = common.Config(out=tmp_path_factory.mktemp("analyses"), quick=True)
    written = {
        name: load(name).main(cfg) for name in ("01_describe", "02_quality_fe", "03_survival")
    }
    return cfg.out, written


@pytest.mark.slow
def test_quick_run_writes_what_it_says(quick_run: tuple[Path, dict[str, list[Path]]]) -> None:
    out, written = quick_run
    for name, paths in written.items():
        assert paths, name
        for path in paths:
            assert path.is_file() and path.stat().st_size > 0, path
    names = {p.relative_to(out).as_posix() for paths in written.values() for p in paths}
    for expected in (
        "tables/table1_descriptives.tex",
        "tables/table1_descriptives.docx",
        "tables/trends_by_tier.csv",
        "figures/fig1_funding_trends.png",
        "tables/table2_quality_fe.md",
        "tables/hausman.txt",
        "models/fe_quality.nc",
        "models/re_quality.nc",
        "figures/fig3_km_tier.pdf",
        "tables/table3_survival_freq.html",
        "models/cox.nc",
        "tables/table2b_quality_wild.md",
        "tables/wild_district.csv",
        "models/fe_district_wild.csv",
        "tables/table3b_hazard_ame.tex",
        "tables/hazard_ame_by_tier.csv",
    ):
        assert expected in names, expected


@pytest.mark.slow
def test_quick_run_manifest(quick_run: tuple[Path, dict[str, list[Path]]]) -> None:
    out, written = quick_run
    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted(manifest["scripts"]) == sorted(written)
    assert manifest["config"]["quick"] is True
    listed = set(manifest["outputs"])
    assert listed == {p.relative_to(out).as_posix() for ps in written.values() for p in ps}


@pytest.mark.slow
def test_saved_fits_rebuild_the_table(quick_run: tuple[Path, dict[str, list[Path]]]) -> None:
    out, _ = quick_run
    fe = sustain.load_result(out / "models" / "fe_quality.nc")
    table = (out / "tables" / "table2_quality_fe.csv").read_text()
    assert f"{fe.params['hhi_lag1']:.3f}" in table


def test_study_spec_is_the_example_spec() -> None:
    study = load_spec(ANALYSES / "study.toml")
    example = load_spec(sustain.pipeline.example_spec_path())
    assert study.models == example.models
    assert study.tables == example.tables
    assert study.figures == example.figures
    assert study.sample == example.sample and study.panel == example.panel
    assert study.seed == example.seed and study.diagnostics == example.diagnostics
    assert study.data_path is not None and (study.data_path / "agencies.csv").is_file()
    raw = tomllib.loads((ANALYSES / "study.toml").read_text())
    assert raw["run"]["name"] == "study"


def test_scripts_match_the_spec_models() -> None:
    """The scripts fit the models the spec declares, with the same formulas."""
    example = load_spec(sustain.pipeline.example_spec_path())
    formulas = {m.name: m.options["formula"] for m in example.models}
    assert formulas["fe_quality"] == load("02_quality_fe").FORMULA
    assert formulas["bayes_quality"] == load("04_bayes_quality").FORMULA
    assert formulas["bayes_hazard"] == load("05_bayes_hazard").FORMULA
    assert formulas["hazard_cloglog"] == load("03_survival").HAZARD
    assert formulas["cox"] == load("03_survival").COX


@pytest.mark.slow
def test_designs_script_writes_its_tables_and_figures(tmp_path: Path) -> None:
    common = load("_common")
    written = load("07_designs").main(common.Config(out=tmp_path, quick=True))
    names = {p.relative_to(tmp_path).as_posix() for p in written}
    for expected in (
        "tables/table4_competing.tex",
        "tables/cif_tier.csv",
        "tables/gray_tier.csv",
        "figures/fig5_cif_tier.png",
        "tables/table5_event_study.md",
        "tables/event_study_callaway_santanna.csv",
        "figures/fig6_event_study.pdf",
    ):
        assert expected in names, expected
