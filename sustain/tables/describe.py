"""Descriptive statistics and correlation tables of a panel, in every table format.

``describe`` reports, for each variable, the number of non-missing values, mean, standard
deviation, minimum, maximum and the percentage missing, optionally by group;
``correlation_table`` the pairwise-complete Pearson or Spearman correlations (lower
triangle), optionally with significance stars. Without ``format`` both return the numbers as
a DataFrame; with a format they return the rendered table like :func:`regression_table`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats as sps

from sustain._typing import PathLikeStr
from sustain.errors import SpecError
from sustain.options import TableFormat
from sustain.presentation.labels import LabelSource, load_labels, term_label
from sustain.presentation.language import Language, check_language
from sustain.tables.model_columns import format_number, significance_stars
from sustain.tables.output import RenderOptions, render
from sustain.tables.table import Cell, HeaderRow, Row, Section, Table
from sustain.tables.translate import translate_table

DESCRIBE_COLUMNS = ["n", "mean", "sd", "min", "max", "missing_pct"]
_DESCRIBE_HEADER = ("N", "Mean", "SD", "Min", "Max", "Missing (%)")
_DESCRIBE_NOTE = {
    "en": "N: non-missing values; SD: standard deviation; Missing: percentage of rows without "
    "a value.",
    "zh": "观测值为非缺失值个数；缺失（%）为无取值的行所占百分比。",
}
Method = Literal["pearson", "spearman"]


def _frame_with_index(panel: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(panel, pd.DataFrame):
        raise SpecError(f"expected a DataFrame (the panel), got {type(panel).__name__}")
    names = [n for n in panel.index.names if n and n not in panel.columns]
    return panel.reset_index(level=names) if names else panel


def _check_columns(frame: pd.DataFrame, columns: Sequence[str] | None, by: str | None) -> list[str]:
    if by is not None and by not in frame.columns:
        raise SpecError(f"by={by!r} is not a column or index level of the panel")
    if columns is None:
        numeric = frame.select_dtypes(include=["number", "bool"]).columns
        return [str(c) for c in numeric if c != by and c not in ("year",)]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SpecError(f"columns not in the panel: {', '.join(map(str, missing))}")
    bad = [c for c in columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if bad:
        raise SpecError(f"columns are not numeric: {', '.join(map(str, bad))}")
    return list(columns)


def describe_frame(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """N, mean, SD (ddof=1), min, max and percentage missing of each column.

    Examples
    --------
    >>> df = pd.DataFrame({"x": [1.0, 2.0, 3.0, None]})
    >>> describe_frame(df, ["x"]).round(2).to_dict("records")
    [{'n': 3, 'mean': 2.0, 'sd': 1.0, 'min': 1.0, 'max': 3.0, 'missing_pct': 25.0}]
    """
    data = frame[list(columns)].astype(float)
    out = pd.DataFrame(
        {
            "n": data.notna().sum().astype(int),
            "mean": data.mean(),
            "sd": data.std(ddof=1),
            "min": data.min(),
            "max": data.max(),
            "missing_pct": 100 * data.isna().mean() if len(data) else np.nan,
        }
    )
    out.index.name = "variable"
    return out[DESCRIBE_COLUMNS]


def describe_numbers(
    panel: pd.DataFrame, columns: Sequence[str] | None = None, by: str | None = None
) -> pd.DataFrame:
    """The numbers of :func:`describe`: indexed by variable, or by (group, variable).

    Examples
    --------
    >>> df = pd.DataFrame({"g": ["a", "a", "b"], "x": [1.0, 3.0, 5.0]})
    >>> describe_numbers(df, ["x"], by="g")["mean"].to_dict()
    {('a', 'x'): 2.0, ('b', 'x'): 5.0}
    """
    frame = _frame_with_index(panel)
    cols = _check_columns(frame, columns, by)
    if by is None:
        return describe_frame(frame, cols)
    keys = frame[by].astype("object").where(frame[by].notna(), "(missing)")
    parts = {g: describe_frame(part, cols) for g, part in frame.groupby(keys, sort=True)}
    return pd.concat(parts, names=[by, "variable"])


def _describe_rows(numbers: pd.DataFrame, labels: dict[str, str], digits: int) -> tuple[Row, ...]:
    rows = []
    for variable, rec in numbers.iterrows():
        cells = [Cell(f"{int(rec['n']):,}")]
        for key in ("mean", "sd", "min", "max"):
            value = float(rec[key])
            cells.append(Cell("" if np.isnan(value) else f"{value:,.{digits}f}"))
        cells.append(Cell(format_number(float(rec["missing_pct"]), 1)))
        rows.append(Row(term_label(str(variable), labels), tuple(cells)))
    return tuple(rows)


def describe_table(
    numbers: pd.DataFrame, by: str | None, labels: dict[str, str], digits: int
) -> tuple[Section, ...]:
    """Sections of a descriptive table: one, or one per group titled ``Label: group``."""
    if by is None:
        return (Section(None, _describe_rows(numbers, labels, digits)),)
    sections = []
    for group in numbers.index.get_level_values(0).unique():
        title = f"{term_label(by, labels)}: {group}"
        sections.append(Section(title, _describe_rows(numbers.loc[group], labels, digits)))
    return tuple(sections)


def describe(
    panel: pd.DataFrame,
    columns: Sequence[str] | None = None,
    by: str | None = None,
    format: TableFormat | None = None,
    path: PathLikeStr | None = None,
    *,
    labels: LabelSource = None,
    digits: int = 2,
    notes: str | Sequence[str] | None = None,
    caption: str | None = None,
    latex_label: str | None = None,
    environment: str | None = "table",
    standalone: bool = False,
    language: Language = "en",
) -> pd.DataFrame | str:
    """Descriptive statistics of panel variables: N, mean, SD, min, max, share missing.

    Parameters
    ----------
    panel : DataFrame
        E.g. the agency-year panel; index levels count as columns.
    columns : sequence of str, optional
        Numeric variables to describe (default: every numeric column except ``year``).
    by : str, optional
        Describe within each group of this column (e.g. ``"main_tier"``).
    format : {"latex", "markdown", "html", "csv", "docx"}, optional
        ``None`` returns the numbers as a DataFrame.
    path : path, optional
        Also write the rendered table there (required for ``"docx"``).
    labels : mapping or path, optional
        Variable labels (see :func:`load_labels`).
    digits : int
        Decimal places of mean, SD, min and max.
    notes, caption, latex_label, environment, standalone
        As in :func:`regression_table`.
    language : {"en", "zh"}
        Language of the fixed text and of the default labels (as in :func:`regression_table`).

    Returns
    -------
    DataFrame or str

    Examples
    --------
    >>> df = pd.DataFrame({"hhi": [0.5, 1.0, None], "gov_share": [0.2, 0.4, 0.9]})
    >>> print(describe(df, format="csv", labels={"hhi": "HHI", "gov_share": "Gov. share"}))
    Variable,N,Mean,SD,Min,Max,Missing (%)
    HHI,2,0.75,0.35,0.50,1.00,33.3
    Gov. share,3,0.50,0.36,0.20,0.90,0.0
    N: non-missing values; SD: standard deviation; Missing: percentage of rows without a value.,,,,,,
    <BLANKLINE>
    """
    numbers = describe_numbers(panel, columns, by)
    if format is None:
        return numbers
    if not isinstance(digits, int) or digits < 0:
        raise SpecError(f"digits={digits!r} must be a non-negative integer")
    language = check_language(language)
    names = load_labels(labels, language)
    extra = [notes] if isinstance(notes, str) else list(notes or [])
    table = Table(
        header=(HeaderRow(tuple(Cell(h) for h in _DESCRIBE_HEADER)),),
        sections=describe_table(numbers, by, names, digits),
        notes=(_DESCRIBE_NOTE[language], *extra),
        caption=caption,
        stub="Variable",
    )
    table = translate_table(table, language, keep=list(names.values()))
    options = RenderOptions(standalone, environment, latex_label, language)
    return render(table, format, path, options)


def correlation_numbers(
    panel: pd.DataFrame, columns: Sequence[str], method: Method = "pearson"
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Pairwise-complete correlations, their p-values and pair counts.

    Examples
    --------
    >>> df = pd.DataFrame({"a": [1.0, 2, 3, 4], "b": [2.0, 4, 6, 9], "c": [1.0, None, 0, 2]})
    >>> r, p, n = correlation_numbers(df, ["a", "b", "c"])
    >>> round(float(r.loc["a", "b"]), 3), int(n.loc["a", "c"])
    (0.994, 3)
    """
    if method not in ("pearson", "spearman"):
        raise SpecError(f"method={method!r} is not one of 'pearson', 'spearman'")
    frame = _frame_with_index(panel)
    cols = _check_columns(frame, columns, None)
    if len(cols) < 2:
        raise SpecError("correlation_table needs at least two columns")
    data = frame[cols].astype(float)
    r = data.corr(method=method)
    counts = data.notna().astype(int)
    n = counts.T @ counts
    p = pd.DataFrame(np.nan, index=cols, columns=cols)
    test = sps.pearsonr if method == "pearson" else sps.spearmanr
    for i, a in enumerate(cols):
        for b in cols[:i]:
            pair = data[[a, b]].dropna()
            if len(pair) > 2 and pair[a].nunique() > 1 and pair[b].nunique() > 1:
                p.loc[a, b] = p.loc[b, a] = float(test(pair[a], pair[b])[1])
    return r, p, n


def correlation_sections(
    r: pd.DataFrame, p: pd.DataFrame, labels: dict[str, str], digits: int, stars: Sequence[float]
) -> tuple[Section, ...]:
    """Lower-triangle rows ``k. Label`` with correlations (diagonal ``1``)."""
    cols = list(r.columns)
    rows = []
    for i, a in enumerate(cols):
        cells = []
        for j, b in enumerate(cols):
            if j < i:
                sig = significance_stars(float(p.loc[a, b]), stars)
                cells.append(Cell(format_number(float(r.loc[a, b]), digits), sig))
            else:
                cells.append(Cell("1" if j == i else ""))
        rows.append(Row(f"{i + 1}. {term_label(a, labels)}", tuple(cells)))
    return (Section(None, tuple(rows)),)


def _correlation_notes(
    method: str, n: pd.DataFrame, stars: Sequence[float], language: Language = "en"
) -> list[str]:
    off = n.to_numpy()[~np.eye(len(n), dtype=bool)]
    if language == "zh":
        span = f"{off.min():,}" if off.min() == off.max() else f"{off.min():,}–{off.max():,}"
        name = "Pearson" if method == "pearson" else "Spearman"
        notes = [f"成对删除缺失值的 {name} 相关系数；观测值 = {span}。"]
        if stars:
            notes.append(
                "，".join(f"{'*' * (i + 1)} p < {t:g}" for i, t in enumerate(stars)) + "。"
            )
        return notes
    span = f"{off.min():,}" if off.min() == off.max() else f"{off.min():,} to {off.max():,}"
    notes = [f"Pairwise-complete {method.capitalize()} correlations; N = {span}."]
    if stars:
        notes.append(", ".join(f"{'*' * (i + 1)} p < {t:g}" for i, t in enumerate(stars)) + ".")
    return notes


def correlation_table(
    panel: pd.DataFrame,
    columns: Sequence[str],
    format: TableFormat | None = None,
    path: PathLikeStr | None = None,
    *,
    method: Method = "pearson",
    stars: Sequence[float] = (),
    labels: LabelSource = None,
    digits: int = 2,
    notes: str | Sequence[str] | None = None,
    caption: str | None = None,
    latex_label: str | None = None,
    environment: str | None = "table",
    standalone: bool = False,
    language: Language = "en",
) -> pd.DataFrame | str:
    """Correlation matrix of panel variables (lower triangle), in any table format.

    Parameters
    ----------
    panel : DataFrame
    columns : sequence of str
        At least two numeric variables.
    format : {"latex", "markdown", "html", "csv", "docx"}, optional
        ``None`` returns the correlation matrix as a DataFrame.
    path : path, optional
    method : {"pearson", "spearman"}
    stars : sequence of float
        P-value thresholds for stars on the correlations (default none).
    labels, digits, notes, caption, latex_label, environment, standalone, language
        As in :func:`describe`.

    Returns
    -------
    DataFrame or str

    Examples
    --------
    >>> df = pd.DataFrame({"hhi": [0.2, 0.5, 0.9, 1.0], "gov_share": [0.1, 0.6, 0.7, 1.0]})
    >>> print(correlation_table(df, ["hhi", "gov_share"], "csv", labels={"hhi": "HHI",
    ...       "gov_share": "Gov. share"}))
    ,(1),(2)
    1. HHI,1,
    2. Gov. share,0.94,1
    Pairwise-complete Pearson correlations; N = 4.,,
    <BLANKLINE>
    """
    r, p, n = correlation_numbers(panel, columns, method)
    if format is None:
        return r
    language = check_language(language)
    thresholds = tuple(sorted((float(s) for s in stars), reverse=True))
    names = load_labels(labels, language)
    extra = [notes] if isinstance(notes, str) else list(notes or [])
    table = Table(
        header=(HeaderRow(tuple(Cell(f"({k})") for k in range(1, len(r) + 1))),),
        sections=correlation_sections(r, p, names, digits, thresholds),
        notes=(*_correlation_notes(method, n, thresholds, language), *extra),
        caption=caption,
    )
    options = RenderOptions(standalone, environment, latex_label, language)
    return render(table, format, path, options)
