"""The joint model of service quality and survival (shared agency effects), in PyMC.

Files by role (as :mod:`sustain.models.bayes`): :mod:`.terms` (the two sub-models' data),
:mod:`.model` (the PyMC model and its priors), :mod:`.fit` (:func:`fit_joint`),
:mod:`.results` and :mod:`.two_stage` (the naive comparison).
"""

from sustain.models.joint.fit import fit_joint
from sustain.models.joint.results import JointResults
from sustain.models.joint.two_stage import fit_two_stage

__all__ = ["JointResults", "fit_joint", "fit_two_stage"]
