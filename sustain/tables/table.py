"""The format-independent table that every renderer draws.

Regression, descriptive and correlation tables are first assembled into a :class:`Table`
(header rows, sections of labelled rows, notes); ``render_latex``, ``render_markdown``,
``render_html``, ``render_csv`` and ``render_docx`` then only decide how each piece looks.
Cells are plain text plus an optional superscript mark (significance stars or a dagger), so
each format can typeset the mark its own way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

RowKind = Literal["estimate", "detail", "stat"]


@dataclass(frozen=True)
class Cell:
    """One table cell: text and an optional superscript mark (``"**"``, ``"†"``).

    Examples
    --------
    >>> Cell("0.512", "**").plain
    '0.512**'
    """

    text: str
    sup: str = ""

    @property
    def plain(self) -> str:
        """Text and mark run together, for formats without superscripts."""
        return self.text + self.sup


@dataclass(frozen=True)
class Row:
    """A labelled row of cells, one per data column.

    ``kind`` says what the row holds: ``"estimate"`` (a coefficient or a statistic of a
    variable), ``"detail"`` (the standard error or interval line under an estimate, whose
    label is empty) or ``"stat"`` (a bottom-block model statistic).

    Examples
    --------
    >>> Row("HHI", (Cell("0.5"),)).label
    'HHI'
    """

    label: str
    cells: tuple[Cell, ...]
    kind: RowKind = "estimate"


@dataclass(frozen=True)
class Section:
    """A block of rows with an optional title (e.g. ``"Funding"``).

    ``rule_above`` draws a full rule before the section (used for the bottom statistics
    block); otherwise sections are separated by a little vertical space.

    Examples
    --------
    >>> Section("Funding", ()).title
    'Funding'
    """

    title: str | None
    rows: tuple[Row, ...]
    rule_above: bool = False


@dataclass(frozen=True)
class HeaderRow:
    """A header row with one cell per data column; equal neighbours merge when ``merge``.

    Examples
    --------
    >>> HeaderRow((Cell("Quality"), Cell("Quality")), merge=True).spans()
    [(Cell(text='Quality', sup=''), 0, 2)]
    """

    cells: tuple[Cell, ...]
    merge: bool = False
    breaks: tuple[int, ...] = ()

    def spans(self) -> list[tuple[Cell, int, int]]:
        """``(cell, first column, number of columns)`` after merging equal neighbours.

        A span never crosses a column listed in ``breaks`` (it starts a new span there), so a
        lower header row does not merge across the boundary of the row above.
        """
        if not self.merge:
            return [(c, i, 1) for i, c in enumerate(self.cells)]
        return merge_spans(self.cells, self.breaks)


@dataclass(frozen=True)
class Table:
    """A complete table: stub header, header rows, body sections, notes and caption.

    Examples
    --------
    >>> t = Table(header=(HeaderRow((Cell("(1)"),)),),
    ...           sections=(Section(None, (Row("x", (Cell("1.0"),)),)),))
    >>> t.ncols
    1
    """

    header: tuple[HeaderRow, ...]
    sections: tuple[Section, ...]
    notes: tuple[str, ...] = ()
    caption: str | None = None
    stub: str = ""

    @property
    def ncols(self) -> int:
        """Number of data columns (the label column not counted)."""
        if self.header:
            return len(self.header[0].cells)
        for section in self.sections:
            for row in section.rows:
                return len(row.cells)
        return 0


def merge_spans(cells: Sequence[Cell], breaks: Sequence[int] = ()) -> list[tuple[Cell, int, int]]:
    """Group equal adjacent cells into ``(cell, start, width)`` spans, never across ``breaks``.

    Examples
    --------
    >>> [(c.text, s, w) for c, s, w in merge_spans([Cell("a"), Cell("a"), Cell("b")])]
    [('a', 0, 2), ('b', 2, 1)]
    >>> [(c.text, s, w) for c, s, w in merge_spans([Cell("a"), Cell("a")], breaks=[1])]
    [('a', 0, 1), ('a', 1, 1)]
    """
    spans: list[tuple[Cell, int, int]] = []
    for i, cell in enumerate(cells):
        if spans and spans[-1][0] == cell and cell.text and i not in breaks:
            first, start, width = spans[-1]
            spans[-1] = (first, start, width + 1)
        else:
            spans.append((cell, i, 1))
    return spans
