"""A realistic Guangzhou researcher's files, generated for the tests (nothing is downloaded).

``write_ledger(folder)`` writes what a researcher holds:

* ``广州市社工机构名录.xlsx``: an agency register (sheet ``机构名录``: 机构编号, 机构名称, 成立年份,
  所在区, 注销年份, 机构类型) with a second worksheet of other income (``其他收入``: 机构编号, 年度,
  收入来源, 金额（元）);
* ``政府购买服务合同台账.csv``, GB18030: one row per contract with its term and its total in 万元
  with thousands separators (项目编号, 机构编号, 购买主体, 购买层级, 采购方式, 服务类型,
  合同金额（万元）, 开始日期, 结束日期, 评估得分), Chinese tiers and procurement methods (one local
  word, 框架协议采购, needs a value map), "—" for scores not evaluated, and notes rows under the
  data (注：…).

``LEDGER_MAPPING`` is the mapping a researcher would write for these files. ``Ledger`` carries
the generated records as Python objects, so that tests can convert them independently.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd

DISTRICTS = ("越秀区", "海珠区", "荔湾区", "天河区", "白云区", "黄埔区", "番禺区", "花都区",
             "南沙区", "从化区", "增城区")  # fmt: skip
TIER_WORDS = {"市级": "municipal", "区级": "district", "街道": "subdistrict", "镇街": "subdistrict"}
METHOD_WORDS = {
    "公开招标": "open_tender",
    "竞争性磋商": "competitive_consultation",
    "竞争性谈判": "competitive_negotiation",
    "单一来源": "single_source",
    "定向委托": "directed_commission",
    "框架协议采购": "invited_tender",  # a local word: needs a value map
}
SERVICES = ("家庭综合服务", "长者服务", "青少年服务", "残障服务", "社区服务")
OBSERVED_UNTIL = 2023
AGENCY_FILE = "广州市社工机构名录.xlsx"
CONTRACT_FILE = "政府购买服务合同台账.csv"
NOTES = ("注：合同金额单位为万元，为合同期内总额。", "数据来源：各区民政局，截至2023年12月。")

LEDGER_MAPPING = {
    "dataset": {"observed_until": OBSERVED_UNTIL},
    "agencies": {
        "file": AGENCY_FILE,
        "sheet": "机构名录",
        "columns": {
            "机构编号": "agency_id",
            "机构名称": "name",
            "成立年份": "founded",
            "所在区": "district",
            "注销年份": "closed",
            "机构类型": "origin",
        },
    },
    "revenue": {
        "file": AGENCY_FILE,
        "sheet": "其他收入",
        "columns": {
            "机构编号": "agency_id",
            "年度": "year",
            "收入来源": "source",
            "金额（元）": "amount",
        },
    },
    "contracts": {
        "file": CONTRACT_FILE,
        "na_values": ["—"],
        "units": {"amount": "wan"},
        "term": {"start": "开始日期", "end": "结束日期", "split": "days"},
        "columns": {
            "项目编号": "contract_id",
            "机构编号": "agency_id",
            "购买主体": "funder",
            "购买层级": "tier",
            "采购方式": "contract_type",
            "服务类型": "service",
            "合同金额（万元）": "amount",
            "评估得分": "score",
        },
        "values": {"contract_type": {"框架协议采购": "invited_tender"}},
    },
}


@dataclass(frozen=True)
class Ledger:
    """The generated records, as written (text as in the files)."""

    agencies: pd.DataFrame  # 机构编号, 机构名称, 成立年份, 所在区, 注销年份 (int or None), 机构类型
    income: pd.DataFrame  # 机构编号, 年度, 收入来源, 金额（元）
    contracts: pd.DataFrame  # as written in the CSV (amount text in 万元, dates as text)
    folder: Path


def write_ledger(folder: Path, n_agencies: int = 60, seed: int = 2024) -> Ledger:
    """Generate and write the researcher's files into ``folder``."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    agencies = _agencies(rng, n_agencies)
    contracts = _contracts(rng, agencies)
    income = _income(rng, agencies)
    _write_register(folder / AGENCY_FILE, agencies, income)
    _write_ledger_csv(folder / CONTRACT_FILE, contracts)
    return Ledger(agencies, income, contracts, folder)


def _agencies(rng: np.random.Generator, n: int) -> pd.DataFrame:
    founded = rng.integers(2008, 2019, n)
    closes = rng.random(n) < 0.3
    closed = [
        int(f + rng.integers(3, 9)) if c else None for f, c in zip(founded, closes, strict=True)
    ]
    closed = [c if c is None or c <= OBSERVED_UNTIL else None for c in closed]
    return pd.DataFrame(
        {
            "机构编号": [f"GZ{i:04d}" for i in range(1, n + 1)],
            "机构名称": [f"广州市{DISTRICTS[i % 11][:-1]}社会工作服务中心{i}号" for i in range(n)],
            "成立年份": founded,
            "所在区": [DISTRICTS[i % 11] for i in range(n)],
            "注销年份": pd.array(closed, dtype="Int64"),
            "机构类型": rng.choice(["草根", "政府发起", "高校背景"], n),
        }
    )


def _contracts(rng: np.random.Generator, agencies: pd.DataFrame) -> pd.DataFrame:
    rows = []
    k = 0
    for agency in agencies.itertuples(index=False):
        aid, founded, district, closed = agency[0], agency[2], agency[3], agency[4]
        start_year = max(int(founded), 2012)
        last = OBSERVED_UNTIL if pd.isna(closed) else int(closed)
        year = start_year
        while year <= last:
            k += 1
            month = int(rng.integers(1, 13))
            start = dt.date(year, month, 1)
            years = int(rng.choice([1, 2, 3], p=[0.3, 0.3, 0.4]))
            end = dt.date(year + years, month, 1) - dt.timedelta(days=1)
            tier = rng.choice(list(TIER_WORDS), p=[0.1, 0.3, 0.45, 0.15])
            method = rng.choice(list(METHOD_WORDS), p=[0.35, 0.15, 0.1, 0.15, 0.2, 0.05])
            total_wan = round(float(rng.uniform(40, 450)) * years, 2)
            score = rng.uniform(70, 98) if rng.random() < 0.8 else None
            funder = {
                "市级": "广州市民政局",
                "区级": f"{district}民政局",
                "街道": f"{district}第{int(rng.integers(1, 6))}街道办事处",
                "镇街": f"{district}第{int(rng.integers(1, 4))}镇人民政府",
            }[str(tier)]
            rows.append(
                {
                    "项目编号": f"GZCG-{year}-{k:05d}",
                    "机构编号": aid,
                    "购买主体": funder,
                    "购买层级": tier,
                    "采购方式": method,
                    "服务类型": rng.choice(SERVICES),
                    "合同金额（万元）": f"{total_wan:,.2f}",
                    "开始日期": start.isoformat()
                    if k % 3
                    else f"{start.year}年{start.month}月{start.day}日",
                    "结束日期": end.isoformat(),
                    "评估得分": "—" if score is None else f"{score:.1f}",
                }
            )
            year = end.year + 1 if rng.random() < 0.6 else end.year + int(rng.integers(1, 3))
    return pd.DataFrame(rows)


def _income(rng: np.random.Generator, agencies: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for agency in agencies.itertuples(index=False):
        aid, founded, closed = agency[0], int(agency[2]), agency[4]
        last = OBSERVED_UNTIL if pd.isna(closed) else int(closed)
        for year in range(max(founded, 2012), last + 1):
            for source in ("基金会", "社会捐赠", "服务收费"):
                if rng.random() < 0.25:
                    rows.append({"机构编号": aid, "年度": year, "收入来源": source,
                                 "金额（元）": round(float(rng.uniform(1e4, 3e5)), 2)})  # fmt: skip
    return pd.DataFrame(rows)


def _write_register(path: Path, agencies: pd.DataFrame, income: pd.DataFrame) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "机构名录"
    sheet.append(list(agencies.columns))
    for rec in agencies.itertuples(index=False):
        sheet.append(
            [None if pd.isna(v) else (int(v) if isinstance(v, np.integer) else v) for v in rec]
        )
    other = book.create_sheet("其他收入")
    other.append(list(income.columns))
    for rec in income.itertuples(index=False):
        other.append([int(v) if isinstance(v, np.integer) else v for v in rec])
    book.save(path)


def _write_ledger_csv(path: Path, contracts: pd.DataFrame) -> None:
    text = contracts.to_csv(index=False, lineterminator="\r\n")
    # one notes row padded with empty cells, one written as a lone cell
    text += f"{NOTES[0]}{',' * (contracts.shape[1] - 1)}\r\n{NOTES[1]}\r\n"
    path.write_bytes(text.encode("gb18030"))
