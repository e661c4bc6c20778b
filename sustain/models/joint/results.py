"""The result of :func:`sustain.fit_joint`: posterior summaries, priors and provenance."""

from __future__ import annotations

from dataclasses import dataclass

from sustain.models.bayes.results import SampledResults
from sustain.models.joint.terms import HAZARD_PREFIX


@dataclass(frozen=True, eq=False)
class JointResults(SampledResults):
    """A fitted joint model of quality and survival.

    Everything of :class:`sustain.results.BayesianResults` (``params`` = posterior means,
    ``bse`` = posterior sds, ``conf_int``, ``tidy``, ``summary``, ``idata``). Terms of the
    quality sub-model keep their formula names (``Intercept``, ``hhi``), terms of the hazard
    sub-model carry the prefix ``hazard:`` (``hazard:Intercept``, ``hazard:hhi``,
    ``hazard:age[bs1]``); ``association``, ``sigma`` and ``sd(1|agency_id)`` are shared
    names. The posterior also holds the agency effects ``r(1|agency_id)``.

    Attributes
    ----------
    quality_formula, hazard_formula : str
        The two formulas as written.
    group : str
        Agency identifier of the shared effect.
    link : str
        Link of the hazard (``cloglog`` or ``logit``).
    duration, duration_form : str or None, str
        Duration dependence of the hazard.
    duration_terms : tuple of str
        The hazard's duration terms (``hazard:age[bs1]``, ...); tables hide them and show a
        "Duration" row instead, as for :func:`sustain.fit_hazard`.
    prior_set : PriorSet
        Priors used (see :attr:`priors`).
    parameterization : str
        ``auto``, ``centred`` or ``non_centred``; ``n_centred`` agency effects were centred.
    data_hash : str
        SHA-256 of the arrays of both sub-models.
    sampler : str
        Sampler that ran.
    random_seed : int
        Seed of the sampler.

    Examples
    --------
    >>> import arviz as az, numpy as np
    >>> from sustain.results import ModelInfo
    >>> rng = np.random.default_rng(0)
    >>> draws = rng.normal(-0.2, 0.05, (2, 200))
    >>> idata = az.from_dict({"posterior": {"association": draws}})
    >>> info = ModelInfo(model="Joint", estimator="joint", depvar="quality, exit",
    ...                  formula="", nobs=10)
    >>> r = JointResults(idata, ("association",), info)
    >>> round(float(r.params["association"]), 1)
    -0.2
    """

    quality_formula: str = ""
    hazard_formula: str = ""
    group: str = "agency_id"
    link: str = "cloglog"
    duration: str | None = "age"
    duration_form: str = "spline"
    duration_terms: tuple[str, ...] = ()
    parameterization: str = "auto"
    n_centred: int = 0

    @property
    def quality_terms(self) -> tuple[str, ...]:
        """Population-level terms of the quality sub-model."""
        return tuple(t for t in self._population() if not t.startswith(HAZARD_PREFIX))

    @property
    def hazard_terms(self) -> tuple[str, ...]:
        """Population-level terms of the hazard sub-model (with their ``hazard:`` prefix)."""
        return tuple(t for t in self._population() if t.startswith(HAZARD_PREFIX))

    def _population(self) -> tuple[str, ...]:
        return tuple(t for t in self.terms if t not in ("association", "sigma") and "sd(" not in t)
