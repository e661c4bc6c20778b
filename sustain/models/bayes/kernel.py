"""Hand-written log-densities with gradients, compiled once per machine for every model.

PyTensor's numba backend compiles each model structure anew: several hundred small numba
functions per graph, 10-50 s on a 2-core machine with empty caches (measured: 12 s for the
cloglog hazard's graph, about 47 s for the collapsed quality model, whose Cholesky gradient
goes through LAPACK wrappers). The functions here are *structure-independent*: the model --
which position holds which parameter, its prior and transform, the design, the grouping
factors, the family -- is described by integer and float arrays (:mod:`.kernel_spec`), so the
same machine code serves every formula of the supported class. They are compiled once, by
``make install`` (:mod:`.kernel_store`) or at the first fit that needs them, cached on disk by
numba (``cache=True``, under ``NUMBA_CACHE_DIR`` when set), and the cost of the first fit of a
*new structure* is then that of building a few arrays.

This is numerics written by hand, against the rule of preferring a library, because no library
does it: a library log-density (PyTensor, JAX, Stan) is compiled per structure. Each kernel is
checked in ``tests/models/bayes/test_kernel_glmm.py`` against the PyTensor log-density of the same
PyMC model: equal log-density differences and gradients at random positions.

The conventions shared by the kernels are those of :mod:`.kernel_core`; correlated varying
coefficients are in :mod:`.kernel_lkj`.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numba
import numpy as np

from sustain.models.bayes.kernel_core import (
    _LOG_2,
    _LOG_2PI,
    _softplus,
    _voidptr,
    constrain,
    entry_cfunc,
    finish_gradient,
    inline,
    jit,
    prior_terms,
    return_code,
)
from sustain.models.bayes.kernel_lkj import correlated_backward, correlated_forward

#: Family and link codes of the GLMM kernel.
FAMILY_CODES = {"gaussian": 0, "bernoulli": 1, "binomial": 2, "poisson": 3}
LINK_CODES = {"identity": 0, "logit": 1, "cloglog": 2, "log": 3}


@jit
def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """``a . b`` with four running sums: a sum of n terms is otherwise bound by the latency of
    n dependent additions (no fastmath, so LLVM may not reorder it); fixed order, so the
    result is the same on every run."""
    n = a.shape[0]
    s0 = s1 = s2 = s3 = 0.0
    m = n - n % 4
    for i in range(0, m, 4):
        s0 += a[i] * b[i]
        s1 += a[i + 1] * b[i + 1]
        s2 += a[i + 2] * b[i + 2]
        s3 += a[i + 3] * b[i + 3]
    for i in range(m, n):
        s0 += a[i] * b[i]
    return (s0 + s1) + (s2 + s3)


@jit
def _sum(a: np.ndarray) -> float:
    """Sum of ``a`` with four running sums (see :func:`_dot`)."""
    n = a.shape[0]
    s0 = s1 = s2 = s3 = 0.0
    m = n - n % 4
    for i in range(0, m, 4):
        s0 += a[i]
        s1 += a[i + 1]
        s2 += a[i + 2]
        s3 += a[i + 3]
    for i in range(m, n):
        s0 += a[i]
    return (s0 + s1) + (s2 + s3)


@jit
def _log1mexp(x: float) -> float:
    """``log(1 - exp(x))`` for ``x < 0``, accurate at both ends."""
    if x < -_LOG_2:
        return math.log1p(-math.exp(x))
    return math.log(-math.expm1(x))


@jit
def glmm_logp(  # type: ignore[no-untyped-def]
    x,
    grad,
    blocks,
    bpar,
    info,
    beta_pos,
    xc,
    groups,
    weights,
    effects,
    level_pos,
    level_centred,
    y,
    trials,
    const,
) -> float:
    """Log-density and gradient of the full hierarchical GLM (:func:`.model.build_full_model`).

    Models with correlated varying coefficients use :func:`glmm_lkj_logp`, a separate
    function so that only the kernel a model needs is compiled.

    ``info`` = ``[family, link, intercept position or -1, sigma position or -1]``;
    ``xc`` (p, n) the centred population-level design (a row per coefficient), ``beta_pos`` the
    positions of its coefficients; ``groups`` (F, n) each row's level of every grouping factor;
    ``weights`` (W, n) the columns of varying slopes; ``effects`` (E, 6) per vector of group
    effects ``[factor column, weight column or -1, first level, number of levels, sd position,
    correlated]``;
    ``level_pos``/``level_centred`` per level the position of its raw value and whether it is
    centred (``r = value``) or not (``r = sd * value``); ``const`` the part of the
    log-likelihood that depends on the data only (log factorials of counts); ``corr*`` the
    correlated factors (:mod:`.kernel_lkj`), whose effects are computed there.
    """
    val, gval, total, r = _head(x, blocks, bpar, effects, level_pos, level_centred, const)
    gr = np.zeros(r.shape[0])
    total += _tail(
        val, gval, r, gr, info, beta_pos, xc, groups, weights, effects, level_pos,
        level_centred, y, trials,
    )  # fmt: skip
    return total + finish_gradient(x, val, gval, blocks, grad)


@jit
def glmm_lkj_logp(  # type: ignore[no-untyped-def]
    x,
    grad,
    blocks,
    bpar,
    info,
    beta_pos,
    xc,
    groups,
    weights,
    effects,
    level_pos,
    level_centred,
    y,
    trials,
    const,
    corr,
    corr_sd,
    corr_r,
    corr_lvl,
) -> float:
    """:func:`glmm_logp` with correlated varying coefficients (:mod:`.kernel_lkj`)."""
    val, gval, total, r = _head(x, blocks, bpar, effects, level_pos, level_centred, const)
    total += correlated_forward(val, r, corr, corr_sd, corr_r, corr_lvl)
    gr = np.zeros(r.shape[0])
    total += _tail(
        val, gval, r, gr, info, beta_pos, xc, groups, weights, effects, level_pos,
        level_centred, y, trials,
    )  # fmt: skip
    correlated_backward(val, gval, gr, corr, corr_sd, corr_r, corr_lvl)
    return total + finish_gradient(x, val, gval, blocks, grad)


@jit
def _head(x, blocks, bpar, effects, level_pos, level_centred, const):  # type: ignore[no-untyped-def]
    """Constrained values, the priors' log-density and gradient, and the group effects."""
    val = np.empty(x.shape[0])
    gval = np.zeros(x.shape[0])
    constrain(x, blocks, val)
    total = const[0] + prior_terms(val, gval, blocks, bpar)
    return val, gval, total, _group_effects(val, effects, level_pos, level_centred)


@jit
def _tail(  # type: ignore[no-untyped-def]
    val, gval, r, gr, info, beta_pos, xc, groups, weights, effects, level_pos, level_centred,
    y, trials,
):  # fmt: skip
    """The log-likelihood; adds its gradient to ``gval`` and that of the effects to ``gr``."""
    icpt, sig = info[2], info[3]
    eta = _linear_predictor(val, icpt, beta_pos, xc, groups, weights, effects, r)
    sigma = val[sig] if sig >= 0 else 1.0
    score = np.empty(eta.shape[0])  # d log-likelihood / d eta
    loglik, g_sigma = _family_terms(info[0], info[1], eta, y, trials, sigma, score)
    if sig >= 0:
        gval[sig] += g_sigma
    if icpt >= 0:
        gval[icpt] += _sum(score)
    for j in range(beta_pos.shape[0]):
        gval[beta_pos[j]] += _dot(score, xc[j])
    for e in range(effects.shape[0]):
        f, wcol, start = effects[e, 0], effects[e, 1], effects[e, 2]
        if wcol < 0:
            for i in range(score.shape[0]):
                gr[start + groups[f, i]] += score[i]
        else:
            for i in range(score.shape[0]):
                gr[start + groups[f, i]] += score[i] * weights[wcol, i]
    _effects_gradient(val, gval, gr, effects, level_pos, level_centred)
    return loglik


@jit
def _group_effects(
    val: np.ndarray, effects: np.ndarray, level_pos: np.ndarray, level_centred: np.ndarray
) -> np.ndarray:
    """Every level's group effect: its raw value (centred) or the sd times it (non-centred)."""
    r = np.empty(level_pos.shape[0])
    for e in range(effects.shape[0]):
        if effects[e, 5]:  # correlated: computed by correlated_forward
            continue
        start, count, sd_pos = effects[e, 2], effects[e, 3], effects[e, 4]
        for j in range(start, start + count):
            r[j] = val[level_pos[j]] if level_centred[j] else val[sd_pos] * val[level_pos[j]]
    return r


@jit
def _effects_gradient(
    val: np.ndarray,
    gval: np.ndarray,
    gr: np.ndarray,
    effects: np.ndarray,
    level_pos: np.ndarray,
    level_centred: np.ndarray,
) -> None:
    """Chain the gradient of every level's effect ``gr`` to its raw value and sd."""
    for e in range(effects.shape[0]):
        if effects[e, 5]:  # correlated: chained by correlated_backward
            continue
        start, count, sd_pos = effects[e, 2], effects[e, 3], effects[e, 4]
        for j in range(start, start + count):
            if level_centred[j]:
                gval[level_pos[j]] += gr[j]
            else:
                gval[level_pos[j]] += val[sd_pos] * gr[j]
                gval[sd_pos] += val[level_pos[j]] * gr[j]


@jit
def _linear_predictor(  # type: ignore[no-untyped-def]
    val, icpt, beta_pos, xc, groups, weights, effects, r
) -> np.ndarray:
    """``eta`` of every row, one pass per term (contiguous columns: the products vectorise)."""
    n = xc.shape[1]
    eta = np.empty(n)
    base = val[icpt] if icpt >= 0 else 0.0
    for i in range(n):
        eta[i] = base
    for j in range(beta_pos.shape[0]):
        b = val[beta_pos[j]]
        for i in range(n):
            eta[i] += xc[j, i] * b
    for e in range(effects.shape[0]):
        f, wcol, start = effects[e, 0], effects[e, 1], effects[e, 2]
        if wcol < 0:
            for i in range(n):
                eta[i] += r[start + groups[f, i]]
        else:
            for i in range(n):
                eta[i] += r[start + groups[f, i]] * weights[wcol, i]
    return eta


@jit
def _family_terms(  # type: ignore[no-untyped-def]
    family, link, eta, y, trials, sigma, score
) -> tuple[float, float]:
    """Summed log-likelihood and its derivative in ``sigma``; ``score`` = d/d eta per row."""
    n = eta.shape[0]
    row = np.empty(n)  # log-likelihood of each row (summed after, off the critical path)
    g_sigma = 0.0
    extra = 0.0
    if family == 0:  # gaussian
        for i in range(n):
            z = (y[i] - eta[i]) / sigma
            row[i] = -0.5 * z * z
            score[i] = z / sigma
        g_sigma = (_dot(score, score) * sigma * sigma - n) / sigma
        extra = -n * (0.5 * _LOG_2PI + math.log(sigma))
    elif family == 3:  # poisson, log link
        for i in range(n):
            mu = math.exp(eta[i])
            row[i] = y[i] * eta[i] - mu
            score[i] = y[i] - mu
    elif link == 1:  # bernoulli / binomial, logit: y eta - n softplus(eta)
        for i in range(n):
            row[i] = y[i] * eta[i] - trials[i] * _softplus(eta[i])
            score[i] = y[i] - trials[i] / (1.0 + math.exp(-eta[i]))
    else:  # cloglog: log p = log1mexp(-mu), log(1 - p) = -mu
        for i in range(n):
            mu = math.exp(eta[i])
            row[i] = -(trials[i] - y[i]) * mu
            score[i] = row[i]
            if y[i] > 0.0:
                row[i] += y[i] * _log1mexp(-mu)
                score[i] += y[i] * mu / math.expm1(mu)
    return _sum(row) + extra, g_sigma


@inline
def _unpack(meta: np.ndarray):  # type: ignore[no-untyped-def]
    """The model's arrays from the ``user_data`` block (:func:`.kernel_spec._glmm_meta`)."""
    n, p = meta[8], meta[6]
    return (
        numba.carray(_voidptr(meta[1]), (meta[2], 5), np.int64),
        numba.carray(_voidptr(meta[3]), (meta[2], 3), np.float64),
        numba.carray(_voidptr(meta[4]), (4,), np.int64),
        numba.carray(_voidptr(meta[5]), (p,), np.int64),
        numba.carray(_voidptr(meta[7]), (p, n), np.float64),
        numba.carray(_voidptr(meta[9]), (meta[10], n), np.int64),
        numba.carray(_voidptr(meta[11]), (meta[12], n), np.float64),
        numba.carray(_voidptr(meta[13]), (meta[14], 6), np.int64),
        numba.carray(_voidptr(meta[15]), (meta[16],), np.int64),
        numba.carray(_voidptr(meta[17]), (meta[16],), np.int64),
        numba.carray(_voidptr(meta[18]), (n,), np.float64),
        numba.carray(_voidptr(meta[19]), (n,), np.float64),
        numba.carray(_voidptr(meta[20]), (1,), np.float64),
        numba.carray(_voidptr(meta[21]), (meta[22], 6), np.int64),
        numba.carray(_voidptr(meta[23]), (meta[24],), np.int64),
        numba.carray(_voidptr(meta[25]), (meta[24],), np.int64),
        numba.carray(_voidptr(meta[26]), (meta[27], 2), np.int64),
    )


def _glmm_entry(stamp: int) -> Any:
    """The GLMM entry point, capturing ``stamp`` (:func:`.kernel_core.sources_stamp`)."""

    def glmm_entry(dim, x_, out_, logp_, user_data_):  # type: ignore[no-untyped-def]
        meta = numba.carray(user_data_, (40,), np.int64)
        if dim != meta[0] or stamp < 0:  # stamp >= 0: named only to be in the closure
            return -1
        out = numba.carray(out_, (dim,))
        data = _unpack(meta)
        value = glmm_logp(
            numba.carray(x_, (dim,)), out, data[0], data[1], data[2], data[3], data[4],
            data[5], data[6], data[7], data[8], data[9], data[10], data[11], data[12],
        )  # fmt: skip
        numba.carray(logp_, ())[()] = value
        return return_code(value, out)

    return glmm_entry


def _glmm_lkj_entry(stamp: int) -> Any:
    """The entry point with correlated coefficients, capturing ``stamp``."""

    def glmm_lkj_entry(dim, x_, out_, logp_, user_data_):  # type: ignore[no-untyped-def]
        meta = numba.carray(user_data_, (40,), np.int64)
        if dim != meta[0] or stamp < 0:  # stamp >= 0: named only to be in the closure
            return -1
        out = numba.carray(out_, (dim,))
        data = _unpack(meta)
        value = glmm_lkj_logp(
            numba.carray(x_, (dim,)), out, data[0], data[1], data[2], data[3], data[4],
            data[5], data[6], data[7], data[8], data[9], data[10], data[11], data[12],
            data[13], data[14], data[15], data[16],
        )  # fmt: skip
        numba.carray(logp_, ())[()] = value
        return return_code(value, out)

    return glmm_lkj_entry


def glmm_cfunc(correlated: bool = False) -> Any:
    """The GLMM kernel as a C function with nutpie's log-density signature (cached on disk).

    ``correlated=True`` gives the kernel with correlated varying coefficients
    (:mod:`.kernel_lkj`), compiled only when a model has them.

    Examples
    --------
    >>> glmm_cfunc().address > 0
    True
    """
    if correlated:
        return entry_cfunc("glmm_lkj", _glmm_lkj_entry)
    return entry_cfunc("glmm", _glmm_entry)


def compile_in_background(kind: str) -> threading.Thread:
    """Start compiling (or loading) a kernel in a daemon thread while the model is built.

    ``kind`` is ``"glmm"``, ``"glmm_lkj"`` or ``"collapsed"``. Much of numba's work happens in LLVM, which runs
    without the GIL, and the model building in the meantime waits on compilers and numpy, so
    the two overlap; the thread that needs the kernel later waits for it. A failure here is
    not reported: the foreground call compiles again and raises.

    Examples
    --------
    >>> compile_in_background("glmm").join()
    """

    from sustain.models.bayes.kernel_store import compile_kind

    def work() -> None:
        try:
            compile_kind(kind)
        except Exception:
            pass

    thread = threading.Thread(target=work, name=f"sustain-compile-{kind}", daemon=True)
    thread.start()
    return thread
