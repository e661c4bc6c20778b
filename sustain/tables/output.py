"""Render a :class:`~sustain.tables.table.Table` in the requested format and write it.

Every table function ends here: the format is checked, the renderer chosen, and the result
returned as a string (``latex``, ``markdown``, ``html``, ``csv``) and, with ``path=``, written
atomically. Word output is binary and therefore needs a path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sustain import _atomic
from sustain._typing import PathLikeStr
from sustain.errors import SpecError
from sustain.options import TableFormat, choices
from sustain.tables.render_csv import render_csv
from sustain.tables.render_docx import render_docx
from sustain.tables.render_html import render_html
from sustain.tables.render_latex import render_latex
from sustain.tables.render_markdown import render_markdown
from sustain.tables.table import Table


@dataclass(frozen=True)
class RenderOptions:
    """Format-specific choices.

    Attributes
    ----------
    standalone : bool
        LaTeX: a complete document; HTML: a complete page.
    environment : str or None
        LaTeX float environment (``None``: bare threeparttable).
    latex_label : str or None
        LaTeX ``\\label`` key.
    language : {"en", "zh"}
        HTML ``lang``; LaTeX standalone documents load ctex (XeLaTeX) for Chinese.
    """

    standalone: bool = False
    environment: str | None = "table"
    latex_label: str | None = None
    language: str = "en"


class RenderedTable(str):
    """A rendered table: a ``str`` that notebooks display as a table.

    HTML output shows as a rendered table in Jupyter (``_repr_html_``), Markdown output as
    rendered Markdown (``_repr_markdown_``); everything else behaves as a plain string.

    Examples
    --------
    >>> t = RenderedTable("<table></table>", "html")
    >>> t._repr_html_(), t.table_format
    ('<table></table>', 'html')
    """

    table_format: str

    def __new__(cls, text: str, table_format: str) -> RenderedTable:
        obj = super().__new__(cls, text)
        obj.table_format = table_format
        return obj

    def _repr_html_(self) -> str | None:
        return str(self) if self.table_format == "html" else None

    def _repr_markdown_(self) -> str | None:
        return str(self) if self.table_format == "markdown" else None


def check_format(format: object, path: PathLikeStr | None) -> TableFormat:
    """Validate ``format`` (and that Word output has a path).

    Examples
    --------
    >>> check_format("markdown", None)
    'markdown'
    """
    allowed = choices(TableFormat)
    if format not in allowed:
        raise SpecError(f"format={format!r} is not one of {', '.join(map(repr, allowed))}")
    if format == "docx" and path is None:
        raise SpecError('format="docx" writes a binary Word file: pass path="table.docx"')
    return format  # type: ignore[return-value]


def render(
    table: Table,
    format: TableFormat,
    path: PathLikeStr | None = None,
    options: RenderOptions | None = None,
) -> str:
    """Render ``table`` as ``format``; with ``path`` also write it atomically.

    Returns the rendered text (for ``docx``, the path written, as a string).

    Examples
    --------
    >>> from sustain.tables.table import Cell, HeaderRow, Row, Section
    >>> t = Table((HeaderRow((Cell("(1)"),)),), (Section(None, (Row("x", (Cell("1"),)),)),))
    >>> print(render(t, "csv"), end="")
    ,(1)
    x,1
    """
    format = check_format(format, path)
    opts = options or RenderOptions()
    if format == "docx":
        assert path is not None  # checked by check_format
        return str(_atomic.write_bytes(path, render_docx(table, opts.language)))
    if format == "latex":
        text = render_latex(
            table, opts.environment, opts.latex_label, opts.standalone, opts.language
        )
    elif format == "html":
        text = render_html(table, opts.standalone, opts.language)
    elif format == "markdown":
        text = render_markdown(table)
    else:
        text = render_csv(table)
    if path is not None:
        encoding = "utf-8-sig" if format == "csv" else "utf-8"
        _atomic.write_text(Path(path), text, encoding=encoding)
    return RenderedTable(text, format)
