"""Discrete-time hazard models of agency exit on the agency-year panel.

Each agency-year at risk is a Bernoulli trial: did the agency close this year? The exit
probability is linked to covariates and to duration dependence in age (dummies for age bands
or a B-spline) through a logit or complementary log-log link, fitted by statsmodels' GLM with
standard errors clustered by agency. Rows after an agency's first exit never enter; agencies
founded before the data window enter at their first observed age (left truncation is handled
by conditioning on the rows observed).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

import numpy as np
import pandas as pd

from sustain._typing import BoolArray, FloatArray, IntArray
from sustain.errors import FitError, SpecError
from sustain.formula import check_columns, design, parse_formula
from sustain.inference.covariance import cluster_covariance
from sustain.inference.design import ModelFrame, model_frame
from sustain.models.survival.spells import (
    as_columns,
    at_risk_rows,
    check_full_rank,
    event_indicator,
)
from sustain.options import DurationForm, Link, check_choice
from sustain.results import FrequentistResults, ModelInfo

if TYPE_CHECKING:  # pragma: no cover - competing imports this module's duration helpers
    from sustain.models.survival.competing import CompetingHazardResults


@dataclass(frozen=True, eq=False)
class HazardPieces:
    """What a hazard fit keeps to recompute without refitting (no copy of the data frame).

    Attributes
    ----------
    X : ndarray, shape (n, k)
        The design of the at-risk rows (formula terms and duration terms).
    y : ndarray of bool, shape (n,)
        Exit indicators.
    bread : ndarray, shape (k, k)
        Model-based covariance (inverse expected information).
    scores : ndarray, shape (n, k)
        Score contributions of each row at the estimates.
    clusters : mapping of str to ndarray
        Codes of the cluster variable of the fit.
    link : {"cloglog", "logit"}
    frame : ModelFrame or None
        The formula's variables (and the duration) on the at-risk rows, with the groupings of
        those rows (margins, predictions, bootstraps clustered by another variable; see
        :mod:`sustain.inference.design`).

    Examples
    --------
    >>> HazardPieces(np.ones((1, 1)), np.ones(1, bool), np.eye(1), np.zeros((1, 1)), {},
    ...              "logit").link
    'logit'
    """

    X: FloatArray
    y: BoolArray
    bread: FloatArray
    scores: FloatArray
    clusters: Mapping[str, IntArray]
    link: str
    frame: ModelFrame | None = None


@dataclass(frozen=True, eq=False)
class HazardResults(FrequentistResults):
    """A fitted discrete-time hazard model.

    ``params`` hold the intercept, the covariates and the duration terms (named
    ``"<duration>[...]"``, e.g. ``age[3]``, ``age[5-7]`` or ``age[bs1]``); tables can hide the
    ones listed in ``duration_terms``. With the cloglog link ``exp(coef)`` is a hazard ratio
    of the underlying continuous-time hazard (``info.exp_name == "HR"``); with the logit
    link it is an odds ratio of exiting in a year (``"OR"``).

    ``raw`` is the statsmodels ``GLMResults`` (its own covariance is the model-based one;
    ``cov`` here is clustered unless ``cluster=None``).

    Attributes
    ----------
    duration_terms : tuple of str
        Names of the duration-dependence terms.
    duration_bands : tuple of (float, float)
        Lowest and highest duration of each dummy band (empty for splines).

    Examples
    --------
    >>> import sustain
    >>> panel = sustain.build_panel(sustain.datasets.example())
    >>> res = sustain.fit_hazard(panel, "exit ~ hhi + log_revenue", duration="age")
    >>> res.info.exp_name, res.duration_terms[0].startswith("age[")
    ('HR', True)
    """

    duration_terms: tuple[str, ...] = ()
    duration_bands: tuple[tuple[float, float], ...] = ()

    @property
    def covariate_terms(self) -> tuple[str, ...]:
        """Terms other than the intercept and the duration terms."""
        hidden = {*self.duration_terms, "Intercept"}
        return tuple(t for t in self.params_.index if t not in hidden)


def duration_bands(
    duration: FloatArray, event: BoolArray, min_events: int = 1
) -> list[tuple[float, float]]:
    """Group distinct durations into consecutive bands that each have events and survivors.

    Walking up from the lowest duration, a band closes once it holds at least ``min_events``
    events and one row without an event; trailing durations that never reach that are merged
    into the last band. Without this, an age with no exits would get a dummy whose estimate
    runs off to minus infinity.

    Examples
    --------
    >>> import numpy as np
    >>> age = np.array([0, 0, 1, 1, 2, 2, 3, 3, 4])
    >>> exit = np.array([1, 0, 0, 0, 0, 1, 0, 0, 0], bool)
    >>> duration_bands(age, exit)
    [(0.0, 0.0), (1.0, 4.0)]
    """
    return outcome_bands(duration, np.asarray(event, np.int64), 1, min_events, "event(s)")


def outcome_bands(
    duration: FloatArray, outcome: IntArray, n_causes: int, min_events: int, what: str
) -> list[tuple[float, float]]:
    """Consecutive duration bands in which each of the ``n_causes`` causes (outcome 1 ..
    ``n_causes``; 0 is staying) has ``min_events`` exits and some rows stay; the core of
    :func:`duration_bands` and of the competing-risks bands. ``what`` names the events in the
    error raised when not even one band can be formed.

    Examples
    --------
    >>> import numpy as np
    >>> outcome_bands(np.array([0, 0, 1, 1]), np.array([2, 0, 1, 0]), 2, 1, "exits")
    [(0.0, 1.0)]
    """
    values, inverse = np.unique(np.asarray(duration, float), return_inverse=True)
    counts = np.zeros((len(values), n_causes + 1))
    np.add.at(counts, (inverse, np.asarray(outcome, np.int64)), 1.0)
    bands: list[tuple[float, float]] = []
    low, running = None, np.zeros(n_causes + 1)
    for value, row in zip(values, counts, strict=True):
        low = value if low is None else low
        running = running + row
        if running[0] >= 1 and (running[1:] >= min_events).all():
            bands.append((float(low), float(value)))
            low, running = None, np.zeros(n_causes + 1)
    if low is not None:
        if not bands:
            raise FitError(
                f"duration dependence needs at least {min_events} {what} and one row "
                "without an event; the data have too few (use duration=None or a spline)"
            )
        bands[-1] = (bands[-1][0], float(values[-1]))
    return bands


def band_label(name: str, band: tuple[float, float]) -> str:
    """Term name of a duration band, e.g. ``age[3]`` or ``age[5-7]``.

    Examples
    --------
    >>> band_label("age", (5.0, 7.0)), band_label("age", (3.0, 3.0))
    ('age[5-7]', 'age[3]')
    """
    low, high = band
    return f"{name}[{low:g}]" if low == high else f"{name}[{low:g}-{high:g}]"


def duration_dummies(
    duration: pd.Series, bands: list[tuple[float, float]], drop_first: bool
) -> pd.DataFrame:
    """0/1 indicator columns of the duration bands (the first dropped as reference).

    Examples
    --------
    >>> import pandas as pd
    >>> duration_dummies(pd.Series([0, 1, 5]), [(0, 0), (1, 5)], drop_first=True)
       age[1-5]
    0       0.0
    1       1.0
    2       1.0
    """
    name = str(duration.name or "age")
    uppers = np.array([high for _, high in bands])
    band = np.minimum(
        np.searchsorted(uppers, duration.to_numpy(float), side="left"), len(bands) - 1
    )
    columns = {band_label(name, b): (band == i).astype(float) for i, b in enumerate(bands)}
    out = pd.DataFrame(columns, index=duration.index)
    return out.iloc[:, 1:] if drop_first else out


def duration_spline(duration: pd.Series, df: int) -> pd.DataFrame:
    """Cubic B-spline basis of duration with ``df`` columns (no intercept column).

    Examples
    --------
    >>> import pandas as pd
    >>> list(duration_spline(pd.Series(range(10), name="age"), 3).columns)
    ['age[bs1]', 'age[bs2]', 'age[bs3]']
    """
    from formulaic import model_matrix

    name = str(duration.name or "age")
    frame = pd.DataFrame({"duration": duration.to_numpy(float)}, index=duration.index)
    basis = pd.DataFrame(model_matrix(f"bs(duration, df={int(df)}) - 1", frame))
    basis.columns = [f"{name}[bs{i + 1}]" for i in range(basis.shape[1])]
    return basis


@overload
def fit_hazard(
    panel: pd.DataFrame,
    formula: str,
    link: Link | None = None,
    duration: str | None = "age",
    duration_form: DurationForm = "dummies",
    spline_df: int = 4,
    cluster: str | None = "agency_id",
    entity: str = "agency_id",
    time: str = "year",
    min_events: int = 1,
    competing: None = None,
) -> HazardResults: ...


@overload
def fit_hazard(
    panel: pd.DataFrame,
    formula: str,
    link: Link | None = None,
    duration: str | None = "age",
    duration_form: DurationForm = "dummies",
    spline_df: int = 4,
    cluster: str | None = "agency_id",
    entity: str = "agency_id",
    time: str = "year",
    min_events: int = 1,
    *,
    competing: str,
) -> CompetingHazardResults: ...


def fit_hazard(
    panel: pd.DataFrame,
    formula: str,
    link: Link | None = None,
    duration: str | None = "age",
    duration_form: DurationForm = "dummies",
    spline_df: int = 4,
    cluster: str | None = "agency_id",
    entity: str = "agency_id",
    time: str = "year",
    min_events: int = 1,
    competing: str | None = None,
) -> HazardResults | CompetingHazardResults:
    """Fit a discrete-time hazard model of exit on the agency-year panel.

    Parameters
    ----------
    panel : DataFrame
        Agency-year panel indexed (``entity``, ``time``) or holding them as columns.
    formula : str
        ``"exit ~ hhi + log_revenue + C(district)"``; the response is the 0/1 exit indicator.
    link : {"cloglog", "logit"}, optional
        Complementary log-log (the default; coefficients are log hazard ratios of the
        underlying continuous-time hazard) or logit (log odds ratios of exiting in a year).
        With ``competing`` the model is a multinomial logit and only ``"logit"`` (or the
        default) is accepted.
    duration : str or None
        Column measuring duration (``"age"``); ``None`` fits no duration dependence.
    duration_form : {"dummies", "spline"}
        Dummies for age bands (each band holds at least ``min_events`` exits; the lowest band
        is the reference when the model has an intercept) or a cubic B-spline.
    spline_df : int
        Degrees of freedom (columns) of the spline.
    cluster : str or None
        Cluster standard errors by this column (default the agency); ``None`` gives
        model-based standard errors.
    entity, time : str
        Agency identifier and calendar year, used to drop rows after an agency's first exit.
    min_events : int
        Minimum number of exits per duration band (with ``competing``: of every cause).
    competing : str, optional
        Column of exit reasons (``"exit_reason"``): fits the discrete-time competing-risks
        model, a multinomial logit with one equation per cause against staying, each with its
        own duration dependence (:mod:`sustain.models.survival.competing`). Exits with a blank
        reason form the cause ``"unknown"``.

    Returns
    -------
    HazardResults or CompetingHazardResults
        ``info.stats`` holds ``n_events``, ``loglik`` and ``aic``; ``info.groups`` the number
        of agencies (and clusters). With ``competing``, params are indexed ``"cause:term"``.

    Raises
    ------
    SpecError
        Bad formula or options, unknown columns.
    DataError
        Response not 0/1.
    FitError
        No events, collinear terms or a failed fit.

    Notes
    -----
    ``g(P(exit_it = 1 | at risk)) = alpha(age_it) + x_it' beta`` with ``g`` the cloglog or
    logit link. See ``docs/models/survival.md``.

    Examples
    --------
    >>> import sustain
    >>> panel = sustain.build_panel(sustain.datasets.example())
    >>> res = sustain.fit_hazard(panel, "exit ~ hhi + gov_share", link="logit", duration=None)
    >>> list(res.params.index), res.info.exp_name
    (['Intercept', 'hhi', 'gov_share'], 'OR')
    >>> cr = sustain.fit_hazard(panel, "exit ~ hhi", competing="exit_reason", duration=None)
    >>> cr.params.index[:2].tolist()
    ['closed:Intercept', 'closed:hhi']
    """
    _check_options(duration_form, spline_df, min_events)
    if competing is not None:  # the multinomial logit of sustain.models.survival.competing
        options = (duration, duration_form, spline_df, cluster, entity, time, min_events)
        return _competing(panel, formula, link, competing, options)
    link_name = check_choice("link", "cloglog" if link is None else link, Link)
    parsed = parse_formula(formula)
    if parsed.group_terms:
        raise SpecError(
            f"formula {formula!r}: group terms need a Bayesian model (sustain.fit_bayes)"
        )
    frame = as_columns(panel)
    n_total = len(frame)
    extra = tuple(c for c in (entity, time, duration, cluster) if c is not None)
    check_columns(frame, parsed.fixed_formula, extra=extra)
    if parsed.lhs not in frame.columns:
        raise SpecError(f"formula {formula!r}: the response must be a 0/1 column such as exit")
    keep = at_risk_rows(frame, entity, time, parsed.lhs)
    n_after_exit = int((~keep).sum())
    frame = frame.loc[keep].dropna(subset=list(extra))
    d = design(frame, parsed.fixed_formula, intercept=True)
    y = event_indicator(d.y if d.y is not None else pd.Series(dtype=float), parsed.lhs)
    if not y.any() or y.all():
        raise FitError(
            f"fit_hazard: {parsed.lhs} must have both exits and survivals; "
            f"it has {int(y.sum())} exits in {len(y)} rows"
        )
    bands_of = functools.partial(duration_bands, event=y, min_events=min_events)
    X, terms, bands = with_duration(d.X, frame, duration, duration_form, spline_df, bands_of)
    check_full_rank(X, "fit_hazard")
    rows = frame.loc[d.rows]
    raw, fit_notes = _glm(y, X, link_name)
    bread = np.asarray(raw.cov_params())
    scores = np.asarray(raw.model.score_obs(raw.params))
    cov, groups = bread, None
    if cluster is not None:
        groups = pd.factorize(rows[cluster])[0].astype(np.int64)
        if groups.max() < 1:
            raise FitError(f"fit_hazard: clustering by {cluster!r} needs at least two clusters")
        cov = cluster_covariance(bread, scores, groups, "r_vcovcl")  # R vcovCL HC1
    n_missing = n_total - n_after_exit - len(rows)
    notes = _notes(n_after_exit, n_missing, bands, duration, X, y) + fit_notes
    return HazardResults(
        params_=pd.Series(np.asarray(raw.params), index=X.columns),
        cov=pd.DataFrame(cov, index=X.columns, columns=X.columns),
        info=_info(formula, parsed.lhs, link_name, rows, y, raw, entity, cluster, notes),
        pieces=HazardPieces(
            X=X.to_numpy(float),
            y=np.asarray(y, dtype=bool),
            bread=bread,
            scores=scores,
            clusters={} if cluster is None or groups is None else {cluster: groups},
            link=link_name,
            frame=model_frame(
                rows, formula, d.X.columns, d.spec, y, extra=() if duration is None else (duration,)
            ),
        ),
        duration_terms=tuple(terms),
        duration_bands=tuple(bands),
    )


def _competing(
    panel: pd.DataFrame, formula: str, link: str | None, competing: str, options: tuple[Any, ...]
) -> CompetingHazardResults:
    if link not in (None, "logit"):
        raise SpecError(
            f"link={link!r}: the competing-risks model is a multinomial logit; "
            "leave link unset or pass 'logit'"
        )
    from sustain.models.survival.competing import fit_competing

    return fit_competing(panel, formula, competing, *options)


def _check_options(duration_form: str, spline_df: int, min_events: int) -> None:
    check_choice("duration_form", duration_form, DurationForm)
    if not isinstance(spline_df, int | np.integer) or spline_df < 3:
        raise SpecError(f"spline_df must be an integer >= 3 (cubic B-spline), got {spline_df!r}")
    if not isinstance(min_events, int | np.integer) or min_events < 1:
        raise SpecError(f"min_events must be a positive integer, got {min_events!r}")


def with_duration(
    X: pd.DataFrame,
    frame: pd.DataFrame,
    duration: str | None,
    form: str,
    spline_df: int,
    bands_of: Callable[[FloatArray], list[tuple[float, float]]],
) -> tuple[pd.DataFrame, list[str], list[tuple[float, float]]]:
    """Append the duration terms to the design matrix: a spline, or dummies of the bands that
    ``bands_of`` forms from the durations (one cause: :func:`duration_bands`; competing causes:
    bands with exits of every cause)."""
    if duration is None:
        return X, [], []
    values = pd.to_numeric(frame.loc[X.index, duration], errors="coerce").rename(duration)
    if form == "spline":
        basis = duration_spline(values, spline_df)
        bands: list[tuple[float, float]] = []
    else:
        bands = bands_of(values.to_numpy(float))
        basis = duration_dummies(values, bands, drop_first="Intercept" in X.columns)
    clash = sorted(set(basis.columns) & set(X.columns))
    if clash:
        raise SpecError(f"duration terms {clash} clash with formula terms")
    return pd.concat([X, basis], axis=1), list(basis.columns), bands


def _glm(y: BoolArray, X: pd.DataFrame, link: str) -> tuple[Any, tuple[str, ...]]:
    """Fit the Bernoulli GLM (model-based covariance from the expected information)."""
    import statsmodels.api as sm
    from statsmodels.genmod.families import links

    link_function = links.CLogLog() if link == "cloglog" else links.Logit()
    family = sm.families.Binomial(link=link_function)
    model = sm.GLM(y.astype(float), X.to_numpy(float), family=family)
    # Newton from the marginal exit rate needs only X'WX per step, several times faster than
    # IRLS's least-squares solves on long panels. IRLS then polishes from there (one or two
    # steps) so that the covariance uses the expected information, as R's glm does. Newton's
    # own warnings are dropped: only the final IRLS fit's are reported.
    start = np.zeros(X.shape[1])
    if "Intercept" in X.columns:
        start[X.columns.get_loc("Intercept")] = link_function(np.clip(y.mean(), 1e-6, 1 - 1e-6))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            newton = model.fit(method="newton", start_params=start, maxiter=100, disp=False)
        polish = newton.params if np.isfinite(newton.params).all() else None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            raw = model.fit(start_params=polish, maxiter=200)
    except Exception as exc:  # statsmodels raises several types on degenerate data
        raise FitError(f"fit_hazard: the GLM could not be fitted: {exc}") from exc
    if not np.all(np.isfinite(raw.params)):
        raise FitError("fit_hazard: the GLM returned non-finite estimates")
    messages = tuple(dict.fromkeys(str(w.message).splitlines()[0] for w in caught))
    return raw, tuple(f"statsmodels: {m}" for m in messages)


def _notes(
    n_after_exit: int,
    n_missing: int,
    bands: list[tuple[float, float]],
    duration: str | None,
    X: pd.DataFrame,
    y: BoolArray,
) -> tuple[str, ...]:
    notes = []
    if n_after_exit:
        notes.append(f"{n_after_exit} rows after an agency's first exit were dropped.")
    if n_missing:
        notes.append(f"{n_missing} rows with missing values were dropped.")
    if bands and "Intercept" in X.columns and duration is not None:
        notes.append(f"Reference duration band: {band_label(duration, bands[0])}.")
    merged = [b for b in bands if b[0] != b[1]]
    if merged and duration is not None:
        labels = ", ".join(band_label(duration, b) for b in merged)
        notes.append(f"Durations without exits were merged into bands: {labels}.")
    for column in X.columns:
        values = X[column].to_numpy()
        if np.isin(values, (0.0, 1.0)).all() and values.any() and not y[values == 1].any():
            notes.append(f"No exits where {column} = 1: its coefficient is not identified.")
    return tuple(notes)


def _info(
    formula: str,
    depvar: str,
    link: str,
    rows: pd.DataFrame,
    y: BoolArray,
    raw: Any,
    entity: str,
    cluster: str | None,
    notes: tuple[str, ...],
) -> ModelInfo:
    groups = {entity: int(rows[entity].nunique())}
    if cluster is not None:
        groups[cluster] = int(rows[cluster].nunique())
    return ModelInfo(
        model=f"Hazard ({link})",
        estimator="hazard",
        depvar=depvar,
        formula=formula,
        nobs=len(rows),
        groups=groups,
        cov_type="clustered" if cluster is not None else "unadjusted",
        cluster=(cluster,) if cluster is not None else (),
        stats={"n_events": int(y.sum()), "loglik": float(raw.llf), "aic": float(raw.aic)},
        link=link,
        exp_name="HR" if link == "cloglog" else "OR",
        notes=notes,
    )
