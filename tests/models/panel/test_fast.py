"""The large-panel path (sustain.models.panel.absorb / fe_covariance) against linearmodels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sustain
from sustain.errors import FitError
from sustain.models.panel import absorb as fe_fast
from sustain.models.panel import covariance as fe_covariance
from sustain.models.panel import prepare as fe_prepare

# The exact two-way transform and linearmodels' demeaning solve the same projection; on
# these panels the coefficients agree to ~1e-14 relative (the brief asks for 1e-8).
COEF_RTOL = 1e-10
# Standard errors come from the same formulas on the same residuals.
SE_RTOL = 1e-9
# Alternating projections stop at MAP_TOLERANCE (1e-14 of the data's scale) per sweep;
# the absorbed values then match the exact transform to better than this.
MAP_ATOL = 1e-9
SEED = 7


def unbalanced_panel(n_entities: int = 1500, n_periods: int = 10, seed: int = SEED) -> pd.DataFrame:
    """Unbalanced panel with gaps, entity and time effects, a district and a sector column."""
    rng = np.random.default_rng(seed)
    entity = np.repeat(np.arange(n_entities), n_periods)
    period = np.tile(np.arange(n_periods), n_entities)
    keep = rng.uniform(size=len(entity)) > 0.3
    entity, period = entity[keep], period[keep]
    n = len(entity)
    alpha = rng.normal(size=n_entities)[entity]
    gamma = rng.normal(size=n_periods)[period]
    x1 = rng.normal(size=n) + 0.5 * alpha
    x2 = rng.normal(size=n) + 0.5 * gamma
    y = x1 - 0.5 * x2 + alpha + gamma + rng.normal(size=n) * (1 + 0.5 * np.abs(x1))
    index = pd.MultiIndex.from_arrays([entity, 2010 + period], names=["agency_id", "year"])
    return pd.DataFrame(
        {
            "y": y,
            "x1": x1,
            "x2": x2,
            "district": (entity % 17).astype(str),  # entities nested in districts
            "sector": rng.integers(0, 5, n).astype(str),  # varies within entity
        },
        index=index,
    )


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return unbalanced_panel()


COVARIANCES = [
    {"cov_type": "unadjusted"},
    {"cov_type": "robust"},
    {"cluster": "agency_id"},
    {"cluster": "district"},
    {"cluster": ("agency_id", "year")},
    {"cluster": ("agency_id", "sector")},
    {"cov_type": "driscoll_kraay"},
    {"cov_type": "driscoll_kraay", "bandwidth": 3},
]
EFFECTS = [("agency_id", "year"), ("agency_id",), ("year",), ("agency_id", "sector")]


@pytest.mark.parametrize("effects", EFFECTS, ids=["+".join(e) for e in EFFECTS])
@pytest.mark.parametrize("cov", COVARIANCES, ids=[str(c) for c in COVARIANCES])
def test_fast_path_equals_linearmodels(panel: pd.DataFrame, effects: tuple, cov: dict) -> None:
    fast = sustain.fit_fe(panel, "y ~ x1 + x2", effects=effects, fast=True, **cov)
    slow = sustain.fit_fe(panel, "y ~ x1 + x2", effects=effects, fast=False, **cov)
    assert fast.backend == "sustain" and slow.backend == "linearmodels"
    np.testing.assert_allclose(fast.params, slow.params, rtol=COEF_RTOL)
    np.testing.assert_allclose(fast.bse, slow.bse, rtol=SE_RTOL)
    assert fast.df_resid == slow.df_resid
    assert fast.n_absorbed == slow.n_absorbed
    for name in ("r2", "r2_within", "r2_between", "r2_overall"):
        np.testing.assert_allclose(fast.info.stats[name], slow.info.stats[name], rtol=SE_RTOL)


def test_fast_path_is_chosen_by_size(panel: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    small = sustain.fit_fe(panel, "y ~ x1 + x2")
    assert small.backend == "linearmodels"
    monkeypatch.setattr(fe_prepare, "FAST_MIN_NOBS", len(panel))
    large = sustain.fit_fe(panel, "y ~ x1 + x2")
    assert large.backend == "sustain"
    weighted = sustain.fit_fe(panel.assign(w=1.0), "y ~ x1 + x2", weights="w")
    assert weighted.backend == "linearmodels"  # the fast path has no weights
    random = sustain.fit_fe(panel, "y ~ x1 + x2", estimator="random")
    assert random.backend == "linearmodels"


def test_alternating_projections_equal_exact_two_way(panel: pd.DataFrame) -> None:
    entity = fe_fast.effect_from_values("agency_id", panel.index.get_level_values(0))
    time = fe_fast.effect_from_values("year", panel.index.get_level_values(1))
    M = panel[["y", "x1", "x2"]].to_numpy()
    exact = fe_fast.absorb(M, [entity, time])
    assert exact.method == "two-way exact"
    iterative = fe_fast._alternating_projections(M, [entity, time])
    assert iterative.method == "alternating projections" and iterative.iterations > 1
    np.testing.assert_allclose(iterative.values, exact.values, atol=MAP_ATOL)


def test_sparse_crosstab_equals_dense(panel: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    entity = fe_fast.effect_from_values("agency_id", panel.index.get_level_values(0))
    time = fe_fast.effect_from_values("year", panel.index.get_level_values(1))
    M = panel[["y", "x1"]].to_numpy()
    dense = fe_fast.absorb(M, [entity, time]).values
    monkeypatch.setattr(fe_fast, "DENSE_CROSSTAB_CELLS", 0)
    sparse = fe_fast.absorb(M, [entity, time]).values
    np.testing.assert_allclose(sparse, dense, atol=1e-12)


def test_absorbed_values_are_orthogonal_to_every_effect(panel: pd.DataFrame) -> None:
    effects = [
        fe_fast.effect_from_values(name, values)
        for name, values in (
            ("agency_id", panel.index.get_level_values(0)),
            ("year", panel.index.get_level_values(1)),
            ("sector", panel["sector"]),
        )
    ]
    absorbed = fe_fast.absorb(panel[["y", "x1"]].to_numpy(), effects)
    for effect in effects:
        sums = fe_fast.group_means(absorbed.values, effect)
        np.testing.assert_allclose(sums, 0.0, atol=MAP_ATOL)


def test_absorbed_dof_counts_like_linearmodels() -> None:
    a = fe_fast.effect_from_values("a", [0, 0, 1, 1, 2])
    b = fe_fast.effect_from_values("b", [0, 1, 0, 1, 0])
    assert fe_fast.absorbed_dof([a]) == 3
    assert fe_fast.absorbed_dof([a, b]) == 4
    assert fe_fast.absorbed_dof([a, b], has_constant=True) == 3


def test_effect_codes_compact_gaps_and_reject_missing() -> None:
    assert fe_fast.effect_from_codes("g", np.array([4, 0, 4, 9])).codes.tolist() == [1, 0, 1, 2]
    with pytest.raises(FitError, match="missing values"):
        fe_fast.effect_from_values("district", ["a", None, "b"])


def test_collinear_finds_absorbed_and_dependent_columns() -> None:
    rng = np.random.default_rng(SEED)
    X = rng.normal(size=(50, 3))
    X = np.column_stack([X, X[:, 0] - 2 * X[:, 1], np.zeros(50)])
    absorbed, dependent = fe_fast.collinear(X, np.column_stack([X[:, :4], np.ones(50)]))
    assert absorbed == [4] and dependent == [3]


def test_driscoll_kraay_bandwidth_must_be_below_periods() -> None:
    X = np.ones((4, 1))
    with pytest.raises(FitError, match="bandwidth 5 must be below"):
        fe_covariance.driscoll_kraay(X, np.ones(4), 0, np.array([0, 1, 2, 3]), bandwidth=5)


def test_no_residual_degrees_of_freedom() -> None:
    with pytest.raises(FitError, match="no residual degrees of freedom"):
        fe_covariance.unadjusted(np.ones((3, 1)), np.ones(3), extra_df=2)
