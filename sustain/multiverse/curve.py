"""The specification curve: sorted estimates with intervals, the choices of each beneath.

Following Simonsohn, Simmons & Nelson (2020), the top panel shows the estimate of the
coefficient of interest in every successful specification, sorted from smallest to largest,
with its interval; colour marks intervals that exclude zero (blue: negative, vermilion:
positive; grey: includes zero). The bottom panel has one row per option of every dimension
and a mark in the column of each specification that uses it, so that one sees which choices
drive the estimate. Failed specifications are counted in a note under the figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sustain._typing import BoolArray, PathLikeStr
from sustain.errors import SpecError
from sustain.figures.style import PALETTE, ImageFormat, figure_style, finish

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

NEGATIVE = PALETTE[0]  # blue: interval below zero
POSITIVE = PALETTE[1]  # vermilion: interval above zero
NEUTRAL = "#8c8c8c"  # grey: interval includes zero
ROW_HEIGHT = 0.2  # inches per indicator row
TOP_HEIGHT = 2.8  # inches of the estimate panel


@dataclass(frozen=True)
class CurveData:
    """What the figure draws, computed from a multiverse table.

    Attributes
    ----------
    order : DataFrame
        Successful specifications sorted by estimate (ties by id), with a ``position``
        column (0, 1, ...) and a ``sign`` column (``"negative"``, ``"positive"``, ``"zero"``:
        whether the interval lies below zero, above zero or covers it).
    rows : tuple of (str, str)
        (dimension, option) of every indicator row, top to bottom.
    marks : ndarray of bool, shape (n_rows, n_specifications)
        Whether specification ``j`` uses the option of row ``i``.
    n_failed : int
        Specifications that failed (not drawn).
    """

    order: pd.DataFrame
    rows: tuple[tuple[str, str], ...]
    marks: BoolArray
    n_failed: int


def curve_data(
    table: pd.DataFrame,
    dimensions: Sequence[str],
    options: Mapping[str, Sequence[Any]] | None = None,
) -> CurveData:
    """Sort the successful specifications and build the indicator matrix.

    Indicator rows follow ``options`` (dimension -> options in the order given), else the
    order in which options first appear in ``table``.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"id": ["a", "b", "c"], "lag": [0, 1, 1], "status": ["ok"] * 3,
    ...                   "estimate": [0.5, -1.0, 0.2], "lower": [0.1, -2, -0.1],
    ...                   "upper": [0.9, -0.5, 0.4]})
    >>> d = curve_data(t, ["lag"])
    >>> d.order["id"].tolist(), d.order["sign"].tolist()
    (['b', 'c', 'a'], ['negative', 'zero', 'positive'])
    >>> d.rows, d.marks.astype(int).tolist()
    ((('lag', '0'), ('lag', '1')), [[0, 0, 1], [1, 1, 0]])
    """
    missing = [
        c
        for c in ("id", "status", "estimate", "lower", "upper", *dimensions)
        if c not in table.columns
    ]
    if missing:
        raise SpecError(f"the multiverse table lacks column(s) {', '.join(missing)}")
    ok = table[table["status"] == "ok"]
    order = ok.sort_values(["estimate", "id"], kind="mergesort").reset_index(drop=True)
    sign = np.where(
        order["upper"] < 0, "negative", np.where(order["lower"] > 0, "positive", "zero")
    )
    order = order.assign(position=np.arange(len(order)), sign=sign)
    rows: list[tuple[str, str]] = []
    marks: list[BoolArray] = []
    for dim in dimensions:
        given = (options or {}).get(dim)
        labels = [str(v) for v in given] if given is not None else table[dim].map(str)
        for option in dict.fromkeys(labels):
            rows.append((str(dim), option))
            marks.append((order[dim].map(str) == option).to_numpy())
    matrix = np.array(marks, dtype=bool).reshape(len(rows), len(order))
    return CurveData(order, tuple(rows), matrix, int(len(table) - len(ok)))


def spec_curve(
    table: pd.DataFrame,
    dimensions: Sequence[str],
    path: PathLikeStr | None = None,
    *,
    options: Mapping[str, Sequence[Any]] | None = None,
    formats: Sequence[ImageFormat] = ("png", "pdf"),
    term_label: str | None = None,
    level: float = 0.95,
    title: str | None = None,
) -> Figure:
    """Draw the specification curve of a multiverse table; save it as PNG and PDF.

    Parameters
    ----------
    table : DataFrame
        One row per specification with ``id``, ``status``, ``estimate``, ``lower``,
        ``upper`` and one column per dimension (:attr:`MultiverseResult.table`).
    dimensions : sequence of str
        Dimensions shown beneath the curve, top to bottom.
    options : mapping, optional
        Options of each dimension in the order to show them (default: order of appearance).
    path : path, optional
        Where to save (suffix replaced by each format); written atomically.
    formats : sequence of {"png", "pdf"}
    term_label : str, optional
        Name of the coefficient for the axis label.
    level : float
        Interval mass, for the axis label.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        Closed when saved to ``path``.

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> t = pd.DataFrame({"id": ["a", "b"], "lag": [0, 1], "status": ["ok", "ok"],
    ...                   "estimate": [0.5, -1.0], "lower": [0.1, -2], "upper": [0.9, -0.5]})
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "curve.png"
    >>> fig = spec_curve(t, ["lag"], out)
    >>> sorted(p.name for p in out.parent.iterdir())
    ['curve.pdf', 'curve.png']
    """
    import matplotlib.pyplot as plt

    data = curve_data(table, dimensions, options)
    if data.order.empty:
        raise SpecError("no specification succeeded: there is no curve to draw")
    with figure_style():
        n = len(data.order)
        width = float(np.clip(3.0 + 0.09 * n, 6.0, 12.0))
        bottom = ROW_HEIGHT * len(data.rows) + 0.6
        fig, (top, low) = plt.subplots(
            2,
            1,
            sharex=True,
            figsize=(width, TOP_HEIGHT + bottom),
            gridspec_kw={"height_ratios": [TOP_HEIGHT, bottom], "hspace": 0.06},
        )
        _draw_estimates(top, data.order, term_label, level)
        _draw_indicators(low, data)
        if title:
            top.set_title(title)
        if data.n_failed:
            fig.text(
                0.01,
                0.005,
                f"{data.n_failed} failed specification(s) not shown.",
                fontsize=7,
                color=NEUTRAL,
            )
    return finish(fig, path, formats)


def _colours(order: pd.DataFrame) -> list[str]:
    lookup = {"negative": NEGATIVE, "positive": POSITIVE, "zero": NEUTRAL}
    return [lookup[s] for s in order["sign"]]


def _draw_estimates(ax: Axes, order: pd.DataFrame, term: str | None, level: float) -> None:
    x = order["position"].to_numpy()
    colours = _colours(order)
    size = 12 if len(order) <= 100 else 5
    ax.vlines(x, order["lower"], order["upper"], colors=colours, linewidth=0.8)
    ax.scatter(x, order["estimate"], c=colours, s=size, zorder=3)
    ax.axhline(0.0, color="black", linewidth=0.7)
    median = float(order["estimate"].median())
    ax.axhline(median, color=NEUTRAL, linewidth=0.8, linestyle="--", label=f"median {median:.3g}")
    ax.legend(loc="upper left")
    what = term or "the term of interest"
    ax.set_ylabel(f"Coefficient of {what}\n({100 * level:g}% interval)")
    ax.grid(axis="y", color="#e5e5e5", linewidth=0.6)


def _draw_indicators(ax: Axes, data: CurveData) -> None:
    colours = np.array(_colours(data.order))
    n_rows = len(data.rows)
    size = 10 if data.marks.shape[1] <= 100 else 4
    for i in range(n_rows):
        hit = data.marks[i]
        x = data.order["position"].to_numpy()[hit]
        ax.scatter(
            x,
            np.full(len(x), n_rows - 1 - i),
            c=list(colours[hit]),
            s=size,
            marker="s",
            linewidths=0,
        )
    labels = [f"{dim}: {option}" for dim, option in data.rows]
    ax.set_yticks(np.arange(n_rows)[::-1], labels)
    ax.set_ylim(-0.7, n_rows - 0.3)
    previous = None
    for i, (dim, _) in enumerate(data.rows):
        if previous is not None and dim != previous:
            ax.axhline(n_rows - i - 0.5, color="#cccccc", linewidth=0.6)
        previous = dim
    ax.set_xlabel("Specification (sorted by estimate)")
    ax.grid(False)
    ax.set_xlim(-1, data.marks.shape[1])
