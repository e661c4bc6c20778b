"""Splitting a contract's total over the fiscal years of its term; reading term dates."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sustain.data.terms import parse_dates, split_terms

#: Hypothesis examples per property (each is a vectorised split of up to 30 contracts).
EXAMPLES = 200

terms = st.lists(
    st.tuples(
        st.dates(dt.date(1995, 1, 1), dt.date(2030, 12, 31)),
        st.integers(0, 6 * 366),  # days after the start
        st.integers(0, 10**13),  # cents: up to 100 billion yuan
    ),
    min_size=1,
    max_size=30,
)


def _arrays(rows):
    start = np.array([r[0] for r in rows], dtype="datetime64[D]")
    end = start + np.array([r[1] for r in rows], dtype="timedelta64[D]")
    cents = np.array([r[2] for r in rows], dtype=np.int64)
    return start, end, cents


@settings(max_examples=EXAMPLES, deadline=None)
@given(rows=terms, split=st.sampled_from(["days", "months", "equal"]))
def test_years_sum_to_the_total_to_the_cent_and_stay_in_the_term(rows, split):
    start, end, cents = _arrays(rows)
    s = split_terms(start, end, cents, split)
    np.testing.assert_array_equal(
        np.bincount(s.origin, weights=s.cents, minlength=len(rows)), cents
    )
    assert (s.cents >= 0).all()
    first = start.astype("datetime64[Y]").astype(int) + 1970
    last = end.astype("datetime64[Y]").astype(int) + 1970
    assert ((s.year >= first[s.origin]) & (s.year <= last[s.origin])).all()
    counts = np.bincount(s.origin, minlength=len(rows))
    np.testing.assert_array_equal(counts, last - first + 1)  # every year of the term, once
    assert s.last.sum() == len(rows)


@settings(max_examples=EXAMPLES, deadline=None)
@given(rows=terms)
def test_each_year_is_within_a_cent_of_its_exact_share_by_days(rows):
    start, end, cents = _arrays(rows)
    s = split_terms(start, end, cents, "days")
    for k, (begin, length, total) in enumerate(rows):
        finish = begin + dt.timedelta(days=length)
        mine = s.cents[s.origin == k]
        for year, got in zip(s.year[s.origin == k], mine, strict=True):
            lo = max(begin, dt.date(int(year), 1, 1))
            hi = min(finish, dt.date(int(year), 12, 31))
            exact = Fraction(((hi - lo).days + 1) * total, length + 1)
            assert abs(got - exact) < 1, (k, year)


@settings(max_examples=EXAMPLES, deadline=None)
@given(rows=terms, seed=st.integers(0, 2**16))
def test_invariant_to_row_order(rows, seed):
    start, end, cents = _arrays(rows)
    order = np.random.default_rng(seed).permutation(len(rows))
    a = split_terms(start, end, cents)
    b = split_terms(start[order], end[order], cents[order])
    for new, old in enumerate(order):
        np.testing.assert_array_equal(b.cents[b.origin == new], a.cents[a.origin == old])
        np.testing.assert_array_equal(b.year[b.origin == new], a.year[a.origin == old])


def test_months_and_equal_splits():
    start = np.array(["2019-07-15"], "datetime64[D]")
    end = np.array(["2021-03-10"], "datetime64[D]")
    months = split_terms(start, end, np.array([2000]), "months")
    # 6 months of 2019 (Jul-Dec), 12 of 2020, 3 of 2021: 21 months
    assert months.year.tolist() == [2019, 2020, 2021]
    assert months.cents.tolist() == [571, 1143, 286]  # 571.4, 1142.9, 285.7
    equal = split_terms(start, end, np.array([1000]), "equal")
    assert equal.cents.tolist() == [334, 333, 333]


def test_a_term_within_one_year_keeps_its_total():
    s = split_terms(np.array(["2020-03-01"], "datetime64[D]"), np.array(["2020-03-01"], "datetime64[D]"),
                    np.array([12345]))  # fmt: skip
    assert (s.year.tolist(), s.cents.tolist(), s.last.tolist()) == ([2020], [12345], [True])


def test_a_backwards_term_is_refused():
    with pytest.raises(ValueError, match="end on or after its start"):
        split_terms(np.array(["2020-03-01"], "datetime64[D]"), np.array(["2019-03-01"], "datetime64[D]"),
                    np.array([1]))  # fmt: skip


@pytest.mark.parametrize(
    ("cell", "role", "expected", "kind"),
    [
        ("2019-07-01", "start", "2019-07-01", "date"),
        ("2019/7/1", "start", "2019-07-01", "date"),
        ("2019.07.01", "start", "2019-07-01", "date"),
        ("2019年7月1日", "start", "2019-07-01", "date"),
        ("２０１９年７月１日", "start", "2019-07-01", "date"),  # full-width digits
        ("20190701", "start", "2019-07-01", "date"),
        ("2019-07-01 00:00:00", "end", "2019-07-01", "date"),
        ("2019-02", "end", "2019-02-28", "partial"),
        ("2020年2月", "end", "2020-02-29", "partial"),
        ("2019-02", "start", "2019-02-01", "partial"),
        ("2019", "end", "2019-12-31", "partial"),
        (dt.datetime(2019, 7, 1, 8, 30), "start", "2019-07-01", "date"),
        (43647.0, "start", "2019-07-01", "date"),  # an Excel serial date in a numeric cell
        ("2019-02-30", "start", "NaT", "invalid"),
        ("next spring", "start", "NaT", "invalid"),
        ("", "start", "NaT", "missing"),
        (None, "start", "NaT", "missing"),
    ],
)
def test_term_dates_are_read_in_the_forms_ledgers_use(cell, role, expected, kind):
    p = parse_dates(pd.Series([cell], dtype=object), role)
    assert str(p.dates[0]) == expected
    flags = {"missing": p.missing[0], "invalid": p.invalid[0], "partial": p.partial[0]}
    assert [k for k, v in flags.items() if v] == ([] if kind == "date" else [kind])
