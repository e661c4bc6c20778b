"""The baseline cumulative hazard of a Cox fit: what survival predictions need.

For event time :math:`t_j` of stratum :math:`s` the fit's risk-set sums (Efron sub-steps
:math:`k` with denominators :math:`d_{jk}` and weighted covariate means :math:`\\bar x_{jk}`,
covariates centred at their sample means) give, as R's ``survfit.coxph`` does (``ctype = 2``
with Efron ties, 1 with Breslow's),

* the hazard increment :math:`\\Delta\\Lambda_j = \\sum_k 1/d_{jk}`,
* its variance part :math:`\\sum_k 1/d_{jk}^2`,
* and :math:`\\sum_k \\bar x_{jk}/d_{jk}`, for the part of the variance due to
  :math:`\\hat\\beta`.

A profile :math:`x` (centred) then has :math:`H(t \\mid x) = e^{x'\\hat\\beta}
\\sum_{t_j \\le t} \\Delta\\Lambda_j` and
:math:`\\operatorname{Var} H = e^{2x'\\hat\\beta}\\,[\\sum_{t_j \\le t} \\sum_k d_{jk}^{-2} +
q(t)' V q(t)]` with :math:`q(t) = \\sum_{t_j \\le t} \\sum_k (\\bar x_{jk} - x)/d_{jk}` and
:math:`V` the fit's covariance (Tsiatis 1981; Therneau and Grambsch 2000, section 10.2).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sustain._typing import FloatArray, IntArray
from sustain.inference.design import ModelFrame
from sustain.models.survival import partial as cox_partial


@dataclass(frozen=True, slots=True)
class BaselineHazard:
    """Hazard increments of a Cox fit at its event times (covariates at their means).

    Attributes
    ----------
    times : ndarray, shape (J,)
        Event times, sorted within each stratum.
    stratum : ndarray of int, shape (J,)
        Stratum of each event time.
    hazard, hazard_var : ndarray, shape (J,)
        :math:`\\sum_k 1/d_{jk}` and :math:`\\sum_k 1/d_{jk}^2` at each event time.
    hazard_mean : ndarray, shape (J, p)
        :math:`\\sum_k \\bar x_{jk}/d_{jk}` at each event time.

    Examples
    --------
    >>> b = BaselineHazard(np.array([1.0, 2.0]), np.zeros(2, np.int64), np.array([0.5, 0.5]),
    ...                    np.array([0.1, 0.1]), np.zeros((2, 1)))
    >>> b.cumulative(np.array([1.5]), 0).tolist()
    [0.5]
    """

    times: FloatArray
    stratum: IntArray
    hazard: FloatArray
    hazard_var: FloatArray
    hazard_mean: FloatArray

    def _upto(self, at: FloatArray, stratum: int) -> tuple[np.ndarray, np.ndarray]:
        """Mask of the stratum's event times and, per time asked for, how many are ``<= t``."""
        own = self.stratum == stratum
        return own, np.searchsorted(self.times[own], at, side="right")

    def cumulative(self, at: FloatArray, stratum: int) -> FloatArray:
        """Baseline cumulative hazard (at the covariate means) at each time of ``at``."""
        own, count = self._upto(at, stratum)
        sums = np.concatenate([[0.0], np.cumsum(self.hazard[own])])
        return np.asarray(sums[count], dtype=np.float64)

    def cumulative_parts(
        self, at: FloatArray, stratum: int
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Cumulative sums of ``hazard``, ``hazard_var`` and ``hazard_mean`` up to ``at``."""
        own, count = self._upto(at, stratum)
        pad = np.zeros((1, self.hazard_mean.shape[1]))
        h = np.concatenate([[0.0], np.cumsum(self.hazard[own])])[count]
        v = np.concatenate([[0.0], np.cumsum(self.hazard_var[own])])[count]
        m = np.concatenate([pad, np.cumsum(self.hazard_mean[own], axis=0)])[count]
        return h, v, m


@dataclass(frozen=True, eq=False)
class CoxPieces:
    """What a Cox fit keeps besides its estimates (arrays; never the data frame).

    Attributes
    ----------
    fit : CoxFit
        The maximised partial likelihood.
    means : ndarray, shape (p,)
        Sample means the covariates were centred at.
    baseline : BaselineHazard
        Hazard increments at the event times (survival predictions).
    strata : mapping of tuple to int
        Stratum code of each combination of the strata columns' values (empty: one stratum).
    frame : ModelFrame or None
        The formula's variables on the fitted rows (predictions for new profiles).

    Examples
    --------
    >>> b = BaselineHazard(np.array([1.0]), np.zeros(1, np.int64), np.ones(1), np.ones(1),
    ...                    np.zeros((1, 1)))
    >>> CoxPieces(None, np.zeros(1), b).strata
    {}
    """

    fit: Any
    means: FloatArray
    baseline: BaselineHazard
    strata: Mapping[tuple[Any, ...], int] = field(default_factory=dict)
    frame: ModelFrame | None = None


def baseline_pieces(
    rs: cox_partial.RiskSets,
    X: FloatArray,
    fit: cox_partial.CoxFit,
    stop: FloatArray,
    stratum: IntArray,
    ties: str = "efron",
) -> BaselineHazard:
    """Hazard increments and their variance parts at each event time (centred ``X``).

    Examples
    --------
    >>> rs = cox_partial.risk_sets(np.zeros(3), np.array([1.0, 2, 3]), np.ones(3, bool),
    ...                            np.zeros(3, dtype=np.int64))
    >>> X = np.zeros((3, 1))
    >>> fit = cox_partial.CoxFit(np.zeros(1), np.eye(1), 0.0, 0.0, 1, True, np.zeros(1))
    >>> out = baseline_pieces(rs, X, fit, np.array([1.0, 2, 3]), np.zeros(3, dtype=np.int64))
    >>> out.hazard.round(4).tolist()
    [0.3333, 0.5, 1.0]
    """
    parts = cox_partial.partial_likelihood(rs, X, fit.beta, ties)
    shift = float((X @ fit.beta).max())  # partial_likelihood scales risks by exp(-max eta)
    denom = parts.denom * np.exp(shift)
    n_times = len(rs.times)
    group = rs.step_group
    hazard_mean = np.column_stack(
        [
            np.bincount(group, weights=parts.mean[:, c] / denom, minlength=n_times)
            for c in range(X.shape[1])
        ]
    )
    first = np.full(n_times, -1, dtype=np.int64)
    events = np.flatnonzero(rs.event)
    first[rs.event_group[events[::-1]]] = events[::-1]
    return BaselineHazard(
        times=np.asarray(stop[first], dtype=np.float64),
        stratum=np.asarray(stratum[first], dtype=np.int64),
        hazard=np.bincount(group, weights=1.0 / denom, minlength=n_times).astype(np.float64),
        hazard_var=np.bincount(group, weights=1.0 / denom**2, minlength=n_times).astype(np.float64),
        hazard_mean=hazard_mean.astype(np.float64),
    )
