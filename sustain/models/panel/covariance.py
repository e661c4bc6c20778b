"""Covariance estimators of the within estimator on the large-panel path.

These are linearmodels' panel covariance estimators (``linearmodels.panel.covariance``) written
on plain arrays, term for term, so that the fast path reports the same standard errors as
``PanelOLS.fit(debiased=True, group_debias=True)``: the small-sample conventions of Stata's
``xtreg, fe``. They are re-derived here only because linearmodels' classes need its
``PanelData`` containers, whose construction is what makes ``PanelOLS`` slow on large panels;
the Bartlett weights come from linearmodels itself.

Notation: :math:`n` observations, :math:`k` regressors, :math:`d` degrees of freedom used by
absorbed effects (``extra_df``), transformed regressors :math:`X` and residuals :math:`e`,
scores :math:`\\xi = X \\odot e`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sustain._typing import FloatArray, IntArray
from sustain.errors import FitError
from sustain.inference.covariance import cluster_meat, small_sample_factor


def _scale(n: int, k: int, extra_df: int) -> float:
    dof = n - extra_df - k
    if dof <= 0:
        raise FitError(
            f"no residual degrees of freedom: {n} observations, {k} regressors and "
            f"{extra_df} absorbed effects"
        )
    return n / dof


def unadjusted(X: FloatArray, resid: FloatArray, extra_df: int) -> FloatArray:
    """Homoskedastic covariance :math:`s^2 (X'X)^{-1}`, :math:`s^2 = e'e/(n-d-k)`.

    Examples
    --------
    >>> X = np.array([[1.0], [-1.0], [2.0], [0.5]])
    >>> e = np.array([0.1, -0.2, 0.05, 0.1])
    >>> bool(np.isclose(unadjusted(X, e, 0)[0, 0], e @ e / 3 / (X[:, 0] @ X[:, 0])))
    True
    """
    n, k = X.shape
    s2 = _scale(n, k, extra_df) * float(resid @ resid) / n
    return s2 * np.linalg.inv(X.T @ X)


def _sandwich(X: FloatArray, meat: FloatArray) -> FloatArray:
    n = X.shape[0]
    bread = np.linalg.inv(X.T @ X / n)
    out = bread @ meat @ bread / n
    return (out + out.T) / 2


def robust(X: FloatArray, resid: FloatArray, extra_df: int) -> FloatArray:
    """White's heteroskedasticity-robust covariance, scaled by :math:`n/(n-d-k)`.

    Examples
    --------
    >>> X = np.array([[1.0], [-1.0], [2.0], [0.5]])
    >>> e = np.array([0.1, -0.2, 0.05, 0.1])
    >>> robust(X, e, 0).shape
    (1, 1)
    """
    n, k = X.shape
    xe = X * resid[:, None]
    return _sandwich(X, _scale(n, k, extra_df) * (xe.T @ xe) / n)


def _intersection(codes: IntArray) -> IntArray:
    pair = codes[:, 0] * (int(codes[:, 1].max()) + 1) + codes[:, 1]
    return pd.factorize(pair)[0].astype(np.int64)


def clustered(
    X: FloatArray,
    resid: FloatArray,
    extra_df: int,
    clusters: IntArray,
    group_debias: bool = True,
) -> FloatArray:
    r"""One- or two-way cluster-robust covariance (Cameron, Gelbach and Miller for two-way).

    The small-sample factor of each clustering is the ``stata`` convention of
    :mod:`sustain.inference.covariance`, :math:`\frac{G}{G-1}\frac{n-1}{n-d-k}`, which is
    linearmodels' ``debiased=True, group_debias=True``.

    Parameters
    ----------
    clusters : ndarray of int, shape (n,) or (n, 2)
        Codes ``0 .. G-1`` of one or two cluster variables.
    group_debias : bool
        Apply the :math:`\frac{G}{G-1}\frac{n-1}{n}` part of the factor (linearmodels does,
        except for the between estimator); without it the factor is :math:`\frac{n}{n-d-k}`.

    Notes
    -----
    With scores :math:`\xi_i = x_i e_i` summed in clusters, :math:`\hat M_c = c_c \sum_g
    s_g s_g'`; two-way clustering uses :math:`\hat M_1 + \hat M_2 - \hat M_{12}` with
    :math:`\hat M_{12}` on the intersections of the two groupings. The covariance is
    :math:`(X'X)^{-1} \hat M (X'X)^{-1}`.

    Examples
    --------
    >>> X = np.array([[1.0], [-1.0], [2.0], [0.5]])
    >>> e = np.array([0.1, -0.2, 0.05, 0.1])
    >>> clustered(X, e, 0, np.array([0, 0, 1, 1])).shape
    (1, 1)
    """
    n, k = X.shape
    _scale(n, k, extra_df)  # refuses a fit without residual degrees of freedom
    xe = X * resid[:, None]
    codes = np.asarray(clusters)
    groupings = [codes] if codes.ndim == 1 else [codes[:, 0], codes[:, 1], _intersection(codes)]
    signs = [1.0] if codes.ndim == 1 else [1.0, 1.0, -1.0]
    meat = np.zeros((k, k))
    for sign, grouping in zip(signs, groupings, strict=True):
        if group_debias:
            factor = small_sample_factor("stata", n, k, int(grouping.max()) + 1, extra_df)
        else:
            factor = _scale(n, k, extra_df)
        meat += sign * factor * cluster_meat(xe, grouping)
    bread = np.linalg.inv(X.T @ X)
    out = bread @ meat @ bread
    return (out + out.T) / 2


def default_bandwidth(n_periods: int) -> float:
    """linearmodels' rule of thumb :math:`\\lfloor 4 (T/100)^{2/9} \\rfloor`.

    Examples
    --------
    >>> default_bandwidth(12)
    2.0
    """
    return float(np.floor(4 * (n_periods / 100) ** (2 / 9)))


def driscoll_kraay(
    X: FloatArray,
    resid: FloatArray,
    extra_df: int,
    time_codes: IntArray,
    bandwidth: float | None = None,
) -> FloatArray:
    """Driscoll-Kraay covariance: Newey-West (Bartlett) on the per-period sums of scores.

    Notes
    -----
    With :math:`\\xi_t = \\sum_{i} \\xi_{it}` in time order, :math:`\\hat S = n^{-1}[\\Gamma_0 +
    \\sum_{j=1}^{b} w_j (\\Gamma_j + \\Gamma_j')]`, :math:`\\Gamma_j = \\sum_t \\xi_{t+j}
    \\xi_t'`, :math:`w_j = 1 - j/(b+1)`.

    Examples
    --------
    >>> X = np.array([[1.0], [-1.0], [2.0], [0.5]])
    >>> e = np.array([0.1, -0.2, 0.05, 0.1])
    >>> driscoll_kraay(X, e, 0, np.array([0, 1, 2, 3]), bandwidth=1).shape
    (1, 1)
    """
    from linearmodels.iv.covariance import kernel_weight_bartlett

    n, k = X.shape
    n_periods = int(time_codes.max()) + 1
    bw = default_bandwidth(n_periods) if bandwidth is None else float(bandwidth)
    if bw >= n_periods:
        raise FitError(
            f"the Driscoll-Kraay bandwidth {bw:g} must be below the number of periods ({n_periods})"
        )
    xe = X * resid[:, None]
    sums = np.column_stack(
        [np.bincount(time_codes, weights=xe[:, j], minlength=n_periods) for j in range(k)]
    )
    weights = kernel_weight_bartlett(bw, n_periods - 1)
    meat = sums.T @ sums
    for lag in range(1, len(weights)):
        gamma = sums[lag:].T @ sums[:-lag]
        meat += weights[lag] * (gamma + gamma.T)
    return _sandwich(X, _scale(n, k, extra_df) * meat / n)
