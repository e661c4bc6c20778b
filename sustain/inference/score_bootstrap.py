"""The score bootstrap of Kline and Santos (2012) for discrete-time hazard models.

A maximum-likelihood fit cannot be re-estimated on wild bootstrap samples of its residuals (the
response is 0/1), and refitting thousands of times would be slow. Kline and Santos (2012, "A
score based approach to wild bootstrap inference", Journal of Econometric Methods 1(1))
perturb the scores instead: with the null :math:`\\beta_j = \\beta_0` imposed, the restricted
estimate :math:`\\tilde\\theta` gives scores :math:`s_i(\\tilde\\theta)` and the model-based
covariance :math:`\\tilde A` (inverse expected information). With
:math:`c_g = \\sum_{i \\in g} s_i(\\tilde\\theta)' \\tilde A e_j` and cluster shares
:math:`\\pi_g = n_g / n`, a bootstrap sample with weights :math:`v` has

.. math::

    t^*(v) = \\frac{c'v}{\\sqrt{\\kappa \\sum_g (c_g v_g - \\pi_g\\, c'v)^2}},

the perturbed scores re-centred so that they sum to zero, as Stata's ``boottest`` does after
ML (Roodman et al. 2019, section 3.4). The test statistic is the same expression at
:math:`v = 1`: a cluster-robust score (Lagrange multiplier) statistic, which needs no
unrestricted fit. The unrestricted variant uses the fit's own scores and the Wald statistic.

Why by hand: no Python package implements the score bootstrap (wildboottest and pyfixest
bootstrap linear models only); the restricted fit itself is statsmodels' GLM.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sustain._typing import BoolArray, FloatArray, IntArray
from sustain.errors import FitError
from sustain.inference.wild_linear import LinearBlocks

#: The restricted fit has converged when no coefficient moves by more than this (relative):
#: its first-order conditions then hold to ~1e-12, far below anything the statistic shows.
RESTRICTED_TOL = 1e-10
#: Scoring iterations of the restricted fit (it converges quadratically; 100 means failure).
RESTRICTED_MAX_ITER = 100
#: Step halvings per iteration before a step is taken anyway.
STEP_HALVINGS = 40
#: Probabilities are kept this far from 0 and 1 (rows far outside a null's fit would
#: otherwise divide by zero in the score weights).
MU_CLIP = 1e-15


@dataclass(frozen=True, slots=True)
class RestrictedFit:
    """Scores and model-based covariance of the hazard model at a restricted estimate.

    Attributes
    ----------
    params : ndarray, shape (k,)
        Estimates with the tested coefficient fixed at the null.
    scores : ndarray, shape (n, k)
        Score contributions at ``params``.
    bread : ndarray, shape (k, k)
        Inverse expected information at ``params``.
    """

    params: FloatArray
    scores: FloatArray
    bread: FloatArray


def _family(link: str) -> Any:
    import statsmodels.api as sm
    from statsmodels.genmod.families import links

    link_function = links.CLogLog() if link == "cloglog" else links.Logit()
    return sm.families.Binomial(link=link_function)


def _glm_parts(
    X: FloatArray, y: FloatArray, eta: FloatArray, family: Any
) -> tuple[float, FloatArray, FloatArray]:
    """Log-likelihood, score contributions ``(n, k)`` and weights of the expected information."""
    with np.errstate(over="ignore", under="ignore"):
        mu = np.clip(family.link.inverse(eta), MU_CLIP, 1 - MU_CLIP)
        slope = np.asarray(family.link.inverse_deriv(eta), dtype=np.float64)
    variance = mu * (1 - mu)
    loglik = float(np.sum(y * np.log(mu) + (1 - y) * np.log1p(-mu)))
    scores = ((y - mu) * slope / variance)[:, None] * X
    return loglik, scores, slope**2 / variance


def restricted_fit(
    X: FloatArray,
    y: BoolArray,
    link: str,
    column: int,
    value: float,
    start: FloatArray | None = None,
) -> RestrictedFit:
    """Refit the Bernoulli GLM with coefficient ``column`` fixed at ``value``.

    Fisher scoring (IRLS) with step halving, from ``start`` with its intercept shifted to
    absorb the change of the fixed term at its mean. Why not statsmodels' GLM here (the hazard
    fit itself uses it): the interval search refits the restricted model dozens of times;
    statsmodels checks the design's rank by SVD and solves every IRLS step by SVD least
    squares (about 20x the cost of the ``k x k`` solve below), and its IRLS has no step
    halving, so for a null far from the estimate it can stall. The family and link functions
    are statsmodels'.

    Raises
    ------
    FitError
        When the restricted model does not converge.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.column_stack([np.ones(400), rng.normal(size=400)])
    >>> y = rng.random(400) < 0.3
    >>> fit = restricted_fit(X, y, "logit", 1, 0.0)
    >>> float(fit.params[1]), bool(abs(fit.scores[:, 0].sum()) < 1e-8)
    (0.0, True)
    """
    family = _family(link)
    response = np.asarray(y, dtype=np.float64)
    beta = _start(X, response, family, column, value, start)
    free = np.arange(X.shape[1]) != column
    loglik, scores, weights = _glm_parts(X, response, X @ beta, family)
    for _ in range(RESTRICTED_MAX_ITER):
        information = (X[:, free] * weights[:, None]).T @ X[:, free]
        step = np.linalg.solve(information, scores[:, free].sum(axis=0))
        for _ in range(STEP_HALVINGS):
            trial = beta.copy()
            trial[free] += step
            new = _glm_parts(X, response, X @ trial, family)
            if np.isfinite(new[0]) and new[0] >= loglik - 1e-12 * abs(loglik):
                break
            step = step / 2
        beta, (loglik, scores, weights) = trial, new
        if np.max(np.abs(step)) <= RESTRICTED_TOL * (1 + np.max(np.abs(beta[free]))):
            information = (X * weights[:, None]).T @ X
            return RestrictedFit(beta, scores, np.linalg.inv(information))
    raise FitError(f"wild_bootstrap: the restricted hazard model did not converge at {value:g}")


def _start(
    X: FloatArray, y: FloatArray, family: Any, column: int, value: float, start: FloatArray | None
) -> FloatArray:
    """Starting values: ``start`` (or a constant-only fit) with the fixed term moved to ``value``
    and the change absorbed by the intercept (a column of ones) at the fixed term's mean."""
    beta = np.zeros(X.shape[1]) if start is None else np.array(start, dtype=np.float64)
    ones = np.flatnonzero(np.all(X == 1.0, axis=0))
    if start is None and len(ones):
        rate = float(np.clip(y.mean(), 1e-6, 1 - 1e-6))
        beta[ones[0]] = float(family.link(rate))
    if len(ones) and ones[0] != column:
        beta[ones[0]] += (beta[column] - value) * float(X[:, column].mean())
    beta[column] = value
    return beta


def score_blocks(
    scores: FloatArray,
    bread: FloatArray,
    codes: IntArray,
    column: int,
    factor: float,
    estimate: float,
) -> LinearBlocks:
    """The score bootstrap as :class:`LinearBlocks` (no :math:`\\beta_0` slope: refit instead).

    ``se`` is the cluster-robust standard error from the given scores and bread (the fit's own
    when they are the unrestricted ones).

    Examples
    --------
    >>> s = np.array([[1.0], [-2.0], [0.5], [0.5]])
    >>> b = score_blocks(s, np.eye(1), np.array([0, 0, 1, 1]), 0, 1.0, 0.0)
    >>> b.numer0.tolist(), b.spread0.round(2).tolist()
    ([-1.0, 1.0], [[-0.5, -0.5], [0.5, 0.5]])
    """
    n_groups = int(codes.max()) + 1
    contribution = scores @ bread[:, column]
    c = np.bincount(codes, weights=contribution, minlength=n_groups).astype(np.float64)
    share = np.bincount(codes, minlength=n_groups) / len(codes)
    spread = np.diag(c) - np.outer(share, c)
    zeros = np.zeros(n_groups)
    return LinearBlocks(
        numer0=c,
        numer1=zeros,
        spread0=spread,
        spread1=np.zeros_like(spread),
        estimate=float(estimate),
        se=float(np.sqrt(factor * np.sum(c**2))),
        factor=float(factor),
    )


def score_statistic(blocks: LinearBlocks) -> float:
    """The restricted score statistic: :math:`t^*(v)` at :math:`v = 1`.

    Examples
    --------
    >>> b = LinearBlocks(np.array([1.0, 2.0]), np.zeros(2), np.diag([1.0, 2.0]) * 0.5,
    ...                  np.zeros((2, 2)), 0.0, 1.0, 1.0)
    >>> round(score_statistic(b), 4)
    2.6833
    """
    ones = np.ones(len(blocks.numer0))
    spread = blocks.spread0 @ ones
    denominator = np.sqrt(blocks.factor * float(spread @ spread))
    if not denominator > 0:
        raise FitError("wild_bootstrap: the score statistic has a zero variance")
    return float(blocks.numer0 @ ones / denominator)
