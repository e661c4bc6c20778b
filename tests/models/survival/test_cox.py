"""sustain.fit_cox: equivalences, an independent implementation, invariances, errors, results."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import sustain
from sustain.errors import DataError, FitError, SpecError

# Splitting intervals leaves the partial likelihood unchanged term by term; only floating-point
# summation order differs, so estimates agree to near machine precision.
SPLIT_TOL = 1e-9
# statsmodels' PHReg solves the same likelihood by its own code; both converge to ~1e-10.
INDEPENDENT_TOL = 1e-6
# Permuting rows or rescaling time changes only summation order.
INVARIANCE_TOL = 1e-9
# Recovery: 95% intervals should cover the truth; a fixed seed keeps it deterministic.
Z95 = 1.959963984540054


def subjects(seed: int, n: int = 300, resolution: float = 0.1) -> pd.DataFrame:
    """One row per subject: delayed entry for some, times rounded so that events tie."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.integers(0, 2, n)
    entry = np.where(rng.random(n) < 0.4, rng.integers(1, 4, n), 0).astype(float)
    duration = rng.exponential(3 * np.exp(-(0.5 * x1 - 0.7 * x2)))
    duration = np.maximum(np.round(duration / resolution) * resolution, resolution)
    censor = rng.exponential(8, n)
    stop = entry + np.minimum(duration, np.maximum(np.round(censor, 1), resolution))
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "start": entry,
            "stop": np.round(stop, 10),
            "event": (duration <= censor).astype(int),
            "x1": x1,
            "x2": x2,
            "group": rng.integers(0, 3, n),
        }
    )


def split_yearly(df: pd.DataFrame) -> pd.DataFrame:
    """Cut each subject's interval at every integer time; the event stays on the last piece."""
    pieces = []
    for row in df.itertuples(index=False):
        cuts = np.arange(np.floor(row.start) + 1, np.ceil(row.stop))
        bounds = np.concatenate([[row.start], cuts, [row.stop]])
        for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
            last = i == len(bounds) - 2
            piece = row._asdict() | {"start": a, "stop": b, "event": row.event if last else 0}
            pieces.append(piece)
    return pd.DataFrame(pieces)


@pytest.fixture(scope="module")
def one_row():
    return subjects(seed=11)


@pytest.fixture(scope="module")
def yearly(one_row):
    return split_yearly(one_row)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_split_into_yearly_intervals_gives_the_same_fit(one_row, yearly, ties):
    # pieces start exactly where other subjects have events (integer times)
    events = set(one_row.loc[one_row["event"] == 1, "stop"])
    assert yearly["start"].isin(events).any()
    assert len(yearly) > 2 * len(one_row)
    a = sustain.fit_cox(one_row, "x1 + x2", ties=ties, cluster="id")
    b = sustain.fit_cox(yearly, "x1 + x2", ties=ties, cluster="id")
    np.testing.assert_allclose(a.params, b.params, rtol=0, atol=SPLIT_TOL)
    np.testing.assert_allclose(a.naive_bse, b.naive_bse, rtol=0, atol=SPLIT_TOL)
    np.testing.assert_allclose(a.bse, b.bse, rtol=0, atol=SPLIT_TOL)
    assert a.info.stats["loglik"] == pytest.approx(b.info.stats["loglik"], abs=SPLIT_TOL)
    assert a.info.stats["n_events"] == b.info.stats["n_events"]
    assert b.nobs == len(yearly) and a.info.groups == b.info.groups == {"id": len(one_row)}


def statsmodels_phreg(df: pd.DataFrame, ties: str, strata: str | None):
    """statsmodels PHReg with times replaced by ranks so that an entry at an event time comes
    after that event (PHReg counts entry <= t as at risk; the counting process needs <)."""
    from statsmodels.duration.hazard_regression import PHReg

    values = np.unique(np.concatenate([df["start"], df["stop"]]))
    entry = 2.0 * np.searchsorted(values, df["start"]) + 1
    exit_ = 2.0 * np.searchsorted(values, df["stop"])
    model = PHReg(
        exit_,
        df[["x1", "x2"]].to_numpy(),
        status=df["event"].to_numpy(),
        entry=entry,
        strata=None if strata is None else df[strata].to_numpy(),
        ties=ties,
    )
    return model, model.fit()


@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("strata", [None, "group"])
def test_agrees_with_statsmodels_phreg_on_ranked_times(yearly, ties, strata):
    model, ref = statsmodels_phreg(yearly, ties, strata)
    res = sustain.fit_cox(yearly, "x1 + x2", ties=ties, strata=strata)
    np.testing.assert_allclose(res.params, ref.params, rtol=0, atol=INDEPENDENT_TOL)
    np.testing.assert_allclose(res.bse, ref.bse, rtol=0, atol=INDEPENDENT_TOL)
    assert res.info.stats["loglik"] == pytest.approx(ref.llf, abs=INDEPENDENT_TOL)
    assert res.info.stats["loglik_null"] == pytest.approx(
        model.loglike(np.zeros(2)), abs=INDEPENDENT_TOL
    )


def test_row_order_and_time_scale_do_not_matter(yearly):
    base = sustain.fit_cox(yearly, "x1 + x2", strata="group", cluster="id")
    shuffled = yearly.sample(frac=1.0, random_state=np.random.default_rng(5))
    rescaled = yearly.assign(start=yearly["start"] * 365.25, stop=yearly["stop"] * 365.25)
    for other in (shuffled, rescaled):
        res = sustain.fit_cox(other, "x1 + x2", strata="group", cluster="id")
        np.testing.assert_allclose(res.params, base.params, rtol=0, atol=INVARIANCE_TOL)
        np.testing.assert_allclose(res.bse, base.bse, rtol=0, atol=INVARIANCE_TOL)


def test_single_stratum_equals_no_strata(one_row):
    a = sustain.fit_cox(one_row, "x1 + x2")
    b = sustain.fit_cox(one_row.assign(s=1), "x1 + x2", strata="s")
    np.testing.assert_allclose(a.params, b.params, rtol=0, atol=INVARIANCE_TOL)


def test_entry_at_an_event_time_is_not_at_risk():
    """Two subjects: A dies at 2; B enters at 2. B must not be in A's risk set, so the
    likelihood has one term with a risk set of A alone (log L = 0 whatever beta is)."""
    df = pd.DataFrame(
        {
            "start": [0.0, 2.0, 0.0, 0.0],
            "stop": [2.0, 5.0, 3.0, 4.0],
            "event": [1, 1, 1, 0],
            "x": [1.0, 0.0, 0.5, 2.0],
        }
    )
    res = sustain.fit_cox(df, "x")
    # by hand: risk sets {A, C, D} at 2 (B enters at 2), {B, C, D} at 3, {B} at 5
    from scipy.optimize import minimize_scalar

    def negloglik(b: float) -> float:
        x = df["x"].to_numpy()
        return -(b * x[0] - np.log(np.exp(b * x[[0, 2, 3]]).sum())) - (
            b * x[2] - np.log(np.exp(b * x[[1, 2, 3]]).sum())
        )

    best = minimize_scalar(negloglik, bounds=(-20, 20), method="bounded", options={"xatol": 1e-10})
    assert res.params["x"] == pytest.approx(best.x, abs=1e-6)
    assert res.info.stats["loglik"] == pytest.approx(-best.fun, abs=1e-9)


def test_categorical_terms_and_formula_response(one_row):
    df = one_row.assign(g=one_row["group"].map({0: "a", 1: "b", 2: "c"}))
    res = sustain.fit_cox(df, "event ~ x1 + C(g)")
    assert list(res.params.index) == ["x1", "C(g)[T.b]", "C(g)[T.c]"]
    assert "Intercept" not in res.params.index


def test_result_protocol(one_row):
    res = sustain.fit_cox(one_row, "x1 + x2", cluster="id")
    tidy = res.tidy(exponentiate=True).set_index("term")
    ci = res.conf_int()
    np.testing.assert_allclose(tidy["estimate"], np.exp(res.params))
    np.testing.assert_allclose(tidy["conf_low"], np.exp(ci["lower"]))
    np.testing.assert_allclose(tidy["conf_high"], np.exp(ci["upper"]))
    np.testing.assert_allclose(tidy["std_error"], res.bse)
    hr = res.hazard_ratios()
    np.testing.assert_allclose(hr["lower"], np.exp(res.params - Z95 * res.bse))
    assert res.info.exp_name == "HR" and res.info.estimator == "cox" and res.df_resid is None
    assert res.nobs == len(one_row)
    assert {"n_events", "loglik", "loglik_null", "aic"} <= set(res.info.stats)
    text = str(res)
    assert "Cox PH" in text and "HR" in text and "clustered by id" in text
    assert "<table>" in res._repr_html_()
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.ties = "breslow"  # type: ignore[misc]


def test_missing_values_are_dropped_with_a_note(one_row):
    df = one_row.copy()
    df.loc[:4, "x1"] = np.nan
    df.loc[5, "stop"] = np.nan
    res = sustain.fit_cox(df, "x1 + x2")
    assert res.nobs == len(df) - 6
    assert any("6 rows with missing values" in n for n in res.info.notes)


def test_covariate_constant_within_strata_is_a_fit_error(one_row):
    with pytest.raises(FitError, match=r"C\(group\)\[T.1\], C\(group\)\[T.2\] have no variation"):
        sustain.fit_cox(one_row, "x1 + C(group)", strata="group")


def test_separating_covariate_is_flagged_as_infinite(one_row):
    """Only subjects with x3 = 1 have events: the likelihood is monotone in x3 (as R warns)."""
    df = one_row.assign(x3=one_row["event"])
    with pytest.warns(RuntimeWarning, match="coefficient\\(s\\) of x3"):
        res = sustain.fit_cox(df, "x1 + x3")
    assert res.params["x3"] > 10
    assert any("may be infinite" in note for note in res.info.notes)


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (lambda d: d.assign(stop=d["start"]), DataError, "must be greater than"),
        (lambda d: d.assign(event=2), DataError, "must be 0 or 1"),
        (lambda d: d.assign(event=0), FitError, "no events"),
        (lambda d: d.assign(x2=2 * d["x1"]), FitError, "x2 is collinear"),
        (lambda d: d.assign(x2=1.0), FitError, "x2 is collinear"),
    ],
)
def test_bad_data_get_clear_errors(one_row, change, error, message):
    with pytest.raises(error, match=message):
        sustain.fit_cox(change(one_row), "x1 + x2")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(formula="x1 + x3"), "x3"),
        (dict(formula="x1", ties="exact"), "ties='exact'"),
        (dict(formula="exit ~ x1"), "left-hand side 'exit'"),
        (dict(formula="x1 + (1 | group)"), "group terms"),
        (dict(formula="x1", cluster="clinic"), "clinic"),
        (dict(formula="x1", strata="ward"), "ward"),
        (dict(formula="1"), "no covariates"),
    ],
)
def test_bad_specifications_get_clear_errors(one_row, kwargs, message):
    kwargs = dict(kwargs)
    formula = kwargs.pop("formula")
    with pytest.raises(SpecError, match=message):
        sustain.fit_cox(one_row, formula, **kwargs)


@pytest.fixture(scope="module")
def big_simulation():
    sim = sustain.simulate(seed=1, n_agencies=4000)
    return sim, sustain.build_panel(sim.data)


@pytest.mark.slow
def test_cox_on_panel_spells_recovers_the_hazard_effects(big_simulation):
    """Yearly exits from a cloglog hazard are a grouped proportional-hazards model, so the
    Cox coefficients on the age scale estimate the same log hazard ratios."""
    sim, panel = big_simulation
    spells = sustain.to_spells(panel, "age", ["hhi", "gov_share", "log_revenue", "district"])
    res = sustain.fit_cox(
        spells, "hhi + gov_share + log_revenue", strata="district", cluster="agency_id"
    )
    ci = res.conf_int()
    for term in ("hhi", "gov_share"):
        truth = sim.truth.hazard[term]
        assert ci.loc[term, "lower"] < truth < ci.loc[term, "upper"], term
    assert res.info.groups["agency_id"] == panel.index.get_level_values(0).nunique()
