"""A grid of cells as read from a spreadsheet or CSV file: its header row, and problems with
the whole file (a file that is not one, a file that cannot be read)."""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
import pandas as pd

from sustain.data.contract import RawTable
from sustain.data.problems import problem_frame
from sustain.errors import DataError

#: Rows above the header searched for a title block.
TITLE_ROWS = 3


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
