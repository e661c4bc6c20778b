"""Reproducible analyses: ``sustain run SPEC.toml``, ``sustain demo`` and results folders.

A spec (TOML) declares the data, panel options, sample filters, models, tables and figures of
a study; :func:`run_spec` checks all of it before fitting anything, then writes
``results/<run>/`` with ``tables/``, ``figures/``, ``models/``, ``diagnostics/`` and a
``manifest.json`` (input hashes, the spec, seeds, software versions, git commit). See
``docs/spec.md`` and ``docs/reproducibility.md``.

Examples
--------
>>> from sustain.pipeline import load_spec, example_spec_path
>>> spec = load_spec(example_spec_path())
>>> [m.kind for m in spec.models][:2]
['fe', 'fe']
"""

from __future__ import annotations

from sustain.pipeline.results_dir import ResultsDir
from sustain.pipeline.run import RunResult, demo, example_spec_path, run_spec
from sustain.pipeline.spec import Spec, load_spec, parse_spec

__all__ = [
    "ResultsDir",
    "RunResult",
    "Spec",
    "demo",
    "example_spec_path",
    "load_spec",
    "parse_spec",
    "run_spec",
]
