"""Results of sampled models: the shared base and the result of :func:`sustain.fit_bayes`.

:class:`SampledResults` holds what every model sustain samples keeps (priors, a hash of the
data, the sampler and the seed) and how such a result is written into and read back from its
own DataTree; :class:`BayesResults` (and the categorical model's subclass) and
:class:`sustain.models.joint.JointResults` add their model's description.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, ClassVar

import pandas as pd

from sustain._versions import package_versions
from sustain.models.bayes.priors import PriorSet
from sustain.persistence import METADATA_KEY, info_from_dict, info_to_dict
from sustain.results import BayesianResults

__all__ = ["METADATA_KEY", "BayesResults", "SampledResults"]

# fields of BayesianResults itself, written by name below
_BASE_FIELDS = ("idata", "terms", "info", "interval")


@dataclass(frozen=True, eq=False)
class SampledResults(BayesianResults):
    """Base of every sampled model's result: priors, provenance and self-description.

    Everything of :class:`sustain.results.BayesianResults` plus the fields below. Subclasses
    add their model's description as dataclass fields; :meth:`metadata` writes every field
    (tuples as lists, the priors as JSON) and :meth:`from_idata` reads them back, so a new
    field needs no code here. A field missing from an older file takes its default.

    Attributes
    ----------
    prior_set : PriorSet
        Priors used (see :attr:`priors` for the table).
    data_hash : str
        SHA-256 of the arrays the model saw.
    sampler : str
        Sampler that ran (``nutpie``, ``pymc``, ``numpyro``).
    random_seed : int
        Seed from which the sampler and every later draw derive.

    Examples
    --------
    >>> import arviz as az, numpy as np
    >>> from sustain.results import ModelInfo
    >>> rng = np.random.default_rng(0)
    >>> idata = az.from_dict({"posterior": {"x": rng.normal(1, 0.1, (2, 100))}})
    >>> info = ModelInfo(model="Bayes", estimator="bayes", depvar="y", formula="y ~ x", nobs=20)
    >>> r = SampledResults(idata, ("x",), info, data_hash="abc", random_seed=3)
    >>> back = SampledResults.from_idata(idata, r.metadata())
    >>> (back.data_hash, back.random_seed, back.n_divergences)
    ('abc', 3, 0)
    """

    prior_set: PriorSet = dataclasses.field(default_factory=lambda: PriorSet(()))
    data_hash: str = ""
    sampler: str = ""
    random_seed: int = 0

    #: Keys under which fields are saved when they differ from the field's name.
    _saved_as: ClassVar[dict[str, str]] = {"prior_set": "priors"}

    @property
    def priors(self) -> pd.DataFrame:
        """The priors as a table (``parameter``, ``class``, ``prior``, ``source``)."""
        return self.prior_set.table()

    @property
    def n_divergences(self) -> int:
        """Number of divergent transitions after warm-up."""
        return int(self.info.stats.get("divergences", 0))

    def metadata(self) -> dict[str, Any]:
        """What :func:`sustain.load_result` needs to rebuild this result from its ``idata``."""
        out: dict[str, Any] = {
            "result_class": f"{type(self).__module__}.{type(self).__qualname__}",
            "terms": list(self.terms),
            "info": info_to_dict(self.info),
            "interval": self.interval,
        }
        for field in dataclasses.fields(self):
            if field.name in _BASE_FIELDS:
                continue
            value = getattr(self, field.name)
            if isinstance(value, PriorSet):
                value = value.to_json()
            elif isinstance(value, tuple):
                value = list(value)
            out[self._saved_as.get(field.name, field.name)] = value
        return out

    @classmethod
    def from_idata(cls, idata: Any, metadata: dict[str, Any]) -> Any:
        """Rebuild a result from its DataTree (``idata``) and :meth:`metadata`."""
        kwargs: dict[str, Any] = {
            "idata": idata,
            "terms": tuple(metadata["terms"]),
            "info": info_from_dict(metadata["info"]),
            "interval": metadata.get("interval", "eti"),
        }
        for field in dataclasses.fields(cls):
            key = cls._saved_as.get(field.name, field.name)
            if field.name in _BASE_FIELDS or key not in metadata:
                continue
            value = metadata[key]
            if field.name == "prior_set":
                value = PriorSet.from_json(value)
            elif isinstance(value, list):
                value = tuple(value)
            kwargs[field.name] = value
        return cls(**kwargs)

    def stamp(self) -> None:
        """Write :meth:`metadata` (with the package versions) into ``idata.posterior.attrs``,
        where :func:`sustain.load_result` finds it; called once by the fit that made the result.
        """
        meta = self.metadata()
        meta["versions"] = package_versions()
        attrs = self.idata.posterior.attrs
        attrs[METADATA_KEY] = json.dumps(meta)
        attrs["data_hash"] = self.data_hash
        formula = getattr(self, "formula", None)
        if formula:
            attrs["formula"] = formula


@dataclass(frozen=True, eq=False)
class BayesResults(SampledResults):
    """A fitted Bayesian hierarchical model.

    Everything of :class:`sustain.results.BayesianResults` (``params`` = posterior means,
    ``bse`` = posterior sds, ``conf_int``, ``tidy``, ``summary``, ``idata``) plus the model's
    description and provenance.

    Attributes
    ----------
    formula : str
        Formula as written.
    family, link : str
        Response family and link.
    prior_set : PriorSet
        Priors used (see :attr:`priors` for the table).
    data_hash : str
        SHA-256 of the data the model saw (:func:`sustain.models.bayes.terms.data_hash`).
    sampler : str
        Sampler that ran (``nutpie``, ``pymc``, ``numpyro``).
    collapsed : bool
        Whether the group effects were integrated out analytically and drawn exactly
        afterwards (Gaussian random intercepts).
    random_seed : int
        Seed from which the sampler, the group-effect draws and the predictive draws derive.

    Examples
    --------
    >>> import numpy as np, pandas as pd, sustain
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"x": rng.normal(size=60), "g": np.repeat(list("abcdef"), 10)})
    >>> df["y"] = 1 + 0.5 * df["x"] + np.repeat(rng.normal(0, 1, 6), 10) + rng.normal(size=60)
    >>> bm = sustain.fit_bayes(df, "y ~ x + (1 | g)", draws=200, tune=200, chains=2,
    ...                        random_seed=1, sampler="pymc")
    >>> list(bm.params.index)
    ['Intercept', 'x', 'sigma', 'sd(1|g)']
    >>> bm.priors.loc[1, "prior"].startswith("normal(0, ")
    True
    """

    formula: str = ""
    family: str = "gaussian"
    link: str = "identity"
    collapsed: bool = False
    trials: str | int | None = None

    def matches(self, data: pd.DataFrame) -> bool:
        """Whether ``data`` yields exactly the model data this result was fitted to.

        Compares the SHA-256 of the response, design and group indices rebuilt from ``data``
        with :attr:`data_hash`, e.g. before reusing a saved result.
        """
        from sustain.models.bayes.terms import build_terms, data_hash

        return data_hash(build_terms(data, self.formula, self.trials)) == self.data_hash
