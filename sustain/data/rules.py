"""Rules on a table's structure, on keys across rows and on agencies across tables.

The rules on single cells live in :mod:`sustain.data.cells`, the contract in
:mod:`sustain.data.contract`; :mod:`sustain.data.schema` runs them all in order. Every function
here returns problems by row position (:func:`sustain.data.problems.issue_frame`) or, for the
structure of a file, as problems rows.
"""

from __future__ import annotations

import difflib

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sustain._typing import BoolArray, IntArray
from sustain.data.cells import _np, arrow_text, blank_rows, display_values, missing_cells
from sustain.data.contract import REQUIRED_TABLES, SPECS, RawTable, TableOptions, specs_of
from sustain.data.problems import issue_frame, problem_frame

# ---------------------------------------------------------------- structure of a table


def prepare(name: str, table: RawTable) -> tuple[RawTable, list[pd.DataFrame]]:
    """Normalise column names, check the table's structure, skip empty rows and notes rows.

    Notes rows are rows below the data that fill only their first cell (``注：…``, a source
    line); they are skipped with a note.

    Examples
    --------
    >>> import numpy as np
    >>> frame = pd.DataFrame({"agency_id": ["A1", "注：数据截至2023年"], "founded": ["2012", ""],
    ...                       "district": ["海珠区", ""]})
    >>> t, parts = prepare("agencies", RawTable(frame, "a.csv", np.array([2, 3]), 1))
    >>> len(t.frame), [p["rule"].tolist() for p in parts if len(p)]
    (1, [['row below the data with only its first cell filled (a note) skipped']])
    """
    frame, parts = _normalise_header(table)
    options = table.table_options(name)
    parts.append(_structure_errors(name, frame, table, options))
    blank = blank_rows(frame)
    rows = np.asarray(table.rows, dtype=np.int64)
    parts.append(problem_frame(table.file, rows[blank], None, "empty row skipped", "", "note"))
    notes = _notes_rows(frame, blank)
    parts.append(
        problem_frame(
            table.file,
            rows[notes],
            None,
            "row below the data with only its first cell filled (a note) skipped",
            display_values(frame.iloc[np.flatnonzero(notes), 0]) if frame.shape[1] else "",
            "note",
        )
    )
    skip = blank | notes
    if skip.any() or not isinstance(frame.index, pd.RangeIndex) or frame.index.start != 0:
        frame, rows = frame[~skip].reset_index(drop=True), rows[~skip]
    if name in REQUIRED_TABLES and len(frame) == 0:
        parts.append(problem_frame(table.file, None, None, "the table has no data rows", ""))
    out = RawTable(
        frame, table.file, rows, table.header_row, table.problems, table.labels, table.options
    )
    return out, parts


def _notes_rows(frame: pd.DataFrame, blank: BoolArray) -> BoolArray:
    """The trailing block of rows (blank rows aside) whose only filled cell is the first."""
    notes = np.zeros(len(frame), dtype=bool)
    if frame.shape[1] < 2 or len(frame) == 0:
        return notes
    kept = np.flatnonzero(~blank)
    tail = kept[-min(len(kept), 1000) :]  # notes sit under the data; look at the last rows
    sub = frame.iloc[tail]
    first_only = ~missing_cells(sub.iloc[:, 0]) & blank_rows(sub.iloc[:, 1:])
    if not first_only[-1:].any():
        return notes
    data_rows = np.flatnonzero(~first_only)
    start = data_rows[-1] + 1 if len(data_rows) else 0
    if start == 0 and len(tail) == len(kept):
        return notes  # every row fills only its first cell: a one-column table, not notes
    notes[tail[start:]] = True
    return notes


def _normalise_header(table: RawTable) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    frame = table.frame
    raw = [str(c) for c in frame.columns]
    clean = [" ".join(c.split()).lower() for c in raw]
    keep, notes = [], []
    for i, (before, after) in enumerate(zip(raw, clean, strict=True)):
        if after == "" or after.startswith("unnamed:"):
            if bool(missing_cells(frame.iloc[:, i]).all()):
                continue  # an empty, unnamed column (a spreadsheet artefact)
            after = clean[i] = f"unnamed_{i + 1}"
        keep.append(i)
        if after != before:
            notes.append((after, f"column name normalised to '{after}'", before))
    out = frame.iloc[:, keep].set_axis([clean[i] for i in keep], axis=1)
    cols, rules, values = zip(*notes, strict=True) if notes else ((), (), ())
    note = problem_frame(
        table.file, [table.header_row] * len(cols), list(cols), list(rules), list(values), "note"
    )
    return out, [note]


def _structure_errors(
    name: str, frame: pd.DataFrame, table: RawTable, options: TableOptions
) -> pd.DataFrame:
    names = list(frame.columns)
    found = []
    for col in dict.fromkeys(c for c in names if names.count(c) > 1):
        found.append((col, f"column '{col}' appears more than once"))
    standard = {s.name for s in SPECS[name]}
    required = [s.name for s in specs_of(name, options) if s.required]
    missing = [c for c in required if c not in names]
    for col in missing:
        found.append((col, _missing_column_rule(col, names, standard, table)))
    if missing and table.sheets:
        wanted = set(missing)
        holders = [n for n, words in table.sheets if wanted <= {w.lower() for w in words}]
        if holders:
            hint = (
                f"the worksheet {holders[0]!r} has the missing columns, but the first worksheet "
                f"is read: move {holders[0]!r} first, or name it in a mapping "
                f"([{name}] sheet = {holders[0]!r})"
            )
            found.append(("", hint))
    if missing and len(missing) == len(required) and not table.labels:
        shown = ", ".join(repr(c) for c in table.frame.columns[:12])
        hint = (
            f"none of the standard columns is there (the file's headers: {shown}); if these are "
            "your own headers, draft a mapping with `sustain mapping DATA_DIR --out import.toml` "
            "and read with read_dataset(path, mapping='import.toml')"
        )
        found.append(("", hint))
    cols, rules = zip(*found, strict=True) if found else ((), ())
    return problem_frame(table.file, [table.header_row] * len(cols), list(cols), list(rules), "")


def _missing_column_rule(col: str, names: list[str], standard: set[str], table: RawTable) -> str:
    rule = f"required column '{col}' is missing"
    if col in table.frame.index.names:
        return f"{rule}; it is the frame's index: call reset_index() first"
    if table.labels:
        return f"{rule}; map one of the file's headers onto it in the mapping's columns"
    close = difflib.get_close_matches(col, [c for c in names if c not in standard], 1, 0.6)
    return f"{rule}; did you mean '{close[0]}'?" if close else rule


# ---------------------------------------------------------------- rules across rows


def closed_issues(clean: pd.DataFrame, raw: pd.DataFrame) -> pd.DataFrame:
    """Agencies closed before they were founded."""
    pos = np.flatnonzero((clean["closed"] < clean["founded"]).to_numpy())
    founded = clean["founded"].iloc[pos].astype(np.int64).astype(str)
    rule = ("closed must not be before founded (" + founded + ")").to_numpy()
    return issue_frame(pos, "closed", rule, display_values(raw["closed"].iloc[pos]))


def exit_reason_issues(clean: pd.DataFrame, raw: pd.DataFrame) -> pd.DataFrame:
    """Exit reasons given for agencies without a closing year (the reason must be blank).

    Examples
    --------
    >>> clean = pd.DataFrame({"closed": pd.array([2015, None], dtype="Int64"),
    ...                       "exit_reason": ["merged", "closed"]})
    >>> exit_reason_issues(clean, clean)[["pos", "rule"]].values.tolist()
    [[1, 'exit_reason must be blank when closed is blank (the agency has not left)']]
    """
    reason = clean["exit_reason"]
    pos = np.flatnonzero((reason.notna() & clean["closed"].isna()).to_numpy(dtype=bool))
    rule = "exit_reason must be blank when closed is blank (the agency has not left)"
    return issue_frame(pos, "exit_reason", rule, display_values(raw["exit_reason"].iloc[pos]))


def duplicate_issues(frame: pd.DataFrame, key: tuple[str, ...], rows: IntArray) -> pd.DataFrame:
    """Conflicting copies of a key are all errors; exact copies are errors after the first.

    Examples
    --------
    >>> f = pd.DataFrame({"agency_id": ["A", "A", "B"], "founded": [2012, 2013, 2010]})
    >>> duplicate_issues(f, ("agency_id",), np.array([2, 3, 4]))["rule"].tolist()
    ['duplicate agency_id with different values in rows 2, 3', 'duplicate agency_id with different values in rows 2, 3']
    """
    cols = list(key)
    dup = _duplicated(frame, cols) & frame[cols].notna().all(axis=1).to_numpy()
    if not dup.any():
        return issue_frame(np.arange(0), ", ".join(cols), "", "")
    sub = frame[dup].assign(_row=rows[dup], _pos=np.flatnonzero(dup))
    exact = sub.drop(columns=["_row", "_pos"]).duplicated(keep="first").to_numpy()
    distinct = sub[~exact]
    clash = pd.MultiIndex.from_frame(distinct.loc[distinct.duplicated(cols, keep=False), cols])
    conflict = pd.MultiIndex.from_frame(sub[cols]).isin(clash)
    groups = sub.groupby(cols, sort=False)["_row"]
    listed = groups.transform(lambda r: ", ".join(map(str, dict.fromkeys(r))))  # per key
    first = groups.transform("first").astype(str)
    what = cols[0] if len(cols) == 1 else f"({', '.join(cols)})"
    rule = np.where(
        conflict,
        f"duplicate {what} with different values in rows " + listed,
        "exact duplicate of row " + first + f" (same {', '.join(cols)})",
    )
    flagged = conflict | exact
    text = [sub[c].astype("Int64" if c == "year" else object).astype(str) for c in cols]
    value = text[0].str.cat(text[1:], sep=", ") if len(text) > 1 else text[0]
    pos = sub["_pos"].to_numpy()[flagged]
    return issue_frame(pos, ", ".join(cols), rule[flagged], value.to_numpy()[flagged])


def _duplicated(frame: pd.DataFrame, cols: list[str]) -> BoolArray:
    """Rows whose key occurs more than once (every copy flagged).

    The keys are sorted with Arrow (a multi-column sort of millions of string keys takes a
    fraction of a second, hashing them several times that) and neighbours compared.
    """
    n = len(frame)
    if n < 2:
        return np.zeros(n, dtype=bool)
    columns = {}
    for col in cols:
        values = frame[col]
        if pd.api.types.is_numeric_dtype(values.dtype):
            columns[col] = pa.array(values.to_numpy(np.float64, na_value=np.nan))
        else:
            columns[col] = arrow_text(values)
    table = pa.table(columns)
    order = pc.sort_indices(table, sort_keys=[(c, "ascending") for c in cols])
    same = np.ones(n - 1, dtype=bool)
    for col in cols:
        ranked = pc.take(table[col], order)
        same &= _np(pc.equal(ranked.slice(1), ranked.slice(0, n - 1)))
    flagged_sorted = np.zeros(n, dtype=bool)
    flagged_sorted[1:] |= same
    flagged_sorted[:-1] |= same
    flagged = np.zeros(n, dtype=bool)
    flagged[np.asarray(order.to_numpy(zero_copy_only=False))[flagged_sorted]] = True
    return flagged


# ---------------------------------------------------------------- across tables


def agency_issues(
    frame: pd.DataFrame,
    agencies: pd.DataFrame,
    agency_ok: BoolArray,
    raw_year: pd.Series,
    late_ok: BoolArray | None = None,
) -> pd.DataFrame:
    """Rows whose agency is unknown, or whose year lies outside the agency's founded..closed.

    ``late_ok`` marks rows whose years after closing are handled elsewhere (contract-years of a
    term, which are left out with a note rather than being errors).
    """
    ids = arrow_text(frame["agency_id"])
    known = _np(pc.is_in(ids, value_set=arrow_text(agencies["agency_id"].dropna())))
    unknown = ~known & _np(pc.is_valid(ids))
    founded, closed = agency_years(frame, agencies, agency_ok)
    year = frame["year"].to_numpy(np.float64)
    with np.errstate(invalid="ignore"):
        early = year < founded
        late = (year > closed) & ~early
    if late_ok is not None:
        late &= ~late_ok
    parts = [
        issue_frame(np.flatnonzero(unknown), "agency_id", "agency_id is not in agencies",
                    display_values(frame["agency_id"].iloc[np.flatnonzero(unknown)])),
    ]  # fmt: skip
    for mask, bound, what in ((early, founded, "before the agency's founded"),
                              (late, closed, "after the agency's closed")):  # fmt: skip
        pos = np.flatnonzero(mask)
        rule = np.array([f"year must not be {what} year ({y}" for y in _years(bound[pos])])
        parts.append(issue_frame(pos, "year", rule, display_values(raw_year.iloc[pos])))
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values("pos", kind="stable").reset_index(drop=True)


def agency_years(
    frame: pd.DataFrame, agencies: pd.DataFrame, agency_ok: BoolArray
) -> tuple[np.ndarray, np.ndarray]:
    """Founded and closed year of each row's agency (NaN for unknown or invalid agencies)."""
    valid = agencies[agency_ok].drop_duplicates("agency_id")
    index = pc.index_in(arrow_text(frame["agency_id"]), value_set=arrow_text(valid["agency_id"]))
    idx = np.asarray(pc.fill_null(index, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
    founded = np.append(valid["founded"].to_numpy(np.float64), np.nan)[idx]
    closed = np.append(valid["closed"].to_numpy(np.float64, na_value=np.nan), np.nan)[idx]
    return founded, closed


def _years(x: np.ndarray) -> np.ndarray:
    return np.array([f"{int(v)})" for v in x], dtype=object)


def cascade_issues(frame: pd.DataFrame, bad_agency: pd.Series, own_error: BoolArray) -> object:
    """Lenient mode: rows without errors of their own whose agency row is invalid."""
    rule = frame["agency_id"].map(bad_agency)
    pos = np.flatnonzero(rule.notna().to_numpy() & ~own_error)
    value = display_values(frame["agency_id"].iloc[pos])
    return issue_frame(pos, "agency_id", rule.to_numpy()[pos], value, "dropped")


def bad_agencies(agencies: pd.DataFrame, error: BoolArray, table: RawTable) -> pd.Series:
    """Rule text for each agency id that has only invalid rows."""
    ids = agencies["agency_id"]
    bad = ids[error & ids.notna().to_numpy()]
    bad = bad[~bad.isin(ids[~error])]
    if bad.empty:
        return pd.Series(dtype=object)
    rows = pd.Series(table.rows[bad.index.to_numpy()], index=bad.to_numpy())
    listed = rows.groupby(level=0, sort=False).agg(lambda r: ", ".join(map(str, r)))
    label = np.where(listed.str.contains(","), "rows ", "row ")
    return f"dropped because its agency's row is invalid ({table.file} " + label + listed + ")"
