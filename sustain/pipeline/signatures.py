"""Checking a spec's keys and values against a schema or a function's signature.

A spec entry (a model, table or figure) passes its options as keyword arguments to one of
sustain's public functions. Before anything runs, every key is checked against the parameters
that function accepts (unknown keys are refused with the key path and a "did you mean"), and
every value against the parameter's annotation: ``Literal`` options (families, links,
estimators, covariance types, ...) must be one of their values, numbers must be numbers, lists
must be lists of the right kind. Annotations the checker does not know are accepted unchecked.
"""

from __future__ import annotations

import collections.abc as cabc
import difflib
import inspect
import sys
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal, Union, get_args, get_origin

from sustain.errors import SpecError

_UNCHECKED = object()
_SEQUENCES = (list, tuple, cabc.Sequence, cabc.Iterable, cabc.Collection)
_MAPPINGS = (dict, cabc.Mapping)


def suggest(key: str, allowed: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest allowed key, or ``""``.

    Examples
    --------
    >>> suggest("formla", ["formula", "name"])
    "; did you mean 'formula'?"
    """
    match = difflib.get_close_matches(key, sorted(allowed), n=1, cutoff=0.6)
    return f"; did you mean {match[0]!r}?" if match else ""


def check_keys(entry: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    """Raise :class:`SpecError` naming the first key of ``entry`` that is not allowed.

    Examples
    --------
    >>> check_keys({"formla": "y ~ x"}, ["formula", "name"], "models[0]")
    Traceback (most recent call last):
    ...
    sustain.errors.SpecError: unknown key models[0].formla; did you mean 'formula'? (allowed: formula, name)
    """
    allowed = sorted(allowed)
    for key in entry:
        if key not in allowed:
            raise SpecError(
                f"unknown key {where}.{key}{suggest(key, allowed)} (allowed: {', '.join(allowed)})"
            )


def conforms(value: Any, annotation: Any) -> bool:
    """Whether a TOML value fits a type annotation (unknown annotations accept anything).

    Examples
    --------
    >>> from typing import Literal, Sequence
    >>> conforms("logit", Literal["logit", "cloglog"]), conforms("probit", Literal["logit"])
    (True, False)
    >>> conforms(["a", "b"], Sequence[str] | None), conforms(3, float), conforms(True, int)
    (True, True, False)
    """
    if annotation is _UNCHECKED or annotation is Any or annotation is inspect.Parameter.empty:
        return True
    if annotation is None or annotation is type(None):
        return value is None
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Literal:
        return any(value == a and type(value) is type(a) for a in args)
    if origin in (Union, types.UnionType):
        return any(conforms(value, a) for a in args)
    if origin in _SEQUENCES:
        return _conforms_sequence(value, origin, args)
    if origin in _MAPPINGS:
        if not isinstance(value, dict):
            return False
        key_t, value_t = args if len(args) == 2 else (_UNCHECKED, _UNCHECKED)
        return all(conforms(k, key_t) and conforms(v, value_t) for k, v in value.items())
    return _conforms_plain(value, annotation)


def _conforms_sequence(value: Any, origin: Any, args: tuple[Any, ...]) -> bool:
    if not isinstance(value, list):
        return False
    if origin is tuple and args and args[-1] is not Ellipsis:
        return len(value) == len(args) and all(
            conforms(v, a) for v, a in zip(value, args, strict=True)
        )
    item = args[0] if args else _UNCHECKED
    return all(conforms(v, item) for v in value)


def _conforms_plain(value: Any, annotation: Any) -> bool:
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    if isinstance(annotation, type):
        return isinstance(value, annotation)
    return True


def describe_type(annotation: Any) -> str:
    """A short human description of an annotation for error messages.

    Examples
    --------
    >>> from typing import Literal, Sequence
    >>> describe_type(Literal["a", "b"] | None)
    "one of 'a', 'b'"
    >>> describe_type(Sequence[str])
    'a list of text'
    """
    origin = get_origin(annotation)
    args = [a for a in get_args(annotation) if a is not type(None)]
    if origin is Literal:
        return "one of " + ", ".join(map(repr, get_args(annotation)))
    if origin in (Union, types.UnionType):
        literals = [a for a in args if get_origin(a) is Literal]
        if len(args) == 1 or (literals and len(literals) == len(args)):
            return " or ".join(describe_type(a) for a in args)
        return " or ".join(dict.fromkeys(describe_type(a) for a in args))
    if origin in _SEQUENCES:
        return f"a list of {describe_type(args[0])}" if args else "a list"
    if origin in _MAPPINGS:
        return "a table (mapping)"
    names = {bool: "true or false", int: "an integer", float: "a number", str: "text"}
    if annotation in names:
        return names[annotation]
    return getattr(annotation, "__name__", str(annotation))


def check_value(value: Any, annotation: Any, where: str) -> None:
    """Raise :class:`SpecError` when ``value`` does not fit ``annotation``.

    Examples
    --------
    >>> from typing import Literal
    >>> check_value("probit", Literal["logit", "cloglog"], "models[1].link")
    Traceback (most recent call last):
    ...
    sustain.errors.SpecError: models[1].link = 'probit' must be one of 'logit', 'cloglog'
    """
    if not conforms(value, annotation):
        raise SpecError(f"{where} = {value!r} must be {describe_type(annotation)}")


def parameters(func: Callable[..., Any]) -> dict[str, Any]:
    """``{parameter: annotation}`` of the keyword-passable parameters of ``func``.

    String annotations (``from __future__ import annotations``) are resolved in the function's
    module; one that cannot be resolved is left unchecked.

    Examples
    --------
    >>> def f(x: int, *, link: str = "logit", **kw: object) -> None: ...
    >>> parameters(f)
    {'x': <class 'int'>, 'link': <class 'str'>}
    """
    out: dict[str, Any] = {}
    namespace = vars(sys.modules[func.__module__]) if func.__module__ in sys.modules else {}
    for name, param in inspect.signature(func).parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
            continue
        out[name] = _resolve(param.annotation, namespace)
    return out


def _resolve(annotation: Any, namespace: Mapping[str, Any]) -> Any:
    if not isinstance(annotation, str):
        return annotation
    try:
        # The annotation text is sustain's own source code, never user input.
        return eval(annotation, {"typing": typing, **namespace})
    except Exception:
        return _UNCHECKED


def check_options(
    options: Mapping[str, Any],
    schema: Mapping[str, Any],
    where: str,
) -> None:
    """Check option keys against ``schema`` (``{key: annotation}``) and each value's type.

    Examples
    --------
    >>> from typing import Literal
    >>> check_options({"link": "logit"}, {"link": Literal["logit", "cloglog"]}, "models[0]")
    >>> check_options({"lnk": "logit"}, {"link": str}, "models[0]")
    Traceback (most recent call last):
    ...
    sustain.errors.SpecError: unknown key models[0].lnk; did you mean 'link'? (allowed: link)
    """
    check_keys(options, schema, where)
    for key, value in options.items():
        check_value(value, schema[key], f"{where}.{key}")
