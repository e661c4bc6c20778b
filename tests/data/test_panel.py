"""The agency-year panel: rows at risk, age, exit, left truncation, lags, windows, writing."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sustain
from sustain.data import panel as panel_module
from sustain.data.dataset import Dataset, empty_revenue
from sustain.data.measures import MEASURE_COLUMNS, agency_year_measures
from sustain.data.panel import (
    DERIVED_COLUMNS,
    ConservationError,
    add_lags,
    build_panel,
    check_conservation,
    normalise_lags,
    write_panel,
)
from sustain.data.panel_rows import at_risk_span, expand_spans
from sustain.errors import DataError, SpecError

# Hand-computed values are exact fractions; float arithmetic reproduces them to a few ulps.
EXACT = 1e-12
# build_panel and the plain pandas implementation sum the same amounts in different orders;
# differences are measured relative to max(|value|, 1) (benchmarks/panel.py::compare).
CROSS_CHECK_TOL = 1e-9

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "panel.py"


def contract(agency: str, year: int, amount: float, funder: str = "f", **extra) -> dict:
    row = {
        "agency_id": agency,
        "year": year,
        "funder": funder,
        "tier": "district",
        "contract_type": "open_tender",
        "amount": float(amount),
    }
    return {**row, **extra}


def dataset(agencies: list[tuple], contracts: list[dict], revenue: list[tuple] = ()) -> Dataset:
    """A Dataset from (agency_id, founded, closed) tuples, contract dicts, revenue tuples."""
    a = pd.DataFrame(agencies, columns=["agency_id", "founded", "closed"])
    a["closed"] = a["closed"].astype("Int64")
    a.insert(2, "district", "Tianhe")
    c = pd.DataFrame(contracts)
    c.insert(0, "contract_id", [f"c{i}" for i in range(len(c))])
    r = (
        pd.DataFrame(list(revenue), columns=["agency_id", "year", "source", "amount"])
        if revenue
        else empty_revenue()
    )
    return Dataset(agencies=a, contracts=c, revenue=r)


@pytest.fixture(scope="module")
def life_data() -> Dataset:
    # Data years 2012-2016 (set by the contracts). a: founded before the data, closes in 2014.
    # b: founded inside, still open. c: closed before the data (no rows). d: founded after the
    # data (no rows). e: closes after the data ends (exit not observed).
    return dataset(
        [
            ("a", 2008, 2014),
            ("b", 2013, None),
            ("c", 2001, 2010),
            ("d", 2019, None),
            ("e", 2012, 2020),
        ],
        [
            contract("a", 2012, 100),
            contract("a", 2014, 50),
            contract("b", 2016, 10),
            contract("e", 2013, 20),
        ],
        [("e", 2016, "fee", 5.0)],
    )


@pytest.fixture(scope="module")
def life_panel(life_data: Dataset) -> pd.DataFrame:
    return build_panel(life_data)


def test_rows_are_the_years_at_risk(life_panel):
    expected = [("a", y) for y in range(2012, 2015)]
    expected += [("b", y) for y in range(2013, 2017)]
    expected += [("e", y) for y in range(2012, 2017)]
    assert list(life_panel.index) == expected
    assert life_panel.index.names == ["agency_id", "year"]
    assert life_panel.index.is_monotonic_increasing


def test_age_exit_and_left_truncation(life_panel):
    a, b, e = (life_panel.xs(k) for k in "abe")
    assert a["age"].tolist() == [4, 5, 6]  # 2012 - 2008 ...
    assert a["exit"].tolist() == [0, 0, 1]  # closed in 2014
    assert a["left_truncated"].all() and a["entry_age"].eq(4).all()
    assert b["age"].tolist() == [0, 1, 2, 3]
    assert b["exit"].eq(0).all() and not b["left_truncated"].any() and b["entry_age"].eq(0).all()
    assert e["exit"].eq(0).all()  # closes in 2020, after the data
    assert not e["left_truncated"].any()  # founded in the first year: not truncated


def test_column_types_and_order(life_panel):
    assert list(life_panel.columns) == [
        "founded",  # the agencies' own columns, in their order
        "district",
        "closed",
        *DERIVED_COLUMNS,
        *MEASURE_COLUMNS,
    ]
    assert life_panel["age"].dtype == np.int64
    assert life_panel["exit"].dtype == np.int64
    assert life_panel["left_truncated"].dtype == bool
    assert life_panel["closed"].dtype == "Int64"
    assert life_panel["n_contracts"].dtype == np.int64


def test_years_without_money_have_zero_totals_and_missing_ratios(life_panel):
    row = life_panel.loc[("a", 2013)]
    assert row["revenue_gov"] == 0.0 and row["revenue_total"] == 0.0
    assert row["n_contracts"] == 0 and row["n_funders"] == 0
    for name in ("gov_share", "hhi", "hhi_norm", "entropy", "top_share", "log_revenue"):
        assert np.isnan(row[name]), name
    assert pd.isna(row["main_tier"]) and np.isnan(row["share_open_tender"])


def test_measures_match_agency_year_measures(life_data, life_panel):
    m = agency_year_measures(life_data.contracts, life_data.revenue)
    pd.testing.assert_frame_equal(life_panel.loc[m.index, MEASURE_COLUMNS], m)


def test_revenue_only_year(life_panel):
    row = life_panel.loc[("e", 2016)]
    assert row["revenue_gov"] == 0.0 and row["revenue_nongov"] == 5.0
    assert row["gov_share"] == 0.0 and row["hhi"] == 1.0 and row["n_funders"] == 1


def test_agency_attributes_and_extra_columns_pass_through():
    data = dataset([("a", 2010, None), ("b", 2011, None)], [contract("a", 2012, 1)])
    agencies = data.agencies.assign(
        origin=["grassroots", "university"], name=["阳光社工", "Sunrise"], staff=[12, 30]
    )
    panel = build_panel(Dataset(agencies, data.contracts))
    assert panel.loc[("a", 2012), "origin"] == "grassroots"
    assert panel.loc[("b", 2012), "name"] == "Sunrise"
    assert panel.loc[("b", 2012), "staff"] == 30
    assert panel.loc[("a", 2012), "district"] == "Tianhe"


def test_input_row_order_and_agency_order_do_not_matter(life_data, life_panel):
    shuffled = Dataset(
        life_data.agencies.iloc[::-1],
        life_data.contracts.iloc[[3, 1, 0, 2]],
        life_data.revenue,
    )
    pd.testing.assert_frame_equal(build_panel(shuffled), life_panel)


def test_categorical_text_columns_give_the_same_panel(life_data, life_panel):
    text = ["agency_id", "funder", "tier", "contract_type"]
    contracts = life_data.contracts.astype({c: "category" for c in text})
    revenue = life_data.revenue.astype({"agency_id": "category", "source": "category"})
    panel = build_panel(Dataset(life_data.agencies, contracts, revenue))
    pd.testing.assert_frame_equal(panel, life_panel)


# --- windows -------------------------------------------------------------------------------


def test_window_trims_rows_and_moves_left_truncation(life_data):
    panel = build_panel(life_data, first_year=2014, last_year=2015)
    assert sorted(set(panel.index.get_level_values("year"))) == [2014, 2015]
    assert list(panel.index.get_level_values("agency_id").unique()) == ["a", "b", "e"]
    assert panel.loc[("a", 2014), "exit"] == 1
    # b was founded in 2013, before the window's first year: left-truncated now
    assert panel.xs("b")["left_truncated"].all()
    assert panel.xs("b")["entry_age"].eq(1).all()
    assert panel.index.levels[1].tolist() == [2014, 2015]  # no unused index levels


def test_window_conserves_only_its_years(life_data):
    panel = build_panel(life_data, first_year=2013)
    assert panel["revenue_gov"].sum() == 50 + 10 + 20  # the 2012 contract of a is outside
    assert panel["n_contracts"].sum() == 3


@pytest.mark.parametrize(
    ("first", "last", "message"),
    [
        (2010, None, "outside the years of the data"),
        (None, 2017, "outside the years of the data"),
        (2015, 2014, "after last_year"),
    ],
)
def test_bad_window_raises_spec_error(life_data, first, last, message):
    with pytest.raises(SpecError, match=message):
        build_panel(life_data, first_year=first, last_year=last)


# --- lags ----------------------------------------------------------------------------------


def test_lags_within_agency_over_consecutive_years(life_panel, life_data):
    panel = build_panel(life_data, lags={"revenue_gov": [1, 2], "age": 1})
    a = panel.xs("a")
    assert np.isnan(a["revenue_gov_lag1"].iloc[0])  # no row for 2011: before the data
    assert a["revenue_gov_lag1"].tolist()[1:] == [100.0, 0.0]
    assert a["revenue_gov_lag2"].tolist()[2:] == [100.0]
    assert panel.xs("b")["age_lag1"].tolist()[1:] == [0.0, 1.0, 2.0]
    assert np.isnan(panel.loc[("b", 2013), "age_lag1"])  # never the previous agency's value
    pd.testing.assert_frame_equal(panel[life_panel.columns], life_panel)


def test_lags_use_the_year_before_the_window_when_the_data_has_it(life_data):
    panel = build_panel(life_data, lags="revenue_gov", first_year=2013)
    assert panel.loc[("a", 2013), "revenue_gov_lag1"] == 100.0  # from 2012, outside the window
    assert panel.loc[("e", 2013), "revenue_gov_lag1"] == 0.0


def test_lag_of_text_and_boolean_columns(life_data):
    panel = build_panel(life_data, lags=["main_tier", "left_truncated"])
    assert panel.loc[("a", 2013), "main_tier_lag1"] == "district"
    assert pd.isna(panel.loc[("a", 2012), "main_tier_lag1"])
    assert panel["left_truncated_lag1"].dtype == np.float64


def test_add_lags_respects_gaps_and_any_row_order():
    idx = pd.MultiIndex.from_tuples(
        [("b", 2016), ("a", 2018), ("a", 2015), ("a", 2016), ("b", 2015)],
        names=["agency_id", "year"],
    )
    frame = pd.DataFrame({"x": [5.0, 3.0, 1.0, 2.0, 4.0]}, index=idx)
    out = add_lags(frame, {"x": [1, 2, 3]})
    assert out["x_lag1"].tolist()[:1] == [4.0]  # b 2016 <- b 2015
    assert np.isnan(out.loc[("a", 2018), "x_lag1"])  # 2017 is missing: a gap, not 2016
    assert out.loc[("a", 2018), "x_lag2"] == 2.0
    assert out.loc[("a", 2018), "x_lag3"] == 1.0
    assert np.isnan(out.loc[("b", 2015), "x_lag1"])
    assert out.loc[("a", 2016), "x_lag1"] == 1.0
    assert "x_lag1" not in frame.columns  # the input is not modified


def test_add_lags_keeps_extension_types():
    idx = pd.MultiIndex.from_tuples([("a", 1), ("a", 2)], names=["agency_id", "year"])
    frame = pd.DataFrame({"n": pd.array([1, 2], dtype="Int64"), "k": [1, 2]}, index=idx)
    out = add_lags(frame, ["n", "k"])
    assert out["n_lag1"].dtype == "Int64" and out["n_lag1"].isna().tolist() == [True, False]
    assert out["k_lag1"].dtype == np.float64


@pytest.mark.parametrize(
    ("lags", "normal"),
    [
        (None, {}),
        ((), {}),
        ("hhi", {"hhi": (1,)}),
        (["hhi", "gov_share"], {"hhi": (1,), "gov_share": (1,)}),
        ({"hhi": 2}, {"hhi": (2,)}),
        ({"hhi": [3, 1, 1]}, {"hhi": (1, 3)}),
    ],
)
def test_normalise_lags(lags, normal):
    assert normalise_lags(lags) == normal


@pytest.mark.parametrize(
    ("lags", "message"),
    [
        ("hhhi", "unknown column"),
        ({"hhi": 0}, "positive integers"),
        ({"hhi": [1, -1]}, "positive integers"),
        ({"hhi": []}, "positive integers"),
        ({"hhi": True}, "positive integers"),
        ({"hhi": 1.5}, "positive integers"),
        ([3], "must be names"),
        (5, "must be column names"),
    ],
)
def test_bad_lags_raise_spec_error_before_building(life_data, lags, message):
    with pytest.raises(SpecError, match=message):
        build_panel(life_data, lags=lags)


def test_lag_name_clash_and_bad_index_raise_spec_error():
    idx = pd.MultiIndex.from_tuples([("a", 1), ("a", 2)], names=["agency_id", "year"])
    with pytest.raises(SpecError, match="already exist"):
        add_lags(pd.DataFrame({"x": [1, 2], "x_lag1": [0, 1]}, index=idx), "x")
    with pytest.raises(SpecError, match="indexed by"):
        add_lags(pd.DataFrame({"x": [1, 2]}), "x")
    dates = pd.MultiIndex.from_tuples([("a", "x"), ("a", "y")], names=["agency_id", "year"])
    with pytest.raises(SpecError, match="integer times"):
        add_lags(pd.DataFrame({"x": [1, 2]}, index=dates), "x")
    dup = pd.MultiIndex.from_tuples([("a", 1), ("a", 1)], names=["agency_id", "year"])
    with pytest.raises(SpecError, match="unique"):
        add_lags(pd.DataFrame({"x": [1, 2]}, index=dup), "x")


# --- conservation and bad input ------------------------------------------------------------


def test_conservation_failure_is_an_internal_error(life_data, monkeypatch):
    real = panel_module.measures_by_group

    def leaky(*args, **kwargs):
        out = real(*args, **kwargs)
        out["revenue_gov"] = out["revenue_gov"] * 0.999  # lose 0.18 of 180
        return out

    monkeypatch.setattr(panel_module, "measures_by_group", leaky)
    with pytest.raises(ConservationError, match="revenue_gov sums to"):
        build_panel(life_data)
    assert issubclass(ConservationError, RuntimeError)


def test_check_conservation_counts_contracts_and_revenue():
    panel = pd.DataFrame({"revenue_gov": [5.0], "revenue_nongov": [1.0], "n_contracts": [2]})
    c = pd.DataFrame({"year": [2015, 2015], "amount": [2.0, 3.0]})
    r = pd.DataFrame({"year": [2015, 2016], "amount": [1.0, 7.0]})
    check_conservation(panel, c, r, (2015, 2015))
    with pytest.raises(ConservationError, match="counts 1 contracts"):
        check_conservation(panel.assign(n_contracts=1), c, r, (2015, 2015))
    with pytest.raises(ConservationError, match="revenue_nongov"):
        check_conservation(panel, c, r, (2015, 2016))
    # within half a cent is conserved; a cent is not
    check_conservation(panel.assign(revenue_gov=5.004), c, r, (2015, 2015))
    with pytest.raises(ConservationError):
        check_conservation(panel.assign(revenue_gov=5.01), c, r, (2015, 2015))


@pytest.mark.parametrize(
    ("bad_contract", "column", "rule"),
    [
        (contract("zz", 2013, 1), "agency_id", "must exist in agencies"),
        (contract("a", 2015, 1), "year", "between the agency's founded and closed"),
        (contract("b", 2012, 1), "year", "between the agency's founded and closed"),
        (contract("a", 2013.5, 1), "year", "year must be an integer"),
    ],
)
def test_contracts_outside_any_panel_row_raise_data_error(life_data, bad_contract, column, rule):
    contracts = pd.concat(
        [life_data.contracts, pd.DataFrame([{"contract_id": "bad", **bad_contract}])],
        ignore_index=True,
    )
    with pytest.raises(DataError, match=rule) as info:
        build_panel(Dataset(life_data.agencies, contracts, life_data.revenue))
    problems = info.value.problems
    assert problems[["file", "row", "column"]].values.tolist() == [["contracts", 4, column]]


def test_revenue_outside_the_agency_life_raises_data_error(life_data):
    revenue = pd.DataFrame([("a", 2016, "fee", 1.0)], columns=empty_revenue().columns)
    with pytest.raises(DataError, match="revenue, row 0, column 'year'"):
        build_panel(Dataset(life_data.agencies, life_data.contracts, revenue))


def test_bad_agencies_raise_data_error(life_data):
    twice = pd.concat([life_data.agencies, life_data.agencies.iloc[[0]]], ignore_index=True)
    with pytest.raises(DataError, match="agency_id must be unique") as info:
        build_panel(Dataset(twice, life_data.contracts))
    assert info.value.problems["row"].tolist() == [0, 5]
    no_founded = life_data.agencies.assign(founded=[2008, None, 2001, 2019, 2012])
    with pytest.raises(DataError, match="founded must be an integer"):
        build_panel(Dataset(no_founded, life_data.contracts))
    text_closed = life_data.agencies.assign(closed=["2014", "soon", None, None, None])
    with pytest.raises(DataError, match="closed must be an integer year or blank"):
        build_panel(Dataset(text_closed, life_data.contracts))
    reserved = life_data.agencies.assign(hhi=1.0)
    with pytest.raises(DataError, match="reserved"):
        build_panel(Dataset(reserved, life_data.contracts))
    with pytest.raises(DataError, match="required column is missing"):
        build_panel(Dataset(life_data.agencies.drop(columns="district"), life_data.contracts))


def test_closed_column_is_optional_and_empty_data_is_an_error(life_data):
    open_agencies = life_data.agencies.drop(columns="closed")
    panel = build_panel(Dataset(open_agencies, life_data.contracts[lambda c: c.agency_id != "a"]))
    assert panel["exit"].eq(0).all()
    with pytest.raises(DataError, match="no contracts or revenue"):
        build_panel(Dataset(life_data.agencies, life_data.contracts.iloc[:0]))


def test_inputs_are_not_modified(life_data):
    before = [t.copy() for t in (life_data.agencies, life_data.contracts, life_data.revenue)]
    build_panel(life_data, lags="hhi", first_year=2013)
    after = (life_data.agencies, life_data.contracts, life_data.revenue)
    for b, a in zip(before, after, strict=True):
        pd.testing.assert_frame_equal(a, b)


# --- pure helpers --------------------------------------------------------------------------


def test_at_risk_span_and_expand_spans():
    start, end = at_risk_span(
        np.array([2000, 2014, 2020, 2013]), np.array([np.nan, 2015.0, np.nan, 2011.0]), 2012, 2018
    )
    assert start.tolist() == [2012, 2014, 2020, 2013]
    assert end.tolist() == [2018, 2015, 2018, 2011]
    entity, year = expand_spans(start, end)
    assert entity.tolist() == [0] * 7 + [1, 1]
    assert year.tolist() == [*range(2012, 2019), 2014, 2015]


# --- writing -------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_write_panel_round_trips(life_panel, tmp_path, suffix):
    path = write_panel(life_panel, tmp_path / "out" / f"panel{suffix}")
    assert path.exists() and [p.name for p in path.parent.iterdir()] == [path.name]
    if suffix == ".parquet":
        back = pd.read_parquet(path)
        pd.testing.assert_frame_equal(back, life_panel, check_index_type=False)
    else:
        back = pd.read_csv(path, index_col=["agency_id", "year"])
        assert back.index.equals(life_panel.index)
        np.testing.assert_allclose(back["hhi"], life_panel["hhi"], rtol=EXACT)
        assert back["main_tier"].fillna("").tolist() == life_panel["main_tier"].fillna("").tolist()


def test_write_panel_rejects_other_formats(life_panel, tmp_path):
    with pytest.raises(SpecError, match=r"\.parquet or \.csv"):
        write_panel(life_panel, tmp_path / "panel.xlsx")
    assert list(tmp_path.iterdir()) == []


# --- against an independent implementation ---------------------------------------------------


@pytest.fixture(scope="module")
def benchmark_module():
    spec = importlib.util.spec_from_file_location("panel_benchmark", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["panel_benchmark"] = module
    spec.loader.exec_module(module)
    return module


def test_same_numbers_as_straightforward_pandas(benchmark_module):
    data = benchmark_module.make_dataset(n_contracts=20_000, n_agencies=400, n_funders=60, seed=3)
    fast = build_panel(data)
    slow = benchmark_module.straightforward_panel(data)
    assert fast.index.equals(slow.index)
    assert benchmark_module.compare(fast, slow) <= CROSS_CHECK_TOL
    assert math.isclose(fast["revenue_gov"].sum(), data.contracts["amount"].sum(), rel_tol=1e-12)
    assert (fast["exit"] == slow["exit"]).all() and (fast["age"] == slow["age"]).all()


def test_public_name_resolves_lazily():
    assert sustain.build_panel is build_panel


def test_example_data_panel(example_data, example_panel):
    agencies = example_data.agencies
    first, last = example_data.years
    closed = agencies["closed"].fillna(last).clip(upper=last)
    years_at_risk = (closed - agencies["founded"].clip(lower=first) + 1).clip(lower=0)
    assert len(example_panel) == years_at_risk.sum()
    assert math.isclose(
        math.fsum(example_panel["revenue_gov"]),
        math.fsum(example_data.contracts["amount"]),
        abs_tol=0.005,
    )
    assert example_panel["exit"].sum() == agencies["closed"].between(first, last).sum()


def test_command_line_writes_the_panel(life_data, tmp_path):
    from sustain.cli import main

    folder = tmp_path / "data"
    folder.mkdir()
    life_data.agencies.to_csv(folder / "agencies.csv", index=False)
    life_data.contracts.to_csv(folder / "contracts.csv", index=False)
    life_data.revenue.to_csv(folder / "revenue.csv", index=False)
    out = tmp_path / "panel.parquet"
    assert main(["panel", str(folder), "--out", str(out), "--lag", "hhi"]) == 0
    back = pd.read_parquet(out)
    assert len(back) == 12 and "hhi_lag1" in back.columns
