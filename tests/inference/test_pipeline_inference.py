"""Specs that ask for wild bootstraps and margins tables."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

import sustain
from sustain.errors import SpecError
from sustain.pipeline.spec import parse_spec

SPEC = """
[run]
name = "inference"
seed = 3
[data]
builtin = "example"
[[models]]
name = "fe_district"
kind = "fe"
formula = "quality ~ hhi + gov_share"
cluster = "district"
wild_bootstrap = { terms = ["hhi", "gov_share"], weights = "webb", reps = 499 }
[[models]]
name = "hazard"
kind = "hazard"
formula = "exit ~ hhi + gov_share + log_revenue"
[[tables]]
name = "wild"
kind = "regression"
models = ["fe_district"]
inference = "wild"
statistic = "ci"
formats = ["csv"]
[[tables]]
name = "ame"
kind = "regression"
models = ["hazard", "fe_district"]
margins = true
formats = ["markdown"]
[[tables]]
name = "ame_by_tier"
kind = "margins"
model = "hazard"
by = "main_tier"
effect = "at_means"
formats = ["csv"]
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("spec")
    (folder / "s.toml").write_text(SPEC)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # 11 districts, by design
        return sustain.run_spec(folder / "s.toml", quiet=True)


def test_the_run_writes_bootstraps_and_margins(run):
    assert {"models/fe_district_wild.csv", "models/fe_district_wild.txt", "tables/wild.csv",
            "tables/ame.md", "tables/ame_by_tier.csv"} <= set(run.outputs)  # fmt: skip
    seed = run.manifest["seeds"]["wild_bootstrap"]["fe_district"]
    wild = pd.read_csv(run.folder / "models" / "fe_district_wild.csv").set_index("term")
    direct = sustain.wild_bootstrap(
        run.fits["fe_district"], "hhi", weights="webb", reps=499, random_seed=seed
    )
    assert wild.loc["hhi", "pvalue"] == pytest.approx(direct.pvalue, abs=1e-12)
    assert wild.loc["hhi", "lower"] == pytest.approx(direct.conf_int[0], rel=1e-9)
    table = (run.folder / "tables" / "wild.csv").read_text(encoding="utf-8-sig")
    assert "restricted wild cluster bootstrap (Webb weights, 499 draws" in table
    assert "Average marginal effects" in (run.folder / "tables" / "ame.md").read_text()
    by_tier = pd.read_csv(run.folder / "tables" / "ame_by_tier.csv")
    assert set(by_tier["main_tier"]) == {"district", "municipal", "subdistrict"}


def _spec(**changes):
    import tomllib

    raw = tomllib.loads(SPEC)
    for path, value in changes.items():
        section, index, key = path.split(".")
        raw[section][int(index)][key] = value
    return raw


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"models.0.wild_bootstrap": {"terms": ["hhi"], "rep": 9}}, "did you mean 'reps'"),
     ({"models.0.wild_bootstrap": {"terms": ["hhi"], "reps": 0}}, "out of bounds"),
     ({"models.0.wild_bootstrap": {"reps": 99}}, "needs terms"),
     ({"models.0.wild_bootstrap": {"terms": ["hhi"], "weights": "mammen"}}, "must be one of")],
)  # fmt: skip
def test_bad_bootstrap_requests_fail_when_the_spec_is_read(changes, message):
    with pytest.raises(SpecError, match=message):
        parse_spec(_spec(**changes))


def test_problems_found_against_the_data_are_listed_before_fitting(tmp_path):
    raw = _spec(**{"models.0.wild_bootstrap": {"terms": ["hhi"], "cluster": "distrct"}})
    raw["models"][1]["wild_bootstrap"] = {"terms": ["hhi"], "cluster": "main_tierr"}
    spec = parse_spec(raw, base=tmp_path)
    with pytest.raises(SpecError) as err:
        sustain.run_spec(spec, tmp_path / "out", quiet=True)
    text = str(err.value)
    assert "2 problems" in text
    assert "models.fe_district.wild_bootstrap.cluster: column 'distrct' is not in the data" in text
    assert "models.hazard.wild_bootstrap.cluster" in text


def test_a_wild_table_needs_a_bootstrapped_model(tmp_path):
    raw = _spec(**{"tables.0.models": ["hazard"]})
    del raw["models"][0]["wild_bootstrap"]
    spec = parse_spec(raw, base=tmp_path)
    with pytest.raises(SpecError, match='inference = "wild" needs a model with wild_bootstrap'):
        sustain.run_spec(spec, tmp_path / "out", quiet=True)
