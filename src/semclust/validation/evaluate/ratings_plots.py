"""Figures of a rating study: ratings by cluster (Casas et al. Figure 9) and by group (Figure 10).

Built on :class:`matplotlib.figure.Figure` with the Agg canvas (no pyplot state), like
:mod:`semclust.validation.evaluate.plots`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from semclust.validation.evaluate.plots import save_png

_SHARE_COLOURS = {0.5: "#c0392b", 0.75: "#c0392b", 0.9: "#c0392b"}


def plot_rating_heatmap(
    table: pd.DataFrame, marks: dict[float, int], path: str | Path, *, low=None, high=None
) -> Path:
    """Scales (rows) by clusters (columns, largest left), darker = more intense.

    ``marks``: share -> number of columns to its left; a red line is drawn there.
    """
    from matplotlib.figure import Figure

    n_rows, n_cols = table.shape
    fig = Figure(figsize=(min(18, 3 + 0.12 * n_cols + 2), 1.2 + 0.35 * n_rows))
    ax = fig.add_subplot()
    image = ax.imshow(
        table.to_numpy(dtype=float),
        aspect="auto",
        cmap="Greys",
        vmin=low,
        vmax=high,
        interpolation="nearest",
    )
    ax.set_yticks(range(n_rows), [str(i) for i in table.index])
    step = max(1, n_cols // 30)
    ax.set_xticks(range(0, n_cols, step), [str(c) for c in table.columns[::step]], fontsize=7)
    ax.set_xlabel("cluster (largest first)")
    for share, columns in marks.items():
        x = columns - 0.5
        ax.axvline(x, color=_SHARE_COLOURS.get(share, "#c0392b"), linewidth=1.5)
        ax.text(x, -0.7, f"{share:.0%}", color="#c0392b", ha="center", va="bottom", fontsize=8)
    fig.colorbar(image, ax=ax, label="mean rating", fraction=0.03, pad=0.01)
    fig.tight_layout()
    return save_png(fig, path)


def plot_group_means(table: pd.DataFrame, path: str | Path, *, weighting: str = "equal") -> Path:
    """Each group's mean with its interval per scale; dimensions on a grey band below."""
    from matplotlib.figure import Figure

    rows = table[(table["weighting"] == weighting) & ~table["group"].str.contains(" - ")]
    measures = list(dict.fromkeys(rows["measure"]))
    kinds = dict(zip(rows["measure"], rows["kind"], strict=False))
    groups = list(dict.fromkeys(rows["group"]))
    fig = Figure(figsize=(7, 1 + 0.38 * len(measures)))
    ax = fig.add_subplot()
    y = {m: len(measures) - 1 - i for i, m in enumerate(measures)}
    for m in measures:
        if kinds[m] == "dimension":
            ax.axhspan(y[m] - 0.5, y[m] + 0.5, color="#e5e7eb", zorder=0)
    offsets = np.linspace(-0.18, 0.18, len(groups)) if len(groups) > 1 else [0.0]
    for offset, group in zip(offsets, groups, strict=True):
        mine = rows[rows["group"] == group].set_index("measure").loc[measures]
        ys = np.array([y[m] for m in measures]) + offset
        ax.errorbar(
            mine["mean"],
            ys,
            xerr=[mine["mean"] - mine["ci_low"], mine["ci_high"] - mine["mean"]],
            fmt="o",
            capsize=3,
            label=group,
        )
    ax.set_yticks([y[m] for m in measures], measures)
    ax.set_xlabel(
        f"mean rating ({'every cluster counts once' if weighting == 'equal' else 'weighted by cluster size'})"
    )
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return save_png(fig, path)
