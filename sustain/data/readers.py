"""Reading one table file as found: CSV, Excel, Parquet and Stata.

Each reader returns the cells as found with the row number the user sees for each row, and
problems that belong to the file rather than a cell. Readers refuse what they cannot read
faithfully rather than returning text that only decoded by accident or rows that merged:

* CSV: the encoding is decided by :mod:`sustain.data.encodings` (or refused); NUL bytes are
  never truncated silently (the row is reported and not read); a quote that swallows following
  lines is refused with its row; an Excel ``sep=;`` line is honoured; every row ending with one
  extra empty field (a trailing comma) is read with a note.
* Excel (calamine, a Rust reader): only the cells that hold values count, so a formatted blank
  cell at XFD1048576 costs nothing; formulas saved without a value are reported with their
  formula; a title row above the headers is recognised; other worksheets holding the standard
  columns are named when the first one lacks them.

Row numbers: CSV and Excel files use the spreadsheet row (the header is row 1, the first data
row is row 2; a CSV record with a line break inside a quoted cell is one row, as in a
spreadsheet); Parquet and Stata files use the 1-based observation number.
"""

from __future__ import annotations

import difflib
import errno
import io
import re
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sustain._typing import PathLikeStr
from sustain.data.contract import RawTable
from sustain.data.encodings import EncodingError, decide
from sustain.data.problems import problem_frame
from sustain.errors import DataError

#: File suffixes read, and the reader of each.
FORMATS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".xlsx": "excel",
    ".xlsm": "excel",
    ".dta": "stata",
}
_SKIPPED = re.compile(r"Skipping line (\d+): expected (\d+) fields, saw (\d+)")
_UNCLOSED = re.compile(r"EOF inside string starting (?:at|on) (?:row|line) (\d+)", re.IGNORECASE)
_SEP_LINE = re.compile(rb"^(?:\xef\xbb\xbf)?sep=(.)\r?\n", re.IGNORECASE)
#: Stand-in for a NUL byte while parsing (a Unicode noncharacter: never in real text).
_NUL_MARK = "\uffff"
#: A worksheet larger than this many cells is refused (Excel's own limit is 17 billion; a
#: table of contracts is far smaller, and reading the whole claimed range would exhaust memory).
MAX_EXCEL_CELLS = 200_000_000
#: Rows above the header searched for a title block.
TITLE_ROWS = 3


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
        Text encoding of a CSV file (or of a Stata file before format 118); decided from the
        bytes if omitted (:func:`sustain.data.encodings.detect_encoding`).
    sheet : str or int, optional
        Excel worksheet by name or 0-based position (default: the first).
    header : int, optional
        Row number (as a spreadsheet shows it) of the column headers in a CSV or Excel file;
        the rows above it are skipped. Default: row 1, or row 2 when row 1 holds only a title.

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
        raise DataError(unreadable(path, f"format not read; use one of {', '.join(FORMATS)}"))
    not_a_file = file_kind_problem(path)
    if not_a_file:
        raise DataError(unreadable(path, not_a_file))
    if kind in ("parquet", "stata") and (sheet is not None or header not in (None, 1)):
        raise DataError(
            unreadable(path, f"sheet= and header= apply to CSV and Excel files, not {kind}")
        )
    try:
        if kind == "csv":
            cells, numbers, problems = _read_csv(path, encoding)
            return with_header(path, cells, numbers, problems, header)
        if kind == "excel":
            return _read_excel(path, sheet, header)
        return _read_parquet(path) if kind == "parquet" else _read_stata(path, encoding)
    except DataError:
        raise
    except EncodingError as exc:
        raise DataError(unreadable(path, str(exc))) from exc
    except MemoryError as exc:
        raise DataError(unreadable(path, "the file is too large to read in memory")) from exc
    except Exception as exc:  # any reader failure becomes a report naming the file
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(unreadable(path, f"cannot read the file: {reason}")) from exc


def unreadable(path: Path, rule: str) -> pd.DataFrame:
    """A problem with a whole file."""
    return problem_frame(path.name, None, None, rule, "").drop(columns=["pos", "drop"])


def file_kind_problem(path: Path) -> str | None:
    """Why ``path`` is not a regular file that can be read, or ``None`` when it is.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> (folder / "contracts.csv").mkdir()
    >>> file_kind_problem(folder / "contracts.csv")
    'contracts.csv is a folder, not a file'
    """
    name = path.name
    try:
        if path.is_symlink() and not path.exists():
            try:
                path.resolve(strict=True)
            except RuntimeError:
                return f"{name} is a symbolic link in a loop"
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    return f"{name} is a symbolic link in a loop"
            return f"{name} is a symbolic link to {path.readlink()}, which does not exist"
        if path.is_dir():
            return f"{name} is a folder, not a file"
        if path.is_fifo():
            return f"{name} is a named pipe (FIFO), not a file; copy the data into a file"
        if path.exists() and not path.is_file():
            return f"{name} is not a regular file (a device or socket)"
    except RuntimeError:
        return f"{name} is a symbolic link in a loop"
    except OSError as exc:
        return f"{name} cannot be inspected: {exc.strerror or exc}"
    return None


# ---------------------------------------------------------------- headers


def with_header(
    path: Path,
    cells: pd.DataFrame,
    numbers: np.ndarray,
    problems: pd.DataFrame | None,
    header: int | None,
    other_sheets: tuple[tuple[str, tuple[str, ...]], ...] = (),
) -> RawTable:
    """Split a grid of cells at its header row (a spreadsheet row number).

    Without ``header``, the header is row 1, unless row 1 holds a single filled cell (a title,
    often merged across the columns) and the next row is fully labelled: then that row, with
    a note.
    """
    notes = []
    if header is None:
        header, title = _header_after_title(cells, numbers)
        if title is not None:
            rule = f"row {title[0]} holds a title ('{title[1][:60]}'); the headers are row {header}"
            notes.append(problem_frame(path.name, title[0], None, rule, title[1][:80], "note"))
    row = int(header)
    at = np.flatnonzero(numbers == row)
    if not len(at):
        last = int(numbers[-1]) if len(numbers) else 0
        raise DataError(
            unreadable(path, f"the header row {row} is beyond the file's last row ({last})")
        )
    i = int(at[0])
    names = ["" if pd.isna(c) else str(c) for c in cells.iloc[i]]
    frame = cells.iloc[i + 1 :].set_axis(names, axis=1).reset_index(drop=True)
    if problems is not None and len(problems):  # lines above the header are not data
        keep = (problems["severity"] != "error").to_numpy() | (
            problems["row"].to_numpy(np.float64, na_value=np.inf) > row
        )
        problems = problems[keep]
    parts = [p for p in (problems, *notes) if p is not None and len(p)]
    found = pd.concat(parts, ignore_index=True) if parts else None
    return RawTable(
        frame, path.name, numbers[i + 1 :], header_row=row, problems=found, sheets=other_sheets
    )


def _header_after_title(
    cells: pd.DataFrame, numbers: np.ndarray
) -> tuple[int, tuple[int, str] | None]:
    first = int(numbers[0]) if len(numbers) else 1
    if cells.shape[1] < 2 or len(cells) < 2:
        return first, None
    for i in range(min(TITLE_ROWS, len(cells) - 1)):
        filled = [str(v).strip() for v in cells.iloc[i] if _filled(v)]
        if len(filled) == 0:
            continue
        if len(filled) == 1 and cells.shape[1] >= 3:
            below = [v for v in cells.iloc[i + 1] if _filled(v)]
            labels = [v for v in below if isinstance(v, str) and not _is_number(v)]
            if len(labels) >= max(3, 0.6 * cells.shape[1]):
                return int(numbers[i + 1]), (int(numbers[i]), filled[0])
        return int(numbers[i]), None
    return first, None


def _filled(value: object) -> bool:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return False
    return str(value).strip() != ""


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------- CSV


def _read_csv(path: Path, encoding: str | None) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """Every cell as text, the row number of each record, and the rows not read."""
    if path.stat().st_size == 0:
        raise DataError(unreadable(path, "the file is empty (no header row)"))
    enc = encoding or decide(path).encoding
    data = path.read_bytes()
    notes = []
    offset = 0
    sep_line = _SEP_LINE.match(data)
    separator = None
    if sep_line is not None:  # Excel's "sep=;" hint on the first line
        separator = sep_line.group(1).decode("ascii", errors="replace")
        data = data[sep_line.end() :]
        offset = 1
        rule = f"first line 'sep={separator}' read as the field separator and skipped"
        notes.append(problem_frame(path.name, 1, None, rule, f"sep={separator}", "note"))
    has_nul = b"\x00" in data and not enc.startswith("utf-16")
    if has_nul:
        data = data.replace(b"\x00", _NUL_MARK.encode(enc))
    text_sep = separator or _separator(data, enc)
    fast = None if has_nul else _parse_fast(data, enc, text_sep)
    if fast is not None:  # the common case: a plain table, read by Arrow's parser
        numbers = np.arange(1, len(fast) + 1, dtype=np.int64) + offset
        empty = problem_frame(path.name, [], None, "", "", "error")
        return fast, numbers, pd.concat([empty, *notes], ignore_index=True)
    cells, skipped = _parse(path, data, enc, text_sep, offset)
    header_fields = cells.shape[1]
    if len(skipped) and _trailing_separator(skipped, header_fields, len(cells)):
        cells, skipped = _parse(path, data, enc, text_sep, offset, names=header_fields + 1)
        extra = cells.iloc[1:, -1]
        if (extra.fillna("") == "").all():
            cells = cells.iloc[:, :-1]
            rule = f"every row ends with an extra '{text_sep}' (an empty last field); it is ignored"
            notes.append(problem_frame(path.name, 1 + offset, None, rule, "", "note"))
    read = np.ones(len(cells) + len(skipped), dtype=bool)
    read[skipped["row"].to_numpy(np.int64) - 1 - offset] = False
    numbers = np.flatnonzero(read) + 1 + offset
    if b'"' in data:  # without quotes, no cell can hold a line break
        _check_stray_quotes(path, cells, numbers, text_sep)
    nul_problems = None
    if has_nul:
        cells, numbers, nul_problems = _nul_rows(path, cells, numbers)
    problems = pd.concat([skipped, nul_problems, *notes], ignore_index=True)
    return cells, numbers, problems


def _has_blank_line(data: bytes) -> bool:
    body = data.rstrip(b"\r\n")
    return body.startswith((b"\n", b"\r\n")) or b"\n\n" in body or b"\n\r\n" in body


def _parse_fast(data: bytes, enc: str, sep: str) -> pd.DataFrame | None:
    """Arrow's multi-threaded parser, for files without anything that needs care.

    Anything unusual (a blank line, a row with a different number of fields, a quoted line
    break, an encoding Arrow cannot transcode) returns ``None``, and the careful reader
    (pandas' C parser with line-by-line reports) reads the file instead; both give the same
    cells and row numbers for the files this one accepts.
    """
    import csv

    import pyarrow as pa
    import pyarrow.csv as pacsv

    if _has_blank_line(data):
        return None
    quoted = b'"' in data  # only a quoted cell can hold a line break
    try:
        head = data[:65536].decode(enc, errors="strict" if len(data) <= 65536 else "ignore")
        first = next(csv.reader([head.lstrip("\ufeff").splitlines()[0]], delimiter=sep))
    except (UnicodeDecodeError, StopIteration, csv.Error, IndexError):
        return None
    names = [f"c{i}" for i in range(len(first))]
    invalid: list[int] = []

    def handler(row: object) -> str:
        invalid.append(1)
        return "skip"

    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(column_names=names, encoding=enc),
            parse_options=pacsv.ParseOptions(
                delimiter=sep, newlines_in_values=quoted, invalid_row_handler=handler
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                null_values=[],
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, LookupError, UnicodeDecodeError):
        return None
    if invalid or table.num_rows == 0:
        return None
    import pyarrow.compute as pc

    for column in table.columns if quoted else ():
        if pc.any(pc.match_substring_regex(column, "[\\r\\n]")).as_py():
            return None
    frame = table.to_pandas(types_mapper=lambda t: pd.StringDtype(na_value=np.nan))
    return frame.set_axis(range(frame.shape[1]), axis=1)


def _parse(
    path: Path, data: bytes, enc: str, sep: str, offset: int, names: int | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pd.errors.ParserWarning)
        try:
            cells = pd.read_csv(
                io.BytesIO(data),
                header=None,
                names=list(range(names)) if names else None,
                dtype=str,
                na_filter=False,
                skip_blank_lines=False,
                encoding=enc,
                sep=sep,
                on_bad_lines="warn",
            )
        except pd.errors.ParserError as exc:
            raise DataError(unreadable(path, _parser_error(str(exc), offset))) from exc
        except UnicodeDecodeError as exc:
            rule = f"the file does not decode as {enc} (byte at offset {exc.start}); pass encoding="
            raise DataError(unreadable(path, rule)) from exc
        except pd.errors.EmptyDataError as exc:
            raise DataError(unreadable(path, "the file is empty (no header row)")) from exc
    return cells, _skipped_lines(caught, path, offset)


def _parser_error(message: str, offset: int) -> str:
    unclosed = _UNCLOSED.search(message)
    if unclosed:
        row = int(unclosed.group(1)) + 1 + offset
        return (
            f'a quote (") opened in row {row} is never closed: everything after it would be '
            'one cell. Remove the stray quote, or double it ("") inside a quoted cell'
        )
    return f"cannot read the file: {message.strip().splitlines()[0]}"


def _separator(data: bytes, encoding: str) -> str:
    """Comma, unless the header line has no comma but semicolons or tabs (the most of them)."""
    head = data[:65536].decode(encoding, errors="replace").lstrip("\ufeff")
    first = head.splitlines()[0] if head else ""
    return max((",", ";", "\t"), key=first.count) if first.count(",") == 0 else ","


def _skipped_lines(caught: list[warnings.WarningMessage], path: Path, offset: int) -> pd.DataFrame:
    found = []
    for w in caught:
        message = str(w.message)
        matches = _SKIPPED.findall(message)
        if not matches and issubclass(w.category, pd.errors.ParserWarning):
            raise DataError(unreadable(path, f"cannot read the file: {message.strip()}"))
        for line, want, saw in matches:
            found.append((int(line) + offset, f"row has {saw} fields but the header has {want}"))
    rows = [r for r, _ in found]
    return problem_frame(path.name, rows, None, [r for _, r in found], "", "error")


def _trailing_separator(skipped: pd.DataFrame, fields: int, read: int) -> bool:
    """Whether (nearly) every data row has exactly one field more than the header."""
    one_more = skipped["rule"].str.startswith(f"row has {fields + 1} fields").sum()
    return one_more == len(skipped) and one_more >= max(1, 0.9 * (read + len(skipped) - 1))


def _check_stray_quotes(path: Path, cells: pd.DataFrame, numbers: np.ndarray, sep: str) -> None:
    """Refuse a quoted cell that swallowed whole lines of the file (a stray quote).

    A cell with a line break is legitimate (an address on two lines); one whose later lines
    hold about as many separators as a row has fields is rows read as one cell.
    """
    fields = cells.shape[1]
    if fields < 2:
        return
    for col in range(fields):
        column = cells.iloc[:, col]
        broken = column.str.contains("\n", regex=False).to_numpy(dtype=bool, na_value=False)
        for i in np.flatnonzero(broken):
            lines = str(column.iloc[i]).splitlines()[1:]
            if any(line.count(sep) >= max(1, fields // 2) for line in lines):
                name = str(cells.iloc[0, col]) if i > 0 else str(col + 1)
                rule = (
                    f"a quote (\") in row {numbers[i]}, column '{name}' is closed only "
                    f"{len(lines)} line(s) later: those lines were read as one cell (a stray "
                    'quote?). Remove it, or double it ("") inside a quoted cell'
                )
                raise DataError(unreadable(path, rule))


def _nul_rows(
    path: Path, cells: pd.DataFrame, numbers: np.ndarray
) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """Rows with a NUL byte are reported and not read (their text would be cut at the NUL)."""
    marked = np.zeros(len(cells), dtype=bool)
    for col in range(cells.shape[1]):
        column = cells.iloc[:, col]
        marked |= column.str.contains(_NUL_MARK, regex=False).to_numpy(dtype=bool, na_value=False)
    if not marked.any():
        return cells, numbers, problem_frame(path.name, [], None, "", "", "error")
    rows = numbers[marked]
    values = [
        " | ".join(str(v).replace(_NUL_MARK, "\\x00") for v in cells.iloc[i] if _NUL_MARK in str(v))
        for i in np.flatnonzero(marked)
    ]
    rule = "row not read: a cell holds a NUL byte (\\x00), which is not text (a damaged file?)"
    problems = problem_frame(path.name, rows, None, rule, values, "error")
    return cells[~marked].reset_index(drop=True), numbers[~marked], problems


# ---------------------------------------------------------------- Excel


def _read_excel(path: Path, sheet: str | int | None, header: int | None) -> RawTable:
    """A worksheet read with calamine; formulas without a saved value are reported."""
    import python_calamine

    book = python_calamine.CalamineWorkbook.from_path(str(path))
    names = list(book.sheet_names)
    if isinstance(sheet, str) and sheet not in names:
        close = difflib.get_close_matches(sheet, names, 1, 0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise DataError(unreadable(path, f"no worksheet {sheet!r}; the workbook has {names}{hint}"))
    if isinstance(sheet, int) and not 0 <= sheet < len(names):
        rule = f"no worksheet number {sheet}; the workbook has {len(names)}: {names}"
        raise DataError(unreadable(path, rule))
    which = names[0] if sheet is None else (sheet if isinstance(sheet, str) else names[sheet])
    facts = _inspect_sheet(path, names.index(which), which)  # before calamine allocates
    cells = _sheet_cells(book, which)
    if cells.empty:
        raise DataError(unreadable(path, f"the worksheet {which!r} is empty (no header row)"))
    numbers = np.arange(1, len(cells) + 1, dtype=np.int64)
    formulas = facts.formulas
    notes = None
    if formulas:
        cells, notes = _formula_cells(path, cells, formulas)
    others: tuple[tuple[str, tuple[str, ...]], ...] = ()
    if sheet is None and len(names) > 1:
        others = tuple((n, _sheet_header(book, n)) for n in names[1:])
    return with_header(path, cells, numbers, notes, header, others)


def excel_sheets(path: PathLikeStr, nrows: int) -> list[tuple[str, pd.DataFrame]]:
    """The first ``nrows`` rows of every worksheet (for drafting a mapping), each checked
    like a sheet that is read in full (extent, Excel's limits).

    Examples
    --------
    >>> import tempfile, pathlib, openpyxl
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "b.xlsx"
    >>> book = openpyxl.Workbook(); book.active.append(["a", "b"]); book.save(p)
    >>> [(name, grid.shape) for name, grid in excel_sheets(p, 10)]
    [('Sheet', (1, 2))]
    """
    import python_calamine

    path = Path(path)
    book = python_calamine.CalamineWorkbook.from_path(str(path))
    out = []
    for index, name in enumerate(book.sheet_names):
        _inspect_sheet(path, index, name)
        rows = book.get_sheet_by_name(name).to_python(skip_empty_area=False, nrows=nrows)
        grid = pd.DataFrame(rows, dtype=object) if rows else pd.DataFrame()
        if not grid.empty:
            out.append((name, grid.replace("", None)))
    return out


def _sheet_cells(book: object, name: str) -> pd.DataFrame:
    sheet = book.get_sheet_by_name(name)  # type: ignore[attr-defined]
    rows = sheet.to_python(skip_empty_area=False)
    frame = pd.DataFrame(rows, dtype=object) if rows else pd.DataFrame()
    return frame.replace("", None) if not frame.empty else frame


def _sheet_header(book: object, name: str) -> tuple[str, ...]:
    try:
        rows = book.get_sheet_by_name(name).to_python(nrows=TITLE_ROWS + 1)  # type: ignore[attr-defined]
    except Exception:  # an unreadable other sheet only loses the hint
        return ()
    return tuple(str(v).strip() for row in rows for v in row if str(v).strip())


_CELL = re.compile(rb'<c r="([A-Z]+)(\d+)"([^>]*?)(?:/>|>(.*?)</c>)', re.DOTALL)
_FORMULA = re.compile(rb"<f[^>]*?(?:/>|>(.*?)</f>)", re.DOTALL)
_VALUE = re.compile(rb"<v>(.+?)</v>|<is>", re.DOTALL)
_DIMENSION = re.compile(rb'<dimension ref="([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?"')
#: Excel's own limits of a worksheet.
EXCEL_ROWS, EXCEL_COLUMNS = 1_048_576, 16_384
#: A worksheet's XML larger than this (uncompressed) is refused before it is read.
MAX_SHEET_XML_BYTES = 4 << 30


@dataclass(frozen=True)
class SheetFacts:
    """What the worksheet's XML says before its cells are read.

    Attributes
    ----------
    rows, columns : int
        Extent of the cells that hold values (``<dimension>`` when it is small enough to
        trust without looking).
    formulas : dict
        ``{(row, column): formula}`` of formula cells without a saved value.
    """

    rows: int
    columns: int
    formulas: dict[tuple[int, int], str]


def _inspect_sheet(path: Path, index: int, name: str) -> SheetFacts:
    """Extent of the values and unsaved formulas of a worksheet, from its XML.

    calamine reads the rectangle from the first to the last cell holding a value into memory
    at once; one stray value at XFD1048576 would ask for 17 billion cells and abort the
    process, so the extent is checked here first. Formulas saved without a value (a workbook
    written by a program, or saved with calculation off) read as empty cells; they are found
    here so that their formula can be shown.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            part = _sheet_part(archive, index)
            if part is None:
                return SheetFacts(0, 0, {})
            size = archive.getinfo(part).file_size
            if size > MAX_SHEET_XML_BYTES:
                rule = (
                    f"the worksheet {name!r} holds {size / 2**30:.1f} GiB of XML: too large to read"
                )
                raise DataError(unreadable(path, rule))
            data = archive.read(part)
    except (zipfile.BadZipFile, KeyError, OSError):
        return SheetFacts(0, 0, {})  # calamine reports what is wrong with the file
    dimension = _DIMENSION.search(data[:65536])
    if dimension is not None and b"<f" not in data:
        rows = int(dimension.group(4) or dimension.group(2))
        columns = _column_number((dimension.group(3) or dimension.group(1)).decode())
        if rows * columns <= MAX_EXCEL_CELLS and rows <= EXCEL_ROWS:
            return SheetFacts(rows, columns, {})
    facts = _scan_cells(data)
    if facts.rows > EXCEL_ROWS:
        rule = (
            f"the worksheet {name!r} has {facts.rows:,} rows, more than Excel's "
            f"{EXCEL_ROWS:,}: the file was not written by Excel; save the table as CSV"
        )
        raise DataError(unreadable(path, rule))
    if facts.rows * facts.columns > MAX_EXCEL_CELLS:
        rule = (
            f"the worksheet {name!r} spans {facts.rows:,} rows x {facts.columns:,} columns of "
            "values, more than a table of contracts can hold; delete the stray cells far "
            "below or to the right of the data"
        )
        raise DataError(unreadable(path, rule))
    return facts


def _scan_cells(data: bytes) -> SheetFacts:
    rows = columns = 0
    formulas = {}
    for match in _CELL.finditer(data):
        body = match.group(4) or b""
        has_value = _VALUE.search(body) is not None
        formula = _FORMULA.search(body)
        if not has_value and formula is None:
            continue  # a formatted blank cell
        row, column = int(match.group(2)), _column_number(match.group(1).decode())
        if has_value:
            rows, columns = max(rows, row), max(columns, column)
        elif formula is not None:
            text = (formula.group(1) or b"").decode("utf-8", errors="replace")
            formulas[(row, column)] = "=" + text if text else "(a shared formula)"
    return SheetFacts(rows, columns, formulas)


def _sheet_part(archive: zipfile.ZipFile, index: int) -> str | None:
    book = archive.read("xl/workbook.xml")
    ids = re.findall(rb'<sheet [^>]*?r:id="([^"]+)"', book)
    if index >= len(ids):
        return None
    rels = archive.read("xl/_rels/workbook.xml.rels")
    for rel in re.finditer(rb"<Relationship [^>]*?/>", rels):
        tag = rel.group(0)
        if re.search(rb'Id="' + re.escape(ids[index]) + rb'"', tag):
            target = re.search(rb'Target="([^"]+)"', tag)
            if target:
                name = target.group(1).decode()
                return name.lstrip("/") if name.startswith("/") else f"xl/{name}"
    return None


def _column_number(letters: str) -> int:
    number = 0
    for ch in letters:
        number = number * 26 + (ord(ch) - 64)
    return number


def _formula_cells(
    path: Path, cells: pd.DataFrame, formulas: dict[tuple[int, int], str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Formula cells without a value hold their formula text, with a note each."""
    cells = cells.copy()
    rows, values = [], []
    for (row, column), formula in sorted(formulas.items()):
        while cells.shape[1] < column:
            cells[cells.shape[1]] = None
        if row <= len(cells):
            cells.iat[row - 1, column - 1] = formula
            rows.append(row)
            values.append(formula)
    rule = (
        "a formula without a saved value, read as its text: open the workbook in Excel or "
        "LibreOffice and save it (formulas then keep their values), or paste values"
    )
    return cells, problem_frame(path.name, rows, None, rule, values, "note")


# ---------------------------------------------------------------- Parquet and Stata


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
