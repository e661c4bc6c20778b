"""Cox partial likelihood for counting-process ``(start, stop]`` data, written out by hand.

Why not a library: statsmodels' ``PHReg`` counts a row whose ``entry`` equals an event time as
at risk at that time (R's ``coxph`` and the counting-process definition do not), and its robust
covariance uses Breslow-type score residuals even when the fit uses Efron ties; lifelines'
``CoxTimeVaryingFitter`` has neither Breslow ties, strata-with-robust errors nor a clustered
sandwich. Both were checked against ``survival::coxph`` on the data in
``tests/references/survival/``. The code below reproduces R's estimator: times that differ by
less than ``sqrt(machine epsilon)`` are tied (R's ``aeqSurv``), a row is at risk at event time
``t`` when ``start < t <= stop``, ties are handled by Efron's or Breslow's approximation,
strata have separate risk sets, and the robust covariance is the grouped sandwich
``D'D`` with ``D`` the dfbeta residuals (R's ``coxph(..., cluster=id)``).

Notation: ``n`` rows, ``p`` covariates, ``J`` distinct event times (over all strata) and ``K``
events. With Efron's approximation the ``m`` tied events at a time are ``m`` sub-steps
``k = 0..m-1`` in which each dying row keeps weight ``1 - k/m``; Breslow's approximation
keeps full weight (``k/m`` replaced by 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sustain._typing import BoolArray, FloatArray, IntArray
from sustain.errors import FitError
from sustain.inference.covariance import cluster_covariance as cluster_kernel

# R's aeqSurv tolerance: times closer than this (absolutely or relative to their mean) are tied.
TIME_TOLERANCE = float(np.sqrt(np.finfo(float).eps))


@dataclass(frozen=True, slots=True)
class RiskSets:
    """Risk-set structure of a counting-process data set, independent of the coefficients.

    Strata are folded into time: each stratum's integer time codes are shifted into a range of
    their own, so a row can only be at risk at event times of its own stratum.

    Attributes
    ----------
    start, stop : IntArray, shape (n,)
        Integer time codes (ties merged, strata offset).
    event : BoolArray, shape (n,)
        Whether the row ends in an event.
    times : IntArray, shape (J,)
        Sorted distinct event-time codes.
    n_tied : IntArray, shape (J,)
        Number of events at each event time.
    event_group : IntArray, shape (n,)
        Index into ``times`` of the row's event (0 for censored rows; mask with ``event``).
    step_group : IntArray, shape (K,)
        Event-time index of each Efron sub-step.
    step_fraction : FloatArray, shape (K,)
        ``k / m`` of each sub-step.
    stop_order, start_order : IntArray, shape (n,)
        Permutations sorting ``stop`` and ``start``.
    n_after_stop, n_after_start : IntArray, shape (J,)
        Positions in the sorted ``stop`` (``start``) codes of the first value ``>= times``.
    first_after_start, first_after_stop : IntArray, shape (n,)
        Number of event times ``<= start`` and ``<= stop`` of each row.
    """

    start: IntArray
    stop: IntArray
    event: BoolArray
    times: IntArray
    n_tied: IntArray
    event_group: IntArray
    step_group: IntArray
    step_fraction: FloatArray
    stop_order: IntArray
    start_order: IntArray
    n_after_stop: IntArray
    n_after_start: IntArray
    first_after_start: IntArray
    first_after_stop: IntArray


@dataclass(frozen=True, slots=True)
class LikelihoodParts:
    """Log partial likelihood, score vector, information matrix and Efron sub-step terms.

    Attributes
    ----------
    loglik : float
    score : FloatArray, shape (p,)
    information : FloatArray, shape (p, p)
        Negative Hessian of the log partial likelihood.
    risk : FloatArray, shape (n,)
        ``exp(x_i beta)`` up to a common factor.
    denom : FloatArray, shape (K,)
        Weighted risk-set sums of each sub-step (same common factor).
    mean : FloatArray, shape (K, p)
        Weighted covariate means of each sub-step.
    """

    loglik: float
    score: FloatArray
    information: FloatArray
    risk: FloatArray
    denom: FloatArray
    mean: FloatArray


@dataclass(frozen=True, slots=True)
class CoxFit:
    """Result of maximising the partial likelihood.

    Attributes
    ----------
    beta : FloatArray, shape (p,)
    cov : FloatArray, shape (p, p)
        Inverse information at ``beta`` (model-based covariance).
    loglik, loglik_null : float
        Log partial likelihood at ``beta`` and at zero.
    iterations : int
        Newton-Raphson iterations used.
    converged : bool
    score : FloatArray, shape (p,)
        Score at ``beta`` (used to detect coefficients drifting to infinity).
    """

    beta: FloatArray
    cov: FloatArray
    loglik: float
    loglik_null: float
    iterations: int
    converged: bool
    score: FloatArray


def code_times(
    start: FloatArray, stop: FloatArray, tolerance: float = TIME_TOLERANCE
) -> tuple[IntArray, IntArray]:
    """Integer codes of start and stop times, merging times closer than ``tolerance``.

    Follows R's ``survival::aeqSurv``: sorted distinct times whose gap is at most
    ``tolerance``, absolutely or relative to the mean absolute time, share a code.

    Examples
    --------
    >>> import numpy as np
    >>> code_times(np.array([0.0, 1.0]), np.array([1.0 + 1e-12, 2.0]))
    (array([0, 1]), array([1, 2]))
    """
    values = np.unique(np.concatenate([start, stop]))
    gaps = np.diff(values)
    scale = float(np.mean(np.abs(values))) or 1.0
    tied = (gaps <= tolerance) | (gaps / scale <= tolerance)
    code_of_value = np.concatenate([[0], np.cumsum(~tied)]).astype(np.int64)
    return (
        code_of_value[np.searchsorted(values, start)],
        code_of_value[np.searchsorted(values, stop)],
    )


def risk_sets(start: FloatArray, stop: FloatArray, event: BoolArray, strata: IntArray) -> RiskSets:
    """Build the :class:`RiskSets` of rows ``(start, stop]`` with event flags and stratum codes.

    Raises
    ------
    FitError
        If an interval is empty once near-equal times are tied, or there is no event.

    Examples
    --------
    >>> import numpy as np
    >>> rs = risk_sets(np.zeros(3), np.array([1.0, 2, 2]), np.array([True, True, True]),
    ...                np.zeros(3, dtype=np.int64))
    >>> rs.n_tied.tolist(), rs.step_fraction.tolist()
    ([1, 2], [0.0, 0.0, 0.5])
    """
    start_code, stop_code = code_times(np.asarray(start, float), np.asarray(stop, float))
    if np.any(start_code >= stop_code):
        raise FitError("an interval (start, stop] is empty once times closer than 1.5e-8 are tied")
    event = np.asarray(event, dtype=bool)
    if not event.any():
        raise FitError("the data have no events; a Cox model cannot be fitted")
    width = int(stop_code.max()) + 2
    offset = np.asarray(strata, dtype=np.int64) * width
    start_code, stop_code = start_code + offset, stop_code + offset
    times, n_tied = np.unique(stop_code[event], return_counts=True)
    step_group = np.repeat(np.arange(len(times)), n_tied)
    first_step = np.repeat(np.cumsum(n_tied) - n_tied, n_tied)
    step_fraction = (np.arange(len(step_group)) - first_step) / n_tied[step_group]
    stop_order, start_order = np.argsort(stop_code, kind="stable"), np.argsort(start_code)
    return RiskSets(
        start=start_code,
        stop=stop_code,
        event=event,
        times=times,
        n_tied=n_tied,
        event_group=np.where(event, np.searchsorted(times, stop_code), 0),
        step_group=step_group,
        step_fraction=step_fraction.astype(np.float64),
        stop_order=stop_order,
        start_order=start_order,
        n_after_stop=np.searchsorted(stop_code[stop_order], times, side="left"),
        n_after_start=np.searchsorted(start_code[start_order], times, side="left"),
        first_after_start=np.searchsorted(times, start_code, side="right"),
        first_after_stop=np.searchsorted(times, stop_code, side="right"),
    )


def _tail_sums(order: IntArray, first: IntArray, values: FloatArray) -> FloatArray:
    """Sums of ``values`` over rows whose sorted position is ``>= first`` (per event time)."""
    # accumulate in extended precision: the risk-set sum is a difference of two such sums
    sorted_values = values[order].astype(np.longdouble)
    tail = np.cumsum(sorted_values[::-1], axis=0)[::-1]
    pad = np.zeros((1, *values.shape[1:]), dtype=np.longdouble)
    return np.concatenate([tail, pad])[first].astype(np.float64)


def _at_risk_sums(rs: RiskSets, values: FloatArray) -> FloatArray:
    """Sum of ``values`` over the rows at risk (``start < t <= stop``) at each event time."""
    return _tail_sums(rs.stop_order, rs.n_after_stop, values) - _tail_sums(
        rs.start_order, rs.n_after_start, values
    )


def _interval_sums(rs: RiskSets, per_time: FloatArray) -> FloatArray:
    """For each row, the sum of ``per_time`` (shape (J, ...)) over event times in its interval."""
    cumulative = np.concatenate([np.zeros((1, *per_time.shape[1:])), np.cumsum(per_time, 0)])
    return cumulative[rs.first_after_stop] - cumulative[rs.first_after_start]


def _group_sums(groups: IntArray, values: FloatArray, n_groups: int) -> FloatArray:
    """Sum rows of ``values`` (shape (m,) or (m, p)) by integer group."""
    out = np.zeros((n_groups, *values.shape[1:]))
    np.add.at(out, groups, values)
    return out


def partial_likelihood(
    rs: RiskSets, X: FloatArray, beta: FloatArray, ties: str = "efron"
) -> LikelihoodParts:
    """Log partial likelihood, score and information at ``beta``.

    Notes
    -----
    For event time ``t_j`` with ``m_j`` events ``D_j`` and risk set ``R_j``, sub-step ``k``
    has ``d_jk = sum_{R_j} r_i - f_k sum_{D_j} r_i`` with ``f_k = k/m_j`` (Efron) or 0
    (Breslow) and ``r_i = exp(x_i'beta)``; the log partial likelihood is
    ``sum_j [sum_{D_j} x_i'beta - sum_k log d_jk]``. The information's second-moment part
    ``sum_jk sum_i w_ijk r_i x_i x_i' / d_jk`` is formed as one weighted cross product
    ``X' diag(v) X`` instead of per-time matrices, which keeps memory at O(n p).

    Examples
    --------
    >>> import numpy as np
    >>> rs = risk_sets(np.zeros(4), np.array([1.0, 2, 3, 4]), np.ones(4, bool),
    ...                np.zeros(4, dtype=np.int64))
    >>> parts = partial_likelihood(rs, np.array([[0.0], [1], [0], [1]]), np.zeros(1))
    >>> bool(np.isclose(parts.loglik, -np.log(4 * 3 * 2 * 1)))
    True
    """
    eta = X @ beta
    eta = eta - eta.max()
    risk = np.exp(eta)
    n_times = len(rs.times)
    fraction = rs.step_fraction if ties == "efron" else np.zeros_like(rs.step_fraction)
    g = rs.step_group
    s0, s1 = _at_risk_sums(rs, risk), _at_risk_sums(rs, risk[:, None] * X)
    dying = rs.event_group[rs.event]
    e0 = _group_sums(dying, risk[rs.event], n_times)
    e1 = _group_sums(dying, (risk[:, None] * X)[rs.event], n_times)
    denom = s0[g] - fraction * e0[g]
    mean = (s1[g] - fraction[:, None] * e1[g]) / denom[:, None]
    loglik = float(eta[rs.event].sum() - np.log(denom).sum())
    score = X[rs.event].sum(axis=0) - mean.sum(axis=0)
    inv_denom = _group_sums(g, 1.0 / denom, n_times)
    inv_denom_tied = _group_sums(g, fraction / denom, n_times)
    weight = risk * (_interval_sums(rs, inv_denom) - rs.event * inv_denom_tied[rs.event_group])
    information = (X * weight[:, None]).T @ X - mean.T @ mean
    return LikelihoodParts(loglik, score, information, risk, denom, mean)


def score_residuals(
    rs: RiskSets, X: FloatArray, parts: LikelihoodParts, ties: str = "efron"
) -> FloatArray:
    """Score residuals of each row (shape (n, p)); their column sums are the score.

    Notes
    -----
    Row ``i`` collects, over the event times in its interval and their sub-steps,
    ``dN_ijk (x_i - xbar_jk) - w_ijk r_i (x_i - xbar_jk) / d_jk``, where a dying row counts
    ``1/m_j`` of an event in each sub-step and keeps weight ``w_ijk = 1 - f_k`` (Efron).
    These are R's ``residuals(fit, type = "score")``.

    Examples
    --------
    >>> import numpy as np
    >>> rs = risk_sets(np.zeros(4), np.array([1.0, 2, 2, 4]), np.array([1, 1, 1, 0], bool),
    ...                np.zeros(4, dtype=np.int64))
    >>> X = np.array([[0.0], [1], [0], [1]])
    >>> parts = partial_likelihood(rs, X, np.array([0.3]))
    >>> bool(np.allclose(score_residuals(rs, X, parts).sum(0), parts.score))
    True
    """
    n_times = len(rs.times)
    g = rs.step_group
    fraction = rs.step_fraction if ties == "efron" else np.zeros_like(rs.step_fraction)
    inv = 1.0 / parts.denom
    mean_bar = _group_sums(g, parts.mean, n_times) / rs.n_tied[:, None]
    a = _interval_sums(rs, _group_sums(g, inv, n_times))
    b = _interval_sums(rs, _group_sums(g, parts.mean * inv[:, None], n_times))
    tied_a = _group_sums(g, fraction * inv, n_times)[rs.event_group]
    tied_b = _group_sums(g, parts.mean * (fraction * inv)[:, None], n_times)[rs.event_group]
    died = rs.event[:, None]
    risk = parts.risk[:, None]
    at_risk_part = risk * (X * a[:, None] - b)
    event_part = died * (X - mean_bar[rs.event_group] + risk * (X * tied_a[:, None] - tied_b))
    return np.asarray(event_part - at_risk_part, dtype=np.float64)


def dependent_columns(information: FloatArray, tol: float = 1e-10) -> list[int]:
    """Columns whose information is (numerically) a combination of the others'.

    The information at ``beta = 0`` is the covariance of the covariates within risk sets; a
    covariate constant inside every risk set (a stratum dummy, say) or a combination of
    others has none of its own. The matrix is scaled to unit diagonal and factorised by a
    pivoted QR; R's ``coxph`` drops such columns in its Cholesky step
    (``toler.chol``), here they are reported.

    Examples
    --------
    >>> import numpy as np
    >>> dependent_columns(np.array([[2.0, 2.0, 0.0], [2.0, 2.0, 0.0], [0.0, 0.0, 1.0]]))
    [1]
    """
    from scipy.linalg import qr

    diag = np.diag(information).copy()
    zero = diag <= tol * max(float(diag.max()), 1e-300)
    keep = np.flatnonzero(~zero)
    scale = np.sqrt(diag[keep])
    scaled = information[np.ix_(keep, keep)] / np.outer(scale, scale)
    _, r, pivot = qr(scaled, pivoting=True)
    rank = int(np.sum(np.abs(np.diag(r)) > tol))
    return sorted([*np.flatnonzero(zero).tolist(), *keep[pivot[rank:]].tolist()])


def newton_raphson(
    rs: RiskSets,
    X: FloatArray,
    ties: str = "efron",
    max_iter: int = 30,
    tol: float = 1e-10,
    names: list[str] | None = None,
) -> CoxFit:
    """Maximise the log partial likelihood from ``beta = 0`` with step halving (as R does).

    Converged when the relative change of the log likelihood falls below ``tol`` (R's
    ``coxph.control(eps = 1e-9)`` criterion, made a little stricter).

    Raises
    ------
    FitError
        If the information matrix is singular (naming the columns, from ``names``).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(200, 1))
    >>> t = rng.exponential(np.exp(-0.5 * x[:, 0]))
    >>> rs = risk_sets(np.zeros(200), t, np.ones(200, bool), np.zeros(200, dtype=np.int64))
    >>> fit = newton_raphson(rs, x)
    >>> fit.converged, bool(abs(fit.beta[0] - 0.5) < 0.2)
    (True, True)
    """
    beta = np.zeros(X.shape[1])
    parts = partial_likelihood(rs, X, beta, ties)
    loglik_null = parts.loglik
    dependent = dependent_columns(parts.information)
    if dependent:
        labels = [names[i] if names else f"column {i}" for i in dependent]
        raise FitError(
            f"{', '.join(labels)} {'has' if len(labels) == 1 else 'have'} no variation inside "
            "the risk sets (constant within strata, or collinear with other covariates); "
            "drop it or the stratification"
        )
    converged, iterations = False, 0
    while iterations < max_iter and not converged:
        iterations += 1
        step = _newton_step(parts)
        new_parts = partial_likelihood(rs, X, beta + step, ties)
        for _ in range(40):  # halve the step while the likelihood gets worse (or overflows)
            if np.isfinite(new_parts.loglik) and new_parts.loglik >= parts.loglik - 1e-12:
                break
            step = step / 2
            new_parts = partial_likelihood(rs, X, beta + step, ties)
        change = abs(new_parts.loglik - parts.loglik)
        beta, parts = beta + step, new_parts
        converged = change <= tol * (abs(parts.loglik) + tol)
    cov = _inverse(parts.information)
    return CoxFit(beta, cov, parts.loglik, loglik_null, iterations, converged, parts.score)


def _newton_step(parts: LikelihoodParts) -> FloatArray:
    try:
        return np.asarray(np.linalg.solve(parts.information, parts.score), dtype=np.float64)
    except np.linalg.LinAlgError as exc:
        raise FitError(
            "the Cox information matrix is singular (collinear covariates or a covariate "
            "without variation inside the risk sets)"
        ) from exc


def _inverse(information: FloatArray) -> FloatArray:
    try:
        return np.asarray(np.linalg.inv(information), dtype=np.float64)
    except np.linalg.LinAlgError as exc:
        raise FitError("the Cox information matrix is singular at the estimate") from exc


def cluster_covariance(
    rs: RiskSets, X: FloatArray, fit: CoxFit, clusters: IntArray, ties: str = "efron"
) -> FloatArray:
    """Robust (sandwich) covariance with score residuals summed within clusters.

    ``V = D_g' D_g`` where ``D = U V_model`` are the dfbeta residuals of the rows and ``D_g``
    their sums per cluster, without a small-sample factor, as R's
    ``coxph(..., cluster = id)``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> x = rng.normal(size=(100, 1))
    >>> rs = risk_sets(np.zeros(100), rng.exponential(size=100), np.ones(100, bool),
    ...                np.zeros(100, dtype=np.int64))
    >>> fit = newton_raphson(rs, x)
    >>> cluster_covariance(rs, x, fit, np.arange(100)).shape
    (1, 1)
    """
    parts = partial_likelihood(rs, X, fit.beta, ties)
    scores = score_residuals(rs, X, parts, ties)
    # (U V)' (U V) summed by cluster equals V (sum_g u_g u_g') V: the kernel with bread V
    return cluster_kernel(fit.cov, scores, np.asarray(clusters), "r_coxph")


def infinite_coefficients(fit: CoxFit, tolerance: float = float(np.sqrt(1e-9))) -> BoolArray:
    """Flag coefficients that are probably infinite (monotone likelihood).

    R's rule (``coxph.control(toler.inf)``): the likelihood has converged but the next Newton
    step ``V u`` would still move the coefficient by more than ``tolerance`` times its size.

    Examples
    --------
    >>> import numpy as np
    >>> fit = CoxFit(np.array([25.0, 0.1]), np.diag([1e8, 0.01]), -10.0, -12.0, 20, True,
    ...              np.array([1e-8, 1e-12]))
    >>> infinite_coefficients(fit).tolist()
    [True, False]
    """
    step = np.abs(fit.cov @ fit.score)
    return np.asarray((step > 1e-9) & (step > tolerance * np.abs(fit.beta)), dtype=bool)
