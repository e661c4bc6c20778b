"""Markdown rendering: a GitHub-flavoured pipe table followed by the notes.

GitHub tables have a single header row, so the header rows (dependent variable, model,
number) are stacked into one header cell with ``<br>``, which GitHub renders as a line break.
Block titles are bold rows; the bottom block follows the coefficients. Characters with a
meaning in Markdown (``* _ | \\ ` < >``) are escaped, so significance stars stay stars.
"""

from __future__ import annotations

from sustain.tables.table import Cell, Table

_SPECIAL = "\\`*_|<>"


def escape_markdown(text: str) -> str:
    r"""Backslash-escape Markdown's special characters.

    Examples
    --------
    >>> print(escape_markdown("0.5** | a_b"))
    0.5\*\* \| a\_b
    """
    return "".join("\\" + ch if ch in _SPECIAL else ch for ch in text)


def _cell(cell: Cell) -> str:
    return escape_markdown(cell.plain)


def _line(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def render_markdown(table: Table) -> str:
    r"""Render a table as GitHub-flavoured Markdown.

    Examples
    --------
    >>> from sustain.tables.table import HeaderRow, Row, Section
    >>> t = Table((HeaderRow((Cell("y"),)), HeaderRow((Cell("(1)"),))),
    ...           (Section(None, (Row("x", (Cell("0.5", "**"),)),)),), notes=("A note.",))
    >>> print(render_markdown(t), end="")
    |  | y<br>(1) |
    | :--- | :---: |
    | x | 0.5\*\* |
    <BLANKLINE>
    A note.
    """
    n = table.ncols
    stacked = []
    for j in range(n):
        parts = [_cell(row.cells[j]) for row in table.header if row.cells[j].text]
        stacked.append("<br>".join(parts))
    lines = []
    if table.caption:
        lines += [f"**{escape_markdown(table.caption)}**", ""]
    lines += [_line([escape_markdown(table.stub), *stacked]), _line([":---"] + [":---:"] * n)]
    for section in table.sections:
        if section.title:
            lines.append(_line([f"**{escape_markdown(section.title)}**"] + [""] * n))
        for row in section.rows:
            lines.append(_line([escape_markdown(row.label), *(_cell(c) for c in row.cells)]))
    for note in table.notes:
        lines += ["", escape_markdown(note)]
    return "\n".join(lines) + "\n"
