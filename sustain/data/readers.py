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

import re
from pathlib import Path

import numpy as np
import pandas as pd

from sustain._typing import PathLikeStr
from sustain.data.contract import RawTable
from sustain.data.csvfile import read_csv_cells
from sustain.data.encodings import EncodingError
from sustain.data.excel import excel_sheets, read_excel
from sustain.data.grid import file_kind_problem, unreadable, with_header
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

__all__ = ["FORMATS", "excel_sheets", "file_kind_problem", "read_table", "unreadable"]


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
            cells, numbers, problems = read_csv_cells(path, encoding)
            return with_header(path, cells, numbers, problems, header)
        if kind == "excel":
            return read_excel(path, sheet, header)
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
