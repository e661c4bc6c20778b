"""Reading a researcher's own files through an import mapping (DESIGN: "Importing real records").

The bundled ledger (tests/support/ledger.py) has Chinese headers and categories, a GB18030 CSV
and a two-sheet workbook, totals in 万元 over multi-year terms, "—" scores and notes rows. The
panel read through the mapping must equal the panel built from the same records converted by
the straightforward implementation below, written independently of sustain's code (exact
fractions and a per-contract loop instead of vectorised float shares).
"""

from __future__ import annotations

import datetime as dt
import shutil
import warnings
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support.ledger import (
    AGENCY_FILE,
    CONTRACT_FILE,
    LEDGER_MAPPING,
    METHOD_WORDS,
    NOTES,
    OBSERVED_UNTIL,
    TIER_WORDS,
    Ledger,
    write_ledger,
)

import sustain
from sustain.errors import DataError, DataWarning, SpecError

#: Each contract-year within one cent of the independent split: both give every year the floor
#: of its exact share plus at most one cent, but float and exact shares may rank two equal
#: remainders differently.
CENT = 0.01 + 1e-9
#: Panel measures of the two routes agree to float rounding (same inputs up to a cent's order).
MEASURE_TOL = 1e-6


@pytest.fixture(scope="module")
def ledger(tmp_path_factory) -> Ledger:
    return write_ledger(tmp_path_factory.mktemp("ledger"))


@pytest.fixture(scope="module")
def mapped(ledger) -> sustain.Dataset:
    return sustain.read_dataset(ledger.folder, mapping=LEDGER_MAPPING)


# ---------------------------------------------------------------- the independent conversion


def _date(text: str) -> dt.date:
    text = text.strip()
    if "年" in text:
        y, rest = text.split("年")
        m, rest = rest.split("月")
        return dt.date(int(y), int(m), int(rest.rstrip("日")))
    return dt.date.fromisoformat(text)


def _split_exactly(total_cents: int, start: dt.date, end: dt.date) -> dict[int, int]:
    """Days of the term in each calendar year, largest remainder on exact fractions."""
    days = {}
    for year in range(start.year, end.year + 1):
        lo, hi = max(start, dt.date(year, 1, 1)), min(end, dt.date(year, 12, 31))
        days[year] = (hi - lo).days + 1
    total_days = sum(days.values())
    exact = {y: Fraction(d * total_cents, total_days) for y, d in days.items()}
    cents = {y: int(e) for y, e in exact.items()}  # floor: shares are non-negative
    left = total_cents - sum(cents.values())
    for y in sorted(exact, key=lambda y: (-(exact[y] - cents[y]), y))[:left]:
        cents[y] += 1
    return cents


def straightforward(ledger: Ledger) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The ledger as standard tables, converted row by row (a researcher's careful script)."""
    a = ledger.agencies
    agencies = pd.DataFrame(
        {
            "agency_id": a["机构编号"],
            "founded": a["成立年份"].astype(int),
            "district": a["所在区"],
            "closed": pd.array(a["注销年份"], dtype="Int64"),
            "origin": a["机构类型"],
            "name": a["机构名称"],
        }
    )
    closed = dict(zip(agencies["agency_id"], agencies["closed"], strict=True))
    rows = []
    for rec in ledger.contracts.to_dict("records"):
        total = int(Decimal(rec["合同金额（万元）"].replace(",", "")) * 10000 * 100)
        start, end = _date(rec["开始日期"]), _date(rec["结束日期"])
        score = None if rec["评估得分"] == "—" else float(rec["评估得分"])
        for year, cents in _split_exactly(total, start, end).items():
            last = closed[rec["机构编号"]]
            if year > OBSERVED_UNTIL or (not pd.isna(last) and year > last):
                continue
            rows.append(
                {
                    "contract_id": rec["项目编号"],
                    "agency_id": rec["机构编号"],
                    "year": year,
                    "funder": rec["购买主体"],
                    "tier": TIER_WORDS[rec["购买层级"]],
                    "contract_type": METHOD_WORDS[rec["采购方式"]],
                    "amount": cents / 100,
                    "service": rec["服务类型"],
                    "score": score,
                }
            )
    contracts = pd.DataFrame(rows)
    i = ledger.income
    revenue = pd.DataFrame(
        {
            "agency_id": i["机构编号"],
            "year": i["年度"].astype(int),
            "source": i["收入来源"],
            "amount": i["金额（元）"].astype(float),
        }
    )
    return agencies, contracts, revenue


# ---------------------------------------------------------------- the panel


def test_panel_through_the_mapping_equals_the_independent_conversion(ledger, mapped):
    agencies, contracts, revenue = straightforward(ledger)
    reference = sustain.validate(agencies, contracts, revenue)
    got = sustain.build_panel(mapped)
    want = sustain.build_panel(reference)
    assert got.index.equals(want.index)
    keyed = mapped.contracts.set_index(["contract_id", "year"]).sort_index()
    expected = contracts.set_index(["contract_id", "year"]).sort_index()
    assert keyed.index.equals(expected.index)
    np.testing.assert_allclose(keyed["amount"], expected["amount"], atol=CENT, rtol=0)
    for column in ("tier", "contract_type", "funder", "service", "agency_id"):
        assert keyed[column].tolist() == expected[column].tolist(), column
    np.testing.assert_allclose(keyed["score"], expected["score"].astype(float), equal_nan=True)
    numeric = want.select_dtypes("number").columns
    np.testing.assert_allclose(
        got[numeric].to_numpy(float), want[numeric].to_numpy(float), atol=CENT, rtol=MEASURE_TOL
    )
    assert got["main_tier"].fillna("").tolist() == want["main_tier"].fillna("").tolist()


def test_cents_are_conserved_per_contract(ledger, mapped):
    """Kept contract-years plus the amounts noted as not counted sum to each total exactly."""
    totals = {
        rec["项目编号"]: int(Decimal(rec["合同金额（万元）"].replace(",", "")) * 1_000_000)
        for rec in ledger.contracts.to_dict("records")
    }
    kept = (mapped.contracts["amount"] * 100).round().astype(int)
    kept_by = kept.groupby(mapped.contracts["contract_id"]).sum().to_dict()
    notes = mapped.problems[mapped.problems["rule"].str.contains("not counted")]
    rows = ledger.contracts["项目编号"].to_numpy()
    left = {}
    for row, rule in zip(notes["row"], notes["rule"], strict=True):
        cents = int(round(float(rule.split(", ")[-1].split(" yuan")[0].replace(",", "")) * 100))
        cid = rows[int(row) - 2]  # file row 2 is the first contract
        left[cid] = left.get(cid, 0) + cents
    assert left, "the ledger has contract-years after closure and after observed_until"
    for cid, total in totals.items():
        assert kept_by.get(cid, 0) + left.get(cid, 0) == total, cid


def test_window_ends_at_observed_until(ledger, mapped):
    assert mapped.observed_until == OBSERVED_UNTIL
    assert mapped.contracts["year"].max() == OBSERVED_UNTIL
    panel = sustain.build_panel(mapped)
    assert panel.index.get_level_values("year").max() == OBSERVED_UNTIL
    runs_on = pd.to_datetime(ledger.contracts["结束日期"]).dt.year > OBSERVED_UNTIL
    assert runs_on.any(), "the ledger should hold contracts running past the window"
    after = mapped.problems["rule"].str.contains(
        f"is after observed_until ({OBSERVED_UNTIL})", regex=False
    )
    assert after.sum() >= runs_on.sum()
    assert (mapped.problems.loc[after, "severity"] == "note").all()


def test_years_after_closure_are_notes_not_errors(ledger, mapped):
    late = mapped.problems[mapped.problems["rule"].str.contains("after the agency closed")]
    assert len(late) > 0 and (late["severity"] == "note").all()
    assert (late["file"] == CONTRACT_FILE).all()
    closed = mapped.agencies.set_index("agency_id")["closed"]
    years = mapped.contracts.join(closed, on="agency_id", suffixes=("", "_agency"))
    assert (years["closed"].isna() | (years["year"] <= years["closed"])).all()


def test_problems_name_the_users_files_rows_and_headers(mapped):
    p = mapped.problems
    assert set(p["file"]) == {CONTRACT_FILE}
    assert {"购买层级", "采购方式"} <= set(p["column"].dropna())
    tier_notes = p[p["column"] == "购买层级"]
    assert len(tier_notes) == len(TIER_WORDS)  # once per distinct word, not per cell
    assert tier_notes["rule"].str.contains("built-in word").all()
    value_map = p[p["rule"].str.contains("value map '框架协议采购'")]
    assert len(value_map) == 1 and value_map["severity"].iloc[0] == "note"


def test_notes_rows_under_the_data_are_skipped_with_a_note(ledger, mapped):
    notes = mapped.problems[mapped.problems["rule"].str.startswith("row below the data")]
    assert notes["value"].tolist() == list(NOTES)
    first = len(ledger.contracts) + 2
    assert notes["row"].tolist() == [first, first + 1]


def test_score_in_every_year_or_only_the_last(ledger):
    mapping = {
        **LEDGER_MAPPING,
        "contracts": {**LEDGER_MAPPING["contracts"], "score_years": "last"},
    }
    data = sustain.read_dataset(ledger.folder, mapping=mapping)
    scored = data.contracts.dropna(subset=["score"])
    last = data.contracts.groupby("contract_id")["year"].transform("max")
    assert (scored["year"] == last[scored.index]).all()
    term_end = scored["term_end"].dt.year
    assert (scored["year"] == term_end).all()  # kept only where the last year is observed


def test_lenient_mode_drops_only_the_offending_rows(ledger, tmp_path):
    folder = tmp_path / "bad"
    shutil.copytree(ledger.folder, folder)
    frame = ledger.contracts.copy()
    frame.loc[3, "合同金额（万元）"] = "abc"
    frame.loc[7, "结束日期"] = "2010-01-01"  # ends before it starts
    frame.loc[9, "购买层级"] = "省级"  # a tier the contract does not know
    text = frame.to_csv(index=False)
    (folder / CONTRACT_FILE).write_bytes(text.encode("gb18030"))
    with pytest.raises(DataError) as info:
        sustain.read_dataset(folder, mapping=LEDGER_MAPPING)
    errors = info.value.problems[info.value.problems["severity"] == "error"]
    assert errors[["row", "column"]].values.tolist() == [
        [5, "合同金额（万元）"],
        [9, "结束日期"],
        [11, "购买层级"],
    ]
    assert errors["rule"].tolist()[:2] == [
        "amount must be a number",
        "the term ends before it starts",
    ]
    lenient = sustain.read_dataset(folder, mapping=LEDGER_MAPPING, errors="drop")
    dropped = {frame.loc[i, "项目编号"] for i in (3, 7, 9)}
    assert dropped.isdisjoint(lenient.contracts["contract_id"])
    strict_ok = set(
        sustain.read_dataset(ledger.folder, mapping=LEDGER_MAPPING).contracts["contract_id"]
    )
    assert set(lenient.contracts["contract_id"]) == strict_ok - dropped


def test_unknown_values_are_summarised_once_with_count_and_first_rows(ledger, tmp_path):
    folder = tmp_path / "unknown"
    shutil.copytree(ledger.folder, folder)
    mapping = {**LEDGER_MAPPING, "contracts": {**LEDGER_MAPPING["contracts"], "values": {}}}
    with pytest.raises(DataError) as info:
        sustain.read_dataset(folder, mapping=mapping)
    message = str(info.value)
    unknown = (ledger.contracts["采购方式"] == "框架协议采购").to_numpy()
    rows = np.flatnonzero(unknown) + 2
    lines = [line for line in message.splitlines() if "框架协议采购" in line]
    assert len(lines) == 1
    assert f"{unknown.sum()} rows ({', '.join(map(str, rows[:5]))}" in lines[0]
    assert "column '采购方式'" in lines[0]


# ---------------------------------------------------------------- files and mapping errors


def test_reading_without_a_mapping_lists_the_files_and_names_the_command(ledger):
    with pytest.raises(DataError) as info:
        sustain.read_dataset(ledger.folder)
    message = str(info.value)
    listed = ", ".join(sorted([CONTRACT_FILE, AGENCY_FILE]))
    assert f"the folder holds: {listed}" in message
    assert "sustain mapping" in message


def test_a_mapped_header_missing_from_the_file_names_the_header(ledger):
    mapping = {**LEDGER_MAPPING, "contracts": {**LEDGER_MAPPING["contracts"]}}
    mapping["contracts"]["columns"] = {**mapping["contracts"]["columns"], "评估分数": "score"}
    del mapping["contracts"]["columns"]["评估得分"]
    with pytest.raises(DataError, match=r"the mapping names the header '评估分数' \(for score\) but "
                       r"the file has none; did you mean '评估得分'\?"):  # fmt: skip
        sustain.read_dataset(ledger.folder, mapping=mapping)


def test_a_declared_unit_contradicting_the_header_is_an_error(ledger):
    mapping = {
        **LEDGER_MAPPING,
        "contracts": {**LEDGER_MAPPING["contracts"], "units": {"amount": "yuan"}},
    }
    with pytest.raises(DataError, match=r"declares units.amount = 'yuan' but the header "
                       r"'合同金额（万元）' says 万元"):  # fmt: skip
        sustain.read_dataset(ledger.folder, mapping=mapping)


def test_a_unit_named_in_the_header_is_honoured_with_a_note(ledger):
    mapping = {**LEDGER_MAPPING, "contracts": {**LEDGER_MAPPING["contracts"]}}
    del mapping["contracts"]["units"]
    data = sustain.read_dataset(ledger.folder, mapping=mapping)
    note = data.problems[data.problems["rule"].str.startswith("amount read in 万元")]
    assert note[["row", "column", "severity"]].values.tolist() == [[1, "合同金额（万元）", "note"]]
    reference = sustain.read_dataset(ledger.folder, mapping=LEDGER_MAPPING)
    pd.testing.assert_frame_equal(data.contracts, reference.contracts)


def test_amounts_that_look_like_wan_raise_a_warning(ledger, tmp_path):
    folder = tmp_path / "wan"
    shutil.copytree(ledger.folder, folder)
    frame = ledger.contracts.rename(columns={"合同金额（万元）": "合同金额"})
    (folder / CONTRACT_FILE).write_bytes(frame.to_csv(index=False).encode("gb18030"))
    mapping = {**LEDGER_MAPPING, "contracts": {**LEDGER_MAPPING["contracts"]}}
    mapping["contracts"]["columns"] = {
        ("合同金额" if k == "合同金额（万元）" else k): v
        for k, v in mapping["contracts"]["columns"].items()
    }
    del mapping["contracts"]["units"]
    with pytest.warns(DataWarning, match="amounts look like 万元"):
        sustain.read_dataset(folder, mapping=mapping)


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"contracts": {"colums": {}}}, "unknown key 'contracts.colums'; did you mean 'columns'"),
        ({"contracts": {"units": {"amount": "million"}}}, "is not one of yuan, thousand, wan, yi"),
        ({"agencies": {"units": {"amount": "wan"}}}, "units apply to amount columns"),
        (
            {"contracts": {"term": {"start": "a", "end": "b", "split": "weeks"}}},
            "term.split='weeks'",
        ),
        ({"contracts": {"term": {"start": "a"}}}, "term.end must name the header"),
        ({"contracts": {"columns": {"a": "amount", "b": "amount"}}}, "maps both 'a' and 'b' onto"),
        (
            {"contracts": {"columns": {"年度": "year"}, "term": {"start": "a", "end": "b"}}},
            "map one or the other",
        ),
        ({"dataset": {"observed_until": "2023"}}, "observed_until must be a year"),
        ({"revenue": {"term": {"start": "a", "end": "b"}}}, "terms apply to contracts only"),
    ],
)
def test_invalid_mappings_are_spec_errors_before_reading(mapping, message, tmp_path):
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        sustain.read_dataset(tmp_path, mapping=mapping)


def test_mapping_from_a_toml_file(ledger, tmp_path):
    draft = sustain.draft_mapping(ledger.folder)
    path = draft.save(tmp_path / "import.toml")
    text = path.read_text(encoding="utf-8")
    text = text.replace('# [contracts.values.contract_type]\n# "框架协议采购" = ""',
                        '[contracts.values.contract_type]\n"框架协议采购" = "invited_tender"')  # fmt: skip
    path.write_text(text, encoding="utf-8")
    from_toml = sustain.read_dataset(ledger.folder, mapping=path)
    from_dict = sustain.read_dataset(ledger.folder, mapping=LEDGER_MAPPING)
    pd.testing.assert_frame_equal(from_toml.contracts, from_dict.contracts)
    pd.testing.assert_frame_equal(from_toml.revenue, from_dict.revenue)


# ---------------------------------------------------------------- drafting


def test_draft_proposes_files_columns_units_and_term(ledger):
    draft = sustain.draft_mapping(ledger.folder)
    m = draft.mapping
    assert m["agencies"]["file"] == AGENCY_FILE and m["agencies"]["sheet"] == "机构名录"
    assert m["revenue"]["file"] == AGENCY_FILE and m["revenue"]["sheet"] == "其他收入"
    assert m["contracts"]["file"] == CONTRACT_FILE
    for name in ("agencies", "revenue"):
        assert m[name]["columns"] == LEDGER_MAPPING[name]["columns"], name
    assert m["contracts"]["columns"] == LEDGER_MAPPING["contracts"]["columns"]
    assert m["contracts"]["units"] == {"amount": "wan"}
    assert m["contracts"]["term"] == {"start": "开始日期", "end": "结束日期", "split": "days"}
    assert m["contracts"]["na_values"] == ["—"]
    assert draft.unplaced["contracts"] == {"contract_type": ["框架协议采购"]}
    assert m["dataset"]["observed_until"] == OBSERVED_UNTIL
    toml = draft.to_toml()
    assert "# guess:" in toml and '# "框架协议采购" = ""' in toml
    import tomllib

    assert tomllib.loads(toml) == {**m, "dataset": m["dataset"]}


def test_draft_cli_writes_the_toml(ledger, tmp_path, capsys):
    from sustain.cli import main

    out = tmp_path / "import.toml"
    assert main(["mapping", str(ledger.folder), "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == sustain.draft_mapping(ledger.folder).to_toml()
    said = capsys.readouterr().out
    assert "import.toml" in said and "guess" in said


def test_draft_of_a_folder_without_data_files_fails(tmp_path):
    (tmp_path / "readme.txt").write_text("nothing here")
    with pytest.raises(DataError, match="no data file"):
        sustain.draft_mapping(tmp_path)


def test_mapping_accepts_a_draft_directly(ledger):
    draft = sustain.draft_mapping(ledger.folder)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        with pytest.raises(DataError, match="框架协议采购"):
            sustain.read_dataset(ledger.folder, mapping=draft)


def test_header_row_below_a_title_block(ledger, tmp_path):
    folder = tmp_path / "title"
    shutil.copytree(ledger.folder, folder)
    text = (folder / CONTRACT_FILE).read_bytes().decode("gb18030")
    title = "广州市政府购买社会工作服务合同台账（2012-2023年）" + "," * (
        ledger.contracts.shape[1] - 1
    )
    (folder / CONTRACT_FILE).write_bytes((title + "\r\n" + text).encode("gb18030"))
    mapping = {**LEDGER_MAPPING, "contracts": {**LEDGER_MAPPING["contracts"], "header": 2}}
    data = sustain.read_dataset(folder, mapping=mapping)
    reference = sustain.read_dataset(ledger.folder, mapping=LEDGER_MAPPING)
    pd.testing.assert_frame_equal(data.contracts, reference.contracts)
    late = data.problems[data.problems["rule"].str.contains("not counted")]
    assert late["row"].min() >= 3  # rows keep their numbers in the file
    assert sustain.draft_mapping(folder).mapping["contracts"]["header"] == 2


def test_build_panel_default_last_year_is_observed_until(ledger):
    mapping = {**LEDGER_MAPPING, "dataset": {"observed_until": 2021}}
    data = sustain.read_dataset(ledger.folder, mapping=mapping)
    assert sustain.build_panel(data).index.get_level_values("year").max() == 2021
    assert not Path(AGENCY_FILE).is_absolute()
