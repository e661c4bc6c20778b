"""Inference entries of a spec: wild bootstraps of models and margins tables.

A fixed-effects or hazard model may ask for wild cluster bootstrap tests of some of its
coefficients::

    [[models]]
    name = "fe_district"
    kind = "fe"
    formula = "quality ~ hhi_lag1 + gov_share_lag1"
    cluster = "district"
    wild_bootstrap = { terms = ["hhi_lag1", "gov_share_lag1"], weights = "webb", reps = 9999 }

The run writes ``models/<name>_wild.csv`` (one row per term) and regression tables with
``inference = "wild"`` take their p-values and intervals from these results. A table of kind
``margins`` writes :func:`sustain.margins` of one model as CSV or Markdown. Seeds of the
bootstraps derive from the run's seed and the model's name, as the samplers' do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from sustain.errors import SpecError
from sustain.inference.weights import WeightKind
from sustain.limits import check_bounds
from sustain.pipeline.signatures import check_options, suggest

#: Keys of a model's ``wild_bootstrap`` table and their types.
WILD_KEYS: dict[str, Any] = {
    "terms": list[str],
    "cluster": str,
    "weights": WeightKind,
    "reps": int,
    "impose_null": bool,
    "alpha": float,
    "random_seed": int,
}
#: Model kinds that may ask for a wild bootstrap.
WILD_KINDS = ("fe", "hazard")
#: Formats of margins tables.
MarginsFormat = Literal["csv", "markdown"]
MARGINS_SUFFIX = {"csv": "csv", "markdown": "md"}


def check_wild_options(value: Any, where: str) -> None:
    """Validate a model's ``wild_bootstrap`` table (keys, types, bounds).

    Examples
    --------
    >>> check_wild_options({"terms": ["hhi"], "reps": 999}, "models.fe")
    >>> check_wild_options({"terms": ["hhi"], "rep": 999}, "models.fe")
    Traceback (most recent call last):
    ...
    sustain.errors.SpecError: unknown key models.fe.wild_bootstrap.rep; did you mean 'reps'? ...
    """
    place = f"{where}.wild_bootstrap"
    if not isinstance(value, dict):
        raise SpecError(f'{place} must be a table, e.g. {{ terms = ["hhi"], reps = 9999 }}')
    check_options(value, WILD_KEYS, place)
    check_bounds(value, place)
    if not value.get("terms"):
        raise SpecError(f"{place} needs terms = [...], the coefficients to test")


def wild_problems(entry: Any, frame: pd.DataFrame) -> list[str]:
    """Problems of a model's bootstrap request that the data show (the cluster column).

    Examples
    --------
    >>> from sustain.pipeline.spec import Entry
    >>> e = Entry("m", "fe", {"formula": "y ~ x", "wild_bootstrap": {"terms": ["x"],
    ...                                                              "cluster": "distrct"}})
    >>> wild_problems(e, pd.DataFrame({"district": [1]}))
    ["models.m.wild_bootstrap.cluster: column 'distrct' is not in the data; did you mean 'district'?"]
    """
    options = entry.options.get("wild_bootstrap")
    if not options:
        return []
    where = f"models.{entry.name}.wild_bootstrap"
    if entry.kind not in WILD_KINDS:
        return [f"{where}: only models of kind {' or '.join(WILD_KINDS)} can be bootstrapped"]
    cluster = options.get("cluster", entry.options.get("cluster", _default_cluster(entry)))
    available = set(map(str, frame.columns)) | {str(n) for n in frame.index.names if n}
    if cluster is None:
        return [f'{where}: give cluster = "..." (the model is not clustered)']
    if not isinstance(cluster, str):
        return [f"{where}.cluster: the bootstrap clusters by one variable"]
    if cluster not in available:
        return [
            f"{where}.cluster: column {cluster!r} is not in the data{suggest(cluster, available)}"
        ]
    return []


def _default_cluster(entry: Any) -> str | None:
    """The cluster variable a model has without a ``cluster`` option (fit_hazard: the agency;
    fit_fe: the entity when its covariance is clustered)."""
    if entry.kind == "hazard":
        return "agency_id"
    return "agency_id" if entry.options.get("cov_type") == "clustered" else None


def wild_seed(run_seed: int, name: str, options: Mapping[str, Any]) -> int:
    """The seed of a model's bootstrap: its own ``random_seed`` or one derived from the run's.

    Examples
    --------
    >>> wild_seed(1, "fe", {"random_seed": 5}), wild_seed(1, "fe", {}) == wild_seed(1, "fe", {})
    (5, True)
    """
    from sustain.pipeline.spec import derive_seed

    given = options.get("random_seed")
    return int(given) if given is not None else derive_seed(run_seed, f"{name}:wild_bootstrap")


def run_wild(entry: Any, fit: Any, run_seed: int) -> list[Any]:
    """The wild bootstraps a model entry asks for, one per term.

    Raises
    ------
    SpecError
        Naming the model when a term is not one of its coefficients.
    """
    from sustain.inference import wild_bootstrap

    options = dict(entry.options["wild_bootstrap"])
    terms = options.pop("terms")
    options["random_seed"] = wild_seed(run_seed, entry.name, options)
    out = []
    for term in terms:
        try:
            out.append(wild_bootstrap(fit, term, **options))
        except SpecError as exc:
            raise SpecError(f"models.{entry.name}.wild_bootstrap: {exc}") from exc
    return out


def bootstrap_frame(results: Sequence[Any]) -> pd.DataFrame:
    """One row per bootstrap test: the numbers and how they were computed.

    Examples
    --------
    >>> list(bootstrap_frame([]).columns)[:4]
    ['term', 'estimate', 't_stat', 'pvalue']
    """
    columns = ["term", "estimate", "t_stat", "pvalue", "lower", "upper", "alpha", "reps",
               "enumerated", "weights", "impose_null", "cluster", "n_clusters", "method",
               "random_seed"]  # fmt: skip
    rows = [
        [
            wb.term,
            wb.estimate,
            wb.t_stat,
            wb.pvalue,
            *wb.conf_int,
            wb.alpha,
            wb.reps,
            wb.enumerated,
            wb.weights,
            wb.impose_null,
            wb.cluster,
            wb.n_clusters,
            wb.method,
            wb.random_seed,
        ]  # fmt: skip
        for wb in results
    ]
    return pd.DataFrame(rows, columns=columns)


def write_wild(results_dir: Any, name: str, results: Sequence[Any]) -> list[Path]:
    """``models/<name>_wild.csv`` and ``<name>_wild.txt`` (the printed summaries)."""
    csv = bootstrap_frame(results).to_csv(index=False, float_format="%.10g")
    text = "\n\n".join(str(wb) for wb in results) + "\n"
    return [
        results_dir.write_text("models", f"{name}_wild.csv", csv),
        results_dir.write_text("models", f"{name}_wild.txt", text),
    ]


def write_margins(
    results_dir: Any, entry: Any, fits: Mapping[str, Any], panel: pd.DataFrame
) -> list[Path]:
    """A ``margins`` table entry: :func:`sustain.margins` of one model, in each format."""
    from sustain.inference import margins

    options = dict(entry.options)
    model = options.pop("model")
    formats = options.pop("formats", ("csv", "markdown"))
    kind = options.pop("effect", "average")
    table = margins(fits[model], kind=kind, data=panel, **options)
    written = []
    for fmt in formats:
        text = table.to_csv(index=False, float_format="%.10g") if fmt == "csv" else markdown(table)
        name = f"{entry.name}.{MARGINS_SUFFIX[fmt]}"
        written.append(results_dir.write_text("tables", name, text))
    return written


def markdown(table: pd.DataFrame, digits: int = 4) -> str:
    """A plain Markdown pipe table (numbers with ``digits`` decimals).

    Examples
    --------
    >>> print(markdown(pd.DataFrame({"term": ["hhi"], "estimate": [0.01234]})), end="")
    | term | estimate |
    | :--- | ---: |
    | hhi | 0.0123 |
    """

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return "" if value != value else f"{value:.{digits}f}"
        return str(value)

    numeric = [pd.api.types.is_numeric_dtype(table[c]) for c in table.columns]
    lines = ["| " + " | ".join(map(str, table.columns)) + " |"]
    lines.append("| " + " | ".join("---:" if n else ":---" for n in numeric) + " |")
    for row in table.itertuples(index=False):
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines) + "\n"
