"""What margins and predictions need from a fit: the formula's variables on the fitted rows.

Marginal effects are derivatives and discrete changes of the prediction with respect to a
*variable* (``hhi``), not a design column: with ``np.log(hhi)``, ``I(hhi**2)``, ``C(tier)``
or ``hhi:gov_share`` one variable moves several columns. So a fit keeps a :class:`ModelFrame`:
the values of its formula's variables on the rows it used, plus the formulaic spec that turns
them into design columns with the fit's own encoding (levels, spline knots). Re-evaluating
the spec on changed values gives the changed design. Besides these variables the frame keeps
integer codes of the fit's other groupings (districts, tiers, years: every non-float column),
so that effects can be averaged ``by=`` a group and bootstraps clustered by any of them. It
never holds the user's whole data frame: only arrays of the variables used.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sustain._typing import FloatArray
from sustain.formula import design_for, parse_formula, variables


@dataclass(frozen=True, slots=True)
class Grouping:
    """Integer codes of a grouping variable on the fitted rows and the label of each code.

    Examples
    --------
    >>> g = grouping(["b", "a", "b"])
    >>> g.codes.tolist(), g.labels
    ([1, 0, 1], ('a', 'b'))
    """

    codes: np.ndarray
    labels: tuple[Any, ...]

    @property
    def n_groups(self) -> int:
        """Number of groups."""
        return len(self.labels)


def grouping(values: Any) -> Grouping:
    """Codes (sorted labels) of a grouping variable; ``ValueError`` for missing values.

    Codes are stored in the smallest signed integer type that holds them (a district code
    needs one byte per row, not eight).
    """
    series = values if isinstance(values, pd.Series | pd.Index) else pd.Series(values)
    codes, uniques = pd.factorize(series, sort=True)
    if (codes < 0).any():
        raise ValueError("a grouping variable has missing values")
    dtype = next(
        t for t in (np.int8, np.int16, np.int32, np.int64) if len(uniques) <= np.iinfo(t).max
    )
    return Grouping(np.asarray(codes, dtype=dtype), tuple(uniques.tolist()))


@dataclass(frozen=True, eq=False)
class ModelFrame:
    """The formula's variables on the fitted rows, with the spec that encodes them.

    Attributes
    ----------
    formula : str
        The formula (population-level part).
    columns : mapping of str to ndarray
        Values of each variable of the right-hand side, one per fitted row.
    spec : object
        formulaic model spec of the right-hand side (with an intercept column when the fit
        built one), to encode changed values exactly as the fit did.
    names : tuple of str
        The design columns of the fit's coefficients that the spec produces, in order.
    groups : mapping of str to Grouping
        Codes of the fit's groupings (index levels and non-float columns), for ``by=`` and
        for clustering.
    outcome_mean : float
        Mean response on the fitted rows (the centre of within-fit predictions).

    Examples
    --------
    >>> df = pd.DataFrame({"y": [1.0, 2, 4], "x": [0.0, 1, 2], "g": ["a", "b", "a"]})
    >>> mf = model_frame(df, "y ~ x + C(g)", ("Intercept", "x", "C(g)[T.b]"))
    >>> mf.design(mf.frame()).tolist()
    [[1.0, 0.0, 0.0], [1.0, 1.0, 1.0], [1.0, 2.0, 0.0]]
    """

    formula: str
    columns: Mapping[str, np.ndarray]
    spec: Any
    names: tuple[str, ...]
    groups: Mapping[str, Grouping] = field(default_factory=dict)
    outcome_mean: float = float("nan")

    @property
    def nobs(self) -> int:
        """Number of fitted rows."""
        first = next(iter(self.columns.values()), None)
        return 0 if first is None else len(first)

    def frame(self) -> pd.DataFrame:
        """The variables as a data frame (one row per fitted row)."""
        return pd.DataFrame(dict(self.columns))

    def design(self, frame: pd.DataFrame) -> FloatArray:
        """Design columns ``names`` of ``frame`` (shape ``(len(frame), len(names))``)."""
        X = design_for(self.spec, frame)
        missing = [n for n in self.names if n not in X.columns]
        if missing:
            raise KeyError(f"the design lacks {missing}")
        return np.asarray(X[list(self.names)].to_numpy(dtype=np.float64))


def model_frame(
    frame: pd.DataFrame,
    formula: str,
    names: Iterable[str],
    spec: Any = None,
    outcome: Any = None,
    extra: Iterable[str] = (),
) -> ModelFrame:
    """Collect the :class:`ModelFrame` of a fit from the rows it used.

    Parameters
    ----------
    frame : DataFrame
        The fitted rows (complete cases, in the order of the fit); index levels count as
        columns.
    formula : str
        The fit's formula.
    names : iterable of str
        Design columns of the fit's coefficients produced by the formula (duration terms and
        dropped columns left out).
    spec : object, optional
        The formulaic spec the fit used; built from ``frame`` when not given.
    outcome : array-like, optional
        The response on the fitted rows.
    extra : iterable of str
        Further variables to keep besides the formula's (e.g. a hazard's duration variable,
        whose terms the fit builds itself).
    """
    from sustain.formula import design as build_design
    from sustain.formula import with_index_columns

    data = with_index_columns(frame)
    rhs = parse_formula(formula, require_lhs=False).fixed
    used = sorted((variables(rhs) | set(extra)) & set(map(str, data.columns)))
    if spec is None:
        spec = build_design(data, rhs).spec
    columns = {name: _values(data[name]) for name in used}
    groups = _groups(data)
    mean = float(np.mean(np.asarray(outcome, dtype=np.float64))) if outcome is not None else np.nan
    return ModelFrame(formula, columns, spec, tuple(names), groups, mean)


def _values(column: pd.Series) -> np.ndarray:
    """The column's values as a numpy array (categoricals keep their categories' labels)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return np.asarray(column.astype(object))
    if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column):
        return np.asarray(column.to_numpy())
    return np.asarray(column.to_numpy(dtype=object))


def _groups(data: pd.DataFrame) -> dict[str, Grouping]:
    """Codes of every non-float column without missing values."""
    out: dict[str, Grouping] = {}
    for column in data.columns:
        name = str(column)
        series = data[column]
        if pd.api.types.is_float_dtype(series.dtype):
            continue
        try:
            out[name] = grouping(series)
        except (ValueError, TypeError):
            continue  # missing values (or unorderable labels): not a grouping
    return out


def is_categorical(frame: ModelFrame, name: str) -> bool:
    """Whether a variable is categorical: text, boolean or categorical values, or ``C(name)``.

    Examples
    --------
    >>> df = pd.DataFrame({"y": [1.0, 2, 4], "x": [0.0, 1, 2], "year": [1, 2, 3]})
    >>> mf = model_frame(df, "y ~ x + C(year)", ("Intercept", "x"))
    >>> is_categorical(mf, "x"), is_categorical(mf, "year")
    (False, True)
    """
    values = frame.columns[name]
    if values.dtype == object or values.dtype == bool:
        return True
    pattern = rf"C\(\s*{re.escape(name)}\s*[,)]"
    return re.search(pattern, frame.formula) is not None


def is_binary(values: np.ndarray) -> bool:
    """Whether numeric values are 0/1 with both present (a dummy variable).

    Examples
    --------
    >>> is_binary(np.array([0, 1, 1])), is_binary(np.array([0.0, 0.5, 1.0]))
    (True, False)
    """
    if values.dtype == object:
        return False
    unique = np.unique(values)
    return len(unique) == 2 and bool(np.all(np.isin(unique, (0, 1))))


def levels_of(frame: ModelFrame, name: str) -> list[Any]:
    """Sorted distinct values of a categorical variable (the first is the reference, as in
    formulaic's treatment coding).

    Examples
    --------
    >>> df = pd.DataFrame({"y": [1.0, 2, 4], "g": ["b", "a", "c"]})
    >>> levels_of(model_frame(df, "y ~ g", ("Intercept",)), "g")
    ['a', 'b', 'c']
    """
    return sorted(pd.unique(frame.columns[name]).tolist())
