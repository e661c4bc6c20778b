"""``sustain.multiverse`` and ``sustain multiverse SPEC.toml``: expand, run, tabulate, draw.

A multiverse spec is an analysis spec (:mod:`sustain.pipeline.spec`: ``[run]``, ``[data]``,
``[panel]``, ``[[sample]]``, ``[[models]]``) plus a ``[multiverse]`` table naming the base
model and the choices; see ``docs/multiverse.md``.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from sustain._typing import PathLikeStr
from sustain.data.dataset import Dataset
from sustain.errors import SpecError
from sustain.multiverse.execute import Cache, Outcome, check_backend, execute, frame_hash
from sustain.multiverse.grid import Specification, check_choices, columns_used, expand
from sustain.multiverse.result import MultiverseResult, outcome_table
from sustain.options import Backend
from sustain.pipeline.signatures import check_options
from sustain.pipeline.spec import Filter

#: keys of the ``[multiverse]`` table of a spec
MULTIVERSE_KEYS: dict[str, Any] = {
    "model": str,
    "term": str,
    "choices": dict[str, list[Any]],
    "samples": dict[str, list[dict[str, Any]]],
    "alpha": float,
}


def multiverse(
    base_spec: Any,
    choices: Mapping[str, Sequence[Any]],
    *,
    data: pd.DataFrame | Dataset,
    term: str | None = None,
    samples: Mapping[str, Sequence[Filter | Mapping[str, Any]]] | None = None,
    backend: Backend = "processes",
    address: str | None = None,
    n_workers: int | None = None,
    cache_dir: PathLikeStr | None = None,
    alpha: float = 0.05,
    random_seed: int = 0,
    progress: bool = False,
) -> MultiverseResult:
    """Fit every combination of analytic choices and collect the coefficient of interest.

    Parameters
    ----------
    base_spec : mapping or pipeline Entry
        A model of the spec format with placeholders, e.g. ``{"kind": "fe", "formula":
        "quality ~ {measure} + log_revenue", "effects": ["agency_id", "year"]}``.
    choices : mapping of str to list
        Dimension -> options, e.g. ``{"measure": ["hhi", "hhi_norm", "entropy",
        "gov_share"], "lag": [0, 1], "estimator": ["fe", "re", "bayes"], "cluster":
        ["agency_id", "district"], "sample": ["all", "no_left_truncated"]}``. See
        :mod:`sustain.multiverse.grid` for what each dimension does.
    data : DataFrame or Dataset
        The agency-year panel (or a data set, turned into one by :func:`sustain.build_panel`).
        Lags named by the ``lag`` dimension are added when missing.
    term : str, optional
        Coefficient of interest, with placeholders; default ``"{measure}"`` (its lag when
        ``lag`` > 0).
    samples : mapping, optional
        Extra named samples for the ``sample`` dimension: name -> filters
        (``{"column": "year", "op": ">=", "value": 2015}``).
    backend : {"processes", "serial", "dask"}
        Spawned local processes (default), this process, or a Dask cluster.
    address : str, optional
        Address of a Dask scheduler; ``None`` with ``backend="dask"`` starts a LocalCluster.
    n_workers : int, optional
        Local processes or LocalCluster workers (default: the CPU count).
    cache_dir : path, optional
        Keep each finished specification here so that an interrupted run resumes.
    alpha : float
        Intervals have mass ``1 - alpha`` (frequentist: Wald; Bayesian: equal-tailed).
    random_seed : int
        Each specification's seed is derived from it and the specification's id.
    progress : bool
        Print one line per finished specification.

    Returns
    -------
    MultiverseResult

    Raises
    ------
    SpecError
        Invalid choices, base specification, backend or options (before anything runs).
        Failures of single specifications never raise: they are rows with ``status ==
        "failed"`` and the error.

    Notes
    -----
    Bayesian specifications sample 2 chains of 300 draws after 300 warm-up iterations, one
    core each, without predictive draws, unless the base specification sets ``draws``,
    ``tune``, ``chains`` or ``cores``. The table does not depend on the backend or the number
    of workers: seeds derive from specification ids, fits run with one BLAS thread and rows
    are sorted by id.

    Examples
    --------
    >>> import sustain
    >>> panel = sustain.build_panel(sustain.datasets.example())
    >>> mv = sustain.multiverse(
    ...     {"kind": "hazard", "formula": "exit ~ {measure} + log_revenue"},
    ...     {"measure": ["hhi", "gov_share"], "link": ["logit", "cloglog"]},
    ...     data=panel, backend="serial")
    >>> mv.table[["measure", "link", "status"]].sort_values(["measure", "link"]).values.tolist()
    [['gov_share', 'cloglog', 'ok'], ['gov_share', 'logit', 'ok'], ['hhi', 'cloglog', 'ok'], ['hhi', 'logit', 'ok']]
    """
    check_backend(backend)
    if not 0 < alpha < 1:
        raise SpecError(f"alpha must lie in (0, 1), not {alpha!r}")
    dims = check_choices(choices)
    specs = expand(base_spec, dims, term=term, samples=samples, random_seed=random_seed)
    panel = with_lags(as_panel(data), dims)
    data_hash = frame_hash(panel)  # of the whole panel: the cache's identity of the data
    cache = Cache(cache_dir, data_hash, alpha) if cache_dir is not None else None
    report = _reporter(len(specs)) if progress else None
    run = execute(
        specs,
        shipped_columns(panel, specs),
        backend=backend,
        address=address,
        n_workers=n_workers,
        cache=cache,
        alpha=alpha,
        on_outcome=report,
    )
    return MultiverseResult(
        table_=outcome_table(specs, run.outcomes, tuple(dims)),
        dimensions=tuple(dims),
        choices=dims,
        specifications=specs,
        term=term if term is not None else "{measure}",
        alpha=alpha,
        cached=run.cached,
        backend=backend,
        n_workers=run.n_workers,
        seconds=run.seconds,
        fit_seconds={k: v.seconds for k, v in sorted(run.outcomes.items())},
        data_hash=data_hash,
    )


def as_panel(data: pd.DataFrame | Dataset) -> pd.DataFrame:
    """The panel itself, or the panel of a data set.

    Examples
    --------
    >>> import sustain
    >>> as_panel(sustain.datasets.example()).index.names
    FrozenList(['agency_id', 'year'])
    """
    if isinstance(data, Dataset):
        from sustain.data.panel import build_panel

        return build_panel(data)
    if not isinstance(data, pd.DataFrame):
        raise SpecError(f"data must be a panel DataFrame or a Dataset, not {type(data).__name__}")
    return data


def shipped_columns(panel: pd.DataFrame, specs: Sequence[Specification]) -> pd.DataFrame:
    """The panel reduced to the columns the specifications use (less to copy and to send).

    The whole panel is kept when a specification names a column the panel lacks, so that
    its error message can still suggest the closest existing column.

    Examples
    --------
    >>> import sustain
    >>> from sustain.multiverse.grid import expand
    >>> panel = sustain.build_panel(sustain.datasets.example())
    >>> specs = expand({"kind": "fe", "formula": "quality ~ {measure}"}, {"measure": ["hhi"]})
    >>> list(shipped_columns(panel, specs).columns)
    ['hhi', 'quality']
    """
    used = columns_used(specs)
    levels = {str(n) for n in panel.index.names if n}
    if used is None or not used <= set(map(str, panel.columns)) | levels:
        return panel
    return panel[[c for c in panel.columns if c in used]]


def with_lags(panel: pd.DataFrame, choices: Mapping[str, Sequence[Any]]) -> pd.DataFrame:
    """Add the lags of the measures that the ``lag`` dimension asks for and the panel lacks.

    Examples
    --------
    >>> import sustain
    >>> panel = sustain.build_panel(sustain.datasets.example())
    >>> "hhi_lag1" in with_lags(panel, {"measure": ["hhi"], "lag": [0, 1]}).columns
    True
    """
    from sustain.data.panel import add_lags

    wanted: dict[str, list[int]] = {}
    for measure in choices.get("measure", ()):
        for k in choices.get("lag", ()):
            if k > 0 and f"{measure}_lag{k}" not in panel.columns and measure in panel.columns:
                wanted.setdefault(str(measure), []).append(int(k))
    return add_lags(panel, wanted) if wanted else panel


def _reporter(total: int) -> Any:
    from sustain.pipeline.progress import Progress

    progress = Progress()
    done = [0]

    def report(outcome: Outcome) -> None:
        done[0] += 1
        what = "ok" if outcome.status == "ok" else f"FAILED ({outcome.error_type})"
        progress.say(f"{done[0]}/{total} {outcome.id} {what} ({outcome.seconds:.1f}s)")

    return report


# --------------------------------------------------------------------------- spec files


def run_multiverse_spec(
    path: PathLikeStr,
    backend: Backend = "processes",
    address: str | None = None,
    n_workers: int | None = None,
    out: PathLikeStr | None = None,
    quiet: bool = False,
) -> MultiverseResult:
    """Run a multiverse spec (``sustain multiverse SPEC.toml``) into its results folder.

    The folder gets ``tables/multiverse.csv`` (one row per specification),
    ``tables/multiverse_summary.txt``, ``figures/spec_curve.png`` and ``.pdf``, a ``cache/``
    of finished specifications (a rerun after an interruption fits only the rest) and
    ``manifest.json`` (inputs, spec, seeds of every specification, versions, git commit).

    Parameters
    ----------
    path : path
        The TOML file: an analysis spec with one or more ``[[models]]`` and a
        ``[multiverse]`` table (``model``, ``term``, ``choices``, ``samples``, ``alpha``).
    backend, address, n_workers
        As in :func:`multiverse`.
    out : path, optional
        Results folder (default ``<results>/<run name>`` from the spec).
    quiet : bool
        Print nothing.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "mv.toml").write_text('''
    ... [data]
    ... builtin = "example"
    ... [[models]]
    ... name = "quality"
    ... kind = "fe"
    ... formula = "quality ~ {measure} + log_revenue"
    ... [multiverse.choices]
    ... measure = ["hhi", "entropy"]
    ... cluster = ["agency_id", "district"]
    ... ''')
    >>> mv = run_multiverse_spec(folder / "mv.toml", backend="serial", quiet=True)
    >>> sorted(p.name for p in (folder / "results" / "mv" / "tables").iterdir())
    ['multiverse.csv', 'multiverse_summary.txt']
    """
    from sustain.pipeline.run import load_data, make_panel
    from sustain.pipeline.spec import parse_spec

    file = Path(str(path))
    raw, sha = _read_toml(file)
    settings = _multiverse_table(raw)
    rest = {k: v for k, v in raw.items() if k != "multiverse"}
    for section in ("tables", "figures"):
        if rest.get(section):
            raise SpecError(
                f"a multiverse spec writes its own table and figure; remove [[{section}]]"
            )
    spec = parse_spec(rest, base=file.parent, default_name=file.stem, out=out, sha256=sha)
    entry = _base_model(spec.models, settings.get("model"))
    data, inputs = load_data(spec)
    panel = make_panel(spec, data)
    folder = _results_folder(spec.results)
    result = multiverse(
        entry,
        settings["choices"],
        data=panel,
        term=settings.get("term"),
        samples=settings.get("samples"),
        backend=backend,
        address=address,
        n_workers=n_workers,
        cache_dir=folder.root / "cache",
        alpha=settings.get("alpha", 0.05),
        random_seed=spec.seed,
        progress=not quiet,
    )
    _write_outputs(folder, spec, raw, inputs, result, quiet)
    return result


def _read_toml(file: Path) -> tuple[dict[str, Any], str]:
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise SpecError(f"cannot read spec {file}: {exc}") from exc
    try:
        return tomllib.loads(data.decode("utf-8")), hashlib.sha256(data).hexdigest()
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SpecError(f"{file.name} is not valid TOML: {exc}") from exc


def _multiverse_table(raw: Mapping[str, Any]) -> dict[str, Any]:
    table = raw.get("multiverse")
    if not isinstance(table, dict):
        raise SpecError("a multiverse spec needs a [multiverse] table with [multiverse.choices]")
    check_options(table, MULTIVERSE_KEYS, "multiverse")
    if "choices" not in table:
        raise SpecError("[multiverse] needs choices: [multiverse.choices] measure = [...]")
    check_choices(table["choices"])
    return dict(table)


def _base_model(models: Sequence[Any], name: str | None) -> Any:
    if name is None:
        if len(models) != 1:
            raise SpecError(
                f"the spec has {len(models)} models; name the base one: [multiverse] model = ..."
            )
        return models[0]
    for entry in models:
        if entry.name == name:
            return entry
    raise SpecError(f"multiverse.model = {name!r} is not a model of [[models]]")


def _results_folder(root: Path) -> Any:
    from sustain.pipeline.results_dir import ResultsDir

    return ResultsDir.create(root)


def _write_outputs(
    folder: Any,
    spec: Any,
    raw: Mapping[str, Any],
    inputs: Mapping[str, Path],
    result: MultiverseResult,
    quiet: bool,
) -> None:
    from sustain.pipeline import manifest as mf

    written = [
        folder.write_text("tables", "multiverse.csv", result.table.to_csv(index=False)),
        folder.write_text("tables", "multiverse_summary.txt", str(result.summary()) + "\n"),
    ]
    if result.stats()["n_ok"]:
        written += _curve_paths(folder, result)
    manifest = mf.build_manifest(
        run=spec.name,
        spec=raw,
        spec_sha256=spec.sha256,
        inputs=mf.file_entries(inputs),
        seeds={"seed": spec.seed, "specifications": _seeds(result.specifications)},
        outputs=folder.hashes(written),
        project=spec.base,
        extra={
            "multiverse": {
                **result.stats(),
                "backend": result.backend,
                "n_workers": result.n_workers,
                "cached": len(result.cached),
            }
        },
    )
    mf.write_manifest(folder, manifest)
    if not quiet:
        print(result.summary())
        print(f"wrote {len(written)} files and manifest.json to {folder.root}")


def _curve_paths(folder: Any, result: MultiverseResult) -> list[Path]:
    target = folder.path("figures", "spec_curve.png")
    result.curve(target)
    return [target, target.with_suffix(".pdf")]


def _seeds(specs: Sequence[Specification]) -> dict[str, int]:
    return {s.id: s.seed for s in specs if s.kind in ("bayes", "joint")}
