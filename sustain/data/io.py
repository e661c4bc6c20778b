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
import re
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from sustain._typing import PathLikeStr
from sustain.data.dataset import Dataset
from sustain.data.schema import (
    REQUIRED_TABLES,
    TABLES,
    RawTable,
    problem_frame,
    validate_tables,
)
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
    path: PathLikeStr, errors: Errors = "raise", encoding: str | None = None
) -> Dataset:
    """Read and validate the data set in folder ``path``.

    Parameters
    ----------
    path : str or path-like
        Folder with ``agencies.*``, ``contracts.*`` and optionally ``revenue.*``, each a
        ``.csv``, ``.parquet``, ``.xlsx`` or ``.dta`` file.
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
        Validated tables and the problems table (columns ``file``, ``row``, ``column``,
        ``rule``, ``value``, ``severity``), sorted by file and row.

    Raises
    ------
    DataError
        In strict mode on any violation; in both modes when a file is missing, unreadable,
        duplicated in two formats, empty or lacks a required column.

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
    """
    folder = Path(path)
    files = find_tables(folder)
    tables, failures = {}, []
    for name, file in files.items():
        try:
            tables[name] = read_table(file, encoding=encoding)
        except DataError as exc:
            failures.append(exc.problems)
    if failures:
        problems = pd.concat(failures, ignore_index=True)
        raise DataError(problems, format_problems(problems))
    return validate_tables(tables, errors=errors, source=str(folder))


def find_tables(folder: PathLikeStr) -> dict[str, Path]:
    """The file of each table in ``folder``; raise ``DataError`` when one is missing or twice.

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
    found: dict[str, list[Path]] = {name: [] for name in TABLES}
    other: dict[str, list[Path]] = {name: [] for name in TABLES}
    for file in sorted(folder.iterdir()):
        stem, suffix = file.name.lower().partition(".")[::2]
        if stem in found and file.is_file():
            (found if f".{suffix}" in FORMATS else other)[stem].append(file)
    rows = []
    for name in TABLES:
        if len(found[name]) > 1:
            names = ", ".join(f.name for f in found[name])
            rows.append((f"{name}.*", f"two or more files for the {name} table ({names})"))
        elif not found[name] and (name in REQUIRED_TABLES or other[name]):
            rows.append((f"{name}.*", _missing_file_rule(name, other[name])))
    if rows:
        problems = pd.concat([problem_frame(f, None, None, r, "") for f, r in rows])
        raise DataError(problems.drop(columns="pos").reset_index(drop=True))
    return {name: files[0] for name, files in found.items() if files}


def _missing_file_rule(name: str, unsupported: list[Path]) -> str:
    formats = ", ".join(sorted(set(FORMATS)))
    if not unsupported:
        return f"required file {name}.* not found (formats read: {formats})"
    names = ", ".join(f.name for f in unsupported)
    hint = (
        " (save .xls workbooks as .xlsx)"
        if any(f.suffix.lower() == ".xls" for f in unsupported)
        else ""
    )
    return f"{names}: format not read{hint}; use one of {formats}"


def read_table(path: PathLikeStr, encoding: str | None = None) -> RawTable:
    """Read one table file as found, with the row number the user sees for each row.

    Parameters
    ----------
    path : str or path-like
        A ``.csv``, ``.parquet``/``.pq``, ``.xlsx``/``.xlsm`` or ``.dta`` file.
    encoding : str, optional
        Text encoding of a CSV file (or of a Stata file before format 118); detected if omitted.

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
    readers: dict[str, Callable[[Path, str | None], RawTable]] = {
        "csv": _read_csv,
        "parquet": _read_parquet,
        "excel": _read_excel,
        "stata": _read_stata,
    }
    kind = FORMATS.get("." + path.name.lower().partition(".")[2])
    if kind is None:
        raise DataError(_unreadable(path, f"format not read; use one of {', '.join(FORMATS)}"))
    try:
        return readers[kind](path, encoding)
    except DataError:
        raise
    except Exception as exc:  # any reader failure becomes a report naming the file
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(_unreadable(path, f"cannot read the file: {reason}")) from exc


def _unreadable(path: Path, rule: str) -> pd.DataFrame:
    return problem_frame(path.name, None, None, rule, "").drop(columns="pos")


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


def _read_csv(path: Path, encoding: str | None) -> RawTable:
    """Every cell as text; lines with too many fields are reported instead of read."""
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
    frame = cells.iloc[1:].set_axis(list(cells.iloc[0]), axis=1).reset_index(drop=True)
    return RawTable(frame, path.name, numbers[1:], header_row=1, problems=skipped)


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


def _read_excel(path: Path, encoding: str | None) -> RawTable:
    """The first worksheet; the header is Excel row 1 and data rows keep their row numbers."""
    cells = pd.read_excel(path, sheet_name=0, header=None, dtype=object, engine="openpyxl")
    if cells.empty:
        raise DataError(_unreadable(path, "the first worksheet is empty (no header row)"))
    header = ["" if pd.isna(c) else str(c) for c in cells.iloc[0]]
    frame = cells.iloc[1:].set_axis(header, axis=1).reset_index(drop=True)
    return RawTable(frame, path.name, np.arange(2, len(cells) + 1, dtype=np.int64), 1)


def _read_parquet(path: Path, encoding: str | None) -> RawTable:
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
