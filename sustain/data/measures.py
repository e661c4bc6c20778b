"""Funding measures of an agency-year from its contracts and non-government revenue.

Definitions (``docs/measures.md``): with s_k funder k's share of the agency-year's total revenue,
where each distinct government ``funder`` and each distinct revenue ``source`` with a positive
amount is one funder,

* ``hhi = sum_k s_k**2``, ``hhi_norm = (hhi - 1/n) / (1 - 1/n)`` (1 when n = 1),
* ``entropy = -sum_k s_k ln s_k``, ``top_share = max_k s_k``,
* ``gov_share = revenue_gov / revenue_total``, ``log_revenue = ln(revenue_total)``,
* ``share_<contract_type>`` and ``share_<tier>``: amounts by type or tier over ``revenue_gov``,
  ``main_tier`` the tier with the largest amount (ties go to the first of municipal, district,
  subdistrict),
* ``quality``: amount-weighted mean of the contract scores present.

All ratios are missing when their denominator is zero.

The group sums are done on integer codes with ``numpy.bincount`` rather than with a pandas
group-by over string keys: on five million contract rows this is several times faster and uses
far less memory (measured in ``benchmarks/panel.py``), and each step stays a one-line
vectorised expression.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sustain._typing import FloatArray, IntArray
from sustain.options import CONTRACT_TYPES, TIERS

MEASURE_COLUMNS = [
    "revenue_gov",
    "revenue_nongov",
    "revenue_total",
    "gov_share",
    "n_funders",
    "n_contracts",
    "hhi",
    "hhi_norm",
    "entropy",
    "top_share",
    *(f"share_{t}" for t in CONTRACT_TYPES),
    *(f"share_{t}" for t in TIERS),
    "main_tier",
    "quality",
    "log_revenue",
]


def agency_year_measures(
    contracts: pd.DataFrame, revenue: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Compute every funding measure for each agency-year that has contracts or revenue.

    Parameters
    ----------
    contracts : DataFrame
        Columns ``agency_id``, ``year``, ``funder``, ``tier``, ``contract_type``, ``amount``
        and optionally ``score``.
    revenue : DataFrame, optional
        Columns ``agency_id``, ``year``, ``source``, ``amount`` (non-government revenue).

    Returns
    -------
    DataFrame
        Indexed by (``agency_id``, ``year``), sorted, with the columns of ``MEASURE_COLUMNS``.
        Agency-years with neither contracts nor revenue are absent (the panel adds them).

    Examples
    --------
    >>> import pandas as pd
    >>> c = pd.DataFrame({"agency_id": ["a", "a"], "year": [2015, 2015],
    ...                   "funder": ["street1", "bureau"], "tier": ["subdistrict", "district"],
    ...                   "contract_type": ["open_tender", "single_source"],
    ...                   "amount": [300.0, 100.0], "score": [80.0, 90.0]})
    >>> r = pd.DataFrame({"agency_id": ["a"], "year": [2015], "source": ["foundation"],
    ...                   "amount": [100.0]})
    >>> m = agency_year_measures(c, r).loc[("a", 2015)]
    >>> float(m["gov_share"]), round(float(m["hhi"]), 4), float(m["quality"])
    (0.8, 0.44, 82.5)
    """
    revenue = _empty_revenue_like() if revenue is None else revenue
    keys = _AgencyYearKeys.build(contracts, revenue)
    n = keys.n_groups
    gov_codes, rev_codes = keys.contract_codes, keys.revenue_codes
    gov_amount = contracts["amount"].to_numpy(dtype=np.float64)
    rev_amount = revenue["amount"].to_numpy(dtype=np.float64)

    revenue_gov = np.bincount(gov_codes, weights=gov_amount, minlength=n)
    revenue_nongov = np.bincount(rev_codes, weights=rev_amount, minlength=n)
    revenue_total = revenue_gov + revenue_nongov

    funder_group, funder_amount = _funder_totals(
        np.concatenate([gov_codes, rev_codes]),
        np.concatenate(
            [
                _codes(contracts["funder"]),
                _codes(revenue["source"]) + _n_levels(contracts["funder"]),
            ]
        ),
        np.concatenate([gov_amount, rev_amount]),
    )
    out = {
        "revenue_gov": revenue_gov,
        "revenue_nongov": revenue_nongov,
        "revenue_total": revenue_total,
        "gov_share": _ratio(revenue_gov, revenue_total),
        "n_contracts": np.bincount(gov_codes, minlength=n).astype(np.int64),
    }
    out.update(_concentration(funder_group, funder_amount, revenue_total, n))
    out.update(_mix(contracts, gov_codes, gov_amount, revenue_gov, n))
    out["quality"] = _quality(contracts, gov_codes, gov_amount, n)
    with np.errstate(divide="ignore"):
        out["log_revenue"] = np.where(revenue_total > 0, np.log(revenue_total), np.nan)
    frame = pd.DataFrame(out, index=keys.index)
    return frame[MEASURE_COLUMNS]


class _AgencyYearKeys:
    """Integer codes of the agency-years present in contracts or revenue, in sorted order."""

    def __init__(self, index: pd.MultiIndex, contract_codes: IntArray, revenue_codes: IntArray):
        self.index = index
        self.contract_codes = contract_codes
        self.revenue_codes = revenue_codes
        self.n_groups = len(index)

    @classmethod
    def build(cls, contracts: pd.DataFrame, revenue: pd.DataFrame) -> _AgencyYearKeys:
        agency = pd.concat([contracts["agency_id"], revenue["agency_id"]], ignore_index=True)
        year = np.concatenate(
            [contracts["year"].to_numpy(np.int64), revenue["year"].to_numpy(np.int64)]
        )
        agency_codes, agency_levels = pd.factorize(agency, sort=True)
        y0 = int(year.min()) if len(year) else 0
        span = int(year.max()) - y0 + 1 if len(year) else 1
        key = agency_codes.astype(np.int64) * span + (year - y0)
        unique_keys, inverse = np.unique(key, return_inverse=True)
        index = pd.MultiIndex.from_arrays(
            [agency_levels[unique_keys // span], (unique_keys % span) + y0],
            names=["agency_id", "year"],
        )
        n_contracts = len(contracts)
        return cls(index, inverse[:n_contracts], inverse[n_contracts:])


def _empty_revenue_like() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "agency_id": pd.Series(dtype="object"),
            "year": pd.Series(dtype="int64"),
            "source": pd.Series(dtype="object"),
            "amount": pd.Series(dtype="float64"),
        }
    )


def _codes(values: pd.Series) -> IntArray:
    return pd.factorize(values)[0].astype(np.int64)


def _n_levels(values: pd.Series) -> int:
    return int(values.nunique(dropna=False))


def _ratio(num: FloatArray, den: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, np.nan)


def _funder_totals(
    group: IntArray, funder: IntArray, amount: FloatArray
) -> tuple[IntArray, FloatArray]:
    """Sum amounts per (agency-year, funder); return each pair's agency-year and total."""
    n_funders = int(funder.max()) + 1 if len(funder) else 1
    pair = group * n_funders + funder
    unique_pairs, inverse = np.unique(pair, return_inverse=True)
    totals = np.bincount(inverse, weights=amount, minlength=len(unique_pairs))
    keep = totals > 0  # zero-amount revenue sources are not funders
    return (unique_pairs // n_funders)[keep], totals[keep]


def _concentration(
    group: IntArray, amount: FloatArray, total: FloatArray, n: int
) -> dict[str, FloatArray | IntArray]:
    share = amount / total[group]
    n_funders = np.bincount(group, minlength=n).astype(np.int64)
    hhi = np.bincount(group, weights=share**2, minlength=n)
    entropy = 0.0 - np.bincount(group, weights=share * np.log(share), minlength=n)
    top = np.zeros(n)
    np.maximum.at(top, group, share)
    has = total > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        hhi_norm = np.where(n_funders > 1, (hhi - 1 / n_funders) / (1 - 1 / n_funders), 1.0)
    return {
        "n_funders": n_funders,
        "hhi": np.where(has, hhi, np.nan),
        "hhi_norm": np.where(has, hhi_norm, np.nan),
        "entropy": np.where(has, entropy, np.nan),
        "top_share": np.where(has, top, np.nan),
    }


def _mix(
    contracts: pd.DataFrame, group: IntArray, amount: FloatArray, revenue_gov: FloatArray, n: int
) -> dict[str, FloatArray | np.ndarray]:
    out: dict[str, FloatArray | np.ndarray] = {}
    for column, levels in (("contract_type", CONTRACT_TYPES), ("tier", TIERS)):
        values = contracts[column].to_numpy()
        sums = [np.bincount(group, weights=amount * (values == lv), minlength=n) for lv in levels]
        for level, s in zip(levels, sums, strict=True):
            out[f"share_{level}"] = _ratio(s, revenue_gov)
        if column == "tier":
            by_tier = np.column_stack(sums) if sums else np.zeros((n, 0))
            main = np.asarray(TIERS, dtype=object)[np.argmax(by_tier, axis=1)]
            out["main_tier"] = np.where(revenue_gov > 0, main, None)
    return out


def _quality(contracts: pd.DataFrame, group: IntArray, amount: FloatArray, n: int) -> FloatArray:
    if "score" not in contracts:
        return np.full(n, np.nan)
    score = pd.to_numeric(contracts["score"], errors="coerce").to_numpy(dtype=np.float64)
    scored = ~np.isnan(score)
    weight = np.where(scored, amount, 0.0)
    num = np.bincount(group, weights=weight * np.where(scored, score, 0.0), minlength=n)
    den = np.bincount(group, weights=weight, minlength=n)
    return _ratio(num, den)
