"""Writing a run's outputs: saved fits, diagnostics, tables and figures.

Each writer takes fitted results (never refits), writes through :class:`ResultsDir` (atomic
files) and returns the paths it wrote, so the run can list them in the manifest.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from sustain.pipeline.kinds import FIGURE_KINDS, TABLE_KINDS
from sustain.pipeline.results_dir import ResultsDir
from sustain.pipeline.spec import Entry

#: Table formats written when a table entry names none.
DEFAULT_TABLE_FORMATS = ("latex", "markdown", "html", "csv")
#: Image formats written when a figure entry names none.
DEFAULT_IMAGE_FORMATS = ("png", "pdf")
#: File suffix of each table format.
TABLE_SUFFIX = {"latex": "tex", "markdown": "md", "html": "html", "csv": "csv", "docx": "docx"}
#: Formats of trend tables when none are named.
DEFAULT_TREND_FORMATS = ("csv", "markdown")


@contextlib.contextmanager
def warnings_once() -> Iterator[None]:
    """Show each distinct warning raised inside the block once, when the block ends.

    A warning about a model (for example failed convergence diagnostics) is raised again for
    every format a table is written in; the reader needs it once.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as shown:
    ...     warnings.simplefilter("always")
    ...     with warnings_once():
    ...         for fmt in ("latex", "markdown"):
    ...             warnings.warn("model (3) failed diagnostics", UserWarning)
    >>> len(shown)
    1
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for category, message in dict.fromkeys((w.category, str(w.message)) for w in caught):
        warnings.warn(message, category, stacklevel=3)


def is_bayesian(result: Any) -> bool:
    """Whether ``result`` holds posterior draws (``inference == "bayesian"``).

    Examples
    --------
    >>> class R: inference = "bayesian"
    >>> is_bayesian(R())
    True
    """
    return getattr(result, "inference", None) == "bayesian"


def save_model(results: ResultsDir, name: str, result: Any) -> list[Path]:
    """Save a fitted result as ``models/<name>.nc`` and its printed summary as ``<name>.txt``.

    The NetCDF file is written by :func:`sustain.persistence.save_result` (Bayesian results
    with every group of their ArviZ DataTree, frequentist ones with estimates, covariance, model
    information and the fields of their class; no pickle), so :func:`sustain.load_result`
    rebuilds the result and tables can be made again without refitting. It carries no time
    stamps, so two runs of the same spec write identical files; the run's time is recorded
    once, in the manifest's ``created`` field.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> from sustain.results import FrequentistResults, ModelInfo
    >>> cov = pd.DataFrame([[0.25]], index=["x"], columns=["x"])
    >>> info = ModelInfo(model="OLS", estimator="pooled", depvar="y", formula="y ~ x", nobs=50)
    >>> fit = FrequentistResults(pd.Series({"x": 2.0}), cov, info)
    >>> [p.name for p in save_model(ResultsDir.create(tempfile.mkdtemp()), "ols", fit)]
    ['ols.nc', 'ols.txt']
    """
    from sustain.persistence import save_result

    target = results.path("models", f"{name}.nc")
    save_result(result, target)
    summary = results.write_text("models", f"{name}.txt", f"{result.summary()}\n")
    return [target, summary]


def save_diagnostics(
    results: ResultsDir, name: str, result: Any, options: Mapping[str, Any]
) -> tuple[list[Path], bool]:
    """Diagnose a Bayesian fit and write its report (and plots) into ``diagnostics/<name>/``.

    Returns the paths written and whether every check passed.

    Examples
    --------
    >>> import tempfile, arviz as az
    >>> rd = ResultsDir.create(tempfile.mkdtemp())
    >>> idata = az.load_arviz_data("non_centered_eight")
    >>> paths, ok = save_diagnostics(rd, "eight", idata, {"plots": False})
    >>> sorted(p.name for p in paths), ok
    (['checks.csv', 'parameters.csv', 'summary.txt'], True)
    """
    from sustain.diagnostics import diagnose

    settings = dict(options)
    plots = bool(settings.pop("plots", True))
    formats = tuple(settings.pop("formats", DEFAULT_IMAGE_FORMATS))
    diagnosis = diagnose(result, **settings)
    folder = results.path("diagnostics", name)
    written = list(diagnosis.save(folder).values())
    if plots:
        written += _diagnostic_plots(results, name, diagnosis, formats)
    return written, bool(diagnosis.ok)


def _diagnostic_plots(
    results: ResultsDir, name: str, diagnosis: Any, formats: Sequence[str]
) -> list[Path]:
    """Save the diagnostic plots; a plot that fails is reported, not fatal to the run.

    The report (``summary.txt``, ``checks.csv``, ``parameters.csv``) is already written;
    losing a picture should not lose the rest of a long run. The error is written to
    ``diagnostics/<name>/plot_error.txt`` and shown as a warning, and the plots saved before
    the failure are kept.
    """
    import matplotlib.pyplot as plt

    folder = results.path("diagnostics", name)
    try:
        return [p for paths in diagnosis.plot(folder, formats).values() for p in paths]
    except Exception as exc:  # any plotting failure; reported below
        message = f"diagnostic plots of {name} failed: {type(exc).__name__}: {exc}"
        warnings.warn(message, RuntimeWarning, stacklevel=2)
        plt.close("all")
        images = sorted(p for fmt in formats for p in folder.glob(f"*.{fmt}"))
        note = results.write_text("diagnostics", f"{name}/plot_error.txt", message + "\n")
        return [*images, note]


def write_table(
    results: ResultsDir,
    entry: Entry,
    fits: Mapping[str, Any],
    panel: pd.DataFrame,
    bootstraps: Mapping[str, Sequence[Any]] | None = None,
) -> list[Path]:
    """Write one table entry in each of its formats; return the paths.

    ``bootstraps`` holds the models' wild bootstrap results (tables with
    ``inference = "wild"``).
    """
    options = dict(entry.options)
    if entry.kind == "hausman":
        return _hausman(results, entry.name, fits[options["fe"]], fits[options["re"]])
    if entry.kind == "margins":
        from sustain.pipeline.inference import write_margins

        return write_margins(results, entry, fits, panel)
    default = DEFAULT_TREND_FORMATS if entry.kind == "trend" else DEFAULT_TABLE_FORMATS
    formats = options.pop("formats", default)
    kind = TABLE_KINDS[entry.kind]
    (func,) = kind.functions()
    if entry.kind == "regression":
        models = options.pop("models")
        first: Any = [fits[m] for m in models]
        if options.get("inference") == "wild":
            options["bootstrap"] = [b for m in models for b in (bootstraps or {}).get(m, [])]
        if options.get("margins"):
            options["data"] = panel  # Bayesian models' margins rebuild their data
    else:
        first = panel
    written = []
    for fmt in formats:
        target = results.path("tables", f"{entry.name}.{TABLE_SUFFIX[fmt]}")
        if fmt == "docx":
            func(first, format=fmt, path=target, **options)
            written.append(target)
        else:
            text = func(first, format=fmt, **options)
            written.append(results.write_text("tables", target.name, _ending(text)))
    return written


def _ending(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"


def _hausman(results: ResultsDir, name: str, fe: Any, re: Any) -> list[Path]:
    from sustain.models.panel import hausman

    test = hausman(fe, re)
    head = pd.DataFrame(
        {"statistic": [test.statistic], "df": [test.df], "p_value": [test.pvalue]},
        index=pd.Index(["hausman"], name="test"),
    )
    return [
        results.write_text("tables", f"{name}.txt", f"{test}\n"),
        results.write_text("tables", f"{name}.csv", head.to_csv(float_format="%.10g")),
        results.write_text("tables", f"{name}_terms.csv", test.table.to_csv(float_format="%.10g")),
    ]


def write_figure(
    results: ResultsDir, entry: Entry, fits: Mapping[str, Any], panel: pd.DataFrame
) -> list[Path]:
    """Draw one figure entry and save it in each of its formats; return the paths.

    Kaplan-Meier figures also write the curves behind them as ``figures/<name>.csv``.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> rd = ResultsDir.create(tempfile.mkdtemp())
    >>> panel = pd.DataFrame({"hhi": [0.2, 0.5, 0.9], "year": [2014, 2015, 2016]})
    >>> entry = Entry("t1", "describe", {"columns": ["hhi"], "formats": ["csv", "markdown"]})
    >>> [p.name for p in write_table(rd, entry, {}, panel)]
    ['t1.csv', 't1.md']

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> rd = ResultsDir.create(tempfile.mkdtemp())
    >>> panel = pd.DataFrame({"hhi": [0.2, 0.5, 0.9, 0.4], "year": [2014, 2015, 2014, 2015],
    ...                       "main_tier": ["district", "district", "municipal", "municipal"]})
    >>> entry = Entry("f1", "trend", {"columns": ["hhi"], "formats": ["png"]})
    >>> [p.name for p in write_figure(rd, entry, {}, panel)]
    ['f1.png']
    """
    import matplotlib.pyplot as plt

    options = dict(entry.options)
    formats = tuple(options.pop("formats", DEFAULT_IMAGE_FORMATS))
    target = results.path("figures", entry.name)
    kind = FIGURE_KINDS[entry.kind]
    functions = kind.functions()
    written: list[Path] = []
    if entry.kind == "km":
        km_options, plot_options = kind.split(options)
        km = functions[0](panel, **km_options)
        csv = km.tidy().to_csv(index=False, float_format="%.10g")
        written.append(results.write_text("figures", f"{entry.name}.csv", csv))
        fig = functions[1](km, path=target, formats=formats, **plot_options)
    elif entry.kind == "cif":
        ci_options, plot_options = kind.split(options)
        curves = functions[0](panel, **ci_options)
        csv = curves.tidy().to_csv(index=False, float_format="%.10g")
        written.append(results.write_text("figures", f"{entry.name}.csv", csv))
        plot_options = {k: v for k, v in plot_options.items() if k not in ("cause", "by")}
        fig = functions[1](curves, path=target, formats=formats, **plot_options)
    elif entry.kind == "trend":
        fig = functions[0](panel, path=target, formats=formats, **options)
    else:
        models = [fits[m] for m in options.pop("models")]
        extra = (panel,) if entry.kind == "prediction" else ()
        fig = functions[0](models, *extra, path=target, formats=formats, **options)
    plt.close(fig)
    return written + [target.with_name(f"{entry.name}.{fmt}") for fmt in formats]


def check_written(paths: Sequence[Path]) -> None:
    """Raise ``RuntimeError`` if a writer claimed a file it did not write (a bug guard).

    Examples
    --------
    >>> check_written([])
    """
    missing = [str(p) for p in paths if not Path(p).is_file()]
    if missing:
        raise RuntimeError(f"expected output files were not written: {', '.join(missing)}")
