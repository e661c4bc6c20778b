"""The two-stage baseline of the joint model: observed quality as a hazard covariate.

Stage one takes the quality the data report (the agency-year's amount-weighted evaluation
score, the response of the quality formula); stage two fits the discrete-time hazard of
:func:`sustain.fit_hazard` with that score added as a covariate. This is what most studies do,
and it is biased towards zero: the observed score is the agency's latent quality plus
year-to-year and contract noise (classical measurement error attenuates the slope by the
reliability ``var(u) / var(observed quality)``), and years without a score drop out. The joint
model (:func:`sustain.fit_joint`) estimates the same association without either problem; the
comparison is in ``docs/models/joint.md``.
"""

from __future__ import annotations

import pandas as pd

from sustain.errors import SpecError
from sustain.formula import parse_formula
from sustain.models.survival.hazard import HazardResults, fit_hazard
from sustain.options import DurationForm, Link


def fit_two_stage(
    panel: pd.DataFrame,
    quality: str,
    hazard: str,
    group: str = "agency_id",
    *,
    link: Link = "cloglog",
    duration: str | None = "age",
    duration_form: DurationForm = "spline",
    spline_df: int = 4,
) -> HazardResults:
    """Hazard of exit with the observed quality score as a covariate (the naive baseline).

    Parameters
    ----------
    panel : DataFrame
        Agency-year panel.
    quality : str
        Quality formula; only its response (the observed score, e.g. ``quality``) is used.
    hazard : str
        Hazard formula, e.g. ``"exit ~ hhi"``; the score is appended as a covariate.
    group : str
        Agency identifier; standard errors are clustered by it.
    link, duration, duration_form, spline_df
        As in :func:`sustain.fit_hazard`.

    Returns
    -------
    HazardResults
        The coefficient of the score (named as the quality response) estimates the
        association per quality point, attenuated by measurement error.

    Examples
    --------
    >>> import sustain
    >>> from sustain.models.joint import fit_two_stage
    >>> panel = sustain.build_panel(sustain.simulate(seed=2, n_agencies=300,
    ...                                              association=-0.15).data)
    >>> two = fit_two_stage(panel, "quality ~ hhi", "exit ~ hhi")
    >>> bool(-0.15 < two.params["quality"] < 0)
    True
    """
    response = parse_formula(quality).lhs
    parsed = parse_formula(hazard)
    if parsed.group_terms:
        raise SpecError(f"hazard={hazard!r}: the two-stage baseline takes no group terms")
    if response == parsed.lhs:
        raise SpecError("the quality and hazard formulas must have different responses")
    return fit_hazard(
        panel,
        f"{parsed.lhs} ~ {parsed.fixed} + {response}",
        link=link,
        duration=duration,
        duration_form=duration_form,
        spline_df=spline_df,
        cluster=group,
        entity=group,
    )
