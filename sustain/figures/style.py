"""One look for every sustain figure, axis labels with units, and atomic PNG/PDF output.

The style matches the diagnostic plots of :mod:`sustain.diagnostics` (font sizes, no top or
right spines, TrueType fonts embedded in PDFs) and adds a colour-blind-safe palette (Okabe &
Ito) with one marker per series, so that figures stay readable in greyscale print.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from sustain._atomic import atomic_path
from sustain._typing import PathLikeStr
from sustain.errors import SpecError
from sustain.tables.labels import term_label

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

ImageFormat: TypeAlias = Literal["png", "pdf"]

PNG_DPI = 200
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
MARKERS = ("o", "s", "D", "^", "v", "P", "X")
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


def axis_label(variable: str, labels: Mapping[str, str]) -> str:
    """Axis label with units: the built-in one for standard measures, else the table label.

    Shares (``share_*``) get ``(0–1)`` appended.

    Examples
    --------
    >>> axis_label("hhi", {})
    'Funding concentration (HHI, 0–1)'
    >>> axis_label("share_single_source", {"share_single_source": "Share single source"})
    'Share single source (0–1)'
    """
    if variable in AXIS_LABELS:
        return AXIS_LABELS[variable]
    label = term_label(variable, labels)
    return f"{label} (0–1)" if variable.startswith("share_") else label


@contextlib.contextmanager
def figure_style() -> Iterator[None]:
    """Apply sustain's figure style inside the block.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> with figure_style():
    ...     plt.rcParams["savefig.dpi"]
    200.0
    """
    import matplotlib.pyplot as plt

    with plt.rc_context(STYLE):  # type: ignore[arg-type]
        yield


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
    """Colour and marker of the ``i``-th series (model, group).

    Examples
    --------
    >>> series_style(0)
    {'color': '#0072B2', 'marker': 'o'}
    """
    return {"color": PALETTE[i % len(PALETTE)], "marker": MARKERS[i % len(MARKERS)]}
