"""Formula parsing shared by every model: response, population-level terms and group terms.

Population-level terms are handled by formulaic (categoricals ``C(x)``, interactions ``a:b``,
``a*b``, transforms such as ``np.log(x)`` or ``bs(age, df=4)``). Group terms in the lme4/brms
style -- ``(1 | district)``, ``(1 | district/agency_id)``, ``(hhi | tier)`` -- are split off
first, because formulaic does not know them.

Formulas may come from a TOML specification written by somebody else, so evaluation is
restricted: every piece of Python inside a formula is parsed and checked against a whitelist of
transforms and numpy functions before formulaic sees it (:func:`check_safe`), and formulaic
evaluates with a namespace that only holds those names.
"""

from __future__ import annotations

import ast
import re
import types
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sustain.errors import SpecError
from sustain.limits import (
    MAX_FORMULA_INTEGER,
    MAX_FORMULA_POWER,
    MAX_POLYNOMIAL_DEGREE,
    MAX_SPLINE_DF,
)

# formulaic transforms a formula may call
_TRANSFORMS = (
    "C",
    "I",
    "Q",
    "center",
    "scale",
    "standardize",
    "bs",
    "cr",
    "cs",
    "cc",
    "poly",
    "lag",
    "log",
    "log2",
    "log10",
    "exp",
    "Treatment",
    "Sum",
    "Diff",
    "Helmert",
    "Poly",
    "contr",
)
# numpy functions a formula may call as np.<name>
_NUMPY = (
    "log",
    "log1p",
    "log2",
    "log10",
    "exp",
    "expm1",
    "sqrt",
    "square",
    "abs",
    "power",
    "minimum",
    "maximum",
    "clip",
    "where",
    "floor",
    "ceil",
    "round",
    "sign",
    "isnan",
)
SAFE_NUMPY = types.SimpleNamespace(**{name: getattr(np, name) for name in _NUMPY})
ALLOWED_CALLS = frozenset(_TRANSFORMS) | {"np." + n for n in _NUMPY}

_ALLOWED_NODES = (
    ast.Expression,
    ast.Call,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.BinOp,
    ast.UnaryOp,
    ast.BoolOp,
    ast.Compare,
    ast.keyword,
    ast.List,
    ast.Tuple,
    ast.Attribute,
    ast.operator,
    ast.unaryop,
    ast.boolop,
    ast.cmpop,
)


@dataclass(frozen=True)
class GroupTerm:
    """A group-level term such as ``(1 | district)`` or ``(hhi | tier)``.

    Attributes
    ----------
    expr : str
        The varying part left of the bar: ``"1"``, ``"hhi"``, ``"1 + hhi"``, ``"0 + hhi"``.
    groups : tuple of str
        Grouping factors after expanding nesting: ``district/agency_id`` becomes
        ``("district", "district:agency_id")``; each gets its own set of effects.
    correlated : bool
        ``False`` for the ``||`` form (no correlation between varying effects).

    Examples
    --------
    >>> parse_formula("y ~ x + (1 | a/b)").group_terms[0].groups
    ('a', 'a:b')
    """

    expr: str
    groups: tuple[str, ...]
    correlated: bool = True

    @property
    def has_intercept(self) -> bool:
        """Whether the term varies the intercept (lme4 rule: yes unless ``0`` or ``-1``)."""
        parts = [p.strip() for p in re.split(r"\+", self.expr)]
        return not any(p in ("0", "-1") for p in parts) and not re.search(r"-\s*1\b", self.expr)

    @property
    def slopes(self) -> tuple[str, ...]:
        """Varying slopes (terms other than the intercept)."""
        parts = [p.strip() for p in self.expr.replace("-", "+-").split("+")]
        return tuple(p for p in parts if p and p not in ("1", "0", "-1"))


@dataclass(frozen=True)
class ParsedFormula:
    """A formula split into response, population-level part and group terms.

    Examples
    --------
    >>> f = parse_formula("quality ~ hhi + gov_share + (1 | district/agency_id)")
    >>> f.lhs, f.fixed
    ('quality', 'hhi + gov_share')
    """

    lhs: str
    fixed: str
    group_terms: tuple[GroupTerm, ...] = ()
    formula: str = ""

    @property
    def fixed_formula(self) -> str:
        """``lhs ~ fixed`` without group terms (for formulaic)."""
        return f"{self.lhs} ~ {self.fixed}" if self.lhs else self.fixed


def parse_formula(formula: str, require_lhs: bool = True) -> ParsedFormula:
    """Split a formula into response, population-level terms and group terms.

    Parameters
    ----------
    formula : str
        E.g. ``"quality ~ hhi + (1 | district/agency_id)"``. Without ``~`` the whole string is
        the right-hand side (allowed when ``require_lhs`` is false, e.g. Cox models).
    require_lhs : bool
        Raise :class:`~sustain.errors.SpecError` when there is no response.

    Returns
    -------
    ParsedFormula

    Examples
    --------
    >>> f = parse_formula("exit ~ hhi + (1 | district) + (hhi || tier)")
    >>> [(g.expr, g.groups, g.correlated) for g in f.group_terms]
    [('1', ('district',), True), ('hhi', ('tier',), False)]
    """
    if not isinstance(formula, str) or not formula.strip():
        raise SpecError("formula must be a non-empty string")
    if formula.count("~") > 1:
        raise SpecError(f"formula {formula!r} has more than one '~'")
    if "~" in formula:
        lhs, rhs = (s.strip() for s in formula.split("~"))
    else:
        lhs, rhs = "", formula.strip()
    if require_lhs and not lhs:
        raise SpecError(f"formula {formula!r} needs a response on the left of '~'")
    if "|" in lhs:  # brms's addition terms, e.g. "y | trials(n) ~ x"
        raise SpecError(
            f"the response {lhs!r} of formula {formula!r} has a '|': write the response "
            "alone on the left of '~' and pass the number of trials of a binomial model as "
            "fit_bayes(..., trials='column')"
        )
    fixed, groups = _split_group_terms(rhs, formula)
    return ParsedFormula(lhs=lhs, fixed=fixed, group_terms=tuple(groups), formula=formula)


def _split_group_terms(rhs: str, formula: str) -> tuple[str, list[GroupTerm]]:
    groups: list[GroupTerm] = []
    pieces: list[str] = []
    i, start, depth = 0, 0, 0
    while i < len(rhs):
        ch = rhs[i]
        if ch == "(":
            if depth == 0:
                end = _matching_paren(rhs, i, formula)
                inner = rhs[i + 1 : end]
                if _top_level_bar(inner):
                    pieces.append(rhs[start:i])
                    groups.append(_group_term(inner, formula))
                    start = i = end + 1
                    continue
            depth += 1
        elif ch == ")":
            depth -= 1
        i += 1
    pieces.append(rhs[start:])
    fixed = " ".join(pieces)
    fixed = re.sub(r"\+\s*(\+\s*)+", "+ ", fixed)
    fixed = re.sub(r"^\s*\+|\+\s*$", "", fixed.strip()).strip()
    if "|" in fixed:
        raise SpecError(f"formula {formula!r}: a group term must be in parentheses, e.g. (1 | g)")
    return (fixed or "1"), groups


def _matching_paren(text: str, open_at: int, formula: str) -> int:
    depth = 0
    for j in range(open_at, len(text)):
        if text[j] == "(":
            depth += 1
        elif text[j] == ")":
            depth -= 1
            if depth == 0:
                return j
    raise SpecError(f"formula {formula!r} has an unclosed parenthesis")


def _top_level_bar(inner: str) -> bool:
    depth = 0
    for ch in inner:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "|" and depth == 0:
            return True
    return False


def _group_term(inner: str, formula: str) -> GroupTerm:
    correlated = "||" not in inner
    left, right = (s.strip() for s in inner.split("||" if not correlated else "|", 1))
    if not left or not right:
        raise SpecError(f"formula {formula!r}: group term ({inner}) needs 'effects | grouping'")
    if not re.fullmatch(r"[A-Za-z_][\w]*(\s*[/:]\s*[A-Za-z_][\w]*)*", right):
        raise SpecError(
            f"formula {formula!r}: grouping factor {right!r} must be column names joined by "
            "'/' (nesting) or ':' (interaction)"
        )
    if "/" in right:
        names = [s.strip() for s in right.split("/")]
        expanded = tuple(":".join(names[: k + 1]) for k in range(len(names)))
    else:
        expanded = (re.sub(r"\s*:\s*", ":", right),)
    return GroupTerm(expr=re.sub(r"\s+", " ", left), groups=expanded, correlated=correlated)


# --------------------------------------------------------------------------- safety checks


def check_safe(formula: str) -> None:
    """Reject a formula whose Python pieces call anything outside the whitelist.

    Allowed calls are formulaic's transforms (``C``, ``center``, ``scale``, ``bs``, ...) and
    a short list of numpy functions (``np.log``, ``np.sqrt``, ...). Attribute access other than
    ``np.<allowed>``, names starting with an underscore, subscripts, lambdas and comprehensions
    are refused.

    Raises
    ------
    SpecError
        Naming the offending piece.

    Examples
    --------
    >>> check_safe("y ~ np.log(x) + C(district)")
    >>> check_safe("y ~ x + {__import__('os').system('ls')}")
    Traceback (most recent call last):
    ...
    sustain.errors.SpecError: formula piece "__import__('os').system('ls')" is not allowed: ...
    """
    parsed = parse_formula(formula, require_lhs=False)
    pieces = [parsed.lhs, parsed.fixed]
    for term in parsed.group_terms:
        pieces.append(term.expr)
    for piece in pieces:
        for expr in _python_pieces(piece):
            _check_expr(expr)


def _python_pieces(part: str) -> list[str]:
    """Python expressions inside a formula part, as formulaic's parser sees them."""
    if not part.strip():
        return []
    from formulaic import Formula

    try:
        terms = Formula(part)
    except Exception as exc:  # formulaic raises several parser exception types
        raise SpecError(f"cannot parse formula part {part!r}: {exc}") from exc
    exprs = []
    for term in _iter_terms(terms):
        if not hasattr(term, "factors"):  # a part of a structured formula, e.g. "a | b"
            raise SpecError(f"cannot parse formula part {part!r}: unexpected '|'")
        for factor in term.factors:
            if str(factor.eval_method.value) == "python" or factor.eval_method.name == "PYTHON":
                exprs.append(str(factor.expr))
            elif factor.eval_method.name == "LOOKUP" and str(factor.expr).startswith("_"):
                exprs.append(str(factor.expr))
    return exprs


def _iter_terms(formula: Any) -> list[Any]:
    if hasattr(formula, "rhs"):
        out = []
        for part in ("lhs", "rhs"):
            sub = getattr(formula, part, None)
            if sub is not None:
                out += list(sub)
        return out
    return list(formula)


def _check_expr(expr: str) -> None:
    def refuse(why: str) -> SpecError:
        return SpecError(f"formula piece {expr!r} is not allowed: {why}")

    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError as exc:
        raise refuse("not a valid expression") from exc
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise refuse(f"{type(node).__name__} is not permitted in formulas")
        if isinstance(node, ast.Name) and node.id.startswith("_"):
            raise refuse(f"name {node.id!r} is private")
        if isinstance(node, ast.Attribute) and not _is_numpy_attr(node):
            raise refuse(f"attribute access '.{node.attr}' (only np.<function> is allowed)")
        if isinstance(node, ast.Call):
            name = _call_name(node.func)
            if name not in ALLOWED_CALLS:
                allowed = ", ".join(sorted(ALLOWED_CALLS))
                raise refuse(f"calls {name or 'an expression'}; allowed calls are {allowed}")
            _check_call_size(node, name, refuse)
        _check_size(node, refuse)


def _check_size(node: ast.AST, refuse: Any) -> None:
    """Bounded literals and powers: ``10**10**10`` would hang before any check could run."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        if not isinstance(node.value, bool) and abs(node.value) > MAX_FORMULA_INTEGER:
            raise refuse(f"the number {node.value!r} is larger than {MAX_FORMULA_INTEGER:.0e}")
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        exponent = node.right
        if isinstance(exponent, ast.UnaryOp) and isinstance(exponent.op, ast.USub | ast.UAdd):
            exponent = exponent.operand
        if not (isinstance(exponent, ast.Constant) and isinstance(exponent.value, int | float)):
            raise refuse("a power's exponent must be a number (x**2)")
        if abs(exponent.value) > MAX_FORMULA_POWER:
            raise refuse(f"powers above {MAX_FORMULA_POWER} are not allowed")


def _check_call_size(node: ast.Call, name: str | None, refuse: Any) -> None:
    """Polynomial degrees and spline sizes within bounds (``poly(x, 100000)`` exhausted memory)."""
    limits = {"poly": MAX_POLYNOMIAL_DEGREE, "Poly": MAX_POLYNOMIAL_DEGREE}
    values: list[tuple[str, ast.expr]] = []
    if name in limits and len(node.args) > 1:
        values.append(("degree", node.args[1]))
    values += [(k.arg or "", k.value) for k in node.keywords]
    bounds = {"degree": MAX_POLYNOMIAL_DEGREE, "df": MAX_SPLINE_DF}
    for key, value in values:
        bound = bounds.get(key)
        if bound is None:
            continue
        number = value.value if isinstance(value, ast.Constant) else None
        if isinstance(value, ast.List | ast.Tuple):
            number = len(value.elts)
            bound = MAX_SPLINE_DF
        if not isinstance(number, int | float) or isinstance(number, bool):
            raise refuse(f"{name}({key}=...) must be a number")
        if not 0 <= number <= bound:
            raise refuse(f"{name}({key}={number!r}) is out of bounds: at most {bound}")


def _is_numpy_attr(node: ast.Attribute) -> bool:
    return isinstance(node.value, ast.Name) and node.value.id == "np" and node.attr in _NUMPY


def _call_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return f"{func.value.id}.{func.attr}"
    return None


def variables(formula: str) -> set[str]:
    """Names of data columns a formula refers to (response, terms and grouping factors).

    Examples
    --------
    >>> sorted(variables("quality ~ np.log(amount) + C(tier) + (hhi | district/agency_id)"))
    ['agency_id', 'amount', 'district', 'hhi', 'quality', 'tier']
    """
    check_safe(formula)
    parsed = parse_formula(formula, require_lhs=False)
    names: set[str] = set()
    for piece in [parsed.lhs, parsed.fixed, *(g.expr for g in parsed.group_terms)]:
        names |= _piece_variables(piece)
    for term in parsed.group_terms:
        for group in term.groups:
            names |= set(group.split(":"))
    return names


def _piece_variables(part: str) -> set[str]:
    if not part.strip():
        return set()
    from formulaic import Formula

    names: set[str] = set()
    for term in _iter_terms(Formula(part)):
        for factor in term.factors:
            method = factor.eval_method.name
            if method == "LOOKUP":
                names.add(str(factor.expr))
            elif method == "PYTHON":
                tree = ast.parse(str(factor.expr), mode="eval")
                called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)} | {
                    id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)
                }
                for node in ast.walk(tree):
                    if isinstance(node, ast.Name) and id(node) not in called:
                        names.add(node.id)
    return names


# --------------------------------------------------------------------------- design matrices


def formula_context() -> dict[str, Any]:
    """The namespace formulaic evaluates in: whitelisted transforms and a reduced ``np``."""
    from formulaic.transforms import TRANSFORMS

    context = {name: TRANSFORMS[name] for name in _TRANSFORMS if name in TRANSFORMS}
    context["np"] = SAFE_NUMPY
    return context


def check_columns(data: pd.DataFrame, formula: str, extra: tuple[str, ...] = ()) -> None:
    """Raise :class:`SpecError` naming every variable of ``formula`` missing from ``data``.

    Index level names count as columns.

    Examples
    --------
    >>> import pandas as pd
    >>> check_columns(pd.DataFrame({"y": [1], "x": [2]}), "y ~ x + z")
    Traceback (most recent call last):
    ...
    sustain.errors.SpecError: formula 'y ~ x + z' uses z, not found in the data ...
    """
    available = set(map(str, data.columns)) | {str(n) for n in data.index.names if n}
    missing = sorted((variables(formula) | set(extra)) - available)
    if missing:
        near = {m: _near(m, available) for m in missing}
        hints = "; ".join(f"{m}: did you mean {n!r}?" for m, n in near.items() if n)
        raise SpecError(
            f"formula {formula!r} uses {', '.join(missing)}, not found in the data "
            f"(columns: {', '.join(sorted(available)[:30])}){'; ' + hints if hints else ''}"
        )


def _near(name: str, options: set[str]) -> str | None:
    import difflib

    match = difflib.get_close_matches(name, sorted(options), n=1, cutoff=0.75)
    return match[0] if match else None


@dataclass(frozen=True)
class Design:
    """Response and population-level design matrix on the complete-case rows.

    Attributes
    ----------
    y : Series or None
        Response (``None`` for a one-sided formula).
    X : DataFrame
        Design matrix with formulaic's column names (``Intercept``, ``C(tier)[T.district]``).
    rows : Index
        Index labels of ``data`` kept (rows with missing values in any used variable dropped).
    spec : object
        formulaic model spec, to build matrices for new data with :func:`design_for`.
    """

    y: pd.Series | None
    X: pd.DataFrame
    rows: pd.Index
    spec: Any


def design(data: pd.DataFrame, formula: str, intercept: bool = True) -> Design:
    """Build the response and design matrix of the population-level part of ``formula``.

    Group terms are ignored here (see :func:`parse_formula`). Rows with a missing value in any
    used variable are dropped (complete cases) and reported through ``Design.rows``.

    Parameters
    ----------
    data : DataFrame
        Index levels may be used as variables.
    formula : str
        ``"y ~ x1 + C(g)"`` or a one-sided ``"x1 + x2"``.
    intercept : bool
        Keep the intercept column (``False`` removes it, e.g. for within estimators and Cox).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, None], "x": [0.0, 1, 2, 3]})
    >>> d = design(df, "y ~ x")
    >>> list(d.X.columns), len(d.rows)
    (['Intercept', 'x'], 3)
    """
    from formulaic import model_matrix

    check_safe(formula)
    parsed = parse_formula(formula, require_lhs=False)
    check_columns(data, formula)
    frame = with_index_columns(data)
    rhs = parsed.fixed
    if not intercept and not re.search(r"(^|[+\s])-\s*1\b|(^|[+\s])0\b", rhs):
        rhs = f"{rhs} - 1" if rhs.strip() != "1" else "0"
    spec_text = f"{parsed.lhs} ~ {rhs}" if parsed.lhs else rhs
    try:
        mm = model_matrix(spec_text, frame, context=formula_context(), na_action="drop")
    except SpecError:
        raise
    except Exception as exc:
        raise SpecError(f"cannot build the design of {formula!r}: {exc}") from exc
    if parsed.lhs:
        y_frame, X = mm.lhs, mm.rhs
        y = pd.Series(np.asarray(y_frame).ravel(), index=y_frame.index, name=parsed.lhs)
    else:
        X, y = mm, None
    spec = getattr(X, "model_spec", None)
    X = pd.DataFrame(X)
    return Design(y=y, X=X, rows=X.index, spec=spec)


def with_index_columns(data: pd.DataFrame) -> pd.DataFrame:
    """``data`` with its named index levels also available as columns (index unchanged).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"y": [1.0]}, index=pd.Index([7], name="agency_id"))
    >>> list(with_index_columns(df).columns)
    ['y', 'agency_id']
    """
    levels = [n for n in data.index.names if n and n not in data.columns]
    if not levels:
        return data
    frame = data.copy(deep=False)
    for name in levels:
        frame[name] = data.index.get_level_values(name)
    return frame


def design_for(spec: Any, data: pd.DataFrame) -> pd.DataFrame:
    """Design matrix for new data with the encoding (levels, spline knots) of a fitted spec.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"y": [1.0, 2, 3], "g": ["a", "b", "a"]})
    >>> d = design(df, "y ~ C(g)")
    >>> list(design_for(d.spec, pd.DataFrame({"g": ["b"]})).iloc[0])
    [1.0, 1.0]
    """
    return pd.DataFrame(spec.get_model_matrix(data, context=formula_context()))
