"""margins: closed forms for linear models, hazards at their own ages, groups, values, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import sustain
from sustain.errors import SpecError
from sustain.inference.contrasts import inverse_link, inverse_link_derivative

# Linear models: the central difference of a linear or quadratic design is exact up to
# rounding (~1e-10 relative at a step of 1e-4 sd).
EXACT_RTOL = 1e-8
# Derivatives of nonlinear links by central differences: truncation error ~1e-9 relative.
NUMERIC_RTOL = 1e-7


@pytest.fixture(scope="module")
def quality(example_panel):
    return example_panel.dropna(subset=["quality", "hhi", "gov_share", "main_tier"])


@pytest.fixture(scope="module")
def hazard(example_panel):
    return sustain.fit_hazard(
        example_panel, "exit ~ hhi + gov_share + log_revenue", link="cloglog", duration="age"
    )


def _pooled(data, formula):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return sustain.fit_fe(data, formula, estimator="pooled", cluster="district")


def test_linear_terms_give_their_coefficients(quality):
    fe = sustain.fit_fe(quality, "quality ~ hhi + gov_share", cluster="agency_id")
    me = sustain.margins(fe).set_index("term")
    np.testing.assert_allclose(me["estimate"], fe.params[me.index], rtol=EXACT_RTOL)
    np.testing.assert_allclose(me["se"], fe.bse[me.index], rtol=EXACT_RTOL)
    np.testing.assert_allclose(me["p_value"], fe.pvalues[me.index], rtol=1e-6)
    ci = fe.conf_int().loc[me.index]
    np.testing.assert_allclose(me[["lower", "upper"]], ci, rtol=EXACT_RTOL)


def test_transforms_and_interactions_move_with_their_variable(quality):
    fe = _pooled(quality, "quality ~ hhi + I(hhi**2) + hhi:gov_share + gov_share")
    b, V = fe.params, fe.cov
    hhi, gov = quality["hhi"].to_numpy(), quality["gov_share"].to_numpy()
    gradient = pd.Series(0.0, index=b.index)
    gradient["hhi"], gradient["I(hhi ** 2)"], gradient["hhi:gov_share"] = (
        1,
        2 * hhi.mean(),
        gov.mean(),
    )
    expected = gradient @ b
    me = sustain.margins(fe, variables="hhi")
    assert me["estimate"].iloc[0] == pytest.approx(expected, rel=EXACT_RTOL)
    assert me["se"].iloc[0] == pytest.approx(np.sqrt(gradient @ V @ gradient), rel=EXACT_RTOL)


def test_categorical_levels_are_discrete_changes(quality):
    fe = _pooled(quality, "quality ~ hhi + C(main_tier)")
    me = sustain.margins(fe, variables=["main_tier"]).set_index("term")
    levels = sorted(quality["main_tier"].unique())
    assert list(me.index) == [f"main_tier[T.{lv}]" for lv in levels[1:]]
    assert list(me["contrast"]) == [f"{lv} - {levels[0]}" for lv in levels[1:]]
    for level in levels[1:]:
        coef = fe.params[f"C(main_tier)[T.{level}]"]
        assert me.loc[f"main_tier[T.{level}]", "estimate"] == pytest.approx(coef, rel=EXACT_RTOL)


def test_hazard_effects_keep_each_rows_own_age(hazard):
    pieces = hazard.pieces
    beta = hazard.params.to_numpy()
    eta = pieces.X @ beta
    slope = inverse_link_derivative(eta, "cloglog")
    me = sustain.margins(hazard).set_index("term")
    for term in ("hhi", "gov_share", "log_revenue"):
        expected = float(np.mean(slope * hazard.params[term]))
        assert me.loc[term, "estimate"] == pytest.approx(expected, rel=NUMERIC_RTOL)
    assert "age" not in me.index  # the duration is not a covariate


def test_effects_at_means_hold_durations_at_their_means(hazard):
    pieces = hazard.pieces
    row = pieces.X.mean(axis=0)
    eta = float(row @ hazard.params.to_numpy())
    me = sustain.margins(hazard, variables="hhi", kind="at_means")
    expected = float(inverse_link_derivative(np.array([eta]), "cloglog")[0]) * hazard.params["hhi"]
    assert me["estimate"].iloc[0] == pytest.approx(expected, rel=NUMERIC_RTOL)


def test_by_groups_average_to_the_overall_effect(hazard, example_panel):
    overall = sustain.margins(hazard, variables="hhi")
    by = sustain.margins(hazard, variables="hhi", by="main_tier")
    assert list(by.columns[:2]) == ["main_tier", "term"]
    sizes = pd.Series(hazard.pieces.frame.groups["main_tier"].codes).value_counts().sort_index()
    weighted = float(np.average(by["estimate"], weights=sizes.to_numpy()))
    assert weighted == pytest.approx(overall["estimate"].iloc[0], rel=1e-10)


def test_at_values_set_a_variable_for_every_row(hazard):
    me = sustain.margins(hazard, variables="hhi", at={"gov_share": [0.2, 0.8]})
    assert me["gov_share"].tolist() == [0.2, 0.8]
    pieces = hazard.pieces
    X = pieces.X.copy()
    X[:, list(hazard.params.index).index("gov_share")] = 0.8
    eta = X @ hazard.params.to_numpy()
    expected = float(np.mean(inverse_link_derivative(eta, "cloglog")) * hazard.params["hhi"])
    assert me["estimate"].iloc[1] == pytest.approx(expected, rel=NUMERIC_RTOL)


def test_dummy_variables_change_from_zero_to_one():
    rng = np.random.default_rng(4)
    n = 2000
    df = pd.DataFrame({"agency_id": np.arange(n), "year": 2020, "big": rng.integers(0, 2, n),
                       "hhi": rng.uniform(size=n)})  # fmt: skip
    df["exit"] = (rng.random(n) < inverse_link(-2 + df.hhi + 0.5 * df.big, "logit")).astype(int)
    hz = sustain.fit_hazard(df, "exit ~ hhi + big", link="logit", duration=None, cluster=None)
    me = sustain.margins(hz, variables="big")
    b = hz.params
    p1 = inverse_link(b["Intercept"] + b["hhi"] * df.hhi + b["big"], "logit")
    p0 = inverse_link(b["Intercept"] + b["hhi"] * df.hhi, "logit")
    assert me["contrast"].iloc[0] == "1 - 0"
    assert me["estimate"].iloc[0] == pytest.approx(float(np.mean(p1 - p0)), rel=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"variables": "age"}, "is the model's duration"), ({"variables": "quality"}, "not a variable"),
     ({"by": "nothing"}, "not a grouping"), ({"kind": "median"}, "kind='median'"),
     ({"at": {"nothing": 1}}, "not a variable"), ({"alpha": 0}, "alpha")],
)  # fmt: skip
def test_bad_options_are_refused(hazard, kwargs, message):
    with pytest.raises(SpecError, match=message):
        sustain.margins(hazard, **kwargs)


def test_results_without_margins(tmp_path, hazard):
    from lifelines.datasets import load_rossi

    cox = sustain.fit_cox(load_rossi(), "fin + age", start=None, stop="week", event="arrest")
    with pytest.raises(SpecError, match="no probability scale without a time"):
        sustain.margins(cox)
    from sustain.persistence import save_result

    loaded = sustain.load_result(save_result(hazard, tmp_path / "hz.nc"))
    with pytest.raises(SpecError, match="loaded from a file"):
        sustain.margins(loaded)


def test_same_inputs_give_byte_identical_tables(hazard):
    first = sustain.margins(hazard, by="district")
    second = sustain.margins(hazard, by="district")
    assert first.to_csv() == second.to_csv()
