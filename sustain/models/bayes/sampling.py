"""Sampler choice, compiled-model cache and posterior draws as an ArviZ DataTree.

``sampler="auto"`` uses nutpie (Rust NUTS) on a native log-density compiled by PyTensor's numba
backend (:mod:`.compiled`, :mod:`.native`) when nutpie is installed, and PyMC's own NUTS
otherwise; ``"numpyro"`` runs PyMC's JAX bridge and needs JAX and numpyro. Compiled models are
cached on disk by PyTensor (between processes) and in a small in-process cache keyed by the
model's structure, so fitting the same model again -- or a model to new data of the same shape,
whose data enter through ``pm.Data`` -- skips compilation (see ``docs/models/bayes.md`` for
measured times).

Determinism: the log-density is compiled without fastmath, so its value cannot depend on
whether PyTensor's kernels came from the disk cache or were compiled in this process (the cause
of runs that were not byte-identical, issue 11 item 13: see :func:`.compiled.compile_model`).
As a precaution every fit also runs with the BLAS libraries limited to one thread
(:func:`sustain._threads.one_blas_thread`): the chains already run in parallel, and OpenBLAS's result of a
product may depend on how many threads split it.
"""

from __future__ import annotations

import importlib.util
import os
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sustain.errors import FitError, SpecError
from sustain.models.bayes.compiled import POSITION, CompiledModel, compile_model, to_nutpie
from sustain.models.bayes.progress import UPDATE_MS, ProgressReporter, SamplingProgress
from sustain.options import Sampler, check_choice

CACHE_SIZE = 8
_COMPILED: OrderedDict[tuple[Any, ...], CompiledModel] = OrderedDict()


@dataclass(frozen=True)
class SamplerSettings:
    """How to run NUTS.

    Attributes
    ----------
    sampler : {"nutpie", "pymc", "numpyro"}
        Resolved sampler (see :func:`resolve_sampler`).
    draws, tune, chains : int
        Posterior draws and warm-up iterations per chain, and the number of chains.
    seed : int
        Seed of the sampler (chains get reproducible streams derived from it).
    cores : int or None
        Chains run in parallel (``None``: as many as chains, at most the CPU count).
    target_accept : float or None
        NUTS target acceptance (``None``: the sampler's default, 0.8).
    progressbar : bool
        Draw a progress bar on standard error while sampling.
    progress : callable or None
        Called with a :class:`~sustain.models.bayes.progress.SamplingProgress` about twice a
        second while compiling and sampling (nutpie only).

    Examples
    --------
    >>> SamplerSettings("pymc", 500, 500, 2, seed=1).chains
    2
    """

    sampler: str
    draws: int
    tune: int
    chains: int
    seed: int
    cores: int | None = None
    target_accept: float | None = None
    progressbar: bool = False
    progress: Callable[[SamplingProgress], None] | None = None

    def __post_init__(self) -> None:
        for name in ("draws", "chains"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or value < 1:
                raise SpecError(f"{name} must be a positive integer, not {value!r}")
        if not isinstance(self.tune, int | np.integer) or self.tune < 0:
            raise SpecError(f"tune must be a non-negative integer, not {self.tune!r}")
        if self.target_accept is not None and not 0 < self.target_accept < 1:
            raise SpecError(f"target_accept must lie in (0, 1), not {self.target_accept!r}")

    @property
    def n_cores(self) -> int:
        """Parallel chains actually used."""
        return max(1, min(self.chains, self.cores or os.cpu_count() or 1))


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def resolve_sampler(sampler: str) -> str:
    """The sampler that will run: ``"auto"`` becomes nutpie when installed, else ``"pymc"``.

    Raises
    ------
    SpecError
        Unknown name, or a sampler whose packages are not installed.

    Examples
    --------
    >>> resolve_sampler("pymc")
    'pymc'
    """
    try:
        check_choice("sampler", sampler, Sampler)
    except ValueError as exc:
        raise SpecError(str(exc)) from None
    if sampler == "auto":
        return "nutpie" if _installed("nutpie") else "pymc"
    if sampler == "nutpie" and not _installed("nutpie"):
        raise SpecError("sampler='nutpie' needs the nutpie package (pip install nutpie)")
    if sampler == "numpyro" and not (_installed("jax") and _installed("numpyro")):
        raise SpecError(
            "sampler='numpyro' needs JAX and numpyro, which are not installed "
            "(pip install numpyro jax); use sampler='nutpie' or 'pymc' instead"
        )
    return sampler


def sample_posterior(
    model: Any,
    settings: SamplerSettings,
    var_names: Sequence[str],
    cache_key: tuple[Any, ...] | None = None,
    kernel: Any = None,
) -> Any:
    """Run NUTS on ``model`` and return a DataTree with ``posterior`` and ``sample_stats``.

    The result is ArviZ 1's container (:class:`xarray.DataTree`) holding only the variables in
    ``var_names`` (in that order) and the sampler statistics of the draws after warm-up.
    ``cache_key`` identifies the model's structure for the compiled-model cache (nutpie only);
    models sharing a key must differ at most in the values of their ``pm.Data`` containers.
    ``kernel`` (a :class:`.kernel_spec.NativeLogp` for ``model``) makes nutpie evaluate the
    log-density with a hand-written kernel compiled once for every structure (:mod:`.kernel`)
    instead of a PyTensor graph compiled for this one.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*BLAS.*")
        warnings.filterwarnings("ignore", category=RuntimeWarning, module="pymc")
        warnings.filterwarnings("ignore", category=UserWarning, module="pymc")
        try:
            if settings.sampler == "nutpie":
                idata = _sample_nutpie(model, settings, var_names, cache_key, kernel)
            else:
                idata = _sample_pymc(model, settings, var_names)
        except (SpecError, FitError, KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # nutpie reports Rust panics as BaseException
            raise FitError(f"sampling with {settings.sampler} failed: {exc}") from exc
    import xarray as xr

    posterior = idata["posterior"].to_dataset()
    keep = [n for n in var_names if n in posterior]
    return xr.DataTree.from_dict(
        {
            "posterior": posterior[keep],
            "sample_stats": idata["sample_stats"].to_dataset(),
        }
    )


def _sample_nutpie(
    model: Any,
    settings: SamplerSettings,
    var_names: Sequence[str],
    key: tuple[Any, ...] | None,
    kernel: Any = None,
) -> Any:
    import nutpie
    import xarray as xr

    total = settings.chains * (settings.draws + settings.tune)
    reporter = ProgressReporter(settings.chains, total, settings.progressbar, settings.progress)
    with reporter.heartbeat():
        compiled = compiled_model(model, var_names, key, logp=kernel is None)
    data = {v.name: v.get_value() for v in model.data_vars}
    kwargs: dict[str, Any] = {}
    if settings.target_accept is not None:
        kwargs["target_accept"] = settings.target_accept
    if reporter.active:
        kwargs.update(progress_callback=reporter.update, progress_rate=UPDATE_MS)
    reporter.sampling_started()
    trace = nutpie.sample(
        to_nutpie(compiled, data, kernel),
        draws=settings.draws,
        tune=settings.tune,
        chains=settings.chains,
        cores=settings.n_cores,
        seed=settings.seed,
        progress_bar=False,
        save_warmup=False,
        # low-rank modified mass matrix (nutpie < 0.16: low_rank_modified_mass_matrix=True):
        # adapts to posterior correlations (e.g. between exper and exper^2): ESS x7 on the
        # wage-panel reference model at half the gradient evaluations
        adaptation="low_rank",
        **kwargs,
    )
    reporter.finish(int(np.asarray(trace["sample_stats"]["diverging"]).sum()))
    position = np.asarray(trace["posterior"][POSITION].values)
    values = compiled.expand(position, data)
    n_chain, n_draw = position.shape[:2]
    posterior = xr.Dataset(
        {
            name: (_dims(compiled, name, values[name].ndim - 2), values[name])
            for name in compiled.names
        },
        coords={"chain": np.arange(n_chain), "draw": np.arange(n_draw), **compiled.coords},
    )
    return xr.DataTree.from_dict(
        {"posterior": posterior, "sample_stats": trace["sample_stats"].to_dataset()}
    )


def _dims(compiled: CompiledModel, name: str, ndim: int) -> tuple[str, ...]:
    own = compiled.dims.get(name) or tuple(f"{name}_dim_{i}" for i in range(ndim))
    return ("chain", "draw", *own)


def compiled_model(
    model: Any, var_names: Sequence[str], key: tuple[Any, ...] | None = None, logp: bool = True
) -> CompiledModel:
    """The model's compiled functions, from the in-process cache when ``key`` was seen.

    Models sharing a key must differ at most in the values of their ``pm.Data`` containers,
    which are inputs of the compiled functions.
    """
    full_key = None if key is None else (*key, tuple(var_names), logp)
    if full_key is not None and full_key in _COMPILED:
        _COMPILED.move_to_end(full_key)
        return _COMPILED[full_key]
    compiled = compile_model(model, var_names, logp)
    if full_key is not None:
        _COMPILED[full_key] = compiled
        while len(_COMPILED) > CACHE_SIZE:
            _COMPILED.popitem(last=False)
    return compiled


def clear_cache() -> None:
    """Forget every compiled model (frees memory; the next fit compiles again)."""
    _COMPILED.clear()


def _sample_pymc(model: Any, settings: SamplerSettings, var_names: Sequence[str]) -> Any:
    import pymc as pm
    import pytensor

    kwargs: dict[str, Any] = {}
    if settings.target_accept is not None:
        kwargs["target_accept"] = settings.target_accept
    cores = settings.n_cores
    if threading.active_count() > 1:
        # PyMC forks one process per chain on Linux, and fork() while other threads run (a
        # Dask client, a web server) can deadlock the children. The other start methods
        # re-import __main__ (which hangs when it is standard input) and gave other draws for
        # the same seed; chains run one after the other in this process give the same draws.
        cores = 1
    with pytensor.config.change_flags(numba__fastmath=False), warnings.catch_warnings():
        # (fastmath off as in .compiled: determinism.) With no other Python thread alive, the
        # threads Python 3.12+ warns about when forking are idle OpenBLAS and Rust worker
        # threads, which hold no lock the chains' children need (OpenBLAS resets its pool in
        # an atfork handler); only that one warning is silenced, only here.
        warnings.filterwarnings(
            "ignore", r".*use of fork\(\) may lead to deadlocks", DeprecationWarning
        )
        return pm.sample(
            model=model,
            draws=settings.draws,
            tune=settings.tune,
            chains=settings.chains,
            cores=cores,
            random_seed=settings.seed,
            progressbar=settings.progressbar,
            compute_convergence_checks=False,
            var_names=list(var_names),
            nuts_sampler=settings.sampler,
            **kwargs,
        )
