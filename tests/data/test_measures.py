"""Funding measures of agency-years against hand-computed tiny cases.

Every expected number below is worked out by hand in the comment next to it.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sustain.data.dataset import empty_revenue
from sustain.data.measures import MEASURE_COLUMNS, agency_year_measures, measures_by_group
from sustain.errors import DataError
from sustain.options import CONTRACT_TYPES, TIERS

# Hand-computed values are exact fractions; float arithmetic reproduces them to a few ulps.
EXACT = 1e-12


def contracts_frame(rows: list[tuple]) -> pd.DataFrame:
    """Contracts from (agency, year, funder, tier, type, amount, score) tuples."""
    frame = pd.DataFrame(
        rows, columns=["agency_id", "year", "funder", "tier", "contract_type", "amount", "score"]
    )
    frame.insert(0, "contract_id", [f"c{i}" for i in range(len(frame))])
    return frame.astype({"amount": float, "score": float})


def revenue_frame(rows: list[tuple]) -> pd.DataFrame:
    """Revenue from (agency, year, source, amount) tuples."""
    frame = pd.DataFrame(rows, columns=["agency_id", "year", "source", "amount"])
    return frame.astype({"amount": float}) if rows else empty_revenue()


def expect(row: pd.Series, **expected: float | str | None) -> None:
    for name, value in expected.items():
        got = row[name]
        if value is None or (isinstance(value, float) and math.isnan(value)):
            assert pd.isna(got), f"{name}: expected missing, got {got!r}"
        elif isinstance(value, str):
            assert got == value, f"{name}: expected {value!r}, got {got!r}"
        else:
            assert got == pytest.approx(value, rel=EXACT, abs=EXACT), name


@pytest.fixture
def worked_example() -> pd.Series:
    # Agency a in 2015: street office s1 pays 300 (open tender, subdistrict, score 80),
    # the district bureau pays 100 (single source, district, score 90), a foundation gives 100.
    c = contracts_frame(
        [
            ("a", 2015, "s1", "subdistrict", "open_tender", 300, 80),
            ("a", 2015, "bureau", "district", "single_source", 100, 90),
        ]
    )
    r = revenue_frame([("a", 2015, "foundation", 100)])
    return agency_year_measures(c, r).loc[("a", 2015)]


def test_worked_example_totals_and_concentration(worked_example):
    # shares 300/500, 100/500, 100/500 = 0.6, 0.2, 0.2
    expect(
        worked_example,
        revenue_gov=400.0,
        revenue_nongov=100.0,
        revenue_total=500.0,
        gov_share=0.8,  # 400 / 500
        n_funders=3,
        n_contracts=2,
        hhi=0.44,  # 0.36 + 0.04 + 0.04
        hhi_norm=0.16,  # (0.44 - 1/3) / (1 - 1/3)
        entropy=-(0.6 * math.log(0.6) + 2 * 0.2 * math.log(0.2)),
        top_share=0.6,
        log_revenue=math.log(500.0),
    )


def test_worked_example_mix_and_quality(worked_example):
    expect(
        worked_example,
        share_open_tender=0.75,  # 300 / 400 of government money
        share_single_source=0.25,
        share_invited_tender=0.0,
        share_directed_commission=0.0,
        share_subdistrict=0.75,
        share_district=0.25,
        share_municipal=0.0,
        main_tier="subdistrict",
        quality=82.5,  # (300 * 80 + 100 * 90) / 400
    )


def test_columns_follow_measure_columns(worked_example):
    assert list(worked_example.index) == MEASURE_COLUMNS
    assert len(MEASURE_COLUMNS) == len(set(MEASURE_COLUMNS))
    for level in (*CONTRACT_TYPES, *TIERS):
        assert f"share_{level}" in MEASURE_COLUMNS


def test_contracts_of_one_funder_are_one_funder():
    c = contracts_frame(
        [
            ("a", 2015, "s1", "subdistrict", "open_tender", 50, None),
            ("a", 2015, "s1", "subdistrict", "single_source", 150, None),
        ]
    )
    row = agency_year_measures(c).loc[("a", 2015)]
    expect(row, n_funders=1, n_contracts=2, hhi=1.0, hhi_norm=1.0, entropy=0.0, top_share=1.0)
    expect(row, gov_share=1.0, revenue_nongov=0.0, quality=None)


def test_government_funder_and_revenue_source_of_same_name_are_two_funders():
    c = contracts_frame([("a", 2015, "x", "district", "open_tender", 100, None)])
    r = revenue_frame([("a", 2015, "x", 100)])
    row = agency_year_measures(c, r).loc[("a", 2015)]
    expect(row, n_funders=2, hhi=0.5, hhi_norm=0.0, entropy=math.log(2), top_share=0.5)


def test_revenue_sources_sum_within_source():
    # foundation 30 + 10 = 40, fee 60: shares 0.4 and 0.6; no government money
    c = contracts_frame([("b", 2016, "s1", "district", "open_tender", 10, None)])
    r = revenue_frame(
        [("a", 2015, "foundation", 30), ("a", 2015, "fee", 60), ("a", 2015, "foundation", 10)]
    )
    row = agency_year_measures(c, r).loc[("a", 2015)]
    expect(row, revenue_gov=0.0, revenue_total=100.0, gov_share=0.0, n_funders=2, n_contracts=0)
    expect(row, hhi=0.52, top_share=0.6, share_open_tender=None, share_district=None)
    expect(row, main_tier=None, quality=None, log_revenue=math.log(100.0))


def test_zero_revenue_makes_ratios_missing_and_is_not_a_funder():
    c = contracts_frame([("b", 2016, "s1", "district", "open_tender", 10, None)])
    r = revenue_frame([("a", 2015, "donation", 0)])
    row = agency_year_measures(c, r).loc[("a", 2015)]
    expect(row, revenue_total=0.0, n_funders=0, n_contracts=0, gov_share=None, hhi=None)
    expect(row, hhi_norm=None, entropy=None, top_share=None, log_revenue=None, main_tier=None)


def test_zero_revenue_source_beside_positive_ones_is_not_counted():
    c = contracts_frame([("a", 2015, "s1", "district", "open_tender", 10, None)])
    r = revenue_frame([("a", 2015, "donation", 0)])
    expect(agency_year_measures(c, r).loc[("a", 2015)], n_funders=1, hhi=1.0)


def test_quality_weights_by_amount_and_skips_missing_scores():
    c = contracts_frame(
        [
            ("a", 2015, "f", "district", "open_tender", 100, 60),
            ("a", 2015, "g", "district", "open_tender", 300, 100),
            ("a", 2015, "h", "district", "open_tender", 600, None),
            ("a", 2016, "f", "district", "open_tender", 100, None),
        ]
    )
    m = agency_year_measures(c)
    expect(m.loc[("a", 2015)], quality=90.0)  # (100 * 60 + 300 * 100) / 400
    expect(m.loc[("a", 2016)], quality=None)


def test_quality_is_missing_without_a_score_column():
    c = contracts_frame([("a", 2015, "f", "district", "open_tender", 100, 60)]).drop(
        columns="score"
    )
    expect(agency_year_measures(c).loc[("a", 2015)], quality=None)


@pytest.mark.parametrize(
    ("amounts", "main"),
    [
        ((10, 10, 10), "municipal"),  # a three-way tie goes to the first tier
        ((0, 10, 10), "district"),
        ((1, 2, 3), "subdistrict"),
        ((5, 1, 0), "municipal"),
    ],
)
def test_main_tier_is_largest_amount_ties_to_first(amounts, main):
    rows = [
        ("a", 2015, f"f{i}", tier, "open_tender", amount, None)
        for i, (tier, amount) in enumerate(zip(TIERS, amounts, strict=True))
        if amount > 0
    ]
    row = agency_year_measures(contracts_frame(rows)).loc[("a", 2015)]
    expect(row, main_tier=main)
    total = sum(amounts)
    for tier, amount in zip(TIERS, amounts, strict=True):
        expect(row, **{f"share_{tier}": amount / total})


def test_every_contract_type_share():
    # contract type j (1-based) has amount j: its share is j / (1 + 2 + ... + 7) = j / 28
    rows = [
        ("a", 2015, "f", "district", kind, j, None)
        for j, kind in enumerate(CONTRACT_TYPES, start=1)
    ]
    row = agency_year_measures(contracts_frame(rows)).loc[("a", 2015)]
    for j, kind in enumerate(CONTRACT_TYPES, start=1):
        expect(row, **{f"share_{kind}": j / 28})
    expect(row, n_funders=1, n_contracts=7, share_district=1.0, main_tier="district")


def test_index_is_sorted_agency_years_with_data_only():
    c = contracts_frame(
        [
            ("b", 2016, "f", "district", "open_tender", 1, None),
            ("a", 2018, "f", "district", "open_tender", 2, None),
            ("a", 2015, "f", "district", "open_tender", 3, None),
        ]
    )
    r = revenue_frame([("c", 2014, "fee", 4)])
    m = agency_year_measures(c, r)
    assert m.index.names == ["agency_id", "year"]
    assert list(m.index) == [("a", 2015), ("a", 2018), ("b", 2016), ("c", 2014)]
    assert m["revenue_total"].tolist() == [3.0, 2.0, 1.0, 4.0]


def test_categorical_text_columns_give_the_same_measures():
    c = contracts_frame(
        [
            ("a", 2015, "s1", "subdistrict", "open_tender", 300, 80),
            ("a", 2015, "bureau", "district", "single_source", 100, 90),
            ("b", 2015, "bureau", "municipal", "directed_commission", 50, None),
        ]
    )
    r = revenue_frame([("a", 2015, "foundation", 100)])
    text = ["agency_id", "funder", "tier", "contract_type"]
    as_category = c.astype({k: "category" for k in text})
    pd.testing.assert_frame_equal(
        agency_year_measures(as_category, r.astype({"source": "category"})),
        agency_year_measures(c, r),
        check_exact=False,
        rtol=EXACT,
    )


def test_measures_by_group_gives_empty_groups_zero_totals():
    c = contracts_frame([("a", 2015, "f", "district", "open_tender", 2, None)])
    out = measures_by_group(
        c, empty_revenue(), np.array([1], dtype=np.int64), np.array([], dtype=np.int64), 3
    )
    assert list(out) == MEASURE_COLUMNS
    assert out["revenue_gov"].tolist() == [0.0, 2.0, 0.0]
    assert out["n_contracts"].tolist() == [0, 1, 0]
    assert out["n_funders"].tolist() == [0, 1, 0]
    assert np.isnan(out["hhi"][[0, 2]]).all()
    assert out["main_tier"].tolist() == [None, "district", None]


def test_empty_input_gives_an_empty_frame():
    c = contracts_frame([])
    m = agency_year_measures(c)
    assert m.empty
    assert list(m.columns) == MEASURE_COLUMNS


@pytest.mark.parametrize(
    ("column", "value", "rule"),
    [
        ("tier", "province", "tier must be one of municipal, district, subdistrict"),
        ("contract_type", "lottery", "contract_type must be one of"),
        ("amount", 0.0, "amount must be > 0"),
        ("amount", -5.0, "amount must be > 0"),
        ("amount", np.nan, "amount must be > 0"),
        ("funder", None, "funder is required"),
        ("tier", None, "tier must be one of"),
        ("agency_id", None, "agency_id is required"),
        ("score", "good", "score must be a number"),
    ],
)
def test_bad_contract_values_raise_data_error_naming_row(column, value, rule):
    c = contracts_frame(
        [
            ("a", 2015, "f", "district", "open_tender", 1, None),
            ("a", 2016, "f", "district", "open_tender", 1, None),
        ]
    )
    c[column] = c[column].astype(object)
    c.loc[1, column] = value
    with pytest.raises(DataError) as info:
        agency_year_measures(c)
    problems = info.value.problems
    assert problems["row"].tolist() == [1]
    assert problems["column"].tolist() == [column]
    assert problems["file"].tolist() == ["contracts"]
    assert problems["rule"].iloc[0].startswith(rule)


def test_negative_revenue_raises_and_zero_is_allowed():
    c = contracts_frame([("a", 2015, "f", "district", "open_tender", 1, None)])
    agency_year_measures(c, revenue_frame([("a", 2015, "fee", 0)]))
    with pytest.raises(DataError, match="amount must be >= 0") as info:
        agency_year_measures(c, revenue_frame([("a", 2015, "fee", 3), ("a", 2015, "fee", -1)]))
    assert info.value.problems[["file", "row"]].values.tolist() == [["revenue", 1]]


def test_missing_year_and_missing_column_raise_data_error():
    c = contracts_frame([("a", 2015, "f", "district", "open_tender", 1, None)])
    c["year"] = c["year"].astype(float)
    c.loc[0, "year"] = np.nan
    with pytest.raises(DataError, match="year must be an integer"):
        agency_year_measures(c)
    with pytest.raises(DataError, match="required column is missing") as info:
        agency_year_measures(c.drop(columns=["funder", "tier"]))
    assert info.value.problems["column"].tolist() == ["funder", "tier"]


def test_inputs_are_not_modified():
    c = contracts_frame([("a", 2015, "f", "district", "open_tender", 1, 50)])
    r = revenue_frame([("a", 2015, "fee", 2)])
    c0, r0 = c.copy(), r.copy()
    agency_year_measures(c, r)
    pd.testing.assert_frame_equal(c, c0)
    pd.testing.assert_frame_equal(r, r0)
