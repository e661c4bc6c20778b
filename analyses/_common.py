"""Shared setup of the analysis scripts: configuration, data, panel, results folder, manifest.

Every script of the worked study imports this module. It fixes what all scripts share, so that
each can run alone and all of them together give one consistent results folder:

* the data (the bundled example data set; ``--quick`` uses a smaller simulation so that the
  test suite can run a script in seconds);
* the panel (lagged funding measures, sample from 2013 on, as in ``analyses/study.toml``);
* the seed (2012, fanned out per model by name with :func:`sustain.pipeline.spec.derive_seed`);
* the results folder (``results/analyses`` by default) with ``tables/``, ``figures/``,
  ``models/`` and ``diagnostics/`` and its ``manifest.json``, updated by each script.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd

import sustain
from sustain.pipeline import manifest as mf
from sustain.pipeline.outputs import (
    DEFAULT_TABLE_FORMATS,
    save_diagnostics,
    save_model,
    warnings_once,
)
from sustain.pipeline.progress import Progress
from sustain.pipeline.results_dir import ResultsDir, sha256_file
from sustain.pipeline.spec import derive_seed

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SEED = 2012
FIRST_YEAR = 2013  # 2012 is the first year of the data: lags need the year before
LAGS = {"hhi": 1, "gov_share": 1}
QUICK_AGENCIES = 120  # agencies in the reduced configuration used by the tests
QUICK_SEED = 2
TABLE_FORMATS = (*DEFAULT_TABLE_FORMATS, "docx")

#: Regressors of the quality models: lagged funding, contract-type mix, tier mix.
QUALITY_TERMS = (
    "hhi_lag1",
    "gov_share_lag1",
    "share_single_source",
    "share_directed_commission",
    "share_competitive_negotiation",
    "share_subdistrict",
    "share_district",
)
#: Regressors of the survival models.
HAZARD_TERMS = (
    "hhi",
    "gov_share",
    "log_revenue",
    "share_single_source",
    "share_directed_commission",
)


@dataclass(frozen=True)
class Config:
    """What a script runs on and where it writes.

    Attributes
    ----------
    out : Path
        The results folder.
    quick : bool
        Reduced configuration: a simulated data set of ``QUICK_AGENCIES`` agencies and short
        Markov chains (for tests; the numbers are not for interpretation).
    seed : int
        The study's seed.
    """

    out: Path = field(default_factory=lambda: REPO / "results" / "analyses")
    quick: bool = False
    seed: int = SEED

    def model_seed(self, name: str) -> int:
        """The seed of the model called ``name`` (as ``sustain run`` derives it)."""
        return derive_seed(self.seed, name)

    def sampling(self, draws: int, tune: int, chains: int) -> dict[str, int]:
        """Sampler settings: as given, or short chains in the quick configuration."""
        if self.quick:
            return {"draws": 150, "tune": 150, "chains": 2}
        return {"draws": draws, "tune": tune, "chains": chains}


def config(argv: Sequence[str] | None = None, description: str = "") -> Config:
    """Parse ``--out`` and ``--quick`` (environment: ``SUSTAIN_RESULTS``, ``SUSTAIN_QUICK=1``)."""
    parser = argparse.ArgumentParser(description=description)
    default_out = os.environ.get("SUSTAIN_RESULTS", str(REPO / "results" / "analyses"))
    parser.add_argument("--out", default=default_out, help="results folder")
    parser.add_argument(
        "--quick",
        action="store_true",
        default=os.environ.get("SUSTAIN_QUICK") == "1",
        help="small simulated data and short chains (for tests)",
    )
    args = parser.parse_args(argv)
    return Config(out=Path(args.out), quick=args.quick)


def load_data(cfg: Config) -> sustain.Dataset:
    """The study's data: the bundled example, or a small simulation when ``quick``."""
    if cfg.quick:
        return sustain.simulate(seed=QUICK_SEED, n_agencies=QUICK_AGENCIES).data
    return sustain.datasets.example()


def input_files(cfg: Config) -> dict[str, Path]:
    """``{manifest label: file}`` of the input data (none for a simulation)."""
    if cfg.quick:
        return {}
    folder = sustain.datasets.example_path()
    return {f"builtin:example/{p.name}": p for p in sorted(folder.glob("*.csv"))}


def build_panel(cfg: Config) -> pd.DataFrame:
    """The analysed panel: lagged funding measures, agency-years from 2013 on."""
    panel = sustain.build_panel(load_data(cfg), lags=LAGS)
    return panel[panel.index.get_level_values("year") >= FIRST_YEAR]


def results(cfg: Config) -> ResultsDir:
    """The results folder (created with its four sections)."""
    return ResultsDir.create(cfg.out)


def formula(response: str, terms: Iterable[str], extra: str = "") -> str:
    """``response ~ t1 + t2 ...`` (plus ``extra`` terms such as group terms)."""
    rhs = " + ".join(terms) + (f" + {extra}" if extra else "")
    return f"{response} ~ {rhs}" if response else rhs


def write_tables(rd: ResultsDir, name: str, render: Callable[..., str]) -> list[Path]:
    """Write one table in every format: ``render(format=..., path=...)`` gives its text."""
    written = []
    suffix = {"latex": "tex", "markdown": "md", "html": "html", "csv": "csv", "docx": "docx"}
    with warnings_once():
        for fmt in TABLE_FORMATS:
            target = rd.path("tables", f"{name}.{suffix[fmt]}")
            if fmt == "docx":
                render(format=fmt, path=target)
                written.append(target)
            else:
                text = render(format=fmt)
                written.append(rd.write_text("tables", target.name, text.rstrip("\n") + "\n"))
    return written


def save_fit(rd: ResultsDir, name: str, result: Any) -> list[Path]:
    """Save a fit into ``models/`` (NetCDF and summary text)."""
    return save_model(rd, name, result)


def diagnose_fit(rd: ResultsDir, name: str, result: Any) -> tuple[list[Path], bool]:
    """Diagnose a Bayesian fit and write what a reader checks it by.

    The report and PNG plots go to ``diagnostics/<name>/``, the priors to
    ``diagnostics/<name>/priors.csv`` and the posterior summary to ``tables/<name>.csv``;
    returns the paths and whether every diagnostic passed.
    """
    paths, ok = save_diagnostics(rd, name, result, {"formats": ["png"]})
    paths.append(
        rd.write_text("diagnostics", f"{name}/priors.csv", result.priors.to_csv(index=False))
    )
    paths.append(rd.write_text("tables", f"{name}.csv", result.tidy().to_csv(index=False)))
    return paths, ok


def load_fit(rd: ResultsDir, name: str) -> Any | None:
    """A saved fit from ``models/<name>.nc``, or ``None`` when it has not been fitted yet."""
    path = rd.path("models", f"{name}.nc")
    return sustain.load_result(path) if path.is_file() else None


def load_script(name: str) -> ModuleType:
    """Import a sibling script (``"02_quality_fe"``) as a module."""
    path = HERE / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"analyses_{name}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def record(
    cfg: Config, script: str, written: Sequence[Path], seeds: dict[str, int] | None = None
) -> Path:
    """Record a script's outputs in the folder's ``manifest.json`` (written atomically).

    The manifest keeps one entry per script (its SHA-256, outputs and seeds) and the union
    of all outputs, with the inputs' hashes, versions and git commit as in ``sustain run``.
    """
    rd = results(cfg)
    previous = mf.read_manifest(rd.manifest_path)
    scripts = dict(previous.get("scripts", {})) if previous.get("config") == _facts(cfg) else {}
    scripts[script] = {
        "sha256": sha256_file(HERE / f"{script}.py"),
        "outputs": rd.hashes(written),
        "seeds": dict(sorted((seeds or {}).items())),
    }
    outputs: dict[str, str] = {}
    model_seeds: dict[str, int] = {}
    for entry in scripts.values():
        outputs.update(entry["outputs"])
        model_seeds.update(entry["seeds"])
    manifest = mf.build_manifest(
        run="analyses",
        spec=None,
        spec_sha256=None,
        inputs=mf.file_entries(input_files(cfg)),
        seeds={"seed": cfg.seed, "models": model_seeds},
        outputs=outputs,
        project=REPO,
        extra={"scripts": dict(sorted(scripts.items())), "config": _facts(cfg)},
    )
    return mf.write_manifest(rd, manifest)


def _facts(cfg: Config) -> dict[str, Any]:
    return {"quick": cfg.quick, "first_year": FIRST_YEAR, "lags": LAGS}


def progress() -> Progress:
    """A progress printer (one line per step with elapsed time)."""
    return Progress()
