"""Arrange model columns into a table: term order, renaming, blocks, labels, bottom block.

Terms appear in the order they are first met across the models (or in the order the user
gives), grouped into blocks: by default *Funding*, *Contract type*, *Tier*, *Controls* (each
term goes to the first block one of its variables belongs to) and, for Bayesian models,
*Scale and group-level* parameters. The bottom block lists observations, group counts,
fixed-effect indicator rows, the standard errors and fit statistics -- each row only when at
least one model has it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sustain.options import CONTRACT_TYPES, TIERS
from sustain.presentation.labels import term_label
from sustain.presentation.terms import is_variance_term
from sustain.tables.model_columns import ModelColumn
from sustain.tables.table import Cell, HeaderRow, Row, Section

DEFAULT_BLOCKS: dict[str, tuple[str, ...]] = {
    "Funding": ("hhi", "hhi_norm", "entropy", "top_share", "gov_share", "n_funders"),
    "Contract type": ("contract_type", *(f"share_{t}" for t in CONTRACT_TYPES)),
    "Tier": ("tier", "main_tier", *(f"share_{t}" for t in TIERS)),
}
CONTROLS = "Controls"
VARIANCE_BLOCK = "Scale and group-level"
DEFAULT_STATS = (
    "n_events",
    "r2_within",
    "r2",
    "loglik",
    "aic",
    "rhat_max",
    "ess_bulk_min",
    "divergences",
)
STAT_LABELS = {
    "n_events": "Events",
    "r2_within": "Within R²",
    "r2_between": "Between R²",
    "r2_overall": "Overall R²",
    "r2": "R²",
    "loglik": "Log-likelihood",
    "aic": "AIC",
    "bic": "BIC",
    "concordance": "Concordance",
    "rhat_max": "Max R-hat",
    "ess_bulk_min": "Min bulk ESS",
    "ess_tail_min": "Min tail ESS",
    "divergences": "Divergences",
}
_INTEGER_STATS = frozenset({"n_events", "ess_bulk_min", "ess_tail_min", "divergences"})
_ONE_DECIMAL_STATS = frozenset({"loglik", "aic", "bic"})
GROUP_LABELS = {"agency_id": "Agencies", "district": "Districts"}
TIME_GROUPS = frozenset({"year"})  # counted by the Year FE row, not as groups
EFFECT_LABELS = {"agency_id": "Agency FE", "year": "Year FE"}
COV_LABELS = {
    "unadjusted": "Conventional",
    "robust": "Robust",
    "driscoll_kraay": "Driscoll-Kraay",
}
_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")


@dataclass(frozen=True)
class LayoutOptions:
    """Row choices of a regression table (validated by :func:`regression_table`)."""

    labels: Mapping[str, str] = field(default_factory=dict)
    rename: Mapping[str, str] = field(default_factory=dict)
    order: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    blocks: Mapping[str, Sequence[str]] | None = None
    show_block_titles: bool = True
    model_names: tuple[str, ...] = ()
    stats: tuple[str, ...] = DEFAULT_STATS


def _matches(term: str, patterns: Sequence[str]) -> bool:
    """Exact name or full regular-expression match (invalid patterns match literally)."""
    for pattern in patterns:
        if term == pattern:
            return True
        try:
            if re.fullmatch(pattern, term):
                return True
        except re.error:
            continue
    return False


def ordered_terms(columns: Sequence[ModelColumn], options: LayoutOptions) -> list[str]:
    """Terms to show, in order: ``order`` first, then first appearance across models.

    ``keep`` (when given) and ``drop`` take exact names or regular expressions.

    Examples
    --------
    >>> from sustain.tables.table import Cell
    >>> def col(*terms):
    ...     cells = {t: (Cell("1"), Cell("(1)")) for t in terms}
    ...     return ModelColumn("m", "y", "frequentist", "Coef.", cells, (), (), "", {}, 1, {})
    >>> ordered_terms([col("a", "b"), col("c", "a")], LayoutOptions(order=("c",), drop=("b",)))
    ['c', 'a']
    """
    seen: list[str] = []
    for column in columns:
        seen += [t for t in column.cells if t not in seen]
    if options.keep:
        seen = [t for t in seen if _matches(t, options.keep)]
    seen = [t for t in seen if not _matches(t, options.drop)]
    seen = _event_times_in_order(seen)
    first = [t for t in options.order if t in seen]
    return first + [t for t in seen if t not in first]


_EVENT_TERM = re.compile(r"^event\[(-?\d+)\]$")


def _event_times_in_order(terms: list[str]) -> list[str]:
    """Event-study rows ``event[e]`` in the order of ``e`` (models may lack some), where the
    first of them stood.

    Examples
    --------
    >>> _event_times_in_order(["event[0]", "event[-1]", "ATT", "event[-3]"])
    ['event[-3]', 'event[-1]', 'event[0]', 'ATT']
    """
    events = [t for t in terms if _EVENT_TERM.match(t)]
    if not events:
        return terms
    ordered = sorted(events, key=lambda t: int(_EVENT_TERM.match(t).group(1)))  # type: ignore[union-attr]
    at = terms.index(events[0])
    rest = [t for t in terms if t not in events]
    return rest[:at] + ordered + rest[at:]


def term_variables(term: str) -> set[str]:
    """Names inside a term (functions included, category levels not), lag suffixes removed.

    Examples
    --------
    >>> sorted(term_variables("C(main_tier)[T.district]:hhi_lag1"))
    ['C', 'hhi', 'main_tier']
    """
    names = set(_IDENTIFIER.findall(re.sub(r"\[[^\]]*\]", "", term)))
    return {re.sub(r"_lag\d+$", "", n) for n in names}


def assign_blocks(
    terms: Sequence[str], blocks: Mapping[str, Sequence[str]] | None
) -> list[tuple[str, list[str]]]:
    """Group terms into titled blocks, keeping their order within each block.

    ``blocks`` maps a title to variable names or term patterns; ``None`` uses the default
    funding, contract-type and tier blocks. Unassigned terms go to *Controls* (the intercept
    last), scale and group-level parameters to their own final block. Empty blocks are
    dropped.

    Examples
    --------
    >>> assign_blocks(["Intercept", "log_revenue", "hhi", "sigma"], None)
    [('Funding', ['hhi']), ('Controls', ['log_revenue', 'Intercept']), ('Scale and group-level', ['sigma'])]
    """
    spec = DEFAULT_BLOCKS if blocks is None else blocks
    grouped: dict[str, list[str]] = {title: [] for title in spec}
    grouped.setdefault(CONTROLS, [])
    grouped[VARIANCE_BLOCK] = []
    for term in terms:
        grouped[_block_of(term, spec)].append(term)
    controls = grouped[CONTROLS]
    grouped[CONTROLS] = [t for t in controls if t != "Intercept"] + [
        t for t in controls if t == "Intercept"
    ]
    return [(title, items) for title, items in grouped.items() if items]


def _block_of(term: str, spec: Mapping[str, Sequence[str]]) -> str:
    if is_variance_term(term):
        return VARIANCE_BLOCK
    variables = term_variables(term)
    for title, members in spec.items():
        if variables & set(members) or _matches(term, members):
            return title
    return CONTROLS


def coefficient_sections(
    columns: Sequence[ModelColumn], options: LayoutOptions
) -> tuple[Section, ...]:
    """Estimate and detail rows of every shown term, grouped into titled sections."""
    blocks = assign_blocks(ordered_terms(columns, options), options.blocks)
    titled = options.show_block_titles and (options.blocks is not None or len(blocks) > 1)
    sections = []
    for title, terms in blocks:
        rows: list[Row] = []
        for term in terms:
            label = options.rename.get(term) or term_label(term, options.labels)
            empty = (Cell(""), Cell(""))
            pairs = [c.cells.get(term, empty) for c in columns]
            rows.append(Row(label, tuple(p[0] for p in pairs), "estimate"))
            rows.append(Row("", tuple(p[1] for p in pairs), "detail"))
        sections.append(Section(title if titled else None, tuple(rows)))
    return tuple(sections)


def format_stat(key: str, value: float) -> str:
    """Format a bottom-block statistic.

    Examples
    --------
    >>> format_stat("loglik", -1234.567), format_stat("r2_within", 0.1234)
    ('-1,234.6', '0.123')
    >>> format_stat("rhat_max", 1.0042), format_stat("ess_bulk_min", 812.3)
    ('1.004', '812')
    """
    if value is None or not math.isfinite(value):
        return ""
    if key in _INTEGER_STATS:
        return f"{value:,.0f}"
    if key in _ONE_DECIMAL_STATS:
        return f"{value:,.1f}"
    return f"{value:.3f}"


def _first_seen(lists: Sequence[Sequence[str]]) -> list[str]:
    out: list[str] = []
    for items in lists:
        out += [x for x in items if x not in out]
    return out


def _cov_text(column: ModelColumn, labels: Mapping[str, str]) -> str:
    if column.inference == "bayesian":
        return ""
    if column.cluster:
        return f"Cluster ({', '.join(term_label(c, labels) for c in column.cluster)})"
    return COV_LABELS.get(column.cov_type, column.cov_type.replace("_", " ").capitalize())


def stat_section(columns: Sequence[ModelColumn], options: LayoutOptions) -> Section:
    """The bottom block: N, groups, fixed-effect indicators, standard errors, statistics."""
    labels = options.labels
    rows = [Row("Observations", tuple(Cell(f"{c.nobs:,}") for c in columns), "stat")]
    for group in _first_seen([[g for g in c.groups if g not in TIME_GROUPS] for c in columns]):
        label = GROUP_LABELS.get(group) or f"Groups: {term_label(group, labels)}"
        cells = tuple(Cell(f"{c.groups[group]:,}" if group in c.groups else "") for c in columns)
        rows.append(Row(label, cells, "stat"))
    for effect in _first_seen([c.effects for c in columns]):
        label = EFFECT_LABELS.get(effect) or f"{term_label(effect, labels)} FE"
        cells = tuple(Cell("Yes" if effect in c.effects else "No") for c in columns)
        rows.append(Row(label, cells, "stat"))
    if any(c.duration for c in columns):
        cells = tuple(Cell(c.duration) for c in columns)
        rows.append(Row("Duration dependence", cells, "stat"))
    if any(c.inference != "bayesian" for c in columns):
        cov = tuple(Cell(_cov_text(c, labels)) for c in columns)
        if any(cell.text for cell in cov):
            rows.append(Row("Standard errors", cov, "stat"))
    for key in options.stats:
        values = [c.stats.get(key, math.nan) for c in columns]
        if any(math.isfinite(v) for v in values):
            cells = tuple(Cell(format_stat(key, v)) for v in values)
            rows.append(Row(STAT_LABELS.get(key, key), cells, "stat"))
    return Section(None, tuple(rows), rule_above=True)


def _depvar_text(column: ModelColumn, options: LayoutOptions) -> str:
    """The dependent variable's label; for one cause's equation of a competing-risks fit
    (``exit_reason = merged`` titled ``merged``) the variable alone, so that the causes' columns
    share one spanning header above their titles, as in Stata's ``mlogit`` tables (unless
    ``model_names`` replaces the titles: then the cause stays in this header)."""
    if column.depvar in options.rename:
        return options.rename[column.depvar]
    variable, sep, level = column.depvar.partition(" = ")
    if sep and level == column.title and not options.model_names:  # the title shows the cause
        return options.rename.get(variable) or term_label(variable, options.labels)
    return term_label(column.depvar, options.labels)


def header_rows(columns: Sequence[ModelColumn], options: LayoutOptions) -> tuple[HeaderRow, ...]:
    """Dependent variable, model name, scale (when anything is exponentiated), number."""
    depvars = tuple(Cell(_depvar_text(c, options)) for c in columns)
    names = options.model_names or tuple(c.title for c in columns)
    top = HeaderRow(depvars, merge=True)
    breaks = tuple(start for _, start, _ in top.spans())
    rows = [top, HeaderRow(tuple(Cell(n) for n in names), merge=True, breaks=breaks)]
    if any(c.scale not in ("Coef.", "Mean") for c in columns):
        rows.append(HeaderRow(tuple(Cell(c.scale) for c in columns)))
    numbers = tuple(Cell(f"({i})", "†" if c.problems else "") for i, c in enumerate(columns, 1))
    rows.append(HeaderRow(numbers))
    return tuple(rows)
