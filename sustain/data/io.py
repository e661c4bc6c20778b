"""Reading a data folder: ``agencies``, ``contracts`` and optional ``revenue`` in any format.

A data set is a folder holding one file per table, named after the table (case does not
matter): ``agencies.csv``, ``contracts.parquet``, ``revenue.xlsx``, ``contracts.dta`` and so on.
Each file is read as found (CSV cells as text, so identifiers keep their leading zeros) together
with the row number the user sees, and the tables are then checked by
:func:`sustain.data.schema.validate_tables`.

Row numbers: CSV and Excel files use the spreadsheet row (the header is row 1, the first data
row is row 2; a CSV record with a line break inside a quoted cell is one row, as in a
spreadsheet); Parquet and Stata files use the 1-based observation number.

Text encodings of CSV files are detected, not guessed: a byte-order mark decides (UTF-8 or
UTF-16); otherwise the file is UTF-8 if all of it decodes as UTF-8, else GB18030 (which includes
GBK and GB2312) if all of it decodes as GB18030; otherwise reading fails and asks for
``encoding=``. Stata files before format 118 (Stata 13 and older) store text in the writer's
code page; their text is re-decoded the same way.
"""

from __future__ import annotations

import codecs
import difflib
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
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
from sustain.data.mapping import (
    AMOUNT_COLUMNS,
    ImportMapping,
    TableMapping,
    header_key,
    load_mapping,
)
from sustain.data.problems import problem_frame
from sustain.data.schema import validate_tables
from sustain.data.vocabulary import UNIT_FACTORS, UNIT_WORDS, VOCABULARIES, unit_in_header
from sustain.errors import DataError, format_problems
from sustain.options import Errors

#: File suffixes read, and the reader of each.
FORMATS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".xlsx": "excel",
    ".xlsm": "excel",
    ".dta": "stata",
}
_CHUNK = 1 << 20  # bytes per read when checking an encoding
_SKIPPED = re.compile(r"Skipping line (\d+): expected (\d+) fields, saw (\d+)")


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
    for file in sorted(folder.iterdir()):
        stem, suffix = file.name.lower().partition(".")[::2]
        if stem in found and stem not in named and file.is_file():
            (found if f".{suffix}" in FORMATS else other)[stem].append(file)
    rows = []
    for name, file_name in named.items():
        file = folder / str(file_name)
        if file.is_file():
            found[name] = [file]
        else:
            rows.append((str(file_name), _named_file_rule(name, folder, str(file_name))))
    for name in TABLES:
        if len(found[name]) > 1:
            names = ", ".join(f.name for f in found[name])
            rows.append((f"{name}.*", f"two or more files for the {name} table ({names})"))
        elif not found[name] and name not in named and (name in REQUIRED_TABLES or other[name]):
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


def read_table(
    path: PathLikeStr,
    encoding: str | None = None,
    sheet: str | int | None = None,
    header: int | None = None,
) -> RawTable:
    """Read one table file as found, with the row number the user sees for each row.

    Parameters
    ----------
    path : str or path-like
        A ``.csv``, ``.parquet``/``.pq``, ``.xlsx``/``.xlsm`` or ``.dta`` file.
    encoding : str, optional
        Text encoding of a CSV file (or of a Stata file before format 118); detected if omitted.
    sheet : str or int, optional
        Excel worksheet by name or 0-based position (default: the first).
    header : int, optional
        Row number (as a spreadsheet shows it) of the column headers in a CSV or Excel file;
        the rows above it are skipped. Default 1.

    Raises
    ------
    DataError
        When the file cannot be read (its problems table names the file and the reason).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "revenue.csv"
    >>> _ = p.write_text("agency_id,year,source,amount\\n\\n001,2015,fee,10\\n")
    >>> t = read_table(p)
    >>> t.frame["agency_id"].tolist(), t.rows.tolist()
    (['', '001'], [2, 3])
    """
    path = Path(path)
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise DataError(_unreadable(path, f"format not read; use one of {', '.join(FORMATS)}"))
    if kind in ("parquet", "stata") and (sheet is not None or header not in (None, 1)):
        raise DataError(
            _unreadable(path, f"sheet= and header= apply to CSV and Excel files, not {kind}")
        )
    try:
        if kind == "csv":
            return _with_header(path, *_read_csv(path, encoding), header)
        if kind == "excel":
            return _with_header(path, *_read_excel(path, sheet), None, header)
        return _read_parquet(path) if kind == "parquet" else _read_stata(path, encoding)
    except DataError:
        raise
    except Exception as exc:  # any reader failure becomes a report naming the file
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(_unreadable(path, f"cannot read the file: {reason}")) from exc


def _with_header(
    path: Path,
    cells: pd.DataFrame,
    numbers: np.ndarray,
    problems: pd.DataFrame | None,
    header: int | None,
) -> RawTable:
    """Split a grid of cells at its header row (a spreadsheet row number, default 1)."""
    row = 1 if header is None else int(header)
    at = np.flatnonzero(numbers == row)
    if not len(at):
        last = int(numbers[-1]) if len(numbers) else 0
        raise DataError(
            _unreadable(path, f"the header row {row} is beyond the file's last row ({last})")
        )
    i = int(at[0])
    names = ["" if pd.isna(c) else str(c) for c in cells.iloc[i]]
    frame = cells.iloc[i + 1 :].set_axis(names, axis=1).reset_index(drop=True)
    if problems is not None and len(problems):
        problems = problems[problems["row"].to_numpy(np.int64, na_value=0) > row]
    return RawTable(frame, path.name, numbers[i + 1 :], header_row=row, problems=problems)


def _unreadable(path: Path, rule: str) -> pd.DataFrame:
    return problem_frame(path.name, None, None, rule, "").drop(columns=["pos", "drop"])


# ---------------------------------------------------------------- encodings


def detect_encoding(path: PathLikeStr) -> str:
    """The text encoding of a file: ``utf-8-sig``, ``utf-16``, ``utf-8`` or ``gb18030``.

    A byte-order mark decides; otherwise the whole file is checked to decode as UTF-8, then as
    GB18030 (a superset of GBK and GB2312).

    Raises
    ------
    DataError
        When the file is neither, naming the first byte that fails.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.csv"
    >>> _ = p.write_bytes("name\\n广州市社会工作协会\\n".encode("gb18030"))
    >>> detect_encoding(p)
    'gb18030'
    """
    path = Path(path)
    with path.open("rb") as fh:
        head = fh.read(4)
    if head.startswith(codecs.BOM_UTF8):
        bad = _first_bad_byte(path, "utf-8")
        if bad is not None:  # e.g. a UTF-8 header glued onto GBK rows
            rule = (
                "the file starts with a UTF-8 byte-order mark but is not UTF-8 (first bad byte "
                f"at offset {bad}); save it again in one encoding (UTF-8 or GB18030)"
            )
            raise DataError(_unreadable(path, rule))
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    utf8_error = _first_bad_byte(path, "utf-8")
    if utf8_error is None:
        return "utf-8"
    if _first_bad_byte(path, "gb18030") is None:
        return "gb18030"
    rule = (
        f"text is neither UTF-8 nor GB18030 (first bad byte at offset {utf8_error}); "
        "pass encoding=, e.g. encoding='big5'"
    )
    raise DataError(_unreadable(path, rule))


def _first_bad_byte(path: Path, encoding: str) -> int | None:
    """Offset of the first byte that does not decode, or ``None`` if the whole file does."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    with path.open("rb") as fh:
        while True:
            chunk = fh.read(_CHUNK)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                return offset + exc.start
            if not chunk:
                return None
            offset += len(chunk)


def _redecode(frame: pd.DataFrame, encoding: str | None) -> pd.DataFrame:
    """Re-decode text that pandas read as Latin-1 (old Stata files) in its real encoding."""
    cols = [c for c in frame.columns if _is_text(frame[c]) or _is_categorical(frame[c])]
    texts = [_text_values(frame[c]) for c in cols]
    values = pd.concat(texts).unique() if texts else np.array([], dtype=object)
    values = [v for v in values if not v.isascii()]  # distinct values only
    if not values:
        return frame
    blob = "\n".join(values).encode("latin-1")
    encoding = encoding or next((e for e in ("utf-8", "gb18030") if _decodes(blob, e)), None)
    if encoding is None:
        return frame
    out = frame.copy()
    for c in cols:
        if _is_categorical(out[c]):
            fixed = [v.encode("latin-1").decode(encoding) for v in out[c].cat.categories]
            out[c] = out[c].cat.rename_categories(fixed)
        else:
            out[c] = out[c].str.encode("latin-1").str.decode(encoding)
    return out


def _is_text(s: pd.Series) -> bool:
    return s.dtype == object or pd.api.types.is_string_dtype(s.dtype)


def _is_categorical(s: pd.Series) -> bool:
    return isinstance(s.dtype, pd.CategoricalDtype)


def _text_values(s: pd.Series) -> pd.Series:
    if _is_categorical(s):
        return pd.Series(s.cat.categories.astype(str))
    return s.dropna().astype(str)


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


# ---------------------------------------------------------------- readers


def _read_csv(path: Path, encoding: str | None) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """Every cell as text, the row number of each record, and the lines not read (too many
    fields, reported instead)."""
    enc = encoding or detect_encoding(path)
    if path.stat().st_size == 0:
        raise DataError(_unreadable(path, "the file is empty (no header row)"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pd.errors.ParserWarning)
        cells = pd.read_csv(
            path,
            header=None,
            dtype=str,
            na_filter=False,
            skip_blank_lines=False,
            encoding=enc,
            sep=_separator(path, enc),
            on_bad_lines="warn",
        )
    skipped = _skipped_lines(caught, path)
    read = np.ones(len(cells) + len(skipped), dtype=bool)
    read[skipped["row"].to_numpy(np.int64) - 1] = False
    numbers = np.flatnonzero(read) + 1
    return cells, numbers, skipped


def _separator(path: Path, encoding: str) -> str:
    """Comma, unless the header line has no comma but semicolons or tabs (the most of them)."""
    with path.open("rb") as fh:
        head = fh.read(65536).decode(encoding, errors="replace").lstrip("\ufeff")
    first = head.splitlines()[0] if head else ""
    return max((",", ";", "\t"), key=first.count) if first.count(",") == 0 else ","


def _skipped_lines(caught: list[warnings.WarningMessage], path: Path) -> pd.DataFrame:
    found = []
    for w in caught:
        message = str(w.message)
        matches = _SKIPPED.findall(message)
        if not matches and issubclass(w.category, pd.errors.ParserWarning):
            raise DataError(_unreadable(path, f"cannot read the file: {message.strip()}"))
        for line, want, saw in matches:
            found.append((int(line), f"row has {saw} fields but the header has {want}"))
    rows = [r for r, _ in found]
    return problem_frame(path.name, rows, None, [r for _, r in found], "", "error")


def _read_excel(path: Path, sheet: str | int | None) -> tuple[pd.DataFrame, np.ndarray]:
    """The cells of a worksheet (the first by default) and their Excel row numbers."""
    names = _sheet_names(path)
    if isinstance(sheet, str) and sheet not in names:
        close = difflib.get_close_matches(sheet, names, 1, 0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise DataError(
            _unreadable(path, f"no worksheet {sheet!r}; the workbook has {names}{hint}")
        )
    if isinstance(sheet, int) and not 0 <= sheet < len(names):
        raise DataError(
            _unreadable(
                path, f"no worksheet number {sheet}; the workbook has {len(names)}: {names}"
            )
        )
    which = 0 if sheet is None else sheet
    cells = pd.read_excel(path, sheet_name=which, header=None, dtype=object, engine="openpyxl")
    if cells.empty:
        label = names[which] if isinstance(which, int) else which
        raise DataError(_unreadable(path, f"the worksheet {label!r} is empty (no header row)"))
    return cells, np.arange(1, len(cells) + 1, dtype=np.int64)


def _sheet_names(path: Path) -> list[str]:
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True)
    try:
        return list(book.sheetnames)
    finally:
        book.close()


def _read_parquet(path: Path) -> RawTable:
    """Named index levels (a frame saved by ``to_parquet`` after ``set_index``) are columns,
    unless a column of the same name exists."""
    frame = pd.read_parquet(path)
    named = [n for n in frame.index.names if n is not None and n not in frame.columns]
    frame = (frame.reset_index(level=named) if named else frame).reset_index(drop=True)
    return RawTable(frame, path.name, np.arange(1, len(frame) + 1, dtype=np.int64))


def _read_stata(path: Path, encoding: str | None) -> RawTable:
    """Value labels become text; files before format 118 get their text re-decoded."""
    try:
        frame = pd.read_stata(path, convert_categoricals=True)
    except ValueError:  # labels that do not map one-to-one: keep the codes
        frame = pd.read_stata(path, convert_categoricals=False)
    frame = frame.reset_index(drop=True)
    if _stata_format(path) < 118:
        frame = _redecode(frame, encoding)
    return RawTable(frame, path.name, np.arange(1, len(frame) + 1, dtype=np.int64))


def _stata_format(path: Path) -> int:
    """The ``.dta`` format number: 117-119 in an XML-like header, older ones in byte 0."""
    with path.open("rb") as fh:
        head = fh.read(64)
    match = re.search(rb"<release>(\d+)</release>", head)
    return int(match.group(1)) if match else head[0]
