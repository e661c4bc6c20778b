"""Panel regressions of agency-years: fixed effects, random effects and relatives; Hausman test.

:func:`fit_fe` fits the within estimator with any absorbed effects (agency and year by
default), random effects (Swamy-Arora), first differences, the between estimator and pooled
OLS, with unadjusted, robust, one- or two-way clustered or Driscoll-Kraay standard errors.
It is built on linearmodels; large within fits are absorbed by sustain's own numpy path
(:mod:`sustain.models.panel.absorb`), which gives linearmodels' numbers several times faster.
Small-sample conventions follow Stata's ``xtreg``: residual degrees of freedom subtract the
absorbed effects, and clustered covariances carry :math:`\\frac{G}{G-1}\\frac{n-1}{n-k}`.

:func:`hausman` compares a within and a random-effects fit. See ``docs/models/fe.md``.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sustain.errors import DataError, SpecError, problem_rows
from sustain.inference.design import ModelFrame, model_frame
from sustain.models.panel import absorb as fe_fast
from sustain.models.panel import covariance as fe_covariance
from sustain.models.panel.backend import BackendFit, LinearmodelsSpec
from sustain.models.panel.backend import fit as fit_linearmodels
from sustain.models.panel.hausman import HausmanResult, hausman
from sustain.models.panel.pieces import (
    RegressionPieces,
    build_pieces,
    cluster_counts,
    covariance_from_pieces,
)
from sustain.models.panel.prepare import (
    FAST_MIN_NOBS,
    Options,
    Prepared,
    covariance_options,
    drop_collinear,
    effect_codes,
    prepare,
    resolve_options,
    use_fast,
)
from sustain.options import CovType, Estimator
from sustain.results import FrequentistResults, ModelInfo, Summary

__all__ = [
    "FAST_MIN_NOBS",
    "FEW_CLUSTERS",
    "FEResults",
    "HausmanResult",
    "fit_fe",
    "hausman",
]

# Cluster-robust standard errors over-reject with fewer clusters than about this (Cameron and
# Miller 2015, "A Practitioner's Guide to Cluster-Robust Inference", J. Human Resources 50(2),
# section VI: 20 to 50 clusters, depending on balance); fit_fe warns below it.
FEW_CLUSTERS = 30

_LABELS = {
    "random": "Random effects",
    "first_difference": "First differences",
    "between": "Between",
    "pooled": "Pooled OLS",
}


@dataclass(frozen=True, eq=False)
class FEResults(FrequentistResults):
    """Result of :func:`fit_fe`: coefficients, covariance and panel fit statistics.

    Besides the common protocol (``params``, ``bse``, ``conf_int()``, ``nobs``,
    ``summary()``, ``tidy()``) it offers within/between/overall R², the number of clusters
    and of absorbed effects, and :meth:`with_cov_type` for another covariance.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> idx = pd.MultiIndex.from_product([range(30), range(2015, 2020)], names=["agency_id", "year"])
    >>> df = pd.DataFrame({"hhi": rng.uniform(size=150)}, index=idx)
    >>> df["quality"] = 70 + 5 * df["hhi"] + rng.normal(size=150)
    >>> fe = fit_fe(df, "quality ~ hhi", cluster="agency_id")
    >>> fe.n_clusters, fe.info.effects
    (30, ('agency_id', 'year'))
    >>> robust = fe.with_cov_type("robust")
    >>> robust.info.cov_type, fe.info.cov_type
    ('robust', 'clustered')
    """

    backend: str = "linearmodels"

    @property
    def rsquared_within(self) -> float:
        """Squared correlation of the entity-demeaned response and fitted values."""
        return float(self.info.stats.get("r2_within", np.nan))

    @property
    def rsquared_between(self) -> float:
        """Squared correlation of entity means of the response and of the fitted values."""
        return float(self.info.stats.get("r2_between", np.nan))

    @property
    def rsquared_overall(self) -> float:
        """Squared correlation of the response and the fitted values (effects excluded)."""
        return float(self.info.stats.get("r2_overall", np.nan))

    @property
    def n_clusters(self) -> int | None:
        """Number of clusters (the smaller count for two-way clustering), else ``None``."""
        if not self.info.cluster:
            return None
        return min(int(self.info.groups[name]) for name in self.info.cluster)

    @property
    def n_absorbed(self) -> int:
        """Degrees of freedom used by the absorbed effects (0 for other estimators)."""
        return int(self.info.stats.get("n_absorbed", 0))

    def with_cov_type(
        self,
        cov_type: CovType,
        cluster: str | Sequence[str] | None = None,
        bandwidth: float | None = None,
    ) -> FEResults:
        """The same estimates with another covariance; this result is left unchanged.

        Computed from the transformed regression the fit keeps (:attr:`pieces`), without
        refitting and without the data: clusters may be the index levels or any non-float
        column of the data the model was fitted on (``"district"``, ``"tier"``).

        Raises
        ------
        SpecError
            For a result loaded from a file (it keeps no regression) or an unknown cluster.
        """
        pieces = self.pieces
        if not isinstance(pieces, RegressionPieces):
            raise SpecError(
                "this result keeps no regression to recompute from (loaded from a file, or a "
                "weighted random-effects, first-difference or between fit); call fit_fe again"
            )
        cov, clusters = covariance_options(cov_type, cluster, bandwidth, pieces.entity)
        matrix = covariance_from_pieces(pieces, cov, clusters, bandwidth)
        names = list(pieces.names)
        # as a refit reports them: the groups of the fitted rows (a first-difference fit counts
        # agencies with one row too)
        counts = {
            c: self.info.groups.get(c, n) for c, n in cluster_counts(pieces, clusters).items()
        }
        stats = {k: v for k, v in self.info.stats.items() if k != "n_clusters"}
        if clusters:
            stats["n_clusters"] = min(counts.values())
        info = dataclasses.replace(
            self.info,
            cov_type=cov,
            cluster=clusters,
            groups={**self.info.groups, **counts},
            stats=stats,
        )
        frame = pd.DataFrame(matrix, index=names, columns=names)
        return dataclasses.replace(self, cov=frame, info=info)

    def summary(self, alpha: float = 0.05) -> Summary:
        base = super().summary(alpha)
        effects = [(f"{name} FE", "Yes") for name in self.info.effects]
        return dataclasses.replace(base, header=[*base.header, *effects])


def fit_fe(
    data: pd.DataFrame,
    formula: str,
    effects: Sequence[str] | None = None,
    estimator: Estimator = "within",
    cov_type: CovType | None = None,
    cluster: str | Sequence[str] | None = None,
    bandwidth: float | None = None,
    weights: str | None = None,
    fast: bool | None = None,
) -> FEResults:
    """Fit a linear panel model of agency-years.

    Parameters
    ----------
    data : DataFrame
        Indexed (entity, time), e.g. the panel of :func:`sustain.build_panel`.
    formula : str
        ``"quality ~ hhi + gov_share"``; formulaic syntax (``C(tier)``, ``np.log(x)``).
        Within and first-difference fits have no intercept unless the formula of a within
        fit writes ``1 +`` (then Stata's ``_cons``, the mean of the fitted effects, is shown).
    effects : sequence of str, optional
        Index levels or columns whose effects the within estimator absorbs. Default: both
        index levels (agency and year: two-way FE). Only ``within`` absorbs effects.
    estimator : {"within", "random", "first_difference", "between", "pooled"}
        ``random`` is Swamy-Arora random effects of the entity.
    cov_type : {"unadjusted", "robust", "clustered", "driscoll_kraay"}, optional
        Default ``"clustered"`` when ``cluster`` is given, else ``"unadjusted"``.
    cluster : str or sequence of up to two str, optional
        Index levels or columns to cluster on (e.g. ``"agency_id"``, ``"district"``).
        ``cov_type="clustered"`` without it clusters on the entity.
    bandwidth : float, optional
        Driscoll-Kraay lag truncation; default :math:`\\lfloor 4 (T/100)^{2/9} \\rfloor`.
    weights : str, optional
        Column of positive observation weights (linearmodels path only).
    fast : bool, optional
        Use sustain's numpy within path (``None``: automatically for unweighted within
        fits with at least ``FAST_MIN_NOBS`` rows or more than two absorbed effects).

    Returns
    -------
    FEResults

    Raises
    ------
    SpecError
        Bad options, unknown variables, a frame that is not indexed (entity, time).
    DataError
        Duplicate (entity, time) rows.
    FitError
        Nothing left to estimate once collinear regressors are dropped, or the fit fails.

    Notes
    -----
    Rows with a missing value in any variable used (response, regressors, effects,
    clusters, weights) are dropped; ``nobs`` counts the rows used. A regressor the effects
    absorb (a tier that never changes within an agency under agency effects) or that is a
    linear combination of other regressors is dropped with a warning and a note in
    ``info.notes`` naming it. Clustering on a variable with fewer than ``FEW_CLUSTERS``
    groups (districts, years) gives a warning and a note: cluster-robust standard errors
    over-reject with few clusters. Equations are in ``docs/models/fe.md``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> idx = pd.MultiIndex.from_product([range(50), range(2012, 2020)], names=["agency_id", "year"])
    >>> df = pd.DataFrame({"hhi": rng.uniform(size=400), "gov_share": rng.uniform(size=400)}, index=idx)
    >>> df["quality"] = 60 + 8 * df["hhi"] - 4 * df["gov_share"] + rng.normal(size=400)
    >>> fe = fit_fe(df, "quality ~ hhi + gov_share", effects=("agency_id", "year"), cluster="agency_id")
    >>> fe.params.round(1).to_dict()
    {'hhi': 8.2, 'gov_share': -3.4}
    >>> fe.nobs, fe.n_clusters, fe.n_absorbed
    (400, 50, 57)
    """
    options = resolve_options(data, formula, effects, estimator, cov_type, cluster, bandwidth)
    prepared = prepare(data, formula, options, weights)
    fast_path = use_fast(fast, options, weights, len(prepared.y))
    columns = list(prepared.X.columns)
    block = _absorb_block(prepared, options) if fast_path else None
    transformed = None if block is None else block.values[:, 1:]
    prepared, notes = drop_collinear(prepared, options, transformed)
    notes += _few_clusters(prepared, options)
    if block is not None:
        out = _fit_fast(prepared, options, bandwidth, block, columns)
    else:
        out = fit_linearmodels(_lm_spec(prepared, options, bandwidth, weights))
    out = _connected_dof(out, prepared, options)
    theta = getattr(out.raw, "theta", None) if options.estimator == "random" else None
    pieces = build_pieces(
        prepared,
        options,
        out.params,
        data,
        out.n_absorbed,
        None if theta is None else theta.iloc[:, 0],
    )
    if pieces is not None:  # what margins and predictions need (sustain.inference.design)
        pieces = dataclasses.replace(pieces, frame=_model_frame(data, formula, prepared, out))
    return FEResults(
        params_=out.params,
        cov=out.cov,
        info=_info(prepared, out, formula, options, notes),
        df_resid=out.df_resid,
        pieces=pieces,
        backend="sustain" if fast_path else "linearmodels",
    )


def _model_frame(data: pd.DataFrame, formula: str, p: Prepared, out: BackendFit) -> ModelFrame:
    """The formula's variables on the fitted rows (never the whole frame)."""
    rows = data.index.get_indexer(p.y.index) if not data.index.equals(p.y.index) else None
    fitted = data if rows is None else data.iloc[rows]
    names = [str(n) for n in out.params.index]
    return model_frame(fitted, formula, names, spec=p.spec, outcome=p.y.to_numpy())


def _few_clusters(p: Prepared, options: Options) -> tuple[str, ...]:
    """A warning and note for each cluster variable with fewer than ``FEW_CLUSTERS`` groups."""
    notes = []
    for name in options.clusters:
        count = effect_codes(p, name).n_levels
        if count < FEW_CLUSTERS:
            notes.append(
                f"Only {count} clusters of {name}: cluster-robust standard errors and tests "
                f"are unreliable with fewer than about {FEW_CLUSTERS} clusters (Cameron and "
                "Miller 2015); read them with caution or use a wild cluster bootstrap."
            )
    for note in notes:
        warnings.warn(note, stacklevel=3)
    return tuple(notes)


def _connected_dof(out: BackendFit, p: Prepared, options: Options) -> BackendFit:
    """Count the degrees of freedom of two absorbed effects exactly, whatever the back end.

    Both back ends count :math:`L_1 + L_2 - 1` (linearmodels' rule), which is too many when
    the effects' levels form several connected groups (``fe_fast.redundant_levels``), e.g.
    agency with district x year effects; Stata's ``xtreg`` with dummies drops the redundant
    ones. Every covariance estimator scales by :math:`1/(n - d - k)` when the effects are
    counted (always for two effects), so the fix rescales the covariance by the ratio of the
    residual degrees of freedom. Further effects are counted conservatively.
    """
    if len(options.absorbed) < 2:
        return out
    first, second = (effect_codes(p, name) for name in options.absorbed[:2])
    redundant = fe_fast.redundant_levels(first, second)
    if redundant == 0:
        return out
    df_resid = out.df_resid + redundant
    return dataclasses.replace(
        out,
        cov=out.cov * (out.df_resid / df_resid),
        df_resid=df_resid,
        n_absorbed=out.n_absorbed - redundant,
    )


# --------------------------------------------------------------------------- back ends


def _cluster_codes(p: Prepared, clusters: tuple[str, ...]) -> np.ndarray:
    return np.column_stack([effect_codes(p, name).codes for name in clusters])


def _lm_spec(
    p: Prepared, options: Options, bandwidth: float | None, weights: str | None
) -> LinearmodelsSpec:
    estimator, absorbed, clusters = options.estimator, options.absorbed, options.clusters
    other = [n for n in absorbed if n not in (p.entity, p.time)]
    other_codes = (
        pd.DataFrame({n: effect_codes(p, n).codes for n in other}, index=p.y.index)
        if other
        else None
    )
    cluster_frame = (
        pd.DataFrame(_cluster_codes(p, clusters), index=p.y.index, columns=list(clusters))
        if clusters
        else None
    )
    w = None
    if weights:
        w = pd.Series(p.weights, index=p.y.index)
        bad = ~(w > 0).to_numpy()
        if bad.any():
            rows, values = np.flatnonzero(bad), w[bad].astype(str).to_numpy()
            raise DataError(problem_rows("panel", rows, weights, "weights must be > 0", values))
    return LinearmodelsSpec(
        estimator=estimator,
        y=p.y,
        X=p.X,
        entity_effects=p.entity in absorbed,
        time_effects=p.time in absorbed,
        other_effects=other_codes,
        cov_type=options.cov_type,
        clusters=cluster_frame,
        bandwidth=bandwidth,
        weights=w,
    )


def _absorb_block(p: Prepared, options: Options) -> fe_fast.Absorbed:
    """Response and all regressors with the effects absorbed, in one pass: (n, 1 + k)."""
    effects = [effect_codes(p, n) for n in options.absorbed]
    block = np.column_stack([p.y.to_numpy(), p.X.to_numpy()])
    return fe_fast.absorb(block, effects)


def _fit_fast(
    p: Prepared,
    options: Options,
    bandwidth: float | None,
    block: fe_fast.Absorbed,
    columns: list[str],
) -> BackendFit:
    """Within fit on the absorbed ``block`` (response, then the regressors ``columns``)."""
    cov, clusters = options.cov_type, options.clusters
    effects = [effect_codes(p, n) for n in options.absorbed]
    names = list(p.X.columns)
    y_t = block.values[:, 0]
    keep = [1 + columns.index(name) for name in names]
    fit = fe_fast.within_ols(y_t, block.values[:, keep])
    n_absorbed = fe_fast.absorbed_dof(effects)
    extra_df = n_absorbed
    if cov == "clustered":
        codes = _cluster_codes(p, clusters)
        if len(effects) == 1 and _nested(effects[0].codes, codes):
            extra_df = 0  # linearmodels' auto_df: a single effect nested in the clusters
        matrix = fe_covariance.clustered(
            fit.X, fit.resid, extra_df, codes.squeeze(axis=1) if codes.shape[1] == 1 else codes
        )
    elif cov == "driscoll_kraay":
        time_codes = pd.factorize(p.y.index.get_level_values(p.time), sort=True)[0]
        matrix = fe_covariance.driscoll_kraay(fit.X, fit.resid, extra_df, time_codes, bandwidth)
    elif cov == "robust":
        matrix = fe_covariance.robust(fit.X, fit.resid, extra_df)
    else:
        matrix = fe_covariance.unadjusted(fit.X, fit.resid, extra_df)
    r2 = 1.0 - float(fit.resid @ fit.resid) / float(y_t @ y_t) if y_t.any() else np.nan
    nobs = len(p.y)
    return BackendFit(
        params=pd.Series(fit.params, index=names),
        cov=pd.DataFrame(matrix, index=names, columns=names),
        nobs=nobs,
        df_resid=float(nobs - n_absorbed - len(names)),
        n_absorbed=n_absorbed,
        stats={"r2": r2},
        raw={"method": block.method, "iterations": block.iterations},
    )


def _nested(effect_codes: np.ndarray, clusters: np.ndarray) -> bool:
    """Whether every level of the effect lies inside one group of every cluster variable."""
    n_levels = int(effect_codes.max()) + 1
    for column in clusters.T:
        pairs = pd.unique(effect_codes * (int(column.max()) + 1) + column)
        if len(pairs) != n_levels:
            return False
    return True


# --------------------------------------------------------------------------- results


def r2_measures(y: np.ndarray, fitted: np.ndarray, entity_codes: np.ndarray) -> dict[str, float]:
    """Stata's within, between and overall R² (squared correlations).

    Parameters
    ----------
    y : ndarray, shape (n,)
        Response.
    fitted : ndarray, shape (n,)
        :math:`x_{it}'\\hat\\beta` (absorbed effects excluded).
    entity_codes : ndarray of int, shape (n,)
        Entity of each row.

    Returns
    -------
    dict
        ``r2_within`` = corr(y - ȳ_i, ŷ - ŷ̄_i)², ``r2_between`` = corr(ȳ_i, ŷ̄_i)² over
        entities, ``r2_overall`` = corr(y, ŷ)².

    Examples
    --------
    >>> y = np.array([1.0, 2.0, 3.0, 5.0]); codes = np.array([0, 0, 1, 1])
    >>> r2_measures(y, y, codes)["r2_overall"]
    1.0
    """
    effect = fe_fast.Effect("entity", entity_codes, int(entity_codes.max()) + 1)
    both = np.column_stack([y, fitted])
    means = fe_fast.group_means(both, effect)
    within = both - means[entity_codes]

    def corr2(a: np.ndarray, b: np.ndarray) -> float:
        if np.ptp(a) == 0:
            return float("nan")
        if np.ptp(b) <= 1e-12 * max(np.abs(b).max(), 1.0):
            return 0.0
        return float(np.corrcoef(a, b)[0, 1] ** 2)

    return {
        "r2_within": corr2(within[:, 0], within[:, 1]),
        "r2_between": corr2(means[:, 0], means[:, 1]),
        "r2_overall": corr2(y, fitted),
    }


def _info(
    p: Prepared, out: BackendFit, formula: str, options: Options, notes: tuple[str, ...]
) -> ModelInfo:
    estimator, absorbed, clusters = options.estimator, options.absorbed, options.clusters
    X = p.X[list(out.params.index)].to_numpy()
    fitted = X @ out.params.to_numpy()
    entity_codes = p.codes[p.entity].codes
    names = dict.fromkeys([p.entity, p.time, *absorbed, *clusters])
    groups = {name: p.codes[name].n_levels for name in names}
    fit_stats = {**out.stats, **r2_measures(p.y.to_numpy(), fitted, entity_codes)}
    fit_stats["n_absorbed"] = out.n_absorbed
    if clusters:
        fit_stats["n_clusters"] = min(groups[c] for c in clusters)
    if estimator == "within":
        label = {1: "One-way FE", 2: "Two-way FE"}.get(len(absorbed), f"{len(absorbed)}-way FE")
    else:
        label = _LABELS[estimator]
    return ModelInfo(
        model=label,
        estimator=estimator,
        depvar=str(p.y.name),
        formula=formula,
        nobs=out.nobs,
        groups=groups,
        effects=absorbed,
        cov_type=options.cov_type,
        cluster=clusters,
        stats=fit_stats,
        notes=notes,
    )
