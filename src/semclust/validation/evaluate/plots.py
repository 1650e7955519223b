"""PNG plots of the evaluation results (for the report and for papers).

Each function takes plain data and an output path, writes a PNG and returns the path.
Figures are built with :class:`matplotlib.figure.Figure` and drawn by the Agg canvas, so
nothing touches pyplot's global state or opens a window (safe in servers and threads).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from semclust.core.errors import SemclustError

_DPI = 150
_ANNOTATE_MAX_CELLS = 400  # write the percentages into heatmap cells up to 20 x 20


def plot_marginal_gain(
    table: pd.DataFrame,
    path: str | Path,
    *,
    threshold: float | None = 0.01,
    chosen_k: int | None = None,
) -> Path:
    """S_Dbw and its marginal gain against K (the paper's Figures 4 and 7).

    ``table`` has columns ``k``, ``s_dbw`` and ``gain`` (as from
    :func:`semclust.validation.evaluate.marginal_gain.marginal_gain`).
    """
    _require_columns(table, ("k", "s_dbw", "gain"))
    fig = Figure(figsize=(6, 6), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    top.plot(table["k"], table["s_dbw"], marker="o")
    top.set_ylabel("S_Dbw (lower is better)")
    bottom.plot(table["k"], table["gain"], marker="o")
    bottom.set_ylabel("marginal gain |dS_Dbw / dK| to the next K")
    bottom.set_xlabel("number of clusters K")
    if threshold is not None:
        bottom.axhline(threshold, color="grey", linestyle="--", label=f"threshold {threshold:g}")
    if chosen_k is not None:
        for ax in (top, bottom):
            ax.axvline(chosen_k, color="tab:red", linestyle=":", label=f"chosen K = {chosen_k}")
    if threshold is not None or chosen_k is not None:
        bottom.legend()
    return save_png(fig, path)


def plot_data_loss(curves: Mapping[str, pd.DataFrame] | pd.DataFrame, path: str | Path) -> Path:
    """Data loss against the number of largest clusters kept, one line per run (Figure 8).

    ``curves`` is one table with columns ``k`` and ``data_loss`` (as in
    :class:`semclust.validation.evaluate.dataloss.DataLossCurve`), or a mapping name -> table.
    """
    if isinstance(curves, pd.DataFrame):
        curves = {"": curves}
    if not curves:
        raise SemclustError("no data-loss curve to plot")
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    for name, table in curves.items():
        _require_columns(table, ("k", "data_loss"))
        ax.plot(table["k"], 100 * table["data_loss"], marker=".", label=name or None)
    ax.set_xlabel("largest clusters kept (k)")
    ax.set_ylabel("data loss (% of items)")
    ax.set_ylim(0, 100)
    if any(curves):
        ax.legend()
    return save_png(fig, path)


def plot_cooccurrence(matrix: pd.DataFrame, path: str | Path, *, title: str | None = None) -> Path:
    """Heatmap of a co-occurrence table (the paper's Figure 3).

    ``matrix`` is the output of :func:`semclust.validation.evaluate.compare.cooccurrence`; its index
    and column names label the axes. Shares are printed as percentages in small tables.
    """
    if matrix.empty:
        raise SemclustError("the co-occurrence table is empty")
    values = matrix.to_numpy(dtype=float)
    n_rows, n_cols = values.shape
    fig = Figure(figsize=(1.5 + 0.45 * n_cols, 1.2 + 0.4 * n_rows), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(values, cmap="viridis", aspect="auto")
    fig.colorbar(image, ax=ax)
    ax.set_xticks(np.arange(n_cols), [str(c) for c in matrix.columns], rotation=90)
    ax.set_yticks(np.arange(n_rows), [str(r) for r in matrix.index])
    ax.set_xlabel(str(matrix.columns.name or "columns"))
    ax.set_ylabel(str(matrix.index.name or "rows"))
    if title:
        ax.set_title(title)
    if values.size <= _ANNOTATE_MAX_CELLS:
        shares = not all(pd.api.types.is_integer_dtype(t) for t in matrix.dtypes)
        _annotate(ax, values, as_percent=shares)
    return save_png(fig, path)


def _annotate(ax, values: np.ndarray, *, as_percent: bool) -> None:
    """Write each cell's value into it (shares as percentages)."""
    bright = values > values.max() / 2
    for (row, col), value in np.ndenumerate(values):
        text = f"{100 * value:.1f}" if as_percent else f"{value:g}"
        color = "black" if bright[row, col] else "white"
        ax.text(col, row, text, ha="center", va="center", fontsize=7, color=color)


def _require_columns(table: pd.DataFrame, columns: tuple[str, ...]) -> None:
    """Raise naming the first missing column."""
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise SemclustError(f"the table to plot has no column {missing[0]!r}")


def save_png(fig: Figure, path: str | Path) -> Path:
    """Render ``fig`` with Agg to a PNG at ``path`` (parent folders created); every
    validation figure is saved here, so all share one resolution."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(path, format="png", dpi=_DPI)
    return path
