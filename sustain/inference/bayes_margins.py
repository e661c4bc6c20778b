"""Marginal effects of Bayesian fits: the posterior distribution of the same quantities.

For every posterior draw :math:`s` the average marginal effect is computed exactly as for a
frequentist fit (:mod:`sustain.inference.margins`), with the draw's coefficients and group
effects in the linear predictor; the draws of the effect give its posterior mean, standard
deviation and equal-tailed interval. Group effects enter as the user chooses:

* ``"fitted"``: each row's own fitted groups (its district's and agency's effects);
* ``"new"``: one new group per draw, drawn from the fitted population distribution
  (:math:`u_s \\sim N(0, \\Sigma_s)`, the same for every row: the effect for an agency of a
  district not in the data, with that uncertainty);
* ``"none"``: population-level terms only (the effect in a group whose effect is zero).

The result keeps no data, so the data the model was fitted on are passed again and checked
against the fit's hash of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sustain._typing import FloatArray
from sustain.errors import SpecError
from sustain.formula import design, design_for, parse_formula, variables, with_index_columns
from sustain.inference.contrasts import (
    Contrast,
    at_grid,
    build_contrasts,
    inverse_link,
    typical_row,
)
from sustain.inference.design import ModelFrame, is_categorical, model_frame
from sustain.inference.margins import (
    MARGINS_COLUMNS,
    check_at,
    check_variables,
    finish_table,
    group_rows,
)

#: Cells (draws x rows) of the linear predictors held in memory at once.
CHUNK_CELLS = 4_000_000
#: Response scale of each family's link: mean of the response per trial.
FAMILY_LINKS = {"gaussian": "identity", "student_t": "identity", "poisson": "log"}


@dataclass(frozen=True, eq=False)
class PosteriorModel:
    """A Bayesian fit with its data rebuilt: frame, group factors and draws.

    Attributes
    ----------
    frame : ModelFrame
        The formula's variables on the fitted rows.
    factors : tuple
        ``(GroupFactor, GroupTerm)`` of each grouping factor.
    beta : ndarray, shape (S, k)
        Draws of the population-level coefficients.
    effects : mapping
        ``r(coef|factor)`` draws, shape (S, levels).
    posterior : object
        The posterior Dataset (standard deviations and correlations for new groups).
    link : str
    """

    frame: ModelFrame
    factors: tuple[Any, ...]
    beta: FloatArray
    effects: Mapping[str, FloatArray]
    posterior: Any
    link: str


def posterior_model(result: Any, data: pd.DataFrame) -> PosteriorModel:
    """Rebuild the fitted model's arrays from ``data`` and check they are the fitted ones.

    Raises
    ------
    SpecError
        When ``data`` do not give exactly the data the model was fitted on.
    """
    from sustain.models.bayes.terms import build_terms, data_hash

    frame = with_index_columns(data).reset_index(drop=True)
    terms = build_terms(frame, result.formula, result.trials)
    if data_hash(terms) != result.data_hash:
        raise SpecError(
            "margins: data= differ from the data the Bayesian model was fitted on (rows, "
            "values or order); pass the same frame given to fit_bayes"
        )
    rows = frame.loc[terms.rows].reset_index(drop=True)
    names = [n.replace("÷", "/") for n in terms.x_names]
    parsed = parse_formula(result.formula)
    varying = {v for t in parsed.group_terms for v in variables(t.expr)}
    mf = model_frame(rows, result.formula, names, spec=terms.spec, extra=sorted(varying))
    term_of = {g: t for t in parsed.group_terms for g in t.groups}
    post = result.idata["posterior"].to_dataset()
    beta = np.column_stack([_flat(post[n]) for n in terms.x_names])
    effects = {
        g.effect_name(c): _flat(post[g.effect_name(c)]) for g in terms.groups for c in g.coefs
    }
    link = FAMILY_LINKS.get(result.family, result.link)
    factors = tuple(
        (g, term_of[g.name], _varying_spec(rows, term_of[g.name])) for g in terms.groups
    )
    return PosteriorModel(mf, factors, beta, effects, post, link)


def _flat(values: Any) -> FloatArray:
    """Draws with chains and draws merged: shape (S,) or (S, levels)."""
    array = np.asarray(values, dtype=np.float64)
    return array.reshape(array.shape[0] * array.shape[1], *array.shape[2:])


def _varying_spec(rows: pd.DataFrame, term: Any) -> Any:
    """formulaic spec of a group term's varying part (``None`` for an intercept only)."""
    slopes = " + ".join(term.slopes)
    if not slopes:
        return None
    rhs = f"1 + {slopes}" if term.has_intercept else f"0 + {slopes}"
    return design(rows, rhs).spec


def bayes_margins(
    result: Any,
    data: pd.DataFrame,
    variables_: Sequence[str] | str | None,
    at: Mapping[str, Any] | None,
    kind: str,
    by: str | None,
    alpha: float,
    groups: str,
    random_seed: int | None,
) -> pd.DataFrame:
    """Posterior margins of a Bayesian fit (see :func:`sustain.margins`)."""
    model = posterior_model(result, data)
    names = check_variables(model.frame, variables_)
    seed = int(result.random_seed) if random_seed is None else int(random_seed)
    new = new_group_effects(model, np.random.default_rng(seed)) if groups == "new" else None
    rows = model.frame.frame()
    out = []
    for values in at_grid(check_at(model.frame, at)):
        for label, index in group_rows(model.frame, by):
            subset = rows.iloc[index].reset_index(drop=True).assign(**values)
            level_rows: np.ndarray | None = index
            if kind == "at_means":
                flags = {n: is_categorical(model.frame, n) for n in subset.columns}
                subset = typical_row(subset, flags).assign(**values)
                level_rows = None  # a typical row belongs to no fitted group
            contrasts = build_contrasts(model.frame, subset, names, model.frame.design)
            mode = "none" if (groups == "fitted" and level_rows is None) else groups
            table = _summaries(model, contrasts, subset, level_rows, mode, new, alpha)
            for name, value in values.items():
                table.insert(0, name, value)
            if by is not None:
                table.insert(0, by, label)
            out.append(table)
    return finish_table(pd.concat(out, ignore_index=True), by, at)


def _summaries(
    model: PosteriorModel,
    contrasts: Sequence[Contrast],
    rows: pd.DataFrame,
    level_rows: np.ndarray | None,
    mode: str,
    new: Mapping[str, FloatArray] | None,
    alpha: float,
) -> pd.DataFrame:
    records = []
    for c in contrasts:
        draws = effect_draws(model, c, rows, level_rows, mode, new)
        low, high = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
        records.append(
            (c.term, c.contrast, float(draws.mean()), float(draws.std(ddof=1)), low, high)
        )
    table = pd.DataFrame(records, columns=["term", "contrast", "estimate", "se", "lower", "upper"])
    table["statistic"] = np.nan
    table["p_value"] = np.nan
    return table[MARGINS_COLUMNS]


def effect_draws(
    model: PosteriorModel,
    contrast: Contrast,
    rows: pd.DataFrame,
    level_rows: np.ndarray | None,
    mode: str,
    new: Mapping[str, FloatArray] | None,
) -> FloatArray:
    """Posterior draws (S,) of the contrast's average effect over ``rows``."""
    n_draws = model.beta.shape[0]
    group_hi = _group_designs(model, contrast, rows, high=True)
    group_lo = _group_designs(model, contrast, rows, high=False)
    step = max(1, CHUNK_CELLS // max(len(rows), 1))
    out = np.empty(n_draws)
    for start in range(0, n_draws, step):
        draws = slice(start, min(start + step, n_draws))
        eta_hi = model.beta[draws] @ contrast.high.T
        eta_lo = model.beta[draws] @ contrast.low.T
        if mode != "none":
            eta_hi += _group_part(model, group_hi, draws, level_rows, mode, new)
            eta_lo += _group_part(model, group_lo, draws, level_rows, mode, new)
        effect = inverse_link(eta_hi, model.link) - inverse_link(eta_lo, model.link)
        out[draws] = effect.mean(axis=1) / contrast.divisor
    return out


def _group_designs(
    model: PosteriorModel, contrast: Contrast, rows: pd.DataFrame, high: bool
) -> list[FloatArray]:
    """Each factor's varying design ``Z`` of the contrast's changed rows."""
    out = []
    for factor, term, spec in model.factors:
        if spec is None:
            out.append(np.ones((len(rows), 1)))
            continue
        changed = rows
        if contrast.variable in variables(term.expr):
            changed = _changed_rows(model.frame, contrast, rows, high)
        Z = design_for(spec, changed)
        Z.columns = ["1" if c == "Intercept" else str(c) for c in Z.columns]
        out.append(Z[list(factor.coefs)].to_numpy(dtype=np.float64))
    return out


def _changed_rows(
    frame: ModelFrame, contrast: Contrast, rows: pd.DataFrame, high: bool
) -> pd.DataFrame:
    """The rows with the contrast's variable as in its high or low design."""
    name = contrast.variable
    if contrast.contrast == "dY/dX":
        step = contrast.divisor / 2
        base = pd.to_numeric(rows[name]).to_numpy(dtype=np.float64)
        return rows.assign(**{name: base + step if high else base - step})
    if contrast.contrast == "1 - 0":
        return rows.assign(**{name: np.full(len(rows), 1 if high else 0)})
    level, reference = contrast.contrast.split(" - ", 1)
    value = _level(frame, name, level if high else reference)
    return rows.assign(**{name: np.full(len(rows), value, dtype=object)})


def _level(frame: ModelFrame, name: str, text: str) -> Any:
    for value in pd.unique(frame.columns[name]):
        if str(value) == text:
            return value
    return text


def _group_part(
    model: PosteriorModel,
    designs: Sequence[FloatArray],
    draws: slice,
    level_rows: np.ndarray | None,
    mode: str,
    new: Mapping[str, FloatArray] | None,
) -> FloatArray:
    """Group effects' contribution to the linear predictor, shape (draws, rows)."""
    total: Any = 0.0
    for (factor, _, _), Z in zip(model.factors, designs, strict=True):
        for j, coef in enumerate(factor.coefs):
            name = factor.effect_name(coef)
            if mode == "new":
                assert new is not None
                total = total + new[name][draws, None] * Z[None, :, j]
            else:
                assert level_rows is not None
                levels = factor.index[level_rows]
                total = total + model.effects[name][draws][:, levels] * Z[None, :, j]
    return np.asarray(total, dtype=np.float64)


def new_group_effects(model: PosteriorModel, rng: np.random.Generator) -> dict[str, FloatArray]:
    """One new group per draw and factor: ``u_s ~ N(0, D_s R_s D_s)``, shape (S,) each.

    ``D_s`` holds the draw's standard deviations ``sd(coef|factor)`` and ``R_s`` its
    correlations (identity for a single or uncorrelated coefficients).

    Examples
    --------
    >>> import sustain  # doctest: +SKIP
    >>> bm = sustain.fit_bayes(df, "y ~ x + (1 | g)", random_seed=1)  # doctest: +SKIP
    >>> new_group_effects(posterior_model(bm, df), np.random.default_rng(0))  # doctest: +SKIP
    """
    post = model.posterior
    out: dict[str, FloatArray] = {}
    n_draws = model.beta.shape[0]
    for factor, _, _ in model.factors:
        sds = np.column_stack([_flat(post[factor.sd_name(c)]) for c in factor.coefs])
        z = rng.standard_normal((n_draws, factor.k))
        if factor.k > 1 and factor.correlated:
            corr = np.broadcast_to(np.eye(factor.k), (n_draws, factor.k, factor.k)).copy()
            for a in range(factor.k):
                for b in range(a + 1, factor.k):
                    r = _flat(post[factor.cor_name(factor.coefs[a], factor.coefs[b])])
                    corr[:, a, b] = corr[:, b, a] = r
            z = np.einsum("sij,sj->si", np.linalg.cholesky(corr), z)
        for j, coef in enumerate(factor.coefs):
            out[factor.effect_name(coef)] = z[:, j] * sds[:, j]
    return out
