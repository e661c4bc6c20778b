"""The linearmodels back end of :func:`sustain.fit_fe` (every estimator and covariance).

The front end (:mod:`sustain.models.panel.fit`) hands over a complete-case response, design matrix and
integer codes of the absorbed effects and clusters; this module builds the linearmodels model,
fits it with Stata's small-sample conventions (``debiased=True``; clustered covariances with
``group_debias=True``, as ``xtreg, fe vce(cluster ...)``) and returns plain numbers.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sustain.errors import FitError, SpecError

# linearmodels' estimator classes by sustain's estimator name
_MODELS = {
    "within": "PanelOLS",
    "random": "RandomEffects",
    "first_difference": "FirstDifferenceOLS",
    "between": "BetweenOLS",
    "pooled": "PooledOLS",
}


@dataclass(frozen=True)
class BackendFit:
    """What a back end returns to the front end.

    Attributes
    ----------
    params : Series
        Coefficients by term.
    cov : DataFrame
        Their covariance.
    nobs : int
        Observations of the estimated regression (entities for ``between``).
    df_resid : float
        Residual degrees of freedom used for t-based inference.
    n_absorbed : int
        Degrees of freedom used by absorbed effects.
    stats : dict
        Estimator-specific statistics (model R², variance components).
    raw : object
        The library result (or the fast path's arrays).
    """

    params: pd.Series
    cov: pd.DataFrame
    nobs: int
    df_resid: float
    n_absorbed: int
    stats: dict[str, float] = field(default_factory=dict)
    raw: Any = None


@dataclass(frozen=True)
class LinearmodelsSpec:
    """Inputs of one linearmodels fit.

    Attributes
    ----------
    estimator : str
        sustain estimator name.
    y : Series
        Response on a (entity, time) MultiIndex.
    X : DataFrame
        Regressors on the same index (with ``Intercept`` if the model has a constant).
    entity_effects, time_effects : bool
        Absorb the index levels (``within`` only).
    other_effects : DataFrame or None
        Integer codes of further absorbed effects.
    cov_type : str
        sustain covariance name.
    clusters : DataFrame or None
        Integer codes of one or two cluster variables.
    bandwidth : float or None
        Driscoll-Kraay bandwidth.
    weights : Series or None
        Observation weights.
    """

    estimator: str
    y: pd.Series
    X: pd.DataFrame
    entity_effects: bool = False
    time_effects: bool = False
    other_effects: pd.DataFrame | None = None
    cov_type: str = "unadjusted"
    clusters: pd.DataFrame | None = None
    bandwidth: float | None = None
    weights: pd.Series | None = None


def _model(spec: LinearmodelsSpec) -> Any:
    import linearmodels

    cls = getattr(linearmodels, _MODELS[spec.estimator])
    kwargs: dict[str, Any] = {"weights": spec.weights}
    if spec.estimator == "within":
        kwargs.update(
            entity_effects=spec.entity_effects,
            time_effects=spec.time_effects,
            other_effects=spec.other_effects,
        )
    exog = spec.X.rename(columns={"Intercept": "const"})
    return cls(spec.y, exog, **kwargs)


def _cov_config(spec: LinearmodelsSpec) -> dict[str, Any]:
    if spec.cov_type == "clustered":
        config: dict[str, Any] = {"cov_type": "clustered", "clusters": spec.clusters}
        if spec.estimator != "between":
            config["group_debias"] = True
        return config
    if spec.cov_type == "driscoll_kraay":
        config = {"cov_type": "kernel", "kernel": "bartlett"}
        if spec.bandwidth is not None:
            config["bandwidth"] = spec.bandwidth
        return config
    return {"cov_type": spec.cov_type}


def fit(spec: LinearmodelsSpec) -> BackendFit:
    """Fit one model with linearmodels and collect its numbers.

    Raises
    ------
    SpecError
        When linearmodels rejects the covariance options for this estimator.
    FitError
        When the model cannot be estimated.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> idx = pd.MultiIndex.from_product([range(20), range(5)], names=["i", "t"])
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"x": rng.normal(size=100)}, index=idx)
    >>> y = (2 * X["x"] + rng.normal(size=100)).rename("y")
    >>> out = fit(LinearmodelsSpec("within", y, X, entity_effects=True))
    >>> round(float(out.params["x"]), 1)
    2.0
    """
    model = _model(spec)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = model.fit(debiased=True, **_cov_config(spec))
            params = res.params.rename({"const": "Intercept"})
            cov = res.cov.rename(index={"const": "Intercept"}, columns={"const": "Intercept"})
    except (TypeError, KeyError) as exc:
        raise SpecError(f"{spec.estimator} does not support these options: {exc}") from exc
    except (ValueError, np.linalg.LinAlgError) as exc:
        raise FitError(f"linearmodels could not fit the {spec.estimator} model: {exc}") from exc
    n_absorbed = int(res.df_model) - len(params) if spec.estimator == "within" else 0
    return BackendFit(
        params=params,
        cov=cov,
        nobs=int(res.nobs),
        df_resid=float(res.df_resid),
        n_absorbed=n_absorbed,
        stats=_stats(spec.estimator, res),
        raw=res,
    )


def _stats(estimator: str, res: Any) -> dict[str, float]:
    stats = {"r2": float(res.rsquared)}
    if estimator == "random":
        comps = res.variance_decomposition
        stats["sigma_u"] = float(np.sqrt(comps["Effects"]))
        stats["sigma_e"] = float(np.sqrt(comps["Residual"]))
        stats["rho"] = float(comps["Percent due to Effects"])
    return stats
