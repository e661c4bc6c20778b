"""Variable labels for tables and figures: codebook, built-in defaults and user mappings.

Labels come, in increasing precedence, from a built-in list of the panel's standard measures
(the same wording as the example codebook, used when no codebook is found), the ``## Variable labels`` section of a codebook (a Markdown table
``| variable | label | description |``, as in ``data/example/README.md``) and a mapping the user
passes. :func:`term_label` turns a model term (``hhi_lag1``, ``C(main_tier)[T.district]``,
``hhi:gov_share``, ``sd(1|district)``) into readable text using those labels.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

from sustain._typing import PathLikeStr
from sustain.errors import SpecError

LabelSource = Mapping[str, str] | PathLikeStr | None

_CONTRACT_TYPE_NAMES = {
    "open_tender": "open tender",
    "invited_tender": "invited tender",
    "competitive_negotiation": "competitive negotiation",
    "competitive_consultation": "competitive consultation",
    "request_for_quotation": "request for quotation",
    "single_source": "single source",
    "directed_commission": "directed commission",
}

DEFAULT_LABELS: dict[str, str] = {
    "agency_id": "Agency",
    "year": "Year",
    "district": "District",
    "founded": "Founding year",
    "closed": "Closure year",
    "origin": "Origin",
    "exit_reason": "Exit reason",
    "tier": "Tier",
    "contract_type": "Contract type",
    "revenue_gov": "Government revenue (yuan)",
    "revenue_nongov": "Non-government revenue (yuan)",
    "revenue_total": "Total revenue (yuan)",
    "gov_share": "Government share of revenue",
    "n_funders": "Number of funders",
    "n_contracts": "Number of contracts",
    "hhi": "Funding concentration (HHI)",
    "hhi_norm": "Normalised HHI",
    "entropy": "Funding entropy",
    "top_share": "Largest funder's share",
    "main_tier": "Main funding tier",
    "quality": "Service quality (evaluation score)",
    "log_revenue": "Log total revenue",
    "age": "Agency age (years)",
    "exit": "Exit",
    **{f"share_{t}": f"Share {name}" for t, name in _CONTRACT_TYPE_NAMES.items()},
    "share_municipal": "Share municipal funding",
    "share_district": "Share district funding",
    "share_subdistrict": "Share street-office funding",
}

#: Chinese labels used when no codebook is found (the codebook's ``label_zh`` column wins).
DEFAULT_LABELS_ZH: dict[str, str] = {
    "agency_id": "机构",
    "year": "年份",
    "district": "所在区",
    "founded": "成立年份",
    "closed": "注销年份",
    "origin": "机构背景",
    "name": "机构名称",
    "tier": "购买层级",
    "contract_type": "采购方式",
    "service": "服务类型",
    "exit_reason": "退出方式",
    "revenue_gov": "政府购买收入（元）",
    "revenue_nongov": "非政府收入（元）",
    "revenue_total": "总收入（元）",
    "gov_share": "政府资金占比",
    "n_funders": "资助方数量",
    "n_contracts": "合同数量",
    "hhi": "资金集中度（HHI）",
    "hhi_norm": "标准化 HHI",
    "entropy": "资金来源熵",
    "top_share": "最大资助方占比",
    "main_tier": "主要购买层级",
    "quality": "服务质量（评估得分）",
    "log_revenue": "总收入对数",
    "age": "机构年龄（年）",
    "exit": "退出",
    "left_truncated": "左截断",
    "entry_age": "进入时年龄（年）",
    "share_open_tender": "公开招标占比",
    "share_invited_tender": "邀请招标占比",
    "share_competitive_negotiation": "竞争性谈判占比",
    "share_competitive_consultation": "竞争性磋商占比",
    "share_request_for_quotation": "询价占比",
    "share_single_source": "单一来源占比",
    "share_directed_commission": "定向委托占比",
    "share_municipal": "市级资金占比",
    "share_district": "区级资金占比",
    "share_subdistrict": "街道（镇）资金占比",
}
#: Codebook column of each label language.
LABEL_COLUMNS = {"en": "label", "zh": "label_zh"}

_SECTION = re.compile(r"^#{1,6}\s*variable labels\s*#*\s*$", re.IGNORECASE)
_HEADING = re.compile(r"^#{1,6}\s")


def load_labels(source: LabelSource = None, language: str = "en") -> dict[str, str]:
    """Variable labels: built-in defaults, overlaid by a codebook or a user mapping.

    Parameters
    ----------
    source : mapping, path, "en", "zh" or None
        ``None`` reads the bundled example codebook when it is available; ``"en"`` or
        ``"zh"`` does the same in that language (overriding ``language``); a path names a
        codebook file (Markdown) or a data folder holding ``README.md``; a mapping
        ``{variable: label}`` is laid over the defaults and the bundled codebook.
    language : {"en", "zh"}
        Language of the defaults and of the codebook column read (``label`` or ``label_zh``).

    Returns
    -------
    dict
        ``{variable: label}``.

    Raises
    ------
    SpecError
        When ``source`` is a path that does not exist.

    Examples
    --------
    >>> labels = load_labels({"hhi": "Concentration"})
    >>> labels["hhi"], labels["gov_share"]
    ('Concentration', 'Government share of revenue')
    >>> load_labels("zh")["hhi"]
    '资金集中度（HHI）'
    """
    if isinstance(source, str) and source in LABEL_COLUMNS:
        language, source = source, None
    if language not in LABEL_COLUMNS:
        raise SpecError(f"language={language!r} is not one of 'en', 'zh'")
    labels = dict(DEFAULT_LABELS_ZH if language == "zh" else DEFAULT_LABELS)
    if source is None or isinstance(source, Mapping):
        text = _bundled_codebook()
        if text is not None:
            labels.update(parse_codebook(text, language))
        if isinstance(source, Mapping):
            labels.update({str(k): str(v) for k, v in source.items()})
        return labels
    path = Path(source)
    if path.is_dir():
        path = path / "README.md"
    if not path.is_file():
        raise SpecError(f"labels: codebook {str(source)!r} does not exist")
    parsed = parse_codebook(path.read_text(encoding="utf-8"), language)
    if not parsed:
        warnings.warn(
            f"labels: {path.name} has no '## Variable labels' table"
            + (" with a label_zh column" if language == "zh" else "")
            + "; using default labels",
            stacklevel=2,
        )
    labels.update(parsed)
    return labels


def _bundled_codebook() -> str | None:
    """Text of the example codebook shipped with the package or beside it in the repository."""
    candidates = [resources.files("sustain") / "datasets" / "example" / "README.md"]
    candidates.append(Path(str(resources.files("sustain"))).parent / "data/example/README.md")
    for candidate in candidates:
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8")
    return None


def parse_codebook(text: str, language: str = "en") -> dict[str, str]:
    """Parse the ``## Variable labels`` Markdown table of a codebook into ``{variable: label}``.

    The table's first column is the variable name (backticks allowed); the label is the
    column headed ``label`` (``label_zh`` for Chinese), else the second column. Further
    columns (description, units) are ignored. A codebook without that section, or without a
    ``label_zh`` column when Chinese is asked for, gives an empty mapping.

    Examples
    --------
    >>> doc = '''# Codebook
    ... ## Variable labels
    ... | variable | label | label_zh | description |
    ... |---|---|---|---|
    ... | `hhi` | Funding concentration | 资金集中度 | sum of squared shares |
    ... '''
    >>> parse_codebook(doc), parse_codebook(doc, "zh")
    ({'hhi': 'Funding concentration'}, {'hhi': '资金集中度'})
    """
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if _SECTION.match(line.strip())), None)
    if start is None:
        return {}
    labels: dict[str, str] = {}
    column: int | None = None
    for line in lines[start + 1 :]:
        stripped = line.strip()
        if _HEADING.match(stripped):
            break
        if not stripped.startswith("|"):
            if labels:
                break
            continue
        cells = [c.strip().strip("`").strip() for c in stripped.strip("|").split("|")]
        if column is None:
            names = [c.lower() for c in cells]
            wanted = LABEL_COLUMNS.get(language, "label")
            if wanted in names:
                column = names.index(wanted)
            elif language == "zh":
                return {}
            else:
                column = 1
            continue
        if len(cells) <= column or set(cells[0]) <= set("-: "):
            continue
        if cells[0] and cells[column]:
            labels[cells[0]] = cells[column]
    return labels


_LAG = re.compile(r"^(?P<base>.+)_lag(?P<k>\d+)$")
_CATEGORY = re.compile(
    r"^(?:C\((?P<cvar>[^,)]+)[^)]*\)|(?P<var>[A-Za-z_]\w*))\[(?:T\.)?(?P<level>.+)\]$"
)
_FUNCTION = re.compile(r"^(?:np\.)?(?P<fn>log|log1p|log2|log10|sqrt|exp)\((?P<arg>[A-Za-z_]\w*)\)$")
_GROUP_SD = re.compile(r"^sd\((?P<expr>[^|]+)\|(?P<group>[^)]+)\)$")
_SPECIAL = {
    "Intercept": "Constant",
    "sigma": "Residual SD (σ)",
    "nu": "Degrees of freedom (ν)",
}


def term_label(term: str, labels: Mapping[str, str]) -> str:
    """Readable label of a model term.

    Handles exact matches, lags (``x_lag1`` -> ``X (t-1)``), categorical levels
    (``C(tier)[T.district]`` -> ``Tier: district``), interactions (``a:b`` -> ``A × B``), simple
    transforms (``np.log(x)`` -> ``log(X)``) and group-level standard deviations
    (``sd(1|district)`` -> ``SD(intercept | District)``); anything else keeps its name.

    Examples
    --------
    >>> labels = {"hhi": "HHI", "main_tier": "Main tier", "gov_share": "Gov. share"}
    >>> term_label("hhi_lag1", labels)
    'HHI (t-1)'
    >>> term_label("C(main_tier)[T.district]", labels)
    'Main tier: district'
    >>> term_label("hhi:gov_share", labels)
    'HHI × Gov. share'
    >>> term_label("sd(1|district)", labels)
    'SD(intercept | district)'
    """
    if term in labels:
        return labels[term]
    if term in _SPECIAL:
        return _SPECIAL[term]
    sd = _GROUP_SD.match(term)
    if sd:
        expr = sd["expr"].strip()
        what = "intercept" if expr == "1" else term_label(expr, labels)
        groups = ":".join(term_label(g.strip(), labels) for g in sd["group"].split(":"))
        return f"SD({what} | {groups})"
    parts = _split_interaction(term)
    if len(parts) > 1:
        return " × ".join(term_label(part, labels) for part in parts)
    lag = _LAG.match(term)
    if lag:
        return f"{term_label(lag['base'], labels)} (t-{lag['k']})"
    cat = _CATEGORY.match(term)
    if cat:
        var = (cat["cvar"] or cat["var"]).strip()
        return f"{term_label(var, labels)}: {cat['level']}"
    fn = _FUNCTION.match(term)
    if fn:
        return f"{fn['fn']}({term_label(fn['arg'], labels)})"
    return term


def _split_interaction(term: str) -> list[str]:
    """Split ``a:C(b)[T.x]`` at top-level colons only."""
    parts: list[str] = []
    depth, current = 0, ""
    for ch in term:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == ":" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return parts
