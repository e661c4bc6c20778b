"""Hand-written kernel of the collapsed Gaussian model (:mod:`.collapsed_model`), with gradient.

Same conventions as :mod:`.kernel` (constrained values ``val``, gradient ``gval`` with respect
to them, prior blocks, Jacobians added at the end); the likelihood is the marginal one of
:func:`.collapsed_model.marginal_loglik` for a diagonal ``Lambda`` -- population-level
coefficients and uncorrelated group effects, i.e. every model the collapse accepts except
correlated varying coefficients, which keep the PyTensor graph. With ``s2 = sigma^2``,
``t2 = tau^2`` and, per count class ``k`` (``n_k`` rows per level, ``size_k`` levels),
``c_k = t2 / (s2 + n_k t2)``:

``M = (ZZ - sum_k c_k CZZ_k) / s2``, ``q = (Zr - sum_k c_k CZr_k) / s2``,
``A = I + diag(lam) M diag(lam)``, ``u = A^-1 (lam * q)``,

``log p = -1/2 [N log 2 pi + N log s2 + sum_k size_k log1p(n_k t2 / s2) + log|A|
+ (rr - sum_k c_k crr_k) / s2 - (lam * q)' u]``.

Its gradient: ``d/dA = -(A^-1 + u u') / 2`` and ``d/d(lam * q) = u``, then through
``A = I + lam_i M_ij lam_j`` to ``lam``, ``M``, ``q`` and on to ``c_k``, ``s2``, ``t2``, and
to the scale parameters each ``lam_i`` is made of (``lam_i = const_i``,
``const_i * sd``, or ``const_i / sqrt(mix)`` for a Student-t or Cauchy prior written as a
normal scale mixture). ``A`` is factored by a Cholesky decomposition written out in loops:
``m`` is at most :data:`MAX_KERNEL_COLUMNS`, where LAPACK would gain little, and numba compiles
loops in a fraction of the time its LAPACK bindings take (the reason for this module).
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np

from sustain.models.bayes.kernel_core import (
    _LOG_2PI,
    _voidptr,
    constrain,
    entry_cfunc,
    finish_gradient,
    jit,
    prior_terms,
    return_code,
)

#: Largest number of integrated columns ``m`` the kernel takes; above it the PyTensor graph
#: (LAPACK) is used. Each evaluation costs about ``m^3`` multiply-adds (factor and inverse):
#: measured 0.2 ms at ``m = 60`` on the 2-core machine.
MAX_KERNEL_COLUMNS = 60
#: ``lam_kind`` codes: the column's scale is a constant, times an sd, or over sqrt(mixing).
LAM_CONST, LAM_SD, LAM_MIX = 0, 1, 2


@jit
def _cholesky(A: np.ndarray) -> tuple[np.ndarray, bool]:
    """Lower Cholesky factor of a symmetric positive definite ``A`` (False: not positive)."""
    m = A.shape[0]
    L = np.zeros((m, m))
    for j in range(m):
        d = A[j, j]
        for k in range(j):
            d -= L[j, k] * L[j, k]
        if not d > 0.0:
            return L, False
        L[j, j] = math.sqrt(d)
        for i in range(j + 1, m):
            s = A[i, j]
            for k in range(j):
                s -= L[i, k] * L[j, k]
            L[i, j] = s / L[j, j]
    return L, True


@jit
def _inverse_from_cholesky(L: np.ndarray) -> np.ndarray:
    """``A^-1 = L^-T L^-1`` from the Cholesky factor ``L`` of ``A``."""
    m = L.shape[0]
    Li = np.zeros((m, m))  # L^-1, lower triangular
    for j in range(m):
        Li[j, j] = 1.0 / L[j, j]
        for i in range(j + 1, m):
            s = 0.0
            for k in range(j, i):
                s -= L[i, k] * Li[k, j]
            Li[i, j] = s / L[i, i]
    W = np.zeros((m, m))
    for i in range(m):
        for j in range(i + 1):
            s = 0.0
            for k in range(i, m):
                s += Li[k, i] * Li[k, j]
            W[i, j] = s
            W[j, i] = s
    return W


@jit
def _scales(val: np.ndarray, lam_const: np.ndarray, lam_pos: np.ndarray, lam_kind: np.ndarray):  # type: ignore[no-untyped-def]
    m = lam_const.shape[0]
    lam = np.empty(m)
    for i in range(m):
        lam[i] = lam_const[i]
        if lam_kind[i] == 1:
            lam[i] *= val[lam_pos[i]]
        elif lam_kind[i] == 2:
            lam[i] /= math.sqrt(val[lam_pos[i]])
    return lam


@jit
def collapsed_logp(
    x: np.ndarray,
    grad: np.ndarray,
    blocks: np.ndarray,
    bpar: np.ndarray,
    info: np.ndarray,
    lam_const: np.ndarray,
    lam_pos: np.ndarray,
    lam_kind: np.ndarray,
    stats: np.ndarray,
    zz: np.ndarray,
    cn: np.ndarray,
    csize: np.ndarray,
    crr: np.ndarray,
    czr: np.ndarray,
    czz: np.ndarray,
) -> float:
    """Log-density and gradient of the collapsed model (priors, Jacobians and marginal likelihood).

    ``info`` = ``[sigma position, tau position, N]``; ``stats`` = ``[rr, Zr...]`` (length
    ``1 + m``); ``zz`` (m, m); per count class ``cn``, ``csize``, ``crr`` (C,), ``czr`` (C, m),
    ``czz`` (C, m, m); ``lam_*`` describe ``lam`` (see :func:`_scales`).
    """
    n_dim = x.shape[0]
    val = np.empty(n_dim)
    gval = np.zeros(n_dim)
    constrain(x, blocks, val)
    total = prior_terms(val, gval, blocks, bpar)
    sp, tp, n_obs = info[0], info[1], float(info[2])
    s2 = val[sp] * val[sp]
    t2 = val[tp] * val[tp]
    # the big factor's count classes: log|V|, r'V^-1 r and their derivatives in s2, t2
    c, logdet, quad0, g_var = _class_terms(s2, t2, n_obs, stats[0], cn, csize, crr)
    lam = _scales(val, lam_const, lam_pos, lam_kind)
    M, q = _marginal_products(c, s2, stats, zz, czr, czz)
    A = np.empty(M.shape)
    for i in range(M.shape[0]):
        for j in range(M.shape[0]):
            A[i, j] = lam[i] * M[i, j] * lam[j]
        A[i, i] += 1.0
    L, ok = _cholesky(A)
    if not ok:
        return np.nan
    v, u = _solve(L, lam * q)
    quad = quad0
    for i in range(M.shape[0]):
        logdet += 2.0 * math.log(L[i, i])
        quad -= v[i] * v[i]
    total += -0.5 * (n_obs * _LOG_2PI + logdet + quad)
    g_lam, gM, gq = _through_a(_inverse_from_cholesky(L), u, M, q, lam)
    _to_variances(g_var, gM, gq, M, q, c, s2, t2, quad0, cn, crr, czr, czz)
    gval[sp] += 2.0 * val[sp] * g_var[0]
    gval[tp] += 2.0 * val[tp] * g_var[1]
    for i in range(M.shape[0]):
        if lam_kind[i] == 1:
            gval[lam_pos[i]] += g_lam[i] * lam_const[i]
        elif lam_kind[i] == 2:
            gval[lam_pos[i]] -= 0.5 * g_lam[i] * lam[i] / val[lam_pos[i]]
    total += finish_gradient(x, val, gval, blocks, grad)
    return total


@jit
def _class_terms(  # type: ignore[no-untyped-def]
    s2, t2, n_obs, rr, cn, csize, crr
):
    """``c_k``, ``log|V|``, ``r'V^-1 r`` and ``[d/ds2, d/dt2]`` of ``-log|V| / 2``."""
    n_class = cn.shape[0]
    c = np.empty(n_class)
    logdet = n_obs * math.log(s2)
    quad0 = rr
    g_var = np.zeros(2)
    g_var[0] = -0.5 * n_obs / s2
    for k in range(n_class):
        d = s2 + cn[k] * t2
        c[k] = t2 / d
        logdet += csize[k] * math.log1p(cn[k] * t2 / s2)
        g_var[0] += 0.5 * csize[k] * cn[k] * t2 / (s2 * d)
        g_var[1] -= 0.5 * csize[k] * cn[k] / d
        quad0 -= c[k] * crr[k]
    return c, logdet, quad0 / s2, g_var


@jit
def _marginal_products(  # type: ignore[no-untyped-def]
    c, s2, stats, zz, czr, czz
):
    """``M = Z'V^-1 Z`` and ``q = Z'V^-1 r`` from the count-class statistics."""
    m, n_class = zz.shape[0], c.shape[0]
    M = np.empty((m, m))
    q = np.empty(m)
    for i in range(m):
        qi = stats[1 + i]
        for k in range(n_class):
            qi -= c[k] * czr[k, i]
        q[i] = qi / s2
        for j in range(m):
            mij = zz[i, j]
            for k in range(n_class):
                mij -= c[k] * czz[k, i, j]
            M[i, j] = mij / s2
    return M, q


@jit
def _solve(L: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``v = L^-1 b`` and ``u = L^-T v = A^-1 b`` for ``A = L L'``."""
    m = b.shape[0]
    v = np.empty(m)
    for i in range(m):
        s = b[i]
        for k in range(i):
            s -= L[i, k] * v[k]
        v[i] = s / L[i, i]
    u = np.empty(m)
    for i in range(m - 1, -1, -1):
        s = v[i]
        for k in range(i + 1, m):
            s -= L[k, i] * u[k]
        u[i] = s / L[i, i]
    return v, u


@jit
def _through_a(  # type: ignore[no-untyped-def]
    W, u, M, q, lam
):
    """Gradients in ``lam``, ``M`` and ``q`` from ``d/dA = -(A^-1 + u u') / 2``, ``d/d(lam q) = u``."""
    m = u.shape[0]
    g_lam = np.empty(m)
    gM = np.empty((m, m))
    gq = np.empty(m)
    for i in range(m):
        acc = u[i] * q[i]
        for j in range(m):
            g = -0.5 * (W[i, j] + u[i] * u[j])
            acc += 2.0 * g * M[i, j] * lam[j]
            gM[i, j] = g * lam[i] * lam[j]
        g_lam[i] = acc
        gq[i] = u[i] * lam[i]
    return g_lam, gM, gq


@jit
def _to_variances(  # type: ignore[no-untyped-def]
    g_var, gM, gq, M, q, c, s2, t2, quad0, cn, crr, czr, czz
) -> None:
    """Add to ``g_var = [d/ds2, d/dt2]`` what flows through ``M``, ``q``, ``c_k`` and ``quad0``."""
    m = q.shape[0]
    direct = 0.0  # through the division of M and q by s2
    for i in range(m):
        direct += gq[i] * q[i]
        for j in range(m):
            direct += gM[i, j] * M[i, j]
    g_var[0] += -direct / s2 + 0.5 * quad0 / s2
    for k in range(c.shape[0]):
        gc = 0.5 * crr[k]
        for i in range(m):
            gc -= gq[i] * czr[k, i]
            for j in range(m):
                gc -= gM[i, j] * czz[k, i, j]
        gc /= s2
        d = s2 + cn[k] * t2
        g_var[0] -= gc * t2 / (d * d)
        g_var[1] += gc * s2 / (d * d)


def _collapsed_entry(stamp: int) -> Any:
    """The collapsed entry point, capturing ``stamp`` (:func:`.kernel_core.sources_stamp`)."""

    def collapsed_entry(dim, x_, out_, logp_, user_data_):  # type: ignore[no-untyped-def]
        meta = numba.carray(user_data_, (24,), np.int64)
        x = numba.carray(x_, (dim,))
        out = numba.carray(out_, (dim,))
        logp = numba.carray(logp_, ())
        if dim != meta[0] or stamp < 0:  # stamp >= 0: named only to be in the closure
            return -1
        m, n_class = meta[1], meta[2]
        blocks = numba.carray(_voidptr(meta[3]), (meta[4], 5), np.int64)
        bpar = numba.carray(_voidptr(meta[5]), (meta[4], 3), np.float64)
        info = numba.carray(_voidptr(meta[6]), (3,), np.int64)
        lam_const = numba.carray(_voidptr(meta[7]), (m,), np.float64)
        lam_pos = numba.carray(_voidptr(meta[8]), (m,), np.int64)
        lam_kind = numba.carray(_voidptr(meta[9]), (m,), np.int64)
        stats = numba.carray(_voidptr(meta[10]), (m + 1,), np.float64)
        zz = numba.carray(_voidptr(meta[11]), (m, m), np.float64)
        cn = numba.carray(_voidptr(meta[12]), (n_class,), np.float64)
        csize = numba.carray(_voidptr(meta[13]), (n_class,), np.float64)
        crr = numba.carray(_voidptr(meta[14]), (n_class,), np.float64)
        czr = numba.carray(_voidptr(meta[15]), (n_class, m), np.float64)
        czz = numba.carray(_voidptr(meta[16]), (n_class, m, m), np.float64)
        value = collapsed_logp(
            x, out, blocks, bpar, info, lam_const, lam_pos, lam_kind, stats, zz, cn, csize, crr,
            czr, czz,
        )  # fmt: skip
        logp[()] = value
        return return_code(value, out)

    return collapsed_entry


def collapsed_cfunc() -> Any:
    """The collapsed kernel as a C function with nutpie's signature (cached on disk).

    Examples
    --------
    >>> collapsed_cfunc().address > 0
    True
    """
    return entry_cfunc("collapsed", _collapsed_entry)
