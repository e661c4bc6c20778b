"""The simulated Guangzhou-like world: geography, funders, agencies and their funding.

Everything here is a pure function of a ``numpy.random.Generator`` and plain parameters, and
everything is vectorised over agencies, agency-years or contracts (no Python loop runs over
agencies), so :func:`sustain.simulate` scales to tens of thousands of agencies.

The world is described in ``docs/simulation.md``. In short: 11 districts with 171 street offices
(the subdistrict tier), five bureaus per district and five municipal funders; every agency holds a
*primary line* of back-to-back contracts covering each year it operates (three-year integrated
family-service-centre (FSC) contracts of about 2 million yuan a year from a street office, or
two-year district or municipal projects), plus *extra* contracts that start and end at random
(funders come and go), plus, in some years, non-government revenue.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from sustain._typing import BoolArray, FloatArray, IntArray

# District: (English name, Chinese name, street offices). The street-office names are modelled on
# Guangzhou's streets and towns (about 170 in the 2010s); towns are treated as street offices.
DISTRICTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Yuexiu", "越秀", ("Hongqiao", "Beijing", "Liurong", "Liuhua", "Guangta", "Renmin",
                        "Dongshan", "Nonglin", "Meihuacun", "Huanghuagang", "Huale", "Jianshe",
                        "Datang", "Zhuguang", "Dadong", "Baiyun", "Dengfeng", "Kuangquan")),
    ("Haizhu", "海珠", ("Chigang", "Xingang", "Changgang", "Jiangnanzhong", "Binjiang", "Sushe",
                        "Haizhuang", "Nanhuaxi", "Longfeng", "Shayuan", "Nanshitou", "Fengyang",
                        "Ruibao", "Jianghai", "Pazhou", "Nanzhou", "Huazhou", "Guanzhou")),
    ("Liwan", "荔湾", ("Shamian", "Lingnan", "Hualin", "Duobao", "Changhua", "Fengyuan",
                       "Longjin", "Jinhua", "Caihong", "Nanyuan", "Xicun", "Zhanqian", "Qiaozhong",
                       "Baihedong", "Chongkou", "Huadi", "Shiweitang", "Chajiao", "Dongjiao",
                       "Hailong", "Dongsha", "Zhongnan")),
    ("Tianhe", "天河", ("Wushan", "Yuancun", "Chebei", "Shahe", "Shipai", "Shadong",
                        "Tianhenan", "Linhe", "Xinghua", "Tangxia", "Tianyuan", "Liede", "Xiancun",
                        "Yuangang", "Huangcun", "Changxing", "Longdong", "Fenghuang", "Qianjin",
                        "Zhuji", "Xintang")),
    ("Baiyun", "白云", ("Sanyuanli", "Songzhou", "Jingtai", "Tongde", "Huangshi", "Tangjing",
                        "Xinshi", "Tonghe", "Jingxi", "Yongping", "Jiahe", "Junhe", "Shijing",
                        "Jinsha", "Yuncheng", "Helong", "Baiyunhu", "Shimen", "Longgui", "Dayuan",
                        "Renhe", "Taihe")),
    ("Huangpu", "黄埔", ("Huangpu", "Hongshan", "Yuzhu", "Dasha", "Wenchong", "Suidong",
                         "Nangang", "Changzhou", "Xiagang", "Luogang", "Lianhe", "Yonghe",
                         "Changling", "Yunpu", "Longhu", "Xinlong")),
    ("Panyu", "番禺", ("Shiqiao", "Shatou", "Donghuan", "Qiaonan", "Xiaoguwei", "Dashi", "Luopu",
                       "Shibi", "Zhongcun", "Dalong", "Nancun", "Xinzao", "Hualong", "Shilou",
                       "Shiji", "Shawan")),
    ("Huadu", "花都", ("Xinhua", "Xinya", "Xiuquan", "Huacheng", "Shiling", "Tanbu", "Chini",
                       "Huashan", "Huadong", "Timian")),
    ("Nansha", "南沙", ("Nansha", "Zhujiang", "Longxue", "Huangge", "Hengli", "Wanqingsha",
                        "Dongchong", "Dagang", "Lanhe")),
    ("Conghua", "从化", ("Jiekou", "Chengjiao", "Jiangpu", "Wenquan", "Liangkou", "Lvtian",
                         "Taiping", "Aotou")),
    ("Zengcheng", "增城", ("Licheng", "Zengjiang", "Zhucun", "Yongning", "Lihu", "Ningxi",
                           "Xintang", "Shitan", "Zhongxin", "Paitan", "Xiaolou")),
)  # fmt: skip

# District bureaus that buy services: (name suffix, weight, services they buy).
BUREAUS: tuple[tuple[str, float, tuple[str, ...]], ...] = (
    ("Civil Affairs Bureau", 0.45, ("elderly", "community", "family")),
    ("Women's Federation", 0.15, ("family",)),
    ("Youth League Committee", 0.15, ("youth",)),
    ("Disabled Persons' Federation", 0.15, ("disability",)),
    ("Justice Bureau", 0.10, ("community",)),
)
# Municipal funders, same layout.
MUNICIPAL: tuple[tuple[str, float, tuple[str, ...]], ...] = (
    ("Guangzhou Civil Affairs Bureau", 0.40, ("elderly", "community")),
    ("Guangzhou Women's Federation", 0.15, ("family",)),
    ("Guangzhou Youth League Committee", 0.15, ("youth",)),
    ("Guangzhou Disabled Persons' Federation", 0.15, ("disability",)),
    ("Guangzhou Health Commission", 0.15, ("elderly", "community")),
)
PROJECT_SERVICES: tuple[tuple[str, float], ...] = (
    ("elderly", 0.35),
    ("youth", 0.25),
    ("community", 0.25),
    ("disability", 0.15),
)

ORIGINS: tuple[tuple[str, float], ...] = (
    ("grassroots", 0.40),
    ("government_initiated", 0.25),
    ("university", 0.15),
    ("hong_kong_linked", 0.10),
    ("enterprise", 0.10),
)
ORIGIN_TILT = {"government_initiated": 2.5}  # non-competitive awards more likely

# Contract kinds: FSC, street-office project, district project, municipal project.
FSC, STREET_PROJECT, DISTRICT_PROJECT, MUNICIPAL_PROJECT = 0, 1, 2, 3
KIND_TIER = np.array(["subdistrict", "subdistrict", "district", "municipal"], dtype=object)
# Median yearly amount (yuan, in the first simulated year) and log-sd of each kind.
KIND_MEDIAN = np.array([2.0e6, 1.2e5, 3.5e5, 2.5e5])
KIND_LOG_SD = np.array([0.06, 0.5, 0.6, 0.6])
AMOUNT_GROWTH = 0.01  # yearly growth of new contracts' amounts
# Procurement method probabilities by kind, columns in PROCUREMENT order.
PROCUREMENT: tuple[str, ...] = (
    "open_tender",
    "directed_commission",
    "single_source",
    "competitive_consultation",
    "competitive_negotiation",
    "invited_tender",
    "request_for_quotation",
)
NONCOMPETITIVE = np.array([False, True, True, False, False, False, False])
PROCUREMENT_P = np.array(
    [
        [0.86, 0.06, 0.03, 0.03, 0.02, 0.00, 0.00],  # FSC
        [0.50, 0.16, 0.10, 0.08, 0.06, 0.04, 0.06],  # street-office project
        [0.58, 0.14, 0.08, 0.07, 0.07, 0.04, 0.02],  # district project
        [0.70, 0.08, 0.06, 0.05, 0.06, 0.05, 0.00],  # municipal project
    ]
)

PRIMARY_TERM = {True: 3, False: 2}  # years per primary contract: FSC / other
PRIMARY_OTHER_KINDS = np.array([0.25, 0.60, 0.15])  # street, district, municipal project
RENEW_SAME_FUNDER = 0.6  # probability a re-tendered primary contract stays with its funder
EXTRA_RATE = 0.45  # extra contracts started per agency-year at average size
EXTRA_KINDS = np.array([0.08, 0.37, 0.40, 0.15])  # FSC, street, district, municipal
EXTRA_DURATION = np.array([0.40, 0.35, 0.25])  # 1, 2, 3 years
AWAY_FROM_HOME = 0.10  # share of subdistrict/district contracts bought outside home district

SOURCES: tuple[str, ...] = ("foundation", "donation", "fee", "enterprise")
SOURCE_RATE = np.array([0.55, 0.55, 0.30, 0.40])  # times the agency's non-government propensity
SOURCE_MEDIAN = np.array([1.5e5, 5.0e4, 6.0e4, 1.0e5])
SOURCE_LOG_SD = 0.8


@dataclass(frozen=True, slots=True)
class Funders:
    """Every government funder of the world.

    Attributes
    ----------
    name, tier, district : ndarray of object, shape (n_funders,)
        Funder name, its tier and its district (``""`` for municipal funders).
    street_start, street_count : IntArray, shape (n_districts,)
        Rows of each district's street offices (they are contiguous).
    bureau_start : IntArray, shape (n_districts,)
        First row of each district's bureaus (``len(BUREAUS)`` contiguous rows).
    municipal_start : int
        First row of the municipal funders.
    """

    name: np.ndarray
    tier: np.ndarray
    district: np.ndarray
    street_start: IntArray
    street_count: IntArray
    bureau_start: IntArray
    municipal_start: int


def district_names() -> list[str]:
    """The 11 district names in the simulation's order.

    Examples
    --------
    >>> district_names()[:3]
    ['Yuexiu', 'Haizhu', 'Liwan']
    """
    return [d[0] for d in DISTRICTS]


def build_funders() -> Funders:
    """Build the fixed table of funders (it does not depend on the seed).

    Examples
    --------
    >>> f = build_funders()
    >>> int(f.street_count.sum()), str(f.name[f.street_start[1] + 7])
    (171, 'Haizhu Nanhuaxi Street Office')
    """
    names: list[str] = []
    tiers: list[str] = []
    districts: list[str] = []
    street_start, street_count, bureau_start = [], [], []
    for district, _, streets in DISTRICTS:
        street_start.append(len(names))
        street_count.append(len(streets))
        names += [f"{district} {s} Street Office" for s in streets]
        tiers += ["subdistrict"] * len(streets)
        districts += [district] * len(streets)
    for district, _, _ in DISTRICTS:
        bureau_start.append(len(names))
        names += [f"{district} {b[0]}" for b in BUREAUS]
        tiers += ["district"] * len(BUREAUS)
        districts += [district] * len(BUREAUS)
    municipal_start = len(names)
    names += [m[0] for m in MUNICIPAL]
    tiers += ["municipal"] * len(MUNICIPAL)
    districts += [""] * len(MUNICIPAL)
    return Funders(
        name=np.array(names, dtype=object),
        tier=np.array(tiers, dtype=object),
        district=np.array(districts, dtype=object),
        street_start=np.array(street_start, dtype=np.int64),
        street_count=np.array(street_count, dtype=np.int64),
        bureau_start=np.array(bureau_start, dtype=np.int64),
        municipal_start=municipal_start,
    )


@dataclass(frozen=True, slots=True)
class Agencies:
    """Agency-level traits, one entry per agency (arrays of shape (n_agencies,)).

    Attributes
    ----------
    district : IntArray
        Index into :data:`DISTRICTS` of the registered district.
    founded, entry : IntArray
        Founding year and first simulated year (``max(founded, first_year)``).
    origin : ndarray of object
        Origin label.
    size : FloatArray
        Standard-normal size trait: larger agencies hold more contracts.
    fsc : BoolArray
        Whether the agency's primary line is a family-service-centre contract.
    tilt : FloatArray
        Multiplier of the odds of non-competitive awards (directed commission, single source).
    nongov : FloatArray
        Propensity to raise non-government revenue in a year (Beta(2, 4)).
    """

    district: IntArray
    founded: IntArray
    entry: IntArray
    origin: np.ndarray
    size: FloatArray
    fsc: BoolArray
    tilt: FloatArray
    nongov: FloatArray


def draw_agencies(
    rng: np.random.Generator, n: int, first_year: int, founded_range: tuple[int, int]
) -> Agencies:
    """Draw the agencies' traits.

    Districts are drawn in proportion to their number of street offices, founding years
    uniformly over ``founded_range``, origins from :data:`ORIGINS`.

    Examples
    --------
    >>> a = draw_agencies(np.random.default_rng(0), 5, 2012, (2008, 2018))
    >>> a.founded.shape, bool((a.entry >= 2012).all())
    ((5,), True)
    """
    weights = np.array([len(d[2]) for d in DISTRICTS], dtype=float)
    district = rng.choice(len(DISTRICTS), size=n, p=weights / weights.sum())
    founded = rng.integers(founded_range[0], founded_range[1] + 1, size=n)
    origin_names = np.array([o[0] for o in ORIGINS], dtype=object)
    origin = origin_names[rng.choice(len(ORIGINS), size=n, p=[o[1] for o in ORIGINS])]
    size = rng.standard_normal(n)
    fsc = rng.random(n) < 1.0 / (1.0 + np.exp(-1.2 * size))
    tilt = np.ones(n)
    for label, factor in ORIGIN_TILT.items():
        tilt[origin == label] = factor
    return Agencies(
        district=district.astype(np.int64),
        founded=founded.astype(np.int64),
        entry=np.maximum(founded, first_year).astype(np.int64),
        origin=origin,
        size=size,
        fsc=fsc,
        tilt=tilt,
        nongov=rng.beta(2.0, 4.0, size=n),
    )


@dataclass(frozen=True, slots=True)
class Spells:
    """Contracts as spells of consecutive years (arrays of shape (n_spells,)).

    Attributes
    ----------
    agency : IntArray
        Agency index.
    start, end : IntArray
        First and last fiscal year (inclusive).
    kind : IntArray
        ``FSC``, ``STREET_PROJECT``, ``DISTRICT_PROJECT`` or ``MUNICIPAL_PROJECT``.
    funder : IntArray
        Row in :class:`Funders`.
    """

    agency: IntArray
    start: IntArray
    end: IntArray
    kind: IntArray
    funder: IntArray


def agency_years(agencies: Agencies, last_year: int) -> tuple[IntArray, IntArray]:
    """Every (agency, year) from the agency's entry to ``last_year``, sorted by agency, year.

    Examples
    --------
    >>> a = draw_agencies(np.random.default_rng(0), 2, 2022, (2022, 2022))
    >>> agency_years(a, 2023)
    (array([0, 0, 1, 1]), array([2022, 2023, 2022, 2023]))
    """
    length = last_year - agencies.entry + 1
    agency = np.repeat(np.arange(len(length), dtype=np.int64), length)
    offset = np.arange(len(agency)) - np.repeat(np.cumsum(length) - length, length)
    return agency, agencies.entry[agency] + offset


def primary_spells(
    rng: np.random.Generator, agencies: Agencies, funders: Funders, last_year: int
) -> Spells:
    """Back-to-back primary contracts covering every year of every agency.

    FSC agencies hold three-year street-office FSC contracts, the others two-year projects; the
    first term starts at a random phase, and a re-tendered contract stays with the same funder
    with probability ``RENEW_SAME_FUNDER``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a = draw_agencies(rng, 3, 2012, (2008, 2018))
    >>> s = primary_spells(rng, a, build_funders(), 2023)
    >>> bool((s.end >= s.start).all())
    True
    """
    agency, year = agency_years(agencies, last_year)
    term_length = np.where(agencies.fsc, PRIMARY_TERM[True], PRIMARY_TERM[False])
    phase = (rng.random(len(term_length)) * term_length).astype(np.int64)
    term = (year - agencies.entry[agency] + phase[agency]) // term_length[agency]
    span = int(term.max()) + 1 if len(term) else 1
    keys, first = np.unique(agency * span + term, return_index=True)
    spell_agency = agency[first]
    start = year[first]
    end = np.minimum(
        agencies.entry[spell_agency]
        - phase[spell_agency]
        + (keys % span + 1) * term_length[spell_agency]
        - 1,
        last_year,
    )
    other = 1 + rng.choice(3, size=len(keys), p=PRIMARY_OTHER_KINDS)
    kind = np.where(agencies.fsc[spell_agency], FSC, other)
    candidate = draw_funders(rng, kind, agencies.district[spell_agency], funders)
    new_agency = np.r_[True, spell_agency[1:] != spell_agency[:-1]]
    switch = new_agency | (rng.random(len(keys)) >= RENEW_SAME_FUNDER)
    last_switch = np.maximum.accumulate(np.where(switch, np.arange(len(keys)), 0))
    keep_kind = kind[last_switch]
    return Spells(spell_agency, start, end, keep_kind, candidate[last_switch])


def extra_spells(
    rng: np.random.Generator, agencies: Agencies, funders: Funders, last_year: int
) -> Spells:
    """Extra contracts that start in a random year and last one to three years.

    Their number is Poisson with mean ``EXTRA_RATE * exp(0.5 * size)`` per operating year.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a = draw_agencies(rng, 50, 2012, (2008, 2018))
    >>> s = extra_spells(rng, a, build_funders(), 2023)
    >>> bool((s.end <= 2023).all() and (s.start >= a.entry[s.agency]).all())
    True
    """
    window = last_year - agencies.entry + 1
    count = rng.poisson(EXTRA_RATE * np.exp(0.5 * agencies.size) * window)
    agency = np.repeat(np.arange(len(count), dtype=np.int64), count)
    start = agencies.entry[agency] + (rng.random(len(agency)) * window[agency]).astype(np.int64)
    duration = 1 + rng.choice(len(EXTRA_DURATION), size=len(agency), p=EXTRA_DURATION)
    kind = rng.choice(len(EXTRA_KINDS), size=len(agency), p=EXTRA_KINDS).astype(np.int64)
    funder = draw_funders(rng, kind, agencies.district[agency], funders)
    return Spells(agency, start, np.minimum(start + duration - 1, last_year), kind, funder)


def combine_spells(*parts: Spells) -> Spells:
    """Concatenate spells and sort them by agency, then start year (ties keep their order).

    Examples
    --------
    >>> one = Spells(*(np.array([1]),) * 3, np.array([0]), np.array([5]))
    >>> two = Spells(*(np.array([0]),) * 3, np.array([2]), np.array([7]))
    >>> combine_spells(one, two).funder
    array([7, 5])
    """
    names = [f.name for f in dataclasses.fields(Spells)]
    joined = {name: np.concatenate([getattr(p, name) for p in parts]) for name in names}
    order = np.lexsort((joined["start"], joined["agency"]))
    return Spells(**{name: values[order] for name, values in joined.items()})


def draw_funders(
    rng: np.random.Generator, kind: IntArray, home: IntArray, funders: Funders
) -> IntArray:
    """Draw a funder row for each contract of the given kind and the agency's home district.

    Subdistrict and district contracts come from the home district except for a share
    ``AWAY_FROM_HOME`` bought elsewhere; bureaus and municipal funders by their weights.

    Examples
    --------
    >>> f = build_funders()
    >>> rows = draw_funders(np.random.default_rng(1), np.array([0, 2, 3]), np.array([1, 1, 1]), f)
    >>> [str(t) for t in f.tier[rows]]
    ['subdistrict', 'district', 'municipal']
    """
    n = len(kind)
    n_districts = len(funders.street_count)
    away = rng.random(n) < AWAY_FROM_HOME
    weights = funders.street_count / funders.street_count.sum()
    district = np.where(away, rng.choice(n_districts, size=n, p=weights), home)
    street = funders.street_start[district] + (
        rng.random(n) * funders.street_count[district]
    ).astype(np.int64)
    bureau_p = np.array([b[1] for b in BUREAUS])
    bureau = funders.bureau_start[district] + rng.choice(len(BUREAUS), size=n, p=bureau_p)
    municipal_p = np.array([m[1] for m in MUNICIPAL])
    municipal = funders.municipal_start + rng.choice(len(MUNICIPAL), size=n, p=municipal_p)
    return np.select(
        [kind <= STREET_PROJECT, kind == DISTRICT_PROJECT], [street, bureau], default=municipal
    ).astype(np.int64)


def draw_procurement(rng: np.random.Generator, kind: IntArray, tilt: FloatArray) -> np.ndarray:
    """Draw each contract's procurement method given its kind and the agency's tilt.

    The non-competitive methods' probabilities are multiplied by ``tilt`` and the row is
    renormalised.

    Examples
    --------
    >>> m = draw_procurement(np.random.default_rng(0), np.zeros(1000, dtype=np.int64),
    ...                      np.ones(1000))
    >>> bool((m == "open_tender").mean() > 0.8)
    True
    """
    p = PROCUREMENT_P[kind] * np.where(NONCOMPETITIVE, tilt[:, None], 1.0)
    cumulative = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
    u = rng.random(len(kind))[:, None]
    choice = np.minimum((u > cumulative).sum(axis=1), len(PROCUREMENT) - 1)
    return np.asarray(PROCUREMENT, dtype=object)[choice]


def draw_services(rng: np.random.Generator, kind: IntArray, funder: IntArray) -> np.ndarray:
    """Draw each contract's service: FSCs are family services, projects follow their funder.

    Examples
    --------
    >>> f = build_funders()
    >>> s = draw_services(np.random.default_rng(0), np.array([0]), np.array([0]))
    >>> [str(x) for x in s]
    ['family']
    """
    n = len(kind)
    u = rng.random(n)
    project_names = np.array([s[0] for s in PROJECT_SERVICES], dtype=object)
    project_cum = np.cumsum([s[1] for s in PROJECT_SERVICES])
    project = project_names[np.minimum(np.searchsorted(project_cum, u), len(project_cum) - 1)]
    bureau_services = _funder_services()
    options = bureau_services[np.clip(funder, 0, len(bureau_services) - 1)]
    counts = np.array([len(o) for o in options], dtype=np.int64)
    pick = np.minimum((u * counts).astype(np.int64), counts - 1)
    by_funder = np.array([o[k] for o, k in zip(options, pick, strict=True)], dtype=object)
    out = np.where(kind == FSC, "family", np.where(kind == STREET_PROJECT, project, by_funder))
    return out.astype(object)


def _funder_services() -> np.ndarray:
    """Services each funder row buys (street offices: family; see ``draw_services``)."""
    funders = build_funders()
    services: list[tuple[str, ...]] = [("family",)] * int(funders.bureau_start[0])
    for _ in DISTRICTS:
        services += [b[2] for b in BUREAUS]
    services += [m[2] for m in MUNICIPAL]
    out = np.empty(len(services), dtype=object)
    out[:] = services
    return out


def draw_amounts(
    rng: np.random.Generator, kind: IntArray, start: IntArray, first_year: int
) -> FloatArray:
    """Yearly amount of each contract (constant over its years), rounded to cents.

    Log-normal around ``KIND_MEDIAN`` with log-sd ``KIND_LOG_SD``, growing by
    ``AMOUNT_GROWTH`` a year with the contract's start year.

    Examples
    --------
    >>> a = draw_amounts(np.random.default_rng(0), np.zeros(500, dtype=np.int64),
    ...                  np.full(500, 2012), 2012)
    >>> bool(1.7e6 < np.median(a) < 2.3e6)
    True
    """
    log_amount = np.log(KIND_MEDIAN[kind]) + KIND_LOG_SD[kind] * rng.standard_normal(len(kind))
    growth = (1.0 + AMOUNT_GROWTH) ** (start - first_year)
    return to_cents(np.exp(log_amount) * growth)


def draw_revenue(
    rng: np.random.Generator, agencies: Agencies, agency: IntArray, year: IntArray
) -> tuple[IntArray, IntArray, IntArray, FloatArray]:
    """Non-government revenue rows for the given agency-years.

    Each source is present in an agency-year with probability ``SOURCE_RATE * nongov`` and
    then brings a log-normal amount (median ``SOURCE_MEDIAN``, log-sd ``SOURCE_LOG_SD``).

    Returns
    -------
    agency, year, source, amount
        One entry per revenue row; ``source`` indexes :data:`SOURCES`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a = draw_agencies(rng, 20, 2012, (2008, 2018))
    >>> ag, yr, src, amt = draw_revenue(rng, a, *agency_years(a, 2023))
    >>> bool((amt > 0).all())
    True
    """
    present = rng.random((len(agency), len(SOURCES))) < SOURCE_RATE * agencies.nongov[agency, None]
    log_amount = np.log(SOURCE_MEDIAN) + SOURCE_LOG_SD * rng.standard_normal(present.shape)
    row, source = np.nonzero(present)
    amount = to_cents(np.exp(log_amount[row, source]))
    return agency[row], year[row], source.astype(np.int64), amount


def to_cents(x: FloatArray) -> FloatArray:
    """Round to cents so that the result equals the float parsed from its two-decimal text.

    ``rint(100 x) / 100`` is an integer divided by 100, which IEEE division rounds correctly to
    the double nearest that decimal, the same double ``float("....xx")`` gives; this makes the
    example data identical after a CSV round trip.

    Examples
    --------
    >>> to_cents(np.array([1.005, 2.0]))
    array([1., 2.])
    """
    return np.rint(np.asarray(x, dtype=np.float64) * 100.0) / 100.0


CHINESE_FIRST = "启明德恒仁和康乐善立同众信安悦睿博正扬嘉阳春雨青"
CHINESE_SECOND = "心行德创成源禾爱达华泽晖益智桥航星光朗润海志诚远"
NAME_STEP = 97  # coprime with the number of combinations, so r -> 97 r is a permutation
CHINESE_SUFFIX = ("社会工作服务中心", "社工服务社", "社会工作服务站", "社会服务中心")


def agency_names(district: IntArray) -> np.ndarray:
    """Unicode agency names such as ``广州市海珠区启心社会工作服务中心``, unique within the data.

    The r-th agency of a district gets combination ``(97 r) mod 2304`` of a fixed list of 2,304
    (a permutation, so names are distinct); beyond 2,304 agencies a number is appended.

    Examples
    --------
    >>> [str(x) for x in agency_names(np.array([1, 1]))]
    ['广州市海珠区启心社会工作服务中心', '广州市海珠区仁行社会工作服务中心']
    """
    n1, n2, n3 = len(CHINESE_FIRST), len(CHINESE_SECOND), len(CHINESE_SUFFIX)
    order = np.argsort(district, kind="stable")
    rank = np.empty(len(district), dtype=np.int64)
    rank[order] = np.arange(len(district)) - np.searchsorted(district[order], district[order])
    names = []
    for d, r in zip(district.tolist(), rank.tolist(), strict=True):
        k = (NAME_STEP * r) % (n1 * n2 * n3)
        word = CHINESE_FIRST[(k // n2) % n1] + CHINESE_SECOND[k % n2]
        suffix = CHINESE_SUFFIX[k // (n1 * n2)] + (
            str(r // (n1 * n2 * n3)) if r >= n1 * n2 * n3 else ""
        )
        names.append(f"广州市{DISTRICTS[d][1]}区{word}{suffix}")
    return np.array(names, dtype=object)
