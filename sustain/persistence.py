"""Save fitted results to NetCDF and load them back, so tables can be rebuilt without refitting.

A Bayesian result is written as its ArviZ ``DataTree`` (every group: posterior, sample
statistics, log-likelihood, predictive draws, observed data; one NetCDF group each, through the
h5netcdf engine) with a JSON metadata attribute on the posterior group holding what rebuilding
the result needs -- the result class, reported terms, :class:`~sustain.results.ModelInfo`,
formula, family, priors, the SHA-256 of the data and the package versions of the fit. Files
written by earlier versions of sustain (ArviZ 0.2x ``InferenceData``) have the same layout and
load as a ``DataTree``; one that cannot be read says which ArviZ version wrote it. A frequentist result is written as a small NetCDF file
with its estimates, covariance matrix and the same kind of metadata, including the result
class and its model-specific fields (e.g. a hazard model's ``duration_terms``), so loading
gives back the same class with the same behaviour. Files are written atomically (a temporary
file renamed into place) and carry no time stamps or timings: the same fit saved twice, or
two fits with the same data, options and seed, give byte-identical files.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sustain import _frames
from sustain._atomic import atomic_path
from sustain._typing import PathLikeStr
from sustain.errors import SpecError
from sustain.results import BayesianResults, FrequentistResults, ModelInfo, SummaryMixin

METADATA_KEY = "sustain_metadata"
KIND_KEY = "sustain_kind"
_ENGINE = "h5netcdf"
#: Attributes ArviZ and PyMC stamp on DataTree groups that change from run to run.
VOLATILE_ATTRS = ("created_at", "sampling_time")
#: Sample statistics holding wall-clock timings (PyMC's sampler), dropped when saving.
VOLATILE_STATS = ("perf_counter_diff", "perf_counter_start", "process_time_diff")
#: Fields every frequentist result has; the others are the class's own.
_BASE_FIELDS = ("params_", "cov", "info", "df_resid", "pieces")
#: Prefix of the NetCDF variables holding term-by-term matrix fields (e.g. ``naive_cov``).
_MATRIX_PREFIX = "field_"


def save_result(result: Any, path: PathLikeStr) -> Path:
    """Write ``result`` to ``path`` (NetCDF, conventionally ``.nc``) and return the path.

    Parameters
    ----------
    result : BayesResults, FrequentistResults, KaplanMeierResults, HausmanResult, ...
        A fitted result. Bayesian results keep all their DataTree groups (without the
        creation times and sampling timings ArviZ and PyMC stamp on them); frequentist results
        keep estimates, covariance, ``info``, ``df_resid`` and the fields of their class that
        are text, numbers, tuples of these, term-by-term matrices or tables (not the
        underlying library object nor the arrays kept to recompute covariances); results made
        of tables and values (Kaplan-Meier curves, a Hausman test) keep all their fields.
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
            idata.to_netcdf(tmp, engine=_ENGINE)
        return target
    if isinstance(result, FrequentistResults):
        dataset = _frequentist_dataset(result)
    elif isinstance(result, SummaryMixin) and dataclasses.is_dataclass(result):
        dataset = _tables_dataset(result)
    else:
        raise SpecError(f"save_result needs a sustain result, not {type(result).__name__}")
    with atomic_path(target, suffix=".nc") as tmp:
        dataset.to_netcdf(tmp, engine=_ENGINE)
    return target


def _stamped(result: BayesianResults) -> Any:
    """The result's DataTree with up-to-date metadata (the result itself is unchanged)."""
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
    previous = result.idata["posterior"].attrs.get(METADATA_KEY)
    if previous:
        meta.setdefault("versions", json.loads(previous).get("versions", {}))
    import xarray as xr

    groups = {str(g): _steady(node.to_dataset()) for g, node in result.idata.children.items()}
    posterior = groups["posterior"]
    posterior.attrs = {**posterior.attrs, METADATA_KEY: json.dumps(meta)}
    tree = xr.DataTree.from_dict(groups)
    tree.attrs = {k: v for k, v in result.idata.attrs.items() if k not in VOLATILE_ATTRS}
    return tree


def _steady(group: Any) -> Any:
    """A shallow copy of a group's Dataset without time stamps and timings."""
    out = group.drop_vars([v for v in VOLATILE_STATS if v in group.data_vars])
    out = out.copy(deep=False)
    out.attrs = {k: v for k, v in group.attrs.items() if k not in VOLATILE_ATTRS}
    return out


def _frequentist_dataset(result: FrequentistResults) -> Any:
    import xarray as xr

    terms = [str(t) for t in result.params_.index]
    fields, matrices, frames = _class_fields(result, result.params_.index)
    variables, frame_meta = _encode_frames(frames)
    cls = type(result)
    meta = {
        "result_class": f"{cls.__module__}.{cls.__qualname__}",
        "info": info_to_dict(result.info),
        "df_resid": result.df_resid,
        "fields": fields,
        "matrix_fields": sorted(matrices),
        "frame_fields": frame_meta,
    }
    cov = result.cov.loc[result.params_.index, result.params_.index].to_numpy(dtype=float)
    variables["params"] = (("term",), result.params_.to_numpy(dtype=float))
    variables["cov"] = (("term", "term_"), cov)
    for name, matrix in matrices.items():
        variables[_MATRIX_PREFIX + name] = (("term", "term_"), matrix)
    return xr.Dataset(
        variables,
        coords={"term": terms, "term_": terms},
        attrs={KIND_KEY: "frequentist", METADATA_KEY: json.dumps(meta)},
    )


def _tables_dataset(result: Any) -> Any:
    """A result made of tables and values (Kaplan-Meier curves, a Hausman test, ...)."""
    import xarray as xr

    fields, _, frames = _class_fields(result)
    variables, frame_meta = _encode_frames(frames)
    cls = type(result)
    meta = {
        "result_class": f"{cls.__module__}.{cls.__qualname__}",
        "fields": fields,
        "frame_fields": frame_meta,
    }
    if isinstance(getattr(result, "info", None), ModelInfo):  # e.g. an event study
        meta["info"] = info_to_dict(result.info)
    return xr.Dataset(variables, attrs={KIND_KEY: "tables", METADATA_KEY: json.dumps(meta)})


def _encode_frames(frames: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """NetCDF variables of every table field, and each table's metadata by field name."""
    variables: dict[str, Any] = {}
    metas: dict[str, Any] = {}
    for name, table in frames.items():
        frame_variables, metas[name] = _frames.encode(name, table)
        variables.update(frame_variables)
    return variables, metas


def _tables_from(ds: Any) -> Any:
    meta = json.loads(ds.attrs[METADATA_KEY])
    cls = _result_class(meta["result_class"], SummaryMixin)
    values = {k: _as_tuples(v) for k, v in meta.get("fields", {}).items()}
    for name, frame_meta in meta.get("frame_fields", {}).items():
        values[name] = _frames.decode(name, ds, frame_meta)
    if "info" in meta:
        values["info"] = info_from_dict(meta["info"])
    return cls(**values)


def _class_fields(
    result: Any, terms: pd.Index | None = None
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The class's own fields: simple values (JSON-ready), term-by-term matrices, other tables.

    Fields holding anything else (a library's fitted object, arrays kept to recompute a
    covariance) are not written; the class must give them a default.
    """
    simple: dict[str, Any] = {}
    matrices: dict[str, Any] = {}
    frames: dict[str, Any] = {}
    for f in dataclasses.fields(result):
        if f.name in _BASE_FIELDS or not f.init:
            continue
        value = _plain(getattr(result, f.name))
        if _is_simple(value):
            simple[f.name] = value
        elif (
            terms is not None
            and isinstance(value, pd.DataFrame)
            and value.index.equals(terms)
            and value.columns.equals(terms)
        ):
            matrices[f.name] = value.to_numpy(dtype=float)
        elif isinstance(value, pd.DataFrame | pd.Series):
            frames[f.name] = value
    return simple, matrices, frames


def _plain(value: Any) -> Any:
    """NumPy scalars (also inside tuples) as Python numbers."""
    if isinstance(value, np.generic):
        return value.item()
    return tuple(_plain(v) for v in value) if isinstance(value, tuple) else value


def _is_simple(value: Any) -> bool:
    """Text, numbers, booleans, ``None`` and (nested) tuples of these."""
    if value is None or isinstance(value, str | bool | int | float):
        return True
    return isinstance(value, tuple) and all(_is_simple(v) for v in value)


def _as_tuples(value: Any) -> Any:
    """JSON lists back to the tuples they were."""
    return tuple(_as_tuples(v) for v in value) if isinstance(value, list) else value


def load_result(path: PathLikeStr) -> Any:
    """Load a result written by :func:`save_result` (or ``result.save``).

    Returns the same kind of result that was saved -- e.g. a
    :class:`~sustain.models.bayes.BayesResults` with its formula, priors, data hash and
    DataTree -- ready for ``summary()``, ``tidy()`` and :func:`sustain.regression_table`.

    Raises
    ------
    SpecError
        The file is missing, was not written by sustain, or cannot be read by the installed
        packages (the message names the ArviZ version that wrote it).

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
            if kind == "tables":
                return _tables_from(root.load())
    except (OSError, ValueError) as exc:
        raise SpecError(f"{target} is not a NetCDF file written by sustain: {exc}") from exc
    return _bayesian_from(target)


def _frequentist_from(ds: Any) -> FrequentistResults:
    meta = json.loads(ds.attrs[METADATA_KEY])
    cls = _result_class(
        meta.get("result_class", "sustain.results.FrequentistResults"), FrequentistResults
    )
    terms = [str(t) for t in ds["term"].values]
    params = pd.Series(np.asarray(ds["params"]), index=terms)
    cov = pd.DataFrame(np.asarray(ds["cov"]), index=terms, columns=terms)
    extra = {k: _as_tuples(v) for k, v in meta.get("fields", {}).items()}
    for name in meta.get("matrix_fields", ()):
        values = np.asarray(ds[_MATRIX_PREFIX + name])
        extra[name] = pd.DataFrame(values, index=terms, columns=terms)
    for name, frame_meta in meta.get("frame_fields", {}).items():
        extra[name] = _frames.decode(name, ds, frame_meta)
    result: FrequentistResults = cls(
        params, cov, info_from_dict(meta["info"]), meta.get("df_resid"), **extra
    )
    return result


def _bayesian_from(target: Path) -> Any:
    import xarray as xr

    try:
        with xr.open_datatree(target, engine=_ENGINE) as tree:
            idata = tree.load()  # into memory: the file is closed (and may be overwritten)
    except Exception as exc:
        raise SpecError(f"{target} is not a NetCDF file written by sustain: {exc}") from exc
    post = idata.children.get("posterior")
    if post is None or METADATA_KEY not in post.attrs:
        raise SpecError(f"{target} has no sustain metadata; it was not written by save_result")
    meta = json.loads(post.attrs[METADATA_KEY])
    cls = _result_class(meta.get("result_class", ""), BayesianResults)
    try:
        if hasattr(cls, "from_idata"):
            result = cls.from_idata(idata, meta)
        else:
            result = cls(
                idata=idata,
                terms=tuple(meta["terms"]),
                info=info_from_dict(meta["info"]),
                interval=meta.get("interval", "eti"),
            )
        result.params  # noqa: B018 -- reads every reported term: fails here, not in a table
    except Exception as exc:
        raise SpecError(_version_problem(target, meta, post.attrs, exc)) from exc
    return result


def _version_problem(target: Path, meta: dict[str, Any], attrs: Any, exc: Exception) -> str:
    """Why a saved Bayesian result could not be rebuilt, naming the versions that wrote it."""
    from importlib.metadata import version

    written = dict(meta.get("versions", {}))
    arviz_then = str(written.get("arviz") or attrs.get("arviz_version") or "unknown")
    sustain_then = str(written.get("sustain", "unknown"))
    return (
        f"{target} was written by sustain {sustain_then} with ArviZ {arviz_then} and cannot be "
        f"rebuilt with ArviZ {version('arviz')} (results are xarray DataTrees since ArviZ 1.0): "
        f"{type(exc).__name__}: {exc}. Refit the model, or load the file with the versions "
        "that wrote it."
    )


#: Modules of result classes before the models were grouped into one package per family
#: (files written by sustain 0.1 name these).
MOVED_MODULES = {
    "sustain.models.fe": "sustain.models.panel.fit",
    "sustain.models.fe_hausman": "sustain.models.panel.hausman",
    "sustain.models.hazard": "sustain.models.survival.hazard",
    "sustain.models.cox": "sustain.models.survival.cox",
    "sustain.models.kaplan_meier": "sustain.models.survival.kaplan_meier",
    "sustain.models.joint_results": "sustain.models.joint.results",
}


def _result_class(name: str, base: type) -> Any:
    module, _, cls_name = name.rpartition(".")
    module = MOVED_MODULES.get(module, module)
    if not module.startswith("sustain.") and module != "sustain":
        raise SpecError(f"refusing to load result class {name!r}: not part of sustain")
    try:
        cls = getattr(importlib.import_module(module), cls_name)
    except (ImportError, AttributeError) as exc:
        raise SpecError(f"result class {name!r} is not available: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise SpecError(f"{name!r} is not a {base.__name__} class")
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
