"""The result of :func:`sustain.fit_joint`: posterior summaries, priors and provenance."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sustain._typing import PathLikeStr
from sustain.models.bayes.priors import PriorSet
from sustain.models.joint.terms import HAZARD_PREFIX
from sustain.results import BayesianResults


@dataclass(frozen=True, eq=False)
class JointResults(BayesianResults):
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
    prior_set: PriorSet = dataclasses.field(default_factory=lambda: PriorSet(()))
    parameterization: str = "auto"
    n_centred: int = 0
    data_hash: str = ""
    sampler: str = ""
    random_seed: int = 0

    @property
    def priors(self) -> pd.DataFrame:
        """The priors as a table (``parameter``, ``class``, ``prior``, ``source``)."""
        return self.prior_set.table()

    @property
    def n_divergences(self) -> int:
        """Number of divergent transitions after warm-up."""
        return int(self.info.stats.get("divergences", 0))

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

    def save(self, path: PathLikeStr) -> Any:
        """Write the result to a NetCDF file (see :func:`sustain.persistence.save_result`)."""
        from sustain.persistence import save_result

        return save_result(self, path)

    def metadata(self) -> dict[str, Any]:
        """What :func:`sustain.load_result` needs to rebuild this result from its ``idata``."""
        from sustain.persistence import info_to_dict

        return {
            "result_class": f"{type(self).__module__}.{type(self).__qualname__}",
            "terms": list(self.terms),
            "info": info_to_dict(self.info),
            "interval": self.interval,
            "quality_formula": self.quality_formula,
            "hazard_formula": self.hazard_formula,
            "group": self.group,
            "link": self.link,
            "duration": self.duration,
            "duration_form": self.duration_form,
            "duration_terms": list(self.duration_terms),
            "priors": self.prior_set.to_json(),
            "parameterization": self.parameterization,
            "n_centred": self.n_centred,
            "data_hash": self.data_hash,
            "sampler": self.sampler,
            "random_seed": self.random_seed,
        }

    @classmethod
    def from_idata(cls, idata: Any, metadata: dict[str, Any]) -> JointResults:
        """Rebuild a result from its DataTree (``idata``) and :meth:`metadata`."""
        from sustain.persistence import info_from_dict

        return cls(
            idata=idata,
            terms=tuple(metadata["terms"]),
            info=info_from_dict(metadata["info"]),
            interval=metadata.get("interval", "eti"),
            quality_formula=metadata["quality_formula"],
            hazard_formula=metadata["hazard_formula"],
            group=metadata["group"],
            link=metadata["link"],
            duration=metadata["duration"],
            duration_form=metadata["duration_form"],
            duration_terms=tuple(metadata.get("duration_terms", ())),
            prior_set=PriorSet.from_json(metadata["priors"]),
            parameterization=metadata["parameterization"],
            n_centred=int(metadata["n_centred"]),
            data_hash=metadata["data_hash"],
            sampler=metadata["sampler"],
            random_seed=int(metadata["random_seed"]),
        )
