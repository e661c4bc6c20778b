"""The field's own words: Chinese names of tiers and procurement methods, and currency units.

Researchers' ledgers write the purchasing tier as 市级, 区级 or 街道 and the procurement method
in the words of the Government Procurement Law (公开招标, 邀请招标, 竞争性谈判, 竞争性磋商,
询价, 单一来源) and of local practice (定向委托). These are recognised without a value map
and reported as notes. Amounts are often kept in 万元 (10,000 yuan); a unit named in a column
header is recognised by :func:`unit_in_header`.
"""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import Literal, TypeAlias

Unit: TypeAlias = Literal["yuan", "thousand", "wan", "yi"]

#: Yuan per unit.
UNIT_FACTORS: MappingProxyType[str, float] = MappingProxyType(
    {"yuan": 1.0, "thousand": 1_000.0, "wan": 10_000.0, "yi": 100_000_000.0}
)
#: The Chinese word of each unit, as it appears in headers such as ``合同金额（万元）``.
UNIT_WORDS: MappingProxyType[str, str] = MappingProxyType(
    {"yuan": "元", "thousand": "千元", "wan": "万元", "yi": "亿元"}
)

#: Chinese (and a few English) spellings of the purchasing tier.
TIER_WORDS: MappingProxyType[str, str] = MappingProxyType(
    {
        "市级": "municipal",
        "市本级": "municipal",
        "市级部门": "municipal",
        "市": "municipal",
        "区级": "district",
        "区": "district",
        "县级": "district",
        "区县": "district",
        "街道": "subdistrict",
        "镇": "subdistrict",
        "街镇": "subdistrict",
        "镇街": "subdistrict",
        "街道办": "subdistrict",
        "街道办事处": "subdistrict",
        "镇政府": "subdistrict",
        "乡镇": "subdistrict",
    }
)

#: Statutory procurement methods (Government Procurement Law, art. 26; the Ministry of
#: Finance's 竞争性磋商 of 2014) and local directed commissioning.
METHOD_WORDS: MappingProxyType[str, str] = MappingProxyType(
    {
        "公开招标": "open_tender",
        "邀请招标": "invited_tender",
        "竞争性谈判": "competitive_negotiation",
        "竞争性磋商": "competitive_consultation",
        "询价": "request_for_quotation",
        "询价采购": "request_for_quotation",
        "单一来源": "single_source",
        "单一来源采购": "single_source",
        "定向委托": "directed_commission",
    }
)

#: Built-in value vocabularies by standard column.
VOCABULARIES: MappingProxyType[str, MappingProxyType[str, str]] = MappingProxyType(
    {"tier": TIER_WORDS, "contract_type": METHOD_WORDS}
)

# 亿元 and 万元 before 千元 before a bare 元; a bare 元 only inside brackets or at the end, so
# that 元旦 or 单元 in a header is not read as a unit.
_UNIT_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("yi", re.compile(r"亿元|[（(]\s*亿\s*[)）]")),
    ("wan", re.compile(r"万元|[（(]\s*万\s*[)）]")),
    ("thousand", re.compile(r"千元")),
    ("yuan", re.compile(r"[（(\[【]\s*(?:人民币)?\s*元\s*[)）\]】]|元$|（元|\(元")),
)


def unit_in_header(header: str) -> Unit | None:
    """The currency unit a column header names, or ``None``.

    Examples
    --------
    >>> unit_in_header("合同金额（万元）"), unit_in_header("金额(元)"), unit_in_header("amount")
    ('wan', 'yuan', None)
    >>> unit_in_header("项目总额（亿元）")
    'yi'
    """
    for unit, pattern in _UNIT_PATTERNS:
        if pattern.search(header):
            return unit  # type: ignore[return-value]
    return None


def vocabulary_value(column: str, value: str) -> str | None:
    """The standard code of a built-in word of ``column``, or ``None``.

    Examples
    --------
    >>> vocabulary_value("tier", "街道"), vocabulary_value("contract_type", "单一来源")
    ('subdistrict', 'single_source')
    >>> vocabulary_value("tier", "框架") is None
    True
    """
    words = VOCABULARIES.get(column)
    return None if words is None else words.get(value)


#: Header words by standard column, tried in order when a mapping is drafted
#: (:func:`sustain.draft_mapping`). A header matches a word when, after NFKC normalisation and
#: case folding, it equals the word or contains it.
HEADER_WORDS: MappingProxyType[str, tuple[str, ...]] = MappingProxyType(
    {
        "agency_id": (
            "机构编号",
            "机构代码",
            "机构id",
            "机构编码",
            "统一社会信用代码",
            "社会信用代码",
            "组织机构代码",
            "agency_id",
            "agency id",
            "org_id",
        ),
        "name": ("机构名称", "单位名称", "组织名称", "名称", "name"),
        "founded": (
            "成立年份",
            "成立年度",
            "成立时间",
            "成立日期",
            "登记年份",
            "注册年份",
            "登记日期",
            "founded",
        ),
        "district": (
            "所在区",
            "所属区",
            "登记区",
            "行政区",
            "区域",
            "所在地区",
            "区县",
            "district",
        ),
        "closed": (
            "注销年份",
            "注销时间",
            "注销日期",
            "撤销年份",
            "关闭年份",
            "停业年份",
            "closed",
        ),
        "origin": ("机构类型", "发起主体", "成立背景", "举办方", "origin"),
        "exit_reason": ("注销原因", "退出原因", "退出方式", "exit_reason"),
        "contract_id": ("项目编号", "合同编号", "项目代码", "采购编号", "项目id", "contract_id"),
        "funder": ("购买主体", "采购人", "采购单位", "购买单位", "购买方", "委托方", "funder"),
        "tier": ("购买层级", "采购层级", "层级", "级别", "tier"),
        "contract_type": ("采购方式", "购买方式", "招标方式", "委托方式", "contract_type"),
        "amount": ("合同金额", "中标金额", "成交金额", "项目金额", "收入金额", "金额", "amount"),
        "service": ("服务类型", "服务领域", "项目类型", "服务类别", "service"),
        "score": ("评估得分", "评估分数", "绩效得分", "评估结果", "得分", "评分", "score"),
        "year": ("财政年度", "年度", "年份", "year"),
        "source": ("收入来源", "资金来源", "来源", "收入类型", "source"),
        "term_start": (
            "开始日期",
            "起始日期",
            "服务开始",
            "合同开始",
            "开始时间",
            "起始时间",
            "start",
        ),
        "term_end": ("结束日期", "终止日期", "服务结束", "合同结束", "结束时间", "截止日期", "end"),
    }
)
