"""Bayesian hierarchical models with lme4/brms-style formulas, fitted with PyMC.

:func:`fit_bayes` builds the model from a formula (:mod:`.terms`), default or user priors
(:mod:`.priors`) and a family (:mod:`.families`); Gaussian models with nested random
intercepts are sampled with the group effects integrated out (:mod:`.collapsed`), every other
model in its non-centred form (:mod:`.model`); :mod:`.sampling` runs NUTS (nutpie by default)
and :mod:`.predictive` adds the predictive and log-likelihood groups. The result is a
:class:`BayesResults`.
"""

from sustain.models.bayes.fit import fit_bayes
from sustain.models.bayes.progress import SamplingProgress, report_every
from sustain.models.bayes.results import BayesResults

__all__ = ["BayesResults", "SamplingProgress", "fit_bayes", "report_every"]
