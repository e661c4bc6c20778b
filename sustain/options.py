"""Option values accepted by sustain's public functions, gathered in one place.

Each alias is a ``Literal`` type; the matching tuple lists the values for run-time checks and
error messages.
"""

from __future__ import annotations

from typing import Literal, TypeAlias, get_args

Errors: TypeAlias = Literal["raise", "drop"]
Estimator: TypeAlias = Literal["within", "random", "first_difference", "between", "pooled"]
CovType: TypeAlias = Literal["unadjusted", "robust", "clustered", "driscoll_kraay"]
Link: TypeAlias = Literal["logit", "cloglog"]
Ties: TypeAlias = Literal["efron", "breslow"]
TimeScale: TypeAlias = Literal["age", "calendar"]
Family: TypeAlias = Literal["gaussian", "student_t", "bernoulli", "binomial", "poisson"]
Sampler: TypeAlias = Literal["auto", "pymc", "nutpie", "numpyro"]
IntervalKind: TypeAlias = Literal["eti", "hdi"]
TableFormat: TypeAlias = Literal["latex", "markdown", "html", "csv", "docx"]
Backend: TypeAlias = Literal["processes", "dask", "serial"]
EssScale: TypeAlias = Literal["none", "chains", "draws"]
InformationCriterion: TypeAlias = Literal["loo", "waic"]
WeightMethod: TypeAlias = Literal["stacking", "BB-pseudo-BMA", "pseudo-BMA"]
PpcKind: TypeAlias = Literal["kde", "cumulative", "scatter", "mean"]
PredictiveGroup: TypeAlias = Literal["posterior", "prior"]
DurationForm: TypeAlias = Literal["dummies", "spline"]
SurvivalConfType: TypeAlias = Literal["log-log", "log", "plain"]
IncidenceConfType: TypeAlias = Literal["log", "log-log", "plain"]
EventStudyEstimator: TypeAlias = Literal["callaway_santanna", "sun_abraham", "twfe"]
ControlGroup: TypeAlias = Literal["never_treated", "not_yet_treated"]
BasePeriod: TypeAlias = Literal["varying", "universal"]
EventStudyMethod: TypeAlias = Literal["reg", "dr"]
Aggregation: TypeAlias = Literal["simple", "group", "dynamic", "calendar"]

TIERS: tuple[str, ...] = ("municipal", "district", "subdistrict")
CONTRACT_TYPES: tuple[str, ...] = (
    "open_tender",
    "invited_tender",
    "competitive_negotiation",
    "competitive_consultation",
    "request_for_quotation",
    "single_source",
    "directed_commission",
)


def choices(alias: object) -> tuple[str, ...]:
    """Return the allowed values of a ``Literal`` alias.

    Examples
    --------
    >>> choices(Link)
    ('logit', 'cloglog')
    """
    return tuple(get_args(alias))


def check_choice(name: str, value: object, alias: object) -> str:
    """Raise :class:`~sustain.errors.SpecError` when ``value`` is not one of the alias's values.

    ``SpecError`` is a ``ValueError``, so callers that catch ``ValueError`` keep working.

    Examples
    --------
    >>> check_choice("link", "logit", Link)
    'logit'
    >>> check_choice("link", "probit", Link)
    Traceback (most recent call last):
    ...
    sustain.errors.SpecError: link='probit' is not one of 'logit', 'cloglog'
    """
    from sustain.errors import SpecError

    allowed = choices(alias)
    if value not in allowed:
        raise SpecError(f"{name}={value!r} is not one of {', '.join(map(repr, allowed))}")
    return str(value)
