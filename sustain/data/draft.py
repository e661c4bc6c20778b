"""Drafting an import mapping from the files a researcher holds.

:func:`draft_mapping` looks at every data file in a folder (and every worksheet of a workbook),
finds the header row, recognises the headers (``机构编号``, ``合同金额（万元）``, ``开始日期``, ...
in :data:`sustain.data.vocabulary.HEADER_WORDS`), decides which file holds which table, and
proposes units, a term, missing-value words, value maps and ``observed_until``. Every guess is
marked in the TOML it writes, for the researcher to confirm; values it cannot place are listed
as comments to fill in. The draft is a starting point, never read silently: reading with it
still reports every note and problem.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sustain._atomic import write_text
from sustain._typing import PathLikeStr
from sustain.data.cells import MISSING_TOKENS
from sustain.data.contract import TERM_END, TERM_START
from sustain.data.mapping import header_key, load_mapping
from sustain.data.terms import parse_dates
from sustain.data.vocabulary import HEADER_WORDS, UNIT_WORDS, VOCABULARIES, unit_in_header
from sustain.errors import DataError
from sustain.options import CONTRACT_TYPES, TIERS

#: Rows read from each file or worksheet when drafting (enough to see the values).
SAMPLE_ROWS = 20_000
#: Rows at the top of a sheet searched for the header row.
HEADER_SEARCH_ROWS = 10
#: Short texts in number columns that are proposed as missing-value words.
NA_CANDIDATES = ("—", "-", "–", "/", "无", "暂无", "未评估", "未评", "不适用", "空", "缺", "N/A")
_TABLE_COLUMNS = {
    "agencies": ("agency_id", "name", "founded", "district", "closed", "origin", "exit_reason"),
    "contracts": (
        "contract_id",
        "agency_id",
        "year",
        "funder",
        "tier",
        "contract_type",
        "amount",
        "service",
        "score",
        TERM_START,
        TERM_END,
    ),
    "revenue": ("agency_id", "year", "source", "amount"),
}
_SIGNATURE = {  # columns that together say which table a sheet is
    "agencies": ("agency_id", "founded", "district"),
    "contracts": ("amount", "funder", "tier", "contract_type"),
    "revenue": ("amount", "source"),
}


@dataclass(frozen=True)
class Sheet:
    """One file, or one worksheet of a workbook, as the draft saw it."""

    file: str
    sheet: str | None
    header: int
    columns: tuple[str, ...]
    cells: pd.DataFrame = field(repr=False)
    notes_rows: int = 0


@dataclass(frozen=True)
class MappingDraft:
    """A drafted import mapping, with the guesses to confirm.

    Attributes
    ----------
    mapping : dict
        The mapping (usable as ``read_dataset(path, mapping=draft.mapping)`` or
        ``mapping=draft``).
    comments : dict
        Comment text by key path (``("contracts", "units")``), written into the TOML.
    unplaced : dict
        Per table and column, source values that the draft could not map (to fill in).
    sheets : tuple of Sheet
        What was found in the folder.

    Examples
    --------
    >>> import tempfile, pathlib, pandas as pd
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> pd.DataFrame({"机构编号": ["A1"], "成立年份": [2010], "所在区": ["海珠区"]}).to_csv(
    ...     d / "机构.csv", index=False)
    >>> draft = draft_mapping(d)
    >>> draft.mapping["agencies"]["columns"]
    {'机构编号': 'agency_id', '成立年份': 'founded', '所在区': 'district'}
    """

    mapping: dict[str, Any]
    comments: dict[tuple[str, ...], str]
    unplaced: dict[str, dict[str, list[str]]]
    sheets: tuple[Sheet, ...] = field(repr=False)

    def __bool__(self) -> bool:
        return any(name in self.mapping for name in ("agencies", "contracts", "revenue"))

    def to_toml(self) -> str:
        """The draft as a commented TOML file (see :func:`sustain.draft_mapping`)."""
        return _to_toml(self)

    def save(self, path: PathLikeStr) -> Path:
        """Write :meth:`to_toml` to ``path`` (atomically) and return the path."""
        return write_text(Path(path), self.to_toml())


def draft_mapping(path: PathLikeStr) -> MappingDraft:
    """Draft an import mapping from the files found in folder ``path``.

    Parameters
    ----------
    path : str or path-like
        The folder holding the researcher's files (CSV, Excel, Parquet, Stata).

    Returns
    -------
    MappingDraft
        ``.mapping`` (a dict for :func:`sustain.read_dataset`), ``.to_toml()`` (the same with
        every guess commented), ``.save(path)``.

    Raises
    ------
    DataError
        When the folder does not exist or holds no data file.

    Examples
    --------
    >>> import tempfile, pathlib, pandas as pd
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> pd.DataFrame({"机构编号": ["A1"], "成立年份": [2010], "所在区": ["海珠区"]}).to_csv(
    ...     d / "机构.csv", index=False)
    >>> pd.DataFrame({"项目编号": ["P1"], "机构编号": ["A1"], "购买主体": ["南华西街道"],
    ...     "购买层级": ["街道"], "采购方式": ["公开招标"], "合同金额（万元）": ["600"],
    ...     "开始日期": ["2013-07-01"], "结束日期": ["2016-06-30"]}).to_csv(
    ...     d / "合同.csv", index=False)
    >>> draft = draft_mapping(d)
    >>> draft.mapping["contracts"]["units"], draft.mapping["contracts"]["term"]["start"]
    ({'amount': 'wan'}, '开始日期')
    >>> print(draft.to_toml().splitlines()[0])
    # Import mapping drafted by sustain from the files in this folder.
    """
    from sustain.data.io import FORMATS, detect_encoding

    folder = Path(path)
    if not folder.is_dir():
        raise DataError(_folder_problem(folder, "data folder not found"))
    files = [p for p in sorted(folder.iterdir()) if p.is_file() and p.suffix.lower() in FORMATS]
    if not files:
        raise DataError(_folder_problem(folder, "no data file (.csv, .xlsx, .parquet, .dta)"))
    sheets = [s for f in files for s in _sheets(f, detect_encoding)]
    mapping: dict[str, Any] = {}
    comments: dict[tuple[str, ...], str] = {}
    unplaced: dict[str, dict[str, list[str]]] = {}
    chosen = _assign(sheets)
    for name, sheet in chosen.items():
        mapping[name], table_comments, unplaced[name] = _draft_table(name, sheet)
        comments.update({(name, *k): v for k, v in table_comments.items()})
    _draft_window(mapping, chosen, comments)
    draft = MappingDraft(mapping, comments, unplaced, tuple(sheets))
    if draft:
        load_mapping(draft.mapping)  # the draft itself must be a valid mapping
    return draft


def _folder_problem(folder: Path, rule: str) -> pd.DataFrame:
    from sustain.data.problems import problem_frame

    return problem_frame(str(folder), None, None, rule, "").drop(columns=["pos", "drop"])


# ---------------------------------------------------------------- reading samples


def _sheets(path: Path, detect: Any) -> list[Sheet]:
    kind = path.suffix.lower()
    try:
        if kind == ".csv":
            grid = pd.read_csv(
                path,
                header=None,
                dtype=str,
                na_filter=False,
                nrows=SAMPLE_ROWS,
                encoding=detect(path),
                skip_blank_lines=False,
            )
            return [_sheet(path.name, None, grid)]
        if kind in (".xlsx", ".xlsm"):
            from sustain.data.readers import excel_sheets

            return [_sheet(path.name, name, grid) for name, grid in excel_sheets(path, SAMPLE_ROWS)]
        frame = pd.read_parquet(path) if kind in (".parquet", ".pq") else pd.read_stata(path)
        grid = pd.concat(
            [pd.DataFrame([list(frame.columns)]), frame.head(SAMPLE_ROWS).astype(object)]
        )
        return [_sheet(path.name, None, grid.set_axis(range(frame.shape[1]), axis=1))]
    except DataError:
        return []
    except Exception:  # an unreadable file is not a table; read_dataset will say why
        return []


def _sheet(file: str, sheet: str | None, grid: pd.DataFrame) -> Sheet:
    grid = grid.reset_index(drop=True)
    header = _header_row(grid)
    names = [("" if _blank(v) else str(v)).strip() for v in grid.iloc[header]]
    cells = grid.iloc[header + 1 :].set_axis(names, axis=1).reset_index(drop=True)
    cells = cells.loc[:, [n != "" for n in names]]
    notes = _trailing_notes(cells)
    if notes:
        cells = cells.iloc[:-notes]
    return Sheet(file, sheet, header + 1, tuple(cells.columns), cells, notes)


def _blank(value: Any) -> bool:
    return (
        value is None
        or (isinstance(value, float) and math.isnan(value))
        or str(value).strip() == ""
    )


def _header_row(grid: pd.DataFrame) -> int:
    """The first of the top rows with most cells filled by text that is not a number."""
    best, best_score = 0, -1.0
    for i in range(min(HEADER_SEARCH_ROWS, len(grid))):
        values = [v for v in grid.iloc[i] if not _blank(v)]
        if not values:
            continue
        texts = sum(1 for v in values if isinstance(v, str) and not _is_number(v))
        score = texts / grid.shape[1] + 0.5 * (len(values) / grid.shape[1])
        if score > best_score + 0.25:
            best, best_score = i, score
    return best


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True


def _trailing_notes(cells: pd.DataFrame) -> int:
    if cells.shape[1] < 2:
        return 0
    count = 0
    for i in range(len(cells) - 1, -1, -1):
        row = cells.iloc[i]
        if all(_blank(v) for v in row.iloc[1:]) and not _blank(row.iloc[0]):
            count += 1
        elif all(_blank(v) for v in row):
            continue
        else:
            break
    return count if count < len(cells) else 0


# ---------------------------------------------------------------- headers and tables


def guess_column(header: str, allowed: Iterable[str]) -> str | None:
    """The standard column a header most likely names, among ``allowed``.

    Examples
    --------
    >>> guess_column("合同金额（万元）", ["amount", "year"]), guess_column("备注", ["amount"])
    ('amount', None)
    >>> guess_column("成立年度", ["founded", "year"])
    'founded'
    """
    key = header_key(header)
    best: tuple[int, int] | None = None
    found = None
    for column in allowed:
        for word in HEADER_WORDS.get(column, ()):
            w = header_key(word)
            if key == w or (w in key and len(w) >= 2):
                score = (int(key == w), len(w))
                if best is None or score > best:
                    best, found = score, column
    return found


def _columns(sheet: Sheet, name: str) -> dict[str, str]:
    """Source header -> standard column, each standard column at most once."""
    out: dict[str, str] = {}
    for header in sheet.columns:
        column = guess_column(header, _TABLE_COLUMNS[name])
        if column is not None and column not in out.values():
            out[header] = column
    return out


def _assign(sheets: list[Sheet]) -> dict[str, Sheet]:
    """Each table to the sheet whose headers match its signature best (each sheet once)."""
    scores = []
    for sheet in sheets:
        for name, signature in _SIGNATURE.items():
            found = set(_columns(sheet, name).values())
            hits = sum(c in found for c in signature)
            if name == "revenue" and {"tier", "contract_type"} & set(
                _columns(sheet, "contracts").values()
            ):
                hits = 0  # a contracts ledger is not a revenue table
            standard_name = Path(sheet.file).stem.lower() == name
            if hits >= min(2, len(signature)) or standard_name:
                scores.append((hits + 10 * standard_name, name, sheet))
    chosen: dict[str, Sheet] = {}
    used: set[tuple[str, str | None]] = set()
    for _, name, sheet in sorted(scores, key=lambda t: -t[0]):
        key = (sheet.file, sheet.sheet)
        if name not in chosen and key not in used:
            chosen[name] = sheet
            used.add(key)
    return {name: chosen[name] for name in ("agencies", "contracts", "revenue") if name in chosen}


def _draft_table(
    name: str, sheet: Sheet
) -> tuple[dict[str, Any], dict[tuple[str, ...], str], dict[str, list[str]]]:
    table: dict[str, Any] = {"file": sheet.file}
    comments: dict[tuple[str, ...], str] = {}
    if sheet.sheet is not None:
        table["sheet"] = sheet.sheet
        comments[("sheet",)] = "guess: the worksheet whose headers look like this table"
    if sheet.header != 1:
        table["header"] = sheet.header
        comments[("header",)] = f"guess: the column headers are on row {sheet.header}"
    columns = _columns(sheet, name)
    standard = all(source == target for source, target in columns.items())
    term = _term(name, sheet, columns)
    if term is not None:
        table["term"] = term
        comments[("term",)] = (
            "guess: contracts run from the start to the end date and amounts are totals over the "
            'term; split pro rata by days ("months" or "equal" on request). If amounts are '
            "per year already, delete this line and map the year column instead"
        )
    columns = {s: t for s, t in columns.items() if t not in (TERM_START, TERM_END)}
    if not standard:
        table["columns"] = columns
        comments[("columns",)] = "guess: confirm each header; extra columns are kept as they are"
    unit = unit_in_header(next((s for s, t in columns.items() if t == "amount"), ""))
    if name in ("contracts", "revenue") and unit is not None:
        table["units"] = {"amount": unit}
        comments[("units",)] = f"from the header: amounts in {UNIT_WORDS[unit]}, converted to yuan"
    na = _na_values(sheet, columns)
    if na:
        table["na_values"] = na
        comments[("na_values",)] = "guess: these cells of number columns are read as missing"
    values, unplaced = _value_maps(sheet, columns)
    if values:
        table["values"] = values
        comments[("values",)] = "guess: confirm each value map"
    if sheet.notes_rows:
        comments[("file",)] = (
            f"{sheet.notes_rows} notes row(s) under the data fill only the first cell; they are "
            "skipped with a note"
        )
    return table, comments, unplaced


def _term(name: str, sheet: Sheet, columns: Mapping[str, str]) -> dict[str, str] | None:
    if name != "contracts":
        return None
    start = next((s for s, t in columns.items() if t == TERM_START), None)
    end = next((s for s, t in columns.items() if t == TERM_END), None)
    if start is None or end is None:
        return None
    dates = parse_dates(sheet.cells[start].astype(object), "start")
    if dates.invalid.mean() > 0.5:
        return None
    return {"start": start, "end": end, "split": "days"}


def _na_values(sheet: Sheet, columns: Mapping[str, str]) -> list[str]:
    found: set[str] = set()
    for source, target in columns.items():
        if target not in ("amount", "score", "closed", "founded", "year"):
            continue
        values = sheet.cells[source].astype(object).dropna().astype(str).str.strip()
        for token in NA_CANDIDATES:
            if token not in MISSING_TOKENS and (values == token).any():
                found.add(token)
    return sorted(found)


def _value_maps(
    sheet: Sheet, columns: Mapping[str, str]
) -> tuple[dict[str, dict[str, str]], dict[str, list[str]]]:
    import difflib

    maps: dict[str, dict[str, str]] = {}
    unplaced: dict[str, list[str]] = {}
    choices = {"tier": TIERS, "contract_type": CONTRACT_TYPES}
    for source, target in columns.items():
        if target not in choices:
            continue
        words = VOCABULARIES[target]
        known = {header_key(w) for w in words} | set(choices[target])
        values = sheet.cells[source].dropna().astype(str).str.strip()
        for value in sorted(set(values) - {""}):
            if header_key(value) in known or value.lower() in choices[target]:
                continue
            close = difflib.get_close_matches(value, list(words), n=1, cutoff=0.5)
            if close:
                maps.setdefault(target, {})[value] = words[close[0]]
            else:
                unplaced.setdefault(target, []).append(value)
    return maps, unplaced


def _draft_window(
    mapping: dict[str, Any], chosen: Mapping[str, Sheet], comments: dict[tuple[str, ...], str]
) -> None:
    contracts = chosen.get("contracts")
    if contracts is None or "contracts" not in mapping:
        return
    term = mapping["contracts"].get("term")
    if term is None:
        return  # with one row per contract-year, the default (last year) is right
    starts = parse_dates(contracts.cells[term["start"]].astype(object), "start").dates
    ends = parse_dates(contracts.cells[term["end"]].astype(object), "end").dates
    years = starts[~np.isnat(starts)].astype("datetime64[Y]").astype(np.int64) + 1970
    if not len(years):
        return
    last = int(years.max())
    mapping["dataset"] = {"observed_until": last}
    run_on = ends[~np.isnat(ends)].astype("datetime64[Y]").astype(np.int64) + 1970
    beyond = int((run_on > last).sum())
    comments[("dataset", "observed_until")] = (
        f"guess: the last year in which a contract starts; {beyond} contract(s) run beyond it. "
        "Set the last fiscal year your records cover: later contract-years are left out"
    )


# ---------------------------------------------------------------- TOML


def _to_toml(draft: MappingDraft) -> str:
    lines = [
        "# Import mapping drafted by sustain from the files in this folder.",
        "# Every line marked 'guess' is a guess: check it against your files, then read with",
        '#   sustain.read_dataset(DATA_DIR, mapping="import.toml")',
        "# Found: "
        + "; ".join(
            f"{s.file}" + (f" [{s.sheet}]" if s.sheet else "") + f" ({len(s.cells)} rows read)"
            for s in draft.sheets
        ),
        "",
    ]
    m, c = draft.mapping, draft.comments
    if "dataset" in m:
        lines += ["[dataset]"]
        lines += _pairs(m["dataset"], c, ("dataset",))
        lines.append("")
    for name in ("agencies", "contracts", "revenue"):
        if name not in m:
            lines += [f"# [{name}]: no file looks like the {name} table", ""]
            continue
        table = m[name]
        lines.append(f"[{name}]")
        scalars = {k: v for k, v in table.items() if k not in ("columns", "values")}
        lines += _pairs(scalars, c, (name,))
        if "columns" in table:
            lines += ["", f"[{name}.columns]"] + _comment(c.get((name, "columns")))
            lines += [f"{_q(s)} = {_q(t)}" for s, t in table["columns"].items()]
        for column, values in table.get("values", {}).items():
            lines += ["", f"[{name}.values.{column}]"] + _comment(c.get((name, "values")))
            lines += [f"{_q(s)} = {_q(t)}" for s, t in values.items()]
        for column, values in draft.unplaced.get(name, {}).items():
            lines += [
                "",
                f"# values of {column} not recognised: map each onto one of "
                + ", ".join(TIERS if column == "tier" else CONTRACT_TYPES),
                f"# [{name}.values.{column}]",
            ]
            lines += [f'# {_q(v)} = ""' for v in values]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _pairs(
    values: Mapping[str, Any], comments: Mapping[tuple[str, ...], str], path: tuple[str, ...]
) -> list[str]:
    out = []
    for key, value in values.items():
        out += _comment(comments.get((*path, key)))
        out.append(f"{key} = {_value(value)}")
    return out


def _comment(text: str | None) -> list[str]:
    return [f"# {text}"] if text else []


def _q(text: str) -> str:
    """A TOML basic string (JSON's escapes are valid TOML)."""
    return json.dumps(text, ensure_ascii=False)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return _q(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} as TOML")
