"""Reading a CSV file faithfully: every cell as text, the row number a spreadsheet shows.

The encoding is decided by :mod:`sustain.data.encodings` (or refused); NUL bytes are never
truncated silently (the row is reported and not read); a quote that swallows following lines is
refused with its row; an Excel ``sep=;`` line is honoured; every row ending with one extra empty
field (a trailing comma) is read with a note. Plain files go through Arrow's multi-threaded
parser; anything unusual through pandas' C parser, which reports lines one by one.
"""

from __future__ import annotations

import io
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from sustain.data.encodings import decide
from sustain.data.grid import unreadable
from sustain.data.problems import problem_frame
from sustain.errors import DataError

_SKIPPED = re.compile(r"Skipping line (\d+): expected (\d+) fields, saw (\d+)")
_UNCLOSED = re.compile(r"EOF inside string starting (?:at|on) (?:row|line) (\d+)", re.IGNORECASE)
_SEP_LINE = re.compile(rb"^(?:\xef\xbb\xbf)?sep=(.)\r?\n", re.IGNORECASE)
#: Stand-in for a NUL byte while parsing (a Unicode noncharacter: never in real text).
_NUL_MARK = "\uffff"


def read_csv_cells(
    path: Path, encoding: str | None
) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
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
        return None  # not an error: the careful reader reads the file and reports its problems
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
