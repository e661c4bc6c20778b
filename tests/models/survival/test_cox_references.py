"""sustain.fit_cox and sustain.fit_hazard against R (survival 3.5-3, sandwich 3.0-2, R 4.2.2).

The reference numbers, the R script that made them, its log and the data live in
``tests/references/survival/`` (see the README there). Every coefficient, model-based standard
error, robust (clustered) standard error and log likelihood is compared.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sustain

REFERENCES = Path(__file__).resolve().parents[2] / "references" / "survival"
# R prints/stores 17 significant digits and both sides converge to ~1e-9; the issue asks for
# agreement "to 4 decimals", so coefficients and standard errors must agree within 5e-5.
DECIMALS_4 = 5e-5
# log likelihoods are sums of hundreds of terms; same criterion, absolute
LOGLIK_TOL = 5e-5

COX = json.loads((REFERENCES / "coxph.json").read_text())
GLM = json.loads((REFERENCES / "hazard_glm.json").read_text())

# how each R call is written with sustain.fit_cox
COX_CALLS = {
    "rossi_efron": dict(
        formula="fin + age + race + wexp + mar + paro + prio",
        start=None,
        stop="week",
        event="arrest",
    ),
    "rossi_breslow": dict(
        formula="fin + age + race + wexp + mar + paro + prio",
        start=None,
        stop="week",
        event="arrest",
    ),
    "heart_efron_cluster": dict(formula="age + year + surgery + transplant"),
    "heart_breslow_cluster": dict(formula="age + year + surgery + transplant"),
    "heart_strata_cluster": dict(formula="age + year + transplant", strata="surgery"),
    "recur_efron_cluster": dict(formula="AGE + TREAT", start="TIME0", stop="TIME1", event="CENSOR"),
    "recur_breslow_cluster": dict(
        formula="AGE + TREAT", start="TIME0", stop="TIME1", event="CENSOR"
    ),
    "lung_strata_efron": dict(
        formula="age + ph_ecog", start=None, stop="time", event="status", strata="sex"
    ),
    "lung_strata_breslow": dict(
        formula="age + ph_ecog + wt_loss", start=None, stop="time", event="status", strata="sex"
    ),
}


def load(name: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCES / "data" / f"{name}.csv")


@pytest.fixture(scope="module", params=sorted(COX))
def cox_case(request):
    name = request.param
    ref = COX[name]
    call = dict(COX_CALLS[name])
    formula = call.pop("formula")
    cluster = ref["cluster"]
    result = sustain.fit_cox(load(ref["data"]), formula, ties=ref["ties"], cluster=cluster, **call)
    return name, ref, result


def test_every_r_case_has_a_python_call():
    assert set(COX_CALLS) == set(COX)


def test_cox_coefficients_match_r(cox_case):
    _, ref, res = cox_case
    assert list(res.params.index) == ref["terms"]
    np.testing.assert_allclose(res.params.to_numpy(), ref["coef"], rtol=0, atol=DECIMALS_4)


def test_cox_model_standard_errors_match_r(cox_case):
    _, ref, res = cox_case
    np.testing.assert_allclose(res.naive_bse.to_numpy(), ref["se"], rtol=0, atol=DECIMALS_4)


def test_cox_robust_standard_errors_match_r(cox_case):
    name, ref, res = cox_case
    if ref["cluster"] is None:
        # no cluster: the reported errors are the model-based ones
        np.testing.assert_allclose(res.bse.to_numpy(), ref["se"], rtol=0, atol=DECIMALS_4)
        assert res.info.cov_type == "unadjusted"
    else:
        np.testing.assert_allclose(res.bse.to_numpy(), ref["robust_se"], rtol=0, atol=DECIMALS_4)
        assert res.info.cov_type == "clustered", name


def test_cox_loglik_and_counts_match_r(cox_case):
    _, ref, res = cox_case
    stats = res.info.stats
    assert stats["loglik"] == pytest.approx(ref["loglik"], abs=LOGLIK_TOL)
    assert stats["loglik_null"] == pytest.approx(ref["loglik_null"], abs=LOGLIK_TOL)
    assert res.nobs == ref["n"]
    assert stats["n_events"] == ref["nevent"]


def test_counting_process_cases_have_entries_at_event_times():
    """The (start, stop] references exercise the case libraries get wrong: an interval that
    starts exactly when another subject has an event (that subject is not at risk then)."""
    for name, start, stop, event in [
        ("heart", "start", "stop", "event"),
        ("recur", "TIME0", "TIME1", "CENSOR"),
    ]:
        df = load(name)
        event_times = set(df.loc[df[event] == 1, stop])
        assert df[start].isin(event_times).sum() > 30


def person_weeks() -> pd.DataFrame:
    """Rossi as one row per prisoner and week at risk (as in make_references.R)."""
    rossi = load("rossi")
    person = np.repeat(np.arange(len(rossi)), rossi["week"])
    out = rossi.iloc[person][["fin", "age", "prio"]].reset_index(drop=True)
    out["id"] = person + 1
    out["t"] = np.concatenate([np.arange(1, w + 1) for w in rossi["week"]])
    last = out["t"].to_numpy() == rossi["week"].to_numpy()[person]
    out["event"] = (last & (rossi["arrest"].to_numpy()[person] == 1)).astype(int)
    return out


@pytest.mark.parametrize("link", ["cloglog", "logit"])
@pytest.mark.parametrize("clustered", [True, False])
def test_discrete_hazard_matches_r_glm(link, clustered):
    ref = GLM[f"rossi_weeks_{link}"]
    data = person_weeks()
    res = sustain.fit_hazard(
        data,
        "event ~ fin + age + prio + np.log(t)",
        link=link,
        duration=None,
        cluster="id" if clustered else None,
        entity="id",
        time="t",
    )
    assert res.nobs == ref["n"] and res.info.stats["n_events"] == ref["nevent"]
    np.testing.assert_allclose(res.params.to_numpy(), ref["coef"], rtol=0, atol=DECIMALS_4)
    expected_se = ref["cluster_se"] if clustered else ref["se"]
    np.testing.assert_allclose(res.bse.to_numpy(), expected_se, rtol=0, atol=DECIMALS_4)
    assert res.info.stats["loglik"] == pytest.approx(ref["loglik"], abs=LOGLIK_TOL)
    assert res.info.stats["aic"] == pytest.approx(ref["aic"], abs=LOGLIK_TOL)
    if clustered:
        assert res.info.groups["id"] == ref["n_clusters"]
