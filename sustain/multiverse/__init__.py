"""Multiverse (specification-curve) analysis: every combination of analytic choices.

:func:`multiverse` expands a base model and a set of choices into specifications
(:mod:`.grid`), fits them in parallel -- spawned processes by default, or a Dask cluster --
caching each finished specification so an interrupted run resumes (:mod:`.execute`), and
returns a :class:`MultiverseResult` with one row per specification, a summary and the
specification curve (:mod:`.curve`). :func:`run_multiverse_spec` does the same from a TOML
spec (``sustain multiverse SPEC.toml``). See ``docs/multiverse.md``.

Examples
--------
>>> import sustain
>>> mv = sustain.multiverse({"kind": "fe", "formula": "quality ~ {measure} + log_revenue"},
...                         {"measure": ["hhi", "gov_share"], "cluster": ["agency_id", "district"]},
...                         data=sustain.datasets.example(), backend="serial")
>>> int(mv.stats()["n_ok"])
4
"""

import sys
import types
from typing import Any

from sustain.multiverse.result import MultiverseResult
from sustain.multiverse.run import multiverse, run_multiverse_spec

__all__ = ["MultiverseResult", "multiverse", "run_multiverse_spec"]


class _CallableModule(types.ModuleType):
    """This package, callable as :func:`multiverse`.

    ``sustain.multiverse`` names both this package and the function it exports; once the
    package has been imported, Python binds the package to that name, so the package must be
    callable for ``sustain.multiverse(...)`` to keep working.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> MultiverseResult:
        return multiverse(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
