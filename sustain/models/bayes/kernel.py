"""Hand-written log-densities with gradients, compiled once per machine for every model.

PyTensor's numba backend compiles each model structure anew: several hundred small numba
functions per graph, 10-50 s on a 2-core machine with empty caches (measured: 12 s for the
cloglog hazard's graph, about 47 s for the collapsed quality model, whose Cholesky gradient
goes through LAPACK wrappers). The functions here are *structure-independent*: the model --
which position holds which parameter, its prior and transform, the design, the grouping
factors, the family -- is described by integer and float arrays (:mod:`.kernel_spec`), so the
same machine code serves every formula of the supported class. They are compiled once, cached
on disk by numba (``cache=True``, under ``NUMBA_CACHE_DIR`` when set), and the cost of the first
fit of a *new structure* is then that of building a few arrays.

This is numerics written by hand, against the rule of preferring a library, because no library
does it: a library log-density (PyTensor, JAX, Stan) is compiled per structure. Each kernel is
checked in ``tests/models/bayes/test_kernel.py`` against the PyTensor log-density of the same
PyMC model: equal log-density differences and gradients at random positions.

Conventions shared by every kernel:

* ``val`` holds the constrained value of every position (``exp(x)`` for log-transformed
  parameters, ``x`` otherwise); contributions to the gradient are first accumulated with
  respect to ``val`` (``gval``) and turned into the gradient with respect to ``x`` at the end
  (:func:`finish_gradient`), Jacobian included -- so a scale that enters several terms is
  chained once.
* A *block* is a run of positions with one prior: row ``[offset, size, transform, dist,
  scale_ref]`` of ``blocks`` and ``[a, b, c]`` of ``bpar`` (:data:`DIST_CODES`). ``scale_ref``
  names a position whose value multiplies the prior's scale (centred group effects
  ``r ~ Normal(0, sd)``), or -1.
* Overflow gives ``inf``/``nan``, never an exception (``error_model="numpy"``); the cfunc
  reports a non-finite log-density or gradient to nutpie as a rejected proposal.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numba
import numpy as np
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

#: Prior codes of ``blocks[:, 3]`` with the meaning of ``bpar`` (a, b, c).
DIST_CODES = {
    "normal": 0,  # (mu, sigma, -)
    "student_t": 1,  # (nu, mu, sigma)
    "cauchy": 2,  # (mu, sigma, -)
    "half_normal": 3,  # (sigma, -, -)
    "half_student_t": 4,  # (nu, sigma, -)
    "half_cauchy": 5,  # (sigma, -, -)
    "exponential": 6,  # (lam, -, -)
    "gamma": 7,  # (alpha, beta, -)
}
#: Family and link codes of the GLMM kernel.
FAMILY_CODES = {"gaussian": 0, "bernoulli": 1, "binomial": 2, "poisson": 3}
LINK_CODES = {"identity": 0, "logit": 1, "cloglog": 2, "log": 3}

_LOG_2PI = math.log(2.0 * math.pi)
_LOG_PI = math.log(math.pi)
_LOG_2 = math.log(2.0)

#: How every kernel function is compiled: cached on disk, no exceptions, IEEE arithmetic
#: (results independent of the cache's state: see :func:`.compiled.compile_model`).
jit = numba.njit(cache=True, error_model="numpy", fastmath=False, nogil=True)


def _address_as_voidptr(typingctx: Any, address: Any) -> Any:
    """An integer address as a ``void*`` (to read the arrays listed in nutpie's user data)."""
    sig = types.voidptr(address)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.inttoptr(args[0], cgutils.voidptr_t)

    return sig, codegen


_voidptr: Any = intrinsic(_address_as_voidptr)


# ----------------------------------------------------------------------------- priors
@jit
def prior_logp(dist: int, a: float, b: float, c: float, v: float) -> tuple[float, float, float]:
    """Log-density of one value, its derivative in the value and in the scale (PyMC's formulas).

    The scale derivative is the derivative with respect to a multiplier of the scale, at 1
    (for ``Normal(mu, s * m)``: ``d/dm`` at ``m = 1``), used by centred group effects.
    """
    if dist == 0:  # normal(mu, sigma)
        z = (v - a) / b
        return -0.5 * _LOG_2PI - math.log(b) - 0.5 * z * z, -z / b, z * z - 1.0
    if dist == 1:  # student_t(nu, mu, sigma)
        z = (v - b) / c
        t = z * z / a
        lp = (
            math.lgamma(0.5 * (a + 1.0))
            - math.lgamma(0.5 * a)
            - 0.5 * math.log(a * math.pi)
            - math.log(c)
            - 0.5 * (a + 1.0) * math.log1p(t)
        )
        dz = -(a + 1.0) * z / (a * (1.0 + t))
        return lp, dz / c, -dz * z - 1.0
    if dist == 2:  # cauchy(mu, sigma)
        z = (v - a) / b
        dz = -2.0 * z / (1.0 + z * z)
        return -_LOG_PI - math.log(b) - math.log1p(z * z), dz / b, -dz * z - 1.0
    if dist == 3:  # half_normal(sigma)
        z = v / a
        return 0.5 * math.log(2.0 / math.pi) - math.log(a) - 0.5 * z * z, -z / a, z * z - 1.0
    if dist == 4:  # half_student_t(nu, sigma)
        z = v / b
        t = z * z / a
        lp = (
            _LOG_2
            + math.lgamma(0.5 * (a + 1.0))
            - math.lgamma(0.5 * a)
            - 0.5 * math.log(a * math.pi)
            - math.log(b)
            - 0.5 * (a + 1.0) * math.log1p(t)
        )
        dz = -(a + 1.0) * z / (a * (1.0 + t))
        return lp, dz / b, -dz * z - 1.0
    if dist == 5:  # half_cauchy(sigma)
        z = v / a
        dz = -2.0 * z / (1.0 + z * z)
        return _LOG_2 - _LOG_PI - math.log(a) - math.log1p(z * z), dz / a, -dz * z - 1.0
    if dist == 6:  # exponential(lam)
        return math.log(a) - a * v, -a, 0.0
    # gamma(alpha, beta)
    lp = a * math.log(b) - math.lgamma(a) + (a - 1.0) * math.log(v) - b * v
    return lp, (a - 1.0) / v - b, 0.0


@jit
def constrain(x: np.ndarray, blocks: np.ndarray, val: np.ndarray) -> None:
    """``val`` = constrained values of the positions ``x`` (log transform where flagged)."""
    for i in range(x.shape[0]):
        val[i] = x[i]
    for k in range(blocks.shape[0]):
        if blocks[k, 2] == 1:
            for i in range(blocks[k, 0], blocks[k, 0] + blocks[k, 1]):
                val[i] = math.exp(x[i])


@jit
def prior_terms(val: np.ndarray, gval: np.ndarray, blocks: np.ndarray, bpar: np.ndarray) -> float:
    """Sum of the priors' log-densities; adds their derivatives to ``gval``."""
    total = 0.0
    for k in range(blocks.shape[0]):
        off, size, dist, ref = blocks[k, 0], blocks[k, 1], blocks[k, 3], blocks[k, 4]
        a, b, c = bpar[k, 0], bpar[k, 1], bpar[k, 2]
        m = 1.0
        if ref >= 0:  # normal(mu, sigma * val[ref]): a centred group effect and its sd
            m = val[ref]
            b = b * m
        for i in range(off, off + size):
            lp, dv, ds = prior_logp(dist, a, b, c, val[i])
            total += lp
            gval[i] += dv
            if ref >= 0:
                gval[ref] += ds / m
    return total


@jit
def finish_gradient(
    x: np.ndarray, val: np.ndarray, gval: np.ndarray, blocks: np.ndarray, grad: np.ndarray
) -> float:
    """Gradient with respect to ``x`` from ``gval``; returns the log-Jacobian of the transforms."""
    for i in range(x.shape[0]):
        grad[i] = gval[i]
    jac = 0.0
    for k in range(blocks.shape[0]):
        if blocks[k, 2] == 1:
            for i in range(blocks[k, 0], blocks[k, 0] + blocks[k, 1]):
                grad[i] = gval[i] * val[i] + 1.0
                jac += x[i]
    return jac


# ----------------------------------------------------------------------------- GLMM
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
def _softplus(x: float) -> float:
    if x > 0.0:
        return x + math.log1p(math.exp(-x))
    return math.log1p(math.exp(x))


@jit
def glmm_logp(
    x: np.ndarray,
    grad: np.ndarray,
    blocks: np.ndarray,
    bpar: np.ndarray,
    info: np.ndarray,
    beta_pos: np.ndarray,
    xc: np.ndarray,
    groups: np.ndarray,
    weights: np.ndarray,
    effects: np.ndarray,
    level_pos: np.ndarray,
    level_centred: np.ndarray,
    y: np.ndarray,
    trials: np.ndarray,
    const: float,
) -> float:
    """Log-density and gradient of the full hierarchical GLM (:func:`.model.build_full_model`).

    ``info`` = ``[family, link, intercept position or -1, sigma position or -1]``;
    ``xc`` (p, n) the centred population-level design (a row per coefficient), ``beta_pos`` the
    positions of its coefficients; ``groups`` (F, n) each row's level of every grouping factor;
    ``weights`` (W, n) the columns of varying slopes; ``effects`` (E, 5) per vector of group effects
    ``[factor column, weight column or -1, first level, number of levels, sd position]``;
    ``level_pos``/``level_centred`` per level the position of its raw value and whether it is
    centred (``r = value``) or not (``r = sd * value``); ``const`` the part of the
    log-likelihood that depends on the data only (log factorials of counts).
    """
    n_dim = x.shape[0]
    val = np.empty(n_dim)
    gval = np.zeros(n_dim)
    constrain(x, blocks, val)
    total = const + prior_terms(val, gval, blocks, bpar)
    r = _group_effects(val, effects, level_pos, level_centred)
    icpt, sig = info[2], info[3]
    eta = _linear_predictor(val, icpt, beta_pos, xc, groups, weights, effects, r)
    sigma = val[sig] if sig >= 0 else 1.0
    score = np.empty(eta.shape[0])  # d log-likelihood / d eta
    loglik, g_sigma = _family_terms(info[0], info[1], eta, y, trials, sigma, score)
    total += loglik
    if sig >= 0:
        gval[sig] += g_sigma
    if icpt >= 0:
        gval[icpt] += _sum(score)
    for j in range(beta_pos.shape[0]):
        gval[beta_pos[j]] += _dot(score, xc[j])
    gr = np.zeros(level_pos.shape[0])
    for e in range(effects.shape[0]):
        f, wcol, start = effects[e, 0], effects[e, 1], effects[e, 2]
        if wcol < 0:
            for i in range(score.shape[0]):
                gr[start + groups[f, i]] += score[i]
        else:
            for i in range(score.shape[0]):
                gr[start + groups[f, i]] += score[i] * weights[wcol, i]
    _effects_gradient(val, gval, gr, effects, level_pos, level_centred)
    total += finish_gradient(x, val, gval, blocks, grad)
    return total


@jit
def _group_effects(
    val: np.ndarray, effects: np.ndarray, level_pos: np.ndarray, level_centred: np.ndarray
) -> np.ndarray:
    """Every level's group effect: its raw value (centred) or the sd times it (non-centred)."""
    r = np.empty(level_pos.shape[0])
    for e in range(effects.shape[0]):
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


@jit
def return_code(value: float, grad: np.ndarray) -> int:
    """nutpie's code for an evaluation: 0, or 3 (rejected) when anything is not finite."""
    if not np.isfinite(value):
        return 3
    for i in range(grad.shape[0]):
        if not np.isfinite(grad[i]):
            return 3
    return 0


def _glmm_entry(dim, x_, out_, logp_, user_data_):  # type: ignore[no-untyped-def]
    meta = numba.carray(user_data_, (40,), np.int64)
    x = numba.carray(x_, (dim,))
    out = numba.carray(out_, (dim,))
    logp = numba.carray(logp_, ())
    if dim != meta[0]:
        return -1
    blocks = numba.carray(_voidptr(meta[1]), (meta[2], 5), np.int64)
    bpar = numba.carray(_voidptr(meta[3]), (meta[2], 3), np.float64)
    info = numba.carray(_voidptr(meta[4]), (4,), np.int64)
    beta_pos = numba.carray(_voidptr(meta[5]), (meta[6],), np.int64)
    xc = numba.carray(_voidptr(meta[7]), (meta[6], meta[8]), np.float64)
    groups = numba.carray(_voidptr(meta[9]), (meta[10], meta[8]), np.int64)
    weights = numba.carray(_voidptr(meta[11]), (meta[12], meta[8]), np.float64)
    effects = numba.carray(_voidptr(meta[13]), (meta[14], 5), np.int64)
    level_pos = numba.carray(_voidptr(meta[15]), (meta[16],), np.int64)
    level_centred = numba.carray(_voidptr(meta[17]), (meta[16],), np.int64)
    y = numba.carray(_voidptr(meta[18]), (meta[8],), np.float64)
    trials = numba.carray(_voidptr(meta[19]), (meta[8],), np.float64)
    const = numba.carray(_voidptr(meta[20]), (1,), np.float64)
    value = glmm_logp(
        x, out, blocks, bpar, info, beta_pos, xc, groups, weights, effects, level_pos,
        level_centred, y, trials, const[0],
    )  # fmt: skip
    logp[()] = value
    return return_code(value, out)


def _signature() -> Any:
    double_ptr = types.CPointer(types.double)
    return types.int64(types.uint64, double_ptr, double_ptr, double_ptr, types.voidptr)


_CFUNCS: dict[str, Any] = {}
_CFUNC_LOCK = threading.Lock()


def entry_cfunc(name: str, entry: Any) -> Any:
    """``entry`` compiled as a C function with nutpie's signature, once per process.

    Compiled code is cached on disk by numba; a thread that asks while another compiles waits
    for it (:func:`compile_in_background`).
    """
    with _CFUNC_LOCK:
        if name not in _CFUNCS:
            _CFUNCS[name] = numba.cfunc(_signature(), cache=True, error_model="numpy")(entry)
        return _CFUNCS[name]


def glmm_cfunc() -> Any:
    """The GLMM kernel as a C function with nutpie's log-density signature (cached on disk).

    Examples
    --------
    >>> glmm_cfunc().address > 0
    True
    """
    return entry_cfunc("glmm", _glmm_entry)


def compile_in_background(kind: str) -> threading.Thread:
    """Start compiling (or loading) a kernel in a daemon thread while the model is built.

    ``kind`` is ``"glmm"`` or ``"collapsed"``. Much of numba's work happens in LLVM, which runs
    without the GIL, and the model building in the meantime waits on compilers and numpy, so
    the two overlap; the thread that needs the kernel later waits for it. A failure here is
    not reported: the foreground call compiles again and raises.

    Examples
    --------
    >>> compile_in_background("glmm").join()
    """

    def work() -> None:
        try:
            if kind == "glmm":
                glmm_cfunc()
            else:
                from sustain.models.bayes.kernel_collapsed import collapsed_cfunc

                collapsed_cfunc()
        except Exception:
            pass

    thread = threading.Thread(target=work, name=f"sustain-compile-{kind}", daemon=True)
    thread.start()
    return thread
