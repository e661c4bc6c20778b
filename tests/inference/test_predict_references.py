"""Cox survival predictions against R's survfit.coxph (tests/references/inference, see README)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sustain

ROOT = Path(__file__).resolve().parents[2]
CASES = json.loads((ROOT / "tests/references/inference/cox_predict.json").read_text())

# R and sustain accumulate the same risk-set sums in different orders (R in C, sustain with
# extended-precision cumulative sums); the Cox references of tests/models/survival/test_cox_references.py agree
# to ~1e-10 relative on these data, and survival probabilities inherit that.
SURVIVAL_RTOL = 1e-8


@pytest.mark.parametrize("name", sorted(CASES))
def test_survival_and_interval_match_survfit(name):
    case = CASES[name]
    data = pd.read_csv(ROOT / case["data"])
    options = case["sustain"]
    kwargs = {"cluster": case["cluster"]} if case.get("cluster") else {}
    if case.get("strata"):
        kwargs["strata"] = case["strata"]
    fit = sustain.fit_cox(
        data, options["formula"], start=options["start"], stop=options["stop"],
        event=options["event"], ties=case["ties"], **kwargs,
    )  # fmt: skip
    np.testing.assert_allclose(fit.params.to_numpy(), case["coef"], rtol=SURVIVAL_RTOL)
    newdata = pd.DataFrame(case["newdata"])
    pred = sustain.predict(fit, newdata, times=case["times"], conf_type=case["conf_type"])
    for i, row in enumerate(case["rows"]):
        got = pred.xs(i, level="row")
        for ours, theirs in (("estimate", "surv"), ("lower", "lower"), ("upper", "upper")):
            np.testing.assert_allclose(
                got[ours].to_numpy(), row[theirs], rtol=SURVIVAL_RTOL, err_msg=f"{name} {ours}"
            )
