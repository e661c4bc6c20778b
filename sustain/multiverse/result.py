"""The result of a multiverse: one row per specification, a summary and the curve."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sustain._typing import PathLikeStr
from sustain.figures.style import ImageFormat
from sustain.multiverse.execute import Outcome
from sustain.multiverse.grid import Specification
from sustain.results import Summary, SummaryMixin

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

#: columns of the table after the id and the dimensions
VALUE_COLUMNS = (
    "kind",
    "term",
    "estimate",
    "std_error",
    "lower",
    "upper",
    "p_value",
    "prob_positive",
    "nobs",
    "status",
    "error_type",
    "error",
)


def outcome_table(
    specs: Sequence[Specification], outcomes: Mapping[str, Outcome], dimensions: Sequence[str]
) -> pd.DataFrame:
    """One row per specification (sorted by id): id, choices, estimate, interval, status.

    Examples
    --------
    >>> from sustain.multiverse.grid import expand
    >>> (s,) = expand({"kind": "fe", "formula": "quality ~ {measure}"}, {"measure": ["hhi"]})
    >>> t = outcome_table([s], {s.id: Outcome(s.id, "ok", estimate=-1.0, nobs=5)}, ["measure"])
    >>> t.loc[0, ["measure", "term", "status"]].tolist(), float(t.loc[0, "estimate"])
    (['hhi', 'hhi', 'ok'], -1.0)
    """
    rows = []
    for spec in sorted(specs, key=lambda s: s.id):
        out = outcomes[spec.id]
        row: dict[str, Any] = {"id": spec.id, **{d: spec.choice(d) for d in dimensions}}
        row.update(kind=spec.kind, term=spec.term)
        row.update({c: getattr(out, c) for c in VALUE_COLUMNS[2:]})
        rows.append(row)
    table = pd.DataFrame(rows, columns=["id", *dimensions, *VALUE_COLUMNS])
    return table.astype({"nobs": "int64"})


def curve_stats(table: pd.DataFrame) -> dict[str, float]:
    """Numbers a specification-curve summary reports, over successful specifications.

    ``significant`` means the interval excludes zero.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"status": ["ok", "ok", "failed"], "estimate": [-1.0, 0.5, None],
    ...                   "lower": [-2.0, -0.1, None], "upper": [-0.5, 1.0, None]})
    >>> s = curve_stats(t)
    >>> s["n_ok"], s["share_negative"], s["share_significant_negative"], s["median"]
    (2, 0.5, 0.5, -0.25)
    """
    ok = table[table["status"] == "ok"]
    est = ok["estimate"].to_numpy(dtype=float)
    below = ok["upper"].to_numpy(dtype=float) < 0
    above = ok["lower"].to_numpy(dtype=float) > 0
    n = len(ok)

    def share(mask: np.ndarray) -> float:
        return float(mask.mean()) if n else float("nan")

    return {
        "n_specifications": len(table),
        "n_ok": n,
        "n_failed": len(table) - n,
        "median": float(np.median(est)) if n else float("nan"),
        "min": float(est.min()) if n else float("nan"),
        "max": float(est.max()) if n else float("nan"),
        "share_negative": share(est < 0),
        "share_significant": share(below | above),
        "share_significant_negative": share(below),
        "share_significant_positive": share(above),
    }


def by_choice(
    table: pd.DataFrame,
    dimensions: Sequence[str],
    options: Mapping[str, Sequence[Any]] | None = None,
) -> pd.DataFrame:
    """Curve statistics for each option of each dimension (rows ``dimension``, ``option``).

    Options are listed in the order of ``options`` (else in order of appearance).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"lag": [0, 1], "status": ["ok", "ok"], "estimate": [-1.0, 0.5],
    ...                   "lower": [-2.0, -0.1], "upper": [-0.5, 1.0]})
    >>> by_choice(t, ["lag"])["median"].tolist()
    [-1.0, 0.5]
    """
    rows = []
    for dim in dimensions:
        labels = table[dim].map(str)
        given = (options or {}).get(dim)
        order = [str(v) for v in given] if given is not None else list(dict.fromkeys(labels))
        for option in order:
            stats = curve_stats(table[labels == option])
            rows.append(
                {
                    "dimension": dim,
                    "option": option,
                    "specifications": stats["n_specifications"],
                    "failed": stats["n_failed"],
                    "median": stats["median"],
                    "share negative": stats["share_negative"],
                    "share significant": stats["share_significant"],
                }
            )
    frame = pd.DataFrame(rows)
    return frame.set_index(["dimension", "option"]) if len(frame) else frame


@dataclass(frozen=True, eq=False)
class MultiverseResult(SummaryMixin):
    """Every specification of a multiverse with its estimate, interval and status.

    Attributes
    ----------
    table : DataFrame
        One row per specification, sorted by id: ``id``, one column per dimension, ``kind``,
        ``term``, ``estimate``, ``std_error``, ``lower``, ``upper``, ``p_value`` (frequentist),
        ``prob_positive`` (Bayesian: posterior probability that the coefficient is positive),
        ``nobs``, ``status`` (``ok``/``failed``), ``error_type`` and ``error``. A copy is
        returned each time, so the result never changes.
    dimensions : tuple of str
        The dimensions, in the order they were given.
    choices : mapping of str to tuple
        The options of every dimension, in the order they were given.
    specifications : tuple of Specification
        The expanded specifications (kind, options, term, sample, seed of each).
    alpha : float
        Intervals have mass ``1 - alpha``.
    cached : tuple of str
        Ids of specifications read from the cache instead of fitted.
    backend : str
        Backend that ran the fits; ``n_workers`` its local workers (``None`` for a remote Dask
        cluster).
    seconds : float
        Wall time of the run; ``fit_seconds`` the time of each fit (by id).
    data_hash : str
        SHA-256 of the data.

    Examples
    --------
    >>> import sustain
    >>> panel = sustain.build_panel(sustain.datasets.example())
    >>> mv = sustain.multiverse({"kind": "fe", "formula": "quality ~ {measure}"},
    ...                         {"measure": ["hhi", "entropy"], "lag": [0, 1]},
    ...                         data=panel, backend="serial")
    >>> mv.table[["measure", "lag", "status"]].shape
    (4, 3)
    >>> mv.summary().title
    'Multiverse of the measure: 4 specifications'
    """

    table_: pd.DataFrame
    dimensions: tuple[str, ...]
    choices: Mapping[str, tuple[Any, ...]]
    specifications: tuple[Specification, ...]
    term: str
    alpha: float = 0.05
    cached: tuple[str, ...] = ()
    backend: str = "serial"
    n_workers: int | None = 1
    seconds: float = 0.0
    fit_seconds: Mapping[str, float] = field(default_factory=dict)
    data_hash: str = ""

    @property
    def table(self) -> pd.DataFrame:
        """The table of specifications (a copy)."""
        return self.table_.copy()

    @property
    def failures(self) -> pd.DataFrame:
        """Rows of failed specifications with their error type and message."""
        t = self.table_
        return t.loc[t["status"] == "failed", ["id", *self.dimensions, "error_type", "error"]]

    def stats(self) -> dict[str, float]:
        """Counts, median estimate and shares of negative and significant estimates."""
        return curve_stats(self.table_)

    def summary(self) -> Summary:
        """Shares of negative and significant estimates overall and by choice."""
        s = self.stats()
        level = f"{100 * (1 - self.alpha):g}%"
        header = [
            ("Specifications", f"{s['n_specifications']:,}"),
            ("Succeeded / failed", f"{s['n_ok']:,} / {s['n_failed']:,}"),
            ("Median estimate", f"{s['median']:.4g}"),
            ("Range of estimates", f"{s['min']:.4g} to {s['max']:.4g}"),
            ("Share negative", f"{s['share_negative']:.3f}"),
            (f"Share with {level} interval excluding 0", f"{s['share_significant']:.3f}"),
            ("  of which negative", f"{s['share_significant_negative']:.3f}"),
            ("  of which positive", f"{s['share_significant_positive']:.3f}"),
        ]
        notes = [f"{len(self.cached)} specification(s) read from the cache."] if self.cached else []
        if s["n_failed"]:
            notes.append("Failed specifications and their errors: result.failures.")
        title = f"Multiverse of {_describe(self.term)}: {s['n_specifications']} specifications"
        return Summary(title, header, by_choice(self.table_, self.dimensions, self.choices), notes)

    def curve(
        self,
        path: PathLikeStr | None = None,
        formats: Sequence[ImageFormat] = ("png", "pdf"),
        title: str | None = None,
    ) -> Figure:
        """Draw the specification curve (see :func:`sustain.multiverse.curve.spec_curve`)."""
        from sustain.multiverse.curve import spec_curve

        terms = self.table_["term"].unique()
        label = str(terms[0]) if len(terms) == 1 else _describe(self.term)
        return spec_curve(
            self.table_,
            self.dimensions,
            path,
            options=self.choices,
            formats=formats,
            term_label=label,
            level=1 - self.alpha,
            title=title,
        )


def _describe(template: str) -> str:
    """``"{measure}"`` -> ``"the measure"``; other templates lose their braces."""
    if template == "{measure}":
        return "the measure"
    return template.replace("{", "").replace("}", "")
