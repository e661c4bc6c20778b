"""The wild cluster bootstrap against wildboottest (tests/references/inference, see README).

wildboottest runs on the full design (effects as dummy columns), so the comparison also
checks how sustain removes absorbed effects that cross the clusters (year effects across
districts). With every sign vector enumerated the two bootstrap distributions must coincide;
with random draws the p-values are two Monte Carlo estimates of the same number.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sustain
from sustain.inference.bootstrap import pvalue

HERE = Path(__file__).resolve().parents[1] / "references" / "inference"
CASES = json.loads((HERE / "wildboottest.json").read_text())["cases"]

# Two routes to the same t statistic (our cluster-level blocks, wildboottest's loops over
# clusters) agree to rounding: ~1e-13 relative on these data; 1e-9 leaves room for BLAS.
T_RTOL = 1e-9
# Random-draw p-values are independent Monte Carlo estimates with B = 9,999 draws each: their
# difference has sd sqrt(2 p (1 - p) / B); four sds make a false alarm a 1-in-15,000 event.
MC_SDS = 4.0


def _fit(case: dict):
    frame = pd.read_csv(HERE / case["data"]).set_index(["agency_id", "year"])
    options = case["sustain"]
    kwargs = {"effects": tuple(options["effects"])} if "effects" in options else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # 8 and 14 clusters: the point here
        fe = sustain.fit_fe(
            frame, options["formula"], estimator=options["estimator"], cluster="district", **kwargs
        )
    wb = sustain.wild_bootstrap(
        fe, options["term"], weights=options["weights"], reps=9999,
        impose_null=options["impose_null"], random_seed=1,
    )  # fmt: skip
    return fe, wb


@pytest.mark.parametrize("name", sorted(CASES))
def test_t_statistic_matches_wildboottest(name):
    case = CASES[name]
    _, wb = _fit(case)
    assert wb.t_stat == pytest.approx(case["t_stat"], rel=T_RTOL)
    assert wb.enumerated == case["full_enumeration"]
    assert wb.reps == case["reps"]


@pytest.mark.parametrize("name", sorted(n for n in CASES if CASES[n]["full_enumeration"]))
def test_enumerated_distribution_and_pvalue_agree_exactly(name):
    case = CASES[name]
    _, wb = _fit(case)
    theirs = np.sort(np.abs(case["t_boot"]))
    ours = np.sort(np.abs(wb.t_draws))
    # (with WCU, v = 1 and -1 give t* = 0 exactly: compared on the scale of the draws)
    np.testing.assert_allclose(ours, theirs, rtol=T_RTOL, atol=T_RTOL * theirs.max())
    # the exact p-value: the share of the 2**G sign vectors whose |t*| exceeds |t|. The two
    # vectors v = 1 and v = -1 reproduce the sample itself (|t*| = |t| in exact arithmetic);
    # they are ties, not exceedances. Counted that way from wildboottest's own draws the
    # p-value is identical to ours; wildboottest's float comparison counts them when rounding
    # puts them 1e-14 above |t| (a difference of exactly 2 / 2**G)
    assert wb.pvalue == pvalue(case["t_stat"], np.asarray(case["t_boot"]))
    gap = round((case["pvalue"] - wb.pvalue) * case["reps"])
    assert gap in ((0, 2) if case["sustain"]["impose_null"] else (0,))


@pytest.mark.parametrize("name", sorted(n for n in CASES if not CASES[n]["full_enumeration"]))
def test_random_draw_pvalues_agree_within_monte_carlo_error(name):
    case = CASES[name]
    _, wb = _fit(case)
    p = case["pvalue"]
    sd = np.sqrt(2 * p * (1 - p) / case["reps"])
    assert abs(wb.pvalue - p) <= MC_SDS * sd
