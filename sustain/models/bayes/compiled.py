"""Compile a PyMC model's log-density once and hand it to nutpie as a native function.

The joint log-density and its gradient are compiled by PyTensor's numba backend through PyMC's
own :func:`pymc.pytensorf.compile`, whose rewrites turn the parameter checks of distributions
(``sigma > 0``, "posdef covariance", ...) into a log-density of ``-inf`` instead of an
exception: a proposal outside the support is then rejected like any other divergent
trajectory. (A plain :func:`pytensor.function` keeps the checks as exceptions; raised inside
nutpie's callback they poisoned the sampler and crashed the fit.)

The compiled graph is wrapped in a numba ``cfunc`` (:mod:`.native`) that nutpie's Rust threads
call without the GIL, so the chains run in parallel on every core. Both the graph's kernels and
the cfunc are cached on disk by PyTensor's numba cache (``~/.pytensor`` or the folder named by
``PYTENSOR_FLAGS=base_compiledir=...``), so a fresh process fitting a model of a structure it
has seen before loads them instead of compiling. Data containers (``pm.Data``) become explicit
inputs, so one compiled function serves every data set of the same structure; their arrays are
handed to the cfunc by address.

nutpie stores the unconstrained position of every draw; the stored variables (constrained
parameters and deterministics) are computed afterwards for all draws at once by a vectorised
graph run with PyTensor's Python linker (:meth:`CompiledModel.expand`), which needs no
compilation. Measured numbers are in ``docs/models/bayes.md``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from sustain.models.bayes import native

#: Name of the one variable nutpie stores: the unconstrained position.
POSITION = "__position"


@dataclass(frozen=True)
class CompiledModel:
    """Compiled log-density and draw expansion of a PyMC model.

    Attributes
    ----------
    n_dim : int
        Length of the flat vector of unconstrained parameters.
    logp : pytensor Function
        ``logp(x, *data) -> (log density, gradient)``, ``x`` of shape (n_dim,), compiled with
        PyMC's rewrites by the numba backend.
    logp_cfunc : numba CFunc
        The same as a C function with nutpie's signature (:func:`.native.logp_cfunc`).
    expand_fn : pytensor Function
        ``expand_fn(X, *data) -> [value of each stored variable]`` for a matrix ``X`` of shape
        (draws, n_dim): the stored variables of every draw (Python linker, no compilation).
    data_names : tuple of str
        Names of the data inputs (the model's ``pm.Data`` containers), in call order.
    data_dtypes : tuple of str
        Their dtypes.
    data_ndims : tuple of int
        Their numbers of dimensions (followed by those of :attr:`shared`).
    shared : tuple of ndarray
        Values of the graph's shared variables (e.g. the lengths of mutable dimensions), which
        the compiled graph takes as further inputs after the data.
    names : tuple of str
        Stored variables.
    shapes : tuple of tuple of int
        Their shapes (of one draw).
    dims : dict
        Dimension names of stored variables that have them.
    coords : dict
        Coordinates of those dimensions.
    initial_point : callable
        ``initial_point(seed) -> ndarray (n_dim,)``: PyMC's support point with a uniform(-1, 1)
        jitter on the unconstrained scale (PyMC's ``jitter+adapt_diag`` start).
    """

    n_dim: int
    logp: Any
    logp_cfunc: Any
    expand_fn: Any
    data_names: tuple[str, ...]
    data_dtypes: tuple[str, ...]
    data_ndims: tuple[int, ...]
    shared: tuple[np.ndarray, ...]
    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    dims: dict[str, tuple[str, ...]]
    coords: dict[str, list[Any]]
    initial_point: Callable[[int], np.ndarray]

    def data_arrays(self, data: Mapping[str, Any]) -> list[np.ndarray]:
        """``data`` as C-contiguous copies of the compiled dtypes, in call order.

        (Copies, not ``np.ascontiguousarray``, which turns 0-d arrays into 1-d ones.)
        """
        arrays = [
            np.array(data[n], dtype=dt, order="C", copy=True)
            for n, dt in zip(self.data_names, self.data_dtypes, strict=True)
        ]
        return arrays + [np.array(v, order="C", copy=True) for v in self.shared]

    def expand(self, position: np.ndarray, data: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Stored variables of every draw from unconstrained positions.

        ``position`` has shape (..., n_dim) (e.g. chains x draws x n_dim); every returned
        array has shape (..., *shape of the variable).
        """
        lead = position.shape[:-1]
        flat = np.ascontiguousarray(position.reshape(-1, self.n_dim), dtype=np.float64)
        outs = self.expand_fn(flat, *self.data_arrays(data)[: len(self.data_names)])
        return {
            name: np.broadcast_to(np.asarray(v, dtype=np.float64), (flat.shape[0], *shape))
            .reshape(*lead, *shape)
            .copy()
            for name, v, shape in zip(self.names, outs, self.shapes, strict=True)
        }


def compile_model(model: Any, var_names: Sequence[str], logp: bool = True) -> CompiledModel:
    """Compile ``model`` into a :class:`CompiledModel` storing ``var_names``.

    With ``logp=False`` the log-density is not compiled (``logp`` and ``logp_cfunc`` are
    ``None``): a hand-written kernel of :mod:`.kernel` stands in for it.

    Examples
    --------
    >>> import numpy as np, pymc as pm
    >>> with pm.Model() as m:
    ...     s = pm.HalfNormal("s", 1.0)
    ...     _ = pm.Normal("y", 0.0, s, observed=np.array([0.5, -0.5]))
    >>> c = compile_model(m, ["s"])
    >>> c.n_dim, c.names, c.expand(np.zeros((2, 1)), {})["s"].tolist()
    (1, ('s',), [1.0, 1.0])
    """
    import pytensor
    import pytensor.tensor as pt
    from pymc.initial_point import make_initial_point_fn
    from pytensor.compile.mode import FAST_COMPILE
    from pytensor.graph.replace import vectorize_graph
    from pytensor.graph.traversal import ancestors

    value_vars = [model.rvs_to_values[rv] for rv in model.free_RVs]
    x, replace, n_dim = _flat_parameters(model, value_vars)
    data_vars = list(model.data_vars)
    data_inputs = [pt.tensor(name=d.name, dtype=d.dtype, shape=(None,) * d.ndim) for d in data_vars]
    replace.update(zip(data_vars, data_inputs, strict=True))
    stored = list(model.replace_rvs_by_values([model[name] for name in var_names]))
    outs = pytensor.graph.clone_replace(stored, replace)
    logp_fn = cfunc = None
    if logp:
        inputs = [x, *data_inputs]
        logp_fn, cfunc = _compile_logp(model, value_vars, replace, inputs, data_vars, n_dim)
    draws = pt.matrix("position", dtype="float64")
    batched = vectorize_graph(outs, replace={x: draws})
    expand_fn = pytensor.function(
        [draws, *data_inputs], batched, mode=FAST_COMPILE, on_unused_input="ignore"
    )
    init = make_initial_point_fn(model=model, jitter_rvs=set(model.free_RVs))
    lock = threading.Lock()  # nutpie asks for starting points from several threads

    def initial_point(seed: int) -> np.ndarray:
        with lock:
            point = init(seed)
        return np.concatenate([np.ravel(point[v.name]) for v in value_vars]).astype(np.float64)

    data0 = [np.asarray(d.get_value()) for d in data_vars]
    one = expand_fn(initial_point(0)[None, :], *data0)
    varying = [draws in set(ancestors([b])) for b in batched]
    shapes = tuple(
        tuple(np.shape(v))[1:] if vary else tuple(np.shape(v))
        for v, vary in zip(one, varying, strict=True)
    )
    dims = {
        n: tuple(model.named_vars_to_dims[n]) for n in var_names if n in model.named_vars_to_dims
    }
    used = {d for ds in dims.values() for d in ds}
    coords = {k: list(v) for k, v in model.coords.items() if k in used and v is not None}
    shared: tuple[np.ndarray, ...] = ()
    if logp_fn is not None:
        shared = tuple(np.asarray(v.get_value()) for v in logp_fn.get_shared())
    return CompiledModel(
        n_dim=n_dim,
        logp=logp_fn,
        logp_cfunc=cfunc,
        expand_fn=expand_fn,
        data_names=tuple(d.name for d in data_vars),
        data_dtypes=tuple(str(d.dtype) for d in data_vars),
        data_ndims=tuple(int(d.ndim) for d in data_vars),
        shared=shared,
        names=tuple(var_names),
        shapes=shapes,
        dims=dims,
        coords=coords,
        initial_point=initial_point,
    )


def _compile_logp(
    model: Any,
    value_vars: list[Any],
    replace: dict[Any, Any],
    inputs: list[Any],
    data_vars: list[Any],
    n_dim: int,
) -> tuple[Any, Any]:
    """The log-density and gradient compiled by PyTensor's numba backend, and its cfunc."""
    import pytensor
    import pytensor.tensor as pt
    from pymc.pytensorf import compile as compile_pymc

    logp = model.logp()
    grads = cast(Sequence[Any], pytensor.grad(logp, value_vars))
    grad = pt.concatenate([pt.as_tensor(g).ravel() for g in grads])
    logp, grad = pytensor.graph.clone_replace([logp, grad], replace)
    # PyMC's rewrites: parameter checks become -inf, never exceptions. No fastmath: PyTensor
    # caches every op's kernel on disk and links the graph's function against them; a kernel
    # compiled in this process can be inlined into the graph's function, one loaded from the
    # cache cannot, and with fastmath LLVM then reassociates sums and contracts multiply-adds
    # differently. So the log-density depended in its last bits on the state of the cache, a
    # first (cold) run differed from every later one (posterior draws by ~1e-5 after 300
    # iterations), and reruns of a spec were not byte-identical (issue 11, item 13). Without
    # fastmath LLVM keeps IEEE semantics and inlining cannot change a result; measured on the
    # 9,400-row hazard, the gradient is no slower.
    with model, pytensor.config.change_flags(numba__fastmath=False):
        logp_fn = compile_pymc(inputs, [logp, grad], mode="NUMBA", on_unused_input="ignore")
        cfunc = native.logp_cfunc(logp_fn.vm.jit_fn, n_dim, *_input_types(data_vars, logp_fn))
    return logp_fn, cfunc


def _input_types(data_vars: list[Any], logp_fn: Any) -> tuple[list[str], list[int]]:
    """dtypes and numbers of dimensions of the compiled graph's inputs after ``x``: the data,
    then the shared variables (e.g. lengths of mutable dimensions) it takes implicitly."""
    shared = [np.asarray(v.get_value()) for v in logp_fn.get_shared()]
    if len(logp_fn.maker.fgraph.inputs) != 1 + len(data_vars) + len(shared):
        raise RuntimeError("unexpected inputs of the compiled log-density")
    dtypes = [str(d.dtype) for d in data_vars] + [str(v.dtype) for v in shared]
    return dtypes, [int(d.ndim) for d in data_vars] + [v.ndim for v in shared]


def _flat_parameters(model: Any, value_vars: list[Any]) -> tuple[Any, dict[Any, Any], int]:
    """One float64 vector ``x`` standing for all value variables, and the replacements."""
    import pytensor.tensor as pt

    start = model.initial_point()
    layout = positions(model, start)
    x = pt.vector("x", dtype="float64")
    replace: dict[Any, Any] = {}
    for rv, var in zip(model.free_RVs, value_vars, strict=True):
        offset, size = layout[rv.name]
        shape = tuple(np.shape(start[var.name]))
        replace[var] = x[offset : offset + size].reshape(shape).astype(var.dtype)
    return x, replace, sum(size for _, size in layout.values())


def positions(model: Any, start: Mapping[str, Any] | None = None) -> dict[str, tuple[int, int]]:
    """``name -> (offset, size)`` of every free variable in the flat position vector nutpie
    samples (``start``: the model's initial point, when already computed).

    Examples
    --------
    >>> import pymc as pm
    >>> with pm.Model() as m:
    ...     _ = pm.Normal("a", 0, 1, shape=3)
    ...     _ = pm.HalfNormal("s", 1)
    >>> positions(m)
    {'a': (0, 3), 's': (3, 1)}
    """
    start = model.initial_point() if start is None else start
    out, offset = {}, 0
    for rv in model.free_RVs:
        size = int(np.prod(np.shape(start[model.rvs_to_values[rv].name])))
        out[rv.name] = (offset, size)
        offset += size
    return out


def to_nutpie(compiled: CompiledModel, data: Mapping[str, Any], kernel: Any = None) -> Any:
    """A nutpie model calling ``compiled``'s native log-density on ``data``.

    ``kernel`` (a :class:`.kernel_spec.NativeLogp`) replaces the compiled log-density by a
    hand-written kernel with its own arrays; ``data`` is then not read by the sampler.

    nutpie stores one variable, :data:`POSITION` (the unconstrained position of every draw);
    :meth:`CompiledModel.expand` turns it into the stored variables.

    Examples
    --------
    >>> import numpy as np, pymc as pm, nutpie
    >>> with pm.Model() as m:
    ...     mu = pm.Normal("mu", 0.0, 10.0)
    ...     d = pm.Data("d", np.array([0.5, 1.5]))
    ...     _ = pm.Normal("y", mu, 1.0, observed=d)
    >>> c = compile_model(m, ["mu"])
    >>> trace = nutpie.sample(to_nutpie(c, {"d": [0.5, 1.5]}), draws=200, tune=200, chains=2,
    ...                       seed=1, progress_bar=False)
    >>> draws = c.expand(trace.posterior[POSITION].values, {"d": [0.5, 1.5]})["mu"]
    >>> draws.shape, bool(abs(draws.mean() - 1.0) < 0.3)
    ((2, 200), True)
    """
    from nutpie.compile_pymc import CompiledPyMCModel

    n = compiled.n_dim
    if kernel is not None:
        if int(kernel.meta[0]) != n:
            raise RuntimeError("the kernel describes a model of another dimension")
        arrays, user_data, cfunc = list(kernel.arrays), kernel.meta, kernel.cfunc
    else:
        arrays = compiled.data_arrays(data)
        for a in arrays:
            a.flags.writeable = False  # read by address from the sampler's threads
        user_data, cfunc = native.data_layout(arrays), compiled.logp_cfunc
    return CompiledPyMCModel(
        dims={},
        compiled_logp_func=cfunc,
        compiled_expand_func=native.copy_position_cfunc(),
        initial_point_func=compiled.initial_point,
        # keeps the arrays alive as long as the sampler holds the model
        shared_data={f"d{i}": a for i, a in enumerate([*arrays, user_data])},
        shared_var_keys={},
        user_data=user_data,
        n_expanded=n,
        shape_info=([POSITION], [slice(0, n)], [(n,)]),
        logp_func=compiled.logp,
        expand_func=None,
        _n_dim=n,
        _shapes={POSITION: (n,)},
        _coords={},
    )
