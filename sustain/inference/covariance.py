"""One cluster-robust kernel for every model family, with each small-sample convention named.

A cluster-robust ("sandwich") covariance is :math:`c\\, B \\big(\\sum_g s_g s_g'\\big) B` where
:math:`s_g` sums the observations' score contributions in cluster :math:`g`, :math:`B` is the
bread (inverse information or :math:`(X'X)^{-1}`) and :math:`c` a small-sample factor. The
families differ only in :math:`c`, and each follows the software its results are checked
against:

==============  ======================================================  ===========================
convention      factor :math:`c`                                        used by
==============  ======================================================  ===========================
``stata``       :math:`\\frac{G}{G-1}\\,\\frac{n-1}{n-d-k}`               ``fit_fe`` (Stata ``xtreg``,
                                                                        linearmodels ``PanelOLS``)
``r_vcovcl``    :math:`\\frac{G}{G-1}\\,\\frac{n-1}{n-k}`                 ``fit_hazard`` (R
                                                                        ``sandwich::vcovCL`` HC1)
``r_coxph``     :math:`1`                                               ``fit_cox`` (R ``coxph``
                                                                        with ``cluster``)
==============  ======================================================  ===========================

with :math:`G` clusters, :math:`n` observations, :math:`k` estimated coefficients and
:math:`d` degrees of freedom absorbed by fixed effects. The score sums :math:`s_g` (a
:math:`G \\times k` array) are also the building blocks of the wild cluster bootstrap.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import numpy as np

from sustain._typing import FloatArray, IntArray
from sustain.errors import FitError

Convention: TypeAlias = Literal["stata", "r_vcovcl", "r_coxph"]


def cluster_sums(scores: FloatArray, codes: IntArray) -> FloatArray:
    """Score contributions summed within clusters: shape ``(G, k)``.

    Parameters
    ----------
    scores : ndarray, shape (n, k)
        One row per observation.
    codes : ndarray of int, shape (n,)
        Cluster codes ``0 .. G-1``.

    Examples
    --------
    >>> cluster_sums(np.array([[1.0], [-1.0], [2.0]]), np.array([0, 0, 1])).tolist()
    [[0.0], [2.0]]
    """
    scores = np.asarray(scores, dtype=np.float64)
    codes = np.asarray(codes, dtype=np.int64)
    n_groups = int(codes.max()) + 1 if len(codes) else 0
    return (
        np.column_stack(
            [
                np.bincount(codes, weights=scores[:, j], minlength=n_groups)
                for j in range(scores.shape[1])
            ]
        )
        if scores.shape[1]
        else np.zeros((n_groups, 0))
    )


def cluster_meat(scores: FloatArray, codes: IntArray) -> FloatArray:
    """:math:`\\sum_g s_g s_g'` (no factor).

    Raises
    ------
    FitError
        With fewer than two clusters.

    Examples
    --------
    >>> cluster_meat(np.array([[1.0], [-1.0], [2.0]]), np.array([0, 0, 1])).tolist()
    [[4.0]]
    """
    sums = cluster_sums(scores, codes)
    if sums.shape[0] < 2:
        raise FitError("a clustered covariance needs at least two clusters")
    return sums.T @ sums


def small_sample_factor(
    convention: Convention, n: int, k: int, n_groups: int, absorbed_df: int = 0
) -> float:
    """The factor :math:`c` of a convention (see the module docstring).

    Examples
    --------
    >>> small_sample_factor("r_vcovcl", n=3, k=1, n_groups=2)
    2.0
    >>> small_sample_factor("r_coxph", n=3, k=1, n_groups=2)
    1.0
    """
    if convention == "r_coxph":
        return 1.0
    dof = n - k - (absorbed_df if convention == "stata" else 0)
    if dof <= 0 or n_groups < 2:
        raise FitError(
            f"no residual degrees of freedom for a clustered covariance: {n} observations, "
            f"{k} coefficients, {absorbed_df} absorbed effects, {n_groups} clusters"
        )
    return n_groups / (n_groups - 1) * (n - 1) / dof


def cluster_covariance(
    bread: FloatArray,
    scores: FloatArray,
    codes: IntArray,
    convention: Convention,
    absorbed_df: int = 0,
) -> FloatArray:
    """The sandwich :math:`c\\, B (\\sum_g s_g s_g') B` of one clustering.

    Parameters
    ----------
    bread : ndarray, shape (k, k)
    scores : ndarray, shape (n, k)
    codes : ndarray of int, shape (n,)
    convention : {"stata", "r_vcovcl", "r_coxph"}
    absorbed_df : int
        Degrees of freedom of absorbed fixed effects (``stata`` only).

    Examples
    --------
    >>> v = cluster_covariance(np.eye(1), np.array([[1.0], [-1.0], [2.0]]),
    ...                        np.array([0, 0, 1]), "r_vcovcl")
    >>> round(float(v[0, 0]), 6)
    8.0
    """
    n, k = np.shape(scores)
    meat = cluster_meat(scores, codes)
    factor = small_sample_factor(convention, n, k, int(np.max(codes)) + 1, absorbed_df)
    out = factor * bread @ meat @ bread
    return np.asarray((out + out.T) / 2, dtype=np.float64)
