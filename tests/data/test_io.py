"""Reading data folders: every format and encoding, row numbers as the user sees them, and
problems with the files themselves."""

from __future__ import annotations

import codecs
from collections.abc import Callable
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

import sustain
from sustain.data.io import detect_encoding, find_tables, read_table
from sustain.data.schema import validate
from sustain.errors import DataError

# Amounts and scores survive every format bit for bit (CSV writes the shortest repr that
# round-trips, the binary formats store float64), so frames are compared exactly.
EXACT = 0.0


def valid_dataset() -> sustain.Dataset:
    """A small valid data set with Chinese names, leading-zero ids, blanks and no extras."""
    agencies = pd.DataFrame(
        {
            "agency_id": ["001", "002", "010"],
            "founded": [2009, 2012, 2014],
            "district": ["越秀区", "天河区", "Haizhu"],
            "closed": pd.array([pd.NA, 2018, pd.NA], dtype="Int64"),
            "origin": ["grassroots", "university", "government_initiated"],
            "exit_reason": [None, "merged", None],
            "name": ["广州市越秀区启明社会工作服务中心", "天河社工", "海珠区心志社工"],
        }
    )
    contracts = pd.DataFrame(
        {
            "contract_id": ["GZ-0001", "GZ-0001", "GZ-0002", "GZ-0003"],
            "agency_id": ["001", "001", "002", "010"],
            "year": [2015, 2016, 2016, 2017],
            "funder": ["越秀区民政局", "越秀区民政局", "猎德街道办事处", "广州市民政局"],
            "tier": ["district", "district", "subdistrict", "municipal"],
            "contract_type": ["open_tender", "open_tender", "directed_commission", "single_source"],
            "amount": [500000.0, 520000.25, 200000.0, 1234567.89],
            "service": ["family", "family", "elderly", "youth"],
            "score": [85.5, 88.0, np.nan, 91.25],
        }
    )
    revenue = pd.DataFrame(
        {
            "agency_id": ["001", "002"],
            "year": [2015, 2016],
            "source": ["foundation", "donation"],
            "amount": [50000.0, 0.0],
        }
    )
    return validate(agencies, contracts, revenue)


def _csv(encoding: str) -> Callable[[pd.DataFrame, Path], None]:
    def write(frame: pd.DataFrame, path: Path) -> None:
        frame.to_csv(path, index=False, encoding=encoding)

    return write


def _excel(frame: pd.DataFrame, path: Path) -> None:
    frame.to_excel(path, index=False)


def _parquet(frame: pd.DataFrame, path: Path) -> None:
    frame.to_parquet(path, index=False)


def _stata(frame: pd.DataFrame, path: Path) -> None:
    """Stata has no missing text (blank is missing) and no nullable integers."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object:
            out[col] = out[col].fillna("")
        elif isinstance(out[col].dtype, pd.Int64Dtype):
            out[col] = out[col].astype(np.float64)
    out.to_stata(path, write_index=False, version=118)


def _stata_117_gb18030(frame: pd.DataFrame, path: Path) -> None:
    """A Stata 13 file written on a Chinese system: text stored as GB18030 bytes."""
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_string_dtype(out[col].dtype):
            text = out[col].fillna("").map(lambda s: s.encode("gb18030").decode("latin-1"))
            out[col] = text.astype(object)
        elif isinstance(out[col].dtype, pd.Int64Dtype):
            out[col] = out[col].astype(np.float64)
    out.to_stata(path, write_index=False, version=117)


FORMATS = {
    "csv-utf8": (".csv", _csv("utf-8")),
    "csv-utf8-bom": (".csv", _csv("utf-8-sig")),
    "csv-gb18030": (".csv", _csv("gb18030")),
    "csv-utf16": (".csv", _csv("utf-16")),
    "xlsx": (".xlsx", _excel),
    "parquet": (".parquet", _parquet),
    "dta-118": (".dta", _stata),
    "dta-117-gb18030": (".dta", _stata_117_gb18030),
}


def write_dataset(folder: Path, data: sustain.Dataset, suffix: str, writer: Callable) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("agencies", "contracts", "revenue"):
        writer(getattr(data, name), folder / f"{name}{suffix}")
    return folder


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_round_trip_in_every_format(tmp_path, fmt):
    original = valid_dataset()
    suffix, writer = FORMATS[fmt]
    data = sustain.read_dataset(write_dataset(tmp_path, original, suffix, writer))
    assert data.problems.empty, data.problems
    for name in ("agencies", "contracts", "revenue"):
        pd.testing.assert_frame_equal(getattr(data, name), getattr(original, name), rtol=EXACT)
    assert data.source == str(tmp_path)


def test_gb18030_file_is_really_gb18030_and_detected(tmp_path):
    write_dataset(tmp_path, valid_dataset(), ".csv", _csv("gb18030"))
    raw = (tmp_path / "agencies.csv").read_bytes()
    assert "越秀区".encode("gb18030") in raw
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert detect_encoding(tmp_path / "agencies.csv") == "gb18030"


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gbk", "gb18030"), ("utf-16", "utf-16")],
)
def test_detect_encoding(tmp_path, encoding, expected):
    path = tmp_path / "t.csv"
    path.write_bytes("agency_id,name\n1,广州市社会工作协会\n".encode(encoding))
    assert detect_encoding(path) == expected


def test_ascii_only_file_is_utf8(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"agency_id\n1\n")
    assert detect_encoding(path) == "utf-8"


def test_undecodable_file_asks_for_an_encoding(tmp_path):
    path = tmp_path / "agencies.csv"
    path.write_bytes(b"agency_id,name\n1,caf\xe9\xff\xff\n")
    with pytest.raises(DataError) as info:
        detect_encoding(path)
    assert info.value.problems.loc[0, "rule"] == (
        "text is not UTF-8 (first bad byte at offset 20) and no other encoding is clearly "
        "right (decodes as: none); pass encoding=, e.g. encoding='gb18030', encoding='big5' "
        "or encoding='cp1252'"
    )
    assert "agencies.csv: text is not UTF-8" in str(info.value)


def test_encoding_override_reads_big5(tmp_path):
    """Big5 (Taiwan, Hong Kong) bytes also decode as GB18030, into nonsense: detection tells
    them apart by which characters are common, and encoding= still works."""
    data = valid_dataset()
    agencies = data.agencies.assign(district=["Yuexiu", "Tianhe", "Haizhu"])
    agencies["name"] = ["臺北社工", "香港社會服務", "澳門社工"]
    contracts = data.contracts.assign(funder=["Bureau", "Bureau", "Street", "City"])
    agencies.to_csv(tmp_path / "agencies.csv", index=False, encoding="big5")
    contracts.to_csv(tmp_path / "contracts.csv", index=False, encoding="big5")
    assert detect_encoding(tmp_path / "agencies.csv") == "big5"
    read = sustain.read_dataset(tmp_path, encoding="big5")
    pd.testing.assert_frame_equal(read.agencies, agencies)
    detected = sustain.read_dataset(tmp_path)
    pd.testing.assert_frame_equal(detected.agencies, agencies)


# ---------------------------------------------------------------- row numbers

CONTRACTS_WITH_TROUBLE = (
    "contract_id,agency_id,year,funder,tier,contract_type,amount,service,score\n"
    'C1,001,2015,"Yuexiu\nCivil Affairs",district,open_tender,500000,family,85\n'
    "\n"
    "C2,001,2016,Bureau,district,open_tender,-1,family,85\n"
    "C3,001,2016,Bureau,district,open_tender,100,family,85,surplus\n"
    "C4,001,2017,Bureau,district,open_tender,100,family,\n"
)


def _trouble_folder(tmp_path: Path) -> Path:
    data = valid_dataset()
    data.agencies.to_csv(tmp_path / "agencies.csv", index=False)
    (tmp_path / "contracts.csv").write_text(CONTRACTS_WITH_TROUBLE, encoding="utf-8")
    return tmp_path


def test_csv_rows_are_spreadsheet_rows(tmp_path):
    """Quoted line breaks stay in one row, blank lines count, malformed lines are reported."""
    data = sustain.read_dataset(_trouble_folder(tmp_path), errors="drop")
    got = data.problems[["row", "column", "rule", "value", "severity"]].to_dict("records")
    assert got == [
        {
            "row": 2,
            "column": "funder",
            "rule": "funder normalised to 'Yuexiu Civil Affairs'",
            "value": "Yuexiu\nCivil Affairs",
            "severity": "note",
        },
        {
            "row": 3,
            "column": None,
            "rule": "empty row skipped",
            "value": "",
            "severity": "note",
        },
        {
            "row": 4,
            "column": "amount",
            "rule": "amount must be > 0",
            "value": "-1",
            "severity": "error",
        },
        {
            "row": 5,
            "column": None,
            "rule": "row has 10 fields but the header has 9",
            "value": "",
            "severity": "error",
        },
    ]
    assert data.contracts["contract_id"].tolist() == ["C1", "C4"]
    assert data.contracts["funder"].tolist() == ["Yuexiu Civil Affairs", "Bureau"]


def test_malformed_csv_line_fails_strict_mode(tmp_path):
    with pytest.raises(DataError, match="contracts.csv, row 5: row has 10 fields"):
        sustain.read_dataset(_trouble_folder(tmp_path))


def test_excel_rows_are_worksheet_rows(tmp_path):
    data = valid_dataset()
    write_dataset(tmp_path, data, ".xlsx", _excel)
    book = openpyxl.load_workbook(tmp_path / "contracts.xlsx")
    sheet = book.active
    sheet.insert_rows(3)  # an empty row 3; the second contract moves to row 4
    sheet["G5"] = "lots"  # amount of the third contract
    book.save(tmp_path / "contracts.xlsx")
    read = sustain.read_dataset(tmp_path, errors="drop")
    assert read.problems[["file", "row", "rule"]].values.tolist() == [
        ["contracts.xlsx", 3, "empty row skipped"],
        ["contracts.xlsx", 5, "amount must be a number"],
    ]
    assert read.contracts["contract_id"].tolist() == ["GZ-0001", "GZ-0001", "GZ-0003"]


@pytest.mark.parametrize("fmt", ["parquet", "dta-118"])
def test_binary_formats_number_observations(tmp_path, fmt):
    data = valid_dataset()
    contracts = data.contracts.copy()
    contracts.loc[2, "amount"] = -5.0
    data = sustain.Dataset(data.agencies, contracts, data.revenue)
    suffix, writer = FORMATS[fmt]
    write_dataset(tmp_path, data, suffix, writer)
    with pytest.raises(DataError) as info:
        sustain.read_dataset(tmp_path)
    assert info.value.problems[["file", "row", "value"]].values.tolist() == [
        [f"contracts{suffix}", 3, "-5.0"]
    ]


# ---------------------------------------------------------------- types as read


def test_csv_ids_keep_leading_zeros_and_extras_pass_through(tmp_path):
    data = valid_dataset()
    write_dataset(tmp_path, data, ".csv", _csv("utf-8"))
    data.agencies.assign(staff=["12", "", "007"]).to_csv(tmp_path / "agencies.csv", index=False)
    read = sustain.read_dataset(tmp_path)
    assert read.agencies["agency_id"].tolist() == ["001", "002", "010"]
    assert read.agencies["staff"].fillna("<blank>").tolist() == ["12", "<blank>", "007"]


def test_numeric_ids_in_binary_formats_become_text(tmp_path):
    data = valid_dataset()
    agencies = data.agencies.assign(agency_id=[1.0, 2.0, 10.0])
    contracts = data.contracts.assign(agency_id=[1, 1, 2, 10])
    revenue = data.revenue.assign(agency_id=[1, 2])
    for name, frame in (("agencies", agencies), ("contracts", contracts), ("revenue", revenue)):
        _stata(frame, tmp_path / f"{name}.dta")
    read = sustain.read_dataset(tmp_path)
    assert read.agencies["agency_id"].tolist() == ["1", "2", "10"]
    assert read.contracts["agency_id"].tolist() == ["1", "1", "2", "10"]


def test_stata_value_labels_become_text(tmp_path):
    data = valid_dataset()
    write_dataset(tmp_path, data, ".dta", _stata)
    _stata(data.contracts.assign(tier=pd.Categorical(data.contracts["tier"])), tmp_path / "c.dta")
    (tmp_path / "c.dta").replace(tmp_path / "contracts.dta")
    assert pd.read_stata(tmp_path / "contracts.dta")["tier"].dtype == "category"
    read = sustain.read_dataset(tmp_path)
    pd.testing.assert_frame_equal(read.contracts, data.contracts)


def test_semicolon_and_tab_separated_files(tmp_path):
    data = valid_dataset()
    data.agencies.to_csv(tmp_path / "agencies.csv", index=False, sep=";")
    data.contracts.to_csv(tmp_path / "contracts.csv", index=False, sep="\t")
    read = sustain.read_dataset(tmp_path)
    pd.testing.assert_frame_equal(read.agencies, data.agencies)
    pd.testing.assert_frame_equal(read.contracts, data.contracts)


def test_unnamed_columns(tmp_path):
    data = valid_dataset()
    write_dataset(tmp_path, data, ".csv", _csv("utf-8"))
    text = (tmp_path / "revenue.csv").read_text().splitlines()
    lines = [text[0] + ",,", text[1] + ",,note", text[2] + ",,"]
    (tmp_path / "revenue.csv").write_text("\n".join(lines) + "\n")
    read = sustain.read_dataset(tmp_path)
    assert read.problems[["row", "column", "rule"]].values.tolist() == [
        [1, "unnamed_6", "column name normalised to 'unnamed_6'"]
    ]
    assert read.revenue["unnamed_6"].fillna("<blank>").tolist() == ["note", "<blank>"]
    assert list(read.revenue.columns) == ["agency_id", "year", "source", "amount", "unnamed_6"]


# ---------------------------------------------------------------- problems with files


def _problem_rules(exc: DataError) -> list[tuple[str, str]]:
    return list(zip(exc.problems["file"], exc.problems["rule"], strict=True))


@pytest.mark.parametrize("errors", ["raise", "drop"])
def test_missing_folder_and_missing_files(tmp_path, errors):
    with pytest.raises(DataError, match="data folder not found"):
        sustain.read_dataset(tmp_path / "nowhere", errors=errors)
    (tmp_path / "agencies.csv").write_text("agency_id,founded,district\n")
    with pytest.raises(DataError) as info:
        sustain.read_dataset(tmp_path, errors=errors)
    ((file, rule),) = _problem_rules(info.value)
    assert file == "contracts.*"
    assert rule.startswith(
        "required file contracts.* not found (formats read: .csv, .dta, .parquet, .pq, .xlsm, "
        ".xlsx); the folder holds: agencies.csv. If these are your own files, draft a mapping "
        f"with `sustain mapping {tmp_path} --out import.toml`"
    )


def test_two_formats_and_unsupported_formats_are_reported_together(tmp_path):
    for name in ("agencies.csv", "agencies.xlsx", "contracts.xls", "revenue.json"):
        (tmp_path / name).write_bytes(b"")
    with pytest.raises(DataError) as info:
        find_tables(tmp_path)
    formats = ".csv, .dta, .parquet, .pq, .xlsm, .xlsx"
    assert _problem_rules(info.value) == [
        ("agencies.*", "two or more files for the agencies table (agencies.csv, agencies.xlsx)"),
        (
            "contracts.*",
            f"contracts.xls: format not read (save .xls workbooks as .xlsx); use one of {formats}",
        ),
        ("revenue.*", f"revenue.json: format not read; use one of {formats}"),
    ]


def test_file_names_are_case_insensitive(tmp_path):
    data = valid_dataset()
    data.agencies.to_csv(tmp_path / "Agencies.CSV", index=False)
    data.contracts.to_parquet(tmp_path / "CONTRACTS.parquet", index=False)
    read = sustain.read_dataset(tmp_path)
    assert len(read.agencies) == 3 and len(read.contracts) == 4 and read.revenue.empty


@pytest.mark.parametrize("errors", ["raise", "drop"])
def test_unreadable_files_are_all_reported(tmp_path, errors):
    (tmp_path / "agencies.csv").write_bytes(b"")
    (tmp_path / "contracts.parquet").write_bytes(b"not a parquet file")
    (tmp_path / "revenue.xlsx").write_bytes(b"not a workbook")
    with pytest.raises(DataError) as info:
        sustain.read_dataset(tmp_path, errors=errors)
    files, rules = zip(*_problem_rules(info.value), strict=True)
    assert files == ("agencies.csv", "contracts.parquet", "revenue.xlsx")
    assert rules[0] == "the file is empty (no header row)"
    assert all(rule.startswith("cannot read the file: ") for rule in rules[1:])


def test_header_only_file_has_no_data_rows(tmp_path):
    data = valid_dataset()
    write_dataset(tmp_path, data, ".csv", _csv("utf-8"))
    data.contracts.iloc[:0].to_csv(tmp_path / "contracts.csv", index=False)
    with pytest.raises(DataError, match="contracts.csv: the table has no data rows"):
        sustain.read_dataset(tmp_path, errors="drop")


def test_read_table_reports_unknown_format(tmp_path):
    with pytest.raises(DataError, match="format not read"):
        read_table(tmp_path / "agencies.sav")


def test_utf8_bom_is_not_part_of_the_first_column_name(tmp_path):
    path = tmp_path / "revenue.csv"
    path.write_bytes(codecs.BOM_UTF8 + b"agency_id,year,source,amount\n001,2015,fee,1\n")
    table = read_table(path)
    assert list(table.frame.columns) == ["agency_id", "year", "source", "amount"]
    assert table.rows.tolist() == [2]
