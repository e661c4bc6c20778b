"""Expanding a multiverse: one base model specification times every combination of choices.

A *base specification* is a model entry of the spec format (:mod:`sustain.pipeline.spec`): a
``kind`` (``fe``, ``hazard``, ``cox``, ``bayes``, ``joint``) and the options of its fitter, where text
may hold placeholders such as ``{measure}``. *Choices* map a dimension name to its options.
Five dimensions have a meaning of their own; any other dimension fills its placeholder or, if
it is a parameter of the fitter (``link``, ``cov_type``, ``duration_form``, ...), sets it:

============  ==================================================================================
dimension     effect of a value
============  ==================================================================================
measure       fills ``{measure}``; names the coefficient of interest (default ``term``)
lag           ``k > 0`` replaces the measure by its lag ``<measure>_lag<k>`` everywhere
estimator     ``fe`` / ``re`` / ``pooled`` / ``first_difference`` / ``between`` (:func:`fit_fe`),
              ``hazard`` (:func:`fit_hazard`), ``cox`` (:func:`fit_cox` on spells),
              ``bayes`` (:func:`fit_bayes`)
cluster       clustering variable of frequentist fits (``none``: model-based errors); for
              Bayesian fits the random intercept: ``(1 | agency_id)`` or ``(1 | c/agency_id)``
sample        a named sample: ``all``, ``no_left_truncated`` or one given in ``samples``
============  ==================================================================================

Every specification gets a stable id, a hash of its choices alone (``"s"`` plus 10 hex
digits): adding an option to a dimension never changes the ids of existing specifications,
and the seed of a specification is derived from the run's seed and its id.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sustain.errors import SpecError
from sustain.formula import parse_formula
from sustain.limits import MAX_SPECIFICATIONS
from sustain.pipeline.spec import FILTER_OPS, Filter

SEMANTIC_DIMENSIONS = ("measure", "lag", "estimator", "cluster", "sample")
#: estimator choice -> (model kind, options it sets)
ESTIMATORS: dict[str, tuple[str, dict[str, Any]]] = {
    "fe": ("fe", {"estimator": "within"}),
    "re": ("fe", {"estimator": "random"}),
    "pooled": ("fe", {"estimator": "pooled"}),
    "first_difference": ("fe", {"estimator": "first_difference"}),
    "between": ("fe", {"estimator": "between"}),
    "hazard": ("hazard", {}),
    "cox": ("cox", {}),
    "bayes": ("bayes", {}),
}
#: samples every multiverse knows; ``samples=`` adds more
BUILTIN_SAMPLES: dict[str, tuple[Filter, ...]] = {
    "all": (),
    "no_left_truncated": (Filter("left_truncated", "==", False),),
}
#: sampling options of Bayesian (and joint) specifications unless the base specification
#: sets them; options a fitter does not take are skipped
BAYES_DEFAULTS: dict[str, Any] = {
    "draws": 300,
    "tune": 300,
    "chains": 2,
    "cores": 1,
    "prior_predictive": False,
    "posterior_predictive": False,
    "log_likelihood": False,
}
#: model kinds of the spec format a multiverse can vary
KINDS = ("fe", "hazard", "cox", "bayes", "joint")
#: kinds whose formula has a response (a Cox formula is a right-hand side on spells)
WITH_RESPONSE = ("fe", "hazard", "bayes")
ENTITY = "agency_id"
#: exit indicator of the panel: the response a Cox formula lacks, the ``event`` of its spells
EXIT = "exit"
#: options holding formulas, and options naming data columns (their defaults count too)
FORMULA_OPTIONS: dict[str, tuple[str, ...]] = {
    "fe": ("formula",),
    "hazard": ("formula",),
    "cox": ("formula",),
    "bayes": ("formula",),
    "joint": ("quality", "hazard"),
}
COLUMN_OPTIONS: dict[str, tuple[str, ...]] = {
    "fe": ("effects", "cluster", "weights"),
    "hazard": ("duration", "cluster", "entity", "time"),
    "cox": ("strata", "cluster"),
    "bayes": ("trials",),
    "joint": ("group", "duration", "time"),
}
_PLACEHOLDER = re.compile(r"\{([A-Za-z_]\w*)\}")
_NAME = re.compile(r"[A-Za-z_]\w*")
_FILTER_KEYS = {"column", "op", "value"}


@dataclass(frozen=True)
class BaseSpec:
    """The model every specification varies: a kind and its options (with placeholders).

    Examples
    --------
    >>> b = BaseSpec.from_any({"kind": "fe", "formula": "quality ~ {measure}"})
    >>> b.kind, dict(b.options)
    ('fe', {'formula': 'quality ~ {measure}'})
    """

    kind: str
    options: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_any(cls, spec: Any) -> BaseSpec:
        """From a mapping (``kind`` plus options; ``name`` ignored) or a pipeline ``Entry``."""
        if isinstance(spec, BaseSpec):
            return spec
        if hasattr(spec, "kind") and hasattr(spec, "options"):
            kind, options = spec.kind, dict(spec.options)
        elif isinstance(spec, Mapping):
            options = {k: v for k, v in spec.items() if k not in ("kind", "name")}
            kind = spec.get("kind", "fe")
        else:
            raise SpecError(f"base_spec must be a mapping with kind and options, not {spec!r}")
        if kind not in KINDS:
            raise SpecError(f"base_spec kind {kind!r} is not one of {', '.join(KINDS)}")
        return cls(str(kind), options)


@dataclass(frozen=True)
class Specification:
    """One cell of the multiverse: a concrete model, its term of interest, sample and seed.

    Attributes
    ----------
    id : str
        Stable id derived from the choices alone.
    choices : tuple of (str, value)
        The value of every dimension, in the order of the dimensions.
    kind : str
        Model kind (``fe``, ``hazard``, ``bayes``, ``joint``).
    options : mapping
        Keyword arguments of the fitter (formula included), placeholders filled.
    term : str
        Coefficient of interest.
    sample : str
        Name of the sample; ``filters`` are its row filters.
    seed : int
        Seed of sampling fitters (derived from the run's seed and ``id``).

    Examples
    --------
    >>> (s,) = expand({"kind": "fe", "formula": "quality ~ {measure}"}, {"measure": ["hhi"]})
    >>> s.options["formula"], s.term, s.sample
    ('quality ~ hhi', 'hhi', 'all')
    """

    id: str
    choices: tuple[tuple[str, Any], ...]
    kind: str
    options: Mapping[str, Any]
    term: str
    sample: str = "all"
    filters: tuple[Filter, ...] = ()
    seed: int = 0

    def choice(self, dimension: str) -> Any:
        """The value of one dimension."""
        return dict(self.choices)[dimension]

    def fingerprint(self) -> dict[str, Any]:
        """Everything that determines the fit, as JSON-able data (for cache keys)."""
        return {
            "kind": self.kind,
            "options": _jsonable(self.options),
            "term": self.term,
            "filters": [[f.column, f.op, _jsonable(f.value)] for f in self.filters],
            "seed": self.seed if self.kind in ("bayes", "joint") else None,
        }


def spec_id(choices: Sequence[tuple[str, Any]]) -> str:
    """Stable id of a combination of choices (independent of dimension order).

    Examples
    --------
    >>> spec_id([("measure", "hhi"), ("lag", 0)]) == spec_id([("lag", 0), ("measure", "hhi")])
    True
    >>> spec_id([("measure", "hhi")])
    's30584abdf6'
    """
    text = json.dumps(sorted((str(k), v) for k, v in choices), sort_keys=True)
    return "s" + hashlib.sha256(text.encode()).hexdigest()[:10]


def derive_seed(seed: int, spec: str) -> int:
    """Seed of one specification from the run's seed and the specification's id.

    Examples
    --------
    >>> derive_seed(1, "s30584abdf6") == derive_seed(1, "s30584abdf6")
    True
    """
    digest = hashlib.sha256(f"{int(seed)}:{spec}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def check_choices(choices: Mapping[str, Sequence[Any]]) -> dict[str, tuple[Any, ...]]:
    """Validate choices: identifier names, non-empty lists of distinct scalar values.

    Examples
    --------
    >>> check_choices({"measure": ["hhi"], "lag": [0, 1]})
    {'measure': ('hhi',), 'lag': (0, 1)}
    >>> check_choices({"lag": []})
    Traceback (most recent call last):
    ...
    sustain.errors.SpecError: choices['lag'] must be a non-empty list of options
    """
    if not isinstance(choices, Mapping) or not choices:
        raise SpecError("choices must be a non-empty mapping of dimension name to options")
    out: dict[str, tuple[Any, ...]] = {}
    for name, values in choices.items():
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise SpecError(f"dimension name {name!r} must be an identifier such as 'measure'")
        if isinstance(values, str | bytes) or not isinstance(values, Sequence) or not values:
            raise SpecError(f"choices[{name!r}] must be a non-empty list of options")
        for value in values:
            if not isinstance(value, str | int | float | bool) and value is not None:
                raise SpecError(f"choices[{name!r}]: option {value!r} must be text or a number")
        if len({json.dumps(v) for v in values}) != len(values):
            raise SpecError(f"choices[{name!r}] lists an option twice: {list(values)}")
        out[name] = tuple(values)
    total = math.prod(len(v) for v in out.values())
    if total > MAX_SPECIFICATIONS:
        sizes = " x ".join(str(len(v)) for v in out.values())
        raise SpecError(
            f"the choices expand to {total:,} specifications ({sizes}), more than "
            f"{MAX_SPECIFICATIONS:,}; split the multiverse or drop options"
        )
    _check_semantic_values(out)
    return out


def _check_semantic_values(choices: Mapping[str, tuple[Any, ...]]) -> None:
    for value in choices.get("estimator", ()):
        if value not in ESTIMATORS:
            raise SpecError(
                f"estimator option {value!r} is not one of {', '.join(map(repr, ESTIMATORS))}"
            )
    for value in choices.get("lag", ()):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise SpecError(f"lag option {value!r} must be a whole number >= 0")
    for value in choices.get("measure", ()):
        if not isinstance(value, str) or not _NAME.fullmatch(value):
            raise SpecError(f"measure option {value!r} must be a column name such as 'hhi'")
    if "lag" in choices and "measure" not in choices:
        raise SpecError("the lag dimension needs a measure dimension (it lags the measure)")


def expand(
    base_spec: Any,
    choices: Mapping[str, Sequence[Any]],
    *,
    term: str | None = None,
    samples: Mapping[str, Sequence[Filter | Mapping[str, Any]]] | None = None,
    random_seed: int = 0,
) -> tuple[Specification, ...]:
    """Every combination of ``choices`` applied to ``base_spec``, sorted by id.

    Parameters
    ----------
    base_spec : mapping or pipeline Entry
        ``{"kind": "fe", "formula": "quality ~ {measure} + log_revenue", ...}``.
    choices : mapping of str to list
        Dimension name -> options (see the module docstring for the special dimensions).
    term : str, optional
        Coefficient of interest, may hold placeholders; default ``"{measure}"``.
    samples : mapping, optional
        Extra named samples: name -> list of filters (``Filter`` or ``{column, op, value}``).
    random_seed : int
        Seed from which each specification's seed is derived.

    Returns
    -------
    tuple of Specification

    Raises
    ------
    SpecError
        Bad choices, a dimension that changes nothing, unknown samples or options that the
        fitter does not accept.

    Examples
    --------
    >>> specs = expand({"kind": "fe", "formula": "quality ~ {measure}"},
    ...                {"measure": ["hhi", "entropy"], "lag": [0, 1]})
    >>> sorted(s.options["formula"] for s in specs)  # doctest: +NORMALIZE_WHITESPACE
    ['quality ~ entropy', 'quality ~ entropy_lag1', 'quality ~ hhi', 'quality ~ hhi_lag1']
    """
    base = BaseSpec.from_any(base_spec)
    dims = check_choices(choices)
    named = _named_samples(samples)
    template = term if term is not None else "{measure}"
    if _placeholders(template) - set(dims):
        raise SpecError(f"term {template!r} uses a placeholder that is not a dimension")
    _check_dimensions_used(base, dims, template)
    specs = []
    for combo in itertools.product(*dims.values()):
        chosen = tuple(zip(dims, combo, strict=True))
        specs.append(_build(base, chosen, template, named, int(random_seed)))
    return tuple(sorted(specs, key=lambda s: s.id))


def _named_samples(
    samples: Mapping[str, Sequence[Filter | Mapping[str, Any]]] | None,
) -> dict[str, tuple[Filter, ...]]:
    named = dict(BUILTIN_SAMPLES)
    for name, filters in (samples or {}).items():
        if not isinstance(filters, Sequence) or isinstance(filters, str):
            raise SpecError(f"samples[{name!r}] must be a list of filters")
        named[str(name)] = tuple(_filter(f, name) for f in filters)
    return named


def _filter(item: Filter | Mapping[str, Any], name: str) -> Filter:
    if isinstance(item, Filter):
        return item
    if not isinstance(item, Mapping) or not {"column", "op"} <= set(item) <= _FILTER_KEYS:
        raise SpecError(f"samples[{name!r}]: a filter has column, op and value, got {item!r}")
    if item["op"] not in FILTER_OPS:
        raise SpecError(
            f"samples[{name!r}]: op {item['op']!r} is not one of {', '.join(map(repr, FILTER_OPS))}"
        )
    return Filter(str(item["column"]), str(item["op"]), item.get("value"))


def _placeholders(value: Any) -> set[str]:
    if isinstance(value, str):
        return set(_PLACEHOLDER.findall(value))
    if isinstance(value, Mapping):
        return set().union(*(_placeholders(v) for v in value.values()))
    if isinstance(value, list | tuple):
        return set().union(*(_placeholders(v) for v in value))
    return set()


def _check_dimensions_used(base: BaseSpec, dims: Mapping[str, Any], template: str) -> None:
    used = _placeholders(base.options) | _placeholders(template) | set(SEMANTIC_DIMENSIONS)
    accepted = _accepted(base.kind) | set().union(
        *(_accepted(ESTIMATORS[e][0]) for e in dims.get("estimator", ()))
    )
    for name in dims:
        if name not in used and name not in accepted:
            raise SpecError(
                f"dimension {name!r} changes nothing: it is neither a placeholder "
                f"{{{name}}} of the base specification nor an option of its fitter"
            )
    if "measure" in dims and "measure" not in _placeholders(base.options):
        raise SpecError("the measure dimension needs a {measure} placeholder in the formula")


def _accepted(kind: str) -> set[str]:
    """Options an entry of ``kind`` accepts: its fitter's parameters minus those the pipeline
    sets, plus the pipeline's own keys of the kind (``time_scale`` of Cox models)."""
    from sustain.pipeline.kinds import MODEL_KINDS
    from sustain.pipeline.signatures import parameters

    target = MODEL_KINDS[kind]
    (func,) = target.functions()
    return (set(parameters(func)) - target.reserved) | set(target.own)


def _build(
    base: BaseSpec,
    chosen: tuple[tuple[str, Any], ...],
    template: str,
    samples: Mapping[str, tuple[Filter, ...]],
    seed: int,
) -> Specification:
    values = dict(chosen)
    kind, options = _with_estimator(base, values.get("estimator"))
    fills = _fills(values)
    options = _substitute(options, fills)
    accepted = _accepted(kind)
    for name, value in values.items():
        if name not in SEMANTIC_DIMENSIONS and name in accepted:
            options[name] = value
    if kind == "bayes":
        options = _bayes_options(options, values.get("cluster"))
    if kind in ("bayes", "joint"):
        few = {k: v for k, v in BAYES_DEFAULTS.items() if k in accepted and k not in options}
        options = {**options, **few}
    elif "cluster" in values and "cluster" in accepted:
        cluster = values["cluster"]
        options["cluster"] = None if cluster in (None, "none") else cluster
    sample = str(values.get("sample", "all"))
    if sample not in samples:
        raise SpecError(f"sample {sample!r} is not one of {', '.join(map(repr, samples))}")
    ident = spec_id(chosen)
    return Specification(
        id=ident,
        choices=chosen,
        kind=kind,
        options=options,
        term=_substitute(template, fills),
        sample=sample,
        filters=samples[sample],
        seed=derive_seed(seed, ident),
    )


def _with_estimator(base: BaseSpec, estimator: str | None) -> tuple[str, dict[str, Any]]:
    options = dict(base.options)
    if estimator is None:
        return base.kind, options
    kind, extra = ESTIMATORS[estimator]
    if kind == "bayes" and base.kind in ("hazard", "cox"):
        options.setdefault("family", "bernoulli")
        options.setdefault("link", "cloglog")
    if "formula" in options:
        options["formula"] = _response_for(str(options["formula"]), kind)
    accepted = _accepted(kind)
    options = {k: v for k, v in options.items() if k in accepted}
    options.update(extra)
    if kind == "fe" and options["estimator"] != "within":
        options.pop("effects", None)  # only the within estimator absorbs effects
    return kind, options


def _response_for(formula: str, kind: str) -> str:
    """The formula in the form ``kind`` takes: Cox models take the right-hand side alone
    (their spells name the exit ``event``); the others need a response, the exit indicator
    when the base formula is a Cox right-hand side.

    Examples
    --------
    >>> _response_for("exit ~ {measure}", "cox"), _response_for("{measure}", "hazard")
    ('{measure}', 'exit ~ {measure}')
    """
    if kind == "cox":
        return formula.split("~", 1)[1].strip() if "~" in formula else formula
    if kind in WITH_RESPONSE and "~" not in formula:
        return f"{EXIT} ~ {formula.strip()}"
    return formula


def _fills(values: Mapping[str, Any]) -> dict[str, str]:
    fills = {name: str(value) for name, value in values.items()}
    if "measure" in values and int(values.get("lag", 0)) > 0:
        fills["measure"] = f"{values['measure']}_lag{int(values['lag'])}"
    return fills


def _substitute(value: Any, fills: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda m: fills.get(m.group(1), m.group(0)), value)
    if isinstance(value, Mapping):
        return {k: _substitute(v, fills) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_substitute(v, fills) for v in value]
    return value


def _bayes_options(options: dict[str, Any], cluster: Any) -> dict[str, Any]:
    """A random intercept by the cluster choice, unless the formula has group terms."""
    formula = str(options["formula"])
    if not parse_formula(formula).group_terms:
        group = ENTITY if cluster in (None, "none", ENTITY) else f"{cluster}/{ENTITY}"
        options["formula"] = f"{formula} + (1 | {group})"
    return options


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and value != value:
        return "nan"
    return value


def columns_used(specs: Sequence[Specification]) -> set[str] | None:
    """Data columns the specifications read (formulas, column options, sample filters).

    ``None`` when a formula cannot be parsed (the fit will report it). Used to ship workers
    only the columns they need.

    Examples
    --------
    >>> specs = expand({"kind": "hazard", "formula": "exit ~ {measure}"}, {"measure": ["hhi"]})
    >>> sorted(columns_used(specs))
    ['age', 'agency_id', 'exit', 'hhi', 'year']
    """
    used: set[str] = set()
    for spec in specs:
        defaults = _defaults(spec.kind)
        try:
            used |= _formula_columns(spec)
        except SpecError:
            return None
        for key in COLUMN_OPTIONS[spec.kind]:
            value = spec.options.get(key, defaults.get(key))
            values = value if isinstance(value, list | tuple) else [value]
            used |= {v for v in values if isinstance(v, str)}
        used |= {f.column for f in spec.filters}
        if spec.kind == "cox":  # the columns sustain.to_spells reads
            scale = spec.options.get("time_scale", "age")
            used |= {ENTITY, "year", EXIT} | ({"age"} if scale == "age" else set())
    return used


def _formula_columns(spec: Specification) -> set[str]:
    from sustain.formula import variables

    used: set[str] = set()
    for key in FORMULA_OPTIONS[spec.kind]:
        used |= variables(str(spec.options.get(key, "")) or "1")
    return used - ({"event"} if spec.kind == "cox" else set())  # the spells' own column


def _defaults(kind: str) -> dict[str, Any]:
    import inspect

    from sustain.pipeline.kinds import MODEL_KINDS

    (func,) = MODEL_KINDS[kind].functions()
    return {
        name: p.default
        for name, p in inspect.signature(func).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
