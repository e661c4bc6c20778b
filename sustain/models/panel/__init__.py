"""Linear panel models: within (fixed effects), random effects, first differences, between,
pooled OLS, and the Hausman test.

Files by role (after linearmodels' ``panel/``): :mod:`.fit` (:func:`fit_fe` and its result
class), :mod:`.prepare` (options, formula and frame checks), :mod:`.absorb` (the within
transform of the large-panel path), :mod:`.covariance` (sandwich and clustered covariances),
:mod:`.backend` (the linearmodels back end), :mod:`.hausman`.
"""

from sustain.models.panel.fit import FEResults, fit_fe
from sustain.models.panel.hausman import HausmanResult, hausman
from sustain.models.panel.prepare import resolve_options as check_fe_options

__all__ = ["FEResults", "HausmanResult", "check_fe_options", "fit_fe", "hausman"]
