"""`sustain validate DATA_DIR`: prints the problems table; exit status 1 when strict reading
fails, 0 when the data are clean or only normalised."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

from sustain.cli import main

AGENCIES = "agency_id,founded,district,closed\nA1,2010,Yuexiu,\nA2,2012,Tianhe,2018\n"
CONTRACTS = (
    "contract_id,agency_id,year,funder,tier,contract_type,amount\n"
    "C1,A1,2015,Bureau,district,open_tender,500000\n"
    "C2,A2,2016,Street,subdistrict,single_source,200000\n"
)


def make_folder(tmp_path: Path, agencies: str = AGENCIES, contracts: str = CONTRACTS) -> Path:
    (tmp_path / "agencies.csv").write_text(agencies, encoding="utf-8")
    (tmp_path / "contracts.csv").write_text(contracts, encoding="utf-8")
    return tmp_path


def test_clean_folder_exits_0(tmp_path, capsys):
    folder = make_folder(tmp_path)
    assert main(["validate", str(folder)]) == 0
    assert capsys.readouterr().out == f"{folder}: no problems found\n"


def test_errors_print_the_table_and_exit_1(tmp_path, capsys):
    bad = CONTRACTS.replace("500000", "-1").replace("single_source", "Single Source")
    folder = make_folder(tmp_path, contracts=bad)
    assert main(["validate", str(folder)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == [
        "file          row column        severity value         rule",
        "contracts.csv 2   amount        error    -1            amount must be > 0",
        "contracts.csv 3   contract_type error    Single Source contract_type must be one of "
        "open_tender, invited_tender, competitive_negotiation, competitive_consultation, "
        "request_for_quotation, single_source, directed_commission; "
        "did you mean 'single_source'?",
    ]
    assert "every row of contracts.csv was dropped (2 rows)" in lines[3]
    assert lines[-1] == f"3 problem(s) in {folder} (3 error); strict reading fails."


def test_normalisations_alone_exit_0(tmp_path, capsys):
    folder = make_folder(tmp_path, contracts=CONTRACTS.replace(",district,", ",District ,"))
    assert main(["validate", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "tier normalised to 'district'" in out
    assert out.splitlines()[-1] == (f"1 problem(s) in {folder} (1 note); strict reading succeeds.")


def test_dropped_rows_are_counted(tmp_path, capsys):
    folder = make_folder(tmp_path, agencies=AGENCIES.replace("2012", "year?"))
    assert main(["validate", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "dropped because its agency's row is invalid (agencies.csv row 3)" in out
    assert out.splitlines()[-1].endswith("(1 error, 1 dropped); strict reading fails.")


def test_unusable_folder_prints_its_problems_and_exits_1(tmp_path, capsys):
    folder = make_folder(tmp_path, contracts="contract_id,agency_id,year\nC1,A1,2015\n")
    assert main(["validate", str(folder)]) == 1
    out = capsys.readouterr().out
    for column in ("funder", "tier", "contract_type", "amount"):
        assert f"required column '{column}' is missing" in out
    assert out.splitlines()[-1].endswith("(4 error); strict reading fails.")


def test_max_rows_limits_the_table(tmp_path, capsys):
    rows = "".join(f"C{i},A1,2015,Bureau,district,open_tender,-{i}\n" for i in range(1, 31))
    folder = make_folder(tmp_path, contracts=CONTRACTS.splitlines()[0] + "\n" + rows)
    assert main(["validate", str(folder), "--max-rows", "10"]) == 1
    out = capsys.readouterr().out
    assert "... 21 more row(s) not shown" in out
    assert out.splitlines()[-1].startswith("31 problem(s)")  # 30 rows and "every row dropped"


def test_encoding_option(tmp_path, capsys):
    folder = make_folder(tmp_path)
    agencies = pd.DataFrame(
        {"agency_id": ["A1", "A2"], "founded": [2010, 2012], "district": ["臺北", "香港"]}
    )
    agencies.to_csv(folder / "agencies.csv", index=False, encoding="big5")
    assert main(["validate", str(folder), "--encoding", "big5"]) == 0
    capsys.readouterr()


def test_installed_command_exit_status(tmp_path):
    """The real entry point, as a user runs it."""
    folder = make_folder(tmp_path, contracts=CONTRACTS.replace("2015", "2009"))
    exe = Path(sys.executable).parent / "sustain"
    result = subprocess.run([str(exe), "validate", str(folder)], capture_output=True, text=True)
    assert result.returncode == 1
    assert "year must not be before the agency's founded year (2010)" in result.stdout
