"""The result of :func:`sustain.fit_bayes`: posterior summaries, priors, provenance."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sustain._typing import PathLikeStr
from sustain.models.bayes.priors import PriorSet
from sustain.persistence import METADATA_KEY, info_from_dict, info_to_dict
from sustain.results import BayesianResults

__all__ = ["METADATA_KEY", "BayesResults"]


@dataclass(frozen=True, eq=False)
class BayesResults(BayesianResults):
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
    prior_set: PriorSet = dataclasses.field(default_factory=lambda: PriorSet(()))
    data_hash: str = ""
    sampler: str = ""
    collapsed: bool = False
    random_seed: int = 0
    trials: str | int | None = None

    @property
    def priors(self) -> pd.DataFrame:
        """The priors as a table (``parameter``, ``class``, ``prior``, ``source``)."""
        return self.prior_set.table()

    @property
    def n_divergences(self) -> int:
        """Number of divergent transitions after warm-up."""
        return int(self.info.stats.get("divergences", 0))

    def matches(self, data: pd.DataFrame) -> bool:
        """Whether ``data`` yields exactly the model data this result was fitted to.

        Compares the SHA-256 of the response, design and group indices rebuilt from ``data``
        with :attr:`data_hash`, e.g. before reusing a saved result.
        """
        from sustain.models.bayes.terms import build_terms, data_hash

        return data_hash(build_terms(data, self.formula, self.trials)) == self.data_hash

    def save(self, path: PathLikeStr) -> Any:
        """Write the result to a NetCDF file (see :func:`sustain.persistence.save_result`)."""
        from sustain.persistence import save_result

        return save_result(self, path)

    def metadata(self) -> dict[str, Any]:
        """What :func:`sustain.load_result` needs to rebuild this result from its ``idata``."""
        return {
            "result_class": f"{type(self).__module__}.{type(self).__qualname__}",
            "terms": list(self.terms),
            "info": info_to_dict(self.info),
            "interval": self.interval,
            "formula": self.formula,
            "family": self.family,
            "link": self.link,
            "priors": self.prior_set.to_json(),
            "data_hash": self.data_hash,
            "sampler": self.sampler,
            "collapsed": self.collapsed,
            "random_seed": self.random_seed,
            "trials": self.trials,
        }

    @classmethod
    def from_idata(cls, idata: Any, metadata: dict[str, Any]) -> BayesResults:
        """Rebuild a result from its DataTree (``idata``) and :meth:`metadata`."""
        return cls(
            idata=idata,
            terms=tuple(metadata["terms"]),
            info=info_from_dict(metadata["info"]),
            interval=metadata.get("interval", "eti"),
            formula=metadata["formula"],
            family=metadata["family"],
            link=metadata["link"],
            prior_set=PriorSet.from_json(metadata["priors"]),
            data_hash=metadata["data_hash"],
            sampler=metadata["sampler"],
            collapsed=bool(metadata["collapsed"]),
            random_seed=int(metadata["random_seed"]),
            trials=metadata.get("trials"),
        )
