"""Predicted quality or exit hazard over a covariate (funding concentration), with intervals.

For each result the covariate ``x`` runs over its observed range while the other variables of
the formula stay at typical values (numeric: sample mean; text or categorical: most common
value; ``at=`` overrides either). The rows are encoded with the model's own formula
(formulaic, so transforms such as ``np.log(x)`` or splines follow ``x``), then

* frequentist models: the linear predictor ``eta = x'b`` gets a delta-method interval
  ``eta ± z sqrt(x'Vx)``, and both are mapped through the inverse link (identity, logistic
  or ``1 - exp(-exp(eta))`` for cloglog), which keeps the interval inside (0, 1);
* within (fixed-effects) models, whose intercept is absorbed, are drawn around the sample mean
  of the outcome: ``ybar + (x - xbar)'b``; Cox models as the hazard relative to the sample
  mean, ``exp((x - xbar)'b)``;
* Bayesian models: the population-level coefficients' posterior draws give draws of the
  prediction (group-level effects at zero: a typical district or agency), summarised by the
  posterior mean and an equal-tailed or highest-density interval.

Hazard models' duration terms, which are not in the user's formula, are held at their sample
means (the average over the age distribution on the linear-predictor scale).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from sustain._typing import FloatArray, PathLikeStr
from sustain.errors import SpecError
from sustain.figures.coef import as_results, legend_names
from sustain.figures.style import (
    BAND_ALPHA,
    ImageFormat,
    axis_label,
    figure_style,
    finish,
    series_style,
)
from sustain.formula import design, design_for, parse_formula, variables
from sustain.options import IntervalKind
from sustain.presentation.labels import LabelSource, load_labels
from sustain.presentation.language import Language, check_language

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

RUG_MAX = 400  # observed x values drawn as a rug (evenly spaced order statistics)


@dataclass(frozen=True)
class Band:
    """A predicted curve over a grid: ``x``, ``fit``, ``lower``, ``upper`` (each shape (m,))."""

    x: FloatArray
    fit: FloatArray
    lower: FloatArray
    upper: FloatArray


def inverse_link(eta: FloatArray, link: str | None) -> FloatArray:
    """Map a linear predictor to the response scale.

    Examples
    --------
    >>> inverse_link(np.array([0.0]), "logit"), inverse_link(np.array([0.0]), "cloglog").round(4)
    (array([0.5]), array([0.6321]))
    """
    if link in (None, "", "identity"):
        return eta
    if link == "logit":
        return np.asarray(1.0 / (1.0 + np.exp(-eta)))
    if link == "cloglog":
        return np.asarray(-np.expm1(-np.exp(eta)))
    if link == "log":
        return np.asarray(np.exp(eta))
    raise SpecError(f"prediction_plot: unknown link {link!r}")


def delta_band(
    X: FloatArray, beta: FloatArray, cov: FloatArray, alpha: float, link: str | None
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Prediction and Wald interval on the linear-predictor scale, then inverse link.

    ``X`` has shape (m, k), ``beta`` (k,), ``cov`` (k, k).

    Examples
    --------
    >>> fit, lo, hi = delta_band(np.array([[1.0, 0.5]]), np.array([1.0, 2.0]),
    ...                          np.diag([0.04, 0.16]), 0.05, None)
    >>> round(float(fit[0]), 3), round(float(hi[0] - fit[0]), 3)
    (2.0, 0.554)
    """
    eta = X @ beta
    se = np.sqrt(np.einsum("ij,jk,ik->i", X, cov, X))
    z = float(sps.norm.ppf(1 - alpha / 2))
    return (
        inverse_link(eta, link),
        inverse_link(eta - z * se, link),
        inverse_link(eta + z * se, link),
    )


def posterior_band(
    X: FloatArray, draws: FloatArray, alpha: float, kind: IntervalKind, link: str | None
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Posterior mean and credible interval of the prediction at each row of ``X``.

    ``X`` has shape (m, k); ``draws`` (s, k) are posterior draws of the coefficients.

    Examples
    --------
    >>> draws = np.random.default_rng(0).normal([1.0, 2.0], 0.1, size=(4000, 2))
    >>> fit, lo, hi = posterior_band(np.array([[1.0, 0.0]]), draws, 0.05, "eti", None)
    >>> round(float(fit[0]), 1), round(float(hi[0] - lo[0]), 1)
    (1.0, 0.4)
    """
    pred = inverse_link(X @ draws.T, link)
    if kind == "hdi":
        import arviz as az

        bounds = np.array([az.hdi(row, prob=1 - alpha) for row in pred])
        lower, upper = bounds[:, 0], bounds[:, 1]
    else:
        lower, upper = np.quantile(pred, [alpha / 2, 1 - alpha / 2], axis=1)
    return pred.mean(axis=1), lower, upper


def grid_frame(
    data: pd.DataFrame, used: Sequence[str], x: str, points: int, at: Mapping[str, Any]
) -> pd.DataFrame:
    """Rows with ``x`` over its observed range and the other variables at typical values.

    Examples
    --------
    >>> df = pd.DataFrame({"hhi": [0.2, 0.6, 1.0], "tier": ["a", "b", "b"], "z": [1.0, 2, 6]})
    >>> grid_frame(df, ["hhi", "tier", "z"], "hhi", 3, {}).round(2).to_dict("list")
    {'hhi': [0.2, 0.6, 1.0], 'tier': ['b', 'b', 'b'], 'z': [3.0, 3.0, 3.0]}
    """
    values = pd.to_numeric(data[x], errors="coerce").dropna()
    if values.empty or values.min() == values.max():
        raise SpecError(f"prediction_plot: {x!r} has no variation in the data")
    grid = {x: np.linspace(float(values.min()), float(values.max()), points)}
    for name in used:
        if name == x:
            continue
        if name in at:
            grid[name] = np.repeat(at[name], points)
        elif pd.api.types.is_numeric_dtype(data[name]) and not pd.api.types.is_bool_dtype(
            data[name]
        ):
            grid[name] = np.repeat(float(data[name].mean()), points)
        else:
            grid[name] = np.repeat(data[name].mode(dropna=True).iloc[0], points)
    return pd.DataFrame(grid)


def _columns(data: pd.DataFrame) -> pd.DataFrame:
    names = [n for n in data.index.names if n and n not in data.columns]
    return data.reset_index(level=names) if names else data


def _reference_means(result: Any, terms: Sequence[str]) -> dict[str, float]:
    """Sample means of model columns outside the user's formula (hazard duration terms)."""
    if not terms:
        return {}
    exog = getattr(getattr(getattr(result, "raw", None), "model", None), "exog", None)
    if exog is None or np.ndim(exog) != 2 or np.shape(exog)[1] != len(result.params):
        return {t: 0.0 for t in terms}
    means = pd.Series(np.asarray(exog, float).mean(axis=0), index=result.params.index)
    return {t: float(means[t]) for t in terms}


def _design_rows(
    result: Any, data: pd.DataFrame, x: str, points: int, at: Mapping[str, Any]
) -> tuple[FloatArray, pd.DataFrame, pd.DataFrame, pd.Series | None]:
    """Grid of ``x``, its design aligned to the coefficients, the data design and response."""
    parsed = parse_formula(result.info.formula, require_lhs=False)
    if x not in variables(parsed.fixed):
        raise SpecError(f"prediction_plot: {x!r} is not a variable of {result.info.formula!r}")
    d = design(data, parsed.fixed_formula, intercept="Intercept" in result.params.index)
    grid = grid_frame(data.loc[d.rows], sorted(variables(parsed.fixed)), x, points, at)
    X = design_for(d.spec, grid)
    X.index = grid.index
    coefs = [t for t in result.params.index if t in X.columns]
    # Bayesian scale and group-level parameters are not coefficients; frequentist extras are
    # the hazard's duration terms
    extra = (
        []
        if result.inference == "bayesian"
        else [t for t in result.params.index if t not in X.columns]
    )
    for term, value in _reference_means(result, extra).items():
        X[term] = value
    return grid[x].to_numpy(float), X[coefs + extra], d.X[coefs], d.y


def predict_band(
    result: Any,
    data: pd.DataFrame,
    x: str,
    points: int = 50,
    at: Mapping[str, Any] | None = None,
    alpha: float = 0.05,
    interval: IntervalKind = "eti",
) -> Band:
    """Predicted curve of one result over ``x`` with its interval (see the module notes).

    Examples
    --------
    >>> from sustain.results import FrequentistResults, ModelInfo
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4], "hhi": [0.1, 0.4, 0.7, 1.0]})
    >>> p = pd.Series({"Intercept": 1.0, "hhi": 2.0})
    >>> cov = pd.DataFrame(np.diag([0.01, 0.04]), index=p.index, columns=p.index)
    >>> info = ModelInfo("OLS", "pooled", "y", "y ~ hhi", 4)
    >>> band = predict_band(FrequentistResults(p, cov, info), df, "hhi", points=2)
    >>> band.x.tolist(), band.fit.round(2).tolist()
    ([0.1, 1.0], [1.2, 3.0])
    """
    xs, Xg, Xd, y = _design_rows(result, _columns(data), x, points, dict(at or {}))
    info, terms = result.info, list(Xg.columns)
    centred = "Intercept" not in result.params.index and result.inference != "bayesian"
    X = Xg.to_numpy(float)
    if centred:
        X = X - np.r_[Xd.mean().to_numpy(float), np.zeros(len(terms) - Xd.shape[1])]
    if result.inference == "bayesian":
        missing = [t for t in terms if t not in result.idata.posterior]
        if missing:
            raise SpecError(f"prediction_plot: no posterior draws for {missing}")
        draws = np.column_stack([result.draws(t) for t in terms])
        fit, lo, hi = posterior_band(X, draws, alpha, interval, info.link)
    else:
        beta = result.params[terms].to_numpy(float)
        cov = result.cov.loc[terms, terms].to_numpy(float)
        link = "log" if info.estimator == "cox" else info.link
        fit, lo, hi = delta_band(X, beta, cov, alpha, link)
    if centred and info.estimator != "cox" and y is not None:
        shift = float(np.mean(y))  # absorbed effects: centre on the mean outcome
        fit, lo, hi = fit + shift, lo + shift, hi + shift
    return Band(xs, np.asarray(fit), np.asarray(lo), np.asarray(hi))


def prediction_scale(result: Any) -> str:
    """What a result predicts: ``"relative"`` (Cox), ``"probability"`` or ``"linear"``.

    Examples
    --------
    >>> from sustain.results import ModelInfo
    >>> class R:
    ...     info = ModelInfo("Hazard", "hazard", "exit", "exit ~ hhi", 1, link="cloglog")
    >>> prediction_scale(R())
    'probability'
    """
    if result.info.estimator == "cox":
        return "relative"
    return "probability" if result.info.link in ("logit", "cloglog") else "linear"


def y_label(scale: str, depvar: str, labels: Mapping[str, str], language: str = "en") -> str:
    """Y-axis label with units for a prediction scale (in ``language``).

    Examples
    --------
    >>> y_label("probability", "exit", {}), y_label("linear", "quality", {})
    ('Annual exit hazard', 'Predicted service quality (evaluation score, 0–100)')
    """
    if language == "zh":
        if scale == "relative":
            return "相对于样本均值的风险（比值）"
        label = axis_label(depvar, labels, language)
        if scale == "probability":
            return "年度退出风险" if depvar == "exit" else f"Pr（{label}）"
        return f"预测的{label}"
    if scale == "relative":
        return "Hazard relative to the sample mean (ratio)"
    if scale == "probability":
        return "Annual exit hazard" if depvar == "exit" else f"Pr({axis_label(depvar, labels)})"
    label = axis_label(depvar, labels)
    first = label[:1].lower() if label[1:2].islower() else label[:1]
    return f"Predicted {first}{label[1:]}"


def _rug(ax: Any, data: pd.DataFrame, x: str) -> None:
    values = np.sort(pd.to_numeric(_columns(data)[x], errors="coerce").dropna().to_numpy(float))
    if len(values) > RUG_MAX:
        values = values[np.linspace(0, len(values) - 1, RUG_MAX).astype(int)]
    ax.plot(
        values,
        np.zeros_like(values),
        "|",
        color="#555555",
        markersize=6,
        alpha=0.5,
        transform=ax.get_xaxis_transform(),
        clip_on=False,
    )


def prediction_plot(
    results: Any,
    data: pd.DataFrame,
    x: str = "hhi",
    *,
    at: Mapping[str, Any] | None = None,
    points: int = 50,
    alpha: float = 0.05,
    interval: IntervalKind = "eti",
    labels: LabelSource = None,
    language: Language = "en",
    model_names: Sequence[str] | None = None,
    rug: bool = True,
    title: str | None = None,
    path: PathLikeStr | None = None,
    formats: Sequence[ImageFormat] = ("png", "pdf"),
) -> Figure:
    """Predicted quality or exit hazard over ``x`` with intervals, for one or more models.

    Parameters
    ----------
    results : result or sequence of results
        Linear (fixed effects, pooled), discrete-time hazard (logit, cloglog), Cox or Bayesian
        results; all must predict the same quantity (same outcome and scale).
    data : DataFrame
        The data the models were fitted on (e.g. the panel): gives the range of ``x`` and
        the typical values of the other variables.
    x : str
        The covariate on the horizontal axis.
    at : mapping, optional
        Values for other variables (instead of mean or most common value).
    points : int
        Grid size.
    alpha : float
        Intervals have mass ``1 - alpha``.
    interval : {"eti", "hdi"}
        Bayesian interval kind.
    labels, language, model_names, title, path, formats
        As in :func:`coef_plot`.
    rug : bool
        Mark the observed values of ``x`` along the horizontal axis.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from sustain.results import FrequentistResults, ModelInfo
    >>> df = pd.DataFrame({"exit": [0, 1, 0, 0], "hhi": [0.1, 0.4, 0.7, 1.0]})
    >>> p = pd.Series({"Intercept": -3.0, "hhi": 1.0})
    >>> cov = pd.DataFrame(np.diag([0.04, 0.09]), index=p.index, columns=p.index)
    >>> info = ModelInfo("Hazard (cloglog)", "hazard", "exit", "exit ~ hhi", 4, link="cloglog")
    >>> fig = prediction_plot(FrequentistResults(p, cov, info), df)
    >>> fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()
    ('Funding concentration (HHI, 0–1)', 'Annual exit hazard')
    """
    import matplotlib.pyplot as plt

    language = check_language(language)
    items = as_results(results, "prediction_plot")
    names = legend_names(items, model_names, language)
    scales = {(prediction_scale(r), r.info.depvar) for r in items}
    if len(scales) > 1:
        raise SpecError(
            f"prediction_plot: the models predict different quantities {sorted(scales)}; plot them separately"
        )
    if not 0 < alpha < 1 or points < 2:
        raise SpecError("prediction_plot: need 0 < alpha < 1 and points >= 2")
    bands = [predict_band(r, data, x, points, at, alpha, interval) for r in items]
    names_map = load_labels(labels, language)
    scale, depvar = next(iter(scales))
    with figure_style(language):
        fig, ax = plt.subplots(figsize=(5.5, 3.8))
        for i, (band, name) in enumerate(zip(bands, names, strict=True)):
            color = series_style(i)["color"]
            ax.fill_between(
                band.x, band.lower, band.upper, color=color, alpha=BAND_ALPHA, linewidth=0
            )
            ax.plot(band.x, band.fit, color=color, label=name)
        if rug:
            _rug(ax, data, x)
        ax.set_xlabel(axis_label(x, names_map, language))
        ax.set_ylabel(y_label(scale, depvar, names_map, language))
        ax.grid(axis="y")
        if scale == "probability":
            ax.set_ylim(bottom=0)
        unit = "区间" if language == "zh" else "intervals"
        ax.legend(loc="best", title=f"{100 * (1 - alpha):g}% {unit}")
        if title:
            ax.set_title(title)
        fig.tight_layout()
    return finish(fig, path, formats)
