"""Arrays of the joint quality-survival model: two designs sharing one agency index.

The quality sub-model uses the agency-years with observed quality (and complete quality
covariates); the hazard sub-model uses every agency-year at risk with complete hazard
covariates, including years whose quality is missing. Both are built with the Bayesian
machinery's :func:`~sustain.models.bayes.terms.build_terms`; the agency effect is indexed over
the union of agencies seen by either part, so an agency without any quality score still
enters the hazard with an effect drawn from its prior.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sustain._typing import FloatArray, IntArray
from sustain.errors import FitError, SpecError
from sustain.formula import parse_formula
from sustain.models.bayes.terms import GroupFactor, ModelTerms, build_terms
from sustain.models.survival.hazard import duration_bands, duration_dummies, duration_spline
from sustain.models.survival.spells import as_columns, at_risk_rows, event_indicator

#: Prefix of every parameter of the hazard sub-model (``hazard:hhi``, ``hazard:Intercept``).
HAZARD_PREFIX = "hazard:"


@dataclass(frozen=True)
class JointTerms:
    """Everything the joint model needs from the data, as arrays.

    Attributes
    ----------
    quality : ModelTerms
        Quality sub-model on the rows with observed quality; ``quality.groups`` holds the
        other group terms of the quality formula (e.g. ``(1 | district)``), not the agency.
    hazard : ModelTerms
        Hazard sub-model on the at-risk rows; ``hazard.X`` includes the duration terms and
        ``hazard.groups`` the group terms of the hazard formula.
    group : str
        Column identifying agencies.
    levels : tuple of str
        Agencies of either sub-model, sorted.
    quality_agency, hazard_agency : ndarray of int, shapes (n_quality,), (n_hazard,)
        Position of each row's agency in ``levels``.
    duration_terms : tuple of str
        Names of the duration columns in ``hazard.x_names``.
    agency_sd_prior_terms : ModelTerms
        The quality terms with the agency intercept as a group factor (for default priors).
    """

    quality: ModelTerms
    hazard: ModelTerms
    group: str
    levels: tuple[str, ...]
    quality_agency: IntArray
    hazard_agency: IntArray
    duration_terms: tuple[str, ...]
    agency_sd_prior_terms: ModelTerms

    @property
    def n_agencies(self) -> int:
        """Number of agencies with an effect."""
        return len(self.levels)

    def quality_counts(self) -> IntArray:
        """Quality observations of every agency, shape (n_agencies,).

        Examples
        --------
        >>> import sustain
        >>> panel = sustain.build_panel(sustain.datasets.example())
        >>> t = build_joint_terms(panel, "quality ~ hhi", "exit ~ hhi", "agency_id")
        >>> int(t.quality_counts().sum()) == t.quality.nobs
        True
        """
        return np.bincount(self.quality_agency, minlength=self.n_agencies).astype(np.int64)


def build_joint_terms(
    panel: pd.DataFrame,
    quality: str,
    hazard: str,
    group: str,
    *,
    duration: str | None = "age",
    duration_form: str = "spline",
    spline_df: int = 4,
    time: str = "year",
) -> JointTerms:
    """Build both sub-models' arrays and the shared agency index.

    Parameters
    ----------
    panel : DataFrame
        Agency-year panel (index levels may be used as variables).
    quality, hazard : str
        Formulas of the two sub-models; group terms ``(1 | g)`` other than the agency are
        allowed in both.
    group : str
        Agency identifier; its random intercept is added to the quality sub-model.
    duration, duration_form, spline_df
        Duration dependence of the hazard: a cubic B-spline with ``spline_df`` columns or
        dummies of age bands (each with an exit), as in :func:`sustain.fit_hazard`.
    time : str
        Calendar time, used to drop rows after an agency's first exit.

    Raises
    ------
    SpecError
        Unknown columns, a formula naming the agency in a group term, varying slopes.
    FitError
        No usable rows, no exits, rank-deficient designs.

    Examples
    --------
    >>> import sustain
    >>> panel = sustain.build_panel(sustain.datasets.example())
    >>> t = build_joint_terms(panel, "quality ~ hhi + (1 | district)", "exit ~ hhi", "agency_id")
    >>> t.hazard.x_names[:2], [g.name for g in t.quality.groups], t.n_agencies
    (('Intercept', 'hhi'), ['district'], 400)
    """
    frame = as_columns(panel)
    _check_formulas(quality, hazard, group)
    if group not in frame.columns:
        raise SpecError(f"group={group!r} is not a column or index level of the panel")
    with_agency = build_terms(frame, f"{quality} + (1 | {group})")
    q_terms = dataclasses.replace(with_agency, groups=with_agency.groups[:-1], formula=quality)
    h_terms, names = _hazard_terms(frame, hazard, group, time, duration, duration_form, spline_df)
    q_ids = frame.loc[q_terms.rows, group].astype(str).to_numpy()
    h_ids = frame.loc[h_terms.rows, group].astype(str).to_numpy()
    codes, levels = pd.factorize(np.concatenate([q_ids, h_ids]), sort=True)
    return JointTerms(
        quality=q_terms,
        hazard=h_terms,
        group=group,
        levels=tuple(map(str, levels)),
        quality_agency=codes[: len(q_ids)].astype(np.int64),
        hazard_agency=codes[len(q_ids) :].astype(np.int64),
        duration_terms=names,
        agency_sd_prior_terms=with_agency,
    )


def _check_formulas(quality: str, hazard: str, group: str) -> None:
    for label, formula in (("quality", quality), ("hazard", hazard)):
        if not isinstance(formula, str):
            raise SpecError(f"{label} must be a formula string, not {formula!r}")
        for term in parse_formula(formula).group_terms:
            if term.slopes or not term.has_intercept:
                raise SpecError(
                    f"{label}={formula!r}: the joint model takes random intercepts (1 | g) only"
                )
            for g in term.groups:
                if group in g.split(":"):
                    raise SpecError(
                        f"{label}={formula!r}: the agency effect of {group!r} is built in "
                        f"(shared by both sub-models); remove the group term ({term.expr} | {g})"
                    )
    if parse_formula(quality).lhs == parse_formula(hazard).lhs:
        raise SpecError("the quality and hazard formulas must have different responses")


def _hazard_terms(
    frame: pd.DataFrame,
    hazard: str,
    group: str,
    time: str,
    duration: str | None,
    form: str,
    spline_df: int,
) -> tuple[ModelTerms, tuple[str, ...]]:
    lhs = parse_formula(hazard).lhs
    for column in (lhs, time, *([duration] if duration else [])):
        if column not in frame.columns:
            raise SpecError(f"hazard: column {column!r} is not in the panel")
    rows = frame.loc[at_risk_rows(frame, group, time, lhs)]
    if duration is not None:
        rows = rows[rows[duration].notna()]
    terms = build_terms(rows, hazard)
    y = event_indicator(pd.Series(terms.y), lhs)
    if not y.any() or y.all():
        raise FitError(f"hazard: {lhs} needs both exits and survivals; it has {int(y.sum())} exits")
    if duration is None:
        return terms, ()
    basis = _duration_basis(rows.loc[terms.rows, duration], form, spline_df, y, terms)
    clash = sorted(set(basis.columns) & set(terms.x_names))
    if clash:
        raise SpecError(f"duration terms {clash} clash with hazard formula terms")
    X = np.column_stack([terms.X, basis.to_numpy(dtype=np.float64)])
    names = (*terms.x_names, *map(str, basis.columns))
    return dataclasses.replace(terms, X=X, x_names=names), tuple(map(str, basis.columns))


def _duration_basis(
    values: pd.Series, form: str, spline_df: int, y: np.ndarray, terms: ModelTerms
) -> pd.DataFrame:
    if form not in ("spline", "dummies"):
        raise SpecError(f"duration_form={form!r} is not one of 'spline', 'dummies'")
    values = pd.to_numeric(values, errors="coerce").astype(float)
    if form == "spline":
        if not isinstance(spline_df, int | np.integer) or spline_df < 3:
            raise SpecError(f"spline_df must be an integer >= 3, got {spline_df!r}")
        return duration_spline(values, int(spline_df))
    bands = duration_bands(values.to_numpy(float), y, 1)
    return duration_dummies(values, bands, drop_first=terms.has_intercept)


def agency_effect_factor(terms: JointTerms) -> GroupFactor:
    """The agency intercept as a group factor over the union of agencies (quality rows).

    Examples
    --------
    >>> import sustain
    >>> panel = sustain.build_panel(sustain.datasets.example())
    >>> t = build_joint_terms(panel, "quality ~ hhi", "exit ~ hhi", "agency_id")
    >>> agency_effect_factor(t).sd_name("1")
    'sd(1|agency_id)'
    """
    ones: FloatArray = np.ones((terms.quality.nobs, 1))
    return GroupFactor(terms.group, ("1",), ones, terms.quality_agency, terms.levels)
