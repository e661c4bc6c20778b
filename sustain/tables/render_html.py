"""HTML rendering: a self-styled ``<table>`` for notebooks, or a complete standalone page.

The fragment carries its own small stylesheet scoped to the class ``sustain-table`` (top,
header and bottom rules as in print, no grid), so it looks the same in Jupyter, in a browser
and pasted into a web page. Non-ASCII characters are written as character references, so the
output displays correctly whatever encoding a viewer assumes.
"""

from __future__ import annotations

import html

from sustain.tables.table import Cell, HeaderRow, Section, Table

STYLE = """\
.sustain-table { border-collapse: collapse; margin: 1em 0; font-variant-numeric: tabular-nums; }
.sustain-table caption { caption-side: top; font-weight: bold; padding-bottom: 0.4em; }
.sustain-table th, .sustain-table td { padding: 0.15em 0.8em; border: none; }
.sustain-table thead tr:first-child th { border-top: 2px solid #000; }
.sustain-table thead tr:last-child th { border-bottom: 1px solid #000; }
.sustain-table th.span { border-bottom: 1px solid #888; }
.sustain-table td { text-align: center; }
.sustain-table tbody th { text-align: left; font-weight: normal; }
.sustain-table tr.block th { font-style: italic; padding-top: 0.5em; }
.sustain-table tr.detail td { color: #444; }
.sustain-table tbody.stats tr:first-child th, .sustain-table tbody.stats tr:first-child td {
  border-top: 1px solid #000; }
.sustain-table tbody:last-of-type tr:last-child th,
.sustain-table tbody:last-of-type tr:last-child td { border-bottom: 2px solid #000; }
.sustain-table tfoot td { text-align: left; font-size: 0.85em; padding-top: 0.3em; }
"""


def _text(text: str) -> str:
    return html.escape(text).encode("ascii", "xmlcharrefreplace").decode("ascii")


def html_cell(cell: Cell) -> str:
    """Escaped cell text with its mark as ``<sup>``.

    Examples
    --------
    >>> html_cell(Cell("0.5", "**")), html_cell(Cell("(1)", "†"))
    ('0.5<sup>**</sup>', '(1)<sup>&#8224;</sup>')
    """
    return _text(cell.text) + (f"<sup>{_text(cell.sup)}</sup>" if cell.sup else "")


def _header_row(row: HeaderRow, stub: str) -> str:
    spans = row.spans()
    merged = any(width > 1 for _, _, width in spans)
    cells = [f"<th>{_text(stub)}</th>"]
    for cell, _, width in spans:
        span = f' colspan="{width}"' if width > 1 else ""
        cls = ' class="span"' if merged and cell.text else ""
        cells.append(f"<th{span}{cls}>{html_cell(cell)}</th>")
    return "<tr>" + "".join(cells) + "</tr>"


def _section(section: Section, ncols: int) -> list[str]:
    cls = ' class="stats"' if section.rule_above else ""
    lines = [f"<tbody{cls}>"]
    if section.title:
        lines.append(
            f'<tr class="block"><th colspan="{ncols + 1}">{_text(section.title)}</th></tr>'
        )
    for row in section.rows:
        row_cls = f' class="{row.kind}"' if row.kind != "estimate" else ""
        cells = "".join(f"<td>{html_cell(c)}</td>" for c in row.cells)
        lines.append(f'<tr{row_cls}><th scope="row">{_text(row.label)}</th>{cells}</tr>')
    lines.append("</tbody>")
    return lines


#: The ``lang`` attribute of each output language.
HTML_LANG = {"en": "en", "zh": "zh-CN"}


def render_html(table: Table, standalone: bool = False, language: str = "en") -> str:
    """Render a table as an HTML fragment (with its stylesheet) or a standalone page.

    Examples
    --------
    >>> from sustain.tables.table import Row
    >>> t = Table((HeaderRow((Cell("(1)"),)),), (Section(None, (Row("x", (Cell("1"),)),)),))
    >>> page = render_html(t, standalone=True)
    >>> page.startswith("<!DOCTYPE html>"), "<td>1</td>" in page
    (True, True)
    """
    n = table.ncols
    lang = HTML_LANG.get(language, language)
    lines = [
        '<div class="sustain-table-wrap">'
        if language == "en"
        else f'<div class="sustain-table-wrap" lang="{lang}">',
        f"<style>\n{STYLE}</style>",
        '<table class="sustain-table">',
    ]
    if table.caption:
        lines.append(f"<caption>{_text(table.caption)}</caption>")
    lines.append("<thead>")
    lines += [_header_row(row, table.stub) for row in table.header]
    lines.append("</thead>")
    for section in table.sections:
        lines += _section(section, n)
    if table.notes:
        notes = "<br>".join(_text(note) for note in table.notes)
        lines.append(f'<tfoot><tr><td colspan="{n + 1}">{notes}</td></tr></tfoot>')
    lines += ["</table>", "</div>"]
    fragment = "\n".join(lines) + "\n"
    if not standalone:
        return fragment
    title = _text(table.caption or "Table")
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n</head>\n<body>\n{fragment}</body>\n</html>\n"
    )
