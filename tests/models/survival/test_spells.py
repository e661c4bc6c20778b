"""sustain.to_spells: age and calendar scales, left truncation, the exit guard, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sustain
from sustain.errors import DataError, SpecError
from sustain.models.survival.spells import as_columns, at_risk_rows

# Yearly spells of an agency with constant covariates carry the same partial likelihood as
# one spell per agency; only summation order differs.
SPLIT_TOL = 1e-9


@pytest.fixture(scope="module")
def panel():
    return sustain.build_panel(sustain.simulate(seed=3, n_agencies=300).data)


def small_panel() -> pd.DataFrame:
    index = pd.MultiIndex.from_tuples(
        [("a", 2012), ("a", 2013), ("a", 2014), ("b", 2013), ("b", 2014), ("c", 2012)],
        names=["agency_id", "year"],
    )
    return pd.DataFrame(
        {
            "age": [3, 4, 5, 0, 1, 10],
            "exit": [0, 1, 0, 0, 0, 1],
            "hhi": [0.5, 0.6, 0.7, 1.0, 0.9, 0.3],
            "district": ["x", "x", "x", "y", "y", "y"],
        },
        index=index,
    )


def test_age_scale_intervals_and_delayed_entry():
    spells = sustain.to_spells(small_panel(), "age")
    assert list(spells.columns) == [
        "agency_id",
        "year",
        "start",
        "stop",
        "event",
        "age",
        "hhi",
        "district",
    ]
    # agency a exits in 2013; its 2014 row (after exit) is gone
    assert spells[["agency_id", "start", "stop", "event"]].values.tolist() == [
        ["a", 3, 4, 0],
        ["a", 4, 5, 1],
        ["b", 0, 1, 0],
        ["b", 1, 2, 0],
        ["c", 10, 11, 1],
    ]


def test_calendar_scale_and_origin():
    spells = sustain.to_spells(small_panel(), "calendar", covariates=["hhi"])
    assert list(spells.columns) == ["agency_id", "year", "start", "stop", "event", "hhi"]
    assert spells["start"].tolist() == [0, 1, 1, 2, 0]
    shifted = sustain.to_spells(small_panel(), "calendar", covariates=[], origin=2010)
    assert shifted["start"].tolist() == [2, 3, 3, 4, 2]


def test_age_from_founded_when_no_age_column():
    panel = small_panel().drop(columns="age").assign(founded=2010)
    spells = sustain.to_spells(panel, "age", covariates=[])
    assert spells["start"].tolist() == [2, 3, 3, 4, 2]


def test_simulated_panel_left_truncation(panel):
    spells = sustain.to_spells(panel, "age", ["founded"])
    first = spells.groupby("agency_id").first()
    truncated = first["founded"] < panel.index.get_level_values("year").min()
    assert truncated.sum() > 20
    assert (first.loc[truncated, "start"] > 0).all()
    assert (first.loc[~truncated, "start"] == 0).all()
    assert len(spells) == len(panel)
    assert spells["event"].sum() == panel["exit"].sum()
    assert ((spells["stop"] - spells["start"]) == 1).all()


def test_cox_on_yearly_spells_equals_one_spell_per_agency(panel):
    """Covariates constant within agency: yearly (age, age+1] rows = one (entry, exit] row."""
    spells = sustain.to_spells(panel, "age", ["district"])
    whole = spells.groupby("agency_id").agg(
        start=("start", "min"),
        stop=("stop", "max"),
        event=("event", "max"),
        district=("district", "first"),
    )
    a = sustain.fit_cox(spells, "C(district)", cluster="agency_id")
    b = sustain.fit_cox(whole, "C(district)", cluster="agency_id")
    np.testing.assert_allclose(a.params, b.params, rtol=0, atol=SPLIT_TOL)
    np.testing.assert_allclose(a.bse, b.bse, rtol=0, atol=SPLIT_TOL)
    np.testing.assert_allclose(a.naive_bse, b.naive_bse, rtol=0, atol=SPLIT_TOL)


def test_at_risk_rows_and_as_columns():
    frame = as_columns(small_panel())
    assert list(frame.columns[:2]) == ["agency_id", "year"]
    assert at_risk_rows(frame, "agency_id", "year", "exit").tolist() == [
        True,
        True,
        False,
        True,
        True,
        True,
    ]


@pytest.mark.parametrize(
    ("panel_change", "kwargs", "error", "message"),
    [
        (None, dict(time_scale="days"), SpecError, "time_scale='days'"),
        (None, dict(covariates=["quality"]), SpecError, "quality"),
        (lambda p: p.assign(exit=[0, 2, 0, 0, 0, 1]), {}, DataError, "must be 0 or 1"),
        (lambda p: p.drop(columns="age"), {}, SpecError, "needs an 'age' column"),
        (lambda p: p.assign(age=[3, None, 5, 0, 1, 10]), {}, DataError, "missing"),
        (
            lambda p: pd.concat([p, p.iloc[[0]]]),
            {},
            DataError,
            "only one row per time",
        ),
    ],
)
def test_bad_input_gets_clear_errors(panel_change, kwargs, error, message):
    data = small_panel() if panel_change is None else panel_change(small_panel())
    with pytest.raises(error, match=message):
        sustain.to_spells(data, **kwargs)


agency_histories = st.lists(
    st.tuples(
        st.integers(2005, 2015),  # founded
        st.integers(1, 8),  # years observed
        st.booleans(),  # exits in its last year
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=40, deadline=None)
@given(histories=agency_histories, seed=st.integers(0, 2**32 - 1))
def test_row_order_does_not_change_the_spells(histories, seed):
    rows = []
    for i, (founded, n_years, exits) in enumerate(histories):
        first = max(founded, 2012)
        for k in range(n_years):
            year = first + k
            last = k == n_years - 1
            rows.append((f"A{i}", year, year - founded, int(exits and last), float(k)))
    panel = pd.DataFrame(rows, columns=["agency_id", "year", "age", "exit", "x"])
    shuffled = panel.sample(frac=1.0, random_state=np.random.default_rng(seed))
    a = sustain.to_spells(panel, "age")
    b = sustain.to_spells(shuffled, "age")
    pd.testing.assert_frame_equal(a, b)
    assert (a["stop"] - a["start"] == 1).all()
    assert a.groupby("agency_id")["event"].sum().le(1).all()
    assert len(a) == len(panel)
