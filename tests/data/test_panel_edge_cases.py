"""Independent review of the foundation: adversarial cases for loading, validation, the panel,
its measures and ``sustain panel``.

Every expected value is computed by hand from the definitions in DESIGN.md and
docs/measures.md (shown in comments), never taken from the code under test. Tests marked
"regression" failed before the fix named in their docstring.
"""

from __future__ import annotations

import codecs
import itertools
import math
import warnings
from decimal import Decimal
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

import sustain
from sustain.cli import main
from sustain.data.dataset import Dataset
from sustain.data.io import detect_encoding
from sustain.data.panel import add_lags
from sustain.data.schema import validate
from sustain.errors import DataError

# Ratios of hand-computed amounts (e.g. 300 / 400) are exact or within a few rounding steps.
MEASURE_TOL = 1e-12
# Summing the same amounts in another row order changes float sums by a few units in the last
# place, so panels built from shuffled files agree to this relative (and, near 0, absolute) error.
ORDER_RTOL = 1e-12
ORDER_ATOL = 1e-12
# DESIGN.md: conservation holds "to the cent"; half a cent is the largest error allowed.
HALF_CENT = 0.005

CONTRACT_COLUMNS = ["contract_id", "agency_id", "year", "funder", "tier", "contract_type", "amount"]


def agencies(*rows: tuple) -> pd.DataFrame:
    """Agencies from (agency_id, founded, closed or None) tuples, all in one district."""
    return pd.DataFrame(
        {
            "agency_id": [r[0] for r in rows],
            "founded": [r[1] for r in rows],
            "district": ["Yuexiu"] * len(rows),
            "closed": pd.array([r[2] for r in rows], dtype="Int64"),
        }
    )


def contracts(*rows: tuple, score: list | None = None) -> pd.DataFrame:
    """Contracts from (contract_id, agency_id, year, funder, tier, contract_type, amount)."""
    frame = pd.DataFrame([list(r) for r in rows], columns=CONTRACT_COLUMNS)
    frame["amount"] = frame["amount"].astype(float)
    if score is not None:
        frame["score"] = pd.array(score, dtype="Float64").astype(float)
    return frame


def revenue(*rows: tuple) -> pd.DataFrame:
    """Revenue from (agency_id, year, source, amount) tuples."""
    frame = pd.DataFrame([list(r) for r in rows], columns=["agency_id", "year", "source", "amount"])
    frame["amount"] = frame["amount"].astype(float)
    return frame


def one_row(panel: pd.DataFrame, agency: str, year: int) -> pd.Series:
    return panel.loc[(agency, year)]


# ---------------------------------------------------------------- rows at risk, exit, truncation


def test_agency_closed_in_the_first_window_year_has_one_exit_row():
    data = validate(
        agencies(("a", 2008, 2012), ("b", 2010, None)),
        contracts(("c1", "a", 2012, "s1", "subdistrict", "open_tender", 100),
                  ("c2", "b", 2013, "s1", "subdistrict", "open_tender", 100)),
    )  # fmt: skip
    panel = sustain.build_panel(data)
    assert panel.loc["a"].index.tolist() == [2012]
    row = one_row(panel, "a", 2012)
    # founded 2008, window starts 2012: age 4, delayed entry at age 4, exit in 2012.
    assert (row["age"], row["exit"], row["entry_age"], bool(row["left_truncated"])) == (
        4,
        1,
        4,
        True,
    )
    assert panel.loc["b"].index.tolist() == [2012, 2013]
    assert panel.loc["b", "exit"].tolist() == [0, 0]


def test_agency_founded_in_the_last_year_has_one_row_of_age_zero():
    data = validate(
        agencies(("a", 2010, None), ("z", 2016, None)),
        contracts(("c1", "a", 2012, "s1", "subdistrict", "open_tender", 100),
                  ("c2", "z", 2016, "s2", "district", "single_source", 40)),
    )  # fmt: skip
    panel = sustain.build_panel(data)
    assert panel.loc["z"].index.tolist() == [2016]
    row = one_row(panel, "z", 2016)
    assert (row["age"], row["exit"], row["entry_age"], bool(row["left_truncated"])) == (
        0,
        0,
        0,
        False,
    )
    assert len(panel.loc["a"]) == 5  # 2012..2016, years without money included


def test_agencies_outside_the_window_have_no_rows_and_leave_no_index_levels():
    data = validate(
        agencies(("early", 2005, 2010), ("late", 2019, None), ("a", 2010, None),
                 ("gone", 2009, 2013), ("new", 2016, None)),
        contracts(("c1", "a", 2012, "s1", "subdistrict", "open_tender", 100),
                  ("c2", "a", 2017, "s1", "subdistrict", "open_tender", 100),
                  ("c3", "gone", 2013, "s2", "district", "open_tender", 7),
                  ("c4", "new", 2017, "s2", "district", "open_tender", 9)),
    )  # fmt: skip
    panel = sustain.build_panel(data)  # window 2012-2017
    assert sorted(panel.index.levels[0]) == ["a", "gone", "new"]
    narrow = sustain.build_panel(data, first_year=2014, last_year=2015)
    # "gone" closed 2013 (before 2014) and "new" was founded 2016 (after 2015): no rows.
    assert list(narrow.index.levels[0]) == ["a"]
    assert narrow.index.tolist() == [("a", 2014), ("a", 2015)]
    assert narrow["revenue_gov"].sum() == 0.0  # no contract of a lies in 2014-2015


def test_agency_closing_after_the_window_is_right_censored():
    data = validate(
        agencies(("a", 2010, 2016)),
        contracts(("c1", "a", 2012, "s1", "subdistrict", "open_tender", 100),
                  ("c2", "a", 2016, "s1", "subdistrict", "open_tender", 100)),
    )  # fmt: skip
    assert sustain.build_panel(data, last_year=2015)["exit"].tolist() == [0, 0, 0, 0]
    assert sustain.build_panel(data)["exit"].tolist() == [0, 0, 0, 0, 1]


def test_narrow_window_moves_left_truncation_and_lags_reach_before_it():
    data = validate(
        agencies(("a", 2013, None)),
        contracts(("c1", "a", 2013, "s1", "subdistrict", "open_tender", 10),
                  ("c2", "a", 2014, "s1", "subdistrict", "open_tender", 20),
                  ("c3", "a", 2015, "s1", "subdistrict", "open_tender", 30)),
    )  # fmt: skip
    panel = sustain.build_panel(data, lags={"revenue_gov": [1, 2]}, first_year=2015)
    row = one_row(panel, "a", 2015)
    assert bool(row["left_truncated"]) and row["entry_age"] == 2
    assert (row["revenue_gov_lag1"], row["revenue_gov_lag2"]) == (20.0, 10.0)
    full = sustain.build_panel(data, lags="revenue_gov")
    assert np.isnan(full.loc[("a", 2013), "revenue_gov_lag1"])  # founded 2013: no 2012 row


# ---------------------------------------------------------------- measures from the definitions


def test_revenue_only_year():
    data = validate(
        agencies(("a", 2012, None)),
        contracts(("c1", "a", 2012, "s1", "subdistrict", "open_tender", 100)),
        revenue(("a", 2013, "foundation", 30), ("a", 2013, "fee", 10)),
    )  # fmt: skip
    row = one_row(sustain.build_panel(data), "a", 2013)
    # shares 30/40 = 0.75 and 10/40 = 0.25
    assert (row["revenue_gov"], row["revenue_nongov"], row["revenue_total"]) == (0.0, 40.0, 40.0)
    assert row["gov_share"] == 0.0
    assert (row["n_funders"], row["n_contracts"]) == (2, 0)
    assert row["hhi"] == pytest.approx(0.75**2 + 0.25**2, abs=MEASURE_TOL)
    assert row["hhi_norm"] == pytest.approx((0.625 - 0.5) / 0.5, abs=MEASURE_TOL)
    entropy = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert row["entropy"] == pytest.approx(entropy, abs=MEASURE_TOL)
    assert row["top_share"] == 0.75
    assert row["log_revenue"] == pytest.approx(math.log(40.0), abs=MEASURE_TOL)
    assert row["main_tier"] is None or pd.isna(row["main_tier"])
    assert np.isnan(row["quality"])
    assert row.filter(regex="^share_").isna().all()  # type and tier shares: no government money


def test_zero_amount_revenue_is_money_of_no_one():
    data = validate(
        agencies(("a", 2012, None)),
        contracts(("c1", "a", 2013, "s1", "district", "open_tender", 80)),
        revenue(("a", 2012, "donation", 0), ("a", 2013, "donation", 0), ("a", 2013, "fee", 20)),
    )  # fmt: skip
    panel = sustain.build_panel(data)
    empty = one_row(panel, "a", 2012)  # only a zero donation: total 0
    assert (empty["revenue_total"], empty["n_funders"]) == (0.0, 0)
    for column in ("gov_share", "hhi", "hhi_norm", "entropy", "top_share", "log_revenue"):
        assert np.isnan(empty[column]), column
    row = one_row(panel, "a", 2013)  # s1 80, fee 20; the zero donation is no funder
    assert (row["n_funders"], row["gov_share"]) == (2, 0.8)
    assert row["hhi"] == pytest.approx(0.8**2 + 0.2**2, abs=MEASURE_TOL)


def test_one_funder_under_two_tiers_and_as_a_revenue_source():
    data = validate(
        agencies(("a", 2012, None)),
        contracts(("c1", "a", 2015, "Liede Street", "subdistrict", "open_tender", 300),
                  ("c2", "a", 2015, "Liede  Street ", "district", "directed_commission", 100)),
        revenue(("a", 2015, "Liede Street", 100)),
    )  # fmt: skip
    row = one_row(sustain.build_panel(data), "a", 2015)
    # Whitespace is normalised, so both contracts have one government funder (400 of 500);
    # the revenue source of the same name is a second funder (100 of 500).
    assert row["n_funders"] == 2
    assert row["hhi"] == pytest.approx(0.8**2 + 0.2**2, abs=MEASURE_TOL)
    assert row["top_share"] == pytest.approx(0.8, abs=MEASURE_TOL)
    assert (row["share_subdistrict"], row["share_district"]) == (0.75, 0.25)
    assert (row["share_open_tender"], row["share_directed_commission"]) == (0.75, 0.25)
    assert row["main_tier"] == "subdistrict"


def test_quality_uses_scored_contracts_only():
    data = validate(
        agencies(("a", 2012, None)),
        contracts(("c1", "a", 2012, "s1", "subdistrict", "open_tender", 300),
                  ("c2", "a", 2012, "s2", "district", "open_tender", 100),
                  ("c3", "a", 2012, "s3", "municipal", "open_tender", 600),
                  ("c4", "a", 2013, "s1", "subdistrict", "open_tender", 50),
                  score=[80, 90, None, None]),
    )  # fmt: skip
    panel = sustain.build_panel(data)
    assert panel.loc[("a", 2012), "quality"] == pytest.approx((300 * 80 + 100 * 90) / 400)
    assert np.isnan(panel.loc[("a", 2013), "quality"])  # no score that year


def test_single_row_data_set():
    data = validate(
        agencies(("007", 2010, None)),
        contracts(("C1", "007", 2015, "s1", "subdistrict", "single_source", 2_000_000)),
    )  # fmt: skip
    panel = sustain.build_panel(data, lags=["hhi", "exit"])
    assert panel.index.tolist() == [("007", 2015)]
    row = panel.iloc[0]
    expected = {"age": 5, "exit": 0, "entry_age": 5, "revenue_gov": 2e6, "revenue_total": 2e6,
                "gov_share": 1.0, "n_funders": 1, "n_contracts": 1, "hhi": 1.0, "hhi_norm": 1.0,
                "entropy": 0.0, "top_share": 1.0, "share_single_source": 1.0,
                "share_open_tender": 0.0, "share_subdistrict": 1.0, "share_district": 0.0,
                "main_tier": "subdistrict"}  # fmt: skip
    assert {k: row[k] for k in expected} == expected
    assert row["log_revenue"] == pytest.approx(math.log(2e6), abs=MEASURE_TOL)
    assert np.isnan(row["hhi_lag1"]) and np.isnan(row["exit_lag1"])


def test_equal_shares_give_hhi_norm_exactly_zero():
    """Regression: 39 equal funders gave hhi_norm = -1.8e-17 (outside [0, 1]); now clipped."""
    rows = [(f"c{i}", "a", 2015, f"f{i}", "district", "open_tender", 7) for i in range(39)]
    data = validate(agencies(("a", 2012, None)), contracts(*rows))
    row = one_row(sustain.build_panel(data), "a", 2015)
    assert row["hhi_norm"] == 0.0
    assert row["hhi"] == pytest.approx(1 / 39, abs=MEASURE_TOL)
    assert row["entropy"] == pytest.approx(math.log(39), abs=MEASURE_TOL)


def test_main_tier_tie_to_the_cent_does_not_depend_on_row_order():
    """Regression: a tie in cents (600,000.60 municipal vs 100,000.10 + 200,000.20 + 300,000.30
    district) went to district in 14 of the 24 row orders, because float sums of the district
    amounts differ in the last bit with the order. Ties go to municipal (first tier)."""
    base = contracts(("m", "a", 2015, "city", "municipal", "open_tender", 600000.60),
                     ("d1", "a", 2015, "b1", "district", "open_tender", 100000.10),
                     ("d2", "a", 2015, "b2", "district", "open_tender", 200000.20),
                     ("d3", "a", 2015, "b3", "district", "open_tender", 300000.30))  # fmt: skip
    found = set()
    for order in itertools.permutations(range(4)):
        data = validate(agencies(("a", 2012, None)), base.iloc[list(order)])
        found.add(one_row(sustain.build_panel(data), "a", 2015)["main_tier"])
    assert found == {"municipal"}


def test_main_tier_one_cent_more_is_no_tie():
    data = validate(
        agencies(("a", 2012, None)),
        contracts(("m", "a", 2015, "city", "municipal", "open_tender", 600000.60),
                  ("d1", "a", 2015, "b1", "district", "open_tender", 300000.31),
                  ("d2", "a", 2015, "b2", "district", "open_tender", 300000.30)),
    )  # fmt: skip
    assert one_row(sustain.build_panel(data), "a", 2015)["main_tier"] == "district"


def test_conservation_to_the_cent_with_amounts_binary_floats_cannot_hold():
    rng = np.random.default_rng(20240601)
    cents = rng.integers(1, 10**9, size=2000)  # up to 10 million, to the cent
    years = rng.integers(2012, 2024, size=2000)
    frame = pd.DataFrame(
        {
            "contract_id": [f"c{i}" for i in range(2000)],
            "agency_id": rng.choice(["a", "b", "c"], size=2000),
            "year": years,
            "funder": rng.choice([f"s{i}" for i in range(40)], size=2000),
            "tier": "subdistrict",
            "contract_type": "open_tender",
            "amount": cents / 100,
        }
    )
    data = validate(agencies(("a", 2000, None), ("b", 2000, None), ("c", 2000, None)), frame)
    panel = sustain.build_panel(data, first_year=2014, last_year=2020)
    exact = sum(Decimal(int(c)) for c, y in zip(cents, years, strict=True) if 2014 <= y <= 2020)
    total = Decimal(math.fsum(panel["revenue_gov"])) * 100
    assert abs(total - exact) <= Decimal(HALF_CENT * 100)
    assert panel["n_contracts"].sum() == ((years >= 2014) & (years <= 2020)).sum()


# ---------------------------------------------------------------- lags


def test_lags_across_a_gap_and_across_agencies_are_missing():
    idx = pd.MultiIndex.from_tuples(
        [("b", 2014), ("a", 2016), ("a", 2013), ("a", 2014), ("b", 2015)],
        names=["agency_id", "year"],
    )
    frame = pd.DataFrame({"x": [10.0, 3.0, 1.0, 2.0, 20.0]}, index=idx)
    out = add_lags(frame, {"x": [1, 2]})
    # a: 2013 -> 1, 2014 -> 2, 2016 -> 3 (2015 is a gap); b: 2014 -> 10, 2015 -> 20.
    assert np.isnan(out.loc[("a", 2016), "x_lag1"])  # 2015 is a gap, not 2014's value
    assert out.loc[("a", 2016), "x_lag2"] == 2.0
    assert out.loc[("a", 2014), "x_lag1"] == 1.0
    assert np.isnan(out.loc[("b", 2014), "x_lag1"])  # not a's value
    assert out.loc[("b", 2015), "x_lag1"] == 10.0
    assert out.index.equals(idx)  # rows keep their order


def test_panel_lags_never_leak_between_adjacent_agencies():
    data = validate(
        agencies(("a", 2012, 2013), ("b", 2014, None)),
        contracts(("c1", "a", 2013, "s1", "subdistrict", "open_tender", 99),
                  ("c2", "b", 2014, "s1", "subdistrict", "open_tender", 5)),
    )  # fmt: skip
    panel = sustain.build_panel(data, lags="revenue_gov")
    # b's first row (2014) follows a's last row (2013) in the frame but has no 2013 row itself.
    assert np.isnan(panel.loc[("b", 2014), "revenue_gov_lag1"])


# ---------------------------------------------------------------- validation rules


def test_contract_years_at_the_edges_of_the_agency_life():
    data = validate(
        agencies(("a", 2013, 2016)),
        contracts(("c1", "a", 2013, "s", "district", "open_tender", 1),
                  ("c2", "a", 2016, "s", "district", "open_tender", 1),
                  ("c3", "a", 2012, "s", "district", "open_tender", 1),
                  ("c4", "a", 2017, "s", "district", "open_tender", 1)),
        revenue(("a", 2012, "fee", 5)),
        errors="drop",
    )  # fmt: skip
    assert data.contracts["contract_id"].tolist() == ["c1", "c2"]
    assert data.revenue.empty
    got = data.problems[["file", "row", "column", "rule", "value"]].to_dict("records")
    assert got == [
        {"file": "contracts", "row": 3, "column": "year", "value": "2012",
         "rule": "year must not be before the agency's founded year (2013)"},
        {"file": "contracts", "row": 4, "column": "year", "value": "2017",
         "rule": "year must not be after the agency's closed year (2016)"},
        {"file": "revenue", "row": 1, "column": "year", "value": "2012",
         "rule": "year must not be before the agency's founded year (2013)"},
    ]  # fmt: skip


def test_every_agency_row_invalid_is_reported_not_a_crash():
    """Regression: when no agency row was valid, the year check indexed an empty array and
    ``validate``/``read_dataset`` raised ``IndexError`` in both modes (schema._agency_issues)."""
    bad = pd.DataFrame({"agency_id": ["A01", "A02"], "founded": ["2010 or so", "twenty"],
                        "district": ["Yuexiu", "Tianhe"]})  # fmt: skip
    frame = contracts(("c1", "A01", 2015, "s", "district", "open_tender", 1),
                      ("c2", "A02", 2015, "s", "district", "open_tender", 2))  # fmt: skip
    with pytest.raises(DataError) as info:
        validate(bad, frame)
    assert info.value.problems[["row", "column", "value"]].values.tolist() == [
        [1, "founded", "2010 or so"],
        [2, "founded", "twenty"],
    ]
    with pytest.raises(DataError, match="every row of agencies was dropped") as info:
        validate(bad, frame, errors="drop")  # not an empty data set returned as success
    assert info.value.problems["rule"].tolist()[2:4] == [
        "dropped because its agency's row is invalid (agencies row 1)",
        "dropped because its agency's row is invalid (agencies row 2)",
    ]


def test_duplicate_contract_ids_across_years_are_allowed():
    data = validate(
        agencies(("a", 2012, None)),
        contracts(("K-1", "a", 2015, "s", "district", "open_tender", 10),
                  ("K-1", "a", 2016, "s", "district", "open_tender", 12)),
    )  # fmt: skip
    assert data.problems.empty
    assert sustain.build_panel(data)["n_contracts"].tolist() == [1, 1]  # window 2015-2016


def test_lenient_mode_keeps_the_agency_and_its_other_contracts():
    frame = contracts(("c1", "a", 2015, "s", "district", "open_tender", 10),
                      ("c2", "a", 2015, "t", "street", "open_tender", 5),
                      ("c3", "a", 2016, "s", "district", "open_tender", 12))  # fmt: skip
    lenient = validate(agencies(("a", 2012, None)), frame, errors="drop")
    assert lenient.agencies["agency_id"].tolist() == ["a"]
    assert lenient.contracts["contract_id"].tolist() == ["c1", "c3"]
    errors = lenient.problems[lenient.problems["severity"] == "error"]
    assert errors[["row", "column"]].values.tolist() == [[2, "tier"]]
    strict = validate(agencies(("a", 2012, None)), frame.drop(index=1))
    pd.testing.assert_frame_equal(sustain.build_panel(lenient), sustain.build_panel(strict))


def test_ids_that_differ_only_in_leading_zeros_stay_distinct_in_every_format(tmp_path):
    ids = ["010", "10", "0010"]
    ag = agencies(*[(i, 2012, None) for i in ids])
    rows = [
        (f"0{k}", i, 2015, "s", "district", "open_tender", 100 * (k + 1)) for k, i in enumerate(ids)
    ]
    co = contracts(*rows)
    writers = {
        ".csv": lambda f, p: f.to_csv(p, index=False, encoding="gb18030"),
        ".parquet": lambda f, p: f.to_parquet(p, index=False),
        ".dta": _write_dta,
        ".xlsx": _write_xlsx_as_text,
    }  # fmt: skip
    for suffix, write in writers.items():
        folder = tmp_path / suffix.strip(".")
        folder.mkdir()
        write(ag, folder / f"agencies{suffix}")
        write(co, folder / f"contracts{suffix}")
        panel = sustain.build_panel(sustain.read_dataset(folder))
        by_id = panel["revenue_gov"].droplevel("year").to_dict()
        assert by_id == {"0010": 300.0, "010": 100.0, "10": 200.0}, suffix


def _write_dta(frame: pd.DataFrame, path: Path) -> None:
    """Stata 14 format; Stata has no nullable integers, so ``closed`` is stored as float."""
    if "closed" in frame:
        frame = frame.assign(closed=frame["closed"].astype(float))
    frame.to_stata(path, write_index=False, version=118)


def _write_xlsx_as_text(frame: pd.DataFrame, path: Path) -> None:
    """Every id cell typed as text, the way Excel keeps leading zeros."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(list(frame.columns))
    for row in frame.itertuples(index=False):
        sheet.append([None if pd.isna(v) else v for v in row])
    book.save(path)


def test_excel_numeric_ids_and_numbers_stored_as_text(tmp_path):
    """Regression: an Excel column of numbers only (numeric agency ids) crashed reading with
    ``AttributeError: Can only use .str accessor with string values`` (cells.missing_cells)."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["agency_id", "founded", "district", "closed"])
    sheet.append([1, 2012, "Yuexiu", None])
    sheet.append([2, "2013", "Tianhe", "2016"])  # years typed as text
    book.save(tmp_path / "agencies.xlsx")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(CONTRACT_COLUMNS + ["score"])
    sheet.append([10, 1, 2015, "s1", "subdistrict", "open_tender", "2,000,000", "85.5"])
    sheet.append([11, 2, "2016", "s2", "District", "single_source", 300000.25, 90])
    book.save(tmp_path / "contracts.xlsx")
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        data = sustain.read_dataset(tmp_path)
    assert data.agencies["agency_id"].tolist() == ["1", "2"]
    assert data.agencies["closed"].tolist()[1] == 2016
    assert data.contracts["contract_id"].tolist() == ["10", "11"]
    assert data.contracts["amount"].tolist() == [2_000_000.0, 300000.25]
    assert data.contracts["score"].tolist() == [85.5, 90.0]
    notes = data.problems[["row", "column", "severity"]].values.tolist()
    assert notes == [[2, "amount", "note"], [3, "tier", "note"]]


def test_excel_dates_in_year_columns_are_read_as_years_with_a_note(tmp_path):
    """A date in a year column gives its year, with a note; a day of 1905 stays an error (Excel
    shows the number 2012 formatted as a date as 1905-07-04). Regression (warning): a year
    column whose cells are all dates made pandas emit a FutureWarning on every read."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["agency_id", "founded", "district", "closed"])
    sheet.append(["A1", 2012, "Yuexiu", None])
    sheet.append(["A2", pd.Timestamp("2013-05-01").to_pydatetime(), "Tianhe", None])
    sheet.append(["A3", 2012, "Tianhe", pd.Timestamp("2016-12-31").to_pydatetime()])
    sheet.append(["A4", pd.Timestamp("1905-07-04").to_pydatetime(), "Tianhe", None])
    book.save(tmp_path / "agencies.xlsx")
    contracts(("c1", "A1", 2015, "s", "district", "open_tender", 1)).to_csv(
        tmp_path / "contracts.csv", index=False
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        data = sustain.read_dataset(tmp_path, errors="drop")
    assert data.agencies["agency_id"].tolist() == ["A1", "A2", "A3"]
    assert data.agencies["founded"].tolist() == [2012, 2013, 2012]
    assert data.agencies["closed"].tolist() == [pd.NA, pd.NA, 2016]
    got = data.problems[["file", "row", "column", "rule", "value", "severity"]].to_dict("records")
    assert got == [
        {"file": "agencies.xlsx", "row": 3, "column": "founded", "severity": "note",
         "rule": "founded read as 2013, the year of the date '2013-05-01'",
         "value": "2013-05-01"},
        {"file": "agencies.xlsx", "row": 4, "column": "closed", "severity": "note",
         "rule": "closed read as 2016, the year of the date '2016-12-31'",
         "value": "2016-12-31"},
        {"file": "agencies.xlsx", "row": 5, "column": "founded", "severity": "error",
         "rule": "founded must be a number", "value": "1905-07-04"},
    ]  # fmt: skip


def test_parquet_with_the_key_as_its_index(tmp_path):
    """Regression: a frame saved with ``set_index(...).to_parquet`` lost its index columns
    (``required column 'agency_id' is missing``)."""
    agencies(("007", 2012, None)).set_index("agency_id").to_parquet(tmp_path / "agencies.parquet")
    frame = contracts(("C1", "007", 2015, "s", "district", "open_tender", 5))
    frame.set_index(["contract_id", "year"]).to_parquet(tmp_path / "contracts.parquet")
    rev = revenue(("007", 2015, "fee", 3)).set_index("agency_id", drop=False)  # also a column
    rev.to_parquet(tmp_path / "revenue.parquet")
    data = sustain.read_dataset(tmp_path)
    assert data.agencies["agency_id"].tolist() == ["007"]
    assert data.revenue.values.tolist() == [["007", 2015, "fee", 3.0]]
    assert data.contracts[["contract_id", "agency_id", "year"]].values.tolist() == [
        ["C1", "007", 2015]
    ]


def test_gb18030_bom_utf8_bom_and_plain_gb18030_in_one_folder(tmp_path):
    name = "广州市越秀区启明社会工作服务中心"
    agency_text = f"agency_id,founded,district,name\n001,2012,越秀区,{name}\n"
    # GB18030 has its own byte-order mark: U+FEFF encodes as 84 31 95 33.
    (tmp_path / "agencies.csv").write_bytes(("\ufeff" + agency_text).encode("gb18030"))
    assert (tmp_path / "agencies.csv").read_bytes()[:4] == b"\x84\x31\x95\x33"
    contract_text = (
        ",".join(CONTRACT_COLUMNS)
        + "\nC1,001,2015,猎德街道办事处,subdistrict,open_tender,2000000\n"
    )
    (tmp_path / "contracts.csv").write_bytes(codecs.BOM_UTF8 + contract_text.encode("utf-8"))
    (tmp_path / "revenue.csv").write_bytes(
        "agency_id,year,source,amount\n001,2015,基金会,5\n".encode("gb18030")
    )
    data = sustain.read_dataset(tmp_path)
    assert data.agencies[["agency_id", "district", "name"]].values.tolist() == [
        ["001", "越秀区", name]
    ]
    assert data.contracts["funder"].tolist() == ["猎德街道办事处"]
    assert data.revenue["source"].tolist() == ["基金会"]
    assert data.problems.empty


def test_utf8_bom_glued_onto_gb18030_rows_is_named_as_such(tmp_path):
    """Regression: the message was pandas' ``'utf-8' codec can't decode byte 0xd0 in position
    43`` with a position inside pandas' buffer; now the rule names the mixture and the file
    offset."""
    path = tmp_path / "agencies.csv"
    path.write_bytes(
        codecs.BOM_UTF8 + "agency_id,founded,district\n001,2012,越秀\n".encode("gb18030")
    )
    with pytest.raises(DataError) as info:
        detect_encoding(path)
    # 3 BOM bytes + 27 header bytes + "001,2012," (9) = 39: 越 is D4 BD, which happens to be
    # valid UTF-8, so the first bad byte is 秀 (D0 E3) at offset 41.
    assert info.value.problems["rule"].tolist() == [
        "the file starts with a UTF-8 byte-order mark but is not UTF-8 (first bad byte at "
        "offset 41); save it again in one encoding (UTF-8 or GB18030)"
    ]


def test_csv_rows_count_quoted_line_breaks_blank_lines_and_skipped_lines(tmp_path):
    (tmp_path / "agencies.csv").write_text(
        "agency_id,founded,district,name\n"
        '001,2012,Yuexiu,"two\nlines"\n'  # row 2
        "002,2013,Tianhe,x,EXTRA\n"  # row 3: too many fields
        "\n"  # row 4: empty
        "003,abc,Haizhu,y\n"  # row 5
    )
    (tmp_path / "contracts.csv").write_text(
        ",".join(CONTRACT_COLUMNS)
        + "\nC1,001,2015,s,district,open_tender,5\nC2,002,2015,s,district,open_tender,6\n"
    )
    data = sustain.read_dataset(tmp_path, errors="drop")
    got = data.problems[["file", "row", "column", "rule", "severity"]].values.tolist()
    assert got == [
        ["agencies.csv", 2, "name", "name normalised to 'two lines'", "note"],
        ["agencies.csv", 3, None, "row has 5 fields but the header has 4", "error"],
        ["agencies.csv", 4, None, "empty row skipped", "note"],
        ["agencies.csv", 5, "founded", "founded must be a number", "error"],
        ["contracts.csv", 3, "agency_id", "agency_id is not in agencies", "error"],
    ]
    assert data.agencies["name"].tolist() == ["two lines"]


# ---------------------------------------------------------------- whole path invariance


def _write_folder(folder: Path, data: Dataset, rng: np.random.Generator | None) -> None:
    folder.mkdir()
    for name in ("agencies", "contracts", "revenue"):
        frame = getattr(data, name)
        if rng is not None:
            frame = frame.iloc[rng.permutation(len(frame))]
        frame.to_csv(folder / f"{name}.csv", index=False)


def test_row_order_does_not_change_the_read_to_panel_path(tmp_path):
    sim = sustain.simulate(seed=11, n_agencies=25).data
    # An extra agency whose 2015 tiers tie to the cent (see the main_tier regression test).
    no_year = pd.array([pd.NA], dtype="Int64")
    tie_agency = sim.agencies.iloc[[0]].assign(agency_id="Z", founded=2012, closed=no_year)
    tie = contracts(("T-m", "Z", 2015, "city", "municipal", "open_tender", 600000.60),
                    ("T-d1", "Z", 2015, "b1", "district", "open_tender", 100000.10),
                    ("T-d2", "Z", 2015, "b2", "district", "open_tender", 200000.20),
                    ("T-d3", "Z", 2015, "b3", "district", "open_tender", 300000.30))  # fmt: skip
    data = Dataset(
        pd.concat([sim.agencies, tie_agency], ignore_index=True),
        pd.concat([sim.contracts, tie], ignore_index=True),
        sim.revenue,
    )
    _write_folder(tmp_path / "sorted", data, None)
    _write_folder(tmp_path / "shuffled", data, np.random.default_rng(5))
    panels = [
        sustain.build_panel(sustain.read_dataset(tmp_path / name), lags=["hhi", "main_tier"])
        for name in ("sorted", "shuffled")
    ]
    pd.testing.assert_frame_equal(*panels, check_exact=False, rtol=ORDER_RTOL, atol=ORDER_ATOL)
    assert [p.loc[("Z", 2015), "main_tier"] for p in panels] == ["municipal", "municipal"]
    assert panels[0].loc[("Z", 2016), "main_tier_lag1"] == "municipal"


# ---------------------------------------------------------------- command line


@pytest.fixture
def small_folder(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "agencies.csv").write_text(
        "agency_id,founded,district,closed\n01,2010,Yuexiu,2014\n02,2013,Tianhe,\n"
    )
    (folder / "contracts.csv").write_text(
        ",".join(CONTRACT_COLUMNS) + ",score\n"
        "K,01,2012,S1,subdistrict,open_tender,100.10,80\n"
        "K,01,2013,S1,subdistrict,open_tender,200.20,\n"
        "K,02,2014,S1,subdistrict,open_tender,300.30,90\n"
        "L,02,2015,B,district,single_source,50,70\n"
    )  # fmt: skip
    (folder / "revenue.csv").write_text("agency_id,year,source,amount\n01,2014,fee,10\n")
    return folder


def test_cli_panel_with_window_and_lags(small_folder, tmp_path, capsys):
    out = tmp_path / "panel.csv"
    argv = ["panel", str(small_folder), "--out", str(out), "--first-year", "2013",
            "--last-year", "2014", "--lag", "revenue_gov", "--lag", "quality"]  # fmt: skip
    assert main(argv) == 0
    assert "wrote 4 agency-years" in capsys.readouterr().out
    panel = pd.read_csv(out, dtype={"agency_id": str}).set_index(["agency_id", "year"])
    assert panel.index.tolist() == [("01", 2013), ("01", 2014), ("02", 2013), ("02", 2014)]
    assert panel["exit"].tolist() == [0, 1, 0, 0]
    assert panel["left_truncated"].tolist() == [True, True, False, False]
    assert panel["revenue_gov"].tolist() == [200.2, 0.0, 0.0, 300.3]
    # lags reach 2012 (before the window) for 01; 02 was founded 2013.
    assert panel.loc[("01", 2013), ["revenue_gov_lag1", "quality_lag1"]].tolist() == [100.1, 80.0]
    assert panel.loc[("01", 2014), "revenue_gov_lag1"] == 200.2
    assert np.isnan(panel.loc[("01", 2014), "quality_lag1"])  # 2013 had no score
    assert np.isnan(panel.loc[("02", 2013), "revenue_gov_lag1"])
    assert panel.loc[("01", 2014), "gov_share"] == 0.0  # revenue-only year


def test_cli_panel_window_outside_the_data_fails_cleanly(small_folder, tmp_path, capsys):
    code = main(
        ["panel", str(small_folder), "--out", str(tmp_path / "p.parquet"), "--first-year", "2011"]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "the window 2011-2015 reaches outside the years of the data (2012-2015)" in err
    assert not (tmp_path / "p.parquet").exists()


def test_cli_panel_lenient_drops_and_counts(small_folder, tmp_path, capsys):
    with (small_folder / "contracts.csv").open("a") as fh:
        fh.write("M,02,2015,B,district,open_tender,-1,\n")
    out = tmp_path / "p.parquet"
    assert main(["panel", str(small_folder), "--out", str(out)]) == 1
    assert "amount must be > 0" in capsys.readouterr().err
    assert main(["panel", str(small_folder), "--out", str(out), "--errors", "drop"]) == 0
    assert "1 input problem(s) were reported" in capsys.readouterr().out
    panel = pd.read_parquet(out)
    assert panel.loc[("02", 2015), "revenue_gov"] == 50.0
