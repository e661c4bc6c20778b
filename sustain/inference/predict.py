"""``predict``: predicted probabilities, responses and survival, with intervals.

* Discrete-time hazards: the annual exit probability of each row of ``newdata`` at its own
  age (duration terms rebuilt from its duration value; held at their sample means when the
  duration column is absent). The interval is a Wald interval of the linear predictor
  :math:`\\eta = x'\\hat\\beta \\pm z\\sqrt{x'Vx}` mapped through the inverse link, so it
  stays inside (0, 1).
* Linear panel fits: the response :math:`x'\\hat\\beta`; fits without a constant (within,
  first differences), whose effects are absorbed, predict around the mean fitted response:
  :math:`\\bar y + (x - \\bar x)'\\hat\\beta` (an agency-year with average effects).
* Cox fits: without ``times``, the hazard relative to the sample means
  :math:`\\exp((x - \\bar x)'\\hat\\beta)`; with ``times``, survival to each time,
  :math:`S(t \\mid x) = \\exp(-\\hat\\Lambda_0(t) e^{(x - \\bar x)'\\hat\\beta})`, with the
  variance of R's ``survfit.coxph`` (:mod:`sustain.models.survival.baseline`) and its
  ``log`` (default), ``log-log`` or ``plain`` interval.
* Bayesian fits: posterior mean and equal-tailed interval of the expected response, with
  group effects of the fitted groups (an unseen group gets a new draw), of a new group, or
  none.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sustain._typing import FloatArray
from sustain.errors import SpecError
from sustain.formula import with_index_columns
from sustain.inference.contrasts import inverse_link
from sustain.inference.design import ModelFrame
from sustain.inference.margins import GroupEffects, linked_model
from sustain.options import IntervalKind, SurvivalConfType, check_choice


def predict(
    result: Any,
    newdata: pd.DataFrame,
    interval: bool = True,
    *,
    alpha: float = 0.05,
    times: Sequence[float] | None = None,
    conf_type: SurvivalConfType = "log",
    data: pd.DataFrame | None = None,
    groups: GroupEffects = "fitted",
    random_seed: int | None = None,
    credible: IntervalKind = "eti",
) -> pd.DataFrame:
    """Predictions for the rows of ``newdata`` with intervals.

    Parameters
    ----------
    result : result
        A :func:`sustain.fit_hazard`, :func:`sustain.fit_fe`, :func:`sustain.fit_cox` or
        :func:`sustain.fit_bayes` fit.
    newdata : DataFrame
        Covariate profiles: the formula's variables (a hazard's duration column optional; a
        Cox fit's strata columns when it has strata). Index levels count as columns.
    interval : bool
        Add the ``lower`` and ``upper`` columns.
    alpha : float
        Intervals have level ``1 - alpha``.
    times : sequence of float, optional
        Cox fits: times (ages, or years since entry, on the fit's time scale) at which to
        predict survival.
    conf_type : {"log", "log-log", "plain"}
        Cox survival intervals, as R's ``survfit`` (default ``"log"``, as
        ``survfit.coxph``).
    data : DataFrame, optional
        The data the model was fitted on: required for Bayesian fits, and for fits loaded
        from a file (which keep no model frame).
    groups : {"fitted", "new", "none"}
        Bayesian fits only: see :func:`sustain.margins`.
    random_seed : int, optional
        Bayesian fits with new groups: seed of their draws.
    credible : {"eti", "hdi"}
        Bayesian fits: equal-tailed or highest-density intervals.

    Returns
    -------
    DataFrame
        ``estimate``, ``lower``, ``upper`` indexed like ``newdata``; for Cox survival one row
        per profile and time, indexed (``newdata``'s label, ``time``).

    Examples
    --------
    >>> import sustain
    >>> panel = sustain.build_panel(sustain.datasets.example())
    >>> hz = sustain.fit_hazard(panel, "exit ~ hhi + log_revenue", duration="age")
    >>> pr = sustain.predict(hz, panel.dropna(subset=["hhi", "log_revenue"]).head(3))
    >>> list(pr.columns), len(pr)
    (['estimate', 'lower', 'upper'], 3)
    >>> bool(((pr["lower"] <= pr["estimate"]) & (pr["estimate"] <= pr["upper"])).all())
    True
    """
    if not isinstance(newdata, pd.DataFrame):
        raise SpecError(f"predict: newdata must be a DataFrame, not {type(newdata).__name__}")
    if not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise SpecError(f"alpha={alpha!r} must lie between 0 and 1")
    check_choice("groups", groups, GroupEffects)
    check_choice("conf_type", conf_type, SurvivalConfType)
    check_choice("credible", credible, IntervalKind)
    columns = with_index_columns(newdata)
    if getattr(result, "inference", None) == "bayesian":
        if data is None:
            raise SpecError("predict: a Bayesian fit needs data= (the data it was fitted on)")
        out = _bayes(result, columns, data, alpha, groups, random_seed, credible)
    elif getattr(result.info, "estimator", "") == "cox":
        out = _cox(result, columns, alpha, times, conf_type, data)
    else:
        if times is not None:
            raise SpecError("predict: times= is for Cox fits")
        out = _linear(result, columns, alpha, data)
    return out if interval else out[["estimate"]]


def newdata_design(frame: ModelFrame, newdata: pd.DataFrame) -> FloatArray:
    """The formula's design of ``newdata`` with the fit's encoding.

    Raises
    ------
    SpecError
        Naming the variables ``newdata`` lacks.
    """
    missing = [v for v in frame.columns if v not in newdata.columns and v in _needed(frame)]
    if missing:
        raise SpecError(f"predict: newdata lacks {', '.join(missing)}")
    try:
        return frame.design(newdata.reset_index(drop=True))
    except Exception as exc:  # formulaic: unseen levels, wrong types
        raise SpecError(f"predict: cannot encode newdata with the fit's formula: {exc}") from exc


def _needed(frame: ModelFrame) -> set[str]:
    from sustain.inference.contrasts import formula_variables

    return set(formula_variables(frame))


def _linear(
    result: Any, newdata: pd.DataFrame, alpha: float, data: pd.DataFrame | None
) -> pd.DataFrame:
    model = linked_model(result, data)
    X = newdata_design(model.frame, newdata)
    fixed = _fixed_columns(result, model, newdata)
    X = np.column_stack([X, fixed])
    names = [str(n) for n in result.params.index]
    shift = 0.0
    if model.link == "identity" and "Intercept" not in names:
        # effects absorbed: predict around the mean fitted response at the mean design
        means = model.frame.design(model.frame.frame()).mean(axis=0)
        X = X - means
        shift = model.frame.outcome_mean
    eta = X @ model.params
    se = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", X, model.cov, X), 0.0))
    dist = stats.norm if model.df_resid is None else stats.t(model.df_resid)
    q = float(dist.ppf(1 - alpha / 2))
    return pd.DataFrame(
        {
            "estimate": inverse_link(eta, model.link) + shift,
            "lower": inverse_link(eta - q * se, model.link) + shift,
            "upper": inverse_link(eta + q * se, model.link) + shift,
        },
        index=newdata.index,
    )


def _fixed_columns(result: Any, model: Any, newdata: pd.DataFrame) -> FloatArray:
    """Duration terms of a hazard fit for ``newdata`` (sample means without a duration)."""
    n, fixed = len(newdata), model.fixed
    if fixed.shape[1] == 0:
        return np.zeros((n, 0))
    terms = tuple(result.duration_terms)
    duration = terms[0].split("[")[0]
    if duration not in newdata.columns:
        return np.tile(fixed.mean(axis=0), (n, 1))
    from sustain.models.survival.hazard import duration_dummies

    values = pd.Series(
        pd.to_numeric(newdata[duration], errors="coerce").to_numpy(dtype=float), name=duration
    )
    if values.isna().any():
        raise SpecError(f"predict: {duration} must be a number in every row of newdata")
    if result.duration_bands:
        intercept = "Intercept" in result.params.index
        basis = duration_dummies(values, list(result.duration_bands), drop_first=intercept)
    else:
        basis = _spline(model.frame, values, len(terms))
    return np.asarray(basis[list(terms)].to_numpy(dtype=np.float64))


def _spline(frame: ModelFrame, values: pd.Series, df: int) -> pd.DataFrame:
    """The fit's duration spline (knots from the fitted durations) at new durations."""
    from formulaic import model_matrix

    name = str(values.name)
    fitted = pd.DataFrame({"duration": frame.columns[name].astype(float)})
    spec = model_matrix(f"bs(duration, df={int(df)}) - 1", fitted).model_spec
    basis = pd.DataFrame(spec.get_model_matrix(pd.DataFrame({"duration": values.to_numpy()})))
    basis.columns = [f"{name}[bs{i + 1}]" for i in range(basis.shape[1])]
    return basis


def _cox_frame(result: Any, data: pd.DataFrame) -> ModelFrame:
    """The model frame of a Cox result that keeps none, from the data it was fitted on."""
    from sustain.formula import design, parse_formula
    from sustain.inference.design import model_frame

    rhs = parse_formula(result.info.formula, require_lhs=False).fixed
    columns = with_index_columns(data)
    built = design(columns, rhs, intercept=True)
    rows = columns.iloc[columns.index.get_indexer_for(built.rows)]
    names = [str(n) for n in result.params.index]
    return model_frame(rows, rhs, names, spec=built.spec)


def _cox(
    result: Any,
    newdata: pd.DataFrame,
    alpha: float,
    times: Sequence[float] | None,
    conf_type: str,
    data: pd.DataFrame | None = None,
) -> pd.DataFrame:
    from sustain.models.survival.baseline import CoxPieces
    from sustain.models.survival.kaplan_meier import confidence_band

    pieces = result.pieces
    names = [str(n) for n in result.params.index]
    if isinstance(pieces, CoxPieces) and pieces.frame is not None:
        X = newdata_design(pieces.frame, newdata) - pieces.means
    elif times is None and data is not None:  # relative hazards need only the design
        frame = _cox_frame(result, data)
        X = newdata_design(frame, newdata)
        X = X - frame.design(frame.frame()).mean(axis=0)
    else:
        raise SpecError(
            "predict: this Cox result keeps no baseline hazard (loaded from a file?); refit it "
            "for survival (relative hazards need data=)"
        )
    beta = result.params.to_numpy(dtype=np.float64)
    V = result.cov.loc[names, names].to_numpy(dtype=np.float64)
    eta = X @ beta
    z = float(stats.norm.ppf(1 - alpha / 2))
    if times is None:
        se = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", X, V, X), 0.0))
        return pd.DataFrame(
            {"estimate": np.exp(eta), "lower": np.exp(eta - z * se), "upper": np.exp(eta + z * se)},
            index=newdata.index,
        )
    at = np.asarray(list(times), dtype=np.float64)
    if not np.all(np.isfinite(at)) or len(at) == 0:
        raise SpecError(f"predict: times={list(times)!r} must be finite numbers")
    strata = _strata(result, pieces, newdata)
    frames = []
    for i in range(len(newdata)):
        h, v, m = pieces.baseline.cumulative_parts(at, strata[i])
        risk = np.exp(eta[i])
        q = m - np.outer(h, X[i])  # sum over event times of (xbar - x) dLambda
        se = risk * np.sqrt(np.maximum(v + np.einsum("tj,jk,tk->t", q, V, q), 0.0))
        survival = np.exp(-h * risk)
        se_log = np.where(survival > 0, se, np.nan)
        lower, upper = confidence_band(survival, se_log, alpha, conf_type)
        frames.append(
            pd.DataFrame(
                {"row": newdata.index[i], "time": at, "estimate": survival, "lower": lower,
                 "upper": upper}
            )
        )  # fmt: skip
    return pd.concat(frames, ignore_index=True).set_index(["row", "time"])


def _strata(result: Any, pieces: Any, newdata: pd.DataFrame) -> list[int]:
    if not result.strata:
        return [0] * len(newdata)
    missing = [c for c in result.strata if c not in newdata.columns]
    if missing:
        raise SpecError(f"predict: newdata lacks the strata column(s) {', '.join(missing)}")
    out = []
    for key in newdata[list(result.strata)].itertuples(index=False, name=None):
        if tuple(key) not in pieces.strata:
            raise SpecError(f"predict: stratum {key!r} was not in the fitted data")
        out.append(pieces.strata[tuple(key)])
    return out


def _bayes(
    result: Any,
    newdata: pd.DataFrame,
    data: pd.DataFrame,
    alpha: float,
    groups: str,
    random_seed: int | None,
    credible: str,
) -> pd.DataFrame:
    from sustain.inference.bayes_predict import population_predictions, posterior_predictions

    if getattr(result, "data_hash", None):
        draws = posterior_predictions(result, newdata, data, groups, random_seed)
    else:  # a posterior without the fit's record (built from draws): population terms only
        draws = population_predictions(result, newdata, data)
    if credible == "hdi":
        import arviz as az

        bounds = np.array([az.hdi(column, prob=1 - alpha) for column in draws.T])
        lower, upper = bounds[:, 0], bounds[:, 1]
    else:
        lower, upper = np.quantile(draws, [alpha / 2, 1 - alpha / 2], axis=0)
    return pd.DataFrame(
        {"estimate": draws.mean(axis=0), "lower": lower, "upper": upper}, index=newdata.index
    )
