"""LaTeX rendering: booktabs rules inside a threeparttable, notes as tablenotes.

The output needs only ``booktabs`` and ``threeparttable`` (Debian: texlive-latex-recommended
and texlive-latex-extra); a standalone document also uses the ``standalone`` class
(texlive-latex-extra). Every piece of text is escaped (``& % $ # _ { } ~ ^ \\ < > |``) and
the few non-ASCII symbols sustain itself writes (``×``, ``²``, ``†``, ``σ``, ``ν``, dashes,
minus) are mapped to LaTeX commands, so the table compiles with pdflatex. Labels in other
scripts (e.g. Chinese variable labels) need XeLaTeX or LuaLaTeX with a suitable font package.
"""

from __future__ import annotations

import re

from sustain.tables.table import Cell, HeaderRow, Section, Table

_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"$\$$",  # math-mode dollar: text-mode \$ needs a bitmap (TS1) font
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    "×": r"$\times$",
    "²": r"\textsuperscript{2}",
    "†": r"$\dagger$",
    "‡": r"$\ddagger$",
    "σ": r"$\sigma$",
    "ν": r"$\nu$",
    "−": r"$-$",
    "–": "--",
    "—": "---",
    "≥": r"$\geq$",
    "≤": r"$\leq$",
    "\u00a0": "~",
}
_MINUS = re.compile(r"(?<![\w.])-(?=\.?\d)")
# A standalone document is cropped to the table (class ``standalone``, texlive-latex-extra).
# The default OT1 encoding keeps the Type 1 Computer Modern fonts of texlive-base (T1 would
# need cm-super or bitmap fonts); every escape below has an OT1 definition.
STANDALONE_PREAMBLE = (
    "\\documentclass[border=12pt]{standalone}\n"
    "\\usepackage{booktabs}\n"
    "\\usepackage{threeparttable}\n"
    "\\begin{document}\n"
)
# Chinese text: ctex picks the platform's CJK fonts (Fandol from TeX Live on Linux); compile
# with XeLaTeX. The TeX set-up of the project installs texlive-xetex and texlive-lang-chinese.
STANDALONE_PREAMBLE_ZH = STANDALONE_PREAMBLE.replace(
    "\\usepackage{booktabs}",
    "% compile with xelatex\n\\usepackage[UTF8]{ctex}\n\\usepackage{booktabs}",
)


def escape_latex(text: str) -> str:
    r"""Escape LaTeX's special characters and map sustain's non-ASCII symbols.

    Examples
    --------
    >>> print(escape_latex("Share 50% & gov_share {x} ~ ^ \\"))
    Share 50\% \& gov\_share \{x\} \textasciitilde{} \textasciicircum{} \textbackslash{}
    >>> print(escape_latex("Within R² × 2"))
    Within R\textsuperscript{2} $\times$ 2
    """
    return "".join(_ESCAPES.get(ch, ch) for ch in text)


def _sup(mark: str) -> str:
    marks = mark.replace("†", r"\dagger").replace("‡", r"\ddagger")
    return f"$^{{{marks}}}$" if mark else ""


def latex_cell(cell: Cell, numeric: bool = True) -> str:
    r"""A cell's LaTeX: escaped text, a typeset minus sign in numbers, superscript mark.

    Examples
    --------
    >>> print(latex_cell(Cell("-0.512", "**")))
    $-$0.512$^{**}$
    >>> print(latex_cell(Cell("[-0.9, -0.1]")))
    [$-$0.9, $-$0.1]
    """
    text = escape_latex(cell.text)
    if numeric:
        text = _MINUS.sub("$-$", text)
    return text + _sup(cell.sup)


def _header_lines(row: HeaderRow, stub: str) -> list[str]:
    spans = row.spans()
    merged = any(width > 1 for _, _, width in spans)
    parts, rules = [escape_latex(stub)], []
    for cell, start, width in spans:
        text = latex_cell(cell, numeric=False)
        parts.append(text if width == 1 else f"\\multicolumn{{{width}}}{{c}}{{{text}}}")
        if merged and cell.text:
            rules.append(f"\\cmidrule(lr){{{start + 2}-{start + width + 1}}}")
    lines = [" & ".join(parts) + r" \\"]
    if rules:
        lines.append(" ".join(rules))
    return lines


def _section_lines(section: Section, ncols: int, first: bool) -> list[str]:
    lines = []
    if section.rule_above:
        lines.append(r"\midrule")
    elif not first:
        lines.append(r"\addlinespace")
    if section.title:
        title = escape_latex(section.title)
        lines.append(f"\\multicolumn{{{ncols + 1}}}{{@{{}}l}}{{\\textit{{{title}}}}} \\\\")
    for row in section.rows:
        cells = [latex_cell(c) for c in row.cells]
        lines.append(" & ".join([escape_latex(row.label), *cells]) + r" \\")
    return lines


def render_latex(
    table: Table,
    environment: str | None = "table",
    label: str | None = None,
    standalone: bool = False,
    language: str = "en",
) -> str:
    r"""Render a table as LaTeX (booktabs + threeparttable).

    Parameters
    ----------
    table : Table
    environment : str or None
        Float environment wrapped around the threeparttable (``"table"``, ``"table*"``,
        ``"sidewaystable"``); ``None`` returns the bare threeparttable for ``\input``
        inside the user's own float.
    label : str or None
        ``\label`` key placed after the caption.
    standalone : bool
        Return a complete document, cropped to the table (``standalone`` class; the float
        environment is left out), that compiles on its own into a one-table PDF.
    language : {"en", "zh"}
        ``"zh"``: the standalone document loads ``ctex`` and is compiled with XeLaTeX; a
        fragment needs ``\usepackage{ctex}`` (or xeCJK) in the user's preamble.

    Examples
    --------
    >>> from sustain.tables.table import Row
    >>> t = Table((HeaderRow((Cell("(1)"),)),), (Section(None, (Row("x_1", (Cell("-1.0"),)),)),))
    >>> print(render_latex(t, environment=None), end="")
    \begin{threeparttable}
    \begin{tabular}{@{}lc@{}}
    \toprule
     & (1) \\
    \midrule
    x\_1 & $-$1.0 \\
    \bottomrule
    \end{tabular}
    \end{threeparttable}
    """
    n = table.ncols
    body = ["\\begin{threeparttable}"]
    if table.caption:
        body.append(f"\\caption{{{escape_latex(table.caption)}}}")
    if label:
        body.append(f"\\label{{{label}}}")
    body += [f"\\begin{{tabular}}{{@{{}}l{'c' * n}@{{}}}}", r"\toprule"]
    for row in table.header:
        body += _header_lines(row, table.stub)
    body.append(r"\midrule")
    for i, section in enumerate(table.sections):
        body += _section_lines(section, n, first=i == 0)
    body += [r"\bottomrule", r"\end{tabular}"]
    if table.notes:
        body += [r"\begin{tablenotes}[flushleft]", r"\footnotesize"]
        body += [f"\\item {escape_latex(note)}" for note in table.notes]
        body.append(r"\end{tablenotes}")
    body.append(r"\end{threeparttable}")
    if environment and not standalone:
        body = [f"\\begin{{{environment}}}[htbp]", r"\centering", *body, f"\\end{{{environment}}}"]
    text = "\n".join(body) + "\n"
    if not standalone:
        return text
    preamble = STANDALONE_PREAMBLE_ZH if language == "zh" else STANDALONE_PREAMBLE
    return preamble + text + "\\end{document}\n"
