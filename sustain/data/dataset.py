"""The validated input data set: agencies, contracts, revenue and the problems report."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from sustain.errors import PROBLEM_COLUMNS

AGENCY_COLUMNS = ["agency_id", "founded", "district", "closed", "origin", "exit_reason", "name"]
CONTRACT_COLUMNS = [
    "contract_id",
    "agency_id",
    "year",
    "funder",
    "tier",
    "contract_type",
    "amount",
    "service",
    "score",
]
REVENUE_COLUMNS = ["agency_id", "year", "source", "amount"]


def empty_problems() -> pd.DataFrame:
    """An empty problems table with the standard columns.

    Examples
    --------
    >>> list(empty_problems().columns)
    ['file', 'row', 'column', 'rule', 'value', 'severity']
    """
    return pd.DataFrame({c: pd.Series(dtype="object") for c in [*PROBLEM_COLUMNS, "severity"]})


def empty_revenue() -> pd.DataFrame:
    """An empty revenue table (used when a data set has no ``revenue`` file).

    Examples
    --------
    >>> empty_revenue().shape
    (0, 4)
    """
    return pd.DataFrame(
        {
            "agency_id": pd.Series(dtype="str"),
            "year": pd.Series(dtype="int64"),
            "source": pd.Series(dtype="str"),
            "amount": pd.Series(dtype="float64"),
        }
    )


@dataclass(frozen=True, eq=False)
class Dataset:
    """Validated agencies, contracts and (possibly empty) non-government revenue.

    Produced by :func:`sustain.read_dataset`, :func:`sustain.datasets.example` and
    :func:`sustain.simulate`. Tables follow the input data contract (``docs/data.md``) with
    normalised types: identifiers and text as strings, years as integers (``closed`` as nullable
    ``Int64``), amounts and scores as floats; extra columns are kept.

    Attributes
    ----------
    agencies, contracts, revenue : DataFrame
        The three tables; ``revenue`` is empty (with its columns) when the data set has none.
    problems : DataFrame
        Every violation found while reading (``file``, ``row``, ``column``, ``rule``,
        ``value``); empty for clean data.
    source : str or None
        Where the data came from (a folder path, ``"example"``, ``"simulate(seed=...)"``).
    observed_until : int or None
        The last fiscal year observed (an import mapping's ``observed_until``, by default the
        last year in which a contract starts); :func:`sustain.build_panel` ends there.

    Examples
    --------
    >>> import sustain
    >>> data = sustain.datasets.example()
    >>> sorted(data.contracts.columns[:3])
    ['agency_id', 'contract_id', 'year']
    """

    agencies: pd.DataFrame
    contracts: pd.DataFrame
    revenue: pd.DataFrame = field(default_factory=empty_revenue)
    problems: pd.DataFrame = field(default_factory=empty_problems)
    source: str | None = None
    observed_until: int | None = None

    @property
    def years(self) -> tuple[int, int]:
        """First and last year observed: the years of contracts and revenue, through
        ``observed_until`` when it is set (the data window)."""
        years = pd.concat([self.contracts["year"], self.revenue["year"]])
        if years.empty:
            raise ValueError("the data set has no contracts or revenue, so no years")
        last = int(years.max())
        if self.observed_until is not None:
            last = max(last, int(self.observed_until))
        return int(years.min()), last

    def __repr__(self) -> str:
        return (
            f"Dataset(source={self.source!r}, agencies={len(self.agencies):,}, "
            f"contracts={len(self.contracts):,}, revenue={len(self.revenue):,}, "
            f"problems={len(self.problems):,})"
        )
