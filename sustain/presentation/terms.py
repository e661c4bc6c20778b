"""What kind of term a model term is, for tables and figures alike.

Scale and group-level parameters (``sigma``, ``sd(1|district)``) are shown apart from
coefficients; a model on a log-odds or log-hazard scale can show its coefficients as odds or
hazard ratios; the duration terms of a discrete-time hazard model stand behind one row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

_VARIANCE_PREFIXES = ("sd(", "cor(", "sd_", "cor_")
_VARIANCE_NAMES = frozenset({"sigma", "nu", "phi", "alpha_nb"})


def is_variance_term(term: str) -> bool:
    """Whether a term is a scale or group-level parameter rather than a coefficient.

    Examples
    --------
    >>> is_variance_term("sd(1|district)"), is_variance_term("sigma"), is_variance_term("hhi")
    (True, True, False)
    """
    return term in _VARIANCE_NAMES or term.startswith(_VARIANCE_PREFIXES)


def exp_name(info: Any) -> str | None:
    """Name of the exponentiated coefficient of a model (``"HR"``, ``"OR"``), or ``None``.

    Examples
    --------
    >>> from sustain.results import ModelInfo
    >>> exp_name(ModelInfo("Hazard", "hazard", "exit", "exit ~ hhi", 10, link="cloglog"))
    'HR'
    """
    if info.exp_name:
        return str(info.exp_name)
    if info.estimator == "cox" or info.link == "cloglog":
        return "HR"
    if info.link == "logit":
        return "OR"
    return None


def duration_form(terms: Sequence[str]) -> str:
    """``"Spline"`` for B-spline duration terms (``age[bs1]``), ``"Dummies"`` for bands.

    Examples
    --------
    >>> duration_form(["age[1]", "age[2-4]"]), duration_form(["age[bs1]"]), duration_form([])
    ('Dummies', 'Spline', '')
    """
    if not terms:
        return ""
    return "Spline" if any("[bs" in t for t in terms) else "Dummies"
