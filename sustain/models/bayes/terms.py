"""Arrays of a Bayesian hierarchical model: response, population-level design and group terms.

A formula such as ``quality ~ hhi + C(tier) + (1 | district/agency_id) + (hhi | tier)`` is
split by :func:`sustain.formula.parse_formula`; the population-level part goes through
formulaic (:func:`sustain.formula.design`) and every group term becomes one
:class:`GroupFactor` per grouping factor (nesting ``a/b`` gives the factors ``a`` and ``a:b``).
Rows with a missing value in any variable the model uses are dropped once, for every part.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sustain._typing import FloatArray, IntArray
from sustain.errors import FitError, SpecError
from sustain.formula import (
    GroupTerm,
    check_columns,
    check_safe,
    design,
    parse_formula,
    variables,
    with_index_columns,
)

INTERCEPT = "Intercept"


@dataclass(frozen=True)
class GroupFactor:
    """Varying effects of one grouping factor.

    Attributes
    ----------
    name : str
        Grouping factor as PyMC may name it: ``"district"``, ``"district:agency_id"``.
    coefs : tuple of str
        Labels of the varying coefficients: ``"1"`` for the intercept, else formulaic's column
        name (``"hhi"``).
    Z : ndarray, shape (n, k)
        Values multiplying each varying coefficient (a column of ones for the intercept).
    index : ndarray of int, shape (n,)
        Level of each row, in ``0 .. n_levels - 1``.
    levels : tuple of str
        Level labels (for nested factors the labels of all parents joined by ``":"``).
    correlated : bool
        Whether the coefficients get a correlation matrix (``|``) or not (``||``).

    Examples
    --------
    >>> import numpy as np
    >>> g = GroupFactor("tier", ("1", "hhi"), np.ones((3, 2)), np.array([0, 1, 0]), ("a", "b"))
    >>> g.sd_name("hhi"), g.effect_name("1"), g.cor_name("1", "hhi")
    ('sd(hhi|tier)', 'r(1|tier)', 'cor(1,hhi|tier)')
    """

    name: str
    coefs: tuple[str, ...]
    Z: FloatArray
    index: IntArray
    levels: tuple[str, ...]
    correlated: bool = True

    @property
    def n_levels(self) -> int:
        """Number of levels of the grouping factor."""
        return len(self.levels)

    @property
    def k(self) -> int:
        """Number of varying coefficients."""
        return len(self.coefs)

    @property
    def intercept_only(self) -> bool:
        """Whether only the intercept varies."""
        return self.coefs == ("1",)

    def sd_name(self, coef: str) -> str:
        """Name of the standard deviation of one varying coefficient."""
        return f"sd({coef}|{self.name})"

    def effect_name(self, coef: str) -> str:
        """Name of the vector of group effects of one varying coefficient."""
        return f"r({coef}|{self.name})"

    def cor_name(self, first: str, second: str) -> str:
        """Name of the correlation between two varying coefficients."""
        return f"cor({first},{second}|{self.name})"

    @property
    def lkj_name(self) -> str:
        """Name of the correlation-matrix parameter (one per correlated factor)."""
        return f"cor({self.name})"


@dataclass(frozen=True)
class ModelTerms:
    """Everything a Bayesian model needs from the data, as arrays.

    Attributes
    ----------
    formula : str
        The formula as written.
    response : str
        Name of the response (also the name of the likelihood in the posterior).
    y : ndarray, shape (n,)
        Response on the complete-case rows.
    X : ndarray, shape (n, p)
        Population-level design matrix.
    x_names : tuple of str
        Column names of ``X`` as formulaic names them (``"Intercept"``, ``"C(tier)[T.district]"``);
        a ``/`` (which NetCDF refuses in variable names) is written ``÷``.
    groups : tuple of GroupFactor
        One entry per grouping factor, in formula order.
    rows : Index
        Index labels of the rows used.
    trials : ndarray or None, shape (n,)
        Number of trials of a binomial response.
    spec : object
        formulaic model spec of the population-level part.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4], "x": [0.0, 1, 0, 1], "g": list("aabb")})
    >>> t = build_terms(df, "y ~ x + (1 | g)")
    >>> t.x_names, t.groups[0].levels, t.nobs
    (('Intercept', 'x'), ('a', 'b'), 4)
    """

    formula: str
    response: str
    y: FloatArray
    X: FloatArray
    x_names: tuple[str, ...]
    groups: tuple[GroupFactor, ...]
    rows: pd.Index
    trials: FloatArray | None = None
    spec: Any = None

    @property
    def nobs(self) -> int:
        """Number of observations used."""
        return int(self.y.shape[0])

    @property
    def has_intercept(self) -> bool:
        """Whether the population-level part has an intercept column."""
        return INTERCEPT in self.x_names

    @property
    def slope_names(self) -> tuple[str, ...]:
        """Population-level terms other than the intercept."""
        return tuple(n for n in self.x_names if n != INTERCEPT)

    def slope_matrix(self) -> FloatArray:
        """Columns of ``X`` other than the intercept, shape (n, p - has_intercept)."""
        keep = [i for i, n in enumerate(self.x_names) if n != INTERCEPT]
        return self.X[:, keep]


def response_name(lhs: str) -> str:
    """Name of the likelihood variable: the response with characters NetCDF refuses replaced.

    Examples
    --------
    >>> response_name("I(y/2)")
    'I(y÷2)'
    """
    return lhs.replace("/", "÷").strip()


def build_terms(data: pd.DataFrame, formula: str, trials: str | int | None = None) -> ModelTerms:
    """Build the response, design matrix and group factors of ``formula`` on complete cases.

    Parameters
    ----------
    data : DataFrame
        One row per observation; named index levels may be used as variables.
    formula : str
        lme4/brms-style formula, e.g. ``"quality ~ hhi + (1 | district/agency_id)"``.
    trials : str or int, optional
        Binomial trials: a column name or one number for every row.

    Returns
    -------
    ModelTerms

    Raises
    ------
    SpecError
        Unknown columns, unsafe formula pieces, bad group terms.
    FitError
        No complete rows or a rank-deficient population-level design.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4, 5, 6], "x": [0.0, 1, 0, 1, 2, 2],
    ...                    "a": list("ppppqq"), "b": list("uuvvww")})
    >>> t = build_terms(df, "y ~ x + (1 | a/b)")
    >>> [(g.name, g.n_levels) for g in t.groups]
    [('a', 2), ('a:b', 3)]
    """
    if not isinstance(data, pd.DataFrame):
        raise SpecError(f"data must be a pandas DataFrame, not {type(data).__name__}")
    check_safe(formula)
    parsed = parse_formula(formula)
    extra = (trials,) if isinstance(trials, str) else ()
    check_columns(data, formula, extra=extra)
    frame = _complete_cases(with_index_columns(data), variables(formula) | set(extra), formula)
    fixed = design(frame, formula)
    if fixed.y is None:  # pragma: no cover - parse_formula requires a response
        raise SpecError(f"formula {formula!r} needs a response")
    frame = frame.loc[fixed.rows]
    X = np.asarray(fixed.X, dtype=np.float64)
    _check_rank(X, tuple(map(str, fixed.X.columns)))
    groups = tuple(
        factor for term in parsed.group_terms for factor in _group_factors(frame, term, formula)
    )
    return ModelTerms(
        formula=formula,
        response=response_name(parsed.lhs),
        y=_numeric_response(fixed.y, parsed.lhs),
        X=X,
        x_names=tuple(str(c).replace("/", "÷") for c in fixed.X.columns),
        groups=groups,
        rows=fixed.rows,
        trials=_trials(frame, trials),
        spec=fixed.spec,
    )


def _complete_cases(frame: pd.DataFrame, used: set[str], formula: str) -> pd.DataFrame:
    cols = sorted(c for c in used if c in frame.columns)
    keep = frame[cols].notna().all(axis=1).to_numpy()
    if not keep.any():
        raise FitError(f"formula {formula!r}: no row has all of {', '.join(cols)} present")
    return frame.loc[keep] if not keep.all() else frame


def _check_rank(X: FloatArray, names: tuple[str, ...]) -> None:
    if X.shape[0] <= X.shape[1]:
        raise FitError(f"{X.shape[0]} complete rows are too few for {X.shape[1]} terms")
    rank = np.linalg.matrix_rank(X)
    if rank < X.shape[1]:
        raise FitError(
            f"the population-level design is rank deficient (rank {rank} < {X.shape[1]} "
            f"columns: {', '.join(names)}); drop collinear or constant terms"
        )


def _numeric_response(y: pd.Series, lhs: str) -> FloatArray:
    values = pd.to_numeric(y, errors="coerce") if y.dtype != bool else y.astype(float)
    arr = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise SpecError(f"response {lhs!r} must be numeric and finite")
    return arr


def _trials(frame: pd.DataFrame, trials: str | int | None) -> FloatArray | None:
    if trials is None:
        return None
    if isinstance(trials, str):
        arr = np.asarray(pd.to_numeric(frame[trials], errors="coerce"), dtype=np.float64)
    else:
        arr = np.full(len(frame), float(trials))
    if not (np.all(np.isfinite(arr)) and np.all(arr >= 1) and np.all(arr == np.round(arr))):
        raise SpecError(f"trials={trials!r} must be positive whole numbers")
    return arr


def _group_factors(frame: pd.DataFrame, term: GroupTerm, formula: str) -> list[GroupFactor]:
    Z, coefs = _varying_matrix(frame, term, formula)
    out = []
    for group in term.groups:
        parts = group.split(":")
        labels = frame[parts[0]].astype(str)
        for part in parts[1:]:
            labels = labels + ":" + frame[part].astype(str)
        codes, uniques = pd.factorize(labels, sort=True)
        out.append(
            GroupFactor(
                name=group,
                coefs=coefs,
                Z=Z,
                index=codes.astype(np.int64),
                levels=tuple(map(str, uniques)),
                correlated=term.correlated,
            )
        )
    return out


def _varying_matrix(
    frame: pd.DataFrame, term: GroupTerm, formula: str
) -> tuple[FloatArray, tuple[str, ...]]:
    slopes = " + ".join(term.slopes)
    if term.has_intercept:
        rhs = f"1 + {slopes}" if slopes else "1"
    elif slopes:
        rhs = f"0 + {slopes}"
    else:
        raise SpecError(f"formula {formula!r}: group term ({term.expr} | ...) varies nothing")
    if rhs == "1":
        return np.ones((len(frame), 1)), ("1",)
    Z = design(frame, f"{rhs}")
    if len(Z.rows) != len(frame):
        raise SpecError(f"formula {formula!r}: varying part {term.expr!r} has missing values")
    names = tuple("1" if c == INTERCEPT else str(c) for c in Z.X.columns)
    for name in names:
        if re.search(r"[|/]", name):
            raise SpecError(f"varying coefficient {name!r} may not contain '|' or '/'")
    return np.asarray(Z.X, dtype=np.float64), names


def data_hash(terms: ModelTerms) -> str:
    """SHA-256 of the data a model was fitted to: response, design, group indices and trials.

    Two fits share the hash exactly when they saw the same numbers, in the same row order, with
    the same term names and group levels.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4], "x": [0.0, 1, 0, 1], "g": list("aabb")})
    >>> len(data_hash(build_terms(df, "y ~ x + (1 | g)")))
    64
    """
    h = hashlib.sha256()
    h.update(terms.response.encode())
    h.update(np.ascontiguousarray(terms.y).tobytes())
    h.update("\x1f".join(terms.x_names).encode())
    h.update(np.ascontiguousarray(terms.X).tobytes())
    for g in terms.groups:
        h.update(f"{g.name}|{','.join(g.coefs)}|{g.correlated}".encode())
        h.update("\x1f".join(g.levels).encode())
        h.update(np.ascontiguousarray(g.index).tobytes())
        h.update(np.ascontiguousarray(g.Z).tobytes())
    if terms.trials is not None:
        h.update(np.ascontiguousarray(terms.trials).tobytes())
    return h.hexdigest()
