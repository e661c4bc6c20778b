"""Validation rules: a catalogue of bad inputs with the exact problems each produces.

Each catalogue case edits a small valid data set written as CSV (rows numbered as in a
spreadsheet: header row 1, first data row 2) and states the exact problems rows expected and a
fragment of the strict-mode message. Lenient mode is checked against strict reading of the same
data with the reported rows removed by hand, which proves that exactly the good rows are kept.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sustain
from sustain.data.cells import VALUE_WIDTH
from sustain.data.dataset import AGENCY_COLUMNS, CONTRACT_COLUMNS, REVENUE_COLUMNS
from sustain.data.schema import REPORT_COLUMNS, SPECS, validate, validated_schema
from sustain.errors import DataError, SpecError

# Amounts are read from text and compared exactly: "500000" parses to the same float64.
EXACT = 0.0
# Random corruption cases per hypothesis run (each validates a small data set: fast).
HYPOTHESIS_EXAMPLES = 60

KEY = ["file", "row", "column", "rule", "value"]


AGENCIES_CSV = """\
agency_id,founded,district,closed,origin,name
A01,2010,Yuexiu,,grassroots,越秀启明社工
A02,2012,Tianhe,2018,university,天河社工服务中心
A03,2014,Haizhu,,government_initiated,海珠社工
"""
CONTRACTS_CSV = """\
contract_id,agency_id,year,funder,tier,contract_type,amount,service,score
C1,A01,2015,Yuexiu Civil Affairs,district,open_tender,500000,family,85
C1,A01,2016,Yuexiu Civil Affairs,district,open_tender,520000,family,88
C2,A02,2016,Liede Street Office,subdistrict,directed_commission,200000,elderly,70
C3,A03,2017,Guangzhou Civil Affairs,municipal,single_source,300000,youth,
"""
REVENUE_CSV = """\
agency_id,year,source,amount
A01,2015,foundation,50000
A02,2016,donation,0
"""


def base_tables() -> dict[str, pd.DataFrame]:
    """A valid data set as text cells, the way a CSV file holds it."""
    texts = {"agencies": AGENCIES_CSV, "contracts": CONTRACTS_CSV, "revenue": REVENUE_CSV}
    return {
        name: pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        for name, text in texts.items()
    }


def write_csv(folder: Path, tables: dict[str, pd.DataFrame]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    return folder


def records(problems: pd.DataFrame, severity: str | None = "error") -> list[tuple]:
    """Problems rows as plain tuples (row as int or None), optionally of one severity."""
    if severity is not None:
        problems = problems[problems["severity"] == severity]
    out = []
    for rec in problems[KEY].itertuples(index=False):
        row = None if pd.isna(rec.row) else int(rec.row)
        column = None if rec.column is None or pd.isna(rec.column) else rec.column
        out.append((rec.file, row, column, rec.rule, rec.value))
    return out


def edit(table: str, row: int, column: str, value: str) -> Callable[[dict], None]:
    def apply(tables: dict[str, pd.DataFrame]) -> None:
        tables[table].loc[row, column] = value

    return apply


def append_copy(table: str, row: int) -> Callable[[dict], None]:
    def apply(tables: dict[str, pd.DataFrame]) -> None:
        frame = tables[table]
        tables[table] = pd.concat([frame, frame.iloc[[row]]], ignore_index=True)

    return apply


def both(*edits: Callable[[dict], None]) -> Callable[[dict], None]:
    def apply(tables: dict[str, pd.DataFrame]) -> None:
        for e in edits:
            e(tables)

    return apply


TYPES = (
    "contract_type must be one of open_tender, invited_tender, competitive_negotiation, "
    "competitive_consultation, request_for_quotation, single_source, directed_commission"
)
C, A, R = "contracts.csv", "agencies.csv", "revenue.csv"

# id -> (edit, expected error rows (file, row, column, rule, value), message fragment)
DECIMAL_COMMA = (
    "amount must be a number; '{}' looks like a decimal comma: sustain reads '.' as the decimal "
    "mark (convert the column, or export the file with '.' decimals)"
)
UNIT_IN_CELL = (
    "amount must be a number; write the number alone (units go in the mapping: units = {...})"
)
CATALOGUE = {
    "negative amount": (
        edit("contracts", 0, "amount", "-5"),
        [(C, 2, "amount", "amount must be > 0", "-5")],
        "contracts.csv, row 2, column 'amount': amount must be > 0 (value: '-5')",
    ),
    "zero amount": (
        edit("contracts", 1, "amount", "0"),
        [(C, 3, "amount", "amount must be > 0", "0")],
        "row 3, column 'amount'",
    ),
    "non-numeric amount": (
        edit("contracts", 0, "amount", "abc"),
        [(C, 2, "amount", "amount must be a number", "abc")],
        "amount must be a number (value: 'abc')",
    ),
    "ambiguous separator": (
        edit("contracts", 0, "amount", "1,00"),
        [(C, 2, "amount", DECIMAL_COMMA.format("1,00"), "1,00")],
        "amount must be a number; '1,00' looks like a decimal comma",
    ),
    "currency sign": (
        edit("contracts", 0, "amount", "¥500"),
        [(C, 2, "amount", UNIT_IN_CELL, "¥500")],
        "amount must be a number; write the number alone",
    ),
    "infinite amount": (
        edit("contracts", 0, "amount", "inf"),
        [(C, 2, "amount", "amount must be a finite number", "inf")],
        "amount must be a finite number",
    ),
    "missing amount": (
        edit("contracts", 0, "amount", ""),
        [(C, 2, "amount", "amount is required", "")],
        "amount is required",
    ),
    "negative revenue": (
        edit("revenue", 0, "amount", "-1"),
        [(R, 2, "amount", "amount must be >= 0", "-1")],
        "revenue.csv, row 2, column 'amount': amount must be >= 0",
    ),
    "unknown tier": (
        edit("contracts", 2, "tier", "street"),
        [(C, 4, "tier", "tier must be one of municipal, district, subdistrict", "street")],
        "tier must be one of municipal, district, subdistrict (value: 'street')",
    ),
    "near-miss tier": (
        edit("contracts", 2, "tier", "sub-district"),
        [
            (
                C,
                4,
                "tier",
                "tier must be one of municipal, district, subdistrict; did you mean 'subdistrict'?",
                "sub-district",
            )
        ],
        "did you mean 'subdistrict'?",
    ),
    "Open Tender": (
        edit("contracts", 0, "contract_type", "Open Tender"),
        [(C, 2, "contract_type", TYPES + "; did you mean 'open_tender'?", "Open Tender")],
        "did you mean 'open_tender'? (value: 'Open Tender')",
    ),
    "half year": (
        edit("contracts", 0, "year", "2015.5"),
        [(C, 2, "year", "year must be a whole year", "2015.5")],
        "year must be a whole year (value: '2015.5')",
    ),
    "text year": (
        edit("contracts", 0, "year", "abc"),
        [(C, 2, "year", "year must be a number", "abc")],
        "year must be a number",
    ),
    "two-digit year": (
        edit("contracts", 0, "year", "15"),
        [(C, 2, "year", "year must be a year between 1900 and 2100", "15")],
        "year must be a year between 1900 and 2100",
    ),
    "missing founded": (
        edit("agencies", 0, "founded", "NA"),
        [(A, 2, "founded", "founded is required", "NA")],
        "agencies.csv, row 2, column 'founded': founded is required",
    ),
    "score above 100": (
        edit("contracts", 1, "score", "101"),
        [(C, 3, "score", "score must be between 0 and 100", "101")],
        "score must be between 0 and 100",
    ),
    "negative score": (
        edit("contracts", 1, "score", "-1"),
        [(C, 3, "score", "score must be between 0 and 100", "-1")],
        "score must be between 0 and 100",
    ),
    "closed before founded": (
        edit("agencies", 1, "closed", "2011"),
        [(A, 3, "closed", "closed must not be before founded (2012)", "2011")],
        "agencies.csv, row 3, column 'closed': closed must not be before founded (2012)",
    ),
    "exit reason without a closing year": (
        edit("agencies", 0, "exit_reason", "merged"),
        [
            (
                A,
                2,
                "exit_reason",
                "exit_reason must be blank when closed is blank (the agency has not left)",
                "merged",
            )
        ],
        "agencies.csv, row 2, column 'exit_reason': exit_reason must be blank when closed is blank",
    ),
    "conflicting duplicate key": (
        both(edit("contracts", 2, "contract_id", "C1")),
        [
            (
                C,
                3,
                "contract_id, year",
                "duplicate (contract_id, year) with different values in rows 3, 4",
                "C1, 2016",
            ),
            (
                C,
                4,
                "contract_id, year",
                "duplicate (contract_id, year) with different values in rows 3, 4",
                "C1, 2016",
            ),
        ],
        "with different values in rows 3, 4",
    ),
    "exact duplicate row": (
        append_copy("contracts", 0),
        [
            (
                C,
                6,
                "contract_id, year",
                "exact duplicate of row 2 (same contract_id, year)",
                "C1, 2015",
            )
        ],
        "exact duplicate of row 2",
    ),
    "duplicate revenue source": (
        both(append_copy("revenue", 0), edit("revenue", 2, "amount", "7000")),
        [
            (
                R,
                2,
                "agency_id, year, source",
                "duplicate (agency_id, year, source) with different values in rows 2, 4",
                "A01, 2015, foundation",
            ),
            (
                R,
                4,
                "agency_id, year, source",
                "duplicate (agency_id, year, source) with different values in rows 2, 4",
                "A01, 2015, foundation",
            ),
        ],
        "duplicate (agency_id, year, source)",
    ),
    "duplicate agency": (
        edit("agencies", 2, "agency_id", "A01"),
        [
            (A, 2, "agency_id", "duplicate agency_id with different values in rows 2, 4", "A01"),
            (A, 4, "agency_id", "duplicate agency_id with different values in rows 2, 4", "A01"),
            (C, 5, "agency_id", "agency_id is not in agencies", "A03"),
        ],
        "duplicate agency_id",
    ),
    "unknown agency": (
        edit("contracts", 0, "agency_id", "A99"),
        [(C, 2, "agency_id", "agency_id is not in agencies", "A99")],
        "contracts.csv, row 2, column 'agency_id': agency_id is not in agencies (value: 'A99')",
    ),
    "revenue of unknown agency": (
        edit("revenue", 1, "agency_id", "A07"),
        [(R, 3, "agency_id", "agency_id is not in agencies", "A07")],
        "revenue.csv, row 3",
    ),
    "contract before founding": (
        edit("contracts", 0, "year", "2009"),
        [(C, 2, "year", "year must not be before the agency's founded year (2010)", "2009")],
        "founded year (2010)",
    ),
    "contract after closing": (
        edit("contracts", 2, "year", "2019"),
        [(C, 4, "year", "year must not be after the agency's closed year (2018)", "2019")],
        "closed year (2018)",
    ),
    "revenue before founding": (
        edit("revenue", 1, "year", "2011"),
        [(R, 3, "year", "year must not be before the agency's founded year (2012)", "2011")],
        "revenue.csv, row 3, column 'year'",
    ),
    "blank funder": (
        edit("contracts", 3, "funder", "   "),
        [(C, 5, "funder", "funder is required", "   ")],
        "funder is required",
    ),
    "missing agency id": (
        edit("contracts", 3, "agency_id", "NA"),
        [(C, 5, "agency_id", "agency_id is required", "NA")],
        "agency_id is required",
    ),
    "several problems in one row": (
        both(edit("contracts", 1, "amount", "-3"), edit("contracts", 1, "tier", "city")),
        [
            (C, 3, "tier", "tier must be one of municipal, district, subdistrict", "city"),
            (C, 3, "amount", "amount must be > 0", "-3"),
        ],
        "2 problems in the input data",
    ),
}


def _read_case(tmp_path: Path, case: str, errors: str = "raise") -> tuple[dict, sustain.Dataset]:
    tables = base_tables()
    CATALOGUE[case][0](tables)
    return tables, sustain.read_dataset(write_csv(tmp_path / "data", tables), errors=errors)


@pytest.mark.parametrize("case", list(CATALOGUE))
def test_strict_mode_raises_with_exact_problems(tmp_path, case):
    _, expected, fragment = CATALOGUE[case]
    with pytest.raises(DataError) as info:
        _read_case(tmp_path, case)
    assert records(info.value.problems) == expected
    assert fragment in str(info.value)
    assert list(info.value.problems.columns) == REPORT_COLUMNS


@pytest.mark.parametrize("case", list(CATALOGUE))
def test_lenient_mode_keeps_exactly_the_good_rows(tmp_path, case):
    """Lenient reading equals strict reading of the same files with the flagged rows removed."""
    tables, data = _read_case(tmp_path, case, errors="drop")
    assert records(data.problems) == CATALOGUE[case][1]
    flagged = data.problems[data.problems["severity"].isin(["error", "dropped"])]
    kept = {}
    for name, frame in tables.items():
        rows = flagged.loc[flagged["file"] == f"{name}.csv", "row"].astype(int)
        kept[name] = frame.drop(index=frame.index[rows.to_numpy() - 2])
    by_hand = sustain.read_dataset(write_csv(tmp_path / "by_hand", kept))
    for name in ("agencies", "contracts", "revenue"):
        pd.testing.assert_frame_equal(getattr(data, name), getattr(by_hand, name))
    assert len(data.contracts) + len(flagged[flagged["file"] == C].drop_duplicates("row")) == len(
        tables["contracts"]
    )


def test_bad_agency_takes_its_contracts_and_revenue_along_and_lists_them(tmp_path):
    tables = base_tables()
    tables["agencies"].loc[1, "founded"] = "twenty"  # A02: contract C2 and its donation
    data = sustain.read_dataset(write_csv(tmp_path, tables), errors="drop")
    rule = "dropped because its agency's row is invalid (agencies.csv row 3)"
    assert records(data.problems, None) == [
        (A, 3, "founded", "founded must be a number", "twenty"),
        (C, 4, "agency_id", rule, "A02"),
        (R, 3, "agency_id", rule, "A02"),
    ]
    assert data.problems["severity"].tolist() == ["error", "dropped", "dropped"]
    assert data.agencies["agency_id"].tolist() == ["A01", "A03"]
    assert data.contracts["contract_id"].tolist() == ["C1", "C1", "C3"]
    assert data.revenue["agency_id"].tolist() == ["A01"]


def test_strict_mode_does_not_list_cascades(tmp_path):
    tables = base_tables()
    tables["agencies"].loc[1, "founded"] = "twenty"
    with pytest.raises(DataError) as info:
        sustain.read_dataset(write_csv(tmp_path, tables))
    assert records(info.value.problems, None) == [
        (A, 3, "founded", "founded must be a number", "twenty")
    ]


def test_exact_duplicate_keeps_first_copy_conflicting_drops_all(tmp_path):
    tables = base_tables()
    contracts = tables["contracts"]
    extra = contracts.iloc[[0, 2]].copy()
    extra.iloc[1, extra.columns.get_loc("amount")] = "999"  # C2 2016 with a different amount
    tables["contracts"] = pd.concat([contracts, extra], ignore_index=True)
    data = sustain.read_dataset(write_csv(tmp_path, tables), errors="drop")
    assert data.contracts["contract_id"].tolist() == ["C1", "C1", "C3"]
    assert data.contracts["amount"].tolist() == [500000.0, 520000.0, 300000.0]
    assert sorted(data.problems["row"].astype(int)) == [4, 6, 7]


# ---------------------------------------------------------------- normalisations

NORMALISED = {
    "trailing space in tier": (
        edit("contracts", 0, "tier", "district "),
        [(C, 2, "tier", "tier normalised to 'district'", "district ")],
        ("tier", 0, "district"),
    ),
    "capitalised tier": (
        edit("contracts", 3, "tier", "Municipal"),
        [(C, 5, "tier", "tier normalised to 'municipal'", "Municipal")],
        ("tier", 3, "municipal"),
    ),
    "shouted contract type": (
        edit("contracts", 2, "contract_type", " DIRECTED_COMMISSION"),
        [
            (
                C,
                4,
                "contract_type",
                "contract_type normalised to 'directed_commission'",
                " DIRECTED_COMMISSION",
            )
        ],
        ("contract_type", 2, "directed_commission"),
    ),
    "trailing space in id": (
        edit("contracts", 0, "agency_id", "A01 "),
        [(C, 2, "agency_id", "agency_id normalised to 'A01'", "A01 ")],
        ("agency_id", 0, "A01"),
    ),
    "doubled space in funder": (
        edit("contracts", 2, "funder", "Liede  Street\u3000Office"),
        [
            (
                C,
                4,
                "funder",
                "funder normalised to 'Liede Street Office'",
                "Liede  Street\u3000Office",
            )
        ],
        ("funder", 2, "Liede Street Office"),
    ),
    "thousands separators": (
        edit("contracts", 0, "amount", "1,500,000.50"),
        [
            (
                C,
                2,
                "amount",
                "amount read as a number (thousands separators or full-width digits)",
                "1,500,000.50",
            )
        ],
        ("amount", 0, 1500000.5),
    ),
    "full-width digits": (
        edit("contracts", 1, "amount", "５２００００"),
        [
            (
                C,
                3,
                "amount",
                "amount read as a number (thousands separators or full-width digits)",
                "５２００００",
            )
        ],
        ("amount", 1, 520000.0),
    ),
}


@pytest.mark.parametrize("case", list(NORMALISED))
def test_normalisations_are_reported_but_do_not_fail(tmp_path, case):
    change, expected, (column, row, value) = NORMALISED[case]
    tables = base_tables()
    change(tables)
    data = sustain.read_dataset(write_csv(tmp_path, tables))
    assert records(data.problems, "note") == expected
    assert (data.problems["severity"] == "note").all()
    assert data.contracts[column].iloc[row] == value
    assert len(data.contracts) == len(tables["contracts"])


def test_integral_decimal_years_are_read_silently(tmp_path):
    tables = base_tables()
    tables["agencies"]["closed"] = ["", "2018.0", ""]  # how pandas writes a column with blanks
    data = sustain.read_dataset(write_csv(tmp_path, tables))
    assert data.problems.empty
    assert data.agencies["closed"].tolist() == [pd.NA, 2018, pd.NA]


def test_normalised_column_names_and_skipped_empty_rows(tmp_path):
    tables = base_tables()
    contracts = tables["contracts"].rename(columns={"amount": " Amount"})
    blank = pd.DataFrame([[""] * contracts.shape[1]], columns=contracts.columns)
    tables["contracts"] = pd.concat([contracts.iloc[:2], blank, contracts.iloc[2:]])
    data = sustain.read_dataset(write_csv(tmp_path, tables))
    assert records(data.problems, "note") == [
        (C, 1, "amount", "column name normalised to 'amount'", " Amount"),
        (C, 4, None, "empty row skipped", ""),
    ]
    assert data.contracts["amount"].tolist() == [500000.0, 520000.0, 200000.0, 300000.0]


def test_normalisation_notes_in_strict_message_do_not_count_as_errors(tmp_path):
    tables = base_tables()
    tables["contracts"].loc[0, "tier"] = "District"
    tables["contracts"].loc[1, "amount"] = "-1"
    with pytest.raises(DataError) as info:
        sustain.read_dataset(write_csv(tmp_path, tables))
    message = str(info.value)
    assert message.startswith("1 problem in the input data:")
    assert "(plus 1 note(s) or dropped row(s) listed in the .problems table)" in message
    assert len(info.value.problems) == 2


# ---------------------------------------------------------------- whole-table problems

STRUCTURAL = {
    "missing column": (
        lambda t: t.update(contracts=t["contracts"].drop(columns="funder")),
        [(C, 1, "funder", "required column 'funder' is missing", "")],
    ),
    "misspelled column": (
        lambda t: t.update(agencies=t["agencies"].rename(columns={"agency_id": "agencyid"})),
        [
            (
                A,
                1,
                "agency_id",
                "required column 'agency_id' is missing; did you mean 'agencyid'?",
                "",
            )
        ],
    ),
    "column twice": (
        lambda t: t.update(revenue=t["revenue"].rename(columns={"source": "amount"})),
        [
            (R, 1, "amount", "column 'amount' appears more than once", ""),
            (R, 1, "source", "required column 'source' is missing", ""),
        ],
    ),
    "no data rows": (
        lambda t: t.update(agencies=t["agencies"].iloc[:0]),
        [(A, None, None, "the table has no data rows", "")],
    ),
}


@pytest.mark.parametrize("errors", ["raise", "drop"])
@pytest.mark.parametrize("case", list(STRUCTURAL))
def test_unusable_tables_raise_in_both_modes(tmp_path, case, errors):
    change, expected = STRUCTURAL[case]
    tables = base_tables()
    change(tables)
    with pytest.raises(DataError) as info:
        sustain.read_dataset(write_csv(tmp_path, tables), errors=errors)
    assert records(info.value.problems) == expected


def test_empty_revenue_table_is_fine(tmp_path):
    tables = base_tables()
    tables["revenue"] = tables["revenue"].iloc[:0]
    data = sustain.read_dataset(write_csv(tmp_path, tables))
    assert data.revenue.empty and list(data.revenue.columns) == REVENUE_COLUMNS


# ---------------------------------------------------------------- in-memory frames


def typed_tables() -> dict[str, pd.DataFrame]:
    return {
        "agencies": pd.DataFrame(
            {
                "agency_id": ["007", "008"],
                "founded": [2010, 2012],
                "district": ["Liwan", "Huadu"],
                "closed": pd.array([pd.NA, 2016], dtype="Int64"),
                "staff": [12, 30],
            }
        ),
        "contracts": pd.DataFrame(
            {
                "contract_id": ["K1", "K2"],
                "agency_id": ["007", "008"],
                "year": [2014, 2015],
                "funder": ["Bureau", "Street"],
                "tier": ["district", "subdistrict"],
                "contract_type": ["open_tender", "single_source"],
                "amount": [1e5, 2.5e5],
            }
        ),
    }


def test_in_memory_types_and_pass_through():
    data = validate(**typed_tables())
    a, c = data.agencies, data.contracts
    assert a["agency_id"].tolist() == ["007", "008"]  # leading zeros kept
    assert a["founded"].dtype == np.int64 and a["closed"].dtype == pd.Int64Dtype()
    assert a["staff"].tolist() == [12, 30]  # extra column passed through
    assert list(a.columns) == AGENCY_COLUMNS + ["staff"]
    assert list(c.columns) == CONTRACT_COLUMNS  # optional service and score added, empty
    assert c["score"].isna().all() and c["score"].dtype == np.float64
    assert c["year"].dtype == np.int64 and c["amount"].dtype == np.float64
    assert data.revenue.empty and data.problems.empty
    for name in ("agencies", "contracts", "revenue"):
        validated_schema(name).validate(getattr(data, name))


def test_in_memory_rows_are_positions_and_files_names_tables():
    tables = typed_tables()
    tables["contracts"].loc[1, "amount"] = -1.0
    with pytest.raises(DataError) as info:
        validate(**tables, files={"contracts": "my_contracts"})
    assert records(info.value.problems) == [
        ("my_contracts", 2, "amount", "amount must be > 0", "-1.0")
    ]
    with pytest.raises(DataError) as info:
        validate(
            **typed_tables(),
            revenue=pd.DataFrame(
                {"agency_id": ["007"], "year": [2011], "source": ["fee"], "amount": [-2]}
            ),
        )
    assert records(info.value.problems) == [("revenue", 1, "amount", "amount must be >= 0", "-2")]


def test_index_holding_a_required_column_is_named():
    tables = typed_tables()
    tables["agencies"] = tables["agencies"].set_index("agency_id")
    with pytest.raises(DataError, match="it is the frame's index: call reset_index"):
        validate(**tables, errors="drop")


def test_bad_options_are_spec_errors():
    with pytest.raises(SpecError, match="errors='ignore'"):
        validate(**typed_tables(), errors="ignore")  # type: ignore[arg-type]
    with pytest.raises(SpecError, match="must be a pandas DataFrame"):
        validate(typed_tables()["agencies"], [1, 2])  # type: ignore[arg-type]
    with pytest.raises(SpecError, match="unknown tables"):
        validate(**typed_tables(), files={"contract": "x.csv"})


def test_problems_are_sorted_by_file_then_row(tmp_path):
    tables = base_tables()
    tables["revenue"].loc[0, "amount"] = "-1"
    tables["contracts"].loc[3, "amount"] = "-1"
    tables["contracts"].loc[0, "tier"] = "x"
    tables["agencies"].loc[2, "closed"] = "2000"
    data = sustain.read_dataset(write_csv(tmp_path, tables), errors="drop")
    assert list(zip(data.problems["file"], data.problems["row"], strict=True)) == [
        (A, 4),
        (C, 2),
        (C, 5),
        (R, 2),
    ]


def test_validated_schema_states_the_contract():
    for name, specs in SPECS.items():
        schema = validated_schema(name)
        assert [s.name for s in specs] == list(schema.columns)
    bad = pd.DataFrame({"agency_id": ["a"], "year": [2015], "source": ["fee"], "amount": [-1.0]})
    with pytest.raises(Exception, match="greater_than_or_equal_to"):
        validated_schema("revenue").validate(bad)


# ---------------------------------------------------------------- property: lenient keeps good rows

CORRUPTIONS: dict[str, tuple[str, object]] = {
    "negative amount": ("amount", -1.0),
    "text amount": ("amount", "n/a?"),
    "unknown tier": ("tier", "city"),
    "bad type": ("contract_type", "tender"),
    "half year": ("year", 2015.5),
    "missing funder": ("funder", None),
    "score 150": ("score", 150.0),
    "unknown agency": ("agency_id", "ZZZ"),
    "year before founding": ("year", 1990),
}


def _random_contracts(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "contract_id": [f"K{i}" for i in range(n)],
            "agency_id": rng.choice(["007", "008"], n).astype(object),
            "year": rng.integers(2013, 2016, n).astype(object),
            "funder": rng.choice(["Bureau", "Street A", "Street B"], n).astype(object),
            "tier": rng.choice(["district", "subdistrict", "municipal"], n).astype(object),
            "contract_type": rng.choice(["open_tender", "single_source"], n).astype(object),
            "amount": rng.uniform(1e4, 1e6, n).round(2).astype(object),
            "score": rng.uniform(40, 100, n).round(1).astype(object),
        }
    )


@settings(
    max_examples=HYPOTHESIS_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 2**16),
    corrupt=st.lists(st.sampled_from([None, *CORRUPTIONS]), min_size=1, max_size=25),
)
def test_lenient_mode_keeps_exactly_the_uncorrupted_rows(seed, corrupt):
    contracts = _random_contracts(len(corrupt), seed)
    for i, kind in enumerate(corrupt):
        if kind is not None:
            column, value = CORRUPTIONS[kind]
            contracts.at[i, column] = value
    agencies = typed_tables()["agencies"]
    agencies.loc[1, "closed"] = pd.NA
    good = [i for i, kind in enumerate(corrupt) if kind is None]
    if not good:  # lenient reading that drops every contract is an error, not an empty table
        with pytest.raises(DataError, match="every row of contracts was dropped"):
            validate(agencies, contracts, errors="drop")
        return
    data = validate(agencies, contracts, errors="drop")
    assert data.contracts["contract_id"].tolist() == [f"K{i}" for i in good]
    np.testing.assert_allclose(
        data.contracts["amount"], contracts["amount"].iloc[good].astype(float), rtol=EXACT
    )
    errors = data.problems[data.problems["severity"] == "error"]
    assert sorted(errors["row"].astype(int)) == [i + 1 for i, k in enumerate(corrupt) if k]
    validated_schema("contracts").validate(data.contracts)


def test_empty_rows_in_frames_are_skipped_and_long_values_cut():
    tables = typed_tables()
    contracts = tables["contracts"]
    blank = pd.DataFrame([[np.nan] * contracts.shape[1]], columns=contracts.columns)
    contracts = pd.concat([blank, contracts], ignore_index=True)
    contracts.loc[2, "tier"] = "x" * 200
    data = validate(tables["agencies"], contracts, errors="drop")
    assert records(data.problems, None)[0] == ("contracts", 1, None, "empty row skipped", "")
    assert data.problems.loc[1, "value"] == "x" * VALUE_WIDTH
    assert data.contracts["contract_id"].tolist() == ["K1"]


def test_exit_reasons_are_free_categories_and_reach_the_panel(tmp_path):
    tables = base_tables()
    tables["agencies"]["exit_reason"] = ["", " Merged ", ""]
    tables["agencies"].loc[1, "closed"] = "2016"  # inside the data's years (2015-2017)
    data = sustain.read_dataset(write_csv(tmp_path, tables))
    assert data.agencies["exit_reason"].tolist()[1] == "merged"
    panel = sustain.build_panel(data)
    assert panel.loc[("A02", 2016), "exit_merged"] == 1
    assert int(panel["exit_merged"].sum()) == int(panel["exit"].sum()) == 1
    assert panel.loc["A02", "exit_reason"].eq("merged").all()
