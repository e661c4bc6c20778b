"""Native (numba ``cfunc``) entry points that nutpie calls without the GIL.

nutpie's Rust sampler runs each chain on its own thread. When the log-density is a Python
function, every gradient evaluation takes the GIL, so four chains take turns on the cores.
When it is a C function pointer, the chains run truly in parallel. This module turns the
numba-compiled log-density of a PyTensor graph (:func:`pytensor.function` with
``mode="NUMBA"``; its ``vm.jit_fn``) into such a pointer:

* :func:`logp_cfunc` generates a small ``cfunc`` that unpacks the data arrays from nutpie's
  ``user_data`` pointer, calls the compiled graph and writes the log-density and gradient.
  The cfunc is compiled with ``cache=True`` under a key derived from PyTensor's own cache key
  of the graph, through PyTensor's numba cache locator, so a fresh process that fits a model of
  a structure seen before loads it from disk instead of compiling it.
* :func:`copy_position_cfunc` is the "expand" function nutpie stores draws with: it stores the
  unconstrained position itself; the constrained values and deterministics are computed
  afterwards for all draws at once (:meth:`sustain.models.bayes.compiled.CompiledModel.expand`).

Return codes follow nutpie's own numba bridge: 0 success, positive codes are recoverable (the
proposal is rejected and counted as a divergence: 1 the graph raised, 3 a non-finite log-density
or gradient), negative codes are fatal (-1: wrong dimension).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

#: Bumped whenever the generated source below changes meaning (part of every cache key).
SOURCE_VERSION = "sustain-logp-cfunc-1"

_TEMPLATE = """
def sustain_logp_cfunc(dim, x_, out_, logp_, user_data_):
    if dim != {n_dim}:
        return -1
    meta = numba.carray(user_data_, ({n_meta},), np.int64)
    x = numba.carray(x_, ({n_dim},))
    out = numba.carray(out_, ({n_dim},))
    logp = numba.carray(logp_, ())
{unpack}
    try:
        value, grad = jit_fn(x{args})
    except Exception:  # a graph that raises rejects the proposal, never the fit
        return 1
    logp[()] = value
    finite = np.isfinite(logp[()])
    for i in range({n_dim}):
        out[i] = grad[i]
        if not np.isfinite(grad[i]):
            finite = False
    if not finite:
        return 3
    return 0
"""


def _address_as_voidptr() -> Any:
    """A numba intrinsic turning an integer address into a ``void*`` (as nutpie does)."""
    from numba.core import cgutils, types
    from numba.extending import intrinsic

    @intrinsic
    def address_as_voidptr(typingctx: Any, address: Any) -> Any:
        sig = types.voidptr(address)

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            return builder.inttoptr(args[0], cgutils.voidptr_t)

        return sig, codegen

    return address_as_voidptr


@functools.cache
def _intrinsic() -> Any:
    return _address_as_voidptr()


def data_layout(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """The ``user_data`` block of :func:`logp_cfunc`: per array its address, then its shape.

    The arrays must stay alive (and unchanged) while the pointer is in use.

    Examples
    --------
    >>> a = np.zeros((2, 3))
    >>> meta = data_layout([a])
    >>> meta[1:].tolist(), int(meta[0]) == a.ctypes.data
    ([2, 3], True)
    """
    meta: list[int] = []
    for a in arrays:
        meta.append(int(a.ctypes.data))
        meta.extend(int(s) for s in a.shape)
    return np.asarray(meta if meta else [0], dtype=np.int64)


def logp_cfunc(jit_fn: Any, n_dim: int, dtypes: Sequence[str], ndims: Sequence[int]) -> Any:
    """A numba ``cfunc`` with nutpie's log-density signature calling ``jit_fn``.

    ``jit_fn(x, *data) -> (logp, grad)`` is the numba dispatcher of a PyTensor function
    compiled with ``mode="NUMBA"``; the data arrays (dtypes ``dtypes``, dimensions ``ndims``)
    are read from the block built by :func:`data_layout`. When PyTensor gave the graph a cache
    key, the cfunc is cached on disk under a key derived from it.

    Examples
    --------
    >>> import ctypes, pytensor, pytensor.tensor as pt
    >>> x, d = pt.dvector("x"), pt.dvector("d")
    >>> lp = -0.5 * ((x - d) ** 2).sum()
    >>> fn = pytensor.function([x, d], [lp, pytensor.grad(lp, x)], mode="NUMBA")
    >>> cfunc = logp_cfunc(fn.vm.jit_fn, 2, ["float64"], [1])
    >>> data = np.array([1.0, 2.0])
    >>> pos, grad, out = np.zeros(2), np.zeros(2), np.zeros(1)
    >>> ptr = ctypes.POINTER(ctypes.c_double)
    >>> meta = data_layout([data])
    >>> code = cfunc.ctypes(2, pos.ctypes.data_as(ptr), grad.ctypes.data_as(ptr),
    ...                     out.ctypes.data_as(ptr), meta.ctypes.data_as(ctypes.c_void_p))
    >>> code, float(out[0]), grad.tolist()
    (0, -2.5, [1.0, 2.0])
    """
    import numba
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS, compile_numba_function_src

    unpack, args, pos = [], [], 0
    for i, (dtype, ndim) in enumerate(zip(dtypes, ndims, strict=True)):
        shape = "".join(f"meta[{pos + 1 + k}], " for k in range(ndim))
        unpack.append(
            f"    d{i} = numba.carray(address_as_voidptr(meta[{pos}]), ({shape}), np.{dtype})"
        )
        args.append(f", d{i}")
        pos += 1 + ndim
    src = _TEMPLATE.format(
        n_dim=n_dim, n_meta=max(pos, 1), unpack="\n".join(unpack), args="".join(args)
    )
    py_func_of_graph = getattr(jit_fn, "py_func", None)
    graph_key = None if py_func_of_graph is None else CACHED_SRC_FUNCTIONS.get(py_func_of_graph)
    key = None
    if graph_key is not None:
        key = hashlib.sha256(f"{SOURCE_VERSION}\n{graph_key}\n{src}".encode()).hexdigest()
    env = {
        "__name__": __name__,  # numba rebuilds the cached environment from this module
        "numba": numba,
        "np": np,
        "jit_fn": jit_fn,
        "address_as_voidptr": _intrinsic(),
    }
    py_func = compile_numba_function_src(src, "sustain_logp_cfunc", env, cache_key=key)
    return numba.cfunc(_logp_signature(), cache=key is not None)(py_func)


def _logp_signature() -> Any:
    from numba import types

    double_ptr = types.CPointer(types.double)
    return types.int64(types.uint64, double_ptr, double_ptr, double_ptr, types.voidptr)


def _copy_position(dim: int, expanded: int, x_: Any, out_: Any, user_data_: Any) -> int:
    if dim != expanded:
        return -1
    for i in range(dim):
        out_[i] = x_[i]
    return 0


@functools.cache
def copy_position_cfunc() -> Any:
    """nutpie's "expand" function storing the unconstrained position (cached on disk).

    Examples
    --------
    >>> copy_position_cfunc().address > 0
    True
    """
    import numba
    from numba import types

    double_ptr = types.CPointer(types.double)
    sig = types.int64(types.uint64, types.uint64, double_ptr, double_ptr, types.voidptr)
    return numba.cfunc(sig, cache=True)(_copy_position)
