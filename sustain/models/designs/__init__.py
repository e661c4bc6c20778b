"""Research designs: event studies of staggered changes.

:func:`fit_event_study` (:mod:`.fit`) estimates Callaway-Sant'Anna group-time effects
(:mod:`.callaway`, aggregated in :mod:`.aggregate`), the Sun-Abraham interaction-weighted
estimator and the classic two-way FE event study (:mod:`.regression`) on a frame indexed
(entity, time) (:mod:`.frame`, which also holds :func:`first_year`). Competing risks of exit
live with the survival models (:mod:`sustain.models.survival.competing`,
:mod:`sustain.models.survival.incidence`).
"""

from sustain.models.designs.fit import fit_event_study
from sustain.models.designs.frame import first_year
from sustain.models.designs.results import EventAggregation, EventStudyResults

__all__ = ["EventAggregation", "EventStudyResults", "first_year", "fit_event_study"]
