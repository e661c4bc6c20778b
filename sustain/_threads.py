"""One BLAS thread for a block of work, safe when blocks overlap in several threads.

How many threads OpenBLAS uses changes the order of its sums, and so the last bits of
reductions: a cluster-robust covariance or an IRLS fit computed with two BLAS threads can
differ from the same computed with one by about 1e-16 relative, enough to change a printed
p-value in its tenth digit. ``sustain run`` therefore computes everything with one BLAS thread,
so that its outputs are the same bytes on every machine whatever its number of cores; the
Bayesian sampler and the multiverse's workers do so too (their parallelism is across chains and
specifications).

``threadpoolctl.threadpool_limits`` alone is not enough: the limit is process-wide, so two
threads that each enter and leave it (Dask's threaded scheduler running specifications, a
sampler inside a pipeline) can interleave so that the process is left limited to one thread
for good, or released while another block still needs the limit. :func:`one_blas_thread`
counts the blocks that are open and sets the limit when the first opens and restores the
original when the last closes.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

_LOCK = threading.Lock()
_STATE: dict[str, Any] = {"open": 0, "limiter": None}


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Limit every loaded BLAS and OpenMP library to one thread while any such block is open.

    Examples
    --------
    >>> from threadpoolctl import threadpool_info
    >>> with one_blas_thread():
    ...     with one_blas_thread():  # nested or concurrent blocks share one limit
    ...         pass
    ...     all(lib["num_threads"] == 1 for lib in threadpool_info())
    True
    """
    from threadpoolctl import threadpool_limits

    with _LOCK:
        if _STATE["open"] == 0:
            _STATE["limiter"] = threadpool_limits(limits=1)
        _STATE["open"] += 1
    try:
        yield
    finally:
        with _LOCK:
            _STATE["open"] -= 1
            if _STATE["open"] == 0:
                _STATE["limiter"].restore_original_limits()
                _STATE["limiter"] = None
