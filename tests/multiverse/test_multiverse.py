"""Multiverse analysis: grid expansion, backends (serial, processes, Dask), cache, curve, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest

import sustain
from sustain.errors import SpecError
from sustain.multiverse import MultiverseResult, multiverse, run_multiverse_spec
from sustain.multiverse.curve import curve_data, spec_curve
from sustain.multiverse.execute import Cache, Outcome, execute, frame_hash, run_specification
from sustain.multiverse.grid import ESTIMATORS, columns_used, expand, spec_id
from sustain.multiverse.result import curve_stats
from sustain.multiverse.run import shipped_columns
from sustain.pipeline.run import fit_model, model_frames
from sustain.pipeline.spec import parse_spec

# Seconds the interrupted subprocess may take to write its first cache files (import and
# first fits on a loaded 2-core machine).
INTERRUPT_TIMEOUT = 120.0
# Cache files the subprocess must have written before it is killed.
FILES_BEFORE_KILL = 3
# Seconds the `sustain multiverse` command may take (interpreter start, imports, 8 fits in
# two spawned workers on a loaded 2-core machine).
CLI_TIMEOUT = 300.0
# Probabilities are shares of posterior draws, so they lie in [0, 1] exactly.
PROB_BOUNDS = (0.0, 1.0)

QUALITY = {
    "kind": "fe",
    "formula": "quality ~ {measure} + log_revenue",
    "effects": ["agency_id", "year"],
}
CHOICES = {
    "measure": ["hhi", "entropy"],
    "lag": [0, 1],
    "estimator": ["fe", "re"],
    "cluster": ["agency_id", "district"],
}
N_SPECS = 16


@pytest.fixture(scope="module")
def panel(example_panel):
    return example_panel


@pytest.fixture(scope="module")
def serial(panel):
    return multiverse(QUALITY, CHOICES, data=panel, backend="serial", random_seed=3)


# --------------------------------------------------------------------------- grid


def test_grid_has_every_combination_with_stable_ids():
    specs = expand(QUALITY, CHOICES)
    assert len(specs) == N_SPECS
    assert len({s.id for s in specs}) == N_SPECS
    assert [s.id for s in specs] == sorted(s.id for s in specs)
    # adding an option keeps the ids of existing specifications
    more = expand(QUALITY, {**CHOICES, "measure": ["hhi", "entropy", "gov_share"]})
    assert {s.id for s in specs} < {s.id for s in more}
    # ids do not depend on the order of dimensions
    reordered = expand(QUALITY, dict(reversed(list(CHOICES.items()))))
    assert {s.id for s in reordered} == {s.id for s in specs}


def test_grid_applies_lag_estimator_and_cluster():
    spec = next(
        s
        for s in expand(QUALITY, CHOICES)
        if dict(s.choices) == {"measure": "hhi", "lag": 1, "estimator": "re", "cluster": "district"}
    )
    assert spec.kind == "fe"
    assert spec.options["formula"] == "quality ~ hhi_lag1 + log_revenue"
    assert spec.options["estimator"] == "random"
    assert spec.options["cluster"] == "district"
    assert "effects" not in spec.options  # only the within estimator absorbs effects
    assert spec.term == "hhi_lag1"


def test_grid_bayes_gets_random_intercept_and_few_draws():
    specs = expand(
        QUALITY, {"measure": ["hhi"], "estimator": ["bayes"], "cluster": ["agency_id", "district"]}
    )
    formulas = sorted(s.options["formula"] for s in specs)
    assert formulas == [
        "quality ~ hhi + log_revenue + (1 | agency_id)",
        "quality ~ hhi + log_revenue + (1 | district/agency_id)",
    ]
    assert all(s.kind == "bayes" and s.options["draws"] == 300 for s in specs)
    assert all("effects" not in s.options for s in specs)
    assert len({s.seed for s in specs}) == 2


def test_grid_generic_dimension_sets_fitter_option():
    specs = expand(
        {"kind": "hazard", "formula": "exit ~ {measure}"},
        {"measure": ["hhi"], "link": ["logit", "cloglog"]},
    )
    assert sorted(s.options["link"] for s in specs) == ["cloglog", "logit"]


def test_grid_named_samples():
    specs = expand(
        QUALITY,
        {"measure": ["hhi"], "sample": ["all", "recent"]},
        samples={"recent": [{"column": "year", "op": ">=", "value": 2016}]},
    )
    filters = {s.sample: s.filters for s in specs}
    assert filters["all"] == ()
    assert filters["recent"][0].describe() == "year >= 2016"


@pytest.mark.parametrize(
    ("choices", "message"),
    [
        ({"measure": []}, "non-empty list"),
        ({"measure": ["hhi", "hhi"]}, "twice"),
        ({"estimator": ["ols"]}, "not one of"),
        ({"lag": [1]}, "needs a measure"),
        ({"measure": ["hhi"], "colour": ["red"]}, "changes nothing"),
        ({"measure": ["hhi"], "sample": ["nonsense"]}, "not one of"),
        ({"measure": ["hhi"], "lag": [-1]}, ">= 0"),
    ],
)
def test_grid_rejects_bad_choices(choices, message):
    with pytest.raises(SpecError, match=message):
        expand(QUALITY, choices)


def test_columns_used_by_each_kind():
    fe = expand(QUALITY, {"measure": ["hhi"], "sample": ["no_left_truncated"]})
    assert columns_used(fe) == set("quality hhi log_revenue agency_id year left_truncated".split())
    bayes = expand(QUALITY, {"measure": ["hhi"], "estimator": ["bayes"], "cluster": ["district"]})
    assert columns_used(bayes) == {"quality", "hhi", "log_revenue", "agency_id", "district"}
    joint = expand(
        {"kind": "joint", "quality": "quality ~ {measure}", "hazard": "exit ~ {measure}"},
        {"measure": ["gov_share"]},
    )
    assert columns_used(joint) == {"quality", "exit", "gov_share", "agency_id", "age", "year"}


def test_shipped_panel_keeps_everything_for_unknown_columns(panel):
    good = expand(QUALITY, {"measure": ["hhi"]})
    assert shipped_columns(panel, good).shape[1] == 3
    bad = expand(QUALITY, {"measure": ["hhii"]})
    assert shipped_columns(panel, bad).shape[1] == panel.shape[1]
    mv = multiverse(QUALITY, {"measure": ["hhii"]}, data=panel, backend="serial")
    assert "did you mean 'hhi'" in mv.failures["error"].iloc[0]


def test_spec_id_is_order_free():
    assert spec_id([("a", 1), ("b", "x")]) == spec_id([("b", "x"), ("a", 1)])
    assert spec_id([("a", 1)]) != spec_id([("a", "1")])


# --------------------------------------------------------------------------- running


def test_serial_table(serial):
    table = serial.table
    assert list(table.columns[:5]) == ["id", "measure", "lag", "estimator", "cluster"]
    assert len(table) == N_SPECS and (table["status"] == "ok").all()
    assert table["id"].is_monotonic_increasing
    assert (table["lower"] < table["estimate"]).all() and (table["estimate"] < table["upper"]).all()
    assert table["p_value"].between(0, 1).all() and table["prob_positive"].isna().all()
    lagged = table[table["lag"] == 1]
    assert (lagged["term"].str.endswith("_lag1")).all()
    # clustering changes standard errors, never estimates
    key = ["measure", "lag", "estimator"]
    spread = table.groupby(key)["estimate"].agg(np.ptp)
    assert (spread == 0).all()


@pytest.mark.filterwarnings("ignore:Only 11 clusters:UserWarning")  # the example has 11 districts
def test_estimate_matches_a_direct_fit(serial, panel):
    row = serial.table.query(
        "measure == 'hhi' and lag == 0 and estimator == 'fe' and cluster == 'district'"
    )
    direct = sustain.fit_fe(
        panel, "quality ~ hhi + log_revenue", effects=("agency_id", "year"), cluster="district"
    )
    assert float(row["estimate"].iloc[0]) == float(direct.params["hhi"])
    assert float(row["std_error"].iloc[0]) == float(direct.bse["hhi"])


def test_failures_are_recorded_not_dropped(panel):
    mv = multiverse(
        {"kind": "fe", "formula": "quality ~ {measure}"},
        {"measure": ["hhi", "no_such_column"]},
        data=panel,
        backend="serial",
    )
    assert len(mv.table) == 2
    failed = mv.failures
    assert failed["measure"].tolist() == ["no_such_column"]
    assert failed["error_type"].tolist() == ["SpecError"]
    assert "no_such_column" in failed["error"].iloc[0]
    assert mv.stats()["n_failed"] == 1 and "result.failures" in str(mv.summary())


def test_missing_term_is_a_failure(panel):
    mv = multiverse(
        {"kind": "fe", "formula": "quality ~ hhi + {control}"},
        {"control": ["gov_share"]},
        term="entropy",
        data=panel,
        backend="serial",
    )
    row = mv.table.iloc[0]
    assert row["status"] == "failed" and "entropy" in row["error"]


def test_processes_backend_gives_the_same_table(serial, panel):
    mv = multiverse(QUALITY, CHOICES, data=panel, backend="processes", n_workers=2, random_seed=3)
    pd.testing.assert_frame_equal(mv.table, serial.table)
    assert mv.backend == "processes" and mv.n_workers == 2


def test_dask_local_cluster_with_two_workers(serial, panel):
    from distributed import Client, LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        specs = expand(QUALITY, CHOICES, random_seed=3)
        run = execute(specs, panel, backend="dask", address=cluster.scheduler_address)
        with Client(cluster) as client:
            worker_pids = set(client.run(os.getpid).values())
    used = {o.worker.rsplit(":", 1)[1] for o in run.outcomes.values()}
    assert used == {str(p) for p in worker_pids}  # both workers fitted specifications
    mv = multiverse(QUALITY, CHOICES, data=panel, backend="dask", n_workers=2, random_seed=3)
    pd.testing.assert_frame_equal(mv.table, serial.table)


def test_bayesian_specifications(panel, frame_spy):
    base = {
        "kind": "fe",
        "formula": "quality ~ {measure} + log_revenue",
        "effects": ["agency_id", "year"],
    }
    choices = {"measure": ["hhi"], "estimator": ["re", "bayes"]}
    mv = multiverse(base, choices, data=panel, backend="serial", random_seed=5)
    table = mv.table.set_index("estimator")
    assert (table["status"] == "ok").all(), mv.failures
    check_frames(frame_spy, mv.table)
    bayes, re = table.loc["bayes"], table.loc["re"]
    assert bayes["kind"] == "bayes" and np.isnan(bayes["p_value"])
    assert PROB_BOUNDS[0] <= bayes["prob_positive"] <= PROB_BOUNDS[1]
    assert np.isnan(re["prob_positive"]) and 0 <= re["p_value"] <= 1
    # a random-intercept model: the posterior mean sits inside the RE interval and vice versa
    assert re["lower"] < bayes["estimate"] < re["upper"]
    assert bayes["lower"] < re["estimate"] < bayes["upper"]
    again = multiverse(base, choices, data=panel, backend="serial", random_seed=5)
    pd.testing.assert_frame_equal(again.table, mv.table)  # seeds derive from ids


def test_cox_specification_is_fitted_on_the_pipelines_spells(panel):
    base = {"kind": "cox", "formula": "{measure} + log_revenue"}
    choices = {"measure": ["hhi"], "time_scale": ["calendar"], "cluster": ["agency_id"]}
    mv = multiverse(base, choices, data=panel, backend="serial")
    row = mv.table.iloc[0]
    assert row["status"] == "ok" and row["kind"] == "cox", mv.failures
    # the same model through `sustain run`'s code: model_frames (spells) and fit_model
    model = dict(name="c", kind="cox", formula="hhi + log_revenue", time_scale="calendar")
    spec = parse_spec(
        {"data": {"builtin": "example"}, "models": [{**model, "cluster": "agency_id"}]}
    )
    (entry,) = spec.models
    fit = fit_model(entry, model_frames(spec, panel)["c"], None)
    assert float(row["estimate"]) == float(fit.params["hhi"])
    assert float(row["std_error"]) == float(fit.bse["hhi"])
    assert int(row["nobs"]) == len(sustain.to_spells(panel, time_scale="calendar"))


def test_hazard_base_switches_to_cox(panel):
    specs = expand(
        {"kind": "hazard", "formula": "exit ~ {measure}", "duration": "age"},
        {"measure": ["hhi"], "estimator": ["hazard", "cox"]},
    )
    options = {s.kind: dict(s.options) for s in specs}
    assert options["cox"] == {"formula": "hhi"}  # Cox takes the right-hand side alone
    assert options["hazard"] == {"formula": "exit ~ hhi", "duration": "age"}
    cox = [s for s in specs if s.kind == "cox"]
    assert columns_used(cox) == {"hhi", "agency_id", "year", "exit", "age"}  # to_spells reads


@pytest.fixture
def frame_spy(monkeypatch):
    """Record the first columns of the frame `sustain run`'s model_frame makes, by spec id."""
    import sustain.pipeline.run as pipeline_run

    seen: dict[str, tuple[str, ...]] = {}
    original = pipeline_run.model_frame

    def spy(entry, frame):
        out = original(entry, frame)
        seen[entry.name] = tuple(map(str, out.columns[:5]))
        return out

    monkeypatch.setattr(pipeline_run, "model_frame", spy)
    return seen


def check_frames(seen, table):
    assert set(seen) == set(table["id"])  # every specification went through model_frame
    for spec, kind in zip(table["id"], table["kind"], strict=True):
        if kind == "cox":
            assert seen[spec] == ("agency_id", "year", "start", "stop", "event")
        else:  # every other fit_*, Bayesian ones included, takes the indexed panel itself
            assert "agency_id" not in seen[spec]


def test_every_estimator_builds_its_data_like_sustain_run(panel, frame_spy):
    # bayes goes through the same path; test_bayesian_specifications checks it (it is slow)
    estimators = [e for e in ESTIMATORS if e != "bayes"]
    base = {"kind": "hazard", "formula": "exit ~ {measure}"}
    mv = multiverse(
        base, {"measure": ["hhi"], "estimator": estimators}, data=panel, backend="serial"
    )
    assert (mv.table["status"] == "ok").all(), mv.failures
    assert set(mv.table["kind"]) == {"fe", "hazard", "cox"}
    check_frames(frame_spy, mv.table)


# --------------------------------------------------------------------------- cache and resume


def test_cache_resumes_and_keys_on_data(serial, panel, tmp_path):
    first = multiverse(
        QUALITY, CHOICES, data=panel, backend="serial", cache_dir=tmp_path, random_seed=3
    )
    assert first.cached == () and len(list(tmp_path.glob("*.json"))) == N_SPECS
    again = multiverse(
        QUALITY, CHOICES, data=panel, backend="serial", cache_dir=tmp_path, random_seed=3
    )
    assert len(again.cached) == N_SPECS
    pd.testing.assert_frame_equal(again.table, serial.table)
    changed = panel.assign(log_revenue=panel["log_revenue"] + 1.0)
    other = multiverse(
        QUALITY, CHOICES, data=changed, backend="serial", cache_dir=tmp_path, random_seed=3
    )
    assert other.cached == ()


def test_machinery_failures_are_not_cached(tmp_path):
    (spec,) = expand(QUALITY, {"measure": ["hhi"]})
    cache = Cache(tmp_path, data_hash="x")
    assert (
        cache.store(spec, Outcome(spec.id, "failed", error_type="KilledWorker", cacheable=False))
        is None
    )
    assert cache.load(spec) is None
    cache.store(spec, Outcome(spec.id, "failed", error_type="FitError", error="no events"))
    assert cache.load(spec).error == "no events"


def test_interrupted_run_resumes(serial, panel, tmp_path):
    script = textwrap.dedent(
        f"""
        import sustain
        from sustain.multiverse import multiverse
        panel = sustain.build_panel(sustain.datasets.example())
        multiverse({QUALITY!r}, {CHOICES!r}, data=panel, backend="serial",
                   cache_dir={str(tmp_path)!r}, random_seed=3)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + INTERRUPT_TIMEOUT
    try:
        while len(list(tmp_path.glob("*.json"))) < FILES_BEFORE_KILL:
            assert proc.poll() is None, "the run finished before it could be interrupted"
            assert time.monotonic() < deadline, "no cache files appeared in time"
            time.sleep(0.02)
    finally:
        proc.kill()
        proc.wait()
    done = {p.name.split("-")[0] for p in tmp_path.glob("*.json")}
    assert FILES_BEFORE_KILL <= len(done) < N_SPECS
    for path in tmp_path.glob("*.json"):  # files appear only complete (atomic rename)
        assert json.loads(path.read_text(encoding="utf-8"))["status"] == "ok"
    resumed = multiverse(
        QUALITY, CHOICES, data=panel, backend="serial", cache_dir=tmp_path, random_seed=3
    )
    assert set(resumed.cached) == done
    pd.testing.assert_frame_equal(resumed.table, serial.table)


# --------------------------------------------------------------------------- summary and curve


def test_summary_numbers(serial):
    stats = serial.stats()
    est = serial.table["estimate"]
    assert stats["median"] == float(est.median())
    assert stats["share_negative"] == float((est < 0).mean())
    significant = (serial.table["upper"] < 0) | (serial.table["lower"] > 0)
    assert stats["share_significant"] == float(significant.mean())
    by = serial.summary().table
    assert list(by.index.get_level_values("option")[:2]) == ["hhi", "entropy"]
    assert by.loc[("lag", "1"), "specifications"] == N_SPECS // 2


def test_curve_stats_with_no_success():
    table = pd.DataFrame(
        {"status": ["failed"], "estimate": [np.nan], "lower": [np.nan], "upper": [np.nan]}
    )
    stats = curve_stats(table)
    assert stats["n_ok"] == 0 and np.isnan(stats["median"])


def test_curve_data_orders_and_marks(serial):
    data = curve_data(serial.table, serial.dimensions, serial.choices)
    assert data.order["estimate"].is_monotonic_increasing
    assert data.rows[:2] == (("measure", "hhi"), ("measure", "entropy"))
    # every specification has exactly one option per dimension
    assert (data.marks.sum(axis=0) == len(serial.dimensions)).all()
    hhi = data.order["measure"].eq("hhi").to_numpy()
    np.testing.assert_array_equal(data.marks[0], hhi)


def test_curve_writes_png_and_pdf(serial, tmp_path):
    fig = serial.curve(tmp_path / "curve")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curve.pdf", "curve.png"]
    assert (tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG"
    assert len(fig.axes) == 2


def test_curve_needs_a_success():
    table = pd.DataFrame({"id": ["a"], "m": ["x"], "status": ["failed"]})
    table = table.assign(estimate=np.nan, lower=np.nan, upper=np.nan)
    with pytest.raises(SpecError, match="no specification succeeded"):
        spec_curve(table, ["m"])


def test_result_is_frozen(serial):
    copy = serial.table
    copy.loc[0, "estimate"] = 99.0
    assert serial.table.loc[0, "estimate"] != 99.0
    with pytest.raises(AttributeError):
        serial.term = "x"  # type: ignore[misc]
    assert isinstance(serial, MultiverseResult)


def test_run_specification_records_exceptions(panel):
    (spec,) = expand(
        {"kind": "hazard", "formula": "exit ~ {measure}"}, {"measure": ["hhi"]}, term="nothing"
    )
    out = run_specification(spec, panel)
    assert out.status == "failed" and out.error_type == "SpecError"


def test_frame_hash_sees_row_order(panel):
    assert frame_hash(panel) != frame_hash(panel.iloc[::-1])


# --------------------------------------------------------------------------- spec files and CLI

SPEC = """
[run]
name = "mv"
seed = 11

[data]
builtin = "example"

[[sample]]
column = "year"
op = ">="
value = 2013

[[models]]
name = "quality"
kind = "fe"
formula = "quality ~ {measure} + log_revenue"
effects = ["agency_id", "year"]

[multiverse]
model = "quality"

[multiverse.choices]
measure = ["hhi", "gov_share"]
estimator = ["fe", "re"]
sample = ["all", "young"]

[multiverse.samples]
young = [{ column = "age", op = "<=", value = 8 }]
"""


def test_spec_file_run_and_rerun(tmp_path):
    path = tmp_path / "mv.toml"
    path.write_text(SPEC, encoding="utf-8")
    mv = run_multiverse_spec(path, backend="serial", quiet=True)
    folder = tmp_path / "results" / "mv"
    assert (folder / "tables" / "multiverse.csv").is_file()
    assert sorted(p.name for p in (folder / "figures").iterdir()) == [
        "spec_curve.pdf",
        "spec_curve.png",
    ]
    manifest = (folder / "manifest.json").read_text(encoding="utf-8")
    assert '"n_ok": 8' in manifest and '"tables/multiverse.csv"' in manifest
    table = pd.read_csv(folder / "tables" / "multiverse.csv")
    assert len(table) == 8 and (table["status"] == "ok").all()
    assert (
        mv.table["nobs"][mv.table["sample"] == "young"]
        < mv.table["nobs"][mv.table["sample"] == "all"].max()
    ).all()
    rerun = run_multiverse_spec(path, backend="serial", quiet=True)
    assert len(rerun.cached) == 8
    pd.testing.assert_frame_equal(rerun.table, mv.table)


def test_cli_multiverse(tmp_path, capsys):
    from sustain.cli import main

    path = tmp_path / "mv.toml"
    path.write_text(SPEC, encoding="utf-8")
    assert main(["multiverse", str(path), "--backend", "serial"]) == 0
    assert "Multiverse of the measure" in capsys.readouterr().out
    assert main(["multiverse", str(tmp_path / "missing.toml"), "--backend", "serial"]) != 0


def test_sustain_multiverse_command_end_to_end(tmp_path):
    """The installed ``sustain`` command, in its own process, with two worker processes."""
    path = tmp_path / "mv.toml"
    path.write_text(SPEC, encoding="utf-8")
    command = os.path.join(os.path.dirname(sys.executable), "sustain")
    out = tmp_path / "out"
    args = [command, "multiverse", str(path), "--workers", "2", "--out", str(out)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=CLI_TIMEOUT, check=False)
    assert done.returncode == 0, done.stderr
    assert "Multiverse of the measure" in done.stdout
    table = pd.read_csv(out / "tables" / "multiverse.csv")
    assert len(table) == 8 and (table["status"] == "ok").all()
    assert (out / "figures" / "spec_curve.png").is_file()
    assert (out / "figures" / "spec_curve.pdf").is_file()
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["multiverse"]["backend"] == "processes"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda s: s.replace("[multiverse]\nmodel", "[other]\nmodel"),
            "unknown key|\\[multiverse\\]",
        ),
        (lambda s: s.replace('model = "quality"', 'model = "qualty"'), "not a model"),
        (lambda s: s + "\n[multiverse.extra]\nx = 1\n", "unknown key multiverse.extra"),
        (
            lambda s: s + '\n[[tables]]\nname = "t"\nkind = "regression"\nmodels = ["quality"]\n',
            "remove",
        ),
    ],
)
def test_spec_file_errors(tmp_path, edit, message):
    path = tmp_path / "bad.toml"
    path.write_text(edit(SPEC), encoding="utf-8")
    with pytest.raises(SpecError, match=message):
        run_multiverse_spec(path, backend="serial", quiet=True)


def test_bad_backend_and_alpha(panel):
    with pytest.raises(SpecError, match="backend"):
        multiverse(QUALITY, {"measure": ["hhi"]}, data=panel, backend="threads")  # type: ignore[arg-type]
    with pytest.raises(SpecError, match="alpha"):
        multiverse(QUALITY, {"measure": ["hhi"]}, data=panel, alpha=1.5)


def test_data_may_be_a_dataset(example_data):
    mv = multiverse(QUALITY, {"measure": ["hhi"]}, data=example_data, backend="serial")
    assert mv.table["status"].tolist() == ["ok"]


def test_module_is_callable(panel):
    mv = sustain.multiverse(
        {"kind": "fe", "formula": "quality ~ {measure}"},
        {"measure": ["hhi"]},
        data=panel,
        backend="serial",
    )
    assert isinstance(mv, MultiverseResult)
