"""predict: fitted values, durations, centring of within fits, Cox profiles, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import sustain
from sustain.errors import SpecError
from sustain.inference.contrasts import inverse_link

# Re-encoding the fitted rows with the fit's spec reproduces its design exactly; products
# with the coefficients agree to rounding.
EXACT_RTOL = 1e-10


@pytest.fixture(scope="module")
def rows(example_panel):
    return example_panel.dropna(subset=["hhi", "log_revenue", "quality", "gov_share"])


@pytest.mark.parametrize("form", ["dummies", "spline"])
def test_hazard_predictions_on_fitted_rows_are_the_fitted_probabilities(example_panel, form):
    hz = sustain.fit_hazard(example_panel, "exit ~ hhi + log_revenue", duration="age",
                            duration_form=form)  # fmt: skip
    fitted = inverse_link(hz.pieces.X @ hz.params.to_numpy(), "cloglog")
    frame = hz.pieces.frame.frame()
    pred = sustain.predict(hz, frame)
    np.testing.assert_allclose(pred["estimate"], fitted, rtol=EXACT_RTOL)
    assert ((pred["lower"] < pred["estimate"]) & (pred["estimate"] < pred["upper"])).all()
    # the interval is a Wald interval of the linear predictor, mapped through the link
    X = hz.pieces.X[:1]
    se = float(np.sqrt(X @ hz.cov.to_numpy() @ X.T)[0, 0])
    z = stats.norm.ppf(0.975)
    eta = float((X @ hz.params.to_numpy())[0])
    assert pred["upper"].iloc[0] == pytest.approx(
        inverse_link(np.array([eta + z * se]), "cloglog")[0]
    )


def test_without_a_duration_column_the_duration_terms_are_at_their_means(example_panel):
    hz = sustain.fit_hazard(example_panel, "exit ~ hhi + log_revenue", duration="age")
    profile = pd.DataFrame({"hhi": [0.5], "log_revenue": [14.0]})
    pred = sustain.predict(hz, profile)
    x = hz.pieces.X.mean(axis=0)
    names = list(hz.params.index)
    x[names.index("Intercept")], x[names.index("hhi")], x[names.index("log_revenue")] = 1, 0.5, 14
    expected = inverse_link(np.array([x @ hz.params.to_numpy()]), "cloglog")[0]
    assert pred["estimate"].iloc[0] == pytest.approx(expected, rel=EXACT_RTOL)


def test_within_fits_predict_around_the_mean_response(rows):
    fe = sustain.fit_fe(rows, "quality ~ hhi + gov_share", cluster="agency_id")
    pred = sustain.predict(fe, rows)
    assert pred["estimate"].mean() == pytest.approx(rows["quality"].mean(), rel=EXACT_RTOL)
    assert pred.index.equals(rows.index)
    pooled = sustain.fit_fe(rows, "quality ~ hhi + gov_share", estimator="pooled")
    direct = (
        pooled.params["Intercept"]
        + rows[["hhi", "gov_share"]] @ pooled.params[["hhi", "gov_share"]]
    )
    np.testing.assert_allclose(sustain.predict(pooled, rows)["estimate"], direct, rtol=EXACT_RTOL)


def test_cox_relative_hazard_and_survival(example_panel):
    from lifelines.datasets import load_rossi

    rossi = load_rossi()
    cox = sustain.fit_cox(rossi, "fin + age + prio", start=None, stop="week", event="arrest")
    means = rossi[["fin", "age", "prio"]].mean().to_frame().T
    relative = sustain.predict(cox, means)
    assert relative["estimate"].iloc[0] == pytest.approx(1.0, rel=EXACT_RTOL)
    survival = sustain.predict(cox, means, times=[0.5, 20, 52, 100])
    assert list(survival.index.names) == ["row", "time"]
    s = survival["estimate"].to_numpy()
    assert s[0] == 1.0 and np.all(np.diff(s) <= 0)  # before the first event, then decreasing
    assert s[2] == s[3]  # no events after the last time


def test_interval_false_gives_the_estimate_only(rows):
    pooled = sustain.fit_fe(rows, "quality ~ hhi", estimator="pooled")
    assert list(sustain.predict(pooled, rows.head(2), interval=False).columns) == ["estimate"]


@pytest.mark.parametrize(
    ("newdata", "kwargs", "message"),
    [(pd.DataFrame({"hhi": [0.5]}), {}, "newdata lacks log_revenue"),
     (pd.DataFrame({"hhi": [0.5], "log_revenue": [14.0]}), {"times": [1]}, "times= is for Cox"),
     (None, {}, "must be a DataFrame")],
)  # fmt: skip
def test_bad_requests_are_refused(example_panel, newdata, kwargs, message):
    hz = sustain.fit_hazard(example_panel, "exit ~ hhi + log_revenue", duration="age")
    with pytest.raises(SpecError, match=message):
        sustain.predict(hz, newdata, **kwargs)


def test_cox_strata_must_be_known():
    from lifelines.datasets import load_rossi

    rossi = load_rossi()
    cox = sustain.fit_cox(rossi, "age + prio", start=None, stop="week", event="arrest",
                          strata="fin")  # fmt: skip
    with pytest.raises(SpecError, match="strata column"):
        sustain.predict(cox, pd.DataFrame({"age": [30], "prio": [2]}), times=[10])
    with pytest.raises(SpecError, match="was not in the fitted data"):
        sustain.predict(cox, pd.DataFrame({"age": [30], "prio": [2], "fin": [5]}), times=[10])
