"""Reading and judging the cells of one column: text clean-up, numbers, years, ranges.

Each rule is judged once per *distinct* raw value (``pandas.factorize``) and the verdicts are
broadcast back to the rows by integer codes, so millions of contract rows with a few hundred
distinct funders, tiers and years cost little more than the factorisation itself. Used by
:mod:`sustain.data.schema`, which holds the data contract and the rules across rows and tables.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sustain._typing import BoolArray, IntArray

ObjectArray = np.ndarray  # an array of Python objects (str or None); numpy has no precise alias

YEAR_MIN, YEAR_MAX = 1900, 2100
#: Cell contents read as "no value" in every column (after stripping whitespace).
MISSING_TOKENS = ("", "NA", "N/A", "n/a", "NaN", "nan", "NULL", "null", "None", "#N/A", "<NA>")
VALUE_WIDTH = 80  # raw values longer than this are cut in the problems table
Kind = Literal["id", "text", "category", "year", "amount", "score"]

_THOUSANDS = r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?"
_PLAIN_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)"


@dataclass(frozen=True)
class ColumnSpec:
    """One column of the data contract.

    Attributes
    ----------
    name : str
        Column name, exactly as in the files.
    kind : {"id", "text", "category", "year", "amount", "score"}
        ``id``: text, surrounding whitespace removed; ``text``: also runs of whitespace
        collapsed; ``category``: also lower-cased and checked against ``choices``; ``year``: a
        whole number between ``YEAR_MIN`` and ``YEAR_MAX``; ``amount`` and ``score``: finite
        numbers within ``lower``/``upper``.
    required : bool
        The column must be present (optional columns are added, empty, when absent).
    nonnull : bool
        Every row needs a value.
    choices : tuple of str
        Allowed values of a ``category``.
    lower, upper : float
        Bounds of an ``amount`` or ``score``; ``lower_strict`` makes the lower bound exclusive.

    Examples
    --------
    >>> ColumnSpec("amount", "amount", lower=0.0, lower_strict=True).bound_rule()
    'amount must be > 0'
    """

    name: str
    kind: Kind
    required: bool = True
    nonnull: bool = True
    choices: tuple[str, ...] = ()
    lower: float = -np.inf
    upper: float = np.inf
    lower_strict: bool = False

    def bound_rule(self) -> str:
        """The rule text of the bounds of a number column."""
        if np.isfinite(self.upper):
            return f"{self.name} must be between {self.lower:g} and {self.upper:g}"
        return f"{self.name} must be {'>' if self.lower_strict else '>='} {self.lower:g}"


def display_values(values: pd.Series) -> ObjectArray:
    """The raw cells as the user would read them (``''`` for empty), cut to ``VALUE_WIDTH``.

    Examples
    --------
    >>> import pandas as pd
    >>> list(display_values(pd.Series(["x", None, 3])))
    ['x', '', '3']
    """
    if values.empty:
        return np.array([], dtype=object)
    obj = values.astype(object)
    text = obj.where(obj.notna(), "").astype(str).str.slice(0, VALUE_WIDTH)
    return np.asarray(text.to_numpy(), dtype=object)


# ---------------------------------------------------------------- judging distinct values


@dataclass(frozen=True)
class Verdicts:
    """The judgement of each distinct raw value of a column (arrays of equal length).

    Attributes
    ----------
    value : ndarray
        Cleaned value (``object`` text or ``float64``); NaN where missing or invalid.
    missing : ndarray of bool
        The cell counts as empty.
    error : ndarray of object
        Rule text of the broken rule, or ``None``.
    note : ndarray of object
        Text of the normalisation made, or ``None``.

    Examples
    --------
    >>> import numpy as np
    >>> v = Verdicts(np.array([1.0]), np.array([False]), np.array([None]), np.array([None]))
    >>> v.value.tolist()
    [1.0]
    """

    value: np.ndarray
    missing: BoolArray
    error: ObjectArray
    note: ObjectArray


def _verdicts(
    value: np.ndarray, missing: BoolArray, error: ObjectArray, note: ObjectArray
) -> Verdicts:
    has_error = error != None  # noqa: E711 - elementwise test on an object array
    value = value.copy()
    value[missing | has_error] = np.nan
    note = note.copy()
    note[has_error] = None
    return Verdicts(value, missing, error, note)


def _as_text(u: pd.Series) -> tuple[ObjectArray, ObjectArray, BoolArray]:
    """Text of each distinct raw value, the same stripped, and whether it counts as missing."""
    if pd.api.types.is_float_dtype(u.dtype) and bool(np.all(np.mod(u.dropna(), 1) == 0)):
        u = u.astype("Int64")  # ids stored as floats (Stata, Parquet): 12.0 -> "12"
    obj = u.to_numpy(dtype=object, na_value=None, copy=True)
    missing = pd.isna(obj)
    obj[missing] = ""
    text = pd.Series(obj, dtype=object).astype(str).to_numpy(dtype=object)  # Python str each
    stripped = _arrow(text, pc.utf8_trim_whitespace)
    missing |= np.isin(stripped, MISSING_TOKENS)
    return text, stripped, missing


def _arrow(text: np.ndarray | pd.Series, *steps: Callable[[pa.Array], pa.Array]) -> ObjectArray:
    """Apply Arrow string kernels: several times faster than ``Series.str`` on object arrays."""
    arr = pa.array(np.asarray(text, dtype=object), type=pa.string(), from_pandas=True)
    for step in steps:
        arr = step(arr)
    return np.array(arr.to_numpy(zero_copy_only=False), dtype=object)


def _collapse(arr: pa.Array) -> pa.Array:
    return pc.replace_substring_regex(arr, r"[\s\p{Z}]+", " ")  # Unicode spaces included


def _to_float(text: ObjectArray) -> np.ndarray:
    """Parse text as numbers; NaN where it is not one (Arrow's parser, pandas' when any fails)."""
    try:
        arr = pa.array(text, type=pa.string(), from_pandas=True)
        return np.array(pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False), np.float64)
    except pa.ArrowInvalid:
        return pd.to_numeric(pd.Series(text), errors="coerce").to_numpy(np.float64, copy=True)


def judge_text(u: pd.Series, spec: ColumnSpec) -> Verdicts:
    """Clean distinct text values; flag normalised ones and unknown categories.

    Examples
    --------
    >>> import pandas as pd
    >>> spec = ColumnSpec("tier", "category", choices=("municipal", "district", "subdistrict"))
    >>> v = judge_text(pd.Series(["district ", "Street"]), spec)
    >>> v.value.tolist(), v.note.tolist()
    (['district', nan], ["tier normalised to 'district'", None])
    >>> v.error[1]
    'tier must be one of municipal, district, subdistrict'
    """
    text, clean, missing = _as_text(u)
    steps = {"id": (), "text": (_collapse,), "category": (_collapse, pc.utf8_lower)}[spec.kind]
    if steps:
        clean = _arrow(clean, *steps)
    missing |= np.isin(clean, MISSING_TOKENS)
    error = np.full(len(u), None, dtype=object)
    note = error.copy()
    changed = ~missing & (clean != text)
    note[changed] = [f"{spec.name} normalised to '{v}'" for v in clean[changed]]
    if spec.choices:
        unknown = ~missing & ~np.isin(clean, spec.choices)
        error[unknown] = [_unknown_rule(spec, v) for v in clean[unknown]]
    return _verdicts(clean, missing, error, note)


def _unknown_rule(spec: ColumnSpec, value: str) -> str:
    rule = f"{spec.name} must be one of {', '.join(spec.choices)}"
    close = difflib.get_close_matches(value, spec.choices, n=1, cutoff=0.6)
    return f"{rule}; did you mean '{close[0]}'?" if close else rule


def judge_number(u: pd.Series, spec: ColumnSpec) -> Verdicts:
    """Parse distinct raw values of a year, amount or score column and check their range.

    Text is read by Arrow's number parser (pandas' when Arrow fails); what fails is tried once
    more after NFKC normalisation (full-width digits) and removal of thousands separators in the
    strict ``1,234,567.89`` pattern, which is unambiguous for the data this package serves; such
    values are kept with a note. Anything else is an error.

    Examples
    --------
    >>> import pandas as pd
    >>> spec = ColumnSpec("amount", "amount", lower=0.0, lower_strict=True)
    >>> v = judge_number(pd.Series(["1,000", "-5", "abc", "2e3"]), spec)
    >>> v.value.tolist()[::3]
    [1000.0, 2000.0]
    >>> v.error.tolist()[1:3]
    ['amount must be > 0', 'amount must be a number']
    """
    error = np.full(len(u), None, dtype=object)
    note = error.copy()
    if pd.api.types.is_numeric_dtype(u.dtype) and not pd.api.types.is_bool_dtype(u.dtype):
        num = u.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
        missing = np.isnan(num)
    else:
        _, text, missing = _as_text(u)
        present = text.copy()
        present[missing] = None
        num = _to_float(present)
        failed = np.isnan(num) & ~missing
        if failed.any():
            num[failed] = _loose_numbers(text[failed])
            note[failed & ~np.isnan(num)] = (
                f"{spec.name} read as a number (thousands separators or full-width digits)"
            )
        error[np.isnan(num) & ~missing] = f"{spec.name} must be a number"
    _range_errors(num, spec, error)
    return _verdicts(num, missing, error, note)


def _loose_numbers(text: ObjectArray) -> np.ndarray:
    t = pd.Series(text, dtype=object).str.normalize("NFKC").str.strip()
    ok = t.str.fullmatch(_THOUSANDS) | t.str.fullmatch(_PLAIN_NUMBER)
    return pd.to_numeric(t.where(ok).str.replace(",", ""), errors="coerce").to_numpy(np.float64)


def _range_errors(x: np.ndarray, spec: ColumnSpec, error: ObjectArray) -> None:
    """Write the first broken range rule of each value into ``error`` (where still empty)."""
    present = ~np.isnan(x)
    with np.errstate(invalid="ignore"):
        if spec.kind == "year":
            span = f"{spec.name} must be a year between {YEAR_MIN} and {YEAR_MAX}"
            checks = [
                (~np.isfinite(x) | (np.mod(x, 1) != 0), f"{spec.name} must be a whole year"),
                ((x < YEAR_MIN) | (x > YEAR_MAX), span),
            ]
        else:
            low = (x <= spec.lower) if spec.lower_strict else (x < spec.lower)
            checks = [
                (~np.isfinite(x), f"{spec.name} must be a finite number"),
                (low | (x > spec.upper), spec.bound_rule()),
            ]
    for bad, rule in checks:
        error[present & bad & (error == None)] = rule  # noqa: E711


def _distinct(raw: pd.Series) -> tuple[IntArray, pd.Series]:
    """Codes into the distinct values; NaN cells get code ``len(distinct)``."""
    codes, uniques = pd.factorize(raw, use_na_sentinel=True)
    codes = np.where(codes < 0, len(uniques), codes).astype(np.int64)
    if isinstance(uniques, pd.Index) and uniques.dtype == object:
        uniques = uniques.to_numpy()  # keep Python objects: no dtype inference (deprecated)
    return codes, pd.Series(uniques)


def parse_column(raw: pd.Series, spec: ColumnSpec) -> tuple[pd.Series, pd.DataFrame]:
    """Parse one column; return the clean values and its issues.

    The issues frame has columns ``pos`` (0-based row position), ``column``, ``rule``,
    ``severity`` and ``value`` (the raw cell as text), sorted by position.

    Examples
    --------
    >>> import pandas as pd
    >>> raw = pd.Series(["2015", "2015.5", ""])
    >>> values, issues = parse_column(raw, ColumnSpec("year", "year"))
    >>> values.tolist()
    [2015.0, nan, nan]
    >>> issues[["pos", "rule"]].to_dict("records")
    [{'pos': 1, 'rule': 'year must be a whole year'}, {'pos': 2, 'rule': 'year is required'}]
    """
    if isinstance(raw.dtype, pd.CategoricalDtype):
        raw = raw.astype(object)  # labelled Stata values arrive as categoricals
    codes, u = _distinct(raw)
    v = judge_number(u, spec) if spec.kind in ("year", "amount", "score") else judge_text(u, spec)
    value = np.append(v.value, np.nan)[codes]
    rule = np.append(v.error, np.array([None], dtype=object))
    severity = np.full(len(rule), None, dtype=object)
    severity[rule != None] = "error"  # noqa: E711
    if spec.nonnull:
        rule[-1], severity[-1] = f"{spec.name} is required", "error"
        rule[:-1][v.missing] = f"{spec.name} is required"
        severity[:-1][v.missing] = "error"
    noted = (v.note != None) & (severity[:-1] == None)  # noqa: E711
    rule[:-1][noted], severity[:-1][noted] = v.note[noted], "normalised"
    pos = np.flatnonzero((severity != None)[codes])  # noqa: E711
    issues = pd.DataFrame(
        {
            "pos": pos,
            "column": spec.name,
            "rule": rule[codes[pos]],
            "severity": severity[codes[pos]],
            "value": display_values(raw.iloc[pos]),
        }
    )
    dtype = "str" if spec.kind in ("id", "text", "category") else np.float64
    return pd.Series(value, index=raw.index, name=spec.name, dtype=dtype), issues


def missing_cells(s: pd.Series) -> BoolArray:
    """Empty cells: NaN, or text that is empty or only whitespace.

    Examples
    --------
    >>> import pandas as pd
    >>> missing_cells(pd.Series(["a", " ", None, 3])).tolist()
    [False, True, True, False]
    """
    missing = s.isna().to_numpy(copy=True)
    if s.dtype == object or isinstance(s.dtype, pd.StringDtype):
        try:
            blank = _arrow(s, pc.utf8_trim_whitespace) == ""
        except (pa.ArrowTypeError, pa.ArrowInvalid):  # numbers, dates among the text (Excel)
            # A Python loop over the cells: only mixed or all-number object columns (an Excel
            # worksheet) get here, and ``Series.str`` refuses a column without any text.
            cells = s.to_numpy(dtype=object)
            blank = np.fromiter(
                (isinstance(v, str) and not v.strip() for v in cells), dtype=bool, count=len(cells)
            )
        missing |= blank
    return missing


def blank_rows(frame: pd.DataFrame) -> BoolArray:
    """Rows whose every cell is empty; each column narrows the candidates of the previous one.

    Examples
    --------
    >>> import pandas as pd
    >>> blank_rows(pd.DataFrame({"a": ["x", "", None], "b": [1, None, None]})).tolist()
    [False, True, True]
    """
    candidates = np.arange(len(frame)) if frame.shape[1] else np.arange(0)
    for i in range(frame.shape[1]):
        candidates = candidates[missing_cells(frame.iloc[candidates, i])]
    blank = np.zeros(len(frame), dtype=bool)
    blank[candidates] = True
    return blank
