"""Checks of a spec against the data, run after the panel is built and before any fit.

Every problem found is collected and reported together in one :class:`SpecError`, so a
researcher fixes the spec once rather than once per model. Checked:

* sample filters name existing columns;
* every variable of every formula, and every option that names a column (``cluster``,
  ``effects``, ``strata``, ``by``, ``x``, ``columns``, ...), exists in the data the entry
  works on (the panel after lags and filters; for Cox models the counting-process spells);
* each model can be fitted: its complete-case rows outnumber its coefficients, the response
  varies, a binary response (hazard, Cox, Bernoulli) has events, and the population-level
  design of hazard, Cox and Bayesian models has full column rank (fixed-effects models drop
  collinear regressors themselves and say so); for fixed-effects models the options are
  resolved by :func:`sustain.models.panel.check_fe_options` (estimator, effects,
  covariance and clustering must go together).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sustain._typing import BoolArray
from sustain.errors import DataError, SpecError
from sustain.formula import check_columns, design, parse_formula
from sustain.pipeline.kinds import FIGURE_KINDS, MODEL_KINDS, TABLE_KINDS, Kind
from sustain.pipeline.signatures import suggest
from sustain.pipeline.spec import Entry, Filter, Spec

_BINARY_KINDS = ("hazard", "cox")


def columns_of(frame: pd.DataFrame) -> set[str]:
    """Column names and named index levels of ``frame``.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"x": [1]}, index=pd.Index([2015], name="year"))
    >>> sorted(columns_of(df))
    ['x', 'year']
    """
    return set(map(str, frame.columns)) | {str(n) for n in frame.index.names if n}


def _values(frame: pd.DataFrame, column: str) -> pd.Series:
    if column in frame.columns:
        return frame[column]
    return pd.Series(frame.index.get_level_values(column), index=frame.index, name=column)


def sample_mask(frame: pd.DataFrame, filters: Sequence[Filter]) -> BoolArray:
    """Rows of ``frame`` kept by every filter (a boolean array).

    Comparisons with a missing value are false, so ``x >= 1`` drops rows where ``x`` is
    missing; ``isna``/``notna`` test for missing values.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"year": [2013, 2014, 2015], "tier": ["a", "b", "a"]})
    >>> sample_mask(df, [Filter("year", ">=", 2014), Filter("tier", "in", ["a"])]).tolist()
    [False, False, True]
    """
    mask = np.ones(len(frame), dtype=bool)
    for f in filters:
        values = _values(frame, f.column)
        mask &= _compare(values, f).to_numpy(dtype=bool, na_value=False)
    return mask


def _compare(values: pd.Series, f: Filter) -> pd.Series:
    ops = {
        "==": lambda s: s == f.value,
        "!=": lambda s: (s != f.value) & s.notna(),
        "<": lambda s: s < f.value,
        "<=": lambda s: s <= f.value,
        ">": lambda s: s > f.value,
        ">=": lambda s: s >= f.value,
        "in": lambda s: s.isin(f.value),
        "not in": lambda s: ~s.isin(f.value) & s.notna(),
        "isna": lambda s: s.isna(),
        "notna": lambda s: s.notna(),
    }
    try:
        return ops[f.op](values)
    except TypeError as exc:
        raise SpecError(
            f"sample filter '{f.describe()}' cannot compare column {f.column!r} "
            f"({values.dtype}) with {f.value!r}: {exc}"
        ) from exc


def apply_sample(panel: pd.DataFrame, filters: Sequence[Filter]) -> pd.DataFrame:
    """The panel rows kept by the sample filters; raise :class:`SpecError` if none remain.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"year": [2013, 2014]})
    >>> len(apply_sample(df, [Filter("year", ">", 2013)]))
    1
    """
    check_filter_columns(panel, filters)
    if not filters:
        return panel
    mask = sample_mask(panel, filters)
    if not mask.any():
        described = " and ".join(f.describe() for f in filters)
        raise SpecError(f"no rows of the panel satisfy the sample filters ({described})")
    return panel[mask]


def check_filter_columns(panel: pd.DataFrame, filters: Sequence[Filter]) -> None:
    """Raise :class:`SpecError` naming filters whose column is not in the panel.

    Examples
    --------
    >>> import pandas as pd
    >>> check_filter_columns(pd.DataFrame({"year": [2014]}), [Filter("yaer", ">", 2013)])
    Traceback (most recent call last):
    ...
    sustain.errors.SpecError: sample[0].column = 'yaer' is not a panel column; did you mean 'year'?
    """
    available = columns_of(panel)
    for i, f in enumerate(filters):
        if f.column not in available:
            raise SpecError(
                f"sample[{i}].column = {f.column!r} is not a panel column"
                f"{suggest(f.column, available)}"
            )


def check_spec(spec: Spec, panel: pd.DataFrame, frames: Mapping[str, pd.DataFrame]) -> None:
    """Check every model, table and figure of ``spec`` against the data; raise all problems.

    Parameters
    ----------
    spec : Spec
    panel : DataFrame
        The panel after lags and sample filters.
    frames : mapping
        The data each model is fitted on, by model name.

    Raises
    ------
    SpecError
        Listing every problem found, one per line.

    Examples
    --------
    >>> import pandas as pd
    >>> from sustain.pipeline.spec import parse_spec
    >>> spec = parse_spec({"data": {"builtin": "example"},
    ...                    "models": [{"name": "m", "kind": "fe", "formula": "y ~ z",
    ...                                "estimator": "pooled"}]})
    >>> df = pd.DataFrame({"y": [1.0, 2.0, 4.0], "x": [0.0, 1.0, 3.0]},
    ...                   index=pd.MultiIndex.from_tuples([("a", 1), ("a", 2), ("b", 1)],
    ...                                                   names=["agency_id", "year"]))
    >>> check_spec(spec, df, {"m": df})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    sustain.errors.SpecError: the spec cannot be run on these data (1 problems):
      - models.m.formula: formula 'y ~ z' uses z, not found in the data ...
    """
    problems: list[str] = []
    for entry in spec.models:
        problems += model_problems(entry, frames[entry.name])
    for entry in spec.tables:
        problems += column_problems(entry, TABLE_KINDS[entry.kind], panel, "tables")
        problems += _wild_table_problems(entry, spec)
    for entry in spec.figures:
        problems += column_problems(entry, FIGURE_KINDS[entry.kind], panel, "figures")
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise SpecError(
            f"the spec cannot be run on these data ({len(problems)} problems):\n{lines}"
        )


def _wild_table_problems(entry: Entry, spec: Spec) -> list[str]:
    """A table with ``inference = "wild"`` needs models that ask for a wild bootstrap."""
    if entry.kind != "regression" or entry.options.get("inference") != "wild":
        return []
    asked = {m.name for m in spec.models if m.options.get("wild_bootstrap")}
    if any(m in asked for m in entry.options.get("models", [])):
        return []
    return [
        f'tables.{entry.name}: inference = "wild" needs a model with wild_bootstrap = '
        "{ terms = [...] } among its models"
    ]


def column_problems(entry: Entry, kind: Kind, frame: pd.DataFrame, section: str) -> list[str]:
    """Options of ``entry`` naming columns that ``frame`` lacks.

    Examples
    --------
    >>> import pandas as pd
    >>> e = Entry("t", "describe", {"by": "tierr"})
    >>> column_problems(e, TABLE_KINDS["describe"], pd.DataFrame({"tier": [1]}), "tables")
    ["tables.t.by: column 'tierr' is not in the data; did you mean 'tier'?"]
    """
    available = columns_of(frame)
    out = []
    for key in kind.columns:
        value = entry.options.get(key)
        names = [value] if isinstance(value, str) else list(value or [])
        for name in names:
            if isinstance(name, str) and name not in available:
                out.append(
                    f"{section}.{entry.name}.{key}: column {name!r} is not in the data"
                    f"{suggest(name, available)}"
                )
    return out


def model_problems(entry: Entry, frame: pd.DataFrame) -> list[str]:
    """Everything that stops ``entry`` from being fitted on ``frame`` (empty if nothing).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"exit": [0, 0, 0, 0], "hhi": [0.1, 0.5, 0.2, 0.9]})
    >>> model_problems(Entry("h", "hazard", {"formula": "exit ~ hhi", "duration": None,
    ...                                      "cluster": None}), df)
    ["models.h: the response 'exit' has no events (all 4 complete rows are 0); ..."]
    """
    kind = MODEL_KINDS[entry.kind]
    where = f"models.{entry.name}"
    problems = column_problems(entry, kind, frame, "models")
    for key in kind.formulas:
        formula = entry.options.get(key)
        if formula is None:
            continue
        try:
            check_columns(frame, formula)
        except SpecError as exc:
            problems.append(f"{where}.{key}: {exc}")
            continue
        problems += design_problems(entry, key, formula, frame)
    if entry.kind == "fe" and not problems:
        problems += _fe_option_problems(entry, frame)
    from sustain.pipeline.inference import wild_problems

    return problems + wild_problems(entry, frame)


def design_problems(entry: Entry, key: str, formula: str, frame: pd.DataFrame) -> list[str]:
    """Problems of the population-level design of one formula of a model.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"exit": [0, 1, 0, 0], "x": [1.0, 2.0, 3.0, 4.0]})
    >>> print(design_problems(Entry("h", "hazard", {}), "formula", "exit ~ x + I(2 * x)", df)[0])
    models.h: the columns of 'exit ~ x + I(2 * x)' are collinear (Intercept, x, I(2 * x)); drop one of the collinear terms
    """
    where = f"models.{entry.name}" + (f".{key}" if key != "formula" else "")
    parsed = parse_formula(formula, require_lhs=False)
    try:
        d = design(frame, parsed.fixed_formula, intercept=entry.kind != "cox")
    except SpecError as exc:
        return [f"{where}: {exc}"]
    n, k = d.X.shape
    if n == 0:
        return [
            f"{where}: no row has every variable of {formula!r} (all rows have a missing value)"
        ]
    if n <= k:
        return [f"{where}: {n} complete rows for {k} coefficients; the model cannot be fitted"]
    response = _response(entry, d, frame)
    problems = _response_problems(where, response, _is_binary(entry, key))
    if entry.kind != "fe" and np.linalg.matrix_rank(d.X.to_numpy(dtype=float)) < k:
        problems.append(
            f"{where}: the columns of {formula!r} are collinear "
            f"({', '.join(map(str, d.X.columns))}); drop one of the collinear terms"
        )
    return problems


def _response(entry: Entry, d: Any, frame: pd.DataFrame) -> pd.Series | None:
    if entry.kind == "cox":
        event = str(entry.options.get("event", "event"))
        return _values(frame, event).loc[d.rows] if event in columns_of(frame) else None
    return d.y


def _is_binary(entry: Entry, key: str) -> bool:
    if entry.kind in _BINARY_KINDS or (entry.kind == "joint" and key == "hazard"):
        return True
    return entry.kind == "bayes" and entry.options.get("family") == "bernoulli"


def _response_problems(where: str, y: pd.Series | None, binary: bool) -> list[str]:
    if y is None:
        return []
    values = pd.to_numeric(y, errors="coerce").to_numpy(dtype=float)
    if binary:
        bad = ~np.isin(values, (0.0, 1.0))
        if bad.any():
            return [f"{where}: the response {y.name!r} must be 0/1; found {values[bad][0]!r}"]
        if values.sum() == 0:
            return [
                f"{where}: the response {y.name!r} has no events (all {len(values)} complete rows "
                "are 0); a survival model cannot be fitted"
            ]
    if np.nanstd(values) == 0:
        return [f"{where}: the response {y.name!r} does not vary ({values[0]!r} in every row)"]
    return []


def _fe_option_problems(entry: Entry, frame: pd.DataFrame) -> list[str]:
    from sustain.models.panel import check_fe_options

    o = entry.options
    try:
        check_fe_options(
            frame,
            o["formula"],
            o.get("effects"),
            o.get("estimator", "within"),
            o.get("cov_type"),
            o.get("cluster"),
            o.get("bandwidth"),
        )
    except (SpecError, DataError) as exc:
        return [f"models.{entry.name}: {str(exc).splitlines()[0]}"]
    return []
