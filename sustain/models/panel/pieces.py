"""The transformed regression behind a panel fit: what covariances and the bootstrap need.

Every linear panel estimator is ordinary least squares on a transformed regression: the
within estimator on data with the effects absorbed, random effects on quasi-demeaned data
(:math:`y_{it} - \\theta_i \\bar y_i`), first differences on differences between consecutive
periods, the between estimator on entity means, pooled OLS on the data as they are. A fitted
result keeps these arrays (:class:`RegressionPieces`), never the user's frame, so that another
covariance (:func:`covariance_from_pieces`) or a wild cluster bootstrap can be computed without
refitting. The transforms reproduce linearmodels' (the tests compare every estimator and every
covariance with a refit).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sustain._typing import FloatArray, IntArray
from sustain.errors import FitError, SpecError
from sustain.inference.design import ModelFrame
from sustain.models.panel import absorb as fe_fast
from sustain.models.panel import covariance as fe_covariance
from sustain.models.panel.prepare import Options, Prepared, effect_codes


@dataclass(frozen=True, eq=False)
class RegressionPieces:
    """The transformed regression of a fit (arrays of ``m`` rows: observations, differences
    or entities).

    Attributes
    ----------
    X : ndarray, shape (m, k)
        Transformed regressors, columns in the order of ``names``.
    y : ndarray, shape (m,)
        Transformed response.
    resid : ndarray, shape (m,)
        Residuals ``y - X @ params``.
    names : tuple of str
        Coefficient names.
    estimator : str
        The estimator.
    absorbed_df : int
        Degrees of freedom of the absorbed effects (within; 0 otherwise).
    absorbed : mapping of str to ndarray
        Codes of each absorbed effect (within), to tell whether one is nested in the clusters.
    groups : mapping of str to ndarray
        Codes ``0..G-1`` of every variable one may cluster on, per row of the regression:
        the index levels and every non-float column of the data (districts, tiers, ...).
    time : ndarray of int
        Period of each row (Driscoll-Kraay).
    weighted : bool
        Whether the rows carry the square roots of observation weights.
    frame : ModelFrame or None
        The formula's variables on the fitted rows (margins and predictions; see
        :mod:`sustain.inference.design`).

    Examples
    --------
    >>> p = RegressionPieces(np.ones((2, 1)), np.ones(2), np.zeros(2), ("x",), "pooled")
    >>> p.nobs
    2
    """

    X: FloatArray
    y: FloatArray
    resid: FloatArray
    names: tuple[str, ...]
    estimator: str
    absorbed_df: int = 0
    absorbed: Mapping[str, IntArray] = field(default_factory=dict)
    groups: Mapping[str, IntArray] = field(default_factory=dict)
    time: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    entity: str = "agency_id"
    weighted: bool = False
    frame: ModelFrame | None = None

    @property
    def nobs(self) -> int:
        return int(self.X.shape[0])


def build_pieces(
    p: Prepared,
    options: Options,
    params: pd.Series,
    frame: pd.DataFrame,
    absorbed_df: int,
    theta: pd.Series | None = None,
) -> RegressionPieces | None:
    """The transformed regression of a fitted panel model (``None`` for weighted fits other
    than within and pooled, whose transforms linearmodels defines differently).

    Parameters
    ----------
    p : Prepared
        The complete-case response and design the model was fitted on.
    options : Options
        Estimator, effects and clusters.
    params : Series
        The estimates (their index orders the regressors).
    frame : DataFrame
        The user's data (only to code the variables one may cluster on; not kept).
    absorbed_df : int
        Degrees of freedom of the absorbed effects, after the connected-set correction.
    theta : Series, optional
        Random effects' quasi-demeaning weights by entity label.
    """
    names = tuple(str(n) for n in params.index)
    estimator = options.estimator
    weighted = p.weights is not None
    if weighted and estimator not in ("within", "pooled"):
        return None
    X = p.X[list(names)].to_numpy(dtype=np.float64)
    y = p.y.to_numpy(dtype=np.float64)
    groups = _group_codes(p, frame)
    time = effect_codes(p, p.time).codes
    absorbed: dict[str, IntArray] = {}
    if estimator == "within":
        effects = [effect_codes(p, n) for n in options.absorbed]
        X, y = _within(X, y, effects, p.weights, "Intercept" in names)
        absorbed = {e.name: e.codes for e in effects}
    elif estimator == "pooled" and weighted:
        root = np.sqrt(np.asarray(p.weights))
        X, y = X * root[:, None], y * root
    elif estimator == "random":
        X, y = _quasi_demean(X, y, p, theta)
    elif estimator == "first_difference":
        X, y, later, earlier = _differences(X, y, p)
        # a cluster must be the same in both years of a difference (as linearmodels requires)
        groups = {k: _recode(v[later]) for k, v in groups.items() if (v[later] == v[earlier]).all()}
        time = time[later]
    elif estimator == "between":
        entity = effect_codes(p, p.entity).codes
        X, y, first = _entity_means(X, y, p)
        # a cluster of entity means must not vary within an entity
        groups = {k: _recode(v[first]) for k, v in groups.items() if (v == v[first][entity]).all()}
        time = np.zeros(len(y), dtype=np.int64)
    resid = y - X @ params.to_numpy(dtype=np.float64)
    return RegressionPieces(
        X=X,
        y=y,
        resid=resid,
        names=names,
        estimator=estimator,
        absorbed_df=absorbed_df if estimator == "within" else 0,
        absorbed=absorbed,
        groups=groups,
        time=np.asarray(time, dtype=np.int64),
        entity=p.entity,
        weighted=weighted,
    )


def _group_codes(p: Prepared, frame: pd.DataFrame) -> dict[str, IntArray]:
    """Codes of the index levels and of every non-float column, on the fitted rows."""
    rows = frame.index.get_indexer(p.y.index) if not frame.index.equals(p.y.index) else None
    out = {name: effect_codes(p, name).codes for name in p.codes}
    for column in frame.columns:
        if column in out or pd.api.types.is_float_dtype(frame[column].dtype):
            continue
        values = frame[column] if rows is None else frame[column].iloc[rows]
        codes, _ = pd.factorize(values, use_na_sentinel=True)
        if (codes < 0).any():
            continue  # a column with missing values on the fitted rows cannot be a cluster
        out[str(column)] = codes.astype(np.int64)
    return out


def _recode(codes: IntArray) -> IntArray:
    return pd.factorize(codes)[0].astype(np.int64)


def _within(
    X: FloatArray,
    y: FloatArray,
    effects: list[fe_fast.Effect],
    weights: FloatArray | None,
    constant: bool,
) -> tuple[FloatArray, FloatArray]:
    block = np.column_stack([y, X])
    if weights is None:
        out = fe_fast.absorb(block, effects).values
        if constant:  # Stata's _cons: linearmodels adds the grand means back
            out = out + block.mean(axis=0)
        return out[:, 1:], out[:, 0]
    w = np.asarray(weights, dtype=np.float64)
    out = _weighted_absorb(block, effects, w)
    if constant:
        out = out + (w @ block) / w.sum()
    root = np.sqrt(w)[:, None]
    out = out * root
    return out[:, 1:], out[:, 0]


def _weighted_absorb(M: FloatArray, effects: list[fe_fast.Effect], w: FloatArray) -> FloatArray:
    """Weighted within transform (weighted group means), by alternating projections."""
    current = M.copy()
    for _ in range(fe_fast.MAP_MAX_ITERATIONS):
        previous = current
        for effect in effects:
            sums = np.column_stack(
                [np.bincount(effect.codes, weights=w * current[:, j], minlength=effect.n_levels)
                 for j in range(current.shape[1])]
            )  # fmt: skip
            totals = np.bincount(effect.codes, weights=w, minlength=effect.n_levels)
            current = current - (sums / totals[:, None])[effect.codes]
        if len(effects) == 1 or np.abs(current - previous).max() <= fe_fast.MAP_TOLERANCE * max(
            float(np.abs(M).max()), 1.0
        ):
            return current
    raise FitError("the weighted within transform did not converge")


def _quasi_demean(
    X: FloatArray, y: FloatArray, p: Prepared, theta: pd.Series | None
) -> tuple[FloatArray, FloatArray]:
    if theta is None:
        raise FitError("random effects without their theta: cannot rebuild the regression")
    entity = effect_codes(p, p.entity)
    labels = p.y.index.get_level_values(p.entity)
    th = theta.reindex(labels).to_numpy(dtype=np.float64)
    means = fe_fast.group_means(np.column_stack([y, X]), entity)[entity.codes]
    out = np.column_stack([y, X]) - th[:, None] * means
    return out[:, 1:], out[:, 0]


def _differences(
    X: FloatArray, y: FloatArray, p: Prepared
) -> tuple[FloatArray, FloatArray, IntArray, IntArray]:
    """Differences of consecutive observed periods within each entity (as linearmodels: a
    period missing for an entity breaks the chain)."""
    entity = effect_codes(p, p.entity).codes
    time_values = p.y.index.get_level_values(p.time)
    period = pd.Index(np.sort(pd.unique(np.asarray(time_values)))).get_indexer(time_values)
    order = np.lexsort((period, entity))
    e, t = entity[order], period[order]
    follows = (e[1:] == e[:-1]) & (t[1:] == t[:-1] + 1)
    later, earlier = order[1:][follows], order[:-1][follows]
    return X[later] - X[earlier], y[later] - y[earlier], later, earlier


def _entity_means(
    X: FloatArray, y: FloatArray, p: Prepared
) -> tuple[FloatArray, FloatArray, IntArray]:
    entity = effect_codes(p, p.entity)
    means = fe_fast.group_means(np.column_stack([y, X]), entity)
    first = np.full(entity.n_levels, -1, dtype=np.int64)
    first[entity.codes[::-1]] = np.arange(len(entity.codes))[::-1]
    return means[:, 1:], means[:, 0], first


def covariance_from_pieces(
    pieces: RegressionPieces,
    cov_type: str,
    clusters: tuple[str, ...] = (),
    bandwidth: float | None = None,
) -> FloatArray:
    """The covariance of a fit recomputed from its pieces (linearmodels' conventions).

    Raises
    ------
    SpecError
        When a cluster variable was not kept (only index levels and non-float columns are).
    """
    X, e = pieces.X, pieces.resid
    if pieces.estimator == "between" and cov_type == "driscoll_kraay":
        raise SpecError(
            "the between estimator has no Driscoll-Kraay covariance (one row per entity)"
        )
    if cov_type == "unadjusted":
        return fe_covariance.unadjusted(X, e, pieces.absorbed_df)
    if cov_type == "robust":
        return fe_covariance.robust(X, e, pieces.absorbed_df)
    if cov_type == "driscoll_kraay":
        return fe_covariance.driscoll_kraay(X, e, pieces.absorbed_df, pieces.time, bandwidth)
    missing = [c for c in clusters if c not in pieces.groups]
    if missing:
        kept = ", ".join(sorted(pieces.groups))
        why = {
            "first_difference": "it is not the same in both years of every difference",
            "between": "it varies within an entity",
        }.get(pieces.estimator, "it is not a kept variable")
        raise SpecError(f"cannot cluster on {missing[0]!r}: {why} (clusters available: {kept})")
    codes = np.column_stack([pieces.groups[c] for c in clusters])
    extra_df = clustered_absorbed_df(pieces, codes)
    return fe_covariance.clustered(
        X,
        e,
        extra_df,
        codes.squeeze(axis=1) if codes.shape[1] == 1 else codes,
        group_debias=pieces.estimator != "between",
    )


def clustered_absorbed_df(pieces: RegressionPieces, codes: IntArray) -> int:
    """Absorbed degrees of freedom that a clustered covariance subtracts (linearmodels'
    ``auto_df``: none when a single absorbed effect is nested in the clusters).

    ``codes`` holds the cluster codes, shape ``(n,)`` or ``(n, m)``.
    """
    codes = codes if codes.ndim == 2 else codes[:, None]
    if len(pieces.absorbed) == 1 and nested_in(next(iter(pieces.absorbed.values())), codes):
        return 0
    return pieces.absorbed_df


def nested_in(effect: IntArray, clusters: IntArray) -> bool:
    """Whether every level of the effect lies inside one group of every cluster variable.

    ``clusters`` has shape ``(n,)`` or ``(n, m)``.

    Examples
    --------
    >>> nested_in(np.array([0, 0, 1, 2]), np.array([0, 0, 0, 1]))
    True
    >>> nested_in(np.array([0, 1, 0, 1]), np.array([0, 0, 1, 1]))
    False
    """
    clusters = clusters if clusters.ndim == 2 else clusters[:, None]
    n_levels = int(effect.max()) + 1
    for column in clusters.T:
        # the cluster of each level's first row (reversed assignment: the first write wins)
        first = np.empty(n_levels, dtype=column.dtype)
        first[effect[::-1]] = column[::-1]
        if not np.array_equal(first[effect], column):
            return False
    return True


def cluster_counts(pieces: RegressionPieces, clusters: tuple[str, ...]) -> dict[str, int]:
    """Number of groups of each cluster variable in the regression's rows."""
    return {c: int(pieces.groups[c].max()) + 1 for c in clusters}


__all__ = [
    "RegressionPieces",
    "build_pieces",
    "cluster_counts",
    "clustered_absorbed_df",
    "covariance_from_pieces",
    "nested_in",
]
