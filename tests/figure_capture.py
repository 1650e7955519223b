"""Catch the matplotlib figures a plotting function saves, so a test can read what it drew."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure


def capture_figures(monkeypatch) -> list[Figure]:
    """Every :class:`Figure` saved from now on (the PNG is still written)."""
    figures: list[Figure] = []
    original = Figure.savefig

    def savefig(self, *args, **kwargs):
        figures.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    return figures


def line_data(ax) -> list[tuple[np.ndarray, np.ndarray]]:
    """(x, y) of each line on ``ax`` (reference lines such as axhline included)."""
    return [(np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float))
            for line in ax.get_lines()]


def bar_heights(ax) -> np.ndarray:
    """Heights of the bars on ``ax``, in drawing order."""
    return np.array([patch.get_height() for patch in ax.patches])


def scatter_points(ax) -> list[np.ndarray]:
    """The (x, y) offsets of each scatter collection on ``ax`` (empty ones left out)."""
    found = [np.asarray(c.get_offsets(), float) for c in ax.collections]
    return [points for points in found if len(points)]
