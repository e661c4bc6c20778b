"""The wild cluster bootstrap of a linear regression, on cluster-level building blocks.

Why by hand: no maintained Python library bootstraps a regression whose fixed effects are
absorbed (wildboottest takes the full design, so agency effects would be two hundred thousand
dummy columns; pyfixest one-hot encodes them the same way). The algebra below follows Roodman,
MacKinnon, Nielsen and Webb (2019, "Fast and wild: bootstrap inference in Stata using
boottest", Stata Journal 19(1)): everything a bootstrap sample needs is a product of a
:math:`G`-vector of weights with a few :math:`G`-vectors and :math:`G \\times G` matrices built
once from the data, so 9,999 samples cost no more than a few passes over the data.

Notation: the regression as fitted (:class:`sustain.models.panel.pieces.RegressionPieces`):
:math:`n` rows, regressors :math:`X` (``n x k``, effects already absorbed), response
:math:`y`, residuals :math:`\\hat u`; :math:`A = (X'X)^{-1}`, :math:`a = A e_j` for the tested
coefficient :math:`j`, :math:`z = X a` (so that :math:`\\hat\\beta_j = z'y`). Restricted
(WCR) residuals impose :math:`\\beta_j = \\beta_0`:
:math:`\\tilde u(\\beta_0) = M_{X_{-j}}(y - \\beta_0 x_j) = \\tilde u_a - \\beta_0 w`.

A bootstrap sample :math:`y^* = X\\tilde\\beta + \\tilde u \\odot v_{g(i)}` gives

.. math::

    \\hat\\beta^*_j - \\beta_0 = \\sum_g c_g v_g, \\qquad c_g = \\sum_{i \\in g} z_i \\tilde u_i,

and the cluster-robust variance of :math:`\\hat\\beta^*_j` is
:math:`\\kappa \\lVert E v \\rVert^2` with :math:`E = Q - H`, where
:math:`H_{gh} = a' X_g'X_g A X_h'\\tilde u_h` and :math:`Q_{gh} = \\sum_{i \\in g} z_i
[M_D(\\tilde u \\odot 1_h)]_i`. :math:`M_D` removes the absorbed effects from the bootstrap
residuals, as a refit with the effects as dummies would: when every absorbed effect is nested
in the bootstrap clusters (agencies within districts) it changes nothing and
:math:`Q = \\mathrm{diag}(c)`; year effects are not nested in districts and need it. Every
block is affine in :math:`\\beta_0`, so the p-value at any :math:`\\beta_0` costs
:math:`O(B)` and the confidence interval is found by inverting the test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import scipy.sparse

from sustain._typing import FloatArray, IntArray
from sustain.errors import FitError
from sustain.inference.covariance import cluster_sums

#: Bootstrap samples processed at once: bounds memory to a few ``G x DRAW_CHUNK`` arrays.
DRAW_CHUNK_CELLS = 4_000_000
#: Cells of a dense table of (nested level, crossed level) counts (8 bytes each).
DENSE_COUNT_CELLS = 20_000_000
#: Columns of the absorbed-effects projection computed at once (each is one ``n``-vector).
PROJECTION_CHUNK = 4

#: ``(z, u_a, w, codes, G) -> (K0, K1)``: the part of :math:`\mathrm{diag}(c) - Q` that the
#: absorbed effects crossing the clusters take out, at :math:`\beta_0 = 0` and its slope.
Correction: TypeAlias = Callable[
    [FloatArray, FloatArray, FloatArray, IntArray, int], tuple[FloatArray, FloatArray]
]


@dataclass(frozen=True, slots=True)
class LinearBlocks:
    """The cluster-level building blocks of one test (``G`` bootstrap clusters).

    Attributes
    ----------
    numer0, numer1 : ndarray, shape (G,)
        :math:`c` at :math:`\\beta_0 = 0` and its slope in :math:`\\beta_0`
        (numerator :math:`(c^{(0)} - \\beta_0 c^{(1)})'v`).
    spread0, spread1 : ndarray, shape (G, G)
        :math:`E` at :math:`\\beta_0 = 0` and its slope in :math:`\\beta_0`.
    estimate : float
        :math:`\\hat\\beta_j`.
    se : float
        Cluster-robust standard error of :math:`\\hat\\beta_j` with the factor ``factor``.
    factor : float
        Small-sample factor :math:`\\kappa` of the cluster-robust variance.
    """

    numer0: FloatArray
    numer1: FloatArray
    spread0: FloatArray
    spread1: FloatArray
    estimate: float
    se: float
    factor: float


@dataclass(frozen=True, slots=True)
class DrawStatistics:
    """Per-sample pieces of the bootstrap t statistic as functions of :math:`\\beta_0`.

    :math:`t^*_b(\\beta_0) = (n_{0b} - \\beta_0 n_{1b}) / \\sqrt{\\kappa (q_{00,b} -
    2\\beta_0 q_{01,b} + \\beta_0^2 q_{11,b})}`; each attribute has shape ``(B,)``.
    """

    n0: FloatArray
    n1: FloatArray
    q00: FloatArray
    q01: FloatArray
    q11: FloatArray
    factor: float

    def t_stats(self, beta0: float) -> FloatArray:
        """Bootstrap t statistics of the null :math:`\\beta_j = \\beta_0`."""
        variance = self.factor * (self.q00 - 2 * beta0 * self.q01 + beta0**2 * self.q11)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(
                (self.n0 - beta0 * self.n1) / np.sqrt(np.maximum(variance, 0.0)),
                dtype=np.float64,
            )


def linear_blocks(
    X: FloatArray,
    y: FloatArray,
    resid: FloatArray,
    codes: IntArray,
    column: int,
    factor: float,
    impose_null: bool = True,
    correction: Correction | None = None,
) -> LinearBlocks:
    """Build the :class:`LinearBlocks` of the test of coefficient ``column``.

    Parameters
    ----------
    X, y, resid : ndarray
        The regression as fitted: ``(n, k)``, ``(n,)``, ``(n,)``.
    codes : ndarray of int, shape (n,)
        Bootstrap cluster of each row, ``0 .. G-1``.
    column : int
        Index of the tested coefficient.
    factor : float
        Small-sample factor of the cluster-robust variance (as the fit's covariance).
    impose_null : bool
        Restricted (WCR) or unrestricted (WCU) residuals.
    correction : callable, optional
        The absorbed effects' part of :math:`Q` (:func:`crossed_effect` or
        :func:`projected`); ``None`` when every absorbed effect is nested in the clusters.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 2)); y = X @ [1.0, 0.0] + rng.normal(size=40)
    >>> beta = np.linalg.lstsq(X, y, rcond=None)[0]
    >>> b = linear_blocks(X, y, y - X @ beta, np.repeat(np.arange(4), 10), 1, 1.0)
    >>> bool(np.isclose(b.numer0.sum(), b.estimate))
    True
    """
    n_groups = int(codes.max()) + 1
    A = np.linalg.inv(X.T @ X)
    a = A[:, column]
    z = X @ a
    if impose_null:
        u_a, w = _restricted(X, y, column)
    else:
        u_a, w = resid, np.zeros_like(resid)
    numer0 = _sums(z * u_a, codes, n_groups)
    numer1 = _sums(z * w, codes, n_groups)
    B = cluster_sums(X * z[:, None], codes) @ A  # (G, k): a' X_g'X_g A
    H0 = B @ cluster_sums(X * u_a[:, None], codes).T
    H1 = B @ cluster_sums(X * w[:, None], codes).T
    Q0, Q1 = np.diag(numer0), np.diag(numer1)
    if correction is not None:
        K0, K1 = correction(z, u_a, w, codes, n_groups)
        Q0, Q1 = Q0 - K0, Q1 - K1
    se = float(np.sqrt(factor * np.sum(_sums(z * resid, codes, n_groups) ** 2)))
    return LinearBlocks(
        numer0=numer0,
        numer1=numer1,
        spread0=Q0 - H0,
        spread1=Q1 - H1,
        estimate=float(z @ y),
        se=se,
        factor=float(factor),
    )


def _sums(values: FloatArray, codes: IntArray, n_groups: int) -> FloatArray:
    return np.bincount(codes, weights=values, minlength=n_groups).astype(np.float64)


def _restricted(X: FloatArray, y: FloatArray, column: int) -> tuple[FloatArray, FloatArray]:
    """:math:`M_{X_{-j}} y` and :math:`M_{X_{-j}} x_j` (least squares without column j)."""
    others = np.delete(X, column, axis=1)
    target = np.column_stack([y, X[:, column]])
    if others.shape[1] == 0:
        return target[:, 0].copy(), target[:, 1].copy()
    coef = np.linalg.solve(others.T @ others, others.T @ target)
    out = target - others @ coef
    return out[:, 0], out[:, 1]


def projected(project: Callable[[FloatArray], FloatArray]) -> Correction:
    """The correction of any absorbed effects, through their projection :math:`M_D`.

    :math:`Q_{gh} = \\sum_{i \\in h} \\tilde u_i [M_D(1_g \\odot z)]_i` because :math:`M_D` is
    symmetric; projecting the :math:`G` columns :math:`1_g \\odot z` once serves every
    :math:`\\beta_0`. The correction is :math:`\\mathrm{diag}(c) - Q`. Costs ``G`` absorbed
    columns; :func:`crossed_effect` is much faster for the common case.
    """

    def correction(
        z: FloatArray, u_a: FloatArray, w: FloatArray, codes: IntArray, n_groups: int
    ) -> tuple[FloatArray, FloatArray]:
        Q0 = np.empty((n_groups, n_groups))
        Q1 = np.empty((n_groups, n_groups))
        both = np.column_stack([u_a, w])
        for start in range(0, n_groups, PROJECTION_CHUNK):
            groups = np.arange(start, min(start + PROJECTION_CHUNK, n_groups))
            Z = np.where(codes[:, None] == groups[None, :], z[:, None], 0.0)
            Y = np.asarray(project(Z), dtype=np.float64)
            for m, g in enumerate(groups):
                sums = cluster_sums(Y[:, m, None] * both, codes)  # (G, 2), row h
                Q0[g], Q1[g] = sums[:, 0], sums[:, 1]
        diag0 = np.diag(_sums(z * u_a, codes, n_groups))
        diag1 = np.diag(_sums(z * w, codes, n_groups))
        return diag0 - Q0, diag1 - Q1

    return correction


def _crossed_products(nested: IntArray, crossed: IntArray, n_levels: int) -> FloatArray:
    """:math:`N' \\mathrm{diag}(1/n_a) N` for the counts :math:`N` of (nested, crossed) levels.

    Dense counts when they fit in ``DENSE_COUNT_CELLS`` (one bincount and a small product),
    sparse otherwise.
    """
    n_nested = int(nested.max()) + 1
    if n_nested * n_levels <= DENSE_COUNT_CELLS:
        cell = nested.astype(np.int64) * n_levels + crossed
        counts = np.bincount(cell, minlength=n_nested * n_levels).reshape(n_nested, n_levels)
        counts = counts.astype(np.float64)
        return np.asarray((counts / counts.sum(axis=1, keepdims=True)).T @ counts)
    sparse = scipy.sparse.csr_matrix(
        (np.ones(len(crossed)), (nested, crossed)), shape=(n_nested, n_levels)
    )
    size = np.asarray(sparse.sum(axis=1)).ravel()
    scaled = scipy.sparse.diags(1.0 / size) @ sparse
    return np.asarray((sparse.T @ scaled).todense())


def crossed_effect(crossed: IntArray, n_levels: int, nested: IntArray | None = None) -> Correction:
    """The correction of one absorbed effect that crosses the clusters (years across
    districts), the others being nested in them (agencies within districts).

    With :math:`W = M_{D_N} D_S` (the crossed effect's dummies, the nested effects removed) and
    :math:`C = W'W`, the correction is :math:`K_{gh} = (W'(1_g \\odot z))' C^{+}
    (W'(1_h \\odot \\tilde u))`. Because :math:`z` and :math:`\\tilde u` are orthogonal to every
    absorbed effect and the nested effects lie within clusters,
    :math:`W'(1_g \\odot z)` is the plain cross-tabulation of :math:`z` by cluster and level
    of the crossed effect, and :math:`C = \\mathrm{diag}(n_s) - N' \\mathrm{diag}(1/n_a) N`
    with :math:`N` the counts of (nested level, crossed level): a few passes over the data.

    Parameters
    ----------
    crossed : ndarray of int, shape (n,)
        Codes of the crossed effect, ``0 .. n_levels - 1``.
    n_levels : int
        Its number of levels.
    nested : ndarray of int, optional
        Codes of the one nested effect (``None`` when the crossed effect is absorbed alone).
    """
    C = np.diag(np.bincount(crossed, minlength=n_levels).astype(np.float64))
    if nested is not None:
        C = C - _crossed_products(nested, crossed, n_levels)
    C_plus = np.linalg.pinv(C, hermitian=True)

    def correction(
        z: FloatArray, u_a: FloatArray, w: FloatArray, codes: IntArray, n_groups: int
    ) -> tuple[FloatArray, FloatArray]:
        cell = codes.astype(np.int64) * n_levels + crossed
        size = n_groups * n_levels

        def table(values: FloatArray) -> FloatArray:
            return np.bincount(cell, weights=values, minlength=size).reshape(n_groups, n_levels)

        Zt = table(z)
        left = Zt @ C_plus
        return left @ table(u_a).T, left @ table(w).T

    return correction


def draw_statistics(blocks: LinearBlocks, weights: FloatArray) -> DrawStatistics:
    """The bootstrap numerators and variances of every weight vector (columns of ``weights``).

    Processed in chunks of columns so that memory stays bounded for many clusters.

    Examples
    --------
    >>> b = LinearBlocks(np.array([1.0, -1.0]), np.zeros(2), np.eye(2), np.zeros((2, 2)),
    ...                  0.0, 1.0, 1.0)
    >>> d = draw_statistics(b, np.array([[1.0, 1.0], [1.0, -1.0]]))
    >>> d.t_stats(0.0).round(3).tolist()
    [0.0, 1.414]
    """
    n_groups, n_draws = weights.shape
    step = max(1, DRAW_CHUNK_CELLS // max(n_groups, 1))
    parts: dict[str, list[FloatArray]] = {k: [] for k in ("n0", "n1", "q00", "q01", "q11")}
    for start in range(0, n_draws, step):
        V = weights[:, start : start + step]
        F0, F1 = blocks.spread0 @ V, blocks.spread1 @ V
        parts["n0"].append(blocks.numer0 @ V)
        parts["n1"].append(blocks.numer1 @ V)
        parts["q00"].append(np.einsum("gb,gb->b", F0, F0))
        parts["q01"].append(np.einsum("gb,gb->b", F0, F1))
        parts["q11"].append(np.einsum("gb,gb->b", F1, F1))
    joined = {k: np.concatenate(v) if v else np.zeros(0) for k, v in parts.items()}
    return DrawStatistics(factor=blocks.factor, **joined)


def check_identified(blocks: LinearBlocks, term: str) -> None:
    """Refuse a test whose cluster-robust standard error is zero (nothing varies)."""
    if not (np.isfinite(blocks.se) and blocks.se > 0):
        raise FitError(f"wild_bootstrap: the standard error of {term!r} is zero or undefined")
