"""Save fitted results to NetCDF and load them back, so tables can be rebuilt without refitting.

A Bayesian result is written as its ArviZ InferenceData (every group: posterior, sample
statistics, log-likelihood, predictive draws, observed data) with a JSON metadata attribute
on the posterior group holding what rebuilding the result needs -- the result class, reported
terms, :class:`~sustain.results.ModelInfo`, formula, family, priors, the SHA-256 of the data
and the package versions of the fit. A frequentist result is written as a small NetCDF file
with its estimates, covariance matrix and the same kind of metadata. Files are written
atomically (a temporary file renamed into place).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sustain._atomic import atomic_path
from sustain._typing import PathLikeStr
from sustain.errors import SpecError
from sustain.results import BayesianResults, FrequentistResults, ModelInfo

METADATA_KEY = "sustain_metadata"
KIND_KEY = "sustain_kind"
_ENGINE = "h5netcdf"


def save_result(result: Any, path: PathLikeStr) -> Path:
    """Write ``result`` to ``path`` (NetCDF, conventionally ``.nc``) and return the path.

    Parameters
    ----------
    result : BayesResults or FrequentistResults
        A fitted result. Bayesian results keep all their InferenceData groups; frequentist
        results keep estimates, covariance, ``info`` and ``df_resid`` (not the underlying
        library object).
    path : str or PathLike

    Raises
    ------
    SpecError
        For objects that are not sustain results.

    Examples
    --------
    >>> import tempfile, pathlib, pandas as pd
    >>> from sustain.results import FrequentistResults, ModelInfo
    >>> cov = pd.DataFrame([[0.25]], index=["x"], columns=["x"])
    >>> info = ModelInfo(model="OLS", estimator="pooled", depvar="y", formula="y ~ x", nobs=50)
    >>> r = FrequentistResults(pd.Series({"x": 2.0}), cov, info)
    >>> p = save_result(r, pathlib.Path(tempfile.mkdtemp()) / "ols.nc")
    >>> float(load_result(p).bse["x"])
    0.5
    """
    target = Path(path)
    if isinstance(result, BayesianResults):
        idata = _stamped(result)
        with atomic_path(target, suffix=".nc") as tmp:
            idata.to_netcdf(str(tmp), engine=_ENGINE)
        return target
    if isinstance(result, FrequentistResults):
        with atomic_path(target, suffix=".nc") as tmp:
            _frequentist_dataset(result).to_netcdf(tmp, engine=_ENGINE)
        return target
    raise SpecError(f"save_result needs a sustain result, not {type(result).__name__}")


def _stamped(result: BayesianResults) -> Any:
    """The result's InferenceData with up-to-date metadata (the result itself is unchanged)."""
    meta_fn = getattr(result, "metadata", None)
    if meta_fn is None:
        meta: dict[str, Any] = {
            "result_class": "sustain.results.BayesianResults",
            "terms": list(result.terms),
            "info": info_to_dict(result.info),
            "interval": result.interval,
        }
    else:
        meta = dict(meta_fn())
    previous = result.idata.posterior.attrs.get(METADATA_KEY)
    if previous:
        meta.setdefault("versions", json.loads(previous).get("versions", {}))
    import arviz as az

    groups = {g: result.idata[g] for g in result.idata.groups()}
    posterior = groups["posterior"].copy(deep=False)
    posterior.attrs = {**posterior.attrs, METADATA_KEY: json.dumps(meta)}
    groups["posterior"] = posterior
    return az.InferenceData(**groups)


def _frequentist_dataset(result: FrequentistResults) -> Any:
    import xarray as xr

    terms = [str(t) for t in result.params_.index]
    meta = {
        "result_class": "sustain.results.FrequentistResults",
        "info": info_to_dict(result.info),
        "df_resid": result.df_resid,
    }
    cov = result.cov.loc[result.params_.index, result.params_.index].to_numpy(dtype=float)
    return xr.Dataset(
        {
            "params": (("term",), result.params_.to_numpy(dtype=float)),
            "cov": (("term", "term_"), cov),
        },
        coords={"term": terms, "term_": terms},
        attrs={KIND_KEY: "frequentist", METADATA_KEY: json.dumps(meta)},
    )


def load_result(path: PathLikeStr) -> Any:
    """Load a result written by :func:`save_result` (or ``result.save``).

    Returns the same kind of result that was saved -- e.g. a
    :class:`~sustain.models.bayes.BayesResults` with its formula, priors, data hash and
    InferenceData -- ready for ``summary()``, ``tidy()`` and :func:`sustain.regression_table`.

    Raises
    ------
    SpecError
        The file is missing or was not written by sustain.

    Examples
    --------
    >>> import tempfile, pathlib, pandas as pd
    >>> from sustain.results import FrequentistResults, ModelInfo
    >>> cov = pd.DataFrame([[4.0]], index=["x"], columns=["x"])
    >>> info = ModelInfo(model="FE", estimator="within", depvar="y", formula="y ~ x", nobs=9)
    >>> p = FrequentistResults(pd.Series({"x": 1.0}), cov, info)
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "fe.nc"
    >>> load_result(save_result(p, out)).info.estimator
    'within'
    """
    import xarray as xr

    target = Path(path)
    if not target.is_file():
        raise SpecError(f"no saved result at {target}")
    try:
        with xr.open_dataset(target, engine=_ENGINE) as root:
            kind = root.attrs.get(KIND_KEY)
            if kind == "frequentist":
                return _frequentist_from(root.load())
    except (OSError, ValueError) as exc:
        raise SpecError(f"{target} is not a NetCDF file written by sustain: {exc}") from exc
    return _bayesian_from(target)


def _frequentist_from(ds: Any) -> FrequentistResults:
    meta = json.loads(ds.attrs[METADATA_KEY])
    terms = [str(t) for t in ds["term"].values]
    params = pd.Series(np.asarray(ds["params"]), index=terms)
    cov = pd.DataFrame(np.asarray(ds["cov"]), index=terms, columns=terms)
    return FrequentistResults(params, cov, info_from_dict(meta["info"]), meta.get("df_resid"))


def _bayesian_from(target: Path) -> Any:
    import arviz as az

    try:
        idata = az.from_netcdf(str(target), engine=_ENGINE)
    except Exception as exc:
        raise SpecError(f"{target} is not a NetCDF file written by sustain: {exc}") from exc
    post = getattr(idata, "posterior", None)
    if post is None or METADATA_KEY not in post.attrs:
        raise SpecError(f"{target} has no sustain metadata; it was not written by save_result")
    meta = json.loads(post.attrs[METADATA_KEY])
    cls = _result_class(meta.get("result_class", ""))
    if hasattr(cls, "from_idata"):
        return cls.from_idata(idata, meta)
    return cls(
        idata=idata,
        terms=tuple(meta["terms"]),
        info=info_from_dict(meta["info"]),
        interval=meta.get("interval", "eti"),
    )


def _result_class(name: str) -> Any:
    module, _, cls_name = name.rpartition(".")
    if not module.startswith("sustain.") and module != "sustain":
        raise SpecError(f"refusing to load result class {name!r}: not part of sustain")
    try:
        cls = getattr(importlib.import_module(module), cls_name)
    except (ImportError, AttributeError) as exc:
        raise SpecError(f"result class {name!r} is not available: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, BayesianResults)):
        raise SpecError(f"{name!r} is not a Bayesian result class")
    return cls


def info_to_dict(info: ModelInfo) -> dict[str, Any]:
    """:class:`ModelInfo` as JSON-ready data.

    Examples
    --------
    >>> info = ModelInfo(model="OLS", estimator="pooled", depvar="y", formula="y ~ x", nobs=3)
    >>> info_from_dict(info_to_dict(info)) == info
    True
    """
    out = dataclasses.asdict(info)
    out["groups"] = {str(k): int(v) for k, v in info.groups.items()}
    out["stats"] = {str(k): float(v) for k, v in info.stats.items()}
    return dict(json.loads(json.dumps(out)))


def info_from_dict(data: dict[str, Any]) -> ModelInfo:
    """Inverse of :func:`info_to_dict`."""
    fields = {f.name for f in dataclasses.fields(ModelInfo)}
    kwargs = {k: v for k, v in data.items() if k in fields}
    for name in ("effects", "cluster", "notes"):
        kwargs[name] = tuple(kwargs.get(name, ()))
    return ModelInfo(**kwargs)
