"""Cumulative incidence (Aalen-Johansen) and Gray's test against R and lifelines.

R references (survival 3.5-3 ``survfit`` multi-state with ``id=``, cmprsk 2.2-11 ``cuminc``)
with their script, log and data are in ``tests/references/designs/``; lifelines'
``AalenJohansenFitter`` (no delayed entry) is run here.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lifelines import AalenJohansenFitter

import sustain
from sustain.errors import SpecError

REFERENCES = Path(__file__).resolve().parents[2] / "references" / "designs"
# R writes 17 significant digits and both sides sum the same terms: agreement to rounding
R_TOL = 1e-12
# lifelines breaks tied exit times by a random jitter of 1e-4 and reports the curve at the
# jittered times; its estimate at an exit time is read just after it (0.01 later, before the
# next censoring at +0.5). The estimator is the same, so the values agree to rounding.
LIFELINES_TOL = 1e-10
SPELLS = pd.read_csv(REFERENCES / "incidence_spells.csv")
RIGHT = pd.read_csv(REFERENCES / "incidence_right_censored.csv").rename(
    columns={"cause": "exit_reason"}
)


def merged(ours: pd.DataFrame, reference: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Our rows at R's times. R lists the times with an exit or the end of a subject's
    follow-up; ours also lists times where only a row ends (the agency continues in its next
    row), where nothing changes."""
    out = ours.merge(reference, on=keys, suffixes=("", "_ref"), validate="one_to_one")
    assert len(out) == len(reference)
    return out


@pytest.mark.parametrize(
    ("case", "data", "kwargs"),
    [
        ("aj_delayed_R.csv", SPELLS, {"start": "start", "stop": "stop"}),
        ("aj_right_censored_R.csv", RIGHT, {"stop": "time"}),
    ],
)
def test_aalen_johansen_matches_r_survfit(case, data, kwargs):
    ours = sustain.cumulative_incidence(data, cause="exit_reason", **kwargs).table
    both = merged(ours, pd.read_csv(REFERENCES / case).drop(columns="group"), ["cause", "time"])
    for column in ("estimate", "std_error", "lower", "upper"):
        np.testing.assert_allclose(
            both[column], both[f"{column}_ref"], atol=R_TOL, rtol=0, err_msg=column
        )


def test_groups_match_r_survfit_by_stratum():
    ours = sustain.cumulative_incidence(
        SPELLS, cause="exit_reason", by="origin", start="start", stop="stop"
    ).table
    reference = pd.read_csv(REFERENCES / "aj_delayed_by_origin_R.csv")
    both = merged(ours, reference, ["cause", "group", "time"])
    for column in ("estimate", "std_error"):
        np.testing.assert_allclose(both[column], both[f"{column}_ref"], atol=R_TOL, rtol=0)


def test_the_panel_gives_the_same_curves_as_its_spells():
    panel = sustain.build_panel(sustain.datasets.example())
    from_panel = sustain.cumulative_incidence(panel, cause="exit_reason").table
    from_spells = sustain.cumulative_incidence(
        SPELLS, cause="exit_reason", start="start", stop="stop"
    ).table
    pd.testing.assert_frame_equal(from_panel, from_spells)
    # an exit at age a is counted at a + 1, as in kaplan_meier
    km = sustain.kaplan_meier(panel)
    assert set(from_panel["time"]) <= set(km.table["time"])


def test_aalen_johansen_matches_lifelines_without_delayed_entry():
    ours = sustain.cumulative_incidence(RIGHT, cause="exit_reason", stop="time")
    codes = {c: i + 1 for i, c in enumerate(ours.causes)}
    event = RIGHT["exit_reason"].map(codes).fillna(0).astype(int)
    for cause, code in codes.items():
        fitter = AalenJohansenFitter(seed=1)
        with warnings.catch_warnings():  # lifelines warns that it jitters tied times
            warnings.filterwarnings("ignore", message="Tied event times were detected")
            fitter.fit(RIGHT["time"], event, event_of_interest=code)
        curve = fitter.cumulative_density_.iloc[:, 0]
        rows = ours.table[(ours.table["cause"] == cause) & (ours.table["time"] % 1 == 0)]
        position = np.searchsorted(curve.index.to_numpy(), rows["time"] + 0.01, side="right") - 1
        np.testing.assert_allclose(
            curve.to_numpy()[position], rows["estimate"], atol=LIFELINES_TOL, rtol=0
        )


def test_gray_test_matches_cmprsk():
    ours = sustain.gray_test(RIGHT, by="origin", cause="exit_reason", stop="time")
    reference = pd.read_csv(REFERENCES / "gray_R.csv").set_index("cause")
    np.testing.assert_allclose(ours["stat"], reference.loc[ours.index, "stat"], rtol=R_TOL)
    np.testing.assert_allclose(ours["pvalue"], reference.loc[ours.index, "pvalue"], rtol=1e-9)
    assert (ours["df"] == reference.loc[ours.index, "df"]).all()


def test_results_and_checks():
    panel = sustain.build_panel(sustain.datasets.example())
    ci = sustain.cumulative_incidence(panel, cause="exit_reason", by="main_tier")
    assert ci.groups == sorted(ci.groups)
    assert "Cumulative incidence" in str(ci.summary())
    at = ci.at(5.0)
    assert at["estimate"].between(0, 1).all()
    # the curves of all causes and the survival add up to one
    total = ci.table[ci.table["group"] == "all"] if "all" in ci.groups else None
    assert total is None
    single = sustain.cumulative_incidence(panel, cause="exit_reason").table
    km = sustain.kaplan_meier(panel).table.set_index("time")["survival"]
    summed = single.groupby("time")["estimate"].sum()
    np.testing.assert_allclose(summed + km.loc[summed.index], 1.0, atol=1e-12)
    with pytest.raises(SpecError):
        sustain.cumulative_incidence(panel, cause="exit_reason", conf_type="arcsine")


def test_cif_plot_draws_panels_and_stacks(tmp_path):
    panel = sustain.build_panel(sustain.datasets.example())
    ci = sustain.cumulative_incidence(panel, cause="exit_reason", by="origin")
    fig = sustain.cif_plot(ci, path=tmp_path / "cif", formats=("png",))
    assert len(fig.axes) == len(ci.causes) and (tmp_path / "cif.png").is_file()
    stacked = sustain.cif_plot(ci, layout="stacked", group="grassroots", language="zh")
    assert stacked.axes[0].get_ylabel() == "已退出机构比例"
    with pytest.raises(SpecError):
        sustain.cif_plot(ci, layout="stacked", group="nobody")


def test_saved_curves_load_back(tmp_path):
    ci = sustain.cumulative_incidence(SPELLS, cause="exit_reason", start="start", stop="stop")
    back = sustain.load_result(ci.save(tmp_path / "ci.nc"))
    pd.testing.assert_frame_equal(back.table, ci.table)
    assert back.causes == ci.causes
