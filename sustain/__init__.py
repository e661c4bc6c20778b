"""sustain: survival and service quality of social-work agencies under government contracting.

Contract-level records go in; an agency-year panel with the field's funding measures comes out,
together with the models the literature uses (two-way fixed effects, discrete-time hazards, Cox
models, Bayesian hierarchical models), posterior diagnostics and publication tables.

Public names are imported lazily, so ``import sustain`` and the command line stay fast and
PyMC is only loaded when a Bayesian model is fitted.

Examples
--------
>>> import sustain
>>> data = sustain.datasets.example()
>>> panel = sustain.build_panel(data)
>>> panel.index.names
FrozenList(['agency_id', 'year'])
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # data
    "DataError": "sustain.errors",
    "DataWarning": "sustain.errors",
    "SpecError": "sustain.errors",
    "Dataset": "sustain.data.dataset",
    "read_dataset": "sustain.data.io",
    "draft_mapping": "sustain.data.draft",
    "load_mapping": "sustain.data.mapping",
    "validate": "sustain.data.schema",
    "build_panel": "sustain.data.panel",
    "simulate": "sustain.data.simulate",
    # frequentist models
    "fit_fe": "sustain.models.panel",
    "hausman": "sustain.models.panel",
    "fit_hazard": "sustain.models.survival",
    "fit_cox": "sustain.models.survival",
    "to_spells": "sustain.models.survival",
    "kaplan_meier": "sustain.models.survival",
    "cumulative_incidence": "sustain.models.survival",
    "gray_test": "sustain.models.survival",
    # research designs
    "fit_event_study": "sustain.models.designs",
    "first_year": "sustain.models.designs",
    # Bayesian models
    "fit_bayes": "sustain.models.bayes",
    "fit_joint": "sustain.models.joint",
    "load_result": "sustain.persistence",
    # inference beyond the sandwich
    "wild_bootstrap": "sustain.inference",
    "margins": "sustain.inference",
    "predict": "sustain.inference",
    # diagnostics and comparison
    "diagnose": "sustain.diagnostics",
    "compare": "sustain.diagnostics",
    "ppc_plot": "sustain.diagnostics",
    # tables and figures
    "regression_table": "sustain.tables",
    "describe": "sustain.tables",
    "correlation_table": "sustain.tables",
    "coef_plot": "sustain.figures",
    "km_plot": "sustain.figures",
    "prediction_plot": "sustain.figures",
    "forest_plot": "sustain.figures",
    "cif_plot": "sustain.figures",
    "event_plot": "sustain.figures",
    # pipelines
    "run_spec": "sustain.pipeline",
    "multiverse": "sustain.multiverse",
}
_SUBMODULES = {
    "datasets",
    "data",
    "models",
    "inference",
    "tables",
    "diagnostics",
    "pipeline",
    "figures",
}

__all__ = sorted([*_EXPORTS, "datasets", "__version__"])


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        module = importlib.import_module(f"sustain.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'sustain' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from sustain import datasets as datasets
