"""Word rendering with python-docx: a journal-style table (three rules, no grid) and notes.

The document holds an optional bold caption, the table (label column left-aligned, numbers
centred, merged header cells for a dependent variable shared by adjacent models, marks as
superscripts, block titles in italics) and the notes in a smaller font. python-docx stamps
the current time on every member of the ``.docx`` zip archive; the archive is rewritten with
a fixed timestamp so that the same table always gives the same bytes.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

from sustain.tables.table import Cell, Table

FONT = "Times New Roman"
#: East Asian font: 宋体 (SimSun), the body face of Chinese journals; Word falls back to the
#: system's Song typeface where SimSun is absent.
EAST_ASIAN_FONT = "SimSun"
FONT_SIZE_PT = 10
NOTE_SIZE_PT = 9
_THICK, _THIN, _HAIR = 12, 6, 4  # border widths in eighths of a point
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def _set_border(cell: Any, edge: str, size: int) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    tc_pr = cell._tc.get_or_add_tcPr()
    borders = tc_pr.find(qn("w:tcBorders"))
    if borders is None:
        borders = OxmlElement("w:tcBorders")
        tc_pr.append(borders)
    element = OxmlElement(f"w:{edge}")
    for key, value in (("val", "single"), ("sz", str(size)), ("space", "0"), ("color", "000000")):
        element.set(qn(f"w:{key}"), value)
    borders.append(element)


def _write(cell: Any, content: Cell | str, align: str, italic: bool = False) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    paragraph = cell.paragraphs[0]
    paragraph.alignment = getattr(WD_ALIGN_PARAGRAPH, align)
    text, sup = (content.text, content.sup) if isinstance(content, Cell) else (content, "")
    run = paragraph.add_run(text)
    run.italic = italic
    if sup:
        paragraph.add_run(sup).font.superscript = True


def _rule_row(row: Any, edge: str, size: int) -> None:
    for cell in row.cells:
        _set_border(cell, edge, size)


def _fill_header(grid: Any, table: Table) -> None:
    for r, header in enumerate(table.header):
        _write(grid.cell(r, 0), table.stub, "LEFT")
        spans = header.spans()
        merged = any(width > 1 for _, _, width in spans)
        for cell, start, width in spans:
            target = grid.cell(r, start + 1)
            if width > 1:
                target = target.merge(grid.cell(r, start + width))
            _write(target, cell, "CENTER")
            if merged and cell.text:
                _set_border(target, "bottom", _HAIR)
    _rule_row(grid.rows[0], "top", _THICK)
    _rule_row(grid.rows[len(table.header) - 1], "bottom", _THIN)


def _fill_body(grid: Any, table: Table) -> None:
    r = len(table.header)
    for section in table.sections:
        if section.rule_above:
            _rule_row(grid.rows[r], "top", _THIN)
        if section.title:
            row = grid.rows[r]
            _write(row.cells[0].merge(row.cells[-1]), section.title, "LEFT", italic=True)
            r += 1
        for body_row in section.rows:
            _write(grid.cell(r, 0), body_row.label, "LEFT")
            for j, cell in enumerate(body_row.cells, start=1):
                _write(grid.cell(r, j), cell, "CENTER")
            r += 1
    _rule_row(grid.rows[r - 1], "bottom", _THICK)


def _fixed_zip(data: bytes) -> bytes:
    """Rewrite a zip archive with a fixed timestamp on every member."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=_FIXED_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            target.writestr(fixed, source.read(info.filename))
    return out.getvalue()


def render_docx(table: Table, language: str = "en") -> bytes:
    """Render a table as the bytes of a Word document (``.docx``).

    Examples
    --------
    >>> import io, docx
    >>> from sustain.tables.table import HeaderRow, Row, Section
    >>> t = Table((HeaderRow((Cell("(1)"),)),), (Section(None, (Row("x", (Cell("0.5", "*"),)),)),))
    >>> doc = docx.Document(io.BytesIO(render_docx(t)))
    >>> [c.text for c in doc.tables[0].rows[1].cells]
    ['x', '0.5*']
    """
    from docx import Document
    from docx.oxml.ns import qn
    from docx.shared import Pt

    document = Document()
    normal = document.styles["Normal"]
    normal.font.name = FONT
    normal.font.size = Pt(FONT_SIZE_PT)
    fonts = normal.element.get_or_add_rPr().get_or_add_rFonts()
    fonts.set(qn("w:eastAsia"), EAST_ASIAN_FONT)  # Chinese labels and district names
    if language == "zh":
        from docx.oxml import OxmlElement

        lang = OxmlElement("w:lang")
        lang.set(qn("w:val"), "en-US")
        lang.set(qn("w:eastAsia"), "zh-CN")
        normal.element.get_or_add_rPr().append(lang)
    if table.caption:
        document.add_paragraph().add_run(table.caption).bold = True
    nrows = len(table.header) + sum(len(s.rows) + (1 if s.title else 0) for s in table.sections)
    grid = document.add_table(rows=nrows, cols=table.ncols + 1)
    _fill_header(grid, table)
    _fill_body(grid, table)
    for note in table.notes:
        document.add_paragraph().add_run(note).font.size = Pt(NOTE_SIZE_PT)
    buffer = io.BytesIO()
    document.save(buffer)
    return _fixed_zip(buffer.getvalue())
