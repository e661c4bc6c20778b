"""Discrete-time competing risks of exit: a multinomial logit on the agency-years at risk.

Each agency-year at risk ends in one of ``J + 1`` outcomes: the agency stays, or it exits for
one of ``J`` causes (closure, merger, losing every contract, ...). The cause-specific hazards

.. math:: P(\\text{exit for cause } k \\mid \\text{at risk}) =
          \\frac{\\exp(\\eta_k)}{1 + \\sum_j \\exp(\\eta_j)}, \\qquad
          \\eta_k = \\alpha_k(\\text{age}) + x'\\beta_k,

are one logit equation per cause against staying, with duration dependence of their own
(Allison 1982; Tutz and Schmid 2016, ch. 8). statsmodels' ``MNLogit`` fits the model; the
standard errors are clustered by agency with the shared kernel of
:mod:`sustain.inference.covariance` (R ``sandwich::vcovCL`` HC1 convention, as ``fit_hazard``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from sustain._typing import FloatArray, IntArray
from sustain.errors import FitError, SpecError
from sustain.formula import check_columns, design, parse_formula
from sustain.inference.covariance import cluster_covariance
from sustain.models.survival.hazard import (
    band_label,
    outcome_bands,
    with_duration,
)
from sustain.models.survival.spells import (
    as_columns,
    at_risk_rows,
    check_full_rank,
    event_indicator,
)
from sustain.results import FrequentistResults, ModelInfo

#: Cause given to exits whose reason is blank.
UNKNOWN_CAUSE = "unknown"
#: Name of the reference outcome (no exit) in summaries.
STAY = "stay"


@dataclass(frozen=True, eq=False)
class CompetingPieces:
    """What a competing-risks fit keeps to recompute (arrays, never the user's frame).

    Attributes
    ----------
    X : ndarray, shape (n, k)
        Design of the at-risk rows (formula and duration terms).
    outcome : ndarray of int, shape (n,)
        0 for staying, ``j`` for an exit for cause ``causes[j - 1]``.
    bread : ndarray, shape (k J, k J)
        Inverse observed information, equation by equation.
    scores : ndarray, shape (n, k J)
        Score contributions of each row, in the same order.
    clusters : ndarray of int or None, shape (n,)
        Cluster codes of the fit.

    Examples
    --------
    >>> CompetingPieces(np.ones((1, 1)), np.zeros(1, int), np.eye(1), np.zeros((1, 1)), None).X
    array([[1.]])
    """

    X: FloatArray
    outcome: IntArray
    bread: FloatArray
    scores: FloatArray
    clusters: IntArray | None


@dataclass(frozen=True, eq=False)
class CompetingHazardResults(FrequentistResults):
    """A fitted discrete-time competing-risks model (multinomial logit against staying).

    ``params`` are indexed ``"<cause>:<term>"`` (``merged:hhi``); ``exp(coef)`` is the relative
    risk ratio of exiting for that cause rather than staying (``info.exp_name == "RRR"``).

    Attributes
    ----------
    causes : tuple of str
        The causes, in the order of the equations.
    terms : tuple of str
        Terms of every equation (formula terms, then duration terms).
    duration_terms : tuple of str
        Names of the duration-dependence terms (without the cause prefix).
    duration_bands : tuple of (float, float)
        Lowest and highest duration of each dummy band.

    Examples
    --------
    >>> import sustain
    >>> panel = sustain.build_panel(sustain.datasets.example())
    >>> cr = sustain.fit_hazard(panel, "exit ~ hhi", competing="exit_reason", duration=None)
    >>> cr.causes
    ('closed', 'deregistered', 'lost_contracts', 'merged')
    >>> list(cr.equation("merged").index)
    ['Intercept', 'hhi']
    """

    causes: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()
    duration_terms: tuple[str, ...] = ()
    duration_bands: tuple[tuple[float, float], ...] = ()

    @property
    def covariate_terms(self) -> tuple[str, ...]:
        """Terms other than the intercept and the duration terms."""
        hidden = {*self.duration_terms, "Intercept"}
        return tuple(t for t in self.terms if t not in hidden)

    def equation(self, cause: str) -> pd.Series:
        """The coefficients of one cause's equation, indexed by term.

        Raises
        ------
        SpecError
            For an unknown cause.
        """
        if cause not in self.causes:
            raise SpecError(f"cause {cause!r} not found; causes are {list(self.causes)}")
        values = [self.params_[f"{cause}:{t}"] for t in self.terms]
        return pd.Series(values, index=list(self.terms), name=cause)

    def cause_result(self, cause: str) -> CauseEquation:
        """One cause's equation as a result of its own (tables show one column per cause).

        Examples
        --------
        >>> import sustain
        >>> panel = sustain.build_panel(sustain.datasets.example())
        >>> cr = sustain.fit_hazard(panel, "exit ~ hhi", competing="exit_reason", duration=None)
        >>> cr.cause_result("merged").info.depvar
        'exit_reason = merged'
        """
        params = self.equation(cause)
        names = [f"{cause}:{t}" for t in self.terms]
        cov = self.cov.loc[names, names].set_axis(list(self.terms), axis=0)
        cov = cov.set_axis(list(self.terms), axis=1)
        depvar = self.info.depvar.split(" by ")[-1]
        events = self.info.stats.get(f"n_events[{cause}]", np.nan)
        info = replace(
            self.info,
            model=cause,
            depvar=f"{depvar} = {cause}",
            stats={"n_events": events, "loglik": self.info.stats["loglik"]},
        )
        return CauseEquation(
            params_=params.rename(None),
            cov=cov,
            info=info,
            duration_terms=self.duration_terms,
        )

    def predict(self, design_rows: pd.DataFrame) -> pd.DataFrame:
        """Cause-specific hazards (and the probability of staying) for rows of the design.

        Parameters
        ----------
        design_rows : DataFrame
            Columns named as ``terms`` (formula terms and duration terms).

        Returns
        -------
        DataFrame
            One column per cause plus ``stay``; rows sum to one.
        """
        missing = [t for t in self.terms if t not in design_rows.columns]
        if missing:
            raise SpecError(f"predict needs the design columns {missing}")
        X = design_rows[list(self.terms)].to_numpy(float)
        beta = np.column_stack([self.equation(c).to_numpy() for c in self.causes])
        prob = multinomial_probabilities(X @ beta)
        out = pd.DataFrame(prob[:, 1:], columns=list(self.causes), index=design_rows.index)
        out.insert(0, STAY, prob[:, 0])
        return out


@dataclass(frozen=True, eq=False)
class CauseEquation(FrequentistResults):
    """One cause's equation of a competing-risks fit, as a result of its own.

    Examples
    --------
    >>> CauseEquation.__mro__[1].__name__
    'FrequentistResults'
    """

    duration_terms: tuple[str, ...] = ()


def multinomial_probabilities(eta: FloatArray) -> FloatArray:
    """Probabilities of staying and of each cause from linear predictors (shape (n, J)).

    Examples
    --------
    >>> multinomial_probabilities(np.zeros((1, 2))).round(3).tolist()
    [[0.333, 0.333, 0.333]]
    """
    z = np.column_stack([np.zeros(len(eta)), np.asarray(eta, float)])
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True), dtype=np.float64)


def cause_outcomes(
    exit_flag: np.ndarray, reason: pd.Series
) -> tuple[IntArray, tuple[str, ...], int]:
    """Outcome codes (0 stay, ``j`` cause ``j``) from the exit indicator and the reasons.

    Exits with a blank reason get the cause :data:`UNKNOWN_CAUSE`.

    Returns
    -------
    outcome : ndarray of int
    causes : tuple of str
        Sorted causes.
    n_unknown : int
        Exits whose reason was blank.

    Examples
    --------
    >>> out, causes, n = cause_outcomes(np.array([0, 1, 1]), pd.Series([None, "merged", None]))
    >>> out.tolist(), causes, n
    ([0, 1, 2], ('merged', 'unknown'), 1)
    """
    exits = np.asarray(exit_flag, dtype=bool)
    labels = reason.astype("object").where(reason.notna(), None).to_numpy(dtype=object)
    unknown = exits & pd.isna(labels)
    labels = np.where(unknown, UNKNOWN_CAUSE, labels)
    causes = tuple(sorted({str(v) for v in labels[exits]}))
    lookup = {c: i + 1 for i, c in enumerate(causes)}
    outcome = np.array([lookup[str(v)] if e else 0 for v, e in zip(labels, exits, strict=True)])
    return outcome.astype(np.int64), causes, int(unknown.sum())


def competing_duration_bands(
    duration: FloatArray, outcome: IntArray, n_causes: int, min_events: int = 1
) -> list[tuple[float, float]]:
    """Consecutive duration bands in which every cause has exits and some rows stay.

    As :func:`sustain.models.survival.hazard.duration_bands`, but a band closes only once
    each of the ``n_causes`` causes has ``min_events`` exits in it: a cause without exits in a
    band would get a band coefficient that runs off to minus infinity.

    Examples
    --------
    >>> age = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    >>> outcome = np.array([1, 0, 0, 2, 0, 1, 2, 0])
    >>> competing_duration_bands(age, outcome, 2)
    [(0.0, 1.0), (2.0, 2.0)]
    """
    return outcome_bands(duration, outcome, n_causes, min_events, "exit(s) of every cause")


def fit_competing(
    panel: pd.DataFrame,
    formula: str,
    competing: str,
    duration: str | None,
    duration_form: str,
    spline_df: int,
    cluster: str | None,
    entity: str,
    time: str,
    min_events: int,
) -> CompetingHazardResults:
    """The competing-risks branch of :func:`sustain.fit_hazard` (see its parameters).

    Examples
    --------
    >>> import sustain
    >>> panel = sustain.build_panel(sustain.datasets.example())
    >>> cr = fit_competing(panel, "exit ~ hhi", "exit_reason", "age", "dummies", 4,
    ...                    "agency_id", "agency_id", "year", 1)
    >>> cr.params.index[1]
    'closed:hhi'
    """
    parsed = parse_formula(formula)
    if parsed.group_terms:
        raise SpecError(f"formula {formula!r}: group terms need fit_bayes(family='categorical')")
    frame = as_columns(panel)
    extra = tuple(c for c in (entity, time, duration, cluster, competing) if c is not None)
    check_columns(frame, parsed.fixed_formula, extra=extra)
    keep = at_risk_rows(frame, entity, time, parsed.lhs)
    n_total, n_after_exit = len(frame), int((~keep).sum())
    needed = [c for c in extra if c != competing]
    frame = frame.loc[keep].dropna(subset=needed)
    d = design(frame, parsed.fixed_formula, intercept=True)
    rows = frame.loc[d.rows]
    exits = event_indicator(rows[parsed.lhs], parsed.lhs)
    outcome, causes, n_unknown = cause_outcomes(exits, rows[competing])
    if not causes:
        raise FitError(f"fit_hazard: {parsed.lhs} has no exits in {len(rows)} rows")
    X, dur_terms, bands = with_duration(
        d.X,
        rows,
        duration,
        duration_form,
        spline_df,
        lambda v: competing_duration_bands(v, outcome, len(causes), min_events),
    )
    check_full_rank(X, "fit_hazard")
    fit = mnlogit(outcome, X.to_numpy(float), len(causes))
    names = [f"{c}:{t}" for c in causes for t in X.columns]
    cov, groups = fit.bread, None
    if cluster is not None:
        groups = pd.factorize(rows[cluster])[0].astype(np.int64)
        if groups.max() < 1:
            raise FitError(f"fit_hazard: clustering by {cluster!r} needs at least two clusters")
        cov = cluster_covariance(fit.bread, fit.scores, groups, "r_vcovcl")
    notes = _notes(n_after_exit, n_total - n_after_exit - len(rows), n_unknown, bands, duration)
    info = ModelInfo(
        model="Competing risks (multinomial logit)",
        estimator="competing_hazard",
        depvar=f"{parsed.lhs} by {competing}",
        formula=formula,
        nobs=len(rows),
        groups={entity: int(rows[entity].nunique())}
        | ({cluster: int(rows[cluster].nunique())} if cluster else {}),
        cov_type="clustered" if cluster is not None else "unadjusted",
        cluster=(cluster,) if cluster is not None else (),
        stats={"n_events": int(exits.sum()), "loglik": fit.loglik, "aic": fit.aic}
        | {f"n_events[{c}]": int((outcome == j + 1).sum()) for j, c in enumerate(causes)},
        link="mlogit",
        exp_name="RRR",
        notes=notes + fit.notes,
    )
    return CompetingHazardResults(
        params_=pd.Series(fit.params, index=names),
        cov=pd.DataFrame(cov, index=names, columns=names),
        info=info,
        pieces=CompetingPieces(X.to_numpy(float), outcome, fit.bread, fit.scores, groups),
        causes=causes,
        terms=tuple(X.columns),
        duration_terms=tuple(dur_terms),
        duration_bands=tuple(bands),
    )


@dataclass(frozen=True, slots=True)
class MultinomialFit:
    """A multinomial logit fit as arrays.

    Attributes
    ----------
    params : ndarray, shape (k J,)
        Coefficients, equation by equation (cause 1's ``k`` terms first).
    bread : ndarray, shape (k J, k J)
        Inverse of the negative Hessian at the estimates.
    scores : ndarray, shape (n, k J)
        Score contributions.
    loglik, aic : float
    notes : tuple of str
        Convergence warnings.
    """

    params: FloatArray
    bread: FloatArray
    scores: FloatArray
    loglik: float
    aic: float
    notes: tuple[str, ...]


def mnlogit(outcome: IntArray, X: FloatArray, n_causes: int) -> MultinomialFit:
    """Fit the multinomial logit of ``outcome`` (0 = reference) on ``X`` with statsmodels.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.column_stack([np.ones(300), rng.normal(size=300)])
    >>> fit = mnlogit(rng.integers(0, 3, 300), X, 2)
    >>> fit.params.shape, fit.bread.shape
    ((4,), (4, 4))
    """
    import statsmodels.api as sm

    model = sm.MNLogit(np.asarray(outcome, np.int64), np.asarray(X, float))
    if len(np.unique(outcome)) != n_causes + 1:
        raise FitError("fit_hazard: every cause and staying must occur in the rows used")
    start = _start_values(outcome, X, n_causes)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            raw: Any = model.fit(start_params=start, method="newton", maxiter=100, disp=False)
        except Exception as exc:  # statsmodels raises several types on degenerate data
            raise FitError(f"fit_hazard: the multinomial logit could not be fitted: {exc}") from exc
    params = np.asarray(raw.params).ravel(order="F")
    if not np.all(np.isfinite(params)):
        raise FitError("fit_hazard: the multinomial logit returned non-finite estimates")
    notes = tuple(dict.fromkeys(f"statsmodels: {str(w.message).splitlines()[0]}" for w in caught))
    if not raw.mle_retvals.get("converged", True):
        notes += ("The multinomial logit did not converge in 100 Newton steps.",)
    bread = np.linalg.inv(-model.hessian(params))
    return MultinomialFit(
        params=params,
        bread=(bread + bread.T) / 2,
        scores=np.asarray(model.score_obs(params)),
        loglik=float(raw.llf),
        aic=float(raw.aic),
        notes=notes,
    )


def _start_values(outcome: IntArray, X: FloatArray, n_causes: int) -> FloatArray:
    """Intercepts at the log share of each cause against staying (when X has a constant)."""
    start = np.zeros((X.shape[1], n_causes))
    constant = np.flatnonzero(np.all(X == 1.0, axis=0))
    if len(constant):
        counts = np.bincount(outcome, minlength=n_causes + 1).astype(float)
        start[constant[0]] = np.log(np.maximum(counts[1:], 0.5) / counts[0])
    return start.ravel(order="F")


def _notes(
    n_after_exit: int,
    n_missing: int,
    n_unknown: int,
    bands: list[tuple[float, float]],
    duration: str | None,
) -> tuple[str, ...]:
    notes = []
    if n_after_exit:
        notes.append(f"{n_after_exit} rows after an agency's first exit were dropped.")
    if n_missing:
        notes.append(f"{n_missing} rows with missing values were dropped.")
    if n_unknown:
        notes.append(f"{n_unknown} exit(s) without a reason form the cause '{UNKNOWN_CAUSE}'.")
    if bands and duration is not None:
        notes.append(f"Reference duration band: {band_label(duration, bands[0])}.")
        merged = [band_label(duration, b) for b in bands if b[0] != b[1]]
        if merged:
            notes.append(
                "Durations without exits of every cause were merged into bands: "
                + ", ".join(merged)
                + "."
            )
    notes.append("Coefficients are log relative risks of each cause against staying.")
    return tuple(notes)
