"""Trends by group over the years: a table of yearly means and a small-multiples figure.

Used for the descriptive part of a study: how funding concentration, the government share and
the contract-type mix evolve, separately for agencies mainly funded by each purchasing tier.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from sustain._typing import PathLikeStr
from sustain.errors import SpecError
from sustain.figures.style import axis_label, figure_style, finish, group_label, series_style
from sustain.presentation.labels import LabelSource, load_labels, term_label
from sustain.presentation.language import Language, check_language

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

TREND_COLUMNS = ["group", "year", "variable", "n", "mean", "std_error"]


def _column(panel: pd.DataFrame, name: str) -> pd.Series:
    if name in panel.columns:
        return panel[name]
    if name in panel.index.names:
        return pd.Series(panel.index.get_level_values(name), index=panel.index, name=name)
    raise SpecError(f"column {name!r} is not in the data")


def trend_frame(
    panel: pd.DataFrame,
    columns: Sequence[str],
    by: str | None = "main_tier",
    time: str = "year",
) -> pd.DataFrame:
    """Yearly mean, count and standard error of each column, per group.

    Parameters
    ----------
    panel : DataFrame
        The agency-year panel (index levels count as columns).
    columns : sequence of str
        Numeric variables.
    by : str or None
        Grouping column (``None``: all rows form one group, ``"all"``).
    time : str
        Time column.

    Returns
    -------
    DataFrame
        Long format with columns ``group``, ``year``, ``variable``, ``n`` (non-missing rows),
        ``mean`` and ``std_error`` (sd / sqrt(n)), sorted by variable, group and year.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"year": [1, 1, 2, 2], "g": ["a", "a", "a", "b"],
    ...                    "x": [1.0, 3.0, 2.0, 5.0]})
    >>> trend_frame(df, ["x"], by="g")[["group", "year", "n", "mean"]].values.tolist()
    [['a', 1, 2, 2.0], ['a', 2, 1, 2.0], ['b', 2, 1, 5.0]]
    """
    if not columns:
        raise SpecError("trend_frame needs at least one column")
    group = _column(panel, by).astype(str) if by else pd.Series("all", index=panel.index)
    years = _column(panel, time)
    parts = []
    for name in columns:
        values = pd.to_numeric(_column(panel, name), errors="coerce")
        frame = pd.DataFrame(
            {"group": group.to_numpy(), "year": years.to_numpy(), "v": values.to_numpy()}
        )
        stats = frame.groupby(["group", "year"], sort=True)["v"].agg(["count", "mean", "std"])
        stats = stats[stats["count"] > 0].reset_index()
        parts.append(
            pd.DataFrame(
                {
                    "group": stats["group"],
                    "year": stats["year"],
                    "variable": name,
                    "n": stats["count"].astype(int),
                    "mean": stats["mean"],
                    "std_error": stats["std"] / np.sqrt(stats["count"]),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)[TREND_COLUMNS]


def trend_table(
    panel: pd.DataFrame,
    columns: Sequence[str],
    by: str | None = "main_tier",
    format: Literal["csv", "markdown"] = "csv",
    *,
    time: str = "year",
    digits: int = 3,
) -> str:
    """Yearly means by group as CSV (long format) or a Markdown table (years by group).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"year": [1, 1, 2], "g": ["a", "b", "a"], "x": [1.0, 3.0, 2.0]})
    >>> print(trend_table(df, ["x"], by="g", format="markdown"), end="")
    | year | x: a | x: b |
    |---|---|---|
    | 1 | 1.000 | 3.000 |
    | 2 | 2.000 |  |
    """
    frame = trend_frame(panel, columns, by, time)
    if format == "csv":
        return frame.to_csv(index=False, float_format=f"%.{max(digits, 6)}g")
    if format != "markdown":
        raise SpecError(f"trend_table format {format!r} is not one of 'csv', 'markdown'")
    wide = frame.pivot_table(index="year", columns=["variable", "group"], values="mean")
    wide = wide.reindex(columns=[(c, g) for c in columns for g in sorted(frame["group"].unique())])
    wide = wide.dropna(axis=1, how="all")
    head = ["year", *[f"{c}: {g}" for c, g in wide.columns]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for year, row in wide.iterrows():
        cells = ["" if pd.isna(v) else f"{v:.{digits}f}" for v in row]
        lines.append("| " + " | ".join([str(year), *cells]) + " |")
    return "\n".join(lines) + "\n"


def trend_plot(
    panel: pd.DataFrame,
    columns: Sequence[str],
    by: str | None = "main_tier",
    *,
    time: str = "year",
    labels: LabelSource = None,
    language: Language = "en",
    title: str | None = None,
    path: PathLikeStr | None = None,
    formats: Sequence[Literal["png", "pdf"]] = ("png", "pdf"),
) -> Figure:
    """Small multiples: one panel per variable, one line (yearly mean) per group.

    Examples
    --------
    >>> import sustain, matplotlib.pyplot as plt
    >>> panel = sustain.build_panel(sustain.datasets.example())
    >>> fig = trend_plot(panel, ["hhi", "gov_share"])
    >>> len(fig.axes)
    2
    >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    language = check_language(language)
    frame = trend_frame(panel, columns, by, time)
    names = load_labels(labels, language)
    groups = sorted(frame["group"].unique())
    ncols = 2 if len(columns) == 4 else min(len(columns), 3)
    nrows = -(-len(columns) // ncols)
    legend_cols = min(len(groups), 4 * ncols)
    with figure_style(language):
        fig, axes = plt.subplots(
            nrows, ncols, figsize=(3.0 * ncols + 0.6, 2.6 * nrows + 0.4), squeeze=False
        )
        for ax, name in zip(axes.ravel(), columns, strict=False):
            part = frame[frame["variable"] == name]
            for i, group in enumerate(groups):
                rows = part[part["group"] == group]
                ax.plot(
                    rows["year"],
                    rows["mean"],
                    label=group_label(group, language),
                    markersize=3,
                    **series_style(i),
                )
            ax.set_title(axis_label(name, names, language), fontsize=9)
            ax.set_xlabel(term_label(time, names))
        for ax in axes.ravel()[len(columns) :]:
            ax.set_visible(False)
        handles, legend_labels = axes.ravel()[0].get_legend_handles_labels()
        legend_title = term_label(by, names) if by else None
        fig.legend(
            handles,
            legend_labels,
            loc="lower center",
            ncol=legend_cols,
            title=legend_title,
            bbox_to_anchor=(0.5, 0.0),
        )
        if title:
            fig.suptitle(title)
        legend_rows = -(-len(groups) // legend_cols)
        fig.tight_layout(rect=(0, (0.08 + 0.05 * legend_rows) / nrows, 1, 1))
    return finish(fig, path, formats)
