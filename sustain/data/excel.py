"""Reading an Excel worksheet with calamine (a Rust reader), guarded against what exhausts memory.

Only cells that hold values count, so a formatted blank cell at XFD1048576 costs nothing; a
stray value far away is refused before calamine allocates the rectangle (it would abort the
process); formulas saved without a value are reported with their formula; a title row above
the headers is recognised; other worksheets holding the standard columns are named when the
first one lacks them.
"""

from __future__ import annotations

import difflib
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sustain._typing import PathLikeStr
from sustain.data.contract import RawTable
from sustain.data.grid import TITLE_ROWS, unreadable, with_header
from sustain.data.problems import problem_frame
from sustain.errors import DataError

#: A worksheet larger than this many cells is refused (Excel's own limit is 17 billion; a
#: table of contracts is far smaller, and reading the whole claimed range would exhaust memory).
MAX_EXCEL_CELLS = 200_000_000


def read_excel(path: Path, sheet: str | int | None, header: int | None) -> RawTable:
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
