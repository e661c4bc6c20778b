"""Shared pieces of the precompiled kernels (:mod:`.kernel`, :mod:`.kernel_collapsed`).

Conventions of every kernel:

* ``val`` holds the constrained value of every position (``exp(x)`` for log-transformed
  parameters, ``sigmoid(x)`` for log-odds-transformed ones, ``x`` otherwise); contributions to
  the gradient are first accumulated with respect to ``val`` (``gval``) and turned into the
  gradient with respect to ``x`` at the end (:func:`finish_gradient`), Jacobian included -- so
  a scale that enters several terms is chained once.
* A *block* is a run of positions with one prior: row ``[offset, size, transform, dist,
  scale_ref]`` of ``blocks`` and ``[a, b, c]`` of ``bpar`` (:data:`DIST_CODES`;
  :data:`TRANSFORM_CODES`). ``scale_ref`` names a position whose value multiplies the prior's
  scale (centred group effects ``r ~ Normal(0, sd)``), or -1.
* Overflow gives ``inf``/``nan``, never an exception (``error_model="numpy"``); the entry
  points report a non-finite log-density or gradient to nutpie as a rejected proposal
  (:func:`return_code`).
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Callable
from pathlib import Path
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
    "beta": 8,  # (alpha, beta, -): the partial correlations of an LKJ prior
    "flat": 9,  # no density here: a multivariate one is added by the kernel itself
}
#: Transform codes of ``blocks[:, 2]`` (PyMC's default transforms).
TRANSFORM_CODES = {None: 0, "LogTransform": 1, "LogOddsTransform": 2}
_LOG_2PI = math.log(2.0 * math.pi)
_LOG_PI = math.log(math.pi)
_LOG_2 = math.log(2.0)

#: How every kernel function is compiled: no exceptions, IEEE arithmetic (results independent
#: of the cache's state: see :func:`.compiled.compile_model`). Not cached one by one: each
#: entry point (:func:`entry_cfunc`) is cached on disk with everything it calls linked in.
jit = numba.njit(cache=False, error_model="numpy", fastmath=False, nogil=True)
#: The same, inlined into the caller by numba (a function returning many arrays at once).
inline = numba.njit(cache=False, error_model="numpy", fastmath=False, nogil=True, inline="always")


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
    if dist == 7:  # gamma(alpha, beta)
        lp = a * math.log(b) - math.lgamma(a) + (a - 1.0) * math.log(v) - b * v
        return lp, (a - 1.0) / v - b, 0.0
    if dist == 8:  # beta(alpha, beta)
        lp = (
            (a - 1.0) * math.log(v)
            + (b - 1.0) * math.log1p(-v)
            - (math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b))
        )
        return lp, (a - 1.0) / v - (b - 1.0) / (1.0 - v), 0.0
    return 0.0, 0.0, 0.0  # flat: the kernel adds this block's density itself


@jit
def _softplus(x: float) -> float:
    """``log(1 + exp(x))`` without overflow."""
    if x > 0.0:
        return x + math.log1p(math.exp(-x))
    return math.log1p(math.exp(x))


@jit
def constrain(x: np.ndarray, blocks: np.ndarray, val: np.ndarray) -> None:
    """``val`` = constrained values of the positions ``x`` (log transform where flagged)."""
    for i in range(x.shape[0]):
        val[i] = x[i]
    for k in range(blocks.shape[0]):
        if blocks[k, 2] == 1:
            for i in range(blocks[k, 0], blocks[k, 0] + blocks[k, 1]):
                val[i] = math.exp(x[i])
        elif blocks[k, 2] == 2:
            for i in range(blocks[k, 0], blocks[k, 0] + blocks[k, 1]):
                val[i] = 1.0 / (1.0 + math.exp(-x[i]))


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
        elif blocks[k, 2] == 2:  # log-odds: log|dval/dx| = log(val) + log(1 - val)
            for i in range(blocks[k, 0], blocks[k, 0] + blocks[k, 1]):
                grad[i] = gval[i] * val[i] * (1.0 - val[i]) + 1.0 - 2.0 * val[i]
                jac += -_softplus(-x[i]) - _softplus(x[i])
    return jac


# ----------------------------------------------------------------------------- GLMM
@jit
def return_code(value: float, grad: np.ndarray) -> int:
    """nutpie's code for an evaluation: 0, or 3 (rejected) when anything is not finite."""
    if not np.isfinite(value):
        return 3
    for i in range(grad.shape[0]):
        if not np.isfinite(grad[i]):
            return 3
    return 0


def _signature() -> Any:
    double_ptr = types.CPointer(types.double)
    return types.int64(types.uint64, double_ptr, double_ptr, double_ptr, types.voidptr)


_CFUNCS: dict[str, Any] = {}
_CFUNC_LOCK = threading.Lock()
#: The modules whose numba functions are compiled into the entry points.
KERNEL_MODULES = ("kernel_core", "kernel", "kernel_lkj", "kernel_collapsed")


def _digest() -> int:
    """The digest of :func:`sources_stamp`, read from the files now (0 when they cannot be
    read, e.g. from a zip archive: then only numba's own key guards the cache)."""
    digest = hashlib.sha256()
    try:
        for name in KERNEL_MODULES:
            digest.update(Path(__file__).with_name(f"{name}.py").read_bytes())
    except OSError:
        return 0
    return int.from_bytes(digest.digest()[:7], "little")


_STAMP = _digest()  # at import: the sources of the code this process compiles


def sources_stamp() -> int:
    """A digest (0 <= stamp < 2**56) of the source of every module in :data:`KERNEL_MODULES`,
    as read when they were imported.

    numba keys a cached function on its own file and bytecode only, so an entry point whose
    callees in another module changed would load stale machine code from the cache. Each entry
    point therefore captures this stamp (:func:`entry_cfunc`): numba's key includes the values
    a function captures, so a change in any kernel module is a cache miss.

    Examples
    --------
    >>> 0 <= sources_stamp() < 2**56
    True
    """
    return _STAMP


def entry_cfunc(name: str, make_entry: Callable[[int], Any]) -> Any:
    """The entry point ``make_entry(sources_stamp())`` compiled as a C function with nutpie's
    signature, once per process.

    Compiled code is cached on disk by numba; when that cache has nothing for the current
    sources, the kernel compiled at installation is copied into it first
    (:func:`.kernel_store.seed`). A thread that asks while another compiles waits for it
    (:func:`.kernel.compile_in_background`).
    """
    from sustain.models.bayes.kernel_store import seed

    with _CFUNC_LOCK:
        if name not in _CFUNCS:
            entry = make_entry(sources_stamp())
            seed(entry)
            _CFUNCS[name] = numba.cfunc(_signature(), cache=True, error_model="numpy")(entry)
        return _CFUNCS[name]
