"""The papers' grid-search figures, drawn from a grid's ``results.csv`` table.

- :func:`plot_quality_by_min_size`: Arminio et al. Figure 3, HDBSCAN quality per minimum
  cluster size, one box per embedder summarising the reduction settings;
- :func:`plot_quality_by_reduction`: Arminio et al. Figure 6, k-means quality per embedder,
  one violin per reduction method across its parameters and K;
- :func:`plot_precision_recall`: Casas et al. Figure 5, pair precision against recall;
- :func:`plot_oneshot_vs_iterative`: Casas et al. Figure 7, F-score of one-shot clusterers
  (k-means, HDBSCAN) against iterative k-means for each embedder and reducer.

Quality panels show the Grimmer-King scores when the grid was scored with codes, else the
silhouette. Each function returns the PNG's path, or None when the results hold nothing to
draw (e.g. no HDBSCAN setting). Figures use matplotlib's Agg canvas, never pyplot.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from semclust.core.registry import split_spec
from semclust.validation.evaluate.plots import save_png

log = logging.getLogger(__name__)

QUALITY = ("connotative", "denotative")
ONE_SHOT = ("kmeans", "hdbscan")
ITERATIVE = "iterkmeans"
MARKERS = {"hdbscan": "o", "kmeans": "s", "iterkmeans": "^"}


def write_plots(results: pd.DataFrame, folder: str | Path) -> list[Path]:
    """Every figure the results allow, as PNGs in ``folder``."""
    folder = Path(folder)
    drawn = [
        plot_quality_by_min_size(results, folder / "quality_by_min_cluster_size.png"),
        plot_quality_by_reduction(results, folder / "quality_by_reduction.png"),
        plot_precision_recall(results, folder / "precision_recall.png"),
        plot_oneshot_vs_iterative(results, folder / "oneshot_vs_iterative.png"),
    ]
    return [p for p in drawn if p is not None]


def quality_metrics(results: pd.DataFrame) -> list[str]:
    """The Grimmer-King dimensions with any score, else the silhouette."""
    found = [m for m in QUALITY if results[m].notna().any()]
    return found or ["silhouette"]


def plot_quality_by_min_size(results: pd.DataFrame, path: str | Path) -> Path | None:
    """Arminio et al. Figure 3: HDBSCAN quality by minimum cluster size, a box per embedder."""
    table = _family_rows(results, "hdbscan")
    if table.empty:
        return _skip(path, "no HDBSCAN setting")
    table = table.assign(min_size=[int(split_spec(c)[1] or 50) for c in table["clusterer"]])
    return _grouped_figure(
        table, "min_size", "embedder", "HDBSCAN minimum cluster size", "box", path,
        "HDBSCAN: each box spans the reduction settings (Arminio et al. Fig. 3)",
    )  # fmt: skip


def plot_quality_by_reduction(results: pd.DataFrame, path: str | Path) -> Path | None:
    """Arminio et al. Figure 6: k-means quality per embedder, a violin per reduction method."""
    table = _family_rows(results, "kmeans")
    if table.empty:
        return _skip(path, "no k-means setting")
    table = table.assign(reduction=[split_spec(r)[0] for r in table["reducer"]])
    return _grouped_figure(
        table, "embedder", "reduction", "embedder", "violin", path,
        "k-means: each violin spans the reduction parameters and K (Arminio et al. Fig. 6)",
    )  # fmt: skip


def plot_precision_recall(results: pd.DataFrame, path: str | Path) -> Path | None:
    """Casas et al. Figure 5: cross-validated pair precision against recall, one point per setting."""
    table = results.dropna(subset=["precision", "recall"])
    if table.empty:
        return _skip(path, "no pair precision/recall (give --codes)")
    fig = Figure(figsize=(6.5, 5), layout="constrained")
    ax = fig.subplots()
    colors = _colors(table["embedder"])
    for (embedder, family), rows in table.groupby(
        [table["embedder"], _families(table)], sort=False
    ):
        ax.scatter(rows["recall"], rows["precision"], color=colors[embedder],
                   marker=MARKERS.get(family, "D"), label=f"{embedder}, {family}", alpha=0.8)  # fmt: skip
    if table["f1"].notna().any():
        best = table.loc[pd.to_numeric(table["f1"]).idxmax()]
        ax.scatter(best["recall"], best["precision"], s=250, facecolors="none", edgecolors="black",
                   label=f"best F1 ({best['reducer']}, {best['clusterer']})")  # fmt: skip
    ax.set_xlabel("recall (pairs the coders put together that the clustering keeps together)")
    ax.set_ylabel("precision (pairs kept together that the coders put together)")
    ax.set_title(
        "pair precision and recall, cross-validated means (Casas et al. Fig. 5)", fontsize="medium"
    )
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize="small")
    return save_png(fig, path)


def plot_oneshot_vs_iterative(results: pd.DataFrame, path: str | Path) -> Path | None:
    """Casas et al. Figure 7: one-shot k-means/HDBSCAN against iterative k-means."""
    metric = "f1" if results["f1"].notna().any() else "silhouette"
    table = results.dropna(subset=[metric]).assign(family=lambda t: _families(t))
    kinds = np.where(table["family"] == ITERATIVE, "iterative", "one-shot")
    table = table.assign(kind=kinds)[table["family"].isin([*ONE_SHOT, ITERATIVE])]
    if set(table["kind"]) != {"iterative", "one-shot"}:
        return _skip(path, "needs both iterkmeans and k-means/HDBSCAN settings")
    table = table.assign(group=table["embedder"] + "\n" + table["reducer"])
    groups = list(dict.fromkeys(table["group"]))
    fig = Figure(figsize=(max(6.0, 0.9 * len(groups) + 2), 4.5), layout="constrained")
    ax = fig.subplots()
    jitter = np.random.default_rng(0)
    for offset, kind, color in ((-0.15, "one-shot", "0.45"), (0.15, "iterative", "tab:orange")):
        rows = table[table["kind"] == kind]
        x = np.array([groups.index(g) for g in rows["group"]]) + offset
        x = x + jitter.uniform(-0.05, 0.05, len(x))
        ax.scatter(
            x, rows[metric], color=color, label=f"{kind} ({', '.join(sorted(set(rows['family'])))})"
        )
    ax.set_xticks(range(len(groups)), groups, fontsize="small")
    ax.set_ylabel(_label(metric))
    ax.set_title("one-shot vs iterative k-means (Casas et al. Fig. 7)", fontsize="medium")
    ax.legend()
    return save_png(fig, path)


def _grouped_figure(table: pd.DataFrame, group: str, hue: str, xlabel: str, kind: str,
                    path: str | Path, title: str) -> Path | None:  # fmt: skip
    """One panel per quality metric: a box or violin per (group, hue), the points on top."""
    metrics = [m for m in quality_metrics(table) if table[m].notna().any()]
    if not metrics:
        return _skip(path, f"no {' or '.join(quality_metrics(table))} score to plot")
    groups = list(dict.fromkeys(table[group]))  # grid order; numbers (cluster sizes) ascending
    if all(isinstance(g, int | float) for g in groups):
        groups = sorted(groups)
    hues = list(dict.fromkeys(table[hue]))
    colors = _colors(pd.Series(hues))
    fig = Figure(figsize=(max(5.0, 1.2 * len(groups) * len(hues) ** 0.5 + 2), 4 * len(metrics)),
                 layout="constrained")  # fmt: skip
    axes = np.atleast_1d(fig.subplots(len(metrics), 1, squeeze=False)[:, 0])
    width = 0.8 / len(hues)
    for ax, metric in zip(axes, metrics, strict=True):
        for h, name in enumerate(hues):
            rows = table[table[hue] == name]
            for g, value in enumerate(groups):
                values = pd.to_numeric(rows.loc[rows[group] == value, metric]).dropna().to_numpy()
                x = g - 0.4 + width * (h + 0.5)
                _distribution(ax, values, x, width, colors[name], kind)
            ax.scatter([], [], color=colors[name], label=str(name))  # legend entry
        if metric in QUALITY:
            ax.axhline(0, color="0.6", linewidth=0.8, linestyle="--")  # a random clustering
        ax.set_xticks(range(len(groups)), [str(g) for g in groups])
        ax.set_ylabel(_label(metric))
        ax.legend(fontsize="small")
    axes[-1].set_xlabel(xlabel)
    fig.suptitle(title, fontsize="medium")
    return save_png(fig, path)


def _distribution(ax, values: np.ndarray, x: float, width: float, color, kind: str) -> None:
    """A box or violin at ``x`` (a violin needs two distinct values), and the points."""
    if len(values) == 0:
        return
    if kind == "box":
        ax.boxplot([values], positions=[x], widths=0.9 * width, patch_artist=True,
                   boxprops={"facecolor": color, "alpha": 0.35}, medianprops={"color": color},
                   showfliers=False)  # fmt: skip
    elif len(np.unique(values)) > 1:
        parts = ax.violinplot([values], positions=[x], widths=0.9 * width, showextrema=False)
        for body in parts["bodies"]:
            body.set_facecolor(color)
            body.set_alpha(0.35)
    ax.scatter(np.full(len(values), x), values, color=color, s=12, zorder=3)


def _family_rows(results: pd.DataFrame, family: str) -> pd.DataFrame:
    return results[_families(results) == family]


def _families(table: pd.DataFrame) -> pd.Series:
    return table["clusterer"].map(lambda spec: split_spec(spec)[0])


def _colors(names: pd.Series) -> dict:
    palette = [f"C{i}" for i in range(10)]
    return {n: palette[i % 10] for i, n in enumerate(dict.fromkeys(names))}


def _label(metric: str) -> str:
    return {
        "connotative": "connotative quality (Grimmer-King)",
        "denotative": "denotative quality (Grimmer-King)",
        "f1": "pair F-score (cross-validated)",
        "silhouette": "silhouette (no codes given)",
    }.get(metric, metric)


def _skip(path: str | Path, reason: str) -> None:
    log.info("not drawing %s: %s", Path(path).name, reason)
