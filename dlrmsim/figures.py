"""Figures drawn for files, never for a screen: on `matplotlib.figure.Figure` objects, outside
pyplot, in a seaborn theme that holds only while they are drawn. A caller's backend, open
figures and style (a notebook's, say) are as they were afterwards, and the files do not depend
on them. matplotlib and seaborn load when a figure is made, not with this module."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def new_figure(**kwargs: Any) -> Any:
    """A `matplotlib.figure.Figure(**kwargs)`: pyplot does not know it, so it is never shown
    and needs no closing; `savefig` picks the writer by format, whatever the backend."""
    from matplotlib.figure import Figure

    return Figure(**kwargs)


@contextmanager
def seaborn_theme(style: str, context: str = "notebook", font_scale: float = 1.0) -> Iterator[None]:
    """While the block runs, matplotlib's default rcParams with those of
    `seaborn.set_theme(style=style, context=context, font_scale=font_scale)` on top; the
    caller's rcParams come back after. Unlike set_theme it leaves seaborn's shorthand colour
    codes ("b", "g") alone: they are global state outside rcParams. Starting from the defaults
    makes a file the same from a notebook with its own style as from the command line."""
    import matplotlib.style
    import seaborn as sns
    from cycler import cycler

    rc = {**sns.plotting_context(context, font_scale),
          **sns.axes_style(style, rc={"font.family": "sans-serif"}),
          "axes.prop_cycle": cycler("color", sns.color_palette("deep"))}
    with matplotlib.style.context(rc, after_reset=True):
        yield
