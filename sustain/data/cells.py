"""Reading and judging the cells of one column: text clean-up, numbers, years, ranges.

Work is split by cost. What every cell needs (whitespace, missing tokens, plain numbers,
ranges, membership in a category's choices) is computed on the whole column at once with
Arrow's compute kernels, without Python objects. Only cells that need a decision in words (a
value that changed, a Chinese tier name, a number with thousands separators, an unknown
category) are gathered, and each *distinct* such value is judged once in Python; the verdicts
are scattered back. Millions of contract rows therefore cost a few vectorised passes, and a
column of a million Chinese tier names costs three judgements. Used by
:mod:`sustain.data.schema`, which holds the order of the rules across rows and tables.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sustain._typing import BoolArray

ObjectArray = np.ndarray  # an array of Python objects (str or None); numpy has no precise alias

YEAR_MIN, YEAR_MAX = 1900, 2100
#: Dates before this year in a year column are not read as years: Excel displays a year number
#: formatted as a date as a day of 1905 (serial 2012 is 1905-07-04).
EXCEL_YEAR_TRAP = 1910
#: Cell contents read as "no value" in every column (after stripping whitespace).
MISSING_TOKENS = ("", "NA", "N/A", "n/a", "NaN", "nan", "NULL", "null", "None", "#N/A", "<NA>")
VALUE_WIDTH = 80  # raw values longer than this are cut in the problems table
Kind = Literal["id", "text", "category", "year", "amount", "score"]

#: Columns longer than this are cleaned through their distinct values when those are few.
DICTIONARY_MIN_ROWS = 10_000
#: Amounts above this (in yuan, after units) are not plausible contract sums: ten trillion yuan.
#: The rule also keeps every later sum finite (1e308 would overflow).
MAX_AMOUNT = 1e13

_THOUSANDS = r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?"
_PLAIN_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)"
#: Numbers Arrow's cast reads exactly as Python's float() does (no separators, no spaces).
_ARROW_NUMBER = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"


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


@dataclass(frozen=True)
class Reading:
    """How the cells of one column are read, beyond its :class:`ColumnSpec`.

    Attributes
    ----------
    na_values : tuple of str
        Cell contents read as missing, besides :data:`MISSING_TOKENS`.
    value_map : mapping of str to str
        Source value -> standard value (a mapping's ``[table.values.<column>]``), compared
        after NFKC normalisation, whitespace collapsing and case folding.
    vocabulary : mapping of str to str
        Built-in words of the column (:mod:`sustain.data.vocabulary`), used when a value is
        neither standard nor in ``value_map``.

    Examples
    --------
    >>> Reading(na_values=("—",)).na_values
    ('—',)
    """

    na_values: tuple[str, ...] = ()
    value_map: Mapping[str, str] = field(default_factory=dict)
    vocabulary: Mapping[str, str] = field(default_factory=dict)


def fold(text: str) -> str:
    """NFKC, whitespace collapsed, case folded: the form in which words are compared.

    Examples
    --------
    >>> fold("  Open  Tender ") == fold("open tender"), fold("（街道）")
    (True, '(街道)')
    """
    return " ".join(unicodedata.normalize("NFKC", text).split()).casefold()


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


# ---------------------------------------------------------------- cells as Arrow text


def arrow_text(raw: pd.Series) -> pa.Array:
    """The cells of a column as an Arrow string array (null where the cell is empty).

    Strings stay as they are (no copy for Arrow-backed columns). Numbers become text as a
    spreadsheet shows them: whole floats without ``.0`` (ids stored as floats by Stata or
    Parquet: ``12.0`` is ``"12"``); other objects (Excel dates, mixed cells) by ``str``.

    Examples
    --------
    >>> arrow_text(pd.Series([12.0, None, 7.5])).to_pylist()
    ['12', None, '7.5']
    >>> arrow_text(pd.Series(["x", None], dtype="str")).to_pylist()
    ['x', None]
    """
    dtype = raw.dtype
    if isinstance(dtype, pd.StringDtype | pd.ArrowDtype):
        arr = getattr(raw.array, "_pa_array", None)
        if arr is not None and (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
            return _combined(arr)
        if isinstance(dtype, pd.StringDtype):  # Python-backed strings
            return pa.array(raw.to_numpy(dtype=object, na_value=None), type=pa.string())
    if isinstance(dtype, pd.CategoricalDtype):
        raw = raw.astype(object)
    if pd.api.types.is_bool_dtype(raw.dtype):
        raw = raw.astype(object)
    if pd.api.types.is_float_dtype(raw.dtype):
        values = raw.to_numpy(np.float64, na_value=np.nan)
        whole = np.isfinite(values) & (np.mod(values, 1) == 0) & (np.abs(values) < 2**53)
        if whole[~np.isnan(values)].all():
            raw = raw.astype("Int64")
    if pd.api.types.is_integer_dtype(raw.dtype) or pd.api.types.is_float_dtype(raw.dtype):
        return pc.cast(pa.array(raw, from_pandas=True), pa.string())
    obj = raw.to_numpy(dtype=object, na_value=None)
    missing = pd.isna(obj)
    cells = np.empty(len(obj), dtype=object)
    if (~missing).any():
        cells[~missing] = _object_text(obj[~missing])
    cells[missing] = None
    return pa.array(cells, type=pa.string(), from_pandas=True)


def _combined(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    if pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.string())
    return arr


def _object_text(values: np.ndarray) -> list[str]:
    """``str`` of each object, whole floats without ``.0`` (Excel stores every number as one)."""
    out = []
    for v in values:  # Python objects from Excel or in-memory frames: no vectorised form
        if isinstance(v, float) and v.is_integer() and abs(v) < 2**53:
            out.append(str(int(v)))
        else:
            out.append(str(v))
    return out


def _np(mask: pa.Array | pa.ChunkedArray) -> BoolArray:
    """An Arrow boolean array as numpy (nulls as False), writable."""
    return np.array(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)


def _tokens(reading: Reading | None) -> pa.Array:
    extra = tuple(v.strip() for v in (reading.na_values if reading else ()))
    return pa.array(list(dict.fromkeys((*MISSING_TOKENS, *extra))), type=pa.string())


def _collapse(arr: pa.Array) -> pa.Array:
    return pc.replace_substring_regex(arr, r"[\s\p{Z}]+", " ")  # Unicode spaces included


def _clean(text: pa.Array, kind: Kind) -> pa.Array:
    """Whitespace trimmed; for text and categories runs collapsed; categories lower-cased.

    Collapsing needs a regular expression; it runs on the distinct values (a dictionary
    encoding) when they are few, as funder names and tiers are.
    """
    if kind == "id":
        return pc.utf8_trim_whitespace(text)
    encoded = text.dictionary_encode() if len(text) > DICTIONARY_MIN_ROWS else None
    if encoded is not None and len(encoded.dictionary) * 4 < len(text):
        cleaned = _clean(encoded.dictionary, kind)
        return pc.take(cleaned, encoded.indices)
    clean = _collapse(pc.utf8_trim_whitespace(text))
    return pc.utf8_lower(clean) if kind == "category" else clean


# ---------------------------------------------------------------- judgements in words


@dataclass
class _Found:
    """Problems of a column by position: errors per cell, notes once per distinct value."""

    error_pos: list[np.ndarray] = field(default_factory=list)
    error_rule: list[np.ndarray] = field(default_factory=list)
    note_pos: list[int] = field(default_factory=list)
    note_rule: list[str] = field(default_factory=list)

    def error(self, pos: np.ndarray, rule: str | np.ndarray) -> None:
        if len(pos):
            self.error_pos.append(np.asarray(pos, dtype=np.int64))
            rules = np.broadcast_to(np.asarray(rule, dtype=object), (len(pos),))
            self.error_rule.append(np.array(rules, dtype=object))

    def note(self, positions: np.ndarray, rule: str) -> None:
        """One note at the first of ``positions`` (all holding one distinct value)."""
        if not len(positions):
            return
        n = len(positions)
        suffix = f" ({n:,} rows with this value; the first is shown)" if n > 1 else ""
        self.note_pos.append(int(positions.min()))
        self.note_rule.append(rule + suffix)

    def frame(self, raw: pd.Series, column: str) -> pd.DataFrame:
        pos = np.concatenate([*self.error_pos, np.asarray(self.note_pos, dtype=np.int64)])
        rule = np.concatenate([*self.error_rule, np.asarray(self.note_rule, dtype=object)])
        n_err = sum(len(p) for p in self.error_pos)
        severity = np.array(["error"] * n_err + ["note"] * len(self.note_pos), dtype=object)
        order = np.lexsort((severity != "error", pos)) if len(pos) else np.zeros(0, np.int64)
        pos, rule, severity = pos[order], rule[order], severity[order]
        return pd.DataFrame(
            {
                "pos": pos.astype(np.int64),
                "column": column,
                "rule": rule,
                "severity": severity,
                "value": display_values(raw.iloc[pos]),
                "drop": severity == "error",
            }
        )


def _groups(positions: np.ndarray, text: pa.Array) -> list[tuple[str, np.ndarray]]:
    """The distinct values of ``text`` at ``positions``, each with its positions."""
    if not len(positions):
        return []
    sub = pc.take(text, pa.array(positions))
    encoded = sub.dictionary_encode()
    codes = np.asarray(pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False))
    values = encoded.dictionary.to_pylist()
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(values) + 1))
    return [(values[k], positions[order[bounds[k] : bounds[k + 1]]]) for k in range(len(values))]


def _word_maps(reading: Reading | None) -> tuple[dict[str, str], dict[str, str]]:
    if reading is None:
        return {}, {}
    user = {fold(k): v for k, v in reading.value_map.items()}
    vocabulary = {fold(k): v for k, v in reading.vocabulary.items()}
    return user, vocabulary


def _unknown_rule(spec: ColumnSpec, value: str, reading: Reading | None = None) -> str:
    rule = f"{spec.name} must be one of {', '.join(spec.choices)}"
    words = {**(reading.vocabulary if reading else {}), **(reading.value_map if reading else {})}
    close = difflib.get_close_matches(value, [*spec.choices, *words], n=1, cutoff=0.6)
    if not close:
        return rule
    target = words.get(close[0])
    if target is not None and close[0] != target:
        return f"{rule}; did you mean '{close[0]}' ({target})?"
    return f"{rule}; did you mean '{close[0]}'?"


def _parse_text(
    raw: pd.Series, spec: ColumnSpec, reading: Reading | None
) -> tuple[pd.Series, _Found]:
    text = arrow_text(raw)
    tokens = _tokens(reading)
    clean = _clean(text, spec.kind)
    missing = _np(pc.or_kleene(pc.is_null(text), pc.is_in(clean, value_set=tokens)))
    changed = ~missing & ~_np(pc.equal(clean, text))
    unknown = np.zeros(len(text), dtype=bool)
    if spec.choices:
        unknown = ~missing & ~_np(pc.is_in(clean, value_set=pa.array(spec.choices)))
    user, vocabulary = _word_maps(reading)
    mapped = np.zeros(len(text), dtype=bool)
    if user and not spec.choices:  # a value map on free text (district names, ...)
        folded = pc.utf8_lower(_collapse(pc.utf8_trim_whitespace(pc.utf8_normalize(text, "NFKC"))))
        mapped = ~missing & _np(pc.is_in(folded, value_set=pa.array(list(user))))
    found = _Found()
    replace_pos: list[np.ndarray] = []
    replace_val: list[str] = []
    for value, positions in _groups(np.flatnonzero(changed | unknown | mapped), text):
        target, note, error = _judge_word(value, spec, reading, user, vocabulary)
        if error is not None:
            found.error(positions, error)
            continue
        if note is not None:
            found.note(positions, note)
        replace_pos.append(positions)
        replace_val.append(target)
    values = _scatter(clean, missing, replace_pos, replace_val)
    if spec.nonnull:
        found.error(np.flatnonzero(missing), f"{spec.name} is required")
    errors = np.zeros(len(text), dtype=bool)
    for pos in found.error_pos:
        errors[pos] = True
    values = pc.if_else(pa.array(errors), pa.scalar(None, pa.string()), values)
    return pd.Series(pd.array(values, dtype="str"), index=raw.index, name=spec.name), found


def _judge_word(
    value: str,
    spec: ColumnSpec,
    reading: Reading | None,
    user: Mapping[str, str],
    vocabulary: Mapping[str, str],
) -> tuple[str, str | None, str | None]:
    """Target value, note and error of one distinct cell that needs a decision."""
    clean = " ".join(value.split())
    if spec.kind == "id":
        clean = value.strip()
    if spec.kind == "category":
        clean = clean.lower()
    if spec.choices and clean in spec.choices:
        return clean, f"{spec.name} normalised to '{clean}'", None
    key = fold(value)
    if key in user:
        target = user[key]
        return target, f"{spec.name} read as '{target}' (value map '{value.strip()}')", None
    if spec.choices and key in vocabulary:
        target = vocabulary[key]
        return target, f"{spec.name} read as '{target}' (built-in word '{value.strip()}')", None
    if spec.choices:
        return "", None, _unknown_rule(spec, clean, reading)
    return clean, f"{spec.name} normalised to '{clean}'", None


def _scatter(
    clean: pa.Array, missing: BoolArray, positions: list[np.ndarray], targets: list[str]
) -> pa.Array:
    """``clean`` with ``targets`` written at their positions and nulls where missing."""
    if positions:
        index = np.full(len(clean), -1, dtype=np.int64)
        for k, pos in enumerate(positions):
            index[pos] = k
        replaced = index >= 0
        table = pa.array(targets, type=pa.string())
        new = pc.take(table, pa.array(np.where(replaced, index, 0)))
        clean = pc.if_else(pa.array(replaced), new, clean)
    return pc.if_else(pa.array(missing), pa.scalar(None, pa.string()), clean)


def _parse_numbers(
    raw: pd.Series, spec: ColumnSpec, reading: Reading | None
) -> tuple[pd.Series, _Found]:
    found = _Found()
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        num = raw.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
        missing = np.isnan(num)
    else:
        text = arrow_text(raw)
        stripped = pc.utf8_trim_whitespace(text)
        missing = _np(
            pc.or_kleene(pc.is_null(text), pc.is_in(stripped, value_set=_tokens(reading)))
        )
        plain = _np(pc.match_substring_regex(stripped, _ARROW_NUMBER)) & ~missing
        num = np.full(len(text), np.nan)
        if plain.any():
            picked = pc.filter(stripped, pa.array(plain))
            num[plain] = np.asarray(pc.cast(picked, pa.float64()).to_numpy(zero_copy_only=False))
        other = np.flatnonzero(~missing & ~plain)
        for value, positions in _groups(other, stripped):
            number, note = _loose_number(value, spec)
            if number is None:
                found.error(positions, _not_a_number(value, spec))
            else:
                num[positions] = number
                if note:
                    found.note(positions, note)
    _range_errors(num, spec, found)
    if spec.nonnull:
        found.error(np.flatnonzero(missing), f"{spec.name} is required")
    for pos in found.error_pos:
        num[pos] = np.nan
    return pd.Series(num, index=raw.index, name=spec.name, dtype=np.float64), found


def _not_a_number(value: str, spec: ColumnSpec) -> str:
    """The rule text for a cell that is not a number, with the likely cause when it is clear."""
    import re

    rule = f"{spec.name} must be a number"
    text = unicodedata.normalize("NFKC", value).strip()
    if re.fullmatch(r"[+-]?\d+(?:\.\d{3})*,\d{1,2}", text):
        return (
            f"{rule}; '{value}' looks like a decimal comma: sustain reads '.' as the decimal "
            "mark (convert the column, or export the file with '.' decimals)"
        )
    if re.search(r"[元¥￥$]|万|亿", text):
        return f"{rule}; write the number alone (units go in the mapping: units = {{...}})"
    return rule


def _loose_number(value: str, spec: ColumnSpec) -> tuple[float | None, str | None]:
    """A number written with thousands separators or full-width digits, a year as a date, or
    the special spellings inf and nan (kept, for the range rules to name)."""
    import re

    text = unicodedata.normalize("NFKC", value).strip()
    if re.fullmatch(_THOUSANDS, text) or re.fullmatch(_PLAIN_NUMBER, text):
        number = float(text.replace(",", ""))
        return number, f"{spec.name} read as a number (thousands separators or full-width digits)"
    lowered = text.lower()
    if lowered in ("inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"):
        return float(lowered), None  # the finite-number rule reports it
    if spec.kind == "year":
        from sustain.data.terms import parse_dates

        date = parse_dates(pd.Series([value], dtype=object), "start").dates[0]
        if not np.isnat(date):
            year = int(date.astype("datetime64[Y]").astype(np.int64)) + 1970
            if year >= EXCEL_YEAR_TRAP:
                return float(year), f"{spec.name} read as {year}, the year of the date '{value}'"
    return None, None


def _range_errors(x: np.ndarray, spec: ColumnSpec, found: _Found) -> None:
    """Errors of the range rules, each cell's first broken rule only."""
    present = ~np.isnan(x)
    flagged = np.zeros(len(x), dtype=bool)
    for pos in found.error_pos:
        flagged[pos] = True
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
            if spec.kind == "amount":
                checks.append(
                    (
                        x > MAX_AMOUNT,
                        f"{spec.name} must be at most {MAX_AMOUNT:.0e} yuan (ten trillion): not "
                        "a plausible sum; check the unit and the decimal separator",
                    )
                )
    for bad, rule in checks:
        hit = present & bad & ~flagged
        found.error(np.flatnonzero(hit), rule)
        flagged |= hit


def parse_column(
    raw: pd.Series, spec: ColumnSpec, reading: Reading | None = None
) -> tuple[pd.Series, pd.DataFrame]:
    """Parse one column; return the clean values and its issues.

    The issues frame has columns ``pos`` (0-based row position), ``column``, ``rule``,
    ``severity``, ``value`` (the raw cell as text) and ``drop``, sorted by position. Errors are
    listed for every cell; a note is listed once per distinct value, at its first cell, with
    the number of cells it applies to, so that a column of a million Chinese tier names gives
    three notes, not a million. Cells with an error are missing in the values.

    Examples
    --------
    >>> import pandas as pd
    >>> raw = pd.Series(["2015", "2015.5", ""])
    >>> values, issues = parse_column(raw, ColumnSpec("year", "year"))
    >>> values.tolist()
    [2015.0, nan, nan]
    >>> issues[["pos", "rule"]].to_dict("records")
    [{'pos': 1, 'rule': 'year must be a whole year'}, {'pos': 2, 'rule': 'year is required'}]
    >>> from sustain.data.vocabulary import TIER_WORDS
    >>> spec = ColumnSpec("tier", "category", choices=("municipal", "district", "subdistrict"))
    >>> values, issues = parse_column(pd.Series(["District ", "街道", "街道", "Street"]), spec,
    ...                               Reading(vocabulary=TIER_WORDS))
    >>> values.tolist()
    ['district', 'subdistrict', 'subdistrict', nan]
    >>> issues[["pos", "severity", "rule"]].values.tolist()  # doctest: +NORMALIZE_WHITESPACE
    [[0, 'note', "tier normalised to 'district'"],
     [1, 'note', "tier read as 'subdistrict' (built-in word '街道') (2 rows with this value; the first is shown)"],
     [3, 'error', 'tier must be one of municipal, district, subdistrict']]
    >>> values, issues = parse_column(pd.Series(["1,000", "-5", "abc", "2e3", "1e308"]),
    ...     ColumnSpec("amount", "amount", lower=0.0, lower_strict=True))
    >>> values.tolist()
    [1000.0, nan, nan, 2000.0, nan]
    >>> [r.split(" (")[0] for r in issues["rule"]]
    ['amount read as a number', 'amount must be > 0', 'amount must be a number', 'amount must be at most 1e+13 yuan']
    """
    if spec.kind in ("year", "amount", "score"):
        values, found = _parse_numbers(raw, spec, reading)
    else:
        values, found = _parse_text(raw, spec, reading)
    return values, found.frame(raw, spec.name)


def missing_cells(s: pd.Series) -> BoolArray:
    """Empty cells: NaN, or text that is empty or only whitespace.

    Examples
    --------
    >>> import pandas as pd
    >>> missing_cells(pd.Series(["a", " ", None, 3])).tolist()
    [False, True, True, False]
    """
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        return s.isna().to_numpy(copy=True)
    if isinstance(s.dtype, pd.StringDtype):
        text = arrow_text(s)
        blank = pc.equal(pc.utf8_trim_whitespace(text), "")
        return _np(pc.or_kleene(pc.is_null(text), blank))
    missing = s.isna().to_numpy(copy=True)
    if s.dtype == object:
        cells = s.to_numpy(dtype=object)
        # Python objects (an Excel sheet, mixed cells): only text can be blank
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
        if not len(candidates):
            break
        column = frame.iloc[:, i]
        if len(candidates) < len(frame):
            column = column.iloc[candidates]
        candidates = candidates[missing_cells(column)]
    blank = np.zeros(len(frame), dtype=bool)
    blank[candidates] = True
    return blank
