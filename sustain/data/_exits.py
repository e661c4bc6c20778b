"""Exit and its reason in the simulated world: year-by-year draws from known hazards.

Split from :mod:`sustain.data.simulate`, which documents the process (``Truth.hazard``,
``Truth.reasons``, ``Truth.causes``). Each function takes one ``numpy.random.Generator`` and
plain arrays; the reasons use a stream of their own so that adding them changes no other
column of a simulation.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from sustain._typing import FloatArray, IntArray

#: Closure year of an agency that survives the window.
NOT_CLOSED = np.iinfo(np.int64).max


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
