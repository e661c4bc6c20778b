"""CSV rendering: the table as displayed, one line per table row, for spreadsheets.

Header rows come first (the label column empty), then block titles, estimate and detail rows,
the bottom block and finally the notes, one per line in the first column. Marks are appended
to the text (``-0.512**``, ``(3)†``). Files are written as UTF-8 with a byte-order mark so
that Excel shows non-ASCII labels (e.g. Chinese) correctly; the returned string has no mark.
"""

from __future__ import annotations

import csv
import io

from sustain.tables.table import Table


def render_csv(table: Table) -> str:
    """Render a table as CSV text (``\\n`` line endings, minimal quoting).

    Examples
    --------
    >>> from sustain.tables.table import Cell, HeaderRow, Row, Section
    >>> t = Table((HeaderRow((Cell("(1)"),)),),
    ...           (Section("Funding", (Row("HHI, lagged", (Cell("0.5", "*"),)),)),))
    >>> print(render_csv(t), end="")
    ,(1)
    Funding,
    "HHI, lagged",0.5*
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    n = table.ncols
    if table.caption:
        writer.writerow([table.caption] + [""] * n)
    for header in table.header:
        writer.writerow([table.stub, *(c.plain for c in header.cells)])
    for section in table.sections:
        if section.title:
            writer.writerow([section.title] + [""] * n)
        for row in section.rows:
            writer.writerow([row.label, *(c.plain for c in row.cells)])
    for note in table.notes:
        writer.writerow([note] + [""] * n)
    return buffer.getvalue()
