"""Callaway and Sant'Anna (2021) group-time average treatment effects with influence functions.

For every cohort ``g`` (units first treated in period ``g``) and period ``t``, ``ATT(g, t)`` is
a two-period, two-group difference in differences between the cohort and a control group
(never treated, or not yet treated by ``max(t, b)``), from a base period ``b``: ``g - 1`` for
post-treatment cells; for pre-treatment cells ``t - 1`` (``base_period="varying"``, R did's
default) or ``g - 1`` (``"universal"``). Each 2x2 comparison is estimated by outcome
regression or the doubly robust estimator of Sant'Anna and Zhao (2020), with the influence
function of R's DRDID (``reg_did_panel``, ``drdid_panel``) so that standard errors and
aggregations follow R's did 2.x.

Hand-written because no maintained Python library does it: the Python ports of did are young
(the issue) and statsmodels has no 2x2 doubly robust estimator. A unit enters a comparison
when it is observed in both periods (pairwise balance); on a balanced panel this is R's
estimator exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sustain._typing import FloatArray
from sustain.errors import FitError
from sustain.models.designs.frame import EventData

#: DRDID's trimming of the propensity score: controls with a score above this get no weight.
PS_TRIM = 0.995
CELL_COLUMNS = ["g", "t", "base", "estimate", "n_treated", "n_control", "post", "reference"]


@dataclass(frozen=True, slots=True)
class GroupTime:
    """Group-time effects and their influence functions.

    Attributes
    ----------
    cells : DataFrame
        One row per (g, t): ``g``, ``t``, ``base``, ``estimate``, ``n_treated``, ``n_control``,
        ``post`` (t >= g) and ``reference`` (the universal base period itself, 0 by
        construction).
    influence : FloatArray, shape (n_units, n_cells)
        Influence function of each cell scaled to the whole sample: the covariance of the
        estimates is ``sum_c s_c s_c' / n**2`` with ``s_c`` the column sums within cluster c.
    notes : tuple of str
        Cohorts or cells that were dropped, and why.
    """

    cells: pd.DataFrame
    influence: FloatArray
    notes: tuple[str, ...]


def group_time_effects(
    data: EventData, control: str, base_period: str, method: str, covariates: tuple[str, ...]
) -> GroupTime:
    """All identified ATT(g, t) of a staggered design (see the module docstring).

    Examples
    --------
    >>> from sustain.models.designs.frame import EventData
    >>> Y = np.array([[0.0, 0.0, 2.0], [0.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
    >>> d = EventData(np.array([1, 2, 3]), np.array([1, 2, 3]), Y, np.array([3, 0, 0]),
    ...               np.arange(3), {})
    >>> gt = group_time_effects(d, "never_treated", "varying", "reg", ())
    >>> gt.cells[["g", "t", "estimate"]].round(6).values.tolist()
    [[3.0, 2.0, -0.5], [3.0, 3.0, 2.0]]
    """
    periods = data.periods
    cohorts, notes = _usable_cohorts(data)
    cohort = np.where(data.cohort > periods[-1], 0, data.cohort)
    rows, columns = [], []
    for g in cohorts:
        g_pos = int(np.searchsorted(periods, g))
        # a varying base needs the period before t; a universal one (g - 1) serves every t
        for t_pos in range(1 if base_period == "varying" else 0, len(periods)):
            t = int(periods[t_pos])
            if base_period == "varying" and t < g:
                b = int(periods[t_pos - 1])
            else:
                b = int(periods[g_pos - 1])
            if t == b:
                rows.append([g, t, b, 0.0, 0, 0, False, True])
                columns.append(np.zeros(data.n_units))
                continue
            result = _cell(data, cohort, g, t, b, control, method, covariates)
            if result is None:
                notes.append(f"ATT({g}, {t}) has no treated or no control units; left out.")
                continue
            estimate, psi, n_treated, n_control = result
            rows.append([g, t, b, estimate, n_treated, n_control, t >= g, False])
            columns.append(psi)
    if not rows:
        raise FitError("fit_event_study: no group-time effect could be estimated")
    cells = pd.DataFrame(rows, columns=CELL_COLUMNS)
    return GroupTime(cells.astype({"g": float, "t": float}), np.column_stack(columns), tuple(notes))


def _usable_cohorts(data: EventData) -> tuple[list[int], list[str]]:
    notes: list[str] = []
    first, last = int(data.periods[0]), int(data.periods[-1])
    values = sorted(int(g) for g in np.unique(data.cohort) if g > 0)
    early = [g for g in values if g <= first]
    if early:
        n = int(np.isin(data.cohort, early).sum())
        notes.append(
            f"{n} unit(s) treated in or before the first period ({first}) have no untreated "
            "period and were dropped."
        )
    late = [g for g in values if g > last]
    if late:
        notes.append(f"Cohorts treated after the last period ({last}) count as never treated.")
    return [g for g in values if first < g <= last], notes


def _cell(
    data: EventData,
    cohort: np.ndarray,
    g: int,
    t: int,
    b: int,
    control: str,
    method: str,
    covariates: tuple[str, ...],
) -> tuple[float, FloatArray, int, int] | None:
    t_pos, b_pos = np.searchsorted(data.periods, [t, b])
    treated = cohort == g
    if control == "never_treated":
        controls = cohort == 0
    else:
        controls = (cohort == 0) | ((cohort > max(t, b)) & (cohort != g))
    dy = data.Y[:, t_pos] - data.Y[:, b_pos]
    X = np.column_stack(
        [np.ones(data.n_units), *(data.covariates[c][:, b_pos] for c in covariates)]
    )
    keep = (treated | controls) & np.isfinite(dy) & np.isfinite(X).all(axis=1)
    n_treated, n_control = int((keep & treated).sum()), int((keep & controls).sum())
    if n_treated == 0 or n_control == 0:
        return None
    D = treated[keep].astype(float)
    if method == "dr":
        estimate, psi = drdid_panel(dy[keep], D, X[keep])
    else:
        estimate, psi = reg_did_panel(dy[keep], D, X[keep])
    full = np.zeros(data.n_units)
    full[keep] = psi * (data.n_units / int(keep.sum()))
    return estimate, full, n_treated, n_control


def _ols_on_controls(dy: FloatArray, D: FloatArray, X: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Outcome regression on the controls and its asymptotic linear representation."""
    n = len(dy)
    control = D == 0
    beta = np.linalg.lstsq(X[control], dy[control], rcond=None)[0]
    xpx = (X[control].T @ X[control]) / n
    if np.linalg.matrix_rank(xpx) < X.shape[1]:
        raise FitError("fit_event_study: the covariates are collinear among the control units")
    resid = (1 - D) * (dy - X @ beta)
    return beta, (resid[:, None] * X) @ np.linalg.inv(xpx)


def reg_did_panel(dy: FloatArray, D: FloatArray, X: FloatArray) -> tuple[float, FloatArray]:
    """Outcome-regression 2x2 DiD on panel data (R DRDID ``reg_did_panel``).

    Parameters
    ----------
    dy : FloatArray, shape (n,)
        ``Y_t - Y_b`` of the units in the comparison.
    D : FloatArray, shape (n,)
        1 for treated units, 0 for controls.
    X : FloatArray, shape (n, k)
        Covariates at the base period with a constant column.

    Returns
    -------
    att : float
    influence : FloatArray, shape (n,)
        Its influence function; ``Var(att) = mean(influence**2) / n``.

    Examples
    --------
    >>> att, psi = reg_did_panel(np.array([2.0, 1.0, 0.0]), np.array([1.0, 0, 0]), np.ones((3, 1)))
    >>> round(att, 6), psi.round(3).tolist()
    (1.5, [0.0, -0.75, 0.75])
    """
    beta, asy_ols = _ols_on_controls(dy, D, X)
    fitted = X @ beta
    w = D  # both parts are averaged over the treated units
    eta_treat = np.mean(w * dy) / np.mean(w)
    eta_cont = np.mean(w * fitted) / np.mean(w)
    inf_treat = (w * dy - w * eta_treat) / np.mean(w)
    inf_cont = (w * fitted - w * eta_cont + asy_ols @ np.mean(w[:, None] * X, axis=0)) / np.mean(w)
    return float(eta_treat - eta_cont), inf_treat - inf_cont


def drdid_panel(dy: FloatArray, D: FloatArray, X: FloatArray) -> tuple[float, FloatArray]:
    """Doubly robust 2x2 DiD on panel data (R DRDID ``drdid_panel``, Sant'Anna-Zhao 2020).

    A logit propensity score and a linear outcome regression on the controls; the influence
    function includes the estimation effect of both. Without covariates it equals the simple
    difference in mean changes.

    Examples
    --------
    >>> att, _ = drdid_panel(np.array([2.0, 1.0, 0.0]), np.array([1.0, 0, 0]), np.ones((3, 1)))
    >>> round(att, 10)
    1.5
    """
    ps, asy_ps = _propensity(D, X)
    trim = np.where(D == 1, True, ps < PS_TRIM)
    beta, asy_ols = _ols_on_controls(dy, D, X)
    resid = dy - X @ beta
    w_treat = trim * D
    w_cont = trim * ps * (1 - D) / (1 - ps)
    eta_treat = np.mean(w_treat * resid) / np.mean(w_treat)
    eta_cont = np.mean(w_cont * resid) / np.mean(w_cont)
    inf_treat = w_treat * resid - w_treat * eta_treat
    inf_treat = (inf_treat - asy_ols @ np.mean(w_treat[:, None] * X, axis=0)) / np.mean(w_treat)
    m2 = np.mean((w_cont * (resid - eta_cont))[:, None] * X, axis=0)
    inf_cont = w_cont * resid - w_cont * eta_cont + asy_ps @ m2
    inf_cont = (inf_cont - asy_ols @ np.mean(w_cont[:, None] * X, axis=0)) / np.mean(w_cont)
    return float(eta_treat - eta_cont), inf_treat - inf_cont


def _propensity(D: FloatArray, X: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Logit propensity score (statsmodels) and its asymptotic linear representation."""
    import statsmodels.api as sm

    if X.shape[1] == 1:  # intercept only: the share of treated units, no iterations needed
        ps = np.full(len(D), D.mean())
    else:
        try:
            fit = sm.Logit(D, X).fit(disp=False, method="newton", maxiter=100)
        except Exception as exc:  # perfect separation and singular designs
            raise FitError(f"fit_event_study: the propensity score failed: {exc}") from exc
        ps = np.clip(fit.predict(X), 1e-16, 1 - 1e-16)
    weight = ps * (1 - ps)
    hessian = np.linalg.inv((X * weight[:, None]).T @ X / len(D))
    return ps, ((D - ps)[:, None] * X) @ hessian
