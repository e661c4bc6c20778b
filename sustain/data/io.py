"""Reading a data folder: ``agencies``, ``contracts`` and optional ``revenue`` in any format.

A data set is a folder holding one file per table, named after the table (case does not
matter): ``agencies.csv``, ``contracts.parquet``, ``revenue.xlsx``, ``contracts.dta`` and so on.
Each file is read as found (CSV cells as text, so identifiers keep their leading zeros) together
with the row number the user sees, and the tables are then checked by
:func:`sustain.data.schema.validate_tables`.

Files are read by :mod:`sustain.data.readers` (row numbers as a spreadsheet shows them, text
encodings decided by :mod:`sustain.data.encodings` or refused); a researcher's own files are
found and renamed through an import mapping (:mod:`sustain.data.mapping`).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pandas as pd

from sustain._typing import PathLikeStr
from sustain.data.cells import Reading
from sustain.data.contract import (
    REQUIRED_TABLES,
    SPECS,
    TABLES,
    TERM_END,
    TERM_START,
    RawTable,
    TableOptions,
)
from sustain.data.dataset import Dataset
from sustain.data.encodings import detect_encoding
from sustain.data.mapping import (
    AMOUNT_COLUMNS,
    ImportMapping,
    TableMapping,
    header_key,
    load_mapping,
)
from sustain.data.problems import problem_frame
from sustain.data.readers import FORMATS, file_kind_problem, read_table
from sustain.data.schema import validate_tables
from sustain.data.vocabulary import UNIT_FACTORS, UNIT_WORDS, VOCABULARIES, unit_in_header
from sustain.errors import DataError, format_problems
from sustain.options import Errors

__all__ = [
    "FORMATS",
    "apply_mapping",
    "detect_encoding",
    "find_tables",
    "read_dataset",
    "read_table",
]


def read_dataset(
    path: PathLikeStr,
    mapping: ImportMapping | Mapping[str, Any] | PathLikeStr | None = None,
    errors: Errors = "raise",
    encoding: str | None = None,
) -> Dataset:
    """Read and validate the data set in folder ``path``.

    Parameters
    ----------
    path : str or path-like
        Folder with ``agencies.*``, ``contracts.*`` and optionally ``revenue.*``, each a
        ``.csv``, ``.parquet``, ``.xlsx`` or ``.dta`` file, or the researcher's own files
        named in ``mapping``.
    mapping : dict, str or path, optional
        How the folder's files map onto the data contract (file and worksheet of each table,
        header row, column names, value maps, missing-value words, units, multi-year terms,
        ``observed_until``), as a dict or the path of a TOML file; see
        :mod:`sustain.data.mapping` and ``docs/own-data.md``. :func:`sustain.draft_mapping`
        drafts one.
    errors : {"raise", "drop"}
        ``"raise"`` (strict): any violation raises :class:`~sustain.errors.DataError`, whose
        ``.problems`` lists every one found. ``"drop"`` (lenient): offending rows are dropped
        (with the contracts and revenue of an invalid agency) and listed in ``.problems``.
    encoding : str, optional
        Text encoding of CSV files (and of Stata files before format 118), e.g. ``"gbk"`` or
        ``"big5"``; detected (UTF-8 or GB18030) when omitted.

    Returns
    -------
    Dataset
        Validated tables, amounts in yuan, one row per contract-year, and the problems table
        (columns ``file``, ``row``, ``column``, ``rule``, ``value``, ``severity``) sorted by
        file and row; ``observed_until`` is set.

    Raises
    ------
    DataError
        In strict mode on any violation; in both modes when a file is missing, unreadable,
        duplicated in two formats, empty or lacks a required column, and when lenient reading
        would drop every row of a required table.
    SpecError
        When the mapping itself is invalid.

    Warns
    -----
    DataWarning
        When amounts, after conversion, look like 万元 (median contract-year under 1,000 yuan).

    Examples
    --------
    >>> import tempfile, pathlib, pandas as pd
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> pd.DataFrame({"agency_id": ["007"], "founded": [2012], "district": ["Yuexiu"]}).to_csv(
    ...     folder / "agencies.csv", index=False)
    >>> pd.DataFrame({"contract_id": ["C1"], "agency_id": ["007"], "year": [2015],
    ...     "funder": ["Street A"], "tier": ["subdistrict"], "contract_type": ["open_tender"],
    ...     "amount": [300000]}).to_csv(folder / "contracts.csv", index=False)
    >>> data = read_dataset(folder)
    >>> data.agencies["agency_id"].tolist(), len(data.problems)
    (['007'], 0)

    A ledger with Chinese headers, 万元 and a three-year term, read through a mapping:

    >>> pd.DataFrame({"机构编号": ["A1"], "成立年份": [2010], "所在区": ["海珠区"]}).to_csv(
    ...     folder / "机构.csv", index=False)
    >>> pd.DataFrame({"项目编号": ["P1"], "机构编号": ["A1"], "购买主体": ["南华西街道"],
    ...     "购买层级": ["街道"], "采购方式": ["公开招标"], "合同金额（万元）": ["600"],
    ...     "开始日期": ["2013-07-01"], "结束日期": ["2016-06-30"]}).to_csv(
    ...     folder / "合同.csv", index=False)
    >>> mapping = {"dataset": {"observed_until": 2016},
    ...     "agencies": {"file": "机构.csv", "columns": {
    ...         "机构编号": "agency_id", "成立年份": "founded", "所在区": "district"}},
    ...     "contracts": {"file": "合同.csv", "term": {"start": "开始日期", "end": "结束日期"},
    ...         "columns": {"项目编号": "contract_id", "机构编号": "agency_id",
    ...             "购买主体": "funder", "购买层级": "tier", "采购方式": "contract_type",
    ...             "合同金额（万元）": "amount"}}}
    >>> data = read_dataset(folder, mapping=mapping)
    >>> data.contracts["year"].tolist(), data.contracts["amount"].tolist()
    ([2013, 2014, 2015, 2016], [1007299.27, 1998175.18, 1998175.18, 996350.37])
    """
    folder = Path(path)
    imported = load_mapping(mapping) if mapping is not None else None
    files = find_tables(folder, imported)
    tables, failures = {}, []
    for name, file in files.items():
        table_map = imported.table(name) if imported is not None else None
        try:
            raw = read_table(
                file,
                encoding=(table_map.encoding if table_map else None) or encoding,
                sheet=table_map.sheet if table_map else None,
                header=table_map.header if table_map else None,
            )
            tables[name] = apply_mapping(raw, name, table_map) if table_map else raw
        except DataError as exc:
            failures.append(exc.problems)
    if failures:
        problems = pd.concat(failures, ignore_index=True)
        raise DataError(problems, format_problems(problems))
    observed = imported.observed_until if imported is not None else None
    return validate_tables(tables, errors=errors, source=str(folder), observed_until=observed)


def find_tables(folder: PathLikeStr, mapping: ImportMapping | None = None) -> dict[str, Path]:
    """The file of each table in ``folder``; raise ``DataError`` when one is missing or twice.

    With a mapping, a table whose ``file`` is named is read from that file (two tables may
    share one workbook); the others are looked for as ``<table>.*``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("Agencies.csv", "contracts.parquet", "notes.txt"):
    ...     (folder / name).touch()
    >>> {k: v.name for k, v in find_tables(folder).items()}
    {'agencies': 'Agencies.csv', 'contracts': 'contracts.parquet'}
    """
    folder = Path(folder)
    if not folder.is_dir():
        rule = "data folder not found" if not folder.exists() else "not a folder"
        raise DataError(problem_frame(str(folder), None, None, rule, str(folder)))
    named = {
        name: mapping.table(name).file
        for name in TABLES
        if mapping is not None and mapping.table(name).file
    }
    found: dict[str, list[Path]] = {name: [] for name in TABLES}
    other: dict[str, list[Path]] = {name: [] for name in TABLES}
    rows = []
    for file in sorted(folder.iterdir()):
        stem, suffix = file.name.lower().partition(".")[::2]
        if stem not in found or stem in named:
            continue
        if f".{suffix}" in FORMATS:
            problem = file_kind_problem(file)  # a folder, FIFO or broken link by that name
            if problem:
                rows.append((file.name, problem))
            else:
                found[stem].append(file)
        elif file.is_file():
            other[stem].append(file)
    for name, file_name in named.items():
        file = folder / str(file_name)
        problem = file_kind_problem(file) if (file.exists() or file.is_symlink()) else None
        if problem:
            rows.append((str(file_name), problem))
        elif file.is_file():
            found[name] = [file]
        else:
            rows.append((str(file_name), _named_file_rule(name, folder, str(file_name))))
    for name in TABLES:
        if len(found[name]) > 1:
            names = ", ".join(f.name for f in found[name])
            rows.append((f"{name}.*", f"two or more files for the {name} table ({names})"))
        elif (
            not found[name]
            and name not in named
            and (name in REQUIRED_TABLES or other[name])
            and not any(f.lower().startswith(f"{name}.") for f, _ in rows)
        ):
            rows.append((f"{name}.*", _missing_file_rule(name, other[name], folder, mapping)))
    if rows:
        problems = pd.concat([problem_frame(f, None, None, r, "") for f, r in rows])
        raise DataError(problems.drop(columns=["pos", "drop"]).reset_index(drop=True))
    return {name: files[0] for name, files in found.items() if files}


def _named_file_rule(name: str, folder: Path, file_name: str) -> str:
    listed = _listing(folder)
    close = difflib.get_close_matches(file_name, [p.name for p in folder.iterdir()], 1, 0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"the mapping names {file_name!r} for the {name} table, but {listed}{hint}"


def _listing(folder: Path) -> str:
    files = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
    if not files:
        return f"{folder} is empty"
    shown = ", ".join(files[:20]) + (f", ... ({len(files) - 20} more)" if len(files) > 20 else "")
    return f"the folder holds: {shown}"


def _missing_file_rule(
    name: str, unsupported: list[Path], folder: Path, mapping: ImportMapping | None
) -> str:
    formats = ", ".join(sorted(set(FORMATS)))
    if unsupported:
        names = ", ".join(f.name for f in unsupported)
        hint = (
            " (save .xls workbooks as .xlsx)"
            if any(f.suffix.lower() == ".xls" for f in unsupported)
            else ""
        )
        return f"{names}: format not read{hint}; use one of {formats}"
    rule = f"required file {name}.* not found (formats read: {formats}); {_listing(folder)}"
    if mapping is None:
        rule += (
            ". If these are your own files, draft a mapping with `sustain mapping "
            f"{folder} --out import.toml` (or sustain.draft_mapping), check it, and read with "
            "read_dataset(path, mapping='import.toml')"
        )
    else:
        rule += f'; name its file in the mapping\'s [{name}] table (file = "...")'
    return rule


def apply_mapping(raw: RawTable, name: str, table_map: TableMapping) -> RawTable:
    """Rename the user's columns to the standard names and attach the reading options.

    Problems later name the user's own headers (``RawTable.labels``). A header that the mapping
    names but the file lacks, a declared unit that contradicts the header, or two columns
    that would take one name are errors.

    Examples
    --------
    >>> import numpy as np
    >>> raw = RawTable(pd.DataFrame({"金额（万元）": ["1"], "x": ["2"]}), "r.csv",
    ...                np.array([2]), header_row=1)
    >>> t = apply_mapping(raw, "revenue", TableMapping(columns={"金额（万元）": "amount"}))
    >>> list(t.frame.columns), dict(t.labels), t.options.units["amount"]
    (['amount', 'x'], {'amount': '金额（万元）'}, 10000.0)
    """
    headers = [str(c) for c in raw.frame.columns]
    by_key: dict[str, str] = {}
    for h in headers:
        by_key.setdefault(header_key(h), h)
    renames: dict[str, str] = {}
    problems = []
    wanted = dict(table_map.columns)
    if table_map.term is not None:
        wanted[table_map.term.start] = TERM_START
        wanted[table_map.term.end] = TERM_END
    for source, target in wanted.items():
        found = by_key.get(header_key(source))
        if found is None:
            problems.append((source, _unknown_header_rule(source, target, headers, name)))
        elif found in renames:
            problems.append((source, f"the header {found!r} is mapped twice"))
        else:
            renames[found] = target
    taken = [
        h
        for h in headers
        if h not in renames and header_key(h) in {header_key(t) for t in renames.values()}
    ]
    for h in taken:
        problems.append(
            (h, f"the file already has a column {h!r}, and the mapping maps another column onto it")
        )
    units, unit_notes = _units(name, table_map, renames, raw, problems)
    if problems:
        cols, rules = zip(*problems, strict=True)
        frame = problem_frame(raw.file, [raw.header_row] * len(cols), list(cols), list(rules), "")
        raise DataError(frame.drop(columns=["pos", "drop"]))
    frame = raw.frame.rename(columns=renames)
    labels = {target: source for source, target in renames.items() if source != target}
    options = _options(name, table_map, units)
    notes = [p for p in (raw.problems, unit_notes) if p is not None and len(p)]
    return RawTable(
        frame,
        raw.file,
        raw.rows,
        raw.header_row,
        pd.concat(notes, ignore_index=True) if notes else None,
        MappingProxyType(labels),
        options,
    )


def _unknown_header_rule(source: str, target: str, headers: list[str], name: str) -> str:
    close = difflib.get_close_matches(source, headers, 1, 0.5)
    hint = f"; did you mean {close[0]!r}?" if close else f" (headers: {', '.join(headers[:15])})"
    return f"the mapping names the header {source!r} (for {target}) but the file has none{hint}"


def _units(
    name: str,
    table_map: TableMapping,
    renames: Mapping[str, str],
    raw: RawTable,
    problems: list[tuple[str, str]],
) -> tuple[dict[str, float], pd.DataFrame | None]:
    """The unit of each amount column: declared, or named in its header (with a note)."""
    units, notes = {}, []
    source_of = {target: source for source, target in renames.items()}
    for column in AMOUNT_COLUMNS[name]:
        header = source_of.get(column, column)
        in_header = unit_in_header(header)
        declared = table_map.units.get(column)
        if declared is not None and in_header is not None and declared != in_header:
            problems.append(
                (
                    header,
                    f"the mapping declares units.{column} = {declared!r} but the header "
                    f"{header!r} says {UNIT_WORDS[in_header]} ({in_header}); correct one of them",
                )
            )
            continue
        unit = declared or in_header or "yuan"
        units[column] = UNIT_FACTORS[unit]
        if declared is None and in_header is not None and in_header != "yuan":
            rule = (
                f"{column} read in {UNIT_WORDS[in_header]} as the header {header!r} says, "
                f"and converted to yuan (x {UNIT_FACTORS[in_header]:,.0f})"
            )
            notes.append(problem_frame(raw.file, raw.header_row, header, rule, "", "note"))
    return units, (pd.concat(notes, ignore_index=True) if notes else None)


def _options(name: str, table_map: TableMapping, units: Mapping[str, float]) -> TableOptions:
    na = tuple(table_map.na_values)
    readings = {
        spec.name: Reading(
            na,
            MappingProxyType(dict(table_map.values.get(spec.name, {}))),
            VOCABULARIES.get(spec.name, {}),
        )
        for spec in SPECS[name]
    }
    return TableOptions(
        readings=MappingProxyType(readings),
        na_values=na,
        units=MappingProxyType(dict(units)),
        term=table_map.term,
        score_years=table_map.score_years,
    )
