"""Running specifications: one fit per specification, serially, in processes or on Dask.

Each specification is fitted by :func:`run_specification`, a module-level function (so that
spawned processes and Dask workers can import it) that never raises for a failed fit: the
exception's type and message are recorded in the :class:`Outcome`. Every finished
specification is written to the cache at once (a small JSON file named by the specification's
id and a hash of the specification and the data), so an interrupted run resumes where it
stopped. Fits run with one BLAS thread whatever the backend, so that a specification gives
the same numbers serially, in a process pool or on a cluster.
"""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import os
import socket
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from sustain._atomic import write_text
from sustain._threads import one_blas_thread
from sustain._typing import PathLikeStr
from sustain.errors import SpecError
from sustain.multiverse.grid import Specification
from sustain.options import Backend, check_choice

CACHE_VERSION = 1
Status = Literal["ok", "failed"]


@dataclass(frozen=True)
class Outcome:
    """What one specification produced: the coefficient of interest or the error.

    Attributes
    ----------
    id : str
        The specification's id.
    status : {"ok", "failed"}
    estimate, std_error, lower, upper : float
        Estimate (posterior mean), standard error (posterior sd) and interval bounds.
    p_value : float
        Two-sided p-value of frequentist fits (NaN for Bayesian fits).
    prob_positive : float
        Posterior probability that the coefficient is positive (NaN for frequentist fits).
    nobs : int
        Observations used (-1 when the fit failed).
    error_type, error : str
        Exception type and message of a failed specification.
    seconds : float
        Wall time of the fit.
    worker : str
        ``host:pid`` of the process that ran the fit (provenance, not part of the table).
    cacheable : bool
        False for failures of the machinery (a worker died), which are retried next time.

    Examples
    --------
    >>> o = Outcome("s1", "failed", error_type="FitError", error="no events")
    >>> repr(Outcome.from_dict(o.to_dict())) == repr(o)  # NaN fields: == is False on 3.13
    True
    """

    id: str
    status: Status
    estimate: float = math.nan
    std_error: float = math.nan
    lower: float = math.nan
    upper: float = math.nan
    p_value: float = math.nan
    prob_positive: float = math.nan
    nobs: int = -1
    error_type: str = ""
    error: str = ""
    seconds: float = 0.0
    worker: str = ""
    cacheable: bool = True

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (NaN kept as JSON ``NaN``)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Outcome:
        """Inverse of :meth:`to_dict`."""
        return cls(**dict(data))

    @classmethod
    def failure(cls, spec_id: str, exc: BaseException, seconds: float = 0.0, **kw: Any) -> Outcome:
        """The outcome of a specification whose fit raised ``exc``."""
        message = str(exc).strip() or repr(exc)
        return cls(
            spec_id, "failed", error_type=type(exc).__name__, error=message, seconds=seconds, **kw
        )


# --------------------------------------------------------------------------- one specification


def run_specification(spec: Specification, panel: pd.DataFrame, alpha: float = 0.05) -> Outcome:
    """Fit one specification on ``panel`` and extract its coefficient of interest.

    Never raises for a failing fit (bad formula, no variation, sampler failure, a term that
    is not in the model): the exception is recorded in the outcome instead.

    Examples
    --------
    >>> import sustain
    >>> from sustain.multiverse.grid import expand
    >>> panel = sustain.build_panel(sustain.datasets.example())
    >>> (spec,) = expand({"kind": "fe", "formula": "quality ~ {measure}"}, {"measure": ["hhi"]})
    >>> out = run_specification(spec, panel)
    >>> out.status, out.lower < out.estimate < out.upper
    ('ok', True)
    >>> (bad,) = expand({"kind": "fe", "formula": "quality ~ {measure}"}, {"measure": ["nope"]})
    >>> run_specification(bad, panel).error_type
    'SpecError'
    """
    start = time.perf_counter()
    worker = f"{socket.gethostname()}:{os.getpid()}"
    try:
        with one_blas_thread(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = fit_specification(spec, panel)
            values = coefficient(result, spec.term, alpha)
    except Exception as exc:  # recorded, never dropped: the table shows every failure
        return Outcome.failure(spec.id, exc, time.perf_counter() - start, worker=worker)
    return Outcome(spec.id, "ok", seconds=time.perf_counter() - start, worker=worker, **values)


def fit_specification(spec: Specification, panel: pd.DataFrame) -> Any:
    """The fitted result of one specification (its sample of ``panel``, its seed).

    The model's data are made as ``sustain run`` makes them: the sample filters, then
    :func:`sustain.pipeline.run.model_frame` (counting-process spells for Cox models, the
    panel with its index as columns for Bayesian models), then
    :func:`sustain.pipeline.run.fit_model`.

    Examples
    --------
    >>> import sustain
    >>> from sustain.multiverse.grid import expand
    >>> panel = sustain.build_panel(sustain.datasets.example())
    >>> (spec,) = expand({"kind": "hazard", "formula": "exit ~ {measure}"},
    ...                  {"measure": ["hhi"], "sample": ["no_left_truncated"]})
    >>> fit_specification(spec, panel).nobs < len(panel)
    True
    >>> (cox,) = expand({"kind": "cox", "formula": "{measure}"}, {"measure": ["hhi"]})
    >>> fit_specification(cox, panel).nobs == len(sustain.to_spells(panel))
    True
    """
    from sustain.pipeline.preflight import apply_sample
    from sustain.pipeline.run import fit_model, model_frame
    from sustain.pipeline.spec import Entry

    entry = Entry(spec.id, spec.kind, dict(spec.options))
    frame = model_frame(entry, apply_sample(panel, spec.filters))
    return fit_model(entry, frame, spec.seed)


def coefficient(result: Any, term: str, alpha: float) -> dict[str, Any]:
    """Estimate, standard error, interval, p-value or sign probability of ``term``.

    Raises
    ------
    SpecError
        When ``term`` is not a term of the fitted model (the message lists its terms).
    """
    params = result.params
    if term not in params.index:
        raise SpecError(
            f"the term of interest {term!r} is not in the model; its terms are "
            f"{', '.join(map(str, params.index[:25]))}"
        )
    ci = result.conf_int(alpha)
    out: dict[str, Any] = {
        "estimate": float(params[term]),
        "std_error": float(result.bse[term]),
        "lower": float(ci.loc[term, "lower"]),
        "upper": float(ci.loc[term, "upper"]),
        "nobs": int(result.nobs),
    }
    if getattr(result, "inference", "") == "bayesian":
        out["prob_positive"] = float(np.mean(result.draws(term) > 0))
    else:
        out["p_value"] = float(result.pvalues[term])
    return out


# --------------------------------------------------------------------------- cache


def frame_hash(frame: pd.DataFrame) -> str:
    """SHA-256 of a frame's values, index, column names and dtypes.

    Examples
    --------
    >>> import pandas as pd
    >>> a = pd.DataFrame({"x": [1.0, 2.0]})
    >>> frame_hash(a) == frame_hash(a.copy()), frame_hash(a) == frame_hash(a * 2)
    (True, False)
    """
    h = hashlib.sha256()
    layout = [
        list(map(str, frame.columns)),
        list(map(str, frame.dtypes)),
        list(map(str, frame.index.names)),
    ]
    h.update(json.dumps(layout).encode())
    h.update(np.ascontiguousarray(pd.util.hash_pandas_object(frame, index=True)).tobytes())
    return h.hexdigest()


def task_key(spec: Specification, data_hash: str, alpha: float) -> str:
    """Hash of everything that determines a specification's outcome.

    The specification (kind, options, term, sample filters, seed of sampling fitters), the
    data, the interval level and the versions of the cache format and of sustain.
    """
    from sustain import __version__

    text = json.dumps(
        {
            "cache": CACHE_VERSION,
            "sustain": __version__,
            "data": data_hash,
            "alpha": float(alpha),
            "spec": spec.fingerprint(),
        },
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Cache:
    """A folder of finished specifications, one JSON file each.

    Examples
    --------
    >>> import tempfile
    >>> from sustain.multiverse.grid import expand
    >>> (spec,) = expand({"kind": "fe", "formula": "quality ~ {measure}"}, {"measure": ["hhi"]})
    >>> cache = Cache(tempfile.mkdtemp(), data_hash="abc", alpha=0.05)
    >>> cache.load(spec) is None
    True
    >>> _ = cache.store(spec, Outcome(spec.id, "ok", estimate=1.5, nobs=10))
    >>> cache.load(spec).estimate
    1.5
    """

    folder: PathLikeStr
    data_hash: str
    alpha: float = 0.05

    def path(self, spec: Specification) -> Path:
        """File of one specification: ``<id>-<first 16 hex digits of its task key>.json``."""
        key = task_key(spec, self.data_hash, self.alpha)
        return Path(self.folder) / f"{spec.id}-{key[:16]}.json"

    def load(self, spec: Specification) -> Outcome | None:
        """The cached outcome, or ``None`` (a missing or unreadable file)."""
        path = self.path(spec)
        try:
            return Outcome.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None

    def store(self, spec: Specification, outcome: Outcome) -> Path | None:
        """Write ``outcome`` atomically (machinery failures are not stored)."""
        if not outcome.cacheable:
            return None
        return write_text(self.path(spec), json.dumps(outcome.to_dict(), indent=1) + "\n")


# --------------------------------------------------------------------------- backends


@dataclass(frozen=True)
class Execution:
    """Outcomes of every specification and which of them came from the cache.

    ``n_workers`` is the number of local processes or LocalCluster workers (``None`` on a
    remote Dask cluster, whose size sustain does not control).
    """

    outcomes: Mapping[str, Outcome]
    cached: tuple[str, ...]
    backend: str
    n_workers: int | None
    seconds: float


def execute(
    specs: Sequence[Specification],
    panel: pd.DataFrame,
    *,
    backend: Backend = "processes",
    address: str | None = None,
    n_workers: int | None = None,
    cache: Cache | None = None,
    alpha: float = 0.05,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> Execution:
    """Run every specification not in ``cache`` on a backend; cache each as it finishes.

    Parameters
    ----------
    specs : sequence of Specification
    panel : DataFrame
        The data every specification samples from.
    backend : {"processes", "serial", "dask"}
        A pool of spawned processes (default), this process, or a Dask cluster.
    address : str, optional
        Dask scheduler address (``tcp://host:8786``); ``None`` starts a ``LocalCluster``.
    n_workers : int, optional
        Processes of the pool or of the ``LocalCluster`` (default: CPU count).
    cache : Cache, optional
        Where finished specifications are kept.
    alpha : float
        Intervals have mass ``1 - alpha``.
    on_outcome : callable, optional
        Called with each new outcome (progress reporting).

    Examples
    --------
    >>> import sustain
    >>> from sustain.multiverse.grid import expand
    >>> panel = sustain.build_panel(sustain.datasets.example())
    >>> specs = expand({"kind": "fe", "formula": "quality ~ {measure}"},
    ...                {"measure": ["hhi", "entropy"]})
    >>> run = execute(specs, panel, backend="serial")
    >>> sorted(o.status for o in run.outcomes.values())
    ['ok', 'ok']
    """
    check_backend(backend)
    start = time.perf_counter()
    outcomes: dict[str, Outcome] = {}
    for spec in specs:
        hit = cache.load(spec) if cache is not None else None
        if hit is not None:
            outcomes[spec.id] = hit
    cached = tuple(sorted(outcomes))
    todo = [s for s in specs if s.id not in outcomes]
    workers = 1 if backend == "serial" else _n_workers(n_workers)
    runner = {"serial": _run_serial, "processes": _run_processes, "dask": _run_dask}[backend]
    for spec, outcome in runner(todo, panel, alpha, workers, address):
        if cache is not None:
            cache.store(spec, outcome)
        outcomes[spec.id] = outcome
        if on_outcome is not None:
            on_outcome(outcome)
    remote = backend == "dask" and address is not None
    used = None if remote else workers
    return Execution(outcomes, cached, backend, used, time.perf_counter() - start)


def check_backend(backend: str) -> str:
    """Raise :class:`SpecError` unless ``backend`` is ``processes``, ``dask`` or ``serial``.

    Examples
    --------
    >>> check_backend("dask")
    'dask'
    """
    try:
        return check_choice("backend", backend, Backend)
    except ValueError as exc:
        raise SpecError(str(exc)) from None


def _n_workers(n_workers: int | None) -> int:
    if n_workers is None:
        return max(1, os.cpu_count() or 1)
    if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
        raise SpecError(f"n_workers must be a positive integer, not {n_workers!r}")
    return n_workers


Runner = Iterator[tuple[Specification, Outcome]]


def _run_serial(
    todo: Sequence[Specification], panel: pd.DataFrame, alpha: float, _n: int, _a: str | None
) -> Runner:
    for spec in todo:
        yield spec, run_specification(spec, panel, alpha)


# The panel of a spawned worker process, set once by the pool's initializer.
_WORKER_PANEL: pd.DataFrame | None = None


def _init_worker(panel: pd.DataFrame) -> None:
    global _WORKER_PANEL
    _WORKER_PANEL = panel


def _run_in_worker(spec: Specification, alpha: float) -> Outcome:
    if _WORKER_PANEL is None:  # pragma: no cover - the initializer always ran
        raise RuntimeError("worker process has no panel")
    return run_specification(spec, _WORKER_PANEL, alpha)


def _run_processes(
    todo: Sequence[Specification], panel: pd.DataFrame, alpha: float, n: int, _a: str | None
) -> Runner:
    if not todo:
        return
    pool = ProcessPoolExecutor(
        max_workers=min(n, len(todo)),
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(panel,),
    )
    try:
        futures = {pool.submit(_run_in_worker, spec, alpha): spec for spec in todo}
        for future in as_completed(futures):
            yield futures[future], _collect(futures[future], future)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _collect(spec: Specification, future: Any) -> Outcome:
    """A finished future's outcome; a machinery failure becomes a non-cached failure."""
    try:
        outcome: Outcome = future.result()
    except Exception as exc:  # a worker died or the task could not be sent
        return Outcome.failure(spec.id, exc, cacheable=False)
    return outcome


def _run_dask(
    todo: Sequence[Specification],
    panel: pd.DataFrame,
    alpha: float,
    n: int,
    address: str | None,
) -> Runner:
    if not todo:
        return
    from distributed import Client, LocalCluster
    from distributed import as_completed as dask_completed

    cluster = None
    if address is None:
        cluster = LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None
        )
    client = Client(cluster if cluster is not None else address)
    try:
        shared = client.scatter(panel, broadcast=True)
        data_hash = frame_hash(panel)
        futures = {
            client.submit(
                run_specification,
                spec,
                shared,
                alpha,
                pure=False,
                key=f"sustain-multiverse-{spec.id}-{task_key(spec, data_hash, alpha)[:16]}",
            ): spec
            for spec in todo
        }
        for future in dask_completed(list(futures)):
            yield futures[future], _collect(futures[future], future)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
