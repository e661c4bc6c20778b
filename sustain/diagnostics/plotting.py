"""What every diagnostic figure shares: the style, titles, saving, and ArviZ's plot collections.

The style is sustain's one figure style (:func:`sustain.figures.style.figure_style`) with its
diagnostic variant; files are written by the same atomic, time-stamp-free writer as every
other figure.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sustain._typing import PathLikeStr
from sustain.figures.style import ImageFormat, figure_style
from sustain.figures.style import save_figure as save_styled

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# arviz_plots' advice for binary outcomes and prior checks: sustain shows the data on purpose
# and draws the event-rate check for 0/1 outcomes, so these are not news to the user.
ARVIZ_PLOT_ADVICE = (".*look binary.*", ".*look discrete.*", ".*always uses the `observed_data`.*")


@contextlib.contextmanager
def house_style() -> Iterator[None]:
    """Apply the diagnostic plot style (and quiet arviz_plots' generic plot advice).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> with house_style():
    ...     plt.rcParams["pdf.fonttype"]
    42
    """

    with figure_style(purpose="diagnostic"), warnings.catch_warnings():
        for message in ARVIZ_PLOT_ADVICE:
            warnings.filterwarnings("ignore", message=message, category=UserWarning)
        yield


def save_figure(
    fig: Figure, path: PathLikeStr, formats: Sequence[ImageFormat] = ("png", "pdf")
) -> list[Path]:
    """Write ``fig`` as PNG and/or PDF in the diagnostic style (see :func:`sustain.figures.style.save_figure`).

    Examples
    --------
    >>> import tempfile, pathlib, matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> [p.name for p in save_figure(fig, pathlib.Path(tempfile.mkdtemp()) / "energy.png")]
    ['energy.png', 'energy.pdf']
    >>> plt.close(fig)
    """
    return save_styled(fig, path, formats, style=house_style)


def finish_figure(
    fig: Figure, title: str, path: PathLikeStr | None, formats: Sequence[ImageFormat]
) -> Figure:
    """Give ``fig`` its title; with ``path``, save it (PNG/PDF) and close it.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig, _ = plt.subplots()
    >>> finish_figure(fig, "Energy", None, ["png"]).get_suptitle()
    'Energy'
    >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    fig.suptitle(title)
    # lay the figure out once and freeze it: a constrained layout is recomputed on every save
    # and moves ArviZ 1's figures a little the first time, so the first file saved would
    # differ from later ones
    with house_style():
        fig.draw_without_rendering()
    fig.set_layout_engine("none")
    if path is not None:
        save_figure(fig, path, formats)
        plt.close(fig)
    return fig


def figure_of(plot_collection: Any) -> Figure:
    """The matplotlib figure an ``arviz_plots`` function drew (its ``PlotCollection``).

    Examples
    --------
    >>> import arviz as az, matplotlib.pyplot as plt
    >>> pc = az.plot_energy(az.load_arviz_data("centered_eight"), backend="matplotlib")
    >>> type(figure_of(pc)).__name__
    'Figure'
    >>> plt.close(figure_of(pc))
    """
    return cast("Figure", plot_collection.viz["figure"].item())


def target(plot_collection: Any, var: str, **sel: str) -> Axes:
    """The axes on which ``arviz_plots`` drew ``var`` (in the column ``sel``, if any)."""
    plots = plot_collection.viz["plot"][var]
    return cast("Axes", (plots.sel(sel) if sel else plots).item())


def inches(width: float, height: float) -> dict[str, Any]:
    return {"figsize": (width, height), "figsize_units": "inches"}
