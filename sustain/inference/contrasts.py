"""Counterfactual designs behind marginal effects: derivatives and discrete changes.

A marginal effect of a variable compares predictions at two designs of the same rows: the
variable nudged up and down by a small step (a continuous variable: central difference
:math:`[\\mu(\\eta(x + h)) - \\mu(\\eta(x - h))] / 2h`), or set to 1 and to 0 (a dummy), or
to a level and to the reference level (a categorical variable). The designs are built by
re-evaluating the fit's own formula spec on the changed values (:mod:`sustain.inference.design`),
so transforms (``np.log(hhi)``), polynomials, splines and interactions move as they should,
while columns outside the formula (a hazard's duration terms) keep each row's own values.

The link functions and their derivatives live here too; the numbers of the frequentist and
the Bayesian margins are computed from these pieces.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sustain._typing import FloatArray
from sustain.errors import SpecError
from sustain.formula import parse_formula, variables
from sustain.inference.design import ModelFrame, is_binary, is_categorical, levels_of

#: Step of the central difference, as a share of the variable's standard deviation. The
#: truncation error is of order step**2 (1e-8 relative) and the rounding error of order
#: 1e-16 / step (1e-12): both far below any standard error.
DERIVATIVE_STEP = 1e-4


@dataclass(frozen=True, slots=True)
class Contrast:
    """Two designs of the same rows whose predictions are compared.

    Attributes
    ----------
    term : str
        The variable (``"hhi"``) or, for a level of a categorical variable, ``var[T.level]``
        (the row label tables use).
    variable : str
        The variable changed.
    contrast : str
        ``"dY/dX"`` (derivative), ``"1 - 0"`` (dummy) or ``"level - reference"``.
    high, low : ndarray, shape (n, k)
        The designs (columns in the order of the coefficients).
    divisor : float
        ``2h`` for a derivative, 1 for a discrete change.
    """

    term: str
    variable: str
    contrast: str
    high: FloatArray
    low: FloatArray
    divisor: float


def inverse_link(eta: FloatArray, link: str) -> FloatArray:
    """Mean of the response given the linear predictor.

    Examples
    --------
    >>> inverse_link(np.array([0.0]), "cloglog").round(4).tolist()
    [0.6321]
    """
    if link == "identity":
        return eta
    if link == "logit":
        return np.asarray(0.5 * (1.0 + np.tanh(0.5 * eta)))  # overflow-free logistic
    if link == "cloglog":
        return np.asarray(-np.expm1(-np.exp(eta)))
    if link == "log":
        return np.asarray(np.exp(eta))
    raise SpecError(f"margins: unknown link {link!r}")


def inverse_link_derivative(eta: FloatArray, link: str) -> FloatArray:
    """:math:`d\\mu / d\\eta`.

    Examples
    --------
    >>> inverse_link_derivative(np.array([0.0]), "logit").tolist()
    [0.25]
    """
    if link == "identity":
        return np.ones_like(eta)
    if link == "logit":
        p = inverse_link(eta, "logit")
        return np.asarray(p * (1.0 - p))
    if link == "cloglog":
        return np.asarray(np.exp(eta - np.exp(eta)))
    if link == "log":
        return np.asarray(np.exp(eta))
    raise SpecError(f"margins: unknown link {link!r}")


def formula_variables(frame: ModelFrame) -> list[str]:
    """Variables of the formula's right-hand side that the frame holds, in formula order.

    Examples
    --------
    >>> from sustain.inference.design import model_frame
    >>> df = pd.DataFrame({"y": [1.0, 2, 4], "x": [0.0, 1, 2], "z": [1.0, 0, 1]})
    >>> formula_variables(model_frame(df, "y ~ np.log1p(x) + z", ("Intercept",)))
    ['x', 'z']
    """
    rhs = parse_formula(frame.formula, require_lhs=False).fixed
    found = variables(rhs)
    order = [v for v in _appearance(rhs) if v in found and v in frame.columns]
    return order + sorted(v for v in found if v in frame.columns and v not in order)


def _appearance(text: str) -> list[str]:
    import re

    return list(dict.fromkeys(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text)))


def build_contrasts(
    frame: ModelFrame,
    rows: pd.DataFrame,
    names: Sequence[str],
    design: Any,
) -> list[Contrast]:
    """The contrasts of each variable in ``names`` on the rows ``rows``.

    ``design(frame_of_rows) -> (n, k)`` builds the full design of changed rows.
    """
    out: list[Contrast] = []
    for name in names:
        values = frame.columns[name]
        if is_categorical(frame, name):
            levels = levels_of(frame, name)
            low = design(rows.assign(**{name: _repeat(levels[0], rows)}))
            for level in levels[1:]:
                high = design(rows.assign(**{name: _repeat(level, rows)}))
                term = f"{name}[T.{level}]"
                out.append(Contrast(term, name, f"{level} - {levels[0]}", high, low, 1.0))
        elif is_binary(values):
            high = design(rows.assign(**{name: _repeat(1, rows, values.dtype)}))
            low = design(rows.assign(**{name: _repeat(0, rows, values.dtype)}))
            out.append(Contrast(name, name, "1 - 0", high, low, 1.0))
        else:
            step = DERIVATIVE_STEP * _scale(values)
            base = pd.to_numeric(rows[name]).to_numpy(dtype=np.float64)
            high = design(rows.assign(**{name: base + step}))
            low = design(rows.assign(**{name: base - step}))
            out.append(Contrast(name, name, "dY/dX", high, low, 2 * step))
    return out


def _repeat(value: Any, rows: pd.DataFrame, dtype: Any = None) -> np.ndarray:
    return np.full(len(rows), value, dtype=dtype if dtype is not None else object)


def _scale(values: np.ndarray) -> float:
    sd = float(np.std(np.asarray(values, dtype=np.float64)))
    return sd if np.isfinite(sd) and sd > 0 else 1.0


def typical_row(frame: pd.DataFrame, categorical: Mapping[str, bool]) -> pd.DataFrame:
    """One row: numeric variables at their means, categorical ones at their most common value.

    Examples
    --------
    >>> row = typical_row(pd.DataFrame({"x": [1.0, 3.0], "g": ["b", "a"]}), {"g": True})
    >>> row.to_dict("records")
    [{'x': 2.0, 'g': 'a'}]
    """
    row = {}
    for name in frame.columns:
        column = frame[name]
        if categorical.get(name, False):
            row[name] = [column.mode(dropna=True).sort_values().iloc[0]]
        else:
            row[name] = [float(pd.to_numeric(column).mean())]
    return pd.DataFrame(row)


def at_grid(at: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Every combination of the values in ``at`` (scalars or lists), as dicts.

    Examples
    --------
    >>> at_grid({"gov_share": [0.2, 0.8], "tier": "district"})
    [{'gov_share': 0.2, 'tier': 'district'}, {'gov_share': 0.8, 'tier': 'district'}]
    >>> at_grid(None)
    [{}]
    """
    if not at:
        return [{}]
    import itertools

    keys = list(at)
    lists = [v if isinstance(v, list | tuple | np.ndarray) else [v] for v in at.values()]
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*lists)]
