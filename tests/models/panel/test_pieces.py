"""A panel result keeps its transformed regression, not the data: another covariance is
recomputed from it, equal to a refit with that covariance (linearmodels' numbers)."""

from __future__ import annotations

import dataclasses
import itertools
import warnings

import numpy as np
import pandas as pd
import pytest

import sustain
from sustain.errors import SpecError
from sustain.models.panel.pieces import RegressionPieces

#: Recomputing from the pieces and refitting take the same arrays through different code
#: (sustain's covariance functions against linearmodels' classes): floating-point rounding only.
RECOMPUTE_RTOL = 1e-10

FIT_CASES = {
    "two-way FE": ("within", {}),
    "one-way FE": ("within", {"effects": "agency_id"}),
    "two-way FE, fast path": ("within", {"fast": True}),
    "weighted FE": ("within", {"weights": "w"}),
    "random effects": ("random", {}),
    "pooled": ("pooled", {}),
    "weighted pooled": ("pooled", {"weights": "w"}),
    "first differences": ("first_difference", {}),
    "between": ("between", {}),
}
COVARIANCES = {
    "unadjusted": ("unadjusted", {}),
    "robust": ("robust", {}),
    "agency": ("clustered", {"cluster": "agency_id"}),
    "district": ("clustered", {"cluster": "district"}),
    "two-way": ("clustered", {"cluster": ("agency_id", "year")}),
    "Driscoll-Kraay": ("driscoll_kraay", {}),
}
UNSUPPORTED = {  # refits that linearmodels refuses: with_cov_type must refuse them too
    ("first differences", "two-way"),
    ("between", "two-way"),
    ("between", "Driscoll-Kraay"),
}


@pytest.fixture(scope="module")
def panel(example_panel):
    frame = example_panel.dropna(subset=["quality", "hhi", "gov_share"]).copy()
    frame["w"] = np.random.default_rng(1).uniform(0.5, 2.0, len(frame))
    return frame


def _fit(panel, estimator, options, **cov):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # few district clusters
        return sustain.fit_fe(
            panel, "quality ~ hhi + gov_share", estimator=estimator, **options, **cov
        )


@pytest.mark.parametrize(("case", "cov"), list(itertools.product(FIT_CASES, COVARIANCES)))
def test_another_covariance_equals_a_refit(panel, case, cov):
    estimator, options = FIT_CASES[case]
    cov_type, cov_options = COVARIANCES[cov]
    base = _fit(panel, estimator, options)
    if (case, cov) in UNSUPPORTED:
        with pytest.raises(SpecError):
            base.with_cov_type(cov_type, **cov_options)
        return
    refit = _fit(panel, estimator, options, cov_type=cov_type, **cov_options)
    got = base.with_cov_type(cov_type, **cov_options)
    np.testing.assert_allclose(got.cov.to_numpy(), refit.cov.to_numpy(), rtol=RECOMPUTE_RTOL,
                               atol=RECOMPUTE_RTOL * np.abs(refit.cov.to_numpy()).max())  # fmt: skip
    pd.testing.assert_series_equal(got.params, base.params)
    assert got.info.cov_type == refit.info.cov_type and got.info.cluster == refit.info.cluster
    assert got.info.stats.get("n_clusters") == refit.info.stats.get("n_clusters")
    assert base.info.cov_type == "unadjusted"  # the original is left unchanged


def test_the_result_keeps_arrays_not_the_data(panel):
    fe = _fit(panel, "within", {}, cluster="agency_id")
    fields = {f.name: getattr(fe, f.name) for f in dataclasses.fields(fe)}
    frames = [name for name, v in fields.items() if isinstance(v, pd.DataFrame)]
    assert frames == ["cov"]  # params are a Series, the covariance k x k
    assert isinstance(fe.pieces, RegressionPieces)
    for f in dataclasses.fields(fe.pieces):
        value = getattr(fe.pieces, f.name)
        assert not isinstance(value, pd.DataFrame | pd.Series), f.name
    assert fe.pieces.X.shape == (fe.nobs, 2) and set(fe.pieces.groups) >= {"agency_id", "district"}


def test_clusters_that_cannot_be_used_are_named(panel):
    fd = _fit(panel, "first_difference", {})
    with pytest.raises(SpecError, match="cannot cluster on 'year': it is not the same in both"):
        fd.with_cov_type("clustered", cluster="year")
    fe = _fit(panel, "within", {})
    with pytest.raises(SpecError, match="cannot cluster on 'quality'"):
        fe.with_cov_type("clustered", cluster="quality")


def test_a_loaded_result_asks_for_a_refit(panel, tmp_path):
    fe = _fit(panel, "within", {})
    from sustain.persistence import save_result

    path = save_result(fe, tmp_path / "fe.nc")
    loaded = sustain.load_result(path)
    with pytest.raises(SpecError, match="keeps no regression to recompute from"):
        loaded.with_cov_type("robust")
