"""Checking the three input tables against the data contract, in one vectorised pass.

:func:`validate` checks in-memory ``agencies``, ``contracts`` and ``revenue`` frames;
:func:`sustain.read_dataset` reads files (through an import mapping when given) and hands them
to :func:`validate_tables` with the row numbers and headers the user sees. Every violation is
collected into one problems table (``file``, ``row``, ``column``, ``rule``, ``value``,
``severity``; see :mod:`sustain.data.problems` for the severities ``error``, ``note`` and
``dropped``). Strict mode (``errors="raise"``) raises :class:`~sustain.errors.DataError` on any
error; lenient mode (``errors="drop"``) drops the rows with errors. Problems that make a whole
table unusable (a required column missing, a column name twice, no data rows) raise in both
modes, and so does lenient reading that would drop every row of a required table.

The order of work: table structure (:func:`sustain.data.rules.prepare`); each column's cells
(:func:`sustain.data.cells.parse_column`: missing tokens, value maps, the built-in Chinese
vocabulary, numbers, ranges); units, terms and the observed window for contracts
(:mod:`sustain.data.contract_years`); duplicate keys; agencies across tables.

Why hand-written checks rather than pandera for the row-level rules: the report must give the row
as the user sees it in the file, the rule in the field's words (with "did you mean" hints), the
raw value before parsing and a severity; values arrive as text and must be parsed ("1,000",
"2015.0", full-width digits, 万元) before any range check; and half the rules span rows or tables
(duplicate keys, unknown agencies, contract years outside founded..closed, cascading drops).
Pandera is used for what it does well: :func:`validated_schema` states the types and ranges of
the tables :func:`validate` returns, and the tests check returned data against it.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sustain.data import rules
from sustain.data.cells import YEAR_MAX, YEAR_MIN, parse_column
from sustain.data.contract import (
    KEYS,
    REQUIRED_TABLES,
    SPECS,
    TABLES,
    RawTable,
    specs_of,
)
from sustain.data.contract_years import (
    apply_units,
    default_observed_until,
    expand_terms,
    window_notes,
)
from sustain.data.dataset import Dataset, empty_revenue
from sustain.data.problems import (
    REPORT_COLUMNS,
    SEVERITIES,
    errors_at,
    finish_problems,
    flags,
    problem_frame,
    problems_table,
)
from sustain.errors import DataError, DataWarning, SpecError, format_problems
from sustain.options import Errors, choices

if TYPE_CHECKING:  # pragma: no cover
    import pandera.pandas as pa

__all__ = [
    "KEYS",
    "REPORT_COLUMNS",
    "REQUIRED_TABLES",
    "SEVERITIES",
    "SPECS",
    "TABLES",
    "RawTable",
    "problem_frame",
    "problems_table",
    "validate",
    "validate_tables",
    "validated_schema",
]

#: A median contract-year amount below this, in yuan, looks like amounts kept in 万元.
PLAUSIBLE_MEDIAN_YUAN = 1_000.0


@dataclass
class _Checked:
    """One table while it is being checked: parsed frame, row numbers and issues by position."""

    frame: pd.DataFrame
    rows: np.ndarray
    issues: pd.DataFrame
    raw: RawTable
    late_ok: np.ndarray | None = None  # contract-years of terms: late years are notes


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
    tables: Mapping[str, RawTable],
    errors: Errors = "raise",
    source: str | None = None,
    observed_until: int | None = None,
) -> Dataset:
    """Validate raw tables (``agencies``, ``contracts``, optional ``revenue``) in one pass.

    The engine behind :func:`validate` and :func:`sustain.read_dataset`; see :func:`validate`
    for ``errors`` and the result. ``source`` is recorded on the returned :class:`Dataset`.
    ``observed_until`` is the last fiscal year observed (default: the last year in which a
    contract starts); contract-years and revenue after it are left out with a note.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> a = pd.DataFrame({"agency_id": ["A1"], "founded": ["2012"], "district": ["Tianhe "]})
    >>> c = pd.DataFrame({"contract_id": ["C1"], "agency_id": ["A1"], "year": ["2015"],
    ...     "funder": ["x"], "tier": ["区级"], "contract_type": ["single_source"],
    ...     "amount": ["1,000"]})
    >>> tables = {"agencies": RawTable(a, "agencies.csv", np.array([2]), header_row=1),
    ...           "contracts": RawTable(c, "contracts.csv", np.array([2]), header_row=1)}
    >>> data = validate_tables(tables)
    >>> data.problems[["file", "row", "column", "severity"]].values.tolist()
    [['agencies.csv', 2, 'district', 'note'], ['contracts.csv', 2, 'tier', 'note'], ['contracts.csv', 2, 'amount', 'note']]
    >>> data.contracts["tier"].tolist(), data.observed_until
    (['district'], 2015)
    """
    if errors not in choices(Errors):
        raise SpecError(f"errors={errors!r} is not one of 'raise', 'drop'")
    prepared, parts = {}, []
    for name in (t for t in TABLES if t in tables):
        prepared[name], found = rules.prepare(name, tables[name])
        parts.extend(found)
    early = finish_problems([_labelled(p, prepared) for p in parts])
    if (early["severity"] == "error").any():
        raise DataError(early, _message(early))
    parts.extend(t.problems for t in prepared.values() if t.problems is not None)
    checked = {name: _check_table(name, table) for name, table in prepared.items()}
    observed = _observed_until(checked, observed_until)
    _contract_years(checked, observed)
    agencies = checked["agencies"].frame
    agency_ok = ~errors_at(checked["agencies"].issues, len(agencies))
    for name in ("contracts", "revenue"):
        if name in checked:
            _cross_table(checked[name], agencies, agency_ok)
    if errors == "drop":
        _add_cascade(checked, agency_ok, prepared["agencies"])
    parts.extend(_to_problems(c) for c in checked.values())
    problems = finish_problems(parts)
    if errors == "raise" and (problems["severity"] == "error").any():
        raise DataError(problems, _message(problems))
    out = {name: _finalise(name, c) for name, c in checked.items()}
    _nothing_left(out, checked, problems)
    _plausibility(out["contracts"])
    revenue = out.get("revenue", empty_revenue())
    return Dataset(out["agencies"], out["contracts"], revenue, problems, source, observed)


def _labelled(part: pd.DataFrame, prepared: Mapping[str, RawTable]) -> pd.DataFrame:
    """Problems of a file with the user's own headers in ``column``."""
    if not len(part):
        return part
    file = part["file"].iloc[0]
    labels = next((t.labels for t in prepared.values() if t.file == file and t.labels), None)
    if not labels:
        return part
    return part.assign(column=part["column"].map(lambda c: labels.get(c, c)))


# ---------------------------------------------------------------- steps


def _check_table(name: str, table: RawTable) -> _Checked:
    """Parse every contract column of a table; extra columns pass through."""
    frame, cols, issues = table.frame, {}, []
    options = table.table_options(name)
    for spec in specs_of(name, options):
        if spec.name in frame.columns:
            cols[spec.name], found = parse_column(
                frame[spec.name], spec, options.reading(spec.name)
            )
            issues.append(found)
        else:
            dtype = "str" if spec.kind in ("id", "text", "category") else np.float64
            cols[spec.name] = pd.Series(np.nan, index=frame.index, dtype=dtype)
    for col in frame.columns.difference(list(cols), sort=False):
        s = frame[col]
        text = s.dtype == object or pd.api.types.is_string_dtype(s.dtype)
        cols[col] = s.mask(s.eq("")) if text else s  # empty CSV cells -> NaN
    parsed = apply_units(pd.DataFrame(cols, index=frame.index), options)
    if name == "agencies" and "closed" in frame.columns:
        issues.append(rules.closed_issues(parsed, frame))
    if name == "agencies" and "exit_reason" in frame.columns:
        issues.append(rules.exit_reason_issues(parsed, frame))
    found = pd.concat(issues, ignore_index=True)
    return _Checked(parsed, np.asarray(table.rows, dtype=np.int64), found, table)


def _observed_until(checked: Mapping[str, _Checked], given: int | None) -> int | None:
    if given is not None:
        return int(given)
    contracts = checked["contracts"]
    term = contracts.raw.table_options("contracts").term is not None
    frame = contracts.frame
    usable = frame[~errors_at(contracts.issues, len(frame))]
    revenue = checked.get("revenue")
    revenue_years = None
    if revenue is not None:
        revenue_years = revenue.frame["year"][~errors_at(revenue.issues, len(revenue.frame))]
    return default_observed_until(usable, term, revenue_years)


def _contract_years(checked: dict[str, _Checked], observed: int | None) -> None:
    """Expand terms; note contract-years and revenue after the window; then duplicate keys."""
    contracts = checked["contracts"]
    options = contracts.raw.table_options("contracts")
    if options.term is not None:
        expanded = expand_terms(contracts.frame, contracts.issues, options, contracts.raw.frame)
        contracts.frame = expanded.frame
        contracts.rows = contracts.rows[expanded.origin]
        contracts.issues = expanded.issues
        contracts.late_ok = expanded.term_rows
    for name in ("contracts", "revenue"):
        if name not in checked:
            continue
        c = checked[name]
        closed = None
        if c.late_ok is not None:
            agencies = checked["agencies"]
            ok = ~errors_at(agencies.issues, len(agencies.frame))
            closed = rules.agency_years(c.frame, agencies.frame, ok)[1]
        notes = window_notes(c.frame, observed, closed, c.late_ok)
        clean = ~errors_at(c.issues, len(c.frame))  # rows with errors are reported as such
        notes = notes[clean[notes["pos"].to_numpy(np.int64)]]
        c.issues = pd.concat([c.issues, notes], ignore_index=True)
        c.issues = pd.concat(
            [c.issues, rules.duplicate_issues(c.frame, KEYS[name], c.rows)], ignore_index=True
        )
    agencies = checked["agencies"]
    agencies.issues = pd.concat(
        [agencies.issues, rules.duplicate_issues(agencies.frame, KEYS["agencies"], agencies.rows)],
        ignore_index=True,
    )


def _cross_table(c: _Checked, agencies: pd.DataFrame, agency_ok: np.ndarray) -> None:
    raw_year = c.raw.frame["year"] if "year" in c.raw.frame.columns else c.frame["year"]
    if len(raw_year) != len(c.frame):  # contract-years of terms: show the year itself
        raw_year = c.frame["year"].astype("Int64").astype(str)
    found = rules.agency_issues(
        c.frame, agencies, agency_ok, raw_year.reset_index(drop=True), c.late_ok
    )
    # a contract-year left out by the window is not also an error
    left_out = flags(c.issues, len(c.frame)) & ~errors_at(c.issues, len(c.frame))
    found = found[~left_out[found["pos"].to_numpy(np.int64)]]
    c.issues = pd.concat([c.issues, found], ignore_index=True)


def _add_cascade(checked: dict[str, _Checked], ok: np.ndarray, table: RawTable) -> None:
    bad = rules.bad_agencies(checked["agencies"].frame, ~ok, table)
    for name in ("contracts", "revenue"):
        if name in checked and len(bad):
            c = checked[name]
            own = flags(c.issues, len(c.frame))
            found = rules.cascade_issues(c.frame, bad, own)
            c.issues = pd.concat([c.issues, found], ignore_index=True)


def _to_problems(c: _Checked) -> pd.DataFrame:
    found = c.issues
    pos = found["pos"].to_numpy(np.int64)
    column = found["column"]
    if c.raw.labels:
        column = column.map(lambda col: c.raw.labels.get(col, col))
    return problem_frame(
        c.raw.file,
        c.rows[pos],
        column,
        found["rule"],
        found["value"],
        found["severity"],
        pos,
        found["drop"].to_numpy(dtype=bool),
    )


def _finalise(name: str, c: _Checked) -> pd.DataFrame:
    """Drop rows with errors (or dropped in cascade, or left out) and give columns their type."""
    drop = flags(c.issues, len(c.frame))
    standard = [s.name for s in SPECS[name] if s.name in c.frame.columns]
    order = standard + [col for col in c.frame.columns if col not in standard]
    out = c.frame.loc[~drop, order].reset_index(drop=True)
    for spec in SPECS[name]:
        if spec.kind == "year" and spec.name in out.columns:
            out[spec.name] = out[spec.name].astype("int64" if spec.nonnull else "Int64")
    return out


def _nothing_left(
    out: Mapping[str, pd.DataFrame], checked: Mapping[str, _Checked], problems: pd.DataFrame
) -> None:
    """Lenient reading that leaves a required table empty is an error, not an empty panel."""
    for name in REQUIRED_TABLES:
        if len(out[name]) == 0 and len(checked[name].frame) > 0:
            file = checked[name].raw.file
            mine = problems["file"] == file
            first = problems[mine & problems["severity"].isin(("error", "dropped"))]
            reasons = first["rule"].astype(str).str.replace(r" \(.*$", "", regex=True)
            top = reasons.value_counts().head(3)
            listed = "; ".join(f"{r} ({n:,} rows)" for r, n in top.items())
            rule = (
                f"every row of {file} was dropped ({len(checked[name].frame):,} rows); "
                f"the commonest reasons: {listed}"
            )
            line = problem_frame(file, None, None, rule, "").drop(columns=["pos", "drop"])
            report = pd.concat([problems, line], ignore_index=True)  # the summary comes last
            raise DataError(report, _message(report))


def _plausibility(contracts: pd.DataFrame) -> None:
    if len(contracts) == 0:
        return
    median = float(contracts["amount"].median())
    if median < PLAUSIBLE_MEDIAN_YUAN:
        warnings.warn(
            f"the median contract-year amount is {median:,.2f} yuan: amounts look like 万元 "
            "(10,000 yuan) or 千元 (1,000 yuan). Amounts must be in yuan; declare the unit in "
            'the mapping (units = { amount = "wan" }) if they are not.',
            DataWarning,
            stacklevel=4,
        )


def _message(problems: pd.DataFrame) -> str:
    errors = problems[problems["severity"] == "error"]
    text = format_problems(errors)
    others = len(problems) - len(errors)
    if others:
        text += f"\n  (plus {others} note(s) or dropped row(s) listed in the .problems table)"
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
        frame_checks.append(pa.Check(lambda d: d["exit_reason"].isna() | d["closed"].notna()))
    key = list(KEYS.get(table, ())) or None
    return pa.DataFrameSchema(columns, checks=frame_checks, unique=key, strict=False)
