"""Cox proportional hazards on counting-process ``(start, stop]`` data.

:func:`fit_cox` is the formula front-end: it builds the design with formulaic, checks the
times and event indicator, and hands arrays to the partial-likelihood code in
:mod:`sustain.models.survival.partial`, which reproduces R's ``survival::coxph`` (Efron or Breslow
ties, delayed entry, time-varying covariates, strata, clustered sandwich errors).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sustain.errors import SpecError
from sustain.formula import check_columns, design, parse_formula
from sustain.inference.design import model_frame
from sustain.models.survival import partial as cox_partial
from sustain.models.survival.baseline import CoxPieces, baseline_pieces
from sustain.models.survival.spells import as_columns, check_full_rank, data_error, event_indicator
from sustain.options import Ties, check_choice
from sustain.results import FrequentistResults, ModelInfo


@dataclass(frozen=True, eq=False)
class CoxResults(FrequentistResults):
    """A fitted Cox model: log hazard ratios with their covariance.

    Besides the common result protocol (``params``, ``bse``, ``conf_int()``, ``tidy()``,
    ``summary()``), it keeps the model-based covariance when ``cov`` is the clustered
    sandwich, and the tie method and strata used.

    Attributes
    ----------
    naive_cov : DataFrame
        Inverse information (model-based covariance); equals ``cov`` without clustering.
    ties : str
        ``"efron"`` or ``"breslow"``.
    strata : tuple of str
        Stratification columns (separate baseline hazards).

    Examples
    --------
    >>> from lifelines.datasets import load_rossi
    >>> res = fit_cox(load_rossi(), "fin + age + prio", start=None, stop="week",
    ...               event="arrest")
    >>> res.hazard_ratios().round(3).loc["prio"].tolist()
    [1.102, 1.044, 1.162]
    """

    naive_cov: pd.DataFrame | None = None
    ties: str = "efron"
    strata: tuple[str, ...] = ()

    @property
    def naive_bse(self) -> pd.Series:
        """Model-based standard errors (R's ``se(coef)``), whatever ``cov`` is."""
        cov = self.cov if self.naive_cov is None else self.naive_cov
        return pd.Series(np.sqrt(np.diag(cov.to_numpy())), index=self.params_.index, name="bse")

    def hazard_ratios(self, alpha: float = 0.05) -> pd.DataFrame:
        """Hazard ratios with the interval computed on the log scale and exponentiated.

        Returns
        -------
        DataFrame
            Columns ``HR``, ``lower``, ``upper``, indexed by term.
        """
        ci = self.conf_int(alpha)
        return pd.DataFrame(
            {"HR": np.exp(self.params), "lower": np.exp(ci["lower"]), "upper": np.exp(ci["upper"])}
        )


def fit_cox(
    data: pd.DataFrame,
    formula: str,
    start: str | None = "start",
    stop: str = "stop",
    event: str = "event",
    ties: Ties = "efron",
    strata: str | Sequence[str] | None = None,
    cluster: str | None = None,
    cause: str | None = None,
) -> CoxResults:
    """Fit a Cox proportional hazards model to ``(start, stop]`` data.

    Parameters
    ----------
    data : DataFrame
        One row per interval (any counting-process frame, e.g. :func:`sustain.to_spells`
        output); index levels may be used as columns.
    formula : str
        Right-hand side such as ``"hhi + gov_share + C(district)"``. A left-hand side is
        allowed if it names the event column (``"event ~ hhi"``). There is no intercept.
    start : str or None
        Entry time column (the row is at risk on ``(start, stop]``); ``None`` means 0 for every
        row (ordinary right-censored data).
    stop : str
        Exit time column.
    event : str
        Event indicator column (0/1) at ``stop``.
    ties : {"efron", "breslow"}
        Approximation for tied event times (R's default is Efron).
    strata : str or sequence of str, optional
        Column(s) whose combinations get separate baseline hazards.
    cluster : str, optional
        Subject (or cluster) identifier; standard errors become the robust sandwich with score
        residuals summed within clusters, as ``coxph(..., cluster = id)``.
    cause : str, optional
        Cause-specific Cox model: ``event`` then names a column of causes (``"exit_reason"``
        of :func:`sustain.to_spells` output, filled only in rows that end in an exit) and the
        event is an exit for ``cause``; exits for other causes are censored, as in
        ``coxph(Surv(start, stop, reason == "merged") ~ ...)``.

    Returns
    -------
    CoxResults
        ``params`` are log hazard ratios; ``tidy(exponentiate=True)`` gives hazard ratios.
        ``info.stats`` holds ``n_events``, ``loglik``, ``loglik_null``, ``aic`` and
        ``iterations``.

    Raises
    ------
    SpecError
        Unknown columns or options.
    DataError
        Event not 0/1, ``stop <= start`` or missing times.
    FitError
        No events, collinear covariates or a singular information matrix.

    Notes
    -----
    The hazard of row ``i`` at time ``t`` in stratum ``s`` is
    ``h_i(t) = h_0s(t) exp(x_i(t)' beta)``. A row is at risk at event time ``t`` when
    ``start < t <= stop``: an interval that begins exactly when another subject's event happens
    is not in that event's risk set (delayed entry). See ``docs/models/survival.md``.

    Examples
    --------
    >>> from lifelines.datasets import load_stanford_heart_transplants
    >>> heart = load_stanford_heart_transplants()
    >>> res = fit_cox(heart, "age + year + surgery + transplant", cluster="id")
    >>> res.params.round(4).tolist()
    [0.0272, -0.1463, -0.6372, -0.0103]
    >>> res.bse.round(4).tolist()
    [0.0139, 0.0731, 0.3582, 0.3169]

    A cause-specific model on agency-year spells:

    >>> import sustain
    >>> spells = sustain.to_spells(sustain.build_panel(sustain.datasets.example()))
    >>> merged = fit_cox(spells, "hhi", event="exit_reason", cause="merged", cluster="agency_id")
    >>> merged.info.depvar, merged.info.stats["n_events"]
    ('exit_reason = merged', 13)
    """
    tie_method = check_choice("ties", ties, Ties)
    strata_cols = [strata] if isinstance(strata, str) else list(strata or [])
    rhs = _rhs(formula, event)
    frame = as_columns(data)
    time_cols = [c for c in (start, stop, event) if c is not None]
    check_columns(frame, rhs, extra=(*time_cols, *strata_cols, *([cluster] if cluster else [])))
    needed = [c for c in time_cols if c != event or cause is None]
    used = frame.dropna(subset=[*needed, *strata_cols, *([cluster] if cluster else [])])
    d = design(used, rhs, intercept=True)
    X = d.X.drop(columns="Intercept", errors="ignore")
    if X.shape[1] == 0:
        raise SpecError(f"formula {formula!r} has no covariates for the Cox model")
    rows = used.loc[d.rows]
    start_values, stop_values = _times(rows, start, stop)
    is_event = _events(rows[event], event, cause)
    Xc = X.to_numpy(dtype=float)
    Xc = Xc - Xc.mean(axis=0)
    check_full_rank(pd.DataFrame(Xc, columns=X.columns), "fit_cox")
    stratum = _codes(rows, strata_cols)
    rs = cox_partial.risk_sets(start_values, stop_values, is_event, stratum)
    fit = cox_partial.newton_raphson(rs, Xc, tie_method, names=list(X.columns))
    cov = fit.cov
    if cluster is not None:
        cov = cox_partial.cluster_covariance(rs, Xc, fit, _codes(rows, [cluster]), tie_method)
    problems = _problems(fit, list(X.columns))
    for problem in problems:
        warnings.warn(problem, RuntimeWarning, stacklevel=2)
    n_dropped = len(frame) - len(rows)
    dropped = (f"{n_dropped} rows with missing values were dropped.",) if n_dropped else ()
    notes = dropped + problems
    if cause is not None:
        notes += (f"Cause-specific hazard of {event} = {cause!r}; other exits are censored.",)
    depvar = event if cause is None else f"{event} = {cause}"
    info = _info(formula, depvar, rows, X, fit, is_event, cluster, notes)
    names = list(X.columns)
    pieces = CoxPieces(
        fit=fit,
        means=X.to_numpy(dtype=float).mean(axis=0),
        baseline=baseline_pieces(rs, Xc, fit, stop_values, stratum, tie_method),
        strata=_strata_codes(rows, strata_cols, stratum),
        frame=model_frame(rows, rhs, names, spec=d.spec),
    )
    return CoxResults(
        params_=pd.Series(fit.beta, index=names),
        cov=pd.DataFrame(cov, index=names, columns=names),
        info=info,
        naive_cov=pd.DataFrame(fit.cov, index=names, columns=names),
        ties=tie_method,
        strata=tuple(strata_cols),
        pieces=pieces,
    )


def _events(values: pd.Series, event: str, cause: str | None) -> np.ndarray:
    """Event indicator: the 0/1 column, or whether the cause column equals ``cause``."""
    if cause is None:
        return event_indicator(values, event)
    present = set(values.dropna().astype(str))
    if cause not in present:
        known = sorted(present)
        raise SpecError(f"cause {cause!r} does not occur in {event!r}; causes found: {known}")
    return (values.astype("object") == cause).fillna(False).to_numpy(dtype=bool)


def _rhs(formula: str, event: str) -> str:
    parsed = parse_formula(formula, require_lhs=False)
    if parsed.group_terms:
        raise SpecError(
            f"formula {formula!r}: group terms such as (1 | g) are not part of a Cox model; "
            "use strata= for separate baseline hazards or cluster= for robust errors"
        )
    if parsed.lhs and parsed.lhs != event:
        raise SpecError(
            f"formula {formula!r}: the left-hand side {parsed.lhs!r} differs from "
            f"event={event!r}; write only the right-hand side or pass event={parsed.lhs!r}"
        )
    return parsed.fixed


def _times(rows: pd.DataFrame, start: str | None, stop: str) -> tuple[np.ndarray, np.ndarray]:
    stop_values = _numeric(rows, stop)
    start_values = np.zeros(len(rows)) if start is None else _numeric(rows, start)
    bad = np.flatnonzero(~(stop_values > start_values))
    if len(bad):
        label = f"{stop} must be greater than {start or 0}"
        values = [f"({start_values[i]}, {stop_values[i]}]" for i in bad[:50]]
        raise data_error(stop, label, rows.index[bad[:50]], values)
    return start_values, stop_values


def _numeric(rows: pd.DataFrame, column: str) -> np.ndarray:
    values = pd.to_numeric(rows[column], errors="coerce")
    bad = np.flatnonzero(~np.isfinite(values.to_numpy(dtype=float)))
    if len(bad):
        raise data_error(
            column,
            "time must be a finite number",
            rows.index[bad[:50]],
            rows[column].iloc[bad[:50]],
        )
    return values.to_numpy(dtype=float)


def _codes(rows: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    if not columns:
        return np.zeros(len(rows), dtype=np.int64)
    return rows.groupby(list(columns), sort=True).ngroup().to_numpy(dtype=np.int64)


def _strata_codes(
    rows: pd.DataFrame, columns: Sequence[str], codes: np.ndarray
) -> dict[tuple[Any, ...], int]:
    """Stratum code of each combination of the strata columns' values."""
    if not columns:
        return {}
    combos = rows[list(columns)].assign(_code=codes).drop_duplicates()
    return {tuple(r[: len(columns)]): int(r[-1]) for r in combos.itertuples(index=False, name=None)}


def _problems(fit: cox_partial.CoxFit, names: list[str]) -> tuple[str, ...]:
    """Convergence problems worth a warning and a note."""
    problems = []
    if not fit.converged:
        problems.append(f"The partial likelihood did not converge in {fit.iterations} iterations.")
    flags = cox_partial.infinite_coefficients(fit)
    infinite = [name for name, flag in zip(names, flags, strict=True) if flag]
    if infinite:
        problems.append(
            f"The likelihood converged before the coefficient(s) of {', '.join(infinite)}; "
            "they may be infinite (a covariate that separates events from non-events)."
        )
    return tuple(problems)


def _info(
    formula: str,
    event: str,
    rows: pd.DataFrame,
    X: pd.DataFrame,
    fit: cox_partial.CoxFit,
    is_event: np.ndarray,
    cluster: str | None,
    notes: tuple[str, ...],
) -> ModelInfo:
    stats: dict[str, Any] = {
        "n_events": int(is_event.sum()),
        "loglik": fit.loglik,
        "loglik_null": fit.loglik_null,
        "aic": -2 * fit.loglik + 2 * X.shape[1],
        "iterations": fit.iterations,
    }
    return ModelInfo(
        model="Cox PH",
        estimator="cox",
        depvar=event,
        formula=formula,
        nobs=len(rows),
        groups={cluster: int(rows[cluster].nunique())} if cluster else {},
        cov_type="clustered" if cluster else "unadjusted",
        cluster=(cluster,) if cluster else (),
        stats=stats,
        link="log",
        exp_name="HR",
        notes=notes,
    )
