"""Tables in another language: the fixed text of a :class:`~sustain.tables.table.Table`
translated (see :mod:`sustain.presentation.language`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from sustain.presentation.language import Language, translate
from sustain.tables.table import Cell, Row, Section, Table


def translate_table(table: Table, language: Language, keep: Sequence[str] = ()) -> Table:
    """The table with its fixed text in ``language``: headers, section titles, row labels,
    statistic cells and the stub. Notes are written in their language where they are made;
    ``keep`` lists texts the user gave (labels, captions) that stay as they are.

    Examples
    --------
    >>> from sustain.tables.table import HeaderRow
    >>> t = Table((HeaderRow((Cell("Two-way FE"),)),),
    ...           (Section("Funding", (Row("Observations", (Cell("800"),), "stat"),)),))
    >>> z = translate_table(t, "zh")
    >>> z.header[0].cells[0].text, z.sections[0].title, z.sections[0].rows[0].label
    ('双向固定效应', '资金结构', '观测值')
    """
    if language == "en":
        return table
    kept = set(keep)

    def tr(text: str) -> str:
        return text if text in kept else translate(text, language)

    header = tuple(
        replace(h, cells=tuple(Cell(tr(c.text), c.sup) for c in h.cells)) for h in table.header
    )
    sections = tuple(
        Section(
            tr(s.title) if s.title else s.title,
            tuple(
                Row(
                    tr(r.label),
                    tuple(Cell(tr(c.text), c.sup) for c in r.cells)
                    if r.kind == "stat"
                    else r.cells,
                    r.kind,
                )
                for r in s.rows
            ),
            s.rule_above,
        )
        for s in table.sections
    )
    return Table(header, sections, table.notes, table.caption, tr(table.stub))
