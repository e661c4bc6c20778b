"""The data contract of the three input tables, checked by vectorised rules.

:func:`validate` checks in-memory ``agencies``, ``contracts`` and ``revenue`` frames;
:func:`sustain.read_dataset` reads files and hands them to :func:`validate_tables` with the row
numbers the user sees. Every violation is collected into one problems table (``file``, ``row``,
``column``, ``rule``, ``value``, ``severity``):

* ``error``: the row breaks the contract. Strict mode (``errors="raise"``) raises
  :class:`~sustain.errors.DataError`; lenient mode (``errors="drop"``) drops the row.
* ``normalised``: the value was repaired unambiguously (whitespace, case, thousands separators,
  full-width digits, column-name spelling, empty rows skipped). The row is kept.
* ``dropped``: lenient mode only; a contract or revenue row without a violation of its own,
  dropped because its agency's row is invalid.

Problems that make a whole table unusable (a required column missing, a column name twice, no
data rows) raise ``DataError`` in both modes, since no row-level repair is possible.

Why hand-written checks rather than pandera for the row-level rules: the report must give the row
as the user sees it in the file, the rule in the field's words (with "did you mean" hints), the
raw value before parsing and a severity; values arrive as text and must be parsed ("1,000",
"2015.0", full-width digits) before any range check; and half the rules span rows or tables
(duplicate keys, unknown agencies, contract years outside founded..closed, cascading drops).
Pandera would cover the range checks only, and its failure cases would have to be translated
back. Pandera is used for what it does well: :func:`validated_schema` states the types and
ranges of the tables :func:`validate` returns, and the tests check returned data against it.

The rules on single cells live in :mod:`sustain.data.cells`; this module holds the contract
(:data:`SPECS`, :data:`KEYS`) and the rules on table structure, duplicate keys and agencies.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sustain._typing import BoolArray, IntArray
from sustain.data.cells import (
    YEAR_MAX,
    YEAR_MIN,
    ColumnSpec,
    Kind,
    blank_rows,
    display_values,
    missing_cells,
    parse_column,
)
from sustain.data.dataset import Dataset, empty_revenue
from sustain.errors import PROBLEM_COLUMNS, DataError, SpecError, format_problems
from sustain.options import CONTRACT_TYPES, TIERS, Errors, choices

if TYPE_CHECKING:  # pragma: no cover
    import pandera.pandas as pa

TABLES = ("agencies", "contracts", "revenue")
REQUIRED_TABLES = ("agencies", "contracts")
SEVERITIES = ("error", "normalised", "dropped")
#: Columns of ``Dataset.problems`` from validation: the standard ones plus ``severity``.
REPORT_COLUMNS = [*PROBLEM_COLUMNS, "severity"]


def _optional(name: str, kind: Kind, **kw: Any) -> ColumnSpec:
    return ColumnSpec(name, kind, required=False, nonnull=False, **kw)


SPECS: dict[str, tuple[ColumnSpec, ...]] = {
    "agencies": (
        ColumnSpec("agency_id", "id"),
        ColumnSpec("founded", "year"),
        ColumnSpec("district", "text"),
        _optional("closed", "year"),
        _optional("origin", "text"),
        _optional("name", "text"),
    ),
    "contracts": (
        ColumnSpec("contract_id", "id"),
        ColumnSpec("agency_id", "id"),
        ColumnSpec("year", "year"),
        ColumnSpec("funder", "text"),
        ColumnSpec("tier", "category", choices=TIERS),
        ColumnSpec("contract_type", "category", choices=CONTRACT_TYPES),
        ColumnSpec("amount", "amount", lower=0.0, lower_strict=True),
        _optional("service", "text"),
        _optional("score", "score", lower=0.0, upper=100.0),
    ),
    "revenue": (
        ColumnSpec("agency_id", "id"),
        ColumnSpec("year", "year"),
        ColumnSpec("source", "text"),
        ColumnSpec("amount", "amount", lower=0.0),
    ),
}
#: Columns whose combination must be unique in each table.
KEYS: dict[str, tuple[str, ...]] = {
    "agencies": ("agency_id",),
    "contracts": ("contract_id", "year"),
    "revenue": ("agency_id", "year", "source"),  # DESIGN: one row per agency, year and source
}


@dataclass(frozen=True)
class RawTable:
    """One table as found, before validation.

    Attributes
    ----------
    frame : DataFrame
        The cells as read (text for CSV, typed values for Parquet, Excel and Stata).
    file : str
        The name shown in problems (``contracts.csv``; the table name for in-memory frames).
    rows : ndarray of int
        The row number the user sees for each row of ``frame``.
    header_row : int or None
        Row number of the column names (1 for CSV and Excel), ``None`` if there is none.
    problems : DataFrame or None
        Problems found while reading (e.g. CSV lines with too many fields, not in ``frame``).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> t = RawTable(pd.DataFrame({"a": ["x"]}), "a.csv", np.array([2]), header_row=1)
    >>> int(t.rows[0])
    2
    """

    frame: pd.DataFrame
    file: str
    rows: IntArray
    header_row: int | None = None
    problems: pd.DataFrame | None = None


# ---------------------------------------------------------------- problems tables


def problem_frame(
    file: str,
    row: Any,
    column: Any,
    rule: Any,
    value: Any,
    severity: str = "error",
    pos: Any = -1,
) -> pd.DataFrame:
    """Build problems rows; array arguments give one row each, scalars are broadcast.

    ``pos`` (the 0-based position in the table, -1 for file-level problems) is kept as an
    extra column while validating and removed from the final report.

    Examples
    --------
    >>> problem_frame("a.csv", [2, 5], "amount", "amount must be > 0", ["0", "-1"]).shape
    (2, 7)
    """
    rows = np.atleast_1d(np.asarray(row, dtype=object))
    n = len(rows)
    data = {
        "file": np.full(n, file, dtype=object),
        "row": pd.array(rows, dtype="Int64"),
        "column": _broadcast(column, n),
        "rule": _broadcast(rule, n),
        "value": _broadcast(value, n),
        "severity": _broadcast(severity, n),
        "pos": np.broadcast_to(np.asarray(pos, dtype=np.int64), (n,)).copy(),
    }
    return pd.DataFrame(data)


def _issues(pos: IntArray, column: Any, rule: Any, value: Any, severity: str = "error") -> Any:
    """Issues of one table by row position (turned into problems rows at the end)."""
    frame = pd.DataFrame({"pos": np.asarray(pos, dtype=np.int64)})
    return frame.assign(column=column, rule=rule, severity=severity, value=value)


def _broadcast(x: Any, n: int) -> Any:
    if isinstance(x, pd.Series | np.ndarray | list):
        return np.asarray(x, dtype=object)
    return np.full(n, x, dtype=object)


def _finish_problems(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate problem parts, sort by file then row (file-level first), drop ``pos``."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return problem_frame("", [], None, "", "").drop(columns="pos")
    out = pd.concat(parts, ignore_index=True)
    out = out.sort_values(["file", "row"], kind="stable", na_position="first")
    return out.reset_index(drop=True)[REPORT_COLUMNS]


def problems_table(problems: pd.DataFrame, max_rows: int | None = None) -> str:
    """The problems table as left-aligned plain text, as ``sustain validate`` prints it.

    The rule, often the longest text, comes last so that the other columns stay readable.

    Examples
    --------
    >>> p = problem_frame("contracts.csv", [2], "tier", "tier normalised to 'district'",
    ...                   "district ", "normalised").drop(columns="pos")
    >>> print(problems_table(p))
    file          row column severity   value     rule
    contracts.csv 2   tier   normalised district  tier normalised to 'district'
    """
    shown = problems if max_rows is None else problems.head(max_rows)
    order = ["file", "row", "column", "severity", "value", "rule"]
    shown = shown[[c for c in order if c in shown.columns]]
    text = shown.astype(object).where(shown.notna(), "").astype(str)
    text = text.replace("\n", " ", regex=True)  # one line per problem
    widths = {c: max([len(c), *text[c].str.len()]) for c in text.columns}
    lines = [" ".join(c.ljust(widths[c]) for c in text.columns).rstrip()]
    for row in text.itertuples(index=False):  # display only: at most max_rows lines
        cells = (v.ljust(widths[c]) for c, v in zip(text.columns, row, strict=True))
        lines.append(" ".join(cells).rstrip())
    if len(problems) > len(shown):
        lines.append(f"... {len(problems) - len(shown)} more row(s) not shown")
    return "\n".join(lines)


# ---------------------------------------------------------------- structure of a table


def _prepare(name: str, table: RawTable) -> tuple[RawTable, list[pd.DataFrame]]:
    """Normalise column names, check the table's structure and skip empty rows."""
    frame, parts = _normalise_header(table)
    parts.append(_structure_errors(name, frame, table))
    blank = blank_rows(frame)
    rows = np.asarray(table.rows, dtype=np.int64)
    parts.append(
        problem_frame(table.file, rows[blank], None, "empty row skipped", "", "normalised")
    )
    if blank.any() or not isinstance(frame.index, pd.RangeIndex) or frame.index.start != 0:
        frame, rows = frame[~blank].reset_index(drop=True), rows[~blank]
    if name in REQUIRED_TABLES and len(frame) == 0:
        parts.append(problem_frame(table.file, None, None, "the table has no data rows", ""))
    return RawTable(frame, table.file, rows, table.header_row, table.problems), parts


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
        table.file, [table.header_row] * len(cols), list(cols), list(rules), list(values)
    ).assign(severity="normalised")
    return out, [note]


def _structure_errors(name: str, frame: pd.DataFrame, table: RawTable) -> pd.DataFrame:
    names = list(frame.columns)
    found = []
    for col in dict.fromkeys(c for c in names if names.count(c) > 1):
        found.append((col, f"column '{col}' appears more than once"))
    standard = {s.name for s in SPECS[name]}
    for spec in SPECS[name]:
        if spec.required and spec.name not in names:
            found.append((spec.name, _missing_column_rule(spec.name, names, standard, table)))
    cols, rules = zip(*found, strict=True) if found else ((), ())
    return problem_frame(table.file, [table.header_row] * len(cols), list(cols), list(rules), "")


def _missing_column_rule(col: str, names: list[str], standard: set[str], table: RawTable) -> str:
    rule = f"required column '{col}' is missing"
    if col in table.frame.index.names:
        return f"{rule}; it is the frame's index: call reset_index() first"
    close = difflib.get_close_matches(col, [c for c in names if c not in standard], 1, 0.6)
    return f"{rule}; did you mean '{close[0]}'?" if close else rule


# ---------------------------------------------------------------- rows of one table


def _check_table(name: str, table: RawTable) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parse every contract column of a table; extra columns pass through."""
    frame, cols, issues = table.frame, {}, []
    for spec in SPECS[name]:
        if spec.name in frame.columns:
            cols[spec.name], found = parse_column(frame[spec.name], spec)
            issues.append(found)
        else:
            dtype = "str" if spec.kind in ("id", "text", "category") else np.float64
            cols[spec.name] = pd.Series(np.nan, index=frame.index, dtype=dtype)
    for col in frame.columns.difference(list(cols), sort=False):
        s = frame[col]
        text = s.dtype == object or pd.api.types.is_string_dtype(s.dtype)
        cols[col] = s.mask(s.eq("")) if text else s  # empty CSV cells -> NaN
    if name == "agencies" and "closed" in frame.columns:
        issues.append(_closed_issues(pd.DataFrame(cols), frame))
    out = pd.DataFrame(cols, index=frame.index)
    if name in KEYS:
        issues.append(_duplicate_issues(out, KEYS[name], table.rows))
    return out, pd.concat(issues, ignore_index=True)


def _closed_issues(clean: pd.DataFrame, raw: pd.DataFrame) -> pd.DataFrame:
    pos = np.flatnonzero((clean["closed"] < clean["founded"]).to_numpy())
    founded = clean["founded"].iloc[pos].astype(np.int64).astype(str)
    rule = ("closed must not be before founded (" + founded + ")").to_numpy()
    return _issues(pos, "closed", rule, display_values(raw["closed"].iloc[pos]))


def _duplicate_issues(frame: pd.DataFrame, key: tuple[str, ...], rows: IntArray) -> pd.DataFrame:
    """Conflicting copies of a key are all errors; exact copies are errors after the first."""
    cols = list(key)
    dup = frame.duplicated(cols, keep=False).to_numpy() & frame[cols].notna().all(axis=1).to_numpy()
    if not dup.any():
        return _issues(np.arange(0), ", ".join(cols), "", "")
    sub = frame[dup].assign(_row=rows[dup], _pos=np.flatnonzero(dup))
    exact = sub.drop(columns=["_row", "_pos"]).duplicated(keep="first").to_numpy()
    distinct = sub[~exact]
    clash = pd.MultiIndex.from_frame(distinct.loc[distinct.duplicated(cols, keep=False), cols])
    conflict = pd.MultiIndex.from_frame(sub[cols]).isin(clash)
    groups = sub.groupby(cols, sort=False)["_row"]
    listed = groups.transform(lambda r: ", ".join(map(str, r)))  # one call per duplicated key
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
    return _issues(pos, ", ".join(cols), rule[flagged], value.to_numpy()[flagged])


# ---------------------------------------------------------------- across tables


def _agency_issues(
    frame: pd.DataFrame, agencies: pd.DataFrame, agency_ok: BoolArray, raw: pd.DataFrame
) -> pd.DataFrame:
    """Rows whose agency is unknown, or whose year lies outside the agency's founded..closed."""
    ids = frame["agency_id"]
    unknown = (ids.notna() & ~ids.isin(agencies["agency_id"].dropna())).to_numpy()
    valid = agencies[agency_ok].drop_duplicates("agency_id")
    idx = pd.Index(valid["agency_id"]).get_indexer(ids)  # -1 (no valid row) picks the NaN
    founded = np.append(valid["founded"].to_numpy(np.float64), np.nan)[idx]
    closed = np.append(valid["closed"].to_numpy(np.float64), np.nan)[idx]
    year = frame["year"].to_numpy(np.float64)
    early, late = year < founded, (year > closed) & ~(year < founded)
    rule = np.full(len(frame), None, dtype=object)
    rule[unknown] = "agency_id is not in agencies"
    rule[early] = "year must not be before the agency's founded year (" + _years(founded[early])
    rule[late] = "year must not be after the agency's closed year (" + _years(closed[late])
    pos = np.flatnonzero(unknown | early | late)
    column = np.where(unknown[pos], "agency_id", "year")
    value = np.where(
        unknown[pos], display_values(ids.iloc[pos]), display_values(raw["year"].iloc[pos])
    )
    return _issues(pos, column, rule[pos], value)


def _years(x: np.ndarray) -> Any:
    return np.char.add(x.astype(np.int64).astype(str), ")").astype(object)


def _cascade_issues(frame: pd.DataFrame, bad_agency: pd.Series, own_error: BoolArray) -> Any:
    """Lenient mode: rows without errors of their own whose agency row is invalid."""
    rule = frame["agency_id"].map(bad_agency)
    pos = np.flatnonzero(rule.notna().to_numpy() & ~own_error)
    value = display_values(frame["agency_id"].iloc[pos])
    return _issues(pos, "agency_id", rule.to_numpy()[pos], value, "dropped")


def _bad_agencies(agencies: pd.DataFrame, error: BoolArray, table: RawTable) -> pd.Series:
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


# ---------------------------------------------------------------- orchestration


def validate(
    agencies: pd.DataFrame,
    contracts: pd.DataFrame,
    revenue: pd.DataFrame | None = None,
    errors: Errors = "raise",
    files: Mapping[str, str] | None = None,
) -> Dataset:
    """Check in-memory tables against the data contract and return a validated data set.

    Parameters
    ----------
    agencies, contracts : DataFrame
        The two required tables (columns as in ``docs/data.md``; extra columns are kept).
    revenue : DataFrame, optional
        Non-government revenue; an empty table when omitted.
    errors : {"raise", "drop"}
        ``"raise"`` raises :class:`~sustain.errors.DataError` listing every violation;
        ``"drop"`` drops the offending rows (and the contracts and revenue of invalid agencies)
        and reports them in ``.problems``.
    files : mapping, optional
        Name shown in problems for each table (default: the table name, e.g. ``"contracts"``).
        Rows are numbered by 1-based position.

    Returns
    -------
    Dataset
        Typed tables (ids and text as strings, years ``int64``, ``closed`` ``Int64``, amounts
        and scores ``float64``) and the problems table, including the normalisations made.

    Raises
    ------
    DataError
        In strict mode on any violation; in both modes when a table is unusable as a whole.

    Examples
    --------
    >>> import pandas as pd
    >>> agencies = pd.DataFrame({"agency_id": ["A1"], "founded": [2012], "district": ["Yuexiu"]})
    >>> contracts = pd.DataFrame({"contract_id": ["C1", "C2"], "agency_id": ["A1", "A1"],
    ...     "year": [2015, 2010], "funder": ["Street A", "Street A"], "tier": ["subdistrict"] * 2,
    ...     "contract_type": ["open_tender"] * 2, "amount": [500000.0, 1.0]})
    >>> data = validate(agencies, contracts, errors="drop")
    >>> len(data.contracts)
    1
    >>> data.problems[["file", "row", "column", "rule"]].to_dict("records")[0]["rule"]
    "year must not be before the agency's founded year (2012)"
    """
    frames = {"agencies": agencies, "contracts": contracts}
    if revenue is not None:
        frames["revenue"] = revenue
    names = dict(files or {})
    if set(names) - set(TABLES):
        raise SpecError(f"files= names unknown tables {sorted(set(names) - set(TABLES))}")
    tables = {}
    for name, frame in frames.items():
        if not isinstance(frame, pd.DataFrame):
            raise SpecError(f"{name} must be a pandas DataFrame, not {type(frame).__name__}")
        rows = np.arange(1, len(frame) + 1, dtype=np.int64)
        tables[name] = RawTable(frame, names.get(name, name), rows)
    return validate_tables(tables, errors=errors)


def validate_tables(
    tables: Mapping[str, RawTable], errors: Errors = "raise", source: str | None = None
) -> Dataset:
    """Validate raw tables (``agencies``, ``contracts``, optional ``revenue``) in one pass.

    The engine behind :func:`validate` and :func:`sustain.read_dataset`; see :func:`validate`
    for ``errors`` and the result. ``source`` is recorded on the returned :class:`Dataset`.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> a = pd.DataFrame({"agency_id": ["A1"], "founded": ["2012"], "district": ["Tianhe "]})
    >>> c = pd.DataFrame({"contract_id": ["C1"], "agency_id": ["A1"], "year": ["2015"],
    ...     "funder": ["x"], "tier": ["district"], "contract_type": ["single_source"],
    ...     "amount": ["1,000"]})
    >>> tables = {"agencies": RawTable(a, "agencies.csv", np.array([2]), header_row=1),
    ...           "contracts": RawTable(c, "contracts.csv", np.array([2]), header_row=1)}
    >>> data = validate_tables(tables)
    >>> data.problems[["file", "row", "severity"]].values.tolist()
    [['agencies.csv', 2, 'normalised'], ['contracts.csv', 2, 'normalised']]
    """
    if errors not in choices(Errors):
        raise SpecError(f"errors={errors!r} is not one of 'raise', 'drop'")
    prepared, parts = {}, []
    for name in (t for t in TABLES if t in tables):
        prepared[name], found = _prepare(name, tables[name])
        parts.extend(found)
    early = _finish_problems(parts)
    if (early["severity"] == "error").any():
        raise DataError(early, _message(early))
    parts.extend(t.problems for t in prepared.values() if t.problems is not None)
    checked = {name: _check_table(name, table) for name, table in prepared.items()}
    issues = {name: found for name, (_, found) in checked.items()}
    agencies = checked["agencies"][0]
    agency_ok = ~_flags(issues["agencies"], len(agencies))
    for name in ("contracts", "revenue"):
        if name in checked:
            found = _agency_issues(checked[name][0], agencies, agency_ok, prepared[name].frame)
            issues[name] = pd.concat([issues[name], found], ignore_index=True)
    if errors == "drop":
        _add_cascade(checked, issues, agency_ok, prepared["agencies"])
    parts.extend(_to_problems(found, prepared[name]) for name, found in issues.items())
    problems = _finish_problems(parts)
    if errors == "raise" and (problems["severity"] == "error").any():
        raise DataError(problems, _message(problems))
    out = {name: _finalise(name, frame, issues[name]) for name, (frame, _) in checked.items()}
    revenue = out.get("revenue", empty_revenue())
    return Dataset(out["agencies"], out["contracts"], revenue, problems, source)


def _to_problems(found: pd.DataFrame, table: RawTable) -> pd.DataFrame:
    pos = found["pos"].to_numpy()
    return problem_frame(
        table.file,
        table.rows[pos],
        found["column"],
        found["rule"],
        found["value"],
        found["severity"],
        pos,
    )


def _flags(issues: pd.DataFrame, n: int, severities: tuple[str, ...] = ("error",)) -> BoolArray:
    """Rows (by position) that have an issue of the given severities."""
    flagged = np.zeros(n, dtype=bool)
    flagged[issues.loc[issues["severity"].isin(severities), "pos"].to_numpy()] = True
    return flagged


def _add_cascade(
    checked: dict[str, Any], issues: dict[str, pd.DataFrame], ok: BoolArray, table: RawTable
) -> None:
    bad = _bad_agencies(checked["agencies"][0], ~ok, table)
    for name in ("contracts", "revenue"):
        if name in checked and len(bad):
            frame = checked[name][0]
            found = _cascade_issues(frame, bad, _flags(issues[name], len(frame)))
            issues[name] = pd.concat([issues[name], found], ignore_index=True)


def _finalise(name: str, frame: pd.DataFrame, issues: pd.DataFrame) -> pd.DataFrame:
    """Drop rows with errors (or dropped in cascade) and give each column its final type."""
    drop = _flags(issues, len(frame), ("error", "dropped"))
    out = frame[~drop].reset_index(drop=True)
    for spec in SPECS[name]:
        if spec.kind == "year":
            out[spec.name] = out[spec.name].astype("int64" if spec.nonnull else "Int64")
    return out


def _message(problems: pd.DataFrame) -> str:
    errors = problems[problems["severity"] == "error"]
    text = format_problems(errors)
    others = len(problems) - len(errors)
    if others:
        text += f"\n  (plus {others} normalised value(s) listed in the .problems table)"
    return text


def validated_schema(table: str) -> pa.DataFrameSchema:
    """A pandera schema of a table as :func:`validate` returns it (types, ranges, keys).

    Cross-table rules (known agencies, years within founded..closed) are not part of it.

    Examples
    --------
    >>> import pandas as pd
    >>> schema = validated_schema("revenue")
    >>> ok = pd.DataFrame({"agency_id": ["A1"], "year": [2015], "source": ["fee"],
    ...                    "amount": [10.0]})
    >>> schema.validate(ok).shape
    (1, 4)
    """
    import pandera.pandas as pa

    columns = {}
    for spec in SPECS[table]:
        checks = []
        if spec.kind == "year":
            dtype: Any = "int64" if spec.nonnull else "Int64"
            checks.append(pa.Check.in_range(YEAR_MIN, YEAR_MAX))
        elif spec.kind in ("amount", "score"):
            dtype = "float64"
            low = pa.Check.gt(spec.lower) if spec.lower_strict else pa.Check.ge(spec.lower)
            checks += [low, pa.Check.le(spec.upper)]
        else:
            dtype = "str"
            checks.append(pa.Check(lambda s: s.str.strip() == s, element_wise=False))
            if spec.choices:
                checks.append(pa.Check.isin(spec.choices))
        columns[spec.name] = pa.Column(dtype, checks, nullable=not spec.nonnull)
    frame_checks = []
    if table == "agencies":
        frame_checks.append(pa.Check(lambda d: d["closed"].isna() | (d["closed"] >= d["founded"])))
    key = list(KEYS.get(table, ())) or None
    return pa.DataFrameSchema(columns, checks=frame_checks, unique=key, strict=False)
