"""Invariants of the panel on random small data sets (hypothesis).

Amounts are conserved, shares sum to one, concentration measures stay in their ranges, the
input's row order does not matter, the panel has one row per agency-year at risk, and lags
are the previous year's values.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sustain.data.dataset import Dataset, empty_revenue
from sustain.data.measures import _funder_totals
from sustain.data.panel import build_panel
from sustain.options import CONTRACT_TYPES, TIERS

# Shares are sums of a handful of ratios; they add up to one up to float rounding.
SHARE_SUM_TOL = 1e-12
# Range checks compare float results with exact bounds (e.g. hhi = 1/n for equal shares).
BOUND_TOL = 1e-12
# Reordering rows reorders float summations; measures agree to rounding.
ORDER_RTOL = 1e-12
# Conservation is promised to the cent; half a cent is the largest rounding that keeps it.
HALF_CENT = 0.005

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FIRST, LAST = 2012, 2020


@st.composite
def datasets(draw: st.DrawFn) -> Dataset:
    """Up to 6 agencies, each with contracts and revenue only in its years at risk."""
    n = draw(st.integers(1, 6))
    founded = draw(st.lists(st.integers(2005, LAST), min_size=n, max_size=n))
    closed = [draw(st.one_of(st.none(), st.integers(f, LAST + 3))) for f in founded]
    agencies = pd.DataFrame(
        {
            "agency_id": [f"a{i}" for i in range(n)],
            "founded": founded,
            "district": draw(st.lists(st.sampled_from(["Liwan", "Panyu"]), min_size=n, max_size=n)),
            "closed": pd.array(closed, dtype="Int64"),
        }
    )
    # a year of an agency's life that lies in the data years (any draws outside are dropped)
    life = [(i, y) for i in range(n) for y in range(max(founded[i], FIRST), _last(closed[i]) + 1)]
    if not life:
        life = [(0, max(founded[0], FIRST))]
        agencies.loc[0, "closed"] = pd.NA
    cents = st.integers(1, 10**8).map(lambda c: c / 100)
    contract_rows = draw(
        st.lists(
            st.tuples(
                st.sampled_from(life),
                st.sampled_from(["s1", "s2", "bureau", "city"]),
                st.sampled_from(TIERS),
                st.sampled_from(CONTRACT_TYPES),
                cents,
                st.one_of(st.none(), st.floats(0, 100)),
            ),
            min_size=1,
            max_size=25,
        )
    )
    revenue_rows = draw(
        st.lists(
            st.tuples(
                st.sampled_from(life),
                st.sampled_from(["fee", "foundation", "s1"]),
                st.one_of(st.just(0.0), cents),
            ),
            max_size=10,
        )
    )
    contracts = pd.DataFrame(
        {
            "contract_id": [f"c{i}" for i in range(len(contract_rows))],
            "agency_id": [f"a{r[0][0]}" for r in contract_rows],
            "year": [r[0][1] for r in contract_rows],
            "funder": [r[1] for r in contract_rows],
            "tier": [r[2] for r in contract_rows],
            "contract_type": [r[3] for r in contract_rows],
            "amount": [r[4] for r in contract_rows],
            "score": [np.nan if r[5] is None else r[5] for r in contract_rows],
        }
    )
    revenue = (
        pd.DataFrame(
            {
                "agency_id": [f"a{r[0][0]}" for r in revenue_rows],
                "year": [r[0][1] for r in revenue_rows],
                "source": [r[1] for r in revenue_rows],
                "amount": [r[2] for r in revenue_rows],
            }
        )
        if revenue_rows
        else empty_revenue()
    )
    return Dataset(agencies=agencies, contracts=contracts, revenue=revenue)


def _last(closed: int | None) -> int:
    return LAST if closed is None else min(closed, LAST)


@SETTINGS
@given(datasets())
def test_amounts_are_conserved(data):
    panel = build_panel(data)
    assert abs(math.fsum(panel["revenue_gov"]) - math.fsum(data.contracts["amount"])) < HALF_CENT
    assert abs(math.fsum(panel["revenue_nongov"]) - math.fsum(data.revenue["amount"])) < HALF_CENT
    assert panel["n_contracts"].sum() == len(data.contracts)


@SETTINGS
@given(datasets())
def test_panel_has_one_row_per_year_at_risk(data):
    panel = build_panel(data)
    first, last = data.years
    expected = []
    for agency in data.agencies.itertuples():
        end = last if pd.isna(agency.closed) else min(agency.closed, last)
        expected += [(agency.agency_id, y) for y in range(max(agency.founded, first), end + 1)]
    assert list(panel.index) == sorted(expected)
    assert (panel["age"] >= 0).all()
    is_closing = panel["closed"].eq(panel.index.get_level_values("year")).fillna(False)
    assert panel["exit"].eq(is_closing.astype(int)).all()
    assert panel.groupby(level="agency_id")["exit"].sum().le(1).all()


@SETTINGS
@given(datasets())
def test_funder_shares_sum_to_one(data):
    codes = data.contracts["funder"].factorize()[0]
    source = data.revenue["source"].factorize()[0] + codes.max() + 1
    groups = pd.concat([data.contracts, data.revenue])[["agency_id", "year"]]
    group = groups.apply(tuple, axis=1).factorize()[0].astype(np.int64)
    amount = np.concatenate([data.contracts["amount"], data.revenue["amount"]])
    pair_group, pair_amount = _funder_totals(group, np.concatenate([codes, source]), amount)
    total = np.bincount(group, weights=amount)
    share = pair_amount / total[pair_group]
    sums = np.bincount(pair_group, weights=share, minlength=len(total))
    np.testing.assert_allclose(sums[total > 0], 1.0, rtol=0, atol=SHARE_SUM_TOL)
    assert (pair_amount > 0).all()


@SETTINGS
@given(datasets())
def test_type_and_tier_shares_sum_to_one(data):
    panel = build_panel(data)
    funded = panel["revenue_gov"] > 0
    for levels in (CONTRACT_TYPES, TIERS):
        shares = panel[[f"share_{v}" for v in levels]]
        np.testing.assert_allclose(shares[funded].sum(axis=1), 1.0, atol=SHARE_SUM_TOL)
        assert shares[~funded].isna().all().all()
        assert ((shares[funded] >= 0) & (shares[funded] <= 1 + BOUND_TOL)).all().all()
    main = panel.loc[funded, "main_tier"]
    largest = panel.loc[funded, [f"share_{t}" for t in TIERS]].max(axis=1)
    for (idx, tier), top in zip(main.items(), largest, strict=True):
        assert panel.loc[idx, f"share_{tier}"] == top
    np.testing.assert_allclose(
        panel["gov_share"].dropna(),
        (panel["revenue_gov"] / panel["revenue_total"]).dropna(),
        rtol=SHARE_SUM_TOL,
    )


@SETTINGS
@given(datasets())
def test_concentration_stays_in_range(data):
    panel = build_panel(data)
    has = panel[panel["revenue_total"] > 0]
    n = has["n_funders"].to_numpy()
    assert (n >= 1).all()
    hhi, top = has["hhi"].to_numpy(), has["top_share"].to_numpy()
    assert (hhi >= 1 / n - BOUND_TOL).all() and (hhi <= 1 + BOUND_TOL).all()
    assert (has["hhi_norm"] >= -BOUND_TOL).all() and (has["hhi_norm"] <= 1 + BOUND_TOL).all()
    entropy = has["entropy"].to_numpy()
    assert (entropy >= -BOUND_TOL).all() and (entropy <= np.log(n) + BOUND_TOL).all()
    assert (top >= 1 / n - BOUND_TOL).all() and (top**2 <= hhi + BOUND_TOL).all()
    assert (hhi <= top + BOUND_TOL).all()
    empty = panel[panel["revenue_total"] == 0]
    assert empty[["hhi", "hhi_norm", "entropy", "top_share", "gov_share"]].isna().all().all()
    assert (empty["n_funders"] == 0).all()


@SETTINGS
@given(datasets(), st.randoms(use_true_random=False))
def test_row_order_does_not_matter(data, random):
    def shuffled(frame: pd.DataFrame) -> pd.DataFrame:
        order = list(range(len(frame)))
        random.shuffle(order)
        return frame.iloc[order]

    again = Dataset(shuffled(data.agencies), shuffled(data.contracts), shuffled(data.revenue))
    pd.testing.assert_frame_equal(
        build_panel(again, lags="hhi"),
        build_panel(data, lags="hhi"),
        check_exact=False,
        rtol=ORDER_RTOL,
    )


@SETTINGS
@given(datasets(), st.integers(1, 3))
def test_lags_are_previous_years_of_the_same_agency(data, k):
    panel = build_panel(data, lags={"revenue_total": [k]})
    values = panel["revenue_total"].to_dict()
    for (agency, year), lagged in panel[f"revenue_total_lag{k}"].items():
        if (agency, year - k) in values:
            assert lagged == values[(agency, year - k)]
        else:
            assert np.isnan(lagged)
