"""Analysis specs: schema, key and option checks, formula safety, checks against the data.

Everything here must fail *before* any model is fitted; tests that run the pipeline replace
the fitter with one that fails the test if it is ever called.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pytest

import sustain
from sustain.errors import SpecError
from sustain.pipeline import load_spec, parse_spec, run_spec
from sustain.pipeline import run as run_module
from sustain.pipeline.preflight import apply_sample, sample_mask
from sustain.pipeline.results_dir import check_name
from sustain.pipeline.signatures import conforms
from sustain.pipeline.spec import Filter, derive_seed

SMALL_AGENCIES = 80  # enough agencies for exits and variation, small enough to build fast
SMALL_SEED = 11

BASE = """
[run]
name = "t"
seed = 5

[data]
path = "data"

[panel]
lags = ["hhi"]
"""
FE = """
[[models]]
name = "fe1"
kind = "fe"
formula = "quality ~ hhi_lag1 + gov_share"
cluster = "agency_id"
"""


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("spec") / "data"
    sim = sustain.simulate(seed=SMALL_SEED, n_agencies=SMALL_AGENCIES)
    sustain.datasets.write_csv(sim.data, folder)
    return folder


def write_spec(folder: Path, text: str, name: str = "spec.toml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def spec_error(text: str, tmp_path: Path) -> str:
    with pytest.raises(SpecError) as info:
        load_spec(write_spec(tmp_path, text))
    return str(info.value)


@pytest.fixture
def no_fitting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the pipeline ever fits a model."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a model was fitted although the spec is invalid")

    monkeypatch.setattr(run_module, "fit_model", refuse)


# --------------------------------------------------------------------------- reading


def test_example_spec_loads() -> None:
    spec = load_spec(sustain.pipeline.example_spec_path())
    kinds = {m.kind for m in spec.models}
    assert {"fe", "hazard", "cox", "bayes"} <= kinds
    assert spec.builtin == "example"
    assert {t.kind for t in spec.tables} >= {"regression", "describe", "hausman"}
    assert {f.kind for f in spec.figures} >= {"km", "coef"}


def test_minimal_spec_defaults(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, "[data]\nbuiltin = 'example'\n", "mystudy.toml"))
    assert spec.name == "mystudy"
    assert spec.results == tmp_path / "results" / "mystudy"
    assert spec.seed == 0 and spec.models == () and spec.sha256 is not None


def test_invalid_toml(tmp_path: Path) -> None:
    assert "not valid TOML" in spec_error("[data\npath = 1", tmp_path)


def test_unknown_top_level_key_suggests(tmp_path: Path) -> None:
    message = spec_error(BASE + "[[modles]]\nname = 'x'\n", tmp_path)
    assert "spec.modles" in message and "did you mean 'models'" in message


@pytest.mark.parametrize(
    ("extra", "path", "hint"),
    [
        ("formla = 'quality ~ hhi'", "models.fe1.formla", "formula"),
        ("clustr = 'agency_id'", "models.fe1.clustr", "cluster"),
    ],
)
def test_unknown_model_key_names_path(tmp_path: Path, extra: str, path: str, hint: str) -> None:
    message = spec_error(BASE + FE + extra + "\n", tmp_path)
    assert f"unknown key {path}" in message and f"did you mean {hint!r}" in message


def test_unknown_table_and_figure_keys(tmp_path: Path) -> None:
    table = "[[tables]]\nname = 'T'\nkind = 'regression'\nmodels = ['fe1']\nstarz = [0.1]\n"
    assert "tables.T.starz; did you mean 'stars'" in spec_error(BASE + FE + table, tmp_path)
    figure = "[[figures]]\nname = 'F'\nkind = 'coef'\nmodels = ['fe1']\ntitel = 'x'\n"
    assert "figures.F.titel; did you mean 'title'" in spec_error(BASE + FE + figure, tmp_path)


def test_unknown_section_keys(tmp_path: Path) -> None:
    assert "run.sed" in spec_error(BASE.replace("seed = 5", "sed = 5"), tmp_path)
    assert "diagnostics.rhat" in spec_error(BASE + "[diagnostics]\nrhat = 1.01\n", tmp_path)
    message = spec_error(BASE + "[[sample]]\ncolumn = 'year'\nop = '>'\nvalu = 1\n", tmp_path)
    assert "sample[0].valu; did you mean 'value'" in message


def test_unknown_kind_suggests(tmp_path: Path) -> None:
    message = spec_error(
        BASE + "[[models]]\nname = 'h'\nkind = 'hazrd'\nformula = 'exit ~ hhi'\n", tmp_path
    )
    assert "models.h.kind = 'hazrd'" in message and "did you mean 'hazard'" in message


@pytest.mark.parametrize(
    ("entry", "needle"),
    [
        ("kind = 'hazard'\nformula = 'exit ~ hhi'\nlink = 'probit'", "'logit', 'cloglog'"),
        ("kind = 'fe'\nformula = 'quality ~ hhi'\nestimator = 'within_ols'", "'first_difference'"),
        ("kind = 'fe'\nformula = 'quality ~ hhi'\ncov_type = 'cluster'", "'clustered'"),
        ("kind = 'cox'\nformula = 'hhi'\nties = 'exact'", "'efron', 'breslow'"),
        ("kind = 'cox'\nformula = 'hhi'\ntime_scale = 'days'", "'age', 'calendar'"),
        ("kind = 'bayes'\nformula = 'quality ~ hhi'\nfamily = 'normal'", "'student_t'"),
        ("kind = 'bayes'\nformula = 'quality ~ hhi'\ndraws = 'many'", "an integer"),
        ("kind = 'fe'\nformula = 'quality ~ hhi'\neffects = 'agency_id'", "a list of text"),
    ],
)
def test_option_values_checked(tmp_path: Path, entry: str, needle: str) -> None:
    message = spec_error(BASE + f"[[models]]\nname = 'm'\n{entry}\n", tmp_path)
    assert "models.m." in message and needle in message


def test_required_keys_and_names(tmp_path: Path) -> None:
    assert "needs 'formula'" in spec_error(BASE + "[[models]]\nname = 'm'\nkind = 'fe'\n", tmp_path)
    bad_name = BASE + "[[models]]\nname = '../x'\nkind = 'fe'\nformula = 'quality ~ hhi'\n"
    assert "must start with a letter or digit" in spec_error(bad_name, tmp_path)
    assert "used twice" in spec_error(BASE + FE + FE, tmp_path)


def test_references_to_models_checked(tmp_path: Path) -> None:
    table = "[[tables]]\nname = 'T'\nkind = 'regression'\nmodels = ['fe2']\n"
    message = spec_error(BASE + FE + table, tmp_path)
    assert "uses model 'fe2'" in message and "did you mean 'fe1'" in message
    hausman = "[[tables]]\nname = 'H'\nkind = 'hausman'\nfe = 'fe1'\nre = 'hz'\n"
    hazard = "[[models]]\nname = 'hz'\nkind = 'hazard'\nformula = 'exit ~ hhi'\n"
    assert "kind 'fe'" in spec_error(BASE + FE + hazard + hausman, tmp_path)


def test_data_section(tmp_path: Path) -> None:
    both = "[data]\npath = 'd'\nbuiltin = 'example'\n"
    assert "exactly one of" in spec_error(both, tmp_path)
    assert "'example'" in spec_error("[data]\nbuiltin = 'mtcars'\n", tmp_path)
    assert "data.errors" in spec_error("[data]\npath = 'd'\nerrors = 'ignore'\n", tmp_path)


def test_panel_and_sample_sections(tmp_path: Path) -> None:
    lags = BASE.replace('lags = ["hhi"]', "lags = 3")
    assert "panel.lags" in spec_error(lags, tmp_path)
    window = BASE + "first_year = 2020\nlast_year = 2015\n"
    assert "after panel.last_year" in spec_error(window, tmp_path)
    bad_op = BASE + "[[sample]]\ncolumn = 'year'\nop = '=>'\nvalue = 2014\n"
    assert "sample[0].op = '=>'" in spec_error(bad_op, tmp_path)
    no_list = BASE + "[[sample]]\ncolumn = 'main_tier'\nop = 'in'\nvalue = 'district'\n"
    assert "sample[0].value" in spec_error(no_list, tmp_path)


# --------------------------------------------------------------------------- formula safety


@pytest.mark.parametrize(
    "formula",
    [
        "quality ~ __import__('os').system('touch {marker}')",
        "quality ~ hhi + {{__import__('os').system('touch {marker}')}}",
        "quality ~ np.log(hhi).__class__",
        "quality ~ eval('1')",
        "quality ~ (lambda: 1)()",
        "quality ~ open('{marker}', 'w')",
    ],
)
def test_unsafe_formula_rejected_before_anything_runs(
    tmp_path: Path, data_dir: Path, no_fitting: None, formula: str
) -> None:
    marker = tmp_path / "pwned"
    text = BASE.replace('path = "data"', f'path = "{data_dir.as_posix()}"') + FE.replace(
        "quality ~ hhi_lag1 + gov_share", formula.format(marker=marker.as_posix())
    )
    spec_file = write_spec(tmp_path, text)
    with pytest.raises(SpecError, match="models.fe1.formula"):
        run_spec(spec_file, quiet=True)
    assert not marker.exists()
    assert not (tmp_path / "results").exists()


def test_unsafe_formula_in_joint_and_cox(tmp_path: Path) -> None:
    cox = BASE + "[[models]]\nname = 'c'\nkind = 'cox'\nformula = \"__import__('os')\"\n"
    assert "models.c.formula" in spec_error(cox, tmp_path)


# --------------------------------------------------------------------------- against the data


def run_error(tmp_path: Path, data_dir: Path, text: str) -> str:
    spec_text = BASE.replace('path = "data"', f'path = "{data_dir.as_posix()}"') + text
    with pytest.raises(SpecError) as info:
        run_spec(write_spec(tmp_path, spec_text), quiet=True)
    assert not (tmp_path / "results").exists()
    return str(info.value)


def test_unknown_variable_rejected_before_fitting(
    tmp_path: Path, data_dir: Path, no_fitting: None
) -> None:
    text = FE.replace("gov_share", "gov_shares")
    message = run_error(tmp_path, data_dir, text)
    assert "gov_shares" in message and "did you mean 'gov_share'" in message


def test_every_problem_reported_at_once(tmp_path: Path, data_dir: Path, no_fitting: None) -> None:
    text = (
        FE.replace("agency_id", "agency")
        + "[[models]]\nname = 'h'\nkind = 'hazard'\nformula = 'exit ~ hhii'\n"
        + "[[tables]]\nname = 'd'\nkind = 'describe'\ncolumns = ['quallity']\n"
        + "[[figures]]\nname = 'k'\nkind = 'km'\nby = 'main_teir'\n"
    )
    message = run_error(tmp_path, data_dir, text)
    assert "(4 problems)" in message
    for needle in ("models.fe1.cluster", "hhii", "tables.d.columns", "figures.k.by"):
        assert needle in message


def test_lag_columns_exist_after_panel_options(
    tmp_path: Path, data_dir: Path, no_fitting: None
) -> None:
    text = FE.replace("gov_share", "gov_share_lag1")
    assert "gov_share_lag1" in run_error(tmp_path, data_dir, text)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (
            "[[sample]]\ncolumn = 'exit'\nop = '=='\nvalue = 0\n"
            "[[models]]\nname = 'h'\nkind = 'hazard'\nformula = 'exit ~ hhi'\n",
            "has no events",
        ),
        (
            "[[models]]\nname = 'h'\nkind = 'hazard'\nformula = 'exit ~ hhi + I(2 * hhi)'\n",
            "collinear",
        ),
        (
            "[[sample]]\ncolumn = 'year'\nop = '=='\nvalue = 2015\n"
            "[[models]]\nname = 'f'\nkind = 'fe'\nformula = 'year ~ hhi'\nestimator = 'pooled'\n",
            "does not vary",
        ),
        (
            "[[models]]\nname = 'f'\nkind = 'fe'\nformula = 'quality ~ hhi'\n"
            "estimator = 'random'\neffects = ['agency_id']\n",
            "only the within estimator absorbs effects",
        ),
        (
            "[[models]]\nname = 'f'\nkind = 'fe'\nformula = 'quality ~ hhi'\n"
            "cov_type = 'robust'\ncluster = 'agency_id'\n",
            "needs cov_type='clustered'",
        ),
        ("[[sample]]\ncolumn = 'yeer'\nop = '>'\nvalue = 1\n", "did you mean 'year'"),
        ("[[sample]]\ncolumn = 'year'\nop = '>'\nvalue = 3000\n", "no rows of the panel"),
    ],
)
def test_models_that_cannot_be_fitted(
    tmp_path: Path, data_dir: Path, no_fitting: None, text: str, needle: str
) -> None:
    assert needle in run_error(tmp_path, data_dir, text)


def test_missing_data_folder(tmp_path: Path, no_fitting: None) -> None:
    with pytest.raises(SpecError, match="is not a folder"):
        run_spec(write_spec(tmp_path, BASE.replace('"data"', '"nowhere"') + FE), quiet=True)


# --------------------------------------------------------------------------- pieces


def test_sample_filters() -> None:
    df = pd.DataFrame(
        {"year": [2013, 2014, 2015, 2016], "tier": ["a", "b", None, "a"], "q": [1.0, None, 2, 3]}
    )
    cases = {
        (">=", 2015): [False, False, True, True],
        ("!=", 2014): [True, False, True, True],
        ("<", 2014): [True, False, False, False],
    }
    for (op, value), expected in cases.items():
        assert sample_mask(df, [Filter("year", op, value)]).tolist() == expected
    assert sample_mask(df, [Filter("tier", "not in", ["a"])]).tolist() == [
        False,
        True,
        False,
        False,
    ]
    assert sample_mask(df, [Filter("q", "notna")]).tolist() == [True, False, True, True]
    assert sample_mask(df, [Filter("q", "isna")]).tolist() == [False, True, False, False]
    assert len(apply_sample(df, [Filter("year", ">", 2013), Filter("tier", "==", "a")])) == 1
    with pytest.raises(SpecError, match="cannot compare"):
        sample_mask(df, [Filter("tier", ">", 3)])


def test_seeds_fan_out_by_name() -> None:
    raw = {
        "run": {"seed": 9},
        "data": {"builtin": "example"},
        "models": [
            {"name": "a", "kind": "bayes", "formula": "quality ~ hhi"},
            {"name": "b", "kind": "bayes", "formula": "quality ~ hhi", "random_seed": 42},
            {"name": "c", "kind": "fe", "formula": "quality ~ hhi"},
        ],
    }
    seeds = parse_spec(raw).model_seeds()
    assert seeds == {"a": derive_seed(9, "a"), "b": 42}
    reordered = dict(raw, models=[raw["models"][1], raw["models"][0]])
    assert parse_spec(reordered).model_seeds()["a"] == seeds["a"]
    assert derive_seed(10, "a") != seeds["a"]


def test_conforms_annotations() -> None:
    assert conforms(["a"], Sequence[str] | None)
    assert not conforms("a", Sequence[str])
    assert conforms({"hhi": [1, 2]}, dict[str, int | list[int]])
    assert not conforms({"hhi": "x"}, dict[str, int | list[int]])
    assert conforms(1, float) and not conforms(True, float)
    assert conforms("pdf", Literal["png", "pdf"]) and not conforms(1, Literal["1"])
    assert conforms([1, "a"], tuple[int, str]) and not conforms([1], tuple[int, str])
    assert conforms(np.float64(1.0), object)


def test_check_name() -> None:
    assert check_name("model_1-a", "name") == "model_1-a"
    for bad in ("", ".hidden", "a/b", "a b", 3):
        with pytest.raises(SpecError):
            check_name(bad, "name")


def test_joint_model_entries(tmp_path: Path, data_dir: Path) -> None:
    joint = (
        "[[models]]\nname = 'j'\nkind = 'joint'\nquality = 'quality ~ hhi'\n"
        "hazard = 'exit ~ hhi + log_revenue'\ndraws = 200\n"
    )
    text = BASE.replace('path = "data"', f'path = "{data_dir.as_posix()}"') + joint
    spec = load_spec(write_spec(tmp_path, text))
    assert spec.model_seeds() == {"j": derive_seed(5, "j")}
    from sustain.pipeline.preflight import check_spec
    from sustain.pipeline.run import load_data, make_panel, model_frames

    panel = make_panel(spec, load_data(spec)[0])
    check_spec(spec, panel, model_frames(spec, panel))
    assert "models.j.hazard" in spec_error(
        text.replace("log_revenue", '__import__("os")'), tmp_path
    )
    assert "did you mean 'draws'" in spec_error(text.replace("draws", "drows"), tmp_path)
    bad = load_spec(write_spec(tmp_path, text.replace("exit ~ hhi", "exitt ~ hhi")))
    with pytest.raises(SpecError, match="models.j.hazard"):
        check_spec(bad, panel, model_frames(bad, panel))


def test_wrong_shapes_are_spec_errors(tmp_path: Path) -> None:
    assert "kind = ['fe']" in spec_error(BASE + "[[models]]\nname = 'm'\nkind = ['fe']\n", tmp_path)
    assert "must be a table" in spec_error('run = "fast"\n[data]\nbuiltin = "example"\n', tmp_path)
    assert "list of tables" in spec_error(BASE + "[models]\nname = 'm'\n", tmp_path)
    assert "run.seed" in spec_error(BASE.replace("seed = 5", "seed = -1"), tmp_path)
