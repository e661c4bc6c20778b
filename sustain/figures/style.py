"""One look for every sustain figure, axis labels with units, and atomic PNG/PDF output.

The style matches the diagnostic plots of :mod:`sustain.diagnostics` (font sizes, no top or
right spines, TrueType fonts embedded in PDFs) and adds a colour-blind-safe palette (Okabe &
Ito) with one marker per series, so that figures stay readable in greyscale print.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from sustain._atomic import atomic_path
from sustain._typing import PathLikeStr
from sustain.errors import SpecError
from sustain.presentation.labels import term_label
from sustain.presentation.language import CODES_ZH, translate

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

ImageFormat: TypeAlias = Literal["png", "pdf"]

PNG_DPI = 200
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
MARKERS = ("o", "s", "D", "^", "v", "P", "X")
#: After the seven colours come round, the line style changes: 21 series (all 11 districts of
#: Guangzhou and more) stay distinguishable, in colour and in greyscale.
LINESTYLES = ("-", "--", ":")
#: CJK fonts looked for, in order (DESIGN: "Output languages").
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Noto Sans CJK TC",
    "Noto Sans CJK JP",
    "Source Han Sans CN",
)
#: Folders searched for CJK font files that matplotlib's font cache does not know yet.
_FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.fonts", "~/.local/share/fonts",
              "/System/Library/Fonts", "/Library/Fonts", "C:/Windows/Fonts")  # fmt: skip
_CJK_FILE = re.compile(r"(cjk|wqy|wenquanyi|simhei|msyh|pingfang|sourcehan)", re.IGNORECASE)
_CJK_TEXT = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]")
BAND_ALPHA = 0.2
STYLE: dict[str, Any] = {
    "figure.dpi": 100,
    "savefig.dpi": PNG_DPI,
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.grid.axis": "x",
    "grid.color": "#e5e5e5",
    "grid.linewidth": 0.6,
    "axes.axisbelow": True,
    "lines.linewidth": 1.4,
    "pdf.fonttype": 42,  # embed TrueType fonts: text stays editable in the PDF
}
#: What diagnostic figures change in :data:`STYLE`: ArviZ draws their grids, legends and line
#: widths, and their titles sit over several panels; PNGs at 150 dpi keep large trace grids small.
DIAGNOSTIC_STYLE: dict[str, Any] = {
    "savefig.dpi": 150,
    "figure.titlesize": 12,
    "figure.titleweight": "bold",
    "legend.frameon": True,
    "axes.grid": False,
    "axes.axisbelow": "line",
    "lines.linewidth": 1.5,
}
StylePurpose: TypeAlias = Literal["figure", "diagnostic"]
# Axis labels with units for the panel's measures; other variables use their table label.
AXIS_LABELS: dict[str, str] = {
    "hhi": "Funding concentration (HHI, 0–1)",
    "hhi_norm": "Normalised funding concentration (0–1)",
    "gov_share": "Government share of revenue (0–1)",
    "top_share": "Largest funder's share of revenue (0–1)",
    "entropy": "Funding entropy (nats)",
    "n_funders": "Number of funders",
    "quality": "Service quality (evaluation score, 0–100)",
    "log_revenue": "Log total revenue (log yuan)",
    "age": "Agency age (years)",
    "exit": "Annual exit hazard",
}


@functools.cache
def cjk_font() -> str | None:
    """The first installed CJK font of :data:`CJK_FONTS`, or ``None``.

    Fonts installed after matplotlib built its font cache are found by scanning the usual
    font folders and registering their files.

    Examples
    --------
    >>> cjk_font() in (*CJK_FONTS, None)
    True
    """
    from matplotlib import font_manager

    def installed() -> str | None:
        names = {f.name for f in font_manager.fontManager.ttflist}
        return next((f for f in CJK_FONTS if f in names), None)

    found = installed()
    if found is not None:
        return found
    for folder in _FONT_DIRS:
        root = Path(os.path.expanduser(folder))
        if not root.is_dir():
            continue
        for path in root.rglob("*"):
            if path.suffix.lower() in (".ttf", ".otf", ".ttc") and _CJK_FILE.search(path.name):
                with contextlib.suppress(Exception):  # an unreadable font file is skipped
                    font_manager.fontManager.addfont(str(path))
    return installed()


def group_label(group: str, language: str = "en") -> str:
    """A group's name in a legend: a category code in words (Chinese with ``"zh"``).

    Examples
    --------
    >>> group_label("single_source"), group_label("subdistrict", "zh"), group_label("海珠区")
    ('single source', '街道（镇）', '海珠区')
    """
    if language == "zh" and group in CODES_ZH:
        return CODES_ZH[group]
    return group.replace("_", " ")


def has_cjk(text: str) -> bool:
    """Whether ``text`` holds Chinese (CJK) characters.

    Examples
    --------
    >>> has_cjk("海珠区"), has_cjk("Haizhu")
    (True, False)
    """
    return bool(_CJK_TEXT.search(text))


def axis_label(variable: str, labels: Mapping[str, str], language: str = "en") -> str:
    """Axis label with units: the built-in one for standard measures, else the table label.

    Shares (``share_*``) get ``(0–1)`` appended. With ``language="zh"`` the built-in labels
    are given in Chinese (``labels`` should then be the Chinese labels too).

    Examples
    --------
    >>> axis_label("hhi", {})
    'Funding concentration (HHI, 0–1)'
    >>> axis_label("share_single_source", {"share_single_source": "Share single source"})
    'Share single source (0–1)'
    """
    if variable in AXIS_LABELS:
        text = translate(AXIS_LABELS[variable], language)  # type: ignore[arg-type]
        if language == "en" or text != AXIS_LABELS[variable]:
            return text
    label = term_label(variable, labels)
    return f"{label} (0–1)" if variable.startswith("share_") else label


def style_for(language: str = "en", purpose: StylePurpose = "figure") -> dict[str, Any]:
    """The rc parameters of sustain's figures: :data:`STYLE` with the fonts of ``language``.

    An installed CJK font is always in the font list, after the Latin one, so that Chinese
    district names in an English figure are drawn, not shown as empty boxes; for Chinese
    figures it comes first. ``purpose="diagnostic"`` applies :data:`DIAGNOSTIC_STYLE` on top
    (the posterior diagnostics' plots).

    Examples
    --------
    >>> style_for("en")["font.family"][0]
    'DejaVu Sans'
    >>> style_for(purpose="diagnostic")["savefig.dpi"]
    150
    """
    cjk = cjk_font()
    fonts = ["DejaVu Sans"]
    if cjk is not None:
        fonts = [cjk, *fonts] if language == "zh" else [*fonts, cjk]
    extra = DIAGNOSTIC_STYLE if purpose == "diagnostic" else {}
    return {
        **STYLE,
        **extra,
        "font.family": fonts,
        "axes.unicode_minus": cjk is None or language != "zh",
    }


@contextlib.contextmanager
def figure_style(language: str = "en", purpose: StylePurpose = "figure") -> Iterator[None]:
    """Apply sustain's figure style (fonts of ``language``) inside the block.

    The one style of every sustain figure: tables' companion figures use it as it is, the
    posterior diagnostics with ``purpose="diagnostic"`` (see :func:`style_for`).

    Raises
    ------
    SpecError
        When ``language="zh"`` and no CJK font is installed (``make install`` installs
        Debian's fonts-noto-cjk; otherwise install one of :data:`CJK_FONTS`).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> with figure_style():
    ...     plt.rcParams["savefig.dpi"]
    200.0
    """
    import matplotlib.pyplot as plt

    if language == "zh" and cjk_font() is None:
        raise SpecError(_NO_CJK_FONT)
    with plt.rc_context(style_for(language, purpose)):  # type: ignore[arg-type]
        yield


_NO_CJK_FONT = (
    "Chinese text cannot be drawn: no CJK font is installed (looked for "
    + ", ".join(CJK_FONTS)
    + "). Install one, e.g. Debian's fonts-noto-cjk (`make install` does), and run again."
)


def check_glyphs(fig: Figure) -> None:
    """Refuse to save a figure whose Chinese text would be drawn as empty boxes.

    Raises
    ------
    SpecError
        When a text of the figure holds CJK characters and no CJK font is installed.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> check_glyphs(fig)  # no Chinese text: nothing to check
    >>> plt.close(fig)
    """
    if cjk_font() is not None:
        return
    from matplotlib.text import Text

    texts = [t.get_text() for t in fig.findobj(Text)]
    if any(has_cjk(t) for t in texts):
        raise SpecError(_NO_CJK_FONT)


def save_figure(
    fig: Figure,
    path: PathLikeStr,
    formats: Sequence[ImageFormat] = ("png", "pdf"),
    style: Callable[[], AbstractContextManager[None]] | None = None,
) -> list[Path]:
    """Write ``fig`` as PNG (200 dpi) and/or PDF next to ``path`` (suffix .png/.pdf replaced).

    Files are written atomically and carry no creation date or software stamp, so a rerun
    gives the same files. ``style`` is the rc context the files are written in
    (default :func:`figure_style`; the diagnostics pass their own).

    Examples
    --------
    >>> import tempfile, pathlib, matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> [p.name for p in save_figure(fig, pathlib.Path(tempfile.mkdtemp()) / "coef.png")]
    ['coef.png', 'coef.pdf']
    >>> plt.close(fig)
    """
    check_glyphs(fig)
    target = Path(path)
    if target.suffix.lower() in (".png", ".pdf"):
        target = target.with_suffix("")
    written = []
    for fmt in formats:
        if fmt not in ("png", "pdf"):
            raise SpecError(f"image format {fmt!r} is not one of 'png', 'pdf'")
        out = target.parent / f"{target.name}.{fmt}"
        metadata = {"CreationDate": None} if fmt == "pdf" else {"Software": None}
        with (style or figure_style)(), atomic_path(out) as tmp:
            fig.savefig(tmp, format=fmt, metadata=metadata, bbox_inches="tight")
        written.append(out)
    return written


def finish(
    fig: Figure, path: PathLikeStr | None, formats: Sequence[ImageFormat] = ("png", "pdf")
) -> Figure:
    """Lay out ``fig``; with ``path``, save it as PNG and PDF and close it.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig, _ = plt.subplots()
    >>> finish(fig, None) is fig
    True
    >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    if path is not None:
        save_figure(fig, path, formats)
        plt.close(fig)
    return fig


def series_style(i: int) -> dict[str, Any]:
    """Colour, marker and line style of the ``i``-th series (model, group).

    Colours and markers cycle over seven; each cycle has its own line style, so up to 21
    series differ (all eleven districts in one figure).

    Examples
    --------
    >>> series_style(0)
    {'color': '#0072B2', 'marker': 'o', 'linestyle': '-'}
    >>> series_style(8)
    {'color': '#D55E00', 'marker': 'D', 'linestyle': '--'}
    """
    n = len(PALETTE)
    cycle = i // n
    return {
        "color": PALETTE[i % n],
        "marker": MARKERS[(i + cycle) % len(MARKERS)],
        "linestyle": LINESTYLES[cycle % len(LINESTYLES)],
    }
