"""Analysis specifications: the TOML schema, reading and validation before anything runs.

A spec declares a whole study: where the data are, how the panel is built, which rows enter
the sample, the models (with formulas and options), and the tables and figures to write. The
reference is ``docs/spec.md``. :func:`load_spec` reads a TOML file and checks everything that
can be checked without the data:

* every key, at every level, is known (otherwise the error names the key path and suggests the
  closest known key);
* every model, table and figure option is a parameter of the sustain function it is passed to,
  and its value fits that parameter's type (``Literal`` options such as ``link``, ``family``,
  ``estimator`` or ``cov_type`` must be one of their values);
* every formula passes :func:`sustain.formula.check_safe` (no arbitrary code: only whitelisted
  transforms and numpy functions may be called);
* sample filters use a small structured syntax (``column``, ``op``, ``value``), never ``eval``;
* tables and figures refer to models that exist.

Checks that need the data (formula variables and column options against the panel's columns,
responses with no variation, models with no events) are in :mod:`sustain.pipeline.preflight`
and also run before any model is fitted.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sustain._typing import PathLikeStr
from sustain.data.panel import normalise_lags
from sustain.errors import SpecError
from sustain.formula import check_safe, parse_formula
from sustain.limits import check_bound, check_bounds
from sustain.options import Errors
from sustain.pipeline.kinds import (
    FIGURE_KINDS,
    MODEL_KINDS,
    TABLE_KINDS,
    Kind,
    diagnostics_kind,
)
from sustain.pipeline.results_dir import check_name
from sustain.pipeline.signatures import check_keys, check_options, check_value, suggest

#: Top-level sections of a spec.
SECTIONS = ("run", "data", "panel", "sample", "models", "tables", "figures", "diagnostics")
RUN_KEYS: dict[str, Any] = {"name": str, "description": str, "results": str, "seed": int}
DATA_KEYS: dict[str, Any] = {
    "path": str,
    "builtin": str,
    "errors": Errors,
    "encoding": str,
    "mapping": str,
}
PANEL_KEYS: dict[str, Any] = {
    "lags": str | list[str] | dict[str, int | list[int]],
    "first_year": int,
    "last_year": int,
}
FILTER_KEYS: dict[str, Any] = {"column": str, "op": str, "value": Any}
#: Operators of sample filters; ``isna``/``notna`` take no value, ``in``/``not in`` a list.
FILTER_OPS = ("==", "!=", "<", "<=", ">", ">=", "in", "not in", "isna", "notna")
#: Data sets that ship with sustain, usable as ``[data] builtin = "..."``.
BUILTINS = ("example",)
DEFAULT_SEED = 0
DEFAULT_RESULTS = "results"


@dataclass(frozen=True)
class Filter:
    """One sample filter: keep rows where ``column op value`` holds.

    Examples
    --------
    >>> Filter("year", ">=", 2014).describe()
    'year >= 2014'
    """

    column: str
    op: str
    value: Any = None

    def describe(self) -> str:
        """The filter as text, e.g. ``year >= 2014``."""
        return f"{self.column} {self.op}" + ("" if self.value is None else f" {self.value!r}")


@dataclass(frozen=True)
class Entry:
    """A model, table or figure of a spec: its name, kind and options.

    ``options`` holds every key of the entry except ``name`` and ``kind``.

    Examples
    --------
    >>> e = Entry("fe1", "fe", {"formula": "quality ~ hhi"})
    >>> e.options["formula"]
    'quality ~ hhi'
    """

    name: str
    kind: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def refs(self) -> tuple[str, ...]:
        """Names of the models this entry uses (tables and figures)."""
        names = list(self.options.get("models", []))
        names += [self.options[k] for k in ("fe", "re", "model") if k in self.options]
        return tuple(names)


@dataclass(frozen=True)
class Spec:
    """A validated analysis specification.

    Attributes
    ----------
    name : str
        Run name; the results folder is ``results/<name>``.
    seed : int
        The run's seed; each model's seed is derived from it and the model's name.
    results : Path
        The results folder of the run.
    data_path : Path or None
        Data folder (``None`` for a built-in data set).
    builtin : str or None
        Name of a built-in data set (``"example"``).
    data_options, panel : mapping
        Options of :func:`sustain.read_dataset` and :func:`sustain.build_panel`.
    sample : tuple of Filter
        Row filters applied to the panel.
    models, tables, figures : tuple of Entry
    diagnostics : mapping
        Options of the ``[diagnostics]`` section.
    raw : mapping
        The spec as read from TOML (recorded in the manifest).
    base : Path
        Folder against which relative paths of the spec are resolved (the spec's folder).
    sha256 : str or None
        SHA-256 of the spec file.

    Examples
    --------
    >>> spec = parse_spec({"run": {"seed": 3}, "data": {"builtin": "example"},
    ...                    "models": [{"name": "b", "kind": "bayes", "formula": "quality ~ hhi"}]})
    >>> spec.model("b").kind, spec.model_seeds() == {"b": derive_seed(3, "b")}
    ('bayes', True)
    """

    name: str
    seed: int
    results: Path
    data_path: Path | None
    builtin: str | None
    data_options: Mapping[str, Any]
    panel: Mapping[str, Any]
    sample: tuple[Filter, ...]
    models: tuple[Entry, ...]
    tables: tuple[Entry, ...]
    figures: tuple[Entry, ...]
    diagnostics: Mapping[str, Any]
    raw: Mapping[str, Any]
    base: Path
    sha256: str | None = None

    def model(self, name: str) -> Entry:
        """The model entry called ``name``."""
        for entry in self.models:
            if entry.name == name:
                return entry
        raise SpecError(f"no model named {name!r}{suggest(name, [m.name for m in self.models])}")

    def model_seeds(self) -> dict[str, int]:
        """Seed of every model that samples (its own ``random_seed`` or one derived)."""
        seeds = {}
        for entry in self.models:
            param = MODEL_KINDS[entry.kind].seed
            if param is not None:
                given = entry.options.get(param)
                seeds[entry.name] = (
                    int(given) if given is not None else derive_seed(self.seed, entry.name)
                )
        return seeds


def derive_seed(seed: int, name: str) -> int:
    """A model's seed from the run's seed and the model's name (stable, order-independent).

    Adding, removing or reordering other models never changes a model's seed.

    Examples
    --------
    >>> derive_seed(2012, "bayes_quality") == derive_seed(2012, "bayes_quality")
    True
    >>> derive_seed(2012, "a") != derive_seed(2012, "b")
    True
    """
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def load_spec(path: PathLikeStr, out: PathLikeStr | None = None) -> Spec:
    """Read and validate a TOML analysis specification.

    Parameters
    ----------
    path : path
        The ``.toml`` file. Relative paths inside it are relative to its folder.
    out : path, optional
        Results folder of the run (default: ``<results>/<name>`` from the spec).

    Returns
    -------
    Spec

    Raises
    ------
    SpecError
        On unreadable TOML, unknown keys (with the key path and a suggestion), wrong value
        types, unsafe formulas, bad filters or references to undefined models.

    Examples
    --------
    >>> from importlib import resources
    >>> spec = load_spec(resources.files("sustain.pipeline") / "example.toml")
    >>> spec.name, spec.builtin
    ('demo', 'example')
    """
    file = Path(str(path))
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise SpecError(f"cannot read spec {file}: {exc}") from exc
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SpecError(f"{file.name} is not valid TOML: {exc}") from exc
    return parse_spec(
        raw,
        base=file.parent,
        default_name=file.stem,
        out=out,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def parse_spec(
    raw: Mapping[str, Any],
    base: PathLikeStr = ".",
    default_name: str = "run",
    out: PathLikeStr | None = None,
    sha256: str | None = None,
) -> Spec:
    """Validate a spec already read into a mapping (see :func:`load_spec`).

    Examples
    --------
    >>> spec = parse_spec({"data": {"builtin": "example"},
    ...                    "models": [{"name": "m", "kind": "fe", "formula": "quality ~ hhi"}]})
    >>> spec.models[0].kind, spec.results.as_posix()
    ('fe', 'results/run')
    """
    check_keys(raw, SECTIONS, "spec")
    base_dir = Path(base)
    run = _section(raw, "run", RUN_KEYS)
    name = check_name(run.get("name", default_name), "run.name")
    seed = run.get("seed", DEFAULT_SEED)
    check_bound("seed", seed, "run.seed")
    results = Path(out) if out is not None else _results_folder(run, base_dir, name)
    data = _section(raw, "data", DATA_KEYS)
    data_path, builtin = _data_source(data, base_dir)
    models = _entries(raw, "models", MODEL_KINDS)
    model_kinds = {m.name: m.kind for m in models}
    tables = _with_paths(_entries(raw, "tables", TABLE_KINDS, model_kinds), base_dir)
    figures = _with_paths(_entries(raw, "figures", FIGURE_KINDS, model_kinds), base_dir)
    return Spec(
        name=name,
        seed=seed,
        results=results,
        data_path=data_path,
        builtin=builtin,
        data_options=_data_options(data, base_dir),
        panel=_panel(raw),
        sample=_filters(raw.get("sample", [])),
        models=models,
        tables=tables,
        figures=figures,
        diagnostics=_diagnostics(raw),
        raw=dict(raw),
        base=base_dir,
        sha256=sha256,
    )


def _results_folder(run: Mapping[str, Any], base: Path, name: str) -> Path:
    """``<results>/<name>`` inside the spec's folder; a spec cannot write elsewhere.

    A results folder outside the spec's folder (``../../etc``, an absolute path) must be
    asked for on the command line (``--out``), where the person running it sees it.
    """
    given = str(run.get("results", DEFAULT_RESULTS))
    parts = Path(given).parts
    if Path(given).is_absolute() or ".." in parts or given.startswith("~"):
        raise SpecError(
            f"run.results = {given!r} points outside the spec's folder; write a folder inside "
            "it, or name the folder explicitly with `sustain run SPEC --out FOLDER`"
        )
    return Path(os.path.normpath(base / given / name))


def _section(raw: Mapping[str, Any], key: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise SpecError(f"[{key}] must be a table (section), got {type(value).__name__}")
    check_options(value, schema, key)
    return dict(value)


def _data_options(data: Mapping[str, Any], base: Path) -> dict[str, Any]:
    """Options of ``read_dataset``; a mapping file is resolved and checked now, before any
    data are read."""
    from sustain.data.mapping import load_mapping

    options = {k: v for k, v in data.items() if k in ("errors", "encoding")}
    if "mapping" in data:
        if "builtin" in data:
            raise SpecError("data.mapping applies to data.path, not to a built-in data set")
        path = base / str(data["mapping"])
        load_mapping(path)  # raises SpecError naming the file and the problem
        options["mapping"] = path
    return options


def _data_source(data: Mapping[str, Any], base: Path) -> tuple[Path | None, str | None]:
    if ("path" in data) == ("builtin" in data):
        raise SpecError("[data] needs exactly one of path = 'folder' or builtin = 'example'")
    if "builtin" in data:
        if data["builtin"] not in BUILTINS:
            raise SpecError(
                f"data.builtin = {data['builtin']!r} is not one of {', '.join(map(repr, BUILTINS))}"
            )
        return None, str(data["builtin"])
    return base / data["path"], None


def _panel(raw: Mapping[str, Any]) -> dict[str, Any]:
    panel = _section(raw, "panel", PANEL_KEYS)
    if "lags" in panel:
        panel["lags"] = normalise_lags(panel["lags"])
    first, last = panel.get("first_year"), panel.get("last_year")
    if first is not None and last is not None and first > last:
        raise SpecError(f"panel.first_year = {first} is after panel.last_year = {last}")
    return panel


def _filters(items: Any) -> tuple[Filter, ...]:
    if not isinstance(items, list):
        raise SpecError("sample must be a list of filters: [[sample]] column = ..., op = ...")
    filters = []
    for i, item in enumerate(items):
        where = f"sample[{i}]"
        if not isinstance(item, dict):
            raise SpecError(f"{where} must be a table with column, op and value")
        check_options(item, FILTER_KEYS, where)
        filters.append(_filter(item, where))
    return tuple(filters)


def _filter(item: Mapping[str, Any], where: str) -> Filter:
    for key in ("column", "op"):
        if key not in item:
            raise SpecError(f"{where} needs {key!r}")
    op = item["op"]
    if op not in FILTER_OPS:
        raise SpecError(
            f"{where}.op = {op!r} is not one of {', '.join(map(repr, FILTER_OPS))}{suggest(op, FILTER_OPS)}"
        )
    value = item.get("value")
    if op in ("isna", "notna"):
        if value is not None:
            raise SpecError(f"{where}: op {op!r} takes no value")
    elif op in ("in", "not in"):
        check_value(value, list[str | int | float | bool], f"{where}.value")
    else:
        check_value(value, str | int | float | bool, f"{where}.value")
    return Filter(item["column"], op, value)


def _with_paths(entries: tuple[Entry, ...], base: Path) -> tuple[Entry, ...]:
    """Resolve a ``labels`` codebook path against the spec's folder, like every other path."""
    out = []
    for entry in entries:
        labels = entry.options.get("labels")
        if isinstance(labels, str) and not Path(labels).is_absolute():
            entry = Entry(entry.name, entry.kind, {**entry.options, "labels": str(base / labels)})
        out.append(entry)
    return tuple(out)


def _entries(
    raw: Mapping[str, Any],
    section: str,
    kinds: Mapping[str, Kind],
    models: Mapping[str, str] | None = None,
) -> tuple[Entry, ...]:
    items = raw.get(section, [])
    if not isinstance(items, list):
        raise SpecError(f"{section} must be a list of tables: [[{section}]] name = ..., kind = ...")
    entries: list[Entry] = []
    for i, item in enumerate(items):
        where = f"{section}[{i}]"
        entry = _entry(item, where, kinds)
        if any(e.name == entry.name for e in entries):
            raise SpecError(f"{where}: the name {entry.name!r} is used twice in [[{section}]]")
        if models is not None:
            _check_refs(entry, f"{section}.{entry.name}", models)
        entries.append(entry)
    return tuple(entries)


def _entry(item: Any, where: str, kinds: Mapping[str, Kind]) -> Entry:
    if not isinstance(item, dict):
        raise SpecError(f"{where} must be a table with name, kind and options")
    for key in ("name", "kind"):
        if key not in item:
            raise SpecError(f"{where} needs {key!r}")
    name = check_name(item["name"], f"{where}.name")
    where = f"{where.split('[')[0]}.{name}"
    kind_name = item["kind"]
    if not isinstance(kind_name, str) or kind_name not in kinds:
        raise SpecError(
            f"{where}.kind = {kind_name!r} is not one of {', '.join(map(repr, kinds))}"
            f"{suggest(str(kind_name), kinds)}"
        )
    kind = kinds[kind_name]
    check_options(item, kind.schema(), where)
    check_bounds({k: v for k, v in item.items() if k not in ("name", "kind")}, where)
    if "wild_bootstrap" in item:
        from sustain.pipeline.inference import check_wild_options

        check_wild_options(item["wild_bootstrap"], where)
    missing = [k for k in kind.required if k not in item]
    if missing:
        raise SpecError(f"{where} needs {', '.join(map(repr, missing))}")
    options = {k: v for k, v in item.items() if k not in ("name", "kind")}
    for key in kind.formulas:
        if key in options:
            _check_formula(options[key], f"{where}.{key}", require_lhs=kind_name != "cox")
    return Entry(name, kind_name, options)


def _check_formula(formula: str, where: str, require_lhs: bool) -> None:
    try:
        check_safe(formula)
        parse_formula(formula, require_lhs=require_lhs)
    except SpecError as exc:
        raise SpecError(f"{where}: {exc}") from exc


def _check_refs(entry: Entry, where: str, models: Mapping[str, str]) -> None:
    for ref in entry.refs():
        if ref not in models:
            raise SpecError(
                f"{where} uses model {ref!r}, which is not defined in [[models]]"
                f"{suggest(ref, models)}"
            )
    if entry.kind == "hausman":
        for key, estimator in (("fe", "within"), ("re", "random")):
            if models[entry.options[key]] != "fe":
                raise SpecError(
                    f"{where}.{key} must name a model of kind 'fe' (estimator {estimator!r})"
                )
    if "models" in entry.options and not entry.options["models"]:
        raise SpecError(f"{where}.models must name at least one model")


def _diagnostics(raw: Mapping[str, Any]) -> dict[str, Any]:
    value = raw.get("diagnostics", {})
    if not isinstance(value, dict):
        raise SpecError("[diagnostics] must be a table (section)")
    schema = diagnostics_kind().schema()
    schema.pop("name")
    schema.pop("kind")
    check_options(value, schema, "diagnostics")
    return dict(value)


def model_formulas(entry: Entry) -> Sequence[str]:
    """The formulas of a model entry (one, or two for joint models).

    Examples
    --------
    >>> model_formulas(Entry("m", "fe", {"formula": "quality ~ hhi"}))
    ['quality ~ hhi']
    """
    return [entry.options[k] for k in MODEL_KINDS[entry.kind].formulas if k in entry.options]
