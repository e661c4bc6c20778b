"""Survival models of agency exit: discrete-time hazards, Cox models, Kaplan-Meier curves.

Files by role: :mod:`.hazard` (:func:`fit_hazard` on the agency-year panel), :mod:`.cox`
(:func:`fit_cox` on counting-process spells) with its partial likelihood in :mod:`.partial`,
:mod:`.kaplan_meier`, :mod:`.spells` (panel to spells) and :mod:`.frames` (the checks all of
them share on their input frames).
"""

from sustain.models.survival.competing import CompetingHazardResults
from sustain.models.survival.cox import CoxResults, fit_cox
from sustain.models.survival.hazard import HazardResults, fit_hazard
from sustain.models.survival.incidence import (
    CumulativeIncidenceResults,
    cumulative_incidence,
    gray_test,
)
from sustain.models.survival.kaplan_meier import KaplanMeierResults, kaplan_meier
from sustain.models.survival.spells import to_spells

__all__ = [
    "CompetingHazardResults",
    "CoxResults",
    "CumulativeIncidenceResults",
    "HazardResults",
    "KaplanMeierResults",
    "fit_cox",
    "cumulative_incidence",
    "fit_hazard",
    "gray_test",
    "kaplan_meier",
    "to_spells",
]
