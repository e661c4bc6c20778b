"""Correlated varying coefficients in the GLMM kernel (:mod:`.kernel`): LKJ through partial
correlations, non-centred ``u = (D L) z`` and centred ``u ~ MvNormal(0, (D L)(D L)')``.

The model is that of :func:`.model.factor_scales` and ``_correlated_effects``: the canonical
partial correlations ``cpc = 2 raw - 1`` (``raw ~ Beta``, log-odds transform) give the
Cholesky factor ``L`` of the correlation matrix row by row (:func:`.model.cholesky_rows`:
``L[i, j] = cpc[j, i] sqrt(rest)``, ``rest -= L[i, j]^2``, ``L[i, i] = sqrt(rest)``), and
``B = D L`` with ``D`` the sds. Its gradient is written out in reverse through those few
loops (``k`` is the number of correlated coefficients, 2 or 3 in practice).

Arrays (built by :func:`.kernel_spec.glmm_native`): ``corr`` (Q, 6) per correlated factor
``[k, levels, cpc position, first row of corr_sd, first row of corr_lvl, first row of
corr_r]``; ``corr_sd`` the positions of its sds; ``corr_r`` the start in the effects vector
``r`` of each coefficient's effects; ``corr_lvl`` (levels, 2) per level the position of its
``k`` raw values and whether they are centred (the raw values are the effects) or not (``z``).
"""

from __future__ import annotations

import math

import numpy as np

from sustain.models.bayes.kernel_core import _LOG_2PI, jit


@jit
def _factor(val: np.ndarray, k: int, cpc_pos: int, sd_pos: np.ndarray) -> tuple[np.ndarray, ...]:
    """``L`` (k, k), the square roots used in each row (k, k) and ``B = D L``."""
    L = np.zeros((k, k))
    roots = np.zeros((k, k))  # roots[i, j] = sqrt(rest) before L[i, j] was taken
    for i in range(k):
        rest = 1.0
        for j in range(i):
            m = j * (2 * k - j - 1) // 2 + (i - j - 1)  # index of pair (j, i) in cpc_pairs
            root = math.sqrt(rest)
            roots[i, j] = root
            L[i, j] = (2.0 * val[cpc_pos + m] - 1.0) * root
            rest -= L[i, j] * L[i, j]
        roots[i, i] = math.sqrt(rest)
        L[i, i] = roots[i, i]
    B = np.empty((k, k))
    for i in range(k):
        for j in range(k):
            B[i, j] = val[sd_pos[i]] * L[i, j]
    return L, roots, B


@jit
def _lower_solve(B: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``B^-1 w`` for a lower-triangular ``B``."""
    k = w.shape[0]
    a = np.empty(k)
    for i in range(k):
        s = w[i]
        for j in range(i):
            s -= B[i, j] * a[j]
        a[i] = s / B[i, i]
    return a


@jit
def correlated_forward(
    val: np.ndarray,
    r: np.ndarray,
    corr: np.ndarray,
    corr_sd: np.ndarray,
    corr_r: np.ndarray,
    corr_lvl: np.ndarray,
) -> float:
    """Fill ``r`` with the correlated factors' effects; return the centred levels' log-density."""
    total = 0.0
    for q in range(corr.shape[0]):
        k, levels, cpc_pos = corr[q, 0], corr[q, 1], corr[q, 2]
        sd_pos = corr_sd[corr[q, 3] : corr[q, 3] + k]
        _, _, B = _factor(val, k, cpc_pos, sd_pos)
        log_diag = 0.0
        for i in range(k):
            log_diag += math.log(B[i, i])
        w = np.empty(k)
        for lev in range(levels):
            pos, centred = corr_lvl[corr[q, 4] + lev, 0], corr_lvl[corr[q, 4] + lev, 1]
            for j in range(k):
                w[j] = val[pos + j]
            for i in range(k):
                u = w[i]
                if not centred:
                    u = 0.0
                    for j in range(i + 1):
                        u += B[i, j] * w[j]
                r[corr_r[corr[q, 5] + i] + lev] = u
            if centred:
                a = _lower_solve(B, w)
                total += -0.5 * k * _LOG_2PI - log_diag
                for i in range(k):
                    total -= 0.5 * a[i] * a[i]
    return total


@jit
def correlated_backward(
    val: np.ndarray,
    gval: np.ndarray,
    gr: np.ndarray,
    corr: np.ndarray,
    corr_sd: np.ndarray,
    corr_r: np.ndarray,
    corr_lvl: np.ndarray,
) -> None:
    """Add the gradient of the correlated factors (from ``gr`` and the centred densities)."""
    for q in range(corr.shape[0]):
        k, levels, cpc_pos = corr[q, 0], corr[q, 1], corr[q, 2]
        sd_pos = corr_sd[corr[q, 3] : corr[q, 3] + k]
        L, roots, B = _factor(val, k, cpc_pos, sd_pos)
        gB = np.zeros((k, k))
        w = np.empty(k)
        gu = np.empty(k)
        for lev in range(levels):
            pos, centred = corr_lvl[corr[q, 4] + lev, 0], corr_lvl[corr[q, 4] + lev, 1]
            for j in range(k):
                w[j] = val[pos + j]
            for i in range(k):
                gu[i] = gr[corr_r[corr[q, 5] + i] + lev]
            if centred:  # u = w; log N(w; 0, B B'): d/dw = -B^-T a, d/dB = b a' - diag(1/B_ii)
                a = _lower_solve(B, w)
                b = np.empty(k)  # B^-T a
                for i in range(k - 1, -1, -1):
                    s = a[i]
                    for j in range(i + 1, k):
                        s -= B[j, i] * b[j]
                    b[i] = s / B[i, i]
                for i in range(k):
                    gval[pos + i] += gu[i] - b[i]
                    gB[i, i] -= 1.0 / B[i, i]
                    for j in range(i + 1):
                        gB[i, j] += b[i] * a[j]
            else:  # u = B w
                for j in range(k):
                    s = 0.0
                    for i in range(j, k):
                        s += B[i, j] * gu[i]
                        gB[i, j] += gu[i] * w[j]
                    gval[pos + j] += s
        _chain_factor(val, gval, gB, L, roots, k, cpc_pos, sd_pos)


@jit
def _chain_factor(  # type: ignore[no-untyped-def]
    val, gval, gB, L, roots, k, cpc_pos, sd_pos
) -> None:
    """From ``d/dB`` to the sds (``B = D L``) and, back through the rows of ``L``, to ``raw``."""
    for i in range(k):
        g_sd = 0.0
        for j in range(i + 1):
            g_sd += gB[i, j] * L[i, j]
        gval[sd_pos[i]] += g_sd
        d = val[sd_pos[i]]
        g_rest = gB[i, i] * d * 0.5 / roots[i, i]  # L[i, i] = sqrt(rest after the row)
        for j in range(i - 1, -1, -1):
            m = j * (2 * k - j - 1) // 2 + (i - j - 1)
            g_l = gB[i, j] * d - 2.0 * L[i, j] * g_rest  # rest -= L[i, j]^2 came after
            cpc = 2.0 * val[cpc_pos + m] - 1.0
            gval[cpc_pos + m] += 2.0 * g_l * roots[i, j]  # L[i, j] = cpc * root; cpc = 2 raw - 1
            g_rest += g_l * cpc * 0.5 / roots[i, j]  # root = sqrt(rest before)
