"""What each kind of spec entry does: which sustain function it calls and what it may set.

A model, table or figure entry in a spec has a ``kind``. The kind names the public function(s)
the entry's options are passed to (their signatures define the allowed keys and value types),
the parameters the pipeline fills in itself (the data, the path, the fitted results), the
pipeline's own keys (``models``, ``formats``, ...), which options name data columns (checked
against the panel before fitting) and which hold formulas (checked for safety and variables).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from sustain.errors import SpecError
from sustain.options import Family, Link, Sampler, TableFormat, TimeScale
from sustain.pipeline.signatures import parameters

ImageFormats = list[Literal["png", "pdf"]]
TableFormats = list[TableFormat]


@dataclass(frozen=True)
class Kind:
    """One kind of spec entry.

    Attributes
    ----------
    name : str
        The value of ``kind`` in the spec.
    targets : tuple of str
        ``"module:function"`` of the functions the entry's options go to.
    reserved : frozenset of str
        Parameters of the targets set by the pipeline (not allowed in the spec).
    own : mapping
        The pipeline's own keys and their annotations.
    required : tuple of str
        Keys the entry must have.
    columns : tuple of str
        Options whose values name data columns.
    formulas : tuple of str
        Options holding formulas.
    data : {"panel", "spells", "none"}
        What the entry works on.
    seed : str or None
        Parameter receiving the model's seed (fanned out from the run's seed).
    choices : mapping
        Annotations that replace a target's own for checking (``family`` of
        :func:`sustain.fit_bayes` is annotated ``str`` but must be one of
        :data:`sustain.options.Family`).

    Examples
    --------
    >>> MODEL_KINDS["fe"].targets
    ('sustain.models.panel:fit_fe',)
    """

    name: str
    targets: tuple[str, ...]
    reserved: frozenset[str] = frozenset()
    own: Mapping[str, Any] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    formulas: tuple[str, ...] = ()
    data: Literal["panel", "spells", "none"] = "panel"
    seed: str | None = None
    choices: Mapping[str, Any] = field(default_factory=dict)

    def functions(self) -> list[Callable[..., Any]]:
        """Import and return the target functions.

        Raises
        ------
        SpecError
            When a target is not available in this installation.
        """
        out = []
        for target in self.targets:
            module_name, func_name = target.split(":")
            try:
                module = importlib.import_module(module_name)
            except ImportError as exc:
                raise SpecError(f"kind {self.name!r} is not available: {exc}") from exc
            func = getattr(module, func_name, None)
            if func is None:
                raise SpecError(f"kind {self.name!r} is not available: no {target}")
            out.append(func)
        return out

    def schema(self) -> dict[str, Any]:
        """``{key: annotation}`` of every key an entry of this kind may hold."""
        schema: dict[str, Any] = {"name": str, "kind": str}
        for func in self.functions():
            for name, annotation in parameters(func).items():
                if name not in self.reserved:
                    schema.setdefault(name, annotation)
        schema.update({k: v for k, v in self.choices.items() if k in schema})
        schema.update(self.own)
        return schema

    def split(self, options: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Options of each target function (a key goes to every target that accepts it)."""
        parts = []
        for func in self.functions():
            accepted = set(parameters(func)) - self.reserved
            parts.append({k: v for k, v in options.items() if k in accepted})
        return parts


_BAYES_CHOICES: dict[str, Any] = {
    "family": Family,
    "link": Link | None,
    "sampler": Sampler,
    "collapse": bool | Literal["auto"],
}

# a model may ask for wild bootstrap tests of its coefficients (sustain.pipeline.inference)
_WILD_OWN: dict[str, Any] = {"wild_bootstrap": dict[str, Any]}

MODEL_KINDS: dict[str, Kind] = {
    "fe": Kind(
        "fe",
        ("sustain.models.panel:fit_fe",),
        frozenset({"data"}),
        own=_WILD_OWN,
        required=("formula",),
        columns=("effects", "cluster", "weights"),
        formulas=("formula",),
    ),
    "hazard": Kind(
        "hazard",
        ("sustain.models.survival:fit_hazard",),
        frozenset({"panel"}),
        own=_WILD_OWN,
        required=("formula",),
        columns=("duration", "cluster", "entity", "time", "competing"),
        formulas=("formula",),
    ),
    "event_study": Kind(
        "event_study",
        ("sustain.models.designs:fit_event_study",),
        frozenset({"frame"}),
        # treatment: a condition on the panel; the cohort column is then built from it
        own={"treatment": str},
        required=("outcome", "cohort"),
        columns=("outcome", "cluster", "covariates"),
        seed="random_seed",
    ),
    "cox": Kind(
        "cox",
        ("sustain.models.survival:fit_cox",),
        frozenset({"data", "start", "stop", "event"}),
        own={"time_scale": TimeScale},
        required=("formula",),
        columns=("strata", "cluster"),
        formulas=("formula",),
        data="spells",
    ),
    "bayes": Kind(
        "bayes",
        ("sustain.models.bayes:fit_bayes",),
        frozenset({"data"}),
        required=("formula",),
        formulas=("formula",),
        seed="random_seed",
        choices=_BAYES_CHOICES,
    ),
    "joint": Kind(
        "joint",
        ("sustain.models.joint:fit_joint",),
        frozenset({"panel", "data"}),
        required=("quality", "hazard"),
        columns=("group", "duration", "time"),
        formulas=("quality", "hazard"),
        seed="random_seed",
        choices=_BAYES_CHOICES,
    ),
}

_TABLE_OWN: dict[str, Any] = {"formats": TableFormats}

TABLE_KINDS: dict[str, Kind] = {
    "regression": Kind(
        "regression",
        ("sustain.tables.regression:regression_table",),
        # the pipeline passes the models' wild bootstraps and, for Bayesian margins, the data
        frozenset({"results", "format", "path", "bootstrap", "data"}),
        own={**_TABLE_OWN, "models": list[str]},
        required=("models",),
        data="none",
    ),
    "describe": Kind(
        "describe",
        ("sustain.tables.describe:describe",),
        frozenset({"panel", "format", "path"}),
        own=_TABLE_OWN,
        columns=("columns", "by"),
    ),
    "correlation": Kind(
        "correlation",
        ("sustain.tables.describe:correlation_table",),
        frozenset({"panel", "format", "path"}),
        own=_TABLE_OWN,
        required=("columns",),
        columns=("columns",),
    ),
    "trend": Kind(
        "trend",
        ("sustain.pipeline.trends:trend_table",),
        frozenset({"panel", "format"}),
        own={"formats": list[Literal["csv", "markdown"]]},
        required=("columns",),
        columns=("columns", "by", "time"),
    ),
    "margins": Kind(
        "margins",
        ("sustain.inference.margins:margins",),
        frozenset({"result", "data"}),
        # margins' own kind= is spelled effect= here (kind names the table's kind)
        own={
            "model": str,
            "formats": list[Literal["csv", "markdown"]],
            "effect": Literal["average", "at_means"],
        },
        required=("model",),
        columns=("by",),
    ),
    "hausman": Kind(
        "hausman",
        (),
        own={"fe": str, "re": str},
        required=("fe", "re"),
        data="none",
    ),
}

_FIGURE_OWN: dict[str, Any] = {"formats": ImageFormats}
_FIGURE_RESERVED = frozenset({"results", "path", "formats"})

FIGURE_KINDS: dict[str, Kind] = {
    "coef": Kind(
        "coef",
        ("sustain.figures.coef:coef_plot",),
        _FIGURE_RESERVED,
        own={**_FIGURE_OWN, "models": list[str]},
        required=("models",),
        data="none",
    ),
    "forest": Kind(
        "forest",
        ("sustain.figures.forest:forest_plot",),
        _FIGURE_RESERVED,
        own={**_FIGURE_OWN, "models": list[str]},
        required=("models",),
        data="none",
    ),
    "prediction": Kind(
        "prediction",
        ("sustain.figures.prediction:prediction_plot",),
        _FIGURE_RESERVED | {"data"},
        own={**_FIGURE_OWN, "models": list[str]},
        required=("models",),
        columns=("x",),
    ),
    "trend": Kind(
        "trend",
        ("sustain.pipeline.trends:trend_plot",),
        _FIGURE_RESERVED | {"panel"},
        own=_FIGURE_OWN,
        required=("columns",),
        columns=("columns", "by", "time"),
    ),
    "cif": Kind(
        "cif",
        (
            "sustain.models.survival:cumulative_incidence",
            "sustain.figures.incidence:cif_plot",
        ),
        _FIGURE_RESERVED | {"data", "result", "start", "stop", "entity", "time"},
        own=_FIGURE_OWN,
        columns=("by", "cause"),
    ),
    "event": Kind(
        "event",
        ("sustain.figures.event:event_plot",),
        _FIGURE_RESERVED,
        own={**_FIGURE_OWN, "models": list[str]},
        required=("models",),
        data="none",
    ),
    "km": Kind(
        "km",
        ("sustain.models.survival:kaplan_meier", "sustain.figures.km:km_plot"),
        _FIGURE_RESERVED | {"data", "km", "start", "stop", "event", "entity", "time"},
        own=_FIGURE_OWN,
        columns=("by",),
    ),
}

#: Options of the ``[diagnostics]`` section besides those of :func:`sustain.diagnose`.
DIAGNOSTICS_OWN: dict[str, Any] = {"plots": bool, "formats": ImageFormats}
DIAGNOSTICS_TARGET = "sustain.diagnostics.report:diagnose"


def diagnostics_kind() -> Kind:
    """The kind describing the ``[diagnostics]`` section.

    Examples
    --------
    >>> "rhat_max" in diagnostics_kind().schema()
    True
    """
    return Kind(
        "diagnostics",
        (DIAGNOSTICS_TARGET,),
        frozenset({"result", "var_names"}),
        own=DIAGNOSTICS_OWN,
        data="none",
    )
