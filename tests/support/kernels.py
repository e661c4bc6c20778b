"""Checks shared by the tests of the precompiled kernels (:mod:`sustain.models.bayes.kernel`)."""

from __future__ import annotations

from typing import Any

import numpy as np

#: Posterior means of two independent runs agree within this many Monte Carlo standard errors
#: of their difference (sd * sqrt(1 / ESS_a + 1 / ESS_b), bulk ESS of each run).
MC_ERRORS = 4.0
#: Unconstrained positions far outside any posterior: overflow in every direction.
EXTREMES = (-700.0, -50.0, 50.0, 700.0)
#: Relative agreement of kernel gradients with PyMC's: exact formulas on both sides in float64,
#: ordered differently; PyMC folds some prior constants in lower precision (measured: a
#: Gamma(1.5, 1.5) log-density 1.4e-8 off the exact value).
GRAD_RTOL = 1e-7
#: Agreement of log-density differences between two positions (values of order 1e2-1e3; the
#: constant offsets of PyMC's folded constants cancel in a difference, rounding does not).
LOGP_DIFF_ATOL = 1e-6


def unflatten(model: Any, x: np.ndarray) -> dict[str, np.ndarray]:
    """A flat unconstrained position as PyMC's point dictionary (value variables' names)."""
    start = model.initial_point()
    out, offset = {}, 0
    for rv in model.free_RVs:
        name = model.rvs_to_values[rv].name
        size = int(np.size(start[name]))
        out[name] = x[offset : offset + size].reshape(np.shape(start[name]))
        offset += size
    return out


def assert_matches_pymc(model: Any, native: Any, seed: int, points: int = 5) -> None:
    """The kernel's gradient equals PyMC's, and its log-density differences PyMC's, at random
    positions (differences: PyMC's folded constants shift its values by a constant)."""
    logp, dlogp = model.compile_logp(), model.compile_dlogp()
    rng = np.random.default_rng(seed)
    n_dim = int(native.meta[0])
    x0 = rng.normal(0, 0.5, n_dim)
    k0, _, code = native.evaluate(x0)
    p0 = float(logp(unflatten(model, x0)))
    assert code == 0
    for _ in range(points):
        x = rng.normal(0, 0.7, n_dim)
        k, grad, code = native.evaluate(x)
        assert code == 0
        want = dlogp(unflatten(model, x))
        np.testing.assert_allclose(grad, want, rtol=GRAD_RTOL, atol=GRAD_RTOL)
        diff = float(logp(unflatten(model, x))) - p0
        assert abs((k - k0) - diff) < LOGP_DIFF_ATOL


def assert_rejects_extremes(native: Any) -> None:
    """Positions of +-700, NaN and random mixtures are rejected (code 3) or finite, never
    fatal; the origin evaluates."""
    n_dim = int(native.meta[0])
    rng = np.random.default_rng(0)
    points = [np.full(n_dim, v) for v in EXTREMES] + [np.full(n_dim, np.nan)]
    points += [rng.choice(EXTREMES, n_dim) for _ in range(30)]
    codes = set()
    for x in points:
        logp, grad, code = native.evaluate(x)
        assert code in (0, 3)
        if code == 0:
            assert np.isfinite(logp) and np.all(np.isfinite(grad))
        codes.add(code)
    assert 3 in codes
    assert native.evaluate(np.zeros(n_dim))[2] == 0


def assert_same_mean(a: Any, b: Any, name: str) -> None:
    """Two runs' posterior means of one parameter agree within :data:`MC_ERRORS` MC errors."""
    import arviz as az

    ess_a, ess_b = (float(az.ess(v.values, method="bulk")) for v in (a, b))
    mc_error = float(a.std()) * np.sqrt(1.0 / ess_a + 1.0 / ess_b)
    gap = abs(float(a.mean()) - float(b.mean()))
    assert gap < MC_ERRORS * mc_error, (name, gap, mc_error)
