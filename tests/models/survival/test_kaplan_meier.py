"""sustain.kaplan_meier against R's survfit, with delayed entry, groups and the panel."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sustain
from sustain.errors import SpecError

REFERENCES = Path(__file__).resolve().parents[2] / "references" / "survival"
# R stores 17 significant digits; the estimator is a closed form, so agreement is to rounding.
R_TOL = 1e-10
# Splitting an agency's stay into yearly rows leaves every risk set unchanged.
SPLIT_TOL = 1e-12

SURVFIT = json.loads((REFERENCES / "survfit.json").read_text())
# how each R call is written with sustain.kaplan_meier
KM_CALLS = {
    "heart_all_loglog": dict(by=None, start="start", stop="stop", event="event"),
    "heart_surgery_loglog": dict(by="surgery", start="start", stop="stop", event="event"),
    "recur_treat_loglog": dict(by="TREAT", start="TIME0", stop="TIME1", event="CENSOR"),
    "rossi_fin_log": dict(by="fin", start=None, stop="week", event="arrest"),
    "lung_sex_plain": dict(by="sex", start=None, stop="time", event="status"),
}


def as_array(values) -> np.ndarray:
    return np.atleast_1d(np.array(values, dtype=float))


@pytest.fixture(scope="module", params=sorted(SURVFIT))
def km_case(request):
    ref = SURVFIT[request.param]
    data = pd.read_csv(REFERENCES / "data" / f"{ref['data']}.csv")
    km = sustain.kaplan_meier(data, conf_type=ref["conf_type"], **KM_CALLS[request.param])
    return ref, km


def test_every_r_case_has_a_python_call():
    assert set(KM_CALLS) == set(SURVFIT)


def test_curves_match_r_survfit(km_case):
    ref, km = km_case
    table = km.table
    assert table["group"].tolist() == [str(g) for g in np.atleast_1d(ref["group"])]
    np.testing.assert_array_equal(table["time"], as_array(ref["time"]))
    np.testing.assert_array_equal(table["at_risk"], as_array(ref["n_risk"]))
    np.testing.assert_array_equal(table["events"], as_array(ref["n_event"]))
    np.testing.assert_allclose(table["survival"], as_array(ref["surv"]), rtol=0, atol=R_TOL)
    # R stores the standard error of the cumulative hazard (of -log S); ours is of S
    se = as_array(ref["std_err"]) * as_array(ref["surv"])
    np.testing.assert_allclose(table["std_error"], se, rtol=0, atol=R_TOL)


def test_confidence_bands_match_r_survfit(km_case):
    ref, km = km_case
    for column in ("lower", "upper"):
        expected = as_array(ref[column])
        np.testing.assert_array_equal(np.isnan(km.table[column]), np.isnan(expected))
        np.testing.assert_allclose(km.table[column], expected, rtol=0, atol=R_TOL)


def test_medians_match_r_survfit(km_case):
    ref, km = km_case
    groups = [str(g) for g in np.atleast_1d(ref["median_group"])]
    assert km.groups == groups
    for ours, theirs in [
        ("median", "median"),
        ("lower", "median_lower"),
        ("upper", "median_upper"),
    ]:
        np.testing.assert_allclose(km.median[ours], as_array(ref[theirs]), rtol=0, atol=R_TOL)


@pytest.fixture(scope="module")
def panel():
    return sustain.build_panel(sustain.simulate(seed=5, n_agencies=400).data)


def test_panel_curve_equals_one_row_per_agency(panel):
    yearly = sustain.kaplan_meier(panel, by="district")
    spells = sustain.to_spells(panel, "age", ["district"])
    whole = spells.groupby("agency_id").agg(
        start=("start", "min"),
        stop=("stop", "max"),
        event=("event", "max"),
        district=("district", "first"),
    )
    collapsed = sustain.kaplan_meier(whole, by="district", start="start", stop="stop")
    merged = yearly.table.merge(collapsed.table, on=["group", "time"], suffixes=("", "_one"))
    # every time at which something happens in the collapsed data is in the yearly table
    assert len(merged) == len(collapsed.table)
    for column in ("at_risk", "events", "survival", "lower", "upper"):
        np.testing.assert_allclose(merged[column], merged[f"{column}_one"], atol=SPLIT_TOL)
    pd.testing.assert_frame_equal(
        yearly.median.drop(columns="rows"), collapsed.median.drop(columns="rows")
    )


def test_delayed_entry_changes_the_risk_sets(panel):
    km = sustain.kaplan_meier(panel)
    spells = sustain.to_spells(panel, "age")
    naive = sustain.kaplan_meier(spells.assign(start=0), stop="stop", start="start")
    # ignoring left truncation puts late entrants at risk from age 0 onwards
    first = km.table.iloc[0]
    assert (
        first["at_risk"]
        == (spells["start"] < first["time"]).sum() - (spells["stop"] < first["time"]).sum()
    )
    assert naive.table["at_risk"].iloc[0] > first["at_risk"]


def test_groups_equal_separate_fits(panel):
    km = sustain.kaplan_meier(panel, by="main_tier", conf_type="log")
    for group in km.groups:
        alone = sustain.kaplan_meier(panel[panel["main_tier"] == group], conf_type="log")
        ours = km.table[km.table["group"] == group].reset_index(drop=True)
        np.testing.assert_allclose(ours["survival"], alone.table["survival"], atol=SPLIT_TOL)
    assert km.nobs == len(panel)


def test_result_object(panel):
    km = sustain.kaplan_meier(panel, time_scale="calendar", alpha=0.1)
    assert km.time_scale == "calendar" and km.conf_type == "log-log"
    table = km.tidy()
    assert list(table.columns) == [
        "group",
        "time",
        "at_risk",
        "events",
        "survival",
        "std_error",
        "lower",
        "upper",
    ]
    ok = table["lower"].notna()
    assert (table.loc[ok, "lower"] <= table.loc[ok, "survival"]).all()
    assert (table.loc[ok, "survival"] <= table.loc[ok, "upper"]).all()
    steps = km.survival_at([0.0, table["time"].iloc[0], 1e6])
    assert steps.iloc[0] == 1.0
    assert steps.iloc[1] == table["survival"].iloc[0]
    assert steps.iloc[2] == table["survival"].iloc[-1]
    assert "Kaplan-Meier" in str(km) and "90% log-log" in str(km)
    with pytest.raises(dataclasses.FrozenInstanceError):
        km.alpha = 0.5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(conf_type="arcsin"), "conf_type='arcsin'"),
        (dict(alpha=1.5), "alpha"),
        (dict(by="sector"), "sector"),
        (dict(time_scale="weeks"), "time_scale='weeks'"),
    ],
)
def test_bad_options_get_clear_errors(panel, kwargs, message):
    with pytest.raises(SpecError, match=message):
        sustain.kaplan_meier(panel, **kwargs)


def test_bad_frames_get_clear_errors():
    frame = pd.DataFrame({"t": [1.0, 2.0], "d": [1, 0], "g": ["a", None]})
    with pytest.raises(SpecError, match="'g' has missing values"):
        sustain.kaplan_meier(frame, by="g", stop="t", event="d")
    with pytest.raises(SpecError, match="must be greater"):
        sustain.kaplan_meier(frame.assign(s=2.0), start="s", stop="t", event="d")
    with pytest.raises(SpecError, match="not found"):
        sustain.kaplan_meier(frame, stop="time", event="d")
