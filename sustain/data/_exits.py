"""Exit and its reason in the simulated world: year-by-year draws from known hazards.

Split from :mod:`sustain.data.simulate`, which documents the process (``Truth.hazard``,
``Truth.reasons``, ``Truth.causes``). Each function takes one ``numpy.random.Generator`` and
plain arrays; the reasons use a stream of their own so that adding them changes no other
column of a simulation.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sustain._typing import FloatArray, IntArray
from sustain.errors import SpecError

if TYPE_CHECKING:  # pragma: no cover - simulate imports this module
    from sustain.data.simulate import Truth

#: Closure year of an agency that survives the window.
NOT_CLOSED = np.iinfo(np.int64).max
#: Reasons of exit given that an agency exits: a multinomial logit against the reference reason
#: ``closed`` (coefficients on the exit year's measures). Concentrated funding makes merging
#: less likely and losing every contract more likely than plain closure.
REFERENCE_REASON = "closed"
DEFAULT_REASONS: dict[str, dict[str, float]] = {
    "merged": {"Intercept": 1.5, "hhi": -2.5},
    "lost_contracts": {"Intercept": -1.5, "hhi": 2.0},
    "deregistered": {"Intercept": -1.0},
}


def draw_reasons(
    rng: np.random.Generator,
    reasons: Mapping[str, Mapping[str, float]],
    reference: str,
    covariates: pd.DataFrame,
    exit_row: IntArray,
    closed: IntArray,
) -> np.ndarray:
    """Reason of each agency's exit given the exit (None for agencies that stay)."""
    n = len(closed)
    u = rng.random(n)  # one draw per agency, used or not: the stream does not depend on exits
    reason = np.full(n, None, dtype=object)
    exited = closed != NOT_CLOSED
    if not reasons or not exited.any():
        return reason
    rows = covariates.iloc[exit_row[exited]]
    names = [reference, *reasons]
    z = np.column_stack([np.zeros(len(rows)), *(linear(c, rows) for c in reasons.values())])
    p = np.exp(z - z.max(axis=1, keepdims=True))
    cumulative = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
    choice = np.minimum((u[exited, None] > cumulative).sum(axis=1), len(names) - 1)
    reason[exited] = np.asarray(names, dtype=object)[choice]
    return reason


def draw_causes(
    rng: np.random.Generator,
    etas: Mapping[str, FloatArray],
    agency: IntArray,
    year: IntArray,
    n: int,
) -> tuple[IntArray, np.ndarray, dict[str, FloatArray]]:
    """Closure year and cause of each agency from the multinomial logit of the causes."""
    names = list(etas)
    z = np.column_stack([np.zeros(len(agency)), *etas.values()])
    top = z.max(axis=1, keepdims=True)
    p = np.exp(z - top) / np.exp(z - top).sum(axis=1, keepdims=True)
    cumulative = np.cumsum(p, axis=1)
    outcome = np.minimum((rng.random(len(agency))[:, None] > cumulative).sum(axis=1), len(names))
    event = outcome > 0
    closed = np.full(n, NOT_CLOSED, dtype=np.int64)
    np.minimum.at(closed, agency[event], year[event])
    first = event & (year == closed[agency])
    reason = np.full(n, None, dtype=object)
    reason[agency[first]] = np.asarray(names, dtype=object)[outcome[first] - 1]
    return closed, reason, {k: p[:, i + 1] for i, k in enumerate(names)}


def draw_exit(
    rng: np.random.Generator, eta: FloatArray, agency: IntArray, year: IntArray, n: int
) -> IntArray:
    """Closure year of each agency (``NOT_CLOSED`` if it survives the window)."""
    event = rng.random(len(eta)) < -np.expm1(-np.exp(eta))
    closed = np.full(n, NOT_CLOSED, dtype=np.int64)
    np.minimum.at(closed, agency[event], year[event])
    return closed


def linear(coefs: Mapping[str, float], covariates: pd.DataFrame) -> FloatArray:
    out = np.full(len(covariates), float(coefs.get("Intercept", 0.0)))
    for name, beta in coefs.items():
        if name != "Intercept":
            out = out + beta * covariates[name].to_numpy(dtype=np.float64)
    return out


def cause_eta(
    truth: Truth,
    cause: str,
    covariates: pd.DataFrame,
    effects: Mapping[str, FloatArray],
    district: IntArray,
    agency: IntArray,
) -> FloatArray:
    """Linear predictor of one competing cause of exit (multinomial logit against staying).

    The cause's own coefficients plus the shared age effect, district effect and association.

    Examples
    --------
    >>> from sustain.data.simulate import Truth
    >>> t = Truth({"Intercept": 0.0}, {}, 1.0, 1.0, 1.0, age_amplitude=0.0,
    ...           causes={"merged": {"Intercept": -4.0, "hhi": 2.0}})
    >>> eff = {"agency": np.zeros(1), "district_hazard": np.zeros(1)}
    >>> cause_eta(t, "merged", pd.DataFrame({"age": [2], "hhi": [0.5]}), eff,
    ...           np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64))
    array([-3.])
    """
    return (
        linear(truth.causes[cause], covariates)
        + truth.age_effect(covariates["age"].to_numpy())
        + effects["district_hazard"][district]
        + truth.association * effects["agency"][agency]
    )


def with_reasons(
    truth: Truth,
    reason_coefs: Mapping[str, Mapping[str, float]] | None,
    cause_coefs: Mapping[str, Mapping[str, float]] | None,
    allowed: Sequence[str],
) -> Truth:
    """The truth with its exit reasons (given exit) or competing causes filled in."""
    if cause_coefs is not None:
        if not cause_coefs:
            raise SpecError("cause_coefs needs at least one cause")
        causes = _cause_table("cause_coefs", cause_coefs, True, allowed)
        return dataclasses.replace(truth, hazard={}, link="mlogit", causes=causes)
    given = DEFAULT_REASONS if reason_coefs is None else reason_coefs
    if REFERENCE_REASON in given:
        raise SpecError(
            f"reason_coefs: {REFERENCE_REASON!r} is the reference reason (its coefficients are 0)"
        )
    return dataclasses.replace(truth, reasons=_cause_table("reason_coefs", given, False, allowed))


def _cause_table(
    name: str,
    given: Mapping[str, Mapping[str, float]],
    require_intercept: bool,
    allowed: Sequence[str],
) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for cause, coefs in given.items():
        if not isinstance(cause, str) or not cause.strip():
            raise SpecError(f"{name}: causes must be non-empty names, got {cause!r}")
        if require_intercept and "Intercept" not in coefs:
            raise SpecError(f"{name}[{cause!r}] needs an 'Intercept' (the cause's base rate)")
        table = coefficients(f"{name}[{cause!r}]", coefs, {"Intercept": 0.0}, allowed)
        out[cause] = table
    return out


def coefficients(
    name: str,
    given: Mapping[str, float] | None,
    default: Mapping[str, float],
    allowed: Sequence[str],
) -> dict[str, float]:
    """Coefficients keyed by ``Intercept`` and names in ``allowed``, checked and completed.

    Examples
    --------
    >>> coefficients("c", {"hhi": 1.0}, {"Intercept": -3.0}, ["hhi"])
    {'Intercept': -3.0, 'hhi': 1.0}
    """
    if given is None:
        return dict(default)
    unknown = sorted(set(given) - {"Intercept", *allowed})
    if unknown:
        raise SpecError(
            f"{name} names unknown column(s) {unknown}; allowed: Intercept, {', '.join(allowed)}"
        )
    out = {"Intercept": float(default["Intercept"])}
    for key, value in given.items():
        if not math.isfinite(float(value)):
            raise SpecError(f"{name}[{key!r}] must be finite, got {value!r}")
        out[key] = float(value)
    return out
