"""The large-panel path of the within estimator: absorb effects on integer codes with numpy.

Why hand-written numerics here (CONVENTIONS.md asks for a reason): linearmodels' ``PanelOLS``
builds a ``PanelData`` object, sorts and reshapes the whole panel and, for unbalanced two-way
panels, demeans through pandas group-bys; on two million agency-years it needs 15-30 s on
this machine. pyfixest is 2-6x faster, but it is a development-only dependency of sustain,
its first call pays seconds of numba compilation, and its small-sample conventions differ from
linearmodels' (which sustain reports everywhere else). The transform below needs nothing but
``np.bincount`` and one small sparse product, is exact rather than iterative for the common
agency x year case, and reproduces linearmodels' coefficients to machine precision and its
covariance estimators formula by formula, so both paths give the same numbers.

* One absorbed effect: subtract group means (exact).
* Two effects, one of them with few levels (years): subtract the means of the large effect,
  then partial out the dummies of the small effect through their normal equations
  (Frisch-Waugh-Lovell). The normal-equation matrix has one row per level of the small effect
  and is built from the sparse crosstab of the two codes, so this is exact and costs a few
  passes over the data for any unbalanced panel.
* Otherwise: alternating projections (the method of fixest/pyfixest and reghdfe), iterated
  until the largest change is below ``MAP_TOLERANCE`` relative to the data's scale.

All arrays are float64; ``n`` is the number of observations, ``p`` the number of columns
transformed together (response and regressors), ``k`` the number of regressors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.linalg
import scipy.sparse

from sustain._typing import FloatArray, IntArray
from sustain.errors import FitError

# the exact two-way transform builds a dense (levels x levels) matrix for the smaller effect
SMALL_EFFECT_LEVELS = 5_000
# the crosstab of the two effects is built dense up to this many cells (else sparse)
DENSE_CROSSTAB_CELLS = 50_000_000
# alternating projections stop when no value changes by more than this (relative to scale)
MAP_TOLERANCE = 1e-14
MAP_MAX_ITERATIONS = 100_000
# a column whose absorbed norm is below this share of its original norm is absorbed
ABSORBED_TOLERANCE = 1e-8
# squared distance of a unit-norm column from the span of the others below which it is dependent
RANK_TOLERANCE = 1e-11


@dataclass(frozen=True, slots=True)
class Effect:
    """One absorbed effect as integer codes.

    Attributes
    ----------
    name : str
        Variable name (index level or column).
    codes : ndarray of int64, shape (n,)
        Level of each observation, ``0 .. n_levels - 1``.
    n_levels : int
        Number of distinct levels.
    """

    name: str
    codes: IntArray
    n_levels: int


@dataclass(frozen=True, slots=True)
class Absorbed:
    """Columns with the absorbed effects removed.

    Attributes
    ----------
    values : ndarray, shape (n, p)
        The transformed columns.
    method : str
        ``"demean"``, ``"two-way exact"`` or ``"alternating projections"``.
    iterations : int
        Sweeps of alternating projections (1 for the exact methods).
    """

    values: FloatArray
    method: str
    iterations: int


@dataclass(frozen=True, slots=True)
class WithinFit:
    """Least squares on absorbed data.

    Attributes
    ----------
    params : ndarray, shape (k,)
        Coefficients.
    resid : ndarray, shape (n,)
        Residuals of the transformed regression.
    X : ndarray, shape (n, k)
        Transformed regressors (needed by the covariance estimators).
    """

    params: FloatArray
    resid: FloatArray
    X: FloatArray


def effect_from_values(name: str, values: object) -> Effect:
    """Integer codes of a variable's levels.

    Examples
    --------
    >>> e = effect_from_values("g", ["b", "a", "b"])
    >>> e.codes.tolist(), e.n_levels
    ([0, 1, 0], 2)
    """
    codes, uniques = pd.factorize(pd.Series(values), sort=False)
    if (codes < 0).any():
        raise FitError(f"{name} has missing values; they cannot be absorbed or clustered on")
    return Effect(name=name, codes=codes.astype(np.int64), n_levels=len(uniques))


def effect_from_codes(name: str, codes: IntArray) -> Effect:
    """An :class:`Effect` from integer codes that may skip values (they are compacted).

    Examples
    --------
    >>> effect_from_codes("g", np.array([5, 2, 5])).codes.tolist()
    [1, 0, 1]
    """
    codes = np.asarray(codes, dtype=np.int64)
    present = np.bincount(codes) > 0
    if present.all():
        return Effect(name=name, codes=codes, n_levels=len(present))
    compact = np.cumsum(present) - 1
    return Effect(name=name, codes=compact[codes], n_levels=int(present.sum()))


def group_means(M: FloatArray, effect: Effect) -> FloatArray:
    """Means of each column of ``M`` (n, p) within the levels of ``effect``: (n_levels, p).

    Examples
    --------
    >>> e = effect_from_values("g", [0, 0, 1])
    >>> group_means(np.array([[1.0], [3.0], [5.0]]), e).ravel().tolist()
    [2.0, 5.0]
    """
    counts = np.bincount(effect.codes, minlength=effect.n_levels).astype(float)
    sums = np.column_stack(
        [
            np.bincount(effect.codes, weights=M[:, j], minlength=effect.n_levels)
            for j in range(M.shape[1])
        ]
    )
    return sums / counts[:, None]


def demean(M: FloatArray, effect: Effect) -> FloatArray:
    """``M`` minus its group means (the within transform of one effect).

    Examples
    --------
    >>> e = effect_from_values("g", [0, 0, 1])
    >>> demean(np.array([[1.0], [3.0], [5.0]]), e).ravel().tolist()
    [-1.0, 1.0, 0.0]
    """
    # np.take along axis 0 is several times faster than fancy row indexing
    return M - np.take(group_means(M, effect), effect.codes, axis=0)


def absorb(M: FloatArray, effects: Sequence[Effect]) -> Absorbed:
    """Remove the effects from every column of ``M`` (n, p).

    Parameters
    ----------
    M : ndarray, shape (n, p)
        Columns to transform (response and regressors together).
    effects : sequence of Effect
        At least one.

    Returns
    -------
    Absorbed

    Notes
    -----
    With effects :math:`D = [D_1, \\ldots, D_m]` the result is :math:`M_D M`, the residual of
    the least-squares projection of each column on all effect dummies. For two effects with
    :math:`D_2` small, :math:`M_D M = M_1 M - M_1 D_2 \\gamma` where
    :math:`(D_2' M_1 D_2)\\gamma = D_2' M_1 M`; :math:`D_2' M_1 D_2 = \\mathrm{diag}(N_2) -
    C' \\mathrm{diag}(1/N_1) C` with :math:`C` the crosstab of the two codes. The matrix is
    singular (its rank drops by one per connected component), so the minimum-norm
    least-squares solution is used; the projection itself is unique.

    Examples
    --------
    >>> a = effect_from_values("i", [0, 0, 1, 1])
    >>> t = effect_from_values("t", [0, 1, 0, 1])
    >>> M = np.array([[1.0], [2.0], [3.0], [5.0]])
    >>> absorb(M, [a, t]).values.ravel().round(3).tolist()
    [0.25, -0.25, -0.25, 0.25]
    """
    if not effects:
        raise FitError("absorb needs at least one effect")
    M = np.asarray(M, dtype=float)
    if len(effects) == 1:
        return Absorbed(demean(M, effects[0]), "demean", 1)
    if len(effects) == 2:
        big, small = sorted(effects, key=lambda e: e.n_levels, reverse=True)
        if small.n_levels <= SMALL_EFFECT_LEVELS:
            return Absorbed(_absorb_two_exact(M, big, small), "two-way exact", 1)
    return _alternating_projections(M, effects)


def _crosstab(big: Effect, small: Effect) -> FloatArray | scipy.sparse.csr_matrix:
    """Counts of observations per (big level, small level): dense when it fits, else sparse."""
    if big.n_levels * small.n_levels <= DENSE_CROSSTAB_CELLS:
        cells = np.bincount(
            big.codes * small.n_levels + small.codes, minlength=big.n_levels * small.n_levels
        )
        return cells.reshape(big.n_levels, small.n_levels).astype(float)
    ones = np.ones(len(big.codes))
    return scipy.sparse.csr_matrix(
        (ones, (big.codes, small.codes)), shape=(big.n_levels, small.n_levels)
    )


def _absorb_two_exact(M: FloatArray, big: Effect, small: Effect) -> FloatArray:
    Mb = demean(M, big)
    crosstab = _crosstab(big, small)
    n_big = np.asarray(crosstab.sum(axis=1)).ravel()
    n_small = np.asarray(crosstab.sum(axis=0)).ravel()
    if isinstance(crosstab, np.ndarray):
        projected = crosstab.T @ (crosstab / n_big[:, None])
    else:
        projected = (crosstab.T @ (scipy.sparse.diags(1.0 / n_big) @ crosstab)).toarray()
    gram = np.diag(n_small) - projected
    rhs = np.column_stack(
        [
            np.bincount(small.codes, weights=Mb[:, j], minlength=small.n_levels)
            for j in range(M.shape[1])
        ]
    )
    gamma = scipy.linalg.lstsq(gram, rhs, cond=1e-12, lapack_driver="gelsd")[0]
    return Mb - demean(np.take(gamma, small.codes, axis=0), big)


def _alternating_projections(M: FloatArray, effects: Sequence[Effect]) -> Absorbed:
    current = M.copy()
    scale = max(float(np.abs(M).max()), 1.0)
    for iteration in range(1, MAP_MAX_ITERATIONS + 1):
        previous = current
        for effect in effects:
            current = demean(current, effect)
        if float(np.abs(current - previous).max()) <= MAP_TOLERANCE * scale:
            return Absorbed(current, "alternating projections", iteration)
    raise FitError(
        f"absorbing {', '.join(e.name for e in effects)} did not converge in "
        f"{MAP_MAX_ITERATIONS} sweeps; the effects may be nearly collinear"
    )


def absorbed_dof(effects: Sequence[Effect], has_constant: bool = False) -> int:
    """Degrees of freedom used by the effects, counted as linearmodels' ``PanelOLS`` does.

    The first effect uses all its levels (one fewer with a constant), every further effect
    one fewer than its levels.

    Examples
    --------
    >>> a = effect_from_values("i", [0, 0, 1, 1]); t = effect_from_values("t", [0, 1, 0, 1])
    >>> absorbed_dof([a, t])
    3
    """
    total, drop_first = 0, has_constant
    for effect in effects:
        total += effect.n_levels - int(drop_first)
        drop_first = True
    return total


def redundant_levels(first: Effect, second: Effect) -> int:
    """Dummies of two effects that are redundant beyond the one ``absorbed_dof`` subtracts.

    The dummies of two effects span :math:`L_1 + L_2 - C` dimensions, :math:`C` the number of
    connected components of the bipartite graph whose nodes are the levels and whose edges are
    the observations (Abowd, Creecy and Kramarz 2002). ``absorbed_dof`` (like linearmodels
    and plm) assumes :math:`C = 1`; this returns :math:`C - 1`. It is positive for panels
    whose agencies fall into groups observed in disjoint years, and for agency effects with
    district x year effects (agencies nested in districts: one component per district).

    Examples
    --------
    >>> agency = effect_from_values("agency", [0, 0, 1, 1, 2, 2, 3, 3])
    >>> district_year = effect_from_values("dy", ["a1", "a2", "a1", "a2", "b1", "b2", "b1", "b2"])
    >>> redundant_levels(agency, district_year)
    1
    """
    from scipy.sparse.csgraph import connected_components

    nodes = first.n_levels + second.n_levels
    edges = scipy.sparse.coo_matrix(
        (np.ones(len(first.codes), dtype=np.int8), (first.codes, second.codes + first.n_levels)),
        shape=(nodes, nodes),
    ).tocsr()
    count, _ = connected_components(edges, directed=False)
    return int(count) - 1


def collinear(transformed: FloatArray, original: FloatArray) -> tuple[list[int], list[int]]:
    """Columns absorbed by the effects and columns linearly dependent on earlier ones.

    Parameters
    ----------
    transformed : ndarray, shape (n, k)
        Regressors after the estimator's transform (absorbed, differenced, averaged).
    original : ndarray, shape (n0, k)
        The regressors before it (sets each column's scale).

    Returns
    -------
    absorbed, dependent : list of int
        Column positions: columns that the transform wiped out, and columns that are linear
        combinations of the others (the later column of a dependent set is dropped).

    Examples
    --------
    >>> X = np.array([[1.0, 2, 3], [2, 4, 1], [3, 6, 2]])
    >>> collinear(X, X)
    ([], [1])
    """
    norms = np.linalg.norm(original, axis=0)
    norms_t = np.linalg.norm(transformed, axis=0)
    k = transformed.shape[1]
    absorbed = [j for j in range(k) if norms_t[j] <= ABSORBED_TOLERANCE * max(norms[j], 1e-300)]
    # Work on the k x k Gram matrix of unit-norm columns (cheap for millions of rows): a
    # column is dependent when its squared distance from the span of the kept earlier
    # columns is below RANK_TOLERANCE.
    live = [j for j in range(k) if j not in absorbed]
    unit = transformed[:, live] / norms_t[live]
    gram = unit.T @ unit
    kept: list[int] = []
    dependent: list[int] = []
    for pos, j in enumerate(live):
        if kept:
            g_kk = gram[np.ix_(kept, kept)]
            g_kj = gram[kept, pos]
            residual = gram[pos, pos] - g_kj @ np.linalg.solve(g_kk, g_kj)
        else:
            residual = gram[pos, pos]
        if residual > RANK_TOLERANCE:
            kept.append(pos)
        else:
            dependent.append(j)
    return absorbed, dependent


def within_ols(y: FloatArray, X: FloatArray) -> WithinFit:
    """Least squares of transformed ``y`` (n,) on transformed ``X`` (n, k).

    Examples
    --------
    >>> X = np.array([[1.0], [-1.0], [2.0]])
    >>> round(float(within_ols(2 * X[:, 0], X).params[0]), 10)
    2.0
    """
    params = scipy.linalg.lstsq(X, y, lapack_driver="gelsd")[0]
    return WithinFit(params=params, resid=y - X @ params, X=X)
