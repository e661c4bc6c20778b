"""Compile a PyMC model's log-density and gradient once, and hand them to nutpie.

nutpie's own PyMC bridge (``nutpie.compile_pymc_model``) wraps the model in numba C callbacks
whose compilation is not cached between Python processes and took 10-40 s per model on the
development machine -- far longer than sampling the collapsed quality model (about 2 s). Here
the joint log-density and its gradient are compiled by PyTensor's numba backend, whose
compiled kernels *are* cached on disk, and nutpie calls them through its Python-function
interface (:func:`nutpie.compiled_pyfunc.from_pyfunc`). Data containers (``pm.Data``) become
explicit inputs, so one compiled function serves every data set of the same structure.
Measured numbers are in ``docs/models/bayes.md``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np


@dataclass(frozen=True)
class CompiledModel:
    """Compiled log-density, gradient and trace functions of a PyMC model.

    Attributes
    ----------
    n_dim : int
        Length of the flat vector of unconstrained parameters.
    logp : pytensor Function
        ``logp(x, *data) -> (log density, gradient)`` with ``x`` of shape (n_dim,).
    expand : pytensor Function
        ``expand(x, *data) -> [value of each stored variable]`` (constrained space).
    data_names : tuple of str
        Names of the data inputs (the model's ``pm.Data`` containers), in call order.
    data_dtypes : tuple of str
        Their dtypes.
    data_ndims : tuple of int
        Their numbers of dimensions (nutpie hands 0-d arrays back as 1-d).
    names : tuple of str
        Stored variables.
    shapes : tuple of tuple of int
        Their shapes.
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
    expand: Any
    data_names: tuple[str, ...]
    data_dtypes: tuple[str, ...]
    data_ndims: tuple[int, ...]
    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    dims: dict[str, tuple[str, ...]]
    coords: dict[str, list[Any]]
    initial_point: Callable[[int], np.ndarray]


def compile_model(model: Any, var_names: Sequence[str], mode: str = "NUMBA") -> CompiledModel:
    """Compile ``model`` into a :class:`CompiledModel` storing ``var_names``.

    Examples
    --------
    >>> import numpy as np, pymc as pm
    >>> with pm.Model() as m:
    ...     s = pm.HalfNormal("s", 1.0)
    ...     _ = pm.Normal("y", 0.0, s, observed=np.array([0.5, -0.5]))
    >>> c = compile_model(m, ["s"])
    >>> c.n_dim, c.names
    (1, ('s',))
    """
    import pytensor
    import pytensor.tensor as pt
    from pymc.initial_point import make_initial_point_fn

    value_vars = [model.rvs_to_values[rv] for rv in model.free_RVs]
    x, replace, n_dim = _flat_parameters(model, value_vars)
    data_vars = list(model.data_vars)
    data_inputs = [pt.tensor(name=d.name, dtype=d.dtype, shape=(None,) * d.ndim) for d in data_vars]
    replace.update(zip(data_vars, data_inputs, strict=True))
    logp = model.logp()
    grads = cast(Sequence[Any], pytensor.grad(logp, value_vars))
    grad = pt.concatenate([pt.as_tensor(g).ravel() for g in grads])
    stored = list(model.replace_rvs_by_values([model[name] for name in var_names]))
    logp, grad, *outs = pytensor.graph.clone_replace([logp, grad, *stored], replace)
    inputs = [x, *data_inputs]
    logp_fn = pytensor.function(inputs, [logp, grad], mode=mode, on_unused_input="ignore")
    expand_fn = pytensor.function(inputs, outs, mode=mode, on_unused_input="ignore")
    init = make_initial_point_fn(model=model, jitter_rvs=set(model.free_RVs))
    lock = threading.Lock()  # nutpie asks for starting points from several threads

    def initial_point(seed: int) -> np.ndarray:
        with lock:
            point = init(seed)
        return np.concatenate([np.ravel(point[v.name]) for v in value_vars]).astype(np.float64)

    x0 = initial_point(0)
    data0 = [np.asarray(d.get_value()) for d in data_vars]
    out_shapes = tuple(tuple(np.shape(v)) for v in expand_fn(x0, *data0))
    dims = {
        n: tuple(model.named_vars_to_dims[n]) for n in var_names if n in model.named_vars_to_dims
    }
    used = {d for ds in dims.values() for d in ds}
    coords = {k: list(v) for k, v in model.coords.items() if k in used and v is not None}
    return CompiledModel(
        n_dim=n_dim,
        logp=logp_fn,
        expand=expand_fn,
        data_names=tuple(d.name for d in data_vars),
        data_dtypes=tuple(str(d.dtype) for d in data_vars),
        data_ndims=tuple(int(d.ndim) for d in data_vars),
        names=tuple(var_names),
        shapes=out_shapes,
        dims=dims,
        coords=coords,
        initial_point=initial_point,
    )


def _flat_parameters(model: Any, value_vars: list[Any]) -> tuple[Any, dict[Any, Any], int]:
    """One float64 vector ``x`` standing for all value variables, and the replacements."""
    import pytensor.tensor as pt

    start = model.initial_point()
    x = pt.vector("x", dtype="float64")
    replace: dict[Any, Any] = {}
    offset = 0
    for var in value_vars:
        shape = tuple(np.shape(start[var.name]))
        size = int(np.prod(shape))
        replace[var] = x[offset : offset + size].reshape(shape).astype(var.dtype)
        offset += size
    return x, replace, offset


def to_nutpie(compiled: CompiledModel, data: Mapping[str, Any]) -> Any:
    """A nutpie model calling ``compiled`` with ``data`` (values of its data inputs).

    Each chain gets its own copy of the compiled functions (PyTensor functions keep internal
    buffers and are not safe to share between nutpie's threads).
    """
    from nutpie.compiled_pyfunc import from_pyfunc

    names = compiled.data_names
    values = {
        n: np.ascontiguousarray(np.asarray(data[n], dtype=dt))
        for n, dt in zip(names, compiled.data_dtypes, strict=True)
    }
    scalars = {n for n, nd in zip(names, compiled.data_ndims, strict=True) if nd == 0}

    def inputs(shared: Mapping[str, Any]) -> list[Any]:
        return [shared[n].reshape(()) if n in scalars else shared[n] for n in names]

    def make_logp_fn() -> Callable[..., tuple[float, np.ndarray]]:
        fn = compiled.logp.copy()
        fn.trust_input = True  # inputs are built above with the compiled dtypes and shapes

        def logp(x: np.ndarray, **shared: Any) -> tuple[float, np.ndarray]:
            value, grad = fn(x, *inputs(shared))
            return float(value), np.asarray(grad, dtype=np.float64)

        return logp

    def make_expand_fn(seed1: int, seed2: int, chain: int) -> Callable[..., dict[str, np.ndarray]]:
        fn = compiled.expand.copy()
        fn.trust_input = True

        def expand(x: np.ndarray, **shared: Any) -> dict[str, np.ndarray]:
            outs = fn(x, *inputs(shared))
            return {
                name: np.ascontiguousarray(v, dtype=np.float64).reshape(shape)
                for name, v, shape in zip(compiled.names, outs, compiled.shapes, strict=True)
            }

        return expand

    return from_pyfunc(
        compiled.n_dim,
        make_logp_fn,
        make_expand_fn,
        [np.dtype("float64")] * len(compiled.names),
        list(compiled.shapes),
        list(compiled.names),
        # copies: nutpie adds generated dimension names to ``dims`` in place, which would
        # break the next fit that reuses this compiled model from the cache
        coords={k: list(v) for k, v in compiled.coords.items()},
        dims={k: tuple(v) for k, v in compiled.dims.items()},
        shared_data=values,
        make_initial_point_fn=compiled.initial_point,
    )
