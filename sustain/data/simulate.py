"""Simulate agencies, contracts and revenue from a Guangzhou-like world with known truth.

:func:`simulate` generates a :class:`~sustain.data.dataset.Dataset` in which service quality
and exit depend on the funding measures of :func:`sustain.data.measures.agency_year_measures`
through coefficients returned alongside the data (:class:`Truth`), so that estimators can be
checked for recovery. The data-generating process is documented in ``docs/simulation.md``; the
world itself (districts, street offices, funders, contracts) lives in
:mod:`sustain.data._world`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sustain._typing import FloatArray, IntArray
from sustain.data import _exits as exits
from sustain.data import _world as world
from sustain.data._exits import DEFAULT_REASONS as DEFAULT_REASONS
from sustain.data._exits import REFERENCE_REASON as REFERENCE_REASON
from sustain.data._exits import cause_eta as cause_eta
from sustain.data.dataset import Dataset
from sustain.data.measures import MEASURE_COLUMNS, agency_year_measures
from sustain.errors import SpecError

DEFAULT_QUALITY: dict[str, float] = {
    "Intercept": 92.0,
    "hhi": -6.0,
    "gov_share": -5.0,
    "share_directed_commission": -3.0,
    "share_single_source": -2.5,
    "share_subdistrict": -2.0,
}
DEFAULT_HAZARD: dict[str, float] = {
    "Intercept": 0.6,
    "hhi": 1.5,
    "gov_share": 1.5,
    "log_revenue": -0.5,
}
UNSCORED_SHARE = 0.06  # share of contract-years without an evaluation score
# Columns a coefficient may refer to: the numeric funding measures and age.
COVARIATES: tuple[str, ...] = (
    *(c for c in MEASURE_COLUMNS if c not in ("main_tier", "quality")),
    "age",
)


@dataclass(frozen=True)
class Truth:
    """The parameters that generated a simulation.

    Agency-year latent quality is ``q_it = Intercept + sum_k quality[k] * x_itk + u_i + v_d +
    e_it`` with ``u_i ~ N(0, sd_agency)``, ``v_d ~ N(0, sd_district)``, ``e_it ~ N(0, sigma)``;
    each contract-year score is ``q_it`` plus ``N(0, sd_contract)`` noise, clipped to [0, 100]
    and rounded to one decimal. Exit in year t has the complementary log-log hazard
    ``cloglog h_it = Intercept + sum_k hazard[k] * x_itk + age_amplitude * exp(-age_it /
    age_scale) + w_d + association * u_i`` with ``w_d ~ N(0, sd_district_hazard)``.

    Attributes
    ----------
    quality : dict of str to float
        Quality coefficients keyed by panel column (plus ``"Intercept"``).
    hazard : dict of str to float
        Exit-hazard coefficients keyed by panel column (plus ``"Intercept"``), on the cloglog
        scale.
    sd_agency, sd_district : float
        Standard deviations of the agency and district random intercepts in quality.
    sigma : float
        Standard deviation of the agency-year residual of latent quality.
    association : float
        Effect of the agency's quality intercept ``u_i`` on the log hazard (0: none).
    link : str
        Link of the exit hazard, ``"cloglog"``.
    sd_contract : float
        Standard deviation of contract-level score noise around the agency-year's quality.
    sd_district_hazard : float
        Standard deviation of the district effects ``w_d`` in the log hazard.
    age_amplitude, age_scale : float
        Liability of newness: the log hazard is raised by ``age_amplitude`` at age 0, decaying
        with e-folding time ``age_scale`` years.
    reasons : dict of str to dict
        Exit reasons given an exit (``causes`` empty): ``P(reason = r | exit) =
        exp(z_r) / sum_s exp(z_s)`` with ``z_r`` the linear predictor of ``reasons[r]`` on the
        exit year's measures and ``z = 0`` for :data:`REFERENCE_REASON`.
    causes : dict of str to dict
        Competing causes of exit (``simulate(cause_coefs=...)``): exit and its cause are drawn
        together from a multinomial logit, ``P(exit for cause k) = exp(eta_k) / (1 + sum_j
        exp(eta_j))`` with ``eta_k = causes[k] . x + age effect + w_d + association * u_i``;
        ``hazard`` is then unused (``link == "mlogit"``).

    Examples
    --------
    >>> t = Truth(quality={"Intercept": 80.0}, hazard={"Intercept": -3.0}, sd_agency=4.0,
    ...           sd_district=2.0, sigma=3.0)
    >>> round(float(t.age_effect(np.array([0.0]))[0]), 2)
    0.8
    """

    quality: dict[str, float]
    hazard: dict[str, float]
    sd_agency: float
    sd_district: float
    sigma: float
    association: float = 0.0
    link: str = "cloglog"
    sd_contract: float = 2.0
    sd_district_hazard: float = 0.2
    age_amplitude: float = 0.8
    age_scale: float = 3.0
    reasons: dict[str, dict[str, float]] = field(default_factory=dict)
    causes: dict[str, dict[str, float]] = field(default_factory=dict)

    def age_effect(self, age: FloatArray | IntArray) -> FloatArray:
        """Duration dependence of the log hazard: ``age_amplitude * exp(-age / age_scale)``.

        Examples
        --------
        >>> t = Truth({"Intercept": 0.0}, {"Intercept": 0.0}, 1.0, 1.0, 1.0, age_amplitude=1.0)
        >>> float(t.age_effect(np.array([0]))[0])
        1.0
        """
        return self.age_amplitude * np.exp(-np.asarray(age, dtype=np.float64) / self.age_scale)


@dataclass(frozen=True)
class Simulation:
    """A simulated data set together with the truth that generated it.

    Attributes
    ----------
    data : Dataset
        Agencies, contracts and non-government revenue, following the input data contract.
    truth : Truth
        Coefficients and variance parameters of the quality and exit models.
    latent : DataFrame
        One row per agency: ``agency_id``, ``district``, ``agency_effect`` (``u_i``, the
        random intercept in quality), ``district_effect`` (``v_d``), ``district_hazard_effect``
        (``w_d``), and the world's traits ``size``, ``fsc``, ``tilt``, ``nongov``.
    latent_years : DataFrame
        One row per agency-year at risk (as in the panel), indexed (``agency_id``, ``year``):
        ``latent_quality`` (``q_it``), ``residual`` (``e_it``), ``eta`` (the cloglog linear
        predictor of exit; in competing-causes mode one ``eta_<cause>`` per cause), ``hazard``
        (the exit probability; ``hazard_<cause>`` per cause) and ``exit``.
    seed : int
        The seed the simulation was drawn with.
    clipped_share : float
        Share of contract scores that were clipped at 0 or 100.

    Examples
    --------
    >>> sim = simulate(seed=1, n_agencies=30)
    >>> sim.truth.link, len(sim.latent)
    ('cloglog', 30)
    """

    data: Dataset
    truth: Truth
    latent: pd.DataFrame
    latent_years: pd.DataFrame = field(repr=False)
    seed: int = 0
    clipped_share: float = 0.0


@dataclass(frozen=True, slots=True)
class _Contracts:
    """Uncensored contract-year rows as arrays (shape (n_rows,)) plus string columns."""

    agency: IntArray
    year: IntArray
    frame: pd.DataFrame


def simulate(
    seed: int,
    n_agencies: int = 400,
    first_year: int = 2012,
    last_year: int = 2023,
    association: float = 0.0,
    *,
    quality_coefs: Mapping[str, float] | None = None,
    hazard_coefs: Mapping[str, float] | None = None,
    sd_agency: float = 4.0,
    sd_district: float = 2.0,
    sigma: float = 3.0,
    sd_contract: float = 2.0,
    founded: tuple[int, int] | None = None,
    reason_coefs: Mapping[str, Mapping[str, float]] | None = None,
    cause_coefs: Mapping[str, Mapping[str, float]] | None = None,
) -> Simulation:
    """Simulate a Guangzhou-like population of social-work agencies with known truth.

    Parameters
    ----------
    seed : int
        Seed of ``numpy.random.default_rng``; the same seed gives identical data.
    n_agencies : int
        Number of agencies.
    first_year, last_year : int
        The observed window (contracts, revenue and the panel cover these years).
    association : float
        Effect of the agency's quality intercept on its log exit hazard (per quality point);
        negative values make better agencies survive longer. 0 keeps quality and exit
        independent given the funding measures.
    quality_coefs, hazard_coefs : mapping of str to float, optional
        Coefficients replacing :data:`DEFAULT_QUALITY` or :data:`DEFAULT_HAZARD`; keys are
        ``"Intercept"`` (the default intercept is kept if absent) and names in
        :data:`COVARIATES` (panel columns).
    sd_agency, sd_district, sigma, sd_contract : float
        Standard deviations of the agency and district intercepts, the agency-year residual and
        the contract score noise of quality.
    founded : tuple of int, optional
        Range of founding years, by default ``(first_year - 4, first_year + 6)`` capped at
        ``last_year``; agencies founded before ``first_year`` are left-truncated.
    reason_coefs : mapping of str to mapping, optional
        Reasons of exit given an exit (see :attr:`Truth.reasons`), replacing
        :data:`DEFAULT_REASONS`; ``{}`` leaves ``exit_reason`` blank. Reasons are drawn from a
        random stream of their own, so changing them changes no other column.
    cause_coefs : mapping of str to mapping, optional
        Competing causes of exit with known, different effects (see :attr:`Truth.causes`),
        e.g. ``{"closed": {"Intercept": -3, "hhi": 1.5}, "merged": {"Intercept": -4, "hhi":
        -1.5}}``: exit and its cause are drawn from the multinomial logit that
        ``fit_hazard(..., competing="exit_reason", link="logit")`` estimates. Replaces
        ``hazard_coefs`` and ``reason_coefs``.

    Returns
    -------
    Simulation
        ``.data`` (a :class:`Dataset`), ``.truth``, ``.latent`` and ``.latent_years``.

    Raises
    ------
    SpecError
        If an argument is out of range or a coefficient names an unknown column.

    Notes
    -----
    Funding is generated first (``sustain.data._world``); the funding measures are then
    computed with :func:`sustain.data.measures.agency_year_measures` on the generated tables,
    so ``truth.quality["hhi"]`` multiplies exactly the panel's ``hhi`` column. Latent quality

    .. math:: q_{it} = \\beta_0 + x_{it}'\\beta + u_i + v_{d(i)} + e_{it}

    drives the contract scores (``q_it`` plus contract noise, clipped and rounded), so the
    panel's amount-weighted ``quality`` has mean ``q_it``. Exit is drawn year by year from

    .. math:: h_{it} = 1 - \\exp(-\\exp(\\gamma_0 + x_{it}'\\gamma + f(a_{it}) + w_{d(i)}
              + \\alpha u_i))

    with the same year's measures; contracts and revenue after the exit year are removed.
    The reason of an exit is drawn given the exit (:attr:`Truth.reasons`), or, with
    ``cause_coefs``, exit and cause come from one multinomial logit (:attr:`Truth.causes`).

    Examples
    --------
    >>> sim = simulate(seed=1, n_agencies=50)
    >>> sim.data.agencies.shape[0], sim.truth.quality["hhi"]
    (50, -6.0)
    >>> sorted(sim.data.contracts["tier"].unique())
    ['district', 'municipal', 'subdistrict']
    """
    founded = _check_arguments(seed, n_agencies, first_year, last_year, founded)
    truth = _make_truth(
        quality_coefs, hazard_coefs, sd_agency, sd_district, sigma, sd_contract, association
    )
    truth = exits.with_reasons(truth, reason_coefs, cause_coefs, COVARIATES)
    # streams 0-4 as before exit reasons existed; the reasons' own sixth changes nothing else
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6)]
    funders = world.build_funders()
    agencies = world.draw_agencies(rngs[0], n_agencies, first_year, founded)
    ids = _agency_ids(n_agencies)
    contracts = _draw_contracts(rngs[1], agencies, funders, ids, first_year, last_year)
    revenue = _draw_revenue(rngs[2], agencies, ids, last_year)
    agency, year = world.agency_years(agencies, last_year)
    measures = agency_year_measures(contracts.frame, revenue)
    _check_alignment(measures, ids, agency, year)
    effects = _draw_effects(rngs[3], truth, n_agencies, len(agency))
    covariates = measures.assign(age=year - agencies.founded[agency])
    q = latent_quality(truth, covariates, effects, agencies.district[agency], agency)
    district = agencies.district[agency]
    if truth.causes:
        etas = {
            k: exits.cause_eta(truth, k, covariates, effects, district, agency)
            for k in truth.causes
        }
        closed, reason, hazards = exits.draw_causes(rngs[4], etas, agency, year, n_agencies)
        exit_columns = {
            **{f"eta_{k}": v for k, v in etas.items()},
            **{f"hazard_{k}": v for k, v in hazards.items()},
        }
    else:
        eta = hazard_eta(truth, covariates, effects, district, agency)
        closed = exits.draw_exit(rngs[4], eta, agency, year, n_agencies)
        exit_year = np.where(closed == exits.NOT_CLOSED, agencies.entry, closed)
        exit_row = _grid_position(agencies, last_year, np.arange(n_agencies), exit_year)
        reason = exits.draw_reasons(
            rngs[5], truth.reasons, REFERENCE_REASON, covariates, exit_row, closed
        )
        exit_columns = {"eta": eta, "hazard": -np.expm1(-np.exp(eta))}
    position = _grid_position(agencies, last_year, contracts.agency, contracts.year)
    scores, clipped = _draw_scores(rngs[3], truth, q, position)
    data = _assemble(ids, agencies, contracts, scores, revenue, (closed, reason), seed)
    at_risk = year <= closed[agency]
    years = pd.DataFrame(
        {
            "latent_quality": q,
            "residual": effects["residual"],
            **exit_columns,
            "exit": (year == closed[agency]).astype(np.int64),
        },
        index=measures.index,
    )[at_risk]
    latent = _latent_frame(ids, agencies, effects)
    return Simulation(data, truth, latent, years, seed=seed, clipped_share=clipped)


def latent_quality(
    truth: Truth,
    covariates: pd.DataFrame,
    effects: Mapping[str, FloatArray],
    district: IntArray,
    agency: IntArray,
) -> FloatArray:
    """Agency-year latent quality ``q_it`` from the truth, covariates and random effects.

    Parameters
    ----------
    truth : Truth
        Supplies the quality coefficients.
    covariates : DataFrame
        One row per agency-year with every column named in ``truth.quality``.
    effects : mapping
        ``agency`` (shape (n_agencies,)), ``district`` (shape (n_districts,)) and ``residual``
        (shape (n_rows,)) draws.
    district, agency : IntArray, shape (n_rows,)
        Each row's district and agency index.

    Examples
    --------
    >>> t = Truth({"Intercept": 80.0, "hhi": -5.0}, {"Intercept": 0.0}, 1.0, 1.0, 1.0)
    >>> eff = {"agency": np.zeros(1), "district": np.zeros(1), "residual": np.zeros(2)}
    >>> cov = pd.DataFrame({"hhi": [1.0, 0.5]})
    >>> latent_quality(t, cov, eff, np.zeros(2, dtype=np.int64), np.zeros(2, dtype=np.int64))
    array([75. , 77.5])
    """
    return (
        exits.linear(truth.quality, covariates)
        + effects["agency"][agency]
        + effects["district"][district]
        + effects["residual"]
    )


def hazard_eta(
    truth: Truth,
    covariates: pd.DataFrame,
    effects: Mapping[str, FloatArray],
    district: IntArray,
    agency: IntArray,
) -> FloatArray:
    """Complementary log-log linear predictor of exit for each agency-year.

    ``covariates`` must contain ``age`` and every column named in ``truth.hazard``;
    ``effects`` supplies ``agency`` and ``district_hazard`` draws.

    Examples
    --------
    >>> t = Truth({"Intercept": 0.0}, {"Intercept": -3.0}, 1.0, 1.0, 1.0, age_amplitude=0.0)
    >>> eff = {"agency": np.zeros(1), "district_hazard": np.zeros(1)}
    >>> hazard_eta(t, pd.DataFrame({"age": [2]}), eff, np.zeros(1, dtype=np.int64),
    ...            np.zeros(1, dtype=np.int64))
    array([-3.])
    """
    return (
        exits.linear(truth.hazard, covariates)
        + truth.age_effect(covariates["age"].to_numpy())
        + effects["district_hazard"][district]
        + truth.association * effects["agency"][agency]
    )


def _check_arguments(
    seed: int,
    n_agencies: int,
    first_year: int,
    last_year: int,
    founded: tuple[int, int] | None,
) -> tuple[int, int]:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise SpecError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(n_agencies, bool) or not isinstance(n_agencies, int | np.integer):
        raise SpecError(f"n_agencies must be an integer, got {n_agencies!r}")
    if n_agencies < 1:
        raise SpecError(f"n_agencies must be at least 1, got {n_agencies}")
    if first_year > last_year:
        raise SpecError(f"first_year ({first_year}) is after last_year ({last_year})")
    low, high = founded if founded is not None else (first_year - 4, first_year + 6)
    high = min(high, last_year) if founded is None else high
    if low > high or high > last_year:
        raise SpecError(
            f"founded=({low}, {high}) must be an increasing range ending by last_year ({last_year})"
        )
    return int(low), int(high)


def _make_truth(
    quality_coefs: Mapping[str, float] | None,
    hazard_coefs: Mapping[str, float] | None,
    sd_agency: float,
    sd_district: float,
    sigma: float,
    sd_contract: float,
    association: float,
) -> Truth:
    quality = exits.coefficients("quality_coefs", quality_coefs, DEFAULT_QUALITY, COVARIATES)
    hazard = exits.coefficients("hazard_coefs", hazard_coefs, DEFAULT_HAZARD, COVARIATES)
    scales = {"sd_agency": sd_agency, "sd_district": sd_district, "sigma": sigma}
    scales["sd_contract"] = sd_contract
    for name, value in scales.items():
        if not (math.isfinite(value) and value >= 0):
            raise SpecError(f"{name} must be a finite number >= 0, got {value!r}")
    if not math.isfinite(association):
        raise SpecError(f"association must be finite, got {association!r}")
    return Truth(
        quality=quality,
        hazard=hazard,
        sd_agency=float(sd_agency),
        sd_district=float(sd_district),
        sigma=float(sigma),
        association=float(association),
        sd_contract=float(sd_contract),
    )


def _agency_ids(n: int) -> np.ndarray:
    width = max(4, len(str(n)))
    return np.array([f"A{i:0{width}d}" for i in range(1, n + 1)], dtype=object)


def _draw_contracts(
    rng: np.random.Generator,
    agencies: world.Agencies,
    funders: world.Funders,
    ids: np.ndarray,
    first_year: int,
    last_year: int,
) -> _Contracts:
    """Contract-year rows of every agency up to ``last_year`` (before exits), sorted."""
    primary = world.primary_spells(rng, agencies, funders, last_year)
    extra = world.extra_spells(rng, agencies, funders, last_year)
    spells = world.combine_spells(primary, extra)
    n_spells = len(spells.agency)
    sequence = np.arange(n_spells) - np.searchsorted(spells.agency, spells.agency)
    contract_id = _contract_ids(ids[spells.agency], sequence)
    method = world.draw_procurement(rng, spells.kind, agencies.tilt[spells.agency])
    service = world.draw_services(rng, spells.kind, spells.funder)
    amount = world.draw_amounts(rng, spells.kind, spells.start, first_year)
    length = spells.end - spells.start + 1
    row = np.repeat(np.arange(n_spells), length)
    year = spells.start[row] + np.arange(len(row)) - np.repeat(np.cumsum(length) - length, length)
    row_order = np.lexsort((sequence[row], year, spells.agency[row]))
    row, year = row[row_order], year[row_order]
    frame = pd.DataFrame(
        {
            "contract_id": contract_id[row],
            "agency_id": ids[spells.agency[row]],
            "year": year,
            "funder": funders.name[spells.funder[row]],
            "tier": world.KIND_TIER[spells.kind[row]],
            "contract_type": method[row],
            "amount": amount[row],
            "service": service[row],
        }
    )
    return _Contracts(spells.agency[row], year, frame)


def _contract_ids(agency_id: np.ndarray, sequence: IntArray) -> np.ndarray:
    width = max(2, len(str(int(sequence.max()) + 1))) if len(sequence) else 2
    suffix = pd.Series(sequence + 1).astype(str).str.zfill(width)
    return (pd.Series(agency_id) + "-" + suffix).to_numpy(dtype=object)


def _draw_revenue(
    rng: np.random.Generator, agencies: world.Agencies, ids: np.ndarray, last_year: int
) -> pd.DataFrame:
    agency, year = world.agency_years(agencies, last_year)
    r_agency, r_year, source, amount = world.draw_revenue(rng, agencies, agency, year)
    return pd.DataFrame(
        {
            "agency_id": ids[r_agency],
            "year": r_year,
            "source": np.asarray(world.SOURCES, dtype=object)[source],
            "amount": amount,
        }
    )


def _check_alignment(
    measures: pd.DataFrame, ids: np.ndarray, agency: IntArray, year: IntArray
) -> None:
    # Every agency-year holds a primary contract, so the measures cover the grid exactly.
    index = measures.index
    if len(index) != len(agency) or not (
        np.array_equal(index.get_level_values("year").to_numpy(), year)
        and np.array_equal(index.get_level_values("agency_id").to_numpy(dtype=object), ids[agency])
    ):
        raise AssertionError("simulated measures do not cover the agency-year grid")


def _draw_effects(
    rng: np.random.Generator, truth: Truth, n_agencies: int, n_rows: int
) -> dict[str, FloatArray]:
    n_districts = len(world.DISTRICTS)
    return {
        "agency": truth.sd_agency * rng.standard_normal(n_agencies),
        "district": truth.sd_district * rng.standard_normal(n_districts),
        "district_hazard": truth.sd_district_hazard * rng.standard_normal(n_districts),
        "residual": truth.sigma * rng.standard_normal(n_rows),
    }


def _draw_scores(
    rng: np.random.Generator, truth: Truth, q: FloatArray, position: IntArray
) -> tuple[FloatArray, float]:
    """Contract-year scores: latent quality plus noise, clipped, rounded, some missing.

    ``position`` is each contract row's agency-year row in ``q``.
    """
    raw = q[position] + truth.sd_contract * rng.standard_normal(len(position))
    clipped = (raw < 0) | (raw > 100)
    score = np.rint(np.clip(raw, 0.0, 100.0) * 10.0) / 10.0  # as parsed from one decimal
    score[rng.random(len(score)) < UNSCORED_SHARE] = np.nan
    return score, float(clipped.mean()) if len(clipped) else 0.0


def _grid_position(
    agencies: world.Agencies, last_year: int, agency: IntArray, year: IntArray
) -> IntArray:
    """Row of each (agency, year) in the agency-year grid of ``world.agency_years``."""
    window = last_year - agencies.entry + 1
    offset = np.cumsum(window) - window
    return offset[agency] + year - agencies.entry[agency]


def _assemble(
    ids: np.ndarray,
    agencies: world.Agencies,
    contracts: _Contracts,
    scores: FloatArray,
    revenue: pd.DataFrame,
    closures: tuple[IntArray, np.ndarray],
    seed: int,
) -> Dataset:
    """Drop contracts and revenue after each agency's closure year and build the Dataset."""
    closed, reason = closures
    keep = contracts.year <= closed[contracts.agency]
    contract_frame = contracts.frame.assign(score=scores)[keep].reset_index(drop=True)
    agency_index = pd.Index(ids).get_indexer(revenue["agency_id"])
    revenue_keep = revenue["year"].to_numpy() <= closed[agency_index]
    closed_col = pd.array(np.where(closed == exits.NOT_CLOSED, 0, closed), dtype="Int64")
    closed_col[closed == exits.NOT_CLOSED] = pd.NA
    agency_frame = pd.DataFrame(
        {
            "agency_id": ids,
            "founded": agencies.founded,
            "district": np.asarray(world.district_names(), dtype=object)[agencies.district],
            "closed": closed_col,
            "origin": agencies.origin,
            "exit_reason": pd.array(reason, dtype="str"),
            "name": world.agency_names(agencies.district),
        }
    )
    return Dataset(
        agencies=agency_frame,
        contracts=contract_frame,
        revenue=revenue[revenue_keep].reset_index(drop=True),
        source=f"simulate(seed={seed})",
    )


def _latent_frame(
    ids: np.ndarray, agencies: world.Agencies, effects: Mapping[str, FloatArray]
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "agency_id": ids,
            "district": np.asarray(world.district_names(), dtype=object)[agencies.district],
            "agency_effect": effects["agency"],
            "district_effect": effects["district"][agencies.district],
            "district_hazard_effect": effects["district_hazard"][agencies.district],
            "size": agencies.size,
            "fsc": agencies.fsc,
            "tilt": agencies.tilt,
            "nongov": agencies.nongov,
        }
    )
