"""Output languages: the fixed text of tables and figures in English or Chinese.

Tables and figures are assembled in English; with ``language="zh"`` their fixed text (row
labels such as *Observations* and *Agency FE*, section titles, model names, notes, axis titles)
is translated here, and variable labels come from the codebook's Chinese column
(``labels="zh"``). Translations follow the conventions of Chinese-language journals in public
administration and sociology (观测值, 机构固定效应, 括号内为以机构聚类的稳健标准误).

Only text sustain writes itself is translated; a user's own labels, captions and notes pass
through unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal, TypeAlias

from sustain.options import check_choice

Language: TypeAlias = Literal["en", "zh"]

#: Category codes of the data contract, in Chinese (tiers, procurement methods, causes).
CODES_ZH: dict[str, str] = {
    "municipal": "市级",
    "district": "区级",
    "subdistrict": "街道（镇）",
    "open_tender": "公开招标",
    "invited_tender": "邀请招标",
    "competitive_negotiation": "竞争性谈判",
    "competitive_consultation": "竞争性磋商",
    "request_for_quotation": "询价",
    "single_source": "单一来源",
    "directed_commission": "定向委托",
    "family": "家庭综合服务",
    "elderly": "长者服务",
    "youth": "青少年服务",
    "disability": "残障服务",
    "community": "社区服务",
    "grassroots": "草根",
    "government_initiated": "政府发起",
    "university": "高校背景",
    "hong_kong_linked": "港资背景",
    "enterprise": "企业背景",
    "closed": "关闭",
    "merged": "合并",
    "deregistered": "注销",
    "lost_contracts": "失去合同",
}

#: Fixed text of tables and figures.
FIXED_ZH: dict[str, str] = {
    # bottom block of regression tables
    "Observations": "观测值",
    "Agencies": "机构数",
    "Districts": "区数",
    "Agency FE": "机构固定效应",
    "Year FE": "年份固定效应",
    "Yes": "是",
    "No": "否",
    "Duration dependence": "时间依赖",
    "Dummies": "年龄虚拟变量",
    "Spline": "样条",
    "Standard errors": "标准误",
    "Conventional": "常规",
    "Robust": "稳健",
    "Driscoll-Kraay": "Driscoll-Kraay",
    "Events": "事件数",
    "Within R²": "组内 R²",
    "Between R²": "组间 R²",
    "Overall R²": "总体 R²",
    "Log-likelihood": "对数似然值",
    "Concordance": "一致性指数",
    "Max R-hat": "最大 R-hat",
    "Min bulk ESS": "最小有效样本量（bulk）",
    "Min tail ESS": "最小有效样本量（tail）",
    "Divergences": "发散转移数",
    # marginal effects (column headers)
    "AME": "平均边际效应",
    "MEM": "均值处边际效应",
    # blocks and special terms
    "Funding": "资金结构",
    "Contract type": "采购方式",
    "Tier": "购买层级",
    "Controls": "控制变量",
    "Scale and group-level": "尺度与组间参数",
    "Constant": "常数项",
    "Residual SD (σ)": "残差标准差（σ）",
    "Degrees of freedom (ν)": "自由度（ν）",
    "intercept": "截距",
    # descriptive and correlation tables
    "Variable": "变量",
    "N": "观测值",
    "Mean": "均值",
    "SD": "标准差",
    "Min": "最小值",
    "Max": "最大值",
    "Missing (%)": "缺失（%）",
    "All": "全部",
    # model names
    "Two-way FE": "双向固定效应",
    "One-way FE": "单向固定效应",
    "Random effects": "随机效应",
    "Pooled OLS": "混合 OLS",
    "First differences": "一阶差分",
    "Between": "组间估计",
    "Cox PH": "Cox 比例风险",
    "Hazard (cloglog)": "离散时间风险（cloglog）",
    "Hazard (logit)": "离散时间风险（logit）",
    "Competing risks (multinomial logit)": "竞争风险（多项 logit）",
    "Event study (Callaway-Sant'Anna)": "事件研究（Callaway-Sant'Anna）",
    "Event study (Sun-Abraham)": "事件研究（Sun-Abraham）",
    "Event study (two-way FE)": "事件研究（双向固定效应）",
    # figures
    "Agency age (years)": "机构年龄（年）",
    "Year": "年份",
    "Time": "时间",
    "Share of agencies still operating": "仍在运营的机构比例",
    "All agencies": "全部机构",
    "Share of agencies that have left": "已退出机构比例",
    "Cumulative incidence": "累积发生率",
    "Periods since first treatment": "距首次处理的期数",
    "Effect on": "效应：",
    "Truth": "真实值",
    "Annual exit hazard": "年度退出风险",
    "Hazard ratio": "风险比",
    "Odds ratio": "优势比",
    "Hazard or odds ratio": "风险比或优势比",
    "Hazard relative to the sample mean (ratio)": "相对于样本均值的风险（比值）",
    "Funding concentration (HHI, 0–1)": "资金集中度（HHI，0–1）",
    "Normalised funding concentration (0–1)": "标准化资金集中度（0–1）",
    "Government share of revenue (0–1)": "政府资金占比（0–1）",
    "Largest funder's share of revenue (0–1)": "最大资助方占比（0–1）",
    "Funding entropy (nats)": "资金来源熵（nats）",
    "Number of funders": "资助方数量",
    "Service quality (evaluation score, 0–100)": "服务质量（评估得分，0–100）",
    "Log total revenue (log yuan)": "总收入对数（元，取对数）",
}

_Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]


def _zh(text: str) -> str:
    return translate(text, "zh")


_PATTERNS_ZH: list[_Rule] = [
    (re.compile(r"^Cluster \((.+)\)$"), lambda m: f"按{m[1]}聚类"),
    (re.compile(r"^Groups: (.+)$"), lambda m: f"组数：{m[1]}"),
    (re.compile(r"^SD\((.+) \| (.+)\)$"), lambda m: f"标准差（{_zh(m[1])} | {m[2]}）"),
    (re.compile(r"^Bayesian hierarchical \((.+)\)$"), lambda m: f"贝叶斯分层模型（{m[1]}）"),
    (re.compile(r"^Joint quality-survival \((.+)\)$"), lambda m: f"质量—生存联合模型（{m[1]}）"),
    (re.compile(r"^(\d+)-way FE$"), lambda m: f"{m[1]} 维固定效应"),
    (re.compile(r"^Coefficient \((.+) interval\)$"), lambda m: f"系数（{m[1]} 区间）"),
    (re.compile(r"^Predicted (.+)$"), lambda m: f"预测{_zh(m[1][0].upper() + m[1][1:])}"),
    (re.compile(r"^(.+): ([a-z_]+)$"), lambda m: f"{m[1]}：{CODES_ZH.get(m[2], m[2])}"),
]


def check_language(language: object) -> Language:
    """Validate a ``language=`` option.

    Examples
    --------
    >>> check_language("zh")
    'zh'
    """
    return check_choice("language", language, Language)  # type: ignore[return-value]


def translate(text: str, language: Language) -> str:
    """Fixed text of sustain in ``language`` (unknown text is returned unchanged).

    Examples
    --------
    >>> translate("Observations", "zh"), translate("Cluster (机构)", "zh")
    ('观测值', '按机构聚类')
    >>> translate("购买层级: subdistrict", "zh")
    '购买层级：街道（镇）'
    >>> translate("Observations", "en")
    'Observations'
    """
    if language == "en" or not text:
        return text
    if text in FIXED_ZH:
        return FIXED_ZH[text]
    if text in CODES_ZH:
        return CODES_ZH[text]
    for pattern, build in _PATTERNS_ZH:
        match = pattern.match(text)
        if match:
            return build(match)
    return text
