"""``margins``: average marginal effects and effects at the means, with intervals.

A hazard coefficient of 0.93 on HHI means little to a policy reader; "a 0.1 higher HHI raises
the annual exit probability by 0.4 percentage points" does. For each variable the effect on
the expected response (the exit probability of a hazard model, the response of a linear model)
is a derivative (continuous variables) or a discrete change (dummies, and each level of a
categorical variable against its reference level), computed for every fitted row and averaged
(*average marginal effect*, AME), or computed at one typical row (*at means*).

Frequentist standard errors come from the delta method with the fit's own covariance
(clustered when the fit was): with :math:`\\widehat{AME} = n^{-1}\\sum_i m_i(\\hat\\beta)`,
:math:`\\operatorname{se} = \\sqrt{J V J'}`, :math:`J = n^{-1}\\sum_i \\partial m_i/\\partial
\\beta'`, which is analytic here: :math:`\\partial m_i / \\partial\\beta = [\\mu'(\\eta_i^{hi})
x_i^{hi} - \\mu'(\\eta_i^{lo}) x_i^{lo}] / \\text{divisor}`. Bayesian results get the posterior
distribution of the same quantities (:mod:`sustain.inference.bayes_margins`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import numpy as np
import pandas as pd
from scipy import stats

from sustain._typing import FloatArray
from sustain.errors import SpecError
from sustain.inference.contrasts import (
    Contrast,
    at_grid,
    build_contrasts,
    formula_variables,
    inverse_link,
    inverse_link_derivative,
    typical_row,
)
from sustain.inference.design import ModelFrame, is_categorical
from sustain.options import check_choice

MarginsKind: TypeAlias = Literal["average", "at_means"]
GroupEffects: TypeAlias = Literal["fitted", "new", "none"]

#: Columns of every margins table (``by`` and ``at`` columns come first when asked for).
MARGINS_COLUMNS = ["term", "contrast", "estimate", "se", "statistic", "p_value", "lower", "upper"]


@dataclass(frozen=True, eq=False)
class LinkedModel:
    """A frequentist fit as margins see it: design builder, coefficients, covariance, link.

    Attributes
    ----------
    frame : ModelFrame
        The formula's variables on the fitted rows.
    params : ndarray, shape (k,)
    cov : ndarray, shape (k, k)
    link : str
        ``identity``, ``logit`` or ``cloglog``.
    fixed : ndarray, shape (n, m)
        Design columns outside the formula (a hazard's duration terms), kept at each row's
        own values; they follow the formula's columns in the coefficient order.
    df_resid : float or None
        Degrees of freedom of t-based intervals (``None``: normal).
    """

    frame: ModelFrame
    params: FloatArray
    cov: FloatArray
    link: str
    fixed: FloatArray
    df_resid: float | None = None

    def design_of(self, rows: np.ndarray) -> Callable[[pd.DataFrame], FloatArray]:
        """Design builder of changed copies of the fitted rows ``rows`` (indices)."""
        fixed = self.fixed[rows]
        return lambda changed: np.column_stack([self.frame.design(changed), fixed])


def linked_model(result: Any, data: pd.DataFrame | None = None) -> LinkedModel:
    """The :class:`LinkedModel` of a ``fit_fe`` or ``fit_hazard`` result.

    A result that keeps no model frame (loaded from a file, built by hand) gets one rebuilt
    from ``data``, the data it was fitted on (:mod:`sustain.inference.frames`).

    Raises
    ------
    SpecError
        For other results, or a result without a frame and no ``data``.
    """
    if getattr(result.info, "estimator", "") == "cox":
        raise SpecError(
            "margins: a Cox fit has no probability scale without a time; use "
            "sustain.predict(fit, profiles, times=[...]) for survival at given ages"
        )
    if result.inference != "frequentist":
        raise SpecError(f"margins: a {type(result).__name__} has no frequentist margins")
    pieces: Any = getattr(result, "pieces", None)
    frame = getattr(pieces, "frame", None)
    hazard = result.info.estimator == "hazard"
    if frame is not None:
        fixed = pieces.X[:, len(frame.names) :] if hazard else np.zeros((frame.nobs, 0))
    elif data is not None:
        from sustain.inference.frames import frame_from_data

        frame, fixed = frame_from_data(result, data)
    else:
        raise SpecError(
            "this result keeps no model frame (loaded from a file?): pass data=, the data it "
            "was fitted on"
        )
    names = [str(n) for n in result.params.index]
    if list(frame.names) != names[: len(frame.names)]:
        raise SpecError("margins: the fit's coefficients do not follow its formula's columns")
    return LinkedModel(
        frame=frame,
        params=result.params.to_numpy(dtype=np.float64),
        cov=result.cov.loc[names, names].to_numpy(dtype=np.float64),
        link=str(result.info.link) if hazard else "identity",
        fixed=np.asarray(fixed, dtype=np.float64),
        df_resid=result.df_resid,
    )


def margins(
    result: Any,
    variables: Sequence[str] | str | None = None,
    at: Mapping[str, Any] | None = None,
    kind: MarginsKind = "average",
    by: str | None = None,
    *,
    alpha: float = 0.05,
    data: pd.DataFrame | None = None,
    groups: GroupEffects = "fitted",
    random_seed: int | None = None,
) -> pd.DataFrame:
    """Marginal effects on the probability or response scale, with intervals.

    Parameters
    ----------
    result : result
        A :func:`sustain.fit_hazard` fit (effects on the annual exit probability; duration
        dependence kept at each row's own age), a :func:`sustain.fit_fe` fit (effects on the
        response; any estimator) or a :func:`sustain.fit_bayes` fit of family gaussian,
        student_t, bernoulli, binomial (probability scale) or poisson (mean count).
    variables : str or sequence of str, optional
        Variables of the formula (default: all of its right-hand side, the duration excepted).
    at : mapping, optional
        Values to set variables to before computing, ``{"gov_share": [0.2, 0.8]}``: one set
        of effects per combination (counterfactual averages).
    kind : {"average", "at_means"}
        Average over the fitted rows (AME) or one typical row: numeric variables at their
        means, categorical ones at their most common value, hazard duration terms at their
        means.
    by : str, optional
        A grouping of the fitted rows (``"main_tier"``, ``"district"``; any formula variable
        or non-float column of the fitted data): the effects within each group.
    alpha : float
        Intervals have level ``1 - alpha``.
    data : DataFrame, optional
        The data the model was fitted on: required for Bayesian results (checked against the
        fit) and for results loaded from a file (which keep no model frame).
    groups : {"fitted", "new", "none"}
        Bayesian results only: group effects of each row's fitted groups, of one new group
        drawn from the fitted population distribution, or left out.
    random_seed : int, optional
        Bayesian results with ``groups="new"``: seed of the new groups' draws.

    Returns
    -------
    DataFrame
        One row per effect: ``term`` (the variable, or ``var[T.level]`` for a level of a
        categorical variable), ``contrast`` (``dY/dX``, ``1 - 0`` or ``level - reference``),
        ``estimate``, ``se`` (delta method, or posterior sd), ``statistic``, ``p_value``
        (frequentist), ``lower``, ``upper``; preceded by the ``by`` and ``at`` columns.

    Raises
    ------
    SpecError
        Unknown variables or options, unsupported results.

    Notes
    -----
    See ``docs/inference.md`` for the equations.

    Examples
    --------
    >>> import sustain
    >>> panel = sustain.build_panel(sustain.datasets.example())
    >>> hz = sustain.fit_hazard(panel, "exit ~ hhi + log_revenue", duration="age")
    >>> me = sustain.margins(hz, variables=["hhi"])
    >>> list(me.columns[:4]), me["contrast"].tolist()
    (['term', 'contrast', 'estimate', 'se'], ['dY/dX'])
    >>> bool(me["lower"].iloc[0] < me["estimate"].iloc[0] < me["upper"].iloc[0])
    True
    """
    check_choice("kind", kind, MarginsKind)
    check_choice("groups", groups, GroupEffects)
    if not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise SpecError(f"alpha={alpha!r} must lie between 0 and 1")
    if getattr(result, "inference", None) == "bayesian":
        from sustain.inference.bayes_margins import bayes_margins

        if data is None:
            raise SpecError("margins of a Bayesian fit need data= (the data it was fitted on)")
        return bayes_margins(result, data, variables, at, kind, by, alpha, groups, random_seed)
    model = linked_model(result, data)
    names = check_variables(model.frame, variables, _duration(result))
    rows = model.frame.frame()
    out = []
    for values in at_grid(check_at(model.frame, at)):
        for label, index in group_rows(model.frame, by):
            estimates = _effects(model, rows, index, names, values, kind, alpha)
            out.append(_label(estimates, by, label, values))
    return finish_table(pd.concat(out, ignore_index=True), by, at)


def _duration(result: Any) -> str | None:
    terms = tuple(getattr(result, "duration_terms", ()))
    return terms[0].split("[")[0] if terms else None


def check_variables(
    frame: ModelFrame, variables: Sequence[str] | str | None, duration: str | None = None
) -> list[str]:
    """The variables to compute effects of (default: the formula's, duration excepted)."""
    available = [v for v in formula_variables(frame) if v != duration]
    if variables is None:
        return available
    names = [variables] if isinstance(variables, str) else list(variables)
    for name in names:
        if duration is not None and name == duration:
            raise SpecError(
                f"margins: {name!r} is the model's duration (its effect is the duration "
                "dependence, shown by predict over ages)"
            )
        if name not in available:
            raise SpecError(
                f"margins: {name!r} is not a variable of the formula (variables: "
                f"{', '.join(available)})"
            )
    return names


def check_at(frame: ModelFrame, at: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """Refuse ``at`` keys that are not variables the fit keeps."""
    for name in at or {}:
        if name not in frame.columns:
            raise SpecError(f"margins: at= names {name!r}, not a variable of the formula")
    return at


def group_rows(frame: ModelFrame, by: str | None) -> list[tuple[Any, np.ndarray]]:
    """``(label, row indices)`` of each group of ``by`` (one group of all rows without it)."""
    everything = np.arange(frame.nobs)
    if by is None:
        return [(None, everything)]
    if by in frame.groups:
        grouping = frame.groups[by]
        codes = np.asarray(grouping.codes)
        return [(label, np.flatnonzero(codes == i)) for i, label in enumerate(grouping.labels)]
    if by in frame.columns:
        values = pd.Series(frame.columns[by])
        return [(label, np.flatnonzero(values == label)) for label in sorted(values.unique())]
    raise SpecError(
        f"margins: by={by!r} is not a grouping of the fitted rows (groupings: "
        f"{', '.join(sorted(frame.groups))})"
    )


def _effects(
    model: LinkedModel,
    rows: pd.DataFrame,
    index: np.ndarray,
    names: Sequence[str],
    values: Mapping[str, Any],
    kind: str,
    alpha: float,
) -> pd.DataFrame:
    """Effects of ``names`` averaged over the rows ``index`` (or at their typical row)."""
    subset = rows.iloc[index].reset_index(drop=True).assign(**values)
    design = model.design_of(index)
    if kind == "at_means":
        flags = {n: is_categorical(model.frame, n) for n in subset.columns}
        subset = typical_row(subset, flags).assign(**values)
        means = model.fixed[index].mean(axis=0)
        design = lambda changed: np.column_stack(  # noqa: E731
            [model.frame.design(changed), np.tile(means, (len(changed), 1))]
        )
    contrasts = build_contrasts(model.frame, subset, names, design)
    return delta_table(contrasts, model, alpha)


def delta_table(
    contrasts: Sequence[Contrast], model: LinkedModel, alpha: float = 0.05
) -> pd.DataFrame:
    """Average effect of each contrast with its delta-method standard error."""
    records = []
    for c in contrasts:
        estimate, gradient = average_effect(c, model.params, model.link)
        se = float(np.sqrt(max(float(gradient @ model.cov @ gradient), 0.0)))
        records.append((c.term, c.contrast, estimate, se))
    table = pd.DataFrame(records, columns=["term", "contrast", "estimate", "se"])
    return wald_columns(table, model.df_resid, alpha)


def average_effect(c: Contrast, beta: FloatArray, link: str) -> tuple[float, FloatArray]:
    """Mean effect over the contrast's rows and its gradient in the coefficients.

    Examples
    --------
    >>> c = Contrast("x", "x", "1 - 0", np.array([[1.0, 1.0]]), np.array([[1.0, 0.0]]), 1.0)
    >>> est, grad = average_effect(c, np.array([0.0, 1.0]), "identity")
    >>> est, grad.tolist()
    (1.0, [0.0, 1.0])
    """
    eta_hi, eta_lo = c.high @ beta, c.low @ beta
    effect = (inverse_link(eta_hi, link) - inverse_link(eta_lo, link)) / c.divisor
    d_hi = inverse_link_derivative(eta_hi, link)
    d_lo = inverse_link_derivative(eta_lo, link)
    gradient = (d_hi @ c.high - d_lo @ c.low) / (len(eta_hi) * c.divisor)
    return float(effect.mean()), np.asarray(gradient, dtype=np.float64)


def wald_columns(table: pd.DataFrame, df_resid: float | None, alpha: float = 0.05) -> pd.DataFrame:
    """Add statistic, p-value and Wald interval (t with ``df_resid``, else normal)."""
    dist = stats.norm if df_resid is None else stats.t(df_resid)
    q = float(dist.ppf(1 - alpha / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = table["estimate"] / table["se"]
    return table.assign(
        statistic=statistic,
        p_value=2 * dist.sf(np.abs(statistic.to_numpy(dtype=np.float64))),
        lower=table["estimate"] - q * table["se"],
        upper=table["estimate"] + q * table["se"],
    )


def _label(table: pd.DataFrame, by: str | None, label: Any, values: Mapping[str, Any]) -> Any:
    out = table.copy()
    for name, value in values.items():
        out.insert(0, name, value)
    if by is not None:
        out.insert(0, by, label)
    return out


def finish_table(table: pd.DataFrame, by: str | None, at: Mapping[str, Any] | None) -> pd.DataFrame:
    """Order the columns: ``by``, ``at`` variables, then :data:`MARGINS_COLUMNS`."""
    lead = ([by] if by is not None else []) + list(at or {})
    return table[[*lead, *MARGINS_COLUMNS]].reset_index(drop=True)
