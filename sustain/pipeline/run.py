"""Running a spec: data, panel, sample, checks, fits, diagnostics, tables, figures, manifest.

The order is fixed so that nothing is fitted before everything that can be checked has been
checked: the spec is validated when read (:mod:`sustain.pipeline.spec`), the data are read and
the panel built, then every model, table and figure is checked against the data
(:mod:`sustain.pipeline.preflight`). Only then are models fitted, in the order of the spec,
each with its own seed derived from the run's seed. Outputs are written atomically and the
manifest last.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from sustain._threads import one_blas_thread
from sustain._typing import PathLikeStr
from sustain.data.dataset import Dataset
from sustain.data.problems import left_out_lines
from sustain.errors import FitError, SpecError
from sustain.models.bayes import report_every
from sustain.pipeline import manifest as mf
from sustain.pipeline.kinds import MODEL_KINDS
from sustain.pipeline.outputs import (
    check_written,
    is_bayesian,
    save_diagnostics,
    save_model,
    warnings_once,
    write_figure,
    write_table,
)
from sustain.pipeline.preflight import apply_sample, check_spec
from sustain.pipeline.progress import Progress
from sustain.pipeline.results_dir import ResultsDir
from sustain.pipeline.spec import Entry, Spec, load_spec
from sustain.pipeline.transaction import transaction

#: The bundled example spec run by :func:`demo`.
EXAMPLE_SPEC = "example.toml"
#: Seconds between progress lines while a Bayesian model compiles and samples (``sustain run``
#: must show a line at least every ten seconds).
SAMPLING_REPORT_SECONDS = 5.0


@dataclass(frozen=True)
class RunResult:
    """What a run produced.

    Attributes
    ----------
    spec : Spec
        The validated spec.
    folder : Path
        The results folder.
    fits : mapping
        Fitted results by model name.
    diagnostics_ok : mapping
        For each Bayesian model, whether every diagnostic check passed.
    outputs : tuple of str
        Files written, relative to ``folder``.
    manifest : mapping
        The manifest written to ``folder/manifest.json``.
    seconds : float
        Wall time of the run.

    Examples
    --------
    >>> RunResult.__dataclass_fields__.keys() >= {"folder", "fits", "manifest"}
    True
    """

    spec: Spec
    folder: Path
    fits: Mapping[str, Any]
    diagnostics_ok: Mapping[str, bool]
    outputs: tuple[str, ...]
    manifest: Mapping[str, Any]
    seconds: float


def example_spec_path() -> Path:
    """Path of the bundled example spec (the study of ``analyses/`` on the example data).

    Examples
    --------
    >>> example_spec_path().name
    'example.toml'
    """
    return Path(str(resources.files("sustain.pipeline") / EXAMPLE_SPEC))


def run_spec(
    spec: PathLikeStr | Spec, out: PathLikeStr | None = None, *, quiet: bool = False
) -> RunResult:
    """Run an analysis specification and write its results folder.

    Parameters
    ----------
    spec : path or Spec
        A TOML spec file (see ``docs/spec.md``) or a spec from :func:`load_spec`.
    out : path, optional
        Results folder; default ``<results>/<name>`` from the spec, relative to its folder.
    quiet : bool
        Do not print progress lines.

    Returns
    -------
    RunResult

    Raises
    ------
    SpecError
        For any problem of the spec, found before fitting starts.
    DataError
        When the data break the data contract.
    FitError
        When a model fails to fit despite the checks (the message names the model).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "s.toml").write_text(
    ...     '[data]\\nbuiltin = "example"\\n'
    ...     '[[models]]\\nname = "fe"\\nkind = "fe"\\nformula = "quality ~ hhi + gov_share"\\n'
    ...     '[[tables]]\\nname = "t"\\nkind = "regression"\\nmodels = ["fe"]\\nformats = ["csv"]\\n')
    >>> run = run_spec(folder / "s.toml", quiet=True)
    >>> run.outputs
    ('models/fe.nc', 'models/fe.txt', 'tables/t.csv')
    >>> sorted(p.name for p in run.folder.iterdir())
    ['diagnostics', 'figures', 'manifest.json', 'models', 'tables']
    """
    progress = Progress(quiet=quiet)
    if not isinstance(spec, Spec):
        spec = load_spec(spec, out)
    elif out is not None:
        spec = dataclasses.replace(spec, results=Path(out))
    progress.say(
        f"run {spec.name!r}: {len(spec.models)} models, {len(spec.tables)} tables, "
        f"{len(spec.figures)} figures -> {spec.results}"
    )
    # one BLAS thread throughout: the same bytes on every machine (see sustain._threads)
    with one_blas_thread(), transaction(Path(spec.results), say=progress.say) as folder:
        outputs, manifest, fits, diag_ok = _run_into(spec, folder, progress)
    root = Path(os.path.abspath(spec.results))
    progress.say(f"wrote {len(outputs)} files and manifest.json to {root}")
    for name, ok in diag_ok.items():
        if not ok:
            progress.say(
                f"WARNING: {name} failed its diagnostics; read "
                f"{root / 'diagnostics' / name / 'summary.txt'} before using it"
            )
    return RunResult(spec, root, fits, diag_ok, tuple(outputs), manifest, progress.elapsed())


def _run_into(
    spec: Spec, folder: ResultsDir, progress: Progress
) -> tuple[dict[str, str], dict[str, Any], dict[str, Any], dict[str, bool]]:
    """Everything of a run, written into ``folder`` (the transaction's staging folder)."""
    with progress.step("reading data and building the panel"):
        data, inputs = load_data(spec)
        panel = make_panel(spec, data)
        frames = model_frames(spec, panel)
    for line in left_out_lines(data.problems):
        progress.say(line)
    with progress.step("checking models, tables and figures against the data"):
        check_spec(spec, panel, frames)
    written: list[Path] = []
    fits, diag_ok = _fit_all(spec, frames, folder, written, progress)
    boots = _bootstrap_all(spec, fits, folder, written, progress)
    written += _write_outputs(spec, folder, fits, panel, progress, boots)
    check_written(written)
    outputs = folder.hashes(written)  # the staging folder: only this run writes there
    manifest = mf.build_manifest(
        run=spec.name,
        spec=spec.raw,
        spec_sha256=spec.sha256,
        inputs=mf.file_entries(inputs),
        seeds={"seed": spec.seed, "models": spec.model_seeds(), **_wild_seeds(spec)},
        outputs=outputs,
        project=spec.base,
        extra={"data": data_facts(data), "panel": panel_facts(panel), "diagnostics_ok": diag_ok},
    )
    mf.write_manifest(folder, manifest)
    return outputs, manifest, fits, diag_ok


def _bootstrap_all(
    spec: Spec,
    fits: Mapping[str, Any],
    folder: ResultsDir,
    written: list[Path],
    progress: Progress,
) -> dict[str, list[Any]]:
    """The wild bootstraps the models ask for, written to ``models/<name>_wild.csv``."""
    from sustain.pipeline.inference import run_wild, write_wild

    boots: dict[str, list[Any]] = {}
    for entry in spec.models:
        if entry.options.get("wild_bootstrap"):
            with progress.step(f"wild bootstrap of {entry.name}"):
                boots[entry.name] = run_wild(entry, fits[entry.name], spec.seed)
                written += write_wild(folder, entry.name, boots[entry.name])
    return boots


def _wild_seeds(spec: Spec) -> dict[str, Any]:
    from sustain.pipeline.inference import wild_seed

    seeds = {
        m.name: wild_seed(spec.seed, m.name, m.options["wild_bootstrap"])
        for m in spec.models
        if m.options.get("wild_bootstrap")
    }
    return {"wild_bootstrap": seeds} if seeds else {}


def _write_outputs(
    spec: Spec,
    folder: ResultsDir,
    fits: Mapping[str, Any],
    panel: pd.DataFrame,
    progress: Progress,
    boots: Mapping[str, list[Any]] | None = None,
) -> list[Path]:
    written: list[Path] = []
    with warnings_once():
        for entry in spec.tables:
            with progress.step(f"table {entry.name} ({entry.kind})"):
                written += write_table(folder, entry, fits, panel, boots)
        for entry in spec.figures:
            with progress.step(f"figure {entry.name} ({entry.kind})"):
                written += write_figure(folder, entry, fits, panel)
    return written


def demo(out: PathLikeStr | None = None, *, quiet: bool = False) -> RunResult:
    """Run the bundled example study (``sustain demo``) into ``out`` (default results/demo).

    The spec is ``sustain/pipeline/example.toml``: descriptive tables, two-way fixed effects
    with random effects and a Hausman test, Kaplan-Meier curves, a discrete-time hazard, a Cox
    model with time-varying covariates and two Bayesian hierarchical models, on the bundled
    example data.

    Run it with ``sustain demo`` or ``demo("results/demo")`` (about two and a half minutes
    on two cores, most of it sampling the Bayesian models).

    Examples
    --------
    >>> from sustain.pipeline import load_spec
    >>> [m.name for m in load_spec(example_spec_path()).models if m.kind == "bayes"]
    ['bayes_quality', 'bayes_hazard']
    """
    return run_spec(
        example_spec_path(), out=Path(out) if out else Path("results/demo"), quiet=quiet
    )


def load_data(spec: Spec) -> tuple[Dataset, dict[str, Path]]:
    """Read the spec's data set; return it with ``{manifest label: file}`` of its input files.

    Examples
    --------
    >>> from sustain.pipeline.spec import parse_spec
    >>> data, files = load_data(parse_spec({"data": {"builtin": "example"}}))
    >>> len(data.agencies), sorted(files)[0]
    (400, 'builtin:example/agencies.csv')
    """
    from sustain.data.io import find_tables, read_dataset
    from sustain.data.mapping import load_mapping

    if spec.builtin is not None:
        from sustain.datasets import example, example_path

        files = find_tables(example_path())
        labels = {f"builtin:{spec.builtin}/{p.name}": p for p in files.values()}
        return example(), labels
    assert spec.data_path is not None  # parse_spec guarantees path or builtin
    if not spec.data_path.is_dir():
        raise SpecError(f"data.path: {spec.data_path} is not a folder")
    data = read_dataset(spec.data_path, **spec.data_options)
    written = str(spec.raw["data"]["path"]).rstrip("/")
    mapping = spec.data_options.get("mapping")
    files = find_tables(spec.data_path, load_mapping(mapping) if mapping else None)
    inputs = {f"{written}/{p.name}": p for p in files.values()}
    if mapping is not None:
        inputs[str(spec.raw["data"]["mapping"])] = Path(mapping)
    return data, inputs


def data_facts(data: Dataset) -> dict[str, Any]:
    """What reading the data did, for the manifest: notes, errors and rows left out.

    Examples
    --------
    >>> import sustain
    >>> data_facts(sustain.datasets.example())["observed_until"]
    2023
    """
    from sustain.data.problems import dropped_summary

    severity = data.problems["severity"].value_counts()
    return {
        "observed_until": data.observed_until,
        "problems": {str(k): int(v) for k, v in sorted(severity.items())},
        "left_out": [
            {"file": str(r["file"]), "reason": str(r["rule"]), "rows": int(r["rows"])}
            for r in dropped_summary(data.problems).to_dict("records")
        ],
    }


def make_panel(spec: Spec, data: Dataset) -> pd.DataFrame:
    """The agency-year panel with the spec's lags and window, after its sample filters.

    Examples
    --------
    >>> from sustain.pipeline.spec import parse_spec
    >>> spec = parse_spec({"data": {"builtin": "example"}, "panel": {"lags": ["hhi"]},
    ...                    "sample": [{"column": "year", "op": ">=", "value": 2020}]})
    >>> panel = make_panel(spec, load_data(spec)[0])
    >>> int(panel.index.get_level_values("year").min()), "hhi_lag1" in panel
    (2020, True)
    """
    from sustain.data.panel import build_panel

    options = spec.panel
    panel = build_panel(
        data,
        lags=options.get("lags", ()),
        first_year=options.get("first_year"),
        last_year=options.get("last_year"),
    )
    return apply_sample(panel, spec.sample)


def model_frames(spec: Spec, panel: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The data each model is fitted on: the panel, its columns form, or Cox spells.

    Spells (:func:`sustain.to_spells`) are built once per time scale.

    Examples
    --------
    >>> import sustain
    >>> from sustain.pipeline.spec import parse_spec
    >>> spec = parse_spec({"data": {"builtin": "example"},
    ...                    "models": [{"name": "c", "kind": "cox", "formula": "hhi"}]})
    >>> frames = model_frames(spec, sustain.build_panel(sustain.datasets.example()))
    >>> list(frames["c"].columns[:5])
    ['agency_id', 'year', 'start', 'stop', 'event']
    """
    cache: dict[tuple[str, str], pd.DataFrame] = {}
    frames = {}
    for entry in spec.models:
        key = _frame_key(entry)
        if key not in cache:
            cache[key] = model_frame(entry, panel)
        frames[entry.name] = cache[key]
    return frames


def _frame_key(entry: Entry) -> tuple[str, str]:
    data = MODEL_KINDS[entry.kind].data
    if entry.kind == "event_study":
        return entry.kind, entry.name
    if data == "spells":
        return data, str(entry.options.get("time_scale", "age"))
    return ("columns", "") if entry.kind == "bayes" else (data, "")


def model_frame(entry: Entry, panel: pd.DataFrame) -> pd.DataFrame:
    """The data one model is fitted on, made from the (filtered) panel.

    Cox models get counting-process spells (:func:`sustain.to_spells` on the entry's
    ``time_scale``), Bayesian models the panel with ``agency_id`` and ``year`` as columns,
    every other kind the panel itself.

    Examples
    --------
    >>> import sustain
    >>> from sustain.pipeline.spec import Entry
    >>> panel = sustain.build_panel(sustain.datasets.example())
    >>> spells = model_frame(Entry("c", "cox", {"formula": "hhi", "time_scale": "calendar"}), panel)
    >>> int(spells["start"].min()), len(spells) == len(panel)
    (0, True)
    """
    from sustain.models.survival import to_spells

    if MODEL_KINDS[entry.kind].data == "spells":
        return to_spells(panel, time_scale=entry.options.get("time_scale", "age"))
    if entry.kind == "event_study" and "treatment" in entry.options:
        from sustain.models.designs import first_year

        cohort = str(entry.options["cohort"])
        return panel.assign(**{cohort: first_year(panel, str(entry.options["treatment"]))})
    return panel  # every fit_* takes the panel as it is (index levels count as columns)


def fit_model(
    entry: Entry,
    frame: pd.DataFrame,
    seed: int | None,
    progress: Callable[[Any], None] | None = None,
) -> Any:
    """Fit one model entry on its data with its seed (for sampling models).

    ``progress`` is handed to fitters that report sampling progress (``fit_bayes``,
    ``fit_joint``), whose own progress bar is then switched off.

    Raises
    ------
    FitError
        Naming the model when the fitter fails.

    Examples
    --------
    >>> import sustain
    >>> from sustain.pipeline.spec import Entry
    >>> panel = sustain.build_panel(sustain.datasets.example())
    >>> fit = fit_model(Entry("h", "hazard", {"formula": "exit ~ hhi"}), panel, None)
    >>> fit.info.link
    'cloglog'
    """
    kind = MODEL_KINDS[entry.kind]
    (func,) = kind.functions()
    options = {k: v for k, v in entry.options.items() if k not in kind.own}
    if kind.data == "spells":
        options.update(start="start", stop="stop", event="event")
    if kind.seed is not None and seed is not None:
        options[kind.seed] = seed
    if progress is not None and "progress" in inspect.signature(func).parameters:
        options.update(progress=progress, progressbar=False)
    try:
        return func(frame, **options)
    except FitError as exc:
        raise FitError(f"model {entry.name!r} ({entry.kind}) could not be fitted: {exc}") from exc


def _fit_all(
    spec: Spec,
    frames: Mapping[str, pd.DataFrame],
    folder: ResultsDir,
    written: list[Path],
    progress: Progress,
) -> tuple[dict[str, Any], dict[str, bool]]:
    seeds = spec.model_seeds()
    fits: dict[str, Any] = {}
    diag_ok: dict[str, bool] = {}
    for entry in spec.models:
        with progress.step(f"model {entry.name} ({entry.kind})"):
            # a line at least every SAMPLING_REPORT_SECONDS while a Bayesian model samples
            report = report_every(
                SAMPLING_REPORT_SECONDS, functools.partial(_say, progress, entry.name)
            )
            fits[entry.name] = fit_model(entry, frames[entry.name], seeds.get(entry.name), report)
            written += save_model(folder, entry.name, fits[entry.name])
        if is_bayesian(fits[entry.name]):
            with progress.step(f"diagnostics of {entry.name}"):
                paths, ok = save_diagnostics(folder, entry.name, fits[entry.name], spec.diagnostics)
                written += paths
                diag_ok[entry.name] = ok
            progress.say(f"diagnostics of {entry.name}: {'passed' if ok else 'FAILED'}")
    return fits, diag_ok


def _say(progress: Progress, name: str, line: str) -> None:
    progress.say(f"{name}: {line}")


def panel_facts(panel: pd.DataFrame) -> dict[str, Any]:
    """Rows, agencies, years and exits of the analysed panel (recorded in the manifest).

    Examples
    --------
    >>> import sustain
    >>> facts = panel_facts(sustain.build_panel(sustain.datasets.example()))
    >>> facts["agencies"], facts["first_year"], facts["last_year"]
    (400, 2012, 2023)
    """
    years = panel.index.get_level_values("year")
    return {
        "rows": len(panel),
        "agencies": int(panel.index.get_level_values("agency_id").nunique()),
        "first_year": int(years.min()),
        "last_year": int(years.max()),
        "exits": int(panel["exit"].sum()) if "exit" in panel else None,
        "columns": len(panel.columns),
    }
