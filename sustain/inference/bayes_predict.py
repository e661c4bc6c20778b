"""Posterior draws of the expected response of new rows under a Bayesian fit.

Population-level terms come from the fit's formula spec (rebuilt from the fitted data, see
:func:`sustain.inference.bayes_margins.posterior_model`). Group effects: with
``groups="fitted"`` a row whose group was in the data gets that group's effect draws and a row
of an unseen group a new draw from the population distribution (as brms'
``allow_new_levels``); ``"new"`` gives every row one new group per draw; ``"none"`` leaves
group effects out.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sustain._typing import FloatArray
from sustain.errors import SpecError
from sustain.formula import design_for
from sustain.inference.bayes_margins import new_group_effects, posterior_model
from sustain.inference.contrasts import inverse_link


def posterior_predictions(
    result: Any,
    newdata: pd.DataFrame,
    data: pd.DataFrame,
    groups: str,
    random_seed: int | None,
) -> FloatArray:
    """Draws (S, rows) of the expected response (probability per trial, mean count, mean).

    Examples
    --------
    >>> import sustain  # doctest: +SKIP
    >>> bm = sustain.fit_bayes(df, "exit ~ hhi + (1 | district)", family="bernoulli")  # doctest: +SKIP
    >>> posterior_predictions(bm, df.head(3), df, "fitted", None).shape  # doctest: +SKIP
    (4000, 3)
    """
    from sustain.inference.predict import newdata_design

    model = posterior_model(result, data)
    X = newdata_design(model.frame, newdata)
    eta = model.beta @ X.T
    if groups != "none":
        seed = int(result.random_seed) if random_seed is None else int(random_seed)
        new = new_group_effects(model, np.random.default_rng(seed))
        rows = newdata.reset_index(drop=True)
        for factor, _, spec in model.factors:
            Z = _varying(rows, factor, spec)
            levels = _levels(rows, factor) if groups == "fitted" else np.full(len(rows), -1)
            for j, coef in enumerate(factor.coefs):
                name = factor.effect_name(coef)
                fitted = model.effects[name][:, np.maximum(levels, 0)]
                effect = np.where(levels[None, :] >= 0, fitted, new[name][:, None])
                eta += effect * Z[None, :, j]
    return np.asarray(inverse_link(eta, model.link), dtype=np.float64)


def _varying(rows: pd.DataFrame, factor: Any, spec: Any) -> FloatArray:
    if spec is None:
        return np.ones((len(rows), 1))
    try:
        Z = design_for(spec, rows)
    except Exception as exc:  # formulaic: missing variables, unseen levels
        raise SpecError(f"predict: cannot encode the varying part of {factor.name}: {exc}") from exc
    Z.columns = ["1" if c == "Intercept" else str(c) for c in Z.columns]
    return np.asarray(Z[list(factor.coefs)].to_numpy(dtype=np.float64))


def _levels(rows: pd.DataFrame, factor: Any) -> np.ndarray:
    """Index of each row's level of a grouping factor (-1: not a fitted level)."""
    parts = factor.name.split(":")
    missing = [p for p in parts if p not in rows.columns]
    if missing:
        raise SpecError(
            f"predict: newdata lacks {', '.join(missing)} (grouping of {factor.name}); use "
            "groups='new' or 'none' to predict without it"
        )
    labels = rows[parts[0]].astype(str)
    for part in parts[1:]:
        labels = labels + ":" + rows[part].astype(str)
    index = pd.Index(factor.levels).get_indexer(labels)
    return np.asarray(index, dtype=np.int64)


def population_predictions(result: Any, newdata: pd.DataFrame, data: pd.DataFrame) -> FloatArray:
    """Draws (S, rows) of the expected response from the population-level terms only.

    For posteriors that do not carry their fit's record (a ``BayesianResults`` built from
    draws): the formula's design is encoded as on ``data``; the link is ``info.link``.

    Examples
    --------
    >>> import arviz as az
    >>> from sustain.results import BayesianResults, ModelInfo
    >>> post = {"Intercept": np.ones((1, 3)), "x": np.full((1, 3), 2.0)}
    >>> info = ModelInfo("Bayes", "bayes", "y", "y ~ x", 2)
    >>> bm = BayesianResults(az.from_dict({"posterior": post}), tuple(post), info)
    >>> population_predictions(bm, pd.DataFrame({"x": [1.0]}),
    ...                        pd.DataFrame({"y": [0.0, 1], "x": [0.0, 1]})).ravel().tolist()
    [3.0, 3.0, 3.0]
    """
    from sustain.formula import design, parse_formula, with_index_columns
    from sustain.inference.design import model_frame
    from sustain.inference.predict import newdata_design

    parsed = parse_formula(result.info.formula)
    built = design(with_index_columns(data), parsed.fixed_formula)
    posterior = result.idata["posterior"]
    names = [str(c) for c in built.X.columns if str(c).replace("/", "÷") in posterior]
    frame = model_frame(with_index_columns(data), result.info.formula, names, spec=built.spec)
    X = newdata_design(frame, newdata)
    draws = np.column_stack([result.draws(n.replace("/", "÷")) for n in names])
    return np.asarray(inverse_link(draws @ X.T, result.info.link or "identity"), dtype=np.float64)
