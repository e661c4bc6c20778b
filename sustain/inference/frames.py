"""Model frames of results that keep none, rebuilt from the data they were fitted on.

A result loaded from a file (or built by hand) has its estimates and covariance but no
:class:`~sustain.inference.design.ModelFrame`. Given the data it was fitted on, the frame is
rebuilt the way the fit built it: the formula's design on the complete rows (formulaic, with
an intercept so that categorical terms get reference coding), the coefficients' columns, and,
for a discrete-time hazard, its duration terms from the stored bands (or a spline with knots
from these data). Predictions and margins then work as for a fresh fit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sustain._typing import FloatArray
from sustain.errors import SpecError
from sustain.formula import design, parse_formula, with_index_columns
from sustain.inference.design import ModelFrame, model_frame


def frame_from_data(result: Any, data: pd.DataFrame) -> tuple[ModelFrame, FloatArray]:
    """The model frame of ``result`` on ``data`` and its columns outside the formula.

    Returns the frame and the duration-term columns of a hazard fit (an ``(n, 0)`` array for
    other fits), in the order of the coefficients.

    Raises
    ------
    SpecError
        When the data lack the formula's variables or give other columns than the fit has.

    Examples
    --------
    >>> from sustain.results import FrequentistResults, ModelInfo
    >>> df = pd.DataFrame({"y": [1.0, 2, 4], "x": [0.0, 1, 2]})
    >>> p = pd.Series({"Intercept": 1.0, "x": 1.5})
    >>> info = ModelInfo("OLS", "pooled", "y", "y ~ x", 3)
    >>> fit = FrequentistResults(p, pd.DataFrame(np.eye(2), p.index, p.index), info)
    >>> frame, fixed = frame_from_data(fit, df)
    >>> frame.names, fixed.shape
    (('Intercept', 'x'), (3, 0))
    """
    parsed = parse_formula(result.info.formula, require_lhs=False)
    columns = with_index_columns(data)
    built = design(columns, parsed.fixed_formula, intercept=True)
    rows = (
        columns.loc[built.rows]
        if columns.index.is_unique
        else columns.iloc[columns.index.get_indexer_for(built.rows)]
    )
    names = [str(n) for n in result.params.index]
    duration = tuple(getattr(result, "duration_terms", ()))
    formula_names = [n for n in names if n not in duration]
    missing = [n for n in formula_names if n not in built.X.columns]
    if missing:
        raise SpecError(f"the data do not give the fit's columns {missing}")
    outcome = built.y.to_numpy() if built.y is not None else None
    extra = (duration[0].split("[")[0],) if duration else ()
    frame = model_frame(
        rows, result.info.formula, formula_names, spec=built.spec, outcome=outcome, extra=extra
    )
    fixed = _duration_columns(result, rows, duration) if duration else np.zeros((len(rows), 0))
    return frame, fixed


def _duration_columns(result: Any, rows: pd.DataFrame, terms: tuple[str, ...]) -> FloatArray:
    from sustain.models.survival.hazard import duration_dummies, duration_spline

    name = terms[0].split("[")[0]
    if name not in rows.columns:
        raise SpecError(f"the data lack the duration column {name!r}")
    values = pd.Series(pd.to_numeric(rows[name], errors="coerce").to_numpy(dtype=float), name=name)
    if result.duration_bands:
        intercept = "Intercept" in result.params.index
        basis = duration_dummies(values, list(result.duration_bands), drop_first=intercept)
    else:
        basis = duration_spline(values, len(terms))
    return np.asarray(basis[list(terms)].to_numpy(dtype=np.float64))
