"""Bundled data sets: the example data, a simulation with a documented seed.

The example is ``sustain.simulate(seed=EXAMPLE_SEED, n_agencies=EXAMPLE_AGENCIES)`` (400
agencies, 2012-2023) written as CSV into ``sustain/datasets/example/`` (shipped with the
package) and ``data/example/`` (with the codebook ``README.md``). :func:`example` reads the
package copy through :func:`sustain.read_dataset`, so using the example exercises the real
loading path. Regenerate the files with ``python -m sustain.datasets --out DIR``; the tests check
that both copies equal a fresh simulation byte for byte.
"""

from __future__ import annotations

import dataclasses
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sustain._atomic import write_bytes
from sustain._typing import PathLikeStr
from sustain.data.dataset import AGENCY_COLUMNS, CONTRACT_COLUMNS, REVENUE_COLUMNS

if TYPE_CHECKING:  # pragma: no cover
    from sustain.data.dataset import Dataset
    from sustain.data.simulate import Simulation, Truth

__all__ = [
    "EXAMPLE_AGENCIES",
    "EXAMPLE_FILES",
    "EXAMPLE_SEED",
    "csv_bytes",
    "example",
    "example_path",
    "example_simulation",
    "example_truth",
    "write_csv",
    "write_example",
]

#: Seed of the example data (the year Guangzhou's purchase of services went city-wide).
EXAMPLE_SEED = 2012
#: Number of agencies in the example data.
EXAMPLE_AGENCIES = 400
#: The files of the example data set.
EXAMPLE_FILES = ("agencies.csv", "contracts.csv", "revenue.csv")

# Decimal places written for each numeric column (amounts in yuan to the cent, scores to 0.1).
_DECIMALS = {"amount": 2, "score": 1}
_COLUMNS = {
    "agencies.csv": AGENCY_COLUMNS,
    "contracts.csv": CONTRACT_COLUMNS,
    "revenue.csv": REVENUE_COLUMNS,
}


def example_path() -> Path:
    """The folder holding the bundled example files (inside the installed package).

    Examples
    --------
    >>> sorted(p.name for p in example_path().glob("*.csv"))
    ['agencies.csv', 'contracts.csv', 'revenue.csv']
    """
    return Path(str(resources.files("sustain.datasets") / "example"))


def example() -> Dataset:
    """The bundled example data set, read and validated by :func:`sustain.read_dataset`.

    A simulated Guangzhou-like population of 400 social-work agencies observed 2012-2023
    (``sustain.simulate(seed=EXAMPLE_SEED, n_agencies=EXAMPLE_AGENCIES)``); the codebook is
    ``data/example/README.md`` and the data-generating process ``docs/simulation.md``. Its true
    parameters are :func:`example_truth`.

    Returns
    -------
    Dataset
        With ``source="example"``.

    Examples
    --------
    >>> import sustain
    >>> data = sustain.datasets.example()
    >>> len(data.agencies), data.years
    (400, (2012, 2023))
    """
    from sustain.data.io import read_dataset

    data = read_dataset(example_path())
    return dataclasses.replace(data, source="example")


def example_simulation() -> Simulation:
    """Re-run the simulation behind the example data (data, truth and latent effects).

    Examples
    --------
    >>> sim = example_simulation()
    >>> sim.seed == EXAMPLE_SEED
    True
    """
    from sustain.data.simulate import simulate

    return simulate(seed=EXAMPLE_SEED, n_agencies=EXAMPLE_AGENCIES)


def example_truth() -> Truth:
    """The true parameters of the example data.

    Examples
    --------
    >>> example_truth().quality["hhi"]
    -6.0
    """
    return example_simulation().truth


def csv_bytes(data: Dataset) -> dict[str, bytes]:
    """Deterministic CSV encodings of a data set's three tables, keyed by file name.

    Columns follow the data contract's order, rows keep the data set's order, amounts are
    written with two decimals and scores with one, missing values as empty fields, text as
    UTF-8 with ``\\n`` line endings: the same data always give the same bytes.

    Examples
    --------
    >>> from sustain.data.simulate import simulate
    >>> files = csv_bytes(simulate(seed=1, n_agencies=3).data)
    >>> files["agencies.csv"].decode().splitlines()[0]
    'agency_id,founded,district,closed,origin,exit_reason,name'
    """
    tables = {
        "agencies.csv": data.agencies,
        "contracts.csv": data.contracts,
        "revenue.csv": data.revenue,
    }
    return {name: _table_bytes(tables[name], _COLUMNS[name]) for name in EXAMPLE_FILES}


def _table_bytes(frame: pd.DataFrame, columns: list[str]) -> bytes:
    out = frame[columns].copy()
    for column, decimals in _DECIMALS.items():
        if column in out:
            values = out[column].to_numpy(dtype=np.float64, na_value=np.nan)
            text = np.char.mod(f"%.{decimals}f", values).astype(object)
            out[column] = np.where(np.isnan(values), "", text)
    csv = out.to_csv(index=False, lineterminator="\n", na_rep="")
    return csv.encode("utf-8")


def write_csv(data: Dataset, out: PathLikeStr) -> list[Path]:
    """Write a data set's three tables into ``out`` as the deterministic CSV of :func:`csv_bytes`.

    Files are written atomically (readable by everyone); existing files are replaced.

    Examples
    --------
    >>> import tempfile
    >>> from sustain.data.simulate import simulate
    >>> paths = write_csv(simulate(seed=1, n_agencies=3).data, tempfile.mkdtemp())
    >>> [p.name for p in paths]
    ['agencies.csv', 'contracts.csv', 'revenue.csv']
    """
    paths = []
    for name, content in csv_bytes(data).items():
        path = write_bytes(Path(out) / name, content)
        path.chmod(0o644)
        paths.append(path)
    return paths


def write_example(out: PathLikeStr) -> list[Path]:
    """Simulate the example data and write its three CSV files into ``out``.

    Examples
    --------
    >>> import tempfile
    >>> [p.name for p in write_example(tempfile.mkdtemp())]
    ['agencies.csv', 'contracts.csv', 'revenue.csv']
    """
    return write_csv(example_simulation().data, out)
