"""result.save / sustain.load_result: NetCDF round trips that rebuild tables without refitting."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

import sustain
from sustain.errors import SpecError
from sustain.persistence import METADATA_KEY, load_result, save_result
from sustain.results import FrequentistResults, ModelInfo


def nested_frame(seed: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = np.repeat(np.arange(6), 40)
    b = np.repeat(np.arange(30), 8)
    x = rng.normal(size=len(a))
    y = 1 + 0.5 * x + rng.normal(0, 1, 6)[a] + rng.normal(0, 0.7, 30)[b] + rng.normal(size=len(a))
    return pd.DataFrame({"y": y, "x": x, "a": [f"A{i}" for i in a], "b": [f"B{i % 5}" for i in b]})


@pytest.fixture(scope="module")
def data():
    return nested_frame()


@pytest.fixture(scope="module")
def fitted(data):
    return sustain.fit_bayes(
        data,
        "y ~ x + (1 | a/b)",
        priors={"x": "normal(0, 2)"},
        draws=500,
        tune=300,
        chains=2,
        random_seed=11,
    )


@pytest.fixture(scope="module")
def reloaded(fitted, tmp_path_factory):
    path = tmp_path_factory.mktemp("saved") / "model.nc"
    fitted.save(path)
    return load_result(path)


@pytest.mark.bayes
def test_round_trip_keeps_estimates_priors_and_provenance(fitted, reloaded):
    assert type(reloaded) is type(fitted)
    pd.testing.assert_series_equal(reloaded.params, fitted.params)
    pd.testing.assert_series_equal(reloaded.bse, fitted.bse)
    pd.testing.assert_frame_equal(reloaded.priors, fitted.priors)
    assert reloaded.priors.set_index("parameter").loc["x", "prior"] == "normal(0, 2)"
    for attr in ("formula", "family", "link", "data_hash", "sampler", "collapsed", "random_seed"):
        assert getattr(reloaded, attr) == getattr(fitted, attr), attr
    assert reloaded.terms == fitted.terms and reloaded.info == fitted.info
    assert list(reloaded.idata.children) == list(fitted.idata.children)


@pytest.mark.bayes
def test_tables_are_rebuilt_identically(fitted, reloaded):
    assert str(reloaded.summary()) == str(fitted.summary())
    pd.testing.assert_frame_equal(reloaded.tidy(), fitted.tidy())
    pd.testing.assert_frame_equal(reloaded.conf_int(), fitted.conf_int())
    for fmt in ("markdown", "latex"):
        assert sustain.regression_table([reloaded], format=fmt) == sustain.regression_table(
            [fitted], format=fmt
        )


@pytest.mark.bayes
def test_data_hash_identifies_the_data(fitted, reloaded, data):
    assert reloaded.matches(data)
    assert not reloaded.matches(data.assign(y=data["y"] + 1e-6))
    meta = json.loads(reloaded.idata.posterior.attrs[METADATA_KEY])
    assert meta["data_hash"] == fitted.data_hash and len(fitted.data_hash) == 64
    assert {"pymc", "arviz", "numpy", "python"} <= set(meta["versions"])


@pytest.mark.bayes
def test_save_is_atomic_and_overwrites(fitted, tmp_path):
    target = tmp_path / "deeper" / "m.nc"
    fitted.save(target)
    fitted.save(target)
    assert [p.name for p in target.parent.iterdir()] == ["m.nc"]
    # saving does not change the result
    assert METADATA_KEY in fitted.idata.posterior.attrs
    assert load_result(target).data_hash == fitted.data_hash


def test_frequentist_round_trip(tmp_path):
    cov = pd.DataFrame([[0.25, 0.01], [0.01, 0.04]], index=["x", "z"], columns=["x", "z"])
    info = ModelInfo(
        model="Two-way FE",
        estimator="within",
        depvar="quality",
        formula="quality ~ x + z",
        nobs=120,
        groups={"agency_id": 12},
        effects=("agency_id", "year"),
        cov_type="clustered",
        cluster=("agency_id",),
        stats={"r2_within": 0.3},
        notes=("a note",),
    )
    result = FrequentistResults(pd.Series({"x": 2.0, "z": -1.0}), cov, info, df_resid=100.0)
    loaded = load_result(save_result(result, tmp_path / "fe.nc"))
    pd.testing.assert_series_equal(loaded.params, result.params)
    pd.testing.assert_frame_equal(loaded.cov, result.cov)
    assert loaded.info == info and loaded.df_resid == 100.0
    assert str(loaded.summary()) == str(result.summary())


def test_load_refuses_what_sustain_did_not_write(tmp_path):
    import arviz as az

    with pytest.raises(SpecError, match="no saved result"):
        load_result(tmp_path / "missing.nc")
    (tmp_path / "text.nc").write_text("not netcdf")
    with pytest.raises(SpecError, match="not a NetCDF file"):
        load_result(tmp_path / "text.nc")
    plain = az.from_dict({"posterior": {"x": np.zeros((1, 10))}})
    plain.to_netcdf(tmp_path / "plain.nc", engine="h5netcdf")
    with pytest.raises(SpecError, match="no sustain metadata"):
        load_result(tmp_path / "plain.nc")
    plain.posterior.attrs[METADATA_KEY] = json.dumps({"result_class": "os.system"})
    plain.to_netcdf(tmp_path / "evil.nc", engine="h5netcdf")
    with pytest.raises(SpecError, match="not part of sustain"):
        load_result(tmp_path / "evil.nc")
    with pytest.raises(SpecError, match="sustain result"):
        save_result({"params": 1}, tmp_path / "dict.nc")


# ----------------------------------------------------------------------------- model classes


def cox_subjects(seed: int = 3, n: int = 200) -> pd.DataFrame:
    """One row per subject: an exponential duration depending on x1, x2, and censoring."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.integers(0, 2, n)
    duration = rng.exponential(3 * np.exp(-(0.5 * x1 - 0.7 * x2)))
    censor = rng.exponential(8, n)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "start": 0.0,
            "stop": np.minimum(duration, censor),
            "event": (duration <= censor).astype(int),
            "x1": x1,
            "x2": x2,
        }
    )


# Fields of each class that must come back (besides params_, cov, info, df_resid).
MODEL_FIELDS = {
    "fe": ("backend",),
    "hazard": ("duration_terms", "duration_bands"),
    "cox": ("naive_cov", "ties", "strata"),
}


@pytest.fixture(scope="module")
def frequentist_fits(example_panel):
    return {
        "fe": sustain.fit_fe(example_panel, "quality ~ hhi + gov_share", cluster="agency_id"),
        "hazard": sustain.fit_hazard(example_panel, "exit ~ hhi + gov_share + log_revenue"),
        "cox": sustain.fit_cox(cox_subjects(), "x1 + x2", cluster="id"),
    }


@pytest.mark.parametrize("kind", ["fe", "hazard", "cox"])
def test_model_classes_and_their_fields_survive_a_round_trip(frequentist_fits, kind, tmp_path):
    result = frequentist_fits[kind]
    loaded = load_result(save_result(result, tmp_path / f"{kind}.nc"))
    assert type(loaded) is type(result) and type(result) is not FrequentistResults
    kept = []
    for f in dataclasses.fields(result):
        value = getattr(result, f.name)
        if isinstance(value, pd.Series | pd.DataFrame):
            assert value.equals(getattr(loaded, f.name)), f.name
        elif isinstance(value, str | int | float | tuple | ModelInfo) or value is None:
            assert getattr(loaded, f.name) == value, f.name
        else:  # the arrays kept to recompute are not saved
            assert f.name == "pieces", f.name  # arrays to recompute, not saved
            continue
        kept.append(f.name)
    assert set(MODEL_FIELDS[kind]) <= set(kept)
    for fmt in ("markdown", "latex"):
        assert sustain.regression_table([loaded], format=fmt) == sustain.regression_table(
            [result], format=fmt
        )


def test_hazard_duration_terms_stay_hidden_after_loading(frequentist_fits, tmp_path):
    hazard = frequentist_fits["hazard"]
    assert len(hazard.duration_terms) > 5  # one dummy per age band
    loaded = load_result(save_result(hazard, tmp_path / "hazard.nc"))
    assert loaded.duration_terms == hazard.duration_terms
    table = sustain.regression_table([loaded], format="markdown")
    shown = sustain.regression_table([loaded], format="markdown", show_duration=True)
    assert "Funding concentration (HHI)" in table and "Agency age (years)" in shown
    assert "Agency age (years)" not in table


def test_cox_naive_covariance_is_kept(frequentist_fits, tmp_path):
    cox = frequentist_fits["cox"]
    loaded = load_result(save_result(cox, tmp_path / "cox.nc"))
    assert cox.naive_cov is not None
    pd.testing.assert_frame_equal(loaded.naive_cov, cox.naive_cov)
    assert str(loaded.summary()) == str(cox.summary())


def test_every_frequentist_result_saves_itself(frequentist_fits, tmp_path):
    for kind, result in frequentist_fits.items():
        path = result.save(tmp_path / f"{kind}.nc")
        assert load_result(path).params.equals(result.params), kind


def test_kaplan_meier_curves_round_trip(example_panel, tmp_path):
    km = sustain.kaplan_meier(example_panel, by="main_tier")
    loaded = load_result(km.save(tmp_path / "km.nc"))
    assert type(loaded) is type(km)
    pd.testing.assert_frame_equal(loaded.table, km.table)
    pd.testing.assert_frame_equal(loaded.median, km.median)
    assert (loaded.by, loaded.time_scale, loaded.alpha, loaded.conf_type) == (
        km.by,
        km.time_scale,
        km.alpha,
        km.conf_type,
    )
    assert str(loaded) == str(km)
    again = km.save(tmp_path / "km2.nc")
    assert again.read_bytes() == (tmp_path / "km.nc").read_bytes()


def test_hausman_test_round_trips(example_panel, tmp_path):
    fe = sustain.fit_fe(example_panel, "quality ~ hhi + gov_share")
    re = sustain.fit_fe(example_panel, "quality ~ hhi + gov_share", estimator="random")
    test = sustain.hausman(fe, re)
    loaded = load_result(test.save(tmp_path / "hausman.nc"))
    assert (loaded.statistic, loaded.df, loaded.pvalue, loaded.terms) == (
        test.statistic,
        test.df,
        test.pvalue,
        test.terms,
    )
    pd.testing.assert_frame_equal(loaded.table, test.table)
    assert str(loaded) == str(test)


def test_tables_of_every_kind_survive_exactly():
    from sustain import _frames

    index = pd.MultiIndex.from_tuples([("a", 1), ("a", 1), ("b", 2)], names=["k", "year"])
    table = pd.DataFrame(
        {
            "text": pd.Series(["甲", None, "c"], dtype="str", index=index),
            "x": [1.5, np.nan, 1 / 3],
            "n": pd.array([1, None, 3], dtype="Int64"),
            "cat": pd.Categorical(["u", "v", None], categories=["v", "u"], ordered=True),
            "when": pd.to_datetime(["2020-01-01", None, "2021-05-03"]),
            "flag": [True, False, True],
        },
        index=index,
    )
    variables, meta = _frames.encode("t", table)
    back = _frames.decode("t", variables, json.loads(json.dumps(meta)))
    pd.testing.assert_frame_equal(back, table)
    series = pd.Series([0.1, 0.2], index=pd.RangeIndex(5, 7), name="est")
    variables, meta = _frames.encode("s", series)
    pd.testing.assert_series_equal(_frames.decode("s", variables, meta), series)


# ----------------------------------------------------------------------------- same bytes


@pytest.mark.bayes
def test_the_same_fit_saved_twice_gives_identical_bytes(fitted, tmp_path):
    first, second = tmp_path / "first.nc", tmp_path / "second.nc"
    fitted.save(first)
    fitted.save(second)
    assert first.read_bytes() == second.read_bytes()
    # the result in memory keeps ArviZ's stamps; the file does not
    loaded = load_result(first)
    assert "created_at" not in loaded.idata.posterior.attrs


@pytest.mark.bayes
def test_refitting_with_the_same_seed_gives_identical_bytes(fitted, data, tmp_path):
    again = sustain.fit_bayes(
        data,
        "y ~ x + (1 | a/b)",
        priors={"x": "normal(0, 2)"},
        draws=500,
        tune=300,
        chains=2,
        random_seed=11,
    )
    fitted.save(tmp_path / "first.nc")
    again.save(tmp_path / "second.nc")
    assert (tmp_path / "first.nc").read_bytes() == (tmp_path / "second.nc").read_bytes()


def test_frequentist_files_are_identical_too(frequentist_fits, tmp_path):
    for kind, result in frequentist_fits.items():
        a = save_result(result, tmp_path / f"{kind}_a.nc")
        b = save_result(result, tmp_path / f"{kind}_b.nc")
        assert a.read_bytes() == b.read_bytes(), kind


# ----------------------------------------------------------------------------- old files

# The same draws read back from a file whose arrays are laid out differently: means and sds
# agree to rounding (summation order), everything else exactly.
SUMMATION_RTOL = 1e-12
# What a fit on the previous stack recorded (sustain before the move to ArviZ 1).
OLD_VERSIONS = {
    "python": "3.12.7",
    "sustain": "0.1.0",
    "pymc": "5.25.1",
    "pytensor": "2.31.7",
    "nutpie": "0.15.2",
    "arviz": "0.22.0",
    "numpy": "2.3.4",
    "pandas": "2.3.3",
    "formulaic": "1.2.1",
}
# ArviZ 0.x's order of InferenceData groups.
OLD_GROUP_ORDER = (
    "posterior",
    "posterior_predictive",
    "log_likelihood",
    "sample_stats",
    "prior",
    "prior_predictive",
    "observed_data",
)


def write_like_arviz_0x(result, path, drop=()):
    """Write ``result`` as sustain did with ArviZ 0.2x: ``InferenceData.to_netcdf``.

    ArviZ 0.22.0 (``arviz/data/inference_data.py``) wrote one NetCDF group per InferenceData
    group, in turn (mode "w", then "a"), with zlib compression of numeric variables; the
    posterior carried ArviZ's stamps and sustain's metadata. A file written by ArviZ 0.22.0 itself
    from a fit of this stack loaded the same way when this test was written.
    """
    groups = {name: result.idata[name].to_dataset() for name in OLD_GROUP_ORDER}
    meta = json.loads(groups["posterior"].attrs[METADATA_KEY])
    meta["versions"] = OLD_VERSIONS
    groups["posterior"] = groups["posterior"].drop_vars(list(drop))
    groups["posterior"].attrs = {
        "created_at": "2025-11-03T09:12:44.123456+00:00",
        "arviz_version": "0.22.0",
        "inference_library": "nutpie",
        METADATA_KEY: json.dumps(meta),
    }
    mode = "w"
    for name, ds in groups.items():
        encoding = {v: {"zlib": True} for v, da in ds.variables.items() if da.dtype.kind in "biufc"}
        ds.to_netcdf(path, mode=mode, group=name, engine="h5netcdf", encoding=encoding)
        mode = "a"
    return path


@pytest.mark.bayes
def test_files_written_with_arviz_0x_load(fitted, tmp_path):
    old = load_result(write_like_arviz_0x(fitted, tmp_path / "old.nc"))
    assert type(old) is type(fitted) and old.terms == fitted.terms
    assert list(old.idata.children) == list(OLD_GROUP_ORDER)
    pd.testing.assert_frame_equal(old.tidy(), fitted.tidy())
    assert str(old.summary()) == str(fitted.summary())
    assert sustain.regression_table([old], format="markdown") == sustain.regression_table(
        [fitted], format="markdown"
    )
    pd.testing.assert_frame_equal(
        sustain.diagnose(old).table, sustain.diagnose(fitted).table, rtol=SUMMATION_RTOL
    )
    meta = json.loads(old.idata.posterior.attrs[METADATA_KEY])
    assert meta["versions"]["arviz"] == "0.22.0"


@pytest.mark.bayes
def test_an_old_file_that_cannot_be_rebuilt_names_the_versions(fitted, tmp_path):
    path = write_like_arviz_0x(fitted, tmp_path / "old.nc", drop=["x"])
    with pytest.raises(SpecError, match=r"written by sustain 0\.1\.0 with ArviZ 0\.22\.0") as info:
        load_result(path)
    assert "ArviZ 1." in str(info.value) and "Refit" in str(info.value)
