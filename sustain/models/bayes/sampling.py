"""Sampler choice, compiled-model cache and posterior draws as an ArviZ DataTree.

``sampler="auto"`` uses nutpie (Rust NUTS) on a log-density compiled by PyTensor's numba
backend (:mod:`.compiled`) when nutpie is installed, and PyMC's own NUTS otherwise;
``"numpyro"`` runs PyMC's JAX bridge and needs JAX and numpyro. Compiled models are kept in a
small in-process cache keyed by the model's structure, so fitting the same model again -- or a
collapsed model to new data of the same shape, whose data enter through ``pm.Data`` -- skips
compilation (see ``docs/models/bayes.md`` for measured times).
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sustain.errors import FitError, SpecError
from sustain.models.bayes.compiled import CompiledModel, compile_model, to_nutpie
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
) -> Any:
    """Run NUTS on ``model`` and return a DataTree with ``posterior`` and ``sample_stats``.

    The result is ArviZ 1's container (:class:`xarray.DataTree`) holding only the variables in
    ``var_names`` (in that order) and the sampler statistics of the draws after warm-up.
    ``cache_key`` identifies the model's structure for the compiled-model cache (nutpie only);
    models sharing a key must differ at most in the values of their ``pm.Data`` containers.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*BLAS.*")
        warnings.filterwarnings("ignore", category=RuntimeWarning, module="pymc")
        warnings.filterwarnings("ignore", category=UserWarning, module="pymc")
        try:
            if settings.sampler == "nutpie":
                idata = _sample_nutpie(model, settings, var_names, cache_key)
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
    model: Any, settings: SamplerSettings, var_names: Sequence[str], key: tuple[Any, ...] | None
) -> Any:
    import nutpie

    compiled = compiled_model(model, var_names, key)
    data = {v.name: v.get_value() for v in model.data_vars}
    kwargs: dict[str, Any] = {}
    if settings.target_accept is not None:
        kwargs["target_accept"] = settings.target_accept
    return nutpie.sample(
        to_nutpie(compiled, data),
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


def compiled_model(
    model: Any, var_names: Sequence[str], key: tuple[Any, ...] | None = None
) -> CompiledModel:
    """The model's compiled functions, from the in-process cache when ``key`` was seen.

    Models sharing a key must differ at most in the values of their ``pm.Data`` containers,
    which are inputs of the compiled functions.
    """
    full_key = None if key is None else (*key, tuple(var_names))
    if full_key is not None and full_key in _COMPILED:
        _COMPILED.move_to_end(full_key)
        return _COMPILED[full_key]
    compiled = compile_model(model, var_names)
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

    kwargs: dict[str, Any] = {}
    if settings.target_accept is not None:
        kwargs["target_accept"] = settings.target_accept
    return pm.sample(
        model=model,
        draws=settings.draws,
        tune=settings.tune,
        chains=settings.chains,
        cores=settings.n_cores,
        random_seed=settings.seed,
        progressbar=False,
        compute_convergence_checks=False,
        var_names=list(var_names),
        nuts_sampler=settings.sampler,
        **kwargs,
    )
