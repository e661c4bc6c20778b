"""Inference beyond a model's own estimates.

* :func:`wild_bootstrap`: wild cluster bootstrap tests and intervals for few clusters (linear
  panel fits) and the score bootstrap of hazard fits (:mod:`.bootstrap`, on the building
  blocks of :mod:`.wild_linear` and :mod:`.score_bootstrap`, with the weights of
  :mod:`.weights`);
* :func:`margins`: average marginal effects and effects at the means on the response or
  probability scale, with delta-method or posterior intervals (:mod:`.margins`,
  :mod:`.bayes_margins`);
* :func:`predict`: predicted responses, probabilities or survival with intervals
  (:mod:`.predict`);
* :mod:`.covariance`: the one cluster-robust kernel every family shares;
  :mod:`.design`: what a fit keeps for margins and predictions.
"""

from sustain.inference.bootstrap import WildBootstrapResult, wild_bootstrap
from sustain.inference.margins import margins
from sustain.inference.predict import predict

__all__ = ["WildBootstrapResult", "margins", "predict", "wild_bootstrap"]
