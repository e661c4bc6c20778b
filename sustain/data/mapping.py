"""How a researcher's own files map onto the data contract: the import mapping.

A mapping is a dict, or a TOML file of the same shape, with a ``[dataset]`` table and one table
per data table (``[agencies]``, ``[contracts]``, ``[revenue]``)::

    [dataset]
    observed_until = 2023

    [contracts]
    file = "政府购买服务合同台账.csv"
    na_values = ["—", "未评估"]
    units = { amount = "wan" }
    term = { start = "开始日期", end = "结束日期", split = "days" }
    [contracts.columns]
    "项目编号" = "contract_id"
    [contracts.values.tier]
    "镇街" = "subdistrict"

:func:`load_mapping` checks every key and value before any file is read (unknown keys are
named with their path and the nearest known key) and returns a frozen :class:`ImportMapping`.
The rules it states are applied by :func:`sustain.read_dataset`; ``docs/own-data.md`` walks
through an example.
"""

from __future__ import annotations

import difflib
import tomllib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, TypeAlias

from sustain._typing import PathLikeStr
from sustain.data.terms import Split
from sustain.data.vocabulary import UNIT_FACTORS, Unit
from sustain.errors import SpecError
from sustain.options import check_choice

ScoreYears: TypeAlias = Literal["all", "last"]
TABLE_NAMES = ("agencies", "contracts", "revenue")
#: Columns whose amounts take a unit, by table.
AMOUNT_COLUMNS: MappingProxyType[str, tuple[str, ...]] = MappingProxyType(
    {"agencies": (), "contracts": ("amount",), "revenue": ("amount",)}
)
_TABLE_KEYS = (
    "file",
    "sheet",
    "header",
    "encoding",
    "columns",
    "values",
    "na_values",
    "units",
    "term",
    "score_years",
)
_TERM_KEYS = ("start", "end", "split", "score_years")
_DATASET_KEYS = ("observed_until",)
#: Largest header row accepted (a title block above the header is a few rows, not hundreds).
MAX_HEADER_ROW = 100


def header_key(text: object) -> str:
    """The form in which headers are compared: NFKC, whitespace collapsed, case folded.

    Full-width brackets and digits match their ASCII forms, so ``"合同金额（万元）"`` in a mapping
    finds the header ``"合同金额(万元) "`` in a file.

    Examples
    --------
    >>> header_key(" 合同金额（万元） ") == header_key("合同金额(万元)")
    True
    """
    return " ".join(unicodedata.normalize("NFKC", str(text)).split()).casefold()


@dataclass(frozen=True)
class TermMapping:
    """Contracts recorded once with a start date, an end date and the total over the term.

    Attributes
    ----------
    start, end : str
        Headers of the columns holding the first and the last day of the term.
    split : {"days", "months", "equal"}
        How the total is divided over fiscal years (see :func:`sustain.data.terms.split_terms`).

    Examples
    --------
    >>> TermMapping("开始日期", "结束日期").split
    'days'
    """

    start: str
    end: str
    split: Split = "days"


@dataclass(frozen=True)
class TableMapping:
    """How one table is found and read.

    Attributes
    ----------
    file : str or None
        File name inside the data folder (default: ``<table>.*``).
    sheet : str, int or None
        Excel worksheet, by name or 0-based position (default: the only or first one).
    header : int or None
        Row number (1-based, as a spreadsheet shows it) of the column headers; rows above are
        skipped (a title block). Default: the first row.
    encoding : str or None
        Text encoding of a CSV file (default: the ``encoding=`` argument, else detected).
    columns : mapping of str to str
        Source header -> standard column name.
    values : mapping of str to mapping of str to str
        Standard column -> {source value -> standard value}, applied before the built-in
        vocabulary.
    na_values : tuple of str
        Cell contents read as missing, besides the built-in set.
    units : mapping of str to str
        Amount column -> unit (``yuan``, ``thousand``, ``wan``, ``yi``).
    term : TermMapping or None
        Multi-year contracts (``contracts`` only).
    score_years : {"all", "last"}
        Whether a term's score counts in every year of the term or only in its last year.

    Examples
    --------
    >>> t = TableMapping(columns={"机构编号": "agency_id"})
    >>> t.source_of("agency_id")
    '机构编号'
    """

    file: str | None = None
    sheet: str | int | None = None
    header: int | None = None
    encoding: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    na_values: tuple[str, ...] = ()
    units: Mapping[str, Unit] = field(default_factory=dict)
    term: TermMapping | None = None
    score_years: ScoreYears = "all"

    def source_of(self, standard: str) -> str | None:
        """The source header mapped onto ``standard``, if any."""
        return next((src for src, std in self.columns.items() if std == standard), None)


@dataclass(frozen=True)
class ImportMapping:
    """A checked import mapping (see the module docstring and ``docs/own-data.md``).

    Attributes
    ----------
    tables : mapping of str to TableMapping
        ``agencies``, ``contracts`` and ``revenue`` (each present, possibly empty).
    observed_until : int or None
        Last fiscal year observed; contract-years after it are dropped with a note. Default:
        the last year in which a contract starts.
    origin : str or None
        The TOML file the mapping came from, if any (shown in messages).

    Examples
    --------
    >>> m = load_mapping({"dataset": {"observed_until": 2023},
    ...                   "contracts": {"units": {"amount": "wan"}}})
    >>> m.observed_until, m.table("contracts").units["amount"]
    (2023, 'wan')
    """

    tables: Mapping[str, TableMapping]
    observed_until: int | None = None
    origin: str | None = None

    def table(self, name: str) -> TableMapping:
        """The mapping of table ``name`` (an empty one when the mapping does not mention it)."""
        return self.tables.get(name, TableMapping())


def load_mapping(mapping: ImportMapping | Mapping[str, Any] | PathLikeStr) -> ImportMapping:
    """Check a mapping (dict, TOML file or :class:`ImportMapping`) and return it frozen.

    Parameters
    ----------
    mapping : dict, str, path or ImportMapping
        The mapping itself, or the path of a TOML file holding it. An object with a
        ``.mapping`` attribute (such as a :func:`sustain.draft_mapping` result) is accepted too.

    Returns
    -------
    ImportMapping

    Raises
    ------
    SpecError
        On an unreadable file, an unknown key (named with its path and the nearest known key),
        a value of the wrong type, an unknown unit or split, two source headers mapped onto
        one column, or a ``year`` column mapped together with a ``term``.

    Examples
    --------
    >>> load_mapping({"contracts": {"colums": {}}})
    Traceback (most recent call last):
    ...
    sustain.errors.SpecError: mapping: unknown key 'contracts.colums'; did you mean 'columns'?
    """
    if isinstance(mapping, ImportMapping):
        return mapping
    inner = getattr(mapping, "mapping", None)
    if isinstance(inner, Mapping):
        mapping = inner
    origin = None
    if isinstance(mapping, str | Path):
        origin = str(mapping)
        mapping = _read_toml(Path(mapping))
    if not isinstance(mapping, Mapping):
        raise SpecError(f"mapping must be a dict or the path of a TOML file, not {mapping!r}")
    _check_keys(mapping, ("dataset", *TABLE_NAMES), "")
    dataset = _table(mapping, "dataset")
    _check_keys(dataset, _DATASET_KEYS, "dataset.")
    observed = dataset.get("observed_until")
    if observed is not None and (
        isinstance(observed, bool) or not isinstance(observed, int) or not 1900 <= observed <= 2100
    ):
        raise SpecError(f"mapping: dataset.observed_until must be a year, not {observed!r}")
    tables = {name: _table_mapping(name, _table(mapping, name)) for name in TABLE_NAMES}
    return ImportMapping(MappingProxyType(tables), observed, origin)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_bytes().decode("utf-8-sig"))
    except FileNotFoundError:
        raise SpecError(f"mapping file {str(path)!r} not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
        raise SpecError(f"mapping file {str(path)!r} cannot be read: {exc}") from None


def _table(mapping: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = mapping.get(name, {})
    if not isinstance(value, Mapping):
        raise SpecError(f"mapping: [{name}] must be a table, not {value!r}")
    return value


def _check_keys(table: Mapping[str, Any], allowed: tuple[str, ...], path: str) -> None:
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(allowed)})"
            raise SpecError(f"mapping: unknown key {path + str(key)!r}{hint}")


def _table_mapping(name: str, raw: Mapping[str, Any]) -> TableMapping:
    _check_keys(raw, _TABLE_KEYS, f"{name}.")
    where = f"mapping: {name}."
    file = _optional_str(raw, "file", where)
    sheet = raw.get("sheet")
    if sheet is not None and (isinstance(sheet, bool) or not isinstance(sheet, str | int)):
        raise SpecError(f"{where}sheet must be a worksheet name or a 0-based number")
    header = raw.get("header")
    if header is not None and (
        isinstance(header, bool) or not isinstance(header, int) or not 1 <= header <= MAX_HEADER_ROW
    ):
        raise SpecError(f"{where}header must be a row number between 1 and {MAX_HEADER_ROW}")
    columns = _string_map(raw.get("columns", {}), f"{where}columns")
    _no_two_sources(columns, where)
    values = raw.get("values", {})
    if not isinstance(values, Mapping):
        raise SpecError(f"{where}values must be a table of value maps, one per column")
    value_maps = {
        str(col): MappingProxyType(_string_map(m, f"{where}values.{col}"))
        for col, m in values.items()
    }
    na_values = raw.get("na_values", [])
    if not isinstance(na_values, list) or not all(isinstance(v, str) for v in na_values):
        raise SpecError(f"{where}na_values must be a list of strings")
    units = _units(name, raw.get("units", {}), where)
    term, term_scores = _term(name, raw.get("term"), where)
    score_years = raw.get("score_years", term_scores or "all")
    check_choice(f"{where}score_years", score_years, ScoreYears)
    if term_scores is not None and term_scores != score_years:
        raise SpecError(f"{where}score_years and {where}term.score_years disagree")
    if term is not None and "year" in columns.values():
        raise SpecError(
            f"{where}columns maps a column onto 'year' and {where}term is given: with a term "
            "the years come from the start and end dates; map one or the other"
        )
    return TableMapping(
        file=file,
        sheet=sheet,
        header=header,
        encoding=_optional_str(raw, "encoding", where),
        columns=MappingProxyType(columns),
        values=MappingProxyType(value_maps),
        na_values=tuple(na_values),
        units=MappingProxyType(units),
        term=term,
        score_years=score_years,
    )


def _optional_str(raw: Mapping[str, Any], key: str, where: str) -> str | None:
    value = raw.get(key)
    if value is not None and not isinstance(value, str):
        raise SpecError(f"{where}{key} must be a string, not {value!r}")
    return value


def _string_map(raw: Any, where: str) -> dict[str, str]:
    if not isinstance(raw, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        raise SpecError(f'{where} must be a table of "source" = "target" strings')
    return dict(raw)


def _no_two_sources(columns: Mapping[str, str], where: str) -> None:
    seen: dict[str, str] = {}
    for source, target in columns.items():
        if target in seen:
            raise SpecError(
                f"{where}columns maps both {seen[target]!r} and {source!r} onto {target!r}"
            )
        seen[target] = source
    keys: dict[str, str] = {}
    for source in columns:
        key = header_key(source)
        if key in keys:
            raise SpecError(f"{where}columns names the header {source!r} twice")
        keys[key] = source


def _units(name: str, raw: Any, where: str) -> dict[str, Unit]:
    if not isinstance(raw, Mapping):
        raise SpecError(f'{where}units must be a table such as {{ amount = "wan" }}')
    out: dict[str, Unit] = {}
    for column, unit in raw.items():
        if column not in AMOUNT_COLUMNS[name]:
            allowed = ", ".join(AMOUNT_COLUMNS[name]) or "none in this table"
            raise SpecError(f"{where}units.{column}: units apply to amount columns ({allowed})")
        if unit not in UNIT_FACTORS:
            raise SpecError(
                f"{where}units.{column} = {unit!r} is not one of {', '.join(UNIT_FACTORS)} "
                "(wan = 10,000 yuan, yi = 100,000,000 yuan)"
            )
        out[str(column)] = unit
    return out


def _term(name: str, raw: Any, where: str) -> tuple[TermMapping | None, Any]:
    if raw is None:
        return None, None
    if name != "contracts":
        raise SpecError(f"{where}term: terms apply to contracts only")
    if not isinstance(raw, Mapping):
        raise SpecError(f'{where}term must be a table {{ start = "...", end = "..." }}')
    _check_keys(raw, _TERM_KEYS, f"{where}term.")
    for key in ("start", "end"):
        if not isinstance(raw.get(key), str):
            raise SpecError(f"{where}term.{key} must name the header of the {key} dates")
    split = raw.get("split", "days")
    check_choice(f"{where}term.split", split, Split)
    return TermMapping(raw["start"], raw["end"], split), raw.get("score_years")
